//! What the host offers a plugin: logging, the clock, its configuration, key-value storage
//! and ledger queries — all in the host's own database, so one backup holds everything and
//! one transaction commits a checkout.
//!
//! The callbacks run on the plugin's thread, inside a plugin call; they block on the
//! database thread, never on the async runtime. Nothing may unwind out of them: each one
//! catches panics and answers with an error instead.

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use posd_plugin_abi as abi;
use serde_json::{Value, json};

use crate::ledger;
use crate::store::Database;

/// The host's side of one plugin instance; `posd_host_api.host` points at it.
pub struct HostContext {
    plugin: String,
    config: Value,
    db: Database,
}

impl HostContext {
    /// Services for plugin `plugin` with configuration section `config`.
    pub fn new(plugin: &str, config: Value, db: Database) -> Self {
        Self {
            plugin: plugin.to_string(),
            config,
            db,
        }
    }

    /// The callback table pointing at this context; valid while the context does not move
    /// and lives.
    pub fn api(&self) -> abi::posd_host_api {
        abi::posd_host_api {
            struct_size: abi::POSD_HOST_API_SIZE_1_0 as u32,
            abi_major: abi::POSD_ABI_MAJOR,
            abi_minor: abi::POSD_ABI_MINOR,
            host: std::ptr::from_ref(self).cast_mut().cast::<abi::posd_host>(),
            log: Some(host_log),
            now_ms: Some(host_now_ms),
            call: Some(host_call),
            free_buffer: Some(host_free_buffer),
        }
    }

    /// Writes a plugin's log message to the daemon's log, under the plugin's name.
    pub fn log(&self, level: i32, message: &str) {
        let plugin = self.plugin.as_str();
        match level {
            abi::POSD_LOG_ERROR => tracing::error!(plugin, "{message}"),
            abi::POSD_LOG_WARN => tracing::warn!(plugin, "{message}"),
            abi::POSD_LOG_INFO => tracing::info!(plugin, "{message}"),
            abi::POSD_LOG_DEBUG => tracing::debug!(plugin, "{message}"),
            _ => tracing::trace!(plugin, "{message}"),
        }
    }

