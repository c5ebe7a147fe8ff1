//! GS1 element strings: the application identifiers (AIs) in GS1-128, GS1 DataMatrix, GS1 QR
//! and GS1 DataBar codes, such as `(01)` GTIN, `(17)` expiry date or `(3103)` net weight.
//!
//! The scanner transmits FNC1 as ASCII GS (0x1D). GS ends a variable-length field; fields whose
//! AI starts with 00–04, 11–20, 31–36 or 41 have a predefined length (GS1 General
//! Specifications figure 5.10.1-2) and need no GS after them. A leading GS, and a GS after a
//! predefined-length field, are tolerated and ignored.
//!
//! For every element the raw value goes into `details["ai.<AI>"]` (`ai.01`, `ai.3103`), and for
//! the AIs in [`AIS`] a readable key holds the interpreted value: dates as `YYYY-MM-DD` (day 00
//! meaning the last day of the month), decimal measures and amounts with their decimal point
//! (`3103` `001250` → `net_weight_kg = "1.250"`), currency codes as ISO 4217 letters where
//! known. `details["hri"]` holds the whole string in human-readable form,
//! `(01)04012345678901(17)261130`.
//!
//! AIs with a known first-two-digit group but not in [`AIS`] are accepted with their raw value
//! only, so a label using a newer AI still sells. Groups GS1 never assigned are refused as
//! unknown, as are wrong lengths, non-digits in numeric fields, impossible dates and wrong
//! check digits (those as [`ScanError::CheckDigit`]). GS1's rules about which AIs must or must
//! not appear together are not checked.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::ScanError;
use crate::digits::{all_digits, format_decimal, verify_gs1_check_digit};

/// ASCII group separator: how scanners transmit FNC1.
pub(crate) const GS: u8 = 0x1D;

/// Longest value GS1 allows in any element string.
const MAX_VALUE_LEN: usize = 90;

/// How a field's value is checked and interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Digits, reported as they are.
    Numeric,
    /// GS1 character set 82, reported as it is.
    Alnum,
    /// Digits with a GS1 check digit last (GTIN, SSCC, GLN).
    Checked,
    /// YYMMDD.
    Date,
    /// A measure; the AI's fourth digit (0–5) is the number of decimals.
    Measure,
    /// An amount; the AI's fourth digit is the number of decimals.
    Money,
    /// An ISO 4217 numeric currency code, then an amount as for [`Kind::Money`].
    MoneyWithCurrency,
}

/// One application identifier this crate interprets.
struct AiDef {
    /// The AI; for [`Kind::Measure`], [`Kind::Money`] and [`Kind::MoneyWithCurrency`] the
    /// first three digits of the four-digit AI.
    ai: &'static str,
    /// The readable details key.
    key: &'static str,
    kind: Kind,
    min: usize,
    max: usize,
}

const fn def(ai: &'static str, key: &'static str, kind: Kind, min: usize, max: usize) -> AiDef {
    AiDef {
        ai,
        key,
        kind,
        min,
        max,
    }
}

use Kind::{Alnum, Checked, Date, Measure, Money, MoneyWithCurrency, Numeric};

