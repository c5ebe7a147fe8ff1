//! Selling a card at the till (`sell-card`): a line for a card of a configured type whose
//! checkout records the card, assigns its programmes to the sale's customer (the seed's
//! "Neue Kundenkarte Programme zuordnen") and puts a session card's sessions on it. A void
//! of that receipt takes the card back, unless it was used since.

use std::collections::BTreeMap;

use posd_plugin_sdk::schema::{
    Action, ActionParam, CheckoutEffects, CodeKind, Effects, InvokeActionRequest, LineKind,
    NewLine, ParamType, Receipt, ReceiptSection, Sale,
};
use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::{Decimal, Host, PluginError};

use crate::config::{Config, Terms, WithoutCustomer};
use crate::error::CardError;
use crate::lines::{LineData, own_lines, string_arg, to_data};
use crate::number::{Recognised, masked, recognise};
use crate::store::{self, CardRecord, SESSIONS};

/// The action id.
pub const SELL_CARD: &str = "sell-card";

/// The `sell-card` action as offered on every sale.
pub fn action(config: &Config) -> Action {
    Action {
        id: SELL_CARD.into(),
        label: "Kundenkarte verkaufen".into(),
        params: vec![
            ActionParam {
                name: "card_type".into(),
                param_type: ParamType::Choice,
                required: true,
                default: config.card_types.first().map(|t| Value::from(t.id.clone())),
                choices: config.card_types.iter().map(|t| t.id.clone()).collect(),
                help: "die Art der verkauften Karte".into(),
                ..ActionParam::default()
            },
            ActionParam {
                name: "number".into(),
                param_type: ParamType::Code,
                required: true,
                help: "die auf der Karte gedruckte Nummer (scannen oder tippen)".into(),
                ..ActionParam::default()
            },
        ],
    }
}

/// A card number the cashier gave, checked: ours, check digit right.
pub fn card_number(config: &Config, input: &str) -> Result<String, CardError> {
    match recognise(config, input) {
        Recognised::Card(number) => Ok(number),
        Recognised::BadCheckDigit(number) => Err(CardError::InvalidArgument(format!(
            "card number {} has a wrong check digit: mistyped?",
            masked(&number)
        ))),
        Recognised::NotOurs => Err(CardError::InvalidArgument(format!(
            "{} is not a card number of this store ({} digits starting {})",
            masked(input),
            config.number_length,
            config.number_prefix
        ))),
    }
}

/// `sell-card`: the line of the card, and the customer it goes to.
pub fn sell(
    host: &Host,
    config: &Config,
    request: &InvokeActionRequest,
) -> Result<Effects, PluginError> {
    let type_id = string_arg(&request.args, "card_type")?
        .ok_or_else(|| PluginError::invalid_argument("argument card_type is required"))?;
    let card_type = config.card_type(&type_id).ok_or_else(|| {
        PluginError::invalid_argument(format!("card_type {type_id:?} is not configured"))
    })?;
    let input = string_arg(&request.args, "number")?
        .ok_or_else(|| PluginError::invalid_argument("argument number is required"))?;
    let number = card_number(config, &input)?;
    if let Some(sold) = store::find_card(host, &number)? {
        return Err(CardError::NotAllowed(format!(
            "card {} was sold already (receipt {}) and belongs to customer {}",
            masked(&number),
            sold.sold_on,
            sold.customer
        ))
        .into());
    }
    if own_lines(&request.sale.lines)
        .any(|(_, d)| matches!(d, LineData::SellCard { number: n, .. } if n == number))
    {
        return Err(CardError::Conflict(format!(
            "card {} is on this sale already",
            masked(&number)
        ))
        .into());
    }
    let has_customer = request
        .sale
        .customer
        .as_deref()
        .is_some_and(|c| !c.trim().is_empty());
    let set_customer = match (has_customer, config.without_customer) {
        (true, _) => None,
        (false, WithoutCustomer::CardBecomesCustomer) => Some(number.clone()),
        (false, WithoutCustomer::CustomerRequired) => {
            return Err(CardError::CustomerRequired(format!(
                "selling card {} needs the customer it is for on the sale",
                masked(&number)
            ))
            .into());
        }
    };
    let holder = set_customer
        .clone()
        .or_else(|| request.sale.customer.clone())
        .unwrap_or_default();
    let names: Vec<&str> = card_type
        .programmes
        .iter()
        .filter_map(|p| config.programme(p).map(|p| p.name.as_str()))
        .collect();
    Ok(Effects {
        kind: Some(CodeKind::CustomerCard),
        message: Some(format!(
            "{} {} für Kunde {holder}: {}",
            card_type.name,
            masked(&number),
            names.join(", ")
        )),
        add_lines: vec![NewLine {
            kind: LineKind::Item,
            sku: card_type.sku.clone(),
            name: format!("{} {}", card_type.name, masked(&number)),
            qty: Decimal::ONE,
            unit_price: card_type.price,
            tax_rate: card_type.tax_rate,
            reference: number.clone(),
            data: to_data(&LineData::SellCard {
                number: number.clone(),
                card_type: card_type.id.clone(),
            })?,
            ..NewLine::default()
        }],
        set_customer,
        result: Some(json!({"card": number, "customer": holder})),
        ..Effects::default()
    })
}

