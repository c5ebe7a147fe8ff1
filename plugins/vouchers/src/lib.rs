//! posd-vouchers — gift vouchers, single-purpose vouchers and eWallets for posd.
//!
//! Sold and topped up through actions, redeemed as a tender that follows the amount due up
//! to the balance, voided action by action as the ETRON manual describes. Balances live in
//! the host's ledger and the terms in its kv store, both under a keyed hash of the code
//! ([`identity`]); the code itself is never stored. See `README.md` for the configuration,
//! the postings, the slips and the errors.

#![forbid(unsafe_code)]

pub mod admin;
pub mod batch;
pub mod code;
pub mod config;
pub use posd_plugin_sdk::date;
pub mod discount;
pub mod error;
pub mod identity;
pub mod limit;
pub mod product;
pub mod reversal;
pub mod scan;
pub mod store;

use std::collections::{BTreeMap, HashMap};

use posd_plugin_sdk::schema::{
    AbortCheckoutRequest, AccountKind, Action, ActionParam, CheckoutEffects, ClassifyCodeRequest,
    ClassifyCodeResponse, CodeInfo, CodeKind, CommitCheckoutRequest, CustomerAccount,
    CustomerAccountsRequest, CustomerAccountsResponse, Effects, Empty, EnterCodeRequest,
    EnterCodeResponse, EvaluateBasketRequest, EvaluateBasketResponse, InvokeActionRequest, Line,
    LineKind, ListActionsRequest, ListActionsResponse, NewLine, NewTender, ParamType, Payout,
    Posting, PrepareCheckoutRequest, ReceiptSection, Sale, Tender, ValidateTenderRequest,
    ValidateTenderResponse, VoidReceiptRequest, VoidReceiptResponse,
};
use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::{
    AbortCheckout, ClassifyCode, CommitCheckout, CustomerAccounts, Decimal, EnterCode,
    EvaluateBasket, Host, InvokeAction, ListActions, Plugin, PluginError, PrepareCheckout,
    ValidateTender, VoidReceipt, posd_plugin,
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
/// How a discount voucher entered on a sale is remembered beside discount codes
/// (`discount-voucher:<identity>`; canonical codes never hold a `:`).
const DISCOUNT_VOUCHER_ENTRY: &str = "discount-voucher:";
/// The action that pays with the sale's customer's eWallet without scanning it (optional
/// argument `last4` when the customer has several).
pub const PAY_EWALLET: &str = "pay-ewallet";

/// The kv key that finds a customer's eWallets without their codes.
fn ewallet_index_key(customer: &str, id: &CodeId) -> String {
    format!("customer:{customer}:ewallet:{id}")
}

/// The action that chooses the line a free product comes off (arguments `code`, `line`).
pub const FREE_PRODUCT_LINE: &str = "free-product-line";
/// The action that takes a discount code off the sale again (argument `code`).
pub const REMOVE_CODE: &str = "remove-code";
/// The tender method of a customer's credit (residual values of vouchers).
pub const CREDIT_METHOD: &str = "credit";
/// The customer whose credit a [`CREDIT_METHOD`] tender pays from (its `data.customer`):
/// a tender without one was not written by this plugin and fails the call.
fn credit_customer(tender: &Tender) -> Result<&str, PluginError> {
    tender
        .data
        .get("customer")
        .and_then(Value::as_str)
        .ok_or_else(|| PluginError::plugin_failed(format!("tender {}: no customer", tender.id)))
}

/// The action that tops a voucher or eWallet up.
pub const TOPUP: &str = "topup";
/// Action ids that sell: `sell-<programme id>`.
pub const SELL_PREFIX: &str = "sell-";
/// Action ids that issue a payment voucher without payment: `issue-<programme id>`.
pub const ISSUE_PREFIX: &str = "issue-";
/// Where payment vouchers issued for goodwill are booked against (`vouchers:goodwill`).
pub const GOODWILL: &str = "goodwill";

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
    /// The value of a payment voucher issued without payment (its line is 0.00).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued: Option<Decimal>,
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
    /// Discount codes entered per open sale (sale id → canonical codes), in entry order.
    /// After a plugin restart a sale missing here is read back from its discount lines.
    entered: HashMap<String, Vec<String>>,
    /// The sale of each checkout being prepared, forgotten from `entered` when it commits.
    preparing_sales: BTreeMap<String, String>,
    /// The line the cashier chose for a free product, per sale and code.
    chosen: HashMap<String, BTreeMap<String, String>>,
    /// Failed look-ups per register (see [`limit`]).
    limiter: limit::Limiter,
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
        index_ewallets(host)?;
        Ok(Vouchers::new(config, key))
    }
}

/// The kv key that says every eWallet is in the customer index (the index came after the
/// first eWallets were sold).
const EWALLET_INDEX_DONE: &str = "index:ewallets";

/// Puts every eWallet sold before the customer index existed into it, once: without it such
/// a wallet is neither shown with its customer nor offered without scanning.
fn index_ewallets(host: &Host) -> Result<(), PluginError> {
    if host.kv_get::<u32>(EWALLET_INDEX_DONE)?.is_some() {
        return Ok(());
    }
    let mut added = 0;
    for entry in host.kv_list("voucher:")? {
        let Ok(voucher) = serde_json::from_value::<Voucher>(entry.value) else {
            continue;
        };
        let (Kind::Ewallet, Some(owner)) = (voucher.kind, voucher.customer.as_deref()) else {
            continue;
        };
        let Some(id) = entry.key.strip_prefix("voucher:").and_then(CodeId::parse) else {
            continue;
        };
        let key = ewallet_index_key(owner, &id);
        if host.kv_get::<Value>(&key)?.is_none() {
            host.kv_put(&key, &json!({ "id": id.0 }))?;
            added += 1;
        }
    }
    if added > 0 {
        host.info(&format!("{added} eWallet(s) added to the customer index"));
    }
    host.kv_put(EWALLET_INDEX_DONE, &1u32)
}

