//! A small in-memory host for testing a plugin in-process, through the same C ABI the
//! daemon uses.
//!
//! [`Harness`] takes a type that `posd_plugin!` exported, calls its descriptor's `create`
//! with a configuration, calls hooks by name with JSON, and frees every buffer as the host
//! would. Its host side keeps state across calls the way the daemon does, so a test can run
//! a plugin through a sequence — checkout, rewards, void — and look at what it left behind:
//!
//! - **kv**: `kv.get`, `kv.put`, `kv.delete`, `kv.list` on a map in memory; a test preloads
//!   and reads it typed with [`Harness::kv_put`] and [`Harness::kv_get`].
//! - **ledger**: accounts in the plugin's namespace with balances, units, floors and
//!   postings, answering `ledger.balance` and `ledger.postings`; a test opens balances with
//!   [`Harness::post`] and reads them with [`Harness::ledger_balance`].
//! - **checkout, void**: [`Harness::checkout`] calls `prepare_checkout`, applies its
//!   effects as the host's one transaction does (all or nothing: postings balanced per unit
//!   and above their floors, kv writes, outbox messages), keeps the receipt, then calls
//!   `commit_checkout` (or `abort_checkout` if the effects were refused).
//!   [`Harness::void`] hands the kept receipt to `void_receipt` and applies that the same
//!   way. Receipts also answer `ledger.turnover`.
//! - **released tenders**: [`Harness::release_tender`] tells the plugin a tender of a sale
//!   is gone (removed, or left on a cancelled sale) as the host's `release_tender` (ABI 1.4)
//!   does.
//! - a clock tests set, log lines, `config.get`, and handlers a test installs for any
//!   service ([`Harness::on_service`], which win over the built-in ones).
//!
//! It also counts the buffers it handed to the plugin that were not freed yet, so a test
//! can see that a plugin returns every host buffer.
//!
//! ```text
//! let mut h = Harness::<Stamps>::create(json!({"stamps_per_reward": 5}))?;
//! h.kv_put("stamps:C-1", &4)?;                       // the customer had 4 stamps
//! let sale = h.checkout(&json!({"id": "S1", "customer": "C-1", "lines": [...]}))?;
//! assert_eq!(h.kv_get::<u32>("stamps:C-1")?, Some(5));
//! let rewards = h.call("list_rewards", &json!({"sale": {"customer": "C-1"}}))?;
//! h.void(&sale.receipt.id)?;
//! assert_eq!(h.kv_get::<u32>("stamps:C-1")?, Some(4));
//! ```
//!
//! (`plugins/sdk/tests/sequence.rs` runs exactly such a sequence; a complete plugin is in
//! the crate's top-level documentation.)
//!
//! Not the daemon: it computes no totals, VAT or refunds (the sale is taken as given), and
//! it has one plugin, so there is nobody else's prepare to abort.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_char, c_void};
use std::marker::PhantomData;

use posd_plugin_abi::{
    HOOK_NAMES, POSD_ABI_MAJOR, POSD_ABI_MINOR, POSD_ERROR, POSD_HOST_API_SIZE_1_0, POSD_OK,
    posd_buffer, posd_hook, posd_host, posd_host_api, posd_plugin_descriptor,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::Decimal;
use crate::error::{ErrorName, PluginError};
use crate::ffi::Exported;
use crate::schema::{
    CheckoutEffects, Empty, InvokeAdminActionResponse, LedgerBalance, ListAdminActionsResponse,
    OutboxMessage, Payout, Posting, Receipt, ReleaseReason, ReleasedTender, Sale, Store,
    VoidReceiptResponse, kv_json, kv_value,
};

/// A test's answer to a host service: gets the request, returns the response or an error.
pub type ServiceHandler = Box<dyn FnMut(&Value) -> Result<Value, PluginError>>;

/// The fake host's state, reachable from the C callbacks through `posd_host *`.
struct FakeHost {
    config: Value,
    now_ms: i64,
    logs: Vec<(i32, String)>,
    kv: BTreeMap<String, Value>,
    services: HashMap<String, ServiceHandler>,
    calls: Vec<String>,
    outstanding_host_buffers: usize,
    store: Store,
    ledger: BTreeMap<String, Account>,
    entries: u64,
    receipts: Vec<Kept>,
    outbox: Vec<OutboxMessage>,
}

/// A ledger account of the plugin, as the host keeps it.
struct Account {
    unit: String,
    /// Set by the account's first posting, as in the host's ledger.
    floor: Option<Decimal>,
    balance: Decimal,
    /// Oldest first.
    postings: Vec<Value>,
}

/// A receipt the harness committed.
struct Kept {
    receipt: Receipt,
    voided: bool,
}

/// A receipt the harness committed and what the plugin committed with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// The receipt as the host keeps it: the sale's for [`Harness::checkout`] (kind
    /// `"sale"`), the void's for [`Harness::void`] (kind `"void"`, amounts negated).
    pub receipt: Receipt,
    /// The plugin's postings, outbox messages, receipt sections and kv writes, as applied.
    pub effects: CheckoutEffects,
    /// For a void: the lines paid back for less than their amount.
    pub payouts: Vec<Payout>,
}

