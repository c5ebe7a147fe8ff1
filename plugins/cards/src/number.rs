//! Card numbers: the configured prefix, a fixed number of digits, and a GS1 (mod 10,
//! weights 3 and 1) check digit at the end, so a mistyped digit and most swapped neighbours
//! are caught at the till before any look-up. It is the check digit of EAN-13 and EAN-8:
//! a 13-digit card number is a valid EAN-13 (an in-store prefix such as `2791` keeps it
//! apart from products), which the till's scanners check before the plugin sees it.

use crate::config::Config;

/// What an entered code is to this plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recognised {
    /// Not in our format: another plugin's code.
    NotOurs,
    /// Our prefix and length, but the check digit is wrong: a mistyped number.
    BadCheckDigit(String),
    /// A well-formed card number (digits only).
    Card(String),
}

/// The GS1 check digit of `body` (digits only): from the right, weights 3, 1, 3, …
pub fn check_digit(body: &str) -> u32 {
    posd_plugin_sdk::check_digit::gs1(body)
}

/// `body` with its check digit appended: a valid card number.
pub fn with_check_digit(body: &str) -> String {
    format!("{body}{}", check_digit(body))
}

/// Reads an entered code: spaces and dashes are ignored, as printed cards group digits.
pub fn recognise(config: &Config, input: &str) -> Recognised {
    let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if digits.len() != config.number_length
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !digits.starts_with(&config.number_prefix)
    {
        return Recognised::NotOurs;
    }
    let (body, last) = digits.split_at(digits.len() - 1);
    if last.parse::<u32>().ok() == Some(check_digit(body)) {
        Recognised::Card(digits)
    } else {
        Recognised::BadCheckDigit(digits)
    }
}

/// A card number as printed and shown: its last four digits.
pub fn masked(number: &str) -> String {
    let tail: String = number
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        Config::parse(json!({
            "number_prefix": "2791",
            "programmes": [{"id": "credit", "name": "Guthaben", "kind": "stored_value"}],
            "card_types": [{"id": "basic", "name": "Karte", "programmes": ["credit"]}]
        }))
        .unwrap()
    }

    #[test]
    fn the_check_digit_is_the_ean_one() {
        // EAN-13 4006381333931 (a Staedtler pencil): check digit 1.
        assert_eq!(check_digit("400638133393"), 1);
        // EAN-8 96385074: check digit 4.
        assert_eq!(check_digit("9638507"), 4);
        assert_eq!(with_check_digit("279100000001"), "2791000000012");
    }

    #[test]
    fn numbers_are_recognised_with_separators_and_mistypes_are_told_apart() {
        let c = config();
        let good = with_check_digit("279100000001");
        assert_eq!(recognise(&c, &good), Recognised::Card(good.clone()));
        assert_eq!(
            recognise(&c, "2791 0000 0001 2"),
            Recognised::Card(good.clone())
        );
        // One digit off: the check digit catches it.
        assert_eq!(
            recognise(&c, "2791000000022"),
            Recognised::BadCheckDigit("2791000000022".into())
        );
        // Swapped neighbours too.
        assert!(matches!(
            recognise(&c, "2791000000102"),
            Recognised::BadCheckDigit(_)
        ));
        assert_eq!(recognise(&c, "0441234567890"), Recognised::NotOurs);
        assert_eq!(recognise(&c, "279100001"), Recognised::NotOurs);
        assert_eq!(masked(&good), "••••0012");
    }
}