    /// Answers a service request; `Err` is an error object for the plugin.
    pub fn serve(&self, service: &str, request: &Value) -> Result<Value, Value> {
        let plugin = self.plugin.clone();
        let string = |key: &str| -> Result<String, Value> {
            request
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    refusal(
                        "InvalidArgument",
                        &format!("{service} needs a string \"{key}\""),
                    )
                })
        };
        let db = |result: Result<Value, crate::store::StoreError>| {
            result.map_err(|e| refusal("Internal", &e.to_string()))
        };
        match service {
            "config.get" => Ok(self.config.clone()),
            "kv.get" => {
                let key = string("key")?;
                db(self.db.call_blocking(move |c| {
                    let value: Option<String> = rusqlite::OptionalExtension::optional(c.prepare_cached("SELECT value FROM plugin_kv WHERE plugin = ?1 AND key = ?2")?.query_row(
                        [&plugin, &key],
                        |r| r.get(0),
                    ))?;
                    Ok(json!({ "value": value.and_then(|v| serde_json::from_str::<Value>(&v).ok()) }))
                }))
            }
            "kv.put" => {
                let key = string("key")?;
                let value = request
                    .get("value")
                    .cloned()
                    .ok_or_else(|| refusal("InvalidArgument", "kv.put needs a \"value\""))?;
                db(self.db.call_blocking(move |c| {
                    kv_put(c, &plugin, &key, &value)?;
                    Ok(json!({}))
                }))
            }
            "kv.delete" => {
                let key = string("key")?;
                db(self.db.call_blocking(move |c| {
                    let n = c
                        .prepare_cached("DELETE FROM plugin_kv WHERE plugin = ?1 AND key = ?2")?
                        .execute([&plugin, &key])?;
                    Ok(json!({ "deleted": n > 0 }))
                }))
            }
            "kv.list" => {
                let prefix = request
                    .get("prefix")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                db(self.db.call_blocking(move |c| {
                    let mut stmt = c.prepare(
                        "SELECT key, value FROM plugin_kv WHERE plugin = ?1 AND substr(key, 1, length(?2)) = ?2 ORDER BY key",
                    )?;
                    let rows = stmt.query_map([&plugin, &prefix], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })?;
                    let mut entries = Vec::new();
                    for row in rows {
                        let (key, value) = row?;
                        let value = serde_json::from_str::<Value>(&value).unwrap_or(Value::Null);
                        entries.push(json!({ "key": key, "value": value }));
                    }
                    Ok(json!({ "entries": entries }))
                }))
            }
            "ledger.balance" => {
                let account = string("account")?;
                let code = ledger::plugin_account(&plugin, &account);
                db(self.db.call_blocking(move |c| {
                    Ok(match ledger::account(c, &code)? {
                        Some(a) => json!({
                            "account": account, "exists": true,
                            "balance": a.balance.to_string(), "unit": a.unit
                        }),
                        None => json!({ "account": account, "exists": false, "balance": "0", "unit": "" }),
                    })
                }))
            }
            "ledger.postings" => {
                let account = string("account")?;
                let limit = request
                    .get("limit")
                    .and_then(Value::as_u64)
                    .unwrap_or(1000)
                    .min(10_000);
                let code = ledger::plugin_account(&plugin, &account);
                db(self.db.call_blocking(move |c| {
                    let postings = ledger::postings(c, &code, limit)?;
                    Ok(json!({ "postings": postings.iter().map(|p| json!({
                        "entry": p.entry, "time": p.time, "amount": p.amount.to_string(),
                        "expires": p.expires,
                    })).collect::<Vec<_>>() }))
                }))
            }
            "ledger.turnover" => {
                let customer = string("customer")?;
                let months = request
                    .get("months")
                    .and_then(Value::as_u64)
                    .unwrap_or(12)
                    .min(120);
                let since = months_ago(months);
                db(self.db.call_blocking(move |c| {
                    let mut stmt =
                        c.prepare("SELECT total FROM receipts WHERE customer = ?1 AND time >= ?2")?;
                    let rows = stmt.query_map([&customer, &since], |r| r.get::<_, String>(0))?;
                    let mut turnover = rust_decimal::Decimal::ZERO;
                    for row in rows {
                        turnover += row?.parse::<rust_decimal::Decimal>().unwrap_or_default();
                    }
                    Ok(
                        json!({ "customer": customer, "months": months, "since": since,
                               "turnover": turnover.to_string() }),
                    )
                }))
            }
            other => Err(refusal(
                "NotFound",
                &format!(
                    "no host service {other:?} in plugin ABI {}.{}",
                    abi::POSD_ABI_MAJOR,
                    abi::POSD_ABI_MINOR
                ),
            )),
        }
    }
}

/// The start of the day `months` calendar months ago, as the journal writes times.
fn months_ago(months: u64) -> String {
    let today = crate::sale::time::rfc3339_ms(crate::clock::now_ms());
    let year: i64 = today[0..4].parse().unwrap_or(1970);
    let month: i64 = today[5..7].parse().unwrap_or(1);
    let day = &today[8..10];
    let total = year * 12 + (month - 1) - i64::try_from(months).unwrap_or(0);
    // A day past the end of the shorter month still compares right as a string bound.
    format!(
        "{:04}-{:02}-{day}T00:00:00.000Z",
        total.div_euclid(12),
        total.rem_euclid(12) + 1
    )
}

/// Stores a plugin's key (JSON `null` deletes it); shared with the checkout's `kv` effects.
pub fn kv_put(
    c: &rusqlite::Connection,
    plugin: &str,
    key: &str,
    value: &Value,
) -> rusqlite::Result<()> {
    if value.is_null() {
        c.prepare_cached("DELETE FROM plugin_kv WHERE plugin = ?1 AND key = ?2")?
            .execute([plugin, key])?;
    } else {
        c.prepare_cached(
            "INSERT INTO plugin_kv (plugin, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value",
        )?
        .execute([plugin, key, &value.to_string()])?;
    }
    Ok(())
}

pub(super) fn refusal(error: &str, message: &str) -> Value {
    json!({ "error": error, "message": message })
}

