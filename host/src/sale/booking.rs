//! How a receipt is booked: the host's own postings of every receipt, and the checks that
//! prove the journal and the ledger tell the same story.
//!
//! Every receipt (sale, void, return, day opening, cash movement, Z) is booked as one
//! balanced journal entry in the transaction that writes it; the plugins' postings join the
//! same entry. The host's postings follow from the receipt alone ([`postings`]), so
//! `posctl ledger verify` can recompute them from the journal and compare ([`verify`]).
//!
//! Signs: debit positive. What the till holds or is owed is positive (the drawer, card
//! clearing); what it owes or earned is negative (revenue, VAT payable, vouchers
//! outstanding). The chart of accounts, in the store currency (`<register>` is the register
//! id, `<rate>` the VAT rate as written on the receipt, `none` outside VAT):
//!
//! | account | what it holds |
//! |---|---|
//! | `host:cash:<register>` | the register's cash drawer: cash taken, change given, float, cash in and out, the Z's skim |
//! | `host:tender:<method>` | other tenders the host takes: `card` (card clearing, owed by the acquirer), … |
//! | `host:clearing:<plugin>` | money moved through a plugin: vouchers sold (credit), redeemed (debit) |
//! | `host:revenue:<rate>` | net revenue before price reductions (credit) |
//! | `host:discounts:<rate>` | the net of price reductions: discounts, points redeemed (debit) |
//! | `host:vat:<rate>` | VAT payable (credit) |
//! | `host:rounding` | cash rounding (credit when the customer paid more) |
//! | `host:transfer:<register>` | cash between the drawer and the safe or bank: float, cash in and out, the Z's skim |
//! | `host:cash-difference:<register>` | counted minus expected at the Z (debit when short) |
//!
//! A price reduction's net at a rate is its gross share without VAT,
//! `round(share / (1 + rate/100))` (the ledger's split of the net, not a printed figure);
//! revenue is the rest, so revenue less discounts is the VAT table's net to the cent, and
//! the VAT posted is the table's VAT, taken from the gross (see [`crate::money`]).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::model::{LineKind, Receipt, ReceiptKind};
use crate::ledger::{HOST_OWNER, PostingSpec};
use crate::money;

/// The host's account codes.
pub mod accounts {
    use rust_decimal::Decimal;

    use crate::ledger::HOST_OWNER;

    fn code(parts: &[&str]) -> String {
        format!("{HOST_OWNER}:{}", parts.join(":"))
    }

    /// A VAT rate as an account name: `20`, `5.5`, `none` outside VAT.
    pub fn rate_key(rate: Option<Decimal>) -> String {
        rate.map_or_else(|| "none".to_string(), |r| r.normalize().to_string())
    }

    /// The register's cash drawer.
    pub fn cash(register: &str) -> String {
        code(&["cash", register])
    }

    /// A tender the host takes itself, other than cash (card clearing).
    pub fn tender(method: &str) -> String {
        code(&["tender", method])
    }

    /// Money moved through a plugin's lines and tenders.
    pub fn clearing(plugin: &str) -> String {
        code(&["clearing", plugin])
    }

    /// Net revenue at a rate, before reductions.
    pub fn revenue(rate: Option<Decimal>) -> String {
        code(&["revenue", &rate_key(rate)])
    }

    /// Net of the price reductions at a rate.
    pub fn discounts(rate: Option<Decimal>) -> String {
        code(&["discounts", &rate_key(rate)])
    }

    /// VAT payable at a rate.
    pub fn vat(rate: Option<Decimal>) -> String {
        code(&["vat", &rate_key(rate)])
    }

    /// Cash rounding.
    pub fn rounding() -> String {
        code(&["rounding"])
    }

    /// Cash between the drawer and the safe or bank.
    pub fn transfer(register: &str) -> String {
        code(&["transfer", register])
    }

    /// Counted minus expected cash at the Z.
    pub fn cash_difference(register: &str) -> String {
        code(&["cash-difference", register])
    }
}

