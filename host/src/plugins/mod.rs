//! The plugin manager: finds plugin libraries, checks and loads them, runs one instance of
//! each on a thread of its own, and calls their hooks with deadlines.
//!
//! The daemon knows nothing of vouchers or PAYBACK: it knows "a plugin that claims a code",
//! "a plugin that returns postings". The ABI is in `plugins/abi/include/posd_plugin.h`;
//! [`library`] loads it, [`instance`] calls it, [`services`] answers it.
//!
//! Loading is deliberately conservative: a file someone other than root or posd could have
//! written is refused; the library is loaded from a private snapshot, first in a walled-in
//! child process ([`process`], [`sandbox`]); a failing plugin is marked failed with its
//! reason and everything else goes on. A plugin runs in a child process of its own unless
//! `isolation = "in-process"` says otherwise ([`child`] is that process's side). A library
//! mapped into the daemon is never unloaded.

pub mod admin;
pub mod child;
pub mod instance;
pub mod library;
pub mod process;
pub mod sandbox;
pub mod services;
pub mod wire;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use posd_plugin_abi as abi;
use serde_json::{Value, json};

use crate::store::{Database, StoreError};
use instance::Instance;
pub use instance::Isolation;
use library::Loaded;
use services::HostContext;

/// The hooks of ABI 1.4, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Hook {
    ClassifyCode = 0,
    EnterCode,
    ListActions,
    InvokeAction,
    EvaluateBasket,
    ListRewards,
    ApplyReward,
    ValidateTender,
    PrepareCheckout,
    CommitCheckout,
    AbortCheckout,
    VoidReceipt,
    ReturnLines,
    DeliverMessage,
    CustomerAccounts,
    /// ABI 1.1: the admin actions a plugin offers outside a sale.
    ListAdminActions,
    /// ABI 1.1: run one admin action.
    InvokeAdminAction,
    /// ABI 1.4: a plugin's tender is gone before any checkout took it (removed, or left on
    /// a cancelled sale); notified, never awaited.
    ReleaseTender,
}

impl Hook {
    /// Every hook, in table order.
    pub const ALL: [Hook; abi::HOOK_NAMES.len()] = [
        Hook::ClassifyCode,
        Hook::EnterCode,
        Hook::ListActions,
        Hook::InvokeAction,
        Hook::EvaluateBasket,
        Hook::ListRewards,
        Hook::ApplyReward,
        Hook::ValidateTender,
        Hook::PrepareCheckout,
        Hook::CommitCheckout,
        Hook::AbortCheckout,
        Hook::VoidReceipt,
        Hook::ReturnLines,
        Hook::DeliverMessage,
        Hook::CustomerAccounts,
        Hook::ListAdminActions,
        Hook::InvokeAdminAction,
        Hook::ReleaseTender,
    ];

    /// The name the ABI documents.
    pub fn name(self) -> &'static str {
        abi::HOOK_NAMES[self as usize]
    }

    /// The hook at `index` of the table.
    pub fn from_index(index: u8) -> Option<Hook> {
        Hook::ALL.get(usize::from(index)).copied()
    }
}

// `Hook::ALL` has one entry per ABI hook (its length is `HOOK_NAMES`'), each at its own
// index: `from_index` and `name` read the table a plugin child reports in the same order.
const _: () = {
    let mut i = 0;
    while i < Hook::ALL.len() {
        assert!(Hook::ALL[i] as usize == i, "Hook::ALL is in table order");
        i += 1;
    }
};

/// Why a plugin could not be loaded or managed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file is not a usable plugin.
    #[error("{path}: {reason}")]
    Load {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file is a shared library but not a usable posd plugin (no entry point, another
    /// ABI, a broken descriptor). The same bytes always give the same answer, and each try
    /// maps another copy that is never unloaded, so such a file is tried again only when it
    /// changes.
    #[error("{path}: {reason}")]
    NotAPlugin {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file could have been changed by someone other than root or posd.
    #[error(
        "{path}: refused because {reason} (a plugin runs with posd's rights: it must be owned by root or posd and writable by nobody else)"
    )]
    Insecure {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The plugin's create failed.
    #[error("plugin {id} did not start: {reason}")]
    Create {
        /// The plugin.
        id: String,
        /// Why.
        reason: String,
    },
    /// No plugin with that id.
    #[error("no plugin {0:?}")]
    NotFound(String),
    /// The operation is not allowed on that plugin.
    #[error("{0}")]
    NotAllowed(String),
    /// A bad argument.
    #[error("{0}")]
    InvalidArgument(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a hook call did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin failed: crashed the call, answered garbage, missed its deadline. Becomes
    /// `org.posd.Error.PluginFailed`.
    #[error("{0}")]
    Failed(String),
    /// The plugin refused with one of the contract's errors (`NotFound`, `VoucherEmpty`, …).
    #[error("{error}: {message}")]
    Refused {
        /// Contract error name without prefix.
        error: String,
        /// English message.
        message: String,
    },
    /// The plugin does not implement the hook.
    #[error("the plugin does not implement this hook")]
    NotImplemented,
}

impl CallError {
    /// Names the plugin in a failure message that does not yet.
    pub fn named(self, plugin: &str) -> Self {
        match self {
            CallError::Failed(m) if !m.contains(plugin) => {
                CallError::Failed(format!("plugin {plugin}: {m}"))
            }
            other => other,
        }
    }
}

/// loaded, disabled or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginState {
    /// Running: its hooks are called.
    Loaded,
    /// Switched off by an admin; not called.
    Disabled,
    /// Refused or broken; not called. `Error` says why.
    Failed,
}

impl PluginState {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginState::Loaded => "loaded",
            PluginState::Disabled => "disabled",
            PluginState::Failed => "failed",
        }
    }
}

