//! The warranty extension ("Garantieverlängerung"): the cashier enters an item's serial
//! number through the action `warranty` on the sale; the checkout records the extended
//! warranty under the serial (kv `warranty:<serial>`), prints it on the receipt, and
//! `posctl warranty SERIAL` finds it later. A void marks it voided (kept, for the record).

use posd_plugin_sdk::schema::InvokeAdminActionResponse;
use posd_plugin_sdk::schema::{
    Action, ActionParam, AdminAction, CheckoutEffects, CodeKind, Effects, ExcludedLine,
    InvokeActionRequest, KvWrite, LineKind, NewLine, ParamType, Receipt, ReceiptSection, RefKind,
    ReturnLinesRequest, Sale,
};
use posd_plugin_sdk::serde_json::json;
use posd_plugin_sdk::{Decimal, Host, PluginError};
use serde::{Deserialize, Serialize};

use crate::ID;
use crate::config::{Config, Kind, Terms};
use crate::date::Date;
use crate::error::CardError;
use crate::holdings::{customer_of, holdings, of_kind};
use crate::lines::{LineData, own_lines, string_arg, to_data};
use crate::number::masked;

/// The sale action id, and the admin action's.
pub const WARRANTY: &str = "warranty";

/// An extended warranty as recorded at checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warranty {
    /// The item's serial number.
    pub serial: String,
    /// The item's article number.
    pub sku: String,
    /// The item's name.
    pub item: String,
    /// The customer.
    pub customer: String,
    /// The card whose programme granted it.
    pub card: String,
    /// The warranty programme.
    pub programme: String,
    /// The receipt the item was sold on.
    pub receipt: String,
    /// The day of sale, `YYYY-MM-DD`.
    pub sold: String,
    /// The last day the extended warranty covers, `YYYY-MM-DD`.
    pub until: String,
    /// The void receipt, when the sale was voided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided: Option<String>,
    /// The return receipt, when the item came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned: Option<String>,
}

/// The kv key of a warranty.
pub fn key(serial: &str) -> String {
    format!("warranty:{serial}")
}

/// A serial number as entered: trimmed, upper case, 1 to 40 letters, digits, `-`, `/`, `.`.
pub fn serial(input: &str) -> Result<String, CardError> {
    let s = input.trim().to_uppercase();
    if s.is_empty()
        || s.len() > 40
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'.'))
    {
        return Err(CardError::InvalidArgument(format!(
            "serial {input:?} must be 1 to 40 letters, digits, -, / or ."
        )));
    }
    Ok(s)
}

/// The sale action `warranty`, offered while the customer holds a warranty programme.
pub fn action() -> Action {
    Action {
        id: WARRANTY.into(),
        label: "Garantieverlängerung erfassen".into(),
        params: vec![
            ActionParam {
                name: "line".into(),
                param_type: ParamType::String,
                required: true,
                help: "die Position des Artikels".into(),
                ..ActionParam::default()
            },
            ActionParam {
                name: "serial".into(),
                param_type: ParamType::String,
                required: true,
                help: "die Seriennummer des Artikels".into(),
                ..ActionParam::default()
            },
        ],
    }
}

/// The warranty recorded for `serial` that is still in force (not voided, item not
/// returned).
fn recorded(host: &Host, serial: &str) -> Result<Option<Warranty>, PluginError> {
    Ok(host
        .kv_get::<Warranty>(&key(serial))?
        .filter(|w| w.voided.is_none() && w.returned.is_none()))
}

