//! What the screens show of a sale and a receipt, in plain Rust: the contract's records read
//! once into structs, so drawing never touches D-Bus values and tests build views by hand.

use std::collections::HashMap;

use posd_client::values::{
    as_flag, as_record, as_records, as_string, as_strings, field, records, strings, text,
};
use zbus::OwnedVariant;

/// A record (`a{sv}`) as the client crate reads it.
pub type Record = HashMap<String, OwnedVariant>;

/// One line of a sale or receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    /// Stable line id (`Lines[].id`).
    pub id: String,
    /// item, discount, free_product, voucher_sale, points_redemption, rounding, …
    pub kind: String,
    /// Article number.
    pub sku: String,
    /// What the cashier and the customer read: the article, or a promotion's name.
    pub name: String,
    /// Quantity, decimal string.
    pub qty: String,
    /// Unit price, decimal string.
    pub unit_price: String,
    /// Line amount, decimal string (negative for a reduction).
    pub amount: String,
    /// VAT rate in percent.
    pub tax_rate: String,
    /// The plugin that made the line, "" for the cashier's own.
    pub plugin: String,
    /// The code behind the line, masked by the daemon.
    pub reference: String,
}

impl Line {
    /// Whether a plugin made the line (an automatic discount, a free product, a redemption):
    /// the cashier can't change its quantity.
    pub fn is_automatic(&self) -> bool {
        !self.plugin.is_empty() && self.kind != "item"
    }

    /// The `ref` worth showing beside the name: a voucher's or top-up's code, a redemption's
    /// account. A discount or free product is named by its promotion or code already, and its
    /// `ref` is often the plugin's own key (`MITARBEITER@10`), which means nothing to a
    /// cashier.
    pub fn shown_reference(&self) -> &str {
        match self.kind.as_str() {
            "discount" | "free_product" => "",
            _ => &self.reference,
        }
    }
}

/// One payment on a sale or receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tender {
    /// Tender id (`T1`, …).
    pub id: String,
    /// cash, card, voucher, credit, partner_points, …
    pub method: String,
    /// Amount, decimal string.
    pub amount: String,
    /// The plugin behind it.
    pub plugin: String,
    /// Masked code of a voucher or card.
    pub reference: String,
}

/// Something a plugin wants shown beside the basket (`Previews`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    /// The plugin.
    pub plugin: String,
    /// earn, nudge or info.
    pub kind: String,
    /// Text in the till's locale.
    pub label: String,
    /// Points, "" where not applicable.
    pub points: String,
    /// Amount, "" where not applicable.
    pub amount: String,
}

/// The totals of a sale (`Totals`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Before reductions.
    pub subtotal: String,
    /// Reductions (the customer's savings).
    pub discount: String,
    /// VAT in the total.
    pub tax: String,
    /// To pay.
    pub total: String,
    /// Tendered so far.
    pub paid: String,
    /// Still to pay.
    pub due: String,
    /// To give back.
    pub change: String,
}

impl Totals {
    fn from_record(r: &Record) -> Totals {
        Totals {
            subtotal: text(r, "subtotal"),
            discount: text(r, "discount"),
            tax: text(r, "tax"),
            total: text(r, "total"),
            paid: text(r, "paid"),
            due: text(r, "due"),
            change: text(r, "change"),
        }
    }
}

/// Whether a decimal string is zero ("", "0", "0.00", "-0.00").
pub fn is_zero(decimal: &str) -> bool {
    decimal
        .trim()
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
}

/// A sale as its object shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaleView {
    /// The sale's id.
    pub id: String,
    /// open, completed or cancelled.
    pub state: String,
    /// Customer id, "" for none.
    pub customer: String,
    /// Whether the customer can't change now.
    pub customer_locked: bool,
    /// The lines, in order.
    pub lines: Vec<Line>,
    /// The payments.
    pub tenders: Vec<Tender>,
    /// The totals.
    pub totals: Totals,
    /// Plugins' previews.
    pub previews: Vec<Preview>,
    /// Warnings of the sale.
    pub warnings: Vec<String>,
    /// The receipt once completed.
    pub receipt_id: String,
}

