//! What earns partner points: the articles with the configured tag, at what the customer
//! pays for them — each reduction spread over the goods it reduces (`applies_to`, or every
//! good of the sale) in proportion to their amounts.

use std::collections::BTreeMap;

use posd_plugin_sdk::schema::{LineKind, Sale};
use posd_plugin_sdk::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// One eligible line: what it earns on, and how many units that is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligible {
    /// The line's amount less its share of the reductions, rounded to cents.
    pub amount: Decimal,
    /// The line's quantity, so a partial return takes back its share.
    pub qty: Decimal,
}

fn is_good(kind: &LineKind) -> bool {
    *kind == LineKind::Item
}

fn is_reduction(kind: &LineKind) -> bool {
    matches!(
        kind,
        LineKind::Discount | LineKind::FreeProduct | LineKind::PointsRedemption
    )
}

/// The eligible lines of `sale` by line id.
pub fn eligible(config: &Config, sale: &Sale) -> BTreeMap<String, Eligible> {
    let goods: BTreeMap<&str, Decimal> = sale
        .lines
        .iter()
        .filter(|l| is_good(&l.kind))
        .map(|l| (l.id.as_str(), l.amount))
        .collect();
    let mut reduced: BTreeMap<&str, Decimal> = goods.clone();
    for reduction in sale.lines.iter().filter(|l| is_reduction(&l.kind)) {
        let targets: Vec<&str> = if reduction.applies_to.is_empty() {
            goods.keys().copied().collect()
        } else {
            reduction
                .applies_to
                .iter()
                .map(String::as_str)
                .filter(|id| goods.contains_key(id))
                .collect()
        };
        let base: Decimal = targets.iter().map(|id| goods[id]).sum();
        if base <= Decimal::ZERO {
            continue;
        }
        for id in targets {
            if let Some(amount) = reduced.get_mut(id) {
                // A reduction is negative: the good's share of it lowers the good.
                *amount += reduction.amount * goods[id] / base;
            }
        }
    }
    sale.lines
        .iter()
        .filter(|l| is_good(&l.kind) && l.tags.contains(&config.eligible_tag))
        .filter_map(|l| {
            let amount = (*reduced.get(l.id.as_str())?)
                .max(Decimal::ZERO)
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            Some((l.id.clone(), Eligible { amount, qty: l.qty }))
        })
        .collect()
}

/// The points `eligible` earns: its turnover times `points_per_unit`, rounded down.
pub fn points(config: &Config, eligible: &BTreeMap<String, Eligible>) -> Decimal {
    let total: Decimal = eligible.values().map(|e| e.amount).sum();
    (total * config.points_per_unit).floor()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use posd_plugin_sdk::schema::Line;
    use serde_json::json;

    pub(crate) fn config() -> Config {
        let dir = std::env::temp_dir().join(format!("posd-partner-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let key = dir.join("key");
        std::fs::write(&key, "0123456789abcdef0123").expect("key");
        Config::parse(json!({
            "endpoint": "http://127.0.0.1:1",
            "api_key_file": key,
            "card": { "prefixes": ["308342"], "length": 16 },
            "eligible_tag": "payback",
        }))
        .expect("config")
    }

    fn line(id: &str, kind: LineKind, amount: &str, tags: &[&str], applies_to: &[&str]) -> Line {
        Line {
            id: id.into(),
            kind,
            qty: Decimal::ONE,
            amount: amount.parse().expect("amount"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            applies_to: applies_to.iter().map(|t| t.to_string()).collect(),
            ..Line::default()
        }
    }

    #[test]
    fn only_tagged_goods_earn_at_what_is_paid_for_them() {
        let sale = Sale {
            lines: vec![
                line("L1", LineKind::Item, "10.00", &["payback"], &[]),
                line("L2", LineKind::Item, "30.00", &[], &[]),
                // 4.00 off the whole basket: a quarter of it falls on L1.
                line("A1", LineKind::Discount, "-4.00", &[], &[]),
                // 2.00 off L1 alone.
                line("A2", LineKind::Discount, "-2.00", &[], &["L1"]),
            ],
            ..Sale::default()
        };
        let eligible = eligible(&config(), &sale);
        assert_eq!(eligible.len(), 1);
        assert_eq!(eligible["L1"].amount, "7.00".parse::<Decimal>().expect("d"));
        assert_eq!(points(&config(), &eligible), Decimal::from(7));
    }

    #[test]
    fn a_configuration_mistake_names_its_key() {
        let err = Config::parse(json!({
            "endpoint": "ftp://x", "api_key_file": "/nonexistent", "card": { "length": 16 },
        }))
        .expect_err("bad endpoint");
        assert!(err.message.contains("endpoint"), "{err}");
        let err = Config::parse(json!({
            "endpoint": "https://x", "api_key_file": "/nonexistent/key", "card": { "length": 16 },
        }))
        .expect_err("no key file");
        assert!(
            err.message.contains("api_key_file") && err.message.contains("/nonexistent/key"),
            "{err}"
        );
        assert!(
            Config::parse(json!({ "endpoint": "https://x", "api_key_file": "k", "card": { "length": 16 }, "colour": 1 }))
                .expect_err("unknown key")
                .message
                .contains("colour")
        );
    }
}