/// One plugin instance loaded into a fake host. Dropping it destroys the instance.
pub struct Harness<P: Exported> {
    descriptor: &'static posd_plugin_descriptor,
    instance: *mut c_void,
    // Never read here, only kept alive and in place: the instance holds a pointer to it
    // until destroy. Boxed so that moving the harness does not move it.
    _api: Box<posd_host_api>,
    host: Box<RefCell<FakeHost>>,
    _plugin: PhantomData<P>,
}

impl<P: Exported> Harness<P> {
    /// Creates an instance with `config` as its configuration section; a failing `create`
    /// returns the plugin's error.
    pub fn create(config: Value) -> Result<Self, PluginError> {
        Self::create_on_minor(config, POSD_ABI_MINOR)
    }

    /// [`create`](Self::create) on a host that offers ABI `1.<abi_minor>` (what
    /// [`Host::abi_minor`](crate::Host::abi_minor) reads), to test what a plugin does on an
    /// older host, e.g. that it does not offer an admin action whose `effects` a 1.1 host
    /// would ignore. The harness itself still behaves as the newest host.
    pub fn create_on_minor(config: Value, abi_minor: u16) -> Result<Self, PluginError> {
        let host = Box::new(RefCell::new(FakeHost {
            config: config.clone(),
            now_ms: 1_767_225_600_000, // 2026-01-01T00:00:00Z
            logs: Vec::new(),
            kv: BTreeMap::new(),
            services: HashMap::new(),
            calls: Vec::new(),
            outstanding_host_buffers: 0,
            store: Store {
                id: "0001".into(),
                register: "01".into(),
                currency: "EUR".into(),
                locale: "de-AT".into(),
            },
            ledger: BTreeMap::new(),
            entries: 0,
            receipts: Vec::new(),
            outbox: Vec::new(),
        }));
        let api = Box::new(posd_host_api {
            struct_size: POSD_HOST_API_SIZE_1_0 as u32,
            abi_major: POSD_ABI_MAJOR,
            abi_minor,
            host: (&*host as *const RefCell<FakeHost>)
                .cast_mut()
                .cast::<posd_host>(),
            log: Some(fake_log),
            now_ms: Some(fake_now),
            call: Some(fake_call),
            free_buffer: Some(fake_free),
        });
        let mut harness = Harness {
            descriptor: P::descriptor(),
            instance: std::ptr::null_mut(),
            _api: api,
            host,
            _plugin: PhantomData,
        };
        harness.instance = harness.instantiate()?;
        Ok(harness)
    }

    /// Destroys the instance and creates a new one with the same configuration over the same
    /// fake host, as the daemon does when it reloads a plugin: kv, ledger, receipts and the
    /// clock stay, what the plugin kept only in memory is gone. A failing `create` returns
    /// the plugin's error and leaves the harness without an instance (every hook then
    /// answers `PluginFailed`).
    pub fn restart(&mut self) -> Result<(), PluginError> {
        self.destroy();
        self.instance = self.instantiate()?;
        Ok(())
    }

    /// Calls `create` with the host's configuration.
    fn instantiate(&self) -> Result<*mut c_void, PluginError> {
        let create = self
            .descriptor
            .create
            .ok_or_else(|| PluginError::plugin_failed("descriptor has no create"))?;
        let config = self.host.borrow().config.to_string();
        let mut error = posd_buffer::empty();
        // SAFETY: the descriptor is the SDK's (`Exported`); api, config and error are valid
        // for the call, and api stays valid until destroy (it lives in the harness).
        let instance = unsafe {
            create(
                &*self._api,
                config.as_ptr().cast::<c_char>(),
                config.len(),
                &mut error,
            )
        };
        if instance.is_null() {
            let error = self.take_buffer(error);
            return Err(match error {
                Ok(body) => serde_json::from_value(body).unwrap_or_else(|e| {
                    PluginError::plugin_failed(format!(
                        "create failed with a bad error object: {e}"
                    ))
                }),
                Err(e) => e,
            });
        }
        Ok(instance)
    }

    /// Destroys the instance, once.
    fn destroy(&mut self) {
        if let Some(destroy) = self.descriptor.destroy
            && !self.instance.is_null()
        {
            // SAFETY: the instance came from create and is destroyed once: the pointer is
            // cleared right after.
            unsafe { destroy(self.instance) };
        }
        self.instance = std::ptr::null_mut();
    }