/// `warranty`: a line recording an extended warranty for the item on `line` with `serial`.
pub fn register(
    host: &Host,
    config: &Config,
    request: &InvokeActionRequest,
) -> Result<Effects, PluginError> {
    let customer = customer_of(&request.sale.customer, "a warranty extension")?;
    let line_id = string_arg(&request.args, "line")?
        .ok_or_else(|| PluginError::invalid_argument("argument line is required"))?;
    let serial = serial(
        &string_arg(&request.args, "serial")?
            .ok_or_else(|| PluginError::invalid_argument("argument serial is required"))?,
    )?;
    let held = holdings(host, config, customer)?;
    let holding = of_kind(&held, Kind::Warranty, None, customer)?[0];
    let Terms::Warranty {
        months,
        tags,
        price,
        tax_rate,
    } = &holding.programme.terms
    else {
        return Err(PluginError::plugin_failed(
            "a warranty holding without warranty terms",
        ));
    };
    let line = request
        .sale
        .lines
        .iter()
        .find(|l| l.id == line_id)
        .ok_or_else(|| CardError::InvalidArgument(format!("line {line_id} is not on the sale")))?;
    let covered = line.kind == LineKind::Item
        && line.plugin != ID
        && (tags.is_empty() || line.tags.iter().any(|t| tags.contains(t)));
    if !covered {
        return Err(CardError::InvalidArgument(format!(
            "line {line_id} ({}) is no item {} covers",
            line.name, holding.programme.name
        ))
        .into());
    }
    if let Some(w) = recorded(host, &serial)? {
        return Err(CardError::Conflict(format!(
            "serial {serial} has an extended warranty already (receipt {}, until {})",
            w.receipt, w.until
        ))
        .into());
    }
    if own_lines(&request.sale.lines)
        .any(|(_, d)| matches!(d, LineData::Warranty { serial: s, .. } if s == serial))
    {
        return Err(CardError::Conflict(format!("serial {serial} is on this sale already")).into());
    }
    Ok(Effects {
        kind: Some(CodeKind::CustomerCard),
        message: Some(format!(
            "{} {months} Monate für {} (SN {serial})",
            holding.programme.name, line.name
        )),
        add_lines: vec![NewLine {
            kind: LineKind::Item,
            name: format!(
                "{} {months} Monate: {} SN {serial}",
                holding.programme.name, line.name
            ),
            qty: Decimal::ONE,
            unit_price: *price,
            tax_rate: *tax_rate,
            reference: serial.clone(),
            // A serial is no secret: printed in full, so the customer can read it.
            ref_kind: RefKind::Rule,
            data: to_data(&LineData::Warranty {
                card: holding.card.number.clone(),
                programme: holding.programme.id.clone(),
                serial: serial.clone(),
                line: line.id.clone(),
            })?,
            ..NewLine::default()
        }],
        result: Some(json!({"serial": serial})),
        ..Effects::default()
    })
}

/// What the checkout of `sale` records for its warranty lines, with a receipt section each.
pub fn checkout(
    host: &Host,
    config: &Config,
    sale: &Sale,
    receipt_id: &str,
    effects: &mut CheckoutEffects,
) -> Result<(), PluginError> {
    let today = Date::from_epoch_ms(host.now());
    for (own, data) in own_lines(&sale.lines) {
        let LineData::Warranty {
            card,
            programme,
            serial,
            line,
        } = data
        else {
            continue;
        };
        let item = sale.lines.iter().find(|l| l.id == line).ok_or_else(|| {
            CardError::InvalidArgument(format!(
                "line {}: the item {line} it covers was removed; remove the warranty line too",
                own.id
            ))
        })?;
        let Some(Terms::Warranty { months, .. }) = config.programme(&programme).map(|p| &p.terms)
        else {
            return Err(CardError::NotAllowed(format!(
                "line {}: warranty programme {programme:?} is no longer configured",
                own.id
            ))
            .into());
        };
        if let Some(w) = recorded(host, &serial)? {
            return Err(CardError::Conflict(format!(
                "serial {serial} got an extended warranty meanwhile (receipt {})",
                w.receipt
            ))
            .into());
        }
        let until = today.plus_months(*months);
        let warranty = Warranty {
            serial: serial.clone(),
            sku: item.sku.clone(),
            item: item.name.clone(),
            customer: sale.customer.clone().unwrap_or_default(),
            card: card.clone(),
            programme: programme.clone(),
            receipt: receipt_id.to_string(),
            sold: today.to_string(),
            until: until.to_string(),
            voided: None,
            returned: None,
        };
        effects.kv.push(KvWrite::new(key(&serial), &warranty)?);
        let name = config
            .programme(&programme)
            .map_or("Garantieverlängerung", |p| p.name.as_str());
        effects.sections.push(ReceiptSection {
            title: name.to_string(),
            lines: vec![
                format!("Artikel: {}", item.name),
                format!("Seriennummer: {serial}"),
                format!("Garantie bis: {until}"),
                format!("Kundenkarte: {}", masked(&card)),
            ],
            ..ReceiptSection::default()
        });
    }
    Ok(())
}

