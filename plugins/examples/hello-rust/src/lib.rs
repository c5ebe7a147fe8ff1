//! hello-rust — the example posd plugin in Rust, written with `posd-plugin-sdk`.
//!
//! It claims codes starting with `HELLORS-` (any case) as gift vouchers worth the configured
//! `balance`, pays with them as a voucher tender, counts in the host's kv store how often
//! each code was looked up, and offers a "wave" action. Read it next to
//! `plugins/abi/README.md`: every hook it implements is a trait impl below, and the hooks it
//! does not implement are NULL in its table.

#![forbid(unsafe_code)]

use posd_plugin_sdk::schema::{
    Action, ActionParam, ClassifyCodeRequest, ClassifyCodeResponse, CodeInfo, CodeKind, Effects,
    EnterCodeRequest, EnterCodeResponse, EvaluateBasketRequest, EvaluateBasketResponse,
    InvokeActionRequest, LineKind, ListActionsRequest, ListActionsResponse, NewTender, ParamType,
    Preview, Sale, ValidateTenderRequest, ValidateTenderResponse,
};
use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::{
    ClassifyCode, Decimal, EnterCode, EvaluateBasket, Host, InvokeAction, ListActions, Plugin,
    PluginError, ValidateTender, parse_config, posd_plugin,
};
use serde::Deserialize;

/// The prefix of the codes this plugin claims, compared without regard to case.
const PREFIX: &str = "HELLORS-";

/// Most waves one action may ask for; more is a typo, not a greeting.
const MAX_WAVES: i64 = 10;

/// The plugin's configuration section, e.g. `[plugin.hello-rust] balance = "25.00"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// What every HELLORS- voucher is worth.
    #[serde(default = "default_balance")]
    balance: Decimal,
}

fn default_balance() -> Decimal {
    Decimal::new(1000, 2) // 10.00
}

/// One instance per till: the configured balance.
pub struct HelloRust {
    balance: Decimal,
}

impl Plugin for HelloRust {
    const ID: &'static str = "hello-rust";
    const NAME: &'static str = "Hello (Rust)";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Example: HELLORS- vouchers, a wave action, kv counters";

    fn create(host: &Host, config: Value) -> Result<Self, PluginError> {
        let config: Config = parse_config(config)?;
        if config.balance.is_sign_negative() {
            return Err(PluginError::invalid_configuration(format!(
                "balance must not be negative, is {}",
                config.balance
            )));
        }
        host.info(&format!("vouchers are worth {}", config.balance));
        Ok(HelloRust {
            balance: config.balance,
        })
    }
}

/// The code in upper case if it is one of ours.
fn our_code(code: &str) -> Option<String> {
    let upper = code.trim().to_uppercase();
    upper.starts_with(PREFIX).then_some(upper)
}

impl ClassifyCode for HelloRust {
    fn classify_code(
        &mut self,
        host: &Host,
        request: ClassifyCodeRequest,
    ) -> Result<ClassifyCodeResponse, PluginError> {
        let Some(code) = our_code(&request.code) else {
            return Ok(ClassifyCodeResponse::NotClaimed);
        };
        // A real use of a host service: how often was this code looked up?
        let key = format!("seen:{code}");
        let seen = host.kv_get::<u64>(&key)?.unwrap_or(0) + 1;
        host.kv_put(&key, &seen)?;
        host.debug(&format!("{code} looked up {seen} times"));
        let mut info = CodeInfo {
            balance: Some(self.balance),
            state: Some("active".to_string()),
            ..CodeInfo::new(CodeKind::Voucher)
        };
        if seen > 1 {
            info.warnings
                .push(format!("code was looked up {seen} times"));
        }
        Ok(ClassifyCodeResponse::Claimed(info))
    }
}

impl EnterCode for HelloRust {
    fn enter_code(
        &mut self,
        _host: &Host,
        request: EnterCodeRequest,
    ) -> Result<EnterCodeResponse, PluginError> {
        let Some(code) = our_code(&request.code) else {
            return Ok(EnterCodeResponse::NotClaimed);
        };
        if self.balance.is_zero() {
            return Err(PluginError::voucher_empty(format!("{code} has no balance")));
        }
        // The tender follows the amount due up to the voucher's balance.
        Ok(EnterCodeResponse::Claimed(Effects {
            kind: Some(CodeKind::Voucher),
            message: Some(format!("Gutschein über {} eingelöst", self.balance)),
            add_tenders: vec![NewTender {
                method: "voucher".to_string(),
                amount: self.balance,
                max_amount: Some(self.balance),
                reference: code,
                data: Value::Null,
            }],
            ..Effects::default()
        }))
    }
}

