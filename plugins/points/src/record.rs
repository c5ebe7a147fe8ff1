//! What a checkout earned and spent, kept in kv (`receipt:<receipt id>`) in the checkout's
//! transaction, so a void or return takes back exactly that — not what the rules would give
//! today — and never twice.
//!
//! A return takes back the returned lines' share, cumulatively over all returns of the
//! receipt: after a return, `taken = floor(earned × returned exact points / all exact
//! points)` in total, so the last return of everything takes exactly what is left and
//! several partial returns never take more than was earned. Points spent on the receipt come
//! back the same way, by the returned goods' share of the goods the redemption reduced. A
//! void takes and gives back whatever no return did yet.

use std::collections::BTreeMap;

use posd_plugin_sdk::Decimal;
use serde::{Deserialize, Serialize};

use crate::config::Programme;
use crate::date::Date;

/// The kv key of a receipt's record.
pub fn key(receipt: &str) -> String {
    format!("receipt:{receipt}")
}

/// A lot of points a redemption spent: given back with its own expiry, so a void never
/// makes old points young again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpentLot {
    /// Its `expires` day, if any.
    pub expires: Option<String>,
    /// Points spent from it and not given back yet.
    pub points: Decimal,
}

/// One programme's part of a receipt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgrammeRecord {
    /// Points posted as earned.
    pub earned: Decimal,
    /// The `expires` of the earning.
    pub expires: Option<String>,
    /// Exact points per line, before the floor.
    pub per_line: BTreeMap<String, Decimal>,
    /// Points spent on the receipt.
    pub spent: Decimal,
    /// The lots they came from, not yet given back (the latest expiry is given back first).
    pub spent_lots: Vec<SpentLot>,
    /// Of `earned`, taken back by returns and voids so far.
    pub taken_back: Decimal,
    /// Of `spent`, given back so far.
    pub given_back: Decimal,
}

/// A receipt's record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceiptRecord {
    /// The customer the points belong to.
    pub customer: String,
    /// Per programme id.
    pub programmes: BTreeMap<String, ProgrammeRecord>,
    /// Quantity per goods line, as sold.
    pub goods_qty: BTreeMap<String, Decimal>,
    /// Amount per goods line, as sold (the redemption's share is by amount).
    pub goods_amount: BTreeMap<String, Decimal>,
    /// Quantity per goods line returned so far.
    #[serde(default)]
    pub returned: BTreeMap<String, Decimal>,
    /// Whether the receipt was voided.
    #[serde(default)]
    pub voided: bool,
}

impl ReceiptRecord {
    /// `value` times the share of `line` returned so far (0 to 1), multiplied before it is
    /// divided so that a third of 12 is 4, not 3.99….
    fn returned_part(&self, line: &str, value: Decimal) -> Decimal {
        let sold = self.goods_qty.get(line).copied().unwrap_or_default();
        let back = self.returned.get(line).copied().unwrap_or_default();
        if sold <= Decimal::ZERO {
            return Decimal::ZERO;
        }
        value * back.min(sold) / sold
    }

    /// Whether every goods line is back.
    pub fn all_returned(&self) -> bool {
        self.goods_qty
            .iter()
            .all(|(line, sold)| self.returned.get(line).is_some_and(|back| back >= sold))
    }

    /// What of `programme`'s earned and spent points the returns so far should have taken
    /// and given back in total: (taken, given), each floored to the programme's decimals,
    /// exactly the whole once everything is back.
    pub fn due_after_returns(&self, programme: &Programme) -> (Decimal, Decimal) {
        let Some(record) = self.programmes.get(&programme.id) else {
            return (Decimal::ZERO, Decimal::ZERO);
        };
        if self.all_returned() {
            return (record.earned, record.spent);
        }
        let exact: Decimal = record.per_line.values().copied().sum();
        let exact_back: Decimal = record
            .per_line
            .iter()
            .map(|(line, points)| self.returned_part(line, *points))
            .sum();
        let taken = if exact > Decimal::ZERO {
            programme.floor(record.earned * exact_back / exact)
        } else {
            Decimal::ZERO
        };
        let goods: Decimal = self.goods_amount.values().copied().sum();
        let goods_back: Decimal = self
            .goods_amount
            .iter()
            .map(|(line, amount)| self.returned_part(line, *amount))
            .sum();
        let given = if goods > Decimal::ZERO {
            programme.floor(record.spent * goods_back / goods)
        } else {
            Decimal::ZERO
        };
        (taken.min(record.earned), given.min(record.spent))
    }
}

