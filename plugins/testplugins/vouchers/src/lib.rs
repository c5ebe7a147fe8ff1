//! posd-test-vouchers — a minimal multi-purpose gift-voucher and eWallet programme whose
//! balances live in the host's ledger, never in the plugin's memory.
//!
//! - Codes: `GV-<n>` gift vouchers, `EW-<n>` eWallets (`<n>` digits; case-insensitive).
//!   The balance of a code is the ledger account `voucher:<code>` (in the plugin's
//!   namespace); an account never posted to is an unknown code.
//! - `list_actions`: `sell` (code, amount) adds a `voucher_sale` line "Gutschein" outside
//!   VAT; `topup` (code, amount) adds a `voucher_topup` line. Only gift vouchers are sold;
//!   a gift voucher must exist to be topped up; an eWallet top-up needs a customer on the
//!   sale (`CustomerRequired`), opens the wallet if it is new and locks the customer.
//! - `enter_code`: unknown code `NotFound`, balance 0 `VoucherEmpty`, else a `voucher`
//!   tender that follows the amount due up to the balance.
//! - `prepare_checkout`: per line sold or topped up `voucher:<code>` +amount / `issued`
//!   −amount; per redemption `voucher:<code>` −paid / `issued` +paid (floor 0 on the
//!   voucher accounts); a slip section with the code as barcode for each; a voucher sold
//!   gets a PIN ([`pin_of`]) as text and QR on its slip, marked `secret`.
//! - `void_receipt`: a sold voucher is paid out (its balance, whatever is left, goes to 0;
//!   a partly spent one pays back only that, named in `payouts`),
//!   a top-up comes off the balance, a redemption is booked back; any eWallet line or tender
//!   makes the receipt `NotAllowed`.
//! - `return_lines`: takes every share of the refund the host offers on its tenders back
//!   onto the voucher it was paid with (`voucher:<code>` +share / `issued` −share), with a
//!   receipt section naming the new balance.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;

use posd_plugin_sdk::schema::{
    Action, ActionParam, CheckoutEffects, ClassifyCodeRequest, ClassifyCodeResponse, CodeInfo,
    CodeKind, Effects, EnterCodeRequest, EnterCodeResponse, InvokeActionRequest, Line, LineKind,
    ListActionsRequest, ListActionsResponse, NewLine, NewTender, ParamType, Payout, Posting,
    PrepareCheckoutRequest, ReceiptSection, ReturnLinesRequest, ReturnLinesResponse, Sale,
    TakenRefund, Tender, VoidReceiptRequest, VoidReceiptResponse,
};
use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::{
    ClassifyCode, Decimal, EnterCode, Host, InvokeAction, ListActions, Plugin, PluginError,
    PrepareCheckout, ReturnLines, VoidReceipt, posd_plugin,
};

/// The plugin id, which is also the `plugin` of its lines and tenders.
pub const ID: &str = "vouchers";
/// The contra account of every voucher posting.
pub const ISSUED: &str = "issued";
/// The tender method of a redemption.
pub const METHOD: &str = "voucher";

/// No state: balances are read from the host's ledger.
pub struct Vouchers;

impl Plugin for Vouchers {
    const ID: &'static str = ID;
    const NAME: &'static str = "Vouchers (test)";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "Test plugin: multi-purpose gift vouchers and eWallets kept in the host's ledger";

    fn create(_host: &Host, _config: Value) -> Result<Self, PluginError> {
        Ok(Vouchers)
    }
}

/// What a code is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Programme {
    /// `GV-<n>`: a multi-purpose gift voucher.
    GiftVoucher,
    /// `EW-<n>`: a customer's eWallet.
    EWallet,
}

impl Programme {
    fn code_kind(self) -> CodeKind {
        match self {
            Programme::GiftVoucher => CodeKind::Voucher,
            Programme::EWallet => CodeKind::Ewallet,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Programme::GiftVoucher => "Gutschein",
            Programme::EWallet => "eWallet",
        }
    }
}

