//! `customer_accounts` (`Manager1.Customer`): each programme of each card of the customer,
//! named `<programme> ••••<last four>`, with its balance: stored value in the currency
//! (`wallet`), the punch card's counter (`card`, unit `punches`; the counter is the
//! customer's, so two cards with the same bonus programme show the same count), sessions
//! left (`card`, unit `sessions`), and discount and warranty programmes as cards without a
//! balance.

use posd_plugin_sdk::schema::{AccountKind, CustomerAccount};
use posd_plugin_sdk::{Decimal, Host, PluginError};

use crate::config::{Config, Terms};
use crate::holdings::holdings;
use crate::number::masked;
use crate::store::{self, PUNCHES, SESSIONS};

/// The customer's accounts with this plugin.
pub fn of_customer(
    host: &Host,
    config: &Config,
    customer: &str,
) -> Result<Vec<CustomerAccount>, PluginError> {
    let mut accounts = Vec::new();
    for h in holdings(host, config, customer)? {
        let number = &h.card.number;
        let programme = format!("{} {}", h.programme.name, masked(number));
        let (kind, balance, unit) = match &h.programme.terms {
            Terms::StoredValue { .. } => {
                let b = host.ledger_balance(&store::credit_account(number))?;
                let unit = if b.unit.is_empty() {
                    h.card.currency.clone()
                } else {
                    b.unit
                };
                (AccountKind::Wallet, b.balance, unit)
            }
            Terms::BonusArticle { .. } => {
                let b = host.ledger_balance(&store::punch_account(customer, &h.programme.id))?;
                (AccountKind::Card, b.balance, PUNCHES.to_string())
            }
            Terms::Sessions { .. } => {
                let b = host.ledger_balance(&store::session_account(number, &h.programme.id))?;
                (AccountKind::Card, b.balance, SESSIONS.to_string())
            }
            Terms::Discount { .. } | Terms::Warranty { .. } => {
                (AccountKind::Card, Decimal::ZERO, String::new())
            }
        };
        accounts.push(CustomerAccount {
            programme,
            kind,
            balance,
            unit,
        });
    }
    Ok(accounts)
}