/// The AIs with a readable details key. Lengths are of the value, without the AI.
const AIS: &[AiDef] = &[
    def("00", "sscc", Checked, 18, 18),
    def("01", "gtin", Checked, 14, 14),
    def("02", "content_gtin", Checked, 14, 14),
    def("03", "mto_gtin", Checked, 14, 14),
    def("10", "batch", Alnum, 1, 20),
    def("11", "production_date", Date, 6, 6),
    def("12", "due_date", Date, 6, 6),
    def("13", "packaging_date", Date, 6, 6),
    def("15", "best_before", Date, 6, 6),
    def("16", "sell_by", Date, 6, 6),
    def("17", "expiry", Date, 6, 6),
    def("20", "variant", Numeric, 2, 2),
    def("21", "serial", Alnum, 1, 20),
    def("22", "consumer_product_variant", Alnum, 1, 20),
    def("235", "third_party_serial", Alnum, 1, 28),
    def("240", "additional_id", Alnum, 1, 30),
    def("241", "customer_part_number", Alnum, 1, 30),
    def("242", "made_to_order_variant", Numeric, 1, 6),
    def("243", "packaging_component", Alnum, 1, 20),
    def("250", "secondary_serial", Alnum, 1, 30),
    def("251", "source_reference", Alnum, 1, 30),
    def("253", "gdti", Alnum, 13, 30),
    def("254", "gln_extension", Alnum, 1, 20),
    def("255", "gcn", Numeric, 13, 25),
    def("30", "variable_count", Numeric, 1, 8),
    def("310", "net_weight_kg", Measure, 6, 6),
    def("311", "length_m", Measure, 6, 6),
    def("312", "width_m", Measure, 6, 6),
    def("313", "height_m", Measure, 6, 6),
    def("314", "area_m2", Measure, 6, 6),
    def("315", "net_volume_l", Measure, 6, 6),
    def("316", "net_volume_m3", Measure, 6, 6),
    def("320", "net_weight_lb", Measure, 6, 6),
    def("330", "gross_weight_kg", Measure, 6, 6),
    def("37", "count", Numeric, 1, 8),
    def("390", "amount_payable", Money, 1, 15),
    def("391", "amount_payable", MoneyWithCurrency, 4, 18),
    def("392", "price", Money, 1, 15),
    def("393", "price", MoneyWithCurrency, 4, 18),
    def("394", "percent_off", Money, 4, 4),
    def("400", "order_number", Alnum, 1, 30),
    def("401", "ginc", Alnum, 1, 30),
    def("402", "gsin", Checked, 17, 17),
    def("403", "routing_code", Alnum, 1, 30),
    def("410", "ship_to_gln", Checked, 13, 13),
    def("411", "bill_to_gln", Checked, 13, 13),
    def("412", "purchased_from_gln", Checked, 13, 13),
    def("413", "ship_for_gln", Checked, 13, 13),
    def("414", "location_gln", Checked, 13, 13),
    def("415", "pay_to_gln", Checked, 13, 13),
    def("416", "production_location_gln", Checked, 13, 13),
    def("417", "party_gln", Checked, 13, 13),
    def("420", "ship_to_postal_code", Alnum, 1, 20),
    def("422", "origin_country", Numeric, 3, 3),
    def("7003", "expiry_time", Numeric, 10, 10),
    def("7006", "first_freeze_date", Date, 6, 6),
    def("8005", "price_per_unit", Numeric, 6, 6),
    def("8020", "payment_slip_reference", Alnum, 1, 25),
    def("8200", "url", Alnum, 1, 70),
    def("90", "internal", Alnum, 1, 30),
    def("91", "internal_91", Alnum, 1, 90),
    def("92", "internal_92", Alnum, 1, 90),
    def("93", "internal_93", Alnum, 1, 90),
    def("94", "internal_94", Alnum, 1, 90),
    def("95", "internal_95", Alnum, 1, 90),
    def("96", "internal_96", Alnum, 1, 90),
    def("97", "internal_97", Alnum, 1, 90),
    def("98", "internal_98", Alnum, 1, 90),
    def("99", "internal_99", Alnum, 1, 90),
];

/// How many digits an AI has, from its first two digits; `None` for groups GS1 never assigned.
fn ai_length(group: &str) -> Option<usize> {
    Some(match group {
        "00" | "01" | "02" | "03" | "04" => 2,
        "10" | "11" | "12" | "13" | "15" | "16" | "17" | "20" | "21" | "22" => 2,
        "23" | "24" | "25" => 3,
        "30" | "37" => 2,
        "31" | "32" | "33" | "34" | "35" | "36" | "39" => 4,
        "40" | "41" | "42" | "71" => 3,
        "43" | "70" | "72" | "80" | "81" | "82" => 4,
        "90" | "91" | "92" | "93" | "94" | "95" | "96" | "97" | "98" | "99" => 2,
        _ => return None,
    })
}

/// The value length of AIs whose group has a predefined length and needs no GS after it.
fn predefined_length(group: &str) -> Option<usize> {
    Some(match group {
        "00" => 18,
        "01" | "02" | "03" => 14,
        "04" => 16,
        "11" | "12" | "13" | "14" | "15" | "16" | "17" | "18" | "19" => 6,
        "20" => 2,
        "31" | "32" | "33" | "34" | "35" | "36" => 6,
        "41" => 13,
        _ => return None,
    })
}

fn lookup(ai: &str) -> Option<&'static AiDef> {
    AIS.iter().find(|d| match d.kind {
        Measure | Money | MoneyWithCurrency => ai.len() == 4 && ai.starts_with(d.ai),
        _ => d.ai == ai,
    })
}

