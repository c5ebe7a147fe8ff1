//! `posctl voucher issue`: a promotional batch of vouchers issued outside any sale (admin
//! action `issue`, plugin ABI 1.2).
//!
//! Each voucher is made exactly as a sale makes one — a fresh code of the programme's format
//! from the CSPRNG ([`Vouchers::fresh_code`]), its terms stored under its keyed hash — but
//! nobody paid for it: its value is posted against the contra account [`PROMO`]
//! (`vouchers:promo`). Terms, batch record and postings are the answer's `effects`, which
//! the host commits in one transaction as one journal entry (`admin:vouchers:issue:<n>`)
//! before it answers; the codes go back once, in `output` (posctl's `--out` file or
//! stdout), never in `result` or `text`, never to a log. A 1.1 host would drop the
//! effects, so the action is offered only by a host of ABI minor 2 or more.

use std::collections::HashSet;

use posd_plugin_sdk::schema::{
    ActionParam, AdminAction, CheckoutEffects, InvokeAdminActionRequest, InvokeAdminActionResponse,
    KvWrite, ParamType, Posting,
};
use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::{Decimal, Host, PluginError};
use serde::{Deserialize, Serialize};

use crate::config::{Kind, Programme};
use crate::date::Date;
use crate::identity::CodeId;
use crate::store::{Voucher, VoucherStore};
use crate::{Vouchers, amount_under};

/// The contra account of promotional batches: what the store gave away as vouchers nobody
/// paid for (negative: it owes their holders).
pub const PROMO: &str = "promo";

/// The most vouchers one batch may have: its answer must come within the call deadline.
pub const MAX_BATCH: i64 = 1000;

/// The ABI minor from which the host commits an admin action's effects.
pub const EFFECTS_MINOR: u16 = 2;

/// Whether vouchers of `kind` may be issued as a batch: gift, payment and discount
/// vouchers. Not eWallets (each is bound to a customer), not single-purpose vouchers (their
/// VAT is due when sold, and a batch is no sale).
pub fn batchable(kind: Kind) -> bool {
    matches!(kind, Kind::Gift | Kind::Payment | Kind::Discount)
}

/// The kv key naming the batch a voucher was issued in (kept beside its terms, which stay
/// as a sale writes them).
pub fn issued_in_key(id: &CodeId) -> String {
    format!("issued_in:{id}")
}

/// The kv key of a batch's record.
pub fn batch_key(batch: &str) -> String {
    format!("batch:{batch}")
}

/// A batch as kept in kv (`batch:<B-…>`): what was issued, never a code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// `B-<yyyymmdd>-<8 hex>`.
    pub batch: String,
    /// Programme id.
    pub programme: String,
    /// How many vouchers.
    pub count: u32,
    /// The value of each.
    pub amount: Decimal,
    /// Their last valid day, if any.
    pub expires: Option<String>,
    /// Day of issue.
    pub issued: String,
    /// The last four characters of each code, in output order.
    pub last4: Vec<String>,
}

/// The `issue` action, if the host commits effects and a programme may be batched.
pub fn action(plugin: &Vouchers, host: &Host) -> Option<AdminAction> {
    let choices: Vec<String> = plugin
        .config
        .programmes
        .iter()
        .filter(|p| batchable(p.kind))
        .map(|p| p.id.clone())
        .collect();
    if host.abi_minor() < EFFECTS_MINOR || choices.is_empty() {
        return None;
    }
    let param = |name: &str, param_type: ParamType, required: bool, help: &str| ActionParam {
        name: name.into(),
        param_type,
        required,
        help: help.into(),
        ..ActionParam::default()
    };
    Some(AdminAction {
        id: "issue".into(),
        command: vec!["voucher".into(), "issue".into()],
        label: "Issue a promotional batch of vouchers".into(),
        help: "Vouchers nobody paid for, against vouchers:promo; the codes are written once, to --out (created 0600) or stdout.".into(),
        params: vec![
            ActionParam {
                choices,
                ..param(
                    "programme",
                    ParamType::Choice,
                    true,
                    "a gift, payment or discount voucher programme",
                )
            },
            param(
                "count",
                ParamType::Integer,
                true,
                "how many vouchers, 1 to 1000",
            ),
            param(
                "amount",
                ParamType::Decimal,
                false,
                "value of each; a fixed programme's own amount if omitted",
            ),
            param(
                "expires",
                ParamType::String,
                false,
                "last valid day YYYY-MM-DD, instead of the programme's validity",
            ),
            param(
                "out",
                ParamType::OutputFile,
                false,
                "file for the codes (new, mode 0600); stdout without it",
            ),
        ],
    })
}

/// A new batch id: the day and 32 random bits, e.g. `B-20261201-3F9A2C1D`.
fn batch_id(today: Date) -> Result<String, PluginError> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| {
        PluginError::plugin_failed(format!("the system's random source failed: {e}"))
    })?;
    let day: String = today.to_string().chars().filter(|c| *c != '-').collect();
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    Ok(format!("B-{day}-{hex}"))
}

