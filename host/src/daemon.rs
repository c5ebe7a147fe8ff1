//! The daemon's life: start, serve, reload, stop.
//!
//! Start-up order matters to systemd and to the till: configuration first (refuse to start on
//! a bad one), then the database (refuse a newer schema), then the bus objects, then the name,
//! and only then `READY=1`. Shutdown is the reverse, designed rather than left to drop order:
//! `State=stopping`, release the name so new calls go nowhere, let calls in flight finish,
//! flush and close the database, exit 0.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::bus::{self, BusChoice, Manager, NameError};
use crate::config::{self, Config, ConfigError, ConfigSources};
use crate::devices::{self, DeviceEvent, DeviceManager, Registry};
use crate::notify::Notifier;
use crate::plugins::{FailedPlugin, PluginManager, PluginSettings};
use crate::sale::book::{Book, Till};
use crate::sale::checkout::{Journal, ReceiptSettings};
use crate::service::{Control, Identity, ServiceState, Shared};
use crate::store::{Database, StoreError};

/// How long shutdown waits for calls in flight before it closes anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The database could not be opened, migrated or closed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The bus could not be reached.
    #[error("cannot connect to the {bus}: {source}")]
    Connect {
        /// Which bus.
        bus: BusChoice,
        /// zbus's error.
        #[source]
        source: zbus::Error,
    },
    /// The name is owned by another process or refused by policy.
    #[error("{0}")]
    Name(#[from] NameError),
    /// The bus connection broke while serving.
    #[error("lost the connection to the bus")]
    BusLost,
    /// Anything else on the bus.
    #[error("D-Bus: {0}")]
    Bus(#[from] zbus::Error),
}

impl DaemonError {
    /// The exit status, from sysexits.h, so systemd (`RestartPreventExitStatus=`) and
    /// technicians can tell a wrong setup from a passing failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            DaemonError::Config(_) => EXIT_CONFIG,
            DaemonError::Store(StoreError::TooNew { .. }) => EXIT_DATAERR,
            DaemonError::Store(StoreError::StateDirectory { .. }) => EXIT_CANTCREAT,
            DaemonError::Store(_) => EXIT_IOERR,
            DaemonError::Name(NameError::Taken { .. }) => EXIT_UNAVAILABLE,
            DaemonError::Name(NameError::Bus(_)) => EXIT_NOPERM,
            DaemonError::Connect { .. } | DaemonError::BusLost | DaemonError::Bus(_) => {
                EXIT_UNAVAILABLE
            }
        }
    }
}

/// Bad input data: the database is from a newer posd.
pub const EXIT_DATAERR: i32 = 65;
/// A needed service is unavailable: the bus, or the name is taken.
pub const EXIT_UNAVAILABLE: i32 = 69;
/// The state directory cannot be created.
pub const EXIT_CANTCREAT: i32 = 73;
/// The database failed.
pub const EXIT_IOERR: i32 = 74;
/// The bus policy does not let us own the name.
pub const EXIT_NOPERM: i32 = 77;
/// The configuration is invalid.
pub const EXIT_CONFIG: i32 = 78;

/// Why a configuration reload (SIGHUP, `Manager1.ReloadConfig`) did not fully succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReloadError {
    /// The configuration is invalid; the running one stays in force, nothing changed.
    #[error("{0}")]
    InvalidConfiguration(String),
    /// The configuration is in force, but these plugins are failed with it: a typo in a
    /// plugin's section must not be answered with "configuration reloaded". Each is tried
    /// again on the next reload.
    #[error("{}", plugins_failed_message(failed))]
    PluginsFailed {
        /// What the reload applied, as for a success.
        changes: Vec<String>,
        /// Each failed plugin with its reason.
        failed: Vec<FailedPlugin>,
    },
}

/// "configuration reloaded, but 1 plugin failed …" and a line per plugin with its reason.
fn plugins_failed_message(failed: &[FailedPlugin]) -> String {
    let mut message = format!(
        "configuration reloaded, but {} plugin{} failed (tried again on every reload):",
        failed.len(),
        if failed.len() == 1 { "" } else { "s" }
    );
    for plugin in failed {
        message += &format!("\n  {plugin}");
    }
    message
}

