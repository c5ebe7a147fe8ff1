//! The daemon's life: start, serve, reload, stop.
//!
//! Start-up order matters to systemd and to the till: configuration first (refuse to start on
//! a bad one), then the database (refuse a newer schema), then the bus objects, then the name,
//! and only then `READY=1`. Shutdown is the reverse, designed rather than left to drop order:
//! `State=stopping`, release the name so new calls go nowhere, let calls in flight finish,
//! flush and close the database, exit 0.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::bus::{self, BusChoice, Manager, NameError};
use crate::config::{self, Config, ConfigError, ConfigSources, IsolationMode};
use crate::customers::CustomerGroups;
use crate::devices::{self, Device, DeviceEvent, DeviceManager, DeviceState, Registry};
use crate::notify::Notifier;
use crate::plugins::{
    FailedPlugin, Isolation, IsolationSettings, Limits, PluginManager, PluginSettings, RunSettings,
};
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
    /// Another daemon holds the state directory: two daemons on one database would serve the
    /// same register twice and number receipts against each other.
    #[error(
        "the state directory {} is in use by another posd ({}): one database, one daemon; \
         stop that one first",
        dir.display(),
        pid.map_or_else(|| "its pid is not recorded yet".to_string(), |p| format!("pid {p}"))
    )]
    StateInUse {
        /// The state directory.
        dir: PathBuf,
        /// The holder's pid, as it recorded it in the lock file.
        pid: Option<u32>,
    },
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
            DaemonError::Name(NameError::Taken { .. }) | DaemonError::StateInUse { .. } => {
                EXIT_UNAVAILABLE
            }
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

/// The state directory, held by one daemon: an exclusive `flock` on [`paths::LOCK_FILE`],
/// which holds the holder's pid for the next one's message. The kernel releases the lock
/// when the process ends however it ends, so a daemon that was killed never blocks the next
/// start, and no stale file needs cleaning up.
///
/// [`paths::LOCK_FILE`]: crate::paths::LOCK_FILE
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
}

