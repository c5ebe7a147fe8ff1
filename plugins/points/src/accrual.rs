//! What a sale earns: the goods after reductions (the base), and each programme's rules
//! applied to it line by line.
//!
//! The base of a line is its amount less its share of the sale's price reductions
//! (`discount`, `free_product`, `points_redemption`), each spread over the goods it applies
//! to (`applies_to`; every good when it names none) pro rata to their amounts: what a
//! discount takes off does not earn, and a discount on coffee takes off coffee's points. Tenders play no part, so what a gift
//! voucher or eWallet pays earns like cash. Lines sold outside VAT (a gift voucher or top-up
//! sold) earn nothing: their points come when the voucher is spent on goods.
//!
//! Every rule whose conditions hold adds its points; the exact sum per line is kept (for
//! returns) and the sale's total is floored to the programme's decimals once.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};

use posd_plugin_sdk::Decimal;
use posd_plugin_sdk::schema::{Line, LineKind};

use crate::config::{Measure, Programme, Rule};

/// The kind of a taxable voucher line (the SDK has no variant for it).
const SINGLE_PURPOSE: &str = "single_purpose_voucher";

/// A good of the sale and what of it earns.
#[derive(Debug, Clone, PartialEq)]
pub struct Good<'a> {
    /// The line's id.
    pub id: &'a str,
    /// Its quantity.
    pub qty: Decimal,
    /// Its unit price, for price bands.
    pub unit_price: Decimal,
    /// Its amount before reductions.
    pub amount: Decimal,
    /// Its tags (product groups).
    pub tags: &'a [String],
    /// Its amount less its share of the reductions, never below 0.
    pub base: Decimal,
}

/// Whether a line is a good (taxable goods, which reductions reduce and which earn).
pub fn is_good(line: &Line) -> bool {
    line.kind == LineKind::Item || line.kind.as_str() == SINGLE_PURPOSE
}

/// Whether a line is a price reduction.
pub fn is_reduction(line: &Line) -> bool {
    matches!(
        line.kind,
        LineKind::Discount | LineKind::FreeProduct | LineKind::PointsRedemption
    )
}

/// The goods of `lines` with their bases, after the reductions among `lines` and
/// `extra_reduction` (a negative amount not yet on the sale, e.g. this plugin's own
/// redemption being worked out).
pub fn goods<L: Borrow<Line>>(lines: &[L], extra_reduction: Decimal) -> Vec<Good<'_>> {
    let lines = || lines.iter().map(Borrow::borrow);
    let mut goods: Vec<Good> = lines()
        .filter(|l| is_good(l) && l.amount > Decimal::ZERO)
        .map(|l| Good {
            id: &l.id,
            qty: l.qty,
            unit_price: l.unit_price,
            amount: l.amount,
            tags: &l.tags,
            base: l.amount,
        })
        .collect();
    // Reductions for every good (none named, or all of them named, as a discount code on
    // the basket does) are summed and spread once; the others over the goods they name.
    // Each share is `amount × good / gross`, divided last, so shares are exact to 28 digits.
    let index: HashMap<&str, usize> = goods.iter().enumerate().map(|(k, g)| (g.id, k)).collect();
    let mut everywhere = extra_reduction.min(Decimal::ZERO);
    let mut partial: Vec<(Decimal, Vec<usize>)> = Vec::new();
    for line in lines().filter(|l| is_reduction(l)) {
        let amount = line.amount.min(Decimal::ZERO);
        if amount.is_zero() {
            continue;
        }
        let mut targets: Vec<usize> = line
            .applies_to
            .iter()
            .filter_map(|id| index.get(id.as_str()).copied())
            .collect();
        targets.sort_unstable();
        targets.dedup();
        if line.applies_to.is_empty() || targets.len() == goods.len() {
            everywhere += amount;
        } else if !targets.is_empty() {
            partial.push((amount, targets));
        }
    }
    let mut taken = vec![Decimal::ZERO; goods.len()];
    let gross: Decimal = goods.iter().map(|g| g.amount).sum();
    if gross > Decimal::ZERO && !everywhere.is_zero() {
        for (good, taken) in goods.iter().zip(&mut taken) {
            *taken += everywhere * good.amount / gross;
        }
    }
    for (amount, targets) in partial {
        let gross: Decimal = targets.iter().map(|&k| goods[k].amount).sum();
        for &k in &targets {
            taken[k] += amount * goods[k].amount / gross;
        }
    }
    for (good, taken) in goods.iter_mut().zip(taken) {
        good.base = (good.amount + taken).max(Decimal::ZERO);
    }
    goods
}

