//! `org.posd.Manager1` on `/org/posd/Posd1`: the daemon as a whole.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use zbus::interface;
use zbus::message::Header;

use super::{BusError, Caller};
use crate::plugins::PluginManager;
use crate::sale::book::Book;
use crate::sale::checkout::Journal;
use crate::sale::model::{Receipt, mask};
use crate::service::{Control, ServiceState, Shared, abi_version};
use crate::store::Database;
use zbus::object_server::SignalEmitter;

/// The root object. Reads the daemon's shared state; asks the main loop for anything that
/// changes it.
#[derive(Debug)]
pub struct Manager {
    shared: Arc<Shared>,
    plugins: Arc<PluginManager>,
    book: Arc<Book>,
    journal: Arc<Journal>,
    /// The outbox's database, for the technicians' retry and discard of dead letters.
    db: Database,
    /// Wakes the outbox worker, so a retried message goes out now rather than at the
    /// worker's next look.
    outbox_wake: Arc<tokio::sync::Notify>,
}

impl Manager {
    /// A manager object over the daemon's parts; `outbox_wake` is the outbox worker's.
    pub fn new(
        shared: Arc<Shared>,
        plugins: Arc<PluginManager>,
        book: Arc<Book>,
        journal: Arc<Journal>,
        db: Database,
        outbox_wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        Self {
            shared,
            plugins,
            book,
            journal,
            db,
            outbox_wake,
        }
    }

    fn begin(&self) -> Result<crate::service::CallGuard, BusError> {
        self.shared
            .begin_call()
            .ok_or_else(|| BusError::ShuttingDown("posd is stopping".into()))
    }

    async fn admin(
        &self,
        conn: &zbus::Connection,
        header: &Header<'_>,
        what: &str,
    ) -> Result<(), BusError> {
        Caller::of(conn, header).await?.require_admin(what)
    }

    /// What `RetryOutboxMessage` and `DiscardOutboxMessage` share: an admin caller, the
    /// message's id, one step on the database; the caller and the message as `step` left
    /// it, for the log line each writes.
    async fn manage_outbox(
        &self,
        conn: &zbus::Connection,
        header: &Header<'_>,
        method: &str,
        message_id: &str,
        step: fn(
            &rusqlite::Connection,
            i64,
        ) -> Result<crate::outbox::Managed, crate::outbox::ManageError>,
    ) -> Result<(Caller, crate::outbox::Managed), BusError> {
        let caller = Caller::of(conn, header).await?;
        caller.require_admin(method)?;
        let id = crate::outbox::parse_id(message_id)?;
        let managed = self.db.call(move |c| Ok(step(c, id))).await??;
        Ok((caller, managed))
    }
}

/// One admin action as `AdminActions` lists it; params as `Sale1.Actions` gives them, plus
/// `help`.
fn admin_action_record(
    plugin: &str,
    action: posd_plugin_sdk::schema::AdminAction,
) -> super::sale::Record {
    let text = |v: Option<Value>| match v {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let params: Vec<super::sale::Record> = action
        .params
        .into_iter()
        .map(|p| {
            let mut q = super::sale::Record::new();
            let kind = serde_json::to_value(p.param_type)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            q.insert("name".into(), zbus::Variant::from(p.name));
            q.insert("type".into(), zbus::Variant::from(kind));
            q.insert("required".into(), zbus::Variant::from(p.required));
            q.insert("default".into(), zbus::Variant::from(text(p.default)));
            q.insert("suggested".into(), zbus::Variant::from(text(p.suggested)));
            q.insert("choices".into(), zbus::Variant::from(p.choices));
            q.insert("help".into(), zbus::Variant::from(p.help));
            q
        })
        .collect();
    let mut r = super::sale::Record::new();
    r.insert("plugin".into(), zbus::Variant::from(plugin.to_string()));
    r.insert("id".into(), zbus::Variant::from(action.id));
    r.insert("command".into(), zbus::Variant::from(action.command));
    r.insert("label".into(), zbus::Variant::from(action.label));
    r.insert("help".into(), zbus::Variant::from(action.help));
    r.insert("params".into(), zbus::Variant::from(params));
    r
}

/// The `store` view plugins get with requests.
pub fn store_view(shared: &Shared) -> Value {
    let id = shared.identity();
    serde_json::json!({
        "id": id.store_id, "register": id.register_id,
        "currency": id.currency, "locale": id.locale,
    })
}

/// What a code is, by the plugins or, unclaimed, by its own form.
pub async fn lookup(
    plugins: &PluginManager,
    shared: &Shared,
    code: &str,
) -> Result<HashMap<String, zbus::Variant<'static>>, BusError> {
    let code = code.trim();
    if code.is_empty() {
        return Err(BusError::InvalidArgument("the code is empty".into()));
    }
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let mut info: HashMap<String, zbus::Variant<'static>> = HashMap::new();
    let (kind, plugin, answer) = match plugins.classify(code, &store_view(shared)).await? {
        Some((plugin, answer)) => (text(answer.get("kind")), plugin, answer),
        None => (
            crate::devices::classify_code(code).to_string(),
            String::new(),
            Value::Null,
        ),
    };
    let warnings: Vec<String> = answer
        .get("warnings")
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    info.insert(
        "kind".into(),
        zbus::Variant::from(if kind.is_empty() {
            "unknown".to_string()
        } else {
            kind
        }),
    );
    info.insert("plugin".into(), zbus::Variant::from(plugin));
    for key in ["balance", "expires", "state", "customer"] {
        info.insert(key.into(), zbus::Variant::from(text(answer.get(key))));
    }
    info.insert("warnings".into(), zbus::Variant::from(warnings));
    Ok(info)
}