/// What `org.posd.Plugin1` shows of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// Plugin id (or the file's stem when the file could not be read).
    pub id: String,
    /// Name for people.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// ABI it was built against, "1.0".
    pub abi_version: String,
    /// loaded, disabled, failed.
    pub state: PluginState,
    /// Why it is failed, or what went wrong last; "" if nothing.
    pub error: String,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// Where it runs: "process" or "in-process"; "" while it does not run.
    pub isolation: String,
    /// Its child process's pid; 0 while none runs (and always in-process).
    pub pid: u32,
    /// How often its child crashed, was killed or failed to restart since it was loaded.
    pub restarts: u32,
    /// How its child ended the last time it crashed; "" if it never did.
    pub last_crash: String,
}

/// How plugins run: each in a child process of its own behind the walls of [`sandbox`]
/// (the default), or in the daemon (`isolation = "in-process"`, for trusted plugins and
/// for measuring), and when a crashing one counts as failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsolationSettings {
    /// Where a plugin runs that `run` says nothing about.
    pub default: Isolation,
    /// The executable of the children (the daemon's own, run as `posd plugin-host`).
    pub program: PathBuf,
    /// Each isolated plugin may write `<state_dir>/<id>/` and nothing else.
    pub state_dir: PathBuf,
    /// Crashes within `crash_window` after which a plugin is failed.
    pub crash_limit: u32,
    /// See `crash_limit`.
    pub crash_window: Duration,
    /// Limits of every child unless `run` says otherwise.
    pub limits: Limits,
    /// Per plugin id: `[plugins.run.<id>]`.
    pub run: BTreeMap<String, RunSettings>,
}

/// Resource limits of a plugin's child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Address space, MiB.
    pub memory_mb: u64,
    /// CPU time over the child's life, seconds.
    pub cpu_seconds: u64,
    /// Open file descriptors.
    pub open_files: u64,
}

/// `[plugins.run.<id>]`: how one plugin runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSettings {
    /// Overrides [`IsolationSettings::default`].
    pub isolation: Option<Isolation>,
    /// TCP endpoints (`host:port`) the plugin may connect to; none by default.
    pub network: Vec<String>,
    /// Files or directories it may read: its own secrets (a voucher key file).
    pub read: Vec<PathBuf>,
    /// Overrides of the limits.
    pub memory_mb: Option<u64>,
    /// See `memory_mb`.
    pub cpu_seconds: Option<u64>,
    /// See `memory_mb`.
    pub open_files: Option<u64>,
}

impl IsolationSettings {
    /// Every plugin in the daemon's process: what unit tests of the library use, where the
    /// running executable is a test harness and not posd.
    pub fn in_process() -> Self {
        IsolationSettings {
            default: Isolation::InProcess,
            program: PathBuf::from("/proc/self/exe"),
            state_dir: std::env::temp_dir().join("posd-plugin-state"),
            crash_limit: 5,
            crash_window: Duration::from_secs(600),
            limits: Limits {
                memory_mb: 1024,
                cpu_seconds: 3600,
                open_files: 256,
            },
            run: BTreeMap::new(),
        }
    }

    /// Where plugin `id` runs.
    pub fn mode(&self, id: &str) -> Isolation {
        self.run
            .get(id)
            .and_then(|r| r.isolation)
            .unwrap_or(self.default)
    }

    /// Whether any plugin may run in a child, so that libraries are first loaded in one.
    fn any_isolated(&self) -> bool {
        self.default == Isolation::Process
            || self
                .run
                .values()
                .any(|r| r.isolation == Some(Isolation::Process))
    }

    /// How plugin `id`'s child is started and walled in.
    pub fn isolated(&self, id: &str) -> process::Isolated {
        let run = self.run.get(id).cloned().unwrap_or_default();
        process::Isolated {
            program: self.program.clone(),
            sandbox: sandbox::SandboxSpec {
                state_dir: Some(self.state_dir.join(id)),
                network: run.network,
                read: run.read,
                memory_mb: run.memory_mb.unwrap_or(self.limits.memory_mb),
                cpu_seconds: run.cpu_seconds.unwrap_or(self.limits.cpu_seconds),
                open_files: run.open_files.unwrap_or(self.limits.open_files),
            },
            crash_limit: self.crash_limit.max(1),
            crash_window: self.crash_window,
        }
    }

