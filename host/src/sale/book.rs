//! The open sales of the till: kept in memory for speed and in the database for safety.
//!
//! Every change is made on a copy, checked by [`super::engine`], run past the plugins'
//! `evaluate_basket`, written to the database, and only then becomes the sale: a refused
//! change or a failed write leaves the sale as it was. After a restart every open sale comes
//! back as it was last written.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use posd_plugin_sdk::schema as wire;
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::engine::{self, Currency, NewItem, SaleError};
use super::model::{Line, LineKind, Preview, Sale, SaleState, Tender};
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
    /// Every sale id tried was taken by a sale of an earlier run (a clock set far back).
    #[error("no fresh sale id: the clock keeps repeating ids of earlier sales")]
    NoFreshId,
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
    /// Customers' groups, for the sale view's `customer_groups`.
    pub customer_groups: std::sync::Arc<crate::customers::CustomerGroups>,
}

/// A hook's request of the sale and the store only (`evaluate_basket`), written straight
/// from the sale for one plugin.
#[derive(serde::Serialize)]
struct SaleRequest<'a> {
    schema: u32,
    sale: &'a super::view::SaleView<'a>,
    store: &'a Value,
}

/// The number of a new sale's id: the clock's nanoseconds since the epoch, but always above
/// the last number given out, so that sales opened at the same moment, or after the clock
/// was set back (NTP at boot), never share an id.
fn next_sale_number(last: &AtomicU64, now_ns: u64) -> u64 {
    let mut seen = last.load(Ordering::SeqCst);
    loop {
        let next = now_ns.max(seen.saturating_add(1));
        match last.compare_exchange(seen, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return next,
            Err(other) => seen = other,
        }
    }
}

/// A sale's head as the `sales` row keeps it: the whole sale but its lines, which have rows
/// of their own (`sale_lines`, one per line id), and the order of the lines (`line_order`),
/// so that a line added, moved or gone rewrites the head and that line only.
pub fn head_document(sale: &mut Sale) -> serde_json::Result<String> {
    #[derive(serde::Serialize)]
    struct Head<'a> {
        #[serde(flatten)]
        sale: &'a Sale,
        line_order: Vec<String>,
    }
    let lines = std::mem::take(&mut sale.lines);
    let head = serde_json::to_string(&Head {
        sale,
        line_order: lines.iter().map(|l| l.id.clone()).collect(),
    });
    sale.lines = lines;
    head
}

/// Whether two versions of a sale have the same head, everything but the lines: the fields
/// are named one by one, so a field added to [`Sale`] must be added here too.
fn same_head(a: &Sale, b: &Sale) -> bool {
    let Sale {
        id,
        state,
        cashier,
        customer,
        customer_locked,
        lines: _,
        tenders,
        warnings,
        previews,
        receipt_id,
        next_number,
        next_tender,
        next_automatic,
        opened_at,
    } = a;
    *id == b.id
        && a.lines.len() == b.lines.len()
        && a.lines.iter().zip(&b.lines).all(|(x, y)| x.id == y.id)
        && *state == b.state
        && *cashier == b.cashier
        && *customer == b.customer
        && *customer_locked == b.customer_locked
        && *tenders == b.tenders
        && *warnings == b.warnings
        && *previews == b.previews
        && *receipt_id == b.receipt_id
        && *next_number == b.next_number
        && *next_tender == b.next_tender
        && *next_automatic == b.next_automatic
        && *opened_at == b.opened_at
}

/// A sale from its head and its lines' documents. A head written before lines had rows of
/// their own still holds its lines; rows, where there are any, win, in the head's
/// `line_order` (a row the order does not name, which no write leaves, comes last).
fn read_sale(head: &str, lines: &[String]) -> serde_json::Result<Sale> {
    #[derive(serde::Deserialize)]
    struct Order {
        #[serde(default)]
        line_order: Vec<String>,
    }
    let mut sale: Sale = serde_json::from_str(head)?;
    if !lines.is_empty() {
        let order: Order = serde_json::from_str(head)?;
        let mut rows: Vec<Line> = lines
            .iter()
            .map(|l| serde_json::from_str(l))
            .collect::<serde_json::Result<_>>()?;
        let rank = |id: &str| {
            order
                .line_order
                .iter()
                .position(|o| o == id)
                .unwrap_or(usize::MAX)
        };
        rows.sort_by_cached_key(|l| rank(&l.id));
        sale.lines = rows;
    }
    Ok(sale)
}

/// Nanoseconds since the epoch by the system clock.
fn clock_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The open sales.
pub struct Book {
    db: Database,
    plugins: Arc<PluginManager>,
    till: std::sync::RwLock<Till>,
    /// The sales as they are, each replaced whole by a change: a read takes the lock for a
    /// moment, never for a change's plugin calls.
    sales: std::sync::Mutex<BTreeMap<String, Arc<Sale>>>,
    /// Held by a change from start to finish: changes come one at a time, reads of other
    /// sales (and of this one, as it was) go on meanwhile, even while a plugin hangs.
    writer: tokio::sync::Mutex<()>,
    /// Sales whose checkout is running: they take no changes meanwhile.
    checking_out: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// The number of the last sale id given out ([`next_sale_number`]).
    last_sale: AtomicU64,
    /// The lines of the sales changed last, encoded for plugins' requests, most recent
    /// first ([`Book::with_line_encodings`]).
    fragments: std::sync::Mutex<Vec<(String, super::view::LineFragments)>>,
    /// The plugins whose last `evaluate_basket` answer was independent of other plugins'
    /// lines: they are asked at once with the others, not after the plugins that add lines.
    independent: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// How many sales' line encodings are kept: the sales a till works on at once.
const ENCODED_SALES: usize = 4;

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
    /// Lines added: those of the plugin's effects, or else the automatic lines of that
    /// plugin that the sale's evaluation after them added or changed (a reward a plugin
    /// computes on every basket change, such as a points redemption, is such a line).
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
    crate::sale::time::rfc3339_ms(crate::clock::now_ms())
}

