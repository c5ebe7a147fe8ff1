//! The crate's errors: a broken configuration ([`ConfigError`], the plugin does not load)
//! and what a cashier or technician did that cannot be done ([`PointsError`]). Both become
//! the contract's [`PluginError`] names, so the frontend shows the right text.

use posd_plugin_sdk::{Decimal, PluginError};

/// Why the plugin refuses to start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A key has a value the plugin cannot work with.
    #[error("[plugin.points] {key}: {reason}")]
    Invalid {
        /// The key as a path, e.g. `programmes[0].rules[1].per_amount`.
        key: String,
        /// What is wrong and what would be right.
        reason: String,
    },
}

impl ConfigError {
    /// An invalid value at `key`.
    pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl From<ConfigError> for PluginError {
    fn from(e: ConfigError) -> Self {
        PluginError::invalid_configuration(e.to_string())
    }
}

/// What a request asks that the plugin refuses; nothing is changed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PointsError {
    /// Redemption and rewards need a customer on the sale.
    #[error("the sale has no customer: points belong to a customer")]
    CustomerRequired,
    /// No programme, reward or customer of that name.
    #[error("{0}")]
    NotFound(String),
    /// More points than the customer has.
    #[error("{programme}: {asked} points asked, the customer has {available}")]
    InsufficientBalance {
        /// The programme's id.
        programme: String,
        /// Points asked for.
        asked: Decimal,
        /// Points the customer can use now (balance less what expires today).
        available: Decimal,
    },
    /// A malformed or out-of-range argument.
    #[error("{0}")]
    InvalidArgument(String),
    /// Allowed by nobody (e.g. an admin action needing effects on an old host).
    #[error("{0}")]
    NotAllowed(String),
}

impl From<PointsError> for PluginError {
    fn from(e: PointsError) -> Self {
        let message = e.to_string();
        match e {
            PointsError::CustomerRequired => PluginError::customer_required(message),
            PointsError::NotFound(_) => PluginError::not_found(message),
            PointsError::InsufficientBalance { .. } => PluginError::insufficient_balance(message),
            PointsError::InvalidArgument(_) => PluginError::invalid_argument(message),
            PointsError::NotAllowed(_) => PluginError::not_allowed(message),
        }
    }
}