/// What `LookupCode` tells of a receipt id in the journal (scanned from the receipt's
/// barcode): kind "receipt", the receipt's customer and where it stands (`state`: valid,
/// partly_returned, returned, voided, or final for a receipt nothing reverses), and in keys
/// of its own `receipt_id`, `receipt_kind`, `time`, `total`, `voidable b`, `returnable b`,
/// `voided_by` ("" if not) and `returns as`.
pub async fn lookup_receipt(
    journal: &Journal,
    code: &str,
    minor: u32,
) -> Result<Option<HashMap<String, zbus::Variant<'static>>>, BusError> {
    use zbus::Variant;
    let Some(receipt) = super::sale::journal_receipt(journal, code).await? else {
        return Ok(None);
    };
    let reversals = journal.reversals_of(&receipt.id).await?;
    let standing = receipt.standing(&reversals);
    let mut warnings = Vec::new();
    if !standing.voided_by.is_empty() {
        warnings.push(format!("voided by {}", standing.voided_by));
    }
    let mut info: HashMap<String, Variant<'static>> = HashMap::new();
    info.insert("kind".into(), Variant::from("receipt".to_string()));
    info.insert("plugin".into(), Variant::from(String::new()));
    info.insert("balance".into(), Variant::from(String::new()));
    info.insert("expires".into(), Variant::from(String::new()));
    info.insert(
        "state".into(),
        Variant::from(standing.state(receipt.kind).to_string()),
    );
    info.insert("customer".into(), Variant::from(receipt.customer.clone()));
    info.insert("warnings".into(), Variant::from(warnings));
    info.insert("receipt_id".into(), Variant::from(receipt.id.clone()));
    info.insert(
        "receipt_kind".into(),
        Variant::from(receipt.kind.as_str().to_string()),
    );
    info.insert("time".into(), Variant::from(receipt.time.clone()));
    info.insert(
        "total".into(),
        Variant::from(crate::money::format(receipt.totals.total, minor)),
    );
    info.insert("voidable".into(), Variant::from(standing.voidable));
    info.insert("returnable".into(), Variant::from(standing.returnable));
    info.insert("voided_by".into(), Variant::from(standing.voided_by));
    info.insert("returns".into(), Variant::from(standing.returns));
    Ok(Some(info))
}

/// The object path under `kind` (`sale`, `device`) for `element`, if `element` can be one.
fn child_path(kind: &str, element: &str) -> Option<zbus::OwnedObjectPath> {
    if element.is_empty() || element.contains('/') {
        return None;
    }
    zbus::OwnedObjectPath::try_from(format!("{}/{kind}/{element}", super::ROOT_PATH)).ok()
}

