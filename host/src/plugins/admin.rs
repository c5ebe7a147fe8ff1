//! Admin actions (ABI 1.1): what plugins offer technicians outside a sale, such as issuing a
//! promotional batch of vouchers. The host knows nothing of what an action does: it lists
//! what plugins declare, checks the arguments against the declared params exactly as it
//! checks a sale action's, and hands the plugin's answer back. Who may call this is decided
//! on the bus (admins only); nothing here trusts the caller.

use posd_plugin_sdk::schema as wire;
use serde_json::{Map, Value, json};

use super::{CallError, Hook, PluginManager, decode};
use crate::sale::book::{BookError, check_action_args};
use crate::sale::engine::SaleError;

/// The most words a command path may have (`posctl voucher issue` has two).
const MAX_COMMAND_WORDS: usize = 4;

/// Whether `word` may be one word of a command path: lowercase ASCII letters, digits and
/// `-`, starting with a letter, so posctl can take it as a subcommand and never as an
/// option or a value.
pub fn is_command_word(word: &str) -> bool {
    word.len() <= 32
        && word.starts_with(|c: char| c.is_ascii_lowercase())
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Refuses a declared action the host cannot offer: an empty id or a command path posctl
/// could not parse. A plugin that declares one is broken, so the listing fails naming it.
fn check_declared(plugin: &str, action: &wire::AdminAction) -> Result<(), CallError> {
    let bad = |why: String| {
        CallError::Failed(format!(
            "plugin {plugin}: list_admin_actions answer: action {:?} {why}",
            action.id
        ))
    };
    if action.id.trim().is_empty() {
        return Err(bad("has no id".into()));
    }
    if action.command.is_empty() || action.command.len() > MAX_COMMAND_WORDS {
        return Err(bad(format!(
            "has a command path of {} words (1 to {MAX_COMMAND_WORDS})",
            action.command.len()
        )));
    }
    if let Some(word) = action.command.iter().find(|w| !is_command_word(w)) {
        return Err(bad(format!(
            "has the command word {word:?} (lowercase letters, digits and '-', starting with a letter)"
        )));
    }
    Ok(())
}

/// The admin actions of every running plugin that offers any, in plugin order.
pub async fn list(
    plugins: &PluginManager,
    store: &Value,
) -> Result<Vec<(String, wire::AdminAction)>, CallError> {
    let request = json!({ "schema": 1, "store": store });
    let mut actions = Vec::new();
    for plugin in plugins.implementing(Hook::ListAdminActions) {
        let list: wire::ListAdminActionsResponse = plugins
            .call_as(&plugin, Hook::ListAdminActions, &request)
            .await?;
        for action in list.actions {
            check_declared(&plugin, &action)?;
            actions.push((plugin.clone(), action));
        }
    }
    Ok(actions)
}

/// Checks `args` against what `action` declares, as a sale action's are checked; params of
/// type `output_file` belong to the client (it writes the answer's `output` there), so an
/// argument for one is refused and a required one is not required here.
pub fn check_args(
    plugin: &str,
    action: &wire::AdminAction,
    args: Map<String, Value>,
) -> Result<Map<String, Value>, SaleError> {
    if let Some(file) = action
        .params
        .iter()
        .find(|p| p.param_type == wire::ParamType::OutputFile && args.contains_key(&p.name))
    {
        return Err(SaleError::InvalidArgument(format!(
            "argument {:?} of admin action {plugin}:{} is a file the client writes; it is not sent to posd",
            file.name, action.id
        )));
    }
    let sent = wire::Action {
        id: action.id.clone(),
        label: action.label.clone(),
        params: action
            .params
            .iter()
            .filter(|p| p.param_type != wire::ParamType::OutputFile)
            .cloned()
            .collect(),
    };
    check_action_args(plugin, &sent, args)
}

/// Runs admin action `action` of `plugin` with `args`, checked against the params the
/// plugin declares now. An unknown plugin or action is `NotFound`; a bad argument
/// `InvalidArgument` naming it.
pub async fn invoke(
    plugins: &PluginManager,
    store: &Value,
    plugin: &str,
    action: &str,
    args: Map<String, Value>,
) -> Result<wire::InvokeAdminActionResponse, BookError> {
    let not_found = || {
        SaleError::NotFound(format!(
            "no admin action {plugin}:{action}; AdminActions lists what plugins offer"
        ))
    };
    if !plugins
        .implementing(Hook::ListAdminActions)
        .iter()
        .any(|p| p == plugin)
    {
        return Err(not_found().into());
    }
    let request = json!({ "schema": 1, "store": store });
    let declared: wire::ListAdminActionsResponse = plugins
        .call_as(plugin, Hook::ListAdminActions, &request)
        .await?;
    let declared = declared
        .actions
        .into_iter()
        .find(|a| a.id == action)
        .ok_or_else(not_found)?;
    let args = check_args(plugin, &declared, args)?;
    let request = json!({ "schema": 1, "store": store, "action": action, "args": args });
    let answer = match plugins
        .call(plugin, Hook::InvokeAdminAction, &request)
        .await
    {
        Err(CallError::NotImplemented) => {
            return Err(CallError::Failed(format!(
                "plugin {plugin} lists admin actions but does not implement invoke_admin_action"
            ))
            .into());
        }
        Err(CallError::Failed(m)) if m.contains("not running") => return Err(not_found().into()),
        other => other?,
    };
    Ok(decode(plugin, Hook::InvokeAdminAction, answer)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str, param_type: wire::ParamType, required: bool) -> wire::ActionParam {
        wire::ActionParam {
            name: name.into(),
            param_type,
            required,
            ..wire::ActionParam::default()
        }
    }

    fn issue() -> wire::AdminAction {
        wire::AdminAction {
            id: "issue".into(),
            command: vec!["voucher".into(), "issue".into()],
            label: "Issue vouchers".into(),
            params: vec![
                param("count", wire::ParamType::Integer, true),
                param("amount", wire::ParamType::Decimal, true),
                param("out", wire::ParamType::OutputFile, true),
            ],
            ..wire::AdminAction::default()
        }
    }

    fn args(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn args_are_checked_and_typed_like_a_sale_actions() {
        let checked = check_args(
            "p",
            &issue(),
            args(json!({"count": "10", "amount": " 25.00 "})),
        )
        .expect("fits");
        assert_eq!(
            Value::Object(checked),
            json!({"count": 10, "amount": "25.00"})
        );

        let err = check_args("p", &issue(), args(json!({"count": "ten", "amount": "1"})))
            .expect_err("not a number");
        assert!(err.to_string().contains("\"count\""), "{err}");
        let err = check_args("p", &issue(), args(json!({"count": 1}))).expect_err("missing");
        assert!(err.to_string().contains("\"amount\" is required"), "{err}");
        let err = check_args(
            "p",
            &issue(),
            args(json!({"count": 1, "amount": "1", "x": 1})),
        )
        .expect_err("unknown");
        assert!(err.to_string().contains("unknown argument \"x\""), "{err}");
    }

    #[test]
    fn an_output_file_is_never_sent_nor_required_by_the_host() {
        check_args("p", &issue(), args(json!({"count": 1, "amount": "1"})))
            .expect("the required output file is the client's");
        let err = check_args(
            "p",
            &issue(),
            args(json!({"count": 1, "amount": "1", "out": "/tmp/codes"})),
        )
        .expect_err("refused");
        assert!(err.to_string().contains("the client writes"), "{err}");
    }

    #[test]
    fn command_paths_must_be_words_posctl_can_parse() {
        check_declared("p", &issue()).expect("voucher issue is fine");
        for command in [
            vec![],
            vec!["--json"],
            vec!["Voucher"],
            vec!["a b"],
            vec!["1x"],
        ] {
            let action = wire::AdminAction {
                command: command.iter().map(|w| w.to_string()).collect(),
                ..issue()
            };
            let err = check_declared("p", &action).expect_err("refused");
            assert!(err.to_string().contains("plugin p"), "{err}");
        }
        let unnamed = wire::AdminAction {
            id: " ".into(),
            ..issue()
        };
        assert!(check_declared("p", &unnamed).is_err());
    }
}
