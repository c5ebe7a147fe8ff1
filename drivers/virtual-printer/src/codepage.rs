//! Character code tables: turn the bytes of the ESC/POS stream back into characters.
//!
//! The printer interprets every byte 0x80–0xFF through the code page selected with
//! `ESC t n`; a wrong table turns "Grüße" or "Příliš žluťoučký" into garbage on paper, so the
//! upper halves are written out in full below rather than taken from a library (we want to
//! see exactly what the printer's ROM holds). The tables match the IBM definitions (checked
//! against the Python `cp437`/`cp850`/`cp852`/`cp858` codecs).

/// A character table the printer can select with `ESC t n`.
///
/// Only the tables our renderer uses (and PC850, which costs nothing) are supported; any
/// other `ESC t n` is reported as a warning and the current table stays selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CodePage {
    /// PC437, the power-on and `ESC @` default.
    #[default]
    Pc437,
    /// PC850 Multilingual (`ESC t 2`).
    Pc850,
    /// PC852 Latin-2 (`ESC t 18`), Czech.
    Pc852,
    /// PC858 Euro (`ESC t 19`), German.
    Pc858,
}

impl CodePage {
    /// The table selected by `ESC t n`, or `None` when the virtual printer does not know it,
    /// so the caller can warn instead of printing with a wrong table silently.
    pub fn from_esc_t(n: u8) -> Option<CodePage> {
        match n {
            0 => Some(CodePage::Pc437),
            2 => Some(CodePage::Pc850),
            18 => Some(CodePage::Pc852),
            19 => Some(CodePage::Pc858),
            _ => None,
        }
    }

    /// The name a technician finds in the printer manual, for warnings and reports.
    pub fn name(self) -> &'static str {
        match self {
            CodePage::Pc437 => "PC437",
            CodePage::Pc850 => "PC850",
            CodePage::Pc852 => "PC852",
            CodePage::Pc858 => "PC858",
        }
    }

    /// The character the printer prints for a text byte (0x20–0xFF).
    ///
    /// 0x20–0x7E are ASCII in every table; 0x7F is the house glyph ⌂ of the IBM tables;
    /// 0x80–0xFF come from the selected table. Control bytes (below 0x20) are never text,
    /// the tokenizer handles them, but they map to U+FFFD here so the function is total.
    pub fn decode_byte(self, byte: u8) -> char {
        match byte {
            0x20..=0x7E => char::from(byte),
            0x7F => '\u{2302}',
            0x80..=0xFF => self.upper_half()[usize::from(byte - 0x80)],
            _ => char::REPLACEMENT_CHARACTER,
        }
    }

    /// The 128 characters for bytes 0x80–0xFF.
    fn upper_half(self) -> &'static [char; 128] {
        match self {
            CodePage::Pc437 => &PC437,
            CodePage::Pc850 => &PC850,
            CodePage::Pc852 => &PC852,
            CodePage::Pc858 => &PC858,
        }
    }
}

/// IBM PC437 (USA, standard Europe), the table the printer starts with after `ESC @`.
#[rustfmt::skip]
const PC437: [char; 128] = [
    // 0x80
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç',
    // 0x88
    'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å',
    // 0x90
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù',
    // 0x98
    'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ',
    // 0xA0
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º',
    // 0xA8
    '¿', '⌐', '¬', '½', '¼', '¡', '«', '»',
    // 0xB0
    '░', '▒', '▓', '│', '┤', '╡', '╢', '╖',
    // 0xB8
    '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐',
    // 0xC0
    '└', '┴', '┬', '├', '─', '┼', '╞', '╟',
    // 0xC8
    '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧',
    // 0xD0
    '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫',
    // 0xD8
    '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀',
    // 0xE0
    'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ',
    // 0xE8
    'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩',
    // 0xF0
    '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈',
    // 0xF8
    '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{a0}',
];

/// IBM PC850 (Multilingual Latin-1), `ESC t 2`; identical to PC858 except 0xD5.
#[rustfmt::skip]
const PC850: [char; 128] = [
    // 0x80
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç',
    // 0x88
    'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å',
    // 0x90
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù',
    // 0x98
    'ÿ', 'Ö', 'Ü', 'ø', '£', 'Ø', '×', 'ƒ',
    // 0xA0
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º',
    // 0xA8
    '¿', '®', '¬', '½', '¼', '¡', '«', '»',
    // 0xB0
    '░', '▒', '▓', '│', '┤', 'Á', 'Â', 'À',
    // 0xB8
    '©', '╣', '║', '╗', '╝', '¢', '¥', '┐',
    // 0xC0
    '└', '┴', '┬', '├', '─', '┼', 'ã', 'Ã',
    // 0xC8
    '╚', '╔', '╩', '╦', '╠', '═', '╬', '¤',
    // 0xD0
    'ð', 'Ð', 'Ê', 'Ë', 'È', 'ı', 'Í', 'Î',
    // 0xD8
    'Ï', '┘', '┌', '█', '▄', '¦', 'Ì', '▀',
    // 0xE0
    'Ó', 'ß', 'Ô', 'Ò', 'õ', 'Õ', 'µ', 'þ',
    // 0xE8
    'Þ', 'Ú', 'Û', 'Ù', 'ý', 'Ý', '¯', '´',
    // 0xF0
    '\u{ad}', '±', '‗', '¾', '¶', '§', '÷', '¸',
    // 0xF8
    '°', '¨', '·', '¹', '³', '²', '■', '\u{a0}',
];

