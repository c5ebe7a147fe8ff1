//! posd-test-admin — a test double with two admin actions (ABI 1.1), so the host's and
//! posctl's tests exercise the generic mechanism without a product plugin:
//!
//! - `issue`, command `posctl token issue`: makes `count` (1 to 1000, required) tokens
//!   `<prefix>-0001`, `<prefix>-0002`, … (prefix default `TOK`) and answers them, one a
//!   line, as `output` — what posctl writes to `--out` (an `output_file` param) or prints
//!   once; `result` says how many and the first and last; `text` says the same for people.
//!   Also counts the batches it issued in kv (`batches`), so a test sees it ran.
//! - `echo`, command `posctl token echo`: answers its checked args as `result.args`
//!   (`text` a string, required; `times` an integer; `loud` a boolean; `amount` a decimal),
//!   so a test sees what the host passed on and how it was typed.
//! - `post`, command `posctl token post` (ABI 1.2, offered only by a host of minor 2 or
//!   more): answers `effects` that post `amount` onto the account `balance` (with `floor`
//!   if given) against `contra` on `pool` (default −`amount`, so it balances) and write the
//!   kv key `note` (value `note`, default `"posted"`), and the `output` `posted <amount>`;
//!   so a test sees the host commit them, or refuse unbalanced or below-floor ones whole.
//!
//! Nothing here is secret or random: it is a test double, not a voucher plugin.

#![forbid(unsafe_code)]

use posd_plugin_sdk::schema::{
    ActionParam, AdminAction, CheckoutEffects, InvokeAdminActionRequest, InvokeAdminActionResponse,
    KvWrite, ListAdminActionsRequest, ListAdminActionsResponse, ParamType, Posting,
};
use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::{
    Decimal, Host, InvokeAdminAction, ListAdminActions, Plugin, PluginError, posd_plugin,
};

/// The most tokens one batch may have.
pub const MAX_BATCH: i64 = 1000;

/// No state of its own: the batch counter lives in the host's kv.
pub struct AdminTest;

impl Plugin for AdminTest {
    const ID: &'static str = "admin-test";
    const NAME: &'static str = "Admin actions (test)";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Test plugin: two admin actions, token issue and echo";

    fn create(_host: &Host, _config: Value) -> Result<Self, PluginError> {
        Ok(AdminTest)
    }
}

fn param(name: &str, param_type: ParamType, required: bool, help: &str) -> ActionParam {
    ActionParam {
        name: name.into(),
        param_type,
        required,
        help: help.into(),
        ..ActionParam::default()
    }
}

/// A decimal argument, `None` when not given.
fn decimal(request: &InvokeAdminActionRequest, name: &str) -> Result<Option<Decimal>, PluginError> {
    request
        .args
        .get(name)
        .and_then(Value::as_str)
        .map(|text| {
            text.parse::<Decimal>()
                .map_err(|e| PluginError::invalid_argument(format!("{name}: {e}")))
        })
        .transpose()
}

/// The `post` action's effects: `amount` on `balance`, `contra` on `pool`, and the note.
fn post(request: &InvokeAdminActionRequest) -> Result<InvokeAdminActionResponse, PluginError> {
    let amount = decimal(request, "amount")?.unwrap_or_default();
    let contra = decimal(request, "contra")?.unwrap_or(-amount);
    let floor = decimal(request, "floor")?;
    let note = request
        .args
        .get("note")
        .and_then(Value::as_str)
        .unwrap_or("posted");
    let posting = |account: &str, amount: Decimal, floor: Option<Decimal>| Posting {
        account: account.into(),
        amount,
        unit: "EUR".into(),
        kind: "test".into(),
        floor,
        ..Posting::default()
    };
    Ok(InvokeAdminActionResponse {
        result: json!({ "amount": amount.to_string() }),
        text: format!("posted {amount}"),
        output: format!("posted {amount}\n"),
        effects: Some(CheckoutEffects {
            postings: vec![
                posting("balance", amount, floor),
                posting("pool", contra, None),
            ],
            kv: vec![KvWrite::new("note", note)?],
            ..CheckoutEffects::default()
        }),
    })
}

impl ListAdminActions for AdminTest {
    fn list_admin_actions(
        &mut self,
        host: &Host,
        _request: ListAdminActionsRequest,
    ) -> Result<ListAdminActionsResponse, PluginError> {
        let mut actions = vec![
            AdminAction {
                id: "issue".into(),
                command: vec!["token".into(), "issue".into()],
                label: "Issue a batch of test tokens".into(),
                help: "Tokens are numbered; the batch goes to --out or stdout, once.".into(),
                params: vec![
                    param("count", ParamType::Integer, true, "how many, 1 to 1000"),
                    param("prefix", ParamType::String, false, "default TOK"),
                    param("out", ParamType::OutputFile, false, "file for the tokens"),
                ],
            },
            AdminAction {
                id: "echo".into(),
                command: vec!["token".into(), "echo".into()],
                label: "Answer the arguments as the plugin got them".into(),
                params: vec![
                    param("text", ParamType::String, true, "any text"),
                    param("times", ParamType::Integer, false, ""),
                    param("loud", ParamType::Boolean, false, ""),
                    param("amount", ParamType::Decimal, false, ""),
                ],
                ..AdminAction::default()
            },
        ];
        // A 1.1 host would drop the effects and answer as if they were written.
        if host.abi_minor() >= 2 {
            actions.push(AdminAction {
                id: "post".into(),
                command: vec!["token".into(), "post".into()],
                label: "Post amount against pool, with a kv note (ABI 1.2 effects)".into(),
                params: vec![
                    param("amount", ParamType::Decimal, true, "onto account balance"),
                    param(
                        "contra",
                        ParamType::Decimal,
                        false,
                        "onto pool; default -amount",
                    ),
                    param("floor", ParamType::Decimal, false, "floor of balance"),
                    param("note", ParamType::String, false, "kv value of note"),
                ],
                ..AdminAction::default()
            });
        }
        Ok(ListAdminActionsResponse { actions })
    }
}