#[interface(name = "org.posd.Manager1")]
impl Manager {
    /// Version of the posd daemon.
    #[zbus(property(emits_changed_signal = "const"))]
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    /// Plugin ABI the daemon offers, "major.minor".
    #[zbus(property(emits_changed_signal = "const"))]
    fn abi_version(&self) -> String {
        abi_version()
    }

    /// Store identifier from the configuration.
    #[zbus(property)]
    fn store_id(&self) -> String {
        self.shared.identity().store_id
    }

    /// Register (till) identifier from the configuration.
    #[zbus(property)]
    fn register_id(&self) -> String {
        self.shared.identity().register_id
    }

    /// ISO 4217 currency of all amounts.
    #[zbus(property)]
    fn currency(&self) -> String {
        self.shared.identity().currency
    }

    /// BCP 47 locale of receipts and messages.
    #[zbus(property)]
    fn locale(&self) -> String {
        self.shared.identity().locale
    }

    /// starting, running, degraded (a device or plugin failed) or stopping.
    #[zbus(property)]
    fn state(&self) -> String {
        self.shared.state().as_str().to_string()
    }

    /// Absolute path of the state database (journal, ledger, outbox), so tools that read it
    /// directly check the database of the daemon they talk to, not a guessed one.
    #[zbus(property(emits_changed_signal = "const"))]
    fn database_path(&self) -> String {
        self.shared
            .database_path()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// Opens a sale: options cashier, customer (strings). Returns its object.
    async fn open_sale(
        &self,
        options: HashMap<String, zbus::OwnedVariant>,
        #[zbus(object_server)] server: &zbus::ObjectServer,
    ) -> Result<zbus::OwnedObjectPath, BusError> {
        let _call = self.begin()?;
        let mut cashier = String::new();
        let mut customer = String::new();
        for (key, value) in &options {
            let text = String::try_from(value.clone())
                .map_err(|_| BusError::InvalidArgument(format!("{key} must be a string")))?;
            match key.as_str() {
                "cashier" => cashier = text,
                "customer" => customer = text,
                other => {
                    return Err(BusError::InvalidArgument(format!(
                        "unknown key {other:?}; expected cashier or customer"
                    )));
                }
            }
        }
        self.journal.ensure_day().await?;
        let sale = self.book.open(&cashier, &customer).await?;
        let path = super::sale::object_path(&sale.id);
        server
            .at(
                path.as_str(),
                super::sale::SaleObject::new(&sale.id, self.book.clone(), self.journal.clone()),
            )
            .await?;
        zbus::OwnedObjectPath::try_from(path).map_err(BusError::ZBus)
    }

    /// A committed receipt: id, time, kind, lines, tenders, totals, vat, customer, sections,
    /// original, text (as printed).
    async fn get_receipt(
        &self,
        receipt_id: &str,
    ) -> Result<HashMap<String, zbus::Variant<'static>>, BusError> {
        let _call = self.begin()?;
        let receipt = self.journal.receipt(receipt_id).await?;
        Ok(receipt_record(&receipt, self.book.till().currency.minor))
    }

    /// Queues a committed receipt again on the receipt printer; returns the job id.
    async fn reprint(&self, receipt_id: &str) -> Result<String, BusError> {
        let _call = self.begin()?;
        Ok(self.journal.reprint(receipt_id, None).await?)
    }

    /// Storno of a whole receipt; returns the void receipt's id. The same key again returns
    /// it again; a second void of the receipt is Conflict; NotAllowed if a plugin refuses
    /// (eWallets).
    #[zbus(name = "Void")]
    async fn void_receipt(
        &self,
        receipt_id: &str,
        idempotency_key: &str,
    ) -> Result<String, BusError> {
        let _call = self.begin()?;
        Ok(self.journal.void(receipt_id, idempotency_key).await?)
    }

