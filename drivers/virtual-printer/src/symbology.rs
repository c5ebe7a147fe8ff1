//! Barcode symbologies: validate the data a `GS k` command carries and turn it into bars.
//!
//! The decoder uses the validation to report what a real printer would refuse; the PNG
//! renderer uses the bar patterns so the preview shows scannable bars, not a grey box.

/// EAN-13 digit patterns for the left half with odd parity (set "L"); 1 = bar.
/// Set "R" is the complement, set "G" is R reversed.
const EAN_L: [&str; 10] = [
    "0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011",
    "0110111", "0001011",
];

/// Which of digits 2–7 use set G, chosen by the first (implicit) digit.
const EAN_PARITY: [&str; 10] = [
    "LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL",
    "LGGLGL",
];

/// CODE128 symbol patterns: element widths, bar first, 11 modules each; 106 is the stop
/// pattern with 7 elements (13 modules). Index = symbol value (ISO/IEC 15417).
#[rustfmt::skip]
const CODE128_PATTERNS: [&str; 107] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
    "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
];

const CODE128_STOP: u8 = 106;

/// The GS1 check digit for the first 12 digits of an EAN-13 (weights 1, 3, 1, 3, …).
pub fn ean13_check_digit(first12: &[u8; 12]) -> u8 {
    let sum: u32 = first12
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A validated EAN-13: 13 digits, plus whether the check digit the stream sent was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ean13 {
    /// The 13 digit values 0–9.
    pub digits: [u8; 13],
    /// `Some(expected)` when 13 digits were sent and the last one is not the check digit;
    /// the printer prints them anyway, but scanners will reject the code.
    pub wrong_check_digit: Option<u8>,
}

/// Validate EAN-13 data (12 digits: check digit appended; 13: checked).
pub fn parse_ean13(data: &[u8]) -> Result<Ean13, String> {
    if !data.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "EAN-13 data must be digits, got {:?}",
            String::from_utf8_lossy(data)
        ));
    }
    let values: Vec<u8> = data.iter().map(|b| b - b'0').collect();
    let mut first12 = [0u8; 12];
    match values.len() {
        12 | 13 => first12.copy_from_slice(&values[..12]),
        n => return Err(format!("EAN-13 needs 12 or 13 digits, got {n}")),
    }
    let check = ean13_check_digit(&first12);
    let mut digits = [0u8; 13];
    digits[..12].copy_from_slice(&first12);
    let (last, wrong) = match values.get(12) {
        Some(&sent) if sent != check => (sent, Some(check)),
        _ => (check, None),
    };
    digits[12] = last;
    Ok(Ean13 {
        digits,
        wrong_check_digit: wrong,
    })
}

/// The 95 modules of an EAN-13 (true = bar), guards included, no quiet zone.
pub fn ean13_modules(digits: &[u8; 13]) -> Vec<bool> {
    let mut bits = String::from("101");
    let parity = EAN_PARITY[usize::from(digits[0] % 10)].as_bytes();
    for (i, &d) in digits[1..7].iter().enumerate() {
        let l = EAN_L[usize::from(d % 10)];
        if parity[i] == b'L' {
            bits.push_str(l);
        } else {
            // G = R reversed = complement of L, reversed.
            bits.extend(l.chars().rev().map(flip));
        }
    }
    bits.push_str("01010");
    for &d in &digits[7..13] {
        bits.extend(EAN_L[usize::from(d % 10)].chars().map(flip));
    }
    bits.push_str("101");
    bits.chars().map(|c| c == '1').collect()
}

fn flip(c: char) -> char {
    if c == '1' { '0' } else { '1' }
}

/// A decoded CODE128 command: symbol values and the human readable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code128 {
    /// Symbol values: start symbol first, data and code set switches; no check, no stop.
    pub values: Vec<u8>,
    /// What the HRI line shows: the data characters, set C pairs as two digits.
    pub text: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CodeSet {
    A,
    B,
    C,
}

/// Value of a character in code set A or B, if it has one.
fn ab_value(set: CodeSet, byte: u8) -> Option<u8> {
    match (set, byte) {
        (CodeSet::A, 0x00..=0x1F) => Some(byte + 64),
        (CodeSet::A, 0x20..=0x5F) | (CodeSet::B, 0x20..=0x7F) => Some(byte - 0x20),
        _ => None,
    }
}