impl ProgrammeRecord {
    /// Takes `points` off the spent lots, the latest expiry first: the lots to give back.
    pub fn give_back_lots(&mut self, points: Decimal) -> Vec<(Option<Date>, Decimal)> {
        let mut wanted = points;
        let mut back = Vec::new();
        self.spent_lots.sort_by_key(|l| l.expires.clone());
        for lot in self.spent_lots.iter_mut().rev() {
            if wanted <= Decimal::ZERO {
                break;
            }
            let part = lot.points.min(wanted);
            lot.points -= part;
            wanted -= part;
            back.push((lot.expires.as_deref().and_then(Date::parse), part));
        }
        if wanted > Decimal::ZERO {
            back.push((None, wanted));
        }
        self.spent_lots.retain(|l| l.points > Decimal::ZERO);
        back
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::json;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn programme() -> Programme {
        Config::parse(json!({"programmes": [{"id": "bonus", "name": "Body",
            "rules": [{"points": "1", "per_amount": "10"}]}]}))
        .unwrap()
        .programmes
        .remove(0)
    }

    fn record() -> ReceiptRecord {
        ReceiptRecord {
            customer: "C-1".into(),
            programmes: BTreeMap::from([(
                "bonus".to_string(),
                ProgrammeRecord {
                    earned: d("10"),
                    per_line: BTreeMap::from([
                        ("L1".to_string(), d("5.5")),
                        ("L2".to_string(), d("5.5")),
                    ]),
                    spent: d("7"),
                    ..ProgrammeRecord::default()
                },
            )]),
            goods_qty: BTreeMap::from([("L1".into(), d("3")), ("L2".into(), d("1"))]),
            goods_amount: BTreeMap::from([("L1".into(), d("60")), ("L2".into(), d("60"))]),
            ..ReceiptRecord::default()
        }
    }

    #[test]
    fn returns_one_by_one_take_back_exactly_what_was_earned_and_never_more() {
        let p = programme();
        let mut r = record();
        let mut taken_total = Decimal::ZERO;
        let mut given_total = Decimal::ZERO;
        for (line, qty) in [("L1", "1"), ("L1", "1"), ("L1", "1"), ("L2", "1")] {
            *r.returned.entry(line.into()).or_default() += d(qty);
            let (taken, given) = r.due_after_returns(&p);
            assert!(taken >= taken_total && taken <= d("10"));
            taken_total = taken;
            given_total = given;
        }
        assert_eq!((taken_total, given_total), (d("10"), d("7")));
        // One of three: 10 × (5.5/3)/11 = 1.67 → 1; spent 7 × 20/120 = 1.17 → 1.
        let mut one = record();
        one.returned.insert("L1".into(), d("1"));
        assert_eq!(one.due_after_returns(&p), (d("1"), d("1")));
    }

    #[test]
    fn spent_points_come_back_latest_expiry_first() {
        let mut r = ProgrammeRecord {
            spent_lots: vec![
                SpentLot {
                    expires: Some("2027-01-01".into()),
                    points: d("5"),
                },
                SpentLot {
                    expires: Some("2027-06-01".into()),
                    points: d("3"),
                },
            ],
            ..ProgrammeRecord::default()
        };
        let back = r.give_back_lots(d("4"));
        assert_eq!(
            back,
            [
                (Date::parse("2027-06-01"), d("3")),
                (Date::parse("2027-01-01"), d("1"))
            ]
        );
        assert_eq!(r.spent_lots.len(), 1);
    }
}
