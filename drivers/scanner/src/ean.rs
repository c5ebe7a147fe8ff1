//! EAN-13, EAN-8, UPC-A and UPC-E: which one a string of digits is, and whether its check digit
//! holds.
//!
//! A misread EAN with a wrong check digit would sell a different article, so a mismatch is
//! always [`ScanError::CheckDigit`], never a scan. Every valid EAN/UPC gets its 14-digit GTIN in
//! `details["gtin"]` (UPC-E expanded to UPC-A first) so the daemon looks articles up by one key,
//! except in-store codes (prefixes 20–29), which are restricted circulation numbers and not
//! GTINs: those get `details["in_store"] = "true"` and, with a matching
//! [`crate::InStoreLayout`], the item number and the weight or price embedded in them.

use std::collections::BTreeMap;

use crate::digits::{all_digits, verify_gs1_check_digit};
use crate::{DecodeOptions, ScanError, Symbology};

/// Decodes `data` as an EAN/UPC packet. `modifier` is the AIM modifier after `]E` (`0`
/// standard, `1` two-digit add-on, `2` five-digit add-on, `3` with add-on, `4` EAN-8), or
/// `None` when the scanner sent no AIM identifier and the length alone decides. Returns the
/// symbology and the code to report.
pub(crate) fn decode(
    data: &str,
    modifier: Option<u8>,
    options: &DecodeOptions,
    details: &mut BTreeMap<String, String>,
) -> Result<(Symbology, String), ScanError> {
    let malformed = |symbology: Symbology, reason: &str| ScanError::Format {
        symbology: symbology.as_str(),
        code: data.to_owned(),
        reason: reason.to_owned(),
    };
    let guessed = match (modifier, data.len()) {
        (Some(b'4') | None, 8) => Symbology::Ean8,
        (Some(b'0'), 8) => Symbology::UpcE,
        (Some(b'0') | None, 12) => Symbology::UpcA,
        (Some(b'0') | None, 13) => Symbology::Ean13,
        (Some(b'1'), _) | (Some(b'2'), _) => Symbology::EanAddOn,
        (Some(b'3'), _) => Symbology::Ean13,
        (Some(b'4'), _) => return Err(malformed(Symbology::Ean8, "EAN-8 has 8 digits")),
        (Some(b'0') | None, _) => {
            return Err(malformed(
                Symbology::Ean13,
                "EAN/UPC has 8, 12 or 13 digits",
            ));
        }
        (Some(_), _) => {
            return Err(malformed(
                Symbology::Unknown,
                "unknown EAN/UPC AIM modifier",
            ));
        }
    };
    if !all_digits(data) {
        return Err(malformed(guessed, "EAN/UPC codes are digits only"));
    }
    match modifier {
        Some(b'1') | Some(b'2') => {
            let expected = if modifier == Some(b'1') { 2 } else { 5 };
            if data.len() != expected {
                return Err(malformed(
                    Symbology::EanAddOn,
                    &format!("this add-on has {expected} digits"),
                ));
            }
            Ok((Symbology::EanAddOn, data.to_owned()))
        }
        Some(b'3') => {
            // 12 or 13 digits of main symbol, then a 2- or 5-digit add-on: 14, 15, 17 and 18
            // characters each split one way only.
            let main_len = match data.len() {
                14 | 17 => 12,
                15 | 18 => 13,
                _ => {
                    return Err(malformed(
                        Symbology::Ean13,
                        "EAN/UPC with add-on has 14, 15, 17 or 18 digits",
                    ));
                }
            };
            let (main, add_on) = data.split_at(main_len);
            details.insert("add_on".into(), add_on.to_owned());
            main_symbol(main, modifier, options, details)
        }
        _ => main_symbol(data, modifier, options, details),
    }
}

/// A main EAN/UPC symbol of 8, 12 or 13 digits (already checked to be digits).
fn main_symbol(
    digits: &str,
    modifier: Option<u8>,
    options: &DecodeOptions,
    details: &mut BTreeMap<String, String>,
) -> Result<(Symbology, String), ScanError> {
    match digits.len() {
        8 if modifier == Some(b'0') => {
            let upc_a = expand_upc_e(digits)?;
            verify_gs1_check_digit(&upc_a).map_err(|_| check_digit_error(digits, &upc_a))?;
            details.insert("gtin".into(), format!("00{upc_a}"));
            Ok((Symbology::UpcE, digits.to_owned()))
        }
        8 => {
            verify_gs1_check_digit(digits)?;
            details.insert("gtin".into(), format!("000000{digits}"));
            Ok((Symbology::Ean8, digits.to_owned()))
        }
        12 => {
            verify_gs1_check_digit(digits)?;
            details.insert("gtin".into(), format!("00{digits}"));
            Ok((Symbology::UpcA, digits.to_owned()))
        }
        _ => {
            verify_gs1_check_digit(digits)?;
            if let Some(upc_a) = digits.strip_prefix('0') {
                details.insert("gtin".into(), format!("0{digits}"));
                return Ok((Symbology::UpcA, upc_a.to_owned()));
            }
            if digits.starts_with('2') {
                details.insert("in_store".into(), "true".into());
                if let Some(layout) = options.in_store.iter().find(|l| l.matches(digits)) {
                    layout.apply(digits, details)?;
                }
            } else {
                details.insert("gtin".into(), format!("0{digits}"));
            }
            Ok((Symbology::Ean13, digits.to_owned()))
        }
    }
}

/// The check digit error for a UPC-E, reported against the 8 digits that were read.
fn check_digit_error(upc_e: &str, upc_a: &str) -> ScanError {
    let body = &upc_a.as_bytes()[..11];
    let expected = crate::digits::gs1_check_digit(body);
    let found = upc_e.as_bytes()[7] - b'0';
    ScanError::CheckDigit {
        code: upc_e.to_owned(),
        expected,
        found,
    }
}

/// Expands an 8-digit UPC-E (number system, six digits, check digit) to its 12-digit UPC-A,
/// whose check digit is the UPC-E's. Only number systems 0 and 1 exist.
fn expand_upc_e(upc_e: &str) -> Result<String, ScanError> {
    let d = upc_e.as_bytes();
    if !matches!(d[0], b'0' | b'1') {
        return Err(ScanError::Format {
            symbology: Symbology::UpcE.as_str(),
            code: upc_e.to_owned(),
            reason: "UPC-E number system must be 0 or 1".into(),
        });
    }
    let [ns, d1, d2, d3, d4, d5, d6, check] = [d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]];
    let body: [u8; 11] = match d6 {
        b'0'..=b'2' => [ns, d1, d2, d6, b'0', b'0', b'0', b'0', d3, d4, d5],
        b'3' => [ns, d1, d2, d3, b'0', b'0', b'0', b'0', b'0', d4, d5],
        b'4' => [ns, d1, d2, d3, d4, b'0', b'0', b'0', b'0', b'0', d5],
        _ => [ns, d1, d2, d3, d4, d5, b'0', b'0', b'0', b'0', d6],
    };
    let mut upc_a: String = body.iter().map(|&b| char::from(b)).collect();
    upc_a.push(char::from(check));
    Ok(upc_a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upc_e_expands_by_its_last_digit() {
        let expand = |s| expand_upc_e(s).map_err(|e| e.to_string());
        assert_eq!(expand("01234565").as_deref(), Ok("012345000065"));
        assert_eq!(expand("04252614").as_deref(), Ok("042100005264"));
        assert_eq!(expand("01234133").as_deref(), Ok("012300000413"));
        assert!(expand("21234565").is_err());
    }
}
