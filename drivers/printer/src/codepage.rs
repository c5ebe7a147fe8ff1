//! Printer code pages: turning Unicode text into the single bytes a receipt printer prints.
//!
//! We own this instead of using the `escpos` crate's text path: its PC858/PC850/PC857
//! tables print ASCII `-` as `0xF0` (and PC857 also breaks `.`), PC858 lacks `Ò`, and a
//! character missing from a table goes out as raw UTF-8 bytes — garbage on paper, silently.
//!
//! Our rule: a character the selected code page lacks is printed as a visible, sensible
//! replacement ([`replacement`]: `€`→`EUR` on PC852, `č`→`c` on PC858, `?` when nothing
//! better exists) and reported as a [`Warning`] so the daemon can log it. Control
//! characters are never passed through: a product name containing `ESC` must not be able
//! to send a printer command (it could, for instance, open the cash drawer).

mod tables;

use std::fmt;

use serde::{Deserialize, Serialize};

/// A character table of the printer, selected with `ESC t n`.
///
/// Stores in Austria and Germany print with [`CodePage::Pc858`] (Western European with
/// `€`), Czech stores with [`CodePage::Pc852`] (Central European). [`CodePage::Pc437`] is
/// the printer's power-on default and exists for printers that offer nothing else.
///
/// In configuration files it is written `"pc858"`, `"pc852"` or `"pc437"` (`cp…` accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum CodePage {
    /// IBM 437, USA: German umlauts and `ß`, but no `€` and no Czech háčky.
    #[serde(rename = "pc437", alias = "cp437")]
    Pc437,
    /// IBM 858 (850 plus `€` at 0xD5): German, Austrian, most Western European text.
    #[serde(rename = "pc858", alias = "cp858")]
    Pc858,
    /// IBM 852, Latin 2: Czech, Slovak, Polish, Hungarian — and German umlauts, but no `€`.
    #[serde(rename = "pc852", alias = "cp852")]
    Pc852,
}

/// Byte and character pairs of a table sorted by character, for binary search.
type ReverseTable = [(char, u8); 128];

const PC437_REVERSE: ReverseTable = reverse(&tables::PC437);
const PC858_REVERSE: ReverseTable = reverse(&tables::PC858);
const PC852_REVERSE: ReverseTable = reverse(&tables::PC852);

impl CodePage {
    /// Every code page we support, for configuration help and tests.
    pub const ALL: [CodePage; 3] = [CodePage::Pc437, CodePage::Pc858, CodePage::Pc852];

    /// The `n` of `ESC t n` that selects this table on Epson TM printers (and the many
    /// printers that copy Epson's numbering): PC437 = 0, PC852 = 18, PC858 = 19.
    pub const fn escpos_table(self) -> u8 {
        match self {
            CodePage::Pc437 => 0,
            CodePage::Pc858 => 19,
            CodePage::Pc852 => 18,
        }
    }

