//! The till's one connection to posd: it runs the cashier's requests one at a time, in the
//! order given, and reports the current sale whenever its object says it changed.
//!
//! The screen never waits on the bus: [`App`](crate::app::App) hands a [`Request`] over and
//! goes on drawing; the answer comes back as an [`Event`]. The sale is followed through
//! `PropertiesChanged`, never polled. Requests that a frontend may retry after a timeout
//! (checkout, void, return) carry an idempotency key kept on disk until answered
//! ([`crate::state`]).

use std::collections::HashMap;

use posd_client::values::{field, records, strings};
use posd_client::{Manager1Proxy, Sale1Proxy, error_reply};
use tokio::sync::mpsc;
use zbus::OwnedObjectPath;
use zbus::Variant;

use crate::catalogue::Product;
use crate::state::Store;
use crate::view::{ReceiptView, Record, SaleView};

/// What the cashier asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A catalogue product, `qty` times.
    AddProduct {
        /// The product.
        product: Product,
        /// Quantity, decimal string.
        qty: String,
    },
    /// Anything else typed or scanned.
    EnterCode(String),
    /// A line's new quantity.
    SetQuantity {
        /// Line id.
        line: String,
        /// Decimal string.
        qty: String,
    },
    /// Take a line off.
    RemoveLine(String),
    /// Take a payment off.
    RemoveTender(String),
    /// Put a customer on the sale ("" takes the customer off).
    SetCustomer(String),
    /// What plugins offer now.
    Actions,
    /// Run an action with its arguments (all as strings, as the contract allows).
    Invoke {
        /// Action id.
        action: String,
        /// Argument name and value.
        args: Vec<(String, String)>,
    },
    /// Rewards the customer can take.
    Rewards,
    /// Take one.
    ApplyReward(String),
    /// Pay.
    AddTender {
        /// cash, card, voucher, credit, partner_points, …
        method: String,
        /// Decimal string.
        amount: String,
        /// Details (the voucher's `code`).
        details: Vec<(String, String)>,
    },
    /// Commit the sale.
    Checkout,
    /// Abandon the sale.
    Cancel,
    /// Show a receipt.
    GetReceipt(String),
    /// Print it again.
    Reprint(String),
    /// Storno of a receipt.
    Void(String),
    /// Take lines of a receipt back: line id and quantity.
    Return {
        /// The receipt.
        receipt: String,
        /// Line id and quantity.
        lines: Vec<(String, String)>,
    },
}

/// One action a plugin offers (`Actions()`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Action {
    /// `<plugin>:<action>`.
    pub id: String,
    /// The plugin.
    pub plugin: String,
    /// Button text.
    pub label: String,
    /// Its dialog's fields.
    pub params: Vec<Param>,
}

/// One parameter of an action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Param {
    /// Argument name.
    pub name: String,
    /// string, code, choice, decimal, integer, boolean.
    pub kind: String,
    /// Whether it must be given.
    pub required: bool,
    /// Value used when none is given.
    pub default: String,
    /// What the plugin proposes for this sale (e.g. the most points usable).
    pub suggested: String,
    /// The values of a choice.
    pub choices: Vec<String>,
    /// One line saying what to give (ABI 1.1 `help`; "" when the plugin gives none).
    pub help: String,
}

/// One reward the customer can take (`Rewards()`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reward {
    /// `<plugin>:<reward>`.
    pub id: String,
    /// The plugin.
    pub plugin: String,
    /// What it is.
    pub label: String,
    /// Its value, decimal string or "".
    pub amount: String,
    /// Points it costs, or "".
    pub points: String,
}

/// What the daemon answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A line was added or changed.
    Line,
    /// A code, an action or a reward was taken: its message and warnings, and what an
    /// action gave back, as `key: value` lines.
    Taken {
        /// The plugin's message.
        message: String,
        /// Warnings that did not stop it.
        warnings: Vec<String>,
        /// An action's result.
        result: Vec<String>,
        /// A payment it put on (a voucher) left nothing due: time to check out.
        settled: bool,
    },
    /// The offered actions.
    Actions(Vec<Action>),
    /// The offered rewards.
    Rewards(Vec<Reward>),
    /// A payment went on; whether anything is still due.
    Tendered {
        /// Nothing left to pay: time to check out.
        settled: bool,
    },
    /// A payment came off.
    TenderRemoved,
    /// The customer changed.
    Customer(String),
    /// The sale was committed.
    Completed(ReceiptView),
    /// The sale was abandoned.
    Cancelled,
    /// A receipt to show.
    Receipt(ReceiptView),
    /// A print job was queued.
    Printing(String),
    /// A storno receipt.
    Voided(ReceiptView),
    /// A return receipt and the daemon's messages about it.
    Returned(ReceiptView, Vec<String>),
}