/// The programme of a code and the code in its canonical (upper-case) form, or `None` when
/// the code is not this plugin's.
pub fn parse_code(code: &str) -> Option<(Programme, String)> {
    let code = code.trim().to_ascii_uppercase();
    let (programme, number) = if let Some(n) = code.strip_prefix("GV-") {
        (Programme::GiftVoucher, n)
    } else if let Some(n) = code.strip_prefix("EW-") {
        (Programme::EWallet, n)
    } else {
        return None;
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((programme, code))
}

/// The ledger account of a code, in the plugin's namespace.
pub fn account(code: &str) -> String {
    format!("voucher:{code}")
}

fn is_voucher_line(line: &Line) -> bool {
    line.plugin == ID && matches!(line.kind, LineKind::VoucherSale | LineKind::VoucherTopup)
}

fn is_voucher_tender(tender: &Tender) -> bool {
    tender.plugin == ID && tender.method == METHOD
}

/// What each of this plugin's voucher tenders really pays, in order.
///
/// A voucher tender follows the amount due up to its balance, so its `amount` in the sale
/// view may be more than it pays (it is the balance when the code was entered). This
/// applies the contract's rule: the goods, less the fixed non-cash tenders, less what
/// earlier vouchers pay, up to the tender's amount.
pub fn voucher_payments(sale: &Sale) -> Vec<(&Tender, Decimal)> {
    let goods: Decimal = sale
        .lines
        .iter()
        .filter(|l| l.kind != LineKind::Rounding)
        .map(|l| l.amount)
        .sum();
    let fixed: Decimal = sale
        .tenders
        .iter()
        .filter(|t| !is_voucher_tender(t) && t.method != "cash")
        .map(|t| t.amount)
        .sum();
    let mut left = (goods - fixed).max(Decimal::ZERO);
    sale.tenders
        .iter()
        .filter(|t| is_voucher_tender(t))
        .map(|t| {
            let paid = t.amount.max(Decimal::ZERO).min(left);
            left -= paid;
            (t, paid)
        })
        .collect()
}

fn string_arg(request: &InvokeActionRequest, name: &str) -> Result<String, PluginError> {
    match request.args.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(PluginError::invalid_argument(format!(
            "argument {name}: {other} is not a string"
        ))),
        None => Err(PluginError::invalid_argument(format!(
            "argument {name} is required"
        ))),
    }
}

fn amount_arg(request: &InvokeActionRequest) -> Result<Decimal, PluginError> {
    let text = string_arg(request, "amount")?;
    let amount: Decimal = text.parse().map_err(|e| {
        PluginError::invalid_argument(format!("argument amount: {text:?} is no amount: {e}"))
    })?;
    if amount <= Decimal::ZERO || amount.scale() > 2 {
        return Err(PluginError::invalid_argument(format!(
            "argument amount: {text:?} must be positive with at most two decimals"
        )));
    }
    Ok(amount)
}

fn code_arg(request: &InvokeActionRequest) -> Result<(Programme, String), PluginError> {
    let text = string_arg(request, "code")?;
    parse_code(&text).ok_or_else(|| {
        PluginError::invalid_argument(format!("argument code: {text:?} is not GV-<n> or EW-<n>"))
    })
}

/// A posting in the sale's currency.
fn posting(account: String, amount: Decimal, unit: &str, kind: &str) -> Posting {
    Posting {
        account,
        amount,
        unit: unit.to_string(),
        kind: kind.to_string(),
        ..Posting::default()
    }
}

/// A posting to a voucher account, which may not go below 0.
/// The PIN printed on a sold voucher's slip: the code's characters reversed behind `PIN`
/// (a test secret, derived so a test can look for it).
pub fn pin_of(code: &str) -> String {
    format!(
        "PIN{}",
        code.chars()
            .rev()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
    )
}

fn voucher_posting(code: &str, amount: Decimal, unit: &str, kind: &str) -> Posting {
    Posting {
        floor: Some(Decimal::ZERO),
        ..posting(account(code), amount, unit, kind)
    }
}

/// The voucher postings and their contra postings on `issued`, with what goes onto the
/// voucher accounts first, so that no account dips below its floor halfway through an entry.
fn balanced(mut vouchers: Vec<Posting>, unit: &str, kind: &str) -> Vec<Posting> {
    vouchers.retain(|p| !p.amount.is_zero());
    vouchers.sort_by_key(|p| p.amount < Decimal::ZERO);
    let mut all = Vec::with_capacity(vouchers.len() * 2);
    for p in vouchers {
        let contra = posting(ISSUED.to_string(), -p.amount, unit, kind);
        all.push(p);
        all.push(contra);
    }
    all
}