/// The base of all goods together.
pub fn total_base(goods: &[Good]) -> Decimal {
    goods.iter().map(|g| g.base).sum()
}

/// What a programme's rules give a sale.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Earning<'a> {
    /// Exact (unrounded) points per line id (borrowed from the goods: a basket change
    /// needs only the sum, and a checkout keeps them in its record).
    pub per_line: BTreeMap<&'a str, Decimal>,
    /// Their sum.
    pub exact: Decimal,
    /// The sum floored to the programme's decimals: what is posted.
    pub points: Decimal,
}

/// The customer as the rules see them.
pub struct Customer<'a> {
    /// The sale's customer groups.
    pub groups: &'a [String],
    /// The customer's turnover over the last N months (asked only for rules that need it).
    pub turnover: &'a mut dyn FnMut(u32) -> Result<Decimal, posd_plugin_sdk::PluginError>,
}

fn rule_applies_to_customer(
    rule: &Rule,
    customer: &mut Customer<'_>,
) -> Result<bool, posd_plugin_sdk::PluginError> {
    if !rule.customer_groups.is_empty()
        && !rule
            .customer_groups
            .iter()
            .any(|g| customer.groups.contains(g))
    {
        return Ok(false);
    }
    if let Some(condition) = rule.turnover {
        return Ok((customer.turnover)(condition.months)? >= condition.min);
    }
    Ok(true)
}

fn rule_applies_to_good(rule: &Rule, good: &Good) -> bool {
    (rule.tags.is_empty() || rule.tags.iter().any(|t| good.tags.contains(t)))
        && rule.min_price.is_none_or(|min| good.unit_price >= min)
        && rule.max_price.is_none_or(|max| good.unit_price < max)
}

