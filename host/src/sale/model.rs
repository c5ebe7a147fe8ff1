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
    /// The code behind it (voucher, discount code), shown masked.
    #[serde(rename = "ref")]
    pub reference: String,
    /// For reductions: the lines it applies to (empty: all goods).
    pub applies_to: Vec<String>,
    /// Automatic lines of `evaluate_basket` are replaced on every basket change.
    pub automatic: bool,
    /// The owning plugin's private data.
    pub data: Value,
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
    /// Previews from plugins ("you will earn 12 points").
    pub previews: Vec<Value>,
    /// The receipt, once completed.
    pub receipt_id: String,
    /// Next line and tender number.
    pub next_number: u32,
    /// When it was opened (RFC 3339).
    pub opened_at: String,
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
mod tests {
    use super::*;

    #[test]
    fn codes_are_masked_to_their_last_four_characters() {
        assert_eq!(mask("ABCD-1234-EFGH-5678"), "••••5678");
        assert_eq!(mask("1234"), "1234");
        assert_eq!(mask("Příliš"), "••••íliš");
    }
}
