//! The session card ("Trainingskarte", therapy sessions): N sessions put on the card when it
//! is sold (`sessions:<card>:<programme>`, unit `sessions`, floor 0); each visit uses one
//! through the action `use-session`, a 0.00 line of the sale, posted at checkout with the
//! sessions left printed on the receipt. A void gives the session back.

use std::collections::BTreeMap;

use posd_plugin_sdk::schema::{
    Action, ActionParam, CheckoutEffects, CodeKind, Effects, InvokeActionRequest, LineKind,
    NewLine, ParamType, Receipt, ReceiptSection, Sale,
};
use posd_plugin_sdk::{Decimal, Host, PluginError, WholeUnits};

use crate::config::{Config, Kind, Terms};
use crate::error::CardError;
use crate::holdings::{customer_of, holdings, of_kind};
use crate::lines::{LineData, own_lines, string_arg, to_data};
use crate::number::masked;
use crate::store::{self, SESSIONS};

/// The action id.
pub const USE_SESSION: &str = "use-session";

/// The `use-session` action, offered while the sale's customer holds a session card.
pub fn action() -> Action {
    Action {
        id: USE_SESSION.into(),
        label: "Einheit abbuchen".into(),
        params: vec![ActionParam {
            name: "card".into(),
            param_type: ParamType::Code,
            required: false,
            help: "die Karte (Nummer oder letzte 4 Ziffern), wenn der Kunde mehrere hat".into(),
            ..ActionParam::default()
        }],
    }
}

/// Sessions used on the sale per (card, programme).
fn on_sale(
    lines: &[posd_plugin_sdk::schema::Line],
) -> Result<BTreeMap<(String, String), u64>, PluginError> {
    let mut used = BTreeMap::new();
    for (line, data) in own_lines(lines) {
        if let LineData::Session { card, programme } = data {
            *used.entry((card, programme)).or_default() += line.qty.abs().whole_units()?;
        }
    }
    Ok(used)
}

fn total_of(config: &Config, programme: &str) -> Option<u32> {
    match config.programme(programme).map(|p| &p.terms) {
        Some(Terms::Sessions { sessions }) => Some(*sessions),
        _ => None,
    }
}

/// `use-session`: a 0.00 line using one session of the customer's card; a card with none
/// left (counting those already on the sale) is `InsufficientBalance`.
pub fn use_one(
    host: &Host,
    config: &Config,
    request: &InvokeActionRequest,
) -> Result<Effects, PluginError> {
    let customer = customer_of(&request.sale.customer, "using a session")?;
    let held = holdings(host, config, customer)?;
    let wanted = string_arg(&request.args, "card")?;
    let cards = of_kind(&held, Kind::Sessions, wanted.as_deref(), customer)?;
    let used = on_sale(&request.sale.lines)?;
    let mut last = None;
    for holding in cards {
        let number = &holding.card.number;
        let left = host
            .ledger_balance(&store::session_account(number, &holding.programme.id))?
            .balance;
        let pending = Decimal::from(
            used.get(&(number.clone(), holding.programme.id.clone()))
                .copied()
                .unwrap_or(0),
        );
        let free = left - pending;
        if free <= Decimal::ZERO {
            last = Some(number.clone());
            continue;
        }
        return Ok(Effects {
            kind: Some(CodeKind::CustomerCard),
            message: Some(format!(
                "{} {}: 1 Einheit, danach {} übrig",
                holding.programme.name,
                masked(number),
                free - Decimal::ONE
            )),
            add_lines: vec![NewLine {
                kind: LineKind::Item,
                name: format!("{} {}", holding.programme.name, masked(number)),
                qty: Decimal::ONE,
                unit_price: Decimal::ZERO,
                tax_rate: Decimal::ZERO,
                reference: number.clone(),
                data: to_data(&LineData::Session {
                    card: number.clone(),
                    programme: holding.programme.id.clone(),
                })?,
                ..NewLine::default()
            }],
            ..Effects::default()
        });
    }
    Err(CardError::InsufficientBalance(format!(
        "card {} has no sessions left",
        last.as_deref().map(masked).unwrap_or_default()
    ))
    .into())
}

/// What the checkout of `sale` posts for sessions used (floor 0) and prints: the sessions
/// left per card.
pub fn checkout(
    host: &Host,
    config: &Config,
    sale: &Sale,
    effects: &mut CheckoutEffects,
) -> Result<(), PluginError> {
    let customer = sale.customer.clone().unwrap_or_default();
    for ((card, programme), n) in on_sale(&sale.lines)? {
        if n == 0 {
            continue;
        }
        let account = store::session_account(&card, &programme);
        let left = host.ledger_balance(&account)?.balance;
        let n = Decimal::from(n);
        effects
            .postings
            .push(store::floored(account, -n, SESSIONS, "use", &customer));
        effects.postings.push(store::posting(
            store::session_pool(&programme),
            n,
            SESSIONS,
            "use",
        ));
        let name = config
            .programme(&programme)
            .map_or("Trainingskarte", |p| p.name.as_str());
        let mut lines = vec![
            format!("Einheiten genutzt: {n}"),
            format!("Verbleibende Einheiten: {}", left - n),
        ];
        if let Some(total) = total_of(config, &programme) {
            lines.push(format!("Karte über {total} Einheiten"));
        }
        effects.sections.push(ReceiptSection {
            title: format!("{name} {}", masked(&card)),
            lines,
            ..ReceiptSection::default()
        });
    }
    Ok(())
}

/// What a void of `receipt` posts for sessions it used: they come back onto the card.
pub fn void(
    host: &Host,
    config: &Config,
    receipt: &Receipt,
    effects: &mut CheckoutEffects,
) -> Result<(), PluginError> {
    let customer = receipt.customer.clone().unwrap_or_default();
    for ((card, programme), n) in on_sale(&receipt.lines)? {
        if n == 0 {
            continue;
        }
        let account = store::session_account(&card, &programme);
        let left = host.ledger_balance(&account)?.balance;
        let n = Decimal::from(n);
        effects
            .postings
            .push(store::floored(account, n, SESSIONS, "void", &customer));
        effects.postings.push(store::posting(
            store::session_pool(&programme),
            -n,
            SESSIONS,
            "void",
        ));
        let name = config
            .programme(&programme)
            .map_or("Trainingskarte", |p| p.name.as_str());
        effects.sections.push(ReceiptSection {
            title: format!("{name} {}", masked(&card)),
            lines: vec![
                format!("Einheiten zurückgebucht: {n}"),
                format!("Verbleibende Einheiten: {}", left + n),
            ],
            ..ReceiptSection::default()
        });
    }
    Ok(())
}
