//! The till's day: opened with a counted float, cash put in and taken out with a reason,
//! an X report at any time and a Z report that closes it.
//!
//! Every event of the day is a receipt in the journal (`day_open`, `cash_in`, `cash_out`,
//! `z`), numbered with the sales, booked in the ledger and printed. Every sale, void and
//! return belongs to the day that was open when it was committed. With no day open, the
//! first sale, void, return or cash movement opens one with a float of 0 and no receipt
//! (a receipt nobody sees printed would be a gap on paper), unless the configuration
//! requires an explicit opening. Days are numbered without gaps per register, and a day's Z
//! carries its number, so Z numbers are gapless too.
//!
//! The report ([`build_report`]) is computed from the day's receipts and the plugins'
//! postings on them, the same way for X and Z, so an X taken right before a Z shows what
//! the Z then records.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::model::{Receipt, ReceiptKind, VatLine};

/// A count and a sum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// How many.
    pub count: i64,
    /// Their sum (gross).
    pub amount: Decimal,
}

/// One tender method of the day (a plugin's tenders are kept apart by plugin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenderTotal {
    /// cash, card, voucher, …
    pub method: String,
    /// The plugin behind it, "" for the host's own.
    pub plugin: String,
    /// Tenders taken or paid back.
    pub count: i64,
    /// Their sum; cash net of the change given.
    pub amount: Decimal,
}

/// What one cashier's receipts took in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashierTotal {
    /// Cashier id as the sale was opened with ("" if none was given).
    pub cashier: String,
    /// Sales, voids and returns.
    pub count: i64,
    /// Their totals.
    pub amount: Decimal,
}

/// What a plugin's accounts of one kind moved on the day's receipts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginMove {
    /// Plugin id.
    pub plugin: String,
    /// The account's name in the plugin's namespace up to its first `:` (`voucher`,
    /// `customer`, `issued`), so a thousand vouchers make one row.
    pub account: String,
    /// Unit (currency, `points`).
    pub unit: String,
    /// Sum of the postings that added to these accounts.
    pub added: Decimal,
    /// Sum of the postings that took from them (negative).
    pub taken: Decimal,
}

/// The drawer's cash over the day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashCount {
    /// The counted opening float.
    pub float: Decimal,
    /// Cash from sales less cash paid back (voids, returns), net of change.
    pub sales: Decimal,
    /// Cash put in (Einlage).
    pub cash_in: Decimal,
    /// Cash taken out (Entnahme), positive.
    pub cash_out: Decimal,
    /// float + sales + in − out.
    pub expected: Decimal,
    /// Counted at the Z.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<Decimal>,
    /// counted − expected (negative: cash is missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<Decimal>,
}

/// The X or Z report of a day: the same record, the Z with the count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayReport {
    /// Day id.
    pub day: String,
    /// The day's number within the register; also its Z's number.
    pub number: i64,
    /// Register.
    pub register: String,
    /// When the day was opened (RFC 3339).
    pub opened_at: String,
    /// When its Z closed it; "" on an X.
    pub closed_at: String,
    /// Gross turnover: sales less voids and returns.
    pub total: Decimal,
    /// Sale receipts.
    pub sales: Tally,
    /// Void receipts (amounts negative).
    pub voids: Tally,
    /// Return receipts (amounts negative).
    pub returns: Tally,
    /// Price reductions on the day's sales, less those voided.
    pub discounts: Tally,
    /// Per VAT rate, outside VAT last.
    pub vat: Vec<VatLine>,
    /// Per tender method.
    pub tenders: Vec<TenderTotal>,
    /// Per cashier.
    pub cashiers: Vec<CashierTotal>,
    /// What each plugin's accounts moved.
    pub plugins: Vec<PluginMove>,
    /// The drawer.
    pub cash: CashCount,
}

/// A day as the `days` table keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    /// Day id: `<store>-<register>-D<number>`.
    pub id: String,
    /// Register.
    pub register: String,
    /// Gapless per register.
    pub number: i64,
    /// When it was opened.
    pub opened_at: String,
    /// Its counted float.
    pub float: Decimal,
    /// The `day_open` receipt.
    pub open_receipt: String,
    /// When its Z closed it.
    pub closed_at: Option<String>,
    /// Its Z receipt.
    pub z_receipt: Option<String>,
    /// Cash counted at the Z.
    pub counted: Option<Decimal>,
    /// Counted − expected.
    pub difference: Option<Decimal>,
    /// Cash expected at the Z.
    pub expected: Option<Decimal>,
}

/// Whether the till's day is open, as the bus shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayStatus {
    /// The open day, `None` while closed.
    pub open: Option<DayRow>,
    /// Cash the drawer should hold now (0 while closed: the Z took it to the safe).
    pub expected_cash: Decimal,
}