impl ListActions for HelloRust {
    fn list_actions(
        &mut self,
        _host: &Host,
        _request: ListActionsRequest,
    ) -> Result<ListActionsResponse, PluginError> {
        Ok(ListActionsResponse {
            actions: vec![Action {
                id: "wave".to_string(),
                label: "Winken".to_string(),
                params: vec![ActionParam {
                    name: "times".to_string(),
                    param_type: ParamType::Integer,
                    required: false,
                    default: Some(json!(1)),
                    ..ActionParam::default()
                }],
            }],
        })
    }
}

impl InvokeAction for HelloRust {
    fn invoke_action(
        &mut self,
        _host: &Host,
        request: InvokeActionRequest,
    ) -> Result<Effects, PluginError> {
        if request.action != "wave" {
            return Err(PluginError::not_found(format!(
                "no action {:?}",
                request.action
            )));
        }
        let times = match request.args.get("times") {
            None | Some(Value::Null) => 1,
            Some(value) => value.as_i64().ok_or_else(|| {
                PluginError::invalid_argument(format!("times must be an integer, got {value}"))
            })?,
        };
        if !(1..=MAX_WAVES).contains(&times) {
            return Err(PluginError::invalid_argument(format!(
                "times must be between 1 and {MAX_WAVES}, got {times}"
            )));
        }
        let waves = vec!["o/"; times as usize].join(" ");
        Ok(Effects {
            message: Some(waves.clone()),
            result: Some(json!({ "waves": waves, "times": times })),
            ..Effects::default()
        })
    }
}

/// The points a sale would earn: one per full currency unit of its item lines. A plain
/// function, so the host's benchmark can call the same code directly, without the ABI.
pub fn points_preview(sale: &Sale) -> EvaluateBasketResponse {
    let goods: Decimal = sale
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Item)
        .map(|l| l.amount)
        .sum();
    let points = goods.trunc().max(Decimal::ZERO);
    EvaluateBasketResponse {
        lines: Vec::new(),
        // Counted on the goods alone: the same whatever discounts other plugins add.
        independent: true,
        previews: vec![Preview {
            label: format!("Sie sammeln {points} Hallo-Punkte"),
            points: Some(points),
            amount: None,
            ..Preview::default()
        }],
    }
}

impl EvaluateBasket for HelloRust {
    fn evaluate_basket(
        &mut self,
        _host: &Host,
        request: EvaluateBasketRequest,
    ) -> Result<EvaluateBasketResponse, PluginError> {
        Ok(points_preview(&request.sale))
    }
}

/// The tender method this plugin declares: "hello points", worth at most the configured
/// balance per payment.
pub const TENDER_METHOD: &str = "hello-points";

impl ValidateTender for HelloRust {
    fn validate_tender(
        &mut self,
        _host: &Host,
        request: ValidateTenderRequest,
    ) -> Result<ValidateTenderResponse, PluginError> {
        if request.tender.method != TENDER_METHOD {
            return Err(PluginError::not_found(format!(
                "hello-rust takes no {:?} tenders",
                request.tender.method
            )));
        }
        // The host knows only its own methods' keys: a plugin refuses what its method does
        // not take, so a typo in a frontend never passes silently. Hello points take none.
        if let Some(key) = request.tender.details.keys().next() {
            return Err(PluginError::invalid_argument(format!(
                "unknown key {key:?} in details: {TENDER_METHOD} takes none"
            )));
        }
        Ok(ValidateTenderResponse {
            amount: request.tender.amount.min(self.balance),
            reference: "HELLO-POINTS".into(),
            data: Value::Null,
        })
    }
}

posd_plugin!(HelloRust);

#[cfg(test)]
mod tests {
    use super::*;
    use posd_plugin_sdk::ErrorName;
    use posd_plugin_sdk::testing::Harness;

    fn harness() -> Harness<HelloRust> {
        Harness::create(json!({"balance": "25.00"})).unwrap()
    }

    #[test]
    fn hello_points_take_no_details_and_say_which_key_is_unknown() {
        let mut h = harness();
        let ask = |details: Value| {
            json!({"schema": 1, "sale": {}, "store": {},
                   "tender": {"method": TENDER_METHOD, "amount": "5.00", "details": details}})
        };
        let accepted = h.call("validate_tender", &ask(json!({}))).unwrap();
        assert_eq!(accepted["amount"], "5.00");
        let refused = h
            .call("validate_tender", &ask(json!({"foo": "bar"})))
            .unwrap_err();
        assert_eq!(refused.error, ErrorName::InvalidArgument);
        assert!(refused.message.contains("\"foo\""), "{}", refused.message);
    }

