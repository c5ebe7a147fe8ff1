//! Where the plugin keeps things in the host: the cards sold (kv, written with the sale
//! that sold them) and the ledger accounts of their balances. One place for every key and
//! account name, so a reader sees the whole layout at once.
//!
//! | where | key or account | holds |
//! |---|---|---|
//! | kv | `card:<number>` | [`CardRecord`]: type, holder, programmes, the receipt that sold it |
//! | kv | `holder:<customer>:<number>` | index: the cards of a customer |
//! | kv | `receipt:<receipt id>` | [`crate::punches::Note`]: what a receipt did to punch cards |
//! | kv | `warranty:<serial>` | [`crate::warranty::Warranty`] |
//! | ledger | `credit:<number>` (EUR) | stored value of a card, floor 0 |
//! | ledger | `credit-issued` (EUR) | the other side: stored value outstanding |
//! | ledger | `punches:<customer>:<programme>` (`punches`) | a customer's punch-card counter |
//! | ledger | `punch-pool:<programme>` (`punches`) | the other side |
//! | ledger | `sessions:<number>:<programme>` (`sessions`) | sessions left on a card |
//! | ledger | `session-pool:<programme>` (`sessions`) | the other side |

use std::collections::BTreeMap;

use posd_plugin_sdk::schema::{KvWrite, Posting};
use posd_plugin_sdk::{Decimal, Host, PluginError};
use serde::{Deserialize, Serialize};

/// The unit of punch-card accounts.
pub const PUNCHES: &str = "punches";
/// The unit of session accounts.
pub const SESSIONS: &str = "sessions";
/// The other side of stored value.
pub const CREDIT_POOL: &str = "credit-issued";

/// A card sold, as its sale committed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardRecord {
    /// The card number (digits, check digit included).
    pub number: String,
    /// The card type it was sold as.
    pub card_type: String,
    /// The customer holding it.
    pub customer: String,
    /// The programmes assigned when it was sold, in the card type's order.
    pub programmes: Vec<String>,
    /// The receipt that sold it.
    pub sold_on: String,
    /// Sessions put on it per session programme when it was sold (what a void takes back).
    #[serde(default)]
    pub sessions: BTreeMap<String, u32>,
    /// The currency of the sale that sold it: the unit of its stored value.
    #[serde(default)]
    pub currency: String,
}

/// The kv key of a card.
pub fn card_key(number: &str) -> String {
    format!("card:{number}")
}

/// The kv key of a card in its holder's index.
pub fn holder_key(customer: &str, number: &str) -> String {
    format!("holder:{customer}:{number}")
}

/// The stored-value account of a card.
pub fn credit_account(number: &str) -> String {
    format!("credit:{number}")
}

/// A customer's punch-card counter of a bonus programme.
pub fn punch_account(customer: &str, programme: &str) -> String {
    format!("punches:{customer}:{programme}")
}

/// The other side of a bonus programme's punches.
pub fn punch_pool(programme: &str) -> String {
    format!("punch-pool:{programme}")
}

/// The sessions left on a card for a session programme.
pub fn session_account(number: &str, programme: &str) -> String {
    format!("sessions:{number}:{programme}")
}

/// The other side of a session programme.
pub fn session_pool(programme: &str) -> String {
    format!("session-pool:{programme}")
}

/// A card by number, `None` if none was sold under it (or its sale was voided).
pub fn find_card(host: &Host, number: &str) -> Result<Option<CardRecord>, PluginError> {
    host.kv_get::<CardRecord>(&card_key(number))
}

/// Every card the customer holds, by number.
pub fn cards_of(host: &Host, customer: &str) -> Result<Vec<CardRecord>, PluginError> {
    let prefix = format!("holder:{customer}:");
    let mut cards = Vec::new();
    for entry in host.kv_list(&prefix)? {
        let Some(number) = entry.key.strip_prefix(&prefix) else {
            continue;
        };
        // A customer id with a colon in it must not list another customer's cards.
        if !number.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Some(card) = find_card(host, number)?
            && card.customer == customer
        {
            cards.push(card);
        }
    }
    Ok(cards)
}

/// The kv writes that record a card and index it under its holder (or, with `None`,
/// remove both: its sale was voided).
pub fn record_card(card: &CardRecord, keep: bool) -> Result<Vec<KvWrite>, PluginError> {
    Ok(if keep {
        vec![
            KvWrite::new(card_key(&card.number), card)?,
            KvWrite::new(holder_key(&card.customer, &card.number), &card.number)?,
        ]
    } else {
        vec![
            KvWrite::delete(card_key(&card.number)),
            KvWrite::delete(holder_key(&card.customer, &card.number)),
        ]
    })
}

/// One side of a pair of postings.
pub fn posting(account: String, amount: Decimal, unit: &str, kind: &str) -> Posting {
    Posting {
        account,
        amount,
        unit: unit.to_string(),
        kind: kind.to_string(),
        ..Posting::default()
    }
}

/// A posting to a customer's account that may not go below 0.
pub fn floored(
    account: String,
    amount: Decimal,
    unit: &str,
    kind: &str,
    customer: &str,
) -> Posting {
    Posting {
        floor: Some(Decimal::ZERO),
        customer: Some(customer.to_string()),
        ..posting(account, amount, unit, kind)
    }
}