/// GS1 character set 82: the only characters allowed in alphanumeric fields.
fn is_cset82(b: u8) -> bool {
    matches!(b, b'!' | b'"' | b'%'..=b'?' | b'A'..=b'Z' | b'_' | b'a'..=b'z')
}

fn gs1_error(reason: String) -> ScanError {
    ScanError::Gs1 { reason }
}

/// Parses a GS1 element string into `details` (scheme in the module docs). `reference_year` is
/// the current year, which decides the century of two-digit years.
pub(crate) fn parse(
    data: &str,
    reference_year: i32,
    details: &mut BTreeMap<String, String>,
) -> Result<(), ScanError> {
    let mut rest = data.as_bytes();
    let mut hri = String::new();
    loop {
        while let Some((&GS, tail)) = rest.split_first() {
            rest = tail;
        }
        if rest.is_empty() {
            break;
        }
        let group = rest
            .get(..2)
            .and_then(|g| std::str::from_utf8(g).ok())
            .filter(|g| all_digits(g))
            .ok_or_else(|| {
                gs1_error(format!(
                    "expected an application identifier, found {:?}",
                    String::from_utf8_lossy(&rest[..rest.len().min(4)])
                ))
            })?;
        let ai_len = ai_length(group).ok_or_else(|| {
            gs1_error(format!("unknown application identifier starting {group:?}"))
        })?;
        let ai = rest
            .get(..ai_len)
            .and_then(|a| std::str::from_utf8(a).ok())
            .filter(|a| all_digits(a))
            .ok_or_else(|| {
                gs1_error(format!(
                    "application identifier starting {group:?} is cut short"
                ))
            })?;
        rest = &rest[ai_len..];
        let value = if let Some(len) = predefined_length(group) {
            let value = rest.get(..len).ok_or_else(|| {
                gs1_error(format!(
                    "AI ({ai}) needs {len} characters, only {} left",
                    rest.len()
                ))
            })?;
            rest = &rest[len..];
            value
        } else {
            let end = rest.iter().position(|&b| b == GS).unwrap_or(rest.len());
            let value = &rest[..end];
            rest = &rest[end..];
            value
        };
        let value = std::str::from_utf8(value)
            .map_err(|_| gs1_error(format!("AI ({ai}) holds bytes outside ASCII")))?;
        element(ai, value, reference_year, details)?;
        let _ = write!(hri, "({ai}){value}");
    }
    if hri.is_empty() {
        return Err(gs1_error("no element strings".into()));
    }
    details.insert("hri".into(), hri);
    Ok(())
}

/// Checks and records one element: raw under `ai.<AI>`, interpreted under its readable key.
fn element(
    ai: &str,
    value: &str,
    reference_year: i32,
    details: &mut BTreeMap<String, String>,
) -> Result<(), ScanError> {
    if value.is_empty() {
        return Err(gs1_error(format!("AI ({ai}) has no data")));
    }
    let raw_key = format!("ai.{ai}");
    if details.contains_key(&raw_key) {
        return Err(gs1_error(format!("AI ({ai}) appears twice")));
    }
    let Some(def) = lookup(ai) else {
        if value.len() > MAX_VALUE_LEN || !value.bytes().all(is_cset82) {
            return Err(gs1_error(format!(
                "AI ({ai}) value {value:?} is too long or has characters GS1 does not allow"
            )));
        }
        details.insert(raw_key, value.to_owned());
        return Ok(());
    };
    if value.len() < def.min || value.len() > def.max {
        let wanted = if def.min == def.max {
            format!("{}", def.min)
        } else {
            format!("{} to {}", def.min, def.max)
        };
        let hint = if value.len() > def.max {
            " (is a GS separator missing?)"
        } else {
            ""
        };
        return Err(gs1_error(format!(
            "AI ({ai}) needs {wanted} characters, got {} in {value:?}{hint}",
            value.len()
        )));
    }
    let numeric = def.kind != Alnum;
    if numeric && !all_digits(value) {
        return Err(gs1_error(format!(
            "AI ({ai}) must be digits, got {value:?}"
        )));
    }
    if !value.bytes().all(is_cset82) {
        return Err(gs1_error(format!(
            "AI ({ai}) value {value:?} has characters GS1 does not allow"
        )));
    }
    let decimals = || usize::from(ai.as_bytes()[3] - b'0');
    let readable = match def.kind {
        Numeric | Alnum => value.to_owned(),
        Checked => {
            verify_gs1_check_digit(value)?;
            value.to_owned()
        }
        Date => date(ai, value, reference_year)?,
        Measure => {
            if decimals() > 5 {
                return Err(gs1_error(format!(
                    "AI ({ai}) has {} decimals, at most 5 are defined",
                    decimals()
                )));
            }
            format_decimal(value, decimals())
        }
        Money => format_decimal(value, decimals()),
        MoneyWithCurrency => {
            let (currency, amount) = value.split_at(3);
            let currency_key = format!("{}_currency", def.key);
            let currency = iso_4217_alpha(currency).unwrap_or(currency).to_owned();
            insert_new(details, ai, currency_key, currency)?;
            format_decimal(amount, decimals())
        }
    };
    details.insert(raw_key, value.to_owned());
    insert_new(details, ai, def.key.to_owned(), readable)
}

