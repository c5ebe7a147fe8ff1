//! posd-test-vouchers — a test double of a voucher plugin, for host tests that need what the
//! product plugin `posd-vouchers` must never do or does not do yet. Host tests of voucher
//! behaviour use the real plugin (`tests/vouchers_plugin.rs`, `tests/voucher_admin.rs`);
//! this double is loaded only by
//!
//! - `tests/vouchers.rs` and the day test in `tests/day.rs`: a return of goods paid partly by
//!   voucher, whose voucher share the double takes back onto the voucher (`return_lines`).
//!   `posd-vouchers` does not take a return's share back yet; when it does, those scenarios
//!   move to it and this double goes.
//!
//! What the product must never do, and the double does so a test can name its vouchers:
//!
//! - **Codes are chosen by the caller** (`sell` takes `code`, `GV-<n>`, case-insensitive)
//!   and are predictable; the code is kept in the clear, as the name of its ledger account
//!   `voucher:<code>` (in the plugin's namespace), so a test reads a balance by code. An
//!   account never posted to is an unknown code. No key, no hash, no terms, no slip.
//!
//! Hooks: `list_actions` / `invoke_action` `sell` (code, amount) adds a `voucher_sale` line
//! "Gutschein" outside VAT; `enter_code` answers `NotFound` for an unknown code,
//! `VoucherEmpty` at balance 0, else a `voucher` tender that follows the amount due up to the
//! balance; `prepare_checkout` posts `voucher:<code>` +amount / `issued` −amount per voucher
//! sold and `voucher:<code>` −paid / `issued` +paid per redemption (floor 0 on the voucher
//! accounts); `return_lines` takes every share of a refund the host offers on one of its
//! tenders back onto that voucher, with a receipt section naming the new balance.

#![forbid(unsafe_code)]

use posd_plugin_sdk::schema::{
    Action, ActionParam, CheckoutEffects, CodeKind, Effects, EnterCodeRequest, EnterCodeResponse,
    InvokeActionRequest, Line, LineKind, ListActionsRequest, ListActionsResponse, NewLine,
    NewTender, ParamType, Posting, PrepareCheckoutRequest, ReceiptSection, ReturnLinesRequest,
    ReturnLinesResponse, Sale, TakenRefund, Tender,
};
use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::{
    Decimal, EnterCode, Host, InvokeAction, ListActions, Plugin, PluginError, PrepareCheckout,
    ReturnLines, posd_plugin,
};

/// The plugin id, which is also the `plugin` of its lines and tenders: the product's, so
/// host tests read the same `vouchers:` accounts and tender names.
pub const ID: &str = "vouchers";
/// The contra account of every voucher posting.
pub const ISSUED: &str = "issued";
/// The tender method of a redemption.
pub const METHOD: &str = "voucher";

/// No state: balances are read from the host's ledger.
pub struct Vouchers;

impl Plugin for Vouchers {
    const ID: &'static str = ID;
    const NAME: &'static str = "Vouchers (test double)";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Test double: gift vouchers with codes the test names \
         (GV-<n>), kept in the clear in the host's ledger; takes a return's voucher share back";

    fn create(_host: &Host, _config: Value) -> Result<Self, PluginError> {
        Ok(Vouchers)
    }
}

/// The code in its canonical (upper-case) form, or `None` when it is not `GV-<digits>`.
pub fn parse_code(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    let number = code.strip_prefix("GV-")?;
    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// The ledger account of a code, in the plugin's namespace.
pub fn account(code: &str) -> String {
    format!("voucher:{code}")
}

fn is_voucher_line(line: &Line) -> bool {
    line.plugin == ID && line.kind == LineKind::VoucherSale
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

impl EnterCode for Vouchers {
    fn enter_code(
        &mut self,
        host: &Host,
        request: EnterCodeRequest,
    ) -> Result<EnterCodeResponse, PluginError> {
        let Some(code) = parse_code(&request.code) else {
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
            kind: Some(CodeKind::Voucher),
            message: Some(format!("Gutschein über {}", balance.balance)),
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
        Ok(ListActionsResponse {
            actions: vec![Action {
                id: "sell".to_string(),
                label: "Gutschein verkaufen".to_string(),
                params: vec![
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
                ],
            }],
        })
    }
}

impl InvokeAction for Vouchers {
    fn invoke_action(
        &mut self,
        host: &Host,
        request: InvokeActionRequest,
    ) -> Result<Effects, PluginError> {
        if request.action != "sell" {
            return Err(PluginError::not_found(format!(
                "no action {:?}",
                request.action
            )));
        }
        let text = string_arg(&request, "code")?;
        let code = parse_code(&text).ok_or_else(|| {
            PluginError::invalid_argument(format!("argument code: {text:?} is not GV-<n>"))
        })?;
        let amount = amount_arg(&request)?;
        let on_sale = request
            .sale
            .lines
            .iter()
            .any(|l| is_voucher_line(l) && l.reference == code);
        if on_sale || host.ledger_balance(&account(&code))?.exists {
            return Err(PluginError::conflict(format!("{code} was sold already")));
        }
        Ok(Effects {
            kind: Some(CodeKind::Voucher),
            message: Some(format!("Gutschein {code} über {amount}")),
            add_lines: vec![NewLine {
                kind: LineKind::VoucherSale,
                sku: String::new(),
                name: "Gutschein".to_string(),
                qty: Decimal::ONE,
                unit_price: amount,
                tax_rate: Decimal::ZERO,
                tags: Vec::new(),
                reference: code.clone(),
                data: Value::Null,
                ..NewLine::default()
            }],
            result: Some(json!({ "code": code })),
            ..Effects::default()
        })
    }
}

impl PrepareCheckout for Vouchers {
    fn prepare_checkout(
        &mut self,
        _host: &Host,
        request: PrepareCheckoutRequest,
    ) -> Result<CheckoutEffects, PluginError> {
        let sale = &request.sale;
        let unit = if sale.currency.is_empty() {
            request.store.currency.as_str()
        } else {
            sale.currency.as_str()
        };
        let sold = sale
            .lines
            .iter()
            .filter(|l| is_voucher_line(l))
            .map(|l| voucher_posting(&l.reference, l.amount, unit, "voucher"));
        let redeemed = voucher_payments(sale)
            .into_iter()
            .map(|(t, paid)| voucher_posting(&t.reference, -paid, unit, "voucher"));
        Ok(CheckoutEffects {
            postings: balanced(sold.chain(redeemed).collect(), unit, "voucher"),
            ..CheckoutEffects::default()
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
    fn codes_are_gv_with_digits() {
        assert_eq!(parse_code(" gv-12 "), Some("GV-12".into()));
        for other in ["GV-", "GV-1a", "EW-1", "XX-1", "HELLORS-1"] {
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
    fn a_code_sold_already_is_not_sold_again() {
        let mut h = harness();
        let sell = |h: &mut Harness<Vouchers>, code: &str| {
            h.call(
                "invoke_action",
                &json!({"schema": 1, "action": "sell", "args": {"code": code, "amount": "25.00"},
                        "sale": {"currency": "EUR"}}),
            )
        };
        let answer = sell(&mut h, "gv-7").unwrap();
        assert_eq!(answer["add_lines"][0]["kind"], "voucher_sale");
        assert_eq!(answer["add_lines"][0]["ref"], "GV-7");
        assert_eq!(answer["result"]["code"], "GV-7");
        assert_eq!(
            sell(&mut h, "GV-1").unwrap_err().error,
            posd_plugin_sdk::ErrorName::Conflict
        );
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
    }
}