    /// The walls of the child that first loads a library, before its id is known: no
    /// state directory, no network, the default limits.
    fn probe(&self) -> sandbox::SandboxSpec {
        sandbox::SandboxSpec {
            state_dir: None,
            network: Vec::new(),
            read: Vec::new(),
            memory_mb: self.limits.memory_mb,
            cpu_seconds: self.limits.cpu_seconds.min(60),
            open_files: self.limits.open_files,
        }
    }
}

/// Where plugins come from and how they are called.
#[derive(Debug, Clone)]
pub struct PluginSettings {
    /// Searched in order; a later directory's file of the same name wins.
    pub directories: Vec<PathBuf>,
    /// Where `InstallPlugin` puts files; one of `directories`.
    pub install_directory: PathBuf,
    /// How long one hook call may take.
    pub deadline: Duration,
    /// Each plugin's configuration section by id.
    pub sections: BTreeMap<String, toml::Table>,
    /// Private directory for loaded snapshots.
    pub cache_dir: PathBuf,
    /// Plugin ids in the order they are asked; the others follow by id (`[plugins] order`).
    pub order: Vec<String>,
    /// In a child process or in the daemon.
    pub isolation: IsolationSettings,
}

impl PluginSettings {
    /// Where plugin `id` comes in the order hooks are asked: its place in `order`, else
    /// after all listed ones, by id.
    fn rank<'a>(&self, id: &'a str) -> (usize, &'a str) {
        let listed = self.order.iter().position(|o| o == id);
        (listed.unwrap_or(self.order.len()), id)
    }
}

/// A plugin that is failed after a reload, and why: what a reload reports to the
/// technician who asked for it, so that a typo in a plugin's section is not answered with
/// "configuration reloaded".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedPlugin {
    /// The plugin's id.
    pub id: String,
    /// Why, as `Plugin1.Error` says it (a failed create names the key the plugin refused).
    pub reason: String,
}

impl std::fmt::Display for FailedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // "plugin X did not start: …" would name the plugin twice.
        let own = format!("plugin {} ", self.id);
        let reason = self.reason.strip_prefix(&own).unwrap_or(&self.reason);
        write!(f, "{}: {reason}", self.id)
    }
}

/// What taking new settings did to the plugins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsApplied {
    /// Plugins restarted, loaded, retired or back from failed, by id.
    pub changed: Vec<String>,
    /// Every plugin that is failed now (each was tried again), ordered by id.
    pub failed: Vec<FailedPlugin>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        size: m.size(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
        inode: m.ino(),
    })
}

struct Entry {
    info: PluginInfo,
    stamp: Option<Stamp>,
    loaded: Option<Loaded>,
    /// The private copy it was loaded from, which its children map again on restart.
    snapshot: Option<PathBuf>,
    instance: Option<Arc<Instance>>,
    /// Whether a reload tries a failed entry again although its file did not change: its
    /// configuration, a library it needs or its file's owner and mode may have been fixed.
    /// False for a library that is no posd plugin ([`PluginError::NotAPlugin`]).
    retry: bool,
}

impl Entry {
    fn is_failed(&self) -> bool {
        self.live_info().state == PluginState::Failed
    }

    /// Whether it has an instance that still gets calls.
    fn is_running(&self) -> bool {
        self.instance
            .as_ref()
            .is_some_and(|i| i.failure().is_none())
    }

    fn live_info(&self) -> PluginInfo {
        let mut info = self.info.clone();
        if let Some(instance) = &self.instance {
            info.isolation = instance.isolation().as_str().to_string();
            (info.pid, info.restarts, info.last_crash) = instance.process();
        }
        if let Some(reason) = self.instance.as_ref().and_then(|i| i.failure()) {
            info.state = PluginState::Failed;
            info.error = reason;
        }
        info
    }
}

impl std::fmt::Debug for PluginManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginManager")
            .field("plugins", &self.list())
            .finish()
    }
}

/// The plugins of a daemon.
pub struct PluginManager {
    db: Database,
    settings: RwLock<PluginSettings>,
    entries: tokio::sync::Mutex<BTreeMap<PathBuf, Entry>>,
    /// Running instances in the order hooks are asked ([`PluginSettings::order`], then id).
    running: RwLock<Vec<Arc<Instance>>>,
    /// What the bus shows; refreshed after every change.
    published: RwLock<Vec<PluginInfo>>,
    changed: tokio::sync::watch::Sender<u64>,
    serial: Mutex<u64>,
    /// Told by isolated instances when their child crashed or came back.
    instance_changed: Arc<tokio::sync::Notify>,
}

