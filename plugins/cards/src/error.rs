//! The crate's errors: a broken configuration ([`ConfigError`], the plugin does not load)
//! and what a cashier or technician asked that cannot be done ([`CardError`]). Both become
//! the contract's [`PluginError`] names, so the frontend shows the right text and nothing is
//! changed.

use posd_plugin_sdk::PluginError;

/// Why the plugin refuses to start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A key has a value the plugin cannot work with.
    #[error("[plugin.cards] {key}: {reason}")]
    Invalid {
        /// The key as a path, e.g. `programmes[2].every`.
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
pub enum CardError {
    /// A card number in our format that no card was sold under.
    #[error("{0}")]
    NotFound(String),
    /// The action needs a customer on the sale (a top-up, a tender, a session).
    #[error("{0}")]
    CustomerRequired(String),
    /// Not enough credit or sessions.
    #[error("{0}")]
    InsufficientBalance(String),
    /// A malformed argument: a mistyped card number, an unknown line, a bad serial.
    #[error("{0}")]
    InvalidArgument(String),
    /// Forbidden here: voiding what was used since, a card sold twice.
    #[error("{0}")]
    NotAllowed(String),
    /// The state changed underneath: the card was sold at another till meanwhile, the
    /// punch card moved since the basket was evaluated.
    #[error("{0}")]
    Conflict(String),
}

impl From<CardError> for PluginError {
    fn from(e: CardError) -> Self {
        let message = e.to_string();
        match e {
            CardError::NotFound(_) => PluginError::not_found(message),
            CardError::CustomerRequired(_) => PluginError::customer_required(message),
            CardError::InsufficientBalance(_) => PluginError::insufficient_balance(message),
            CardError::InvalidArgument(_) => PluginError::invalid_argument(message),
            CardError::NotAllowed(_) => PluginError::not_allowed(message),
            CardError::Conflict(_) => PluginError::conflict(message),
        }
    }
}