/// Changes the log filter at run time; `Err` if the filter is invalid.
pub type SetLogFilter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// What the daemon needs to run.
pub struct Options {
    /// Which bus to serve on.
    pub bus: BusChoice,
    /// Where the database lives.
    pub state_dir: PathBuf,
    /// Where the configuration comes from (read again on reload).
    pub config_sources: ConfigSources,
    /// The configuration already loaded and validated at start.
    pub config: Config,
    /// Applies `log.level` on reload; `None` when `RUST_LOG` pins the filter.
    pub set_log_filter: Option<SetLogFilter>,
    /// Devices used while the configuration declares none (development mode's virtual
    /// printer); re-applied after every reload.
    pub fallback_devices: Vec<crate::config::DeviceConfig>,
}

/// Runs the daemon until SIGTERM or SIGINT. Returns after a clean shutdown.
pub async fn run(options: Options) -> Result<(), DaemonError> {
    let Options {
        bus: bus_choice,
        state_dir,
        config_sources,
        config,
        set_log_filter,
        fallback_devices,
    } = options;
    let notifier = Arc::new(Notifier::from_env());
    // Installed first: a signal during start-up must not kill us half-initialised.
    let mut sigterm = signal(SignalKind::terminate()).map_err(io_bus)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(io_bus)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(io_bus)?;

    notifier.status("opening the database");
    let busy = Duration::from_millis(config.database.busy_timeout_ms);
    let db = {
        let dir = state_dir.clone();
        tokio::task::spawn_blocking(move || Database::start(&dir, busy))
            .await
            .map_err(|_| StoreError::Stopped)??
    };
    tracing::info!(path = %db.path().display(), "database open");

    notifier.status("connecting to the bus");
    let (control_tx, mut control_rx) = mpsc::channel(8);
    let shared = Shared::new(Identity::of(&config), control_tx);
    let cache_dir = state_dir.join("plugin-cache");
    // Snapshots of an earlier run are mapped by nobody any more.
    let _ = std::fs::remove_dir_all(&cache_dir);
    let plugins = PluginManager::new(db.clone(), plugin_settings(&config, &cache_dir));
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let devices = DeviceManager::new(db.clone(), events_tx);
    let outbox_wake = Arc::new(tokio::sync::Notify::new());
    let book = Book::new(db.clone(), plugins.clone(), till_of(&config, &shared));
    let journal = Journal::new(
        db.clone(),
        plugins.clone(),
        book.clone(),
        devices.registry(),
        receipt_settings(&config),
        outbox_wake.clone(),
    );
    journal.load_day().await.map_err(|e| {
        DaemonError::Store(StoreError::StateDirectory {
            path: state_dir.clone(),
            reason: format!("cannot read the till's day: {e}"),
        })
    })?;
    let open_sales = book.restore().await.map_err(|e| {
        DaemonError::Store(StoreError::StateDirectory {
            path: state_dir.clone(),
            reason: format!("cannot restore the open sales: {e}"),
        })
    })?;
    let conn = bus::builder(&bus_choice)
        .serve_at(
            bus::ROOT_PATH,
            Manager::new(
                shared.clone(),
                plugins.clone(),
                book.clone(),
                journal.clone(),
            ),
        )
        .serve_at(
            bus::ROOT_PATH,
            bus::register::Register::new(shared.clone(), journal.clone()),
        )
        .serve_at(bus::ROOT_PATH, zbus::fdo::ObjectManager)
        .build()
        .await
        .map_err(|source| DaemonError::Connect {
            bus: bus_choice.clone(),
            source,
        })?;
    if let Err(e) = bus::claim_name(&conn).await {
        db.close().await?;
        return Err(e.into());
    }

    tokio::spawn(bus::register::announce_day_changes(
        conn.clone(),
        journal.clone(),
    ));
    notifier.status("loading plugins");
    plugins.reload().await;
    for id in &open_sales {
        let object = bus::sale::SaleObject::new(id, book.clone(), journal.clone());
        if let Err(e) = conn
            .object_server()
            .at(bus::sale::object_path(id).as_str(), object)
            .await
        {
            tracing::error!(sale = %id, "cannot restore the sale's object: {e}");
        }
    }
    if !open_sales.is_empty() {
        tracing::info!("restored {} open sale(s)", open_sales.len());
    }
    let state_changes = Arc::new(tokio::sync::Notify::new());
    let keeper = tokio::spawn(keep_state(
        conn.clone(),
        devices.registry(),
        plugins.clone(),
        shared.clone(),
        state_changes.clone(),
    ));
    let publisher = tokio::spawn(publish_device_events(
        conn.clone(),
        events_rx,
        plugins.clone(),
        shared.clone(),
        state_changes.clone(),
    ));
    let courier = tokio::spawn(crate::outbox::run_worker(
        db.clone(),
        plugins.clone(),
        config.retry_policy(),
        outbox_wake.clone(),
    ));
    let follower = tokio::spawn({
        let state_changes = state_changes.clone();
        bus::plugin::follow(conn.clone(), plugins.clone(), move || {
            state_changes.notify_one()
        })
    });
    let mut daemon = Running {
        conn,
        db,
        notifier: notifier.clone(),
        shared,
        config,
        config_sources,
        set_log_filter,
        devices,
        fallback_devices,
        plugins,
        cache_dir,
        book,
        journal,
    };
    let config = daemon.config.clone();
    daemon.apply_devices(&config).await;
    daemon.refresh_state().await;
    let serving = daemon.status_line(&bus_choice);
    notifier.ready(&serving);
    tracing::info!("{serving}");

    let watchdog = notifier.watchdog_interval().map(|interval| {
        let db = daemon.db.clone();
        let notifier = notifier.clone();
        tokio::spawn(watchdog_loop(interval, db, notifier))
    });

    let outcome = loop {
        tokio::select! {
            _ = sigterm.recv() => { tracing::info!("SIGTERM: stopping"); break Ok(()); }
            _ = sigint.recv() => { tracing::info!("SIGINT: stopping"); break Ok(()); }
            _ = sighup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                // The outcome is logged by reload itself; a bad file keeps the old config.
                let _ = daemon.reload().await;
            }
            Some(request) = control_rx.recv() => match request {
                Control::ReloadConfig(reply) => {
                    let _ = reply.send(daemon.reload().await);
                }
            },
            _ = daemon.conn.closed() => {
                tracing::error!("the bus connection closed");
                break Err(DaemonError::BusLost);
            }
        }
    };
    if let Some(task) = watchdog {
        task.abort();
    }
    let result = daemon.shut_down(outcome).await;
    publisher.abort();
    follower.abort();
    courier.abort();
    keeper.abort();
    result
}