impl Book {
    /// A book over `db`; call [`Book::restore`] before serving.
    pub fn new(db: Database, plugins: Arc<PluginManager>, till: Till) -> Arc<Self> {
        Arc::new(Self {
            db,
            plugins,
            till: std::sync::RwLock::new(till),
            sales: std::sync::Mutex::new(BTreeMap::new()),
            writer: tokio::sync::Mutex::new(()),
            checking_out: std::sync::Mutex::new(Default::default()),
            last_sale: AtomicU64::new(0),
            fragments: std::sync::Mutex::new(Vec::new()),
            independent: std::sync::Mutex::new(std::collections::BTreeSet::new()),
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
        let since =
            crate::sale::time::rfc3339_ms(crate::clock::now_ms().saturating_sub(RETRY_WINDOW_MS));
        let documents: Vec<(String, Vec<String>)> = self
            .db
            .call(move |c| {
                let mut stmt = c.prepare(
                    "SELECT id, document FROM sales
                     WHERE state = 'open' OR (state = 'completed' AND updated_at >= ?1) ORDER BY id",
                )?;
                let heads = stmt
                    .query_map([&since], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
                let mut lines = c.prepare_cached(
                    "SELECT document FROM sale_lines WHERE sale_id = ?1",
                )?;
                heads
                    .into_iter()
                    .map(|(id, head)| {
                        let rows = lines.query_map([&id], |r| r.get(0))?;
                        Ok((head, rows.collect::<rusqlite::Result<Vec<String>>>()?))
                    })
                    .collect()
            })
            .await?;
        let _writer = self.writer.lock().await;
        let mut sales = self.sales();
        let mut ids = Vec::new();
        for (head, lines) in documents {
            match read_sale(&head, &lines) {
                Ok(sale) => {
                    ids.push(sale.id.clone());
                    sales.insert(sale.id.clone(), Arc::new(sale));
                }
                Err(e) => tracing::error!("an open sale in the database is unreadable: {e}"),
            }
        }
        Ok(ids)
    }

    /// A copy of a sale.
    pub async fn get(&self, id: &str) -> Result<Sale, BookError> {
        let sale = self.sales().get(id).cloned();
        sale.map(|s| (*s).clone())
            .ok_or_else(|| BookError::NoSale(id.to_string()))
    }

    fn sales(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Sale>>> {
        self.sales.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a sale; returns it.
    pub async fn open(&self, cashier: &str, customer: &str) -> Result<Sale, BookError> {
        self.open_by(cashier, customer, clock_ns).await
    }

    /// [`Book::open`] by the clock `now_ns`. The row is inserted, never upserted: an id a
    /// sale of an earlier run already has (the clock set back across a restart) takes the
    /// next number instead of that sale's place.
    async fn open_by(
        &self,
        cashier: &str,
        customer: &str,
        now_ns: impl Fn() -> u64,
    ) -> Result<Sale, BookError> {
        for _ in 0..8 {
            let id = format!("s{}", next_sale_number(&self.last_sale, now_ns()));
            let mut sale = Sale::new(&id, SaleState::Open, cashier.trim(), now());
            engine::set_customer(&mut sale, customer)?;
            let document = serde_json::to_string(&sale)
                .map_err(|e| SaleError::InvalidArgument(e.to_string()))?;
            let (row_id, at) = (id.clone(), now());
            let inserted = self
                .db
                .call(move |c| {
                    c.execute(
                        "INSERT INTO sales (id, state, document, updated_at)
                         VALUES (?1, 'open', ?2, ?3) ON CONFLICT (id) DO NOTHING",
                        rusqlite::params![row_id, document, at],
                    )
                })
                .await?;
            if inserted == 1 {
                self.sales().insert(id, Arc::new(sale.clone()));
                return Ok(sale);
            }
            tracing::warn!(sale = %id, "a sale of an earlier run has this id (clock set back?); taking the next");
        }
        Err(BookError::NoFreshId)
    }

    /// Writes what a change made of a sale: its head (everything but the lines) where it
    /// differs from `before` (what was last written), and of the lines only those that
    /// differ, so that a change on a long basket writes a few rows, not the whole basket.
    /// The head row of an open sale is updated without touching its state, so the
    /// `sales_open` index is only written when the state really changes; a change that
    /// leaves the head as it was writes only line rows. `updated_at` is therefore when the
    /// head last changed. A sale the journal completed meanwhile is never written back.
    async fn persist(&self, before: &Sale, sale: &mut Sale) -> Result<(), BookError> {
        self.start_persist(before, sale)?.await
    }

    /// [`Book::persist`] in two steps: the rows are handed to the database thread now, and
    /// the future returned waits for their commit, so the caller can work meanwhile.
    fn start_persist(
        &self,
        before: &Sale,
        sale: &mut Sale,
    ) -> Result<impl Future<Output = Result<(), BookError>> + use<>, BookError> {
        let encode = |e: serde_json::Error| SaleError::InvalidArgument(e.to_string());
        let head = if same_head(before, sale) {
            None
        } else {
            Some(head_document(sale).map_err(encode)?)
        };
        // Rows by line id: what is new or differs is written, what went is deleted; a line
        // that only moved is the head's business (its `line_order`).
        let was: HashMap<&str, &Line> = before.lines.iter().map(|l| (l.id.as_str(), l)).collect();
        let mut changed: Vec<(String, String)> = Vec::new();
        for line in &sale.lines {
            if was.get(line.id.as_str()) != Some(&line) {
                let document = serde_json::to_string(line).map_err(encode)?;
                changed.push((line.id.clone(), document));
            }
        }
        let is: std::collections::HashSet<&str> =
            sale.lines.iter().map(|l| l.id.as_str()).collect();
        let gone: Vec<String> = before
            .lines
            .iter()
            .filter(|l| !is.contains(l.id.as_str()))
            .map(|l| l.id.clone())
            .collect();
        let (id, state) = (sale.id.clone(), sale.state);
        let state_changed = before.state != state;
        let at = now();
        let written = self.db.submit(move |c| {
            let tx = c.transaction()?;
            let written = match &head {
                Some(head) if state_changed => tx
                    .prepare_cached(
                        "UPDATE sales SET state = ?2, document = ?3, updated_at = ?4
                             WHERE id = ?1 AND state = 'open'",
                    )?
                    .execute(rusqlite::params![id, state.as_str(), head, at])?,
                Some(head) => tx
                    .prepare_cached(
                        "UPDATE sales SET document = ?2, updated_at = ?3
                             WHERE id = ?1 AND state = 'open'",
                    )?
                    .execute(rusqlite::params![id, head, at])?,
                None => usize::from(
                    tx.prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM sales WHERE id = ?1 AND state = 'open')",
                    )?
                    .query_row([&id], |r| r.get::<_, bool>(0))?,
                ),
            };
            if written == 0 {
                return Ok(0);
            }
            {
                let mut line = tx.prepare_cached(
                    "INSERT INTO sale_lines (sale_id, line_id, document) VALUES (?1, ?2, ?3)
                         ON CONFLICT (sale_id, line_id) DO UPDATE SET document = excluded.document",
                )?;
                for (line_id, document) in &changed {
                    line.execute(rusqlite::params![id, line_id, document])?;
                }
                let mut delete = tx
                    .prepare_cached("DELETE FROM sale_lines WHERE sale_id = ?1 AND line_id = ?2")?;
                for line_id in &gone {
                    delete.execute(rusqlite::params![id, line_id])?;
                }
            }
            tx.commit()?;
            Ok(written)
        })?;
        let id = sale.id.clone();
        Ok(async move {
            if written.await? == 0 {
                return Err(SaleError::NotOpen(id).into());
            }
            Ok(())
        })
    }

    /// Applies `change` to a copy of the sale, re-evaluates the basket, writes it, and makes
    /// it the sale. Nothing changes if any step fails.
    pub async fn change<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Sale, Currency) -> Result<T, BookError>,
    ) -> Result<(T, Sale), BookError> {
        self.change_by(id, None, change).await
    }

    /// [`Book::change`] made for plugin `acting` (its effects), when it is one: the tenders
    /// of its own that the change removes are not released to it (it asked for that
    /// itself), those of other plugins are ([`Book::release`]).
    async fn change_by<T>(
        &self,
        id: &str,
        acting: Option<&str>,
        change: impl FnOnce(&mut Sale, Currency) -> Result<T, BookError>,
    ) -> Result<(T, Sale), BookError> {
        let changed = std::sync::Mutex::new(None);
        let (answer, ()) = self
            .change_then_by(id, acting, change, |sale| {
                *changed.lock().unwrap_or_else(|e| e.into_inner()) = Some(sale.clone());
                std::future::ready(())
            })
            .await?;
        let sale = changed.into_inner().unwrap_or_else(|e| e.into_inner());
        // A change that returned Ok was told exactly once, with the sale it made.
        Ok((
            answer,
            sale.ok_or_else(|| BookError::NoSale(id.to_string()))?,
        ))
    }

    /// [`Book::change`], telling of the changed sale with `tell` while its rows commit: a
    /// frontend hears of the change (the bus layer's `PropertiesChanged`) while the disk
    /// syncs, instead of after, and the caller's answer still waits until the sale is
    /// durable. Should the commit fail, `tell` is called again with the sale as it still is,
    /// so whoever heard of the change hears that it did not happen, before the error is
    /// returned. Returns what `tell` gave for the change (the changed sale is `tell`'s to
    /// keep if it needs it: a change of a long sale is not copied once more for nothing).
    ///
    /// A plugin's tender the change took off the sale (`Sale1.RemoveTender`) is released to
    /// its plugin once the change is committed ([`Book::release`], reason `removed`).
    pub async fn change_then<T, F>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Sale, Currency) -> Result<T, BookError>,
        tell: impl Fn(&Sale) -> F,
    ) -> Result<(T, F::Output), BookError>
    where
        F: Future,
    {
        self.change_then_by(id, None, change, tell).await
    }

    /// [`Book::change_then`] made for plugin `acting`, as [`Book::change_by`] says.
    async fn change_then_by<T, F>(
        &self,
        id: &str,
        acting: Option<&str>,
        change: impl FnOnce(&mut Sale, Currency) -> Result<T, BookError>,
        tell: impl Fn(&Sale) -> F,
    ) -> Result<(T, F::Output), BookError>
    where
        F: Future,
    {
        let _writer = self.writer.lock().await;
        let current = self
            .sales()
            .get(id)
            .cloned()
            .ok_or_else(|| BookError::NoSale(id.to_string()))?;
        let current = current.as_ref();
        self.ensure_not_checking_out(id)?;
        let mut next = current.clone();
        let till = self.till();
        let answer = change(&mut next, till.currency)?;
        self.evaluate(&mut next, &till).await;
        let committed = self.start_persist(current, &mut next)?;
        let (committed, told) = tokio::join!(committed, tell(&next));
        if let Err(e) = committed {
            tell(current).await;
            return Err(e);
        }
        // Committed: the tenders that are gone now are gone for good.
        let kept: std::collections::HashSet<&str> =
            next.tenders.iter().map(|t| t.id.as_str()).collect();
        let removed = current
            .tenders
            .iter()
            .filter(|t| !kept.contains(t.id.as_str()) && Some(t.plugin.as_str()) != acting);
        self.release(&next, &till, removed, Release::Removed);
        let was = self.sales().insert(id.to_string(), Arc::new(next));
        if let Some(was) = was {
            // Freeing the sale as it was (every line of a long basket) is not what the
            // frontend waits for: it is done once the answer is on its way.
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn(async move { drop(was) })),
                Err(_) => drop(was),
            }
        }
        Ok((answer, told))
    }

    /// Calls `with` with the encodings of `sale`'s lines for a plugin's view of it, in
    /// order ([`super::view::LineFragments`]), borrowed from where they are kept; none
    /// where a line can't be encoded, so that the request encoding it anew tells why. The
    /// first `trusted` lines are unchanged since the last call for this sale (asked again
    /// within one evaluation): they are not compared again.
    fn with_line_encodings<R>(
        &self,
        sale: &Sale,
        minor: u32,
        trusted: usize,
        with: impl FnOnce(&[&RawValue]) -> R,
    ) -> R {
        let mut kept = self.fragments.lock().unwrap_or_else(|e| e.into_inner());
        match kept.iter().position(|(id, _)| *id == sale.id) {
            Some(0) => {}
            Some(at) => {
                let entry = kept.remove(at);
                kept.insert(0, entry);
            }
            None => {
                kept.insert(0, (sale.id.clone(), super::view::LineFragments::default()));
                kept.truncate(ENCODED_SALES);
            }
        }
        let encoded = kept[0]
            .1
            .refresh(&sale.lines, minor, trusted)
            .unwrap_or_default();
        with(&encoded)
    }

    /// Replaces the automatic lines and previews with what the plugins say now. An
    /// automatic line the plugin answers again (same `ref`) keeps its id; see
    /// [`automatic_line_id`]. A plugin that fails here costs its promotions a warning, never
    /// the sale.
    async fn evaluate(&self, sale: &mut Sale, till: &Till) {
        if sale.state != SaleState::Open {
            return;
        }
        let plugins = self.plugins.implementing(Hook::EvaluateBasket);
        if plugins.is_empty() {
            return;
        }
        let (mut before, kept): (Vec<Line>, Vec<Line>) = std::mem::take(&mut sale.lines)
            .into_iter()
            .partition(|l| l.automatic);
        sale.lines = kept;
        sale.previews.clear();
        sale.warnings.retain(|w| !w.starts_with("promotions of "));
        // Each plugin sees the sale with the automatic lines of the plugins before it. All are
        // asked at once with the sale as it is now; an answer stands while no plugin before
        // it has added a line, which is the usual case (most answer previews only), or when
        // it says it is independent of other plugins' lines. A plugin after one that added
        // lines is asked again with them, so the answers are what asking one after another
        // would give, without waiting for each plugin in turn.
        let asked_with = sale.lines.len();
        // A plugin after one that added lines on the last evaluation is likely to be asked
        // again: it is asked only once the plugins before it answered, instead of early
        // for nothing (on a two-core till that early call competes with the ones that
        // count).
        // One whose last answer was independent is asked early all the same.
        let independent = self
            .independent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let asked_early: Vec<bool> = (0..plugins.len())
            .map(|k| {
                independent.contains(&plugins[k])
                    || !before.iter().any(|l| plugins[..k].contains(&l.plugin))
            })
            .collect();
        let early: Vec<_> = self.with_line_encodings(sale, till.currency.minor, 0, |encoded| {
            let mut view = super::view::sale_encoded(sale, till, "", encoded);
            // Plugins that own no data in the sale see the same view: encoded once for all.
            let mut for_all: Option<Box<RawValue>> = None;
            plugins
                .iter()
                .zip(&asked_early)
                .map(|(plugin, &early)| {
                    early.then(|| {
                        if view.same_for_all(plugin) {
                            if for_all.is_none() {
                                let request = SaleRequest {
                                    schema: 1,
                                    sale: view.seen_by(""),
                                    store: &till.store,
                                };
                                for_all = Some(serde_json::value::to_raw_value(&request).map_err(
                                    |e| {
                                        CallError::Failed(format!("cannot encode the request: {e}"))
                                    },
                                )?);
                            }
                            let request = for_all.as_deref();
                            self.plugins
                                .enqueue_typed(plugin, Hook::EvaluateBasket, &request)
                        } else {
                            let request = SaleRequest {
                                schema: 1,
                                sale: view.seen_by(plugin),
                                store: &till.store,
                            };
                            self.plugins
                                .enqueue_typed(plugin, Hook::EvaluateBasket, &request)
                        }
                    })
                })
                .collect()
        });
        for (plugin, early) in plugins.into_iter().zip(early) {
            let early: Option<Result<wire::EvaluateBasketResponse, _>> = match early {
                Some(early) if sale.lines.len() == asked_with => {
                    Some(self.plugins.answer_as(early).await)
                }
                // Asked before plugins added lines: its answer stands if it says so.
                Some(early) => Some(self.plugins.answer_as(early).await).filter(
                    |a: &Result<wire::EvaluateBasketResponse, _>| {
                        a.as_ref().is_ok_and(|a| a.independent)
                    },
                ),
                None => None,
            };
            let answer: Result<wire::EvaluateBasketResponse, _> = match early {
                Some(answer) => answer,
                None => {
                    // Not asked early, or its early answer is of a sale without the lines added
                    // since: asked now.
                    // The cashier's lines are as the first call saw them; only the automatic
                    // lines of the plugins before this one were added after them.
                    let trusted = asked_with;
                    let pending =
                        self.with_line_encodings(sale, till.currency.minor, trusted, |encoded| {
                            let view = super::view::sale_encoded(sale, till, &plugin, encoded);
                            let request = SaleRequest {
                                schema: 1,
                                sale: &view,
                                store: &till.store,
                            };
                            self.plugins
                                .enqueue_typed(&plugin, Hook::EvaluateBasket, &request)
                        });
                    self.plugins.answer_as(pending).await
                }
            };
            {
                let mut independent = self.independent.lock().unwrap_or_else(|e| e.into_inner());
                if answer.as_ref().is_ok_and(|a| a.independent) {
                    independent.insert(plugin.clone());
                } else {
                    independent.remove(&plugin);
                }
            }
            match answer {
                Ok(answer) => {
                    for auto in answer.lines {
                        let kind = match auto.kind.as_str() {
                            "free_product" => LineKind::FreeProduct,
                            "points_redemption" => LineKind::PointsRedemption,
                            _ => LineKind::Discount,
                        };
                        if auto.amount > Decimal::ZERO {
                            sale.warnings.push(format!(
                                "promotions of {plugin}: a positive reduction was ignored"
                            ));
                            continue;
                        }
                        let id = automatic_line_id(sale, &mut before, &plugin, &auto);
                        sale.lines.push(Line {
                            id,
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
                            show_ref: auto.ref_kind == wire::RefKind::Rule,
                        });
                    }
                    for preview in answer.previews {
                        sale.previews.push(preview_of(&plugin, preview));
                    }
                }
                Err(e) => {
                    tracing::warn!(plugin = %plugin, "evaluate_basket: {e}");
                    sale.warnings.push(format!(
                        "promotions of {plugin} could not be evaluated: {e}"
                    ));
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
            let request = json!({ "schema": 1, "sale": super::view::sale(&sale, &till, &plugin), "store": till.store, "code": code });
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
            let request = json!({ "schema": 1, "sale": super::view::sale(&sale, &till, &plugin), "store": till.store });
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
            let request = json!({ "schema": 1, "sale": super::view::sale(&sale, &till, &plugin), "store": till.store,
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
                    let tender_id = engine::next_id(sale, 'T');
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
            for reward in self.rewards_of(&plugin, &sale, &till).await? {
                rewards.push((plugin.clone(), reward));
            }
        }
        Ok(rewards)
    }

    /// What `plugin`'s `list_rewards` offers on `sale` now.
    async fn rewards_of(
        &self,
        plugin: &str,
        sale: &Sale,
        till: &Till,
    ) -> Result<Vec<Value>, BookError> {
        let request = json!({ "schema": 1, "sale": super::view::sale(sale, till, plugin), "store": till.store });
        let answer = self
            .plugins
            .call(plugin, Hook::ListRewards, &request)
            .await?;
        Ok(answer
            .get("rewards")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// Takes one reward; returns the first line it added. The reward must be one the plugin
    /// offers on the sale now (its `list_rewards` is asked again): an id made up, mistyped or
    /// offered earlier under other conditions is `NotFound`, and `apply_reward` is not called.
    pub async fn apply_reward(&self, id: &str, reward: &str) -> Result<(Outcome, Sale), BookError> {
        let (plugin, reward) = reward.split_once(':').ok_or_else(|| {
            SaleError::InvalidArgument(format!("reward id {reward:?} is not <plugin>:<reward>"))
        })?;
        let till = self.till();
        let sale = self.get(id).await?;
        ensure_open(&sale)?;
        let not_offered = || {
            SaleError::NotFound(format!(
                "reward {plugin}:{reward} is not offered on this sale now; Rewards lists what is"
            ))
        };
        if !self
            .plugins
            .implementing(Hook::ListRewards)
            .iter()
            .any(|p| p == plugin)
        {
            return Err(not_offered().into());
        }
        let offered = self.rewards_of(plugin, &sale, &till).await?;
        // Compared as `Rewards` shows the id: a number given as a number is its text.
        let offered_as = |r: &Value| match r.get("id") {
            Some(Value::String(id)) => id == reward,
            Some(Value::Number(id)) => {
                reward.parse::<serde_json::Number>().ok().as_ref() == Some(id)
            }
            _ => false,
        };
        if !offered.iter().any(offered_as) {
            return Err(not_offered().into());
        }
        let request = json!({ "schema": 1, "sale": super::view::sale(&sale, &till, plugin), "store": till.store, "reward": reward });
        let answer = match self.plugins.call(plugin, Hook::ApplyReward, &request).await {
            Err(CallError::Failed(m)) if m.contains("not running") => {
                return Err(SaleError::NotFound(format!("no reward {plugin}:{reward}")).into());
            }
            other => other?,
        };
        let effects: wire::Effects = decode(plugin, Hook::ApplyReward, answer)?;
        self.apply_effects(id, plugin, effects).await
    }

    /// Runs a plugin's action on the sale. The action must be one its plugin offers on the
    /// sale now (its `list_actions` is asked again), and `args` must fit the parameters it
    /// declared ([`check_action_args`]); the plugin is called only then.
    pub async fn invoke(
        &self,
        id: &str,
        action: &str,
        args: serde_json::Map<String, Value>,
    ) -> Result<(Outcome, Sale), BookError> {
        let (plugin, action) = action.split_once(':').ok_or_else(|| {
            SaleError::InvalidArgument(format!("action id {action:?} is not <plugin>:<action>"))
        })?;
        let till = self.till();
        let sale = self.get(id).await?;
        ensure_open(&sale)?;
        let not_offered = || {
            SaleError::NotFound(format!(
                "no action {plugin}:{action} is offered on this sale now; Actions lists what is"
            ))
        };
        if !self
            .plugins
            .implementing(Hook::ListActions)
            .iter()
            .any(|p| p == plugin)
        {
            return Err(not_offered().into());
        }
        let listed = json!({ "schema": 1, "sale": super::view::sale(&sale, &till, plugin), "store": till.store });
        let declared: wire::ListActionsResponse = self
            .plugins
            .call_as(plugin, Hook::ListActions, &listed)
            .await?;
        let declared = declared
            .actions
            .into_iter()
            .find(|a| a.id == action)
            .ok_or_else(not_offered)?;
        let args = check_action_args(plugin, &declared, args)?;
        let request = json!({ "schema": 1, "sale": super::view::sale(&sale, &till, plugin), "store": till.store,
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
        let acting = plugin.clone();
        let mut before = Vec::new();
        let (mut outcome, sale) = self
            .change_by(id, Some(&acting), |sale, currency| {
                before = sale
                    .lines
                    .iter()
                    .map(|l| (l.id.clone(), l.amount))
                    .collect();
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
                    let line_id = engine::next_id(sale, 'L');
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
                        show_ref: new.ref_kind == wire::RefKind::Rule,
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
                    let tender_id = engine::next_id(sale, 'T');
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
        if outcome.lines.is_empty() {
            outcome.lines = sale
                .lines
                .iter()
                .filter(|l| {
                    l.automatic && l.plugin == acting && !before.contains(&(l.id.clone(), l.amount))
                })
                .map(|l| l.id.clone())
                .collect();
        }
        Ok((outcome, sale))
    }

    /// Forgets a cancelled sale after marking it so in the database; then every plugin
    /// tender still on it is released to its plugin (reason `cancelled`).
    pub async fn cancel(&self, id: &str) -> Result<Sale, BookError> {
        let _writer = self.writer.lock().await;
        let sale = self
            .sales()
            .get(id)
            .cloned()
            .ok_or_else(|| BookError::NoSale(id.to_string()))?;
        ensure_open(&sale)?;
        self.ensure_not_checking_out(id)?;
        let mut next = (*sale).clone();
        next.state = SaleState::Cancelled;
        self.persist(&sale, &mut next).await?;
        self.release(&next, &self.till(), next.tenders.iter(), Release::Cancelled);
        self.sales().insert(id.to_string(), Arc::new(next.clone()));
        Ok(next)
    }

    /// Tells each plugin tender's plugin that the tender is gone before any checkout took
    /// it (`release_tender`, ABI 1.4), so that it can release what it holds for it (a
    /// partner's authorisation). Only for what is committed: `sale` is the sale as it is
    /// written now (without a removed tender; cancelled, with its tenders). The host's own
    /// tenders and plugins without the hook (built before 1.4) are skipped; each call is a
    /// notification, queued before this returns and not awaited, a failure logged.
    fn release<'a>(
        &self,
        sale: &Sale,
        till: &Till,
        tenders: impl IntoIterator<Item = &'a Tender>,
        reason: Release,
    ) {
        let mut listening: Option<Vec<String>> = None;
        for tender in tenders {
            if tender.plugin.is_empty() {
                continue;
            }
            let listening =
                listening.get_or_insert_with(|| self.plugins.implementing(Hook::ReleaseTender));
            if !listening.contains(&tender.plugin) {
                continue;
            }
            let request = json!({
                "schema": 1,
                "sale": super::view::sale(sale, till, &tender.plugin),
                "store": till.store,
                "tender": {
                    "id": tender.id,
                    "method": tender.method,
                    "amount": crate::money::format(tender.amount, till.currency.minor),
                    "ref": tender.reference,
                    "data": tender.data,
                },
                "reason": reason.as_str(),
            });
            self.plugins
                .notify(&tender.plugin, Hook::ReleaseTender, &request);
        }
    }

    /// Marks a sale completed in memory after its checkout committed (the database row was
    /// written by the checkout's transaction).
    pub async fn completed(&self, sale: Sale) {
        self.sales().insert(sale.id.clone(), Arc::new(sale));
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
        // After the change in flight, if any: what is frozen is what that change made.
        let _writer = self.writer.lock().await;
        let sale = self
            .sales()
            .get(id)
            .map(|s| (**s).clone())
            .ok_or_else(|| BookError::NoSale(id.to_string()))?;
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

/// Why a plugin's tender is released ([`Book::release`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    /// The cashier removed it.
    Removed,
    /// Its sale was cancelled.
    Cancelled,
}

impl Release {
    /// The `reason` of the `release_tender` request.
    fn as_str(self) -> &'static str {
        match self {
            Release::Removed => "removed",
            Release::Cancelled => "cancelled",
        }
    }
}

fn ensure_open(sale: &Sale) -> Result<(), SaleError> {
    if sale.state == SaleState::Open {
        Ok(())
    } else {
        Err(SaleError::NotOpen(sale.id.clone()))
    }
}

/// The id of an automatic line `auto` of `plugin`: the id of the line it answered before
/// for the same promotion, taken out of `before`, or a new `A<n>`. The same promotion is
/// the same plugin and `ref` (`name` when the plugin gives no `ref`); several lines of one
/// promotion keep their ids in the order the plugin answers them.
fn automatic_line_id(
    sale: &mut Sale,
    before: &mut Vec<Line>,
    plugin: &str,
    auto: &wire::AutoLine,
) -> String {
    let key = |reference: &str, name: &str| {
        if reference.is_empty() {
            (false, name.to_string())
        } else {
            (true, reference.to_string())
        }
    };
    let wanted = key(&auto.reference, &auto.name);
    match before
        .iter()
        .position(|l| l.plugin == plugin && key(&l.reference, &l.name) == wanted)
    {
        Some(i) => before.remove(i).id,
        None => engine::next_id(sale, 'A'),
    }
}

/// A plugin's preview as `Sale1.Previews` shows it; a preview that does not say what it is
/// is `earn` when it names points or an amount, else `info`.
fn preview_of(plugin: &str, preview: wire::Preview) -> Preview {
    let kind = match preview.kind {
        Some(kind) => kind.as_str().to_string(),
        None if preview.points.is_some() || preview.amount.is_some() => "earn".to_string(),
        None => "info".to_string(),
    };
    Preview {
        plugin: plugin.to_string(),
        kind,
        label: preview.label,
        points: preview.points,
        amount: preview.amount,
    }
}

/// Checks `args` of an `Invoke` against the parameters `action` of `plugin` declared and
/// returns them as the plugin gets them. Refused with `InvalidArgument` naming the
/// parameter: a name the action does not declare (a typo must not pass), a required one
/// missing, a value of the wrong type. By type: `string` a string; `code` a non-empty
/// string; `choice` one of its choices; `decimal` a decimal string (money never travels as
/// a float); `integer` an integer, or its decimal string; `boolean` a boolean, or "true" or
/// "false". Integers and booleans reach the plugin as JSON numbers and booleans, the rest
/// as strings.
pub fn check_action_args(
    plugin: &str,
    action: &wire::Action,
    args: serde_json::Map<String, Value>,
) -> Result<serde_json::Map<String, Value>, SaleError> {
    let names: Vec<&str> = action.params.iter().map(|p| p.name.as_str()).collect();
    let id = format!("{plugin}:{}", action.id);
    for name in args.keys() {
        if !names.contains(&name.as_str()) {
            return Err(SaleError::InvalidArgument(if names.is_empty() {
                format!("unknown argument {name:?}: action {id} takes no arguments")
            } else {
                format!(
                    "unknown argument {name:?}: action {id} takes {}",
                    names.join(", ")
                )
            }));
        }
    }
    let mut out = serde_json::Map::new();
    for param in &action.params {
        let Some(value) = args.get(&param.name) else {
            if param.required {
                return Err(SaleError::InvalidArgument(format!(
                    "argument {:?} is required by action {id}",
                    param.name
                )));
            }
            continue;
        };
        let wrong = |expected: &str| {
            SaleError::InvalidArgument(format!(
                "argument {:?} of action {id} must be {expected}, not {value}",
                param.name
            ))
        };
        let checked = match (param.param_type, value) {
            (wire::ParamType::String, Value::String(_)) => value.clone(),
            (wire::ParamType::String, _) => return Err(wrong("a string")),
            (wire::ParamType::Code, Value::String(text)) if !text.trim().is_empty() => {
                Value::String(text.trim().to_string())
            }
            (wire::ParamType::Code, _) => return Err(wrong("a code (a non-empty string)")),
            (wire::ParamType::Choice, Value::String(text))
                if param.choices.iter().any(|c| c == text) =>
            {
                value.clone()
            }
            (wire::ParamType::Choice, _) => {
                return Err(wrong(&format!("one of {}", param.choices.join(", "))));
            }
            (wire::ParamType::Decimal, Value::String(text)) => {
                crate::money::parse(&param.name, text.trim())
                    .map_err(|_| wrong("a decimal string such as \"12.50\""))?;
                Value::String(text.trim().to_string())
            }
            (wire::ParamType::Decimal, _) => {
                return Err(wrong("a decimal string such as \"12.50\""));
            }
            (wire::ParamType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => {
                value.clone()
            }
            (wire::ParamType::Integer, Value::String(text)) => text
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| wrong("an integer"))?,
            (wire::ParamType::Integer, _) => return Err(wrong("an integer")),
            (wire::ParamType::Boolean, Value::Bool(_)) => value.clone(),
            (wire::ParamType::Boolean, Value::String(text)) => match text.trim() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(wrong("a boolean")),
            },
            (wire::ParamType::Boolean, _) => return Err(wrong("a boolean")),
            (wire::ParamType::OutputFile, _) => {
                return Err(wrong("a file, which only admin actions take"));
            }
        };
        out.insert(param.name.clone(), checked);
    }
    Ok(out)
}

/// What `EnterCode` answers for the number of a receipt in the journal (scanned from its
/// barcode): what it is, and that it is taken back with `Manager1.Return` or `Manager1.Void`,
/// not in a sale. The sale is not changed.
pub fn receipt_code_outcome(receipt: &super::model::Receipt) -> Outcome {
    Outcome {
        kind: "receipt".into(),
        message: format!(
            "{} is a receipt ({}, {}): take it back with Manager1.Return or Manager1.Void, \
             not in a sale",
            receipt.id,
            receipt.kind.as_str(),
            receipt.time
        ),
        ..Outcome::default()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn action() -> wire::Action {
        let param = |name: &str, param_type: wire::ParamType, required: bool| wire::ActionParam {
            name: name.into(),
            param_type,
            required,
            ..wire::ActionParam::default()
        };
        wire::Action {
            id: "greet".into(),
            label: "Grüßen".into(),
            params: vec![
                param("name", wire::ParamType::String, true),
                param("times", wire::ParamType::Integer, false),
                param("vip", wire::ParamType::Boolean, false),
                param("tip", wire::ParamType::Decimal, false),
                param("card", wire::ParamType::Code, false),
                wire::ActionParam {
                    choices: vec!["S".into(), "M".into()],
                    ..param("size", wire::ParamType::Choice, false)
                },
            ],
        }
    }

    fn args(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    fn refusal(value: Value) -> String {
        match check_action_args("promo", &action(), args(value)) {
            Err(SaleError::InvalidArgument(message)) => message,
            other => panic!("not refused: {other:?}"),
        }
    }

    /// Sales opened at the same moment, or after the clock was set back, never share an
    /// id (the crash test once found two frontends' sales merged into one).
    #[test]
    fn sale_numbers_never_repeat_when_the_clock_does() {
        let last = AtomicU64::new(0);
        assert_eq!(next_sale_number(&last, 1_000), 1_000);
        assert_eq!(next_sale_number(&last, 1_000), 1_001, "same reading");
        assert_eq!(next_sale_number(&last, 500), 1_002, "clock set back");
        assert_eq!(next_sale_number(&last, 5_000), 5_000);
        let shared = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    (0..10_000)
                        .map(|_| next_sale_number(&shared, 42))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = std::collections::BTreeSet::new();
        for t in threads {
            for n in t.join().expect("thread") {
                assert!(all.insert(n), "{n} given out twice");
            }
        }
        assert_eq!(all.len(), 40_000);
    }

    /// One unit of article `name` at 2.50, 20 % VAT.
    fn item(name: &str) -> NewItem {
        NewItem {
            sku: String::new(),
            name: name.into(),
            qty: "1".into(),
            unit_price: "2.50".into(),
            tax_rate: "20".into(),
            tags: Vec::new(),
        }
    }

    fn test_book(dir: &std::path::Path) -> (Database, Arc<Book>) {
        let db = Database::start(dir, std::time::Duration::from_secs(1)).expect("db");
        let plugins = PluginManager::new(
            db.clone(),
            crate::plugins::PluginSettings {
                directories: Vec::new(),
                install_directory: dir.join("plugins"),
                deadline: std::time::Duration::from_secs(1),
                sections: Default::default(),
                cache_dir: dir.join("cache"),
                order: Vec::new(),
                isolation: crate::plugins::IsolationSettings::in_process(),
            },
        );
        let till = Till {
            currency: Currency {
                minor: 2,
                cash_increment: None,
            },
            currency_code: "EUR".into(),
            store: json!({}),
            customer_groups: Default::default(),
        };
        (db.clone(), Book::new(db, plugins, till))
    }

    /// A change writes the head and only the lines that changed, and the sale comes back
    /// whole after a restart: quantities changed, lines removed (the rest move up), added.
    #[tokio::test]
    async fn a_sale_written_line_by_line_comes_back_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, book) = test_book(dir.path());
        let sale = book.open("anna", "C-1").await.expect("open");
        let mut ids = Vec::new();
        for name in ["A", "B", "C", "D"] {
            ids.push(book.add_item(&sale.id, item(name)).await.expect("add").0);
        }
        let rows = |db: Database, id: String| async move {
            db.call(move |c| {
                c.query_row(
                    "SELECT count(*), coalesce(json_array_length(s.document, '$.lines'), -1)
                     FROM sale_lines l JOIN sales s ON s.id = l.sale_id WHERE l.sale_id = ?1",
                    [&id],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )
            })
            .await
            .expect("rows")
        };
        assert_eq!(
            rows(db.clone(), sale.id.clone()).await,
            (4, 0),
            "4 rows, a head without lines"
        );
        let (_, changed) = book
            .change(&sale.id, |s, c| {
                Ok(engine::set_quantity(s, &ids[2], "3", c)?)
            })
            .await
            .expect("qty");
        book.change(&sale.id, |s, _| {
            Ok(engine::remove_line(s, &ids[0]).map(|_| ())?)
        })
        .await
        .expect("remove");
        let (_, last) = book.add_item(&sale.id, item("E")).await.expect("add");
        assert_eq!(changed.lines[2].qty, Decimal::from(3));
        assert_eq!(
            rows(db.clone(), sale.id.clone()).await,
            (4, 0),
            "the tail row went"
        );
        db.close().await.expect("close");
        let (_, again) = test_book(dir.path());
        assert_eq!(
            again.restore().await.expect("restore"),
            vec![sale.id.clone()]
        );
        let restored = again.get(&sale.id).await.expect("restored");
        assert_eq!(restored, last);
        let names: Vec<&str> = restored.lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["B", "C", "D", "E"]);
    }

    /// Line rows are keyed by line id: removing the first line deletes its row and rewrites
    /// no other line (the lines after it moving up is the head's `line_order`), and the
    /// order comes back after a restart.
    #[tokio::test]
    async fn a_line_removed_rewrites_no_other_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, book) = test_book(dir.path());
        let sale = book.open("anna", "").await.expect("open");
        let mut ids = Vec::new();
        for name in ["A", "B", "C", "D"] {
            ids.push(book.add_item(&sale.id, item(name)).await.expect("add").0);
        }
        db.call(|c| {
            c.execute_batch(
                "CREATE TABLE line_writes (line_id TEXT);
                 CREATE TRIGGER counted_insert AFTER INSERT ON sale_lines
                     BEGIN INSERT INTO line_writes VALUES (new.line_id); END;
                 CREATE TRIGGER counted_update AFTER UPDATE ON sale_lines
                     BEGIN INSERT INTO line_writes VALUES (new.line_id); END;
                 CREATE TRIGGER counted_delete AFTER DELETE ON sale_lines
                     BEGIN INSERT INTO line_writes VALUES ('-' || old.line_id); END;",
            )
        })
        .await
        .expect("triggers");
        book.change(&sale.id, |s, _| {
            Ok(engine::remove_line(s, &ids[0]).map(|_| ())?)
        })
        .await
        .expect("remove");
        let (_, last) = book.add_item(&sale.id, item("E")).await.expect("add");
        let written: Vec<String> = db
            .call(|c| {
                c.prepare("SELECT line_id FROM line_writes")?
                    .query_map([], |r| r.get(0))?
                    .collect()
            })
            .await
            .expect("writes");
        assert_eq!(
            written,
            [format!("-{}", ids[0]), last.lines[3].id.clone()],
            "A's row deleted, E's written, B, C and D untouched"
        );
        // Ids past L9 sort before L2 as text: the order is the head's, not the rows'.
        for name in ["F", "G", "H", "I", "J", "K", "L", "M"] {
            book.add_item(&sale.id, item(name)).await.expect("add");
        }
        db.close().await.expect("close");
        let (_, again) = test_book(dir.path());
        again.restore().await.expect("restore");
        let names: Vec<String> = again
            .get(&sale.id)
            .await
            .expect("restored")
            .lines
            .iter()
            .map(|l| l.name.clone())
            .collect();
        assert_eq!(
            names,
            ["B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M"]
        );
    }

    /// A change that leaves the head as it was (a quantity) writes only line rows, so the
    /// head keeps its `updated_at`; one that changes the head (a customer) writes it.
    #[tokio::test]
    async fn the_head_row_is_written_only_when_the_head_changed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, book) = test_book(dir.path());
        let sale = book.open("anna", "").await.expect("open");
        let item = NewItem {
            sku: String::new(),
            name: "A".into(),
            qty: "1".into(),
            unit_price: "2.50".into(),
            tax_rate: "20".into(),
            tags: Vec::new(),
        };
        let (line, _) = book.add_item(&sale.id, item).await.expect("add");
        let head = |db: Database, id: String| async move {
            db.call(move |c| {
                c.query_row(
                    "SELECT s.updated_at, s.document, l.document FROM sales s
                     JOIN sale_lines l ON l.sale_id = s.id WHERE s.id = ?1",
                    [&id],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    },
                )
            })
            .await
            .expect("rows")
        };
        let id = sale.id.clone();
        db.call(move |c| c.execute("UPDATE sales SET updated_at = 'then' WHERE id = ?1", [&id]))
            .await
            .expect("mark");
        let (_, before, line_before) = head(db.clone(), sale.id.clone()).await;
        book.change(&sale.id, |s, c| Ok(engine::set_quantity(s, &line, "3", c)?))
            .await
            .expect("qty");
        let (at, after, line_after) = head(db.clone(), sale.id.clone()).await;
        assert_eq!(at, "then", "the head was not written again");
        assert_eq!(after, before);
        assert_ne!(
            line_after, line_before,
            "the line's row holds the new quantity"
        );
        book.change(&sale.id, |s, _| Ok(engine::set_customer(s, "C-7")?))
            .await
            .expect("customer");
        let (at, after, _) = head(db.clone(), sale.id.clone()).await;
        assert_ne!(at, "then", "a changed head is written with its time");
        assert!(after.contains("C-7"), "{after}");
    }

    /// A change whose commit fails (the sale was completed behind the book's back) is told
    /// twice: the change while it committed, then the sale as it still is; the book keeps
    /// the sale unchanged and answers `NotOpen`.
    #[tokio::test]
    async fn a_change_that_failed_to_commit_is_told_again_as_the_sale_still_is() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, book) = test_book(dir.path());
        let sale = book.open("anna", "").await.expect("open");
        let id = sale.id.clone();
        db.call(move |c| c.execute("UPDATE sales SET state = 'completed' WHERE id = ?1", [&id]))
            .await
            .expect("completed elsewhere");
        let told = std::sync::Mutex::new(Vec::new());
        let result = book
            .change_then(
                &sale.id,
                |s, _| Ok(engine::set_customer(s, "C-7")?),
                |s| {
                    told.lock().expect("told").push(s.customer.clone());
                    std::future::ready(())
                },
            )
            .await;
        assert!(
            matches!(result, Err(BookError::Sale(SaleError::NotOpen(_)))),
            "{result:?}"
        );
        assert_eq!(*told.lock().expect("told"), ["C-7", ""]);
        assert_eq!(book.get(&sale.id).await.expect("kept").customer, "");
    }

    /// A sale of an earlier run holding the next id (the clock set back across a restart)
    /// keeps its row; the new sale takes the next number.
    #[tokio::test]
    async fn a_new_sale_never_takes_the_place_of_an_earlier_runs_sale() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, book) = test_book(dir.path());
        db.call(|c| {
            c.execute(
                "INSERT INTO sales (id, state, document, updated_at)
                 VALUES ('s7000', 'completed', '{}', 'then')",
                [],
            )
        })
        .await
        .expect("an earlier run's sale");
        let sale = book.open_by("anna", "", || 7_000).await.expect("open");
        assert_eq!(sale.id, "s7001");
        let kept: String = db
            .call(|c| {
                c.query_row("SELECT state FROM sales WHERE id = 's7000'", [], |r| {
                    r.get(0)
                })
            })
            .await
            .expect("kept");
        assert_eq!(kept, "completed");
    }

    #[test]
    fn action_args_are_checked_against_the_declared_params() {
        let checked = check_action_args(
            "promo",
            &action(),
            args(
                json!({"name": "Anna", "times": "3", "vip": "true", "tip": " 1.50 ",
                        "card": " C-1 ", "size": "M"}),
            ),
        )
        .expect("fits");
        assert_eq!(
            Value::Object(checked),
            json!({"name": "Anna", "times": 3, "vip": true, "tip": "1.50", "card": "C-1",
                   "size": "M"}),
            "integers and booleans given as text reach the plugin typed"
        );
        let only_required =
            check_action_args("promo", &action(), args(json!({"name": "Anna"}))).expect("fits");
        assert_eq!(
            only_required.len(),
            1,
            "optional params given none stay out"
        );

        let typo = refusal(json!({"name": "Anna", "nmae": "Anna"}));
        assert!(
            typo.contains("\"nmae\"") && typo.contains("promo:greet"),
            "{typo}"
        );
        assert!(refusal(json!({})).contains("\"name\" is required"));
        for (bad, param) in [
            (json!({"name": 7}), "\"name\""),
            (json!({"name": "A", "times": "drei"}), "\"times\""),
            (json!({"name": "A", "times": true}), "\"times\""),
            (json!({"name": "A", "vip": "ja"}), "\"vip\""),
            (json!({"name": "A", "tip": "1,50"}), "\"tip\""),
            (json!({"name": "A", "tip": 1}), "\"tip\""),
            (json!({"name": "A", "card": "  "}), "\"card\""),
            (json!({"name": "A", "size": "XL"}), "\"size\""),
        ] {
            let message = refusal(bad.clone());
            assert!(message.contains(param), "{bad}: {message}");
        }
        let bare = wire::Action {
            params: Vec::new(),
            ..action()
        };
        assert!(matches!(
            check_action_args("promo", &bare, args(json!({"x": "1"}))),
            Err(SaleError::InvalidArgument(m)) if m.contains("takes no arguments")
        ));
    }

    fn automatic(id: &str, plugin: &str, reference: &str, name: &str) -> Line {
        let mut line = Line::rounding(id, Decimal::NEGATIVE_ONE);
        line.kind = LineKind::Discount;
        line.plugin = plugin.into();
        line.reference = reference.into();
        line.name = name.into();
        line.automatic = true;
        line
    }

    fn auto(reference: &str, name: &str) -> wire::AutoLine {
        wire::AutoLine {
            name: name.into(),
            reference: reference.into(),
            ..wire::AutoLine::default()
        }
    }

    #[test]
    fn an_automatic_line_keeps_its_id_while_its_promotion_is_answered() {
        let mut sale = Sale::new("S1", SaleState::Open, "anna", String::new());
        sale.next_automatic = 3;
        let mut before = vec![
            automatic("A1", "promo", "PROMO-3FOR2", "3 für 2"),
            automatic("A2", "promo", "PROMO-3FOR2", "3 für 2"),
            automatic("A3", "promo", "", "Happy Hour"),
        ];
        // Answered again, in another order, with another amount: the same ids.
        assert_eq!(
            automatic_line_id(&mut sale, &mut before, "promo", &auto("", "Happy Hour")),
            "A3",
            "without a ref the name is the promotion"
        );
        assert_eq!(
            automatic_line_id(&mut sale, &mut before, "promo", &auto("PROMO-3FOR2", "x")),
            "A1"
        );
        assert_eq!(
            automatic_line_id(&mut sale, &mut before, "promo", &auto("PROMO-3FOR2", "x")),
            "A2",
            "lines of one ref keep their ids in order"
        );
        // A new promotion, and the same ref from another plugin, get new ids.
        assert_eq!(
            automatic_line_id(&mut sale, &mut before, "promo", &auto("PROMO-3FOR2", "x")),
            "A4"
        );
        let mut before = vec![automatic("A1", "promo", "R-1", "")];
        assert_eq!(
            automatic_line_id(&mut sale, &mut before, "other", &auto("R-1", "")),
            "A5"
        );
        assert_eq!(
            before.len(),
            1,
            "promo's line is not taken by another plugin"
        );
    }

    #[test]
    fn a_preview_without_a_kind_is_earn_when_it_counts_something() {
        let preview = |kind: Option<wire::PreviewKind>, points: Option<Decimal>| wire::Preview {
            kind,
            label: "x".into(),
            points,
            amount: None,
        };
        assert_eq!(
            preview_of("p", preview(None, Some(Decimal::TEN))).kind,
            "earn"
        );
        assert_eq!(preview_of("p", preview(None, None)).kind, "info");
        let nudge = preview_of("p", preview(Some(wire::PreviewKind::Nudge), None));
        assert_eq!((nudge.plugin.as_str(), nudge.kind.as_str()), ("p", "nudge"));
    }
}
