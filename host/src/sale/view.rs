//! The sale and the receipts as a plugin sees them (ABI schema 1), serialized straight from
//! the host's own structs: a basket change asks every plugin with the whole sale, so the
//! request is written in one pass with no `serde_json::Value` tree in between.
//!
//! Each view is made for one plugin: a line's or tender's `data` is that plugin's private
//! object, so only the plugin that owns the line sees it; every other plugin sees `{}`
//! (ABI guide, "Shared views").

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use super::book::Till;
use super::engine;
use super::line_cache::LineCache;
use super::model::{Line, Receipt, Sale, Tender};
use crate::money;

/// A line's or tender's `data`: the owner's object, `{}` for anyone else.
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// The plugin asked owns the line: its object as it is.
    Own(&'a Value),
    /// Another plugin's (or the host's) line: shown as `{}`.
    Hidden,
}

impl<'a> Data<'a> {
    fn of(owner: &str, data: &'a Value, plugin: &str) -> Self {
        if owner == plugin && !owner.is_empty() {
            Data::Own(data)
        } else {
            Data::Hidden
        }
    }
}

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Data::Own(value) if !value.is_null() => value.serialize(serializer),
            _ => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

/// One line as plugins see it.
#[derive(Debug, Serialize)]
pub struct LineView<'a> {
    id: &'a str,
    kind: &'static str,
    sku: &'a str,
    name: &'a str,
    qty: String,
    unit_price: String,
    amount: String,
    tax_rate: String,
    tags: &'a [String],
    plugin: &'a str,
    #[serde(rename = "ref")]
    reference: &'a str,
    /// The goods a reduction is for (empty: every good), so a plugin that counts what was
    /// paid per good — points by product group — knows whose price it took off. Left out
    /// when empty, as it is for goods.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    applies_to: &'a [String],
    data: Data<'a>,
    /// The owner's object, shown as `data` to the owner only.
    #[serde(skip)]
    own: &'a Value,
}

impl<'a> LineView<'a> {
    fn of(l: &'a Line, minor: u32, plugin: &str) -> Self {
        LineView {
            id: &l.id,
            kind: l.kind.as_str(),
            sku: &l.sku,
            name: &l.name,
            qty: l.qty.normalize().to_string(),
            unit_price: l.unit_price.to_string(),
            amount: money::format(l.amount, minor),
            tax_rate: l.tax_rate.normalize().to_string(),
            tags: &l.tags,
            plugin: &l.plugin,
            reference: &l.reference,
            applies_to: &l.applies_to,
            data: Data::of(&l.plugin, &l.data, plugin),
            own: &l.data,
        }
    }
}

/// One tender as plugins see it.
#[derive(Debug, Serialize)]
pub struct TenderView<'a> {
    id: &'a str,
    method: &'a str,
    amount: String,
    plugin: &'a str,
    #[serde(rename = "ref")]
    reference: &'a str,
    data: Data<'a>,
    /// The owner's object, shown as `data` to the owner only.
    #[serde(skip)]
    own: &'a Value,
}

impl<'a> TenderView<'a> {
    fn of(t: &'a Tender, amount: rust_decimal::Decimal, minor: u32, plugin: &str) -> Self {
        TenderView {
            id: &t.id,
            method: &t.method,
            amount: money::format(amount, minor),
            plugin: &t.plugin,
            reference: &t.reference,
            data: Data::of(&t.plugin, &t.data, plugin),
            own: &t.data,
        }
    }
}

/// Totals as plugins see them.
#[derive(Debug, Serialize)]
pub struct TotalsView {
    subtotal: String,
    discount: String,
    tax: String,
    total: String,
    paid: String,
    due: String,
    change: String,
}

impl TotalsView {
    fn of(t: &super::model::Totals, minor: u32) -> Self {
        let amount = |d| money::format(d, minor);
        TotalsView {
            subtotal: amount(t.subtotal),
            discount: amount(t.discount),
            tax: amount(t.tax),
            total: amount(t.total),
            paid: amount(t.paid),
            due: amount(t.due),
            change: amount(t.change),
        }
    }
}

/// The open sale as plugin `plugin` sees it.
#[derive(Debug, Serialize)]
pub struct SaleView<'a> {
    id: &'a str,
    currency: &'a str,
    customer: Option<&'a str>,
    customer_groups: &'a [String],
    lines: Vec<ViewLine<'a>>,
    tenders: Vec<TenderView<'a>>,
    totals: TotalsView,
}