/// A plugin's posting on one of the day's receipts: account code, unit, amount.
pub type PluginPosting = (String, String, Decimal);

/// The day id of day `number` of a register.
pub fn day_id(store: &str, register: &str, number: i64) -> String {
    format!("{store}-{register}-D{number:06}")
}

/// What a receipt did to the drawer: (cash of sales and reversals net of change, put in,
/// taken out as a positive amount, float).
pub fn cash_effect(r: &Receipt) -> (Decimal, Decimal, Decimal, Decimal) {
    let cash: Decimal = r
        .tenders
        .iter()
        .filter(|t| t.method == "cash" && t.plugin.is_empty())
        .map(|t| t.amount)
        .sum();
    match r.kind {
        ReceiptKind::Sale | ReceiptKind::Void | ReceiptKind::Return => (
            cash - r.totals.change,
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
        ),
        ReceiptKind::CashIn => (Decimal::ZERO, cash, Decimal::ZERO, Decimal::ZERO),
        ReceiptKind::CashOut => (Decimal::ZERO, Decimal::ZERO, -cash, Decimal::ZERO),
        ReceiptKind::DayOpen => (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, cash),
        ReceiptKind::Z => Default::default(),
    }
}

/// How a receipt changes the drawer's expected cash.
pub fn expected_delta(r: &Receipt) -> Decimal {
    let (sales, cash_in, cash_out, float) = cash_effect(r);
    sales + cash_in - cash_out + float
}

/// The report of `day` from its receipts (in journal order) and the plugins' postings on
/// them (account code, unit, amount).
pub fn build_report(
    day: &DayRow,
    receipts: &[Receipt],
    plugin_postings: &[PluginPosting],
) -> DayReport {
    let mut report = DayReport {
        day: day.id.clone(),
        number: day.number,
        register: day.register.clone(),
        opened_at: day.opened_at.clone(),
        ..DayReport::default()
    };
    let mut vat: BTreeMap<(bool, Option<Decimal>), (Decimal, Decimal, Decimal)> = BTreeMap::new();
    let mut tenders: BTreeMap<(String, String), (i64, Decimal)> = BTreeMap::new();
    let mut cashiers: BTreeMap<String, (i64, Decimal)> = BTreeMap::new();
    let mut cash = CashCount::default();
    for r in receipts {
        let (sales, cash_in, cash_out, float) = cash_effect(r);
        cash.sales += sales;
        cash.cash_in += cash_in;
        cash.cash_out += cash_out;
        cash.float += float;
        if !r.kind.is_sale_or_reversal() {
            continue;
        }
        let total = r.totals.total;
        report.total += total;
        let tally = match r.kind {
            ReceiptKind::Sale => &mut report.sales,
            ReceiptKind::Void => &mut report.voids,
            _ => &mut report.returns,
        };
        tally.count += 1;
        tally.amount += total;
        let reductions = r.lines.iter().filter(|l| l.kind.is_reduction());
        for line in reductions {
            match r.kind {
                ReceiptKind::Sale => report.discounts.count += 1,
                ReceiptKind::Void => report.discounts.count -= 1,
                _ => {}
            }
            report.discounts.amount += line.amount;
        }
        for row in &r.vat {
            let rate = row.rate.map(|x| x.normalize());
            let e = vat.entry((rate.is_none(), rate)).or_default();
            e.0 += row.net;
            e.1 += row.vat;
            e.2 += row.gross;
        }
        // Each tender at what it took in: cash net of the change given.
        let took = super::booking::tender_capacity(r);
        for t in &r.tenders {
            let e = tenders
                .entry((t.method.clone(), t.plugin.clone()))
                .or_default();
            e.0 += 1;
            e.1 += took.get(&t.id).copied().unwrap_or(t.amount);
        }
        let e = cashiers.entry(r.cashier.clone()).or_default();
        e.0 += 1;
        e.1 += total;
    }
    report.vat = vat
        .into_iter()
        .map(|((_, rate), (net, vat, gross))| VatLine {
            rate,
            net,
            vat,
            gross,
        })
        .collect();
    report.tenders = tenders
        .into_iter()
        .map(|((method, plugin), (count, amount))| TenderTotal {
            method,
            plugin,
            count,
            amount,
        })
        .collect();
    report.cashiers = cashiers
        .into_iter()
        .map(|(cashier, (count, amount))| CashierTotal {
            cashier,
            count,
            amount,
        })
        .collect();
    let mut moves: BTreeMap<(String, String, String), (Decimal, Decimal)> = BTreeMap::new();
    for (code, unit, amount) in plugin_postings {
        let mut parts = code.splitn(3, ':');
        let plugin = parts.next().unwrap_or_default().to_string();
        let account = parts.next().unwrap_or_default().to_string();
        let e = moves.entry((plugin, account, unit.clone())).or_default();
        if *amount >= Decimal::ZERO {
            e.0 += *amount;
        } else {
            e.1 += *amount;
        }
    }
    report.plugins = moves
        .into_iter()
        .map(|((plugin, account, unit), (added, taken))| PluginMove {
            plugin,
            account,
            unit,
            added,
            taken,
        })
        .collect();
    cash.expected = cash.float + cash.sales + cash.cash_in - cash.cash_out;
    report.cash = cash;
    report
}

