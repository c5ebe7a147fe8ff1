//! `org.posd.Sale1` on `/org/posd/Posd1/sale/<id>`: a thin skin over [`crate::sale`].

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rust_decimal::Decimal;
use zbus::object_server::SignalEmitter;
use zbus::{OwnedVariant, Variant, as_variant, interface};

use super::BusError;
use super::changed::{LineRecords, sale_properties_changed};
use crate::money;
use crate::plugins::CallError;
use crate::sale::book::{Book, BookError, Outcome};
use crate::sale::checkout::{Journal, JournalError};
use crate::sale::engine::{self, Currency, NewItem, SaleError};
use crate::sale::model::{Line, Sale, mask};

/// A record for the bus.
pub type Record = HashMap<String, Variant<'static>>;

/// Object path of sale `id`.
pub fn object_path(id: &str) -> String {
    format!("{}/sale/{id}", super::ROOT_PATH)
}

/// The sale object.
#[derive(Debug)]
pub struct SaleObject {
    id: String,
    book: Arc<Book>,
    journal: Arc<Journal>,
    /// The bus records of the lines last announced, reused while a line is unchanged.
    records: std::sync::Mutex<LineRecords>,
}

impl SaleObject {
    /// The object of sale `id`.
    pub fn new(id: &str, book: Arc<Book>, journal: Arc<Journal>) -> Self {
        Self {
            id: id.to_string(),
            book,
            journal,
            records: Default::default(),
        }
    }

    async fn sale(&self) -> Sale {
        self.book
            .get(&self.id)
            .await
            .unwrap_or_else(|_| gone(&self.id))
    }
}

fn gone(id: &str) -> Sale {
    Sale::new(
        id,
        crate::sale::model::SaleState::Cancelled,
        "",
        String::new(),
    )
}

impl From<SaleError> for BusError {
    fn from(e: SaleError) -> Self {
        match e {
            SaleError::InvalidArgument(m) => BusError::InvalidArgument(m),
            SaleError::NotFound(m) => BusError::NotFound(m),
            SaleError::NotOpen(_) | SaleError::Busy(_) => BusError::Conflict(e.to_string()),
            SaleError::CustomerLocked => BusError::CustomerLocked(e.to_string()),
            SaleError::NotPaid(_) => BusError::NotPaid(e.to_string()),
        }
    }
}

impl From<BookError> for BusError {
    fn from(e: BookError) -> Self {
        match e {
            BookError::Sale(e) => e.into(),
            BookError::Plugin(e) => e.into(),
            BookError::NoSale(id) => BusError::NotFound(format!("no sale {id:?}")),
            BookError::Store(e) => e.into(),
            e @ BookError::NoFreshId => BusError::Internal(e.to_string()),
        }
    }
}

impl From<JournalError> for BusError {
    fn from(e: JournalError) -> Self {
        match e {
            JournalError::Book(e) => e.into(),
            JournalError::Conflict(m) => BusError::Conflict(m),
            JournalError::InsufficientBalance(m) => BusError::InsufficientBalance(m),
            JournalError::NoReceipt(id) => BusError::NotFound(format!("no receipt {id:?}")),
            JournalError::NotAllowed(m) => BusError::NotAllowed(m),
            JournalError::Store(e) => e.into(),
        }
    }
}

fn string(value: &OwnedVariant, key: &str) -> Result<String, BusError> {
    String::try_from(value.clone())
        .map_err(|_| BusError::InvalidArgument(format!("{key} must be a string")))
}

/// Reads an `a{sv}` with only `allowed` keys, each a string (or `as` for `tags`).
fn fields(
    record: &HashMap<String, OwnedVariant>,
    allowed: &[&str],
) -> Result<BTreeMap<String, OwnedVariant>, BusError> {
    let mut out = BTreeMap::new();
    for (key, value) in record {
        if !allowed.contains(&key.as_str()) {
            return Err(BusError::InvalidArgument(format!(
                "unknown key {key:?}; expected one of {}",
                allowed.join(", ")
            )));
        }
        out.insert(key.clone(), value.clone());
    }
    Ok(out)
}

/// A unit price as given: at least the currency's decimals, more when the price has them
/// (`1.2345`, at most 4 for `AddItem`), so that a frontend can recompute every line's
/// amount as round(qty × unit_price), half away from zero, as the receipt prints it.
pub fn unit_price_text(value: Decimal, minor: u32) -> String {
    money::format(value, minor.max(value.normalize().scale()))
}

