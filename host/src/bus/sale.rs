//! `org.posd.Sale1` on `/org/posd/Posd1/sale/<id>`: a thin skin over [`crate::sale`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rust_decimal::Decimal;
use zbus::object_server::SignalEmitter;
use zbus::{OwnedVariant, Variant, interface};

use super::BusError;
use crate::money;
use crate::sale::book::{Book, BookError, Outcome};
use crate::sale::checkout::{Journal, JournalError};
use crate::sale::engine::{self, NewItem, SaleError};
use crate::sale::model::{Sale, mask};

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
}

impl SaleObject {
    /// The object of sale `id`.
    pub fn new(id: &str, book: Arc<Book>, journal: Arc<Journal>) -> Self {
        Self {
            id: id.to_string(),
            book,
            journal,
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

fn amount(value: Decimal, minor: u32) -> Variant<'static> {
    Variant::from(money::format(value, minor))
}

/// A sale's lines as `aa{sv}`.
pub fn lines_record(sale: &Sale, minor: u32) -> Vec<Record> {
    sale.lines
        .iter()
        .map(|l| {
            let mut r = Record::new();
            r.insert("id".into(), Variant::from(l.id.clone()));
            r.insert("kind".into(), Variant::from(l.kind.as_str().to_string()));
            r.insert("sku".into(), Variant::from(l.sku.clone()));
            r.insert("name".into(), Variant::from(l.name.clone()));
            r.insert("qty".into(), Variant::from(l.qty.normalize().to_string()));
            r.insert("unit_price".into(), amount(l.unit_price, minor));
            r.insert("amount".into(), amount(l.amount, minor));
            r.insert(
                "tax_rate".into(),
                Variant::from(l.tax_rate.normalize().to_string()),
            );
            r.insert("tags".into(), Variant::from(l.tags.clone()));
            r.insert("plugin".into(), Variant::from(l.plugin.clone()));
            r.insert("ref".into(), Variant::from(mask(&l.reference)));
            r
        })
        .collect()
}

/// A sale's tenders as `aa{sv}`.
pub fn tenders_record(sale: &Sale, minor: u32) -> Vec<Record> {
    sale.tenders
        .iter()
        .map(|t| {
            let mut r = Record::new();
            r.insert("id".into(), Variant::from(t.id.clone()));
            r.insert("method".into(), Variant::from(t.method.clone()));
            r.insert("amount".into(), amount(t.amount, minor));
            r.insert("plugin".into(), Variant::from(t.plugin.clone()));
            r.insert("ref".into(), Variant::from(mask(&t.reference)));
            r
        })
        .collect()
}

/// Totals as `a{sv}`.
pub fn totals_record(totals: &crate::sale::model::Totals, minor: u32) -> Record {
    let mut r = Record::new();
    for (key, value) in [
        ("subtotal", totals.subtotal),
        ("discount", totals.discount),
        ("tax", totals.tax),
        ("total", totals.total),
        ("paid", totals.paid),
        ("due", totals.due),
        ("change", totals.change),
    ] {
        r.insert(key.into(), amount(value, minor));
    }
    r
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

/// Emits one `PropertiesChanged` with every property of the sale.
pub async fn announce(conn: &zbus::Connection, book: &Book, sale: &Sale) -> zbus::Result<()> {
    let minor = book.till().currency.minor;
    let totals = engine::totals(sale, book.till().currency);
    let path = object_path(&sale.id);
    let emitter = SignalEmitter::new(conn, path.as_str())?;
    let lines = lines_record(sale, minor);
    let tenders = tenders_record(sale, minor);
    let totals = totals_record(&totals, minor);
    let mut changed: HashMap<&str, Variant<'_>> = HashMap::new();
    changed.insert("State", Variant::from(sale.state.as_str()));
    changed.insert("Customer", Variant::from(sale.customer.as_str()));
    changed.insert("CustomerLocked", Variant::from(sale.customer_locked));
    changed.insert("Lines", Variant::from(lines));
    changed.insert("Tenders", Variant::from(tenders));
    changed.insert("Totals", Variant::from(totals));
    changed.insert("Warnings", Variant::from(sale.warnings.clone()));
    changed.insert("ReceiptId", Variant::from(sale.receipt_id.as_str()));
    properties_changed(&emitter, changed).await
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

    /// Lines: id, kind, sku, name, qty, unit_price, amount, tax_rate, tags, plugin, ref (masked).
    #[zbus(property)]
    async fn lines(&self) -> Vec<Record> {
        lines_record(&self.sale().await, self.book.till().currency.minor)
    }

    /// Tenders: id, method, amount, plugin, ref (masked).
    #[zbus(property)]
    async fn tenders(&self) -> Vec<Record> {
        tenders_record(&self.sale().await, self.book.till().currency.minor)
    }

    /// subtotal, discount, tax, total, paid, due, change.
    #[zbus(property)]
    async fn totals(&self) -> Record {
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
        let (line, sale) = self.book.add_item(&self.id, new).await?;
        announce(conn, &self.book, &sale).await?;
        Ok(line)
    }

    /// Changes an item's quantity.
    async fn set_quantity(
        &self,
        line_id: &str,
        qty: &str,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        let (line_id, qty) = (line_id.to_string(), qty.to_string());
        let (_, sale) = self
            .book
            .change(&self.id, move |s, c| {
                Ok(engine::set_quantity(s, &line_id, &qty, c)?)
            })
            .await?;
        Ok(announce(conn, &self.book, &sale).await?)
    }

    /// Removes a line.
    async fn remove_line(
        &self,
        line_id: &str,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        let line_id = line_id.to_string();
        let (_, sale) = self
            .book
            .change(&self.id, move |s, _| {
                Ok(engine::remove_line(s, &line_id).map(|_| ())?)
            })
            .await?;
        Ok(announce(conn, &self.book, &sale).await?)
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
        let customer = customer_id.to_string();
        let (_, sale) = self
            .book
            .change(&self.id, move |s, _| {
                Ok(engine::set_customer(s, &customer)?)
            })
            .await?;
        Ok(announce(conn, &self.book, &sale).await?)
    }

    /// Takes the customer off the sale.
    async fn clear_customer(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        let (_, sale) = self
            .book
            .change(&self.id, |s, _| Ok(engine::set_customer(s, "")?))
            .await?;
        Ok(announce(conn, &self.book, &sale).await?)
    }

    /// A scanned or typed code: voucher, eWallet, discount code, card, coupon.
    async fn enter_code(
        &self,
        code: &str,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<Record, BusError> {
        let (outcome, sale) = self.book.enter_code(&self.id, code).await?;
        announce(conn, &self.book, &sale).await?;
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
                        q
                    })
                    .collect();
                r.insert("params".into(), Variant::from(params));
                r
            })
            .collect())
    }

    /// Runs one action with its arguments (strings).
    async fn invoke(
        &self,
        action_id: &str,
        args: HashMap<String, OwnedVariant>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<Record, BusError> {
        let mut json = serde_json::Map::new();
        for (key, value) in &args {
            let value = if let Ok(s) = String::try_from(value.clone()) {
                serde_json::Value::String(s)
            } else if let Ok(b) = bool::try_from(value.clone()) {
                serde_json::Value::Bool(b)
            } else if let Ok(n) = i64::try_from(value.clone()) {
                serde_json::Value::from(n)
            } else {
                return Err(BusError::InvalidArgument(format!(
                    "argument {key}: give a string, boolean or integer"
                )));
            };
            json.insert(key.clone(), value);
        }
        let (outcome, sale) = self
            .book
            .invoke(&self.id, action_id, serde_json::Value::Object(json))
            .await?;
        announce(conn, &self.book, &sale).await?;
        let mut record = outcome_record(&outcome);
        record.insert("result".into(), Variant::from(outcome.result.to_string()));
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
        announce(conn, &self.book, &sale).await?;
        Ok(outcome.lines.first().cloned().unwrap_or_default())
    }

    /// Adds a payment: cash (may exceed what is due; change is given) or card (exactly).
    async fn add_tender(
        &self,
        method: &str,
        amount: &str,
        details: HashMap<String, OwnedVariant>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<String, BusError> {
        let mut strings = BTreeMap::new();
        for (key, value) in &details {
            strings.insert(key.clone(), string(value, key)?);
        }
        if method == "voucher" {
            let code = strings
                .get("code")
                .ok_or_else(|| {
                    BusError::InvalidArgument("a voucher tender needs its code in details".into())
                })?
                .clone();
            let (outcome, sale) = self.book.enter_code(&self.id, &code).await?;
            announce(conn, &self.book, &sale).await?;
            return outcome.tenders.first().cloned().ok_or_else(|| {
                BusError::InvalidArgument(format!("{} is no means of payment", mask(&code)))
            });
        }
        if !matches!(method, "cash" | "card") {
            let (tender, sale) = self
                .book
                .plugin_tender(&self.id, method, amount, strings)
                .await?;
            announce(conn, &self.book, &sale).await?;
            return Ok(tender);
        }
        let (method, amount) = (method.to_string(), amount.to_string());
        let (tender, sale) = self
            .book
            .change(&self.id, move |s, c| {
                Ok(engine::add_tender(s, &method, &amount, strings, c)?)
            })
            .await?;
        announce(conn, &self.book, &sale).await?;
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
        Ok(announce(conn, &self.book, &sale).await?)
    }

    /// One atomic commit of the sale; the same key again returns the same receipt.
    async fn checkout(
        &self,
        idempotency_key: &str,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<String, BusError> {
        let (receipt, replayed) = self.journal.checkout(&self.id, idempotency_key).await?;
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
        Ok(announce(conn, &self.book, &sale).await?)
    }
}