impl Vouchers {
    /// An instance from a checked configuration and its key.
    pub fn new(config: Config, key: Key) -> Self {
        Vouchers {
            key,
            store: HostStore,
            pending: HashMap::new(),
            preparing: BTreeMap::new(),
            entered: HashMap::new(),
            preparing_sales: BTreeMap::new(),
            chosen: HashMap::new(),
            limiter: limit::Limiter::new(config.lookup_limit),
            config,
        }
    }

    /// The canonical code and its identity, if any programme claims `input`.
    fn recognise(&self, input: &str) -> Option<(String, CodeId)> {
        let canonical = code::canonical(input)?;
        self.config
            .claims(&canonical)
            .then(|| (canonical.clone(), self.key.identify(&canonical)))
    }

    /// Input no programme claims any more that is still a voucher of ours: its programme was
    /// removed from the configuration, or its code format changed. The voucher is a debt of
    /// the store, so it is not answered `NotFound` (the cashier would send the customer
    /// away) but `InvalidConfiguration`, naming the programme for the technician. `Ok` for
    /// input that is no voucher of ours.
    fn refuse_orphan(&self, host: &Host, input: &str) -> Result<(), PluginError> {
        let Some(canonical) = code::canonical(input) else {
            return Ok(());
        };
        let id = self.key.identify(&canonical);
        match self.store.find(host, &id)? {
            Some(found) => Err(PluginError::invalid_configuration(format!(
                "{} ••••{} belongs to programme {:?}, which [plugin.vouchers] no longer \
                 configures or whose code format no longer matches it: restore the programme \
                 (posctl reload-config); the voucher keeps its balance of {}",
                found.voucher.kind.title(),
                found.voucher.last4,
                found.voucher.programme,
                found.balance
            ))),
            None => Ok(()),
        }
    }

    /// The voucher a tender of ours pays with: `PluginFailed` for a tender whose data has no
    /// identity (not ours to begin with), `NotFound` for a voucher gone since.
    fn voucher_of_tender(
        &self,
        host: &Host,
        tender: &Tender,
        data: &TenderData,
    ) -> Result<(CodeId, Found), PluginError> {
        let id = CodeId::parse(&data.id).ok_or_else(|| {
            PluginError::plugin_failed(format!("tender {}: no voucher identity", tender.id))
        })?;
        let found = self.store.find(host, &id)?.ok_or_else(|| {
            PluginError::not_found(format!("tender {}: the voucher is gone", tender.id))
        })?;
        Ok((id, found))
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
        Kind::Gift | Kind::SinglePurpose | Kind::Payment => CodeKind::Voucher,
        Kind::Discount => CodeKind::DiscountCode,
    }
}

fn own_line_data(line: &Line) -> Option<LineData> {
    (line.plugin == ID)
        .then(|| serde_json::from_value::<LineData>(line.data.clone()).ok())
        .flatten()
}