/// Hands `bytes` to the plugin as a host-owned buffer.
pub(super) fn give(buffer: *mut abi::posd_buffer, bytes: Vec<u8>) {
    if buffer.is_null() {
        return;
    }
    let boxed = bytes.into_boxed_slice();
    let len = boxed.len();
    let data = if len == 0 {
        std::ptr::null_mut()
    } else {
        Box::into_raw(boxed).cast::<c_char>()
    };
    // SAFETY: the plugin passed a writable posd_buffer.
    unsafe {
        (*buffer).data = data;
        (*buffer).len = len;
    }
}

/// # Safety
/// `ptr` must point to `len` readable bytes (or be null with any length, read as empty).
pub(super) unsafe fn text<'a>(ptr: *const c_char, len: usize) -> std::borrow::Cow<'a, str> {
    if ptr.is_null() || len == 0 {
        return "".into();
    }
    // SAFETY: guaranteed by the caller.
    String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// # Safety
/// `host` must be the pointer of a live [`HostContext`] from [`HostContext::api`].
unsafe fn context<'a>(host: *mut abi::posd_host) -> Option<&'a HostContext> {
    // SAFETY: guaranteed by the caller.
    unsafe { host.cast::<HostContext>().as_ref() }
}

unsafe extern "C" fn host_log(
    host: *mut abi::posd_host,
    level: i32,
    message: *const c_char,
    len: usize,
) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the plugin passes its host pointer and a message of `len` bytes.
        let (Some(ctx), message) = (unsafe { context(host) }, unsafe { text(message, len) }) else {
            return;
        };
        ctx.log(level, &message);
    }));
}

unsafe extern "C" fn host_now_ms(_host: *mut abi::posd_host) -> i64 {
    crate::clock::now_ms_i64()
}

unsafe extern "C" fn host_call(
    host: *mut abi::posd_host,
    service: *const c_char,
    service_len: usize,
    request: *const c_char,
    request_len: usize,
    response: *mut abi::posd_buffer,
) -> i32 {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the plugin passes its host pointer and buffers of the given lengths.
        let ctx = unsafe { context(host) }.ok_or_else(|| refusal("InvalidArgument", "no host"))?;
        // SAFETY: as above.
        let service = unsafe { text(service, service_len) };
        // SAFETY: as above.
        let request_text = unsafe { text(request, request_len) };
        let request: Value = if request_text.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&request_text)
                .map_err(|e| refusal("InvalidArgument", &format!("the request is not JSON: {e}")))?
        };
        ctx.serve(&service, &request)
    }));
    let (status, body) = match outcome {
        Ok(Ok(value)) => (abi::POSD_OK, value),
        Ok(Err(error)) => (abi::POSD_ERROR, error),
        Err(_) => (
            abi::POSD_ERROR,
            refusal("Internal", "the host failed to answer"),
        ),
    };
    give(response, body.to_string().into_bytes());
    status
}