    /// The name printers and manuals use, e.g. "PC858", for logs and the test page.
    pub const fn name(self) -> &'static str {
        match self {
            CodePage::Pc437 => "PC437",
            CodePage::Pc858 => "PC858",
            CodePage::Pc852 => "PC852",
        }
    }

    /// The characters at bytes 0x80..=0xFF, in byte order; the test page prints them.
    pub const fn upper_half(self) -> &'static [char; 128] {
        match self {
            CodePage::Pc437 => &tables::PC437,
            CodePage::Pc858 => &tables::PC858,
            CodePage::Pc852 => &tables::PC852,
        }
    }

    /// The byte that prints `c` in this code page, or `None` if the page lacks it.
    ///
    /// Printable ASCII (space to `~`) maps to itself; control characters (including tab
    /// and newline) give `None`, because sent raw they would be printer commands.
    pub fn encode_char(self, c: char) -> Option<u8> {
        if (' '..='~').contains(&c) {
            // Printable ASCII: the cast is exact because the range is below 0x7F.
            return Some(c as u8);
        }
        if (c as u32) < 0xA0 {
            return None;
        }
        let table = self.reverse_table();
        table
            .binary_search_by_key(&c, |&(character, _)| character)
            .ok()
            .map(|index| table[index].1)
    }

    /// The character byte `b` prints in this code page, or `None` for control bytes.
    /// The inverse of [`CodePage::encode_char`]; tests and the test page use it.
    pub fn decode_byte(self, b: u8) -> Option<char> {
        match b {
            0x20..=0x7E => Some(char::from(b)),
            0x80..=0xFF => Some(self.upper_half()[usize::from(b - 0x80)]),
            _ => None,
        }
    }

    /// Appends `text` in this code page to `out`, one byte per printed column.
    ///
    /// Characters the page lacks are written as their [`replacement`]; each distinct one is
    /// reported once in `warnings` (a receipt full of `č` should not flood the log).
    pub fn encode_into(self, text: &str, out: &mut Vec<u8>, warnings: &mut Vec<Warning>) {
        // Fast path: most receipt text is printable ASCII and is copied as it is.
        if text.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
            out.extend_from_slice(text.as_bytes());
            return;
        }
        for c in text.chars() {
            match self.encode_char(c) {
                Some(byte) => out.push(byte),
                None => {
                    let replacement = replacement(c);
                    // Replacements are printable ASCII (a test checks), so they are
                    // valid in every code page as they are.
                    out.extend_from_slice(replacement.as_bytes());
                    if !warnings.iter().any(|w| w.character == c) {
                        warnings.push(Warning {
                            character: c,
                            code_page: self,
                            replacement,
                        });
                    }
                }
            }
        }
    }

    const fn reverse_table(self) -> &'static ReverseTable {
        match self {
            CodePage::Pc437 => &PC437_REVERSE,
            CodePage::Pc858 => &PC858_REVERSE,
            CodePage::Pc852 => &PC852_REVERSE,
        }
    }
}

impl fmt::Display for CodePage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A character that the printer's code page cannot print, and what was printed instead.
///
/// Rendering returns these so the daemon can log them: a shop whose product names come
/// out with `?` needs a different code page (or different product names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warning {
    /// The character from the document.
    pub character: char,
    /// The code page that lacks it.
    pub code_page: CodePage,
    /// What was printed in its place (printable ASCII, possibly empty for invisible
    /// characters such as a zero-width space).
    pub replacement: &'static str,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "character {:?} (U+{:04X}) is not in code page {}; printed {:?} instead",
            self.character,
            u32::from(self.character),
            self.code_page,
            self.replacement
        )
    }
}

/// What to print for a character the code page lacks: a transliteration a reader
/// understands, or `?`.
///
/// - Latin letters with diacritics lose them (`č`→`c`, `Ř`→`R`, `ů`→`u`), ligatures and
///   special letters are spelled out (`ß`→`ss`, `Æ`→`AE`, `Ł`→`L`).
/// - `€`→`EUR` (the amount stays unambiguous on a PC852 or PC437 printer).
/// - Typographic quotes, dashes and ellipsis become their ASCII forms, tab and the narrow
///   spaces become a space, `©`→`(C)`, `®`→`(R)`, `™`→`TM`, `½`→`1/2`, `µ`→`u`.
/// - Zero-width characters (ZWSP, ZWJ, BOM, …) become nothing: they were invisible anyway.
/// - Everything else, including all other control characters, becomes `?`.
///
/// The result is always printable ASCII, so it prints the same on every code page.
pub fn replacement(c: char) -> &'static str {
    match c {
        '€' => "EUR",
        '\t' | '\u{2002}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{00A0}' => " ",
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => "",
        '‘' | '’' | '‚' | '‛' | '′' => "'",
        '“' | '”' | '„' | '‟' | '″' => "\"",
        '«' => "<<",
        '»' => ">>",
        '‹' => "<",
        '›' => ">",
        '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' => "-",
        '…' => "...",
        '•' => "*",
        '·' => ".",
        '©' => "(C)",
        '®' => "(R)",
        '™' => "TM",
        '½' => "1/2",
        '¼' => "1/4",
        '¾' => "3/4",
        'µ' => "u",
        'Æ' => "AE",
        'æ' => "ae",
        'Þ' => "TH",
        'þ' => "th",
        'ß' => "ss",
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'Œ' => "OE",
        'œ' => "oe",
        '\u{00C0}'..='\u{017F}' => {
            let index = (c as usize) - 0xC0;
            LATIN_BASE_LETTERS.get(index..=index).unwrap_or("?")
        }
        _ => "?",
    }
}

