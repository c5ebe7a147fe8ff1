//! Partner card numbers and coupon numbers: configured prefixes, a fixed number of digits
//! and a check digit, so a mistyped number is refused at the till before anything is sent.

use serde::Deserialize;

/// How the last digit checks the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Luhn (mod 10, doubling every second digit from the right): payment and loyalty cards.
    Luhn,
    /// GS1 (mod 10, weights 3 and 1): EAN-13 and EAN-8, coupons printed as barcodes.
    Gs1,
    /// No check digit.
    None,
}

/// The format of one kind of number (`[plugin.partner] card` or `coupon`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberFormat {
    /// Accepted beginnings; empty: any.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Digits in all, check digit included.
    pub length: usize,
    /// The check digit.
    #[serde(default = "luhn")]
    pub check: Check,
}

fn luhn() -> Check {
    Check::Luhn
}

/// What an entered code is in one format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recognised {
    /// Not in this format.
    NotOurs,
    /// The format's prefix and length, but a wrong check digit: a mistyped number.
    BadCheckDigit(String),
    /// A well-formed number (digits only).
    Valid(String),
}

impl NumberFormat {
    /// Reads an entered code: spaces and dashes are ignored, as printed cards group digits.
    pub fn recognise(&self, input: &str) -> Recognised {
        let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() != self.length
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || !(self.prefixes.is_empty() || self.prefixes.iter().any(|p| digits.starts_with(p)))
        {
            return Recognised::NotOurs;
        }
        let (body, last) = digits.split_at(digits.len() - 1);
        let expected = match self.check {
            Check::None => return Recognised::Valid(digits),
            Check::Luhn => luhn_digit(body),
            Check::Gs1 => gs1_digit(body),
        };
        if last.parse::<u32>().ok() == Some(expected) {
            Recognised::Valid(digits)
        } else {
            Recognised::BadCheckDigit(digits)
        }
    }
}

pub use posd_plugin_sdk::check_digit::{gs1 as gs1_digit, luhn as luhn_digit};

/// A number as shown and printed: its last four digits.
pub fn masked(number: &str) -> String {
    let tail = &number[number.len().saturating_sub(4)..];
    format!("••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> NumberFormat {
        NumberFormat {
            prefixes: vec!["308342".into()],
            length: 16,
            check: Check::Luhn,
        }
    }

    #[test]
    fn a_card_number_is_read_with_its_luhn_digit() {
        let body = "308342123456789";
        let number = format!("{body}{}", luhn_digit(body));
        assert_eq!(card().recognise(&number), Recognised::Valid(number.clone()));
        let spaced = format!(
            "{} {} {} {}",
            &number[..4],
            &number[4..8],
            &number[8..12],
            &number[12..]
        );
        assert_eq!(card().recognise(&spaced), Recognised::Valid(number.clone()));
        let last = number
            .chars()
            .last()
            .and_then(|c| c.to_digit(10))
            .unwrap_or(0);
        let wrong = format!("{body}{}", (last + 1) % 10);
        assert_eq!(
            card().recognise(&wrong),
            Recognised::BadCheckDigit(wrong.clone())
        );
        assert_eq!(card().recognise("4006381333931"), Recognised::NotOurs);
        assert_eq!(card().recognise("3083421234567890123"), Recognised::NotOurs);
        // The Luhn example every reference uses.
        assert_eq!(luhn_digit("7992739871"), 3);
    }

    #[test]
    fn a_coupon_is_read_with_its_gs1_digit() {
        let coupon = NumberFormat {
            prefixes: vec!["99".into()],
            length: 13,
            check: Check::Gs1,
        };
        assert_eq!(gs1_digit("400638133393"), 1, "EAN-13 4006381333931");
        let body = "991234567890";
        let number = format!("{body}{}", gs1_digit(body));
        assert_eq!(coupon.recognise(&number), Recognised::Valid(number.clone()));
        assert_eq!(masked(&number), format!("••••{}", &number[9..]));
    }
}
