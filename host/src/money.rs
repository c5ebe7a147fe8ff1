//! Money arithmetic with explicit rounding: parsing the contract's decimal strings, rounding
//! to the currency's minor unit, cash rounding, spreading a discount over lines, and the VAT
//! table of a receipt.
//!
//! Everything is `rust_decimal::Decimal`. Rules, each tested below:
//! - Line amounts are rounded to the minor unit half away from zero (`2.345` → `2.35`,
//!   `-2.345` → `-2.35`).
//! - Prices are gross (VAT included). VAT of a rate is computed once from the rate's gross
//!   total, as receipts in Germany and Austria state it: `vat = round(gross × rate /
//!   (100 + rate))`, half away from zero, and `net = gross − vat`, so each row's net and VAT
//!   add up to its gross and the table to the total. 3.87 gross at 20 % is VAT 0.65
//!   (0.645 rounded), net 3.22. (Rounding the net first and taking the VAT as the rest
//!   would give 0.64; the two differ only when the exact VAT ends in half a cent.)
//! - A price reduction (discount, points) is spread over the lines it applies to pro rata
//!   to their amounts, each share rounded; the cent left over by rounding goes to the line
//!   with the largest amount (the first of equals), so the shares sum to the reduction.
//! - Cash rounding (CZK to whole crowns, CHF to 0.05) rounds the amount due in cash half
//!   away from zero and shows the difference as its own line; card payments are not rounded.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

/// Why a number from a frontend was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a plain decimal string.
    #[error("{what}: {text:?} is not a decimal number like \"12.50\"")]
    Malformed {
        /// Which value.
        what: String,
        /// What was given.
        text: String,
    },
    /// Outside the allowed range or precision.
    #[error("{what}: {value} is out of range: {rule}")]
    OutOfRange {
        /// Which value.
        what: String,
        /// The value.
        value: String,
        /// What is allowed.
        rule: String,
    },
}

/// Parses a decimal string as the contract writes them: optional `-`, digits, optional `.`
/// and digits. No exponent, no `+`, no spaces, no thousands separators, at most 28 digits.
pub fn parse(what: &str, text: &str) -> Result<Decimal, MoneyError> {
    let malformed = || MoneyError::Malformed {
        what: what.to_string(),
        text: text.to_string(),
    };
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) || digits.len() > 29 {
        return Err(malformed());
    }
    Decimal::from_str(text).map_err(|_| malformed())
}

/// Parses and checks `min <= value <= max` with at most `scale` decimal places.
pub fn parse_bounded(
    what: &str,
    text: &str,
    min: Decimal,
    max: Decimal,
    scale: u32,
) -> Result<Decimal, MoneyError> {
    let value = parse(what, text)?;
    if value < min || value > max || value.normalize().scale() > scale {
        return Err(MoneyError::OutOfRange {
            what: what.to_string(),
            value: value.to_string(),
            rule: format!("expected {min} to {max} with at most {scale} decimal places"),
        });
    }
    Ok(value)
}

/// Rounds to `minor` decimal places, half away from zero.
pub fn round(value: Decimal, minor: u32) -> Decimal {
    value.round_dp_with_strategy(minor, RoundingStrategy::MidpointAwayFromZero)
}

/// Formats with exactly `minor` decimal places, as the contract's strings.
pub fn format(value: Decimal, minor: u32) -> String {
    let mut v = round(value, minor);
    v.rescale(minor);
    v.to_string()
}

/// Rounds `value` to a multiple of `increment` (0.05, 1.00), half away from zero.
pub fn round_to_increment(value: Decimal, increment: Decimal) -> Decimal {
    if increment <= Decimal::ZERO {
        return value;
    }
    (value / increment).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        * increment
}

/// Splits `total` over `weights` pro rata, each share rounded to `minor`; the remainder of
/// rounding goes to the largest weight (the first of equals). The shares sum to `total`.
/// All weights zero: everything goes to the first.
pub fn spread(total: Decimal, weights: &[Decimal], minor: u32) -> Vec<Decimal> {
    if weights.is_empty() {
        return Vec::new();
    }
    let sum: Decimal = weights.iter().copied().sum();
    let mut shares: Vec<Decimal> = if sum.is_zero() {
        let mut s = vec![Decimal::ZERO; weights.len()];
        s[0] = total;
        s
    } else {
        weights
            .iter()
            .map(|w| round(total * *w / sum, minor))
            .collect()
    };
    let remainder = total - shares.iter().copied().sum::<Decimal>();
    if !remainder.is_zero() {
        let largest = weights.iter().enumerate().fold(0, |best, (i, w)| {
            if w.abs() > weights[best].abs() {
                i
            } else {
                best
            }
        });
        shares[largest] += remainder;
    }
    shares
}

/// One row of a receipt's VAT table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatRow {
    /// Rate in percent; `None` for lines outside VAT (multi-purpose vouchers, top-ups).
    pub rate: Option<Decimal>,
    /// Net amount.
    pub net: Decimal,
    /// VAT amount.
    pub vat: Decimal,
    /// Gross amount (net + VAT).
    pub gross: Decimal,
}

