//! `org.posd.Manager1` on `/org/posd/Posd1`: the daemon as a whole.

use std::sync::Arc;

use zbus::interface;
use zbus::message::Header;

use super::{BusError, Caller};
use crate::service::{ABI_VERSION, Control, ServiceState, Shared};

/// The root object. Reads the daemon's shared state; asks the main loop for anything that
/// changes it.
#[derive(Debug)]
pub struct Manager {
    shared: Arc<Shared>,
}

impl Manager {
    /// A manager object over `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
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
        ABI_VERSION.to_string()
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

    /// Re-reads the configuration, as SIGHUP does. Admin only. An invalid configuration is
    /// refused with InvalidConfiguration naming file and key, and the running one stays.
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
            .map_err(BusError::InvalidConfiguration)
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
