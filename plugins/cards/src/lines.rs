//! What the plugin keeps on its own lines and tenders (`data`), handed back by the host
//! with every later request, the checkout and the receipt a void or return reads.

use posd_plugin_sdk::PluginError;
use posd_plugin_sdk::schema::{Line, Sale, Tender};
use posd_plugin_sdk::serde_json::Value;
use serde::{Deserialize, Serialize};

use crate::ID;

/// The `data` of a line of this plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum LineData {
    /// A card sold (`sell-card`).
    SellCard {
        /// The card number.
        number: String,
        /// The card type.
        card_type: String,
    },
    /// Stored value topped up (`topup`).
    Topup {
        /// The card number.
        card: String,
        /// The stored-value programme.
        programme: String,
    },
    /// One visit on a session card (`use-session`); the line's quantity is the sessions used.
    Session {
        /// The card number.
        card: String,
        /// The session programme.
        programme: String,
    },
    /// An extended warranty for an item of the sale (`warranty`).
    Warranty {
        /// The card whose programme grants it.
        card: String,
        /// The warranty programme.
        programme: String,
        /// The item's serial number, as entered (trimmed, upper case).
        serial: String,
        /// The id of the item's line on the sale.
        line: String,
    },
    /// The automatic free item of a bonus programme (`evaluate_basket`).
    Bonus {
        /// The bonus programme.
        programme: String,
        /// How many units it makes free.
        free: u32,
    },
    /// The automatic holder discount (`evaluate_basket`).
    Discount {
        /// The discount programme.
        programme: String,
    },
}

/// The `data` of a stored-value tender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenderData {
    /// The card paid with.
    pub card: String,
    /// Its stored-value programme.
    pub programme: String,
}

/// The plugin's data of a line, `None` for another's line or data it did not write.
pub fn line_data(line: &Line) -> Option<LineData> {
    if line.plugin != ID {
        return None;
    }
    serde_json::from_value(line.data.clone()).ok()
}

/// The plugin's data of a tender, `None` for another's.
pub fn tender_data(tender: &Tender) -> Option<TenderData> {
    if tender.plugin != ID {
        return None;
    }
    serde_json::from_value(tender.data.clone()).ok()
}

/// The lines of `sale` with this plugin's data.
pub fn own_lines(lines: &[Line]) -> impl Iterator<Item = (&Line, LineData)> {
    lines.iter().filter_map(|l| line_data(l).map(|d| (l, d)))
}

/// The stored-value tenders of `sale`.
pub fn own_tenders(sale: &Sale) -> impl Iterator<Item = (&Tender, TenderData)> {
    sale.tenders
        .iter()
        .filter_map(|t| tender_data(t).map(|d| (t, d)))
}

/// `data` as JSON for a new line or tender.
pub fn to_data<T: Serialize>(data: &T) -> Result<Value, PluginError> {
    serde_json::to_value(data).map_err(|e| PluginError::plugin_failed(e.to_string()))
}

/// A sale action's argument as trimmed text; `None` when absent or empty.
pub fn string_arg(
    args: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<String>, PluginError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(PluginError::invalid_argument(format!(
            "argument {name}: {other} is not text"
        ))),
    }
}