fn io_bus(e: std::io::Error) -> DaemonError {
    DaemonError::Bus(zbus::Error::InputOutput(Arc::new(e)))
}

/// Checks that the database thread answers before telling systemd we are alive, so a hung
/// database gets the daemon restarted instead of a till that silently stopped selling.
async fn watchdog_loop(interval: Duration, db: Database, notifier: Arc<Notifier>) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        let probe = db.call(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)));
        match tokio::time::timeout(interval, probe).await {
            Ok(Ok(_)) => notifier.watchdog(),
            Ok(Err(e)) => tracing::error!("watchdog: the database failed: {e}"),
            Err(_) => tracing::error!("watchdog: the database did not answer in {interval:?}"),
        }
    }
}

/// The till settings of the sale book.
fn till_of(config: &Config, shared: &Shared) -> Till {
    Till {
        currency: crate::sale::engine::Currency {
            minor: config.currency_minor_unit(),
            cash_increment: config.cash_increment(),
        },
        currency_code: config.store.currency.clone(),
        store: bus::store_view(shared),
    }
}

/// The receipt settings of the journal.
fn receipt_settings(config: &Config) -> ReceiptSettings {
    ReceiptSettings {
        store_id: config.store.id.clone(),
        register_id: config.register.id.clone(),
        locale: config.store.locale.clone(),
        header: config.receipt.header.clone(),
        footer: config.receipt.footer.clone(),
        printer: Some(config.receipt.printer.clone()).filter(|p| !p.is_empty()),
        require_day_open: config.register.require_day_open,
        open_drawer: config.receipt.open_drawer,
    }
}

