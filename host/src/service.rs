//! What the daemon is and is doing, as plain data shared by the bus layer and the main loop.
//!
//! The D-Bus objects read from here; the main loop ([`crate::daemon`]) is the only writer.
//! Keeping it free of zbus lets tests and `posctl` share the vocabulary (`ServiceState`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tokio::sync::{Notify, mpsc, oneshot};

use crate::config::Config;

/// The plugin ABI this daemon offers (`major.minor`), as `Manager1.AbiVersion` shows it.
pub fn abi_version() -> String {
    format!(
        "{}.{}",
        posd_plugin_abi::POSD_ABI_MAJOR,
        posd_plugin_abi::POSD_ABI_MINOR
    )
}

/// Life cycle of the daemon, as `Manager1.State` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    /// Configuration read, database opening, name not yet owned.
    Starting,
    /// Serving, everything configured is working.
    Running,
    /// Serving, but a device or plugin is failed.
    Degraded,
    /// Finishing in-flight calls; no new work is taken.
    Stopping,
}

impl ServiceState {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Starting => "starting",
            ServiceState::Running => "running",
            ServiceState::Degraded => "degraded",
            ServiceState::Stopping => "stopping",
        }
    }
}

/// The identity properties of `Manager1`, as of the last (re)load of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `store.id`
    pub store_id: String,
    /// `register.id`
    pub register_id: String,
    /// `store.currency`
    pub currency: String,
    /// `store.locale`
    pub locale: String,
}

impl Identity {
    /// The identity a configuration describes.
    pub fn of(config: &Config) -> Self {
        Self {
            store_id: config.store.id.clone(),
            register_id: config.register.id.clone(),
            currency: config.store.currency.clone(),
            locale: config.store.locale.clone(),
        }
    }
}

/// Requests from the bus layer that only the main loop may carry out.
#[derive(Debug)]
pub enum Control {
    /// Re-read the configuration (the same as SIGHUP); answer with what changed.
    ReloadConfig(oneshot::Sender<Result<Vec<String>, crate::daemon::ReloadError>>),
}

/// State shared between the bus objects and the main loop.
#[derive(Debug)]
pub struct Shared {
    identity: RwLock<Identity>,
    state: RwLock<ServiceState>,
    in_flight: InFlight,
    control: mpsc::Sender<Control>,
    database_path: OnceLock<PathBuf>,
}

impl Shared {
    /// Shared state for a daemon starting with `identity`; control requests go to `control`.
    pub fn new(identity: Identity, control: mpsc::Sender<Control>) -> Arc<Self> {
        Arc::new(Self {
            identity: RwLock::new(identity),
            state: RwLock::new(ServiceState::Starting),
            in_flight: InFlight::default(),
            control,
            database_path: OnceLock::new(),
        })
    }

    /// The current identity.
    pub fn identity(&self) -> Identity {
        self.identity
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the identity; returns whether it changed.
    pub fn set_identity(&self, identity: Identity) -> bool {
        let mut guard = self.identity.write().unwrap_or_else(|e| e.into_inner());
        let changed = *guard != identity;
        *guard = identity;
        changed
    }

    /// Records where the state database is, once it is open. Set once per run: the daemon
    /// never moves its database, so tools reading it directly (`posctl ledger verify`) can ask
    /// the daemon they talk to instead of guessing a state directory. Later calls are ignored.
    pub fn set_database_path(&self, path: &Path) {
        let _ = self.database_path.set(path.to_path_buf());
    }

    /// The state database's path, once it is open.
    pub fn database_path(&self) -> Option<&Path> {
        self.database_path.get().map(PathBuf::as_path)
    }

    /// The current life-cycle state.
    pub fn state(&self) -> ServiceState {
        *self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves to `state`; returns whether it changed. Once stopping, the daemon stays stopping.
    pub fn set_state(&self, state: ServiceState) -> bool {
        let mut guard = self.state.write().unwrap_or_else(|e| e.into_inner());
        if *guard == state || *guard == ServiceState::Stopping {
            return false;
        }
        *guard = state;
        true
    }

    /// Registers a call that must finish before the daemon exits. `None` once stopping:
    /// the caller should refuse the call.
    pub fn begin_call(&self) -> Option<CallGuard> {
        if self.state() == ServiceState::Stopping {
            return None;
        }
        Some(self.in_flight.enter())
    }

    /// Waits until every call registered with [`Shared::begin_call`] has finished.
    pub async fn calls_finished(&self) {
        self.in_flight.idle().await;
    }

    /// Number of calls in progress.
    pub fn calls_in_progress(&self) -> usize {
        self.in_flight.count.load(Ordering::SeqCst)
    }

    /// Hands a request to the main loop.
    pub async fn request(&self, control: Control) -> Result<(), String> {
        self.control
            .send(control)
            .await
            .map_err(|_| "the daemon's main loop has stopped".to_string())
    }
}

/// Counts calls in progress, so shutdown can wait for them.
#[derive(Debug, Default)]
struct InFlight {
    count: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

impl InFlight {
    fn enter(&self) -> CallGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        CallGuard {
            count: self.count.clone(),
            idle: self.idle.clone(),
        }
    }

    async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Held while a call is in progress.
#[derive(Debug)]
pub struct CallGuard {
    count: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn shared() -> Arc<Shared> {
        let (tx, _rx) = mpsc::channel(1);
        Shared::new(Identity::of(&Config::default()), tx)
    }

    #[tokio::test]
    async fn shutdown_waits_for_calls_in_progress() {
        let shared = shared();
        let guard = shared.begin_call().expect("accepted");
        shared.set_state(ServiceState::Stopping);
        assert!(shared.begin_call().is_none(), "no new calls while stopping");
        let waiter = tokio::spawn({
            let shared = shared.clone();
            async move { shared.calls_finished().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "still waiting for the call");
        drop(guard);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("finished once the call ended")
            .expect("join");
    }

    #[test]
    fn stopping_is_final() {
        let shared = shared();
        assert!(shared.set_state(ServiceState::Running));
        assert!(!shared.set_state(ServiceState::Running));
        assert!(shared.set_state(ServiceState::Stopping));
        assert!(!shared.set_state(ServiceState::Running));
        assert_eq!(shared.state().as_str(), "stopping");
    }
}