const DAY_COLUMNS: &str = "id, register, number, opened_at, float, open_receipt, closed_at, z_receipt, counted, difference, expected";

fn decimal(text: &str) -> rusqlite::Result<Decimal> {
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn day_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DayRow> {
    let optional = |i: usize| -> rusqlite::Result<Option<Decimal>> {
        r.get::<_, Option<String>>(i)?
            .as_deref()
            .map(decimal)
            .transpose()
    };
    Ok(DayRow {
        id: r.get(0)?,
        register: r.get(1)?,
        number: r.get(2)?,
        opened_at: r.get(3)?,
        float: decimal(&r.get::<_, String>(4)?)?,
        open_receipt: r.get(5)?,
        closed_at: r.get(6)?,
        z_receipt: r.get(7)?,
        counted: optional(8)?,
        difference: optional(9)?,
        expected: optional(10)?,
    })
}

/// The open day of a register, if there is one.
pub fn open_day(c: &Connection, register: &str) -> rusqlite::Result<Option<DayRow>> {
    c.prepare_cached(&format!(
        "SELECT {DAY_COLUMNS} FROM days WHERE register = ?1 AND closed_at IS NULL"
    ))?
    .query_row([register], day_row)
    .optional()
}

/// The number the next day of a register gets.
pub fn next_day_number(c: &Connection, register: &str) -> rusqlite::Result<i64> {
    c.prepare_cached("SELECT coalesce(max(number), 0) + 1 FROM days WHERE register = ?1")?
        .query_row([register], |r| r.get(0))
}

/// Closed days of a register whose opening date (`YYYY-MM-DD`) lies within `from..=to`
/// ("" for no bound), oldest first.
pub fn closed_days(
    c: &Connection,
    register: &str,
    from: &str,
    to: &str,
) -> rusqlite::Result<Vec<DayRow>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {DAY_COLUMNS} FROM days WHERE register = ?1 AND closed_at IS NOT NULL
           AND (?2 = '' OR substr(opened_at, 1, 10) >= ?2)
           AND (?3 = '' OR substr(opened_at, 1, 10) <= ?3)
         ORDER BY number"
    ))?;
    let rows = stmt.query_map(params![register, from, to], day_row)?;
    rows.collect()
}

/// Writes a new open day.
pub fn insert_day(c: &Connection, day: &DayRow) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO days (id, register, number, opened_at, float, open_receipt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        day.id,
        day.register,
        day.number,
        day.opened_at,
        day.float.to_string(),
        day.open_receipt
    ])?;
    Ok(())
}

/// Marks a day closed by its Z.
pub fn close_day(c: &Connection, day: &DayRow) -> rusqlite::Result<()> {
    let text = |d: Option<Decimal>| d.map(|d| d.to_string());
    let changed = c
        .prepare_cached(
            "UPDATE days SET closed_at = ?2, z_receipt = ?3, counted = ?4, difference = ?5, expected = ?6
             WHERE id = ?1 AND closed_at IS NULL",
        )?
        .execute(params![
            day.id,
            day.closed_at,
            day.z_receipt,
            text(day.counted),
            text(day.difference),
            text(day.expected)
        ])?;
    if changed != 1 {
        return Err(rusqlite::Error::StatementChangedRows(changed));
    }
    Ok(())
}