/// The plugin settings a configuration describes.
fn plugin_settings(config: &Config, cache_dir: &std::path::Path) -> PluginSettings {
    PluginSettings {
        directories: config.plugins.directories.clone(),
        install_directory: config.plugins.install_directory.clone(),
        deadline: Duration::from_millis(config.plugins.call_deadline_ms),
        sections: config.plugin.clone(),
        cache_dir: cache_dir.to_path_buf(),
    }
}

/// Running, or degraded while a device is not online or a plugin is failed.
fn desired_state(registry: &Registry, plugins: &PluginManager) -> ServiceState {
    if devices::any_not_online(registry) || plugins.any_failed() {
        ServiceState::Degraded
    } else {
        ServiceState::Running
    }
}

/// Keeps `Manager1.State` in step with devices and plugins whenever either reports a change.
async fn keep_state(
    conn: zbus::Connection,
    registry: Registry,
    plugins: Arc<PluginManager>,
    shared: Arc<Shared>,
    changes: Arc<tokio::sync::Notify>,
) {
    loop {
        changes.notified().await;
        bus::announce_state(&conn, &shared, desired_state(&registry, &plugins)).await;
    }
}

/// Publishes what device supervisors report. A task of its own, so a scan reaches the bus
/// without waiting for the main loop; a scan's kind is what the plugins say it is.
async fn publish_device_events(
    conn: zbus::Connection,
    mut events: mpsc::UnboundedReceiver<DeviceEvent>,
    plugins: Arc<PluginManager>,
    shared: Arc<Shared>,
    state_changes: Arc<tokio::sync::Notify>,
) {
    while let Some(event) = events.recv().await {
        let result = match event {
            DeviceEvent::Scanned { device, scan } => {
                let kind = match plugins
                    .classify(&scan.code, &bus::store_view(&shared))
                    .await
                {
                    Ok(Some((_, answer))) => answer
                        .get("kind")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("unknown")
                        .to_string(),
                    Ok(None) => devices::classify(&scan).to_string(),
                    Err(e) => {
                        // A scan is never lost to a failing plugin.
                        tracing::warn!(device = %device.name, "classifying the scan: {e}");
                        devices::classify(&scan).to_string()
                    }
                };
                bus::device::publish_scan(&conn, &device, &scan, &kind).await
            }
            event @ DeviceEvent::StatusChanged { .. } => {
                let result = bus::device::publish(&conn, event).await;
                state_changes.notify_one();
                result
            }
            event => bus::device::publish(&conn, event).await,
        };
        if let Err(e) = result {
            tracing::warn!("cannot publish a device event: {e}");
        }
    }
}

/// The daemon once it serves.
struct Running {
    conn: zbus::Connection,
    db: Database,
    notifier: Arc<Notifier>,
    shared: Arc<Shared>,
    config: Config,
    config_sources: ConfigSources,
    set_log_filter: Option<SetLogFilter>,
    devices: DeviceManager,
    fallback_devices: Vec<crate::config::DeviceConfig>,
    plugins: Arc<PluginManager>,
    cache_dir: std::path::PathBuf,
    book: Arc<Book>,
    journal: Arc<Journal>,
}

impl Running {
    fn status_line(&self, bus: &BusChoice) -> String {
        let id = self.shared.identity();
        format!(
            "serving {} on the {bus}: store {} register {}, {} {}",
            bus::BUS_NAME,
            id.store_id,
            id.register_id,
            id.currency,
            id.locale
        )
    }

    async fn manager(&self) -> zbus::Result<zbus::object_server::InterfaceRef<Manager>> {
        self.conn
            .object_server()
            .interface::<_, Manager>(bus::ROOT_PATH)
            .await
    }

