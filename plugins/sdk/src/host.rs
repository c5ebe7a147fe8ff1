//! [`Host`]: the daemon's callbacks (log, clock, services) as safe methods.
//!
//! The host's callback table is valid from `create` until `destroy` returns, and may only be
//! used from the thread the host is calling on. The SDK therefore never hands out a `Host`
//! by value: each hook method and `create` get a `&Host` borrowed for that one call. `Host`
//! is neither `Send` nor `Sync`, so it cannot reach a thread the plugin starts, and the
//! borrow cannot be kept in the plugin (`Plugin: 'static`).

use std::ffi::c_char;
use std::marker::PhantomData;

use posd_plugin_abi::{
    POSD_ABI_MAJOR, POSD_ERROR, POSD_HOST_API_SIZE_1_0, POSD_LOG_DEBUG, POSD_LOG_ERROR,
    POSD_LOG_INFO, POSD_LOG_TRACE, POSD_LOG_WARN, POSD_OK, posd_buffer, posd_call_fn, posd_host,
    posd_host_api, posd_host_free_fn, posd_log_fn, posd_now_fn,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{ErrorName, PluginError};
use crate::schema::{KvEntry, LedgerBalance, LedgerPosting, Turnover};

/// How important a log line is; maps to `POSD_LOG_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Something failed.
    Error,
    /// Something is off but the plugin goes on.
    Warn,
    /// Normal operation worth a line.
    Info,
    /// Details for debugging.
    Debug,
    /// Very chatty details.
    Trace,
}

impl LogLevel {
    /// The ABI's number for this level.
    pub const fn as_abi(self) -> i32 {
        match self {
            LogLevel::Error => POSD_LOG_ERROR,
            LogLevel::Warn => POSD_LOG_WARN,
            LogLevel::Info => POSD_LOG_INFO,
            LogLevel::Debug => POSD_LOG_DEBUG,
            LogLevel::Trace => POSD_LOG_TRACE,
        }
    }
}

/// The host's callbacks for one plugin instance. See the module docs for why it only ever
/// comes as `&Host`.
///
/// It cannot go to another thread:
///
/// ```compile_fail
/// fn needs_send<T: Send>() {}
/// needs_send::<&posd_plugin_sdk::Host>();
/// ```
pub struct Host {
    host: *mut posd_host,
    log: posd_log_fn,
    now_ms: posd_now_fn,
    call: posd_call_fn,
    free_buffer: posd_host_free_fn,
    /// The minor of the ABI the host offers (`posd_host_api.abi_minor`).
    abi_minor: u16,
    /// Raw pointers already make `Host` `!Send + !Sync`; this says it on purpose.
    _single_thread: PhantomData<*mut ()>,
}

impl Host {
    /// Takes the callbacks out of the table the host passed to `create`, refusing a table
    /// from another major, one smaller than 1.0's, or one with a callback missing.
    ///
    /// # Safety
    /// `api` must be null or point to a `posd_host_api` whose first `struct_size` bytes are
    /// readable, and its callbacks must stay valid while the `Host` is used.
    pub(crate) unsafe fn from_raw(api: *const posd_host_api) -> Result<Self, PluginError> {
        if api.is_null() {
            return Err(PluginError::invalid_argument("create got no host_api"));
        }
        // SAFETY: non-null, and every version of the table starts with struct_size.
        let size = unsafe { (*api).struct_size } as usize;
        if size < POSD_HOST_API_SIZE_1_0 {
            return Err(PluginError::invalid_argument(format!(
                "host_api is {size} bytes, ABI 1.0 needs at least {POSD_HOST_API_SIZE_1_0}"
            )));
        }
        // SAFETY: the host declared at least the 1.0 size, so every 1.0 field is readable.
        let api = unsafe { &*api };
        if api.abi_major != POSD_ABI_MAJOR {
            return Err(PluginError::invalid_argument(format!(
                "host offers ABI {}.{}, this plugin needs {POSD_ABI_MAJOR}.x",
                api.abi_major, api.abi_minor
            )));
        }
        match (api.log, api.now_ms, api.call, api.free_buffer) {
            (Some(log), Some(now_ms), Some(call), Some(free_buffer)) => Ok(Host {
                host: api.host,
                log,
                now_ms,
                call,
                free_buffer,
                abi_minor: api.abi_minor,
                _single_thread: PhantomData,
            }),
            _ => Err(PluginError::invalid_argument(
                "host_api lacks a callback of ABI 1.0",
            )),
        }
    }

    /// The minor of the plugin ABI the host offers (`posd_host_api.abi_minor`): what the
    /// host understands of what this plugin may send. A plugin built against a newer minor
    /// with `min_abi_minor` below it (as the SDK builds) checks this before it relies on a
    /// newer addition, e.g. `abi_minor() >= 2` before it offers an admin action whose
    /// `effects` a 1.1 host would silently drop.
    pub fn abi_minor(&self) -> u16 {
        self.abi_minor
    }