/// Parse ESC/POS CODE128 data: it starts with `{A`, `{B` or `{C`; `{` introduces
/// `A`/`B`/`C` (switch), `S` (shift), `1`–`4` (FNC1–4) or `{` (a literal brace in set B).
/// In set C each byte 0–99 is one pair of digits.
pub fn parse_code128(data: &[u8]) -> Result<Code128, String> {
    let mut set = match data {
        [b'{', b'A', ..] => CodeSet::A,
        [b'{', b'B', ..] => CodeSet::B,
        [b'{', b'C', ..] => CodeSet::C,
        _ => {
            return Err(
                "CODE128 data must start with a code set selector {A, {B or {C".to_string(),
            );
        }
    };
    let mut values = vec![match set {
        CodeSet::A => 103,
        CodeSet::B => 104,
        CodeSet::C => 105,
    }];
    let mut text = String::new();
    let mut i = 2;
    while let Some(&byte) = data.get(i) {
        i += 1;
        if byte == b'{' {
            let Some(&what) = data.get(i) else {
                return Err("CODE128 data ends with a lone '{'".to_string());
            };
            i += 1;
            match (what, set) {
                (b'A', CodeSet::A) | (b'B', CodeSet::B) | (b'C', CodeSet::C) => {}
                (b'A', _) => {
                    values.push(101);
                    set = CodeSet::A;
                }
                (b'B', _) => {
                    values.push(100);
                    set = CodeSet::B;
                }
                (b'C', _) => {
                    values.push(99);
                    set = CodeSet::C;
                }
                (b'S', CodeSet::A | CodeSet::B) => {
                    let other = if set == CodeSet::A {
                        CodeSet::B
                    } else {
                        CodeSet::A
                    };
                    let Some(&shifted) = data.get(i) else {
                        return Err("CODE128 shift {S at the end of the data".to_string());
                    };
                    i += 1;
                    let value = ab_value(other, shifted).ok_or_else(|| {
                        format!("CODE128 byte {shifted:02X} cannot be shifted into the other set")
                    })?;
                    values.extend([98, value]);
                    text.push(char::from(shifted));
                }
                (b'1', _) => values.push(102),
                (b'2', CodeSet::A | CodeSet::B) => values.push(97),
                (b'3', CodeSet::A | CodeSet::B) => values.push(96),
                (b'4', CodeSet::A) => values.push(101),
                (b'4', CodeSet::B) => values.push(100),
                (b'{', CodeSet::B) => {
                    values.push(b'{' - 0x20);
                    text.push('{');
                }
                (other, _) => {
                    return Err(format!(
                        "CODE128 escape {{{} is not valid here",
                        char::from(other)
                    ));
                }
            }
            continue;
        }
        match set {
            CodeSet::C => {
                if byte > 99 {
                    return Err(format!(
                        "CODE128 set C byte {byte} is not a digit pair 0–99"
                    ));
                }
                values.push(byte);
                text.push_str(&format!("{byte:02}"));
            }
            CodeSet::A | CodeSet::B => {
                let value = ab_value(set, byte).ok_or_else(|| {
                    format!("CODE128 byte {byte:02X} is not in the selected code set")
                })?;
                values.push(value);
                if byte >= 0x20 {
                    text.push(char::from(byte));
                }
            }
        }
    }
    if values.len() < 2 {
        return Err("CODE128 without data".to_string());
    }
    Ok(Code128 { values, text })
}

/// The CODE128 check symbol: start value plus each value times its position, mod 103.
pub fn code128_check(values: &[u8]) -> u8 {
    let sum: u32 = values
        .iter()
        .enumerate()
        .map(|(i, &v)| u32::from(v) * (i.max(1) as u32))
        .sum();
    (sum % 103) as u8
}

/// The modules (true = bar) of a CODE128 symbol: values, check symbol, stop pattern.
pub fn code128_modules(values: &[u8]) -> Vec<bool> {
    let mut all: Vec<u8> = values.to_vec();
    all.push(code128_check(values));
    all.push(CODE128_STOP);
    let mut modules = Vec::new();
    for value in all {
        let Some(pattern) = CODE128_PATTERNS.get(usize::from(value)) else {
            continue;
        };
        for (element, width) in pattern.bytes().enumerate() {
            let bar = element % 2 == 0;
            modules.extend(std::iter::repeat_n(bar, usize::from(width - b'0')));
        }
    }
    modules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(modules: &[bool]) -> String {
        modules.iter().map(|&b| if b { '1' } else { '0' }).collect()
    }

    // Reference bit strings produced by the independent python-barcode 0.16 library.
    const EAN_4006381333931: &str = "10100011010100111010111101111010001001011001101010100001010000101000010111010010000101100110101";
    const CODE128_B_ABC_123: &str = "1101001000010100011000100010110001000100011010011011100100111001101100111001011001011100101100001001100011101011";
    const CODE128_C_12345678: &str =
        "1101001110010110011100100010110001110001011011000010100100011101101100011101011";

    #[test]
    fn ean13_matches_reference_bars() {
        let ean = parse_ean13(b"400638133393").map_err(|e| e.to_string());
        let ean = ean.as_ref().map(|e| e.digits);
        assert_eq!(ean, Ok([4, 0, 0, 6, 3, 8, 1, 3, 3, 3, 9, 3, 1]));
        if let Ok(digits) = ean {
            assert_eq!(bits(&ean13_modules(&digits)), EAN_4006381333931);
        }
    }

    #[test]
    fn ean13_wrong_check_digit_is_reported() {
        let ean = parse_ean13(b"4006381333932");
        assert_eq!(ean.map(|e| e.wrong_check_digit), Ok(Some(1)));
        assert!(parse_ean13(b"40063813339").is_err());
        assert!(parse_ean13(b"40063813339X3").is_err());
    }

    #[test]
    fn code128_set_b_matches_reference_bars() {
        let code = parse_code128(b"{BABC-123");
        let code = code
            .as_ref()
            .map(|c| (bits(&code128_modules(&c.values)), c.text.as_str()));
        assert_eq!(code, Ok((CODE128_B_ABC_123.to_string(), "ABC-123")));
    }

    #[test]
    fn code128_set_c_matches_reference_bars() {
        let code = parse_code128(&[b'{', b'C', 12, 34, 56, 78]);
        let code = code
            .as_ref()
            .map(|c| (bits(&code128_modules(&c.values)), c.text.as_str()));
        assert_eq!(code, Ok((CODE128_C_12345678.to_string(), "12345678")));
    }

    #[test]
    fn code128_switches_and_rejects() {
        let code = parse_code128(b"{BNr{C\x0c\x22");
        assert_eq!(
            code.map(|c| (c.values, c.text)),
            Ok((vec![104, 46, 82, 99, 12, 34], "Nr1234".to_string()))
        );
        assert!(parse_code128(b"ABC").is_err());
        assert!(parse_code128(&[b'{', b'C', 100]).is_err());
        assert!(parse_code128(b"{B").is_err());
    }
}