impl PluginManager {
    /// A manager with no plugins loaded yet. Inside a tokio runtime it follows its
    /// isolated instances' crashes and restarts for the bus by itself.
    pub fn new(db: Database, settings: PluginSettings) -> Arc<Self> {
        let (changed, _) = tokio::sync::watch::channel(0);
        let manager = Arc::new(Self {
            db,
            settings: RwLock::new(settings),
            entries: tokio::sync::Mutex::new(BTreeMap::new()),
            running: RwLock::new(Vec::new()),
            published: RwLock::new(Vec::new()),
            changed,
            serial: Mutex::new(0),
            instance_changed: Arc::new(tokio::sync::Notify::new()),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&manager);
            let notified = manager.instance_changed.clone();
            runtime.spawn(async move {
                loop {
                    notified.notified().await;
                    let Some(manager) = weak.upgrade() else {
                        return;
                    };
                    manager.refresh().await;
                }
            });
        }
        manager
    }

    /// Changes to the plugin list or states, for the bus layer to follow.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Every plugin as the bus shows it, in the order hooks are asked.
    pub fn list(&self) -> Vec<PluginInfo> {
        self.published
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether any plugin is failed (the daemon is then `degraded`).
    pub fn any_failed(&self) -> bool {
        self.list().iter().any(|p| p.state == PluginState::Failed)
    }

    /// Takes new settings (configuration reload): restarts every running plugin whose
    /// configuration section changed, tries every failed plugin again with the new
    /// settings, then loads and retires plugins as the directories now say. Says what
    /// changed and which plugins are failed now, with their reasons: a reload that leaves a
    /// plugin failed is not a success for the technician who asked for it.
    pub async fn apply_settings(&self, settings: PluginSettings) -> SettingsApplied {
        let old = std::mem::replace(
            &mut *self.settings.write().unwrap_or_else(|e| e.into_inner()),
            settings.clone(),
        );
        let mut changed = Vec::new();
        let mut entries = self.entries.lock().await;
        // Tried in this pass already: the directory scan below must not try them twice.
        let mut restarted = Vec::new();
        for (path, entry) in entries.iter_mut() {
            let id = entry.info.id.clone();
            let section_changed = old.sections.get(&id) != settings.sections.get(&id)
                || old.deadline != settings.deadline
                || old.isolation.mode(&id) != settings.isolation.mode(&id)
                || old.isolation.isolated(&id) != settings.isolation.isolated(&id);
            if !section_changed || !entry.is_running() {
                continue;
            }
            if let Some(instance) = entry.instance.take() {
                instance.retire();
            }
            self.start_instance(entry, &settings).await;
            restarted.push(path.clone());
            if entry.info.state == PluginState::Loaded {
                tracing::info!(plugin = %id, "plugin restarted with its new configuration");
                changed.push(id);
            } else {
                tracing::error!(
                    plugin = %id,
                    "plugin failed with its new configuration: {}",
                    entry.info.error
                );
            }
        }
        changed.extend(self.rescan(&mut entries, &settings, &restarted).await);
        self.publish(&entries);
        let mut failed: Vec<FailedPlugin> = entries
            .values()
            .filter(|e| e.is_failed())
            .map(|e| {
                let info = e.live_info();
                FailedPlugin {
                    id: info.id,
                    reason: info.error,
                }
            })
            .collect();
        failed.sort_by(|a, b| a.id.cmp(&b.id));
        SettingsApplied { changed, failed }
    }

    fn settings(&self) -> PluginSettings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Loads new and changed plugin files, retires removed ones and tries failed ones
    /// again; unchanged plugins are left running. Returns the ids that changed.
    pub async fn reload(&self) -> Vec<String> {
        let settings = self.settings();
        let mut entries = self.entries.lock().await;
        let changed = self.rescan(&mut entries, &settings, &[]).await;
        self.publish(&entries);
        changed
    }

    /// [`PluginManager::reload`] on entries already locked; `skip` were tried in this pass.
    async fn rescan(
        &self,
        entries: &mut BTreeMap<PathBuf, Entry>,
        settings: &PluginSettings,
        skip: &[PathBuf],
    ) -> Vec<String> {
        let files = discover(&settings.directories);
        let mut changed = Vec::new();
        // Removed files.
        let gone: Vec<PathBuf> = entries
            .keys()
            .filter(|p| !files.contains(p))
            .cloned()
            .collect();
        for path in gone {
            if let Some(entry) = entries.remove(&path) {
                if let Some(instance) = entry.instance {
                    instance.retire();
                }
                tracing::info!(plugin = %entry.info.id, "plugin removed");
                changed.push(entry.info.id);
            }
        }
        // New and changed files, and failed plugins.
        for path in files {
            if skip.contains(&path) {
                continue;
            }
            let now = stamp(&path);
            if let Some(existing) = entries.get(&path)
                && existing.stamp == now
            {
                if existing.is_failed()
                    && existing.retry
                    && let Some(id) = self.retry(&path, entries, settings).await
                {
                    changed.push(id);
                }
                continue;
            }
            let fresh = self.load_entry(&path, settings, entries).await;
            match (entries.get(&path), fresh) {
                (Some(old), fresh)
                    if old.is_running()
                        && fresh.instance.is_none()
                        && fresh.info.state == PluginState::Failed =>
                {
                    // A broken update never takes down a working plugin.
                    let mut old_info = old.info.clone();
                    old_info.error = format!(
                        "reload failed, the previous version keeps running: {}",
                        fresh.info.error
                    );
                    tracing::error!(plugin = %old_info.id, "{}", old_info.error);
                    changed.push(old_info.id.clone());
                    if let Some(old) = entries.get_mut(&path) {
                        old.info = old_info;
                        old.stamp = now;
                    }
                }
                (old, fresh) => {
                    if let Some(instance) = old.and_then(|o| o.instance.clone()) {
                        instance.retire();
                    }
                    tracing::info!(plugin = %fresh.info.id, state = fresh.info.state.as_str(), path = %path.display(), "{}", if fresh.info.error.is_empty() { "plugin loaded".to_string() } else { fresh.info.error.clone() });
                    changed.push(fresh.info.id.clone());
                    entries.insert(path, fresh);
                }
            }
        }
        changed
    }

    /// Tries a failed plugin whose file did not change again: creates a new instance of a
    /// library that loaded (its create failed, or it failed at run time), loads a file that
    /// did not load afresh. Returns its id if it is no longer failed.
    async fn retry(
        &self,
        path: &Path,
        entries: &mut BTreeMap<PathBuf, Entry>,
        settings: &PluginSettings,
    ) -> Option<String> {
        let entry = entries.get(path)?;
        let id = entry.info.id.clone();
        if let Some(loaded_id) = entry.loaded.as_ref().map(|l| l.id.clone()) {
            if entries
                .iter()
                .any(|(p, e)| p.as_path() != path && e.info.id == loaded_id)
            {
                return None; // Still provided by another file: the reason stands.
            }
            let enabled = self.enabled(&loaded_id).await;
            let entry = entries.get_mut(path)?;
            if let Some(instance) = entry.instance.take() {
                instance.retire();
            }
            if enabled {
                self.start_instance(entry, settings).await;
            } else {
                entry.info.state = PluginState::Disabled;
                entry.info.error.clear();
            }
        } else {
            let fresh = self.load_entry(path, settings, entries).await;
            entries.insert(path.to_path_buf(), fresh);
        }
        let entry = entries.get(path)?;
        if entry.is_failed() {
            tracing::warn!(plugin = %entry.info.id, "plugin tried again, still failed: {}", entry.info.error);
            None
        } else {
            tracing::info!(plugin = %entry.info.id, state = entry.info.state.as_str(), "plugin tried again after it had failed: {}", if entry.info.state == PluginState::Loaded { "loaded" } else { "disabled" });
            Some(id)
        }
    }

    async fn load_entry(
        &self,
        path: &Path,
        settings: &PluginSettings,
        others: &BTreeMap<PathBuf, Entry>,
    ) -> Entry {
        let serial = {
            let mut s = self.serial.lock().unwrap_or_else(|e| e.into_inner());
            *s += 1;
            *s
        };
        let path_owned = path.to_path_buf();
        let cache = settings.cache_dir.clone();
        let isolation = settings.isolation.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            library::check_file_is_safe(&path_owned)?;
            let copy = library::snapshot(&path_owned, &cache, serial)?;
            // Where a plugin may run in a child, the library is first loaded in one: the
            // daemon maps only libraries that loaded there, for plugins that run in it.
            let loaded = if isolation.any_isolated() {
                process::describe(
                    &isolation.program,
                    &copy,
                    &path_owned,
                    abi::POSD_ABI_MINOR,
                    &isolation.probe(),
                )
                .and_then(|(loaded, sandbox)| {
                    if isolation.mode(&loaded.id) == Isolation::InProcess {
                        library::load(&copy, &path_owned, abi::POSD_ABI_MINOR)
                    } else {
                        tracing::debug!(plugin = %loaded.id, "loaded in a child: {sandbox}");
                        Ok(loaded)
                    }
                })
            } else {
                library::load(&copy, &path_owned, abi::POSD_ABI_MINOR)
            };
            if loaded.is_err() {
                // A failed plugin is tried again on every reload: leave no copy per try. A
                // library mapped before it was refused stays mapped without its file.
                let _ = std::fs::remove_file(&copy);
            }
            loaded.map(|l| (l, copy))
        })
        .await
        .unwrap_or_else(|e| {
            Err(PluginError::Load {
                path: path.to_path_buf(),
                reason: format!("the loader panicked: {e}"),
            })
        });
        let stem_id = path
            .file_stem()
            .map(|s| {
                s.to_string_lossy()
                    .trim_start_matches("lib")
                    .replace('_', "-")
                    .to_lowercase()
            })
            .unwrap_or_default();
        let mut info = PluginInfo {
            id: stem_id,
            name: String::new(),
            version: String::new(),
            abi_version: String::new(),
            state: PluginState::Failed,
            error: String::new(),
            path: path.to_path_buf(),
            isolation: String::new(),
            pid: 0,
            restarts: 0,
            last_crash: String::new(),
        };
        let (loaded, snapshot) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                info.error = e.to_string();
                return Entry {
                    info,
                    stamp: stamp(path),
                    loaded: None,
                    snapshot: None,
                    instance: None,
                    retry: !matches!(e, PluginError::NotAPlugin { .. }),
                };
            }
        };
        info.id = loaded.id.clone();
        info.name = loaded.name.clone();
        info.version = loaded.version.clone();
        info.abi_version = format!("{}.{}", loaded.abi.0, loaded.abi.1);
        if let Some((other, _)) = others
            .iter()
            .find(|(p, e)| p.as_path() != path && e.info.id == loaded.id)
        {
            info.error = format!(
                "plugin id {} is already provided by {}",
                loaded.id,
                other.display()
            );
            return Entry {
                info,
                stamp: stamp(path),
                loaded: Some(loaded),
                snapshot: Some(snapshot),
                instance: None,
                retry: true,
            };
        }
        let enabled = self.enabled(&loaded.id).await;
        let mut entry = Entry {
            info,
            stamp: stamp(path),
            loaded: Some(loaded),
            snapshot: Some(snapshot),
            instance: None,
            retry: true,
        };
        if enabled {
            self.start_instance(&mut entry, settings).await;
        } else {
            entry.info.state = PluginState::Disabled;
        }
        entry
    }

    async fn start_instance(&self, entry: &mut Entry, settings: &PluginSettings) {
        let Some(loaded) = entry.loaded.clone() else {
            return;
        };
        let config = settings
            .sections
            .get(&loaded.id)
            .map(|t| serde_json::to_value(t).unwrap_or(json!({})))
            .unwrap_or_else(|| json!({}));
        let host = HostContext::new(&loaded.id, config.clone(), self.db.clone());
        let deadline = settings.deadline;
        let config_bytes = config.to_string().into_bytes();
        let mode = settings.isolation.mode(&loaded.id);
        let isolated = settings.isolation.isolated(&loaded.id);
        let snapshot = entry.snapshot.clone().unwrap_or_default();
        let shown_as = entry.info.path.clone();
        let changed = self.instance_changed.clone();
        let started = tokio::task::spawn_blocking(move || match mode {
            Isolation::Process => Instance::start_isolated(
                &loaded,
                &snapshot,
                &shown_as,
                config_bytes,
                host,
                deadline,
                isolated,
                changed,
            ),
            Isolation::InProcess => {
                // Loaded in a child only (the configuration said "process" then): map it now.
                let loaded = match loaded.native {
                    Some(_) => loaded,
                    None => library::load(&snapshot, &shown_as, abi::POSD_ABI_MINOR)?,
                };
                Instance::start(&loaded, config_bytes, host, deadline)
            }
        })
        .await
        .unwrap_or_else(|e| {
            Err(PluginError::Create {
                id: entry.info.id.clone(),
                reason: format!("{e}"),
            })
        });
        match started {
            Ok(instance) => {
                entry.instance = Some(instance);
                entry.info.state = PluginState::Loaded;
                entry.info.error.clear();
            }
            Err(e) => {
                entry.info.state = PluginState::Failed;
                entry.info.error = e.to_string();
            }
        }
    }

    async fn enabled(&self, id: &str) -> bool {
        let id = id.to_string();
        self.db
            .call(move |c| {
                rusqlite::OptionalExtension::optional(c.query_row(
                    "SELECT enabled FROM plugin_settings WHERE plugin = ?1",
                    [&id],
                    |r| r.get::<_, bool>(0),
                ))
            })
            .await
            .ok()
            .flatten()
            .unwrap_or(true)
    }

    fn publish(&self, entries: &BTreeMap<PathBuf, Entry>) {
        let settings = self.settings();
        let mut infos: Vec<PluginInfo> = entries.values().map(Entry::live_info).collect();
        infos.sort_by(|a, b| {
            settings
                .rank(&a.id)
                .cmp(&settings.rank(&b.id))
                .then(a.path.cmp(&b.path))
        });
        let mut running: Vec<Arc<Instance>> = entries
            .values()
            .filter(|e| e.live_info().state == PluginState::Loaded)
            .filter_map(|e| e.instance.clone())
            .collect();
        running.sort_by(|a, b| settings.rank(a.id()).cmp(&settings.rank(b.id())));
        *self.running.write().unwrap_or_else(|e| e.into_inner()) = running;
        let mut published = self.published.write().unwrap_or_else(|e| e.into_inner());
        if *published != infos {
            *published = infos;
            self.changed.send_modify(|n| *n += 1);
        }
    }

    /// Re-reads failure states after a call failed (an instance may just have been marked
    /// failed) and tells the bus if anything changed.
    async fn refresh(&self) {
        let entries = self.entries.lock().await;
        self.publish(&entries);
    }

    /// Switches a plugin on or off; remembered across restarts.
    pub async fn set_enabled(&self, id: &str, enabled: bool) -> Result<(), PluginError> {
        let settings = self.settings();
        let mut entries = self.entries.lock().await;
        let path = entries
            .iter()
            .find(|(_, e)| e.info.id == id)
            .map(|(p, _)| p.clone())
            .ok_or_else(|| PluginError::NotFound(id.to_string()))?;
        let key = id.to_string();
        self.db
            .call(move |c| {
                c.execute(
                    "INSERT INTO plugin_settings (plugin, enabled) VALUES (?1, ?2)
                     ON CONFLICT (plugin) DO UPDATE SET enabled = excluded.enabled",
                    rusqlite::params![key, enabled],
                )
            })
            .await?;
        if let Some(entry) = entries.get_mut(&path) {
            if enabled {
                if entry.instance.is_none() && entry.loaded.is_some() {
                    self.start_instance(entry, &settings).await;
                }
            } else {
                if let Some(instance) = entry.instance.take() {
                    instance.retire();
                }
                if entry.loaded.is_some() {
                    entry.info.state = PluginState::Disabled;
                    entry.info.error.clear();
                }
            }
            tracing::info!(plugin = %id, enabled, "plugin {}", if enabled { "enabled" } else { "disabled" });
        }
        self.publish(&entries);
        Ok(())
    }

    /// Copies the library at `source` into the install directory and loads it; returns its
    /// id. A file that does not load is not kept.
    pub async fn install(&self, source: &Path) -> Result<String, PluginError> {
        if !source.is_absolute() {
            return Err(PluginError::InvalidArgument(format!(
                "{}: give an absolute path",
                source.display()
            )));
        }
        let settings = self.settings();
        let name = source
            .file_name()
            .filter(|n| n.to_string_lossy().ends_with(".so"))
            .ok_or_else(|| {
                PluginError::InvalidArgument(format!(
                    "{}: a plugin file ends in .so",
                    source.display()
                ))
            })?
            .to_owned();
        let target = settings.install_directory.join(&name);
        let source_owned = source.to_path_buf();
        let target_owned = target.clone();
        tokio::task::spawn_blocking(move || copy_into_place(&source_owned, &target_owned))
            .await
            .map_err(|e| PluginError::Load {
                path: target.clone(),
                reason: e.to_string(),
            })??;
        self.reload().await;
        let info = self
            .list()
            .into_iter()
            .find(|p| p.path == target)
            .ok_or_else(|| PluginError::Load {
                path: target.clone(),
                reason: "it was not picked up; is the install directory among plugins.directories?"
                    .into(),
            })?;
        if info.state == PluginState::Failed {
            let _ = std::fs::remove_file(&target);
            self.reload().await;
            return Err(PluginError::InvalidArgument(format!(
                "not installed: {}",
                info.error
            )));
        }
        tracing::info!(plugin = %info.id, path = %target.display(), "plugin installed");
        Ok(info.id)
    }

    /// Deletes an installed plugin's file and stops it. Plugins shipped in other
    /// directories (the system package's) can only be disabled.
    pub async fn remove(&self, id: &str) -> Result<(), PluginError> {
        let settings = self.settings();
        let info = self
            .list()
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| PluginError::NotFound(id.to_string()))?;
        if info.path.parent() != Some(settings.install_directory.as_path()) {
            return Err(PluginError::NotAllowed(format!(
                "plugin {id} comes from {}, not from the install directory {}: disable it instead",
                info.path.display(),
                settings.install_directory.display()
            )));
        }
        std::fs::remove_file(&info.path).map_err(|e| PluginError::Load {
            path: info.path.clone(),
            reason: format!("cannot delete: {e}"),
        })?;
        self.reload().await;
        tracing::info!(plugin = %id, "plugin removed");
        Ok(())
    }

    fn running(&self) -> Vec<Arc<Instance>> {
        self.running
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Calls `hook` of plugin `id`.
    pub async fn call(&self, id: &str, hook: Hook, request: &Value) -> Result<Value, CallError> {
        let pending = self.enqueue(id, hook, request);
        self.answer(pending).await
    }

    /// Calls `hook` of plugin `id` and reads the answer as the schema type it must have.
    pub async fn call_as<T: serde::de::DeserializeOwned>(
        &self,
        id: &str,
        hook: Hook,
        request: &Value,
    ) -> Result<T, CallError> {
        self.call_typed(id, hook, request).await
    }

    /// Calls `hook` of plugin `id` with any request that serializes to the hook's JSON and
    /// reads the answer as `T`, both straight from and to the bytes the plugin sees: the
    /// basket's hot path builds no `serde_json::Value` either way.
    pub async fn call_typed<Q, T>(&self, id: &str, hook: Hook, request: &Q) -> Result<T, CallError>
    where
        Q: serde::Serialize + ?Sized,
        T: serde::de::DeserializeOwned,
    {
        self.answer_as(self.enqueue_typed(id, hook, request)).await
    }

    /// Puts a call in plugin `id`'s queue now; [`PluginManager::answer`] waits for it. Calls
    /// to different plugins enqueued together run at the same time.
    pub fn enqueue(
        &self,
        id: &str,
        hook: Hook,
        request: &Value,
    ) -> Result<instance::PendingCall, CallError> {
        self.enqueue_typed(id, hook, request)
    }

    /// [`PluginManager::enqueue`] of a typed request.
    pub fn enqueue_typed<Q: serde::Serialize + ?Sized>(
        &self,
        id: &str,
        hook: Hook,
        request: &Q,
    ) -> Result<instance::PendingCall, CallError> {
        let instance = self
            .running()
            .into_iter()
            .find(|i| i.id() == id)
            .ok_or_else(|| CallError::Failed(format!("plugin {id} is not running")))?;
        instance.enqueue_typed(hook, request)
    }

    /// [`PluginManager::answer`] read straight from the plugin's bytes as `T`.
    pub async fn answer_as<T: serde::de::DeserializeOwned>(
        &self,
        pending: Result<instance::PendingCall, CallError>,
    ) -> Result<T, CallError> {
        let result = match pending {
            Ok(pending) => pending.answer_as().await,
            Err(e) => Err(e),
        };
        if let Err(CallError::Failed(_)) = &result {
            self.refresh().await;
        }
        result
    }

    /// The answer of an enqueued call; a failure refreshes the plugin list, as `call` does.
    pub async fn answer(
        &self,
        pending: Result<instance::PendingCall, CallError>,
    ) -> Result<Value, CallError> {
        let result = match pending {
            Ok(pending) => pending.answer().await,
            Err(e) => Err(e),
        };
        if let Err(CallError::Failed(_)) = &result {
            self.refresh().await;
        }
        result
    }

    /// Tells plugin `id` something it only acknowledges (`commit_checkout`,
    /// `abort_checkout`): the call is queued before this returns, so it reaches the plugin
    /// before anything sent later, and its answer is awaited in the background, a failure
    /// logged. The caller does not wait for the plugin.
    pub fn notify(self: &Arc<Self>, id: &str, hook: Hook, request: &Value) {
        let pending = self.enqueue(id, hook, request);
        let manager = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            if let Err(e) = manager.answer(pending).await
                && e != CallError::NotImplemented
            {
                tracing::warn!(plugin = %id, "{}: {e}", hook.name());
            }
        });
    }

    /// The running plugins that implement `hook`, in the order they are asked.
    pub fn implementing(&self, hook: Hook) -> Vec<String> {
        self.running()
            .iter()
            .filter(|i| i.has(hook))
            .map(|i| i.id().to_string())
            .collect()
    }

    /// Asks the plugins in order what `code` is; the first that claims it answers.
    /// `Ok(None)`: nobody claims it. A plugin's failure is the caller's error: a balance
    /// inquiry must not silently skip the voucher plugin.
    pub async fn classify(
        &self,
        code: &str,
        store: &Value,
    ) -> Result<Option<(String, Value)>, CallError> {
        let request = json!({ "schema": 1, "code": code, "store": store });
        for id in self.implementing(Hook::ClassifyCode) {
            let answer = self.call(&id, Hook::ClassifyCode, &request).await?;
            if answer.get("claimed").and_then(Value::as_bool) == Some(true) {
                return Ok(Some((id, answer)));
            }
        }
        Ok(None)
    }

    /// Stops every instance (daemon shutdown).
    pub async fn shut_down(&self) {
        let entries = self.entries.lock().await;
        for entry in entries.values() {
            if let Some(instance) = &entry.instance {
                instance.retire();
            }
        }
    }
}