    /// Whether the plugin fills this hook (by its ABI name, e.g. `"classify_code"`).
    pub fn implements(&self, hook: &str) -> bool {
        self.hook(hook).is_some()
    }

    /// Calls a hook with a JSON request. `Err` is the plugin's error object, or, as the host
    /// would see it, `PluginFailed` for a broken answer and `NotFound` for a NULL hook.
    pub fn call(&mut self, hook: &str, request: &Value) -> Result<Value, PluginError> {
        let (status, body) = self.call_raw(hook, request.to_string().as_bytes())?;
        let body = body?;
        match status {
            POSD_OK => Ok(body),
            POSD_ERROR => Err(serde_json::from_value(body).unwrap_or_else(|e| {
                PluginError::plugin_failed(format!("{hook} returned a bad error object: {e}"))
            })),
            other => Err(PluginError::plugin_failed(format!(
                "{hook} returned status {other}"
            ))),
        }
    }

    /// Calls a hook with raw request bytes (to test malformed input); the status and the
    /// response parsed as JSON (`Err` if it is not JSON or a NULL buffer with a length).
    #[allow(clippy::type_complexity)]
    pub fn call_raw(
        &mut self,
        hook: &str,
        request: &[u8],
    ) -> Result<(i32, Result<Value, PluginError>), PluginError> {
        let function = self
            .hook(hook)
            .ok_or_else(|| PluginError::not_found(format!("hook {hook} is NULL")))?;
        if self.instance.is_null() {
            return Err(PluginError::plugin_failed(
                "no instance: the last restart's create failed",
            ));
        }
        let mut response = posd_buffer::empty();
        // SAFETY: the hook and instance are the SDK's, the request is readable for its
        // length and the response is an empty buffer.
        let status = unsafe {
            function(
                self.instance,
                request.as_ptr().cast::<c_char>(),
                request.len(),
                &mut response,
            )
        };
        Ok((status, self.take_buffer(response)))
    }

    /// Log lines the plugin wrote, as `(POSD_LOG_* level, text)`.
    pub fn logs(&self) -> Vec<(i32, String)> {
        self.host.borrow().logs.clone()
    }

    /// The plugin's kv store as it is now, as JSON.
    pub fn kv(&self) -> BTreeMap<String, Value> {
        self.host.borrow().kv.clone()
    }

    /// The kv value under `key` read as `T`, as `Host::kv_get` reads it.
    pub fn kv_get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, PluginError> {
        let value = self.host.borrow().kv.get(key).cloned();
        kv_value(key, value.unwrap_or(Value::Null))
    }

    /// Stores `value` under `key` (a `null` deletes it), as `Host::kv_put` does: what the
    /// plugin finds in kv when the test starts.
    pub fn kv_put<V: Serialize + ?Sized>(&self, key: &str, value: &V) -> Result<(), PluginError> {
        let value = kv_json(key, value)?;
        put_kv(&mut self.host.borrow_mut().kv, key, value);
        Ok(())
    }

    /// The store every request of [`Harness::checkout`] and [`Harness::void`] names, and
    /// whose currency their postings use by default (`0001`, register `01`, EUR, de-AT).
    pub fn set_store(&self, store: Store) {
        self.host.borrow_mut().store = store;
    }

    /// Books postings in the plugin's namespace outside any receipt, as the host books a
    /// checkout's: balanced per unit and above their floors, or refused whole. Tests open
    /// balances with it (a voucher sold before the test began). Returns the entry's number.
    pub fn post(&self, postings: &[Posting]) -> Result<u64, PluginError> {
        book(&mut self.host.borrow_mut(), postings)
    }

    /// An account's balance as `ledger.balance` answers the plugin (`exists: false` and 0
    /// for an account never posted to).
    pub fn ledger_balance(&self, account: &str) -> LedgerBalance {
        balance_of(&self.host.borrow(), account)
    }

    /// Applies checkout effects the test got by calling a hook itself (e.g. `return_lines`)
    /// as the host would commit them: postings, kv writes and outbox messages, all or none.
    pub fn apply(&self, effects: &CheckoutEffects) -> Result<(), PluginError> {
        apply(&mut self.host.borrow_mut(), effects)
    }

    /// Outbox messages committed so far, in order (one per key, as the host keeps them).
    pub fn outbox(&self) -> Vec<OutboxMessage> {
        self.host.borrow().outbox.clone()
    }

    /// A receipt committed by [`Harness::checkout`] or [`Harness::void`].
    pub fn receipt(&self, id: &str) -> Option<Receipt> {
        self.host
            .borrow()
            .receipts
            .iter()
            .find(|k| k.receipt.id == id)
            .map(|k| k.receipt.clone())
    }