impl ClassifyCode for Vouchers {
    fn classify_code(
        &mut self,
        host: &Host,
        request: ClassifyCodeRequest,
    ) -> Result<ClassifyCodeResponse, PluginError> {
        let Some((programme, code)) = parse_code(&request.code) else {
            return Ok(ClassifyCodeResponse::NotClaimed);
        };
        let balance = host.ledger_balance(&account(&code))?;
        if !balance.exists {
            return Err(PluginError::not_found(format!("no {code}")));
        }
        Ok(ClassifyCodeResponse::Claimed(CodeInfo {
            balance: Some(balance.balance),
            ..CodeInfo::new(programme.code_kind())
        }))
    }
}

impl EnterCode for Vouchers {
    fn enter_code(
        &mut self,
        host: &Host,
        request: EnterCodeRequest,
    ) -> Result<EnterCodeResponse, PluginError> {
        let Some((programme, code)) = parse_code(&request.code) else {
            return Ok(EnterCodeResponse::NotClaimed);
        };
        if request
            .sale
            .tenders
            .iter()
            .any(|t| is_voucher_tender(t) && t.reference == code)
        {
            return Err(PluginError::conflict(format!(
                "{code} already pays on this sale"
            )));
        }
        let balance = host.ledger_balance(&account(&code))?;
        if !balance.exists {
            return Err(PluginError::not_found(format!("no {code}")));
        }
        if balance.balance <= Decimal::ZERO {
            return Err(PluginError::voucher_empty(format!(
                "{code} has a balance of {}",
                balance.balance
            )));
        }
        Ok(EnterCodeResponse::Claimed(Effects {
            kind: Some(programme.code_kind()),
            message: Some(format!("{} über {}", programme.title(), balance.balance)),
            add_tenders: vec![NewTender {
                method: METHOD.to_string(),
                amount: balance.balance,
                max_amount: Some(balance.balance),
                reference: code,
                data: Value::Null,
            }],
            ..Effects::default()
        }))
    }
}

impl ListActions for Vouchers {
    fn list_actions(
        &mut self,
        _host: &Host,
        _request: ListActionsRequest,
    ) -> Result<ListActionsResponse, PluginError> {
        let params = || {
            vec![
                ActionParam {
                    name: "code".to_string(),
                    param_type: ParamType::Code,
                    required: true,
                    ..ActionParam::default()
                },
                ActionParam {
                    name: "amount".to_string(),
                    param_type: ParamType::Decimal,
                    required: true,
                    suggested: Some(json!("25.00")),
                    ..ActionParam::default()
                },
            ]
        };
        Ok(ListActionsResponse {
            actions: vec![
                Action {
                    id: "sell".to_string(),
                    label: "Gutschein verkaufen".to_string(),
                    params: params(),
                },
                Action {
                    id: "topup".to_string(),
                    label: "Gutschein / eWallet aufladen".to_string(),
                    params: params(),
                },
            ],
        })
    }
}

