//! The sale and the receipt as data: what a frontend builds, what plugins see, what the
//! journal keeps. Plain serde types; the rules live in [`super::engine`].

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a line is. Decides its VAT treatment and whether a return may take it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// Goods or a service: taxed at its rate.
    Item,
    /// A multi-purpose voucher sold: no VAT (payment in advance), never returned.
    VoucherSale,
    /// An eWallet or voucher topped up: no VAT, never returned.
    VoucherTopup,
    /// A single-purpose voucher sold: taxed when sold, at its rate.
    SinglePurposeVoucher,
    /// A price reduction (discount code, automatic promotion): reduces the VAT base.
    Discount,
    /// A product given away by a promotion (amount 0 or negative).
    FreeProduct,
    /// Points spent as money: a price reduction, reduces the VAT base.
    PointsRedemption,
    /// Cash rounding: outside VAT.
    Rounding,
}

impl LineKind {
    /// The contract's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            LineKind::Item => "item",
            LineKind::VoucherSale => "voucher_sale",
            LineKind::VoucherTopup => "voucher_topup",
            LineKind::SinglePurposeVoucher => "single_purpose_voucher",
            LineKind::Discount => "discount",
            LineKind::FreeProduct => "free_product",
            LineKind::PointsRedemption => "points_redemption",
            LineKind::Rounding => "rounding",
        }
    }

    /// Price reductions are spread over the goods they apply to, for VAT.
    pub fn is_reduction(&self) -> bool {
        matches!(
            self,
            LineKind::Discount | LineKind::PointsRedemption | LineKind::FreeProduct
        )
    }

    /// Lines outside VAT: sold multi-purpose vouchers, top-ups, cash rounding.
    pub fn is_outside_vat(&self) -> bool {
        matches!(
            self,
            LineKind::VoucherSale | LineKind::VoucherTopup | LineKind::Rounding
        )
    }
}

/// One line of a sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// Unique within the sale: `L1`, `L2`, …
    pub id: String,
    /// What the line is.
    pub kind: LineKind,
    /// Article number.
    pub sku: String,
    /// Text on the receipt.
    pub name: String,
    /// Quantity.
    pub qty: Decimal,
    /// Gross price of one unit.
    pub unit_price: Decimal,
    /// Gross amount, rounded to the minor unit.
    pub amount: Decimal,
    /// VAT rate in percent (ignored for lines outside VAT).
    pub tax_rate: Decimal,
    /// Product groups and flags programmes match on.
    pub tags: Vec<String>,
    /// The plugin that added it, "" for the host's own.
    pub plugin: String,
    /// The code behind it (voucher, discount code), shown masked; or, when `show_ref` is
    /// set, the id of the rule behind it, shown as it is.
    #[serde(rename = "ref")]
    pub reference: String,
    /// For reductions: the lines it applies to (empty: all goods).
    pub applies_to: Vec<String>,
    /// Automatic lines of `evaluate_basket` are asked for again on every basket change; one
    /// keeps its id while its plugin answers it again (same `ref`).
    pub automatic: bool,
    /// The owning plugin's private data.
    pub data: Value,
    /// `ref` is a rule id, not a code (the plugin said `ref_kind: rule`): it is shown and
    /// printed unmasked. Absent in older documents, which are masked as before.
    #[serde(default, skip_serializing_if = "is_false")]
    pub show_ref: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl Line {
    /// `ref` as a frontend sees it and a receipt prints it: a code masked to its last four
    /// characters, a rule id as it is.
    pub fn shown_ref(&self) -> String {
        if self.show_ref {
            self.reference.clone()
        } else {
            mask(&self.reference)
        }
    }
}

impl Line {
    /// The cash rounding line of a receipt: outside VAT, one unit of `amount`.
    pub fn rounding(id: &str, amount: Decimal) -> Self {
        Self {
            id: id.to_string(),
            kind: LineKind::Rounding,
            sku: String::new(),
            name: "Rundung".into(),
            qty: Decimal::ONE,
            unit_price: amount,
            amount,
            tax_rate: Decimal::ZERO,
            tags: Vec::new(),
            plugin: String::new(),
            reference: String::new(),
            applies_to: Vec::new(),
            automatic: false,
            data: Value::Null,
            show_ref: false,
        }
    }
}

