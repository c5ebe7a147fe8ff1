//! The rules of a sale: what a frontend may change, and how lines become totals and a VAT
//! table. Plain functions over [`Sale`]; every refusal leaves the sale unchanged.
//!
//! VAT follows EU rules for vouchers: a multi-purpose voucher sold or an eWallet topped up is
//! no taxable supply (its line is outside VAT); redeeming one is a payment (a tender) that
//! does not touch the VAT of the goods; a single-purpose voucher is taxed when sold.
//! Discounts, discount vouchers and points are price reductions: each is spread pro rata
//! over the goods it applies to, so the VAT of every rate shrinks with it.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde_json::Value;

use super::model::{Line, LineKind, Sale, SaleState, Tender, Totals, VatLine};
use crate::money::{self, MoneyError};

/// Why a change to a sale was refused; the sale is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaleError {
    /// Malformed or out-of-range input.
    #[error("{0}")]
    InvalidArgument(String),
    /// No such line or tender.
    #[error("{0}")]
    NotFound(String),
    /// The sale is no longer open.
    #[error("sale {0} is no longer open")]
    NotOpen(String),
    /// The customer can't change while an eWallet is in the basket.
    #[error("the customer can't change while an eWallet is in the basket")]
    CustomerLocked,
    /// A checkout of the sale is running; it takes no changes meanwhile.
    #[error("a checkout of sale {0} is in progress")]
    Busy(String),
    /// Checkout while something is still due.
    #[error("{0} is still due")]
    NotPaid(String),
}

impl From<MoneyError> for SaleError {
    fn from(e: MoneyError) -> Self {
        SaleError::InvalidArgument(e.to_string())
    }
}

/// Limits on what a till may be asked: a typo must not become a sale of a million items.
pub mod limits {
    use rust_decimal::Decimal;

    /// Largest quantity of a line.
    pub const MAX_QTY: Decimal = Decimal::from_parts(9999, 0, 0, false, 0);
    /// Smallest quantity of a line (weighed goods to the gram).
    pub const MIN_QTY: Decimal = Decimal::from_parts(1, 0, 0, false, 3);
    /// Largest unit price or tender.
    pub const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
    /// Lines per sale.
    pub const MAX_LINES: usize = 500;
    /// Length of names, codes and skus.
    pub const MAX_TEXT: usize = 200;
}

/// How the store's currency is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    /// Decimal places of the minor unit.
    pub minor: u32,
    /// Cash payments are rounded to a multiple of this (CZK 1.00, CHF 0.05); `None`: not.
    pub cash_increment: Option<Decimal>,
}

/// An item as a frontend adds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewItem {
    /// Article number.
    pub sku: String,
    /// Receipt text.
    pub name: String,
    /// Quantity as sent.
    pub qty: String,
    /// Gross unit price as sent.
    pub unit_price: String,
    /// VAT rate in percent as sent.
    pub tax_rate: String,
    /// Tags.
    pub tags: Vec<String>,
}

fn text(what: &str, value: &str, required: bool) -> Result<String, SaleError> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(SaleError::InvalidArgument(format!("{what} is empty")));
    }
    if value.chars().count() > limits::MAX_TEXT || value.chars().any(char::is_control) {
        return Err(SaleError::InvalidArgument(format!(
            "{what} must be at most {} printable characters",
            limits::MAX_TEXT
        )));
    }
    Ok(value.to_string())
}

fn quantity(text: &str) -> Result<Decimal, SaleError> {
    Ok(money::parse_bounded(
        "qty",
        text,
        limits::MIN_QTY,
        limits::MAX_QTY,
        3,
    )?)
}

/// Refuses a change to a sale that is no longer open.
pub fn ensure_open(sale: &Sale) -> Result<(), SaleError> {
    if sale.state == SaleState::Open {
        Ok(())
    } else {
        Err(SaleError::NotOpen(sale.id.clone()))
    }
}

/// The next free id with `prefix`: `L` for lines a frontend or a plugin's effects add, `T`
/// for tenders, `A` for automatic lines, each counted on its own, so a line's id says
/// nothing of what else happened on the sale and is never given twice in it. An id already
/// taken (a sale written when lines and tenders shared one counter) is skipped.
pub fn next_id(sale: &mut Sale, prefix: char) -> String {
    loop {
        let counter = match prefix {
            'T' => &mut sale.next_tender,
            'A' => &mut sale.next_automatic,
            _ => &mut sale.next_number,
        };
        *counter += 1;
        let id = format!("{prefix}{counter}");
        let taken =
            sale.lines.iter().any(|l| l.id == id) || sale.tenders.iter().any(|t| t.id == id);
        if !taken {
            return id;
        }
    }
}