    /// Checks `sale` out as the host does: `prepare_checkout` (if the plugin has it) gets
    /// the sale, the store, a checkout id and the receipt id; its effects are applied all or
    /// none; the receipt is kept (for [`Harness::void`] and `ledger.turnover`); then
    /// `commit_checkout` is called. If the plugin refuses, or its effects are refused (a
    /// posting below a floor is `InsufficientBalance`, unbalanced postings `PluginFailed`),
    /// nothing is kept, `abort_checkout` is called and the error returned. A failing
    /// `commit_checkout` is returned as the error too, though the receipt stays committed,
    /// as it does in the host. `sale` is JSON or a [`Sale`]; it is passed as given (the
    /// harness computes no totals).
    pub fn checkout<S: Serialize + ?Sized>(&mut self, sale: &S) -> Result<Committed, PluginError> {
        let sale_json = serde_json::to_value(sale)
            .map_err(|e| PluginError::invalid_argument(format!("the sale is not JSON: {e}")))?;
        let view: Sale = serde_json::from_value(sale_json.clone()).map_err(|e| {
            PluginError::invalid_argument(format!("the sale does not read as a sale: {e}"))
        })?;
        let (store, number) = {
            let host = self.host.borrow();
            (host.store.clone(), host.receipts.len() + 1)
        };
        let receipt_id = format!("{}-{}-{number:06}", store.id, store.register);
        let checkout = format!("{}/harness-{number}", view.id);
        let prepared = if self.implements("prepare_checkout") {
            self.call(
                "prepare_checkout",
                &json!({"schema": 1, "sale": sale_json, "store": store,
                        "checkout": checkout, "receipt_id": receipt_id}),
            )
            .and_then(|answer| read_answer::<CheckoutEffects>("prepare_checkout", answer))
        } else {
            Ok(CheckoutEffects::default())
        };
        let outcome = prepared.and_then(|effects| {
            let mut host = self.host.borrow_mut();
            apply(&mut host, &effects)?;
            let receipt = Receipt {
                id: receipt_id.clone(),
                time: rfc3339(host.now_ms),
                kind: "sale".into(),
                lines: view.lines,
                tenders: view.tenders,
                totals: view.totals,
                customer: view.customer,
            };
            host.receipts.push(Kept {
                receipt: receipt.clone(),
                voided: false,
            });
            Ok(Committed {
                receipt,
                effects,
                payouts: Vec::new(),
            })
        });
        match outcome {
            Ok(committed) => {
                if self.implements("commit_checkout") {
                    self.call(
                        "commit_checkout",
                        &json!({"schema": 1, "checkout": checkout, "receipt_id": receipt_id}),
                    )
                    .map_err(|e| {
                        PluginError::new(
                            e.error,
                            format!(
                                "commit_checkout failed after {receipt_id} was committed: {}",
                                e.message
                            ),
                        )
                    })?;
                }
                Ok(committed)
            }
            Err(refused) => {
                if self.implements("abort_checkout") {
                    // As in the host, the abort's own answer changes nothing.
                    let _ = self.call(
                        "abort_checkout",
                        &json!({"schema": 1, "checkout": checkout, "reason": refused.message}),
                    );
                }
                Err(refused)
            }
        }
    }

    /// Voids a receipt [`Harness::checkout`] committed, as the host does: `void_receipt`
    /// (if the plugin has it) gets the kept receipt, the store and the void's receipt id;
    /// its effects are applied all or none and the void receipt is kept (its amounts
    /// negated). A refusal (`NotAllowed`), refused effects, an unknown receipt (`NotFound`)
    /// or one voided already (`Conflict`) change nothing.
    pub fn void(&mut self, receipt_id: &str) -> Result<Committed, PluginError> {
        let (store, original, number) = {
            let host = self.host.borrow();
            let kept = host
                .receipts
                .iter()
                .find(|k| k.receipt.id == receipt_id && k.receipt.kind == "sale")
                .ok_or_else(|| PluginError::not_found(format!("no receipt {receipt_id}")))?;
            if kept.voided {
                return Err(PluginError::conflict(format!(
                    "receipt {receipt_id} is voided already"
                )));
            }
            (
                host.store.clone(),
                kept.receipt.clone(),
                host.receipts.len() + 1,
            )
        };
        let void_id = format!("{}-{}-{number:06}", store.id, store.register);
        let answer = if self.implements("void_receipt") {
            let answer = self.call(
                "void_receipt",
                &json!({"schema": 1, "store": store, "receipt": original,
                        "void_receipt_id": void_id}),
            )?;
            read_answer::<VoidReceiptResponse>("void_receipt", answer)?
        } else {
            VoidReceiptResponse::default()
        };
        let mut host = self.host.borrow_mut();
        apply(&mut host, &answer.effects)?;
        let receipt = voided(&original, void_id, rfc3339(host.now_ms));
        for kept in host.receipts.iter_mut() {
            if kept.receipt.id == receipt_id {
                kept.voided = true;
            }
        }
        host.receipts.push(Kept {
            receipt: receipt.clone(),
            voided: false,
        });
        Ok(Committed {
            receipt,
            effects: answer.effects,
            payouts: answer.payouts,
        })
    }

