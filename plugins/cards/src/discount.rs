//! The holder discount ("Rabattprogramm"): x % off tagged goods while the sale's customer
//! holds a card with the programme, as an automatic `discount` line per programme that
//! `applies_to` the goods it reduces (so VAT comes off those goods only).
//!
//! Rounding: per programme, the percentage of the goods' amounts summed, rounded to the
//! cent half away from zero. A good two programmes would reduce gets the higher percentage
//! only (no stacking; the first configured on a tie). A unit the bonus programme makes free
//! is not reduced again.

use std::collections::BTreeMap;

use posd_plugin_sdk::schema::{AutoLine, LineKind, RefKind, Sale};
use posd_plugin_sdk::{Decimal, PluginError, RoundingStrategy};

use crate::config::{Programme, Terms};
use crate::holdings::Holding;
use crate::lines::{LineData, to_data};
use crate::punches::is_goods_of;

/// The discount lines for `sale`; `free` is what free units take off each line already.
pub fn evaluate(
    held: &[Holding],
    sale: &Sale,
    free: &BTreeMap<String, Decimal>,
) -> Result<Vec<AutoLine>, PluginError> {
    let mut programmes: Vec<&Programme> = Vec::new();
    for h in held {
        if matches!(h.programme.terms, Terms::Discount { .. })
            && !programmes.iter().any(|p| p.id == h.programme.id)
        {
            programmes.push(h.programme);
        }
    }
    // Each good goes to the programme with the highest percentage that covers it.
    let mut chosen: BTreeMap<usize, Vec<(String, Decimal)>> = BTreeMap::new();
    for line in &sale.lines {
        let mut best: Option<(usize, Decimal)> = None;
        for (i, p) in programmes.iter().enumerate() {
            let Terms::Discount { percent, tags } = &p.terms else {
                continue;
            };
            if is_goods_of(line, tags) && best.is_none_or(|(_, b)| *percent > b) {
                best = Some((i, *percent));
            }
        }
        let Some((i, _)) = best else {
            continue;
        };
        let base = line.amount - free.get(&line.id).copied().unwrap_or_default();
        if base > Decimal::ZERO {
            chosen.entry(i).or_default().push((line.id.clone(), base));
        }
    }
    let mut lines = Vec::new();
    for (i, goods) in chosen {
        let programme = programmes[i];
        let Terms::Discount { percent, .. } = &programme.terms else {
            continue;
        };
        let base: Decimal = goods.iter().map(|(_, a)| *a).sum();
        let amount = (base * *percent / Decimal::ONE_HUNDRED)
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        if amount.is_zero() {
            continue;
        }
        lines.push(AutoLine {
            kind: LineKind::Discount,
            name: format!("{} {} %", programme.name, percent.normalize()),
            amount: -amount,
            applies_to: goods.into_iter().map(|(id, _)| id).collect(),
            reference: format!("CARD-DISCOUNT-{}", programme.id),
            ref_kind: RefKind::Rule,
            data: to_data(&LineData::Discount {
                programme: programme.id.clone(),
            })?,
            ..AutoLine::default()
        });
    }
    Ok(lines)
}