/// The base letter of every character U+00C0..=U+017F (Latin-1 letters and Latin
/// Extended-A), 32 per line; `?` where [`replacement`] spells the letter out instead.
const LATIN_BASE_LETTERS: &str = concat!(
    "AAAAAA?CEEEEIIIIDNOOOOOxOUUUUY??", // U+00C0
    "aaaaaa?ceeeeiiiidnooooo/ouuuuy?y", // U+00E0
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGg", // U+0100
    "GgGgHhHhIiIiIiIiIi??JjKkkLlLlLlL", // U+0120
    "lLlNnNnNnnNnOoOoOo??RrRrRrSsSsSs", // U+0140
    "SsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs", // U+0160
);

/// Builds the character-sorted reverse of a code page's upper half at compile time.
const fn reverse(table: &[char; 128]) -> ReverseTable {
    let mut out = [('\0', 0u8); 128];
    let mut i = 0;
    while i < 128 {
        out[i] = (table[i], 0x80 + i as u8);
        i += 1;
    }
    // Insertion sort: 128 entries, once, at compile time.
    let mut i = 1;
    while i < 128 {
        let mut j = i;
        while j > 0 && (out[j - 1].0 as u32) > (out[j].0 as u32) {
            let swap = out[j - 1];
            out[j - 1] = out[j];
            out[j] = swap;
            j -= 1;
        }
        i += 1;
    }
    out
}

impl std::str::FromStr for CodePage {
    type Err = crate::Error;

