//! Checkout: one SQLite transaction that commits a sale and everything it causes.
//!
//! The receipt (numbered without gaps per register), the plugins' postings, their receipt
//! sections, their outbox messages and key-value writes, the print jobs of the receipt and
//! its slips, the sale's final state and the idempotency key are written together or not at
//! all. Plugins are asked to prepare first and told to commit or abort after; if a prepare
//! fails or a balance would fall below its floor, nothing is written and the sale stays open.
//!
//! Checkouts run one at a time per till, which keeps the receipt number of a prepare the
//! number that is committed.

use std::collections::BTreeMap;
use std::sync::Arc;

use posd_plugin_sdk::schema as wire;
use rusqlite::{OptionalExtension, params};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::book::{Book, BookError, Till};
use super::booking;
use super::day::{DayRow, DayStatus};
use super::engine::{self, SaleError};
use super::model::{Line, LineKind, Receipt, ReceiptKind, SaleState, Section, VatLine};
use super::register::DayFor;
use super::reversal::{self, Payouts, ReversalError};
use crate::config::OpenDrawer;
use crate::devices::Registry;
use crate::ledger::{self, LedgerError, PostingSpec};
use crate::outbox::{self, NewMessage};
use crate::plugins::{CallError, Hook, PluginManager, decode};
use crate::print_queue;
use crate::store::{Database, StoreError};