/// The programme a batch is asked for: `InvalidArgument` for an unknown one, an eWallet or
/// a single-purpose programme.
fn programme<'a>(
    plugin: &'a Vouchers,
    request: &InvokeAdminActionRequest,
) -> Result<&'a Programme, PluginError> {
    let id = request
        .args
        .get("programme")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let programme = plugin
        .config
        .programme(id)
        .ok_or_else(|| PluginError::invalid_argument(format!("programme: no programme {id:?}")))?;
    match programme.kind {
        kind if batchable(kind) => Ok(programme),
        Kind::Ewallet => Err(PluginError::invalid_argument(format!(
            "programme: {id} is an eWallet programme; an eWallet is bound to a customer and sold to them, never issued in a batch"
        ))),
        _ => Err(PluginError::invalid_argument(format!(
            "programme: {id} sells single-purpose vouchers, whose VAT is due when sold; a batch is no sale"
        ))),
    }
}

/// The expiry of the batch: `expires` if given (a valid day, not past), else the
/// programme's validity from today.
fn expiry(
    programme: &Programme,
    request: &InvokeAdminActionRequest,
    today: Date,
) -> Result<Option<Date>, PluginError> {
    let given = request
        .args
        .get("expires")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let expires = match given {
        Some(text) => Some(Date::parse(text).ok_or_else(|| {
            PluginError::invalid_argument(format!("expires: {text:?} is no day YYYY-MM-DD"))
        })?),
        None => programme.validity.expiry(today),
    };
    if let Some(day) = expires
        && day < today
    {
        return Err(match given {
            Some(_) => {
                PluginError::invalid_argument(format!("expires: {day} has passed (today {today})"))
            }
            None => PluginError::invalid_configuration(format!(
                "programme {}: its vouchers expire on {day}, which has passed",
                programme.id
            )),
        });
    }
    Ok(expires)
}

/// Issues the batch: `effects` with every voucher's terms and postings and the batch record,
/// the codes in `output`.
pub fn issue(
    plugin: &Vouchers,
    host: &Host,
    request: &InvokeAdminActionRequest,
) -> Result<InvokeAdminActionResponse, PluginError> {
    if host.abi_minor() < EFFECTS_MINOR {
        return Err(PluginError::not_allowed(
            "issuing a batch needs a host of plugin ABI 1.2, which commits its postings",
        ));
    }
    let programme = programme(plugin, request)?;
    let count = request
        .args
        .get("count")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if !(1..=MAX_BATCH).contains(&count) {
        return Err(PluginError::invalid_argument(format!(
            "count: {count}; a batch has 1 to {MAX_BATCH} vouchers"
        )));
    }
    let given = request
        .args
        .get("amount")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let amount = amount_under(programme.amount, given)?;
    let today = crate::today(host);
    let expires = expiry(programme, request, today)?;
    let unit = if request.store.currency.is_empty() {
        "EUR".to_string()
    } else {
        request.store.currency.clone()
    };
    let batch = batch_id(today)?;

    let mut drawn: HashSet<CodeId> = HashSet::new();
    let mut output = String::new();
    let mut last4 = Vec::new();
    let mut effects = CheckoutEffects::default();
    for _ in 0..count {
        // A code drawn twice within the batch (possible in a small numeric format) is
        // drawn again, as fresh_code does for one sold before.
        let mut fresh = None;
        for _ in 0..4 {
            let (canonical, id) = plugin.fresh_code(host, programme)?;
            if drawn.insert(id.clone()) {
                fresh = Some((canonical, id));
                break;
            }
        }
        let (canonical, id) = fresh.ok_or_else(|| {
            PluginError::conflict(format!(
                "programme {}: four codes in a row were taken; its format is too small for this batch",
                programme.id
            ))
        })?;
        let terms = Voucher::issued_under(programme, &canonical, today, expires, None);
        effects.kv.push(plugin.store.record(&id, &terms)?);
        effects.kv.push(KvWrite::new(issued_in_key(&id), &batch)?);
        effects.postings.extend(promo_pair(&id, amount, &unit));
        output.push_str(&programme.format.display(&canonical));
        output.push('\n');
        last4.push(terms.last4);
    }
    let record = Batch {
        batch: batch.clone(),
        programme: programme.id.clone(),
        count: u32::try_from(count).unwrap_or(u32::MAX),
        amount,
        expires: expires.map(|d| d.to_string()),
        issued: today.to_string(),
        last4: last4.clone(),
    };
    effects.kv.push(KvWrite::new(batch_key(&batch), &record)?);
    Ok(InvokeAdminActionResponse {
        result: json!({
            "issued": count,
            "programme": programme.id,
            "name": programme.name,
            "kind": programme.kind,
            "amount": amount.to_string(),
            "unit": unit,
            "expires": record.expires,
            "batch": batch,
            "last4": last4,
        }),
        text: format!(
            "{count} × {} über {amount} {unit} issued (batch {batch}, {})",
            programme.name,
            record
                .expires
                .as_deref()
                .map_or_else(|| "no expiry".to_string(), |e| format!("valid until {e}"))
        ),
        output,
        effects: Some(effects),
    })
}

/// The postings of one promotional voucher: its value onto it (floor 0) against [`PROMO`].
fn promo_pair(id: &CodeId, amount: Decimal, unit: &str) -> [Posting; 2] {
    [
        Posting {
            account: format!("voucher:{id}"),
            amount,
            unit: unit.to_string(),
            kind: "promo".into(),
            floor: Some(Decimal::ZERO),
            ..Posting::default()
        },
        Posting {
            account: PROMO.to_string(),
            amount: -amount,
            unit: unit.to_string(),
            kind: "promo".into(),
            ..Posting::default()
        },
    ]
}

/// The batch a voucher was issued in, if it was.
pub fn issued_in(host: &Host, id: &CodeId) -> Result<Option<String>, PluginError> {
    host.kv_get::<String>(&issued_in_key(id))
}
