//! The trampolines `posd_plugin!` generates, driven through the C ABI: the exported
//! `posd_plugin_entry`, the descriptor, create, hooks, free_buffer and destroy, with the
//! SDK's fake host ([`Harness`]) and with raw calls where the edge case is the raw ABI.

use std::ffi::{CStr, c_char};

use posd_plugin_abi::*;
use posd_plugin_sdk::schema::{
    CheckoutEffects, ClassifyCodeRequest, ClassifyCodeResponse, CodeInfo, CodeKind, Posting,
    PrepareCheckoutRequest,
};
use posd_plugin_sdk::testing::Harness;
use posd_plugin_sdk::{
    ClassifyCode, Decimal, ErrorName, Exported, Host, Plugin, PluginError, PrepareCheckout,
    posd_plugin,
};
use serde_json::{Value, json};

/// A plugin that does a little of everything the tests need.
struct Probe {
    greeting: String,
}

impl Plugin for Probe {
    const ID: &'static str = "sdk-probe";
    const NAME: &'static str = "SDK probe";
    const VERSION: &'static str = "9.8.7";
    const DESCRIPTION: &'static str = "Exercises the SDK's trampolines";

    fn create(host: &Host, config: Value) -> Result<Self, PluginError> {
        if config.get("panic").is_some() {
            panic!("create was told to panic");
        }
        if config.get("fail").is_some() {
            return Err(PluginError::invalid_configuration("fail is set"));
        }
        host.info("created");
        Ok(Probe {
            greeting: config["greeting"].as_str().unwrap_or("hi").to_string(),
        })
    }
}

impl ClassifyCode for Probe {
    fn classify_code(
        &mut self,
        host: &Host,
        request: ClassifyCodeRequest,
    ) -> Result<ClassifyCodeResponse, PluginError> {
        let code = request.code;
        if code.starts_with("PANIC") {
            panic!("boom on {code}");
        }
        if code == "MISSING" {
            return Err(PluginError::not_found(format!("no code {code}")));
        }
        if code == "LEDGER" {
            let balance = host.ledger_balance("voucher:1")?;
            return Ok(ClassifyCodeResponse::Claimed(CodeInfo {
                balance: Some(balance.balance),
                ..CodeInfo::new(CodeKind::Voucher)
            }));
        }
        if let Some(rest) = code.strip_prefix("T-") {
            let key = format!("seen:{rest}");
            let seen = host.kv_get::<u64>(&key)?.unwrap_or(0) + 1;
            host.kv_put(&key, &seen)?;
            return Ok(ClassifyCodeResponse::Claimed(CodeInfo {
                balance: Some(Decimal::from(seen)),
                state: Some(self.greeting.clone()),
                ..CodeInfo::new(CodeKind::Coupon)
            }));
        }
        Ok(ClassifyCodeResponse::NotClaimed)
    }
}

impl PrepareCheckout for Probe {
    fn prepare_checkout(
        &mut self,
        _host: &Host,
        request: PrepareCheckoutRequest,
    ) -> Result<CheckoutEffects, PluginError> {
        let posting = |amount: &str| Posting {
            account: "voucher:1".into(),
            amount: amount.parse().unwrap_or_default(),
            unit: "EUR".into(),
            kind: "redeem".into(),
            ..Posting::default()
        };
        let mut postings = vec![posting("-5.00")];
        if request.sale.id != "unbalanced" {
            postings.push(posting("5.00"));
        }
        Ok(CheckoutEffects {
            postings,
            ..CheckoutEffects::default()
        })
    }
}

posd_plugin!(Probe);

fn harness() -> Harness<Probe> {
    Harness::create(json!({"greeting": "servus"})).expect("create")
}

fn c_str(pointer: *const c_char) -> &'static str {
    // SAFETY: the descriptor's strings are static and NUL-terminated.
    unsafe { CStr::from_ptr(pointer) }.to_str().expect("UTF-8")
}