/// One host posting in the store currency.
fn posting(account: String, kind: &str, amount: Decimal, currency: &str) -> PostingSpec {
    PostingSpec {
        account,
        amount,
        unit: currency.to_string(),
        kind: kind.to_string(),
        floor: None,
        customer: None,
        expires: None,
    }
}

/// The account a tender is booked to: the drawer for cash, the plugin's clearing account
/// for a plugin's tender, else the host's clearing account of the method.
pub fn tender_account(register: &str, method: &str, plugin: &str) -> String {
    if !plugin.is_empty() {
        accounts::clearing(plugin)
    } else if method == "cash" {
        accounts::cash(register)
    } else {
        accounts::tender(method)
    }
}

/// The host's postings of a receipt, balanced, zero amounts left out. Derived from the
/// receipt's tenders, change, lines and VAT table alone (for a Z: its report), so the
/// journal can be checked against the ledger at any time.
pub fn postings(receipt: &Receipt, minor: u32) -> Vec<PostingSpec> {
    let currency = receipt.currency.as_str();
    let register = receipt.register_id.as_str();
    let mut out: Vec<PostingSpec> = Vec::new();
    let mut add = |account: String, kind: &str, amount: Decimal| {
        if !amount.is_zero() {
            out.push(posting(account, kind, amount, currency));
        }
    };
    for tender in &receipt.tenders {
        let account = tender_account(register, &tender.method, &tender.plugin);
        let kind = if tender.plugin.is_empty() {
            "tender"
        } else {
            "clearing"
        };
        add(account, kind, tender.amount);
    }
    add(accounts::cash(register), "tender", -receipt.totals.change);
    match receipt.kind {
        ReceiptKind::Sale | ReceiptKind::Void | ReceiptKind::Return => {
            for (account, kind, amount) in goods_side(receipt, minor) {
                add(account, kind, amount);
            }
        }
        ReceiptKind::DayOpen | ReceiptKind::CashIn | ReceiptKind::CashOut => {
            let moved: Decimal = receipt.tenders.iter().map(|t| t.amount).sum();
            add(accounts::transfer(register), "transfer", -moved);
        }
        ReceiptKind::Z => {
            if let Some(report) = receipt.event.as_ref().and_then(|e| e.report.as_ref()) {
                let difference = report.cash.difference.unwrap_or_default();
                let counted = report.cash.counted.unwrap_or_default();
                // The difference makes the drawer what was counted; then the counted cash
                // leaves it for the safe, so the next day starts from its own float.
                add(accounts::cash(register), "tender", difference);
                add(
                    accounts::cash_difference(register),
                    "difference",
                    -difference,
                );
                add(accounts::cash(register), "tender", -counted);
                add(accounts::transfer(register), "transfer", counted);
            }
        }
    }
    out
}