    /// `list_admin_actions` (ABI 1.1) as the host asks it, with the harness's store, read
    /// as the host reads the answer.
    pub fn admin_actions(&mut self) -> Result<ListAdminActionsResponse, PluginError> {
        let store = self.host.borrow().store.clone();
        let answer = self.call("list_admin_actions", &json!({"schema": 1, "store": store}))?;
        serde_json::from_value(answer)
            .map_err(|e| PluginError::plugin_failed(format!("list_admin_actions answer: {e}")))
    }

    /// `invoke_admin_action` (ABI 1.1) of `action` with `args` (a JSON object), sent as
    /// given: the host would first check them against the declared params (and leave out
    /// `output_file` ones), so give them as the host passes them on (integers as numbers).
    /// The answer's `effects` (ABI 1.2) are applied as the host commits them, all or none,
    /// before the answer is returned: refused effects (unbalanced, below a floor, with
    /// receipt `sections`) are the error and nothing of them is kept.
    pub fn invoke_admin(
        &mut self,
        action: &str,
        args: Value,
    ) -> Result<InvokeAdminActionResponse, PluginError> {
        let store = self.host.borrow().store.clone();
        let answer = self.call(
            "invoke_admin_action",
            &json!({"schema": 1, "store": store, "action": action, "args": args}),
        )?;
        let answer: InvokeAdminActionResponse = read_answer("invoke_admin_action", answer)?;
        if let Some(effects) = &answer.effects {
            if !effects.sections.is_empty() {
                return Err(PluginError::plugin_failed(
                    "invoke_admin_action answer: effects of an admin action have no receipt to print sections on",
                ));
            }
            apply(&mut self.host.borrow_mut(), effects)?;
        }
        Ok(answer)
    }

    /// `release_tender` (ABI 1.4) of tender `tender_id` of `sale` (JSON or a [`Sale`], with
    /// the tender still on it), as the host sends it once the change is committed: for
    /// [`ReleaseReason::Removed`] the sale without the tender, for
    /// [`ReleaseReason::Cancelled`] the sale as given, and the tender with its `ref` and
    /// `data`. `NotFound` when the sale has no such tender, or the plugin no such hook (the
    /// host would not call it then). The answer is `{}`; an error, which the host only
    /// logs, is returned here.
    pub fn release_tender<S: Serialize + ?Sized>(
        &mut self,
        sale: &S,
        tender_id: &str,
        reason: ReleaseReason,
    ) -> Result<(), PluginError> {
        let mut sale_json = serde_json::to_value(sale)
            .map_err(|e| PluginError::invalid_argument(format!("the sale is not JSON: {e}")))?;
        let view: Sale = serde_json::from_value(sale_json.clone()).map_err(|e| {
            PluginError::invalid_argument(format!("the sale does not read as a sale: {e}"))
        })?;
        let tender = view
            .tenders
            .iter()
            .find(|t| t.id == tender_id)
            .ok_or_else(|| PluginError::not_found(format!("the sale has no tender {tender_id}")))?;
        let released = ReleasedTender {
            id: tender.id.clone(),
            method: tender.method.clone(),
            amount: tender.amount,
            reference: tender.reference.clone(),
            data: tender.data.clone(),
        };
        if reason == ReleaseReason::Removed
            && let Some(tenders) = sale_json.get_mut("tenders").and_then(Value::as_array_mut)
        {
            tenders.retain(|t| t.get("id").and_then(Value::as_str) != Some(tender_id));
        }
        let store = self.host.borrow().store.clone();
        let answer = self.call(
            "release_tender",
            &json!({"schema": 1, "sale": sale_json, "store": store, "tender": released,
                    "reason": reason}),
        )?;
        read_answer::<Empty>("release_tender", answer).map(|_| ())
    }

    /// Sets the clock `Host::now` reads.
    pub fn set_now(&self, now_ms: i64) {
        self.host.borrow_mut().now_ms = now_ms;
    }

    /// Answers `service` with `handler` from now on (overrides the built-in kv and config).
    pub fn on_service(
        &self,
        service: &str,
        handler: impl FnMut(&Value) -> Result<Value, PluginError> + 'static,
    ) {
        self.host
            .borrow_mut()
            .services
            .insert(service.to_string(), Box::new(handler));
    }

