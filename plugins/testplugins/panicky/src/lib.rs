//! posd-test-panicky — a test plugin whose `classify_code` panics for codes starting with
//! `PANIC`, to show that the SDK keeps a Rust panic from crossing into the host: the host
//! gets `POSD_ERROR` with `{"error": "PluginFailed", "message": "plugin panicked: …"}` and
//! the same instance goes on answering. Codes starting with `CALM-` are claimed normally
//! (kind `coupon`), so a test can check the plugin still works after a panic.
//!
//! With `{"panic_in_create": true}` in its configuration, `create` panics instead, which
//! the host must see as a failed create.

#![forbid(unsafe_code)]

use posd_plugin_sdk::schema::{ClassifyCodeRequest, ClassifyCodeResponse, CodeInfo, CodeKind};
use posd_plugin_sdk::serde_json::Value;
use posd_plugin_sdk::{ClassifyCode, Host, Plugin, PluginError, posd_plugin};

/// No state: it only panics or claims.
pub struct Panicky;

impl Plugin for Panicky {
    const ID: &'static str = "panicky";
    const NAME: &'static str = "Panicky (test)";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Test plugin: panics on PANIC codes, claims CALM- codes";

    fn create(_host: &Host, config: Value) -> Result<Self, PluginError> {
        if config.get("panic_in_create") == Some(&Value::Bool(true)) {
            panic!("panicky was told to panic in create");
        }
        Ok(Panicky)
    }
}

impl ClassifyCode for Panicky {
    fn classify_code(
        &mut self,
        _host: &Host,
        request: ClassifyCodeRequest,
    ) -> Result<ClassifyCodeResponse, PluginError> {
        if request.code.starts_with("PANIC") {
            panic!("panicky panics on {}", request.code);
        }
        Ok(if request.code.starts_with("CALM-") {
            ClassifyCodeResponse::Claimed(CodeInfo::new(CodeKind::Coupon))
        } else {
            ClassifyCodeResponse::NotClaimed
        })
    }
}

posd_plugin!(Panicky);

#[cfg(test)]
mod tests {
    use super::*;
    use posd_plugin_sdk::ErrorName;
    use posd_plugin_sdk::serde_json::json;
    use posd_plugin_sdk::testing::Harness;

    #[test]
    fn panics_are_contained_and_calm_codes_still_work() {
        let mut h = Harness::<Panicky>::create(json!({})).unwrap();
        let error = h
            .call("classify_code", &json!({"schema": 1, "code": "PANIC-1"}))
            .unwrap_err();
        assert_eq!(error.error, ErrorName::PluginFailed);
        assert_eq!(error.message, "plugin panicked: panicky panics on PANIC-1");
        let calm = h
            .call("classify_code", &json!({"schema": 1, "code": "CALM-1"}))
            .unwrap();
        assert_eq!(calm, json!({"claimed": true, "kind": "coupon"}));
        let other = h
            .call("classify_code", &json!({"schema": 1, "code": "X"}))
            .unwrap();
        assert_eq!(other, json!({"claimed": false}));
    }

    #[test]
    fn a_panic_in_create_is_a_failed_create() {
        let error = Harness::<Panicky>::create(json!({"panic_in_create": true}))
            .err()
            .unwrap();
        assert_eq!(error.error, ErrorName::PluginFailed);
    }
}
