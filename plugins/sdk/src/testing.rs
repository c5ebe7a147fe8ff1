//! A fake host for testing a plugin in-process, through the same C ABI the daemon uses.
//!
//! [`Harness`] takes a type that `posd_plugin!` exported, calls its descriptor's `create`
//! with a configuration, calls hooks by name with JSON, and frees every buffer as the host
//! would. Its host side keeps the kv store in memory, records log lines, has a clock tests
//! set, and answers other services with handlers a test installs. It also counts the
//! buffers it handed to the plugin that were not freed yet, so a test can see that a plugin
//! returns every host buffer.
//!
//! ```text
//! let mut harness = Harness::<HelloRust>::create(json!({"balance": "5.00"}))?;
//! let answer = harness.call("classify_code", &json!({"schema": 1, "code": "HELLORS-1"}))?;
//! assert_eq!(answer["balance"], "5.00");
//! ```
//!
//! (A complete example is in the crate's top-level documentation.)

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_char, c_void};
use std::marker::PhantomData;

use posd_plugin_abi::{
    HOOK_NAMES, POSD_ABI_MAJOR, POSD_ABI_MINOR, POSD_ERROR, POSD_HOST_API_SIZE_1_0, POSD_OK,
    posd_buffer, posd_hook, posd_host, posd_host_api, posd_plugin_descriptor,
};
use serde_json::{Value, json};

use crate::error::{ErrorName, PluginError};
use crate::ffi::Exported;

/// A test's answer to a host service: gets the request, returns the response or an error.
pub type ServiceHandler = Box<dyn FnMut(&Value) -> Result<Value, PluginError>>;

/// The fake host's state, reachable from the C callbacks through `posd_host *`.
struct FakeHost {
    config: Value,
    now_ms: i64,
    logs: Vec<(i32, String)>,
    kv: BTreeMap<String, Value>,
    services: HashMap<String, ServiceHandler>,
    calls: Vec<String>,
    outstanding_host_buffers: usize,
}

/// One plugin instance loaded into a fake host. Dropping it destroys the instance.
pub struct Harness<P: Exported> {
    descriptor: &'static posd_plugin_descriptor,
    instance: *mut c_void,
    // Never read here, only kept alive and in place: the instance holds a pointer to it
    // until destroy. Boxed so that moving the harness does not move it.
    _api: Box<posd_host_api>,
    host: Box<RefCell<FakeHost>>,
    _plugin: PhantomData<P>,
}

impl<P: Exported> Harness<P> {
    /// Creates an instance with `config` as its configuration section; a failing `create`
    /// returns the plugin's error.
    pub fn create(config: Value) -> Result<Self, PluginError> {
        let host = Box::new(RefCell::new(FakeHost {
            config: config.clone(),
            now_ms: 1_767_225_600_000, // 2026-01-01T00:00:00Z
            logs: Vec::new(),
            kv: BTreeMap::new(),
            services: HashMap::new(),
            calls: Vec::new(),
            outstanding_host_buffers: 0,
        }));
        let api = Box::new(posd_host_api {
            struct_size: POSD_HOST_API_SIZE_1_0 as u32,
            abi_major: POSD_ABI_MAJOR,
            abi_minor: POSD_ABI_MINOR,
            host: (&*host as *const RefCell<FakeHost>)
                .cast_mut()
                .cast::<posd_host>(),
            log: Some(fake_log),
            now_ms: Some(fake_now),
            call: Some(fake_call),
            free_buffer: Some(fake_free),
        });
        let descriptor = P::descriptor();
        let create = descriptor
            .create
            .ok_or_else(|| PluginError::plugin_failed("descriptor has no create"))?;
        let config = config.to_string();
        let mut error = posd_buffer::empty();
        // SAFETY: the descriptor is the SDK's (`Exported`); api, config and error are valid
        // for the call, and api stays valid until destroy (it lives in the harness).
        let instance = unsafe {
            create(
                &*api,
                config.as_ptr().cast::<c_char>(),
                config.len(),
                &mut error,
            )
        };
        let harness = Harness {
            descriptor,
            instance,
            _api: api,
            host,
            _plugin: PhantomData,
        };
        if instance.is_null() {
            let error = harness.take_buffer(error);
            return Err(match error {
                Ok(body) => serde_json::from_value(body).unwrap_or_else(|e| {
                    PluginError::plugin_failed(format!(
                        "create failed with a bad error object: {e}"
                    ))
                }),
                Err(e) => e,
            });
        }
        Ok(harness)
    }

    /// Whether the plugin fills this hook (by its ABI name, e.g. `"classify_code"`).
    pub fn implements(&self, hook: &str) -> bool {
        self.hook(hook).is_some()
    }