/// A line as the bus shows it (`a{sv}`): serialized straight from the sale, without a
/// map of variants per line, because a basket change sends every line again.
#[derive(Debug, Clone, serde::Serialize, zbus::Type)]
#[zbus(signature = "dict")]
pub struct LineRecord<'a> {
    #[serde(with = "as_variant")]
    id: Cow<'a, str>,
    #[serde(with = "as_variant")]
    kind: Cow<'a, str>,
    #[serde(with = "as_variant")]
    sku: Cow<'a, str>,
    #[serde(with = "as_variant")]
    name: Cow<'a, str>,
    #[serde(with = "as_variant")]
    qty: String,
    #[serde(with = "as_variant")]
    unit_price: String,
    #[serde(with = "as_variant")]
    amount: String,
    #[serde(with = "as_variant")]
    tax_rate: String,
    #[serde(with = "as_variant")]
    tags: Cow<'a, [String]>,
    #[serde(with = "as_variant")]
    plugin: Cow<'a, str>,
    #[serde(rename = "ref", with = "as_variant")]
    reference: String,
}

impl LineRecord<'_> {
    /// The record holding its own strings, for a property's answer.
    pub fn into_owned(self) -> LineRecord<'static> {
        LineRecord {
            id: Cow::Owned(self.id.into_owned()),
            kind: Cow::Owned(self.kind.into_owned()),
            sku: Cow::Owned(self.sku.into_owned()),
            name: Cow::Owned(self.name.into_owned()),
            qty: self.qty,
            unit_price: self.unit_price,
            amount: self.amount,
            tax_rate: self.tax_rate,
            tags: Cow::Owned(self.tags.into_owned()),
            plugin: Cow::Owned(self.plugin.into_owned()),
            reference: self.reference,
        }
    }
}

/// A sale's lines as `aa{sv}`, borrowing from the sale.
pub fn lines_record(sale: &Sale, minor: u32) -> Vec<LineRecord<'_>> {
    sale.lines.iter().map(|l| line_record(l, minor)).collect()
}

/// One line as the bus shows it.
pub fn line_record(l: &Line, minor: u32) -> LineRecord<'_> {
    LineRecord {
        id: Cow::Borrowed(&l.id),
        kind: Cow::Borrowed(l.kind.as_str()),
        sku: Cow::Borrowed(&l.sku),
        name: Cow::Borrowed(&l.name),
        qty: l.qty.normalize().to_string(),
        unit_price: unit_price_text(l.unit_price, minor),
        amount: money::format(l.amount, minor),
        tax_rate: l.tax_rate.normalize().to_string(),
        tags: Cow::Borrowed(&l.tags),
        plugin: Cow::Borrowed(&l.plugin),
        reference: l.shown_ref(),
    }
}

/// A preview as the bus shows it: plugin, kind (earn, nudge, info), label, points and
/// amount ("" where not applicable).
#[derive(Debug, Clone, serde::Serialize, zbus::Type)]
#[zbus(signature = "dict")]
pub struct PreviewRecord {
    #[serde(with = "as_variant")]
    plugin: String,
    #[serde(with = "as_variant")]
    kind: String,
    #[serde(with = "as_variant")]
    label: String,
    #[serde(with = "as_variant")]
    points: String,
    #[serde(with = "as_variant")]
    amount: String,
}

/// A sale's previews as `aa{sv}`.
pub fn previews_record(sale: &Sale, minor: u32) -> Vec<PreviewRecord> {
    sale.previews
        .iter()
        .map(|p| PreviewRecord {
            plugin: p.plugin.clone(),
            kind: p.kind.clone(),
            label: p.label.clone(),
            points: p
                .points
                .map(|v| v.normalize().to_string())
                .unwrap_or_default(),
            amount: p
                .amount
                .map(|v| money::format(v, minor))
                .unwrap_or_default(),
        })
        .collect()
}

/// A tender as the bus shows it: id, method, amount, plugin, ref (masked).
#[derive(Debug, Clone, serde::Serialize, zbus::Type)]
#[zbus(signature = "dict")]
pub struct TenderRecord {
    #[serde(with = "as_variant")]
    id: String,
    #[serde(with = "as_variant")]
    method: String,
    #[serde(with = "as_variant")]
    amount: String,
    #[serde(with = "as_variant")]
    plugin: String,
    #[serde(rename = "ref", with = "as_variant")]
    reference: String,
}