    /// Writes a line to the daemon's log, tagged with the plugin id by the host.
    pub fn log(&self, level: LogLevel, message: &str) {
        // SAFETY: the callback is valid during this call (see `from_raw`); the message is
        // passed with its length and only read during the call.
        unsafe {
            (self.log)(
                self.host,
                level.as_abi(),
                message.as_ptr().cast::<c_char>(),
                message.len(),
            )
        }
    }

    /// Logs at [`LogLevel::Error`].
    pub fn error(&self, message: &str) {
        self.log(LogLevel::Error, message);
    }

    /// Logs at [`LogLevel::Warn`].
    pub fn warn(&self, message: &str) {
        self.log(LogLevel::Warn, message);
    }

    /// Logs at [`LogLevel::Info`].
    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, message);
    }

    /// Logs at [`LogLevel::Debug`].
    pub fn debug(&self, message: &str) {
        self.log(LogLevel::Debug, message);
    }

    /// Logs at [`LogLevel::Trace`].
    pub fn trace(&self, message: &str) {
        self.log(LogLevel::Trace, message);
    }

    /// Milliseconds since the Unix epoch by the host's clock. Use it instead of the system
    /// clock so that the host's tests can pin time (expiry, validity windows).
    pub fn now(&self) -> i64 {
        // SAFETY: the callback is valid during this call.
        unsafe { (self.now_ms)(self.host) }
    }

    /// Calls a host service by name (see the README's "Host services") and returns its JSON
    /// answer; the service's error object becomes the `Err`. The host's buffer is parsed
    /// (copied) and handed back to the host's `free_buffer` before this returns.
    pub fn call<R: Serialize + ?Sized>(
        &self,
        service: &str,
        request: &R,
    ) -> Result<Value, PluginError> {
        let request = serde_json::to_vec(request).map_err(|e| {
            PluginError::invalid_argument(format!("request for {service} is not JSON: {e}"))
        })?;
        let mut response = HostBuffer {
            buffer: posd_buffer::empty(),
            host: self,
        };
        // SAFETY: service and request are passed with their lengths and only read during the
        // call; response points to an empty buffer the host may fill.
        let status = unsafe {
            (self.call)(
                self.host,
                service.as_ptr().cast::<c_char>(),
                service.len(),
                request.as_ptr().cast::<c_char>(),
                request.len(),
                &mut response.buffer,
            )
        };
        let body = response.parse(service)?;
        match status {
            POSD_OK => Ok(body),
            POSD_ERROR => Err(service_error(service, body)),
            other => Err(PluginError::plugin_failed(format!(
                "host answered {service} with status {other}"
            ))),
        }
    }

    /// [`call`](Self::call) with the answer read into a type.
    pub fn call_as<T: DeserializeOwned, R: Serialize + ?Sized>(
        &self,
        service: &str,
        request: &R,
    ) -> Result<T, PluginError> {
        let body = self.call(service, request)?;
        serde_json::from_value(body).map_err(|e| {
            PluginError::plugin_failed(format!(
                "host's answer to {service} is not as documented: {e}"
            ))
        })
    }

    /// `config.get`: the plugin's configuration section (the same object `create` got; asks
    /// again, e.g. after the host reloaded its configuration).
    pub fn config(&self) -> Result<Value, PluginError> {
        self.call("config.get", &json!({}))
    }

    /// `kv.get`: the value stored under `key` as the type it was stored from, `None` if
    /// there is none: `host.kv_get::<u32>("stamps:C-1")?.unwrap_or(0)`. A stored value that
    /// does not fit `T` is `PluginFailed` naming the key; `kv_get::<Value>` reads any JSON.
    pub fn kv_get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, PluginError> {
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(default)]
            value: Value,
        }
        let answer: Answer = self.call_as("kv.get", &json!({ "key": key }))?;
        crate::schema::kv_value(key, answer.value)
    }

    /// `kv.put`: stores `value`, any serialisable type, under `key` at once (outside any
    /// checkout; for writes that must commit with a sale use `KvWrite::new` in the
    /// checkout's effects, which takes the same types).
    pub fn kv_put<V: Serialize + ?Sized>(&self, key: &str, value: &V) -> Result<(), PluginError> {
        let value = crate::schema::kv_json(key, value)?;
        self.call("kv.put", &json!({ "key": key, "value": value }))
            .map(drop)
    }

    /// `kv.delete`: removes `key`; whether it was there.
    pub fn kv_delete(&self, key: &str) -> Result<bool, PluginError> {
        #[derive(serde::Deserialize)]
        struct Answer {
            deleted: bool,
        }
        let answer: Answer = self.call_as("kv.delete", &json!({ "key": key }))?;
        Ok(answer.deleted)
    }

    /// `kv.list`: every entry whose key starts with `prefix`.
    pub fn kv_list(&self, prefix: &str) -> Result<Vec<KvEntry>, PluginError> {
        #[derive(serde::Deserialize)]
        struct Answer {
            entries: Vec<KvEntry>,
        }
        let answer: Answer = self.call_as("kv.list", &json!({ "prefix": prefix }))?;
        Ok(answer.entries)
    }

    /// `ledger.balance`: an account's balance (`exists: false` for one never posted to).
    pub fn ledger_balance(&self, account: &str) -> Result<LedgerBalance, PluginError> {
        self.call_as("ledger.balance", &json!({ "account": account }))
    }

    /// `ledger.postings`: an account's postings, newest first, at most `limit` if given.
    pub fn ledger_postings(
        &self,
        account: &str,
        limit: Option<u32>,
    ) -> Result<Vec<LedgerPosting>, PluginError> {
        #[derive(serde::Deserialize)]
        struct Answer {
            postings: Vec<LedgerPosting>,
        }
        let request = match limit {
            Some(limit) => json!({ "account": account, "limit": limit }),
            None => json!({ "account": account }),
        };
        let answer: Answer = self.call_as("ledger.postings", &request)?;
        Ok(answer.postings)
    }

    /// `ledger.turnover`: what a customer spent over the last `months` months.
    pub fn ledger_turnover(&self, customer: &str, months: u32) -> Result<Turnover, PluginError> {
        self.call_as(
            "ledger.turnover",
            &json!({ "customer": customer, "months": months }),
        )
    }
}