/// One tender (payment) of a sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tender {
    /// Unique within the sale: `T1`, …
    pub id: String,
    /// cash, card, voucher, credit, or a method a plugin declared.
    pub method: String,
    /// Amount tendered. For cash this may exceed what is due (change is given).
    pub amount: Decimal,
    /// For a tender that follows the amount due (a voucher): its ceiling, its balance.
    pub max_amount: Option<Decimal>,
    /// The plugin behind it, "" for cash and card.
    pub plugin: String,
    /// The code behind it, shown masked.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Extra data from the frontend (card terminal slip number) or the plugin.
    pub details: BTreeMap<String, String>,
    /// The owning plugin's private data.
    pub data: Value,
}

impl Tender {
    /// A tender the host takes itself (cash, card): no plugin, no code, no ceiling.
    pub fn host(id: &str, method: &str, amount: Decimal) -> Self {
        Self {
            id: id.to_string(),
            method: method.to_string(),
            amount,
            max_amount: None,
            plugin: String::new(),
            reference: String::new(),
            details: BTreeMap::new(),
            data: Value::Null,
        }
    }
}

/// open, completed or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleState {
    /// Being built.
    Open,
    /// Checked out; the receipt is in the journal.
    Completed,
    /// Abandoned; nothing was committed.
    Cancelled,
}

impl SaleState {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SaleState::Open => "open",
            SaleState::Completed => "completed",
            SaleState::Cancelled => "cancelled",
        }
    }
}

/// A sale as the database and the bus keep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sale {
    /// Sale id, also the object path's last element.
    pub id: String,
    /// open, completed, cancelled.
    pub state: SaleState,
    /// Cashier id from OpenSale.
    pub cashier: String,
    /// Customer id, "" for none.
    pub customer: String,
    /// The customer can't change while an eWallet is in the basket.
    pub customer_locked: bool,
    /// Lines in the order they were added.
    pub lines: Vec<Line>,
    /// Tenders in the order they were added.
    pub tenders: Vec<Tender>,
    /// Warnings for the frontend (expired voucher still usable, …).
    pub warnings: Vec<String>,
    /// Previews from plugins ("you will earn 12 points"), as `evaluate_basket` last said.
    pub previews: Vec<Preview>,
    /// The receipt, once completed.
    pub receipt_id: String,
    /// Number of the last line added by a frontend or a plugin's effects (`L<n>`).
    pub next_number: u32,
    /// Number of the last tender (`T<n>`). Older documents numbered tenders with the lines;
    /// an id already taken is skipped.
    #[serde(default)]
    pub next_tender: u32,
    /// Number of the last automatic line (`A<n>`): promotions are numbered apart from the
    /// lines a cashier adds, so item lines run L1, L2, L3 whatever promotions come and go.
    #[serde(default)]
    pub next_automatic: u32,
    /// When it was opened (RFC 3339).
    pub opened_at: String,
}

/// What a plugin wants shown beside the basket, for the cashier and the customer display
/// (`Sale1.Previews`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Preview {
    /// The plugin.
    pub plugin: String,
    /// earn (points or money the sale will earn), nudge (what more would unlock a reward)
    /// or info.
    pub kind: String,
    /// Text, in the till's locale.
    pub label: String,
    /// Points, if that is what it is about.
    pub points: Option<Decimal>,
    /// An amount, if that is what it is about.
    pub amount: Option<Decimal>,
}

impl Sale {
    /// A sale with nothing in it yet: no customer, lines, tenders or receipt.
    pub fn new(id: &str, state: SaleState, cashier: &str, opened_at: String) -> Self {
        Self {
            id: id.to_string(),
            state,
            cashier: cashier.to_string(),
            customer: String::new(),
            customer_locked: false,
            lines: Vec::new(),
            tenders: Vec::new(),
            warnings: Vec::new(),
            previews: Vec::new(),
            receipt_id: String::new(),
            next_number: 0,
            next_tender: 0,
            next_automatic: 0,
            opened_at,
        }
    }
}