/// A line of a sale's view: encoded for this view, or its encoding from the last basket
/// change reused ([`LineFragments`]).
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per line and request, in one Vec: a box would cost an allocation per fresh line"
)]
enum ViewLine<'a> {
    Fresh(LineView<'a>),
    Encoded {
        line: &'a Line,
        /// The line as any plugin but its owner sees it (`data` shown as `{}`).
        hidden: &'a RawValue,
        /// What the plugin shown the view sees of the line's `data`.
        data: Data<'a>,
        minor: u32,
    },
}

impl ViewLine<'_> {
    fn owner(&self) -> (&str, &Value) {
        match self {
            ViewLine::Fresh(l) => (l.plugin, l.own),
            ViewLine::Encoded { line, .. } => (&line.plugin, &line.data),
        }
    }

    fn show_to(&mut self, plugin: &str) {
        match self {
            ViewLine::Fresh(l) => l.data = Data::of(l.plugin, l.own, plugin),
            ViewLine::Encoded { line, data, .. } => {
                *data = Data::of(&line.plugin, &line.data, plugin)
            }
        }
    }
}

impl Serialize for ViewLine<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ViewLine::Fresh(view) => view.serialize(serializer),
            // The owner of a line with data sees it: the one line encoded anew.
            ViewLine::Encoded {
                line,
                data: Data::Own(own),
                minor,
                ..
            } if !shows_empty(own) => {
                LineView::of(line, *minor, &line.plugin).serialize(serializer)
            }
            ViewLine::Encoded { hidden, .. } => hidden.serialize(serializer),
        }
    }
}

/// The lines of one sale encoded as plugins that don't own them see them, kept by line id
/// from one basket change to the next ([`LineCache`]), so that a request writes an
/// unchanged line as it is.
#[derive(Debug, Default)]
pub struct LineFragments(LineCache<Box<RawValue>>);

impl LineFragments {
    /// The encoding of each of `lines`, in order. Lines no longer seen are forgotten once
    /// they outnumber the sale's (the automatic lines, set aside while the plugins are
    /// asked, come back with the same ids). The first `trusted` lines are as they were at
    /// the last refresh ([`LineCache::refresh`]).
    pub fn refresh(
        &mut self,
        lines: &[Line],
        minor: u32,
        trusted: usize,
    ) -> serde_json::Result<Vec<&RawValue>> {
        let encoded = self
            .0
            .refresh(lines, minor, lines.len() + 16, trusted, hidden_line)?;
        Ok(encoded.into_iter().map(|raw| &**raw).collect())
    }
}

/// `line` encoded as a plugin that doesn't own it sees it.
fn hidden_line(line: &Line, minor: u32) -> serde_json::Result<Box<RawValue>> {
    serde_json::value::to_raw_value(&LineView::of(line, minor, ""))
}

/// Whether `data` shows as `{}` even to its owner.
fn shows_empty(data: &Value) -> bool {
    data.is_null() || data.as_object().is_some_and(|o| o.is_empty())
}

impl SaleView<'_> {
    /// Whether `plugin` sees this view exactly as a plugin that owns nothing in the sale
    /// does (it owns no line or tender with data): such plugins can share one encoding.
    pub fn same_for_all(&self, plugin: &str) -> bool {
        self.lines.iter().all(|l| {
            let (owner, data) = l.owner();
            owner != plugin || shows_empty(data)
        }) && self
            .tenders
            .iter()
            .all(|t| t.plugin != plugin || shows_empty(t.own))
    }

    /// Shows the view to `plugin`: each line's and tender's `data` becomes that plugin's own
    /// object or `{}`. A basket change builds one view (amounts formatted, totals computed
    /// once) and shows it to every plugin in turn.
    pub fn seen_by(&mut self, plugin: &str) -> &Self {
        for l in &mut self.lines {
            l.show_to(plugin);
        }
        for t in &mut self.tenders {
            t.data = Data::of(t.plugin, t.own, plugin);
        }
        self
    }
}

/// The open sale as plugin `plugin` sees it. A tender is shown at what it really pays: a
/// voucher following the amount due at the amount it covers, not at its balance.
pub fn sale<'a>(sale: &'a Sale, till: &'a Till, plugin: &str) -> SaleView<'a> {
    let minor = till.currency.minor;
    let lines = sale
        .lines
        .iter()
        .map(|l| ViewLine::Fresh(LineView::of(l, minor, plugin)))
        .collect();
    sale_with_lines(sale, till, plugin, lines)
}