    /// Takes lines back (each: line, qty). Voucher and eWallet positions are left out with a
    /// message. Returns the return receipt's id and the messages.
    #[zbus(name = "Return", out_args("return_receipt_id", "messages"))]
    async fn return_lines(
        &self,
        receipt_id: &str,
        lines: Vec<HashMap<String, zbus::OwnedVariant>>,
        idempotency_key: &str,
    ) -> Result<(String, Vec<String>), BusError> {
        let _call = self.begin()?;
        let mut requests = Vec::new();
        for record in &lines {
            let mut line = None;
            let mut qty = None;
            for (key, value) in record {
                let text = String::try_from(value.clone())
                    .map_err(|_| BusError::InvalidArgument(format!("{key} must be a string")))?;
                match key.as_str() {
                    "line" => line = Some(text),
                    "qty" => qty = Some(text),
                    other => {
                        return Err(BusError::InvalidArgument(format!(
                            "unknown key {other:?}; expected line or qty"
                        )));
                    }
                }
            }
            requests.push(crate::sale::checkout::ReturnRequest {
                line: line.ok_or_else(|| {
                    BusError::InvalidArgument("a return line needs \"line\"".into())
                })?,
                qty: qty.unwrap_or_else(|| "1".into()),
            });
        }
        Ok(self
            .journal
            .take_back(receipt_id, &requests, idempotency_key)
            .await?)
    }