/// What the worker tells the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Connected: the daemon's identity.
    Connected {
        /// Store and register, for the header.
        till: String,
        /// BCP 47 locale of the store.
        locale: String,
        /// ISO 4217 currency.
        currency: String,
    },
    /// The current sale as it stands, or `None` between sales.
    Sale(Option<SaleView>),
    /// A request was answered.
    Done(Outcome),
    /// A request failed with a named error (or a transport failure, named by zbus).
    Failed {
        /// Error name.
        name: String,
        /// The daemon's message.
        message: String,
        /// Whether the answer never came (timeout, lost bus): a keyed request may then
        /// have been carried out, and is retried with its key.
        unanswered: bool,
    },
    /// A code came from a scanner (`Scanner1.Scanned`).
    Scanned(String),
    /// Printer state worth a warning ("Paper near end"), by device; empty when all is well.
    Printer(Vec<&'static str>),
    /// The remembered sale was open at start and is taken up again.
    Resumed(String),
    /// The remembered sale was checked out before the till went down: its receipt.
    Recovered(ReceiptView),
    /// The last receipt completed at this till, remembered from before.
    LastReceipt(String),
    /// The daemon could not be reached at start.
    Unreachable {
        /// Error name.
        name: String,
        /// Why.
        message: String,
    },
}

/// A failed call.
#[derive(Debug)]
struct Failure {
    name: String,
    message: String,
    unanswered: bool,
}

impl From<zbus::Error> for Failure {
    fn from(e: zbus::Error) -> Failure {
        match error_reply(&e) {
            Some((name, message)) => Failure {
                unanswered: name.ends_with("NoReply") || name.ends_with("Timeout"),
                name,
                message,
            },
            None => Failure {
                name: "org.freedesktop.DBus.Error.Disconnected".into(),
                message: e.to_string(),
                unanswered: true,
            },
        }
    }
}

impl From<crate::state::StateError> for Failure {
    fn from(e: crate::state::StateError) -> Failure {
        Failure {
            name: "org.posd.Till.StateUnwritable".into(),
            message: e.to_string(),
            unanswered: false,
        }
    }
}

/// The worker: owns the connection and the current sale.
pub struct Link {
    conn: zbus::Connection,
    store: Store,
    cashier: String,
    events: mpsc::UnboundedSender<Event>,
    sale: Option<Sale1Proxy<'static>>,
    watcher: Option<tokio::task::JoinHandle<()>>,
}

impl Link {
    /// A worker on `conn` remembering its state in `store`.
    pub fn new(
        conn: zbus::Connection,
        store: Store,
        cashier: String,
        events: mpsc::UnboundedSender<Event>,
    ) -> Link {
        Link {
            conn,
            store,
            cashier,
            events,
            sale: None,
            watcher: None,
        }
    }

    /// Runs until the screen goes away: announces the daemon, resumes the remembered sale,
    /// follows scanners and printers, then serves requests in order.
    pub async fn run(mut self, mut requests: mpsc::UnboundedReceiver<Request>) {
        if let Err(f) = self.start().await {
            self.send(Event::Unreachable {
                name: f.name,
                message: f.message,
            });
        }
        while let Some(request) = requests.recv().await {
            let result = self.serve(request).await;
            match result {
                Ok(outcome) => self.send(Event::Done(outcome)),
                Err(f) => self.fail(f),
            }
        }
    }

    fn send(&self, event: Event) {
        let _ = self.events.send(event);
    }

    fn fail(&self, f: Failure) {
        self.send(Event::Failed {
            name: f.name,
            message: f.message,
            unanswered: f.unanswered,
        });
    }

    async fn start(&mut self) -> Result<(), Failure> {
        let manager = Manager1Proxy::new(&self.conn).await?;
        let store = manager.store_id().await.unwrap_or_default();
        let register = manager.register_id().await.unwrap_or_default();
        self.send(Event::Connected {
            till: format!("{store}/{register}"),
            locale: manager.locale().await.unwrap_or_default(),
            currency: manager.currency().await.unwrap_or_default(),
        });
        crate::watch::scanners(&self.conn, self.events.clone()).await;
        crate::watch::printers(&self.conn, self.events.clone()).await;
        let last = self.store.get().last_receipt.clone();
        if !last.is_empty() {
            self.send(Event::LastReceipt(last));
        }
        let remembered = self.store.get().sale.clone();
        if remembered.is_empty() {
            self.send(Event::Sale(None));
            return Ok(());
        }
        match manager.get_sale(&remembered).await {
            Ok(path) => {
                let sale = self.follow(path).await?;
                let view = crate::watch::snapshot(&self.conn, sale.inner().path().clone()).await?;
                if view.is_open() {
                    self.send(Event::Resumed(view.id.clone()));
                    self.send(Event::Sale(Some(view)));
                } else if view.state == "completed" && !view.receipt_id.is_empty() {
                    // The checkout went through before the till went down.
                    let op = checkout_op(&remembered);
                    self.store.confirm(&op)?;
                    self.finish_sale(&view.receipt_id.clone())?;
                    let receipt = self.receipt(&view.receipt_id).await?;
                    self.send(Event::Recovered(receipt));
                } else {
                    self.forget_sale()?;
                }
            }
            Err(_) => self.forget_sale()?,
        }
        Ok(())
    }