/// The VAT table of gross amounts per rate (`None` = not taxable): one row per rate,
/// ordered by rate, non-taxable last; rows with a zero gross are left out.
pub fn vat_table(gross_by_rate: &[(Option<Decimal>, Decimal)], minor: u32) -> Vec<VatRow> {
    let mut rates: Vec<Option<Decimal>> = Vec::new();
    for (rate, _) in gross_by_rate {
        if !rates.contains(rate) {
            rates.push(*rate);
        }
    }
    rates.sort_by(|a, b| match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    });
    rates
        .into_iter()
        .filter_map(|rate| {
            let gross: Decimal = gross_by_rate
                .iter()
                .filter(|(r, _)| *r == rate)
                .map(|(_, g)| *g)
                .sum();
            if gross.is_zero() {
                return None;
            }
            let mut vat = match rate {
                Some(r) => round(gross * r / (Decimal::ONE_HUNDRED + r), minor),
                None => Decimal::ZERO,
            };
            // Written with the currency's digits ("0.00"), as the other amounts.
            vat.rescale(minor);
            Some(VatRow {
                rate,
                net: gross - vat,
                vat,
                gross,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    #[test]
    fn only_plain_decimal_strings_parse() {
        assert_eq!(parse("qty", "12.50").expect("ok"), d("12.50"));
        assert_eq!(parse("qty", "-3").expect("ok"), d("-3"));
        for bad in [
            "", "1e3", "+1", " 1", "1 ", "1,50", "1.", ".5", "--1", "1.2.3", "NaN", "१२",
        ] {
            assert!(parse("qty", bad).is_err(), "{bad:?} must be refused");
        }
        let err = parse_bounded("qty", "0", d("0.001"), d("9999"), 3).expect_err("zero");
        assert!(
            err.to_string().contains("qty") && err.to_string().contains("0.001"),
            "{err}"
        );
        assert!(parse_bounded("qty", "1.0005", d("0.001"), d("9999"), 3).is_err());
        assert!(
            parse_bounded("qty", "1.2500", d("0.001"), d("9999"), 3).is_ok(),
            "trailing zeros are fine"
        );
        assert!(parse_bounded("price", "100000000", d("0"), d("1000000"), 4).is_err());
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round(d("2.345"), 2), d("2.35"));
        assert_eq!(round(d("-2.345"), 2), d("-2.35"));
        assert_eq!(round(d("2.344"), 2), d("2.34"));
        assert_eq!(format(d("3"), 2), "3.00");
        assert_eq!(format(d("-0.005"), 2), "-0.01");
    }

    #[test]
    fn cash_rounding_to_increments() {
        assert_eq!(round_to_increment(d("123.50"), d("1")), d("124"));
        assert_eq!(round_to_increment(d("123.49"), d("1")), d("123"));
        assert_eq!(round_to_increment(d("12.325"), d("0.05")), d("12.35"));
        assert_eq!(round_to_increment(d("12.324"), d("0.05")), d("12.30"));
        assert_eq!(round_to_increment(d("-12.325"), d("0.05")), d("-12.35"));
    }

    #[test]
    fn a_spread_always_sums_to_the_total_and_the_cent_goes_to_the_largest_line() {
        let shares = spread(d("-10.00"), &[d("10.00"), d("10.00"), d("10.00")], 2);
        assert_eq!(
            shares,
            vec![d("-3.34"), d("-3.33"), d("-3.33")],
            "first of equals takes the cent"
        );
        let shares = spread(d("-1.00"), &[d("1.00"), d("5.00"), d("3.00")], 2);
        assert_eq!(shares.iter().copied().sum::<Decimal>(), d("-1.00"));
        assert_eq!(shares, vec![d("-0.11"), d("-0.56"), d("-0.33")]);
        assert_eq!(spread(d("5"), &[d("0"), d("0")], 2), vec![d("5"), d("0")]);
        assert!(spread(d("5"), &[], 2).is_empty());
    }

    #[test]
    fn the_vat_table_adds_up_to_the_gross_total() {
        let rows = vat_table(
            &[
                (Some(d("20")), d("12.00")),
                (Some(d("10")), d("5.49")),
                (None, d("50.00")),
                (Some(d("20")), d("-2.00")),
                (Some(d("13")), d("0")),
            ],
            2,
        );
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0],
            VatRow {
                rate: Some(d("10")),
                net: d("4.99"),
                vat: d("0.50"),
                gross: d("5.49")
            }
        );
        assert_eq!(
            rows[1],
            VatRow {
                rate: Some(d("20")),
                net: d("8.33"),
                vat: d("1.67"),
                gross: d("10.00")
            }
        );
        assert_eq!(
            rows[2],
            VatRow {
                rate: None,
                net: d("50.00"),
                vat: d("0"),
                gross: d("50.00")
            }
        );
        let gross: Decimal = rows.iter().map(|r| r.gross).sum();
        assert_eq!(gross, d("65.49"));
        assert!(rows.iter().all(|r| r.net + r.vat == r.gross));
    }

    #[test]
    fn vat_is_taken_from_the_gross_and_rounded_half_away_from_zero() {
        let row = |gross: &str, rate: &str| {
            let rows = vat_table(&[(Some(d(rate)), d(gross))], 2);
            (rows[0].net, rows[0].vat)
        };
        // 3.87 × 20 / 120 = 0.645: the tax rounds up to 0.65, the net is the rest.
        assert_eq!(row("3.87", "20"), (d("3.22"), d("0.65")));
        assert_eq!(
            row("-3.87", "20"),
            (d("-3.22"), d("-0.65")),
            "a void mirrors it"
        );
        // 12.00 × 20 / 120 = 2.00 exactly; 5.49 × 10 / 110 = 0.4990… → 0.50.
        assert_eq!(row("12.00", "20"), (d("10.00"), d("2.00")));
        assert_eq!(row("5.49", "10"), (d("4.99"), d("0.50")));
        // 7.99 × 19 / 119 = 1.2757… → 1.28 (Germany's standard rate).
        assert_eq!(row("7.99", "19"), (d("6.71"), d("1.28")));
        // 0.14 × 12 / 112 = 0.015 → 0.02 (Czechia's reduced rate).
        assert_eq!(row("0.14", "12"), (d("0.12"), d("0.02")));
        assert_eq!(row("9.99", "0"), (d("9.99"), d("0")));
    }
}