    /// A customer's accounts across plugins: accounts (plugin, programme, kind, balance, unit).
    async fn customer(
        &self,
        customer_id: &str,
    ) -> Result<HashMap<String, zbus::Variant<'static>>, BusError> {
        let _call = self.begin()?;
        if customer_id.trim().is_empty() {
            return Err(BusError::InvalidArgument("the customer id is empty".into()));
        }
        let mut accounts: Vec<HashMap<String, zbus::Variant<'static>>> = Vec::new();
        let request = serde_json::json!({ "schema": 1, "customer": customer_id });
        for plugin in self
            .plugins
            .implementing(crate::plugins::Hook::CustomerAccounts)
        {
            let answer = self
                .plugins
                .call(&plugin, crate::plugins::Hook::CustomerAccounts, &request)
                .await?;
            for account in answer
                .get("accounts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let text = |key: &str| {
                    account
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                let mut row = HashMap::new();
                row.insert("plugin".to_string(), zbus::Variant::from(plugin.clone()));
                for key in ["programme", "kind", "balance", "unit"] {
                    row.insert(key.to_string(), zbus::Variant::from(text(key)));
                }
                accounts.push(row);
            }
        }
        let mut out = HashMap::new();
        out.insert(
            "customer".to_string(),
            zbus::Variant::from(customer_id.to_string()),
        );
        out.insert("accounts".to_string(), zbus::Variant::from(accounts));
        let groups = self.book.till().customer_groups.of(customer_id).to_vec();
        out.insert("groups".to_string(), zbus::Variant::from(groups));
        Ok(out)
    }

    /// A sale was checked out.
    #[zbus(signal)]
    pub async fn sale_completed(
        emitter: &SignalEmitter<'_>,
        receipt_id: &str,
        sale: zbus::ObjectPath<'_>,
    ) -> zbus::Result<()>;

    /// What a code is, without a sale: kind, plugin, balance, expires, state, customer,
    /// warnings. Balance inquiry at the till. The id of a receipt in the journal is the
    /// host's own and answered before any plugin is asked ([`lookup_receipt`]). Unclaimed
    /// codes are `product` when they are valid article numbers, else `unknown`.
    async fn lookup_code(
        &self,
        code: &str,
    ) -> Result<HashMap<String, zbus::Variant<'static>>, BusError> {
        let _call = self.begin()?;
        let minor = self.book.till().currency.minor;
        if let Some(info) = lookup_receipt(&self.journal, code, minor).await? {
            return Ok(info);
        }
        lookup(&self.plugins, &self.shared, code).await
    }

    /// The object of an open sale (or one completed in the last day). NotFound with a message
    /// for any other id: a call on the object path of a sale that does not exist is answered
    /// by the bus library with org.freedesktop.DBus.Error.UnknownObject, which no interface
    /// of ours can turn into the contract's NotFound.
    async fn get_sale(
        &self,
        sale_id: &str,
        #[zbus(object_server)] server: &zbus::ObjectServer,
    ) -> Result<zbus::OwnedObjectPath, BusError> {
        let _call = self.begin()?;
        if let Some(path) = child_path("sale", sale_id)
            && server
                .interface::<_, super::sale::SaleObject>(path.as_str())
                .await
                .is_ok()
        {
            return Ok(path);
        }
        Err(BusError::NotFound(format!(
            "no sale {sale_id:?} on this till (a sale is kept while it is open and for a day after its checkout)"
        )))
    }

    /// The object of a configured device by name (`posctl devices` lists them); NotFound
    /// with a message for any other name.
    async fn get_device(
        &self,
        name: &str,
        #[zbus(object_server)] server: &zbus::ObjectServer,
    ) -> Result<zbus::OwnedObjectPath, BusError> {
        let _call = self.begin()?;
        if let Some(path) = child_path("device", name)
            && server
                .interface::<_, super::device::DeviceObject>(path.as_str())
                .await
                .is_ok()
        {
            return Ok(path);
        }
        Err(BusError::NotFound(format!(
            "no device {name:?}; `posctl devices` lists the configured ones"
        )))
    }

    /// The object of a plugin by id; NotFound with a message for any other id.
    async fn get_plugin(&self, id: &str) -> Result<zbus::OwnedObjectPath, BusError> {
        let _call = self.begin()?;
        if !self.plugins.list().iter().any(|p| p.id == id) {
            return Err(BusError::NotFound(format!(
                "no plugin {id:?}; `posctl plugins` lists them"
            )));
        }
        zbus::OwnedObjectPath::try_from(super::plugin::object_path(id)).map_err(BusError::ZBus)
    }

    /// Installs the plugin library at `path` (absolute) and loads it; returns its id. Admin
    /// only. A file that does not load is not kept.
    async fn install_plugin(
        &self,
        path: &str,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<String, BusError> {
        let _call = self.begin()?;
        self.admin(conn, &header, "InstallPlugin").await?;
        Ok(self.plugins.install(std::path::Path::new(path)).await?)
    }

    /// Deletes an installed plugin. Admin only. Plugins of the system package can only be
    /// disabled (NotAllowed).
    async fn remove_plugin(
        &self,
        id: &str,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        let _call = self.begin()?;
        self.admin(conn, &header, "RemovePlugin").await?;
        Ok(self.plugins.remove(id).await?)
    }

    /// Switches a plugin on or off, remembered across restarts. Admin only.
    async fn set_plugin_enabled(
        &self,
        id: &str,
        enabled: bool,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        let _call = self.begin()?;
        self.admin(conn, &header, "SetPluginEnabled").await?;
        Ok(self.plugins.set_enabled(id, enabled).await?)
    }

    /// Loads new and changed plugin files and retires removed ones, without a restart and
    /// without disturbing open sales. Admin only.
    async fn reload_plugins(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        let _call = self.begin()?;
        self.admin(conn, &header, "ReloadPlugins").await?;
        self.plugins.reload().await;
        Ok(())
    }

    /// The admin actions every running plugin offers technicians outside a sale (ABI 1.1):
    /// plugin, id, command (the posctl command path), label, help and params. Admin only:
    /// what a plugin offers admins is none of a frontend's business.
    async fn admin_actions(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<Vec<super::sale::Record>, BusError> {
        let _call = self.begin()?;
        self.admin(conn, &header, "AdminActions").await?;
        let actions = crate::plugins::admin::list(&self.plugins, &store_view(&self.shared)).await?;
        Ok(actions
            .into_iter()
            .map(|(plugin, action)| admin_action_record(&plugin, action))
            .collect())
    }

    /// Runs admin action `action` of `plugin` with `args`, checked against the params it
    /// declares like Sale1.Invoke's. Answers result (a record), text (for people), output
    /// (what the client writes to the action's output file) and reference (the ledger entry
    /// of the effects it committed, ABI 1.2, or ""). The effects are committed before the
    /// answer: if they are refused, the caller gets only the error. Admin only.
    async fn invoke_admin_action(
        &self,
        plugin: &str,
        action: &str,
        args: HashMap<String, zbus::OwnedVariant>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<super::sale::Record, BusError> {
        let _call = self.begin()?;
        self.admin(conn, &header, "InvokeAdminAction").await?;
        let mut json = serde_json::Map::new();
        for (key, value) in &args {
            json.insert(key.clone(), super::sale::arg_json(key, value)?);
        }
        let store = store_view(&self.shared);
        let mut answer =
            crate::plugins::admin::invoke(&self.plugins, &store, plugin, action, json).await?;
        let reference = match answer.effects.take() {
            Some(effects) => self.journal.commit_admin(plugin, action, effects).await?,
            None => None,
        };
        tracing::info!(
            plugin,
            action,
            reference = reference.as_deref().unwrap_or(""),
            "admin action run"
        );
        let mut record = super::sale::Record::new();
        record.insert(
            "result".into(),
            zbus::Variant::from(super::sale::json_record(&answer.result)),
        );
        record.insert("text".into(), zbus::Variant::from(answer.text));
        record.insert("output".into(), zbus::Variant::from(answer.output));
        record.insert(
            "reference".into(),
            zbus::Variant::from(reference.unwrap_or_default()),
        );
        Ok(record)
    }

    /// Makes outbox message `message_id` (dead, or pending) due now and wakes the outbox
    /// worker, for a technician who fixed what kept it from its partner. Admin only.
    /// NotFound for an unknown id, Conflict for a delivered or discarded message.
    async fn retry_outbox_message(
        &self,
        message_id: &str,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        let _call = self.begin()?;
        let (caller, managed) = self
            .manage_outbox(
                conn,
                &header,
                "RetryOutboxMessage",
                message_id,
                crate::outbox::retry,
            )
            .await?;
        self.outbox_wake.notify_one();
        let message = &managed.message;
        tracing::info!(
            id = message.id,
            key = %message.key,
            plugin = %message.plugin,
            was = %managed.previous_state,
            uid = caller.uid,
            sender = %caller.sender,
            "outbox: message retried by a technician"
        );
        Ok(())
    }

    /// Gives up on outbox message `message_id` (dead, or pending) for good: it becomes
    /// discarded, is never delivered and stays on record. Admin only. NotFound for an unknown
    /// id, Conflict for a delivered message.
    async fn discard_outbox_message(
        &self,
        message_id: &str,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        let _call = self.begin()?;
        let (caller, managed) = self
            .manage_outbox(
                conn,
                &header,
                "DiscardOutboxMessage",
                message_id,
                crate::outbox::discard,
            )
            .await?;
        let message = &managed.message;
        tracing::warn!(
            id = message.id,
            key = %message.key,
            plugin = %message.plugin,
            was = %managed.previous_state,
            uid = caller.uid,
            sender = %caller.sender,
            "outbox: message discarded by a technician; it will never be delivered"
        );
        Ok(())
    }

    /// Re-reads the configuration, as SIGHUP does. Admin only. An invalid configuration is
    /// refused with InvalidConfiguration naming file and key, and the running one stays. A
    /// configuration some plugin fails with stays applied and is answered with PluginFailed
    /// naming each failed plugin and its reason.
    async fn reload_config(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<(), BusError> {
        let _call = self
            .shared
            .begin_call()
            .ok_or_else(|| BusError::ShuttingDown("posd is stopping".into()))?;
        Caller::of(conn, &header)
            .await?
            .require_admin("ReloadConfig")?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.shared
            .request(Control::ReloadConfig(tx))
            .await
            .map_err(BusError::ShuttingDown)?;
        rx.await
            .map_err(|_| BusError::ShuttingDown("posd stopped before the reload finished".into()))?
            .map(|_changes| ())
            .map_err(|e| match e {
                crate::daemon::ReloadError::InvalidConfiguration(message) => {
                    BusError::InvalidConfiguration(message)
                }
                // The rest of the configuration is applied; the message names each plugin.
                failed @ crate::daemon::ReloadError::PluginsFailed { .. } => {
                    BusError::PluginFailed(failed.to_string())
                }
            })
    }
}

/// Moves the daemon to `state` and, if that changed it, emits `PropertiesChanged` for
/// `Manager1.State`.
pub async fn announce_state(conn: &zbus::Connection, shared: &Shared, state: ServiceState) {
    if !shared.set_state(state) {
        return;
    }
    tracing::info!(state = state.as_str(), "state changed");
    let result = async {
        let iface = conn
            .object_server()
            .interface::<_, Manager>(super::ROOT_PATH)
            .await?;
        iface
            .get()
            .await
            .state_changed(iface.signal_emitter())
            .await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!("cannot announce the state change: {e}");
    }
}

/// A receipt as `a{sv}`.
pub fn receipt_record(r: &Receipt, minor: u32) -> HashMap<String, zbus::Variant<'static>> {
    use zbus::Variant;
    let mut sale = crate::sale::model::Sale::new(
        &r.sale_id,
        crate::sale::model::SaleState::Completed,
        &r.cashier,
        String::new(),
    );
    sale.customer = r.customer.clone();
    sale.lines = r.lines.clone();
    sale.tenders = r.tenders.clone();
    sale.receipt_id = r.id.clone();
    // A section's QR code may carry one of the receipt's codes (a voucher sold): it is
    // printed whole on the slip, but shown here with the code masked, like everywhere else.
    let mut codes: Vec<&str> = r
        .lines
        .iter()
        .filter(|l| !l.show_ref)
        .map(|l| l.reference.as_str())
        .chain(r.tenders.iter().map(|t| t.reference.as_str()))
        .filter(|code| mask(code) != *code)
        .collect();
    // Longest first, so a code that contains another is masked whole.
    codes.sort_by_key(|code| std::cmp::Reverse(code.len()));
    let with_codes_masked = |text: &str| {
        codes.iter().fold(text.to_string(), |text, code| {
            text.replace(code, &mask(code))
        })
    };
    let mut out: HashMap<String, Variant<'static>> = HashMap::new();
    out.insert("id".into(), Variant::from(r.id.clone()));
    out.insert("time".into(), Variant::from(r.time.clone()));
    out.insert(
        "kind".into(),
        Variant::from(
            serde_json::to_value(r.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        ),
    );
    out.insert("customer".into(), Variant::from(r.customer.clone()));
    out.insert("original".into(), Variant::from(r.original.clone()));
    out.insert(
        "lines".into(),
        super::sale::record_variant(&super::sale::lines_record(&sale, minor)),
    );
    out.insert(
        "tenders".into(),
        super::sale::record_variant(&super::sale::tenders_record(&sale, minor)),
    );
    out.insert(
        "totals".into(),
        super::sale::record_variant(&super::sale::totals_record(&r.totals, minor)),
    );
    let vat: Vec<HashMap<String, Variant<'static>>> = r
        .vat
        .iter()
        .map(|v| {
            let mut row = HashMap::new();
            row.insert(
                "rate".into(),
                Variant::from(
                    v.rate
                        .map(|r| r.normalize().to_string())
                        .unwrap_or_default(),
                ),
            );
            row.insert(
                "net".into(),
                Variant::from(crate::money::format(v.net, minor)),
            );
            row.insert(
                "vat".into(),
                Variant::from(crate::money::format(v.vat, minor)),
            );
            row.insert(
                "gross".into(),
                Variant::from(crate::money::format(v.gross, minor)),
            );
            row
        })
        .collect();
    out.insert("vat".into(), Variant::from(vat));
    let sections: Vec<HashMap<String, Variant<'static>>> = r
        .sections
        .iter()
        .map(|s| {
            let mut row = HashMap::new();
            row.insert("plugin".into(), Variant::from(s.plugin.clone()));
            row.insert("title".into(), Variant::from(s.title.clone()));
            row.insert("lines".into(), Variant::from(s.lines.clone()));
            row.insert("slip".into(), Variant::from(s.slip));
            row.insert(
                "code".into(),
                Variant::from(s.barcode.as_deref().map(mask).unwrap_or_default()),
            );
            row.insert(
                "qr".into(),
                Variant::from(s.qr.as_deref().map(&with_codes_masked).unwrap_or_default()),
            );
            row
        })
        .collect();
    out.insert("sections".into(), Variant::from(sections));
    out.insert("day".into(), Variant::from(r.day.clone()));
    if let Some(event) = &r.event {
        out.insert("reason".into(), Variant::from(event.reason.clone()));
        if let Some(report) = &event.report {
            out.insert(
                "report".into(),
                Variant::from(super::register::report_record(report, minor)),
            );
        }
    }
    out.insert(
        "text".into(),
        Variant::from(crate::sale::receipt::receipt_text(r, minor, 42)),
    );
    out
}