    /// Parses the configuration spelling: `pc858`, `pc852`, `pc437` (or `cp…`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "pc437" | "cp437" => Ok(CodePage::Pc437),
            "pc858" | "cp858" => Ok(CodePage::Pc858),
            "pc852" | "cp852" => Ok(CodePage::Pc852),
            _ => Err(crate::Error::InvalidProfile {
                reason: format!("code page {s:?}, expected pc858, pc852 or pc437"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// German letters, written from the PC858/PC850 chart by hand.
    const GERMAN_PC858: [(char, u8); 8] = [
        ('ä', 0x84),
        ('ö', 0x94),
        ('ü', 0x81),
        ('Ä', 0x8E),
        ('Ö', 0x99),
        ('Ü', 0x9A),
        ('ß', 0xE1),
        ('€', 0xD5),
    ];

    /// German letters, written from the PC852 chart by hand (Latin 2 keeps the umlauts and
    /// `ß` at their PC850 places; only `€` is missing).
    const GERMAN_PC852: [(char, u8); 7] = [
        ('ä', 0x84),
        ('ö', 0x94),
        ('ü', 0x81),
        ('Ä', 0x8E),
        ('Ö', 0x99),
        ('Ü', 0x9A),
        ('ß', 0xE1),
    ];

    /// Every Czech letter, written from the PC852 chart by hand.
    const CZECH_PC852: [(char, u8); 30] = [
        ('á', 0xA0),
        ('č', 0x9F),
        ('ď', 0xD4),
        ('é', 0x82),
        ('ě', 0xD8),
        ('í', 0xA1),
        ('ň', 0xE5),
        ('ó', 0xA2),
        ('ř', 0xFD),
        ('š', 0xE7),
        ('ť', 0x9C),
        ('ú', 0xA3),
        ('ů', 0x85),
        ('ý', 0xEC),
        ('ž', 0xA7),
        ('Á', 0xB5),
        ('Č', 0xAC),
        ('Ď', 0xD2),
        ('É', 0x90),
        ('Ě', 0xB7),
        ('Í', 0xD6),
        ('Ň', 0xD5),
        ('Ó', 0xE0),
        ('Ř', 0xFC),
        ('Š', 0xE6),
        ('Ť', 0x9B),
        ('Ú', 0xE9),
        ('Ů', 0xDE),
        ('Ý', 0xED),
        ('Ž', 0xA6),
    ];

    /// The Czech letters PC858 does have (the acute ones), from the PC850 chart.
    const CZECH_IN_PC858: [(char, u8); 12] = [
        ('á', 0xA0),
        ('é', 0x82),
        ('í', 0xA1),
        ('ó', 0xA2),
        ('ú', 0xA3),
        ('ý', 0xEC),
        ('Á', 0xB5),
        ('É', 0x90),
        ('Í', 0xD6),
        ('Ó', 0xE0),
        ('Ú', 0xE9),
        ('Ý', 0xED),
    ];

    #[test]
    fn german_letters_and_euro_have_their_pc858_bytes() {
        for (c, byte) in GERMAN_PC858 {
            assert_eq!(CodePage::Pc858.encode_char(c), Some(byte), "{c}");
            assert_eq!(CodePage::Pc858.decode_byte(byte), Some(c), "{byte:#04x}");
        }
    }

    #[test]
    fn german_and_czech_letters_have_their_pc852_bytes() {
        for (c, byte) in GERMAN_PC852.iter().chain(CZECH_PC852.iter()).copied() {
            assert_eq!(CodePage::Pc852.encode_char(c), Some(byte), "{c}");
            assert_eq!(CodePage::Pc852.decode_byte(byte), Some(c), "{byte:#04x}");
        }
    }

    #[test]
    fn acute_czech_letters_exist_in_pc858_but_hacek_letters_do_not() {
        for (c, byte) in CZECH_IN_PC858 {
            assert_eq!(CodePage::Pc858.encode_char(c), Some(byte), "{c}");
        }
        for c in "čďěňřšťůžČĎĚŇŘŠŤŮŽ".chars() {
            assert_eq!(CodePage::Pc858.encode_char(c), None, "{c}");
        }
    }

    #[test]
    fn pc858_has_o_grave_and_o_circumflex_at_their_own_places() {
        // The escpos crate's PC858 table lists Ô twice and lacks Ò.
        assert_eq!(CodePage::Pc858.encode_char('Ô'), Some(0xE2));
        assert_eq!(CodePage::Pc858.encode_char('Ò'), Some(0xE3));
    }

    #[test]
    fn printable_ascii_is_itself_in_every_code_page() {
        // The escpos crate prints '-' as 0xF0 in PC858 and '.' wrongly in PC857.
        for page in CodePage::ALL {
            for byte in 0x20u8..=0x7E {
                assert_eq!(page.encode_char(char::from(byte)), Some(byte), "{page}");
            }
        }
    }

    #[test]
    fn control_characters_are_never_encoded() {
        for page in CodePage::ALL {
            for c in [
                '\x1b', '\x1d', '\x10', '\n', '\r', '\t', '\0', '\x7f', '\u{85}',
            ] {
                assert_eq!(page.encode_char(c), None, "{c:?} in {page}");
            }
        }
    }

    #[test]
    fn every_table_has_128_distinct_printable_characters_that_round_trip() {
        for page in CodePage::ALL {
            for byte in 0x80u8..=0xFF {
                let c = page.decode_byte(byte).unwrap();
                assert!(!c.is_control(), "{page} {byte:#04x} is a control character");
                assert_eq!(page.encode_char(c), Some(byte), "{page} {c:?}");
            }
        }
    }

    #[test]
    fn euro_is_missing_from_pc852_and_pc437_and_becomes_eur() {
        for page in [CodePage::Pc852, CodePage::Pc437] {
            assert_eq!(page.encode_char('€'), None);
            let (mut out, mut warnings) = (Vec::new(), Vec::new());
            page.encode_into("12,50 €", &mut out, &mut warnings);
            assert_eq!(out, b"12,50 EUR");
            assert_eq!(
                warnings,
                [Warning {
                    character: '€',
                    code_page: page,
                    replacement: "EUR"
                }]
            );
        }
    }

    #[test]
    fn czech_text_on_pc858_loses_hacky_visibly_with_one_warning_per_character() {
        let (mut out, mut warnings) = (Vec::new(), Vec::new());
        CodePage::Pc858.encode_into("Příliš žluťoučký kůň", &mut out, &mut warnings);
        // P ř→r í l i š→s ␠ ž→z l u ť→t o u č→c k ý ␠ k ů→u ň→n
        assert_eq!(
            out,
            [
                b'P', b'r', 0xA1, b'l', b'i', b's', b' ', b'z', b'l', b'u', b't', b'o', b'u', b'c',
                b'k', 0xEC, b' ', b'k', b'u', b'n'
            ]
        );
        let replaced: Vec<(char, &str)> = warnings
            .iter()
            .map(|w| (w.character, w.replacement))
            .collect();
        assert_eq!(
            replaced,
            [
                ('ř', "r"),
                ('š', "s"),
                ('ž', "z"),
                ('ť', "t"),
                ('č', "c"),
                ('ů', "u"),
                ('ň', "n")
            ]
        );
        assert!(warnings.iter().all(|w| w.code_page == CodePage::Pc858));
    }

    #[test]
    fn escape_in_a_product_name_is_printed_as_question_mark_not_sent() {
        let (mut out, mut warnings) = (Vec::new(), Vec::new());
        CodePage::Pc858.encode_into("Tee\x1bp\x00", &mut out, &mut warnings);
        assert_eq!(out, b"Tee?p?");
        assert_eq!(warnings.len(), 2);
    }

    #[test]
    fn replacements_are_printable_ascii() {
        for c in ('\u{0}'..='\u{2FFF}').chain(['€', '™', '\u{FEFF}', '😀']) {
            let r = replacement(c);
            assert!(
                r.bytes().all(|b| (0x20..=0x7E).contains(&b)),
                "{c:?} -> {r:?}"
            );
        }
    }

    #[test]
    fn latin_letters_lose_their_diacritics() {
        let cases = [
            ('č', "c"),
            ('Ř', "R"),
            ('ů', "u"),
            ('Ů', "U"),
            ('ő', "o"),
            ('Ł', "L"),
            ('ø', "o"),
            ('Æ', "AE"),
            ('œ', "oe"),
            ('ß', "ss"),
            ('ſ', "s"),
            ('Ÿ', "Y"),
            ('ÿ', "y"),
            ('×', "x"),
            ('÷', "/"),
        ];
        for (c, expected) in cases {
            assert_eq!(replacement(c), expected, "{c}");
        }
        assert_eq!(LATIN_BASE_LETTERS.len(), 0x180 - 0xC0);
    }

    #[test]
    fn unknown_characters_become_a_question_mark() {
        for c in ['😀', 'Ж', '中', '\u{1b}'] {
            assert_eq!(replacement(c), "?");
        }
    }

    #[test]
    fn escpos_table_numbers_match_epson() {
        assert_eq!(CodePage::Pc437.escpos_table(), 0);
        assert_eq!(CodePage::Pc852.escpos_table(), 18);
        assert_eq!(CodePage::Pc858.escpos_table(), 19);
    }

    #[test]
    fn warning_message_names_character_code_page_and_replacement() {
        let w = Warning {
            character: 'č',
            code_page: CodePage::Pc858,
            replacement: "c",
        };
        assert_eq!(
            w.to_string(),
            "character 'č' (U+010D) is not in code page PC858; printed \"c\" instead"
        );
    }
}