/// A sale's tenders as `aa{sv}`.
pub fn tenders_record(sale: &Sale, minor: u32) -> Vec<TenderRecord> {
    sale.tenders
        .iter()
        .map(|t| TenderRecord {
            id: t.id.clone(),
            method: t.method.clone(),
            amount: money::format(t.amount, minor),
            plugin: t.plugin.clone(),
            reference: mask(&t.reference),
        })
        .collect()
}

/// Totals as the bus shows them (`a{sv}`).
#[derive(Debug, Clone, serde::Serialize, zbus::Type)]
#[zbus(signature = "dict")]
pub struct TotalsRecord {
    #[serde(with = "as_variant")]
    subtotal: String,
    #[serde(with = "as_variant")]
    discount: String,
    #[serde(with = "as_variant")]
    tax: String,
    #[serde(with = "as_variant")]
    total: String,
    #[serde(with = "as_variant")]
    paid: String,
    #[serde(with = "as_variant")]
    due: String,
    #[serde(with = "as_variant")]
    change: String,
}

/// Totals as `a{sv}`.
pub fn totals_record(totals: &crate::sale::model::Totals, minor: u32) -> TotalsRecord {
    let amount = |d: Decimal| money::format(d, minor);
    TotalsRecord {
        subtotal: amount(totals.subtotal),
        discount: amount(totals.discount),
        tax: amount(totals.tax),
        total: amount(totals.total),
        paid: amount(totals.paid),
        due: amount(totals.due),
        change: amount(totals.change),
    }
}

/// A typed record as a variant, for a record of records (`Manager1.GetReceipt`).
pub fn record_variant<T: serde::Serialize + zbus::Type>(record: &T) -> Variant<'static> {
    match zbus::as_variant::to_owned_variant(record) {
        Ok(v) => v.into(),
        // Strings, string lists and dicts of them always encode.
        Err(e) => Variant::from(format!("unencodable: {e}")),
    }
}

fn outcome_record(o: &Outcome) -> Record {
    let mut r = Record::new();
    r.insert("kind".into(), Variant::from(o.kind.clone()));
    r.insert("plugin".into(), Variant::from(o.plugin.clone()));
    r.insert("lines".into(), Variant::from(o.lines.clone()));
    r.insert("tenders".into(), Variant::from(o.tenders.clone()));
    r.insert("warnings".into(), Variant::from(o.warnings.clone()));
    r.insert("message".into(), Variant::from(o.message.clone()));
    r
}

