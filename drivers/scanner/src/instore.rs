//! In-store EAN-13 codes (prefixes 20–29): labels printed by the store's own scales, carrying an
//! item number and a weight or price.
//!
//! Their layout is not standardised across retailers, so each store configures it. A common
//! German and Austrian layout is `28 IIIII C PPPP K`: prefix, five-digit item (PLU), the
//! price check digit, a four-digit price in cents and the EAN check digit. Another is
//! `29 IIIII WWWWW K`: item, then the weight in grams.
//!
//! The price check digit is the one of GS1 General Specifications §7.9.3/7.9.4 ("check digit
//! calculation for price/weight fields"), defined for 4- and 5-digit fields; it guards the
//! money amount more strongly than the EAN check digit alone. When a layout declares it,
//! it is verified and a mismatch is a [`ScanError::CheckDigit`] over the 13 digits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ScanError;
use crate::digits::{all_digits, format_decimal};

/// What the value field of an in-store code holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InStoreValue {
    /// A weight; with `decimals` it reads in kilograms (`details["weight_kg"]`).
    Weight,
    /// A price; with `decimals` it reads in currency units (`details["price"]`).
    Price,
}

/// How one family of in-store prefixes lays out its 13 digits: prefix, item number, an optional
/// price check digit, the value, and the EAN check digit. The lengths must add up to 13.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InStoreLayout {
    /// The leading digits this layout applies to, e.g. `["28", "29"]`; each starts with 2.
    pub prefixes: Vec<String>,
    /// Digits of item number (PLU) after the prefix, reported as `details["item"]`.
    pub item_digits: u8,
    /// Whether the value field is a weight or a price.
    pub value: InStoreValue,
    /// Digits of the value field, right before the EAN check digit.
    pub value_digits: u8,
    /// Implied decimal places of the value: 3 turns grams into kilograms, 2 cents into euros.
    pub decimals: u8,
    /// Whether a price check digit sits between item and value (only for 4- or 5-digit
    /// values); verified when set.
    #[serde(default)]
    pub price_check_digit: bool,
}

impl InStoreLayout {
    /// Checks that the layout can describe a 13-digit code, so a mistake is refused when the
    /// configuration is loaded instead of at the first scan.
    pub fn validate(&self) -> Result<(), ScanError> {
        let fail = |reason: String| Err(ScanError::Config { reason });
        if self.prefixes.is_empty() {
            return fail("in-store layout lists no prefixes".into());
        }
        if self.item_digits == 0 || self.value_digits == 0 {
            return fail("in-store layout needs item_digits and value_digits of at least 1".into());
        }
        if self.decimals > self.value_digits {
            return fail(format!(
                "in-store layout has {} decimals in a {}-digit value",
                self.decimals, self.value_digits
            ));
        }
        if self.price_check_digit && !matches!(self.value_digits, 4 | 5) {
            return fail(
                "the price check digit is defined for 4- and 5-digit values only".to_owned(),
            );
        }
        for prefix in &self.prefixes {
            if !all_digits(prefix) || !prefix.starts_with('2') {
                return fail(format!(
                    "in-store prefix {prefix:?} must be digits starting with 2 (20–29)"
                ));
            }
            let total = prefix.len()
                + usize::from(self.item_digits)
                + usize::from(self.price_check_digit)
                + usize::from(self.value_digits)
                + 1;
            if total != 13 {
                return fail(format!(
                    "in-store layout for prefix {prefix:?} covers {total} digits, an EAN-13 has 13 \
                     (prefix + item_digits + price check digit + value_digits + 1 check digit)"
                ));
            }
        }
        Ok(())
    }

    /// True when the 13-digit `code` starts with one of this layout's prefixes.
    pub(crate) fn matches(&self, code: &str) -> bool {
        self.prefixes
            .iter()
            .any(|p| !p.is_empty() && code.starts_with(p.as_str()))
    }

