//! The money of a void (Storno): which lines are reversed for how much, what goes back on
//! which tender, and the VAT table that follows.
//!
//! A void reverses its receipt line by line. A plugin may pay back less for one of its
//! lines (a voucher sold on the receipt and partly spent since pays out only what is left);
//! the difference, the shortfall, is then kept:
//!
//! - tenders a plugin owns (a voucher redeemed on the receipt) are always reversed in full,
//!   because their plugin books them back in full;
//! - the shortfall comes off the money the host paid back instead: cash first, then card
//!   and the other host tenders, the last one first;
//! - if those cannot absorb it (the receipt was paid with vouchers only), the void is not
//!   allowed: the customer would get back value already spent;
//! - a cash refund in a currency with cash rounding is rounded again, and the rounding
//!   shows as its own line, as on a sale.
//!
//! Cash is paid back net of the change given, so a void shows what the customer receives.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::engine::Currency;
use super::model::{Line, LineKind, Receipt, ReceiptKind, VatLine};
use crate::money;

/// Why a void cannot be built as the plugins asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReversalError {
    /// A plugin's payout does not fit the receipt (unknown line, not its line, more than
    /// the line's amount, below zero, twice).
    #[error("plugin {plugin}: payout for line {line:?}: {reason}")]
    BadPayout {
        /// The plugin that asked.
        plugin: String,
        /// The line it named.
        line: String,
        /// What is wrong.
        reason: String,
    },
    /// The shortfall is more than the host tenders paid back.
    #[error(
        "{receipt} cannot be voided: {shortfall} already spent of what it sold cannot come off its payments ({reason})"
    )]
    NotAllowed {
        /// The original receipt.
        receipt: String,
        /// What could not be taken off.
        shortfall: Decimal,
        /// Which tenders were there.
        reason: String,
    },
}

/// The payouts plugins asked for, checked against the receipt: line id → amount paid back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payouts(BTreeMap<String, Decimal>);

impl Payouts {
    /// Takes `plugin`'s payout for `line`, which must be one of that plugin's lines on
    /// `original`, between 0 and the line's amount, and not paid out already.
    pub fn add(
        &mut self,
        original: &Receipt,
        plugin: &str,
        line: &str,
        amount: Decimal,
    ) -> Result<(), ReversalError> {
        let bad = |reason: String| ReversalError::BadPayout {
            plugin: plugin.to_string(),
            line: line.to_string(),
            reason,
        };
        let found = original
            .lines
            .iter()
            .find(|l| l.id == line)
            .ok_or_else(|| bad(format!("no such line on {}", original.id)))?;
        if found.plugin != plugin {
            return Err(bad("not the plugin's line".into()));
        }
        if amount < Decimal::ZERO || amount > found.amount {
            return Err(bad(format!(
                "{amount} is outside 0 to the line's {}",
                found.amount
            )));
        }
        if self.0.insert(line.to_string(), amount).is_some() {
            return Err(bad("paid out twice".into()));
        }
        Ok(())
    }
}