/// Takes the state directory for this process (creating it if need be), or says which
/// daemon has it. Taken before anything else of the state is touched, and before a
/// development daemon starts its private bus.
pub fn lock_state(state_dir: &Path) -> Result<StateLock, DaemonError> {
    use std::io::{Read, Seek, Write};
    let unusable = |reason: String| {
        DaemonError::Store(StoreError::StateDirectory {
            path: state_dir.to_path_buf(),
            reason,
        })
    };
    std::fs::create_dir_all(state_dir).map_err(|e| unusable(e.to_string()))?;
    let path = state_dir.join(crate::paths::LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| unusable(format!("{}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(DaemonError::StateInUse {
                dir: state_dir.to_path_buf(),
                pid: text.trim().parse().ok(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(unusable(format!("cannot lock {}: {e}", path.display())));
        }
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .map_err(|e| unusable(format!("{}: {e}", path.display())))?;
    Ok(StateLock { _file: file })
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
    /// Devices added while the configuration declares no printer (development mode's
    /// virtual printer, beside a scanner a developer plugged in); re-applied after every
    /// reload.
    pub fallback_devices: Vec<crate::config::DeviceConfig>,
    /// Development mode (`posd --session`): plugins are installed into and loaded from the
    /// state directory unless the configuration names plugin directories.
    pub development: bool,
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
        development,
    } = options;
    let development_plugins = development.then(|| crate::paths::development_plugin_dir(&state_dir));
    let config = with_development_plugins(config, development_plugins.as_deref());
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
    if crate::clock::is_shiftable() {
        tracing::warn!(
            seconds = crate::clock::offset_seconds(),
            "{} is set: business time follows the test clock's offset",
            crate::clock::TEST_CLOCK_VAR
        );
    }
    let database_path = std::path::absolute(db.path()).unwrap_or_else(|_| db.path().to_path_buf());

    notifier.status("connecting to the bus");
    let (control_tx, mut control_rx) = mpsc::channel(8);
    let shared = Shared::new(Identity::of(&config), control_tx);
    shared.set_database_path(&database_path);
    let cache_dir = state_dir.join("plugin-cache");
    // Snapshots of an earlier run are mapped by nobody any more.
    let _ = std::fs::remove_dir_all(&cache_dir);
    let plugins = PluginManager::new(db.clone(), plugin_settings(&config, &cache_dir));
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let devices = DeviceManager::new(db.clone(), events_tx);
    let outbox_wake = Arc::new(tokio::sync::Notify::new());
    let (groups, problem) = customer_groups_of(&config, None);
    if let Some(problem) = problem {
        tracing::error!("{problem}; selling on without customer groups");
    }
    let book = Book::new(
        db.clone(),
        plugins.clone(),
        till_of(&config, &shared, groups),
    );
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
    let restored_sales = book.restore().await.map_err(|e| {
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
                db.clone(),
                outbox_wake.clone(),
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
    for id in &restored_sales {
        let object = bus::sale::SaleObject::new(id, book.clone(), journal.clone());
        if let Err(e) = conn
            .object_server()
            .at(bus::sale::object_path(id).as_str(), object)
            .await
        {
            tracing::error!(sale = %id, "cannot restore the sale's object: {e}");
        }
    }
    log_restored(&book, &restored_sales).await;
    let state_changes = Arc::new(tokio::sync::Notify::new());
    let settled = Settled::default();
    let keeper = tokio::spawn(keep_state(
        conn.clone(),
        devices.registry(),
        settled.clone(),
        plugins.clone(),
        shared.clone(),
        state_changes.clone(),
    ));
    let publisher = tokio::spawn(publish_device_events(
        conn.clone(),
        events_rx,
        plugins.clone(),
        shared.clone(),
        settled.clone(),
        state_changes.clone(),
    ));
    let courier = tokio::spawn(crate::outbox::run_worker(
        db.clone(),
        plugins.clone(),
        config.retry_policy(),
        outbox_wake.clone(),
    ));
    // The plugins' objects are on the bus before READY: a technician (or a test) that sees
    // the daemon ready finds every loaded or failed plugin.
    let (plugins_shown, plugins_shown_rx) = tokio::sync::oneshot::channel();
    let follower = tokio::spawn({
        let state_changes = state_changes.clone();
        bus::plugin::follow(
            conn.clone(),
            plugins.clone(),
            move || state_changes.notify_one(),
            plugins_shown,
        )
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
        settled,
        fallback_devices,
        development_plugins,
        plugins,
        cache_dir,
        book,
        journal,
    };
    let config = daemon.config.clone();
    daemon.apply_devices(&config).await;
    daemon.refresh_state().await;
    let _ = plugins_shown_rx.await;
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

/// Says what came back from the database: the open sales a cashier continues, and apart
/// from them the sales completed in the last day, whose objects stay so that a frontend that
/// lost the answer to a checkout can retry it and get its receipt.
async fn log_restored(book: &Book, restored: &[String]) {
    let mut open = 0usize;
    let mut completed = 0usize;
    for id in restored {
        match book.get(id).await.map(|sale| sale.state) {
            Ok(crate::sale::model::SaleState::Open) => open += 1,
            Ok(_) => completed += 1,
            Err(_) => {}
        }
    }
    if open > 0 {
        tracing::info!("restored {open} open sale(s)");
    }
    if completed > 0 {
        tracing::info!(
            "kept {completed} sale(s) completed in the last 24 hours reachable, \
             so that a retried checkout gets its receipt"
        );
    }
}

/// Applies development mode's plugin directory: while the configuration keeps the built-in
/// plugin directories (the packaged daemon's, which a developer can't write), plugins are
/// installed into and loaded from `dir` in the state directory instead of
/// `/var/lib/posd/plugins`; the system's `/usr/lib/posd/plugins` is still searched. A
/// configuration that names its own directories is left as it is.
fn with_development_plugins(mut config: Config, dir: Option<&Path>) -> Config {
    let Some(dir) = dir else {
        return config;
    };
    let defaults = crate::config::PluginsConfig::default();
    if config.plugins.directories == defaults.directories
        && config.plugins.install_directory == defaults.install_directory
    {
        let packaged = defaults.install_directory;
        config.plugins.directories = defaults
            .directories
            .into_iter()
            .map(|d| if d == packaged { dir.to_path_buf() } else { d })
            .collect();
        config.plugins.install_directory = dir.to_path_buf();
    }
    config
}

/// The customers' groups `config` names, read anew; where they can't be read, `kept` (the
/// groups read before, or none) and why.
fn customer_groups_of(
    config: &Config,
    kept: Option<Arc<CustomerGroups>>,
) -> (Arc<CustomerGroups>, Option<String>) {
    let Some(path) = &config.customers.groups_file else {
        return (Arc::default(), None);
    };
    match CustomerGroups::load(path) {
        Ok(groups) => {
            tracing::info!(customers = groups.len(), file = %path.display(), "customer groups read");
            (Arc::new(groups), None)
        }
        Err(e) => (kept.unwrap_or_default(), Some(e.to_string())),
    }
}

/// The till settings of the sale book.
fn till_of(config: &Config, shared: &Shared, customer_groups: Arc<CustomerGroups>) -> Till {
    Till {
        currency: crate::sale::engine::Currency {
            minor: config.currency_minor_unit(),
            cash_increment: config.cash_increment(),
        },
        currency_code: config.store.currency.clone(),
        store: bus::store_view(shared),
        customer_groups,
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
        order: config.plugins.order.clone(),
        isolation: isolation_settings(config, cache_dir),
    }
}

/// `path` with a leading `$CREDENTIALS_DIRECTORY` replaced by systemd's credential
/// directory (left as it is when there is none: the grant then names no file).
fn credential_path(path: &str) -> std::path::PathBuf {
    match (
        path.strip_prefix("$CREDENTIALS_DIRECTORY"),
        std::env::var_os("CREDENTIALS_DIRECTORY"),
    ) {
        (Some(rest), Some(dir)) => std::path::Path::new(&dir).join(rest.trim_start_matches('/')),
        _ => std::path::PathBuf::from(path),
    }
}

/// Where and how plugins run, from `[plugins]`. Each isolated plugin's state directory is
/// beside the snapshots, under the daemon's state directory; the children are the daemon's
/// own executable (`/proc/self/exe`, which stays the running version across a package
/// upgrade).
fn isolation_settings(config: &Config, cache_dir: &std::path::Path) -> IsolationSettings {
    let mode = |m: IsolationMode| match m {
        IsolationMode::Process => Isolation::Process,
        IsolationMode::InProcess => Isolation::InProcess,
    };
    let p = &config.plugins;
    IsolationSettings {
        default: mode(p.isolation),
        program: std::path::PathBuf::from("/proc/self/exe"),
        state_dir: cache_dir.parent().unwrap_or(cache_dir).join("plugin-state"),
        crash_limit: p.crash_limit,
        crash_window: Duration::from_secs(p.crash_window_s),
        limits: Limits {
            memory_mb: p.memory_mb,
            cpu_seconds: p.cpu_seconds,
            open_files: p.open_files,
        },
        run: p
            .run
            .iter()
            .map(|(id, r)| {
                (
                    id.clone(),
                    RunSettings {
                        isolation: r.isolation.map(mode),
                        network: r.network.clone(),
                        read: r.read.iter().map(|p| credential_path(p)).collect(),
                        memory_mb: r.memory_mb,
                        cpu_seconds: r.cpu_seconds,
                        open_files: r.open_files,
                    },
                )
            })
            .collect(),
    }
}

/// The devices that have reported the outcome of their first attempt to connect since they
/// were started, by name. A device starts out `offline` ("not connected yet") until its
/// supervisor has tried; counting that as a failure made `State` go `degraded` for a moment
/// on every start and every restart of a device. A started device is a new [`Device`], so a
/// device restarted by a reload is unsettled again until it reports.
#[derive(Debug, Clone, Default)]
struct Settled(Arc<Mutex<HashMap<String, Weak<Device>>>>);

impl Settled {
    /// `device` has reported: from now on its state counts.
    fn record(&self, device: &Arc<Device>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(device.name.clone(), Arc::downgrade(device));
    }

    /// Whether `device` (this very start of it) has reported.
    fn contains(&self, device: &Arc<Device>) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&device.name)
            .and_then(Weak::upgrade)
            .is_some_and(|known| Arc::ptr_eq(&known, device))
    }
}

/// Running, or degraded while a device that has tried to connect is not online or a plugin is
/// failed. A device still on its first attempt has not failed.
fn desired_state(registry: &Registry, settled: &Settled, plugins: &PluginManager) -> ServiceState {
    let failing_device = registry
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .any(|d| d.status().state != DeviceState::Online && settled.contains(d));
    if failing_device || plugins.any_failed() {
        ServiceState::Degraded
    } else {
        ServiceState::Running
    }
}

/// Keeps `Manager1.State` in step with devices and plugins whenever either reports a change.
async fn keep_state(
    conn: zbus::Connection,
    registry: Registry,
    settled: Settled,
    plugins: Arc<PluginManager>,
    shared: Arc<Shared>,
    changes: Arc<tokio::sync::Notify>,
) {
    loop {
        changes.notified().await;
        let state = desired_state(&registry, &settled, &plugins);
        bus::announce_state(&conn, &shared, state).await;
    }
}

/// Publishes what device supervisors report. A task of its own, so a scan reaches the bus
/// without waiting for the main loop; a scan's kind is what the plugins say it is.
async fn publish_device_events(
    conn: zbus::Connection,
    mut events: mpsc::UnboundedReceiver<DeviceEvent>,
    plugins: Arc<PluginManager>,
    shared: Arc<Shared>,
    settled: Settled,
    state_changes: Arc<tokio::sync::Notify>,
) {
    while let Some(event) = events.recv().await {
        let result = match event {
            DeviceEvent::Scanned { device, scan } => {
                let classified = plugins
                    .classify(&scan.code, &bus::store_view(&shared))
                    .await;
                let kind = match &classified {
                    Ok(Some((_, answer))) => answer
                        .get("kind")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("unknown")
                        .to_string(),
                    Ok(None) => devices::classify(&scan).to_string(),
                    Err(e) => {
                        // A scan is never lost to a failing or refusing plugin.
                        tracing::warn!(device = %device.name, "classifying the scan: {e}");
                        devices::classify(&scan).to_string()
                    }
                };
                let refusal = match &classified {
                    Err(crate::plugins::CallError::Refused { error, message }) => {
                        Some(bus::device::ScanRefusal { error, message })
                    }
                    _ => None,
                };
                bus::device::publish_scan(&conn, &device, &scan, &kind, refusal).await
            }
            event @ DeviceEvent::StatusChanged { .. } => {
                if let DeviceEvent::StatusChanged { device, .. } = &event {
                    settled.record(device);
                }
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
    settled: Settled,
    fallback_devices: Vec<crate::config::DeviceConfig>,
    development_plugins: Option<PathBuf>,
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
        let state = desired_state(&self.devices.registry(), &self.settled, &self.plugins);
        self.set_state(state).await;
    }

    /// Starts, stops and restarts devices to match `config`, with their bus objects. A printer
    /// that is no longer configured fails its waiting jobs; one that is only restarted keeps
    /// them.
    async fn apply_devices(&mut self, config: &Config) -> Vec<String> {
        let mut config = config.clone();
        if !config.has_printer() {
            for fallback in &self.fallback_devices {
                if !config.devices.iter().any(|d| d.name == fallback.name) {
                    config.devices.push(fallback.clone());
                }
            }
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
            Ok(loaded) => {
                with_development_plugins(loaded.config, self.development_plugins.as_deref())
            }
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
        let (groups, problem) =
            customer_groups_of(&self.config, Some(self.book.till().customer_groups));
        match problem {
            Some(problem) => {
                tracing::error!("{problem}; the groups read before stay");
                changes.push(format!("{problem}; the groups read before stay"));
            }
            None if self.config.customers.groups_file.is_some() => {
                changes.push(format!("customer groups read: {} customers", groups.len()));
            }
            None => {}
        }
        self.book
            .set_till(till_of(&self.config, &self.shared, groups));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_mode_keeps_plugins_in_the_state_directory_unless_configured() {
        let dir = Path::new("/home/dev/.local/state/posd/plugins");
        let config = with_development_plugins(Config::default(), Some(dir));
        assert_eq!(config.plugins.install_directory, dir);
        assert_eq!(
            config.plugins.directories,
            vec![PathBuf::from("/usr/lib/posd/plugins"), dir.to_path_buf()],
            "the packaged plugins are still found"
        );

        let mut own = Config::default();
        own.plugins.directories = vec![PathBuf::from("/opt/plugins")];
        own.plugins.install_directory = PathBuf::from("/opt/plugins");
        assert_eq!(
            with_development_plugins(own.clone(), Some(dir)),
            own,
            "a configuration that names its directories wins"
        );
        assert_eq!(
            with_development_plugins(Config::default(), None),
            Config::default(),
            "production is untouched"
        );
    }

    #[test]
    fn a_second_lock_on_the_state_directory_names_the_holder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("state");
        let held = lock_state(&state).expect("first lock");
        match lock_state(&state) {
            Err(DaemonError::StateInUse { dir, pid }) => {
                assert_eq!(dir, state);
                assert_eq!(pid, Some(std::process::id()));
            }
            other => panic!("expected StateInUse, got {other:?}"),
        }
        drop(held);
        lock_state(&state).expect("free again once released");
    }
}
