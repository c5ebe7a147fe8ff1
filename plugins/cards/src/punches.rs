//! The bonus article ("Bonusartikel", the battery programme): every Nth unit of a group is
//! free. The counter is the customer's punch card, the ledger account
//! `punches:<customer>:<programme>` (unit `punches`, floor 0): each paid unit of the group
//! adds a punch; when the counter stands at N − 1, the next unit is free and uses those
//! N − 1 punches. `evaluate_basket` shows the free unit as a `free_product` line; the
//! checkout posts the punches and notes per receipt what it added and used
//! (kv `receipt:<id>`), so a void takes back exactly the punches it added and gives back the
//! punches its free unit used.

use posd_plugin_sdk::schema::{
    AutoLine, CheckoutEffects, ExcludedLine, KvWrite, Line, LineKind, Preview, PreviewKind,
    Receipt, ReceiptSection, RefKind, ReturnLinesRequest, Sale,
};
use posd_plugin_sdk::{Decimal, Host, PluginError, WholeUnits};
use serde::{Deserialize, Serialize};

use crate::ID;
use crate::config::{Config, Programme, Terms};
use crate::error::CardError;
use crate::holdings::Holding;
use crate::lines::{LineData, own_lines, to_data};
use crate::store::{self, PUNCHES};

/// What one receipt did to one punch card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PunchMove {
    /// The bonus programme.
    pub programme: String,
    /// The customer whose counter moved.
    pub customer: String,
    /// Punches added by paid units.
    pub added: u32,
    /// Punches used by free units.
    pub used: u32,
}

/// What a receipt did to punch cards, written with its checkout (kv `receipt:<id>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// One per bonus programme that moved.
    pub punches: Vec<PunchMove>,
    /// Per programme, the units of its goods that returns of the receipt brought back.
    #[serde(default)]
    pub returned: std::collections::BTreeMap<String, u32>,
    /// Per programme, the punches returns took off (what a void no longer takes).
    #[serde(default)]
    pub taken_back: std::collections::BTreeMap<String, u32>,
    /// Per programme, the free units' punches a full return gave back.
    #[serde(default)]
    pub given_back: std::collections::BTreeMap<String, u32>,
}

/// The kv key of a receipt's note.
pub fn note_key(receipt: &str) -> String {
    format!("receipt:{receipt}")
}

/// The outcome of counting a sale's units against a punch card.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Walk {
    /// Punches added by paid units.
    pub added: u32,
    /// Punches used by free units.
    pub used: u32,
    /// The free units: (line id, unit price).
    pub free: Vec<(String, Decimal)>,
    /// The counter after the sale.
    pub after: u32,
}

/// Counts `units` (line id, unit price, in sale order) against a counter standing at
/// `counter`, every `every`th unit free.
pub fn walk(every: u32, counter: u32, units: &[(String, Decimal)]) -> Walk {
    let mut w = Walk {
        after: counter.min(every - 1),
        ..Walk::default()
    };
    for (line, price) in units {
        if w.after == every - 1 {
            w.free.push((line.clone(), *price));
            w.used += every - 1;
            w.after = 0;
        } else {
            w.added += 1;
            w.after += 1;
        }
    }
    w
}

/// Whether a line is goods of the group `tags`: an item of another plugin or the host,
/// with one of the tags.
pub fn is_goods_of(line: &Line, tags: &[String]) -> bool {
    line.kind == LineKind::Item && line.plugin != ID && line.tags.iter().any(|t| tags.contains(t))
}

/// The units a bonus programme counts on `sale`, in sale order: whole units of its goods
/// with a price. A weighed quantity (a fraction) is not counted at all: it is no "item".
pub fn units(sale: &Sale, tags: &[String]) -> Vec<(String, Decimal)> {
    let mut units = Vec::new();
    for line in sale.lines.iter().filter(|l| is_goods_of(l, tags)) {
        if line.unit_price <= Decimal::ZERO {
            continue;
        }
        let Ok(n) = line.whole_units() else {
            continue;
        };
        for _ in 0..n.min(10_000) {
            units.push((line.id.clone(), line.unit_price));
        }
    }
    units
}