/// The credit side of a sale or reversal: revenue, discounts and VAT per rate from the VAT
/// table, and the lines outside VAT to their own accounts.
fn goods_side(receipt: &Receipt, minor: u32) -> Vec<(String, &'static str, Decimal)> {
    let mut out = Vec::new();
    // Goods before reductions, per rate; every rate that has goods or a VAT row is booked.
    let mut goods: BTreeMap<Option<Decimal>, Decimal> = BTreeMap::new();
    for line in &receipt.lines {
        if !line.kind.is_reduction() && !line.kind.is_outside_vat() {
            *goods.entry(Some(line.tax_rate.normalize())).or_default() += line.amount;
        }
    }
    let mut rows: BTreeMap<Option<Decimal>, (Decimal, Decimal, Decimal)> = BTreeMap::new();
    for row in &receipt.vat {
        let entry = rows.entry(row.rate.map(|r| r.normalize())).or_insert((
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
        ));
        entry.0 += row.net;
        entry.1 += row.vat;
        entry.2 += row.gross;
    }
    // A rate whose row a reduction cancelled, and lines outside VAT whose row summed to
    // zero (a voucher sold, a reduction as large), are booked all the same.
    let outside_lines = receipt.lines.iter().any(|l| l.kind.is_outside_vat());
    for rate in goods.keys().copied().chain(outside_lines.then_some(None)) {
        rows.entry(rate)
            .or_insert((Decimal::ZERO, Decimal::ZERO, Decimal::ZERO));
    }
    for (rate, (net, vat, gross)) in rows {
        match rate {
            Some(r) => {
                let reduction = gross - goods.get(&rate).copied().unwrap_or_default();
                let reduction_net =
                    money::round(reduction / (Decimal::ONE + r / Decimal::ONE_HUNDRED), minor);
                out.push((accounts::revenue(rate), "revenue", -(net - reduction_net)));
                out.push((accounts::discounts(rate), "discount", -reduction_net));
                out.push((accounts::vat(rate), "vat", -vat));
            }
            None => {
                let mut outside = Decimal::ZERO;
                for line in receipt.lines.iter().filter(|l| l.kind.is_outside_vat()) {
                    outside += line.amount;
                    let (account, kind) = if line.kind == LineKind::Rounding {
                        (accounts::rounding(), "rounding")
                    } else if !line.plugin.is_empty() {
                        (accounts::clearing(&line.plugin), "clearing")
                    } else {
                        (accounts::revenue(None), "revenue")
                    };
                    out.push((account, kind, -line.amount));
                }
                // What else is outside VAT: reductions with no taxable line to reduce.
                out.push((accounts::discounts(None), "discount", -(gross - outside)));
            }
        }
    }
    out
}

/// Whether an account is one of the host's own.
pub fn is_host_account(code: &str) -> bool {
    code.split(':').next() == Some(HOST_OWNER)
}

/// The sums per account of a list of postings, zero sums left out.
pub fn sums(postings: impl IntoIterator<Item = (String, Decimal)>) -> BTreeMap<String, Decimal> {
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    for (account, amount) in postings {
        *sums.entry(account).or_default() += amount;
    }
    sums.retain(|_, v| !v.is_zero());
    sums
}

/// Checks that a receipt adds up as printed: its lines make the total, the VAT table's
/// gross column makes the total, the tenders less change pay it, and every item line is
/// its quantity times its price. Returns what is wrong.
pub fn check_arithmetic(receipt: &Receipt, minor: u32) -> Result<(), String> {
    let total = receipt.totals.total;
    let fmt = |d: Decimal| money::format(d, minor);
    let tendered: Decimal = receipt.tenders.iter().map(|t| t.amount).sum();
    if receipt.kind.is_sale_or_reversal() {
        let lines: Decimal = receipt.lines.iter().map(|l| l.amount).sum();
        if lines != total {
            return Err(format!(
                "its lines add up to {} but its total is {}",
                fmt(lines),
                fmt(total)
            ));
        }
        let gross: Decimal = receipt.vat.iter().map(|v| v.gross).sum();
        if gross != total {
            return Err(format!(
                "its VAT table adds up to {} but its total is {}",
                fmt(gross),
                fmt(total)
            ));
        }
        for row in &receipt.vat {
            if row.net + row.vat != row.gross {
                return Err(format!(
                    "its VAT row {} has net {} and VAT {} but gross {}",
                    accounts::rate_key(row.rate),
                    fmt(row.net),
                    fmt(row.vat),
                    fmt(row.gross)
                ));
            }
        }
        if receipt.kind == ReceiptKind::Sale {
            for line in receipt.lines.iter().filter(|l| l.kind == LineKind::Item) {
                let want = money::round(line.qty * line.unit_price, minor);
                if want != line.amount {
                    return Err(format!(
                        "line {} is {} x {} = {} but shows {}",
                        line.id,
                        line.qty.normalize(),
                        line.unit_price,
                        fmt(want),
                        fmt(line.amount)
                    ));
                }
            }
        }
    }
    if receipt.kind != ReceiptKind::Z && tendered - receipt.totals.change != total {
        return Err(format!(
            "its tenders less change pay {} but its total is {}",
            fmt(tendered - receipt.totals.change),
            fmt(total)
        ));
    }
    Ok(())
}