    /// Calls a hook with a JSON request. `Err` is the plugin's error object, or, as the host
    /// would see it, `PluginFailed` for a broken answer and `NotFound` for a NULL hook.
    pub fn call(&mut self, hook: &str, request: &Value) -> Result<Value, PluginError> {
        let (status, body) = self.call_raw(hook, request.to_string().as_bytes())?;
        let body = body?;
        match status {
            POSD_OK => Ok(body),
            POSD_ERROR => Err(serde_json::from_value(body).unwrap_or_else(|e| {
                PluginError::plugin_failed(format!("{hook} returned a bad error object: {e}"))
            })),
            other => Err(PluginError::plugin_failed(format!(
                "{hook} returned status {other}"
            ))),
        }
    }

    /// Calls a hook with raw request bytes (to test malformed input); the status and the
    /// response parsed as JSON (`Err` if it is not JSON or a NULL buffer with a length).
    #[allow(clippy::type_complexity)]
    pub fn call_raw(
        &mut self,
        hook: &str,
        request: &[u8],
    ) -> Result<(i32, Result<Value, PluginError>), PluginError> {
        let function = self
            .hook(hook)
            .ok_or_else(|| PluginError::not_found(format!("hook {hook} is NULL")))?;
        let mut response = posd_buffer::empty();
        // SAFETY: the hook and instance are the SDK's, the request is readable for its
        // length and the response is an empty buffer.
        let status = unsafe {
            function(
                self.instance,
                request.as_ptr().cast::<c_char>(),
                request.len(),
                &mut response,
            )
        };
        Ok((status, self.take_buffer(response)))
    }

    /// Log lines the plugin wrote, as `(POSD_LOG_* level, text)`.
    pub fn logs(&self) -> Vec<(i32, String)> {
        self.host.borrow().logs.clone()
    }

    /// The plugin's kv store as it is now.
    pub fn kv(&self) -> BTreeMap<String, Value> {
        self.host.borrow().kv.clone()
    }

    /// Sets the clock `Host::now` reads.
    pub fn set_now(&self, now_ms: i64) {
        self.host.borrow_mut().now_ms = now_ms;
    }

    /// Answers `service` with `handler` from now on (overrides the built-in kv and config).
    pub fn on_service(
        &self,
        service: &str,
        handler: impl FnMut(&Value) -> Result<Value, PluginError> + 'static,
    ) {
        self.host
            .borrow_mut()
            .services
            .insert(service.to_string(), Box::new(handler));
    }

    /// The services the plugin called, in order.
    pub fn service_calls(&self) -> Vec<String> {
        self.host.borrow().calls.clone()
    }

    /// Host buffers the plugin got from `call` and has not freed yet.
    pub fn outstanding_host_buffers(&self) -> usize {
        self.host.borrow().outstanding_host_buffers
    }

    /// The raw descriptor, for tests of the ABI itself.
    pub fn descriptor(&self) -> &'static posd_plugin_descriptor {
        self.descriptor
    }

    fn hook(&self, name: &str) -> Option<posd_hook> {
        let index = HOOK_NAMES.iter().position(|known| *known == name)?;
        // SAFETY: the SDK's descriptor points at a static hooks table.
        let hooks = unsafe { &*self.descriptor.hooks };
        let table = [
            hooks.classify_code,
            hooks.enter_code,
            hooks.list_actions,
            hooks.invoke_action,
            hooks.evaluate_basket,
            hooks.list_rewards,
            hooks.apply_reward,
            hooks.validate_tender,
            hooks.prepare_checkout,
            hooks.commit_checkout,
            hooks.abort_checkout,
            hooks.void_receipt,
            hooks.return_lines,
            hooks.deliver_message,
            hooks.customer_accounts,
        ];
        table[index]
    }

    /// Parses a buffer the plugin wrote, then gives it back to the plugin's `free_buffer`.
    fn take_buffer(&self, mut buffer: posd_buffer) -> Result<Value, PluginError> {
        let parsed = match (buffer.data.is_null(), buffer.len) {
            (true, 0) => Err(PluginError::plugin_failed("empty response")),
            (true, len) => Err(PluginError::plugin_failed(format!(
                "NULL response with length {len}"
            ))),
            (false, len) => {
                // SAFETY: the plugin wrote len bytes at data; freed only below.
                let bytes = unsafe { std::slice::from_raw_parts(buffer.data.cast::<u8>(), len) };
                serde_json::from_slice(bytes)
                    .map_err(|e| PluginError::plugin_failed(format!("response is not JSON: {e}")))
            }
        };
        if !buffer.data.is_null()
            && let Some(free) = self.descriptor.free_buffer
        {
            // SAFETY: the plugin wrote this buffer; it is freed exactly once.
            unsafe { free(&mut buffer) };
        }
        parsed
    }
}

impl<P: Exported> Drop for Harness<P> {
    fn drop(&mut self) {
        if let Some(destroy) = self.descriptor.destroy
            && !self.instance.is_null()
        {
            // SAFETY: the instance came from create and is destroyed once.
            unsafe { destroy(self.instance) };
        }
        // `_api` and `host` are dropped after this, so they outlive destroy (which may log).
    }
}