impl InvokeAction for Vouchers {
    fn invoke_action(
        &mut self,
        host: &Host,
        request: InvokeActionRequest,
    ) -> Result<Effects, PluginError> {
        let (kind, name) = match request.action.as_str() {
            "sell" => (LineKind::VoucherSale, "Gutschein"),
            "topup" => (LineKind::VoucherTopup, ""),
            other => return Err(PluginError::not_found(format!("no action {other:?}"))),
        };
        let (programme, code) = code_arg(&request)?;
        let amount = amount_arg(&request)?;
        if request
            .sale
            .lines
            .iter()
            .any(|l| is_voucher_line(l) && l.reference == code)
        {
            return Err(PluginError::conflict(format!(
                "{code} is already on this sale"
            )));
        }
        let existing = host.ledger_balance(&account(&code))?;
        let mut effects = Effects {
            kind: Some(programme.code_kind()),
            ..Effects::default()
        };
        let name = match (kind.clone(), programme) {
            (LineKind::VoucherSale, Programme::EWallet) => {
                return Err(PluginError::invalid_argument(format!(
                    "{code} is an eWallet: top it up instead of selling it"
                )));
            }
            (LineKind::VoucherSale, Programme::GiftVoucher) => {
                if existing.exists {
                    return Err(PluginError::conflict(format!("{code} was sold already")));
                }
                effects.message = Some(format!("Gutschein {code} über {amount}"));
                name.to_string()
            }
            (_, Programme::GiftVoucher) => {
                if !existing.exists {
                    return Err(PluginError::not_found(format!(
                        "no {code}: sell it before topping it up"
                    )));
                }
                effects.message = Some(format!("Gutschein {code} +{amount}"));
                "Gutschein-Aufladung".to_string()
            }
            (_, Programme::EWallet) => {
                let customer = request
                    .sale
                    .customer
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or_default();
                if customer.is_empty() {
                    return Err(PluginError::customer_required(format!(
                        "topping up {code} needs a customer on the sale"
                    )));
                }
                effects.lock_customer = Some(true);
                effects.message = Some(format!("eWallet {code} +{amount}"));
                "eWallet-Aufladung".to_string()
            }
        };
        effects.add_lines = vec![NewLine {
            kind,
            sku: String::new(),
            name,
            qty: Decimal::ONE,
            unit_price: amount,
            tax_rate: Decimal::ZERO,
            tags: Vec::new(),
            reference: code.clone(),
            data: Value::Null,
            ..NewLine::default()
        }];
        effects.result = Some(json!({ "code": code }));
        Ok(effects)
    }
}