/// The `details` key of a return's cash tender that pays out a plugin tender's share its
/// plugin released (`return_lines` `released`, ABI 1.2): the id of that plugin tender on
/// the sale, against which the payout counts.
pub const RELEASED_FROM: &str = "released_from";

/// How much of a sale its reversals gave back: per line (quantity, amount) and per tender
/// (amount), as positive numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reversed {
    /// Line id → (quantity, amount) given back.
    pub lines: BTreeMap<String, (Decimal, Decimal)>,
    /// Tender id → amount paid back.
    pub tenders: BTreeMap<String, Decimal>,
}

impl Reversed {
    /// What `reversals` (voids and returns of one sale) gave back together.
    pub fn of<'a>(reversals: impl IntoIterator<Item = &'a Receipt>) -> Self {
        let mut out = Reversed::default();
        for r in reversals {
            for line in &r.lines {
                let entry = out.lines.entry(line.id.clone()).or_default();
                entry.0 -= line.qty;
                entry.1 -= line.amount;
            }
            for tender in &r.tenders {
                // A plugin's share a return paid out in cash counts on the plugin's tender.
                let id = tender.details.get(RELEASED_FROM).unwrap_or(&tender.id);
                *out.tenders.entry(id.clone()).or_default() -= tender.amount;
            }
        }
        out
    }
}

/// What each tender of a sale took in and may at most pay back: its amount, cash net of the
/// change (which comes off the last cash tender first).
pub fn tender_capacity(sale: &Receipt) -> BTreeMap<String, Decimal> {
    let mut change = sale.totals.change;
    let mut out = BTreeMap::new();
    for tender in sale.tenders.iter().rev() {
        let mut amount = tender.amount;
        if tender.method == "cash" && tender.plugin.is_empty() {
            let taken = change.min(amount.max(Decimal::ZERO));
            amount -= taken;
            change -= taken;
        }
        out.insert(tender.id.clone(), amount);
    }
    out
}

/// Checks that the reversals of `sale` never gave back more than it took in, per line
/// (quantity and amount) and per tender. Returns what was exceeded.
pub fn check_reversals(sale: &Receipt, reversals: &[Receipt], minor: u32) -> Result<(), String> {
    let back = Reversed::of(reversals);
    let fmt = |d: Decimal| money::format(d, minor);
    for (id, (qty, amount)) in &back.lines {
        let rounding = |l: &super::model::Line| l.kind == LineKind::Rounding;
        if reversals
            .iter()
            .flat_map(|r| &r.lines)
            .any(|l| l.id == *id && rounding(l))
        {
            // Cash rounding is the drawer's arithmetic, not goods: a void rounds anew.
            continue;
        }
        let Some(line) = sale.lines.iter().find(|l| l.id == *id) else {
            return Err(format!(
                "a reversal gives back line {id}, which it does not have"
            ));
        };
        let exceeds = |given: Decimal, had: Decimal| {
            if had >= Decimal::ZERO {
                given > had || given < Decimal::ZERO
            } else {
                given < had || given > Decimal::ZERO
            }
        };
        if exceeds(*qty, line.qty) || exceeds(*amount, line.amount) {
            return Err(format!(
                "its reversals give back {} of line {id} for {}, but it sold {} for {}",
                qty.normalize(),
                fmt(*amount),
                line.qty.normalize(),
                fmt(line.amount)
            ));
        }
    }
    let capacity = tender_capacity(sale);
    for (id, amount) in &back.tenders {
        let had = capacity.get(id).copied().unwrap_or_default();
        let over = if had >= Decimal::ZERO {
            *amount > had
        } else {
            *amount < had
        };
        if over {
            return Err(format!(
                "its reversals pay back {} on tender {id}, which took in {}",
                fmt(*amount),
                fmt(had)
            ));
        }
    }
    Ok(())
}