    /// The services the plugin called, in order.
    pub fn service_calls(&self) -> Vec<String> {
        self.host.borrow().calls.clone()
    }

    /// Host buffers the plugin got from `call` and has not freed yet.
    pub fn outstanding_host_buffers(&self) -> usize {
        self.host.borrow().outstanding_host_buffers
    }

    /// The raw descriptor, for tests of the ABI itself.
    pub fn descriptor(&self) -> &'static posd_plugin_descriptor {
        self.descriptor
    }

    fn hook(&self, name: &str) -> Option<posd_hook> {
        let index = HOOK_NAMES.iter().position(|known| *known == name)?;
        // SAFETY: the SDK's descriptor points at a static hooks table.
        let hooks = unsafe { &*self.descriptor.hooks };
        let table = [
            hooks.classify_code,
            hooks.enter_code,
            hooks.list_actions,
            hooks.invoke_action,
            hooks.evaluate_basket,
            hooks.list_rewards,
            hooks.apply_reward,
            hooks.validate_tender,
            hooks.prepare_checkout,
            hooks.commit_checkout,
            hooks.abort_checkout,
            hooks.void_receipt,
            hooks.return_lines,
            hooks.deliver_message,
            hooks.customer_accounts,
            hooks.list_admin_actions,
            hooks.invoke_admin_action,
            hooks.release_tender,
        ];
        table[index]
    }

    /// Parses a buffer the plugin wrote, then gives it back to the plugin's `free_buffer`.
    fn take_buffer(&self, mut buffer: posd_buffer) -> Result<Value, PluginError> {
        let parsed = match (buffer.data.is_null(), buffer.len) {
            (true, 0) => Err(PluginError::plugin_failed("empty response")),
            (true, len) => Err(PluginError::plugin_failed(format!(
                "NULL response with length {len}"
            ))),
            (false, len) => {
                // SAFETY: the plugin wrote len bytes at data; freed only below.
                let bytes = unsafe { std::slice::from_raw_parts(buffer.data.cast::<u8>(), len) };
                serde_json::from_slice(bytes)
                    .map_err(|e| PluginError::plugin_failed(format!("response is not JSON: {e}")))
            }
        };
        if !buffer.data.is_null()
            && let Some(free) = self.descriptor.free_buffer
        {
            // SAFETY: the plugin wrote this buffer; it is freed exactly once.
            unsafe { free(&mut buffer) };
        }
        parsed
    }
}

impl<P: Exported> Drop for Harness<P> {
    fn drop(&mut self) {
        self.destroy();
        // `_api` and `host` are dropped after this, so they outlive destroy (which may log).
    }
}

/// The fake host behind a `posd_host *`.
///
/// # Safety
/// `host` must be the pointer `Harness::create` put into the table.
unsafe fn fake<'a>(host: *mut posd_host) -> &'a RefCell<FakeHost> {
    // SAFETY: by this function's contract the pointer is a live RefCell<FakeHost>.
    unsafe { &*host.cast_const().cast::<RefCell<FakeHost>>() }
}

/// Bytes the plugin passed to a callback.
///
/// # Safety
/// `data` readable for `len` bytes, or null with 0.
unsafe fn text(data: *const c_char, len: usize) -> String {
    if data.is_null() || len == 0 {
        return String::new();
    }
    // SAFETY: by this function's contract.
    let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
    String::from_utf8_lossy(bytes).into_owned()
}

unsafe extern "C" fn fake_log(
    host: *mut posd_host,
    level: i32,
    message: *const c_char,
    len: usize,
) {
    // SAFETY: the plugin passes our host pointer and its message with its length.
    let (host, message) = unsafe { (fake(host), text(message, len)) };
    host.borrow_mut().logs.push((level, message));
}

unsafe extern "C" fn fake_now(host: *mut posd_host) -> i64 {
    // SAFETY: the plugin passes our host pointer.
    unsafe { fake(host) }.borrow().now_ms
}

unsafe extern "C" fn fake_call(
    host: *mut posd_host,
    service: *const c_char,
    service_len: usize,
    request: *const c_char,
    request_len: usize,
    response: *mut posd_buffer,
) -> i32 {
    // SAFETY: the plugin passes our host pointer, its strings with their lengths and a
    // writable response buffer.
    let (host, service, request, response) = unsafe {
        (
            fake(host),
            text(service, service_len),
            text(request, request_len),
            &mut *response,
        )
    };
    let outcome = match serde_json::from_str::<Value>(&request) {
        Err(e) => Err(PluginError::invalid_argument(format!(
            "request is not JSON: {e}"
        ))),
        Ok(request) => answer(host, &service, &request),
    };
    let (status, body) = match outcome {
        Ok(body) => (POSD_OK, body),
        Err(e) => (POSD_ERROR, json!({"error": e.error, "message": e.message})),
    };
    let bytes = body.to_string().into_bytes().into_boxed_slice();
    response.len = bytes.len();
    response.data = Box::into_raw(bytes).cast::<c_char>();
    host.borrow_mut().outstanding_host_buffers += 1;
    status
}

