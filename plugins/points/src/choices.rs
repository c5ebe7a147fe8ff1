//! What the cashier chose on an open sale: points to redeem and reward blocks taken, per
//! programme. The redemption itself is an automatic line `evaluate_basket` works out from
//! this choice on every change, so it follows the basket; the choice lives in the host's kv
//! store (`choice:<sale id>`, written at once by the action) and in memory for fast
//! evaluation, read back at `create`, so a plugin restart keeps it. The checkout deletes it
//! in its transaction.

use std::collections::{BTreeMap, HashMap};

use posd_plugin_sdk::schema::KvWrite;
use posd_plugin_sdk::{Decimal, Host, PluginError};
use serde::{Deserialize, Serialize};

/// The kv prefix of choices.
pub const PREFIX: &str = "choice:";
/// Choices of sales older than this are forgotten at `create` (the sale was cancelled).
const FORGET_AFTER_MS: i64 = 7 * 86_400_000;

/// One sale's choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The customer it was made for; a sale whose customer changed ignores it.
    pub customer: String,
    /// When it was last changed (host clock, ms).
    pub at: i64,
    /// Points to redeem per programme id, at most (the basket may take fewer).
    #[serde(default)]
    pub redeem: BTreeMap<String, Decimal>,
    /// Reward blocks taken, per `<programme>:<reward>`.
    #[serde(default)]
    pub rewards: BTreeMap<String, u32>,
}

impl Choice {
    /// An empty choice for `customer` now.
    pub fn new(customer: &str, now: i64) -> Self {
        Choice {
            customer: customer.to_string(),
            at: now,
            ..Choice::default()
        }
    }

    /// Whether nothing is chosen.
    pub fn is_empty(&self) -> bool {
        self.redeem.is_empty() && self.rewards.is_empty()
    }
}

/// The choices of open sales.
#[derive(Debug, Default)]
pub struct Choices {
    by_sale: HashMap<String, Choice>,
}

fn key(sale: &str) -> String {
    format!("{PREFIX}{sale}")
}

impl Choices {
    /// Reads every choice kept in kv; forgets (and deletes) those of sales a week old.
    pub fn load(host: &Host) -> Result<Self, PluginError> {
        let now = host.now();
        let mut by_sale = HashMap::new();
        for entry in host.kv_list(PREFIX)? {
            let Some(sale) = entry.key.strip_prefix(PREFIX) else {
                continue;
            };
            match entry.value_as::<Choice>() {
                Ok(choice) if now - choice.at < FORGET_AFTER_MS => {
                    by_sale.insert(sale.to_string(), choice);
                }
                Ok(_) => {
                    host.kv_delete(&entry.key)?;
                }
                Err(e) => host.warn(&format!("{}: {}", entry.key, e.message)),
            }
        }
        Ok(Choices { by_sale })
    }

    /// The choice on `sale` if it was made for `customer`.
    pub fn of(&self, sale: &str, customer: Option<&str>) -> Option<&Choice> {
        let choice = self.by_sale.get(sale)?;
        (Some(choice.customer.as_str()) == customer).then_some(choice)
    }

    /// Stores a changed choice at once (kv and memory); an empty one is deleted.
    pub fn store(&mut self, host: &Host, sale: &str, choice: Choice) -> Result<(), PluginError> {
        if choice.is_empty() {
            host.kv_delete(&key(sale))?;
            self.by_sale.remove(sale);
        } else {
            host.kv_put(&key(sale), &choice)?;
            self.by_sale.insert(sale.to_string(), choice);
        }
        Ok(())
    }

    /// The kv write that deletes `sale`'s choice with its checkout.
    pub fn delete_with_checkout(sale: &str) -> KvWrite {
        KvWrite::delete(key(sale))
    }

    /// Forgets `sale`'s choice in memory (its checkout committed).
    pub fn forget(&mut self, sale: &str) {
        self.by_sale.remove(sale);
    }
}
