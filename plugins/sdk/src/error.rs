//! The one error type of a plugin: a contract error name and an English message.
//!
//! A hook that fails returns `POSD_ERROR` with `{"error": "<name>", "message": "<text>"}`;
//! the host turns the name into `org.posd.Error.<name>` for the frontend. [`PluginError`] is
//! that object, so `?` in a hook method reaches the cashier with the right name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The error names of the posd contract (`docs/dbus-api.md`), as a hook may return
/// them. The frontend shows a translated text per name, so pick the one that tells the
/// cashier what to do, and put details for the log into the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorName {
    /// Unknown code, customer, receipt, line, account.
    NotFound,
    /// The code is known but its balance is 0.
    VoucherEmpty,
    /// The programme behind a code, or the plugin's configuration, is broken.
    InvalidConfiguration,
    /// A discount code or programme has no uses left.
    LimitReached,
    /// The action needs a customer on the sale.
    CustomerRequired,
    /// The sale's customer may not change now (an eWallet line holds it).
    CustomerLocked,
    /// Not enough balance, points or credit.
    InsufficientBalance,
    /// Not allowed here, e.g. voiding an eWallet top-up.
    NotAllowed,
    /// The state changed underneath, e.g. a code used at another till.
    Conflict,
    /// A malformed request, argument or number.
    InvalidArgument,
    /// A device or a partner's service the call needs is not reachable now (a bonus
    /// partner's server down): the cashier takes another way, e.g. another payment.
    DeviceUnavailable,
    /// The plugin itself failed: the SDK's name for a panic or a broken host answer. The host
    /// reports it as `org.posd.Error.PluginFailed`, naming the plugin, whether or not it
    /// knows the name; a plugin should not return it for its own business errors.
    PluginFailed,
}

impl ErrorName {
    /// Every name, for documentation and tests.
    pub const ALL: [ErrorName; 12] = [
        ErrorName::NotFound,
        ErrorName::VoucherEmpty,
        ErrorName::InvalidConfiguration,
        ErrorName::LimitReached,
        ErrorName::CustomerRequired,
        ErrorName::CustomerLocked,
        ErrorName::InsufficientBalance,
        ErrorName::NotAllowed,
        ErrorName::Conflict,
        ErrorName::InvalidArgument,
        ErrorName::DeviceUnavailable,
        ErrorName::PluginFailed,
    ];

    /// The name as it travels in JSON and in `org.posd.Error.<name>`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorName::NotFound => "NotFound",
            ErrorName::VoucherEmpty => "VoucherEmpty",
            ErrorName::InvalidConfiguration => "InvalidConfiguration",
            ErrorName::LimitReached => "LimitReached",
            ErrorName::CustomerRequired => "CustomerRequired",
            ErrorName::CustomerLocked => "CustomerLocked",
            ErrorName::InsufficientBalance => "InsufficientBalance",
            ErrorName::NotAllowed => "NotAllowed",
            ErrorName::Conflict => "Conflict",
            ErrorName::InvalidArgument => "InvalidArgument",
            ErrorName::DeviceUnavailable => "DeviceUnavailable",
            ErrorName::PluginFailed => "PluginFailed",
        }
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the contract's (e.g. from a newer host).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error name {0:?}")]
pub struct UnknownErrorName(pub String);

impl FromStr for ErrorName {
    type Err = UnknownErrorName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ErrorName::ALL
            .into_iter()
            .find(|known| known.as_str() == name)
            .ok_or_else(|| UnknownErrorName(name.to_string()))
    }
}

/// What a hook, `Plugin::create` or a host service call failed with; serialises to the
/// contract's error object `{"error": …, "message": …}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{error}: {message}")]
pub struct PluginError {
    /// Which contract error; decides what the cashier is told.
    pub error: ErrorName,
    /// English text for the log and for support; say what was wrong and with which value.
    pub message: String,
}

impl PluginError {
    /// An error with any name.
    pub fn new(error: ErrorName, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
        }
    }

    /// [`ErrorName::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorName::NotFound, message)
    }

    /// [`ErrorName::VoucherEmpty`].
    pub fn voucher_empty(message: impl Into<String>) -> Self {
        Self::new(ErrorName::VoucherEmpty, message)
    }

    /// [`ErrorName::InvalidConfiguration`].
    pub fn invalid_configuration(message: impl Into<String>) -> Self {
        Self::new(ErrorName::InvalidConfiguration, message)
    }

    /// [`ErrorName::LimitReached`].
    pub fn limit_reached(message: impl Into<String>) -> Self {
        Self::new(ErrorName::LimitReached, message)
    }

    /// [`ErrorName::CustomerRequired`].
    pub fn customer_required(message: impl Into<String>) -> Self {
        Self::new(ErrorName::CustomerRequired, message)
    }

    /// [`ErrorName::CustomerLocked`].
    pub fn customer_locked(message: impl Into<String>) -> Self {
        Self::new(ErrorName::CustomerLocked, message)
    }

    /// [`ErrorName::InsufficientBalance`].
    pub fn insufficient_balance(message: impl Into<String>) -> Self {
        Self::new(ErrorName::InsufficientBalance, message)
    }

    /// [`ErrorName::NotAllowed`].
    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorName::NotAllowed, message)
    }

    /// [`ErrorName::Conflict`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorName::Conflict, message)
    }

    /// [`ErrorName::InvalidArgument`].
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorName::InvalidArgument, message)
    }

    /// [`ErrorName::DeviceUnavailable`]: a partner's service or device is not reachable.
    pub fn device_unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorName::DeviceUnavailable, message)
    }

    /// [`ErrorName::PluginFailed`]: the plugin or its plumbing broke, not the business rule.
    pub fn plugin_failed(message: impl Into<String>) -> Self {
        Self::new(ErrorName::PluginFailed, message)
    }

    /// The error object as JSON bytes; never fails, since both fields are plain strings.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        serde_json::json!({ "error": self.error.as_str(), "message": self.message })
            .to_string()
            .into_bytes()
    }
}

/// Reads a plugin's configuration section into the author's own type, so a typo in the
/// store's configuration is refused at load with `InvalidConfiguration` naming the key,
/// instead of surfacing later in a sale.
pub fn parse_config<T: serde::de::DeserializeOwned>(
    config: serde_json::Value,
) -> Result<T, PluginError> {
    serde_json::from_value(config)
        .map_err(|e| PluginError::invalid_configuration(format!("configuration: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_json_and_from_str() {
        for name in ErrorName::ALL {
            let json = serde_json::to_value(name).unwrap();
            assert_eq!(json, serde_json::Value::String(name.as_str().into()));
            assert_eq!(name.as_str().parse::<ErrorName>().unwrap(), name);
        }
        assert!("Oops".parse::<ErrorName>().is_err());
    }

    #[test]
    fn error_object_is_the_contracts_shape() {
        let e = PluginError::voucher_empty("voucher ABC is empty");
        let json: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": "VoucherEmpty", "message": "voucher ABC is empty"})
        );
        assert_eq!(e.to_string(), "VoucherEmpty: voucher ABC is empty");
    }

    #[test]
    fn parse_config_names_the_bad_key() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Config {
            balance: String,
        }
        let e = parse_config::<Config>(serde_json::json!({"balanse": "1"})).unwrap_err();
        assert_eq!(e.error, ErrorName::InvalidConfiguration);
        assert!(e.message.contains("balanse"), "{}", e.message);
    }
}
