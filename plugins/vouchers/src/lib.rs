//! posd-vouchers — gift vouchers, single-purpose vouchers and eWallets for posd.
//!
//! Sold and topped up through actions, redeemed as a tender that follows the amount due up
//! to the balance, voided action by action as the ETRON manual describes. Balances live in
//! the host's ledger and the terms in its kv store, both under a keyed hash of the code
//! ([`identity`]); the code itself is never stored. See `README.md` for the configuration,
//! the postings, the slips and the errors.

#![forbid(unsafe_code)]

pub mod code;
pub mod config;
pub mod date;
pub mod error;
pub mod identity;
pub mod store;

use std::collections::{BTreeMap, HashMap};

use posd_plugin_sdk::schema::{
    AbortCheckoutRequest, Action, ActionParam, CheckoutEffects, ClassifyCodeRequest,
    ClassifyCodeResponse, CodeInfo, CodeKind, CommitCheckoutRequest, Effects, Empty,
    EnterCodeRequest, EnterCodeResponse, InvokeActionRequest, Line, LineKind, ListActionsRequest,
    ListActionsResponse, NewLine, NewTender, ParamType, Payout, Posting, PrepareCheckoutRequest,
    ReceiptSection, Sale, Tender, VoidReceiptRequest, VoidReceiptResponse,
};
use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::{
    AbortCheckout, ClassifyCode, CommitCheckout, Decimal, EnterCode, Host, InvokeAction,
    ListActions, Plugin, PluginError, PrepareCheckout, VoidReceipt, posd_plugin,
};
use serde::{Deserialize, Serialize};

use crate::config::{AmountRule, Config, Kind, Programme};
use crate::date::Date;
use crate::identity::{CodeId, Key};
use crate::store::{Found, HostStore, Voucher, VoucherStore};

/// The plugin id: the `plugin` of its lines and tenders and its ledger namespace.
pub const ID: &str = "vouchers";
/// The tender method of a redemption.
pub const METHOD: &str = "voucher";
/// The line kind of a single-purpose voucher sold (the SDK has no variant for it yet).
pub const SINGLE_PURPOSE_KIND: &str = "single_purpose_voucher";
/// The action that tops a voucher or eWallet up.
pub const TOPUP: &str = "topup";
/// Action ids that sell: `sell-<programme id>`.
pub const SELL_PREFIX: &str = "sell-";

/// What this plugin keeps on a line of its own (`data`), handed back with every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LineData {
    /// `sell` or `topup`.
    action: String,
    /// The voucher's identity.
    id: String,
    /// The terms a sold voucher is issued with (`sold_on` filled in at checkout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    terms: Option<Voucher>,
    /// The kind, to refuse eWallet voids without a lookup.
    kind: Kind,
}

/// What this plugin keeps on a tender of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TenderData {
    id: String,
    kind: Kind,
    expires: Option<String>,
}

/// One instance: the checked configuration, the key, and the full codes of vouchers sold
/// on open sales (memory only, for their slips; forgotten at commit).
pub struct Vouchers {
    config: Config,
    key: Key,
    store: HostStore,
    /// Printed codes by identity, of vouchers sold or topped up on sales not yet committed.
    pending: HashMap<CodeId, String>,
    /// Identities prepared per checkout, forgotten from `pending` when it commits.
    preparing: BTreeMap<String, Vec<CodeId>>,
}

impl Plugin for Vouchers {
    const ID: &'static str = ID;
    const NAME: &'static str = "Gutscheine & eWallets";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Gift vouchers, single-purpose vouchers and eWallets, stored as keyed hashes of their codes";