unsafe extern "C" fn fake_free(host: *mut posd_host, buffer: *mut posd_buffer) {
    // SAFETY: the plugin passes our host pointer and a buffer fake_call wrote.
    let (host, buffer) = unsafe { (fake(host), &mut *buffer) };
    if buffer.data.is_null() {
        return;
    }
    let slice = std::ptr::slice_from_raw_parts_mut(buffer.data.cast::<u8>(), buffer.len);
    // SAFETY: fake_call made exactly this Box<[u8]>.
    drop(unsafe { Box::from_raw(slice) });
    *buffer = posd_buffer::empty();
    host.borrow_mut().outstanding_host_buffers -= 1;
}

/// The fake host's services: a test's handler if it set one, else config and kv.
fn answer(host: &RefCell<FakeHost>, service: &str, request: &Value) -> Result<Value, PluginError> {
    host.borrow_mut().calls.push(service.to_string());
    // Take the handler out while it runs, so it may not re-enter the RefCell borrowed.
    let handler = host.borrow_mut().services.remove(service);
    if let Some(mut handler) = handler {
        let result = handler(request);
        host.borrow_mut()
            .services
            .insert(service.to_string(), handler);
        return result;
    }
    let key = || {
        request
            .get("key")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| PluginError::invalid_argument("key missing"))
    };
    let mut host = host.borrow_mut();
    let string = |name: &str| {
        request
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| PluginError::invalid_argument(format!("{service} needs \"{name}\"")))
    };
    match service {
        "config.get" => Ok(host.config.clone()),
        "kv.get" => Ok(json!({"value": host.kv.get(&key()?).cloned().unwrap_or(Value::Null)})),
        "kv.put" => {
            let value = request.get("value").cloned().unwrap_or(Value::Null);
            put_kv(&mut host.kv, &key()?, value);
            Ok(json!({}))
        }
        "ledger.balance" => serde_json::to_value(balance_of(&host, &string("account")?))
            .map_err(|e| PluginError::plugin_failed(e.to_string())),
        "ledger.postings" => {
            let account = string("account")?;
            let limit = request.get("limit").and_then(Value::as_u64).unwrap_or(1000);
            let postings: Vec<Value> = host.ledger.get(&account).map_or(Vec::new(), |a| {
                a.postings
                    .iter()
                    .rev()
                    .take(usize::try_from(limit).unwrap_or(usize::MAX))
                    .cloned()
                    .collect()
            });
            Ok(json!({ "postings": postings }))
        }
        "ledger.turnover" => {
            let customer = string("customer")?;
            let months = request.get("months").and_then(Value::as_u64).unwrap_or(12);
            let since = months_before(host.now_ms, months);
            let turnover: Decimal = host
                .receipts
                .iter()
                .map(|k| &k.receipt)
                .filter(|r| r.customer.as_deref() == Some(customer.as_str()) && r.time >= since)
                .map(|r| r.totals.total)
                .sum();
            Ok(json!({"turnover": turnover.to_string(), "currency": host.store.currency}))
        }
        "kv.delete" => Ok(json!({"deleted": host.kv.remove(&key()?).is_some()})),
        "kv.list" => {
            let prefix = request.get("prefix").and_then(Value::as_str).unwrap_or("");
            let entries: Vec<Value> = host
                .kv
                .iter()
                .filter(|(key, _)| key.starts_with(prefix))
                .map(|(key, value)| json!({"key": key, "value": value}))
                .collect();
            Ok(json!({ "entries": entries }))
        }
        other => Err(PluginError::new(
            ErrorName::NotFound,
            format!("the fake host has no service {other}"),
        )),
    }
}

/// Sets or (for `null`) deletes a kv key, as the host's `kv.put` and checkout writes do.
fn put_kv(kv: &mut BTreeMap<String, Value>, key: &str, value: Value) {
    if value.is_null() {
        kv.remove(key);
    } else {
        kv.insert(key.to_string(), value);
    }
}

fn balance_of(host: &FakeHost, account: &str) -> LedgerBalance {
    match host.ledger.get(account) {
        Some(a) => LedgerBalance {
            account: account.to_string(),
            exists: true,
            balance: a.balance,
            unit: a.unit.clone(),
        },
        None => LedgerBalance {
            account: account.to_string(),
            exists: false,
            balance: Decimal::ZERO,
            unit: String::new(),
        },
    }
}

