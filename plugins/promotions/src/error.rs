//! The one error enum of the crate: what can be wrong with the configuration, each naming
//! the key a technician has to fix. A [`ConfigError`] becomes `InvalidConfiguration`, which
//! makes the host mark the plugin failed with this text while the till goes on selling.

use posd_plugin_sdk::PluginError;

/// Why the plugin refuses to start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A key has a value the plugin cannot work with.
    #[error("[plugin.promotions] {key}: {reason}")]
    Invalid {
        /// The key, as a path: `promotions[2].tiers[0].from`.
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