/// IBM PC852 (Latin-2), `ESC t 18`: the Czech receipts use it for č ď ě ň ř š ť ů ž.
#[rustfmt::skip]
const PC852: [char; 128] = [
    // 0x80
    'Ç', 'ü', 'é', 'â', 'ä', 'ů', 'ć', 'ç',
    // 0x88
    'ł', 'ë', 'Ő', 'ő', 'î', 'Ź', 'Ä', 'Ć',
    // 0x90
    'É', 'Ĺ', 'ĺ', 'ô', 'ö', 'Ľ', 'ľ', 'Ś',
    // 0x98
    'ś', 'Ö', 'Ü', 'Ť', 'ť', 'Ł', '×', 'č',
    // 0xA0
    'á', 'í', 'ó', 'ú', 'Ą', 'ą', 'Ž', 'ž',
    // 0xA8
    'Ę', 'ę', '¬', 'ź', 'Č', 'ş', '«', '»',
    // 0xB0
    '░', '▒', '▓', '│', '┤', 'Á', 'Â', 'Ě',
    // 0xB8
    'Ş', '╣', '║', '╗', '╝', 'Ż', 'ż', '┐',
    // 0xC0
    '└', '┴', '┬', '├', '─', '┼', 'Ă', 'ă',
    // 0xC8
    '╚', '╔', '╩', '╦', '╠', '═', '╬', '¤',
    // 0xD0
    'đ', 'Đ', 'Ď', 'Ë', 'ď', 'Ň', 'Í', 'Î',
    // 0xD8
    'ě', '┘', '┌', '█', '▄', 'Ţ', 'Ů', '▀',
    // 0xE0
    'Ó', 'ß', 'Ô', 'Ń', 'ń', 'ň', 'Š', 'š',
    // 0xE8
    'Ŕ', 'Ú', 'ŕ', 'Ű', 'ý', 'Ý', 'ţ', '´',
    // 0xF0
    '\u{ad}', '˝', '˛', 'ˇ', '˘', '§', '÷', '¸',
    // 0xF8
    '°', '¨', '˙', 'ű', 'Ř', 'ř', '■', '\u{a0}',
];

/// IBM PC858 (PC850 with € at 0xD5), `ESC t 19`: the German and Austrian receipts use it.
#[rustfmt::skip]
const PC858: [char; 128] = [
    // 0x80
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç',
    // 0x88
    'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å',
    // 0x90
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù',
    // 0x98
    'ÿ', 'Ö', 'Ü', 'ø', '£', 'Ø', '×', 'ƒ',
    // 0xA0
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º',
    // 0xA8
    '¿', '®', '¬', '½', '¼', '¡', '«', '»',
    // 0xB0
    '░', '▒', '▓', '│', '┤', 'Á', 'Â', 'À',
    // 0xB8
    '©', '╣', '║', '╗', '╝', '¢', '¥', '┐',
    // 0xC0
    '└', '┴', '┬', '├', '─', '┼', 'ã', 'Ã',
    // 0xC8
    '╚', '╔', '╩', '╦', '╠', '═', '╬', '¤',
    // 0xD0
    'ð', 'Ð', 'Ê', 'Ë', 'È', '€', 'Í', 'Î',
    // 0xD8
    'Ï', '┘', '┌', '█', '▄', '¦', 'Ì', '▀',
    // 0xE0
    'Ó', 'ß', 'Ô', 'Ò', 'õ', 'Õ', 'µ', 'þ',
    // 0xE8
    'Þ', 'Ú', 'Û', 'Ù', 'ý', 'Ý', '¯', '´',
    // 0xF0
    '\u{ad}', '±', '‗', '¾', '¶', '§', '÷', '¸',
    // 0xF8
    '°', '¨', '·', '¹', '³', '²', '■', '\u{a0}',
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_maps_each_byte_to_a_different_character() {
        for page in [
            CodePage::Pc437,
            CodePage::Pc850,
            CodePage::Pc852,
            CodePage::Pc858,
        ] {
            let mut chars: Vec<char> = (0x20..=0xFF).map(|b| page.decode_byte(b)).collect();
            chars.sort_unstable();
            chars.dedup();
            assert_eq!(chars.len(), 0xE0, "{} has duplicates", page.name());
        }
    }

    #[test]
    fn euro_sign_only_in_pc858() {
        assert_eq!(CodePage::Pc858.decode_byte(0xD5), '€');
        assert_eq!(CodePage::Pc850.decode_byte(0xD5), 'ı');
        assert_eq!(CodePage::from_esc_t(19), Some(CodePage::Pc858));
        assert_eq!(CodePage::from_esc_t(18), Some(CodePage::Pc852));
        assert_eq!(CodePage::from_esc_t(7), None);
    }
}