    #[test]
    fn classify_claims_hellors_codes_in_any_case_and_counts_lookups() {
        let mut h = harness();
        let first = h
            .call("classify_code", &json!({"schema": 1, "code": "hellors-42"}))
            .unwrap();
        assert_eq!(
            first,
            json!({"claimed": true, "kind": "voucher", "balance": "25.00", "state": "active"})
        );
        let second = h
            .call("classify_code", &json!({"schema": 1, "code": "HELLORS-42"}))
            .unwrap();
        assert_eq!(second["warnings"], json!(["code was looked up 2 times"]));
        assert_eq!(h.kv_get::<u64>("seen:HELLORS-42").unwrap(), Some(2));
        assert_eq!(
            h.call("classify_code", &json!({"schema": 1, "code": "HELLOC-1"}))
                .unwrap(),
            json!({"claimed": false})
        );
    }

    #[test]
    fn the_lookup_count_goes_on_from_what_the_host_kept() {
        let mut h = harness();
        h.kv_put("seen:HELLORS-9", &4u64).unwrap();
        let answer = h
            .call("classify_code", &json!({"schema": 1, "code": "hellors-9"}))
            .unwrap();
        assert_eq!(answer["warnings"], json!(["code was looked up 5 times"]));
        assert_eq!(h.kv_get::<u64>("seen:HELLORS-9").unwrap(), Some(5));
    }

    #[test]
    fn enter_code_adds_a_voucher_tender_up_to_the_balance() {
        let mut h = harness();
        let answer = h
            .call(
                "enter_code",
                &json!({"schema": 1, "code": "HELLORS-7", "sale": {"id": "S1"}}),
            )
            .unwrap();
        assert_eq!(answer["claimed"], true);
        assert_eq!(
            answer["add_tenders"],
            json!([{"method": "voucher", "amount": "25.00", "max_amount": "25.00",
                    "ref": "HELLORS-7"}])
        );
    }

    #[test]
    fn default_balance_and_broken_configuration() {
        let mut h = Harness::<HelloRust>::create(json!({})).unwrap();
        let answer = h
            .call("classify_code", &json!({"code": "HELLORS-1"}))
            .unwrap();
        assert_eq!(answer["balance"], "10.00");
        for bad in [
            json!({"balance": 5}),
            json!({"balanse": "5.00"}),
            json!({"balance": "-1"}),
        ] {
            let error = Harness::<HelloRust>::create(bad.clone()).err().unwrap();
            assert_eq!(error.error, ErrorName::InvalidConfiguration, "{bad}");
        }
    }

    #[test]
    fn wave_action_is_offered_and_checks_times() {
        let mut h = harness();
        let actions = h.call("list_actions", &json!({"schema": 1})).unwrap();
        assert_eq!(actions["actions"][0]["id"], "wave");
        assert_eq!(actions["actions"][0]["params"][0]["type"], "integer");
        let waved = h
            .call(
                "invoke_action",
                &json!({"action": "wave", "args": {"times": 3}}),
            )
            .unwrap();
        assert_eq!(waved["message"], "o/ o/ o/");
        assert_eq!(waved["result"]["times"], 3);
        let once = h
            .call("invoke_action", &json!({"action": "wave", "args": {}}))
            .unwrap();
        assert_eq!(once["message"], "o/");
        let error = h
            .call(
                "invoke_action",
                &json!({"action": "wave", "args": {"times": 99}}),
            )
            .unwrap_err();
        assert_eq!(error.error, ErrorName::InvalidArgument);
        let error = h
            .call("invoke_action", &json!({"action": "dance"}))
            .unwrap_err();
        assert_eq!(error.error, ErrorName::NotFound);
    }

    #[test]
    fn hooks_it_does_not_implement_are_null() {
        let h = harness();
        assert!(h.implements("classify_code") && h.implements("invoke_action"));
        assert!(h.implements("evaluate_basket"));
        assert!(!h.implements("prepare_checkout"));
    }

    #[test]
    fn the_basket_preview_counts_a_point_per_full_unit_of_goods() {
        let mut h = harness();
        let answer = h
            .call(
                "evaluate_basket",
                &json!({"schema": 1, "sale": {"lines": [
                    {"id": "L1", "kind": "item", "amount": "12.99"},
                    {"id": "L2", "kind": "item", "amount": "3.50"},
                    {"id": "L3", "kind": "voucher_sale", "amount": "50.00"}
                ]}}),
            )
            .expect("evaluate_basket");
        assert_eq!(answer["previews"][0]["points"], "16");
        assert_eq!(answer["lines"], json!([]));
    }
}