/// The receipt `code` names, if it is the id of one in the journal: a receipt's number is
/// printed as its barcode, so a scan of it at the till must find the receipt, not a
/// plugin's guess.
pub async fn journal_receipt(
    journal: &Journal,
    code: &str,
) -> Result<Option<crate::sale::model::Receipt>, BusError> {
    let code = code.trim();
    if code.is_empty() {
        return Err(BusError::InvalidArgument("the code is empty".into()));
    }
    match journal.receipt(code).await {
        Ok(receipt) => Ok(Some(receipt)),
        Err(JournalError::NoReceipt(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// An `Invoke` argument as JSON, before it is checked against the action's parameters:
/// strings, booleans and integers (of any D-Bus integer type) are taken; a double is
/// refused, since decimals travel as strings, and so is anything else.
pub fn arg_json(key: &str, value: &Variant<'_>) -> Result<serde_json::Value, BusError> {
    use serde_json::Value as J;
    Ok(match value {
        Variant::Str(s) => J::String(s.as_str().to_string()),
        Variant::Bool(b) => J::Bool(*b),
        Variant::U8(n) => J::from(*n),
        Variant::I16(n) => J::from(*n),
        Variant::U16(n) => J::from(*n),
        Variant::I32(n) => J::from(*n),
        Variant::U32(n) => J::from(*n),
        Variant::I64(n) => J::from(*n),
        Variant::U64(n) => J::from(*n),
        Variant::Variant(inner) => return arg_json(key, inner),
        Variant::F64(_) => {
            return Err(BusError::InvalidArgument(format!(
                "argument {key:?}: give a decimal as a string (\"12.50\"), never a double"
            )));
        }
        _ => {
            return Err(BusError::InvalidArgument(format!(
                "argument {key:?}: give a string, a boolean or an integer"
            )));
        }
    })
}

/// How deep [`json_record`] nests records and lists before it gives the rest as JSON text
/// (D-Bus allows 32 levels of containers; the reply itself takes some).
const MAX_RESULT_DEPTH: usize = 8;

/// A plugin's `result` as the record `Invoke` answers with, so a frontend reads it like
/// every other record of the contract: strings as `s` (amounts are decimal strings in the
/// SDK already), booleans `b`, whole numbers `x`, other numbers as their decimal text `s`
/// (never a double), objects as `a{sv}`, lists as `as`, `ab`, `ax` or `aa{sv}` when their
/// elements are all of that kind and `av` otherwise; `null` values are left out. A result
/// that is not an object comes as `{"value": …}`; none at all as an empty record.
pub fn json_record(value: &serde_json::Value) -> Record {
    match value {
        serde_json::Value::Object(map) => object_record(map, 0),
        serde_json::Value::Null => Record::new(),
        other => {
            let mut r = Record::new();
            r.insert("value".into(), json_variant(other, 0));
            r
        }
    }
}

fn object_record(map: &serde_json::Map<String, serde_json::Value>, depth: usize) -> Record {
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), json_variant(v, depth + 1)))
        .collect()
}

fn json_variant(value: &serde_json::Value, depth: usize) -> Variant<'static> {
    use serde_json::Value as J;
    match value {
        J::String(s) => Variant::from(s.clone()),
        J::Bool(b) => Variant::from(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Variant::from(i),
            None => Variant::from(n.to_string()),
        },
        J::Null => Variant::from(String::new()),
        _ if depth >= MAX_RESULT_DEPTH => Variant::from(value.to_string()),
        J::Object(map) => Variant::from(object_record(map, depth)),
        J::Array(items) => {
            let items: Vec<&J> = items.iter().filter(|v| !v.is_null()).collect();
            if items.iter().all(|v| v.is_string()) {
                Variant::from(
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect::<Vec<String>>(),
                )
            } else if items.iter().all(|v| v.is_boolean()) {
                Variant::from(
                    items
                        .iter()
                        .filter_map(|v| v.as_bool())
                        .collect::<Vec<bool>>(),
                )
            } else if items.iter().all(|v| v.is_i64()) {
                Variant::from(
                    items
                        .iter()
                        .filter_map(|v| v.as_i64())
                        .collect::<Vec<i64>>(),
                )
            } else if items.iter().all(|v| v.is_object()) {
                Variant::from(
                    items
                        .iter()
                        .filter_map(|v| v.as_object().map(|m| object_record(m, depth + 1)))
                        .collect::<Vec<Record>>(),
                )
            } else {
                Variant::from(
                    items
                        .iter()
                        .map(|v| json_variant(v, depth + 1))
                        .collect::<Vec<Variant<'static>>>(),
                )
            }
        }
    }
}

/// Every property of `org.posd.Sale1` but `Lines`, as `PropertiesChanged` carries them
/// (`a{sv}`), encoded straight from the sale; `Lines` follows them, from records of the
/// lines reused while unchanged (see [`super::changed`]).
#[derive(serde::Serialize, zbus::Type)]
#[zbus(signature = "dict")]
#[serde(rename_all = "PascalCase")]
struct SaleProperties<'a> {
    #[serde(with = "as_variant")]
    state: &'a str,
    #[serde(with = "as_variant")]
    customer: &'a str,
    #[serde(with = "as_variant")]
    customer_locked: bool,
    #[serde(with = "as_variant")]
    tenders: Vec<TenderRecord>,
    #[serde(with = "as_variant")]
    totals: TotalsRecord,
    #[serde(with = "as_variant")]
    warnings: &'a [String],
    #[serde(with = "as_variant")]
    receipt_id: &'a str,
    #[serde(with = "as_variant")]
    previews: Vec<PreviewRecord>,
}

impl SaleObject {
    /// Emits one `PropertiesChanged` with every property of the sale.
    async fn announce(&self, conn: &zbus::Connection, sale: &Sale) -> zbus::Result<()> {
        conn.send(&self.announcement(conn, sale)?).await
    }

    /// Applies `change` to the sale ([`Book::change_then`]) and announces it: the
    /// `PropertiesChanged` goes out while the change commits, the answer once it is durable.
    /// A change whose commit failed is announced again as the sale still is.
    async fn change_announced<T>(
        &self,
        conn: &zbus::Connection,
        change: impl FnOnce(&mut Sale, Currency) -> Result<T, BookError>,
    ) -> Result<T, BusError> {
        let (answer, told) = self
            .book
            .change_then(&self.id, change, |sale| {
                let message = self.announcement(conn, sale);
                async move { conn.send(&message?).await }
            })
            .await?;
        told?;
        Ok(answer)
    }

