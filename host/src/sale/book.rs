//! The open sales of the till: kept in memory for speed and in the database for safety.
//!
//! Every change is made on a copy, checked by [`super::engine`], run past the plugins'
//! `evaluate_basket`, written to the database, and only then becomes the sale: a refused
//! change or a failed write leaves the sale as it was. After a restart every open sale comes
//! back as it was last written.

use std::collections::BTreeMap;
use std::sync::Arc;

use posd_plugin_sdk::schema as wire;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::engine::{self, Currency, NewItem, SaleError};
use super::model::{Line, LineKind, Sale, SaleState, Tender};
use crate::plugins::{CallError, Hook, PluginManager, decode};
use crate::store::{Database, StoreError};

/// Why a sale operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// The engine refused the change.
    #[error(transparent)]
    Sale(#[from] SaleError),
    /// A plugin refused or failed.
    #[error(transparent)]
    Plugin(#[from] CallError),
    /// No such sale.
    #[error("no sale {0:?}")]
    NoSale(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the book needs to know of the till.
#[derive(Debug, Clone)]
pub struct Till {
    /// How the currency rounds.
    pub currency: Currency,
    /// ISO code.
    pub currency_code: String,
    /// The `store` view plugins get.
    pub store: Value,
}

/// The open sales.
pub struct Book {
    db: Database,
    plugins: Arc<PluginManager>,
    till: std::sync::RwLock<Till>,
    sales: tokio::sync::Mutex<BTreeMap<String, Sale>>,
    /// Sales whose checkout is running: they take no changes meanwhile.
    checking_out: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// Held while a sale's checkout runs; the sale takes changes again when it is dropped.
pub struct CheckoutGuard<'a> {
    book: &'a Book,
    id: String,
}

impl Drop for CheckoutGuard<'_> {
    fn drop(&mut self) {
        self.book
            .checking_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

impl std::fmt::Debug for Book {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Book").finish_non_exhaustive()
    }
}

/// How long after its checkout a sale can still be asked for its receipt again.
const RETRY_WINDOW_MS: u128 = 24 * 3600 * 1000;

/// What a plugin did to a sale (EnterCode, Invoke, ApplyReward), for the frontend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// What the code is.
    pub kind: String,
    /// The plugin that acted.
    pub plugin: String,
    /// Lines added.
    pub lines: Vec<String>,
    /// Tenders added.
    pub tenders: Vec<String>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// A message for the cashier.
    pub message: String,
    /// The plugin's `result` object.
    pub result: Value,
}

fn now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    crate::sale::time::rfc3339_ms(ms)
}

impl Book {
    /// A book over `db`; call [`Book::restore`] before serving.
    pub fn new(db: Database, plugins: Arc<PluginManager>, till: Till) -> Arc<Self> {
        Arc::new(Self {
            db,
            plugins,
            till: std::sync::RwLock::new(till),
            sales: tokio::sync::Mutex::new(BTreeMap::new()),
            checking_out: std::sync::Mutex::new(Default::default()),
        })
    }

    /// Takes new till settings (configuration reload).
    pub fn set_till(&self, till: Till) {
        *self.till.write().unwrap_or_else(|e| e.into_inner()) = till;
    }

    /// The till settings.
    pub fn till(&self) -> Till {
        self.till.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Loads the open sales written before a restart; returns their ids.
    pub async fn restore(&self) -> Result<Vec<String>, BookError> {
        // Sales completed in the last day come back too: a frontend that lost the answer to
        // a checkout in a crash retries it at the same object path and gets its receipt.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let since = crate::sale::time::rfc3339_ms(now.saturating_sub(RETRY_WINDOW_MS));
        let documents: Vec<String> = self
            .db
            .call(move |c| {
                let mut stmt = c.prepare(
                    "SELECT document FROM sales
                     WHERE state = 'open' OR (state = 'completed' AND updated_at >= ?1) ORDER BY id",
                )?;
                let rows = stmt.query_map([&since], |r| r.get(0))?;
                rows.collect()
            })
            .await?;
        let mut sales = self.sales.lock().await;
        let mut ids = Vec::new();
        for document in documents {
            match serde_json::from_str::<Sale>(&document) {
                Ok(sale) => {
                    ids.push(sale.id.clone());
                    sales.insert(sale.id.clone(), sale);
                }
                Err(e) => tracing::error!("an open sale in the database is unreadable: {e}"),
            }
        }
        Ok(ids)
    }

    /// A copy of a sale.
    pub async fn get(&self, id: &str) -> Result<Sale, BookError> {
        self.sales
            .lock()
            .await
            .get(id)
            .cloned()
            .ok_or_else(|| BookError::NoSale(id.to_string()))
    }

    /// Opens a sale; returns it.
    pub async fn open(&self, cashier: &str, customer: &str) -> Result<Sale, BookError> {
        let id = format!(
            "s{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let mut sale = Sale::new(&id, SaleState::Open, cashier.trim(), now());
        engine::set_customer(&mut sale, customer)?;
        self.persist(&sale).await?;
        self.sales.lock().await.insert(id, sale.clone());
        Ok(sale)
    }

    /// Writes a sale's current state.
    async fn persist(&self, sale: &Sale) -> Result<(), BookError> {
        let document =
            serde_json::to_string(sale).map_err(|e| SaleError::InvalidArgument(e.to_string()))?;
        let (id, state) = (sale.id.clone(), sale.state.as_str());
        let at = now();
        // A sale the journal completed is never written back as open.
        let written = self
            .db
            .call(move |c| {
                c.execute(
                    "INSERT INTO sales (id, state, document, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                        document = excluded.document, updated_at = excluded.updated_at
                     WHERE sales.state = 'open'",
                    rusqlite::params![id, state, document, at],
                )
            })
            .await?;
        if written == 0 {
            return Err(SaleError::NotOpen(sale.id.clone()).into());
        }
        Ok(())
    }

    /// Applies `change` to a copy of the sale, re-evaluates the basket, writes it, and makes
    /// it the sale. Nothing changes if any step fails.
    pub async fn change<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Sale, Currency) -> Result<T, BookError>,
    ) -> Result<(T, Sale), BookError> {
        let mut sales = self.sales.lock().await;
        let current = sales
            .get(id)
            .ok_or_else(|| BookError::NoSale(id.to_string()))?;
        self.ensure_not_checking_out(id)?;
        let mut next = current.clone();
        let till = self.till();
        let answer = change(&mut next, till.currency)?;
        self.evaluate(&mut next, &till).await;
        self.persist(&next).await?;
        sales.insert(id.to_string(), next.clone());
        Ok((answer, next))
    }

    /// Replaces the automatic lines and previews with what the plugins say now. A plugin
    /// that fails here costs its promotions a warning, never the sale.
    async fn evaluate(&self, sale: &mut Sale, till: &Till) {
        if sale.state != SaleState::Open {
            return;
        }
        let plugins = self.plugins.implementing(Hook::EvaluateBasket);
        if plugins.is_empty() {
            return;
        }
        sale.lines.retain(|l| !l.automatic);
        sale.previews.clear();
        sale.warnings.retain(|w| !w.starts_with("promotions of "));
        for plugin in plugins {
            let request = json!({ "schema": 1, "sale": view(sale, till), "store": till.store });
            let answer: Result<wire::EvaluateBasketResponse, _> = self
                .plugins
                .call_as(&plugin, Hook::EvaluateBasket, &request)
                .await;
            match answer {
                Ok(answer) => {
                    for auto in answer.lines {
                        let kind = match auto.kind.as_str() {
                            "free_product" => LineKind::FreeProduct,
                            _ => LineKind::Discount,
                        };
                        if auto.amount > Decimal::ZERO {
                            sale.warnings.push(format!(
                                "promotions of {plugin}: a positive reduction was ignored"
                            ));
                            continue;
                        }
                        sale.next_number += 1;
                        sale.lines.push(Line {
                            id: format!("L{}", sale.next_number),
                            kind,
                            sku: String::new(),
                            name: auto.name,
                            qty: Decimal::ONE,
                            unit_price: auto.amount,
                            amount: crate::money::round(auto.amount, till.currency.minor),
                            tax_rate: Decimal::ZERO,
                            tags: auto.tags,
                            plugin: plugin.clone(),
                            reference: auto.reference,
                            applies_to: auto.applies_to,
                            automatic: true,
                            data: auto.data,
                        });
                    }
                    for preview in answer.previews {
                        sale.previews
                            .push(json!({ "plugin": plugin, "label": preview.label,
                            "points": preview.points.map(|p| p.to_string()),
                            "amount": preview.amount.map(|a| a.to_string()) }));
                    }
                }
                Err(e) => {
                    tracing::warn!(plugin = %plugin, "evaluate_basket: {e}");
                    sale.warnings
                        .push(format!("promotions of {plugin} could not be evaluated"));
                }
            }
        }
    }

    /// Adds an item.
    pub async fn add_item(&self, id: &str, item: NewItem) -> Result<(String, Sale), BookError> {
        self.change(id, |sale, currency| {
            Ok(engine::add_item(sale, &item, currency)?)
        })
        .await
    }

    /// A code scanned or typed on the sale: the first plugin that claims it acts.
    pub async fn enter_code(&self, id: &str, code: &str) -> Result<(Outcome, Sale), BookError> {
        let code = code.trim().to_string();
        if code.is_empty() {
            return Err(SaleError::InvalidArgument("the code is empty".into()).into());
        }
        let till = self.till();
        let sale = self.get(id).await?;
        ensure_open(&sale)?;
        for plugin in self.plugins.implementing(Hook::EnterCode) {
            let request = json!({ "schema": 1, "sale": view(&sale, &till), "store": till.store, "code": code });
            let answer = self
                .plugins
                .call(&plugin, Hook::EnterCode, &request)
                .await?;
            if answer.get("claimed").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            let effects: wire::Effects = decode(&plugin, Hook::EnterCode, answer)?;
            return self.apply_effects(id, &plugin, effects).await;
        }
        Err(SaleError::NotFound(format!(
            "no plugin knows the code {}",
            super::model::mask(&code)
        ))
        .into())
    }

    /// The actions plugins offer on the sale now; ids are `<plugin>:<action>`.
    pub async fn actions(&self, id: &str) -> Result<Vec<(String, wire::Action)>, BookError> {
        let till = self.till();
        let sale = self.get(id).await?;
        let mut actions = Vec::new();
        for plugin in self.plugins.implementing(Hook::ListActions) {
            let request = json!({ "schema": 1, "sale": view(&sale, &till), "store": till.store });
            let list: wire::ListActionsResponse = self
                .plugins
                .call_as(&plugin, Hook::ListActions, &request)
                .await?;
            actions.extend(list.actions.into_iter().map(|a| (plugin.clone(), a)));
        }
        Ok(actions)
    }

    /// A tender of a method a plugin declares (partner points, a wallet): the plugins are
    /// asked in order to validate and authorise it; the first that accepts adds it.
    pub async fn plugin_tender(
        &self,
        id: &str,
        method: &str,
        amount: &str,
        details: BTreeMap<String, String>,
    ) -> Result<(String, Sale), BookError> {
        let till = self.till();
        let sale = self.get(id).await?;
        ensure_open(&sale)?;
        let asked = crate::money::parse_bounded(
            "amount",
            amount,
            Decimal::ZERO,
            engine::limits::MAX_AMOUNT,
            till.currency.minor,
        )
        .map_err(SaleError::from)?;
        let due = engine::totals(&sale, till.currency).due;
        if asked.is_zero() || asked > due {
            return Err(SaleError::InvalidArgument(format!(
                "amount: {asked} is not between 0 and the {due} due"
            ))
            .into());
        }
        for plugin in self.plugins.implementing(Hook::ValidateTender) {
            let request = json!({ "schema": 1, "sale": view(&sale, &till), "store": till.store,
                "tender": { "method": method, "amount": crate::money::format(asked, till.currency.minor), "details": details } });
            // A plugin that does not take this method says NotFound; the next is asked.
            let answer = match self
                .plugins
                .call(&plugin, Hook::ValidateTender, &request)
                .await
            {
                Err(CallError::Refused { error, .. }) if error == "NotFound" => continue,
                other => other?,
            };
            if answer.get("accepted").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            let text = |key: &str| {
                answer
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let accepted = crate::money::parse("amount", &text("amount")).map_err(|e| {
                CallError::Failed(format!("plugin {plugin}: validate_tender answer: {e}"))
            })?;
            if accepted <= Decimal::ZERO || accepted > asked {
                return Err(CallError::Failed(format!(
                    "plugin {plugin} authorised {accepted} for a tender of {asked}"
                ))
                .into());
            }
            let reference = text("ref");
            let data = answer.get("data").cloned().unwrap_or(Value::Null);
            let (method, plugin_id) = (method.to_string(), plugin.clone());
            return self
                .change(id, move |sale, _| {
                    sale.next_number += 1;
                    let tender_id = format!("T{}", sale.next_number);
                    sale.tenders.push(Tender {
                        id: tender_id.clone(),
                        method,
                        amount: accepted,
                        max_amount: None,
                        plugin: plugin_id,
                        reference,
                        details,
                        data,
                    });
                    Ok(tender_id)
                })
                .await;
        }
        Err(SaleError::InvalidArgument(format!(
            "unknown tender method {method:?}: cash, card, voucher, or one a plugin declares"
        ))
        .into())
    }

    /// Rewards the customer can take now, from every plugin; ids are `<plugin>:<reward>`.
    pub async fn rewards(&self, id: &str) -> Result<Vec<(String, Value)>, BookError> {
        let till = self.till();
        let sale = self.get(id).await?;
        let mut rewards = Vec::new();
        for plugin in self.plugins.implementing(Hook::ListRewards) {
            let request = json!({ "schema": 1, "sale": view(&sale, &till), "store": till.store });
            let answer = self
                .plugins
                .call(&plugin, Hook::ListRewards, &request)
                .await?;
            for reward in answer
                .get("rewards")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                rewards.push((plugin.clone(), reward.clone()));
            }
        }
        Ok(rewards)
    }

    /// Takes one reward; returns the first line it added.
    pub async fn apply_reward(&self, id: &str, reward: &str) -> Result<(Outcome, Sale), BookError> {
        let (plugin, reward) = reward.split_once(':').ok_or_else(|| {
            SaleError::InvalidArgument(format!("reward id {reward:?} is not <plugin>:<reward>"))
        })?;
        let till = self.till();
        let sale = self.get(id).await?;
        ensure_open(&sale)?;
        let request = json!({ "schema": 1, "sale": view(&sale, &till), "store": till.store, "reward": reward });
        let answer = match self.plugins.call(plugin, Hook::ApplyReward, &request).await {
            Err(CallError::Failed(m)) if m.contains("not running") => {
                return Err(SaleError::NotFound(format!("no reward {plugin}:{reward}")).into());
            }
            other => other?,
        };
        let effects: wire::Effects = decode(plugin, Hook::ApplyReward, answer)?;
        self.apply_effects(id, plugin, effects).await
    }

    /// Runs a plugin's action on the sale.
    pub async fn invoke(
        &self,
        id: &str,
        action: &str,
        args: Value,
    ) -> Result<(Outcome, Sale), BookError> {
        let (plugin, action) = action.split_once(':').ok_or_else(|| {
            SaleError::InvalidArgument(format!("action id {action:?} is not <plugin>:<action>"))
        })?;
        let till = self.till();
        let sale = self.get(id).await?;
        ensure_open(&sale)?;
        let request = json!({ "schema": 1, "sale": view(&sale, &till), "store": till.store,
                              "action": action, "args": args });
        let answer = match self
            .plugins
            .call(plugin, Hook::InvokeAction, &request)
            .await
        {
            Err(CallError::Failed(m)) if m.contains("not running") => {
                return Err(SaleError::NotFound(format!("no action {plugin}:{action}")).into());
            }
            other => other?,
        };
        let effects: wire::Effects = decode(plugin, Hook::InvokeAction, answer)?;
        self.apply_effects(id, plugin, effects).await
    }

    /// Applies what a plugin returned to the sale, all or nothing.
    async fn apply_effects(
        &self,
        id: &str,
        plugin: &str,
        effects: wire::Effects,
    ) -> Result<(Outcome, Sale), BookError> {
        let plugin = plugin.to_string();
        let (outcome, sale) = self
            .change(id, move |sale, currency| {
                let mut outcome = Outcome {
                    kind: effects
                        .kind
                        .map(|k| k.as_str().to_string())
                        .unwrap_or_default(),
                    plugin: plugin.clone(),
                    warnings: effects.warnings.clone(),
                    message: effects.message.clone().unwrap_or_default(),
                    result: effects.result.clone().unwrap_or(Value::Null),
                    ..Outcome::default()
                };
                for line_id in &effects.remove_lines {
                    if sale
                        .lines
                        .iter()
                        .any(|l| l.id == *line_id && l.plugin == plugin)
                    {
                        engine::remove_line(sale, line_id)?;
                    }
                }
                sale.tenders
                    .retain(|t| !(effects.remove_tenders.contains(&t.id) && t.plugin == plugin));
                if let Some(customer) = &effects.set_customer {
                    engine::set_customer(sale, customer)?;
                }
                if let Some(lock) = effects.lock_customer {
                    sale.customer_locked = lock;
                }
                for new in &effects.add_lines {
                    let kind = plugin_line_kind(new.kind.as_str()).ok_or_else(|| {
                        CallError::Failed(format!(
                            "plugin {plugin} added a line of kind {:?}",
                            new.kind.as_str()
                        ))
                    })?;
                    if new.qty <= Decimal::ZERO
                        || new.qty > engine::limits::MAX_QTY
                        || new.unit_price.abs() > engine::limits::MAX_AMOUNT
                    {
                        return Err(CallError::Failed(format!(
                            "plugin {plugin} added a line out of range"
                        ))
                        .into());
                    }
                    sale.next_number += 1;
                    let line_id = format!("L{}", sale.next_number);
                    sale.lines.push(Line {
                        id: line_id.clone(),
                        kind,
                        sku: new.sku.clone(),
                        name: new.name.clone(),
                        qty: new.qty,
                        unit_price: new.unit_price,
                        amount: crate::money::round(new.qty * new.unit_price, currency.minor),
                        tax_rate: new.tax_rate,
                        tags: new.tags.clone(),
                        plugin: plugin.clone(),
                        reference: new.reference.clone(),
                        applies_to: Vec::new(),
                        automatic: false,
                        data: new.data.clone(),
                    });
                    outcome.lines.push(line_id);
                }
                for new in &effects.add_tenders {
                    if new.amount < Decimal::ZERO
                        || new.max_amount.is_some_and(|m| m < Decimal::ZERO)
                    {
                        return Err(CallError::Failed(format!(
                            "plugin {plugin} added a negative tender"
                        ))
                        .into());
                    }
                    sale.next_number += 1;
                    let tender_id = format!("T{}", sale.next_number);
                    sale.tenders.push(Tender {
                        id: tender_id.clone(),
                        method: new.method.clone(),
                        amount: new.amount,
                        max_amount: new.max_amount,
                        plugin: plugin.clone(),
                        reference: new.reference.clone(),
                        details: BTreeMap::new(),
                        data: new.data.clone(),
                    });
                    outcome.tenders.push(tender_id);
                }
                sale.warnings.extend(effects.warnings.iter().cloned());
                Ok(outcome)
            })
            .await?;
        Ok((outcome, sale))
    }

    /// Forgets a cancelled sale after marking it so in the database.
    pub async fn cancel(&self, id: &str) -> Result<Sale, BookError> {
        let mut sales = self.sales.lock().await;
        let sale = sales
            .get(id)
            .ok_or_else(|| BookError::NoSale(id.to_string()))?;
        ensure_open(sale)?;
        self.ensure_not_checking_out(id)?;
        let mut next = sale.clone();
        next.state = SaleState::Cancelled;
        self.persist(&next).await?;
        sales.insert(id.to_string(), next.clone());
        Ok(next)
    }

    /// Marks a sale completed in memory after its checkout committed (the database row was
    /// written by the checkout's transaction).
    pub async fn completed(&self, sale: Sale) {
        self.sales.lock().await.insert(sale.id.clone(), sale);
    }

    fn ensure_not_checking_out(&self, id: &str) -> Result<(), SaleError> {
        if self
            .checking_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(id)
        {
            return Err(SaleError::Busy(id.to_string()));
        }
        Ok(())
    }

    /// Freezes a sale for its checkout and returns it as it is now: until the guard is
    /// dropped every change to it is refused, so what is committed is what was paid for.
    pub async fn begin_checkout(&self, id: &str) -> Result<(CheckoutGuard<'_>, Sale), BookError> {
        let sales = self.sales.lock().await;
        let sale = sales
            .get(id)
            .ok_or_else(|| BookError::NoSale(id.to_string()))?
            .clone();
        if !self
            .checking_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string())
        {
            return Err(SaleError::Busy(id.to_string()).into());
        }
        Ok((
            CheckoutGuard {
                book: self,
                id: id.to_string(),
            },
            sale,
        ))
    }
}