    /// Follows the sale at `path`: its property changes become [`Event::Sale`].
    async fn follow(&mut self, path: OwnedObjectPath) -> Result<Sale1Proxy<'static>, Failure> {
        if let Some(w) = self.watcher.take() {
            w.abort();
        }
        let sale = Sale1Proxy::builder(&self.conn)
            .path(path.clone())
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await?;
        self.watcher = Some(crate::watch::sale(
            self.conn.clone(),
            path,
            self.events.clone(),
        ));
        self.sale = Some(sale.clone());
        Ok(sale)
    }

    fn forget_sale(&mut self) -> Result<(), Failure> {
        if let Some(w) = self.watcher.take() {
            w.abort();
        }
        self.sale = None;
        self.store.update(|s| s.sale.clear())?;
        self.send(Event::Sale(None));
        Ok(())
    }

    fn finish_sale(&mut self, receipt: &str) -> Result<(), Failure> {
        let receipt = receipt.to_string();
        self.store.update(|s| s.last_receipt = receipt)?;
        self.forget_sale()
    }

    /// The current sale, opened on the first thing the cashier does.
    async fn current(&mut self) -> Result<Sale1Proxy<'static>, Failure> {
        if let Some(s) = &self.sale {
            return Ok(s.clone());
        }
        let manager = Manager1Proxy::new(&self.conn).await?;
        let mut options = HashMap::new();
        if !self.cashier.is_empty() {
            options.insert("cashier", Variant::from(self.cashier.as_str()));
        }
        let path = manager.open_sale(options).await?;
        let id = path.as_str().rsplit('/').next().unwrap_or("").to_string();
        self.store.update(|s| s.sale = id)?;
        let sale = self.follow(path.clone()).await?;
        let view = crate::watch::snapshot(&self.conn, path.as_ref()).await?;
        self.send(Event::Sale(Some(view)));
        Ok(sale)
    }

    async fn serve(&mut self, request: Request) -> Result<Outcome, Failure> {
        match request {
            Request::AddProduct { product, qty } => {
                let sale = self.current().await?;
                let price = product.unit_price.to_string();
                let rate = product.tax_rate.normalize().to_string();
                let item = HashMap::from([
                    ("sku", Variant::from(product.sku.as_str())),
                    ("name", Variant::from(product.name.as_str())),
                    ("qty", Variant::from(qty.as_str())),
                    ("unit_price", Variant::from(price.as_str())),
                    ("tax_rate", Variant::from(rate.as_str())),
                    ("tags", Variant::from(product.tags.clone())),
                ]);
                sale.add_item(item).await?;
                Ok(Outcome::Line)
            }
            Request::EnterCode(code) => {
                let sale = self.current().await?;
                let r = sale.enter_code(&code).await?;
                Ok(taken(&r))
            }
            Request::SetQuantity { line, qty } => {
                self.current().await?.set_quantity(&line, &qty).await?;
                Ok(Outcome::Line)
            }
            Request::RemoveLine(line) => {
                self.current().await?.remove_line(&line).await?;
                Ok(Outcome::Line)
            }
            Request::RemoveTender(id) => {
                self.current().await?.remove_tender(&id).await?;
                Ok(Outcome::TenderRemoved)
            }
            Request::SetCustomer(id) => {
                let sale = self.current().await?;
                if id.is_empty() {
                    sale.clear_customer().await?;
                } else {
                    sale.set_customer(&id).await?;
                }
                Ok(Outcome::Customer(id))
            }
            Request::Actions => {
                let sale = self.current().await?;
                Ok(Outcome::Actions(
                    sale.actions().await?.iter().map(action).collect(),
                ))
            }
            Request::Invoke { action, args } => {
                let sale = self.current().await?;
                let args: HashMap<&str, Variant<'_>> = args
                    .iter()
                    .map(|(k, v)| (k.as_str(), Variant::from(v.as_str())))
                    .collect();
                let r = sale.invoke(&action, args).await?;
                Ok(taken(&r))
            }
            Request::Rewards => {
                let sale = self.current().await?;
                Ok(Outcome::Rewards(
                    sale.rewards().await?.iter().map(reward).collect(),
                ))
            }
            Request::ApplyReward(id) => {
                self.current().await?.apply_reward(&id).await?;
                Ok(Outcome::Line)
            }
            Request::AddTender {
                method,
                amount,
                details,
            } => {
                let sale = self.current().await?;
                let details: HashMap<&str, Variant<'_>> = details
                    .iter()
                    .map(|(k, v)| (k.as_str(), Variant::from(v.as_str())))
                    .collect();
                sale.add_tender(&method, &amount, details).await?;
                let totals = sale.totals().await?;
                let due = posd_client::values::text(&totals, "due");
                Ok(Outcome::Tendered {
                    settled: crate::view::is_zero(&due),
                })
            }
            Request::Checkout => self.checkout().await,
            Request::Cancel => {
                let sale = self.current().await?;
                sale.cancel().await?;
                self.forget_sale()?;
                Ok(Outcome::Cancelled)
            }
            Request::GetReceipt(id) => Ok(Outcome::Receipt(self.receipt(&id).await?)),
            Request::Reprint(id) => {
                let manager = Manager1Proxy::new(&self.conn).await?;
                Ok(Outcome::Printing(manager.reprint(&id).await?))
            }
            Request::Void(id) => {
                let op = format!("void:{id}");
                let key = self.store.key_for(&op)?;
                let manager = Manager1Proxy::new(&self.conn).await?;
                let storno = manager.void(&id, &key).await?;
                self.store.confirm(&op)?;
                Ok(Outcome::Voided(self.receipt(&storno).await?))
            }
            Request::Return { receipt, lines } => {
                let spec: Vec<String> = lines.iter().map(|(l, q)| format!("{l}={q}")).collect();
                let op = format!("return:{receipt}:{}", spec.join(","));
                let key = self.store.key_for(&op)?;
                let manager = Manager1Proxy::new(&self.conn).await?;
                let records: Vec<HashMap<&str, Variant<'_>>> = lines
                    .iter()
                    .map(|(l, q)| {
                        HashMap::from([
                            ("line", Variant::from(l.as_str())),
                            ("qty", Variant::from(q.as_str())),
                        ])
                    })
                    .collect();
                let (id, messages) = manager.r#return(&receipt, records, &key).await?;
                self.store.confirm(&op)?;
                Ok(Outcome::Returned(self.receipt(&id).await?, messages))
            }
        }
    }

    /// Checks the current sale out with the key remembered for it: written before the call,
    /// forgotten after the answer, so a retry after a lost answer (or after the till's own
    /// restart) sends the same key and gets the same receipt.
    async fn checkout(&mut self) -> Result<Outcome, Failure> {
        let sale = self.current().await?;
        let id = self.store.get().sale.clone();
        let op = checkout_op(&id);
        let key = self.store.key_for(&op)?;
        let receipt_id = sale.checkout(&key).await?;
        self.store.confirm(&op)?;
        self.finish_sale(&receipt_id)?;
        Ok(Outcome::Completed(self.receipt(&receipt_id).await?))
    }

    async fn receipt(&self, id: &str) -> Result<ReceiptView, Failure> {
        let manager = Manager1Proxy::new(&self.conn).await?;
        Ok(ReceiptView::from_record(&manager.get_receipt(id).await?))
    }
}

