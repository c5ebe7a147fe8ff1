//! Stored value ("Guthabenkarte"): topped up at the till as a line outside VAT (like a
//! voucher top-up), spent as a tender of the configured method, given back onto the card
//! when goods paid with it come back, and reversed by a void.
//!
//! The balance is the ledger account `credit:<card>` (floor 0) against `credit-issued`; a
//! card's free balance during a sale is its balance less what tenders of the sale already
//! take from it.

use std::collections::BTreeMap;

use posd_plugin_sdk::schema::{
    Action, ActionParam, CheckoutEffects, CodeKind, Effects, InvokeActionRequest, LineKind,
    NewLine, ParamType, Receipt, ReceiptSection, ReturnLinesRequest, Sale, TakenRefund,
    ValidateTenderRequest, ValidateTenderResponse,
};
use posd_plugin_sdk::{Decimal, Host, PluginError};

use crate::config::{Config, Kind, Terms};
use crate::error::CardError;
use crate::holdings::{Holding, customer_of, holdings, of_kind};
use crate::lines::{
    LineData, TenderData, own_lines, own_tenders, string_arg, tender_data, to_data,
};
use crate::number::masked;
use crate::store::{self, CREDIT_POOL};

/// The top-up action id.
pub const TOPUP: &str = "topup";

/// The `topup` action, offered while the sale's customer holds stored value.
pub fn action() -> Action {
    Action {
        id: TOPUP.into(),
        label: "Guthaben aufladen".into(),
        params: vec![
            ActionParam {
                name: "amount".into(),
                param_type: ParamType::Decimal,
                required: true,
                help: "der eingezahlte Betrag".into(),
                ..ActionParam::default()
            },
            ActionParam {
                name: "card".into(),
                param_type: ParamType::Code,
                required: false,
                help: "die Karte (Nummer oder letzte 4 Ziffern), wenn der Kunde mehrere hat".into(),
                ..ActionParam::default()
            },
        ],
    }
}

/// An amount of money as given: more than 0, at most 2 decimals.
fn amount_arg(text: &str) -> Result<Decimal, CardError> {
    let amount: Decimal = text
        .parse()
        .map_err(|_| CardError::InvalidArgument(format!("amount {text:?} is not a decimal")))?;
    if amount <= Decimal::ZERO || amount.scale() > 2 || amount > Decimal::from(100_000) {
        return Err(CardError::InvalidArgument(format!(
            "amount {amount} must be more than 0, at most 100000, with at most 2 decimals"
        )));
    }
    Ok(amount)
}

/// What is on the sale for `card` already: top-ups in, tenders out.
fn on_sale(sale: &Sale, card: &str) -> (Decimal, Decimal) {
    let topped: Decimal = own_lines(&sale.lines)
        .filter(|(_, d)| matches!(d, LineData::Topup { card: c, .. } if c == card))
        .map(|(l, _)| l.amount)
        .sum();
    let spent: Decimal = own_tenders(sale)
        .filter(|(_, d)| d.card == card)
        .map(|(t, _)| t.amount)
        .sum();
    (topped, spent)
}

/// `topup`: a line outside VAT that puts `amount` on the customer's card at checkout.
pub fn topup(
    host: &Host,
    config: &Config,
    request: &InvokeActionRequest,
) -> Result<Effects, PluginError> {
    let customer = customer_of(&request.sale.customer, "a top-up")?;
    let amount = amount_arg(
        &string_arg(&request.args, "amount")?
            .ok_or_else(|| PluginError::invalid_argument("argument amount is required"))?,
    )?;
    let held = holdings(host, config, customer)?;
    let wanted = string_arg(&request.args, "card")?;
    let cards = of_kind(&held, Kind::StoredValue, wanted.as_deref(), customer)?;
    let holding = cards[0];
    let number = &holding.card.number;
    let balance = host.ledger_balance(&store::credit_account(number))?.balance;
    let (topped, _) = on_sale(&request.sale, number);
    if let Terms::StoredValue {
        max_balance: Some(max),
    } = holding.programme.terms
        && balance + topped + amount > max
    {
        return Err(CardError::NotAllowed(format!(
            "card {} would hold {} with this top-up, more than the {max} allowed",
            masked(number),
            balance + topped + amount
        ))
        .into());
    }
    Ok(Effects {
        kind: Some(CodeKind::CustomerCard),
        message: Some(format!(
            "{} {} +{amount} (Guthaben {balance})",
            holding.programme.name,
            masked(number)
        )),
        add_lines: vec![NewLine {
            kind: LineKind::VoucherTopup,
            name: format!("{} Aufladung {}", holding.programme.name, masked(number)),
            qty: Decimal::ONE,
            unit_price: amount,
            tax_rate: Decimal::ZERO,
            reference: number.clone(),
            data: to_data(&LineData::Topup {
                card: number.clone(),
                programme: holding.programme.id.clone(),
            })?,
            ..NewLine::default()
        }],
        // The top-up is the customer's: keep them on the sale while it is in the basket.
        lock_customer: Some(true),
        ..Effects::default()
    })
}