impl PrepareCheckout for Vouchers {
    fn prepare_checkout(
        &mut self,
        host: &Host,
        request: PrepareCheckoutRequest,
    ) -> Result<CheckoutEffects, PluginError> {
        let sale = &request.sale;
        let unit = if sale.currency.is_empty() {
            request.store.currency.as_str()
        } else {
            sale.currency.as_str()
        };
        let mut moves: Vec<(String, Decimal, &'static str)> = Vec::new();
        for line in sale.lines.iter().filter(|l| is_voucher_line(l)) {
            let verb = if line.kind == LineKind::VoucherSale {
                "Verkauft"
            } else {
                "Aufgeladen"
            };
            moves.push((line.reference.clone(), line.amount, verb));
        }
        for (tender, paid) in voucher_payments(sale) {
            if !paid.is_zero() {
                moves.push((tender.reference.clone(), -paid, "Eingelöst"));
            }
        }
        let mut vouchers = Vec::new();
        let mut sections = Vec::new();
        for (code, amount, verb) in &moves {
            let programme = parse_code(code).map_or(Programme::GiftVoucher, |(p, _)| p);
            let before = host.ledger_balance(&account(code))?.balance;
            let after: Decimal = before
                + moves
                    .iter()
                    .filter(|(c, _, _)| c == code)
                    .map(|(_, a, _)| *a)
                    .sum::<Decimal>();
            vouchers.push(voucher_posting(code, *amount, unit, "voucher"));
            let sold = *verb == "Verkauft";
            let mut lines = vec![
                format!("{verb}: {} {unit}", amount.abs()),
                format!("Guthaben: {after} {unit}"),
            ];
            // A sold voucher's slip carries a secret the database never holds otherwise
            // (the code itself is in this double's account names): a PIN, as text and QR.
            let pin = sold.then(|| pin_of(code));
            if let Some(pin) = &pin {
                lines.push(format!("PIN: {pin}"));
            }
            sections.push(ReceiptSection {
                title: format!("{} {code}", programme.title()),
                lines,
                slip: true,
                barcode: Some(code.clone()),
                qr: pin,
                secret: sold,
            });
        }
        Ok(CheckoutEffects {
            postings: balanced(vouchers, unit, "voucher"),
            sections,
            ..CheckoutEffects::default()
        })
    }
}

impl VoidReceipt for Vouchers {
    fn void_receipt(
        &mut self,
        host: &Host,
        request: VoidReceiptRequest,
    ) -> Result<VoidReceiptResponse, PluginError> {
        let receipt = &request.receipt;
        let lines: Vec<&Line> = receipt
            .lines
            .iter()
            .filter(|l| is_voucher_line(l))
            .collect();
        let tenders: Vec<&Tender> = receipt
            .tenders
            .iter()
            .filter(|t| is_voucher_tender(t))
            .collect();
        let codes = lines
            .iter()
            .map(|l| &l.reference)
            .chain(tenders.iter().map(|t| &t.reference));
        for code in codes {
            if matches!(parse_code(code), Some((Programme::EWallet, _))) {
                return Err(PluginError::not_allowed(format!(
                    "eWallet actions cannot be voided ({code} on {})",
                    receipt.id
                )));
            }
        }
        let unit = request.store.currency.as_str();
        let sold: BTreeSet<&str> = lines
            .iter()
            .filter(|l| l.kind == LineKind::VoucherSale)
            .map(|l| l.reference.as_str())
            .collect();
        let mut vouchers = Vec::new();
        let mut sections = Vec::new();
        let mut payouts = Vec::new();
        // A voucher sold on the receipt is paid out: what is left of it, never more than it
        // was sold for (a later top-up has a receipt of its own).
        for line in lines.iter().filter(|l| l.kind == LineKind::VoucherSale) {
            let code = line.reference.as_str();
            let left = host.ledger_balance(&account(code))?.balance;
            let paid_out = left.min(line.amount).max(Decimal::ZERO);
            vouchers.push(voucher_posting(code, -paid_out, unit, "void"));
            if paid_out < line.amount {
                payouts.push(Payout {
                    line: line.id.clone(),
                    amount: paid_out,
                });
            }
            let mut text = vec![format!("Ausbezahlt: {paid_out} {unit}")];
            if paid_out < line.amount {
                text.push(format!(
                    "Bereits eingelöst: {} {unit}",
                    line.amount - paid_out
                ));
            }
            sections.push(ReceiptSection {
                title: format!("Gutschein {code} storniert"),
                lines: text,
                ..ReceiptSection::default()
            });
        }
        // A top-up comes off the balance; a redemption is booked back.
        let others = lines
            .iter()
            .filter(|l| l.kind == LineKind::VoucherTopup)
            .map(|l| (l.reference.as_str(), -l.amount, "Aufladung storniert"))
            .chain(
                tenders
                    .iter()
                    .map(|t| (t.reference.as_str(), t.amount, "Einlösung storniert")),
            )
            .filter(|(code, _, _)| !sold.contains(code));
        for (code, amount, text) in others {
            if amount < Decimal::ZERO {
                let left = host.ledger_balance(&account(code))?.balance;
                if left + amount < Decimal::ZERO {
                    return Err(PluginError::insufficient_balance(format!(
                        "{code} has {left} left, less than the top-up of {} on {}",
                        -amount, receipt.id
                    )));
                }
            }
            vouchers.push(voucher_posting(code, amount, unit, "void"));
            sections.push(ReceiptSection {
                title: format!("Gutschein {code}"),
                lines: vec![format!("{text}: {} {unit}", amount.abs())],
                ..ReceiptSection::default()
            });
        }
        Ok(VoidReceiptResponse {
            effects: CheckoutEffects {
                postings: balanced(vouchers, unit, "void"),
                sections,
                ..CheckoutEffects::default()
            },
            payouts,
        })
    }
}

impl ReturnLines for Vouchers {
    fn return_lines(
        &mut self,
        host: &Host,
        request: ReturnLinesRequest,
    ) -> Result<ReturnLinesResponse, PluginError> {
        let unit = request.store.currency.as_str();
        let mut vouchers = Vec::new();
        let mut sections = Vec::new();
        let mut refunds = Vec::new();
        for share in &request.refunds {
            let Some(tender) = request
                .receipt
                .tenders
                .iter()
                .find(|t| t.id == share.tender && is_voucher_tender(t))
            else {
                continue;
            };
            let code = tender.reference.as_str();
            let balance = host.ledger_balance(&account(code))?.balance;
            vouchers.push(voucher_posting(code, share.amount, unit, "return"));
            sections.push(ReceiptSection {
                title: format!("Gutschein {code}"),
                lines: vec![
                    format!("Zurückgebucht: {} {unit}", share.amount),
                    format!("Guthaben: {} {unit}", balance + share.amount),
                ],
                ..ReceiptSection::default()
            });
            refunds.push(TakenRefund {
                tender: share.tender.clone(),
                amount: share.amount,
                reference: None,
            });
        }
        Ok(ReturnLinesResponse {
            effects: CheckoutEffects {
                postings: balanced(vouchers, unit, "return"),
                sections,
                ..CheckoutEffects::default()
            },
            excluded: Vec::new(),
            refunds,
            released: Vec::new(),
        })
    }
}

posd_plugin!(Vouchers);

#[cfg(test)]
mod tests {
    use super::*;
    use posd_plugin_sdk::testing::Harness;