    /// Prices a sale whose checkout was refused again, and announces it when that changed it:
    /// what made the checkout fail may have changed what plugins give the basket (a
    /// promotion's last use taken at another till, a limit reached), so the cashier sees
    /// what a retry would commit. A sale no longer open, or a failure to price it, leaves it
    /// as it is.
    async fn price_again(&self, conn: &zbus::Connection) {
        let open = self
            .book
            .get(&self.id)
            .await
            .is_ok_and(|s| s.state == crate::sale::model::SaleState::Open);
        if open && let Err(e) = self.change_announced(conn, |_, _| Ok(())).await {
            tracing::warn!(sale = %self.id, "pricing the sale again after a failed checkout: {e}");
        }
    }

    /// The `PropertiesChanged` [`SaleObject::announce`] sends: every property of the sale,
    /// the records of unchanged lines reused.
    fn announcement(&self, conn: &zbus::Connection, sale: &Sale) -> zbus::Result<zbus::Message> {
        let till = self.book.till();
        let minor = till.currency.minor;
        let head = SaleProperties {
            state: sale.state.as_str(),
            customer: &sale.customer,
            customer_locked: sale.customer_locked,
            tenders: tenders_record(sale, minor),
            totals: totals_record(&engine::totals(sale, till.currency), minor),
            warnings: &sale.warnings,
            receipt_id: &sale.receipt_id,
            previews: previews_record(sale, minor),
        };
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        sale_properties_changed(
            conn.unique_name().map(|n| n.as_str()),
            &object_path(&sale.id),
            "org.posd.Sale1",
            &head,
            sale,
            minor,
            &mut records,
        )
    }
}

/// `PropertiesChanged` of `org.posd.Sale1` with `changed`.
async fn properties_changed(
    emitter: &SignalEmitter<'_>,
    changed: HashMap<&str, Variant<'_>>,
) -> zbus::Result<()> {
    zbus::fdo::Properties::properties_changed(
        emitter,
        zbus::names::InterfaceName::from_static_str_unchecked("org.posd.Sale1"),
        changed,
        std::borrow::Cow::Borrowed(&[]),
    )
    .await
}

/// Emits what a checkout changes, `State` and `ReceiptId`: lines, tenders and totals stay
/// as the frontend last saw them, so they are not sent again.
async fn announce_completed(conn: &zbus::Connection, sale: &Sale) -> zbus::Result<()> {
    let path = object_path(&sale.id);
    let emitter = SignalEmitter::new(conn, path.as_str())?;
    let changed: HashMap<&str, Variant<'_>> = HashMap::from([
        ("State", Variant::from(sale.state.as_str())),
        ("ReceiptId", Variant::from(sale.receipt_id.as_str())),
    ]);
    properties_changed(&emitter, changed).await
}

#[interface(name = "org.posd.Sale1")]
impl SaleObject {
    /// Sale id.
    #[zbus(property(emits_changed_signal = "const"))]
    fn id(&self) -> String {
        self.id.clone()
    }

    /// open, completed or cancelled.
    #[zbus(property)]
    async fn state(&self) -> String {
        self.sale().await.state.as_str().into()
    }

    /// Customer id, "" for none.
    #[zbus(property)]
    async fn customer(&self) -> String {
        self.sale().await.customer
    }

    /// Whether the customer is locked (an eWallet is in the basket).
    #[zbus(property)]
    async fn customer_locked(&self) -> bool {
        self.sale().await.customer_locked
    }