impl InvokeAdminAction for AdminTest {
    fn invoke_admin_action(
        &mut self,
        host: &Host,
        request: InvokeAdminActionRequest,
    ) -> Result<InvokeAdminActionResponse, PluginError> {
        match request.action.as_str() {
            "issue" => {
                let count = request
                    .args
                    .get("count")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if !(1..=MAX_BATCH).contains(&count) {
                    return Err(PluginError::invalid_argument(format!(
                        "count must be 1 to {MAX_BATCH}, not {count}"
                    )));
                }
                let prefix = request
                    .args
                    .get("prefix")
                    .and_then(Value::as_str)
                    .unwrap_or("TOK");
                let tokens: Vec<String> = (1..=count).map(|n| format!("{prefix}-{n:04}")).collect();
                let batches: i64 = host.kv_get("batches")?.unwrap_or(0) + 1;
                host.kv_put("batches", &batches)?;
                Ok(InvokeAdminActionResponse {
                    result: json!({
                        "issued": count,
                        "first": tokens.first(),
                        "last": tokens.last(),
                        "batch": batches,
                    }),
                    text: format!("issued {count} tokens (batch {batches})"),
                    output: tokens.iter().map(|t| format!("{t}\n")).collect(),
                    effects: None,
                })
            }
            "post" => post(&request),
            "echo" => Ok(InvokeAdminActionResponse {
                result: json!({ "args": request.args }),
                text: format!("echo: {}", Value::Object(request.args.clone())),
                output: String::new(),
                effects: None,
            }),
            other => Err(PluginError::not_found(format!("no admin action {other:?}"))),
        }
    }
}

posd_plugin!(AdminTest);

#[cfg(test)]
mod tests {
    use super::*;
    use posd_plugin_sdk::testing::Harness;

    #[test]
    fn issue_answers_the_tokens_as_output_and_counts_batches() {
        let mut harness = Harness::<AdminTest>::create(json!({})).expect("create");
        assert!(harness.implements("list_admin_actions"));
        let listed = harness
            .call("list_admin_actions", &json!({"schema": 1}))
            .expect("list");
        assert_eq!(listed["actions"][0]["command"], json!(["token", "issue"]));
        assert_eq!(listed["actions"][0]["params"][2]["type"], "output_file");
        let answer = harness
            .call(
                "invoke_admin_action",
                &json!({"schema": 1, "action": "issue", "args": {"count": 2, "prefix": "X"}}),
            )
            .expect("issue");
        assert_eq!(answer["output"], "X-0001\nX-0002\n");
        assert_eq!(answer["result"]["issued"], 2);
        assert_eq!(harness.kv()["batches"], json!(1));
        let typed = harness.admin_actions().expect("typed list");
        assert_eq!(typed.actions[1].id, "echo");
        assert_eq!(typed.actions[0].params[2].param_type, ParamType::OutputFile);
        let second = harness
            .invoke_admin("issue", json!({"count": 1}))
            .expect("typed invoke");
        assert_eq!(second.output, "TOK-0001\n");
        assert_eq!(second.result["batch"], 2);
        let err = harness
            .invoke_admin("issue", json!({"count": 0}))
            .expect_err("refused");
        assert!(err.to_string().contains("count must be 1 to 1000"), "{err}");
    }

    #[test]
    fn post_is_offered_from_abi_1_2_and_its_effects_apply_all_or_none() {
        let mut old = Harness::<AdminTest>::create_on_minor(json!({}), 1).expect("create");
        let listed = old.admin_actions().expect("list");
        assert!(listed.actions.iter().all(|a| a.id != "post"), "not on 1.1");

        let mut h = Harness::<AdminTest>::create(json!({})).expect("create");
        assert!(
            h.admin_actions()
                .expect("list")
                .actions
                .iter()
                .any(|a| a.id == "post")
        );
        let posted = h
            .invoke_admin("post", json!({"amount": "25.00", "floor": "0"}))
            .expect("posted");
        assert_eq!(posted.output, "posted 25.00\n");
        assert_eq!(h.ledger_balance("balance").balance, Decimal::new(2500, 2));
        assert_eq!(
            h.kv_get::<String>("note").expect("kv").as_deref(),
            Some("posted")
        );

        for (args, error) in [
            (
                json!({"amount": "1", "contra": "-2", "note": "x"}),
                "do not balance",
            ),
            (json!({"amount": "-30", "note": "x"}), "below its floor"),
        ] {
            let err = h.invoke_admin("post", args).expect_err("refused");
            assert!(err.message.contains(error), "{err}");
            assert_eq!(h.ledger_balance("balance").balance, Decimal::new(2500, 2));
            assert_eq!(
                h.kv_get::<String>("note").expect("kv").as_deref(),
                Some("posted")
            );
        }
    }
}