/// What [`verify`] checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiptsVerified {
    /// Receipts read.
    pub receipts: u64,
    /// Of them, booked in the ledger and found to agree with it.
    pub booked: u64,
    /// Of them, from before the ledger held all money (schema 5): checked for arithmetic only.
    pub before_ledger: u64,
    /// Sales whose reversals were checked against them.
    pub reversed: u64,
    /// Ledger entries of plugins' admin actions (plugin ABI 1.2), which belong to no
    /// receipt: each posts only to accounts of the plugin its reference names.
    pub admin_entries: u64,
}

/// The plugin an admin entry's reference `admin:<plugin>:<action>:<n>` names, if it is one.
fn admin_plugin(reference: &str) -> Option<&str> {
    let mut parts = reference.splitn(4, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("admin"), Some(plugin), Some(action), Some(n))
            if !plugin.is_empty() && !action.is_empty() && n.parse::<u64>().is_ok() =>
        {
            Some(plugin)
        }
        _ => None,
    }
}

/// Checks the journal against the ledger: every receipt adds up as printed
/// ([`check_arithmetic`]), its indexed total is its document's, the host's postings on it
/// are exactly the ones [`postings`] derives from it, no host posting belongs to anything
/// else, every entry that belongs to no receipt is an admin action's (kind `admin`,
/// reference `admin:<plugin>:<action>:<n>`) posting only to that plugin's accounts, and the
/// voids and returns of a sale never give back more than it took in.
/// `minor_of` gives a currency's decimals. Stops at the first breach, naming the receipt.
pub fn verify(
    c: &rusqlite::Connection,
    minor_of: impl Fn(&str) -> u32,
) -> rusqlite::Result<Result<ReceiptsVerified, String>> {
    let mut report = ReceiptsVerified::default();
    let mut booked_postings: BTreeMap<String, Vec<(String, Decimal)>> = BTreeMap::new();
    {
        let mut stmt = c.prepare(
            "SELECT e.reference, a.code, p.amount FROM ledger_postings p
             JOIN ledger_entries e ON e.id = p.entry_id
             JOIN ledger_accounts a ON a.id = p.account_id
             WHERE a.owner = ?1 ORDER BY p.id",
        )?;
        let mut rows = stmt.query([HOST_OWNER])?;
        while let Some(row) = rows.next()? {
            let (reference, code, amount): (String, String, String) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            let Ok(amount) = amount.parse::<Decimal>() else {
                return Ok(Err(format!(
                    "posting of {code} on {reference}: {amount:?} is not a decimal"
                )));
            };
            booked_postings
                .entry(reference)
                .or_default()
                .push((code, amount));
        }
    }
    // Only sales that were reversed are kept for the reversal check, so a year of
    // receipts is read one at a time.
    let reversed: std::collections::BTreeSet<String> = c
        .prepare("SELECT DISTINCT original FROM receipts WHERE original != ''")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut sales: BTreeMap<String, Receipt> = BTreeMap::new();
    let mut reversals: BTreeMap<String, Vec<Receipt>> = BTreeMap::new();
    let mut stmt = c.prepare(
        "SELECT id, kind, original, total, booked, document FROM receipts ORDER BY register, number",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (id, kind, original, total, booked, document): (
            String,
            String,
            String,
            String,
            bool,
            String,
        ) = (
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
        );
        report.receipts += 1;
        let receipt: Receipt = match serde_json::from_str(&document) {
            Ok(r) => r,
            Err(e) => return Ok(Err(format!("receipt {id} is unreadable: {e}"))),
        };
        if receipt.id != id || receipt.kind.as_str() != kind || receipt.original != original {
            return Ok(Err(format!(
                "receipt {id}: its row ({kind}, original {original:?}) and its document ({} {}, original {:?}) differ",
                receipt.kind.as_str(),
                receipt.id,
                receipt.original
            )));
        }
        let minor = minor_of(&receipt.currency);
        if total.parse::<Decimal>().ok() != Some(receipt.totals.total) {
            return Ok(Err(format!(
                "receipt {id}: its indexed total {total} is not its document's {}",
                money::format(receipt.totals.total, minor)
            )));
        }
        if let Err(e) = check_arithmetic(&receipt, minor) {
            return Ok(Err(format!("receipt {id}: {e}")));
        }
        let found = booked_postings.remove(&id).unwrap_or_default();
        if booked {
            report.booked += 1;
            let want = sums(
                postings(&receipt, minor)
                    .into_iter()
                    .map(|p| (p.account, p.amount)),
            );
            let have = sums(found);
            if want != have {
                let accounts: std::collections::BTreeSet<&String> =
                    want.keys().chain(have.keys()).collect();
                let differ: Vec<String> = accounts
                    .into_iter()
                    .filter(|a| want.get(*a) != have.get(*a))
                    .map(|a| {
                        format!(
                            "{a}: booked {}, the receipt says {}",
                            have.get(a).map_or("nothing".into(), |d| d.to_string()),
                            want.get(a).map_or("nothing".into(), |d| d.to_string())
                        )
                    })
                    .collect();
                return Ok(Err(format!(
                    "receipt {id} and the ledger disagree: {}",
                    differ.join("; ")
                )));
            }
        } else {
            report.before_ledger += 1;
        }
        match receipt.kind {
            ReceiptKind::Sale if reversed.contains(&id) => {
                sales.insert(id, receipt);
            }
            ReceiptKind::Void | ReceiptKind::Return => {
                reversals.entry(original).or_default().push(receipt);
            }
            _ => {}
        }
    }
    if let Some((reference, postings)) = booked_postings.into_iter().next() {
        return Ok(Err(format!(
            "{} host posting(s) reference {reference:?}, which is no receipt",
            postings.len()
        )));
    }
    // Entries of no receipt: only admin actions' (plugin ABI 1.2), each on its plugin's
    // accounts alone.
    {
        let mut stmt = c.prepare(
            "SELECT e.id, e.kind, e.reference, group_concat(DISTINCT a.owner) FROM ledger_entries e
             JOIN ledger_postings p ON p.entry_id = e.id
             JOIN ledger_accounts a ON a.id = p.account_id
             WHERE NOT EXISTS (SELECT 1 FROM receipts r WHERE r.id = e.reference)
             GROUP BY e.id ORDER BY e.id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let (entry, kind, reference, owners): (i64, String, String, String) =
                (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
            let plugin = match admin_plugin(&reference) {
                Some(plugin) if kind == super::checkout::ADMIN_ENTRY_KIND => plugin,
                _ => {
                    return Ok(Err(format!(
                        "journal entry {entry} ({kind}) references {reference:?}, which is neither a receipt nor an admin action's entry"
                    )));
                }
            };
            if owners.split(',').any(|owner| owner != plugin) {
                return Ok(Err(format!(
                    "journal entry {entry} ({reference}) posts to accounts of {owners}, but an admin action's entry may only post to its plugin {plugin}'s"
                )));
            }
            report.admin_entries += 1;
        }
    }
    for (original, backs) in &reversals {
        let Some(sale) = sales.get(original) else {
            return Ok(Err(format!(
                "{} reverses {original}, which is no sale in the journal",
                backs[0].id
            )));
        };
        report.reversed += 1;
        if let Err(e) = check_reversals(sale, backs, minor_of(&sale.currency)) {
            return Ok(Err(format!("receipt {original}: {e}")));
        }
    }
    Ok(Ok(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sale::model::{Line, Tender, Totals, VatLine};
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn line(id: &str, kind: LineKind, qty: &str, price: &str, rate: &str, plugin: &str) -> Line {
        let mut l = Line::rounding(id, d(price));
        l.kind = kind;
        l.name = id.into();
        l.qty = d(qty);
        l.amount = money::round(d(qty) * d(price), 2);
        l.tax_rate = d(rate);
        l.plugin = plugin.into();
        l
    }

    fn tender(id: &str, method: &str, amount: &str, plugin: &str) -> Tender {
        let mut t = Tender::host(id, method, d(amount));
        t.plugin = plugin.into();
        t
    }

    /// A sale with the VAT table the engine computes for it.
    fn sale(lines: Vec<Line>, tenders: Vec<Tender>) -> Receipt {
        let mut s = crate::sale::model::Sale::new(
            "S",
            crate::sale::model::SaleState::Open,
            "anna",
            String::new(),
        );
        s.lines = lines.clone();
        s.tenders = tenders.clone();
        let eur = crate::sale::engine::Currency {
            minor: 2,
            cash_increment: None,
        };
        let vat: Vec<VatLine> = crate::sale::engine::vat_lines(&s, eur);
        let totals: Totals = crate::sale::engine::totals(&s, eur);
        Receipt {
            id: "0001-01-000001".into(),
            number: 1,
            kind: ReceiptKind::Sale,
            time: String::new(),
            store_id: "0001".into(),
            register_id: "01".into(),
            currency: "EUR".into(),
            locale: "de-AT".into(),
            cashier: "anna".into(),
            customer: String::new(),
            sale_id: "S".into(),
            original: String::new(),
            lines,
            tenders,
            totals,
            vat,
            sections: Vec::new(),
            header: Vec::new(),
            footer: Vec::new(),
            day: "D".into(),
            event: None,
        }
    }

    fn booked(r: &Receipt) -> BTreeMap<String, String> {
        sums(postings(r, 2).into_iter().map(|p| (p.account, p.amount)))
            .into_iter()
            .map(|(a, v)| (a, v.normalize().to_string()))
            .collect()
    }

    fn want(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, v)| (a.to_string(), d(v).normalize().to_string()))
            .collect()
    }

    #[test]
    fn a_cash_sale_books_revenue_and_vat_per_rate_and_the_drawer_net_of_change() {
        let r = sale(
            vec![
                line("L1", LineKind::Item, "3", "1.29", "10", ""),
                line("L2", LineKind::Item, "1", "7.99", "20", ""),
                line("L3", LineKind::Item, "1", "5.67", "13", ""),
            ],
            vec![tender("T1", "cash", "20.00", "")],
        );
        assert_eq!(r.totals.total, d("17.53"));
        assert_eq!(
            booked(&r),
            want(&[
                ("host:cash:01", "17.53"),
                ("host:revenue:10", "-3.52"),
                ("host:vat:10", "-0.35"),
                ("host:revenue:13", "-5.02"),
                ("host:vat:13", "-0.65"),
                ("host:revenue:20", "-6.66"),
                ("host:vat:20", "-1.33"),
            ])
        );
        let all: Decimal = postings(&r, 2).iter().map(|p| p.amount).sum();
        assert_eq!(all, Decimal::ZERO, "balanced");
        check_arithmetic(&r, 2).expect("adds up");
    }

    #[test]
    fn a_discount_is_booked_as_its_net_beside_revenue_before_it() {
        let mut discount = line("D1", LineKind::Discount, "1", "-1.20", "0", "codes");
        discount.applies_to = vec!["L1".into()];
        let r = sale(
            vec![line("L1", LineKind::Item, "1", "12.00", "20", ""), discount],
            vec![tender("T1", "card", "10.80", "")],
        );
        assert_eq!(
            booked(&r),
            want(&[
                ("host:tender:card", "10.80"),
                ("host:revenue:20", "-10.00"),
                ("host:discounts:20", "1.00"),
                ("host:vat:20", "-1.80"),
            ])
        );
    }

    #[test]
    fn vouchers_sold_and_redeemed_go_through_the_plugins_clearing_account() {
        let r = sale(
            vec![
                line("L1", LineKind::VoucherSale, "1", "50.00", "0", "vouchers"),
                line("L2", LineKind::Item, "1", "10.00", "20", ""),
            ],
            vec![
                tender("T1", "voucher", "10.00", "vouchers"),
                tender("T2", "card", "50.00", ""),
            ],
        );
        assert_eq!(
            booked(&r),
            want(&[
                ("host:clearing:vouchers", "-40.00"),
                ("host:tender:card", "50.00"),
                ("host:revenue:20", "-8.33"),
                ("host:vat:20", "-1.67"),
            ])
        );
    }

    #[test]
    fn cash_rounding_has_an_account_of_its_own() {
        let mut r = sale(
            vec![line("L1", LineKind::Item, "1", "99.40", "21", "")],
            vec![tender("T1", "cash", "100.00", "")],
        );
        r.lines.push(Line::rounding("R", d("-0.40")));
        r.vat.push(VatLine {
            rate: None,
            net: d("-0.40"),
            vat: Decimal::ZERO,
            gross: d("-0.40"),
        });
        r.totals.total = d("99.00");
        r.totals.change = d("1.00");
        check_arithmetic(&r, 2).expect("adds up");
        let b = booked(&r);
        assert_eq!(b["host:rounding"], "0.4");
        assert_eq!(b["host:cash:01"], "99");
    }

    #[test]
    fn arithmetic_that_does_not_add_up_is_named() {
        let mut r = sale(
            vec![line("L1", LineKind::Item, "2", "3.00", "20", "")],
            vec![tender("T1", "cash", "6.00", "")],
        );
        r.lines[0].amount = d("5.00");
        let err = check_arithmetic(&r, 2).expect_err("edited");
        assert!(err.contains("lines add up to 5.00"), "{err}");
        r.lines[0].amount = d("6.00");
        r.lines[0].unit_price = d("2.00");
        let err = check_arithmetic(&r, 2).expect_err("edited");
        assert!(err.contains("line L1 is 2 x 2.00 = 4.00"), "{err}");
    }

    #[test]
    fn reversals_beyond_the_sale_are_named_per_line_and_per_tender() {
        let s = sale(
            vec![line("L1", LineKind::Item, "2", "5.00", "20", "")],
            vec![tender("T1", "cash", "20.00", "")],
        );
        assert_eq!(tender_capacity(&s)["T1"], d("10.00"));
        let mut back = s.clone();
        back.kind = ReceiptKind::Return;
        back.lines[0].qty = d("-1");
        back.lines[0].amount = d("-5.00");
        back.tenders[0].amount = d("-5.00");
        check_reversals(&s, &[back.clone(), back.clone()], 2).expect("two of two");
        let err = check_reversals(&s, &[back.clone(), back.clone(), back], 2).expect_err("three");
        assert!(err.contains("line L1"), "{err}");
        let mut void = s.clone();
        void.kind = ReceiptKind::Void;
        void.lines[0].qty = Decimal::ZERO;
        void.lines[0].amount = Decimal::ZERO;
        void.tenders[0].amount = d("-10.01");
        let err = check_reversals(&s, &[void.clone()], 2).expect_err("tender");
        assert!(err.contains("tender T1, which took in 10.00"), "{err}");
        // A void's own cash rounding is no line of the sale, and no breach; a goods line the
        // sale never had is.
        void.tenders[0].amount = d("-10.00");
        void.lines.push(Line::rounding("R-void", d("0.02")));
        check_reversals(&s, &[void.clone()], 2).expect("rounding anew");
        void.lines
            .push(line("L9", LineKind::Item, "-1", "1.00", "20", ""));
        let err = check_reversals(&s, &[void], 2).expect_err("unknown line");
        assert!(err.contains("line L9, which it does not have"), "{err}");
    }
}