    fn amount(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    /// A harness whose ledger knows `GV-1` at 50.00, `GV-0` spent down to 0 and nothing
    /// else, booked as the host would have booked their sales and redemptions.
    fn harness() -> Harness<Vouchers> {
        let h = Harness::<Vouchers>::create(json!({})).unwrap();
        let sold = |code: &str, value: &str| {
            balanced(
                vec![voucher_posting(code, amount(value), "EUR", "voucher")],
                "EUR",
                "voucher",
            )
        };
        h.post(&sold("GV-1", "50.00")).unwrap();
        h.post(&sold("GV-0", "10.00")).unwrap();
        h.post(&sold("GV-0", "-10.00")).unwrap();
        h
    }

    #[test]
    fn codes_are_gv_or_ew_with_digits() {
        assert_eq!(
            parse_code(" gv-12 "),
            Some((Programme::GiftVoucher, "GV-12".into()))
        );
        assert_eq!(
            parse_code("EW-7"),
            Some((Programme::EWallet, "EW-7".into()))
        );
        for other in ["GV-", "GV-1a", "XX-1", "HELLORS-1"] {
            assert_eq!(parse_code(other), None, "{other}");
        }
    }

    #[test]
    fn entering_a_code_checks_the_ledger() {
        let mut h = harness();
        let sale = json!({"id": "S1", "currency": "EUR", "lines": [], "tenders": []});
        let answer = h
            .call(
                "enter_code",
                &json!({"schema": 1, "sale": sale, "code": "GV-1"}),
            )
            .unwrap();
        assert_eq!(
            answer["add_tenders"],
            json!([{"method": "voucher", "amount": "50.00", "max_amount": "50.00", "ref": "GV-1"}])
        );
        let error = |h: &mut Harness<Vouchers>, code: &str| {
            h.call(
                "enter_code",
                &json!({"schema": 1, "sale": sale, "code": code}),
            )
            .unwrap_err()
            .error
        };
        assert_eq!(error(&mut h, "GV-9"), posd_plugin_sdk::ErrorName::NotFound);
        assert_eq!(
            error(&mut h, "GV-0"),
            posd_plugin_sdk::ErrorName::VoucherEmpty
        );
        let other = h
            .call(
                "enter_code",
                &json!({"schema": 1, "sale": sale, "code": "4006381333931"}),
            )
            .unwrap();
        assert_eq!(other, json!({"claimed": false}));
    }

    #[test]
    fn an_ewallet_top_up_needs_a_customer_and_locks_it() {
        let mut h = harness();
        let invoke = |h: &mut Harness<Vouchers>, customer: Value| {
            h.call(
                "invoke_action",
                &json!({"schema": 1, "action": "topup", "args": {"code": "EW-1", "amount": "20.00"},
                        "sale": {"currency": "EUR", "customer": customer}}),
            )
        };
        assert_eq!(
            invoke(&mut h, Value::Null).unwrap_err().error,
            posd_plugin_sdk::ErrorName::CustomerRequired
        );
        let answer = invoke(&mut h, json!("C-1")).unwrap();
        assert_eq!(answer["lock_customer"], true);
        assert_eq!(answer["add_lines"][0]["kind"], "voucher_topup");
        assert_eq!(answer["add_lines"][0]["tax_rate"], "0");
    }

    #[test]
    fn a_following_tender_is_booked_at_what_it_paid() {
        let mut h = harness();
        let answer = h
            .call(
                "prepare_checkout",
                &json!({"schema": 1, "checkout": "S1/k", "sale": {"currency": "EUR",
                "lines": [{"id": "L1", "kind": "item", "amount": "60.00"}],
                "tenders": [
                    {"id": "T2", "method": "card", "amount": "20.00"},
                    {"id": "T3", "method": "voucher", "amount": "50.00", "plugin": "vouchers",
                     "ref": "GV-1"}
                ]}}),
            )
            .unwrap();
        assert_eq!(
            answer["postings"],
            json!([
                {"account": "voucher:GV-1", "amount": "-40.00", "unit": "EUR", "kind": "voucher",
                 "floor": "0"},
                {"account": "issued", "amount": "40.00", "unit": "EUR", "kind": "voucher"}
            ])
        );
        assert_eq!(answer["sections"][0]["slip"], true);
        assert_eq!(answer["sections"][0]["barcode"], "GV-1");
    }

    #[test]
    fn a_voucher_sold_then_partly_spent_pays_out_only_what_is_left_when_voided() {
        let mut h = harness();
        // Sell GV-7 for 25.00: the action's line, as the host puts it on the sale.
        let sell = h
            .call(
                "invoke_action",
                &json!({"schema": 1, "action": "sell", "args": {"code": "GV-7", "amount": "25.00"},
                        "sale": {"currency": "EUR"}}),
            )
            .unwrap();
        assert_eq!(sell["add_lines"][0]["kind"], "voucher_sale");
        let sold = h
            .checkout(&json!({"id": "S1", "currency": "EUR", "lines": [
                {"id": "L1", "kind": "voucher_sale", "name": "Gutschein", "qty": "1",
                 "unit_price": "25.00", "amount": "25.00", "plugin": "vouchers", "ref": "GV-7"}
            ], "tenders": [{"id": "T1", "method": "cash", "amount": "25.00"}],
               "totals": {"total": "25.00"}}))
            .unwrap();
        assert_eq!(h.ledger_balance("voucher:GV-7").balance, amount("25.00"));
        assert_eq!(sold.effects.sections[0].barcode.as_deref(), Some("GV-7"));

        // It pays 10.00 of a later sale: the tender follows the amount due.
        h.checkout(&json!({"id": "S2", "currency": "EUR", "lines": [
            {"id": "L1", "kind": "item", "name": "Buch", "qty": "1", "unit_price": "10.00",
             "amount": "10.00", "tax_rate": "10"}
        ], "tenders": [{"id": "T1", "method": "voucher", "amount": "25.00",
                        "plugin": "vouchers", "ref": "GV-7"}],
           "totals": {"total": "10.00"}}))
            .unwrap();
        assert_eq!(h.ledger_balance("voucher:GV-7").balance, amount("15.00"));
        let balance = h
            .call("classify_code", &json!({"schema": 1, "code": "gv-7"}))
            .unwrap();
        assert_eq!(balance["balance"], "15.00");

        // Voiding the sale pays back the 15.00 left, not the 25.00 it was sold for.
        let void = h.void(&sold.receipt.id).unwrap();
        assert_eq!(
            void.payouts,
            vec![Payout {
                line: "L1".into(),
                amount: amount("15.00")
            }]
        );
        let left = h.ledger_balance("voucher:GV-7");
        assert!(left.exists && left.balance.is_zero(), "{left:?}");
        assert_eq!(
            h.ledger_balance(ISSUED).balance,
            amount("-50.00"),
            "GV-1 is still out"
        );
        // Spent to 0, it can no longer pay.
        let error = h
            .call(
                "enter_code",
                &json!({"schema": 1, "sale": {"currency": "EUR"}, "code": "GV-7"}),
            )
            .unwrap_err();
        assert_eq!(error.error, posd_plugin_sdk::ErrorName::VoucherEmpty);
    }

    #[test]
    fn ewallet_receipts_cannot_be_voided() {
        let mut h = harness();
        let error = h
            .call(
                "void_receipt",
                &json!({"schema": 1, "store": {"currency": "EUR"}, "receipt": {"id": "R1",
                    "lines": [{"id": "L1", "kind": "voucher_topup", "amount": "20.00",
                               "plugin": "vouchers", "ref": "EW-1"}]}}),
            )
            .unwrap_err();
        assert_eq!(error.error, posd_plugin_sdk::ErrorName::NotAllowed);
        assert!(error.message.contains("eWallet actions cannot be voided"));
    }
}