/// [`sale`] with the lines' encodings `encoded` (from [`LineFragments::refresh`] of the
/// sale's lines, in their order) written as they are: the same request, without encoding
/// every line anew.
pub fn sale_encoded<'a>(
    sale: &'a Sale,
    till: &'a Till,
    plugin: &str,
    encoded: &'a [&'a RawValue],
) -> SaleView<'a> {
    let minor = till.currency.minor;
    // A line without an encoding (there is none when `encoded` is of other lines) is
    // encoded anew: the request is right either way.
    let lines = sale
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| match encoded.get(i) {
            Some(hidden) => ViewLine::Encoded {
                line,
                hidden,
                data: Data::of(&line.plugin, &line.data, plugin),
                minor,
            },
            None => ViewLine::Fresh(LineView::of(line, minor, plugin)),
        })
        .collect();
    sale_with_lines(sale, till, plugin, lines)
}

fn sale_with_lines<'a>(
    sale: &'a Sale,
    till: &'a Till,
    plugin: &str,
    lines: Vec<ViewLine<'a>>,
) -> SaleView<'a> {
    let minor = till.currency.minor;
    SaleView {
        id: &sale.id,
        currency: &till.currency_code,
        customer: (!sale.customer.is_empty()).then_some(sale.customer.as_str()),
        customer_groups: till.customer_groups.of(&sale.customer),
        lines,
        tenders: sale
            .tenders
            .iter()
            .zip(engine::tender_values(sale))
            .map(|(t, pays)| TenderView::of(t, pays, minor, plugin))
            .collect(),
        totals: TotalsView::of(&engine::totals(sale, till.currency), minor),
    }
}

/// A committed receipt as plugin `plugin` sees it (for a void or a return).
#[derive(Debug, Serialize)]
pub struct ReceiptView<'a> {
    id: &'a str,
    time: &'a str,
    kind: &'static str,
    customer: Option<&'a str>,
    lines: Vec<LineView<'a>>,
    tenders: Vec<TenderView<'a>>,
    totals: TotalsView,
}