/// A hook's answer as its schema type; one that does not fit is the plugin's failure.
fn read_answer<T: DeserializeOwned>(hook: &str, answer: Value) -> Result<T, PluginError> {
    serde_json::from_value(answer)
        .map_err(|e| PluginError::plugin_failed(format!("{hook} answer: {e}")))
}

/// Books one entry, all postings or none, as the host's ledger does: balanced per unit, each
/// account in one unit, none below the floor its first posting set, in posting order.
fn book(host: &mut FakeHost, postings: &[Posting]) -> Result<u64, PluginError> {
    CheckoutEffects {
        postings: postings.to_vec(),
        ..CheckoutEffects::default()
    }
    .check_balanced()?;
    let mut touched: BTreeMap<&str, (String, Option<Decimal>, Decimal)> = BTreeMap::new();
    for p in postings {
        let (unit, floor, balance) = match touched.get(p.account.as_str()) {
            Some(known) => known.clone(),
            None => match host.ledger.get(&p.account) {
                Some(a) => (a.unit.clone(), a.floor, a.balance),
                None => (p.unit.clone(), p.floor, Decimal::ZERO),
            },
        };
        if unit != p.unit {
            return Err(PluginError::plugin_failed(format!(
                "account {} is in {unit}, the posting in {}",
                p.account, p.unit
            )));
        }
        let after = balance + p.amount;
        if let Some(floor) = floor
            && after < floor
        {
            return Err(PluginError::insufficient_balance(format!(
                "account {} would fall to {after}, below its floor of {floor}",
                p.account
            )));
        }
        touched.insert(&p.account, (unit, floor, after));
    }
    host.entries += 1;
    let entry = host.entries;
    let time = rfc3339(host.now_ms);
    for p in postings {
        let account = host
            .ledger
            .entry(p.account.clone())
            .or_insert_with(|| Account {
                unit: p.unit.clone(),
                floor: p.floor,
                balance: Decimal::ZERO,
                postings: Vec::new(),
            });
        account.balance += p.amount;
        account.postings.push(json!({
            "entry": entry, "time": time, "amount": p.amount.to_string(), "expires": p.expires,
        }));
    }
    Ok(entry)
}

/// Commits checkout effects, all or none: the postings as one entry, then kv writes and
/// outbox messages (one per key).
fn apply(host: &mut FakeHost, effects: &CheckoutEffects) -> Result<(), PluginError> {
    if !effects.postings.is_empty() {
        book(host, &effects.postings)?;
    }
    for write in &effects.kv {
        put_kv(&mut host.kv, &write.key, write.value.clone());
    }
    for message in &effects.outbox {
        if !host.outbox.iter().any(|m| m.key == message.key) {
            host.outbox.push(message.clone());
        }
    }
    Ok(())
}

/// The void receipt of `original`: its lines, tenders and totals with amounts negated.
fn voided(original: &Receipt, id: String, time: String) -> Receipt {
    let mut receipt = original.clone();
    receipt.id = id;
    receipt.time = time;
    receipt.kind = "void".into();
    for line in &mut receipt.lines {
        line.qty = -line.qty;
        line.amount = -line.amount;
    }
    for tender in &mut receipt.tenders {
        tender.amount = -tender.amount;
    }
    let t = &mut receipt.totals;
    for amount in [
        &mut t.subtotal,
        &mut t.discount,
        &mut t.tax,
        &mut t.total,
        &mut t.paid,
        &mut t.change,
    ] {
        *amount = -*amount;
    }
    receipt
}

/// The calendar date of a day number since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A clock reading as the host's journal writes times, e.g. `2026-01-01T00:00:00.000Z`.
fn rfc3339(ms: i64) -> String {
    let (year, month, day) = civil(ms.div_euclid(86_400_000));
    let of_day = ms.rem_euclid(86_400_000);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}

/// The start of the day `months` calendar months before `now_ms`, as the host bounds
/// `ledger.turnover` (compared as text with receipt times).
fn months_before(now_ms: i64, months: u64) -> String {
    let (year, month, day) = civil(now_ms.div_euclid(86_400_000));
    let total = year * 12 + (month - 1) - i64::try_from(months).unwrap_or(0);
    format!(
        "{:04}-{:02}-{day:02}T00:00:00.000Z",
        total.div_euclid(12),
        total.rem_euclid(12) + 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_the_journal_writes_them() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_767_225_600_000), "2026-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(951_782_400_000 + 3_723_004),
            "2000-02-29T01:02:03.004Z"
        );
        assert_eq!(
            months_before(1_767_225_600_000, 12),
            "2025-01-01T00:00:00.000Z"
        );
        assert_eq!(
            months_before(1_767_225_600_000, 1),
            "2025-12-01T00:00:00.000Z"
        );
    }
}