/// The void of `original` as receipt `id` number `number`: every line negated (a line with
/// a payout by the payout), tenders as described in the module, VAT table and totals to
/// match. The caller sets time and sections.
pub fn void_of(
    original: &Receipt,
    id: &str,
    number: i64,
    payouts: &Payouts,
    currency: Currency,
) -> Result<Receipt, ReversalError> {
    let minor = currency.minor;
    let mut void = original.clone();
    void.id = id.to_string();
    void.number = number;
    void.kind = ReceiptKind::Void;
    void.original = original.id.clone();
    void.sale_id = String::new();

    // Shortfall per VAT rate (None: outside VAT), as the sale's VAT table groups lines.
    let mut short_by_rate: BTreeMap<Option<Decimal>, Decimal> = BTreeMap::new();
    for line in &mut void.lines {
        let back = payouts.0.get(&line.id).copied().unwrap_or(line.amount);
        if back != line.amount {
            *short_by_rate.entry(vat_rate_of(line)).or_default() += line.amount - back;
            // The receipt's arithmetic shows what is paid back: "-1 x 10,00", not 50,00.
            if !line.qty.is_zero() {
                line.unit_price = money::round(back / line.qty, minor);
            }
        }
        line.qty = -line.qty;
        line.amount = -back;
    }
    let shortfall: Decimal = short_by_rate.values().sum();

    // What went back on each tender, positive; the shortfall then comes off host tenders.
    let mut back: Vec<Decimal> = original.tenders.iter().map(|t| t.amount).collect();
    let mut change = original.totals.change;
    let cash = cash_first(original);
    for &i in &cash {
        let taken = change.min(back[i]);
        back[i] -= taken;
        change -= taken;
    }
    let mut left = shortfall;
    for i in cash.iter().copied().chain(others_last_first(original)) {
        let taken = left.min(back[i]);
        back[i] -= taken;
        left -= taken;
    }
    if left > Decimal::ZERO {
        return Err(ReversalError::NotAllowed {
            receipt: original.id.clone(),
            shortfall: left,
            reason: "it was paid with vouchers or other plugin tenders only".into(),
        });
    }

    // A reduced cash refund is cash-rounded again.
    let mut rounding = Decimal::ZERO;
    if let Some(step) = currency.cash_increment
        && shortfall > Decimal::ZERO
        && let Some(&i) = cash.iter().find(|&&i| back[i] > Decimal::ZERO)
    {
        let mut rounded = money::round_to_increment(back[i], step);
        rounded.rescale(minor);
        rounding = rounded - back[i];
        back[i] = rounded;
    }
    if !rounding.is_zero() {
        // One rounding line on the void: the original's, reversed, and the new rounding.
        match void.lines.iter_mut().find(|l| l.kind == LineKind::Rounding) {
            Some(line) => {
                line.amount -= rounding;
                line.unit_price = line.amount;
            }
            None => void.lines.push(Line::rounding("R-void", -rounding)),
        }
        *short_by_rate.entry(None).or_default() -= rounding;
    }

    for (tender, amount) in void.tenders.iter_mut().zip(&back) {
        tender.amount = -*amount;
    }
    void.tenders.retain(|t| !t.amount.is_zero());

    // VAT: the original's gross per rate, in its order, less the shortfall at each rate.
    let mut gross: Vec<(Option<Decimal>, Decimal)> = original
        .vat
        .iter()
        .map(|row| (row.rate.map(|r| r.normalize()), row.gross))
        .collect();
    for (rate, short) in &short_by_rate {
        match gross.iter_mut().find(|(r, _)| r == rate) {
            Some((_, g)) => *g -= *short,
            None => gross.push((*rate, -*short)),
        }
    }
    let rows: Vec<(Option<Decimal>, Decimal)> = gross
        .into_iter()
        .filter(|(_, g)| !g.is_zero())
        .map(|(rate, g)| (rate, -g))
        .collect();
    void.vat = money::vat_table(&rows, minor)
        .into_iter()
        .map(VatLine::from)
        .collect();

    let refund = original.totals.total - shortfall + rounding;
    let t = &mut void.totals;
    t.subtotal = -(original.totals.subtotal - shortfall);
    t.discount = -original.totals.discount;
    t.tax = void.vat.iter().map(|v| v.vat).sum();
    t.total = -refund;
    t.paid = -refund;
    t.due = Decimal::ZERO;
    t.change = Decimal::ZERO;
    Ok(void)
}

/// The VAT row a line's amount belongs to.
fn vat_rate_of(line: &Line) -> Option<Decimal> {
    (!line.kind.is_outside_vat()).then(|| line.tax_rate.normalize())
}

/// Indexes of the cash tenders, the last first.
fn cash_first(r: &Receipt) -> Vec<usize> {
    (0..r.tenders.len())
        .rev()
        .filter(|&i| r.tenders[i].method == "cash")
        .collect()
}