#[test]
fn the_exported_entry_returns_a_1_4_descriptor_a_1_0_host_loads() {
    let descriptor = posd_plugin_entry();
    assert_eq!(
        descriptor,
        Probe::descriptor() as *const _,
        "one static descriptor"
    );
    // SAFETY: the entry returns a pointer to a static descriptor.
    let descriptor = unsafe { &*descriptor };
    assert_eq!(
        descriptor.struct_size as usize,
        POSD_PLUGIN_DESCRIPTOR_SIZE_1_0
    );
    assert_eq!(
        (
            descriptor.abi_major,
            descriptor.abi_minor,
            descriptor.min_abi_minor
        ),
        (1, 4, 0),
        "built against 1.4; the admin action hooks (1.1), their effects (1.2), re-pricing on returns (1.3) and release_tender (1.4) are optional"
    );
    assert_eq!((descriptor.reserved0, descriptor.reserved1), (0, 0));
    assert_eq!(c_str(descriptor.id), "sdk-probe");
    assert_eq!(c_str(descriptor.name), "SDK probe");
    assert_eq!(c_str(descriptor.version), "9.8.7");
    assert_eq!(
        c_str(descriptor.description),
        "Exercises the SDK's trampolines"
    );
    assert!(descriptor.create.is_some() && descriptor.destroy.is_some());
    assert!(descriptor.free_buffer.is_some());
    // SAFETY: the hooks table is static.
    let hooks = unsafe { &*descriptor.hooks };
    // 1.4's table, with release_tender (NULL here): a 1.3 host reads the 1.1 part of it.
    assert_eq!(hooks.struct_size as usize, POSD_PLUGIN_HOOKS_SIZE_1_4);
    assert!(hooks.release_tender.is_none());
    assert_eq!(hooks.reserved, 0);
}

#[test]
fn only_implemented_hooks_are_in_the_table() {
    let harness = harness();
    for hook in HOOK_NAMES {
        let expected = matches!(hook, "classify_code" | "prepare_checkout");
        assert_eq!(harness.implements(hook), expected, "{hook}");
    }
    // SAFETY: the hooks table is static.
    let hooks = unsafe { &*harness.descriptor().hooks };
    assert!(hooks.classify_code.is_some());
    assert!(hooks.enter_code.is_none());
    assert!(hooks.customer_accounts.is_none());
}

#[test]
fn a_hook_round_trip_uses_config_kv_and_log() {
    let mut harness = harness();
    let request = json!({"schema": 1, "code": "T-42", "store": {"id": "AT-1"}, "later": 1});
    let first = harness.call("classify_code", &request).expect("claimed");
    assert_eq!(
        first,
        json!({"claimed": true, "kind": "coupon", "balance": "1", "state": "servus"})
    );
    let second = harness.call("classify_code", &request).expect("claimed");
    assert_eq!(second["balance"], "2");
    assert_eq!(harness.kv()["seen:42"], json!(2));
    assert_eq!(
        harness.service_calls(),
        ["kv.get", "kv.put", "kv.get", "kv.put"]
    );
    assert_eq!(harness.outstanding_host_buffers(), 0, "host buffers freed");
    assert_eq!(harness.logs(), [(POSD_LOG_INFO, "created".to_string())]);

    let other = harness
        .call("classify_code", &json!({"schema": 1, "code": "X"}))
        .expect("answer");
    assert_eq!(other, json!({"claimed": false}));
}

#[test]
fn malformed_requests_are_invalid_argument_and_do_not_reach_the_plugin() {
    let mut harness = harness();
    for request in [
        &b"{not json"[..],
        b"",
        b"[1,2]",
        br#"{"code": 5}"#,
        b"{\"schema\": 1, \"code\": \"T-\xff\"}",
    ] {
        let (status, body) = harness.call_raw("classify_code", request).expect("hook");
        assert_eq!(status, POSD_ERROR, "{}", String::from_utf8_lossy(request));
        let body = body.expect("error object");
        assert_eq!(body["error"], "InvalidArgument");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("malformed request"),
            "{body}"
        );
    }
    assert!(harness.service_calls().is_empty());
}

#[test]
fn a_panic_becomes_plugin_failed_and_the_instance_goes_on() {
    let mut harness = harness();
    let error = harness
        .call("classify_code", &json!({"code": "PANIC-1"}))
        .expect_err("panicked");
    assert_eq!(error.error, ErrorName::PluginFailed);
    assert_eq!(error.message, "plugin panicked: boom on PANIC-1");
    let after = harness
        .call("classify_code", &json!({"code": "T-1"}))
        .expect("still works");
    assert_eq!(after["claimed"], true);
}