    /// Lines: id, kind, sku, name, qty, unit_price (with the decimals it was given),
    /// amount, tax_rate, tags, plugin, ref (a code masked, a rule id as it is).
    #[zbus(property)]
    async fn lines(&self) -> Vec<LineRecord<'static>> {
        lines_record(&self.sale().await, self.book.till().currency.minor)
            .into_iter()
            .map(LineRecord::into_owned)
            .collect()
    }

    /// Tenders: id, method, amount, plugin, ref (masked).
    #[zbus(property)]
    async fn tenders(&self) -> Vec<TenderRecord> {
        tenders_record(&self.sale().await, self.book.till().currency.minor)
    }

    /// subtotal, discount, tax, total, paid, due, change.
    #[zbus(property)]
    async fn totals(&self) -> TotalsRecord {
        let till = self.book.till();
        totals_record(
            &engine::totals(&self.sale().await, till.currency),
            till.currency.minor,
        )
    }

    /// Warnings for the cashier.
    #[zbus(property)]
    async fn warnings(&self) -> Vec<String> {
        self.sale().await.warnings
    }

    /// The receipt id once completed, else "".
    #[zbus(property)]
    async fn receipt_id(&self) -> String {
        self.sale().await.receipt_id
    }

    /// What plugins want shown beside the basket: plugin, kind (earn, nudge, info), label,
    /// points, amount ("" where not applicable).
    #[zbus(property)]
    async fn previews(&self) -> Vec<PreviewRecord> {
        previews_record(&self.sale().await, self.book.till().currency.minor)
    }

    /// Adds an item: sku, name, qty, unit_price, tax_rate (decimal strings), tags (as).
    async fn add_item(
        &self,
        item: HashMap<String, OwnedVariant>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<String, BusError> {
        let f = fields(
            &item,
            &["sku", "name", "qty", "unit_price", "tax_rate", "tags"],
        )?;
        let get = |key: &str| {
            f.get(key)
                .map(|v| string(v, key))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        let tags = match f.get("tags") {
            Some(v) => Vec::<String>::try_from(v.clone()).map_err(|_| {
                BusError::InvalidArgument("tags must be an array of strings".into())
            })?,
            None => Vec::new(),
        };
        let new = NewItem {
            sku: get("sku")?,
            name: get("name")?,
            qty: f
                .get("qty")
                .map(|v| string(v, "qty"))
                .transpose()?
                .unwrap_or_else(|| "1".into()),
            unit_price: get("unit_price")?,
            tax_rate: get("tax_rate")?,
            tags,
        };
        self.change_announced(conn, |sale, currency| {
            Ok(engine::add_item(sale, &new, currency)?)
        })
        .await
    }

    /// Changes an item's quantity.
    async fn set_quantity(
        &self,
        line_id: &str,
        qty: &str,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        self.change_announced(conn, |s, c| Ok(engine::set_quantity(s, line_id, qty, c)?))
            .await
    }

    /// Removes a line.
    async fn remove_line(
        &self,
        line_id: &str,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        self.change_announced(
            conn,
            |s, _| Ok(engine::remove_line(s, line_id).map(|_| ())?),
        )
        .await
    }

    /// Puts a customer on the sale.
    async fn set_customer(
        &self,
        customer_id: &str,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        if customer_id.trim().is_empty() {
            return Err(BusError::InvalidArgument(
                "the customer id is empty; use ClearCustomer".into(),
            ));
        }
        self.change_announced(conn, |s, _| Ok(engine::set_customer(s, customer_id)?))
            .await
    }

    /// Takes the customer off the sale.
    async fn clear_customer(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        self.change_announced(conn, |s, _| Ok(engine::set_customer(s, "")?))
            .await
    }

    /// A scanned or typed code: voucher, eWallet, discount code, card, coupon. The number
    /// of a receipt in the journal is answered by the host before any plugin is asked
    /// (kind "receipt"; it changes nothing: returns are Manager1.Return).
    async fn enter_code(
        &self,
        code: &str,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<Record, BusError> {
        if let Some(receipt) = journal_receipt(&self.journal, code).await? {
            engine::ensure_open(&self.book.get(&self.id).await?)?;
            return Ok(outcome_record(&crate::sale::book::receipt_code_outcome(
                &receipt,
            )));
        }
        let (outcome, sale) = self.book.enter_code(&self.id, code).await?;
        self.announce(conn, &sale).await?;
        Ok(outcome_record(&outcome))
    }

    /// What plugins offer on this sale now.
    async fn actions(&self) -> Result<Vec<Record>, BusError> {
        let actions = self.book.actions(&self.id).await?;
        Ok(actions
            .into_iter()
            .map(|(plugin, a)| {
                let mut r = Record::new();
                r.insert("id".into(), Variant::from(format!("{plugin}:{}", a.id)));
                r.insert("plugin".into(), Variant::from(plugin));
                r.insert("label".into(), Variant::from(a.label));
                let params: Vec<Record> = a
                    .params
                    .into_iter()
                    .map(|p| {
                        let mut q = Record::new();
                        q.insert("name".into(), Variant::from(p.name));
                        q.insert(
                            "type".into(),
                            Variant::from(
                                serde_json::to_value(p.param_type)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_string))
                                    .unwrap_or_default(),
                            ),
                        );
                        q.insert("required".into(), Variant::from(p.required));
                        let text = |v: Option<serde_json::Value>| match v {
                            Some(serde_json::Value::String(s)) => s,
                            Some(other) => other.to_string(),
                            None => String::new(),
                        };
                        q.insert("default".into(), Variant::from(text(p.default)));
                        q.insert("suggested".into(), Variant::from(text(p.suggested)));
                        q.insert("choices".into(), Variant::from(p.choices));
                        // Beyond the contract's keys: the ABI 1.1 line saying what to give.
                        q.insert("help".into(), Variant::from(p.help));
                        q
                    })
                    .collect();
                r.insert("params".into(), Variant::from(params));
                r
            })
            .collect())
    }

    /// Runs one action with its arguments, checked against the parameters the action
    /// declared. Answers kind, plugin, lines, tenders, warnings, message and result (a
    /// record: what the plugin gave back, see [`json_record`]).
    async fn invoke(
        &self,
        action_id: &str,
        args: HashMap<String, OwnedVariant>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<Record, BusError> {
        let mut json = serde_json::Map::new();
        for (key, value) in &args {
            json.insert(key.clone(), arg_json(key, value)?);
        }
        let (outcome, sale) = self.book.invoke(&self.id, action_id, json).await?;
        self.announce(conn, &sale).await?;
        let mut record = outcome_record(&outcome);
        record.insert("result".into(), Variant::from(json_record(&outcome.result)));
        Ok(record)
    }

    /// Rewards the customer can take now: id (<plugin>:<reward>), plugin, label, amount, points.
    async fn rewards(&self) -> Result<Vec<Record>, BusError> {
        let rewards = self.book.rewards(&self.id).await?;
        Ok(rewards
            .into_iter()
            .map(|(plugin, reward)| {
                let text = |key: &str| match reward.get(key) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                let mut r = Record::new();
                r.insert(
                    "id".into(),
                    Variant::from(format!("{plugin}:{}", text("id"))),
                );
                r.insert("plugin".into(), Variant::from(plugin));
                for key in ["label", "amount", "points"] {
                    r.insert(key.into(), Variant::from(text(key)));
                }
                r
            })
            .collect())
    }

    /// Takes one reward; returns the line it added.
    async fn apply_reward(
        &self,
        reward_id: &str,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<String, BusError> {
        let (outcome, sale) = self.book.apply_reward(&self.id, reward_id).await?;
        self.announce(conn, &sale).await?;
        Ok(outcome.lines.first().cloned().unwrap_or_default())
    }

    /// Adds a payment: cash (may exceed what is due; change is given), card (at most what is
    /// due), voucher (its code), or a method a plugin declares. `details` keys: see
    /// [`engine::tender_detail_keys`]; a plugin's method takes what its plugin accepts.
    async fn add_tender(
        &self,
        method: &str,
        amount: &str,
        details: HashMap<String, OwnedVariant>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<String, BusError> {
        let mut strings = BTreeMap::new();
        for (key, value) in &details {
            strings.insert(
                key.clone(),
                String::try_from(value.clone()).map_err(|_| {
                    BusError::InvalidArgument(format!("details {key} must be a string"))
                })?,
            );
        }
        engine::check_tender_details(method, &strings)?;
        if method == "voucher" {
            let code = strings
                .get("code")
                .ok_or_else(|| {
                    BusError::InvalidArgument("a voucher tender needs its code in details".into())
                })?
                .clone();
            let (outcome, sale) = self.book.enter_code(&self.id, &code).await?;
            self.announce(conn, &sale).await?;
            return outcome.tenders.first().cloned().ok_or_else(|| {
                BusError::InvalidArgument(format!("{} is no means of payment", mask(&code)))
            });
        }
        if !matches!(method, "cash" | "card") {
            let (tender, sale) = self
                .book
                .plugin_tender(&self.id, method, amount, strings)
                .await?;
            self.announce(conn, &sale).await?;
            return Ok(tender);
        }
        let (method, amount) = (method.to_string(), amount.to_string());
        let (tender, sale) = self
            .book
            .change(&self.id, move |s, c| {
                Ok(engine::add_tender(s, &method, &amount, strings, c)?)
            })
            .await?;
        self.announce(conn, &sale).await?;
        Ok(tender)
    }

    /// Removes a payment.
    async fn remove_tender(
        &self,
        tender_id: &str,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        let tender_id = tender_id.to_string();
        let (_, sale) = self
            .book
            .change(&self.id, move |s, _| {
                Ok(engine::remove_tender(s, &tender_id).map(|_| ())?)
            })
            .await?;
        Ok(self.announce(conn, &sale).await?)
    }

    /// One atomic commit of the sale; the same key again returns the same receipt.
    async fn checkout(
        &self,
        idempotency_key: &str,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<String, BusError> {
        let (receipt, replayed) = match self.journal.checkout(&self.id, idempotency_key).await {
            Ok(done) => done,
            Err(e) => {
                // A balance or limit a plugin or the ledger refused may have moved since the
                // basket was priced; a plugin that failed would only fail (and wait) again.
                if matches!(
                    e,
                    JournalError::InsufficientBalance(_)
                        | JournalError::Book(BookError::Plugin(CallError::Refused { .. }))
                ) {
                    self.price_again(conn).await;
                }
                return Err(e.into());
            }
        };
        if replayed {
            // The first call announced it already.
            return Ok(receipt);
        }
        let sale = self.sale().await;
        announce_completed(conn, &sale).await?;
        let root = SignalEmitter::new(conn, super::ROOT_PATH)?;
        let path = zbus::ObjectPath::try_from(object_path(&self.id))?;
        super::manager::Manager::sale_completed(&root, &receipt, path).await?;
        Ok(receipt)
    }

    /// Abandons the sale; nothing is committed.
    async fn cancel(&self, #[zbus(connection)] conn: &zbus::Connection) -> Result<(), BusError> {
        let sale = self.book.cancel(&self.id).await?;
        Ok(self.announce(conn, &sale).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(text: &str) -> Decimal {
        text.parse().expect("decimal")
    }

    #[test]
    fn a_unit_price_keeps_the_decimals_it_was_given() {
        assert_eq!(unit_price_text(d("1.2345"), 2), "1.2345");
        assert_eq!(unit_price_text(d("1.2"), 2), "1.20");
        assert_eq!(
            unit_price_text(d("1.2300"), 2),
            "1.23",
            "trailing zeros add nothing"
        );
        assert_eq!(unit_price_text(d("-0.5"), 2), "-0.50");
        assert_eq!(unit_price_text(d("7"), 0), "7");
    }

    fn text(v: &Variant<'_>) -> String {
        String::try_from(v.try_clone().expect("clone")).expect("a string")
    }

    #[test]
    fn a_plugin_result_becomes_a_record_of_the_contract() {
        let record = json_record(&json!({
            "code": "GV-1", "amount": "25.00", "count": 3, "ratio": 0.5, "sold": true,
            "nothing": null, "codes": ["A", "B"], "counts": [1, 2],
            "slips": [{"code": "A", "n": 1}], "mixed": ["a", 1],
            "nested": {"inner": {"deep": "yes"}}
        }));
        assert_eq!(text(&record["code"]), "GV-1");
        assert_eq!(text(&record["amount"]), "25.00");
        assert_eq!(
            i64::try_from(record["count"].try_clone().expect("clone")).expect("x"),
            3
        );
        assert_eq!(text(&record["ratio"]), "0.5", "no double on the bus");
        assert!(bool::try_from(record["sold"].try_clone().expect("clone")).expect("b"));
        assert!(!record.contains_key("nothing"), "null is left out");
        let signature = |key: &str| record[key].value_signature().to_string();
        assert_eq!(signature("codes"), "as");
        assert_eq!(signature("counts"), "ax");
        assert_eq!(signature("slips"), "aa{sv}");
        assert_eq!(signature("mixed"), "av");
        assert_eq!(signature("nested"), "a{sv}");
        assert!(json_record(&serde_json::Value::Null).is_empty());
        let bare = json_record(&json!("GV-1"));
        assert_eq!(text(&bare["value"]), "GV-1");
        // Too deep for the bus: the rest comes as its JSON text.
        let mut deep = json!("end");
        for _ in 0..40 {
            deep = json!({ "d": deep });
        }
        let mut level = json_record(&deep);
        let mut depth = 0;
        while let Some(Variant::Dict(_)) = level.get("d").map(|v| v.try_clone().expect("clone")) {
            level = Record::try_from(level["d"].try_clone().expect("clone")).expect("record");
            depth += 1;
        }
        assert!(depth < MAX_RESULT_DEPTH + 2, "{depth}");
        assert!(text(&level["d"]).starts_with('{'));
    }
}