impl SaleView {
    /// Takes in the properties of a `GetAll` or a `PropertiesChanged`; unknown ones are
    /// ignored (the contract may add some).
    pub fn apply(&mut self, changed: &HashMap<String, OwnedVariant>) {
        for (name, value) in changed {
            match name.as_str() {
                "Id" => self.id = as_string(value),
                "State" => self.state = as_string(value),
                "Customer" => self.customer = as_string(value),
                "CustomerLocked" => self.customer_locked = as_flag(value),
                "ReceiptId" => self.receipt_id = as_string(value),
                "Warnings" => self.warnings = as_strings(value),
                "Lines" => self.lines = as_records(value).iter().map(line).collect(),
                "Tenders" => self.tenders = as_records(value).iter().map(tender).collect(),
                "Previews" => self.previews = as_records(value).iter().map(preview).collect(),
                "Totals" => {
                    if let Some(r) = as_record(value) {
                        self.totals = Totals::from_record(&r);
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether the sale takes changes.
    pub fn is_open(&self) -> bool {
        self.state == "open"
    }
}

/// A line record.
pub fn line(r: &Record) -> Line {
    Line {
        id: field(r, "id"),
        kind: field(r, "kind"),
        sku: field(r, "sku"),
        name: field(r, "name"),
        qty: text(r, "qty"),
        unit_price: text(r, "unit_price"),
        amount: text(r, "amount"),
        tax_rate: text(r, "tax_rate"),
        plugin: field(r, "plugin"),
        reference: field(r, "ref"),
    }
}

/// A tender record.
pub fn tender(r: &Record) -> Tender {
    Tender {
        id: field(r, "id"),
        method: field(r, "method"),
        amount: text(r, "amount"),
        plugin: field(r, "plugin"),
        reference: field(r, "ref"),
    }
}

fn preview(r: &Record) -> Preview {
    Preview {
        plugin: field(r, "plugin"),
        kind: field(r, "kind"),
        label: field(r, "label"),
        points: text(r, "points"),
        amount: text(r, "amount"),
    }
}

/// A committed receipt (`GetReceipt`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptView {
    /// Receipt id.
    pub id: String,
    /// sale, void, return, …
    pub kind: String,
    /// When it was committed.
    pub time: String,
    /// Lines.
    pub lines: Vec<Line>,
    /// Payments (or refunds).
    pub tenders: Vec<Tender>,
    /// Totals.
    pub totals: Totals,
    /// Customer id.
    pub customer: String,
    /// What plugins added (points balances, voucher slips, partner confirmation), as text
    /// lines ready to show.
    pub sections: Vec<String>,
}

impl ReceiptView {
    /// Reads a `GetReceipt` record.
    pub fn from_record(r: &Record) -> ReceiptView {
        let totals = r
            .get("totals")
            .and_then(|v| as_record(v))
            .map(|t| Totals::from_record(&t))
            .unwrap_or_default();
        ReceiptView {
            id: field(r, "id"),
            kind: field(r, "kind"),
            time: field(r, "time"),
            lines: records(r, "lines").iter().map(line).collect(),
            tenders: records(r, "tenders").iter().map(tender).collect(),
            totals,
            customer: field(r, "customer"),
            sections: records(r, "sections")
                .iter()
                .flat_map(section_text)
                .collect(),
        }
    }
}

/// A receipt section (`title s`, `lines as`, the slip's masked `code`) as lines of text.
fn section_text(r: &Record) -> Vec<String> {
    let mut out = Vec::new();
    let title = field(r, "title");
    if !title.is_empty() {
        out.push(title);
    }
    out.extend(strings(r, "lines"));
    let code = field(r, "code");
    if !code.is_empty() {
        out.push(code);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(v: zbus::Variant<'_>) -> OwnedVariant {
        OwnedVariant::try_from(v).expect("owned")
    }

    #[test]
    fn properties_changed_update_only_what_they_name() {
        let mut sale = SaleView {
            customer: "C-1".into(),
            ..SaleView::default()
        };
        let totals = HashMap::from([("total", "4.98"), ("due", "0.00")]);
        sale.apply(&HashMap::from([
            ("State".to_string(), owned(zbus::Variant::from("open"))),
            ("Totals".to_string(), owned(zbus::Variant::from(totals))),
        ]));
        assert_eq!(sale.state, "open");
        assert_eq!(sale.customer, "C-1");
        assert_eq!(sale.totals.total, "4.98");
        assert!(is_zero(&sale.totals.due));
    }

    #[test]
    fn zero_is_any_spelling_of_nothing() {
        for zero in ["", "0", "0.00", "-0.00"] {
            assert!(is_zero(zero), "{zero}");
        }
        for some in ["0.01", "-1.00", "10"] {
            assert!(!is_zero(some), "{some}");
        }
    }
}