#[test]
fn a_plugin_error_is_its_error_object() {
    let mut harness = harness();
    let (status, body) = harness
        .call_raw("classify_code", br#"{"schema":1,"code":"MISSING"}"#)
        .expect("hook");
    assert_eq!(status, POSD_ERROR);
    assert_eq!(
        body.expect("JSON"),
        json!({"error": "NotFound", "message": "no code MISSING"})
    );
}

#[test]
fn an_unimplemented_hook_is_null() {
    let mut harness = harness();
    let error = harness
        .call("enter_code", &json!({"code": "T-1"}))
        .expect_err("NULL hook");
    assert_eq!(error.error, ErrorName::NotFound);
    assert_eq!(error.message, "hook enter_code is NULL");
}

#[test]
fn create_errors_and_panics_come_back_in_the_error_buffer() {
    let error = Harness::<Probe>::create(json!({"fail": true}))
        .err()
        .expect("fails");
    assert_eq!(error, PluginError::invalid_configuration("fail is set"));
    let error = Harness::<Probe>::create(json!({"panic": true}))
        .err()
        .expect("fails");
    assert_eq!(error.error, ErrorName::PluginFailed);
    assert_eq!(error.message, "plugin panicked: create was told to panic");
}

#[test]
fn host_service_answers_and_errors_reach_the_plugin() {
    let mut harness = harness();
    harness.on_service("ledger.balance", |request| {
        assert_eq!(request, &json!({"account": "voucher:1"}));
        Ok(json!({"account": "voucher:1", "exists": true, "balance": "7.50", "unit": "EUR"}))
    });
    let answer = harness
        .call("classify_code", &json!({"code": "LEDGER"}))
        .expect("claimed");
    assert_eq!(answer["balance"], "7.50");

    // The host's error name passes through the plugin's `?` unchanged.
    harness.on_service("ledger.balance", |_| {
        Err(PluginError::conflict("ledger is busy"))
    });
    let error = harness
        .call("classify_code", &json!({"code": "LEDGER"}))
        .expect_err("host error");
    assert_eq!(error, PluginError::conflict("ledger is busy"));

    assert_eq!(harness.outstanding_host_buffers(), 0);
}

#[test]
fn unbalanced_postings_are_refused_by_the_sdk() {
    let mut harness = harness();
    let ok = harness
        .call(
            "prepare_checkout",
            &json!({"sale": {"id": "S1"}, "checkout": "c1"}),
        )
        .expect("balanced");
    assert_eq!(ok["postings"].as_array().map(Vec::len), Some(2));
    let error = harness
        .call(
            "prepare_checkout",
            &json!({"sale": {"id": "unbalanced"}, "checkout": "c2"}),
        )
        .expect_err("unbalanced");
    assert_eq!(error.error, ErrorName::PluginFailed);
    assert_eq!(error.message, "postings do not balance: EUR sums to -5.00");
}

/// A raw host table whose callbacks must not be reached.
unsafe extern "C" fn no_log(_: *mut posd_host, _: i32, _: *const c_char, _: usize) {}
unsafe extern "C" fn no_now(_: *mut posd_host) -> i64 {
    0
}
unsafe extern "C" fn no_call(
    _: *mut posd_host,
    _: *const c_char,
    _: usize,
    _: *const c_char,
    _: usize,
    _: *mut posd_buffer,
) -> i32 {
    POSD_ERROR
}
unsafe extern "C" fn no_free(_: *mut posd_host, _: *mut posd_buffer) {}

fn raw_api() -> posd_host_api {
    posd_host_api {
        struct_size: POSD_HOST_API_SIZE_1_0 as u32,
        abi_major: 1,
        abi_minor: 0,
        host: std::ptr::null_mut(),
        log: Some(no_log),
        now_ms: Some(no_now),
        call: Some(no_call),
        free_buffer: Some(no_free),
    }
}

/// Calls the descriptor's create with a raw table; the error object if it failed.
fn raw_create(api: &posd_host_api, config: &[u8]) -> Result<*mut std::ffi::c_void, Value> {
    let descriptor = Probe::descriptor();
    let mut error = posd_buffer::empty();
    // SAFETY: a valid table, config and error buffer for the call.
    let instance = unsafe {
        descriptor.create.expect("create")(api, config.as_ptr().cast(), config.len(), &mut error)
    };
    if !instance.is_null() {
        assert!(error.data.is_null(), "no error on success");
        return Ok(instance);
    }
    // SAFETY: the plugin wrote error.len bytes.
    let bytes = unsafe { std::slice::from_raw_parts(error.data.cast::<u8>(), error.len) };
    let body = serde_json::from_slice(bytes).expect("error JSON");
    // SAFETY: the plugin's buffer, freed once.
    unsafe { descriptor.free_buffer.expect("free_buffer")(&mut error) };
    Err(body)
}

#[test]
fn create_refuses_a_host_table_it_cannot_use() {
    let too_small = posd_host_api {
        struct_size: 8,
        ..raw_api()
    };
    let error = raw_create(&too_small, b"{}").expect_err("too small");
    assert_eq!(error["error"], "InvalidArgument");
    assert!(
        error["message"].as_str().unwrap_or("").contains("8 bytes"),
        "{error}"
    );

    let other_major = posd_host_api {
        abi_major: 2,
        ..raw_api()
    };
    assert!(raw_create(&other_major, b"{}").is_err());

    let no_call = posd_host_api {
        call: None,
        ..raw_api()
    };
    assert!(raw_create(&no_call, b"{}").is_err());

    let error = raw_create(&raw_api(), b"{oops").expect_err("config not JSON");
    assert_eq!(error["error"], "InvalidArgument");

    // A larger table from a newer minor is fine: the SDK reads only the 1.0 part.
    let newer = posd_host_api {
        abi_minor: 3,
        struct_size: POSD_HOST_API_SIZE_1_0 as u32 + 16,
        ..raw_api()
    };
    let instance = raw_create(&newer, b"").expect("empty config is {}");
    // SAFETY: from create, destroyed once.
    unsafe { Probe::descriptor().destroy.expect("destroy")(instance) };
}

#[test]
fn raw_edge_cases_do_not_crash() {
    let descriptor = Probe::descriptor();
    // SAFETY: the static hooks table.
    let classify = unsafe { &*descriptor.hooks }.classify_code.expect("hook");
    let request = br#"{"code":"T-1"}"#;
    // SAFETY: each call passes pointers valid for the call; the nulls are the edge cases.
    unsafe {
        // No response buffer: nowhere to answer, so just an error status.
        let status = classify(
            std::ptr::null_mut(),
            request.as_ptr().cast(),
            request.len(),
            std::ptr::null_mut(),
        );
        assert_eq!(status, POSD_ERROR);

        // No instance.
        let mut response = posd_buffer::empty();
        let status = classify(
            std::ptr::null_mut(),
            request.as_ptr().cast(),
            request.len(),
            &mut response,
        );
        assert_eq!(status, POSD_ERROR);
        assert!(!response.data.is_null());
        descriptor.free_buffer.expect("free")(&mut response);
        assert!(
            response.data.is_null() && response.len == 0,
            "free empties the buffer"
        );

        // free_buffer and destroy accept NULL.
        descriptor.free_buffer.expect("free")(std::ptr::null_mut());
        descriptor.destroy.expect("destroy")(std::ptr::null_mut());
    }

    let instance = raw_create(&raw_api(), b"{}").expect("created");
    // SAFETY: a live instance; a NULL request with a length is refused, not read.
    unsafe {
        let mut response = posd_buffer::empty();
        let status = classify(instance, std::ptr::null(), 5, &mut response);
        assert_eq!(status, POSD_ERROR);
        let body: Value = serde_json::from_slice(std::slice::from_raw_parts(
            response.data.cast::<u8>(),
            response.len,
        ))
        .expect("JSON");
        assert_eq!(body["error"], "InvalidArgument");
        descriptor.free_buffer.expect("free")(&mut response);
        descriptor.destroy.expect("destroy")(instance);
    }
}