    async fn set_state(&self, state: ServiceState) {
        bus::announce_state(&self.conn, &self.shared, state).await;
    }

    /// Running, or degraded while a device is not online or a plugin is failed.
    async fn refresh_state(&self) {
        self.set_state(desired_state(&self.devices.registry(), &self.plugins))
            .await;
    }

    /// Starts, stops and restarts devices to match `config`, with their bus objects. A printer
    /// that is no longer configured fails its waiting jobs; one that is only restarted keeps
    /// them.
    async fn apply_devices(&mut self, config: &Config) -> Vec<String> {
        let mut config = config.clone();
        if config.devices.is_empty() {
            config.devices = self.fallback_devices.clone();
        }
        let config = &config;
        let applied = self.devices.apply(config);
        let mut changes = Vec::new();
        for device in &applied.removed {
            if let Err(e) = bus::device::remove(&self.conn, device).await {
                tracing::warn!(device = %device.name, "cannot remove its objects: {e}");
            }
            let still_configured = config
                .devices
                .iter()
                .any(|d| d.enabled && d.name == device.name);
            if still_configured {
                continue;
            }
            changes.push(format!("device {} removed", device.name));
            if device.printer().is_some() {
                let name = device.name.clone();
                let failed = self
                    .db
                    .call(move |c| {
                        crate::print_queue::fail_waiting(
                            c,
                            &name,
                            "printer removed from the configuration",
                        )
                    })
                    .await;
                match failed {
                    Ok(jobs) => {
                        for job_id in jobs {
                            let event = DeviceEvent::JobDone {
                                device: device.clone(),
                                job_id,
                                state: "failed",
                            };
                            if let Err(e) = bus::device::publish(&self.conn, event).await {
                                tracing::warn!("cannot announce a failed job: {e}");
                            }
                        }
                    }
                    Err(e) => tracing::error!(device = %device.name, "cannot fail its jobs: {e}"),
                }
            }
        }
        for device in &applied.added {
            if device.printer().is_some() {
                // Shown right from the start: jobs may be waiting from before a restart.
                let name = device.name.clone();
                match self
                    .db
                    .call(move |c| crate::print_queue::queue_length(c, &name))
                    .await
                {
                    Ok(waiting) => {
                        device.update(|s| s.queue_length = waiting);
                    }
                    Err(e) => tracing::warn!(device = %device.name, "print queue: {e}"),
                }
            }
            if let Err(e) = bus::device::add(&self.conn, device).await {
                tracing::error!(device = %device.name, "cannot put it on the bus: {e}");
            }
            if !applied.removed.iter().any(|d| d.name == device.name) {
                changes.push(format!("device {} added", device.name));
            } else {
                changes.push(format!(
                    "device {} restarted with new settings",
                    device.name
                ));
            }
        }
        changes
    }