/// The identity of the discount voucher behind one of this plugin's discount lines.
fn discount_voucher_of_line(line: &Line) -> Option<String> {
    (line.plugin == ID && line.kind == LineKind::Discount)
        .then(|| {
            line.data
                .get("discount_voucher")?
                .as_str()
                .map(str::to_string)
        })
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
    /// A fresh code of `programme` and its identity: a collision with a voucher sold before
    /// (or pending in a sale) draws again, four times at most.
    fn fresh_code(
        &self,
        host: &Host,
        programme: &Programme,
    ) -> Result<(String, CodeId), PluginError> {
        for _ in 0..4 {
            let canonical = programme
                .format
                .generate()
                .map_err(PluginError::plugin_failed)?;
            let id = self.key.identify(&canonical);
            if !self.pending.contains_key(&id) && self.store.find(host, &id)?.is_none() {
                return Ok((canonical, id));
            }
        }
        Err(PluginError::conflict(format!(
            "programme {}: four codes in a row were taken; its format is too small",
            programme.id
        )))
    }

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
        let (canonical, id) = self.fresh_code(host, programme)?;
        let printed = programme.format.display(&canonical);
        let terms = Voucher::issued_under(programme, &canonical, today, expires, customer);
        let (kind, tax_rate) = line_kind(programme.kind, programme.vat_rate, false);
        let issue = programme.kind.issued_free();
        let data = LineData {
            action: if issue { "issue" } else { "sell" }.into(),
            id: id.0.clone(),
            terms: Some(terms),
            kind: programme.kind,
            issued: issue.then_some(amount),
        };
        let (line_name, unit_price) = if issue {
            (
                format!("{} über {amount} (Kulanz)", programme.name),
                Decimal::ZERO,
            )
        } else {
            (programme.name.clone(), amount)
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
                name: line_name,
                qty: Decimal::ONE,
                unit_price,
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
        let found = self.limited_find_usable(host, &request.store.register, &canonical, &id)?;
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
            issued: None,
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

impl Vouchers {
    /// Whether an eWallet programme is configured (`pay-ewallet` is offered).
    fn sells_ewallets(&self) -> bool {
        self.config
            .programmes
            .iter()
            .any(|p| p.kind == Kind::Ewallet)
    }

    /// Whether discount codes or discount vouchers are configured (`remove-code` is offered).
    fn takes_discounts(&self) -> bool {
        !self.config.discount_codes.is_empty()
            || self
                .config
                .programmes
                .iter()
                .any(|p| p.kind == Kind::Discount)
    }

    /// The discount codes on `sale`: as entered, or (after a plugin restart) as its
    /// discount lines say.
    fn codes_on(&self, sale: &Sale) -> Vec<String> {
        match self.entered.get(&sale.id) {
            Some(codes) => codes.clone(),
            None => sale
                .lines
                .iter()
                .filter_map(|l| {
                    discount::code_of_line(l).or_else(|| {
                        discount_voucher_of_line(l)
                            .map(|id| format!("{DISCOUNT_VOUCHER_ENTRY}{id}"))
                    })
                })
                .collect(),
        }
    }

    /// `EnterCode` of a discount code: checked (dates, uses, customer), remembered for the
    /// sale, and a free product added when the basket has none; the discount line itself
    /// comes from `evaluate_basket`, which the host asks next. `None`: no discount code.
    fn enter_discount_code(
        &mut self,
        host: &Host,
        request: &EnterCodeRequest,
    ) -> Result<Option<Effects>, PluginError> {
        let Some(canonical) = code::canonical(&request.code) else {
            return Ok(None);
        };
        let Some(dc) = self.config.discount_code(&canonical).cloned() else {
            return Ok(None);
        };
        let sale = &request.sale;
        let today = today(host);
        if let Some(why) = dc.out_of_date(today) {
            return Err(PluginError::not_allowed(why));
        }
        let mut codes = self.codes_on(sale);
        if codes.contains(&dc.code) {
            return Err(PluginError::conflict(format!(
                "Rabattcode {} ist schon auf diesem Verkauf",
                dc.code
            )));
        }
        dc.check_uses(host, customer_of(sale))?;
        let mut effects = Effects {
            kind: Some(CodeKind::DiscountCode),
            message: Some(format!("Rabattcode {}: {}", dc.code, dc.name)),
            ..Effects::default()
        };
        if let discount::Reward::FreeProduct {
            sku,
            name,
            price,
            vat_rate,
            qty,
        } = &dc.reward
            && !sale
                .lines
                .iter()
                .any(|l| l.kind == LineKind::Item && &l.sku == sku)
        {
            effects.add_lines.push(NewLine {
                kind: LineKind::Item,
                sku: sku.clone(),
                name: name.clone(),
                qty: Decimal::from(*qty),
                unit_price: *price,
                tax_rate: *vat_rate,
                ..NewLine::default()
            });
        }
        if let discount::Reward::FreeProduct { sku, .. } = &dc.reward {
            let lines = discount::free_product_lines(sale, sku);
            if lines.len() > 1 {
                effects.message = Some(format!(
                    "Rabattcode {}: {} — gratis aus Zeile {} ({}, die günstigste); eine andere Zeile wählt {FREE_PRODUCT_LINE}",
                    dc.code, dc.name, lines[0].id, lines[0].unit_price
                ));
                effects.result = Some(json!({
                    "choose_line": lines.iter().map(|l| l.id.clone()).collect::<Vec<_>>()
                }));
            }
        }
        if dc.line(sale, today, 2, None).is_none() && effects.add_lines.is_empty() {
            let goods: Decimal = sale
                .lines
                .iter()
                .filter(|l| l.kind == LineKind::Item && l.amount > Decimal::ZERO)
                .filter(|l| !dc.is_shipping(l))
                .map(|l| l.amount)
                .sum();
            effects.warnings.push(match dc.min_basket {
                Some(min) if goods < min => format!(
                    "Rabattcode {} gilt ab einem Einkauf von {min}: er wird abgezogen, sobald der Warenkorb das erreicht",
                    dc.code
                ),
                _ if dc.reward == discount::Reward::FreeShipping => format!(
                    "Rabattcode {}: noch keine Versandkosten im Warenkorb; sie entfallen, sobald sie dazukommen",
                    dc.code
                ),
                _ => format!(
                    "Rabattcode {} gibt auf diesen Warenkorb noch nichts",
                    dc.code
                ),
            });
        }
        codes.push(dc.code.clone());
        self.entered.insert(sale.id.clone(), codes);
        Ok(Some(effects))
    }

    /// The line the cashier chose for `code`'s free product on `sale`: as chosen, or (after a
    /// plugin restart) as its discount line says.
    fn chosen_line(&self, sale: &Sale, code: &str) -> Option<String> {
        if let Some(line) = self.chosen.get(&sale.id).and_then(|c| c.get(code)) {
            return Some(line.clone());
        }
        sale.lines
            .iter()
            .filter(|l| discount::code_of_line(l).as_deref() == Some(code))
            .find_map(|l| l.data.get("line")?.as_str().map(str::to_string))
    }

    /// `free-product-line`: the cashier chooses which line a free product code's units come
    /// off (seed 002: "the cashier chooses"); the default is the cheapest.
    fn choose_free_line(&mut self, request: &InvokeActionRequest) -> Result<Effects, PluginError> {
        let input = string_arg(request, "code")?
            .ok_or_else(|| PluginError::invalid_argument("argument code is required"))?;
        let line = string_arg(request, "line")?
            .ok_or_else(|| PluginError::invalid_argument("argument line is required"))?;
        let canonical = code::canonical(&input).unwrap_or_default();
        let dc = self
            .config
            .discount_code(&canonical)
            .filter(|_| self.codes_on(&request.sale).contains(&canonical))
            .ok_or_else(|| {
                PluginError::not_found(format!("Rabattcode {input:?} ist nicht auf diesem Verkauf"))
            })?;
        let discount::Reward::FreeProduct { sku, name, .. } = &dc.reward else {
            return Err(PluginError::invalid_argument(format!(
                "Rabattcode {canonical} gibt kein Gratisprodukt"
            )));
        };
        let lines = discount::free_product_lines(&request.sale, sku);
        let chosen = lines.iter().find(|l| l.id == line).ok_or_else(|| {
            PluginError::invalid_argument(format!(
                "argument line: {line:?} is no line of {name} on this sale"
            ))
        })?;
        self.chosen
            .entry(request.sale.id.clone())
            .or_default()
            .insert(canonical.clone(), chosen.id.clone());
        Ok(Effects {
            kind: Some(CodeKind::DiscountCode),
            message: Some(format!(
                "Rabattcode {canonical}: gratis aus Zeile {} ({})",
                chosen.id, chosen.unit_price
            )),
            ..Effects::default()
        })
    }

    /// `remove-code`: takes a discount code off the sale; its line goes with the next
    /// evaluation (a free product added for it stays, as any item the cashier can remove).
    fn remove_code(&mut self, request: &InvokeActionRequest) -> Result<Effects, PluginError> {
        let input = string_arg(request, "code")?
            .ok_or_else(|| PluginError::invalid_argument("argument code is required"))?;
        let canonical = code::canonical(&input).unwrap_or_default();
        let voucher_entry = self
            .recognise(&input)
            .map(|(_, id)| format!("{DISCOUNT_VOUCHER_ENTRY}{id}"));
        let mut codes = self.codes_on(&request.sale);
        let before = codes.len();
        let was_code = codes.contains(&canonical);
        codes.retain(|c| *c != canonical && Some(c) != voucher_entry.as_ref());
        if codes.len() == before {
            return Err(PluginError::not_found(format!(
                "Rabattcode {input:?} ist nicht auf diesem Verkauf"
            )));
        }
        self.entered.insert(request.sale.id.clone(), codes);
        Ok(Effects {
            kind: Some(CodeKind::DiscountCode),
            message: Some(if was_code {
                format!("Rabattcode {canonical} entfernt")
            } else {
                format!("Rabattgutschein {} entfernt", code::masked(&canonical))
            }),
            ..Effects::default()
        })
    }
}

impl EvaluateBasket for Vouchers {
    fn evaluate_basket(
        &mut self,
        host: &Host,
        request: EvaluateBasketRequest,
    ) -> Result<EvaluateBasketResponse, PluginError> {
        let codes = self.codes_on(&request.sale);
        if codes.is_empty() {
            return Ok(EvaluateBasketResponse {
                independent: true,
                ..EvaluateBasketResponse::default()
            });
        }
        let today = today(host);
        let mut lines: Vec<posd_plugin_sdk::schema::AutoLine> = codes
            .iter()
            .filter_map(|c| self.config.discount_code(c))
            .filter_map(|dc| {
                let chosen = self.chosen_line(&request.sale, &dc.code);
                dc.line(&request.sale, today, 2, chosen.as_deref())
            })
            .collect();
        let goods: Vec<&Line> = request
            .sale
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Item && l.amount > Decimal::ZERO)
            .collect();
        let mut left: Decimal = goods.iter().map(|l| l.amount).sum::<Decimal>()
            + lines.iter().map(|l| l.amount).sum::<Decimal>();
        for entry in &codes {
            let Some(id) = entry
                .strip_prefix(DISCOUNT_VOUCHER_ENTRY)
                .and_then(CodeId::parse)
            else {
                continue;
            };
            let Some(found) = self.store.find(host, &id)? else {
                continue;
            };
            let off = found.balance.min(left).round_dp(2);
            if off <= Decimal::ZERO || found.voucher.blocked {
                continue;
            }
            left -= off;
            lines.push(posd_plugin_sdk::schema::AutoLine {
                kind: LineKind::Discount,
                name: found.voucher.name.clone(),
                amount: -off,
                applies_to: goods.iter().map(|l| l.id.clone()).collect(),
                reference: format!("••••{}", found.voucher.last4),
                data: json!({ "discount_voucher": id.0 }),
                ..posd_plugin_sdk::schema::AutoLine::default()
            });
        }
        Ok(EvaluateBasketResponse {
            lines,
            // Discount codes and discount vouchers count the goods alone.
            independent: true,
            ..EvaluateBasketResponse::default()
        })
    }
}

impl Vouchers {
    /// The eWallets sold to `customer`, with their balances.
    fn ewallets_of(
        &self,
        host: &Host,
        customer: &str,
    ) -> Result<Vec<(CodeId, Found)>, PluginError> {
        let mut wallets = Vec::new();
        for entry in host.kv_list(&format!("customer:{customer}:ewallet:"))? {
            let Some(id) = entry
                .value
                .get("id")
                .and_then(Value::as_str)
                .and_then(CodeId::parse)
            else {
                continue;
            };
            if let Some(found) = self.store.find(host, &id)?
                && found.voucher.customer.as_deref() == Some(customer)
            {
                wallets.push((id, found));
            }
        }
        Ok(wallets)
    }

    /// `pay-ewallet`: the customer's eWallet offered without scanning — its tender put on
    /// the sale as if its code had been entered.
    fn pay_with_ewallet(
        &mut self,
        host: &Host,
        request: &InvokeActionRequest,
    ) -> Result<Effects, PluginError> {
        let customer = customer_of(&request.sale).ok_or_else(|| {
            PluginError::customer_required("paying with an eWallet needs the customer on the sale")
        })?;
        let wanted = string_arg(request, "last4")?.map(|l| l.to_ascii_uppercase());
        let usable: Vec<(CodeId, Found)> = self
            .ewallets_of(host, customer)?
            .into_iter()
            .filter(|(id, f)| {
                f.balance > Decimal::ZERO && !f.voucher.blocked && !on_sale(&request.sale, id)
            })
            .filter(|(_, f)| wanted.as_ref().is_none_or(|w| *w == f.voucher.last4))
            .collect();
        let (id, found) = usable.into_iter().next().ok_or_else(|| {
            PluginError::not_found(format!(
                "customer {customer} has no eWallet with a balance to pay with"
            ))
        })?;
        let voucher = &found.voucher;
        let data = TenderData {
            id: id.0.clone(),
            kind: voucher.kind,
            expires: voucher.expires.clone(),
        };
        Ok(Effects {
            kind: Some(CodeKind::Ewallet),
            message: Some(format!(
                "eWallet ••••{} über {}",
                voucher.last4, found.balance
            )),
            warnings: expiry_warning(voucher, today(host)).into_iter().collect(),
            lock_customer: Some(true),
            add_tenders: vec![NewTender {
                method: METHOD.into(),
                amount: found.balance,
                max_amount: Some(found.balance),
                reference: format!("••••{}", voucher.last4),
                data: serde_json::to_value(&data)
                    .map_err(|e| PluginError::plugin_failed(e.to_string()))?,
            }],
            ..Effects::default()
        })
    }
}

impl ValidateTender for Vouchers {
    fn validate_tender(
        &mut self,
        host: &Host,
        request: ValidateTenderRequest,
    ) -> Result<ValidateTenderResponse, PluginError> {
        if request.tender.method != CREDIT_METHOD {
            return Err(PluginError::not_found(format!(
                "tender method {:?} is not this plugin's",
                request.tender.method
            )));
        }
        if let Some(key) = request.tender.details.keys().next() {
            return Err(PluginError::invalid_argument(format!(
                "details key {key:?}: tender credit takes none"
            )));
        }
        let customer = customer_of(&request.sale).ok_or_else(|| {
            PluginError::customer_required("paying with credit needs the customer on the sale")
        })?;
        let balance = host
            .ledger_balance(&store::credit_account(customer))?
            .balance;
        let on_sale: Decimal = request
            .sale
            .tenders
            .iter()
            .filter(|t| t.plugin == ID && t.method == CREDIT_METHOD)
            .map(|t| t.amount)
            .sum();
        let left = balance - on_sale;
        if left <= Decimal::ZERO {
            return Err(PluginError::voucher_empty(format!(
                "customer {customer} has no credit left"
            )));
        }
        Ok(ValidateTenderResponse {
            amount: request.tender.amount.min(left),
            reference: String::new(),
            data: json!({ "customer": customer }),
        })
    }
}

impl CustomerAccounts for Vouchers {
    fn customer_accounts(
        &mut self,
        host: &Host,
        request: CustomerAccountsRequest,
    ) -> Result<CustomerAccountsResponse, PluginError> {
        let credit = host.ledger_balance(&store::credit_account(&request.customer))?;
        let mut accounts: Vec<CustomerAccount> = (credit.exists)
            .then(|| CustomerAccount {
                programme: "Kundenguthaben".into(),
                kind: AccountKind::Credit,
                balance: credit.balance,
                unit: credit.unit.clone(),
            })
            .into_iter()
            .collect();
        for (id, found) in self.ewallets_of(host, &request.customer)? {
            accounts.push(CustomerAccount {
                programme: format!("{} ••••{}", found.voucher.name, found.voucher.last4),
                kind: AccountKind::Wallet,
                balance: found.balance,
                unit: host.ledger_balance(&format!("voucher:{id}"))?.unit,
            });
        }
        Ok(CustomerAccountsResponse { accounts })
    }
}

impl ClassifyCode for Vouchers {
    fn classify_code(
        &mut self,
        host: &Host,
        request: ClassifyCodeRequest,
    ) -> Result<ClassifyCodeResponse, PluginError> {
        if let Some(info) = self.classify_discount_code(&request.code) {
            return Ok(ClassifyCodeResponse::Claimed(info));
        }
        let Some((canonical, id)) = self.recognise(&request.code) else {
            self.refuse_orphan(host, &request.code)?;
            return Ok(ClassifyCodeResponse::NotClaimed);
        };
        let found = self.limited_inquire(host, &request.store.register, &canonical, &id)?;
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
        if let Some(effects) = self.enter_discount_code(host, &request)? {
            return Ok(EnterCodeResponse::Claimed(effects));
        }
        let Some((canonical, id)) = self.recognise(&request.code) else {
            self.refuse_orphan(host, &request.code)?;
            return Ok(EnterCodeResponse::NotClaimed);
        };
        let found = self.limited_inquire(host, &request.store.register, &canonical, &id)?;
        let voucher = &found.voucher;
        if on_sale(&request.sale, &id) {
            return Err(PluginError::conflict(format!(
                "{} ••••{} is on this sale already",
                voucher.kind.title(),
                voucher.last4
            )));
        }
        if voucher.kind == Kind::Discount {
            let entry = format!("{DISCOUNT_VOUCHER_ENTRY}{id}");
            let mut codes = self.codes_on(&request.sale);
            if codes.contains(&entry) {
                return Err(PluginError::conflict(format!(
                    "Rabattgutschein ••••{} ist schon auf diesem Verkauf",
                    voucher.last4
                )));
            }
            codes.push(entry);
            self.entered.insert(request.sale.id.clone(), codes);
            return Ok(EnterCodeResponse::Claimed(Effects {
                kind: Some(CodeKind::DiscountCode),
                message: Some(format!(
                    "Rabattgutschein ••••{} über {}",
                    voucher.last4, found.balance
                )),
                warnings: expiry_warning(voucher, today(host)).into_iter().collect(),
                ..Effects::default()
            }));
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
            .map(|p| match p.kind {
                Kind::Payment | Kind::Discount => Action {
                    id: format!("{ISSUE_PREFIX}{}", p.id),
                    label: format!("{} ausstellen (Kulanz)", p.name),
                    params: vec![amount_param(p.amount)],
                },
                _ => Action {
                    id: format!("{SELL_PREFIX}{}", p.id),
                    label: format!("{} verkaufen", p.name),
                    params: vec![amount_param(p.amount)],
                },
            })
            .collect();
        actions.extend(self.product_actions());
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
        if self.sells_ewallets() {
            actions.push(Action {
                id: PAY_EWALLET.into(),
                label: "Mit eWallet des Kunden zahlen".into(),
                params: vec![ActionParam {
                    name: "last4".into(),
                    param_type: ParamType::String,
                    required: false,
                    ..ActionParam::default()
                }],
            });
        }
        if self
            .config
            .discount_codes
            .iter()
            .any(|c| matches!(c.reward, discount::Reward::FreeProduct { .. }))
        {
            actions.push(Action {
                id: FREE_PRODUCT_LINE.into(),
                label: "Gratisprodukt: Zeile wählen".into(),
                params: vec![
                    ActionParam {
                        name: "code".into(),
                        param_type: ParamType::Code,
                        required: true,
                        ..ActionParam::default()
                    },
                    ActionParam {
                        name: "line".into(),
                        param_type: ParamType::String,
                        required: true,
                        ..ActionParam::default()
                    },
                ],
            });
        }
        if self.takes_discounts() {
            actions.push(Action {
                id: REMOVE_CODE.into(),
                label: "Rabattcode entfernen".into(),
                params: vec![ActionParam {
                    name: "code".into(),
                    param_type: ParamType::Code,
                    required: true,
                    ..ActionParam::default()
                }],
            });
        }
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
        if request.action == PAY_EWALLET && self.sells_ewallets() {
            return self.pay_with_ewallet(host, &request);
        }
        if request.action == FREE_PRODUCT_LINE && !self.config.discount_codes.is_empty() {
            return self.choose_free_line(&request);
        }
        if request.action == REMOVE_CODE && self.takes_discounts() {
            return self.remove_code(&request);
        }
        if let Some(sku) = request.action.strip_prefix(product::SELL_PRODUCT_PREFIX) {
            return self.sell_product(host, &request, sku);
        }
        let sold = request
            .action
            .strip_prefix(SELL_PREFIX)
            .and_then(|id| self.config.programme(id))
            .filter(|p| !p.kind.issued_free());
        let issued = request
            .action
            .strip_prefix(ISSUE_PREFIX)
            .and_then(|id| self.config.programme(id))
            .filter(|p| p.kind.issued_free());
        let programme = sold
            .or(issued)
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

/// The postings that put `amount` onto (positive) or take it off a payment voucher issued
/// for goodwill, against [`GOODWILL`].
fn goodwill_pair(id: &CodeId, amount: Decimal, unit: &str, kind: &str) -> [Posting; 2] {
    [
        Posting {
            account: format!("voucher:{id}"),
            amount,
            unit: unit.to_string(),
            kind: kind.to_string(),
            floor: Some(Decimal::ZERO),
            ..Posting::default()
        },
        Posting {
            account: GOODWILL.to_string(),
            amount: -amount,
            unit: unit.to_string(),
            kind: kind.to_string(),
            ..Posting::default()
        },
    ]
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
                *change.entry(d.id).or_default() += d.issued.unwrap_or(line.amount);
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
            let new_voucher = data.action == "sell" || data.action == "issue";
            let value = data.issued.unwrap_or(line.amount);
            let (terms, before) = if new_voucher {
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
                if let (Kind::Ewallet, Some(owner)) = (terms.kind, terms.customer.as_deref()) {
                    effects.kv.push(posd_plugin_sdk::schema::KvWrite::new(
                        ewallet_index_key(owner, &id),
                        &json!({ "id": id.0 }),
                    )?);
                }
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
            if data.issued.is_some() {
                pairs.push(goodwill_pair(&id, value, &unit, "issue"));
            } else {
                pairs.push(self.store.move_balance(&id, line.amount, &unit, "voucher"));
            }
            let after = before + change.get(&data.id).copied().unwrap_or_default();
            let verb = if new_voucher { "Wert" } else { "Aufgeladen" };
            let mut lines = vec![
                format!("{verb}: {value} {unit}"),
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
            // A slip with the full code is secret: the host keeps it masked in the journal
            // and wipes the printed job, so the database never holds a spendable code.
            let secret = barcode.is_some();
            effects.sections.push(ReceiptSection {
                title: terms.name.clone(),
                lines,
                slip: true,
                barcode,
                qr: None,
                secret,
            });
            touched.push(id);
        }
        for (tender, data, paid) in voucher_payments(sale) {
            if paid.is_zero() {
                continue;
            }
            let (id, found) = self.voucher_of_tender(host, tender, &data)?;
            if found.voucher.blocked {
                return Err(PluginError::not_allowed(format!(
                    "voucher ••••{} was blocked since it was entered",
                    found.voucher.last4
                )));
            }
            pairs.push(self.store.move_balance(&id, -paid, &unit, "redeem"));
            let mut after = found.balance + change.get(&data.id).copied().unwrap_or_default();
            let mut residual_text = None;
            let mut residual_slip = None;
            if let Some(rule) = found.voucher.residual.filter(|_| !found.voucher.reusable)
                && after > Decimal::ZERO
            {
                let rest = after;
                after -= rest;
                let from = |kind: &str| Posting {
                    account: format!("voucher:{id}"),
                    amount: -rest,
                    unit: unit.clone(),
                    kind: kind.to_string(),
                    floor: Some(Decimal::ZERO),
                    ..Posting::default()
                };
                match (rule, customer_of(sale)) {
                    (config::Residual::CustomerCredit, Some(customer)) => {
                        pairs.push([
                            from("credit"),
                            Posting {
                                account: store::credit_account(customer),
                                amount: rest,
                                unit: unit.clone(),
                                kind: "credit".into(),
                                floor: Some(Decimal::ZERO),
                                customer: Some(customer.to_string()),
                                ..Posting::default()
                            },
                        ]);
                        effects.kv.push(reversal::note_moved(
                            &id,
                            &request.receipt_id,
                            &reversal::Moved {
                                rule: config::Residual::CustomerCredit,
                                amount: rest,
                                customer: Some(customer.to_string()),
                                to: None,
                            },
                        )?);
                        residual_text =
                            Some(format!("Restwert {rest} {unit} als Kundenguthaben gebucht"));
                    }
                    (config::Residual::ResidualVoucher, _) => {
                        let (slip, pair, kv, new_id) = self.residual_voucher(
                            host,
                            &id,
                            &found.voucher,
                            rest,
                            &unit,
                            &request.receipt_id,
                        )?;
                        pairs.push(pair);
                        effects.kv.push(kv);
                        effects.kv.push(reversal::note_moved(
                            &id,
                            &request.receipt_id,
                            &reversal::Moved {
                                rule: config::Residual::ResidualVoucher,
                                amount: rest,
                                customer: None,
                                to: Some(new_id.0.clone()),
                            },
                        )?);
                        residual_text = Some(format!(
                            "Restwert {rest} {unit} auf neuen Gutschein übertragen"
                        ));
                        residual_slip = Some(slip);
                    }
                    _ => {
                        pairs.push([
                            from("breakage"),
                            Posting {
                                account: store::BREAKAGE.into(),
                                amount: rest,
                                unit: unit.clone(),
                                kind: "breakage".into(),
                                ..Posting::default()
                            },
                        ]);
                        effects.kv.push(reversal::note_moved(
                            &id,
                            &request.receipt_id,
                            &reversal::Moved {
                                rule: config::Residual::Breakage,
                                amount: rest,
                                customer: None,
                                to: None,
                            },
                        )?);
                        residual_text = Some(format!("Restwert {rest} {unit} verfallen"));
                    }
                }
            }
            let mut lines = vec![
                format!("Code: ••••{}", found.voucher.last4),
                format!("Eingelöst: {paid} {unit}"),
                format!("Restwert: {} {unit}", after.max(Decimal::ZERO)),
                match &found.voucher.expires {
                    Some(day) => format!("Gültig bis: {day}"),
                    None => "Unbefristet gültig".to_string(),
                },
            ];
            lines.extend(residual_text);
            effects.sections.push(ReceiptSection {
                title: format!("{} eingelöst", found.voucher.kind.title()),
                lines,
                slip: true,
                barcode: None,
                qr: None,
                secret: false,
            });
            effects.sections.extend(residual_slip);
        }
        for tender in &sale.tenders {
            if tender.plugin != ID || tender.method != CREDIT_METHOD || tender.amount.is_zero() {
                continue;
            }
            let customer = credit_customer(tender)?;
            pairs.push([
                Posting {
                    account: store::credit_account(customer),
                    amount: -tender.amount,
                    unit: unit.clone(),
                    kind: "redeem".into(),
                    floor: Some(Decimal::ZERO),
                    customer: Some(customer.to_string()),
                    ..Posting::default()
                },
                Posting {
                    account: store::ISSUED.into(),
                    amount: tender.amount,
                    unit: unit.clone(),
                    kind: "redeem".into(),
                    ..Posting::default()
                },
            ]);
        }
        effects.postings = ordered(pairs);
        for line in &sale.lines {
            let Some(id) = discount_voucher_of_line(line).and_then(|i| CodeId::parse(&i)) else {
                continue;
            };
            let found = self.store.find(host, &id)?.ok_or_else(|| {
                PluginError::not_found(format!("line {}: the voucher is gone", line.id))
            })?;
            let used = -line.amount;
            effects
                .postings
                .extend(goodwill_pair(&id, -used, &unit, "redeem"));
            effects.sections.push(ReceiptSection {
                title: "Rabattgutschein eingelöst".into(),
                lines: vec![
                    format!("Code: ••••{}", found.voucher.last4),
                    format!("Rabatt: {used} {unit}"),
                    format!("Restwert: {} {unit}", found.balance - used),
                ],
                slip: true,
                barcode: None,
                qr: None,
                secret: false,
            });
        }
        for line in &sale.lines {
            let Some(code) = discount::code_of_line(line) else {
                continue;
            };
            let dc = self.config.discount_code(&code).ok_or_else(|| {
                PluginError::invalid_configuration(format!(
                    "line {}: discount code {code} is no longer configured; the basket changes once more to drop it",
                    line.id
                ))
            })?;
            dc.check_uses(host, customer_of(sale))?;
            effects.postings.extend(dc.use_postings(customer_of(sale)));
        }
        self.preparing.insert(request.checkout.clone(), touched);
        self.preparing_sales
            .insert(request.checkout.clone(), sale.id.clone());
        admin::note_receipts(&mut effects, &request.receipt_id)?;
        Ok(effects)
    }
}

impl Vouchers {
    /// A new voucher for the `rest` of a non-reusable one, under the same terms (its
    /// programme's code format), issued with this checkout: its slip (full code as
    /// barcode, or masked with `print_full_code = false`), the postings moving the rest onto
    /// it, its terms to store and its identity.
    fn residual_voucher(
        &self,
        host: &Host,
        old_id: &CodeId,
        old: &Voucher,
        rest: Decimal,
        unit: &str,
        receipt_id: &str,
    ) -> Result<
        (
            ReceiptSection,
            [Posting; 2],
            posd_plugin_sdk::schema::KvWrite,
            CodeId,
        ),
        PluginError,
    > {
        let (slip, new_id, kv, _) = self.voucher_like(
            host,
            old,
            rest,
            unit,
            receipt_id,
            &format!("Restwertgutschein {}", old.name),
            format!("Restwert aus Gutschein ••••{}", old.last4),
        )?;
        let pair = [
            Posting {
                account: format!("voucher:{new_id}"),
                amount: rest,
                unit: unit.to_string(),
                kind: "residual".into(),
                floor: Some(Decimal::ZERO),
                ..Posting::default()
            },
            Posting {
                account: format!("voucher:{old_id}"),
                amount: -rest,
                unit: unit.to_string(),
                kind: "residual".into(),
                floor: Some(Decimal::ZERO),
                ..Posting::default()
            },
        ];
        Ok((slip, pair, kv, new_id))
    }

    /// A new voucher of `old`'s programme and terms worth `value`, issued with the
    /// checkout or return `receipt_id` (a residual voucher, a return's refund): its secret
    /// slip with the full code (masked with `print_full_code = false`), its identity and
    /// its terms to store. The caller posts its value.
    #[allow(clippy::too_many_arguments)]
    fn voucher_like(
        &self,
        host: &Host,
        old: &Voucher,
        value: Decimal,
        unit: &str,
        receipt_id: &str,
        title: &str,
        first_line: String,
    ) -> Result<
        (
            ReceiptSection,
            CodeId,
            posd_plugin_sdk::schema::KvWrite,
            String,
        ),
        PluginError,
    > {
        let programme = self.config.programme(&old.programme).ok_or_else(|| {
            PluginError::invalid_configuration(format!(
                "programme {} of voucher ••••{} is no longer configured: no new voucher can be issued for it",
                old.programme, old.last4
            ))
        })?;
        let (canonical, new_id) = self.fresh_code(host, programme)?;
        let printed = programme.format.display(&canonical);
        let terms = Voucher {
            last4: code::last_four(&canonical),
            issued: today(host).to_string(),
            sold_on: receipt_id.to_string(),
            refunded_by: None,
            blocked: false,
            ..old.clone()
        };
        let kv = self.store.record(&new_id, &terms)?;
        let mut lines = vec![
            first_line,
            format!("Wert: {value} {unit}"),
            match &terms.expires {
                Some(day) => format!("Gültig bis: {day}"),
                None => "Unbefristet gültig".to_string(),
            },
        ];
        let barcode = if self.config.print_full_code {
            Some(printed)
        } else {
            lines.push(format!("Code: ••••{}", terms.last4));
            None
        };
        Ok((
            ReceiptSection {
                title: title.to_string(),
                lines,
                slip: true,
                secret: barcode.is_some(),
                barcode,
                qr: None,
            },
            new_id,
            kv,
            terms.last4,
        ))
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
        if let Some(sale) = self.preparing_sales.remove(&request.checkout) {
            self.entered.remove(&sale);
            self.chosen.remove(&sale);
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
        self.preparing_sales.remove(&request.checkout);
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
            .filter(|(_, d)| d.action == "sell" || d.action == "issue")
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
            if data.action == "issue" {
                // Issued without payment: nothing is paid out; what is left goes back.
                let left = found.balance.max(Decimal::ZERO);
                pairs.push(goodwill_pair(&id, -left, &unit, "void"));
                let mut voucher = found.voucher.clone();
                voucher.refunded_by = Some(request.void_receipt_id.clone());
                effects.kv.push(self.store.record(&id, &voucher)?);
                effects.sections.push(ReceiptSection {
                    title: format!("Zahlungsgutschein {masked} storniert"),
                    lines: vec![
                        format!("Zurückgenommen: {left} {unit}"),
                        "Guthaben: 0.00".to_string(),
                    ],
                    ..ReceiptSection::default()
                });
            } else if data.action == "sell" {
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
            let (id, found) = self.voucher_of_tender(host, tender, data)?;
            pairs.push(self.store.move_balance(&id, tender.amount, &unit, "void"));
            // A rest the redemption moved (forfeited, credited, reissued) comes back too.
            let undone = self.undo_moved_rest(host, &id, &receipt.id, &request, &unit)?;
            pairs.extend(undone.pairs);
            effects.kv.extend(undone.kv);
            let mut lines = vec![format!("Einlösung storniert: {} {unit}", tender.amount)];
            lines.extend(undone.lines);
            lines.push(format!(
                "Guthaben: {} {unit}",
                found.balance + tender.amount + undone.back
            ));
            effects.sections.push(ReceiptSection {
                title: format!("{} ••••{}", found.voucher.kind.title(), found.voucher.last4),
                lines,
                ..ReceiptSection::default()
            });
        }
        // Customer credit paid on the receipt goes back onto the customer's credit.
        for tender in &receipt.tenders {
            if let Some((pair, section)) =
                self.credit_back(host, tender, tender.amount, &unit, "void")?
            {
                pairs.push(pair);
                effects.sections.push(section);
            }
        }
        effects.postings = ordered(pairs);
        // A voided sale puts what its discount vouchers took off back on them.
        for line in &receipt.lines {
            if let Some(id) = discount_voucher_of_line(line).and_then(|i| CodeId::parse(&i)) {
                let given = -line.amount;
                effects
                    .postings
                    .extend(goodwill_pair(&id, given, &unit, "void"));
                effects.sections.push(ReceiptSection {
                    title: format!("Rabattgutschein {}", line.reference),
                    lines: vec![format!("Rabatt storniert: {given} {unit}")],
                    ..ReceiptSection::default()
                });
            }
        }
        // A voided sale gives its discount codes' uses back.
        let customer = receipt
            .customer
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        for line in &receipt.lines {
            if let Some(dc) =
                discount::code_of_line(line).and_then(|c| self.config.discount_code(&c))
            {
                effects.postings.extend(dc.give_back_postings(customer));
            }
        }
        admin::note_receipts(&mut effects, &request.void_receipt_id)?;
        Ok(VoidReceiptResponse { effects, payouts })
    }
}

impl posd_plugin_sdk::ListAdminActions for Vouchers {
    fn list_admin_actions(
        &mut self,
        host: &Host,
        _request: posd_plugin_sdk::schema::ListAdminActionsRequest,
    ) -> Result<posd_plugin_sdk::schema::ListAdminActionsResponse, PluginError> {
        Ok(admin::list(self, host))
    }
}

impl posd_plugin_sdk::InvokeAdminAction for Vouchers {
    fn invoke_admin_action(
        &mut self,
        host: &Host,
        request: posd_plugin_sdk::schema::InvokeAdminActionRequest,
    ) -> Result<posd_plugin_sdk::schema::InvokeAdminActionResponse, PluginError> {
        admin::invoke(self, host, &request)
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
    /// eWallets sold before the customer index existed are put into it once, when the
    /// plugin starts, so they are shown with their customer again.
    #[test]
    fn ewallets_sold_before_the_customer_index_are_indexed_at_start() {
        let dir = std::env::temp_dir().join(format!("posd-vouchers-index-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("k");
        std::fs::write(&key, [5u8; 32]).unwrap();
        let mut h = Harness::<Vouchers>::create(json!({"key_file": key, "programmes": [
            {"id": "wallet", "name": "eWallet", "kind": "ewallet", "max_amount": "500.00",
             "code": {"format": "template"}}]}))
        .unwrap();
        let id = "ab".repeat(32);
        let old = Voucher {
            programme: "wallet".into(),
            name: "eWallet".into(),
            kind: Kind::Ewallet,
            last4: "7730".into(),
            issued: "2026-01-01".into(),
            expires: None,
            reusable: true,
            residual: None,
            vat_rate: None,
            amount: AmountRule::Free {
                min: Decimal::ONE,
                max: Decimal::from(500),
            },
            customer: Some("C-1".into()),
            blocked: false,
            sold_on: "R-1".into(),
            refunded_by: None,
        };
        h.kv_put(&format!("voucher:{id}"), &old).unwrap();
        h.post(&HostStore.move_balance(
            &CodeId(id.clone()),
            "12.00".parse().unwrap(),
            "EUR",
            "sale",
        ))
        .unwrap();
        let accounts = |h: &mut Harness<Vouchers>| {
            h.call(
                "customer_accounts",
                &json!({"schema": 1, "customer": "C-1"}),
            )
            .unwrap()["accounts"]
                .clone()
        };
        assert_eq!(accounts(&mut h), json!([]), "not in the index yet");
        // The marker of the first start is there: a second start does not scan again…
        assert_eq!(h.kv_get::<u32>(EWALLET_INDEX_DONE).unwrap(), Some(1));
        h.kv_put(EWALLET_INDEX_DONE, &Value::Null).unwrap();
        // …a start without it does, and the wallet is shown with its customer.
        h.restart().unwrap();
        let shown = accounts(&mut h);
        assert_eq!(shown[0]["kind"], "wallet", "{shown}");
        assert_eq!(shown[0]["balance"], "12.00", "{shown}");
        assert_eq!(
            h.kv_get::<Value>(&ewallet_index_key("C-1", &CodeId(id)))
                .unwrap(),
            Some(json!({"id": "ab".repeat(32)}))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
