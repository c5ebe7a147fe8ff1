//! Answers of the host services a plugin calls through [`Host`](crate::Host).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::Decimal;

/// One entry of `kv.list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvEntry {
    /// The key, in the plugin's namespace.
    pub key: String,
    /// Its value.
    pub value: Value,
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
