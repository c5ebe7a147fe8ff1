//! The one error enum of the crate: what can be wrong with the configuration or the key,
//! each naming the key a technician has to fix. Hook errors are the contract's
//! [`PluginError`]s; a [`ConfigError`] becomes `InvalidConfiguration`, which makes the
//! host mark the plugin failed with this text.

use posd_plugin_sdk::PluginError;

/// Why the plugin refuses to start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A key has a value the plugin cannot work with.
    #[error("[plugin.vouchers] {key}: {reason}")]
    Invalid {
        /// The key, as a path: `programmes[0].code.groups`.
        key: String,
        /// What is wrong and what would be right.
        reason: String,
    },
    /// The key file could not be read or is too short.
    #[error("[plugin.vouchers] key_file {path:?}: {reason}")]
    KeyFile {
        /// The path as configured (the key itself is never shown).
        path: String,
        /// What is wrong.
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