/// A hook's answer as the schema type it must have; an answer that does not fit is the
/// plugin's failure, named with the plugin and the hook.
pub fn decode<T: serde::de::DeserializeOwned>(
    plugin: &str,
    hook: Hook,
    answer: Value,
) -> Result<T, CallError> {
    serde_json::from_value(answer)
        .map_err(|e| CallError::Failed(format!("plugin {plugin}: {} answer: {e}", hook.name())))
}

/// Plugin files in `directories`: `*.so`, a later directory's file of the same name winning.
fn discover(directories: &[PathBuf]) -> Vec<PathBuf> {
    let mut by_name: BTreeMap<std::ffi::OsString, PathBuf> = BTreeMap::new();
    for dir in directories {
        let Ok(read) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in read.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "so") {
                by_name.insert(entry.file_name(), path);
            }
        }
    }
    by_name.into_values().collect()
}

/// Copies beside the target and renames, so the loader never sees a half-written file.
fn copy_into_place(source: &Path, target: &Path) -> Result<(), PluginError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |reason: String| PluginError::Load {
        path: source.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(source).map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    let dir = target
        .parent()
        .ok_or_else(|| fail("no install directory".into()))?;
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    let partial = dir.join(format!(
        ".{}.partial",
        target
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::copy(source, &partial).map_err(|e| fail(format!("cannot copy: {e}")))?;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| fail(e.to_string()))?;
    std::fs::rename(&partial, target).map_err(|e| fail(e.to_string()))
}