/// `validate_tender` for the configured method: the customer's card pays the amount asked
/// if its free balance covers it, else `InsufficientBalance`. `details` may name the card
/// (`card`: number or last four digits); without it the first card that covers the amount.
pub fn validate(
    host: &Host,
    config: &Config,
    request: &ValidateTenderRequest,
) -> Result<ValidateTenderResponse, PluginError> {
    if let Some(key) = request.tender.details.keys().find(|k| k.as_str() != "card") {
        return Err(PluginError::invalid_argument(format!(
            "details key {key:?}: tender {} takes only card",
            config.tender_method
        )));
    }
    let customer = customer_of(&request.sale.customer, "paying with stored value")?;
    let wanted = match request.tender.details.get("card") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .ok_or_else(|| PluginError::invalid_argument("details card must be text"))?
                .to_string(),
        ),
    };
    let held = holdings(host, config, customer)?;
    let cards = of_kind(&held, Kind::StoredValue, wanted.as_deref(), customer)?;
    let asked = request.tender.amount;
    let mut best: Option<(&Holding, Decimal)> = None;
    for holding in cards {
        let balance = host
            .ledger_balance(&store::credit_account(&holding.card.number))?
            .balance;
        let (_, spent) = on_sale(&request.sale, &holding.card.number);
        let free = balance - spent;
        if free >= asked {
            return Ok(ValidateTenderResponse {
                amount: asked,
                reference: masked(&holding.card.number),
                data: to_data(&TenderData {
                    card: holding.card.number.clone(),
                    programme: holding.programme.id.clone(),
                })?,
            });
        }
        if best.is_none_or(|(_, b)| free > b) {
            best = Some((holding, free));
        }
    }
    let (holding, free) = best.ok_or_else(|| CardError::NotFound("no stored-value card".into()))?;
    Err(CardError::InsufficientBalance(format!(
        "card {} has {} of stored value free, {asked} asked",
        masked(&holding.card.number),
        free.max(Decimal::ZERO)
    ))
    .into())
}

/// Balance changes per card on a sale or receipt: (top-ups, payments, programme).
fn movements(
    lines: &[posd_plugin_sdk::schema::Line],
    tenders: &[posd_plugin_sdk::schema::Tender],
) -> BTreeMap<String, (Decimal, Decimal, String)> {
    let mut moves: BTreeMap<String, (Decimal, Decimal, String)> = BTreeMap::new();
    for (line, data) in own_lines(lines) {
        if let LineData::Topup { card, programme } = data {
            let entry = moves
                .entry(card)
                .or_insert((Decimal::ZERO, Decimal::ZERO, programme));
            entry.0 += line.amount;
        }
    }
    for tender in tenders {
        if let Some(data) = tender_data(tender) {
            let entry =
                moves
                    .entry(data.card)
                    .or_insert((Decimal::ZERO, Decimal::ZERO, data.programme));
            entry.1 += tender.amount;
        }
    }
    moves
}

fn programme_name(config: &Config, id: &str) -> String {
    config
        .programme(id)
        .map_or_else(|| "Guthabenkarte".to_string(), |p| p.name.clone())
}

/// What the checkout of `sale` posts for stored value: top-ups onto their cards, payments
/// off them (floor 0: a card spent at another till meanwhile fails the checkout with
/// `InsufficientBalance`), and a section per card with its new balance.
pub fn checkout(
    host: &Host,
    config: &Config,
    sale: &Sale,
    unit: &str,
    effects: &mut CheckoutEffects,
) -> Result<(), PluginError> {
    let customer = sale.customer.clone().unwrap_or_default();
    for (card, (topped, paid, programme)) in movements(&sale.lines, &sale.tenders) {
        let account = store::credit_account(&card);
        let balance = host.ledger_balance(&account)?.balance;
        let mut lines = Vec::new();
        if !topped.is_zero() {
            effects.postings.push(store::floored(
                account.clone(),
                topped,
                unit,
                "topup",
                &customer,
            ));
            effects
                .postings
                .push(store::posting(CREDIT_POOL.into(), -topped, unit, "topup"));
            lines.push(format!("Aufgeladen: {topped} {unit}"));
        }
        if !paid.is_zero() {
            effects.postings.push(store::floored(
                account.clone(),
                -paid,
                unit,
                "redeem",
                &customer,
            ));
            effects
                .postings
                .push(store::posting(CREDIT_POOL.into(), paid, unit, "redeem"));
            lines.push(format!("Bezahlt: {paid} {unit}"));
        }
        lines.push(format!("Guthaben: {} {unit}", balance + topped - paid));
        effects.sections.push(ReceiptSection {
            title: format!("{} {}", programme_name(config, &programme), masked(&card)),
            lines,
            ..ReceiptSection::default()
        });
    }
    Ok(())
}

