//! A card scanned or typed: `classify_code` says it is a `customer_card` (with its holder
//! and, for stored value, its balance) and `enter_code` puts its holder on the sale. A number
//! in our format that no card was sold under is `NotFound`; one with a wrong check digit is
//! `InvalidArgument` (mistyped); anything else is not claimed.

use posd_plugin_sdk::schema::{CodeInfo, CodeKind, Effects};
use posd_plugin_sdk::{Host, PluginError};

use crate::config::{Config, Kind};
use crate::error::CardError;
use crate::number::{Recognised, masked, recognise};
use crate::store::{self, CardRecord};

/// The card behind `code`: `Ok(None)` when the code is not in our format.
pub fn card_of_code(
    host: &Host,
    config: &Config,
    code: &str,
) -> Result<Option<CardRecord>, PluginError> {
    match recognise(config, code) {
        Recognised::NotOurs => Ok(None),
        Recognised::BadCheckDigit(number) => Err(CardError::InvalidArgument(format!(
            "card number {} has a wrong check digit: mistyped?",
            masked(&number)
        ))
        .into()),
        Recognised::Card(number) => match store::find_card(host, &number)? {
            Some(card) => Ok(Some(card)),
            None => {
                Err(CardError::NotFound(format!("no card {} was sold", masked(&number))).into())
            }
        },
    }
}

/// The names of a card's programmes, for the cashier.
fn programme_names(config: &Config, card: &CardRecord) -> Vec<String> {
    card.programmes
        .iter()
        .filter_map(|p| config.programme(p).map(|p| p.name.clone()))
        .collect()
}

/// What `classify_code` says of a card.
pub fn info(host: &Host, config: &Config, card: &CardRecord) -> Result<CodeInfo, PluginError> {
    let stored_value = card
        .programmes
        .iter()
        .filter_map(|p| config.programme(p))
        .any(|p| p.kind() == Kind::StoredValue);
    let balance = if stored_value {
        Some(
            host.ledger_balance(&store::credit_account(&card.number))?
                .balance,
        )
    } else {
        None
    };
    Ok(CodeInfo {
        balance,
        state: Some("active".into()),
        customer: Some(card.customer.clone()),
        ..CodeInfo::new(CodeKind::CustomerCard)
    })
}

/// What `enter_code` does with a card: its holder becomes the sale's customer.
pub fn enter(config: &Config, card: &CardRecord) -> Effects {
    Effects {
        kind: Some(CodeKind::CustomerCard),
        message: Some(format!(
            "Kundenkarte {} von {}: {}",
            masked(&card.number),
            card.customer,
            programme_names(config, card).join(", ")
        )),
        set_customer: Some(card.customer.clone()),
        ..Effects::default()
    }
}