    /// Reads the configuration again and applies what can change at run time. An invalid
    /// configuration changes nothing. Returns a line per applied or postponed change, or the
    /// plugins that are failed with the new configuration (the rest of it stays applied).
    async fn reload(&mut self) -> Result<Vec<String>, ReloadError> {
        self.notifier.reloading();
        let sources = self.config_sources.clone();
        let loaded = tokio::task::spawn_blocking(move || config::load(&sources))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let new = match loaded {
            Ok(loaded) => loaded.config,
            Err(e) => {
                tracing::error!("reload refused, the running configuration stays: {e}");
                self.notifier.reloaded(&format!("reload refused: {e}"));
                return Err(ReloadError::InvalidConfiguration(e));
            }
        };
        let mut changes = Vec::new();
        let old = std::mem::replace(&mut self.config, new.clone());

        // Currency stays until restart: amounts of open sales are in the old one.
        let mut identity = Identity::of(&new);
        if new.store.currency != old.store.currency {
            identity.currency = old.store.currency.clone();
            self.config.store.currency = old.store.currency.clone();
            changes.push(format!(
                "store.currency {} → {} takes effect at the next start",
                old.store.currency, new.store.currency
            ));
        }
        let before = self.shared.identity();
        if self.shared.set_identity(identity.clone()) {
            changes.push("store and register identity updated".into());
            self.announce_identity(&before, &identity).await;
        }
        if new.log.level != old.log.level {
            match &self.set_log_filter {
                Some(set) => match set(&new.log.level) {
                    Ok(()) => changes.push(format!("log.level is now {}", new.log.level)),
                    Err(e) => changes.push(format!("log.level not applied: {e}")),
                },
                None => changes.push("log.level ignored: RUST_LOG is set".into()),
            }
        }
        if new.receipt != old.receipt
            || new.store.locale != old.store.locale
            || new.register != old.register
        {
            self.journal.set_settings(receipt_settings(&self.config));
            changes.push("receipt settings updated".into());
        }
        self.book.set_till(till_of(&self.config, &self.shared));
        changes.extend(self.apply_devices(&new).await);
        self.refresh_state().await;
        // Always: a failed plugin is tried again on every reload, whether or not its
        // section changed (a library it needs may have been installed since).
        let plugins = self
            .plugins
            .apply_settings(plugin_settings(&new, &self.cache_dir))
            .await;
        for id in &plugins.changed {
            changes.push(format!("plugin {id} reloaded"));
        }
        if new.database != old.database {
            changes.push("[database] changes take effect at the next start".into());
        }
        for change in &changes {
            tracing::info!("reload: {change}");
        }
        for failed in &plugins.failed {
            tracing::error!(plugin = %failed.id, "reload: plugin {failed}");
        }
        if changes.is_empty() && plugins.failed.is_empty() {
            tracing::info!("reload: nothing changed");
        }
        if plugins.failed.is_empty() {
            self.notifier.reloaded(&format!(
                "configuration reloaded ({} change(s))",
                changes.len()
            ));
            Ok(changes)
        } else {
            self.notifier.reloaded(&format!(
                "configuration reloaded ({} change(s)), {} plugin(s) failed",
                changes.len(),
                plugins.failed.len()
            ));
            Err(ReloadError::PluginsFailed {
                changes,
                failed: plugins.failed,
            })
        }
    }

    async fn announce_identity(&self, before: &Identity, after: &Identity) {
        let Ok(iface) = self.manager().await else {
            return;
        };
        let emitter = iface.signal_emitter();
        let manager = iface.get().await;
        let results = [
            if before.store_id != after.store_id {
                Some(manager.store_id_changed(emitter).await)
            } else {
                None
            },
            if before.register_id != after.register_id {
                Some(manager.register_id_changed(emitter).await)
            } else {
                None
            },
            if before.locale != after.locale {
                Some(manager.locale_changed(emitter).await)
            } else {
                None
            },
        ];
        for result in results.into_iter().flatten() {
            if let Err(e) = result {
                tracing::warn!("cannot announce the identity change: {e}");
            }
        }
    }

    async fn shut_down(self, outcome: Result<(), DaemonError>) -> Result<(), DaemonError> {
        self.notifier
            .stopping("stopping: finishing calls in progress");
        self.set_state(ServiceState::Stopping).await;
        if outcome.is_ok()
            && let Err(e) = self.conn.release_name(bus::BUS_NAME).await
        {
            tracing::warn!("cannot release {}: {e}", bus::BUS_NAME);
        }
        let pending = self.shared.calls_in_progress();
        if pending > 0 {
            tracing::info!("waiting for {pending} call(s) in progress");
        }
        if tokio::time::timeout(DRAIN_TIMEOUT, self.shared.calls_finished())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} call(s) still running after {DRAIN_TIMEOUT:?}; stopping anyway",
                self.shared.calls_in_progress()
            );
        }
        self.plugins.shut_down().await;
        self.notifier.status("stopping: stopping devices");
        // Device threads block; join them off the runtime.
        let mut devices = self.devices;
        let _ = tokio::task::spawn_blocking(move || devices.stop_all()).await;
        self.notifier.status("stopping: closing the database");
        self.db.close().await?;
        drop(self.conn);
        tracing::info!("stopped");
        outcome
    }
}