/// Why a checkout (or a receipt operation) failed; nothing was committed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// From the sale book.
    #[error(transparent)]
    Book(#[from] BookError),
    /// The same idempotency key was used for another request, or the sale is done.
    #[error("{0}")]
    Conflict(String),
    /// A balance would fall below its floor.
    #[error("{0}")]
    InsufficientBalance(String),
    /// No such receipt.
    #[error("no receipt {0:?}")]
    NoReceipt(String),
    /// The receipt cannot be reversed that way (a void that would hand back spent value).
    #[error("{0}")]
    NotAllowed(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SaleError> for JournalError {
    fn from(e: SaleError) -> Self {
        JournalError::Book(e.into())
    }
}

impl From<CallError> for JournalError {
    fn from(e: CallError) -> Self {
        JournalError::Book(e.into())
    }
}

/// Fixed receipt texts and where receipts print.
#[derive(Debug, Clone, Default)]
pub struct ReceiptSettings {
    /// Store id.
    pub store_id: String,
    /// Register id.
    pub register_id: String,
    /// Locale of receipts.
    pub locale: String,
    /// Header lines.
    pub header: Vec<String>,
    /// Footer lines.
    pub footer: Vec<String>,
    /// The printer device receipts go to; `None`: the first printer configured.
    pub printer: Option<String>,
    /// Selling, voiding, returning and cash movements need a day opened with `OpenDay`;
    /// otherwise the first of them opens one with a float of 0.
    pub require_day_open: bool,
    /// When a receipt opens the cash drawer of its printer.
    pub open_drawer: OpenDrawer,
}

/// The journal of committed receipts and the checkout that writes it.
pub struct Journal {
    pub(super) db: Database,
    plugins: Arc<PluginManager>,
    pub(super) book: Arc<Book>,
    devices: Registry,
    settings: std::sync::RwLock<ReceiptSettings>,
    pub(super) outbox_wake: Arc<tokio::sync::Notify>,
    pub(super) one_at_a_time: tokio::sync::Mutex<()>,
    /// The till's day as the bus shows it; changed only under `one_at_a_time`.
    pub(super) day: tokio::sync::watch::Sender<DayStatus>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

/// What comes before a checkout, void or return: the receipt of the same request made
/// earlier, or the number the new receipt gets.
pub(super) enum Next {
    Done(String),
    Number(i64),
}

pub(super) struct Prepared {
    plugin: String,
    effects: wire::CheckoutEffects,
}

/// The receipt printer's name, rendering profile and handle.
pub(super) type ReceiptPrinter = (Arc<crate::devices::Device>, posd_printer::Profile);

impl Journal {
    /// A journal writing through `db`.
    pub fn new(
        db: Database,
        plugins: Arc<PluginManager>,
        book: Arc<Book>,
        devices: Registry,
        settings: ReceiptSettings,
        outbox_wake: Arc<tokio::sync::Notify>,
    ) -> Arc<Self> {
        Arc::new(Self {
            db,
            plugins,
            book,
            devices,
            settings: std::sync::RwLock::new(settings),
            outbox_wake,
            one_at_a_time: tokio::sync::Mutex::new(()),
            day: tokio::sync::watch::Sender::new(DayStatus::default()),
        })
    }

    /// Takes new receipt settings (configuration reload).
    pub fn set_settings(&self, settings: ReceiptSettings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    pub(super) fn settings(&self) -> ReceiptSettings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn receipt_printer(&self) -> Option<ReceiptPrinter> {
        let wanted = self.settings().printer;
        let devices = self.devices.read().unwrap_or_else(|e| e.into_inner());
        devices
            .values()
            .filter(|d| d.printer().is_some())
            .find(|d| wanted.as_deref().is_none_or(|w| w == d.name))
            .map(|d| {
                (
                    d.clone(),
                    d.printer().map(|p| p.profile()).unwrap_or(
                        posd_printer::Profile::paper_80mm_512(posd_printer::CodePage::Pc858),
                    ),
                )
            })
    }

    /// Checks out a sale. The same key with the same sale returns the first receipt again
    /// and changes nothing (`true`: this was such a replay); the same key for another sale
    /// is a conflict.
    pub async fn checkout(&self, sale_id: &str, key: &str) -> Result<(String, bool), JournalError> {
        let key = check_key(key)?;
        let _one = self.one_at_a_time.lock().await;
        let request = json!({ "op": "checkout", "sale": sale_id }).to_string();
        let settings = self.settings();
        let number = match self.replay_or_number(key, &request, &settings).await? {
            Next::Done(receipt) => return Ok((receipt, true)),
            Next::Number(number) => number,
        };
        let (_frozen, sale) = self.book.begin_checkout(sale_id).await?;
        if sale.state == SaleState::Completed {
            return Err(JournalError::Conflict(format!(
                "sale {sale_id} is already completed as receipt {}",
                sale.receipt_id
            )));
        }
        let till = self.book.till();
        let totals = engine::ready_for_checkout(&sale, till.currency)?;
        let day = self.day_for(&settings).await?;
        let receipt_id = receipt_id_of(&settings, number);
        let checkout_id = format!("{sale_id}/{key}");
        let prepared = self
            .prepare(&sale, &till, &checkout_id, &receipt_id)
            .await?;

        let mut receipt = build_receipt(
            &sale,
            &till,
            &settings,
            &receipt_id,
            number,
            &prepared,
            &totals,
        );
        receipt.day = day.row.id.clone();
        let printer = self.receipt_printer();
        let print_jobs = print_jobs_of(
            &receipt,
            printer.as_ref(),
            till.currency.minor,
            settings.open_drawer,
        );
        // The print jobs hold a secret section's full code; the journal only its mask.
        super::receipt::mask_secret_sections(&mut receipt);

        // One transaction for everything.
        let mut completed = sale.clone();
        completed.state = SaleState::Completed;
        completed.receipt_id = receipt_id.clone();
        // The lines' rows stay as the last change wrote them; the head becomes completed.
        let write = super::book::head_document(&mut completed)
            .map_err(|e| SaleError::InvalidArgument(e.to_string()))
            .and_then(|sale_document| {
                let mut write = JournalWrite::new(&receipt, &prepared, till.currency.minor)?;
                write.print_jobs = print_jobs;
                write.idempotency = Some((key.to_string(), "checkout", request.clone()));
                write.sale = Some((sale_id.to_string(), sale_document));
                write.fault = Some("checkout-before-commit");
                write.day_opened = day.opens.then(|| day.row.clone());
                Ok(write)
            });
        let write = match write {
            Ok(write) => write,
            Err(e) => {
                self.abort(&prepared, &checkout_id, &e.to_string());
                return Err(e.into());
            }
        };
        match self.db.call(move |c| write.apply(c)).await {
            Ok(Ok(())) => {}
            Ok(Err(ledger_error)) => {
                self.abort(&prepared, &checkout_id, &ledger_error.to_string());
                return Err(refused(ledger_error));
            }
            Err(e) => {
                self.abort(&prepared, &checkout_id, &e.to_string());
                return Err(e.into());
            }
        }
        self.committed_to_day(&day, &receipt);
        tracing::info!(sale = %sale_id, receipt = %receipt_id, total = %totals.total, "checked out");
        // Queued now, so each plugin hears of the commit before the next checkout's
        // prepare; the answer is not waited for.
        let committed = json!({ "schema": 1, "checkout": checkout_id, "receipt_id": receipt_id });
        for p in &prepared {
            self.plugins
                .notify(&p.plugin, Hook::CommitCheckout, &committed);
        }
        self.book.completed(completed).await;
        wake_printer(printer.as_ref());
        self.outbox_wake.notify_one();
        Ok((receipt_id, false))
    }

    /// Asks every plugin to prepare the checkout, all of them at once. If one fails, all
    /// are told to abort and its error is returned.
    async fn prepare(
        &self,
        sale: &super::model::Sale,
        till: &Till,
        checkout_id: &str,
        receipt_id: &str,
    ) -> Result<Vec<Prepared>, CallError> {
        let asked: Vec<_> = self
            .plugins
            .implementing(Hook::PrepareCheckout)
            .into_iter()
            .map(|plugin| {
                let request = json!({ "schema": 1, "sale": super::view::sale(sale, till, &plugin),
                                      "store": till.store, "checkout": checkout_id,
                                      "receipt_id": receipt_id });
                let pending = self
                    .plugins
                    .enqueue(&plugin, Hook::PrepareCheckout, &request);
                (plugin, pending)
            })
            .collect();
        let mut prepared: Vec<Prepared> = Vec::new();
        let mut failure = None;
        for (plugin, pending) in asked {
            let answer = self
                .plugins
                .answer(pending)
                .await
                .and_then(|v| decode(&plugin, Hook::PrepareCheckout, v));
            match answer {
                Ok(effects) => prepared.push(Prepared { plugin, effects }),
                // The others prepared too: every one hears the abort.
                Err(e) => {
                    failure.get_or_insert(e);
                    prepared.push(Prepared {
                        plugin,
                        effects: wire::CheckoutEffects::default(),
                    });
                }
            }
        }
        match failure {
            Some(e) => {
                self.abort(&prepared, checkout_id, &e.to_string());
                Err(e)
            }
            None => Ok(prepared),
        }
    }

    /// In one database round trip: the receipt of an earlier request with `key` (or a
    /// conflict if the key was used for another request), else the next receipt number.
    /// Call it under the journal's lock, so that the number is still next when written.
    pub(super) async fn replay_or_number(
        &self,
        key: &str,
        request: &str,
        settings: &ReceiptSettings,
    ) -> Result<Next, JournalError> {
        let (key_owned, register) = (key.to_string(), settings.register_id.clone());
        let (found, next): (Option<(String, String)>, i64) = self
            .db
            .call(move |c| {
                let found = c
                    .prepare_cached("SELECT request, result FROM idempotency WHERE key = ?1")?
                    .query_row([&key_owned], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                Ok((found, next_receipt_number(c, &register)?))
            })
            .await?;
        match found {
            None => Ok(Next::Number(next)),
            Some((stored, result)) if stored == request => Ok(Next::Done(result)),
            Some(_) => Err(JournalError::Conflict(format!(
                "the idempotency key {key:?} was used for another request"
            ))),
        }
    }

    /// Tells every plugin that prepared that the checkout was abandoned (queued at once,
    /// not waited for).
    fn abort(&self, prepared: &[Prepared], checkout_id: &str, reason: &str) {
        let request = json!({ "schema": 1, "checkout": checkout_id, "reason": reason });
        for p in prepared {
            self.plugins
                .notify(&p.plugin, Hook::AbortCheckout, &request);
        }
    }

    /// A committed receipt.
    pub async fn receipt(&self, id: &str) -> Result<Receipt, JournalError> {
        let id_owned = id.to_string();
        let document: Option<String> = self
            .db
            .call(move |c| {
                c.prepare_cached("SELECT document FROM receipts WHERE id = ?1")?
                    .query_row([&id_owned], |r| r.get(0))
                    .optional()
            })
            .await?;
        let document = document.ok_or_else(|| JournalError::NoReceipt(id.to_string()))?;
        serde_json::from_str(&document)
            .map_err(|e| JournalError::Conflict(format!("receipt {id} is unreadable: {e}")))
    }

    /// Queues a copy of a receipt on the receipt printer (or `printer`), marked as a copy
    /// with the time of the reprint (see [`super::receipt::render_copy`]); returns the job
    /// id. The journal is not changed: the copy is no new receipt.
    pub async fn reprint(&self, id: &str, printer: Option<&str>) -> Result<String, JournalError> {
        let receipt = self.receipt(id).await?;
        let target = match printer {
            Some(name) => {
                let devices = self.devices.read().unwrap_or_else(|e| e.into_inner());
                devices.get(name).filter(|d| d.printer().is_some()).cloned()
            }
            None => self.receipt_printer().map(|(d, _)| d),
        };
        let device = target.ok_or_else(|| {
            JournalError::Book(
                SaleError::NotFound("no receipt printer is configured".into()).into(),
            )
        })?;
        let handle = device
            .printer()
            .ok_or_else(|| JournalError::NoReceipt(id.to_string()))?;
        let minor = self.book.till().currency.minor;
        let reprinted_at = super::time::local_rfc3339_ms(now_ms());
        let document = super::receipt::render_copy(&receipt, minor, &reprinted_at);
        let profile = handle.profile();
        tracing::info!(receipt = %id, device = %device.name, "reprint queued as a copy");
        handle
            .enqueue_with("reprint", id, move |_| {
                posd_printer::render(&document, &profile).bytes
            })
            .await
            .map_err(|e| JournalError::Book(SaleError::InvalidArgument(e.to_string()).into()))
    }
}

/// The number the next receipt of `register` gets.
pub(super) fn next_receipt_number(
    c: &rusqlite::Connection,
    register: &str,
) -> rusqlite::Result<i64> {
    c.prepare_cached("SELECT coalesce(max(number), 0) + 1 FROM receipts WHERE register = ?1")?
        .query_row([register], |r| r.get(0))
}

/// `<store>-<register>-<number>`.
pub(super) fn receipt_id_of(settings: &ReceiptSettings, number: i64) -> String {
    format!("{}-{}-{number:06}", settings.store_id, settings.register_id)
}

/// The receipt, the drawer kick right after it (if `open_drawer` asks for one) and its
/// slips, rendered for the receipt printer, if there is one.
fn print_jobs_of(
    receipt: &Receipt,
    printer: Option<&ReceiptPrinter>,
    minor: u32,
    open_drawer: OpenDrawer,
) -> Vec<(String, &'static str, Vec<u8>)> {
    let Some(receipt_printer @ (device, profile)) = printer else {
        return Vec::new();
    };
    let mut jobs = vec![(
        device.name.clone(),
        "receipt",
        posd_printer::render(&super::receipt::render_receipt(receipt, minor), profile).bytes,
    )];
    jobs.extend(drawer_job(receipt, receipt_printer, open_drawer));
    let secret = receipt.sections.iter().filter(|s| s.slip).map(|s| s.secret);
    for (slip, secret) in super::receipt::render_slips(receipt)
        .into_iter()
        .zip(secret)
    {
        jobs.push((
            device.name.clone(),
            // A secret slip's bytes are wiped once it printed (print_queue::mark_printed).
            if secret {
                print_queue::SECRET_SLIP
            } else {
                "slip"
            },
            posd_printer::render(&slip, profile).bytes,
        ));
    }
    jobs
}

/// Whether cash went into or out of the drawer with `receipt`: a cash tender or change on a
/// sale, void or return; the amount of a cash movement or an opening float. (The Z's count
/// happens with the drawer open already; its receipt opens nothing.)
pub(super) fn moves_cash(receipt: &Receipt) -> bool {
    match receipt.kind {
        ReceiptKind::Sale | ReceiptKind::Void | ReceiptKind::Return => {
            receipt
                .tenders
                .iter()
                .any(|t| t.method == "cash" && !t.amount.is_zero())
                || !receipt.totals.change.is_zero()
        }
        ReceiptKind::DayOpen | ReceiptKind::CashIn | ReceiptKind::CashOut => {
            !receipt.totals.total.is_zero()
        }
        ReceiptKind::Z => false,
    }
}

/// The print job that opens the drawer of `printer` after `receipt`, when `open_drawer`
/// asks for it: queued in the receipt's transaction right behind its receipt, so the kick
/// is never lost (a crash after the commit still opens it) nor sent twice, and the drawer
/// opens when the receipt has printed.
pub(super) fn drawer_job(
    receipt: &Receipt,
    printer: &ReceiptPrinter,
    open_drawer: OpenDrawer,
) -> Option<(String, &'static str, Vec<u8>)> {
    let wanted = match open_drawer {
        OpenDrawer::Never => false,
        OpenDrawer::Cash => moves_cash(receipt),
        OpenDrawer::Always => receipt.kind.is_sale_or_reversal() || moves_cash(receipt),
    };
    let (device, _) = printer;
    let handle = device.printer().filter(|_| wanted)?;
    Some((device.name.clone(), "drawer", handle.drawer_kick()))
}

/// Tells the receipt printer's worker that jobs are waiting.
pub(super) fn wake_printer(printer: Option<&ReceiptPrinter>) {
    if let Some((device, _)) = printer
        && let Some(handle) = device.printer()
    {
        handle.send(crate::devices::PrinterCommand::Wake);
    }
}

/// A ledger refusal as the caller's error.
pub(super) fn refused(e: LedgerError) -> JournalError {
    match e {
        LedgerError::BelowFloor { .. } => JournalError::InsufficientBalance(e.to_string()),
        other => {
            CallError::Failed(format!("the receipt's ledger entry was refused: {other}")).into()
        }
    }
}

/// Business time (see [`crate::clock`]): what receipts, the journal and the day carry.
pub(super) fn now_ms() -> u128 {
    crate::clock::now_ms()
}

/// Everything one journal transaction writes: the receipt, its ledger entry (the host's
/// postings and the plugins' in one balanced entry), the plugins' outbox messages and
/// key-value writes, print jobs, and what else the operation changes (the sale's final
/// state, the day, the idempotency key). An admin action's effects (ABI 1.2) are the same
/// write without a receipt: [`JournalWrite::admin`].
pub(super) struct JournalWrite {
    /// The receipt; `None` for an admin action's effects.
    row: Option<ReceiptRow>,
    /// The ledger entry's kind (the receipt's kind, or `admin`) and reference (the receipt
    /// id, or `admin:<plugin>:<action>:<n>`).
    entry_kind: &'static str,
    reference: String,
    postings: Vec<PostingSpec>,
    /// Whether every plugin's postings balance on their own (else: which did not).
    plugins_balanced: Result<(), String>,
    memo: String,
    messages: Vec<NewMessage>,
    kv: Vec<(String, String, Value)>,
    /// (device, kind, bytes).
    pub(super) print_jobs: Vec<(String, &'static str, Vec<u8>)>,
    /// (key, operation, request).
    pub(super) idempotency: Option<(String, &'static str, String)>,
    /// (sale id, its completed document).
    pub(super) sale: Option<(String, String)>,
    /// A day opened with this receipt.
    pub(super) day_opened: Option<DayRow>,
    /// The day this receipt closes.
    pub(super) day_closed: Option<DayRow>,
    /// The crash point just before the commit.
    pub(super) fault: Option<&'static str>,
    /// An admin write's number, kept as the database's last one (`meta` key
    /// [`ADMIN_SEQUENCE`]) in the same transaction.
    pub(super) admin_number: Option<i64>,
}

/// The kind of the ledger entry of an admin action's effects.
pub const ADMIN_ENTRY_KIND: &str = "admin";

/// The `meta` key holding the number of the last admin write, so each reference
/// `admin:<plugin>:<action>:<n>` is used once per database.
pub(super) const ADMIN_SEQUENCE: &str = "admin_sequence";

impl JournalWrite {
    /// The write of `receipt` with the plugins' effects of `prepared`.
    pub(super) fn new(
        receipt: &Receipt,
        prepared: &[Prepared],
        minor: u32,
    ) -> Result<Self, SaleError> {
        let document = serde_json::to_string(receipt)
            .map_err(|e| SaleError::InvalidArgument(e.to_string()))?;
        let mut write = Self::of_plugins(
            booking::postings(receipt, minor),
            prepared,
            receipt.kind.as_str(),
            &receipt.id,
        );
        write.row = Some(ReceiptRow::of(receipt, &document));
        Ok(write)
    }

    /// The write of admin action `action`'s effects (ABI 1.2): what a checkout writes of a
    /// plugin's effects, under the same rules (its postings balance per unit, floors hold,
    /// accounts in its namespace), as one ledger entry of kind `admin` referenced
    /// `reference`, without a receipt.
    pub(super) fn admin(plugin: &str, effects: wire::CheckoutEffects, reference: &str) -> Self {
        let prepared = [Prepared {
            plugin: plugin.to_string(),
            effects,
        }];
        Self::of_plugins(Vec::new(), &prepared, ADMIN_ENTRY_KIND, reference)
    }

    /// The plugins' part of a write, after the host's own `postings`, as entry `reference`.
    fn of_plugins(
        mut postings: Vec<PostingSpec>,
        prepared: &[Prepared],
        entry_kind: &'static str,
        reference: &str,
    ) -> Self {
        let mut plugins_balanced = Ok(());
        for p in prepared {
            let specs: Vec<PostingSpec> = p
                .effects
                .postings
                .iter()
                .map(|x| posting_spec(&p.plugin, x))
                .collect();
            // Each plugin's postings balance on their own: no plugin leans on another's.
            if plugins_balanced.is_ok() {
                plugins_balanced =
                    ledger::check_balanced(&specs).map_err(|e| format!("plugin {}: {e}", p.plugin));
            }
            postings.extend(specs);
        }
        Self {
            plugins_balanced,
            row: None,
            entry_kind,
            reference: reference.to_string(),
            postings,
            memo: prepared
                .iter()
                .filter(|p| !p.effects.postings.is_empty())
                .map(|p| p.plugin.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            messages: prepared
                .iter()
                .flat_map(|p| {
                    p.effects.outbox.iter().map(|m| NewMessage {
                        plugin: p.plugin.clone(),
                        destination: m.destination.clone(),
                        key: m.key.clone(),
                        payload: m.payload.clone(),
                        reference: reference.to_string(),
                    })
                })
                .collect(),
            kv: prepared
                .iter()
                .flat_map(|p| {
                    p.effects
                        .kv
                        .iter()
                        .map(|w| (p.plugin.clone(), w.key.clone(), w.value.clone()))
                })
                .collect(),
            print_jobs: Vec::new(),
            idempotency: None,
            sale: None,
            day_opened: None,
            day_closed: None,
            fault: None,
            admin_number: None,
        }
    }

    /// Writes everything in one transaction; a ledger refusal is the inner error, and then
    /// nothing was written.
    pub(super) fn apply(
        &self,
        c: &mut rusqlite::Connection,
    ) -> rusqlite::Result<Result<(), LedgerError>> {
        if let Err(plugin) = &self.plugins_balanced {
            return Ok(Err(LedgerError::Refused(plugin.clone())));
        }
        let tx = c.transaction()?;
        let rid = &self.reference;
        if let Some(day) = &self.day_opened {
            super::day::insert_day(&tx, day)?;
        }
        if let Some(row) = &self.row {
            row.insert(&tx)?;
        }
        if !self.postings.is_empty()
            && let Err(e) = ledger::post(&tx, self.entry_kind, rid, &self.memo, &self.postings)
        {
            return Ok(Err(e));
        }
        for message in &self.messages {
            outbox::enqueue(&tx, message)?;
        }
        for (plugin, key, value) in &self.kv {
            crate::plugins::services::kv_put(&tx, plugin, key, value)?;
        }
        for (device, kind, bytes) in &self.print_jobs {
            print_queue::enqueue_with(&tx, device, kind, rid, |_| bytes.clone())?;
        }
        let now = super::time::rfc3339_ms(now_ms());
        if let Some((sale_id, document)) = &self.sale {
            tx.prepare_cached(
                "UPDATE sales SET state = 'completed', document = ?2, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![sale_id, document, now])?;
        }
        if let Some(day) = &self.day_closed {
            super::day::close_day(&tx, day)?;
        }
        if let Some(n) = self.admin_number {
            tx.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![ADMIN_SEQUENCE, n.to_string()])?;
        }
        if let Some((key, operation, request)) = &self.idempotency {
            tx.prepare_cached(
                "INSERT INTO idempotency (key, operation, request, result, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![key, operation, request, rid, now])?;
        }
        if let Some(point) = self.fault {
            crate::fault::point(point);
        }
        tx.commit()?;
        Ok(Ok(()))
    }
}

fn posting_spec(plugin: &str, p: &wire::Posting) -> PostingSpec {
    PostingSpec {
        account: ledger::plugin_account(plugin, &p.account),
        amount: p.amount,
        unit: p.unit.clone(),
        kind: p.kind.clone(),
        floor: p.floor,
        customer: p.customer.clone(),
        expires: p.expires.clone(),
    }
}

fn build_receipt(
    sale: &super::model::Sale,
    till: &Till,
    settings: &ReceiptSettings,
    id: &str,
    number: i64,
    prepared: &[Prepared],
    totals: &super::model::Totals,
) -> Receipt {
    let mut lines: Vec<Line> = sale.lines.clone();
    if let Some(rounding) = engine::cash_rounding(sale, till.currency) {
        lines.push(Line::rounding("R", rounding));
    }
    let vat: Vec<VatLine> = engine::vat_lines(sale, till.currency);
    let sections = sections_of(prepared);
    Receipt {
        id: id.to_string(),
        number,
        kind: ReceiptKind::Sale,
        time: super::time::local_rfc3339_ms(now_ms()),
        store_id: settings.store_id.clone(),
        register_id: settings.register_id.clone(),
        currency: till.currency_code.clone(),
        locale: settings.locale.clone(),
        cashier: sale.cashier.clone(),
        customer: sale.customer.clone(),
        sale_id: sale.id.clone(),
        original: String::new(),
        lines,
        tenders: effective_tenders(sale, till),
        totals: totals.clone(),
        vat,
        sections,
        header: settings.header.clone(),
        footer: settings.footer.clone(),
        day: String::new(),
        event: None,
    }
}

/// Tenders with what they really paid: a voucher that follows the amount due is booked at
/// the amount it covered.
fn effective_tenders(sale: &super::model::Sale, till: &Till) -> Vec<super::model::Tender> {
    let mut tenders = sale.tenders.clone();
    for (tender, pays) in tenders.iter_mut().zip(engine::tender_values(sale)) {
        tender.amount = crate::money::round(pays, till.currency.minor);
    }
    tenders
}

/// The indexed columns of a receipt row.
struct ReceiptRow {
    id: String,
    register: String,
    number: i64,
    kind: &'static str,
    original: String,
    sale_id: String,
    time: String,
    customer: String,
    total: String,
    document: String,
    day: String,
}

impl ReceiptRow {
    fn of(r: &Receipt, document: &str) -> Self {
        Self {
            id: r.id.clone(),
            register: r.register_id.clone(),
            number: r.number,
            kind: r.kind.as_str(),
            original: r.original.clone(),
            sale_id: r.sale_id.clone(),
            time: r.time.clone(),
            customer: r.customer.clone(),
            total: r.totals.total.to_string(),
            document: document.to_string(),
            day: r.day.clone(),
        }
    }

    fn insert(&self, c: &rusqlite::Connection) -> rusqlite::Result<()> {
        c.prepare_cached("INSERT INTO receipts (id, register, number, kind, original, sale_id, time, customer, total, document, day)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")?.execute(
            params![
                self.id, self.register, self.number, self.kind, self.original, self.sale_id, self.time,
                self.customer, self.total, self.document, self.day
            ],
        )?;
        Ok(())
    }
}

/// A return request line: which line of the original receipt, how many.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnRequest {
    /// Line id on the original receipt.
    pub line: String,
    /// Quantity to take back, as sent.
    pub qty: String,
}

impl Journal {
    /// The voids and returns of a receipt, in journal order.
    pub async fn reversals_of(&self, id: &str) -> Result<Vec<Receipt>, JournalError> {
        let id = id.to_string();
        let documents: Vec<String> = self
            .db
            .call(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT document FROM receipts WHERE original = ?1 ORDER BY number",
                )?;
                let rows = stmt.query_map([&id], |r| r.get(0))?;
                rows.collect()
            })
            .await?;
        documents
            .iter()
            .map(|d| {
                serde_json::from_str(d).map_err(|e| {
                    JournalError::Conflict(format!("a reversal of a receipt is unreadable: {e}"))
                })
            })
            .collect()
    }

    /// Storno of a whole receipt: a new receipt that reverses it, with the plugins'
    /// reversing postings. A second void of the same receipt is a conflict; a plugin may
    /// refuse (eWallets: NotAllowed).
    pub async fn void(&self, receipt_id: &str, key: &str) -> Result<String, JournalError> {
        let key = check_key(key)?;
        let _one = self.one_at_a_time.lock().await;
        let request = json!({ "op": "void", "receipt": receipt_id }).to_string();
        let settings = self.settings();
        let number = match self.replay_or_number(key, &request, &settings).await? {
            Next::Done(done) => return Ok(done),
            Next::Number(number) => number,
        };
        let original = self.receipt(receipt_id).await?;
        if original.kind != ReceiptKind::Sale {
            return Err(SaleError::InvalidArgument(format!(
                "{receipt_id} is not a sale; only sales can be voided"
            ))
            .into());
        }
        let reversals = self.reversals_of(receipt_id).await?;
        if let Some(void) = reversals.iter().find(|r| r.kind == ReceiptKind::Void) {
            return Err(JournalError::Conflict(format!(
                "{receipt_id} was already voided by {}",
                void.id
            )));
        }
        if !reversals.is_empty() {
            // A void reverses a whole receipt; what its returns gave back can't go twice.
            let ids: Vec<&str> = reversals.iter().map(|r| r.id.as_str()).collect();
            return Err(JournalError::Conflict(format!(
                "{receipt_id} can't be voided: lines of it were returned on {}; return the rest instead",
                ids.join(", ")
            )));
        }
        let day = self.day_for(&settings).await?;
        let void_id = receipt_id_of(&settings, number);
        let till = self.book.till();
        let mut prepared = Vec::new();
        let mut payouts = Payouts::default();
        for plugin in self.plugins.implementing(Hook::VoidReceipt) {
            let asked = json!({ "schema": 1, "store": till.store,
                                "receipt": super::view::receipt(&original, till.currency.minor, &plugin),
                                "void_receipt_id": void_id });
            let answer: wire::VoidReceiptResponse = self
                .plugins
                .call_as(&plugin, Hook::VoidReceipt, &asked)
                .await?;
            for payout in &answer.payouts {
                payouts
                    .add(&original, &plugin, &payout.line, payout.amount)
                    .map_err(|e| CallError::Failed(e.to_string()))?;
            }
            prepared.push(Prepared {
                plugin,
                effects: answer.effects,
            });
        }
        let mut void = reversal::void_of(&original, &void_id, number, &payouts, till.currency)
            .map_err(|e| match e {
                ReversalError::NotAllowed { .. } => JournalError::NotAllowed(e.to_string()),
                other => CallError::Failed(other.to_string()).into(),
            })?;
        void.time = super::time::local_rfc3339_ms(now_ms());
        void.sections = sections_of(&prepared);
        void.day = day.row.id.clone();
        self.commit_reversal(void, &prepared, key, &request, &day)
            .await
    }

    /// Takes item lines of a receipt back (partly too). Voucher and eWallet positions are
    /// left out, each with a message; so are lines a plugin excludes. The refund is each
    /// line's share after the receipt's reductions, split over the original's tenders pro
    /// rata ([`refund_split`]): the host pays back its own tenders, a plugin tender's share
    /// must be taken back onto the voucher by its plugin (`return_lines` `refunds`) or
    /// released by it to be paid out in the host's cash (`released`, ABI 1.2, for a
    /// configuration that allows it), else the return is `NotAllowed` — a voucher never
    /// turns into cash at the till unless its plugin says so.
    pub async fn take_back(
        &self,
        receipt_id: &str,
        lines: &[ReturnRequest],
        key: &str,
    ) -> Result<(String, Vec<String>), JournalError> {
        let key = check_key(key)?;
        let _one = self.one_at_a_time.lock().await;
        let request = json!({ "op": "return", "receipt": receipt_id,
            "lines": lines.iter().map(|l| json!([l.line, l.qty])).collect::<Vec<_>>() })
        .to_string();
        let settings = self.settings();
        let number = match self.replay_or_number(key, &request, &settings).await? {
            Next::Done(done) => return Ok((done, Vec::new())),
            Next::Number(number) => number,
        };
        let original = self.receipt(receipt_id).await?;
        if original.kind != ReceiptKind::Sale {
            return Err(SaleError::InvalidArgument(format!("{receipt_id} is not a sale")).into());
        }
        let earlier = self.reversals_of(receipt_id).await?;
        if let Some(void) = earlier.iter().find(|r| r.kind == ReceiptKind::Void) {
            return Err(JournalError::Conflict(format!(
                "{receipt_id} was voided by {}",
                void.id
            )));
        }
        if lines.is_empty() {
            return Err(SaleError::InvalidArgument("no lines to return".into()).into());
        }
        let given_back = booking::Reversed::of(&earlier);
        let till = self.book.till();
        let minor = till.currency.minor;
        let effective = super::repricing::effective_amounts(&original, minor);
        let mut messages = Vec::new();
        let mut taken: Vec<(Line, rust_decimal::Decimal)> = Vec::new();
        for request in lines {
            let qty = crate::money::parse_bounded(
                "qty",
                &request.qty,
                engine::limits::MIN_QTY,
                engine::limits::MAX_QTY,
                3,
            )
            .map_err(SaleError::from)?;
            let line = original
                .lines
                .iter()
                .find(|l| l.id == request.line)
                .ok_or_else(|| {
                    SaleError::NotFound(format!("no line {:?} on {receipt_id}", request.line))
                })?;
            if matches!(
                line.kind,
                LineKind::VoucherSale | LineKind::VoucherTopup | LineKind::SinglePurposeVoucher
            ) {
                messages.push(format!(
                    "{}: vouchers and eWallet top-ups can't be returned",
                    line.name
                ));
                continue;
            }
            if line.kind != LineKind::Item {
                messages.push(format!(
                    "{}: only items are returned; reductions follow them",
                    line.name
                ));
                continue;
            }
            let already = given_back
                .lines
                .get(&line.id)
                .map_or(Decimal::ZERO, |b| b.0)
                + taken
                    .iter()
                    .filter(|(l, _)| l.id == line.id)
                    .map(|(_, q)| *q)
                    .sum::<Decimal>();
            if qty > line.qty - already {
                return Err(SaleError::InvalidArgument(format!(
                    "line {}: {} of {} are left to return",
                    line.id,
                    (line.qty - already).normalize(),
                    line.qty.normalize()
                ))
                .into());
            }
            taken.push((line.clone(), qty));
        }
        let day = self.day_for(&settings).await?;
        let return_id = receipt_id_of(&settings, number);
        // The plugins are asked with the lines and the refund split; when one keeps lines
        // out, the refund and its split change, so all are asked again with what is left
        // (hooks are pure: only the last round's effects are committed).
        // What plugins keep back of their reductions (ABI 1.3 `repriced`) lessens the
        // refund, and so its split: the plugins are asked again until the amount kept back
        // is the one the refund they were told was computed with.
        let mut kept_back = Decimal::ZERO;
        let mut rounds = 0;
        let returned_before: Vec<Value> = given_back
            .lines
            .iter()
            .filter(|(_, (qty, _))| *qty > Decimal::ZERO)
            .map(|(line, (qty, _))| json!({ "line": line, "qty": qty.normalize().to_string() }))
            .collect();
        let (prepared, lines, refund, split, taken_back, released) = loop {
            rounds += 1;
            let lines = returned_lines(&taken, &effective, &given_back, minor);
            let returned_qty: Vec<(String, Decimal)> =
                taken.iter().map(|(l, q)| (l.id.clone(), *q)).collect();
            let held = super::repricing::held(&original, &given_back, &returned_qty, minor);
            let goods_refund: Decimal = -lines.iter().map(|l| l.amount).sum::<Decimal>();
            let refund = goods_refund - kept_back;
            let split = refund_split(&original, &given_back, refund, minor).map_err(|over| {
                JournalError::NotAllowed(format!(
                    "{receipt_id}: the returns would give back {} more than was paid",
                    crate::money::format(over, minor)
                ))
            })?;
            let returned: Vec<Value> = taken
                .iter()
                .map(|(l, q)| json!({ "line": l.id, "qty": q.normalize().to_string() }))
                .collect();
            let mut prepared = Vec::new();
            let mut taken_back: BTreeMap<String, (Decimal, Option<String>)> = BTreeMap::new();
            // Parts of a plugin tender's share its plugin lets the host pay out in cash.
            let mut released: BTreeMap<String, Decimal> = BTreeMap::new();
            let mut excluded_any = false;
            // (index into `held`, amount) in the order the plugins answered.
            let mut repriced: Vec<(usize, Decimal)> = Vec::new();
            let asked_plugins = self.plugins.implementing(Hook::ReturnLines);
            for plugin in asked_plugins.iter().cloned() {
                let offered: Vec<Value> = split
                    .iter()
                    .filter(|(t, _)| t.plugin == plugin)
                    .map(|(t, share)| json!({ "tender": t.id, "amount": share.to_string() }))
                    .collect();
                let reductions: Vec<Value> = held
                    .iter()
                    .filter(|h| h.line.plugin == plugin)
                    .map(|h| {
                        json!({ "line": h.line.id, "amount": (-h.line.amount).to_string(),
                                "kept": h.kept.to_string(), "kept_back": h.kept_back.to_string() })
                    })
                    .collect();
                let asked = json!({ "schema": 1, "store": till.store,
                                    "receipt": super::view::receipt(&original, till.currency.minor, &plugin),
                                    "lines": returned, "return_receipt_id": return_id,
                                    "refunds": offered, "reductions": reductions,
                                    "returned_before": returned_before });
                let answer: wire::ReturnLinesResponse = self
                    .plugins
                    .call_as(&plugin, Hook::ReturnLines, &asked)
                    .await?;
                for excluded in &answer.excluded {
                    if let Some(i) = taken.iter().position(|(l, _)| l.id == excluded.line) {
                        messages.push(format!("{}: {}", taken[i].0.name, excluded.message));
                        taken.remove(i);
                        excluded_any = true;
                    }
                }
                for back in &answer.refunds {
                    let share = split
                        .iter()
                        .find(|(t, _)| t.id == back.tender && t.plugin == plugin)
                        .map(|(_, share)| *share)
                        .ok_or_else(|| {
                            CallError::Failed(format!(
                                "plugin {plugin} took back a refund on tender {:?}, which was not offered to it",
                                back.tender
                            ))
                        })?;
                    let entry = taken_back.entry(back.tender.clone()).or_default();
                    let total = entry.0 + back.amount;
                    if back.amount <= Decimal::ZERO || total > share || back.amount.scale() > minor
                    {
                        return Err(CallError::Failed(format!(
                            "plugin {plugin} took back {} on tender {}, its share is {}",
                            back.amount, back.tender, share
                        ))
                        .into());
                    }
                    entry.0 = total;
                    if back.reference.is_some() {
                        entry.1 = back.reference.clone();
                    }
                }
                for free in &answer.released {
                    let share = split
                        .iter()
                        .find(|(t, _)| t.id == free.tender && t.plugin == plugin)
                        .map(|(_, share)| *share)
                        .ok_or_else(|| {
                            CallError::Failed(format!(
                                "plugin {plugin} released a refund on tender {:?}, which was not offered to it",
                                free.tender
                            ))
                        })?;
                    let entry = released.entry(free.tender.clone()).or_default();
                    let total = *entry + free.amount;
                    let took = taken_back.get(&free.tender).map_or(Decimal::ZERO, |t| t.0);
                    if free.amount <= Decimal::ZERO
                        || covers(share, took, total) == Cover::Over
                        || free.amount.scale() > minor
                    {
                        return Err(CallError::Failed(format!(
                            "plugin {plugin} took back {took} and released {total} on tender {}, its share is {share}",
                            free.tender
                        ))
                        .into());
                    }
                    *entry = total;
                }
                for back in &answer.repriced {
                    let at = held
                        .iter()
                        .position(|h| h.line.id == back.line && h.line.plugin == plugin)
                        .ok_or_else(|| {
                            CallError::Failed(format!(
                                "plugin {plugin} repriced line {:?}, not one of its reductions on {receipt_id}",
                                back.line
                            ))
                        })?;
                    if back.amount < Decimal::ZERO
                        || back.amount > held[at].kept
                        || back.amount.scale() > minor
                        || repriced.iter().any(|(i, _)| *i == at)
                    {
                        return Err(CallError::Failed(format!(
                            "plugin {plugin} repriced {} of line {} (once, at most the {} it holds on what is kept)",
                            back.amount, back.line, held[at].kept
                        ))
                        .into());
                    }
                    repriced.push((at, back.amount));
                }
                prepared.push(Prepared {
                    plugin,
                    effects: answer.effects,
                });
            }
            // This return's part of each reduction: what its plugin says is repriced in all,
            // less what earlier returns kept back (a reduction its plugin left out counts as
            // 0, so what was kept back for goods that now come back too is given back). One
            // whose plugin was not asked (disabled, failed) keeps what earlier returns kept
            // back, but never more than it still holds on what is kept: returning the rest
            // gives it all back. A return never asks the customer to pay: more is kept back
            // only up to the goods' refund.
            let mut changes: Vec<(usize, Decimal)> = held
                .iter()
                .enumerate()
                .map(|(at, h)| {
                    let total = if asked_plugins.contains(&h.line.plugin) {
                        repriced
                            .iter()
                            .find(|(i, _)| *i == at)
                            .map_or(Decimal::ZERO, |(_, a)| *a)
                    } else {
                        h.kept_back.min(h.kept)
                    };
                    (at, h.change_to(total))
                })
                .filter(|(_, change)| !change.is_zero())
                .collect();
            let mut over =
                changes.iter().map(|(_, c)| *c).sum::<Decimal>() - goods_refund.max(Decimal::ZERO);
            for (_, change) in changes.iter_mut().rev() {
                if over <= Decimal::ZERO {
                    break;
                }
                if *change > Decimal::ZERO {
                    let cut = over.min(*change);
                    *change -= cut;
                    over -= cut;
                }
            }
            changes.retain(|(_, change)| !change.is_zero());
            let wanted: Decimal = changes.iter().map(|(_, c)| *c).sum();
            // Each round that excludes removes a line, and one more round settles what is
            // kept back (it depends on the lines only), so this ends.
            if taken.is_empty() || (!excluded_any && wanted == kept_back) {
                let lines = kept_back_from(lines, &held, &changes, minor);
                break (prepared, lines, refund, split, taken_back, released);
            }
            if rounds > taken.len() + 3 {
                return Err(CallError::Failed(format!(
                    "the plugins' answers to the return of {receipt_id} do not settle: {} kept back, then {}",
                    crate::money::format(kept_back, minor),
                    crate::money::format(wanted, minor)
                ))
                .into());
            }
            if !excluded_any {
                kept_back = wanted;
            }
        };
        if taken.is_empty() {
            return Err(SaleError::InvalidArgument(format!(
                "nothing to return: {}",
                messages.join("; ")
            ))
            .into());
        }
        let mut back = original.clone();
        back.id = return_id.clone();
        back.number = number;
        back.kind = ReceiptKind::Return;
        back.time = super::time::local_rfc3339_ms(now_ms());
        back.original = receipt_id.to_string();
        back.sale_id = String::new();
        back.day = day.row.id.clone();
        back.lines = lines;
        let mut tenders = Vec::new();
        // What the plugins released to be paid out in the host's cash (ABI 1.2).
        let mut released_cash: Option<(usize, Decimal)> = None;
        let capacity = booking::tender_capacity(&original);
        for (tender, share) in split {
            let mut paid_back = tender.clone();
            paid_back.max_amount = None;
            if tender.plugin.is_empty() {
                // Nothing to pay back on it (the refund was all kept back): no tender line.
                if !share.is_zero() {
                    paid_back.amount = -share;
                    tenders.push(paid_back);
                }
                continue;
            }
            let (took, reference) = taken_back.get(&tender.id).cloned().unwrap_or_default();
            let free = released.get(&tender.id).copied().unwrap_or_default();
            match covers(share, took, free) {
                Cover::Whole => {}
                Cover::Over => {
                    return Err(CallError::Failed(format!(
                        "plugin {} took back {took} and released {free} on tender {}, its share is {share}",
                        tender.plugin, tender.id
                    ))
                    .into());
                }
                Cover::Short(missing) => {
                    return Err(JournalError::NotAllowed(format!(
                        "{receipt_id}: {} of the refund of {} goes back on {} {}, which only \
                     its plugin {} can take back onto the voucher, and it did not",
                        crate::money::format(missing, minor),
                        crate::money::format(refund, minor),
                        tender.method,
                        tender.reference,
                        tender.plugin
                    )));
                }
            }
            if !took.is_zero() {
                paid_back.amount = -took;
                if let Some(reference) = reference {
                    paid_back.reference = reference;
                }
                tenders.push(paid_back);
            }
            if !free.is_zero() {
                // Paid out of the drawer as a tender of its own that names the plugin
                // tender it stands for: what the returns of the receipt gave back on that
                // tender counts the payout too ([`booking::Reversed`]), so the split and
                // `check_reversals` never give its share back twice.
                let mut cash =
                    super::model::Tender::host(&format!("{}-cash", tender.id), "cash", -free);
                cash.details
                    .insert(booking::RELEASED_FROM.to_string(), tender.id.clone());
                tenders.push(cash);
                // What the tender could still pay back after this return: rounding up
                // must not pay back more than it took in.
                let took_in = capacity.get(&tender.id).copied().unwrap_or_default();
                let before = given_back
                    .tenders
                    .get(&tender.id)
                    .copied()
                    .unwrap_or_default();
                released_cash = Some((tenders.len() - 1, took_in - before - took - free));
            }
        }
        // Released cash is rounded as the host rounds cash: the return's cash in all, the
        // difference on the released payout and on a rounding line of its own.
        let mut rounding = Decimal::ZERO;
        if let (Some(step), Some((i, room))) = (till.currency.cash_increment, released_cash) {
            let cash: Decimal = -tenders
                .iter()
                .filter(|t| t.method == "cash" && t.plugin.is_empty())
                .map(|t| t.amount)
                .sum::<Decimal>();
            let mut rounded = crate::money::round_to_increment(cash, step);
            rounded.rescale(minor);
            rounding = rounded - cash;
            if rounding > room {
                // Rounded down instead: the released tender has no more to give back.
                rounding -= step;
            }
            tenders[i].amount -= rounding;
        }
        if !rounding.is_zero() {
            back.lines.push(Line::rounding("R-return", -rounding));
        }
        back.tenders = tenders;
        let refund = -refund - rounding;
        let gross: Vec<(Option<rust_decimal::Decimal>, rust_decimal::Decimal)> = back
            .lines
            .iter()
            .map(|l| {
                let rate = (l.kind != LineKind::Rounding).then_some(l.tax_rate);
                (rate, l.amount)
            })
            .collect();
        back.vat = crate::money::vat_table(&gross, minor)
            .into_iter()
            .map(VatLine::from)
            .collect();
        back.totals = super::model::Totals {
            subtotal: refund,
            discount: rust_decimal::Decimal::ZERO,
            tax: back.vat.iter().map(|v| v.vat).sum(),
            total: refund,
            paid: refund,
            due: rust_decimal::Decimal::ZERO,
            change: rust_decimal::Decimal::ZERO,
        };
        back.sections = sections_of(&prepared);
        let id = self
            .commit_reversal(back, &prepared, key, &request, &day)
            .await?;
        Ok((id, messages))
    }

    async fn commit_reversal(
        &self,
        mut receipt: Receipt,
        prepared: &[Prepared],
        key: &str,
        request: &str,
        day: &DayFor,
    ) -> Result<String, JournalError> {
        let minor = self.book.till().currency.minor;
        let printer = self.receipt_printer();
        let kind = receipt.kind.as_str();
        // A reversal prints its slips as a checkout does (a new voucher a plugin issues as
        // a return's refund); a secret slip's code is in the print job only, the journal
        // keeps its mask.
        let open_drawer = self.settings().open_drawer;
        let mut print_jobs = print_jobs_of(&receipt, printer.as_ref(), minor, open_drawer);
        if let Some(first) = print_jobs.first_mut() {
            // The receipt's own job is named after its kind (`void`, `return`).
            first.1 = kind;
        }
        super::receipt::mask_secret_sections(&mut receipt);
        let mut write = JournalWrite::new(&receipt, prepared, minor)?;
        write.print_jobs = print_jobs;
        write.idempotency = Some((key.to_string(), kind, request.to_string()));
        write.day_opened = day.opens.then(|| day.row.clone());
        if let Err(e) = self.db.call(move |c| write.apply(c)).await? {
            return Err(refused(e));
        }
        self.committed_to_day(day, &receipt);
        tracing::info!(receipt = %receipt.id, kind, original = %receipt.original, "reversal committed");
        wake_printer(printer.as_ref());
        self.outbox_wake.notify_one();
        Ok(receipt.id)
    }
}

/// How a plugin tender's share of a return is covered by what its plugin took back onto
/// the voucher and released to be paid out in the host's cash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cover {
    /// Exactly.
    Whole,
    /// Not in full, by this much: the return is not allowed (a voucher never turns into
    /// cash unless its plugin releases it).
    Short(Decimal),
    /// More than the share: the plugin's failure.
    Over,
}

fn covers(share: Decimal, took: Decimal, released: Decimal) -> Cover {
    let covered = took + released;
    if covered > share {
        Cover::Over
    } else if covered < share {
        Cover::Short(share - covered)
    } else {
        Cover::Whole
    }
}

/// The return's lines with, after them, the lines that keep back (or give back) this
/// return's part of each reduction (`changes`: index into `held`, amount).
fn kept_back_from(
    mut lines: Vec<Line>,
    held: &[super::repricing::Held],
    changes: &[(usize, Decimal)],
    minor: u32,
) -> Vec<Line> {
    for &(at, amount) in changes {
        lines.extend(super::repricing::kept_back_lines(&held[at], amount, minor));
    }
    lines
}

/// The lines of a return: each line's share after the receipt's reductions, for the
/// quantity coming back. Cumulative: what all returns of the line give back is its share
/// of the quantity returned so far, rounded once, so partial returns never add up to more
/// than the line's share.
fn returned_lines(
    taken: &[(Line, Decimal)],
    effective: &BTreeMap<String, Decimal>,
    given_back: &booking::Reversed,
    minor: u32,
) -> Vec<Line> {
    taken
        .iter()
        .map(|(l, qty)| {
            let share = effective.get(&l.id).copied().unwrap_or(l.amount);
            let before = given_back.lines.get(&l.id).copied().unwrap_or_default();
            let upto = crate::money::round(share * (before.0 + *qty) / l.qty, minor);
            let mut line = l.clone();
            line.qty = -*qty;
            line.amount = -(upto - before.1);
            line
        })
        .collect()
}

/// How a return's refund splits over the original's tenders: pro rata to what each took in
/// (cash net of the change, [`booking::tender_capacity`]), rounded cumulatively over all
/// returns of the receipt. What all returns together gave back is split anew and each
/// tender gets its part less what earlier returns paid back on it, so the shares of
/// several partial returns add up to the same split as one return of everything, and no
/// tender ever gives back more than it took in. `Err` is what is left when the tenders
/// can't take the refund at all (the returns would give back more than was paid).
fn refund_split(
    original: &Receipt,
    given_back: &booking::Reversed,
    refund: Decimal,
    minor: u32,
) -> Result<Vec<(super::model::Tender, Decimal)>, Decimal> {
    let capacity = booking::tender_capacity(original);
    let paid: Vec<(&super::model::Tender, Decimal, Decimal)> = original
        .tenders
        .iter()
        .map(|t| {
            let took = capacity.get(&t.id).copied().unwrap_or_default();
            let back = given_back.tenders.get(&t.id).copied().unwrap_or_default();
            (t, took, back)
        })
        .filter(|(_, took, _)| *took > Decimal::ZERO)
        .collect();
    let took_in: Decimal = paid.iter().map(|(_, took, _)| *took).sum();
    let before: Decimal = paid.iter().map(|(_, _, back)| *back).sum();
    let upto = before + refund;
    if upto > took_in {
        return Err(upto - took_in);
    }
    let unit = Decimal::new(1, minor);
    // Largest remainder in minor units: each tender's exact part floored, the units left
    // to the largest fractions. A floored part plus one unit never exceeds what it took in.
    let exact: Vec<Decimal> = paid
        .iter()
        .map(|(_, took, _)| *took * upto / took_in)
        .collect();
    let mut cumulative: Vec<Decimal> = exact.iter().map(|e| (*e / unit).floor() * unit).collect();
    let mut units_left = ((upto - cumulative.iter().copied().sum::<Decimal>()) / unit).round();
    let mut by_fraction: Vec<usize> = (0..paid.len()).collect();
    by_fraction.sort_by(|a, b| (exact[*b] - cumulative[*b]).cmp(&(exact[*a] - cumulative[*a])));
    for i in by_fraction {
        if units_left <= Decimal::ZERO {
            break;
        }
        cumulative[i] += unit;
        units_left -= Decimal::ONE;
    }
    // This return's part: the cumulative split less what went back before. Earlier returns
    // rounded (or split) differently may have given a tender more than its part now; it
    // then gets nothing and the others give up the difference, largest part first.
    let mut shares: Vec<Decimal> = cumulative
        .iter()
        .zip(&paid)
        .map(|(c, (_, _, back))| (*c - *back).max(Decimal::ZERO))
        .collect();
    let mut excess = shares.iter().copied().sum::<Decimal>() - refund;
    while excess > Decimal::ZERO {
        let Some(largest) = (0..shares.len()).max_by_key(|i| shares[*i]) else {
            break;
        };
        let off = excess.min(shares[largest]);
        if off.is_zero() {
            break;
        }
        shares[largest] -= off;
        excess -= off;
    }
    Ok(paid
        .into_iter()
        .zip(shares)
        .filter(|(_, share)| *share > Decimal::ZERO)
        .map(|((tender, _, _), share)| (tender.clone(), share))
        .collect())
}

pub(super) fn check_key(key: &str) -> Result<&str, JournalError> {
    let key = key.trim();
    if key.is_empty() || key.len() > 200 {
        return Err(SaleError::InvalidArgument(
            "the idempotency key must be 1 to 200 characters".into(),
        )
        .into());
    }
    Ok(key)
}

fn sections_of(prepared: &[Prepared]) -> Vec<Section> {
    prepared
        .iter()
        .flat_map(|p| {
            p.effects.sections.iter().map(|s| Section {
                plugin: p.plugin.clone(),
                title: s.title.clone(),
                lines: s.lines.clone(),
                slip: s.slip,
                barcode: s.barcode.clone(),
                qr: s.qr.clone(),
                secret: s.secret && s.slip,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn prepared(plugin: &str, postings: &[(&str, &str)]) -> Prepared {
        Prepared {
            plugin: plugin.to_string(),
            effects: wire::CheckoutEffects {
                postings: postings
                    .iter()
                    .map(|(account, amount)| wire::Posting {
                        account: account.to_string(),
                        amount: Decimal::from_str(amount).expect("decimal"),
                        unit: "points".into(),
                        kind: "earn".into(),
                        ..wire::Posting::default()
                    })
                    .collect(),
                ..wire::CheckoutEffects::default()
            },
        }
    }

    /// A cash sale of one 12.00 item at 20 %, as the journal writes it.
    fn receipt() -> Receipt {
        let mut sale = super::super::model::Sale::new("S1", SaleState::Open, "anna", String::new());
        let eur = engine::Currency {
            minor: 2,
            cash_increment: None,
        };
        let item = engine::NewItem {
            name: "Wein".into(),
            qty: "1".into(),
            unit_price: "12.00".into(),
            tax_rate: "20".into(),
            ..engine::NewItem::default()
        };
        engine::add_item(&mut sale, &item, eur).expect("item");
        engine::add_tender(&mut sale, "cash", "12.00", Default::default(), eur).expect("cash");
        let till = Till {
            currency: eur,
            currency_code: "EUR".into(),
            store: Value::Null,
            customer_groups: Default::default(),
        };
        let settings = ReceiptSettings {
            store_id: "0001".into(),
            register_id: "01".into(),
            ..ReceiptSettings::default()
        };
        let totals = engine::totals(&sale, eur);
        build_receipt(&sale, &till, &settings, "0001-01-000001", 1, &[], &totals)
    }

    /// A receipt of 100.00 paid 60.00 by voucher and 50.00 cash with 10.00 change back.
    fn paid_by_voucher_and_cash() -> Receipt {
        let mut r = receipt();
        let mut voucher = super::super::model::Tender::host("T1", "voucher", Decimal::from(60));
        voucher.plugin = "vouchers".into();
        voucher.reference = "GV-1".into();
        r.tenders = vec![
            voucher,
            super::super::model::Tender::host("T2", "cash", Decimal::from(50)),
        ];
        r.totals.change = Decimal::from(10);
        r
    }

    fn shares(split: &[(super::super::model::Tender, Decimal)]) -> Vec<(String, String)> {
        split
            .iter()
            .map(|(t, d)| (t.id.clone(), d.to_string()))
            .collect()
    }

    /// What `split` gives back, as a return receipt's tenders, added to `given`.
    fn give_back(given: &mut booking::Reversed, split: &[(super::super::model::Tender, Decimal)]) {
        for (t, d) in split {
            *given.tenders.entry(t.id.clone()).or_default() += *d;
        }
    }

    #[test]
    fn a_plugin_share_must_be_covered_by_what_is_taken_and_released_no_more_no_less() {
        let d = |s: &str| Decimal::from_str(s).expect("decimal");
        assert_eq!(covers(d("18.00"), d("18.00"), d("0")), Cover::Whole);
        assert_eq!(covers(d("18.00"), d("0"), d("18.00")), Cover::Whole);
        assert_eq!(covers(d("18.00"), d("10.00"), d("8.00")), Cover::Whole);
        assert_eq!(
            covers(d("18.00"), d("10.00"), d("0")),
            Cover::Short(d("8.00")),
            "neither taken nor released: not allowed"
        );
        assert_eq!(
            covers(d("18.00"), d("10.00"), d("8.01")),
            Cover::Over,
            "more than the share: the plugin failed"
        );
    }

    #[test]
    fn a_return_splits_its_refund_pro_rata_cash_net_of_change() {
        let r = paid_by_voucher_and_cash();
        let split =
            refund_split(&r, &booking::Reversed::default(), Decimal::from(30), 2).expect("split");
        assert_eq!(
            shares(&split),
            vec![("T1".into(), "18.00".into()), ("T2".into(), "12.00".into())]
        );
    }

    #[test]
    fn partial_returns_add_up_to_the_whole_and_never_exceed_a_tender() {
        let r = paid_by_voucher_and_cash();
        let mut given = booking::Reversed::default();
        // 33.33 + 33.33 + 33.34 = 100.00: thirds that round differently each time.
        for refund in ["33.33", "33.33", "33.34"] {
            let refund = Decimal::from_str(refund).expect("decimal");
            let split = refund_split(&r, &given, refund, 2).expect("split");
            let sum: Decimal = split.iter().map(|(_, d)| *d).sum();
            assert_eq!(sum, refund, "the tenders pay exactly the refund");
            give_back(&mut given, &split);
            assert!(given.tenders.get("T1").copied().unwrap_or_default() <= Decimal::from(60));
            assert!(given.tenders.get("T2").copied().unwrap_or_default() <= Decimal::from(40));
        }
        assert_eq!(
            given.tenders["T1"],
            Decimal::from(60),
            "the voucher got all it paid"
        );
        assert_eq!(
            given.tenders["T2"],
            Decimal::from(40),
            "cash paid back net of change"
        );
        let mut with_reversal = r.clone();
        with_reversal.kind = ReceiptKind::Return;
        with_reversal.lines.clear();
        with_reversal.tenders = given
            .tenders
            .iter()
            .map(|(id, d)| super::super::model::Tender::host(id, "x", -*d))
            .collect();
        let mut sale = r.clone();
        sale.lines.clear();
        assert_eq!(booking::check_reversals(&sale, &[with_reversal], 2), Ok(()));
        let over = refund_split(&r, &given, Decimal::new(1, 2), 2);
        assert_eq!(
            over,
            Err(Decimal::new(1, 2)),
            "nothing is left to give back"
        );
    }

    #[test]
    fn a_cent_refund_goes_to_one_tender_and_cumulative_rounding_catches_up() {
        let r = paid_by_voucher_and_cash();
        let mut given = booking::Reversed::default();
        let mut on_voucher = Decimal::ZERO;
        for _ in 0..5 {
            let split = refund_split(&r, &given, Decimal::new(1, 2), 2).expect("split");
            assert_eq!(split.len(), 1, "one cent goes to one tender: {split:?}");
            give_back(&mut given, &split);
            on_voucher = given.tenders.get("T1").copied().unwrap_or_default();
        }
        // 5 cents at 60 % are 3 cents on the voucher.
        assert_eq!(on_voucher, Decimal::new(3, 2));
    }

    #[test]
    fn earlier_cash_first_returns_are_evened_out_without_exceeding_cash() {
        let r = paid_by_voucher_and_cash();
        let mut given = booking::Reversed::default();
        // An old return paid 40.00 all in cash.
        given.tenders.insert("T2".into(), Decimal::from(40));
        let split = refund_split(&r, &given, Decimal::from(30), 2).expect("split");
        assert_eq!(shares(&split), vec![("T1".into(), "30.00".into())]);
    }

    fn db() -> (tempfile::TempDir, rusqlite::Connection) {
        let dir = tempfile::tempdir().expect("dir");
        let c = crate::store::open(dir.path(), std::time::Duration::from_secs(1)).expect("open");
        (dir, c)
    }

    #[test]
    fn a_receipt_is_one_entry_with_the_hosts_and_the_plugins_postings() {
        let (_dir, mut c) = db();
        let plugins = [prepared(
            "points",
            &[("customer:1", "12"), ("issued", "-12")],
        )];
        let write = JournalWrite::new(&receipt(), &plugins, 2).expect("write");
        write.apply(&mut c).expect("sqlite").expect("booked");
        let entries: Vec<(String, i64)> = c
            .prepare("SELECT e.reference, count(p.id) FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id GROUP BY e.id")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .expect("entries");
        // Drawer, revenue and VAT of the host, the two of the plugin.
        assert_eq!(entries, vec![("0001-01-000001".to_string(), 5)]);
        let verified = booking::verify(&c, |_| 2).expect("sqlite");
        assert!(verified.is_ok(), "{verified:?}");
    }

    #[test]
    fn a_plugins_postings_balance_on_their_own_not_against_another_plugins() {
        let (_dir, mut c) = db();
        let plugins = [
            prepared("alpha", &[("pool", "5")]),
            prepared("beta", &[("pool", "-5")]),
        ];
        let write = JournalWrite::new(&receipt(), &plugins, 2).expect("write");
        let refused = write.apply(&mut c).expect("sqlite").expect_err("refused");
        assert!(refused.to_string().contains("plugin alpha"), "{refused}");
        let receipts: i64 = c
            .query_row("SELECT count(*) FROM receipts", [], |r| r.get(0))
            .expect("count");
        assert_eq!(receipts, 0, "nothing was written");
    }
}