    fn create(host: &Host, config: Value) -> Result<Self, PluginError> {
        let config = Config::parse(config)?;
        let key = Key::load(&config.key_file)?;
        host.info(&format!(
            "{} programme(s): {}",
            config.programmes.len(),
            config
                .programmes
                .iter()
                .map(|p| format!("{} ({:.1} bits per code)", p.id, p.format.entropy_bits()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(Vouchers::new(config, key))
    }
}

impl Vouchers {
    /// An instance from a checked configuration and its key.
    pub fn new(config: Config, key: Key) -> Self {
        Vouchers {
            config,
            key,
            store: HostStore,
            pending: HashMap::new(),
            preparing: BTreeMap::new(),
        }
    }

    /// The canonical code and its identity, if any programme claims `input`.
    fn recognise(&self, input: &str) -> Option<(String, CodeId)> {
        let canonical = code::canonical(input)?;
        self.config
            .claims(&canonical)
            .then(|| (canonical.clone(), self.key.identify(&canonical)))
    }

    /// Looks a claimed code up: `NotFound` for one never sold, `NotAllowed` when blocked.
    fn find_usable(&self, host: &Host, canonical: &str, id: &CodeId) -> Result<Found, PluginError> {
        let found = self.store.find(host, id)?.ok_or_else(|| {
            PluginError::not_found(format!("no voucher {}", code::masked(canonical)))
        })?;
        if found.voucher.blocked {
            return Err(PluginError::not_allowed(format!(
                "voucher {} is blocked",
                code::masked(canonical)
            )));
        }
        Ok(found)
    }
}

fn today(host: &Host) -> Date {
    Date::from_epoch_ms(host.now())
}

/// The warning for a voucher past its expiry, if it is.
fn expiry_warning(voucher: &Voucher, today: Date) -> Option<String> {
    let expires = Date::parse(voucher.expires.as_deref()?)?;
    (expires < today).then(|| {
        format!(
            "{} ••••{} ist seit {} abgelaufen",
            voucher.kind.title(),
            voucher.last4,
            expires
        )
    })
}

fn code_kind(kind: Kind) -> CodeKind {
    match kind {
        Kind::Ewallet => CodeKind::Ewallet,
        Kind::Gift | Kind::SinglePurpose => CodeKind::Voucher,
    }
}

fn own_line_data(line: &Line) -> Option<LineData> {
    (line.plugin == ID)
        .then(|| serde_json::from_value::<LineData>(line.data.clone()).ok())
        .flatten()
}

fn own_tender_data(tender: &Tender) -> Option<TenderData> {
    (tender.plugin == ID && tender.method == METHOD)
        .then(|| serde_json::from_value::<TenderData>(tender.data.clone()).ok())
        .flatten()
}

/// Whether a voucher is on the sale already, as a line or a tender.
fn on_sale(sale: &Sale, id: &CodeId) -> bool {
    sale.lines
        .iter()
        .filter_map(own_line_data)
        .any(|d| d.id == id.0)
        || sale
            .tenders
            .iter()
            .filter_map(own_tender_data)
            .any(|d| d.id == id.0)
}

/// What each of this plugin's voucher tenders really pays, in order: the contract's rule
/// (a following tender pays what the goods still need after the fixed non-cash tenders and
/// the vouchers before it, up to its amount, which is the balance when it was entered).
fn voucher_payments(sale: &Sale) -> Vec<(&Tender, TenderData, Decimal)> {
    let goods: Decimal = sale
        .lines
        .iter()
        .filter(|l| l.kind != LineKind::Rounding)
        .map(|l| l.amount)
        .sum();
    let fixed: Decimal = sale
        .tenders
        .iter()
        .filter(|t| own_tender_data(t).is_none() && t.method != "cash")
        .map(|t| t.amount)
        .sum();
    let mut left = (goods - fixed).max(Decimal::ZERO);
    sale.tenders
        .iter()
        .filter_map(|t| own_tender_data(t).map(|d| (t, d)))
        .map(|(t, d)| {
            let paid = t.amount.max(Decimal::ZERO).min(left);
            left -= paid;
            (t, d, paid)
        })
        .collect()
}

fn string_arg(request: &InvokeActionRequest, name: &str) -> Result<Option<String>, PluginError> {
    match request.args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(PluginError::invalid_argument(format!(
            "argument {name}: {other} is not a string"
        ))),
    }
}

/// The amount of a sale or top-up under `rule`: the fixed amount (an amount given must be
/// it), or the one given, within the bounds, positive, with at most two decimals.
pub fn amount_under(rule: AmountRule, given: Option<&str>) -> Result<Decimal, PluginError> {
    let parsed = given
        .map(|text| {
            text.parse::<Decimal>().map_err(|e| {
                PluginError::invalid_argument(format!(
                    "argument amount: {text:?} is no amount: {e}"
                ))
            })
        })
        .transpose()?;
    if let Some(a) = parsed
        && (a <= Decimal::ZERO || a.scale() > 2)
    {
        return Err(PluginError::invalid_argument(format!(
            "argument amount: {a} must be positive with at most two decimals"
        )));
    }
    match (rule, parsed) {
        (AmountRule::Fixed { amount }, None) => Ok(amount),
        (AmountRule::Fixed { amount }, Some(a)) if a == amount => Ok(amount),
        (AmountRule::Fixed { amount }, Some(a)) => Err(PluginError::invalid_argument(format!(
            "argument amount: {a}: this programme's amount is fixed at {amount}"
        ))),
        (AmountRule::Free { .. }, None) => Err(PluginError::invalid_argument(
            "argument amount is required: this programme's amount is free",
        )),
        (AmountRule::Free { min, max }, Some(a)) if a < min || a > max => {
            Err(PluginError::invalid_argument(format!(
                "argument amount: {a} is outside {min} to {max}"
            )))
        }
        (AmountRule::Free { .. }, Some(a)) => Ok(a),
    }
}

/// The customer on the sale, if any.
fn customer_of(sale: &Sale) -> Option<&str> {
    sale.customer
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
}

/// The line kind and tax rate of a voucher of `kind` sold or topped up.
fn line_kind(kind: Kind, vat_rate: Option<Decimal>, topup: bool) -> (LineKind, Decimal) {
    match (kind, topup) {
        (Kind::SinglePurpose, _) => (
            LineKind::Other(SINGLE_PURPOSE_KIND.to_string()),
            vat_rate.unwrap_or_default(),
        ),
        (_, false) => (LineKind::VoucherSale, Decimal::ZERO),
        (_, true) => (LineKind::VoucherTopup, Decimal::ZERO),
    }
}

impl Vouchers {
    fn sell(
        &mut self,
        host: &Host,
        request: &InvokeActionRequest,
        programme: &Programme,
    ) -> Result<Effects, PluginError> {
        let amount = amount_under(programme.amount, string_arg(request, "amount")?.as_deref())?;
        let customer = customer_of(&request.sale).map(str::to_string);
        if programme.kind == Kind::Ewallet && customer.is_none() {
            return Err(PluginError::customer_required(format!(
                "an eWallet of {} needs a customer on the sale",
                programme.name
            )));
        }
        let today = today(host);
        let expires = programme.validity.expiry(today);
        if let Some(day) = expires
            && day < today
        {
            return Err(PluginError::invalid_configuration(format!(
                "programme {}: its vouchers expire on {day}, which has passed",
                programme.id
            )));
        }
        // A fresh code; a collision with a voucher sold before (or pending) draws again.
        let mut fresh = None;
        for _ in 0..4 {
            let canonical = programme
                .format
                .generate()
                .map_err(PluginError::plugin_failed)?;
            let id = self.key.identify(&canonical);
            if !self.pending.contains_key(&id) && self.store.find(host, &id)?.is_none() {
                fresh = Some((canonical, id));
                break;
            }
        }
        let (canonical, id) = fresh.ok_or_else(|| {
            PluginError::conflict(format!(
                "programme {}: four codes in a row were taken; its format is too small",
                programme.id
            ))
        })?;
        let printed = programme.format.display(&canonical);
        let terms = Voucher {
            programme: programme.id.clone(),
            name: programme.name.clone(),
            kind: programme.kind,
            last4: code::last_four(&canonical),
            issued: today.to_string(),
            expires: expires.map(|d| d.to_string()),
            reusable: programme.reusable,
            vat_rate: programme.vat_rate,
            amount: programme.amount,
            customer: if programme.kind == Kind::Ewallet {
                customer
            } else {
                None
            },
            blocked: false,
            sold_on: String::new(),
            refunded_by: None,
        };
        let (kind, tax_rate) = line_kind(programme.kind, programme.vat_rate, false);
        let data = LineData {
            action: "sell".into(),
            id: id.0.clone(),
            terms: Some(terms),
            kind: programme.kind,
        };
        self.pending.insert(id, printed.clone());
        Ok(Effects {
            kind: Some(code_kind(programme.kind)),
            message: Some(format!(
                "{} {} über {amount}",
                programme.name,
                code::masked(&canonical)
            )),
            add_lines: vec![NewLine {
                kind,
                name: programme.name.clone(),
                qty: Decimal::ONE,
                unit_price: amount,
                tax_rate,
                reference: code::masked(&canonical),
                data: serde_json::to_value(&data)
                    .map_err(|e| PluginError::plugin_failed(e.to_string()))?,
                ..NewLine::default()
            }],
            lock_customer: (programme.kind == Kind::Ewallet).then_some(true),
            result: Some(json!({"code": printed, "last4": code::last_four(&canonical)})),
            ..Effects::default()
        })
    }

    fn top_up(
        &mut self,
        host: &Host,
        request: &InvokeActionRequest,
    ) -> Result<Effects, PluginError> {
        let input = string_arg(request, "code")?
            .ok_or_else(|| PluginError::invalid_argument("argument code is required"))?;
        let (canonical, id) = self.recognise(&input).ok_or_else(|| {
            PluginError::not_found(format!(
                "{} is no code of a voucher programme",
                code::masked(&input)
            ))
        })?;
        let found = self.find_usable(host, &canonical, &id)?;
        let voucher = &found.voucher;
        if let Some(warning) = expiry_warning(voucher, today(host)) {
            return Err(PluginError::not_allowed(format!(
                "{warning}: it cannot be topped up"
            )));
        }
        if on_sale(&request.sale, &id) {
            return Err(PluginError::conflict(format!(
                "{} is on this sale already",
                code::masked(&canonical)
            )));
        }
        let amount = amount_under(voucher.amount, string_arg(request, "amount")?.as_deref())?;
        let mut effects = Effects::default();
        if voucher.kind == Kind::Ewallet {
            let owner = voucher.customer.as_deref().unwrap_or_default();
            match customer_of(&request.sale) {
                None => {
                    return Err(PluginError::customer_required(format!(
                        "topping up eWallet ••••{} needs its customer on the sale",
                        voucher.last4
                    )));
                }
                Some(c) if c != owner => {
                    return Err(PluginError::not_allowed(format!(
                        "eWallet ••••{} belongs to another customer",
                        voucher.last4
                    )));
                }
                Some(_) => effects.lock_customer = Some(true),
            }
        }
        let (kind, tax_rate) = line_kind(voucher.kind, voucher.vat_rate, true);
        let data = LineData {
            action: TOPUP.into(),
            id: id.0.clone(),
            terms: None,
            kind: voucher.kind,
        };
        let printed = self
            .config
            .programme(&voucher.programme)
            .map_or_else(|| canonical.clone(), |p| p.format.display(&canonical));
        self.pending.insert(id, printed);
        effects.kind = Some(code_kind(voucher.kind));
        effects.message = Some(format!(
            "{} ••••{} +{amount} (Guthaben {})",
            voucher.kind.title(),
            voucher.last4,
            found.balance
        ));
        effects.add_lines = vec![NewLine {
            kind,
            name: format!("{}-Aufladung", voucher.kind.title()),
            qty: Decimal::ONE,
            unit_price: amount,
            tax_rate,
            reference: code::masked(&canonical),
            data: serde_json::to_value(&data)
                .map_err(|e| PluginError::plugin_failed(e.to_string()))?,
            ..NewLine::default()
        }];
        Ok(effects)
    }

    /// The voucher behind a claimed code, for a balance inquiry.
    fn inquire(&self, host: &Host, canonical: &str, id: &CodeId) -> Result<Found, PluginError> {
        let found = self.find_usable(host, canonical, id)?;
        if found.balance <= Decimal::ZERO {
            return Err(PluginError::voucher_empty(format!(
                "{} ••••{} has a balance of 0",
                found.voucher.kind.title(),
                found.voucher.last4
            )));
        }
        Ok(found)
    }
}

impl ClassifyCode for Vouchers {
    fn classify_code(
        &mut self,
        host: &Host,
        request: ClassifyCodeRequest,
    ) -> Result<ClassifyCodeResponse, PluginError> {
        let Some((canonical, id)) = self.recognise(&request.code) else {
            return Ok(ClassifyCodeResponse::NotClaimed);
        };
        let found = self.inquire(host, &canonical, &id)?;
        Ok(ClassifyCodeResponse::Claimed(CodeInfo {
            balance: Some(found.balance),
            expires: found.voucher.expires.clone(),
            state: Some("active".into()),
            customer: found.voucher.customer.clone(),
            warnings: expiry_warning(&found.voucher, today(host))
                .into_iter()
                .collect(),
            ..CodeInfo::new(code_kind(found.voucher.kind))
        }))
    }
}

impl EnterCode for Vouchers {
    fn enter_code(
        &mut self,
        host: &Host,
        request: EnterCodeRequest,
    ) -> Result<EnterCodeResponse, PluginError> {
        let Some((canonical, id)) = self.recognise(&request.code) else {
            return Ok(EnterCodeResponse::NotClaimed);
        };
        let found = self.inquire(host, &canonical, &id)?;
        let voucher = &found.voucher;
        if on_sale(&request.sale, &id) {
            return Err(PluginError::conflict(format!(
                "{} ••••{} is on this sale already",
                voucher.kind.title(),
                voucher.last4
            )));
        }
        let mut effects = Effects {
            kind: Some(code_kind(voucher.kind)),
            message: Some(format!(
                "{} ••••{} über {}",
                voucher.kind.title(),
                voucher.last4,
                found.balance
            )),
            warnings: expiry_warning(voucher, today(host)).into_iter().collect(),
            ..Effects::default()
        };
        if voucher.kind == Kind::Ewallet {
            let owner = voucher.customer.clone().unwrap_or_default();
            match customer_of(&request.sale) {
                Some(c) if c != owner => {
                    return Err(PluginError::not_allowed(format!(
                        "eWallet ••••{} belongs to another customer than the sale's",
                        voucher.last4
                    )));
                }
                Some(_) => {}
                None => effects.set_customer = Some(owner),
            }
            effects.lock_customer = Some(true);
        }
        let data = TenderData {
            id: id.0.clone(),
            kind: voucher.kind,
            expires: voucher.expires.clone(),
        };
        effects.add_tenders = vec![NewTender {
            method: METHOD.into(),
            amount: found.balance,
            max_amount: Some(found.balance),
            reference: code::masked(&canonical),
            data: serde_json::to_value(&data)
                .map_err(|e| PluginError::plugin_failed(e.to_string()))?,
        }];
        Ok(EnterCodeResponse::Claimed(effects))
    }
}

impl ListActions for Vouchers {
    fn list_actions(
        &mut self,
        _host: &Host,
        _request: ListActionsRequest,
    ) -> Result<ListActionsResponse, PluginError> {
        let amount_param = |rule: AmountRule| ActionParam {
            name: "amount".into(),
            param_type: ParamType::Decimal,
            required: matches!(rule, AmountRule::Free { .. }),
            suggested: match rule {
                AmountRule::Fixed { amount } => Some(json!(amount.to_string())),
                AmountRule::Free { .. } => None,
            },
            ..ActionParam::default()
        };
        let mut actions: Vec<Action> = self
            .config
            .programmes
            .iter()
            .map(|p| Action {
                id: format!("{SELL_PREFIX}{}", p.id),
                label: format!("{} verkaufen", p.name),
                params: vec![amount_param(p.amount)],
            })
            .collect();
        actions.push(Action {
            id: TOPUP.into(),
            label: "Gutschein / eWallet aufladen".into(),
            params: vec![
                ActionParam {
                    name: "code".into(),
                    param_type: ParamType::Code,
                    required: true,
                    ..ActionParam::default()
                },
                ActionParam {
                    name: "amount".into(),
                    param_type: ParamType::Decimal,
                    required: false,
                    ..ActionParam::default()
                },
            ],
        });
        Ok(ListActionsResponse { actions })
    }
}

impl InvokeAction for Vouchers {
    fn invoke_action(
        &mut self,
        host: &Host,
        request: InvokeActionRequest,
    ) -> Result<Effects, PluginError> {
        if request.action == TOPUP {
            return self.top_up(host, &request);
        }
        let programme = request
            .action
            .strip_prefix(SELL_PREFIX)
            .and_then(|id| self.config.programme(id))
            .cloned()
            .ok_or_else(|| PluginError::not_found(format!("no action {:?}", request.action)))?;
        self.sell(host, &request, &programme)
    }
}

/// The currency postings are in.
fn unit_of<'a>(sale_currency: &'a str, store_currency: &'a str) -> &'a str {
    if sale_currency.is_empty() {
        store_currency
    } else {
        sale_currency
    }
}

/// Pairs of postings, those onto vouchers first, so that no voucher account dips below its
/// floor halfway through one entry (a voucher topped up and redeemed on one sale).
fn ordered(mut pairs: Vec<[Posting; 2]>) -> Vec<Posting> {
    pairs.retain(|p| !p[0].amount.is_zero());
    pairs.sort_by_key(|p| std::cmp::Reverse(p[0].amount));
    pairs.into_iter().flatten().collect()
}

impl PrepareCheckout for Vouchers {
    fn prepare_checkout(
        &mut self,
        host: &Host,
        request: PrepareCheckoutRequest,
    ) -> Result<CheckoutEffects, PluginError> {
        let sale = &request.sale;
        let unit = unit_of(&sale.currency, &request.store.currency).to_string();
        let mut pairs = Vec::new();
        let mut effects = CheckoutEffects::default();
        let mut touched = Vec::new();
        // Balance changes per voucher on this sale, for the "after" of each slip.
        let mut change: BTreeMap<String, Decimal> = BTreeMap::new();
        for line in &sale.lines {
            if let Some(d) = own_line_data(line) {
                *change.entry(d.id).or_default() += line.amount;
            }
        }
        for (_, d, paid) in voucher_payments(sale) {
            *change.entry(d.id).or_default() -= paid;
        }
        for line in &sale.lines {
            let Some(data) = own_line_data(line) else {
                continue;
            };
            let id = CodeId::parse(&data.id).ok_or_else(|| {
                PluginError::plugin_failed(format!("line {}: no voucher identity", line.id))
            })?;
            let printed = self.pending.get(&id).cloned();
            let (terms, before) = if data.action == "sell" {
                let mut terms = data.terms.clone().ok_or_else(|| {
                    PluginError::plugin_failed(format!("line {}: a sale without terms", line.id))
                })?;
                if printed.is_none() {
                    return Err(PluginError::conflict(format!(
                        "line {}: the code of this voucher was lost when the plugin restarted; remove the line and sell it again",
                        line.id
                    )));
                }
                terms.sold_on = request.receipt_id.clone();
                effects.kv.push(self.store.record(&id, &terms)?);
                (terms, Decimal::ZERO)
            } else {
                let found = self.store.find(host, &id)?.ok_or_else(|| {
                    PluginError::not_found(format!("line {}: the voucher is gone", line.id))
                })?;
                if found.voucher.blocked {
                    return Err(PluginError::not_allowed(format!(
                        "voucher ••••{} was blocked since it was put on the sale",
                        found.voucher.last4
                    )));
                }
                (found.voucher, found.balance)
            };
            pairs.push(self.store.move_balance(&id, line.amount, &unit, "voucher"));
            let after = before + change.get(&data.id).copied().unwrap_or_default();
            let verb = if data.action == "sell" {
                "Wert"
            } else {
                "Aufgeladen"
            };
            let mut lines = vec![
                format!("{verb}: {} {unit}", line.amount),
                format!("Guthaben: {after} {unit}"),
                match &terms.expires {
                    Some(day) => format!("Gültig bis: {day}"),
                    None => "Unbefristet gültig".to_string(),
                },
            ];
            let barcode = match (&printed, self.config.print_full_code) {
                (Some(code), true) => Some(code.clone()),
                _ => {
                    lines.push(format!("Code: ••••{}", terms.last4));
                    None
                }
            };
            effects.sections.push(ReceiptSection {
                title: terms.name.clone(),
                lines,
                slip: true,
                barcode,
                qr: None,
                secret: false,
            });
            touched.push(id);
        }
        for (tender, data, paid) in voucher_payments(sale) {
            if paid.is_zero() {
                continue;
            }
            let id = CodeId::parse(&data.id).ok_or_else(|| {
                PluginError::plugin_failed(format!("tender {}: no voucher identity", tender.id))
            })?;
            let found = self.store.find(host, &id)?.ok_or_else(|| {
                PluginError::not_found(format!("tender {}: the voucher is gone", tender.id))
            })?;
            if found.voucher.blocked {
                return Err(PluginError::not_allowed(format!(
                    "voucher ••••{} was blocked since it was entered",
                    found.voucher.last4
                )));
            }
            pairs.push(self.store.move_balance(&id, -paid, &unit, "redeem"));
            let after = found.balance + change.get(&data.id).copied().unwrap_or_default();
            effects.sections.push(ReceiptSection {
                title: format!("{} eingelöst", found.voucher.kind.title()),
                lines: vec![
                    format!("Code: ••••{}", found.voucher.last4),
                    format!("Eingelöst: {paid} {unit}"),
                    format!("Restwert: {} {unit}", after.max(Decimal::ZERO)),
                    match &found.voucher.expires {
                        Some(day) => format!("Gültig bis: {day}"),
                        None => "Unbefristet gültig".to_string(),
                    },
                ],
                slip: true,
                barcode: None,
                qr: None,
                secret: false,
            });
        }
        effects.postings = ordered(pairs);
        self.preparing.insert(request.checkout.clone(), touched);
        Ok(effects)
    }
}

impl CommitCheckout for Vouchers {
    fn commit_checkout(
        &mut self,
        _host: &Host,
        request: CommitCheckoutRequest,
    ) -> Result<Empty, PluginError> {
        for id in self.preparing.remove(&request.checkout).unwrap_or_default() {
            self.pending.remove(&id);
        }
        Ok(Empty {})
    }
}

impl AbortCheckout for Vouchers {
    fn abort_checkout(
        &mut self,
        _host: &Host,
        request: AbortCheckoutRequest,
    ) -> Result<Empty, PluginError> {
        // The sale stays open: its codes stay pending for the next checkout.
        self.preparing.remove(&request.checkout);
        Ok(Empty {})
    }
}

impl VoidReceipt for Vouchers {
    fn void_receipt(
        &mut self,
        host: &Host,
        request: VoidReceiptRequest,
    ) -> Result<VoidReceiptResponse, PluginError> {
        let receipt = &request.receipt;
        let unit = unit_of("", &request.store.currency).to_string();
        let lines: Vec<(&Line, LineData)> = receipt
            .lines
            .iter()
            .filter_map(|l| own_line_data(l).map(|d| (l, d)))
            .collect();
        let tenders: Vec<(&Tender, TenderData)> = receipt
            .tenders
            .iter()
            .filter_map(|t| own_tender_data(t).map(|d| (t, d)))
            .collect();
        if lines.iter().any(|(_, d)| d.kind == Kind::Ewallet)
            || tenders.iter().any(|(_, d)| d.kind == Kind::Ewallet)
        {
            return Err(PluginError::not_allowed(format!(
                "eWallet actions cannot be voided ({})",
                receipt.id
            )));
        }
        let mut pairs = Vec::new();
        let mut effects = CheckoutEffects::default();
        let mut payouts = Vec::new();
        let sold: Vec<&str> = lines
            .iter()
            .filter(|(_, d)| d.action == "sell")
            .map(|(_, d)| d.id.as_str())
            .collect();
        for (line, data) in &lines {
            let id = CodeId::parse(&data.id).ok_or_else(|| {
                PluginError::plugin_failed(format!("line {}: no voucher identity", line.id))
            })?;
            let found = self.store.find(host, &id)?.ok_or_else(|| {
                PluginError::not_found(format!("line {}: the voucher is gone", line.id))
            })?;
            let masked = format!("••••{}", found.voucher.last4);
            if data.action == "sell" {
                // Paid out: what is left, never more than it was sold for.
                let paid_out = found.balance.min(line.amount).max(Decimal::ZERO);
                pairs.push(self.store.move_balance(&id, -paid_out, &unit, "void"));
                if paid_out < line.amount {
                    payouts.push(Payout {
                        line: line.id.clone(),
                        amount: paid_out,
                    });
                }
                let mut voucher = found.voucher.clone();
                voucher.refunded_by = Some(request.void_receipt_id.clone());
                effects.kv.push(self.store.record(&id, &voucher)?);
                let mut text = vec![format!("Rückerstattung: {paid_out} {unit}")];
                if paid_out < line.amount {
                    text.push(format!(
                        "Bereits eingelöst: {} {unit}",
                        line.amount - paid_out
                    ));
                }
                text.push("Guthaben: 0.00".to_string());
                effects.sections.push(ReceiptSection {
                    title: format!("{} {masked} storniert", found.voucher.kind.title()),
                    lines: text,
                    ..ReceiptSection::default()
                });
            } else if !sold.contains(&data.id.as_str()) {
                if found.balance < line.amount {
                    return Err(PluginError::insufficient_balance(format!(
                        "{masked} has {} left, less than the top-up of {} on {}",
                        found.balance, line.amount, receipt.id
                    )));
                }
                pairs.push(self.store.move_balance(&id, -line.amount, &unit, "void"));
                effects.sections.push(ReceiptSection {
                    title: format!("{} {masked}", found.voucher.kind.title()),
                    lines: vec![
                        format!("Aufladung storniert: {} {unit}", line.amount),
                        format!("Guthaben: {} {unit}", found.balance - line.amount),
                    ],
                    ..ReceiptSection::default()
                });
            }
        }
        for (tender, data) in &tenders {
            if sold.contains(&data.id.as_str()) || tender.amount.is_zero() {
                continue;
            }
            let id = CodeId::parse(&data.id).ok_or_else(|| {
                PluginError::plugin_failed(format!("tender {}: no voucher identity", tender.id))
            })?;
            let found = self.store.find(host, &id)?.ok_or_else(|| {
                PluginError::not_found(format!("tender {}: the voucher is gone", tender.id))
            })?;
            pairs.push(self.store.move_balance(&id, tender.amount, &unit, "void"));
            effects.sections.push(ReceiptSection {
                title: format!("{} ••••{}", found.voucher.kind.title(), found.voucher.last4),
                lines: vec![
                    format!("Einlösung storniert: {} {unit}", tender.amount),
                    format!("Guthaben: {} {unit}", found.balance + tender.amount),
                ],
                ..ReceiptSection::default()
            });
        }
        effects.postings = ordered(pairs);
        Ok(VoidReceiptResponse { effects, payouts })
    }
}

posd_plugin!(Vouchers);

#[cfg(test)]
mod tests {
    use super::*;
    use posd_plugin_sdk::ErrorName;
    use posd_plugin_sdk::testing::Harness;

    #[test]
    fn amounts_follow_the_rule() {
        let free = AmountRule::Free {
            min: Decimal::from(5),
            max: Decimal::from(500),
        };
        assert_eq!(
            amount_under(free, Some("20.00")).unwrap(),
            Decimal::from(20)
        );
        for bad in [
            Some("4.99"),
            Some("500.01"),
            Some("-1"),
            Some("0"),
            Some("1.001"),
            Some("x"),
            None,
        ] {
            assert_eq!(
                amount_under(free, bad).unwrap_err().error,
                ErrorName::InvalidArgument,
                "{bad:?}"
            );
        }
        let fixed = AmountRule::Fixed {
            amount: Decimal::from(25),
        };
        assert_eq!(amount_under(fixed, None).unwrap(), Decimal::from(25));
        assert!(amount_under(fixed, Some("30")).is_err());
    }

    /// The terms a voucher is sold under are the ones stored with it at checkout, taken when
    /// it was put on the sale; its top-ups follow them, not the programme as it is now.
    #[test]
    fn the_terms_of_sale_are_stored_with_the_voucher_and_no_code() {
        let dir = std::env::temp_dir().join(format!("posd-vouchers-terms-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("k");
        std::fs::write(&key, [9u8; 32]).unwrap();
        let mut h = Harness::<Vouchers>::create(json!({"key_file": key, "programmes": [
            {"id": "gift", "name": "Geschenk", "kind": "gift", "amount": "25.00", "valid_months": 12,
             "code": {"format": "template"}}]}))
        .unwrap();
        h.set_now(1_781_433_067_000); // 2026-06-14
        let sale = json!({"id": "S1", "currency": "EUR", "lines": [], "tenders": []});
        let sold = h
            .call(
                "invoke_action",
                &json!({"schema": 1, "action": "sell-gift", "args": {}, "sale": sale}),
            )
            .unwrap();
        let code = sold["result"]["code"].as_str().unwrap().to_string();
        let line = &sold["add_lines"][0];
        assert_eq!(line["ref"], format!("••••{}", &code[code.len() - 4..]));
        assert_eq!(line["kind"], "voucher_sale");
        assert_eq!(line["tax_rate"], "0");
        let done = h
            .checkout(&json!({"id": "S1", "currency": "EUR", "lines": [
                {"id": "L1", "kind": "voucher_sale", "qty": "1", "unit_price": "25.00", "amount": "25.00",
                 "plugin": "vouchers", "ref": line["ref"], "data": line["data"]}],
                "tenders": [{"id": "T1", "method": "cash", "amount": "25.00"}]}))
            .unwrap();
        assert_eq!(
            done.effects.sections[0].barcode.as_deref(),
            Some(code.as_str())
        );
        let id = line["data"]["id"].as_str().unwrap();
        let stored: Voucher = h.kv_get(&format!("voucher:{id}")).unwrap().unwrap();
        assert_eq!(stored.expires.as_deref(), Some("2027-06-14"));
        assert_eq!(
            stored.amount,
            AmountRule::Fixed {
                amount: "25.00".parse().unwrap()
            }
        );
        assert_eq!(stored.sold_on, done.receipt.id);
        let everything = serde_json::to_string(&stored).unwrap();
        let plain: String = code.chars().filter(|c| *c != '-').collect();
        assert!(!everything.contains(&plain) && !everything.contains(&code));
        let balance = h
            .call(
                "classify_code",
                &json!({"schema": 1, "code": code.to_lowercase()}),
            )
            .unwrap();
        assert_eq!(
            (balance["balance"].as_str(), balance["expires"].as_str()),
            (Some("25.00"), Some("2027-06-14"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