/// Indexes of the other tenders the host holds (card, …), the last first; never a
/// plugin's.
fn others_last_first(r: &Receipt) -> Vec<usize> {
    (0..r.tenders.len())
        .rev()
        .filter(|&i| r.tenders[i].method != "cash" && r.tenders[i].plugin.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sale::model::{Tender, Totals};
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    const EUR: Currency = Currency {
        minor: 2,
        cash_increment: None,
    };

    fn line(id: &str, kind: LineKind, amount: &str, rate: &str, plugin: &str) -> Line {
        Line {
            id: id.into(),
            kind,
            sku: String::new(),
            name: id.into(),
            qty: Decimal::ONE,
            unit_price: d(amount),
            amount: d(amount),
            tax_rate: d(rate),
            tags: Vec::new(),
            plugin: plugin.into(),
            reference: String::new(),
            applies_to: Vec::new(),
            automatic: false,
            data: serde_json::Value::Null,
            show_ref: false,
        }
    }

    fn tender(id: &str, method: &str, amount: &str, plugin: &str) -> Tender {
        let mut t = Tender::host(id, method, d(amount));
        t.plugin = plugin.into();
        t
    }

    /// A committed sale of `lines` paid by `tenders`, with the VAT table a sale gets.
    fn receipt(lines: Vec<Line>, tenders: Vec<Tender>) -> Receipt {
        let total: Decimal = lines.iter().map(|l| l.amount).sum();
        let paid: Decimal = tenders.iter().map(|t| t.amount).sum();
        // As the sale's VAT table: rates first, outside VAT last.
        let mut gross: BTreeMap<(bool, Option<Decimal>), Decimal> = BTreeMap::new();
        for l in &lines {
            let rate = vat_rate_of(l);
            *gross.entry((rate.is_none(), rate)).or_default() += l.amount;
        }
        let rows: Vec<_> = gross.into_iter().map(|((_, r), g)| (r, g)).collect();
        let vat: Vec<VatLine> = money::vat_table(&rows, 2)
            .into_iter()
            .map(VatLine::from)
            .collect();
        Receipt {
            id: "S-1-000001".into(),
            number: 1,
            kind: ReceiptKind::Sale,
            time: String::new(),
            store_id: "S".into(),
            register_id: "1".into(),
            currency: "EUR".into(),
            locale: "de".into(),
            cashier: String::new(),
            customer: String::new(),
            sale_id: "sale-1".into(),
            original: String::new(),
            totals: Totals {
                subtotal: total,
                discount: Decimal::ZERO,
                tax: vat.iter().map(|v| v.vat).sum(),
                total,
                paid,
                due: Decimal::ZERO,
                change: paid - total,
            },
            lines,
            tenders,
            vat,
            sections: Vec::new(),
            header: Vec::new(),
            footer: Vec::new(),
            day: String::new(),
            event: None,
        }
    }

    fn amounts<T>(items: &[T], f: impl Fn(&T) -> Decimal) -> Vec<String> {
        items.iter().map(|x| f(x).to_string()).collect()
    }

    #[test]
    fn a_full_void_negates_everything_and_pays_cash_back_net_of_change() {
        let original = receipt(
            vec![
                line("L1", LineKind::Item, "12.34", "20", ""),
                line("L2", LineKind::Item, "5.50", "10", ""),
            ],
            vec![tender("T1", "cash", "50.00", "")],
        );
        let void = void_of(&original, "S-1-000002", 2, &Payouts::default(), EUR).unwrap();
        assert_eq!(void.kind, ReceiptKind::Void);
        assert_eq!(void.original, original.id);
        assert_eq!(amounts(&void.lines, |l| l.amount), ["-12.34", "-5.50"]);
        assert_eq!(amounts(&void.tenders, |t| t.amount), ["-17.84"]);
        assert_eq!(
            (void.totals.total, void.totals.paid, void.totals.change),
            (d("-17.84"), d("-17.84"), Decimal::ZERO)
        );
        let negated: Vec<_> = original
            .vat
            .iter()
            .map(|v| (v.rate, -v.net, -v.vat, -v.gross))
            .collect();
        let got: Vec<_> = void
            .vat
            .iter()
            .map(|v| (v.rate, v.net, v.vat, v.gross))
            .collect();
        assert_eq!(got, negated, "the VAT table is the original's, negated");
    }

    #[test]
    fn a_partly_spent_voucher_pays_out_its_rest_and_the_card_refund_shrinks() {
        // Voucher 50 (outside VAT) and a shirt 20 at 20 %, paid by card; 40 of the voucher
        // were spent since, so it pays out 10.
        let original = receipt(
            vec![
                line("L1", LineKind::VoucherSale, "50.00", "0", "vouchers"),
                line("L2", LineKind::Item, "20.00", "20", ""),
            ],
            vec![tender("T1", "card", "70.00", "")],
        );
        let mut payouts = Payouts::default();
        payouts
            .add(&original, "vouchers", "L1", d("10.00"))
            .unwrap();
        let void = void_of(&original, "S-1-000002", 2, &payouts, EUR).unwrap();
        assert_eq!(amounts(&void.lines, |l| l.amount), ["-10.00", "-20.00"]);
        assert_eq!(
            amounts(&void.lines, |l| l.unit_price),
            ["10.00", "20.00"],
            "the payout, not the price sold for"
        );
        assert_eq!(amounts(&void.tenders, |t| t.amount), ["-30.00"]);
        assert_eq!(void.totals.total, d("-30.00"));
        assert_eq!(void.totals.subtotal, d("-30.00"));
        let vat: Vec<_> = void
            .vat
            .iter()
            .map(|v| (v.rate, v.gross.to_string(), v.vat.to_string()))
            .collect();
        assert_eq!(
            vat,
            vec![
                (Some(d("20")), "-20.00".to_string(), "-3.33".to_string()),
                (None, "-10.00".to_string(), "0.00".to_string()),
            ]
        );
        assert_eq!(void.totals.tax, d("-3.33"));
    }

    #[test]
    fn a_partly_used_single_purpose_voucher_takes_its_vat_back_only_for_the_payout() {
        let original = receipt(
            vec![
                line(
                    "L1",
                    LineKind::SinglePurposeVoucher,
                    "12.00",
                    "10",
                    "vouchers",
                ),
                line("L2", LineKind::Item, "24.00", "20", ""),
            ],
            vec![tender("T1", "card", "36.00", "")],
        );
        let mut payouts = Payouts::default();
        payouts.add(&original, "vouchers", "L1", d("5.00")).unwrap();
        let void = void_of(&original, "S-1-000002", 2, &payouts, EUR).unwrap();
        let vat: Vec<_> = void
            .vat
            .iter()
            .map(|v| (v.rate, v.gross.to_string(), v.vat.to_string()))
            .collect();
        assert_eq!(
            vat,
            vec![
                (Some(d("10")), "-5.00".to_string(), "-0.45".to_string()),
                (Some(d("20")), "-24.00".to_string(), "-4.00".to_string()),
            ]
        );
        assert_eq!(void.totals.tax, d("-4.45"));
        assert_eq!(amounts(&void.tenders, |t| t.amount), ["-29.00"]);
    }

    #[test]
    fn the_shortfall_comes_off_cash_first_and_never_off_a_plugin_tender() {
        let original = receipt(
            vec![
                line("L1", LineKind::VoucherSale, "50.00", "0", "vouchers"),
                line("L2", LineKind::Item, "30.00", "20", ""),
            ],
            vec![
                tender("T1", "voucher", "30.00", "vouchers"),
                tender("T2", "card", "45.00", ""),
                tender("T3", "cash", "5.00", ""),
            ],
        );
        let mut payouts = Payouts::default();
        payouts
            .add(&original, "vouchers", "L1", d("30.00"))
            .unwrap();
        let void = void_of(&original, "S-1-000002", 2, &payouts, EUR).unwrap();
        let tenders: Vec<_> = void
            .tenders
            .iter()
            .map(|t| (t.method.as_str(), t.amount.to_string()))
            .collect();
        assert_eq!(
            tenders,
            vec![("voucher", "-30.00".into()), ("card", "-30.00".into())],
            "cash 5 absorbs the first 5 of 20, the card the other 15; the voucher is whole"
        );
        assert_eq!(void.totals.total, d("-60.00"));
    }

    #[test]
    fn a_void_that_would_hand_back_spent_value_is_not_allowed() {
        let original = receipt(
            vec![line("L1", LineKind::VoucherSale, "50.00", "0", "vouchers")],
            vec![tender("T1", "voucher", "50.00", "vouchers")],
        );
        let mut payouts = Payouts::default();
        payouts
            .add(&original, "vouchers", "L1", d("20.00"))
            .unwrap();
        let error = void_of(&original, "S-1-000002", 2, &payouts, EUR).unwrap_err();
        assert!(
            matches!(error, ReversalError::NotAllowed { shortfall, .. } if shortfall == d("30.00")),
            "{error}"
        );
    }

    #[test]
    fn a_reduced_cash_refund_in_crowns_is_rounded_again_on_its_own_line() {
        let czk = Currency {
            minor: 2,
            cash_increment: Some(d("1")),
        };
        let mut rounding = line("R", LineKind::Rounding, "0.40", "0", "");
        rounding.name = "Rundung".into();
        let original = receipt(
            vec![
                line("L1", LineKind::Item, "99.60", "21", ""),
                line("L2", LineKind::VoucherSale, "500.00", "0", "vouchers"),
                rounding,
            ],
            vec![tender("T1", "cash", "1000.00", "")],
        );
        assert_eq!(original.totals.total, d("600.00"));
        let mut payouts = Payouts::default();
        payouts
            .add(&original, "vouchers", "L2", d("326.60"))
            .unwrap();
        let void = void_of(&original, "S-1-000002", 2, &payouts, czk).unwrap();
        assert_eq!(
            amounts(&void.lines, |l| l.amount),
            ["-99.60", "-326.60", "-0.80"],
            "the sale's rounding reversed and the refund's own, on one line"
        );
        assert_eq!(amounts(&void.tenders, |t| t.amount), ["-427.00"]);
        assert_eq!(void.totals.total, d("-427.00"));
        let gross: Decimal = void.vat.iter().map(|v| v.gross).sum();
        assert_eq!(gross, d("-427.00"), "the VAT table adds up to the total");
    }

    #[test]
    fn payouts_are_checked_against_the_receipt() {
        let original = receipt(
            vec![
                line("L1", LineKind::VoucherSale, "50.00", "0", "vouchers"),
                line("L2", LineKind::Item, "20.00", "20", ""),
            ],
            vec![tender("T1", "card", "70.00", "")],
        );
        let mut payouts = Payouts::default();
        for (plugin, line, amount, why) in [
            ("vouchers", "L9", "1.00", "no such line"),
            ("points", "L1", "1.00", "not the plugin's line"),
            ("vouchers", "L2", "1.00", "not the plugin's line"),
            ("vouchers", "L1", "50.01", "outside 0"),
            ("vouchers", "L1", "-0.01", "outside 0"),
        ] {
            let error = payouts.add(&original, plugin, line, d(amount)).unwrap_err();
            assert!(error.to_string().contains(why), "{error}");
        }
        payouts.add(&original, "vouchers", "L1", d("0")).unwrap();
        let error = payouts
            .add(&original, "vouchers", "L1", d("0"))
            .unwrap_err();
        assert!(error.to_string().contains("twice"), "{error}");
    }
}