/// Totals of a sale, all gross and rounded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Sum of goods and vouchers before reductions.
    pub subtotal: Decimal,
    /// Sum of reductions (negative or zero).
    pub discount: Decimal,
    /// VAT contained in the total.
    pub tax: Decimal,
    /// What the customer pays: every line, cash rounding included.
    pub total: Decimal,
    /// Sum of tenders, capped at the total for change.
    pub paid: Decimal,
    /// Still to pay (never negative).
    pub due: Decimal,
    /// Cash to hand back.
    pub change: Decimal,
}

/// One row of the VAT table of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatLine {
    /// Rate in percent, `None` for amounts outside VAT.
    pub rate: Option<Decimal>,
    /// Net.
    pub net: Decimal,
    /// VAT.
    pub vat: Decimal,
    /// Gross.
    pub gross: Decimal,
}

impl From<crate::money::VatRow> for VatLine {
    fn from(r: crate::money::VatRow) -> Self {
        Self {
            rate: r.rate,
            net: r.net,
            vat: r.vat,
            gross: r.gross,
        }
    }
}

/// A section a plugin adds to a receipt (points balance, partner confirmation), or a slip
/// printed on its own (a sold voucher with its full code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// The plugin.
    pub plugin: String,
    /// Heading.
    pub title: String,
    /// Text lines.
    pub lines: Vec<String>,
    /// Printed as a separate slip (voucher sold, topped up or redeemed).
    pub slip: bool,
    /// A barcode to print (CODE128), e.g. the voucher code on its slip.
    pub barcode: Option<String>,
    /// A QR code to print.
    pub qr: Option<String>,
    /// The code is a secret: printed in full on the slip only, masked in the journal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// What a journal entry records: a sale and its reversals, or an event of the till's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// A checkout.
    Sale,
    /// The storno of a whole receipt.
    Void,
    /// Lines taken back.
    Return,
    /// A day opened with its counted float.
    DayOpen,
    /// Cash put into the drawer (Einlage).
    CashIn,
    /// Cash taken out of the drawer (Entnahme).
    CashOut,
    /// The Z report that closed a day.
    Z,
}

impl ReceiptKind {
    /// The contract's spelling, also the `kind` column of the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::Sale => "sale",
            ReceiptKind::Void => "void",
            ReceiptKind::Return => "return",
            ReceiptKind::DayOpen => "day_open",
            ReceiptKind::CashIn => "cash_in",
            ReceiptKind::CashOut => "cash_out",
            ReceiptKind::Z => "z",
        }
    }

    /// Sales and their reversals: the receipts that carry goods, VAT and tenders.
    pub fn is_sale_or_reversal(self) -> bool {
        matches!(
            self,
            ReceiptKind::Sale | ReceiptKind::Void | ReceiptKind::Return
        )
    }
}

/// What a receipt of the till's day carries beyond its cash tender: the reason of a cash
/// movement, or the Z report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayEvent {
    /// Why cash went in or out ("Wechselgeld", "Bank").
    #[serde(default)]
    pub reason: String,
    /// The record of a Z report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<super::day::DayReport>,
}

