//! What a customer holds: every programme of every card of theirs, with the programme's
//! terms from the configuration. The one place the hooks ask "may this customer …?".

use posd_plugin_sdk::schema::Sale;
use posd_plugin_sdk::{Host, PluginError};

use crate::config::{Config, Kind, Programme};
use crate::error::CardError;
use crate::lines::{LineData, own_lines, own_tenders};
use crate::number::masked;
use crate::store::{self, CardRecord};

/// One programme on one card of a customer.
#[derive(Debug, Clone)]
pub struct Holding<'c> {
    /// The card.
    pub card: CardRecord,
    /// The programme, as configured now.
    pub programme: &'c Programme,
}

/// Every programme on every card of `customer`, cards by number, programmes in their card
/// type's order. A programme no longer configured is left out.
pub fn holdings<'c>(
    host: &Host,
    config: &'c Config,
    customer: &str,
) -> Result<Vec<Holding<'c>>, PluginError> {
    let mut held = Vec::new();
    for card in store::cards_of(host, customer)? {
        for id in &card.programmes {
            if let Some(programme) = config.programme(id) {
                held.push(Holding {
                    card: card.clone(),
                    programme,
                });
            }
        }
    }
    Ok(held)
}

/// The sale's customer, or `CustomerRequired` saying what needs one.
pub fn customer_of<'s>(customer: &'s Option<String>, what: &str) -> Result<&'s str, CardError> {
    customer
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            CardError::CustomerRequired(format!("{what} needs the card's customer on the sale"))
        })
}

/// The holdings of `kind`, narrowed to the card `wanted` (its full number or last four
/// digits) when given; `NotFound` when nothing is left.
pub fn of_kind<'h, 'c>(
    held: &'h [Holding<'c>],
    kind: Kind,
    wanted: Option<&str>,
    customer: &str,
) -> Result<Vec<&'h Holding<'c>>, CardError> {
    let found: Vec<&Holding> = held
        .iter()
        .filter(|h| h.programme.kind() == kind)
        .filter(|h| {
            wanted.is_none_or(|w| {
                let w: String = w.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
                h.card.number == w || (w.len() == 4 && h.card.number.ends_with(&w))
            })
        })
        .collect();
    if found.is_empty() {
        return Err(CardError::NotFound(match wanted {
            Some(w) => format!(
                "customer {customer} holds no card {} with a {kind:?} programme",
                masked(w)
            ),
            None => format!("customer {customer} holds no card with a {kind:?} programme"),
        }));
    }
    Ok(found)
}

/// Refuses a checkout whose top-ups, sessions, warranties or stored-value tenders are for a
/// card the sale's customer does not hold (the customer changed after they were added):
/// `NotAllowed`, so no one spends or tops up another customer's card.
pub fn check_holders(host: &Host, sale: &Sale) -> Result<(), PluginError> {
    let customer = sale.customer.as_deref().map(str::trim).unwrap_or_default();
    let mut cards: Vec<String> = own_lines(&sale.lines)
        .filter_map(|(_, d)| match d {
            LineData::Topup { card, .. }
            | LineData::Session { card, .. }
            | LineData::Warranty { card, .. } => Some(card),
            _ => None,
        })
        .collect();
    cards.extend(own_tenders(sale).map(|(_, d)| d.card));
    cards.sort();
    cards.dedup();
    for number in cards {
        let holder = store::find_card(host, &number)?.map(|c| c.customer);
        if holder.as_deref() != Some(customer) {
            return Err(CardError::NotAllowed(format!(
                "card {} is not held by the sale's customer {customer:?}: remove its lines and tenders or set its customer again",
                masked(&number)
            ))
            .into());
        }
    }
    Ok(())
}
