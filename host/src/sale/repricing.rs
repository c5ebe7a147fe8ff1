//! Returns that re-price what the customer keeps: what of a receipt's reductions still
//! stays with the goods kept after a return (told to each plugin in `return_lines`
//! `reductions`, ABI 1.3), and the lines of the return receipt that keep back what a plugin
//! says the customer no longer qualifies for (`repriced`). A customer who bought three iced
//! teas with one free and brings one back keeps two teas, which earn nothing: the tea's
//! refund is kept back, and the return receipt says why.
//!
//! The host knows nothing of promotions: it only spreads each reduction over the goods it
//! reduced (as the checkout did, [`crate::money::spread`]), counts the share of the units
//! kept, and books what the plugin keeps back at those goods' VAT rates.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::booking::Reversed;
use super::model::{Line, LineKind, Receipt};
use crate::money;

/// Each reduction of `r` spread over the item lines it reduced, as the checkout spread it:
/// reduction id → (item id, share), the shares negative like the reduction.
pub fn reduction_shares(r: &Receipt, minor: u32) -> BTreeMap<String, Vec<(String, Decimal)>> {
    let mut out = BTreeMap::new();
    for reduction in r.lines.iter().filter(|l| l.kind.is_reduction()) {
        let targets: Vec<&Line> = r
            .lines
            .iter()
            .filter(|l| {
                l.kind == LineKind::Item
                    && (reduction.applies_to.is_empty() || reduction.applies_to.contains(&l.id))
            })
            .collect();
        let weights: Vec<Decimal> = targets.iter().map(|l| l.amount).collect();
        let shares = money::spread(reduction.amount, &weights, minor);
        out.insert(
            reduction.id.clone(),
            targets
                .iter()
                .zip(shares)
                .map(|(l, share)| (l.id.clone(), share))
                .collect(),
        );
    }
    out
}

/// Each item line's amount after the receipt's reductions were spread over it.
pub fn effective_amounts(r: &Receipt, minor: u32) -> BTreeMap<String, Decimal> {
    let mut amounts: BTreeMap<String, Decimal> = r
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Item)
        .map(|l| (l.id.clone(), l.amount))
        .collect();
    for shares in reduction_shares(r, minor).into_values() {
        for (id, share) in shares {
            if let Some(a) = amounts.get_mut(&id) {
                *a += share;
            }
        }
    }
    amounts
}

/// What of one reduction the customer still holds on the goods they keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// The reduction's line on the original receipt.
    pub line: Line,
    /// What of it stays with the kept goods (the host's spread of it, for the units kept);
    /// positive, rounded to the currency.
    pub kept: Decimal,
    /// What earlier returns kept back of it, in all (their kept-back lines carry its id).
    pub kept_back: Decimal,
    /// What of it stays with the kept goods by their VAT rate: the weights at which more
    /// of it is kept back.
    pub kept_by_rate: Vec<(Decimal, Decimal)>,
    /// All of it by the VAT rate of the goods it reduced: the weights at which what earlier
    /// returns kept back is given back.
    pub by_rate: Vec<(Decimal, Decimal)>,
}

impl Held {
    /// This return's part when the customer, with what they keep, no longer qualifies for
    /// `repriced` of the reduction in all: more kept back, or (goods an earlier return
    /// repriced now come back too) some of it given back.
    pub fn change_to(&self, repriced: Decimal) -> Decimal {
        repriced - self.kept_back
    }
}

/// What of each reduction of `original` stays with the goods kept once the lines `now`
/// (item id, quantity) come back on top of what earlier returns (`before`) took back.
pub fn held(
    original: &Receipt,
    before: &Reversed,
    now: &[(String, Decimal)],
    minor: u32,
) -> Vec<Held> {
    let qty_back = |id: &str| -> Decimal {
        before.lines.get(id).map_or(Decimal::ZERO, |b| b.0)
            + now
                .iter()
                .filter(|(l, _)| l == id)
                .map(|(_, q)| *q)
                .sum::<Decimal>()
    };
    let mut out = Vec::new();
    for (id, shares) in reduction_shares(original, minor) {
        let Some(line) = original.lines.iter().find(|l| l.id == id) else {
            continue;
        };
        let mut kept_by_rate: BTreeMap<Decimal, Decimal> = BTreeMap::new();
        let mut by_rate: BTreeMap<Decimal, Decimal> = BTreeMap::new();
        for (item, share) in &shares {
            let Some(good) = original.lines.iter().find(|l| &l.id == item) else {
                continue;
            };
            if good.qty.is_zero() {
                continue;
            }
            let rate = good.tax_rate.normalize();
            let kept_units = (good.qty - qty_back(item)).max(Decimal::ZERO);
            *kept_by_rate.entry(rate).or_default() += -*share * kept_units / good.qty;
            *by_rate.entry(rate).or_default() += -*share;
        }
        out.push(Held {
            line: line.clone(),
            kept: money::round(kept_by_rate.values().copied().sum(), minor),
            kept_back: -before.lines.get(&id).map_or(Decimal::ZERO, |b| b.1),
            kept_by_rate: kept_by_rate.into_iter().collect(),
            by_rate: by_rate.into_iter().collect(),
        });
    }
    out
}