fn ensure_open(sale: &Sale) -> Result<(), SaleError> {
    if sale.state == SaleState::Open {
        Ok(())
    } else {
        Err(SaleError::NotOpen(sale.id.clone()))
    }
}

/// Line kinds a plugin may add.
fn plugin_line_kind(kind: &str) -> Option<LineKind> {
    Some(match kind {
        "item" => LineKind::Item,
        "voucher_sale" => LineKind::VoucherSale,
        "voucher_topup" => LineKind::VoucherTopup,
        "single_purpose_voucher" => LineKind::SinglePurposeVoucher,
        "discount" => LineKind::Discount,
        "free_product" => LineKind::FreeProduct,
        "points_redemption" => LineKind::PointsRedemption,
        _ => return None,
    })
}

/// The sale as plugins see it (schema 1).
pub fn view(sale: &Sale, till: &Till) -> Value {
    let totals = engine::totals(sale, till.currency);
    let minor = till.currency.minor;
    let amount = |d: Decimal| crate::money::format(d, minor);
    json!({
        "id": sale.id,
        "currency": till.currency_code,
        "customer": if sale.customer.is_empty() { Value::Null } else { Value::from(sale.customer.clone()) },
        "customer_groups": [],
        "lines": sale.lines.iter().map(|l| json!({
            "id": l.id, "kind": l.kind.as_str(), "sku": l.sku, "name": l.name,
            "qty": l.qty.normalize().to_string(), "unit_price": l.unit_price.to_string(),
            "amount": amount(l.amount), "tax_rate": l.tax_rate.normalize().to_string(),
            "tags": l.tags, "plugin": l.plugin, "ref": l.reference, "data": l.data,
        })).collect::<Vec<_>>(),
        // What each tender really pays: a voucher following the amount due is shown at the
        // amount it covers, not at its balance.
        "tenders": sale.tenders.iter().zip(engine::tender_values(sale)).map(|(t, pays)| json!({
            "id": t.id, "method": t.method, "amount": amount(pays), "plugin": t.plugin,
            "ref": t.reference, "data": t.data,
        })).collect::<Vec<_>>(),
        "totals": {
            "subtotal": amount(totals.subtotal), "discount": amount(totals.discount),
            "tax": amount(totals.tax), "total": amount(totals.total), "paid": amount(totals.paid),
            "due": amount(totals.due), "change": amount(totals.change),
        },
    })
}