/// The bonus programmes among `held`, each once (two cards with the same programme share
/// the customer's one counter).
pub fn programmes<'c>(held: &[Holding<'c>]) -> Vec<&'c Programme> {
    let mut found: Vec<&Programme> = Vec::new();
    for h in held {
        if matches!(h.programme.terms, Terms::BonusArticle { .. })
            && !found.iter().any(|p| p.id == h.programme.id)
        {
            found.push(h.programme);
        }
    }
    found
}

/// The customer's counter of a programme now.
fn counter(host: &Host, customer: &str, programme: &str) -> Result<u32, PluginError> {
    let balance = host
        .ledger_balance(&store::punch_account(customer, programme))?
        .balance;
    u32::try_from(balance.trunc()).map_err(|_| {
        PluginError::plugin_failed(format!(
            "punch counter of {customer}/{programme} is {balance}"
        ))
    })
}

/// The walk of each bonus programme the customer holds over `sale`.
pub fn walks<'c>(
    host: &Host,
    held: &[Holding<'c>],
    customer: &str,
    sale: &Sale,
) -> Result<Vec<(&'c Programme, u32, Walk)>, PluginError> {
    let mut out = Vec::new();
    for programme in programmes(held) {
        let Terms::BonusArticle { every, tags } = &programme.terms else {
            continue;
        };
        let start = counter(host, customer, &programme.id)?;
        out.push((programme, *every, walk(*every, start, &units(sale, tags))));
    }
    Ok(out)
}

/// The automatic free-item lines and the nudges for the customer display.
pub fn evaluate(
    walks: &[(&Programme, u32, Walk)],
) -> Result<(Vec<AutoLine>, Vec<Preview>), PluginError> {
    let mut lines = Vec::new();
    let mut previews = Vec::new();
    for (programme, every, w) in walks {
        if !w.free.is_empty() {
            let amount: Decimal = w.free.iter().map(|(_, p)| *p).sum();
            let mut applies_to: Vec<String> = Vec::new();
            for (line, _) in &w.free {
                if !applies_to.contains(line) {
                    applies_to.push(line.clone());
                }
            }
            lines.push(AutoLine {
                kind: LineKind::FreeProduct,
                name: format!("{}: jedes {every}. gratis", programme.name),
                amount: -amount,
                applies_to,
                reference: format!("CARD-BONUS-{}", programme.id),
                ref_kind: RefKind::Rule,
                data: to_data(&LineData::Bonus {
                    programme: programme.id.clone(),
                    free: u32::try_from(w.free.len()).unwrap_or(u32::MAX),
                })?,
                ..AutoLine::default()
            });
        }
        let to_go = every - 1 - w.after;
        previews.push(Preview {
            kind: Some(PreviewKind::Nudge),
            label: if to_go == 0 {
                format!("{}: der nächste Artikel ist gratis", programme.name)
            } else {
                format!("{}: noch {to_go} bis zum Gratisartikel", programme.name)
            },
            ..Preview::default()
        });
    }
    Ok((lines, previews))
}

/// What the checkout of `sale` posts for punch cards. The free units are counted again
/// against the counters as they are now; if that differs from the free-item line on the
/// sale (the card moved at another till), the checkout is refused with `Conflict`.
pub fn checkout(
    host: &Host,
    held: &[Holding],
    sale: &Sale,
    receipt_id: &str,
    effects: &mut CheckoutEffects,
) -> Result<(), PluginError> {
    let customer = sale.customer.clone().unwrap_or_default();
    let walked = if customer.is_empty() {
        Vec::new()
    } else {
        walks(host, held, &customer, sale)?
    };
    let mut note = Note::default();
    for (programme, every, w) in &walked {
        let on_sale: u32 = own_lines(&sale.lines)
            .filter_map(|(_, d)| match d {
                LineData::Bonus { programme: p, free } if p == programme.id => Some(free),
                _ => None,
            })
            .sum();
        if on_sale != u32::try_from(w.free.len()).unwrap_or(u32::MAX) {
            return Err(CardError::Conflict(format!(
                "{}: the punch card of {customer} changed since the basket was counted ({on_sale} free on the sale, {} now); change the basket to count again",
                programme.name,
                w.free.len()
            ))
            .into());
        }
        if w.added == 0 && w.used == 0 {
            continue;
        }
        let account = store::punch_account(&customer, &programme.id);
        let pool = store::punch_pool(&programme.id);
        if w.added > 0 {
            let n = Decimal::from(w.added);
            effects.postings.push(store::floored(
                account.clone(),
                n,
                PUNCHES,
                "punch",
                &customer,
            ));
            effects
                .postings
                .push(store::posting(pool.clone(), -n, PUNCHES, "punch"));
        }
        if w.used > 0 {
            let n = Decimal::from(w.used);
            effects.postings.push(store::floored(
                account.clone(),
                -n,
                PUNCHES,
                "free",
                &customer,
            ));
            effects
                .postings
                .push(store::posting(pool.clone(), n, PUNCHES, "free"));
        }
        let mut lines = Vec::new();
        if !w.free.is_empty() {
            lines.push(format!("Gratisartikel: {}", w.free.len()));
        }
        lines.push(format!("Stempel: {} von {}", w.after, every - 1));
        lines.push(format!("Jeder {every}. Artikel gratis"));
        effects.sections.push(ReceiptSection {
            title: programme.name.clone(),
            lines,
            ..ReceiptSection::default()
        });
        note.punches.push(PunchMove {
            programme: programme.id.clone(),
            customer: customer.clone(),
            added: w.added,
            used: w.used,
        });
    }
    if !note.punches.is_empty() {
        effects.kv.push(KvWrite::new(note_key(receipt_id), &note)?);
    }
    Ok(())
}