/// What a void of `receipt` posts for stored value: top-ups come off their cards (refused
/// with `NotAllowed` when the value was spent since: it would be paid out twice), payments
/// go back on.
pub fn void(
    host: &Host,
    config: &Config,
    receipt: &Receipt,
    unit: &str,
    effects: &mut CheckoutEffects,
) -> Result<(), PluginError> {
    let customer = receipt.customer.clone().unwrap_or_default();
    for (card, (topped, paid, programme)) in movements(&receipt.lines, &receipt.tenders) {
        let account = store::credit_account(&card);
        let balance = host.ledger_balance(&account)?.balance;
        let after = balance - topped + paid;
        if after < Decimal::ZERO {
            return Err(CardError::NotAllowed(format!(
                "receipt {} topped card {} up by {topped} {unit}, but only {balance} {unit} is left: the top-up was spent since (Storno nicht möglich)",
                receipt.id,
                masked(&card)
            ))
            .into());
        }
        let mut lines = Vec::new();
        if !paid.is_zero() {
            effects.postings.push(store::floored(
                account.clone(),
                paid,
                unit,
                "void",
                &customer,
            ));
            effects
                .postings
                .push(store::posting(CREDIT_POOL.into(), -paid, unit, "void"));
            lines.push(format!("Zurückgebucht: {paid} {unit}"));
        }
        if !topped.is_zero() {
            effects.postings.push(store::floored(
                account.clone(),
                -topped,
                unit,
                "void",
                &customer,
            ));
            effects
                .postings
                .push(store::posting(CREDIT_POOL.into(), topped, unit, "void"));
            lines.push(format!("Aufladung storniert: {topped} {unit}"));
        }
        lines.push(format!("Guthaben: {after} {unit}"));
        effects.sections.push(ReceiptSection {
            title: format!("{} {}", programme_name(config, &programme), masked(&card)),
            lines,
            ..ReceiptSection::default()
        });
    }
    Ok(())
}

/// A return's shares on stored-value tenders go back onto the cards they were paid with.
pub fn refunds(
    host: &Host,
    config: &Config,
    request: &ReturnLinesRequest,
    unit: &str,
    effects: &mut CheckoutEffects,
) -> Result<Vec<TakenRefund>, PluginError> {
    let customer = request.receipt.customer.clone().unwrap_or_default();
    let mut taken = Vec::new();
    let mut added: BTreeMap<String, Decimal> = BTreeMap::new();
    for share in &request.refunds {
        let Some((tender, data)) = request
            .receipt
            .tenders
            .iter()
            .find(|t| t.id == share.tender)
            .and_then(|t| tender_data(t).map(|d| (t, d)))
        else {
            continue;
        };
        if share.amount <= Decimal::ZERO {
            continue;
        }
        let account = store::credit_account(&data.card);
        let balance = host.ledger_balance(&account)?.balance;
        let sum = added.entry(data.card.clone()).or_default();
        *sum += share.amount;
        effects.postings.push(store::floored(
            account,
            share.amount,
            unit,
            "return",
            &customer,
        ));
        effects.postings.push(store::posting(
            CREDIT_POOL.into(),
            -share.amount,
            unit,
            "return",
        ));
        effects.sections.push(ReceiptSection {
            title: format!(
                "{} {}",
                programme_name(config, &data.programme),
                masked(&data.card)
            ),
            lines: vec![
                format!("Zurückgebucht: {} {unit}", share.amount),
                format!("Guthaben: {} {unit}", balance + *sum),
            ],
            ..ReceiptSection::default()
        });
        taken.push(TakenRefund {
            tender: tender.id.clone(),
            amount: share.amount,
            reference: Some(masked(&data.card)),
        });
    }
    Ok(taken)
}