/// The `details` keys each of the host's own tender methods takes, so that a typo is refused
/// instead of kept: `cash` none; `card` what the card terminal reports — `terminal` (its
/// id), `reference` (its transaction or authorisation reference) and `slip` (the number on
/// its slip); `voucher` its `code`. `None` for a method a plugin declares: its plugin knows
/// its keys and refuses the others in `validate_tender`.
pub fn tender_detail_keys(method: &str) -> Option<&'static [&'static str]> {
    match method {
        "cash" => Some(&[]),
        "card" => Some(&["terminal", "reference", "slip"]),
        "voucher" => Some(&["code"]),
        _ => None,
    }
}

/// Checks a tender's `details` against [`tender_detail_keys`]: an unknown key is refused
/// naming it, a value must be printable text of at most [`limits::MAX_TEXT`] characters.
pub fn check_tender_details(
    method: &str,
    details: &BTreeMap<String, String>,
) -> Result<(), SaleError> {
    let known = tender_detail_keys(method);
    for (key, value) in details {
        if let Some(known) = known
            && !known.contains(&key.as_str())
        {
            return Err(SaleError::InvalidArgument(if known.is_empty() {
                format!("unknown key {key:?} in details: a {method} tender takes no details")
            } else {
                format!(
                    "unknown key {key:?} in details: a {method} tender takes {}",
                    known.join(", ")
                )
            }));
        }
        text(&format!("details {key}"), value, false)?;
    }
    Ok(())
}

/// Adds an item line; returns its id.
pub fn add_item(sale: &mut Sale, item: &NewItem, currency: Currency) -> Result<String, SaleError> {
    ensure_open(sale)?;
    // The lines a cashier adds are limited; a plugin's automatic lines (a promotion on most
    // lines of a long basket) never keep the cashier from selling the next item.
    if sale.lines.iter().filter(|l| !l.automatic).count() >= limits::MAX_LINES {
        return Err(SaleError::InvalidArgument(format!(
            "a sale holds at most {} lines besides automatic discounts",
            limits::MAX_LINES
        )));
    }
    let name = text("name", &item.name, true)?;
    let sku = text("sku", &item.sku, false)?;
    let qty = quantity(&item.qty)?;
    let unit_price = money::parse_bounded(
        "unit_price",
        &item.unit_price,
        Decimal::ZERO,
        limits::MAX_AMOUNT,
        4,
    )?;
    let tax_rate = money::parse_bounded(
        "tax_rate",
        &item.tax_rate,
        Decimal::ZERO,
        Decimal::ONE_HUNDRED,
        2,
    )?;
    let mut tags = Vec::new();
    for tag in &item.tags {
        tags.push(text("tag", tag, true)?);
    }
    let id = next_id(sale, 'L');
    sale.lines.push(Line {
        id: id.clone(),
        kind: LineKind::Item,
        sku,
        name,
        qty,
        unit_price,
        amount: money::round(qty * unit_price, currency.minor),
        tax_rate,
        tags,
        plugin: String::new(),
        reference: String::new(),
        applies_to: Vec::new(),
        automatic: false,
        data: Value::Null,
        show_ref: false,
    });
    Ok(id)
}

/// Changes the quantity of an item line.
pub fn set_quantity(
    sale: &mut Sale,
    line_id: &str,
    qty: &str,
    currency: Currency,
) -> Result<(), SaleError> {
    ensure_open(sale)?;
    let qty = quantity(qty)?;
    let line = sale
        .lines
        .iter_mut()
        .find(|l| l.id == line_id)
        .ok_or_else(|| SaleError::NotFound(format!("no line {line_id:?} in sale {}", sale.id)))?;
    if line.kind != LineKind::Item {
        return Err(SaleError::InvalidArgument(format!(
            "line {line_id} is a {} line; only items have a quantity to change",
            line.kind.as_str()
        )));
    }
    line.qty = qty;
    line.amount = money::round(qty * line.unit_price, currency.minor);
    Ok(())
}