/// What a void of `receipt` posts for punch cards, from its note: the punches it added
/// come off, the punches its free units used come back. Refused with `NotAllowed` when the
/// counter holds fewer punches than would come off: they were used for a free unit since,
/// and the void would otherwise give that free unit twice.
pub fn void(
    host: &Host,
    config: &Config,
    receipt: &Receipt,
    effects: &mut CheckoutEffects,
) -> Result<(), PluginError> {
    let key = note_key(&receipt.id);
    let Some(note) = host.kv_get::<Note>(&key)? else {
        return Ok(());
    };
    for m in &note.punches {
        let account = store::punch_account(&m.customer, &m.programme);
        let pool = store::punch_pool(&m.programme);
        let now = host.ledger_balance(&account)?.balance;
        // What returns of the receipt already took off or gave back is not undone twice.
        let taken = note.taken_back.get(&m.programme).copied().unwrap_or(0);
        let given = note.given_back.get(&m.programme).copied().unwrap_or(0);
        let m = &PunchMove {
            added: m.added.saturating_sub(taken),
            used: m.used.saturating_sub(given),
            ..m.clone()
        };
        let after = now + Decimal::from(m.used) - Decimal::from(m.added);
        if after < Decimal::ZERO {
            return Err(CardError::NotAllowed(format!(
                "receipt {} added {} punches for customer {}, but the card holds {now}: they were used for a free item since (Storno nicht möglich)",
                receipt.id, m.added, m.customer
            ))
            .into());
        }
        if m.used > 0 {
            let n = Decimal::from(m.used);
            effects.postings.push(store::floored(
                account.clone(),
                n,
                PUNCHES,
                "void",
                &m.customer,
            ));
            effects
                .postings
                .push(store::posting(pool.clone(), -n, PUNCHES, "void"));
        }
        if m.added > 0 {
            let n = Decimal::from(m.added);
            effects.postings.push(store::floored(
                account.clone(),
                -n,
                PUNCHES,
                "void",
                &m.customer,
            ));
            effects
                .postings
                .push(store::posting(pool.clone(), n, PUNCHES, "void"));
        }
        let name = config
            .programme(&m.programme)
            .map_or_else(|| m.programme.clone(), |p| p.name.clone());
        effects.sections.push(ReceiptSection {
            title: format!("{name} storniert"),
            lines: vec![
                format!("Stempel zurückgenommen: {}", m.added),
                format!("Stempel zurückgegeben: {}", m.used),
                format!("Stempel: {after}"),
            ],
            ..ReceiptSection::default()
        });
    }
    effects.kv.push(KvWrite::delete(key));
    Ok(())
}