/// A committed receipt as plugin `plugin` sees it.
pub fn receipt<'a>(r: &'a Receipt, minor: u32, plugin: &str) -> ReceiptView<'a> {
    ReceiptView {
        id: &r.id,
        time: &r.time,
        kind: r.kind.as_str(),
        customer: (!r.customer.is_empty()).then_some(r.customer.as_str()),
        lines: r
            .lines
            .iter()
            .map(|l| LineView::of(l, minor, plugin))
            .collect(),
        tenders: r
            .tenders
            .iter()
            .map(|t| TenderView::of(t, t.amount, minor, plugin))
            .collect(),
        totals: TotalsView::of(&r.totals, minor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sale::model::LineKind;
    use serde_json::json;

    fn till() -> Till {
        Till {
            currency: engine::Currency {
                minor: 2,
                cash_increment: None,
            },
            currency_code: "EUR".into(),
            store: json!({}),
            customer_groups: Default::default(),
        }
    }

    fn line(id: &str, plugin: &str, data: Value) -> Line {
        Line {
            id: id.into(),
            kind: LineKind::Item,
            sku: "4006381333931".into(),
            name: "Bleistift HB".into(),
            qty: "2".parse().expect("qty"),
            unit_price: "1.20".parse().expect("price"),
            amount: "2.40".parse().expect("amount"),
            tax_rate: "20".parse().expect("rate"),
            tags: vec!["office".into()],
            plugin: plugin.into(),
            reference: String::new(),
            applies_to: Vec::new(),
            automatic: false,
            data,
            show_ref: false,
        }
    }

    fn open_sale() -> Sale {
        Sale::new(
            "S-1",
            crate::sale::model::SaleState::Open,
            "anna",
            "now".into(),
        )
    }

    /// A reduction for some goods says which; goods and reductions for all say nothing.
    #[test]
    fn a_reduction_names_the_goods_it_reduces() {
        let till = till();
        let mut sale = open_sale();
        sale.lines.push(line("L1", "", Value::Null));
        sale.lines.push(line("L2", "", Value::Null));
        let mut discount = line("A1", "promotions", Value::Null);
        discount.kind = LineKind::Discount;
        discount.applies_to = vec!["L2".into()];
        sale.lines.push(discount);
        let mut everything = line("A2", "cards", Value::Null);
        everything.kind = LineKind::Discount;
        sale.lines.push(everything);
        let seen = serde_json::to_value(self::sale(&sale, &till, "points")).expect("encodes");
        assert_eq!(seen["lines"][2]["applies_to"], json!(["L2"]));
        assert!(seen["lines"][0].get("applies_to").is_none(), "{seen}");
        assert!(seen["lines"][3].get("applies_to").is_none(), "{seen}");
        let typed: posd_plugin_sdk::schema::Sale =
            serde_json::from_value(seen).expect("the SDK reads it");
        assert_eq!(typed.lines[2].applies_to, vec!["L2".to_string()]);
    }

    /// The typed view says what the schema says, and `data` only reaches its owner.
    #[test]
    fn each_plugin_sees_the_sale_with_only_its_own_data() {
        let till = till();
        let mut sale = open_sale();
        sale.customer = "C-1001".into();
        sale.lines.push(line("L1", "", Value::Null));
        sale.lines.push(line(
            "L2",
            "vouchers",
            json!({"id": "ab", "action": "sell"}),
        ));
        let seen_by =
            |plugin: &str| serde_json::to_value(self::sale(&sale, &till, plugin)).expect("encodes");
        let vouchers = seen_by("vouchers");
        assert_eq!(
            vouchers["lines"][1]["data"],
            json!({"id": "ab", "action": "sell"})
        );
        assert_eq!(vouchers["lines"][0]["data"], json!({}));
        assert_eq!(
            vouchers["lines"][0],
            json!({"id": "L1", "kind": "item", "sku": "4006381333931", "name": "Bleistift HB",
                   "qty": "2", "unit_price": "1.20", "amount": "2.40", "tax_rate": "20",
                   "tags": ["office"], "plugin": "", "ref": "", "data": {}})
        );
        assert_eq!(vouchers["customer"], "C-1001");
        assert_eq!(vouchers["currency"], "EUR");
        assert_eq!(vouchers["totals"]["total"], "4.80");
        let points = seen_by("points");
        assert_eq!(
            points["lines"][1]["data"],
            json!({}),
            "another plugin's data is hidden"
        );
        assert_eq!(points["lines"][1]["plugin"], "vouchers");
        let mut shared = self::sale(&sale, &till, "points");
        assert_eq!(
            serde_json::to_value(shared.seen_by("vouchers")).expect("encodes"),
            vouchers,
            "one view shown to another plugin is that plugin's view"
        );
        assert_eq!(
            serde_json::to_value(shared.seen_by("points")).expect("encodes"),
            points
        );
        assert!(shared.same_for_all("points"), "points owns nothing");
        assert!(
            !shared.same_for_all("vouchers"),
            "vouchers owns a line with data"
        );
        assert_eq!(
            serde_json::to_value(shared.seen_by("")).expect("encodes"),
            points,
            "the view nobody owns anything in is what points sees"
        );
        sale.lines[1].data = json!({});
        let empty = self::sale(&sale, &till, "");
        assert!(
            empty.same_for_all("vouchers"),
            "an owner whose data is empty sees what everyone sees"
        );
    }

    /// A request written from kept line encodings is the request written anew, for the
    /// owner of a line with data and for everyone else, and stays so as lines change, go
    /// and come back.
    #[test]
    fn kept_line_encodings_give_the_request_written_anew() {
        let till = till();
        let mut sale = open_sale();
        sale.lines.push(line("L1", "", Value::Null));
        sale.lines.push(line("L2", "vouchers", json!({"id": "ab"})));
        sale.lines.push(line("L3", "points", json!({})));
        let mut fragments = LineFragments::default();
        for round in 0..5 {
            match round {
                1 => sale.lines[0].qty = "3".parse().expect("qty"),
                2 => sale.lines[1].data = json!({"id": "cd"}),
                3 => {
                    sale.lines.remove(0);
                }
                4 => sale.lines.insert(0, line("L1", "", json!("back"))),
                _ => {}
            }
            let encoded = fragments.refresh(&sale.lines, 2, 0).expect("encodes");
            for plugin in ["", "vouchers", "points", "other"] {
                let fresh = serde_json::to_string(&self::sale(&sale, &till, plugin));
                let kept = serde_json::to_string(&sale_encoded(&sale, &till, plugin, &encoded));
                assert_eq!(
                    kept.expect("kept"),
                    fresh.expect("fresh"),
                    "round {round}, {plugin}"
                );
            }
            let mut shared = sale_encoded(&sale, &till, "", &encoded);
            assert_eq!(
                serde_json::to_value(shared.seen_by("vouchers")).expect("encodes"),
                serde_json::to_value(self::sale(&sale, &till, "vouchers")).expect("encodes"),
                "round {round}: a shared view shown to the owner"
            );
        }
        assert_eq!(fragments.0.len(), 3, "the line that went came back");
    }
}