/// Removes a line and the reductions that applied only to it.
pub fn remove_line(sale: &mut Sale, line_id: &str) -> Result<Line, SaleError> {
    ensure_open(sale)?;
    let index = sale
        .lines
        .iter()
        .position(|l| l.id == line_id)
        .ok_or_else(|| SaleError::NotFound(format!("no line {line_id:?} in sale {}", sale.id)))?;
    if sale.lines[index].automatic {
        return Err(SaleError::InvalidArgument(format!(
            "line {line_id} is an automatic promotion; it goes when its condition does"
        )));
    }
    let removed = sale.lines.remove(index);
    sale.lines
        .retain(|l| !(l.applies_to.len() == 1 && l.applies_to[0] == removed.id));
    for line in &mut sale.lines {
        line.applies_to.retain(|id| *id != removed.id);
    }
    Ok(removed)
}

/// Puts a customer on the sale ("" clears it).
pub fn set_customer(sale: &mut Sale, customer: &str) -> Result<(), SaleError> {
    ensure_open(sale)?;
    let customer = text("customer", customer, false)?;
    if sale.customer_locked && customer != sale.customer {
        return Err(SaleError::CustomerLocked);
    }
    sale.customer = customer;
    Ok(())
}

/// Adds a payment. Cash may exceed the amount due (change is given); any other tender may
/// not: a card is charged exactly, a voucher pays at most what is due.
pub fn add_tender(
    sale: &mut Sale,
    method: &str,
    amount: &str,
    details: BTreeMap<String, String>,
    currency: Currency,
) -> Result<String, SaleError> {
    ensure_open(sale)?;
    let method = text("method", method, true)?;
    check_tender_details(&method, &details)?;
    let amount = money::parse_bounded(
        "amount",
        amount,
        Decimal::ZERO,
        limits::MAX_AMOUNT,
        currency.minor,
    )?;
    if amount.is_zero() {
        return Err(SaleError::InvalidArgument(
            "amount: a tender of 0 pays nothing".into(),
        ));
    }
    let due = totals(sale, currency).due;
    // Cash is compared with the amount due after cash rounding.
    let due_in = if method == "cash" {
        cash_due(sale, currency)
    } else {
        due
    };
    if due_in.is_zero() {
        return Err(SaleError::InvalidArgument("nothing is due".into()));
    }
    if method != "cash" && amount > due {
        return Err(SaleError::InvalidArgument(format!(
            "amount: a {method} tender of {amount} is more than the {due} due; only cash gives change"
        )));
    }
    let id = next_id(sale, 'T');
    let mut tender = Tender::host(&id, &method, amount);
    tender.details = details;
    sale.tenders.push(tender);
    Ok(id)
}

/// Removes a payment.
pub fn remove_tender(sale: &mut Sale, tender_id: &str) -> Result<Tender, SaleError> {
    ensure_open(sale)?;
    let index = sale
        .tenders
        .iter()
        .position(|t| t.id == tender_id)
        .ok_or_else(|| {
            SaleError::NotFound(format!("no tender {tender_id:?} in sale {}", sale.id))
        })?;
    Ok(sale.tenders.remove(index))
}

/// What is due in cash: the amount due after every non-cash tender, cash-rounded.
fn cash_due(sale: &Sale, currency: Currency) -> Decimal {
    let goods = lines_total(sale);
    let other: Decimal = sale
        .tenders
        .iter()
        .filter(|t| t.method != "cash")
        .map(tender_value_fn(sale, currency))
        .sum();
    let remaining = (goods - other).max(Decimal::ZERO);
    let cash_paid: Decimal = sale
        .tenders
        .iter()
        .filter(|t| t.method == "cash")
        .map(|t| t.amount)
        .sum();
    let rounded = match currency.cash_increment {
        Some(step) => money::round_to_increment(remaining, step),
        None => remaining,
    };
    (rounded - cash_paid).max(Decimal::ZERO)
}

fn lines_total(sale: &Sale) -> Decimal {
    sale.lines
        .iter()
        .filter(|l| l.kind != LineKind::Rounding)
        .map(|l| l.amount)
        .sum()
}

/// What each tender pays, in the sale's tender order. A following tender (a voucher) pays
/// what the lines still need after the fixed non-cash tenders and the following tenders
/// before it, up to its ceiling; cash pays what it says (change comes back out of it).
pub fn tender_values(sale: &Sale) -> Vec<Decimal> {
    let fixed: Decimal = sale
        .tenders
        .iter()
        .filter(|t| t.max_amount.is_none() && t.method != "cash")
        .map(|t| t.amount)
        .sum();
    let mut open = (lines_total(sale) - fixed).max(Decimal::ZERO);
    sale.tenders
        .iter()
        .map(|t| match t.max_amount {
            Some(ceiling) => {
                let pays = open.clamp(Decimal::ZERO, ceiling);
                open -= pays;
                pays
            }
            None => t.amount,
        })
        .collect()
}

