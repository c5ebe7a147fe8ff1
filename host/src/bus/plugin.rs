//! Plugin objects under `/org/posd/Posd1/plugin/<id>` (`org.posd.Plugin1`), kept in step
//! with the plugin manager.

use std::collections::BTreeMap;
use std::sync::Arc;

use zbus::interface;

use super::BusError;
use crate::plugins::{CallError, PluginInfo, PluginManager, PluginState};

/// Object path of plugin `id` (`-` is not allowed in a path element): the contract's rule.
pub use posd_client::plugin_path as object_path;

/// `org.posd.Plugin1`.
#[derive(Debug)]
pub struct PluginObject {
    id: String,
    plugins: Arc<PluginManager>,
}

impl PluginObject {
    fn info(&self) -> PluginInfo {
        self.plugins
            .list()
            .into_iter()
            .find(|p| p.id == self.id)
            .unwrap_or_else(|| PluginInfo {
                id: self.id.clone(),
                name: String::new(),
                version: String::new(),
                abi_version: String::new(),
                state: PluginState::Failed,
                error: "removed".into(),
                path: Default::default(),
                isolation: String::new(),
                pid: 0,
                restarts: 0,
                last_crash: String::new(),
            })
    }
}

#[interface(name = "org.posd.Plugin1")]
impl PluginObject {
    /// Stable plugin id.
    #[zbus(property)]
    fn id(&self) -> String {
        self.id.clone()
    }

    /// Name for people.
    #[zbus(property)]
    fn name(&self) -> String {
        self.info().name
    }

    /// The plugin's own version.
    #[zbus(property)]
    fn version(&self) -> String {
        self.info().version
    }

    /// Plugin ABI it was built against, "1.0".
    #[zbus(property)]
    fn abi_version(&self) -> String {
        self.info().abi_version
    }

    /// loaded, disabled or failed.
    #[zbus(property)]
    fn state(&self) -> String {
        self.info().state.as_str().into()
    }

    /// Why it is failed (or what went wrong at the last reload); "" if nothing.
    #[zbus(property)]
    fn error(&self) -> String {
        self.info().error
    }

    /// The file it was loaded from.
    #[zbus(property)]
    fn path(&self) -> String {
        self.info().path.display().to_string()
    }

    /// Where it runs: "process" (a child process of its own), "in-process", or "" while it
    /// does not run.
    #[zbus(property)]
    fn isolation(&self) -> String {
        self.info().isolation
    }

    /// Its child process's pid; 0 while none runs (and always in-process).
    #[zbus(property)]
    fn pid(&self) -> u32 {
        self.info().pid
    }

    /// How often its process crashed, was killed past its deadline or failed to restart
    /// since it was loaded.
    #[zbus(property)]
    fn restarts(&self) -> u32 {
        self.info().restarts
    }

    /// How its process ended the last time it crashed; "" if it never did.
    #[zbus(property)]
    fn last_crash(&self) -> String {
        self.info().last_crash
    }
}

/// Keeps the bus's plugin objects in step with the manager: adds and removes objects and
/// emits `PropertiesChanged` for what changed. Runs until the manager is gone.
pub async fn follow(
    conn: zbus::Connection,
    plugins: Arc<PluginManager>,
    on_change: impl Fn() + Send + 'static,
    first_shown: tokio::sync::oneshot::Sender<()>,
) {
    let mut changes = plugins.subscribe();
    let mut shown: BTreeMap<String, PluginInfo> = BTreeMap::new();
    let mut first_shown = Some(first_shown);
    loop {
        let now: BTreeMap<String, PluginInfo> = plugins
            .list()
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        if let Err(e) = sync(&conn, &plugins, &shown, &now).await {
            tracing::warn!("cannot publish plugin changes: {e}");
        }
        shown = now;
        on_change();
        if let Some(first) = first_shown.take() {
            let _ = first.send(());
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}

async fn sync(
    conn: &zbus::Connection,
    plugins: &Arc<PluginManager>,
    shown: &BTreeMap<String, PluginInfo>,
    now: &BTreeMap<String, PluginInfo>,
) -> zbus::Result<()> {
    let server = conn.object_server();
    for id in shown.keys().filter(|id| !now.contains_key(*id)) {
        server
            .remove::<PluginObject, _>(object_path(id).as_str())
            .await?;
    }
    for (id, info) in now {
        let path = object_path(id);
        let Some(before) = shown.get(id) else {
            server
                .at(
                    path.as_str(),
                    PluginObject {
                        id: id.clone(),
                        plugins: plugins.clone(),
                    },
                )
                .await?;
            continue;
        };
        if before == info {
            continue;
        }
        let iface = server.interface::<_, PluginObject>(path.as_str()).await?;
        let emitter = iface.signal_emitter();
        let object = iface.get().await;
        if before.name != info.name {
            object.name_changed(emitter).await?;
        }
        if before.version != info.version {
            object.version_changed(emitter).await?;
        }
        if before.abi_version != info.abi_version {
            object.abi_version_changed(emitter).await?;
        }
        if before.state != info.state {
            object.state_changed(emitter).await?;
        }
        if before.error != info.error {
            object.error_changed(emitter).await?;
        }
        if before.path != info.path {
            object.path_changed(emitter).await?;
        }
        if before.isolation != info.isolation {
            object.isolation_changed(emitter).await?;
        }
        if before.pid != info.pid {
            object.pid_changed(emitter).await?;
        }
        if before.restarts != info.restarts {
            object.restarts_changed(emitter).await?;
        }
        if before.last_crash != info.last_crash {
            object.last_crash_changed(emitter).await?;
        }
    }
    Ok(())
}

impl From<CallError> for BusError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Failed(m) => BusError::PluginFailed(m),
            CallError::NotImplemented => {
                BusError::PluginFailed("the plugin does not implement this".into())
            }
            CallError::Refused { error, message } => match error.as_str() {
                "InvalidArgument" => BusError::InvalidArgument(message),
                "NotFound" => BusError::NotFound(message),
                "VoucherEmpty" => BusError::VoucherEmpty(message),
                "InvalidConfiguration" => BusError::InvalidConfiguration(message),
                "LimitReached" => BusError::LimitReached(message),
                "CustomerRequired" => BusError::CustomerRequired(message),
                "CustomerLocked" => BusError::CustomerLocked(message),
                "InsufficientBalance" => BusError::InsufficientBalance(message),
                "NotPaid" => BusError::NotPaid(message),
                "NotAllowed" => BusError::NotAllowed(message),
                "Conflict" => BusError::Conflict(message),
                "DeviceUnavailable" => BusError::DeviceUnavailable(message),
                "PluginFailed" => BusError::PluginFailed(message),
                other => BusError::PluginFailed(format!(
                    "the plugin answered with the unknown error {other:?}: {message}"
                )),
            },
        }
    }
}

impl From<crate::plugins::PluginError> for BusError {
    fn from(e: crate::plugins::PluginError) -> Self {
        use crate::plugins::PluginError as E;
        match e {
            E::NotFound(m) => BusError::NotFound(format!("no plugin {m:?}")),
            E::NotAllowed(m) => BusError::NotAllowed(m),
            E::Store(e) => e.into(),
            other => BusError::InvalidArgument(other.to_string()),
        }
    }
}
