//! What the plugin keeps in the host's kv store: the card and coupons collected on an open
//! sale (`sale/<id>`), what each receipt earned on which lines (`receipt/<id>`, for voids
//! and returns), and authorisations that may still hold points after their call gave up
//! (`orphan/<try>`, released with the next checkout).

use std::collections::BTreeMap;

use posd_plugin_sdk::schema::ReturnedLine;
use posd_plugin_sdk::{Decimal, Host, PluginError};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::turnover::Eligible;

/// The kv key of an open sale's collected card and coupons.
pub fn sale_key(sale: &str) -> String {
    format!("sale/{sale}")
}

/// The kv key of a receipt's record.
pub fn receipt_key(receipt: &str) -> String {
    format!("receipt/{receipt}")
}

/// The kv key of an orphaned authorisation try.
pub fn orphan_key(try_id: &str) -> String {
    format!("orphan/{try_id}")
}

/// The partner is not reachable: the cashier takes another payment.
pub fn unavailable(message: String) -> PluginError {
    PluginError::device_unavailable(message)
}

/// The card and coupons collected on an open sale.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collected {
    /// The partner card number, digits only.
    pub card: Option<String>,
    /// The action coupons, in the order they were added.
    pub coupons: Vec<String>,
}

impl Collected {
    /// What was collected on sale `sale` so far.
    pub fn of(host: &Host, sale: &str) -> Result<Collected, PluginError> {
        Ok(host.kv_get(&sale_key(sale))?.unwrap_or_default())
    }

    /// Keeps it for sale `sale`.
    pub fn store(&self, host: &Host, sale: &str) -> Result<(), PluginError> {
        host.kv_put(&sale_key(sale), self)
    }
}

/// What a points tender holds: the partner's authorisation, captured at checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenderData {
    /// The card paying.
    pub card: String,
    /// The partner's authorisation id.
    pub authorization: String,
    /// Points held.
    pub points: u64,
    /// The try's id, by which a hold can also be cancelled.
    pub request: String,
}

/// What a receipt earned, kept for its void and returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRecord {
    /// The card it earned for.
    pub card: String,
    /// Its coupons.
    pub coupons: Vec<String>,
    /// The eligible lines and what they earned on.
    pub eligible: BTreeMap<String, Eligible>,
    /// Units of each line returned so far.
    #[serde(default)]
    pub returned: BTreeMap<String, Decimal>,
    /// Voided: nothing is left to take back.
    #[serde(default)]
    pub voided: bool,
}

/// Whole points of `amount` at `points_per_unit`, rounded down.
fn points_of(config: &Config, amount: Decimal) -> u64 {
    let points = (amount * config.points_per_unit).floor();
    u64::try_from(points.mantissa().max(0) / 10i128.pow(points.scale())).unwrap_or(0)
}

impl ReceiptRecord {
    /// The record of receipt `receipt`, if it earned anything.
    pub fn of(host: &Host, receipt: &str) -> Result<Option<ReceiptRecord>, PluginError> {
        host.kv_get(&receipt_key(receipt))
    }

    /// The turnover not taken back yet, and its points: what a void corrects.
    pub fn left(&self, config: &Config) -> (Decimal, u64) {
        if self.voided {
            return (Decimal::ZERO, 0);
        }
        let earned: Decimal = self.eligible.values().map(|e| e.amount).sum();
        let back = self.taken_back();
        let left = earned - back;
        (
            left,
            points_of(config, earned).saturating_sub(points_of(config, back)),
        )
    }

    fn taken_back(&self) -> Decimal {
        self.returned
            .iter()
            .filter_map(|(line, qty)| {
                let e = self.eligible.get(line)?;
                (!e.qty.is_zero()).then(|| share(e, *qty))
            })
            .sum()
    }

    /// Takes back the eligible share of `lines`; the turnover and points that leaves the
    /// card. Cumulative: the points are the difference of what the receipt earned before
    /// and after, so returning a receipt in parts never takes back more than it earned.
    pub fn take_back(&mut self, config: &Config, lines: &[ReturnedLine]) -> (Decimal, u64) {
        if self.voided {
            return (Decimal::ZERO, 0);
        }
        let earned: Decimal = self.eligible.values().map(|e| e.amount).sum();
        let before = self.taken_back();
        for line in lines {
            let Some(e) = self.eligible.get(&line.line) else {
                continue;
            };
            let returned = self.returned.entry(line.line.clone()).or_default();
            *returned = (*returned + line.qty).min(e.qty);
        }
        let after = self.taken_back();
        let points =
            points_of(config, earned - before).saturating_sub(points_of(config, earned - after));
        (after - before, points)
    }
}

/// The share of an eligible line's amount that `qty` of its units are, in cents.
fn share(e: &Eligible, qty: Decimal) -> Decimal {
    if qty >= e.qty {
        e.amount
    } else {
        (e.amount * qty / e.qty).round_dp(2)
    }
}

/// Notes a try whose hold may exist at the partner though the call gave up.
pub fn remember_orphan(host: &Host, try_id: &str) -> Result<(), PluginError> {
    host.kv_put(
        &orphan_key(try_id),
        &serde_json::json!({ "request": try_id }),
    )
}

/// Every orphaned try.
pub fn orphans(host: &Host) -> Result<Vec<String>, PluginError> {
    Ok(host
        .kv_list("orphan/")?
        .into_iter()
        .filter_map(|e| e.key.strip_prefix("orphan/").map(str::to_string))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_in_parts_never_take_back_more_than_was_earned() {
        let config = crate::turnover::tests::config();
        let mut record = ReceiptRecord {
            card: "3083420000000010".into(),
            coupons: Vec::new(),
            eligible: BTreeMap::from([(
                "L1".to_string(),
                Eligible {
                    amount: Decimal::new(999, 2),
                    qty: Decimal::from(3),
                },
            )]),
            returned: BTreeMap::new(),
            voided: false,
        };
        let back = |line: &str, qty: i64| ReturnedLine {
            line: line.into(),
            qty: Decimal::from(qty),
        };
        assert_eq!(
            record.take_back(&config, &[back("L1", 1)]),
            (Decimal::new(333, 2), 3)
        );
        assert_eq!(
            record.take_back(&config, &[back("L2", 1)]),
            (Decimal::ZERO, 0),
            "not eligible"
        );
        assert_eq!(
            record.take_back(&config, &[back("L1", 5)]),
            (Decimal::new(666, 2), 6)
        );
        assert_eq!(
            record.take_back(&config, &[back("L1", 1)]),
            (Decimal::ZERO, 0),
            "all back"
        );
        assert_eq!(record.left(&config), (Decimal::ZERO, 0));
    }
}