/// [`tender_values`] as a lookup by tender.
fn tender_value_fn(sale: &Sale, _currency: Currency) -> impl Fn(&Tender) -> Decimal + '_ {
    let values = tender_values(sale);
    move |t: &Tender| {
        sale.tenders
            .iter()
            .position(|x| x.id == t.id)
            .map_or(t.amount, |i| values[i])
    }
}

/// The cash rounding line a sale paid (partly) in cash needs, if any: the difference
/// between the cash-rounded and the exact amount due in cash.
pub fn cash_rounding(sale: &Sale, currency: Currency) -> Option<Decimal> {
    let step = currency.cash_increment?;
    if !sale.tenders.iter().any(|t| t.method == "cash") {
        return None;
    }
    let other: Decimal = sale
        .tenders
        .iter()
        .filter(|t| t.method != "cash")
        .map(tender_value_fn(sale, currency))
        .sum();
    let remaining = (lines_total(sale) - other).max(Decimal::ZERO);
    let rounding = money::round_to_increment(remaining, step) - remaining;
    (!rounding.is_zero()).then_some(rounding)
}

/// Totals of a sale as it stands (cash rounding included when cash is tendered).
pub fn totals(sale: &Sale, currency: Currency) -> Totals {
    let subtotal: Decimal = sale
        .lines
        .iter()
        .filter(|l| !l.kind.is_reduction() && l.kind != LineKind::Rounding)
        .map(|l| l.amount)
        .sum();
    let discount: Decimal = sale
        .lines
        .iter()
        .filter(|l| l.kind.is_reduction())
        .map(|l| l.amount)
        .sum();
    let rounding = cash_rounding(sale, currency).unwrap_or_default();
    let total = lines_total(sale) + rounding;
    let value = tender_value_fn(sale, currency);
    let non_cash: Decimal = sale
        .tenders
        .iter()
        .filter(|t| t.method != "cash")
        .map(&value)
        .sum();
    let cash: Decimal = sale
        .tenders
        .iter()
        .filter(|t| t.method == "cash")
        .map(|t| t.amount)
        .sum();
    let tendered = non_cash + cash;
    let due = (total - tendered).max(Decimal::ZERO);
    let change = (tendered - total).max(Decimal::ZERO).min(cash);
    let tax = vat_lines(sale, currency).iter().map(|v| v.vat).sum();
    Totals {
        subtotal,
        discount,
        tax,
        total,
        paid: tendered - change,
        due,
        change,
    }
}

/// The VAT table: reductions spread over the goods they apply to, then one row per rate;
/// lines outside VAT (vouchers sold, top-ups, rounding) in a row of their own. The gross
/// column adds up to the total.
pub fn vat_lines(sale: &Sale, currency: Currency) -> Vec<VatLine> {
    let taxable: Vec<&Line> = sale
        .lines
        .iter()
        .filter(|l| !l.kind.is_reduction() && !l.kind.is_outside_vat())
        .collect();
    // A sale has a handful of rates: one row each, found by value (20 and 20.0 are one).
    let mut gross: Vec<(Option<Decimal>, Decimal)> = Vec::new();
    let mut add =
        |rate: Option<Decimal>, amount: Decimal| match gross.iter_mut().find(|(r, _)| *r == rate) {
            Some(row) => row.1 += amount,
            None => gross.push((rate, amount)),
        };
    for line in &taxable {
        add(Some(line.tax_rate), line.amount);
    }
    for line in sale.lines.iter().filter(|l| l.kind.is_outside_vat()) {
        add(None, line.amount);
    }
    if let Some(rounding) = cash_rounding(sale, currency) {
        add(None, rounding);
    }
    // A promotion may put a reduction on every line: its targets are looked up by id, not
    // searched for among all lines.
    let position: HashMap<&str, usize> = taxable
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.as_str(), i))
        .collect();
    for reduction in sale.lines.iter().filter(|l| l.kind.is_reduction()) {
        let mut targets: Vec<usize> = if reduction.applies_to.is_empty() {
            (0..taxable.len()).collect()
        } else {
            reduction
                .applies_to
                .iter()
                .filter_map(|id| position.get(id.as_str()).copied())
                .collect()
        };
        // In the sale's order, as the spread's remainders go.
        targets.sort_unstable();
        targets.dedup();
        if targets.is_empty() {
            add(None, reduction.amount);
            continue;
        }
        // Shares sum to the reduction: where all its targets have one rate, that rate takes
        // it whole, as the spread would give, without a division per line.
        let rate = taxable[targets[0]].tax_rate;
        if targets.iter().all(|&i| taxable[i].tax_rate == rate) {
            add(Some(rate), reduction.amount);
            continue;
        }
        let weights: Vec<Decimal> = targets.iter().map(|&i| taxable[i].amount).collect();
        for (&i, share) in
            targets
                .iter()
                .zip(money::spread(reduction.amount, &weights, currency.minor))
        {
            add(Some(taxable[i].tax_rate), share);
        }
    }
    // Rows in the order of their rates' text ("10", "20", "none"), as receipts print them.
    let key = |rate: &Option<Decimal>| {
        rate.map_or_else(|| "none".to_string(), |r| r.normalize().to_string())
    };
    gross.sort_by_cached_key(|(rate, _)| key(rate));
    money::vat_table(&gross, currency.minor)
        .into_iter()
        .map(VatLine::from)
        .collect()
}