/// The lines of a return receipt that keep back `amount` more of `held`'s reduction (a
/// negative `amount` gives back what earlier returns kept back): one per VAT rate, pro
/// rata — of the goods kept for more, of all the goods it reduced for less — each with the
/// reduction's id, name and kind, quantity 0, and the amount (positive: it lessens the
/// refund). Kept-back lines therefore count against the reduction in [`Reversed`], so a
/// reduction is never kept back beyond what it gave.
pub fn kept_back_lines(held: &Held, amount: Decimal, minor: u32) -> Vec<Line> {
    let weights_of = if amount > Decimal::ZERO {
        &held.kept_by_rate
    } else {
        &held.by_rate
    };
    let mut rates: Vec<(Decimal, Decimal)> = weights_of
        .iter()
        .copied()
        .filter(|(_, w)| *w > Decimal::ZERO)
        .collect();
    if rates.is_empty() {
        // Nothing of it at any rate (a reduction of goods that cost nothing): the first.
        rates = held.by_rate.iter().take(1).copied().collect();
    }
    let weights: Vec<Decimal> = rates.iter().map(|(_, w)| *w).collect();
    rates
        .iter()
        .zip(money::spread(amount, &weights, minor))
        .filter(|(_, part)| !part.is_zero())
        .map(|((rate, _), part)| {
            let mut line = held.line.clone();
            line.qty = Decimal::ZERO;
            line.unit_price = part;
            line.amount = part;
            line.tax_rate = *rate;
            line.applies_to = Vec::new();
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sale::model::ReceiptKind;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    fn line(id: &str, kind: LineKind, qty: &str, amount: &str, rate: &str) -> Line {
        let mut l = Line::rounding(id, d(amount));
        l.kind = kind;
        l.name = id.to_string();
        l.qty = d(qty);
        l.tax_rate = d(rate);
        l
    }

    /// Six teas at 1.29 (10 %) with two free, and a cheese at 8.00 (20 %) with a
    /// threshold of 1.00 over both.
    fn receipt() -> Receipt {
        let mut tea_free = line("L3", LineKind::Discount, "1", "-2.58", "0");
        tea_free.applies_to = vec!["L1".into()];
        tea_free.plugin = "promotions".into();
        let mut basket = line("L4", LineKind::Discount, "1", "-1.00", "0");
        basket.applies_to = vec!["L1".into(), "L2".into()];
        Receipt::for_test(
            "S-1-000001",
            ReceiptKind::Sale,
            vec![
                line("L1", LineKind::Item, "6", "7.74", "10"),
                line("L2", LineKind::Item, "1", "8.00", "20"),
                tea_free,
                basket,
            ],
        )
    }

    #[test]
    fn what_stays_with_the_kept_goods_follows_the_units_kept() {
        let r = receipt();
        let effective = effective_amounts(&r, 2);
        // 1.00 spread over 7.74 and 8.00: 0.49 and 0.51.
        assert_eq!(effective["L1"], d("4.67"), "7.74 - 2.58 - 0.49");
        assert_eq!(effective["L2"], d("7.49"));
        let held = held(&r, &Reversed::default(), &[("L1".into(), d("3"))], 2);
        let tea = held.iter().find(|h| h.line.id == "L3").expect("L3");
        assert_eq!(tea.kept, d("1.29"), "half the teas kept: half the 2.58");
        let basket = held.iter().find(|h| h.line.id == "L4").expect("L4");
        assert_eq!(
            basket.kept,
            d("0.76"),
            "0.245 on the teas kept + 0.51 on the cheese"
        );
        assert_eq!(basket.by_rate.len(), 2);
    }

    #[test]
    fn kept_back_lines_book_at_the_kept_goods_rates_and_count_against_the_reduction() {
        let r = receipt();
        let held_now = held(&r, &Reversed::default(), &[("L1".into(), d("3"))], 2);
        let basket = held_now.iter().find(|h| h.line.id == "L4").expect("L4");
        let lines = kept_back_lines(basket, d("0.76"), 2);
        let parts: Vec<(String, String)> = lines
            .iter()
            .map(|l| (l.tax_rate.to_string(), l.amount.to_string()))
            .collect();
        assert_eq!(
            parts,
            [("10".into(), "0.25".into()), ("20".into(), "0.51".into())]
        );
        assert!(lines.iter().all(|l| l.id == "L4" && l.qty.is_zero()));
        // A later return sees it as kept back already.
        // The earlier return took three teas back, and kept 0.76 back; three more come now.
        let mut lines = lines;
        lines.insert(0, line("L1", LineKind::Item, "-3", "-2.34", "10"));
        let earlier = Receipt::for_test("S-1-000001", ReceiptKind::Sale, lines);
        let before = Reversed::of([&earlier]);
        let again = held(&r, &before, &[("L1".into(), d("3"))], 2);
        let basket = again.iter().find(|h| h.line.id == "L4").expect("L4");
        assert_eq!(
            basket.kept_back,
            d("0.76"),
            "kept back by the earlier return"
        );
        assert_eq!(basket.kept, d("0.51"), "only the cheese is kept now");
        assert_eq!(basket.change_to(d("0.51")), d("-0.25"), "0.25 given back");
        let given: Vec<String> = kept_back_lines(basket, d("-0.25"), 2)
            .iter()
            .map(|l| format!("{}:{}", l.tax_rate, l.amount))
            .collect();
        assert_eq!(
            given,
            ["10:-0.12", "20:-0.13"],
            "at the rates of all its goods"
        );
    }
}