/// What a void of `receipt` does to the warranties it recorded: marked voided.
pub fn void(
    host: &Host,
    receipt: &Receipt,
    void_receipt_id: &str,
    effects: &mut CheckoutEffects,
) -> Result<(), PluginError> {
    for (_, data) in own_lines(&receipt.lines) {
        let LineData::Warranty { serial, .. } = data else {
            continue;
        };
        let Some(mut w) = host.kv_get::<Warranty>(&key(&serial))? else {
            continue;
        };
        if w.receipt != receipt.id {
            continue;
        }
        w.voided = Some(void_receipt_id.to_string());
        effects.kv.push(KvWrite::new(key(&serial), &w)?);
        effects.sections.push(ReceiptSection {
            title: "Garantieverlängerung storniert".into(),
            lines: vec![format!("Seriennummer: {serial}")],
            ..ReceiptSection::default()
        });
    }
    Ok(())
}

/// What a return does to the warranties of its receipt: an item that comes back in full
/// ends its extended warranty (marked `returned`, kept for the record). Lines the return
/// excludes are not back.
pub fn returns(
    host: &Host,
    request: &ReturnLinesRequest,
    excluded: &[ExcludedLine],
    effects: &mut CheckoutEffects,
) -> Result<(), PluginError> {
    let receipt = &request.receipt;
    for (_, data) in own_lines(&receipt.lines) {
        let LineData::Warranty { serial, line, .. } = data else {
            continue;
        };
        let Some(item) = receipt.lines.iter().find(|l| l.id == line) else {
            continue;
        };
        let back: Decimal = request
            .lines
            .iter()
            .filter(|r| r.line == line && !excluded.iter().any(|e| e.line == r.line))
            .map(|r| r.qty)
            .sum();
        let before: Decimal = request
            .returned_before
            .iter()
            .filter(|r| r.line == line)
            .map(|r| r.qty)
            .sum();
        if back.is_zero() || back + before < item.qty {
            continue;
        }
        let Some(mut w) = host.kv_get::<Warranty>(&key(&serial))? else {
            continue;
        };
        if w.receipt != receipt.id || w.voided.is_some() {
            continue;
        }
        w.returned = Some(request.return_receipt_id.clone());
        effects.kv.push(KvWrite::new(key(&serial), &w)?);
        effects.sections.push(ReceiptSection {
            title: "Garantieverlängerung beendet".into(),
            lines: vec![format!("Seriennummer: {serial} (Artikel zurückgegeben)")],
            ..ReceiptSection::default()
        });
    }
    Ok(())
}

/// The admin action `posctl warranty SERIAL`.
pub fn admin_action() -> AdminAction {
    AdminAction {
        id: WARRANTY.into(),
        command: vec![WARRANTY.into()],
        label: "Show the extended warranty of a serial number".into(),
        help: "Looks up the extended warranty recorded for an item's serial number.".into(),
        params: vec![ActionParam {
            name: "serial".into(),
            param_type: ParamType::String,
            required: true,
            help: "the item's serial number".into(),
            ..ActionParam::default()
        }],
    }
}

/// `posctl warranty SERIAL`: the warranty recorded, or `NotFound`; its state is `active`,
/// `expired` (the host's day is past `until`), `voided` or `returned`.
pub fn lookup(
    host: &Host,
    args: &posd_plugin_sdk::serde_json::Map<String, posd_plugin_sdk::serde_json::Value>,
) -> Result<InvokeAdminActionResponse, PluginError> {
    let serial = serial(
        &string_arg(args, "serial")?
            .ok_or_else(|| PluginError::invalid_argument("argument serial is required"))?,
    )?;
    let w = host
        .kv_get::<Warranty>(&key(&serial))?
        .ok_or_else(|| CardError::NotFound(format!("no extended warranty for serial {serial}")))?;
    // Days as YYYY-MM-DD compare as text.
    let today = Date::from_epoch_ms(host.now()).to_string();
    let (state, word) = match (&w.voided, &w.returned) {
        (Some(void), _) => (format!("voided by {void}"), "voided"),
        (None, Some(back)) => (format!("item returned on {back}"), "returned"),
        (None, None) if today > w.until => (format!("expired on {}", w.until), "expired"),
        (None, None) => ("active".to_string(), "active"),
    };
    Ok(InvokeAdminActionResponse {
        text: format!(
            "serial {}: {} ({}), customer {}, card {}, sold {} on {}, extended warranty until {}, {state}",
            w.serial,
            w.item,
            w.sku,
            w.customer,
            masked(&w.card),
            w.sold,
            w.receipt,
            w.until
        ),
        result: json!({
            "serial": w.serial, "item": w.item, "sku": w.sku, "customer": w.customer,
            "card": masked(&w.card), "programme": w.programme, "receipt": w.receipt,
            "sold": w.sold, "until": w.until, "state": word,
        }),
        ..InvokeAdminActionResponse::default()
    })
}