/// A buffer the host wrote in `call`: read once, then returned to the host's `free_buffer`
/// — also when parsing fails, which is why this is a guard and not a line at the end.
struct HostBuffer<'a> {
    buffer: posd_buffer,
    host: &'a Host,
}

impl HostBuffer<'_> {
    /// The buffer's JSON; an empty buffer is `null`.
    fn parse(&self, service: &str) -> Result<Value, PluginError> {
        let bytes: &[u8] = match (self.buffer.data.is_null(), self.buffer.len) {
            (true, 0) => return Ok(Value::Null),
            (true, len) => {
                return Err(PluginError::plugin_failed(format!(
                    "host answered {service} with a null buffer of length {len}"
                )));
            }
            // SAFETY: the host wrote `len` readable bytes at `data`; they stay valid until we
            // hand the buffer back in `drop`.
            (false, len) => unsafe {
                std::slice::from_raw_parts(self.buffer.data.cast::<u8>(), len)
            },
        };
        serde_json::from_slice(bytes).map_err(|e| {
            PluginError::plugin_failed(format!("host answered {service} with invalid JSON: {e}"))
        })
    }
}

impl Drop for HostBuffer<'_> {
    fn drop(&mut self) {
        if !self.buffer.data.is_null() {
            // SAFETY: the host wrote this buffer in `call`; it is freed exactly once, here.
            unsafe { (self.host.free_buffer)(self.host.host, &mut self.buffer) };
        }
    }
}

/// The error object of a failed service call. A name this SDK does not know (a newer host)
/// or a malformed object becomes `PluginFailed` with the host's words in the message.
fn service_error(service: &str, body: Value) -> PluginError {
    let name = body.get("error").and_then(Value::as_str);
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match name.map(str::parse::<ErrorName>) {
        Some(Ok(error)) => PluginError::new(error, message),
        Some(Err(unknown)) => PluginError::plugin_failed(format!(
            "host service {service} failed with {}: {message}",
            unknown.0
        )),
        None => PluginError::plugin_failed(format!(
            "host service {service} failed without an error object: {body}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_keep_known_names_and_flag_the_rest() {
        let known = service_error("kv.get", json!({"error": "NotFound", "message": "no key"}));
        assert_eq!(known, PluginError::not_found("no key"));

        let newer = service_error(
            "kv.get",
            json!({"error": "Throttled", "message": "slow down"}),
        );
        assert_eq!(newer.error, ErrorName::PluginFailed);
        assert_eq!(
            newer.message,
            "host service kv.get failed with Throttled: slow down"
        );

        let broken = service_error("kv.get", json!("oops"));
        assert_eq!(broken.error, ErrorName::PluginFailed);
        assert!(
            broken.message.contains("without an error object"),
            "{}",
            broken.message
        );
    }

    #[test]
    fn log_levels_are_the_abis() {
        assert_eq!(LogLevel::Error.as_abi(), POSD_LOG_ERROR);
        assert_eq!(LogLevel::Trace.as_abi(), POSD_LOG_TRACE);
    }
}