/// The fake host behind a `posd_host *`.
///
/// # Safety
/// `host` must be the pointer `Harness::create` put into the table.
unsafe fn fake<'a>(host: *mut posd_host) -> &'a RefCell<FakeHost> {
    // SAFETY: by this function's contract the pointer is a live RefCell<FakeHost>.
    unsafe { &*host.cast_const().cast::<RefCell<FakeHost>>() }
}

/// Bytes the plugin passed to a callback.
///
/// # Safety
/// `data` readable for `len` bytes, or null with 0.
unsafe fn text(data: *const c_char, len: usize) -> String {
    if data.is_null() || len == 0 {
        return String::new();
    }
    // SAFETY: by this function's contract.
    let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
    String::from_utf8_lossy(bytes).into_owned()
}

unsafe extern "C" fn fake_log(
    host: *mut posd_host,
    level: i32,
    message: *const c_char,
    len: usize,
) {
    // SAFETY: the plugin passes our host pointer and its message with its length.
    let (host, message) = unsafe { (fake(host), text(message, len)) };
    host.borrow_mut().logs.push((level, message));
}

unsafe extern "C" fn fake_now(host: *mut posd_host) -> i64 {
    // SAFETY: the plugin passes our host pointer.
    unsafe { fake(host) }.borrow().now_ms
}

unsafe extern "C" fn fake_call(
    host: *mut posd_host,
    service: *const c_char,
    service_len: usize,
    request: *const c_char,
    request_len: usize,
    response: *mut posd_buffer,
) -> i32 {
    // SAFETY: the plugin passes our host pointer, its strings with their lengths and a
    // writable response buffer.
    let (host, service, request, response) = unsafe {
        (
            fake(host),
            text(service, service_len),
            text(request, request_len),
            &mut *response,
        )
    };
    let outcome = match serde_json::from_str::<Value>(&request) {
        Err(e) => Err(PluginError::invalid_argument(format!(
            "request is not JSON: {e}"
        ))),
        Ok(request) => answer(host, &service, &request),
    };
    let (status, body) = match outcome {
        Ok(body) => (POSD_OK, body),
        Err(e) => (POSD_ERROR, json!({"error": e.error, "message": e.message})),
    };
    let bytes = body.to_string().into_bytes().into_boxed_slice();
    response.len = bytes.len();
    response.data = Box::into_raw(bytes).cast::<c_char>();
    host.borrow_mut().outstanding_host_buffers += 1;
    status
}

unsafe extern "C" fn fake_free(host: *mut posd_host, buffer: *mut posd_buffer) {
    // SAFETY: the plugin passes our host pointer and a buffer fake_call wrote.
    let (host, buffer) = unsafe { (fake(host), &mut *buffer) };
    if buffer.data.is_null() {
        return;
    }
    let slice = std::ptr::slice_from_raw_parts_mut(buffer.data.cast::<u8>(), buffer.len);
    // SAFETY: fake_call made exactly this Box<[u8]>.
    drop(unsafe { Box::from_raw(slice) });
    *buffer = posd_buffer::empty();
    host.borrow_mut().outstanding_host_buffers -= 1;
}

/// The fake host's services: a test's handler if it set one, else config and kv.
fn answer(host: &RefCell<FakeHost>, service: &str, request: &Value) -> Result<Value, PluginError> {
    host.borrow_mut().calls.push(service.to_string());
    // Take the handler out while it runs, so it may not re-enter the RefCell borrowed.
    let handler = host.borrow_mut().services.remove(service);
    if let Some(mut handler) = handler {
        let result = handler(request);
        host.borrow_mut()
            .services
            .insert(service.to_string(), handler);
        return result;
    }
    let key = || {
        request
            .get("key")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| PluginError::invalid_argument("key missing"))
    };
    let mut host = host.borrow_mut();
    match service {
        "config.get" => Ok(host.config.clone()),
        "kv.get" => Ok(json!({"value": host.kv.get(&key()?).cloned().unwrap_or(Value::Null)})),
        "kv.put" => {
            let value = request.get("value").cloned().unwrap_or(Value::Null);
            host.kv.insert(key()?, value);
            Ok(json!({}))
        }
        "kv.delete" => Ok(json!({"deleted": host.kv.remove(&key()?).is_some()})),
        "kv.list" => {
            let prefix = request.get("prefix").and_then(Value::as_str).unwrap_or("");
            let entries: Vec<Value> = host
                .kv
                .iter()
                .filter(|(key, _)| key.starts_with(prefix))
                .map(|(key, value)| json!({"key": key, "value": value}))
                .collect();
            Ok(json!({ "entries": entries }))
        }
        other => Err(PluginError::new(
            ErrorName::NotFound,
            format!("the fake host has no service {other}"),
        )),
    }
}
