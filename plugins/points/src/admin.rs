//! Admin actions (posctl subcommands):
//! - `posctl points CUSTOMER` — balance per programme (spendable, debt, due expiry, next
//!   expiry) and the newest postings;
//! - `posctl points expire [--customer C]` — posts every expired lot of one customer or of
//!   every customer who ever had points, as one journal entry (ABI 1.2 effects; not offered
//!   on an older host, which would drop them).

use posd_plugin_sdk::schema::{
    ActionParam, AdminAction, CheckoutEffects, InvokeAdminActionRequest, InvokeAdminActionResponse,
    ParamType,
};
use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::{Decimal, Host, PluginError};

use crate::accounts::{Account, Postings, customer_account, expired_account};
use crate::checkout::customer_index_key;
use crate::config::Config;
use crate::date::Date;
use crate::error::PointsError;
use crate::texts;

/// The action that shows a customer's points.
pub const SHOW: &str = "show";
/// The action that posts expired points.
pub const EXPIRE: &str = "expire";

/// The actions offered on a host of ABI minor `abi_minor`.
pub fn list(abi_minor: u16) -> Vec<AdminAction> {
    let customer = |required: bool| ActionParam {
        name: "customer".into(),
        param_type: ParamType::String,
        required,
        help: "the customer id, as on the sale".into(),
        ..ActionParam::default()
    };
    let mut actions = vec![AdminAction {
        id: SHOW.into(),
        command: vec!["points".into()],
        label: "Show a customer's points".into(),
        help: "Balance per programme and the newest postings.".into(),
        params: vec![customer(true)],
    }];
    if abi_minor >= 2 {
        actions.push(AdminAction {
            id: EXPIRE.into(),
            command: vec!["points".into(), "expire".into()],
            label: "Post expired points".into(),
            help: "First in, first out; one customer, or everyone who ever had points.".into(),
            params: vec![customer(false)],
        });
    }
    actions
}

fn customer_arg(request: &InvokeAdminActionRequest) -> Result<Option<String>, PointsError> {
    match request.args.get("customer") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(c)) if !c.trim().is_empty() => Ok(Some(c.trim().to_string())),
        Some(other) => Err(PointsError::InvalidArgument(format!(
            "customer: {other} is not a customer id"
        ))),
    }
}

/// Runs one admin action.
pub fn invoke(
    config: &Config,
    host: &Host,
    request: &InvokeAdminActionRequest,
) -> Result<InvokeAdminActionResponse, PluginError> {
    match request.action.as_str() {
        SHOW => {
            let customer = customer_arg(request)?
                .ok_or_else(|| PointsError::InvalidArgument("customer: required".into()))?;
            show(config, host, &customer)
        }
        EXPIRE if host.abi_minor() >= 2 => {
            let customers = match customer_arg(request)? {
                Some(c) => vec![c],
                None => host
                    .kv_list("customers:")?
                    .into_iter()
                    .filter_map(|e| e.key.strip_prefix("customers:").map(str::to_string))
                    .collect(),
            };
            expire(config, host, &customers)
        }
        other => Err(PointsError::NotFound(format!("no admin action {other}")).into()),
    }
}

fn show(
    config: &Config,
    host: &Host,
    customer: &str,
) -> Result<InvokeAdminActionResponse, PluginError> {
    let today = Date::from_epoch_ms(host.now());
    let mut text = vec![format!("Customer {customer}")];
    let mut programmes = Vec::new();
    let mut known = host
        .kv_get::<bool>(&customer_index_key(customer))?
        .is_some();
    for programme in &config.programmes {
        let account = Account::read(host, programme, customer)?;
        let history = host.ledger_postings(
            &customer_account(programme, customer),
            Some(config.history_limit),
        )?;
        known |= !history.is_empty();
        let due = account.due_expiry(today);
        let spendable = account.spendable(today);
        let mut holdings = account.holdings.clone();
        holdings.drop_expired(today);
        let next = holdings.next_expiry();
        text.push(format!(
            "{} ({}): balance {} {}, spendable {}{}{}{}",
            programme.name,
            programme.id,
            texts::plain(programme, account.balance),
            programme.unit,
            texts::plain(programme, spendable),
            if account.holdings.debt > Decimal::ZERO {
                format!(", debt {}", texts::plain(programme, account.holdings.debt))
            } else {
                String::new()
            },
            if due > Decimal::ZERO {
                format!(
                    ", {} expired (posted at the next checkout or `posctl points expire`)",
                    texts::plain(programme, due)
                )
            } else {
                String::new()
            },
            match next {
                Some((day, points)) =>
                    format!(", next expiry {day}: {}", texts::plain(programme, points)),
                None => String::new(),
            }
        ));
        for p in &history {
            text.push(format!(
                "  {}  entry {}  {}{}",
                p.time,
                p.entry,
                texts::signed(programme, p.amount),
                p.expires
                    .as_deref()
                    .map(|e| format!("  (expires {e})"))
                    .unwrap_or_default()
            ));
        }
        programmes.push(json!({
            "programme": programme.id, "name": programme.name, "unit": programme.unit,
            "balance": account.balance.to_string(), "spendable": spendable.to_string(),
            "debt": account.holdings.debt.to_string(), "expired_unposted": due.to_string(),
            "next_expiry": next.map(|(d, p)| json!({"date": d.to_string(), "points": p.to_string()})),
            "postings": history.iter().map(|p| json!({"entry": p.entry, "time": p.time,
                "amount": p.amount.to_string(), "expires": p.expires})).collect::<Vec<_>>(),
        }));
    }
    if !known {
        return Err(PointsError::NotFound(format!("customer {customer} has no points")).into());
    }
    Ok(InvokeAdminActionResponse {
        result: json!({"customer": customer, "programmes": programmes}),
        text: text.join("\n"),
        ..InvokeAdminActionResponse::default()
    })
}

fn expire(
    config: &Config,
    host: &Host,
    customers: &[String],
) -> Result<InvokeAdminActionResponse, PluginError> {
    let today = Date::from_epoch_ms(host.now());
    let mut effects = CheckoutEffects::default();
    let mut lines = Vec::new();
    let mut touched = 0;
    for customer in customers {
        let mut any = false;
        for programme in &config.programmes {
            let account = Account::read(host, programme, customer)?;
            let mut postings = Postings::new(programme, customer);
            for lot in account.holdings.expired(today) {
                postings.pair(-lot.left, expired_account(programme), "expire", lot.expires);
            }
            let moved = postings.moved();
            if !moved.is_zero() {
                any = true;
                lines.push(format!(
                    "{customer}: {} {} expired in {}",
                    texts::plain(programme, -moved),
                    programme.unit,
                    programme.id
                ));
                effects.postings.extend(postings.list);
            }
        }
        touched += usize::from(any);
    }
    let text = if lines.is_empty() {
        format!(
            "nothing expired on {today} ({} customer(s) looked at)",
            customers.len()
        )
    } else {
        lines.push(format!("{touched} customer(s), posted as of {today}"));
        lines.join("\n")
    };
    Ok(InvokeAdminActionResponse {
        result: json!({"customers": touched, "date": today.to_string()}),
        text,
        effects: (!effects.postings.is_empty()).then_some(effects),
        ..InvokeAdminActionResponse::default()
    })
}