/// A committed journal entry: immutable, numbered without gaps per register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// `<store>-<register>-<number>`, e.g. `0001-01-000042`.
    pub id: String,
    /// Gapless number within the register.
    pub number: i64,
    /// sale, void, return.
    pub kind: ReceiptKind,
    /// When it was committed: RFC 3339 in the till's local time with its offset, as printed.
    pub time: String,
    /// Store and register.
    pub store_id: String,
    /// Register.
    pub register_id: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// BCP 47 locale it is printed in.
    pub locale: String,
    /// Cashier.
    pub cashier: String,
    /// Customer, "" for none.
    pub customer: String,
    /// The sale it came from ("" for void and return).
    pub sale_id: String,
    /// For void and return: the receipt it reverses.
    pub original: String,
    /// Lines (negated for void and return).
    pub lines: Vec<Line>,
    /// Tenders (negated for void and return: money paid out).
    pub tenders: Vec<Tender>,
    /// Totals.
    pub totals: Totals,
    /// VAT table; its gross column adds up to the total.
    pub vat: Vec<VatLine>,
    /// What plugins added.
    pub sections: Vec<Section>,
    /// Receipt header and footer lines from the configuration.
    pub header: Vec<String>,
    /// Footer lines.
    pub footer: Vec<String>,
    /// The till's day the receipt belongs to ("" for receipts from before days existed).
    #[serde(default)]
    pub day: String,
    /// For receipts of the till's day: the movement's reason or the Z report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<DayEvent>,
}

/// Where a committed receipt stands after its voids and returns: what a scan of its number
/// at the till is told (`LookupCode`), by the same rules `Void` and `Return` apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    /// The void receipt that reversed it, "" if none.
    pub voided_by: String,
    /// The return receipts of it, in journal order.
    pub returns: Vec<String>,
    /// `Void` would take it: a sale with no void and no return yet.
    pub voidable: bool,
    /// `Return` would take some of it: a sale, not voided, with an item quantity left.
    pub returnable: bool,
}

impl Standing {
    /// `valid`, `partly_returned`, `returned` or `voided` for a sale; `final` for any other
    /// receipt (a void, a return, a receipt of the till's day), which nothing reverses.
    pub fn state(&self, kind: ReceiptKind) -> &'static str {
        match (kind, self.voided_by.is_empty(), self.returns.is_empty()) {
            (ReceiptKind::Sale, false, _) => "voided",
            (ReceiptKind::Sale, true, true) => "valid",
            (ReceiptKind::Sale, true, false) if self.returnable => "partly_returned",
            (ReceiptKind::Sale, true, false) => "returned",
            _ => "final",
        }
    }
}

impl Receipt {
    /// Where this receipt stands given `reversals`, its voids and returns so far.
    pub fn standing(&self, reversals: &[Receipt]) -> Standing {
        let voided_by = reversals
            .iter()
            .find(|r| r.kind == ReceiptKind::Void)
            .map(|r| r.id.clone())
            .unwrap_or_default();
        let returns: Vec<String> = reversals
            .iter()
            .filter(|r| r.kind == ReceiptKind::Return)
            .map(|r| r.id.clone())
            .collect();
        let is_sale = self.kind == ReceiptKind::Sale;
        let returned = |id: &str| -> Decimal {
            reversals
                .iter()
                .filter(|r| r.kind == ReceiptKind::Return)
                .flat_map(|r| r.lines.iter())
                .filter(|l| l.id == id)
                .map(|l| -l.qty)
                .sum()
        };
        let left = self
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Item)
            .any(|l| l.qty - returned(&l.id) > Decimal::ZERO);
        Standing {
            voidable: is_sale && reversals.is_empty(),
            returnable: is_sale && voided_by.is_empty() && left,
            voided_by,
            returns,
        }
    }
}