/// Checks that a sale can be checked out: open, something in it, nothing due.
pub fn ready_for_checkout(sale: &Sale, currency: Currency) -> Result<Totals, SaleError> {
    ensure_open(sale)?;
    if sale.lines.is_empty() {
        return Err(SaleError::InvalidArgument("the sale has no lines".into()));
    }
    let totals = totals(sale, currency);
    if totals.due > Decimal::ZERO {
        return Err(SaleError::NotPaid(money::format(
            totals.due,
            currency.minor,
        )));
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const EUR: Currency = Currency {
        minor: 2,
        cash_increment: None,
    };

    fn czk() -> Currency {
        Currency {
            minor: 2,
            cash_increment: Some(Decimal::ONE),
        }
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn sale() -> Sale {
        Sale::new("S1", SaleState::Open, "anna", "2026-11-24T10:00:00Z".into())
    }

    fn item(name: &str, qty: &str, price: &str, rate: &str) -> NewItem {
        NewItem {
            sku: "4006381333931".into(),
            name: name.into(),
            qty: qty.into(),
            unit_price: price.into(),
            tax_rate: rate.into(),
            tags: vec!["group:food".into()],
        }
    }

    fn reduction(sale: &mut Sale, kind: LineKind, amount: &str, applies_to: &[&str]) {
        let id = next_id(sale, 'L');
        sale.lines.push(Line {
            id,
            kind,
            sku: String::new(),
            name: "Rabatt".into(),
            qty: Decimal::ONE,
            unit_price: d(amount),
            amount: d(amount),
            tax_rate: Decimal::ZERO,
            tags: Vec::new(),
            plugin: "codes".into(),
            reference: "XMAS20".into(),
            applies_to: applies_to.iter().map(|s| s.to_string()).collect(),
            automatic: false,
            data: Value::Null,
            show_ref: false,
        });
    }

    #[test]
    fn items_are_rounded_half_away_from_zero_and_totalled() {
        let mut s = sale();
        add_item(&mut s, &item("Käse", "0.355", "12.90", "10"), EUR).expect("add");
        assert_eq!(s.lines[0].amount, d("4.58"), "0.355 × 12.90 = 4.5795");
        add_item(&mut s, &item("Wein", "2", "7.99", "20"), EUR).expect("add");
        let t = totals(&s, EUR);
        assert_eq!(
            (t.subtotal, t.total, t.due),
            (d("20.56"), d("20.56"), d("20.56"))
        );
        let vat = vat_lines(&s, EUR);
        assert_eq!(vat.iter().map(|v| v.gross).sum::<Decimal>(), t.total);
        assert_eq!(t.tax, vat.iter().map(|v| v.vat).sum::<Decimal>());
    }

    #[test]
    fn a_sale_holds_500_lines_and_automatic_discounts_do_not_count() {
        let mut sale = sale();
        for _ in 0..limits::MAX_LINES - 1 {
            add_item(&mut sale, &item("A", "1", "1.00", "20"), EUR).expect("add");
        }
        for n in 0..50 {
            let mut auto = Line::rounding(&format!("A{n}"), d("-0.10"));
            auto.kind = LineKind::Discount;
            auto.automatic = true;
            sale.lines.push(auto);
        }
        add_item(&mut sale, &item("the 500th", "1", "1.00", "20"), EUR).expect("500th");
        let before = sale.clone();
        match add_item(&mut sale, &item("one more", "1", "1.00", "20"), EUR) {
            Err(SaleError::InvalidArgument(m)) => assert!(m.contains("at most 500 lines"), "{m}"),
            other => panic!("not refused: {other:?}"),
        }
        assert_eq!(sale, before, "nothing changed");
    }

    #[test]
    fn bad_input_is_refused_and_changes_nothing() {
        let mut s = sale();
        let cases = [
            item("X", "0", "1.00", "20"),
            item("X", "-1", "1.00", "20"),
            item("X", "100000", "1.00", "20"),
            item("X", "1", "-1.00", "20"),
            item("X", "1", "1e3", "20"),
            item("X", "1", "99999999", "20"),
            item("X", "1", "1.00", "120"),
            item("", "1", "1.00", "20"),
            item("X", "abc", "1.00", "20"),
        ];
        for case in &cases {
            assert!(
                matches!(
                    add_item(&mut s, case, EUR),
                    Err(SaleError::InvalidArgument(_))
                ),
                "{case:?}"
            );
        }
        assert!(s.lines.is_empty() && s.next_number == 0);
        let id = add_item(&mut s, &item("Brot", "1", "2.49", "10"), EUR).expect("add");
        let before = s.clone();
        assert!(matches!(
            set_quantity(&mut s, "L99", "2", EUR),
            Err(SaleError::NotFound(_))
        ));
        assert!(set_quantity(&mut s, &id, "0", EUR).is_err());
        assert!(matches!(
            remove_line(&mut s, "nope"),
            Err(SaleError::NotFound(_))
        ));
        assert!(
            add_tender(&mut s, "card", "2.50", BTreeMap::new(), EUR).is_err(),
            "card above due"
        );
        assert!(add_tender(&mut s, "cash", "0", BTreeMap::new(), EUR).is_err());
        assert_eq!(s, before);
        s.state = SaleState::Completed;
        assert!(matches!(
            add_item(&mut s, &item("X", "1", "1", "20"), EUR),
            Err(SaleError::NotOpen(_))
        ));
    }

    #[test]
    fn a_basket_discount_reduces_vat_pro_rata_and_the_table_adds_up() {
        let mut s = sale();
        add_item(&mut s, &item("Buch", "1", "10.00", "10"), EUR).expect("add");
        add_item(&mut s, &item("Spiel", "1", "20.00", "20"), EUR).expect("add");
        add_item(&mut s, &item("Karte", "1", "3.33", "20"), EUR).expect("add");
        reduction(&mut s, LineKind::Discount, "-5.00", &[]);
        let t = totals(&s, EUR);
        assert_eq!(
            (t.subtotal, t.discount, t.total),
            (d("33.33"), d("-5.00"), d("28.33"))
        );
        let vat = vat_lines(&s, EUR);
        // 5.00 spread over 10.00 / 20.00 / 3.33: 1.50, 3.00, 0.50 → 10 %: 8.50; 20 %: 19.83
        assert_eq!(vat[0].rate, Some(d("10")));
        assert_eq!(vat[0].gross, d("8.50"));
        assert_eq!(vat[1].gross, d("19.83"));
        assert_eq!(vat.iter().map(|v| v.gross).sum::<Decimal>(), t.total);
        assert!(vat.iter().all(|v| v.net + v.vat == v.gross));
    }

    #[test]
    fn vouchers_sold_carry_no_vat_and_voucher_payments_do_not_reduce_it() {
        let mut s = sale();
        add_item(&mut s, &item("Schal", "1", "24.00", "20"), EUR).expect("add");
        let id = next_id(&mut s, 'L');
        s.lines.push(Line {
            id,
            kind: LineKind::VoucherSale,
            sku: String::new(),
            name: "Gutschein".into(),
            qty: Decimal::ONE,
            unit_price: d("50.00"),
            amount: d("50.00"),
            tax_rate: d("20"),
            tags: Vec::new(),
            plugin: "vouchers".into(),
            reference: "ABCD-1234-EFGH-5678".into(),
            applies_to: Vec::new(),
            automatic: false,
            data: Value::Null,
            show_ref: false,
        });
        s.tenders.push(Tender {
            id: "T9".into(),
            method: "voucher".into(),
            amount: d("0"),
            max_amount: Some(d("20.00")),
            plugin: "vouchers".into(),
            reference: "ZZZZ-0000".into(),
            details: BTreeMap::new(),
            data: Value::Null,
        });
        let vat = vat_lines(&s, EUR);
        assert_eq!(
            vat[0],
            VatLine {
                rate: Some(d("20")),
                net: d("20.00"),
                vat: d("4.00"),
                gross: d("24.00")
            }
        );
        assert_eq!(
            vat[1],
            VatLine {
                rate: None,
                net: d("50.00"),
                vat: d("0"),
                gross: d("50.00")
            }
        );
        let t = totals(&s, EUR);
        assert_eq!(
            (t.total, t.paid, t.due, t.tax),
            (d("74.00"), d("20.00"), d("54.00"), d("4.00"))
        );
    }

    #[test]
    fn a_single_purpose_voucher_is_taxed_when_sold_and_a_discount_reaches_it_too() {
        let mut s = sale();
        add_item(&mut s, &item("Schal", "1", "24.00", "20"), EUR).expect("add");
        let id = next_id(&mut s, 'L');
        s.lines.push(Line {
            id,
            kind: LineKind::SinglePurposeVoucher,
            sku: String::new(),
            name: "Kinogutschein".into(),
            qty: Decimal::ONE,
            unit_price: d("12.00"),
            amount: d("12.00"),
            tax_rate: d("10"),
            tags: Vec::new(),
            plugin: "vouchers".into(),
            reference: "KINO-0001".into(),
            applies_to: Vec::new(),
            automatic: false,
            data: Value::Null,
            show_ref: false,
        });
        let rows = |s: &Sale| -> Vec<(Option<Decimal>, Decimal, Decimal)> {
            vat_lines(s, EUR)
                .iter()
                .map(|v| (v.rate, v.gross, v.vat))
                .collect()
        };
        assert_eq!(
            rows(&s),
            vec![
                (Some(d("10")), d("12.00"), d("1.09")),
                (Some(d("20")), d("24.00"), d("4.00")),
            ],
            "the single-purpose voucher carries its VAT like goods"
        );
        // A basket discount of 3.60 is spread over both by amount: 1.20 and 2.40.
        reduction(&mut s, LineKind::Discount, "-3.60", &[]);
        assert_eq!(
            rows(&s),
            vec![
                (Some(d("10")), d("10.80"), d("0.98")),
                (Some(d("20")), d("21.60"), d("3.60")),
            ]
        );
        let t = totals(&s, EUR);
        assert_eq!(t.total, d("32.40"));
        assert_eq!(t.tax, d("4.58"));
    }

    #[test]
    fn points_redemption_is_a_price_reduction_on_the_goods_it_applies_to() {
        let mut s = sale();
        let a = add_item(&mut s, &item("Brot", "1", "3.00", "10"), EUR).expect("add");
        add_item(&mut s, &item("Bier", "1", "3.00", "20"), EUR).expect("add");
        reduction(&mut s, LineKind::PointsRedemption, "-1.20", &[&a]);
        let vat = vat_lines(&s, EUR);
        assert_eq!(vat[0].gross, d("1.80"), "only the bread is reduced");
        assert_eq!(vat[1].gross, d("3.00"));
    }

    #[test]
    fn cash_rounding_in_czk_is_a_line_of_its_own_and_cards_are_not_rounded() {
        let mut s = sale();
        add_item(&mut s, &item("Rohlík", "3", "4.90", "12"), czk()).expect("add");
        add_item(&mut s, &item("Mléko", "1", "24.40", "12"), czk()).expect("add");
        assert_eq!(totals(&s, czk()).total, d("39.10"), "no cash tender: exact");
        add_tender(&mut s, "card", "10.00", BTreeMap::new(), czk()).expect("card");
        add_tender(&mut s, "cash", "50", BTreeMap::new(), czk()).expect("cash");
        assert_eq!(
            cash_rounding(&s, czk()),
            Some(d("-0.10")),
            "29.10 in cash → 29"
        );
        let t = totals(&s, czk());
        assert_eq!((t.total, t.due, t.change), (d("39.00"), d("0"), d("21.00")));
        assert_eq!(
            vat_lines(&s, czk())
                .iter()
                .map(|v| v.gross)
                .sum::<Decimal>(),
            t.total
        );
        ready_for_checkout(&s, czk()).expect("paid");
    }

    #[test]
    fn change_is_only_given_on_cash_and_checkout_needs_everything_paid() {
        let mut s = sale();
        add_item(&mut s, &item("Brot", "1", "2.49", "10"), EUR).expect("add");
        assert_eq!(
            ready_for_checkout(&s, EUR),
            Err(SaleError::NotPaid("2.49".into()))
        );
        add_tender(&mut s, "cash", "5.00", BTreeMap::new(), EUR).expect("cash");
        let t = totals(&s, EUR);
        assert_eq!((t.paid, t.change, t.due), (d("2.49"), d("2.51"), d("0")));
        assert!(
            add_tender(&mut s, "card", "1.00", BTreeMap::new(), EUR).is_err(),
            "nothing due"
        );
    }

    #[test]
    fn two_vouchers_share_what_is_due_in_order() {
        let mut s = sale();
        add_item(&mut s, &item("Mantel", "1", "30.00", "20"), EUR).expect("add");
        for (id, ceiling) in [("T1", "20.00"), ("T2", "20.00")] {
            s.tenders.push(Tender {
                id: id.into(),
                method: "voucher".into(),
                amount: d(ceiling),
                max_amount: Some(d(ceiling)),
                plugin: "vouchers".into(),
                reference: id.into(),
                details: BTreeMap::new(),
                data: Value::Null,
            });
        }
        assert_eq!(tender_values(&s), vec![d("20.00"), d("10.00")]);
        let t = totals(&s, EUR);
        assert_eq!((t.paid, t.due), (d("30.00"), d("0")));
    }

    #[test]
    fn lines_and_tenders_are_numbered_apart_and_no_id_is_given_twice() {
        let mut s = sale();
        let a = add_item(&mut s, &item("A", "1", "5.00", "20"), EUR).expect("add");
        add_tender(&mut s, "card", "1.00", BTreeMap::new(), EUR).expect("card");
        let b = add_item(&mut s, &item("B", "1", "5.00", "20"), EUR).expect("add");
        assert_eq!((a.as_str(), b.as_str()), ("L1", "L2"));
        assert_eq!(s.tenders[0].id, "T1");
        assert_eq!(
            next_id(&mut s, 'A'),
            "A1",
            "automatic lines count on their own"
        );
        // A sale written when lines and tenders shared one counter: its T3 is skipped.
        s.tenders[0].id = "T2".into();
        s.next_tender = 1;
        assert_eq!(next_id(&mut s, 'T'), "T3");
    }

    #[test]
    fn tender_details_take_only_the_keys_of_their_method() {
        let details = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let mut s = sale();
        add_item(&mut s, &item("A", "1", "5.00", "20"), EUR).expect("add");
        let before = s.clone();
        for (method, bad, key) in [
            ("cash", details(&[("foo", "bar")]), "\"foo\""),
            (
                "card",
                details(&[("slip", "0042"), ("pin", "1234")]),
                "\"pin\"",
            ),
            (
                "voucher",
                details(&[("code", "V-1"), ("amount", "5")]),
                "\"amount\"",
            ),
        ] {
            match add_tender(&mut s, method, "1.00", bad, EUR) {
                Err(SaleError::InvalidArgument(m)) => assert!(m.contains(key), "{m}"),
                other => panic!("{method}: {other:?}"),
            }
        }
        assert!(
            add_tender(&mut s, "card", "1.00", details(&[("slip", "a\nb")]), EUR).is_err(),
            "a value is printable text"
        );
        assert_eq!(s, before, "a refused tender changes nothing");
        let known = details(&[
            ("terminal", "T-7"),
            ("reference", "A1B2C3"),
            ("slip", "0042"),
        ]);
        let id = add_tender(&mut s, "card", "5.00", known.clone(), EUR).expect("card");
        assert_eq!(s.tenders[0].id, id);
        assert_eq!(s.tenders[0].details, known);
        assert!(
            check_tender_details("hello-points", &details(&[("anything", "x")])).is_ok(),
            "a plugin's method: its plugin checks the keys"
        );
    }

    #[test]
    fn a_locked_customer_stays() {
        let mut s = sale();
        set_customer(&mut s, "C1").expect("set");
        s.customer_locked = true;
        assert_eq!(set_customer(&mut s, "C2"), Err(SaleError::CustomerLocked));
        assert_eq!(set_customer(&mut s, ""), Err(SaleError::CustomerLocked));
        assert_eq!(s.customer, "C1");
    }

    #[test]
    fn removing_an_item_takes_its_own_reductions_along() {
        let mut s = sale();
        let a = add_item(&mut s, &item("A", "1", "5.00", "20"), EUR).expect("add");
        add_item(&mut s, &item("B", "1", "5.00", "20"), EUR).expect("add");
        reduction(&mut s, LineKind::Discount, "-1.00", &[&a]);
        remove_line(&mut s, &a).expect("remove");
        assert_eq!(s.lines.len(), 1);
        assert_eq!(totals(&s, EUR).total, d("5.00"));
    }
}
