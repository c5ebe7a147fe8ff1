//! Small digit helpers shared by EAN/UPC, GS1 and in-store decoding.

use crate::ScanError;

/// True when `s` is non-empty and only ASCII digits.
pub(crate) fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The GS1 modulo-10 check digit of `body` (all digits but the check digit): weights 3 and 1
/// alternate from the right. One rule serves EAN-8, EAN-13, UPC-A, GTIN-14, GLN and SSCC.
/// `body` must be ASCII digits.
pub(crate) fn gs1_check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 { d * 3 } else { d }
        })
        .sum();
    // Always below 10, so the cast loses nothing.
    ((10 - sum % 10) % 10) as u8
}

/// Verifies the last digit of `code` (ASCII digits, at least two) as a GS1 check digit.
pub(crate) fn verify_gs1_check_digit(code: &str) -> Result<(), ScanError> {
    let bytes = code.as_bytes();
    let Some((&last, body)) = bytes.split_last() else {
        return Ok(());
    };
    let expected = gs1_check_digit(body);
    let found = last - b'0';
    if expected == found {
        Ok(())
    } else {
        Err(ScanError::CheckDigit {
            code: code.to_owned(),
            expected,
            found,
        })
    }
}

/// Renders the ASCII digits `digits` with an implied decimal point `decimals` places from the
/// right, without superfluous leading zeros: `("001250", 3)` → `"1.250"`, `("5", 2)` →
/// `"0.05"`. Trailing zeros are kept because they state the precision on the label.
pub(crate) fn format_decimal(digits: &str, decimals: usize) -> String {
    let padded;
    let digits = if digits.len() <= decimals {
        padded = format!("{digits:0>width$}", width = decimals + 1);
        padded.as_str()
    } else {
        digits
    };
    let (int, frac) = digits.split_at(digits.len() - decimals);
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_of_published_codes() {
        assert_eq!(gs1_check_digit(b"400638133393"), 1);
        assert_eq!(gs1_check_digit(b"5512345"), 7);
        assert_eq!(gs1_check_digit(b"03600029145"), 2);
        assert_eq!(gs1_check_digit(b"0401234567890"), 1);
        assert_eq!(gs1_check_digit(b"200123592875"), 4);
    }

    #[test]
    fn decimals_are_placed_from_the_right() {
        assert_eq!(format_decimal("001250", 3), "1.250");
        assert_eq!(format_decimal("001250", 2), "12.50");
        assert_eq!(format_decimal("001250", 0), "1250");
        assert_eq!(format_decimal("5", 2), "0.05");
        assert_eq!(format_decimal("000000", 0), "0");
        assert_eq!(format_decimal("00349", 2), "3.49");
    }
}