    /// Reads item and value out of the 13-digit `code` (check digit already verified) into
    /// `details`.
    pub(crate) fn apply(
        &self,
        code: &str,
        details: &mut BTreeMap<String, String>,
    ) -> Result<(), ScanError> {
        self.validate()?;
        let prefix_len = self
            .prefixes
            .iter()
            .find(|p| code.starts_with(p.as_str()))
            .map_or(0, String::len);
        let item_end = prefix_len + usize::from(self.item_digits);
        let value_start = item_end + usize::from(self.price_check_digit);
        let value_end = value_start + usize::from(self.value_digits);
        let (Some(item), Some(value)) = (
            code.get(prefix_len..item_end),
            code.get(value_start..value_end),
        ) else {
            return Err(ScanError::Config {
                reason: format!("in-store layout does not fit code {code}"),
            });
        };
        if self.price_check_digit {
            let found = code.as_bytes()[item_end] - b'0';
            let expected = value_check_digit(value.as_bytes()).unwrap_or(found);
            if expected != found {
                return Err(ScanError::CheckDigit {
                    code: code.to_owned(),
                    expected,
                    found,
                });
            }
        }
        details.insert("item".into(), item.to_owned());
        let amount = format_decimal(value, usize::from(self.decimals));
        let key = match self.value {
            InStoreValue::Weight => "weight_kg",
            InStoreValue::Price => "price",
        };
        details.insert(key.into(), amount);
        Ok(())
    }
}

// Weighting-factor products of GS1 §7.9.3: "2-" is 2·d with the tens subtracted from the units,
// "3" the units of 3·d, "5+" 5·d with the tens added, "5-" 5·d with the tens subtracted.
const TWO_MINUS: [u8; 10] = [0, 2, 4, 6, 8, 9, 1, 3, 5, 7];
const THREE: [u8; 10] = [0, 3, 6, 9, 2, 5, 8, 1, 4, 7];
const FIVE_PLUS: [u8; 10] = [0, 5, 1, 6, 2, 7, 3, 8, 4, 9];
const FIVE_MINUS: [u8; 10] = [0, 5, 9, 4, 8, 3, 7, 2, 6, 1];

/// The price/weight field check digit of a 4- or 5-digit field (ASCII digits); `None` for other
/// lengths, where none is defined.
pub(crate) fn value_check_digit(field: &[u8]) -> Option<u8> {
    let d = |i: usize| usize::from(field[i] - b'0');
    match field.len() {
        4 => {
            let sum = u32::from(TWO_MINUS[d(0)])
                + u32::from(TWO_MINUS[d(1)])
                + u32::from(THREE[d(2)])
                + u32::from(FIVE_MINUS[d(3)]);
            // Below 10 after the modulo.
            Some((sum * 3 % 10) as u8)
        }
        5 => {
            let sum = u32::from(FIVE_PLUS[d(0)])
                + u32::from(TWO_MINUS[d(1)])
                + u32::from(FIVE_MINUS[d(2)])
                + u32::from(FIVE_PLUS[d(3)])
                + u32::from(TWO_MINUS[d(4)]);
            let complement = ((10 - sum % 10) % 10) as u8;
            // FIVE_MINUS is a permutation of 0..=9, so the digit is always found.
            FIVE_MINUS
                .iter()
                .position(|&p| p == complement)
                .and_then(|i| u8::try_from(i).ok())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_digit_price_check_digit_matches_the_gs1_example() {
        // GS1 General Specifications' worked example: price 2875 has check digit 9.
        assert_eq!(value_check_digit(b"2875"), Some(9));
    }

    #[test]
    fn five_digit_check_digits_of_real_scale_labels() {
        // From scale labels 2810275005024, 2850090007827 and 2957776004085.
        assert_eq!(value_check_digit(b"00502"), Some(5));
        assert_eq!(value_check_digit(b"00782"), Some(0));
        assert_eq!(value_check_digit(b"00408"), Some(6));
        assert_eq!(value_check_digit(b"123"), None);
    }
}