/// What `goods` earn in `programme` for `customer`.
pub fn earn<'a>(
    programme: &Programme,
    goods: &[Good<'a>],
    customer: &mut Customer<'_>,
) -> Result<Earning<'a>, posd_plugin_sdk::PluginError> {
    let mut earning = Earning::default();
    for rule in &programme.rules {
        if !rule_applies_to_customer(rule, customer)? {
            continue;
        }
        for good in goods.iter().filter(|g| rule_applies_to_good(rule, g)) {
            let points = match rule.measure {
                Measure::PerAmount(per) => good.base / per * rule.points,
                Measure::PerItem => good.qty.floor().max(Decimal::ZERO) * rule.points,
            };
            if points > Decimal::ZERO {
                *earning.per_line.entry(good.id).or_default() += points;
            }
        }
    }
    earning.exact = earning.per_line.values().copied().sum();
    earning.points = programme.floor(earning.exact);
    Ok(earning)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::json;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn line(id: &str, kind: LineKind, qty: &str, price: &str, tags: &[&str]) -> Line {
        Line {
            id: id.into(),
            kind,
            qty: d(qty),
            unit_price: d(price),
            amount: d(qty) * d(price),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Line::default()
        }
    }

    fn programme(rules: serde_json::Value) -> Programme {
        Config::parse(json!({"programmes": [{"id": "b", "name": "Body", "rules": rules}]}))
            .unwrap()
            .programmes
            .remove(0)
    }

    fn earned<'a>(
        p: &Programme,
        lines: &'a [Line],
        groups: &[String],
        turnover: &str,
    ) -> Earning<'a> {
        let turnover = d(turnover);
        let mut ask = |_months: u32| Ok(turnover);
        earn(
            p,
            &goods(lines, Decimal::ZERO),
            &mut Customer {
                groups,
                turnover: &mut ask,
            },
        )
        .unwrap()
    }

    #[test]
    fn a_discount_takes_its_share_off_every_goods_base_and_voucher_sales_earn_nothing() {
        let lines = [
            line("L1", LineKind::Item, "1", "60.00", &[]),
            line("L2", LineKind::Item, "2", "20.00", &[]),
            line("L3", LineKind::VoucherSale, "1", "50.00", &[]),
            Line {
                amount: d("-10.00"),
                ..line("A1", LineKind::Discount, "1", "-10.00", &[])
            },
        ];
        let goods = goods(&lines, Decimal::ZERO);
        assert_eq!(goods.len(), 2, "the voucher sold is no good");
        assert_eq!(goods[0].base, d("54.00"));
        assert_eq!(goods[1].base, d("36.00"));
        assert_eq!(total_base(&goods), d("90.00"));
    }

    #[test]
    fn a_discount_for_some_goods_comes_off_their_points_only() {
        let p = programme(json!([{"points": "1", "per_amount": "1", "tags": ["group:coffee"]}]));
        let coffee = line("L1", LineKind::Item, "1", "10.00", &["group:coffee"]);
        let milk = line("L2", LineKind::Item, "1", "10.00", &[]);
        let on_milk = Line {
            amount: d("-4.00"),
            applies_to: vec!["L2".into()],
            ..line("A1", LineKind::Discount, "1", "-4.00", &[])
        };
        let lines = [coffee.clone(), milk.clone(), on_milk];
        assert_eq!(
            earned(&p, &lines, &[], "0").points,
            d("10"),
            "milk's discount"
        );
        let on_all = Line {
            amount: d("-4.00"),
            ..line("A1", LineKind::Discount, "1", "-4.00", &[])
        };
        assert_eq!(
            earned(&p, &[coffee, milk, on_all], &[], "0").points,
            d("8"),
            "a discount on everything takes half off coffee"
        );
    }

    #[test]
    fn points_per_currency_unit_are_floored_once_per_sale_not_per_line() {
        let p = programme(json!([{"points": "1", "per_amount": "10"}]));
        // 15 + 15 = 30 → 3 points; per line floored it would be 1 + 1.
        let lines = [
            line("L1", LineKind::Item, "1", "15.00", &[]),
            line("L2", LineKind::Item, "1", "15.00", &[]),
        ];
        let e = earned(&p, &lines, &[], "0");
        assert_eq!(e.points, d("3"));
        assert_eq!(e.per_line["L1"], d("1.5"));
        let lines = [line("L1", LineKind::Item, "1", "19.99", &[])];
        assert_eq!(earned(&p, &lines, &[], "0").points, d("1"), "floored");
    }

    #[test]
    fn group_band_item_customer_group_and_turnover_rules_combine() {
        let p = programme(json!([
            {"points": "1", "per_amount": "10"},
            {"points": "5", "per_item": true, "tags": ["group:coffee"]},
            {"points": "2", "per_amount": "10", "min_price": "100.00"},
            {"points": "1", "per_amount": "10", "customer_groups": ["vip"]},
            {"points": "1", "per_amount": "10", "turnover_months": 12, "min_turnover": "1000.00"}
        ]));
        let lines = [
            line("L1", LineKind::Item, "2", "5.00", &["group:coffee"]),
            line("L2", LineKind::Item, "1", "100.00", &[]),
            line("L3", LineKind::Item, "1", "99.99", &[]),
        ];
        // base: 1 + 10 + 9.999 = 20.999 → 20; coffee 2 × 5 = 10; band 100.00 only: 20.
        assert_eq!(earned(&p, &lines, &[], "999.99").points, d("50"));
        // vip: another 20.999; turnover 1000: another 20.999.
        let vip = ["vip".to_string()];
        assert_eq!(earned(&p, &lines, &vip, "999.99").points, d("71"));
        assert_eq!(earned(&p, &lines, &vip, "1000.00").points, d("92"));
    }

    #[test]
    fn weighed_goods_count_whole_units_per_item() {
        let p = programme(json!([{"points": "3", "per_item": true}]));
        let lines = [line("L1", LineKind::Item, "1.750", "4.00", &[])];
        assert_eq!(earned(&p, &lines, &[], "0").points, d("3"));
    }
}