pub(super) unsafe extern "C" fn host_free_buffer(
    _host: *mut abi::posd_host,
    buffer: *mut abi::posd_buffer,
) {
    if buffer.is_null() {
        return;
    }
    // SAFETY: the plugin hands back a buffer `give` filled: a boxed slice of `len` bytes.
    unsafe {
        let data = (*buffer).data;
        let len = (*buffer).len;
        if !data.is_null() && len > 0 {
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                data.cast::<u8>(),
                len,
            )));
        }
        (*buffer).data = std::ptr::null_mut();
        (*buffer).len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn context() -> (tempfile::TempDir, HostContext) {
        let dir = tempfile::tempdir().expect("dir");
        let db = Database::start(dir.path(), Duration::from_secs(1)).expect("db");
        (
            dir,
            HostContext::new("demo", json!({ "greeting": "Servus" }), db),
        )
    }

    fn call(ctx: &HostContext, service: &str, request: &str) -> (i32, Value) {
        let api = ctx.api();
        let mut buffer = abi::posd_buffer::empty();
        // SAFETY: a valid host pointer and buffers, as a plugin would pass them.
        let status = unsafe {
            (api.call.expect("call"))(
                api.host,
                service.as_ptr().cast(),
                service.len(),
                request.as_ptr().cast(),
                request.len(),
                &mut buffer,
            )
        };
        // SAFETY: the buffer the host just wrote.
        let bytes =
            unsafe { std::slice::from_raw_parts(buffer.data.cast::<u8>(), buffer.len) }.to_vec();
        // SAFETY: freeing it once, as a plugin must.
        unsafe { (api.free_buffer.expect("free"))(api.host, &mut buffer) };
        assert!(buffer.data.is_null());
        (status, serde_json::from_slice(&bytes).expect("JSON"))
    }

    #[test]
    fn kv_round_trips_per_plugin() {
        let (_dir, ctx) = context();
        assert_eq!(
            call(&ctx, "kv.get", r#"{"key":"a"}"#),
            (0, json!({ "value": null }))
        );
        assert_eq!(call(&ctx, "kv.put", r#"{"key":"a","value":{"n":1}}"#).0, 0);
        assert_eq!(call(&ctx, "kv.put", r#"{"key":"b","value":2}"#).0, 0);
        assert_eq!(
            call(&ctx, "kv.get", r#"{"key":"a"}"#).1,
            json!({ "value": { "n": 1 } })
        );
        let listed = call(&ctx, "kv.list", r#"{"prefix":"a"}"#).1;
        assert_eq!(
            listed,
            json!({ "entries": [{ "key": "a", "value": { "n": 1 } }] })
        );
        assert_eq!(
            call(&ctx, "kv.delete", r#"{"key":"a"}"#).1,
            json!({ "deleted": true })
        );
        assert_eq!(
            call(&ctx, "kv.get", r#"{"key":"a"}"#).1,
            json!({ "value": null })
        );
    }

    #[test]
    fn bad_requests_and_unknown_services_are_errors_not_crashes() {
        let (_dir, ctx) = context();
        let (status, body) = call(&ctx, "kv.get", "{not json");
        assert_eq!(
            (status, body["error"].as_str()),
            (abi::POSD_ERROR, Some("InvalidArgument"))
        );
        let (status, body) = call(&ctx, "kv.get", "{}");
        assert_eq!(
            (status, body["error"].as_str()),
            (abi::POSD_ERROR, Some("InvalidArgument"))
        );
        let (status, body) = call(&ctx, "rocket.launch", "{}");
        assert_eq!(
            (status, body["error"].as_str()),
            (abi::POSD_ERROR, Some("NotFound"))
        );
        assert_eq!(
            call(&ctx, "config.get", "").1,
            json!({ "greeting": "Servus" })
        );
    }

    #[test]
    fn turnover_sums_the_customers_receipts_of_the_last_months() {
        let (_dir, ctx) = context();
        ctx.db
            .call_blocking(|c| {
                for (id, n, customer, time, total) in [
                    ("R1", 1, "C1", "2020-01-01T10:00:00.000Z", "99.00"),
                    ("R2", 2, "C1", "2099-01-01T10:00:00.000Z", "12.50"),
                    ("R3", 3, "C1", "2099-01-02T10:00:00.000Z", "-2.50"),
                    ("R4", 4, "C2", "2099-01-02T10:00:00.000Z", "7.00"),
                ] {
                    c.execute(
                        "INSERT INTO receipts (id, register, number, kind, original, sale_id, time, customer, total, document)
                         VALUES (?1, '01', ?2, 'sale', '', '', ?3, ?4, ?5, '{}')",
                        rusqlite::params![id, n, time, customer, total],
                    )?;
                }
                Ok(())
            })
            .expect("receipts");
        let (status, body) = call(&ctx, "ledger.turnover", r#"{"customer":"C1","months":12}"#);
        assert_eq!(status, 0);
        assert_eq!(
            body["turnover"], "10.00",
            "old receipts and other customers left out: {body}"
        );
    }

    #[test]
    fn an_unknown_account_has_a_zero_balance() {
        let (_dir, ctx) = context();
        let (status, body) = call(&ctx, "ledger.balance", r#"{"account":"voucher:X"}"#);
        assert_eq!(status, 0);
        assert_eq!(body["exists"], false);
        assert_eq!(body["balance"], "0");
    }
}