/// The day's sales, reversals and events, in journal order, and the plugins' postings on
/// them (account, unit, amount).
pub fn day_contents(
    c: &Connection,
    day: &str,
) -> rusqlite::Result<(Vec<Receipt>, Vec<PluginPosting>)> {
    let mut stmt =
        c.prepare_cached("SELECT document FROM receipts WHERE day = ?1 ORDER BY number")?;
    let documents: Vec<String> = stmt
        .query_map([day], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let receipts = documents
        .iter()
        .map(|d| {
            serde_json::from_str(d).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
        })
        .collect::<rusqlite::Result<Vec<Receipt>>>()?;
    let mut stmt = c.prepare_cached(
        "SELECT a.code, a.unit, p.amount FROM receipts r
         JOIN ledger_entries e ON e.reference = r.id
         JOIN ledger_postings p ON p.entry_id = e.id
         JOIN ledger_accounts a ON a.id = p.account_id
         WHERE r.day = ?1 AND a.owner != ?2 ORDER BY p.id",
    )?;
    let postings = stmt
        .query_map(params![day, crate::ledger::HOST_OWNER], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                decimal(&r.get::<_, String>(2)?)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok((receipts, postings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sale::model::{Line, LineKind, Tender, Totals};
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn receipt(
        kind: ReceiptKind,
        cashier: &str,
        tenders: &[(&str, &str)],
        change: &str,
    ) -> Receipt {
        let paid: Decimal = tenders.iter().map(|(_, a)| d(a)).sum();
        let total = paid - d(change);
        let mut line = Line::rounding("L1", total);
        line.kind = LineKind::Item;
        line.tax_rate = d("20");
        Receipt {
            id: "R".into(),
            number: 1,
            kind,
            time: String::new(),
            store_id: "0001".into(),
            register_id: "01".into(),
            currency: "EUR".into(),
            locale: "de".into(),
            cashier: cashier.into(),
            customer: String::new(),
            sale_id: String::new(),
            original: String::new(),
            lines: if kind.is_sale_or_reversal() {
                vec![line]
            } else {
                Vec::new()
            },
            tenders: tenders
                .iter()
                .enumerate()
                .map(|(i, (m, a))| Tender::host(&format!("T{}", i + 1), m, d(a)))
                .collect(),
            totals: Totals {
                total,
                change: d(change),
                ..Totals::default()
            },
            vat: Vec::new(),
            sections: Vec::new(),
            header: Vec::new(),
            footer: Vec::new(),
            day: "D".into(),
            event: None,
        }
    }

    #[test]
    fn the_report_counts_cash_net_of_change_and_movements_by_kind() {
        let day = DayRow {
            id: "0001-01-D000001".into(),
            register: "01".into(),
            number: 1,
            opened_at: "2026-12-01T08:00:00+01:00".into(),
            float: d("100.00"),
            open_receipt: "R0".into(),
            closed_at: None,
            z_receipt: None,
            counted: None,
            difference: None,
            expected: None,
        };
        let receipts = vec![
            receipt(ReceiptKind::DayOpen, "", &[("cash", "100.00")], "0"),
            receipt(ReceiptKind::Sale, "anna", &[("cash", "20.00")], "2.47"),
            receipt(ReceiptKind::Sale, "bert", &[("card", "9.99")], "0"),
            receipt(ReceiptKind::CashIn, "", &[("cash", "50.00")], "0"),
            receipt(ReceiptKind::CashOut, "", &[("cash", "-30.00")], "0"),
            receipt(ReceiptKind::Return, "anna", &[("cash", "-5.00")], "0"),
        ];
        let postings = vec![
            ("vouchers:voucher:A".to_string(), "EUR".to_string(), d("50")),
            (
                "vouchers:voucher:B".to_string(),
                "EUR".to_string(),
                d("-10"),
            ),
            ("vouchers:issued".to_string(), "EUR".to_string(), d("-40")),
        ];
        let r = build_report(&day, &receipts, &postings);
        assert_eq!(r.total, d("22.52"));
        assert_eq!(
            r.sales,
            Tally {
                count: 2,
                amount: d("27.52")
            }
        );
        assert_eq!(
            r.returns,
            Tally {
                count: 1,
                amount: d("-5.00")
            }
        );
        assert_eq!(r.cash.float, d("100.00"));
        assert_eq!(r.cash.sales, d("12.53"));
        assert_eq!(r.cash.cash_in, d("50.00"));
        assert_eq!(r.cash.cash_out, d("30.00"));
        assert_eq!(r.cash.expected, d("132.53"));
        let cash = r.tenders.iter().find(|t| t.method == "cash").expect("cash");
        assert_eq!((cash.count, cash.amount), (2, d("12.53")));
        let anna = r
            .cashiers
            .iter()
            .find(|c| c.cashier == "anna")
            .expect("anna");
        assert_eq!((anna.count, anna.amount), (2, d("12.53")));
        assert_eq!(r.plugins.len(), 2);
        assert_eq!(
            (
                r.plugins[1].account.as_str(),
                r.plugins[1].added,
                r.plugins[1].taken
            ),
            ("voucher", d("50"), d("-10"))
        );
        let moved: Decimal = receipts.iter().map(expected_delta).sum();
        assert_eq!(
            moved, r.cash.expected,
            "the running figure agrees with the report"
        );
    }
}
