//! The named D-Bus errors of the contract (`org.posd.Error.*`).
//!
//! Frontends localise by the error name, so every failure that reaches the bus is one of these,
//! with an English message for logs and technicians.

/// An error as a frontend sees it.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.posd.Error")]
pub enum BusError {
    /// A transport-level error from zbus itself.
    #[zbus(error)]
    ZBus(zbus::Error),
    /// Malformed input: bad number, negative quantity, unknown key, empty code.
    InvalidArgument(String),
    /// Unknown code, sale, receipt, line, device or plugin.
    NotFound(String),
    /// The code is known but its balance is 0.
    VoucherEmpty(String),
    /// The programme behind a code, or the daemon's configuration, is misconfigured.
    InvalidConfiguration(String),
    /// A discount code or programme has no uses left.
    LimitReached(String),
    /// The action needs a customer on the sale.
    CustomerRequired(String),
    /// The customer can't change while an eWallet is in the basket.
    CustomerLocked(String),
    /// Redemption above the balance, points above the account.
    InsufficientBalance(String),
    /// Checkout while the amount due is above zero.
    NotPaid(String),
    /// The caller lacks the right, or the action is forbidden.
    NotAllowed(String),
    /// Idempotency key reused for a different request; sale no longer open.
    Conflict(String),
    /// A plugin failed or timed out; the message names the plugin.
    PluginFailed(String),
    /// The device is offline and the call can't be queued.
    DeviceUnavailable(String),
    /// The daemon is stopping and takes no new work; retry against the next instance.
    ShuttingDown(String),
    /// Something failed inside the daemon (database, I/O); the message says what.
    Internal(String),
}

impl From<crate::store::StoreError> for BusError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!("database: {e}");
        BusError::Internal(e.to_string())
    }
}

impl From<crate::devices::DeviceError> for BusError {
    fn from(e: crate::devices::DeviceError) -> Self {
        match e {
            crate::devices::DeviceError::Unavailable(m) => BusError::DeviceUnavailable(m),
            crate::devices::DeviceError::NotFound(m) => BusError::NotFound(m),
            crate::devices::DeviceError::Store(e) => e.into(),
        }
    }
}

impl From<crate::outbox::ManageError> for BusError {
    fn from(e: crate::outbox::ManageError) -> Self {
        use crate::outbox::ManageError;
        let message = e.to_string();
        match e {
            ManageError::InvalidId(_) => BusError::InvalidArgument(message),
            ManageError::NotFound(_) => BusError::NotFound(message),
            ManageError::WrongState { .. } => BusError::Conflict(message),
            ManageError::Database(_) => {
                tracing::error!("database: {message}");
                BusError::Internal(message)
            }
        }
    }
}