/// Inserts a readable key, refusing a second AI that means the same thing (`392n` and `393n`
/// together), since the price would be ambiguous.
fn insert_new(
    details: &mut BTreeMap<String, String>,
    ai: &str,
    key: String,
    value: String,
) -> Result<(), ScanError> {
    if details.contains_key(&key) {
        return Err(gs1_error(format!(
            "AI ({ai}) repeats {key}, already given by another AI"
        )));
    }
    details.insert(key, value);
    Ok(())
}

/// YYMMDD → `YYYY-MM-DD`; day 00 stands for the last day of the month.
fn date(ai: &str, value: &str, reference_year: i32) -> Result<String, ScanError> {
    let num = |range: std::ops::Range<usize>| value[range].parse::<u32>().unwrap_or(0);
    let (yy, month, day) = (num(0..2), num(2..4), num(4..6));
    if !(1..=12).contains(&month) {
        return Err(gs1_error(format!(
            "AI ({ai}) date {value:?} has month {month:02}"
        )));
    }
    let year = full_year(i32::try_from(yy).unwrap_or(0), reference_year);
    let last = days_in_month(year, month);
    let day = match day {
        0 => last,
        d if d <= last => d,
        d => {
            return Err(gs1_error(format!(
                "AI ({ai}) date {value:?} has day {d:02}, {year}-{month:02} has {last} days"
            )));
        }
    };
    Ok(format!("{year:04}-{month:02}-{day:02}"))
}

/// The century rule of GS1 General Specifications §7.12: a two-digit year lies within 49 years
/// before and 50 years after the current year.
pub(crate) fn full_year(yy: i32, reference_year: i32) -> i32 {
    let current_yy = reference_year.rem_euclid(100);
    let century = reference_year - current_yy;
    match yy - current_yy {
        51..=99 => century - 100 + yy,
        -99..=-50 => century + 100 + yy,
        _ => century + yy,
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// ISO 4217 letters for the numeric codes a store in Austria, Germany or Czechia meets; other
/// codes are reported as digits.
fn iso_4217_alpha(numeric: &str) -> Option<&'static str> {
    Some(match numeric {
        "978" => "EUR",
        "203" => "CZK",
        "756" => "CHF",
        "985" => "PLN",
        "348" => "HUF",
        "946" => "RON",
        "975" => "BGN",
        "208" => "DKK",
        "752" => "SEK",
        "578" => "NOK",
        "826" => "GBP",
        "840" => "USD",
        _ => return None,
    })
}

/// This year by the system clock, for the century of two-digit years.
pub(crate) fn current_year() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let year = yoe + era * 400 + i64::from(mp >= 10);
    i32::try_from(year).unwrap_or(2000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_digit_years_fall_in_the_gs1_window() {
        assert_eq!(full_year(26, 2026), 2026);
        assert_eq!(full_year(76, 2026), 2076);
        assert_eq!(full_year(77, 2026), 1977);
        assert_eq!(full_year(30, 2090), 2130);
        assert_eq!(full_year(40, 2090), 2140);
        assert_eq!(full_year(41, 2090), 2041);
    }

    #[test]
    fn clock_year_is_plausible() {
        let year = current_year();
        assert!((2025..2200).contains(&year), "{year}");
    }

    #[test]
    fn february_has_29_days_in_leap_years_only() {
        assert_eq!(days_in_month(2028, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2026, 2), 28);
    }
}