/// What a return of `request`'s lines does to the punch cards its receipt moved: each
/// returned unit of a bonus programme's goods takes back the punch it added (at most what
/// the receipt added, less earlier returns); when the receipt's goods of the programme are
/// all back, the punches its free units used come back too. Lines whose punches were used
/// for a free unit since (the counter holds fewer than would come off) are excluded from
/// the return with a message, as a void of such a sale is refused: the free unit would
/// otherwise be given twice.
pub fn returns(
    host: &Host,
    config: &Config,
    request: &ReturnLinesRequest,
    effects: &mut CheckoutEffects,
    excluded: &mut Vec<ExcludedLine>,
) -> Result<(), PluginError> {
    let key = note_key(&request.receipt.id);
    let Some(mut note) = host.kv_get::<Note>(&key)? else {
        return Ok(());
    };
    let mut changed = false;
    for m in note.punches.clone() {
        let Some(Terms::BonusArticle { tags, .. }) =
            config.programme(&m.programme).map(|p| &p.terms)
        else {
            continue;
        };
        let goods: Vec<&Line> = request
            .receipt
            .lines
            .iter()
            .filter(|l| is_goods_of(l, tags) && l.unit_price > Decimal::ZERO)
            .collect();
        let mut back_lines = Vec::new();
        let mut back = 0u32;
        for r in &request.lines {
            if goods.iter().any(|g| g.id == r.line)
                && let Ok(n) = r.qty.whole_units()
            {
                back += u32::try_from(n).unwrap_or(u32::MAX);
                back_lines.push(r.line.clone());
            }
        }
        if back == 0 {
            continue;
        }
        let total: u32 = goods
            .iter()
            .filter_map(|g| g.whole_units().ok())
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            .sum();
        let returned_before = note.returned.get(&m.programme).copied().unwrap_or(0);
        let taken_before = note.taken_back.get(&m.programme).copied().unwrap_or(0);
        let take = back.min(m.added.saturating_sub(taken_before));
        let all_back = returned_before + back >= total;
        let give = if all_back {
            m.used
                .saturating_sub(note.given_back.get(&m.programme).copied().unwrap_or(0))
        } else {
            0
        };
        let account = store::punch_account(&m.customer, &m.programme);
        let now = host.ledger_balance(&account)?.balance;
        if now + Decimal::from(give) < Decimal::from(take) {
            for line in back_lines {
                excluded.push(ExcludedLine {
                    line,
                    message: "Die Stempel dieser Artikel wurden bereits für einen Gratisartikel eingelöst".into(),
                });
            }
            continue;
        }
        let pool = store::punch_pool(&m.programme);
        if give > 0 {
            let n = Decimal::from(give);
            effects.postings.push(store::floored(
                account.clone(),
                n,
                PUNCHES,
                "return",
                &m.customer,
            ));
            effects
                .postings
                .push(store::posting(pool.clone(), -n, PUNCHES, "return"));
        }
        if take > 0 {
            let n = Decimal::from(take);
            effects.postings.push(store::floored(
                account.clone(),
                -n,
                PUNCHES,
                "return",
                &m.customer,
            ));
            effects
                .postings
                .push(store::posting(pool, n, PUNCHES, "return"));
        }
        *note.returned.entry(m.programme.clone()).or_default() += back;
        *note.taken_back.entry(m.programme.clone()).or_default() += take;
        *note.given_back.entry(m.programme.clone()).or_default() += give;
        changed = true;
        let name = config
            .programme(&m.programme)
            .map_or(m.programme.as_str(), |p| p.name.as_str());
        let mut lines = vec![format!("Stempel zurückgenommen: {take}")];
        if give > 0 {
            lines.push(format!("Stempel zurückgegeben: {give}"));
        }
        lines.push(format!(
            "Stempel: {}",
            now + Decimal::from(give) - Decimal::from(take)
        ));
        effects.sections.push(ReceiptSection {
            title: name.to_string(),
            lines,
            ..ReceiptSection::default()
        });
    }
    if changed {
        effects.kv.push(KvWrite::new(key, &note)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(n: usize) -> Vec<(String, Decimal)> {
        (0..n)
            .map(|_| ("L1".to_string(), Decimal::new(590, 2)))
            .collect()
    }

    #[test]
    fn every_fifth_unit_is_free_and_uses_four_punches() {
        let w = walk(5, 0, &units(4));
        assert_eq!((w.added, w.used, w.free.len(), w.after), (4, 0, 0, 4));
        let w = walk(5, 4, &units(1));
        assert_eq!((w.added, w.used, w.free.len(), w.after), (0, 4, 1, 0));
        let w = walk(5, 3, &units(7));
        // 4th punch, free, then 5 more: 1 + 4 … 3 → free at unit 2, then punches 1..=4, free at 7.
        assert_eq!(w.free.len(), 2);
        assert_eq!(w.added + 3 - w.used, w.after);
    }
}