/// The holder a card sold on `sale` goes to at checkout.
fn holder_at_checkout(config: &Config, sale: &Sale, number: &str) -> Result<String, CardError> {
    match sale
        .customer
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(customer) => Ok(customer.to_string()),
        None => match config.without_customer {
            WithoutCustomer::CardBecomesCustomer => Ok(number.to_string()),
            WithoutCustomer::CustomerRequired => Err(CardError::CustomerRequired(format!(
                "card {} needs its customer on the sale",
                masked(number)
            ))),
        },
    }
}

/// What the checkout of `sale` commits for the cards sold on it: each card recorded and
/// indexed under its holder, a session card's sessions posted, a section per card.
pub fn checkout(
    host: &Host,
    config: &Config,
    sale: &Sale,
    receipt_id: &str,
    effects: &mut CheckoutEffects,
) -> Result<(), PluginError> {
    for (line, data) in own_lines(&sale.lines) {
        let LineData::SellCard { number, card_type } = data else {
            continue;
        };
        let card_type = config.card_type(&card_type).ok_or_else(|| {
            CardError::NotAllowed(format!(
                "line {}: card type {card_type:?} is no longer configured",
                line.id
            ))
        })?;
        if let Some(sold) = store::find_card(host, &number)? {
            return Err(CardError::Conflict(format!(
                "card {} was sold meanwhile (receipt {}); remove line {}",
                masked(&number),
                sold.sold_on,
                line.id
            ))
            .into());
        }
        let customer = holder_at_checkout(config, sale, &number)?;
        let mut sessions = BTreeMap::new();
        let mut texts = Vec::new();
        for id in &card_type.programmes {
            let Some(programme) = config.programme(id) else {
                continue;
            };
            if let Terms::Sessions { sessions: n } = programme.terms {
                sessions.insert(programme.id.clone(), n);
                let n = Decimal::from(n);
                effects.postings.push(store::floored(
                    store::session_account(&number, &programme.id),
                    n,
                    SESSIONS,
                    "issue",
                    &customer,
                ));
                effects.postings.push(store::posting(
                    store::session_pool(&programme.id),
                    -n,
                    SESSIONS,
                    "issue",
                ));
                texts.push(format!("{}: {n} Einheiten", programme.name));
            } else {
                texts.push(programme.name.clone());
            }
        }
        let card = CardRecord {
            number: number.clone(),
            card_type: card_type.id.clone(),
            customer: customer.clone(),
            programmes: card_type.programmes.clone(),
            sold_on: receipt_id.to_string(),
            sessions,
            currency: sale.currency.clone(),
        };
        effects.kv.extend(store::record_card(&card, true)?);
        let mut lines = vec![format!("Karteninhaber: {customer}")];
        lines.extend(texts.into_iter().map(|t| format!("Programm: {t}")));
        effects.sections.push(ReceiptSection {
            title: format!("{} {}", card_type.name, masked(&number)),
            lines,
            ..ReceiptSection::default()
        });
    }
    Ok(())
}

/// What a void of `receipt` does for the cards it sold: each card is taken back (record and
/// index removed, its unused sessions back to the pool) — refused with `NotAllowed` when the
/// card holds stored value or used a session since, which would otherwise vanish or be
/// given twice.
pub fn void(
    host: &Host,
    receipt: &Receipt,
    effects: &mut CheckoutEffects,
) -> Result<(), PluginError> {
    for (_, data) in own_lines(&receipt.lines) {
        let LineData::SellCard { number, .. } = data else {
            continue;
        };
        let Some(card) = store::find_card(host, &number)? else {
            continue;
        };
        if card.sold_on != receipt.id {
            continue;
        }
        let credit = host.ledger_balance(&store::credit_account(&number))?;
        if !credit.balance.is_zero() {
            return Err(CardError::NotAllowed(format!(
                "card {} holds {} {} of stored value: void its top-ups or spend it first (Storno nicht möglich)",
                masked(&number),
                credit.balance,
                credit.unit
            ))
            .into());
        }
        for (programme, issued) in &card.sessions {
            let left = host
                .ledger_balance(&store::session_account(&number, programme))?
                .balance;
            let issued = Decimal::from(*issued);
            if left != issued {
                return Err(CardError::NotAllowed(format!(
                    "card {} used {} of its {issued} sessions since it was sold: it can't be voided (Storno nicht möglich)",
                    masked(&number),
                    issued - left
                ))
                .into());
            }
            effects.postings.push(store::floored(
                store::session_account(&number, programme),
                -issued,
                SESSIONS,
                "void",
                &card.customer,
            ));
            effects.postings.push(store::posting(
                store::session_pool(programme),
                issued,
                SESSIONS,
                "void",
            ));
        }
        effects.kv.extend(store::record_card(&card, false)?);
        effects.sections.push(ReceiptSection {
            title: format!("Kundenkarte {} storniert", masked(&number)),
            lines: vec![format!("Programme von Kunde {} entfernt", card.customer)],
            ..ReceiptSection::default()
        });
    }
    Ok(())
}