/// Masks a code to its last four characters, as printed and shown: `••••5678`.
pub fn mask(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() <= 4 {
        return code.to_string();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{}{tail}", "•".repeat(4))
}

#[cfg(test)]
impl Receipt {
    /// A receipt of `kind` with `lines` and nothing else, for tests.
    pub(crate) fn for_test(id: &str, kind: ReceiptKind, lines: Vec<Line>) -> Receipt {
        Receipt {
            id: id.into(),
            number: 1,
            kind,
            time: "2026-11-24T10:00:00.000+01:00".into(),
            store_id: "0001".into(),
            register_id: "01".into(),
            currency: "EUR".into(),
            locale: "de-AT".into(),
            cashier: "anna".into(),
            customer: String::new(),
            sale_id: String::new(),
            original: String::new(),
            lines,
            tenders: Vec::new(),
            totals: Totals::default(),
            vat: Vec::new(),
            sections: Vec::new(),
            header: Vec::new(),
            footer: Vec::new(),
            day: String::new(),
            event: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_ref_is_shown_as_it_is_and_anything_else_masked() {
        let mut line = Line::rounding("A1", Decimal::NEGATIVE_ONE);
        line.reference = "PROMO-EISTEE-3".into();
        assert_eq!(
            line.shown_ref(),
            "••••EE-3",
            "a ref is a code unless said otherwise"
        );
        line.show_ref = true;
        assert_eq!(line.shown_ref(), "PROMO-EISTEE-3");
        // A document written before the flag existed reads as masked.
        let mut old = serde_json::to_value(&line).expect("json");
        old.as_object_mut().expect("object").remove("show_ref");
        let read: Line = serde_json::from_value(old).expect("old line");
        assert!(!read.show_ref);
    }

    #[test]
    fn a_sale_written_before_previews_had_a_kind_still_reads() {
        let mut sale = Sale::new("S1", SaleState::Open, "anna", String::new());
        sale.next_number = 4;
        let mut doc = serde_json::to_value(&sale).expect("json");
        let object = doc.as_object_mut().expect("object");
        object.remove("next_tender");
        object.remove("next_automatic");
        object.insert(
            "previews".into(),
            serde_json::json!([{ "plugin": "points", "label": "Sie sammeln 3 Punkte",
                                 "points": "3", "amount": null }]),
        );
        let read: Sale = serde_json::from_value(doc).expect("old sale");
        assert_eq!(read.previews[0].points, Some(Decimal::from(3)));
        assert_eq!(read.previews[0].amount, None);
        assert_eq!((read.next_number, read.next_tender), (4, 0));
    }

    fn item(id: &str, qty: i64) -> Line {
        let mut line = Line::rounding(id, Decimal::ONE);
        line.kind = LineKind::Item;
        line.qty = Decimal::from(qty);
        line
    }

    #[test]
    fn a_receipt_stands_as_void_and_return_would_take_it() {
        let sale = Receipt::for_test("R1", ReceiptKind::Sale, vec![item("L1", 3), item("L2", 1)]);
        let fresh = sale.standing(&[]);
        assert!(fresh.voidable && fresh.returnable);
        assert_eq!(fresh.state(sale.kind), "valid");

        let back = |id: &str, lines: Vec<Line>| Receipt::for_test(id, ReceiptKind::Return, lines);
        let partly = [back("R2", vec![item("L1", -2)])];
        let standing = sale.standing(&partly);
        assert!(!standing.voidable, "a receipt with returns is not voided");
        assert!(standing.returnable);
        assert_eq!(standing.returns, vec!["R2".to_string()]);
        assert_eq!(standing.state(sale.kind), "partly_returned");

        let all = [
            back("R2", vec![item("L1", -2)]),
            back("R3", vec![item("L1", -1), item("L2", -1)]),
        ];
        let standing = sale.standing(&all);
        assert!(!standing.voidable && !standing.returnable);
        assert_eq!(standing.state(sale.kind), "returned");

        let voided = [Receipt::for_test("R4", ReceiptKind::Void, Vec::new())];
        let standing = sale.standing(&voided);
        assert!(!standing.voidable && !standing.returnable);
        assert_eq!(
            (standing.voided_by.as_str(), standing.state(sale.kind)),
            ("R4", "voided")
        );

        let void = Receipt::for_test("R4", ReceiptKind::Void, vec![item("L1", -3)]);
        let standing = void.standing(&[]);
        assert!(!standing.voidable && !standing.returnable);
        assert_eq!(standing.state(void.kind), "final");
    }

    #[test]
    fn codes_are_masked_to_their_last_four_characters() {
        assert_eq!(mask("ABCD-1234-EFGH-5678"), "••••5678");
        assert_eq!(mask("1234"), "1234");
        assert_eq!(mask("Příliš"), "••••íliš");
    }
}