/// The pending-operation name of a sale's checkout.
fn checkout_op(sale: &str) -> String {
    format!("checkout:{sale}")
}

fn taken(r: &Record) -> Outcome {
    let result = r
        .get("result")
        .map(|v| match posd_client::to_json(v) {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}: {s}"),
                    other => format!("{k}: {other}"),
                })
                .collect(),
            serde_json::Value::Null => Vec::new(),
            other => vec![other.to_string()],
        })
        .unwrap_or_default();
    Outcome::Taken {
        message: field(r, "message"),
        warnings: strings(r, "warnings"),
        result,
        settled: false,
    }
}

fn action(r: &Record) -> Action {
    Action {
        id: field(r, "id"),
        plugin: field(r, "plugin"),
        label: field(r, "label"),
        params: records(r, "params")
            .iter()
            .map(|p| Param {
                name: field(p, "name"),
                kind: field(p, "type"),
                required: posd_client::values::flag(p, "required"),
                default: field(p, "default"),
                suggested: field(p, "suggested"),
                choices: strings(p, "choices"),
                help: field(p, "help"),
            })
            .collect(),
    }
}

fn reward(r: &Record) -> Reward {
    Reward {
        id: field(r, "id"),
        plugin: field(r, "plugin"),
        label: field(r, "label"),
        amount: posd_client::values::text(r, "amount"),
        points: posd_client::values::text(r, "points"),
    }
}
