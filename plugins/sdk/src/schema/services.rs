//! Answers of the host services a plugin calls through [`Host`](crate::Host).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::Decimal;
use crate::error::PluginError;

/// One entry of `kv.list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvEntry {
    /// The key, in the plugin's namespace.
    pub key: String,
    /// Its value.
    pub value: Value,
}

impl KvEntry {
    /// The value read as the plugin's own type; see [`kv_value`].
    pub fn value_as<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        kv_value(&self.key, self.value.clone())?
            .ok_or_else(|| PluginError::plugin_failed(format!("kv key {:?} holds null", self.key)))
    }
}

/// A value for the plugin's kv store as the JSON it is stored as. A value that serialises
/// to `null` deletes the key. One that cannot be JSON at all (a map with non-string keys)
/// is `InvalidArgument`, naming the key.
pub fn kv_json<V: Serialize + ?Sized>(key: &str, value: &V) -> Result<Value, PluginError> {
    serde_json::to_value(value).map_err(|e| {
        PluginError::invalid_argument(format!("value for kv key {key:?} is not JSON: {e}"))
    })
}

/// A stored kv value read as the plugin's own type; `null` (no value) is `None`. A value
/// that does not fit the type is `PluginFailed` naming the key and the value: the plugin's
/// own data no longer matches its own type (a bug, or an old format to migrate; read it as
/// `serde_json::Value` to look at it).
pub fn kv_value<T: DeserializeOwned>(key: &str, value: Value) -> Result<Option<T>, PluginError> {
    if value.is_null() {
        return Ok(None);
    }
    let shown = value.to_string();
    serde_json::from_value(value).map(Some).map_err(|e| {
        PluginError::plugin_failed(format!(
            "kv key {key:?} holds {shown}, which is not a {}: {e}",
            std::any::type_name::<T>()
        ))
    })
}

/// `ledger.balance` answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LedgerBalance {
    /// The account, in the plugin's namespace.
    pub account: String,
    /// Whether any posting was ever made to it; `false` means an unknown code.
    pub exists: bool,
    /// Current balance.
    pub balance: Decimal,
    /// Currency code or points unit.
    pub unit: String,
}

/// One posting of `ledger.postings`, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LedgerPosting {
    /// The journal entry it belongs to (the host may send a number; kept as text).
    #[serde(deserialize_with = "string_or_number")]
    pub entry: String,
    /// When, RFC 3339.
    pub time: String,
    /// Signed amount.
    pub amount: Decimal,
    /// When the lot expires, if it does.
    pub expires: Option<String>,
}

/// `ledger.turnover` answer: what a customer spent, e.g. for tier rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Turnover {
    /// Sum of the customer's sales over the months asked.
    pub turnover: Decimal,
    /// Its currency.
    pub currency: String,
}

/// Ids are strings in the contract; a database row id may still arrive as a number.
fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(text) => Ok(text),
        Value::Number(number) => Ok(number.to_string()),
        Value::Null => Ok(String::new()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string id, got {other}"
        ))),
    }
}
