//! The C side of a Rust plugin: the functions `posd_plugin!` puts into the descriptor.
//!
//! Every function here is an `extern "C"` trampoline that turns the ABI's raw pointers into
//! Rust values and back, with three promises to the host:
//! - no panic crosses the boundary: plugin code runs inside `catch_unwind`, and a panic
//!   becomes `POSD_ERROR` with `{"error": "PluginFailed", "message": "plugin panicked: …"}`;
//! - a request that is not valid JSON of the hook's schema is `POSD_ERROR` with
//!   `InvalidArgument`, and the plugin's method is not called;
//! - every response is one `Box<[u8]>` leaked into the `posd_buffer` and reclaimed by
//!   [`free_buffer`] as exactly that type and length.
//!
//! Plugin authors never call these; they exist for the macro, and are public only so that
//! its expansion in the plugin's crate can name them.

use std::any::Any;
use std::ffi::{c_char, c_void};
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

use posd_plugin_abi::{
    POSD_ABI_MAJOR, POSD_ABI_MINOR, POSD_ERROR, POSD_OK, POSD_PLUGIN_DESCRIPTOR_SIZE_1_0,
    posd_buffer, posd_hook, posd_host_api, posd_plugin_descriptor, posd_plugin_hooks,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::PluginError;
use crate::host::Host;
use crate::plugin::{Plugin, for_each_hook};
// Every request and response type: the hook list in `plugin.rs` names them unqualified.
use crate::schema::*;

/// A type whose descriptor `posd_plugin!` generated. Only the macro implements it (the
/// `unsafe` is its promise that the descriptor and every function in it are the SDK's);
/// [`testing::Harness`](crate::testing::Harness) uses it to load a plugin in-process.
///
/// # Safety
/// `descriptor` must return a descriptor built by this SDK for `Self`.
pub unsafe trait Exported: Plugin {
    /// The plugin's static descriptor, the same pointer `posd_plugin_entry` returns.
    fn descriptor() -> &'static posd_plugin_descriptor;
}

/// A plugin instance as the host holds it: the author's value and the host's callbacks.
struct Instance<P> {
    plugin: P,
    host: Host,
}

/// NUL-terminated copies of the plugin's strings, made at compile time by the macro.
#[derive(Clone, Copy)]
pub struct Strings {
    /// `Plugin::ID` with a NUL.
    pub id: &'static [u8],
    /// `Plugin::NAME` with a NUL.
    pub name: &'static [u8],
    /// `Plugin::VERSION` with a NUL.
    pub version: &'static [u8],
    /// `Plugin::DESCRIPTION` with a NUL.
    pub description: &'static [u8],
}

/// Which string `c_string` is copying, for its compile-time error messages.
#[derive(Clone, Copy)]
pub enum Field {
    /// `Plugin::ID`.
    Id,
    /// `Plugin::NAME`, `VERSION` or `DESCRIPTION`.
    Text,
}

/// `text` followed by a NUL, as an array of exactly `N = text.len() + 1` bytes. Runs in
/// a `static` initialiser, so a bad id or an inner NUL is a compile error of the plugin.
pub const fn c_string<const N: usize>(text: &str, field: Field) -> [u8; N] {
    let bytes = text.as_bytes();
    assert!(bytes.len() + 1 == N, "c_string: N must be text.len() + 1");
    if let Field::Id = field {
        assert!(!bytes.is_empty(), "Plugin::ID must not be empty");
    }
    let mut out = [0u8; N];
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        assert!(byte != 0, "plugin strings must not contain NUL");
        if let Field::Id = field {
            assert!(
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_',
                "Plugin::ID may only contain lowercase ASCII letters, digits, '-' and '_'"
            );
        }
        out[i] = byte;
        i += 1;
    }
    out
}

/// The descriptor of ABI 1.4 for `P`: built against 1.4, works with hosts from 1.0 on (the
/// hooks added since 1.0 — admin actions in 1.1, `release_tender` in 1.4 — are optional; an
/// older host never calls them, and the JSON keys of 1.2 and 1.3 are the plugin's to check
/// with `Host::abi_minor`).
pub fn descriptor<P: Plugin>(
    strings: Strings,
    hooks: &'static posd_plugin_hooks,
) -> posd_plugin_descriptor {
    posd_plugin_descriptor {
        struct_size: POSD_PLUGIN_DESCRIPTOR_SIZE_1_0 as u32,
        abi_major: POSD_ABI_MAJOR,
        abi_minor: POSD_ABI_MINOR,
        min_abi_minor: 0,
        reserved0: 0,
        reserved1: 0,
        id: strings.id.as_ptr().cast::<c_char>(),
        name: strings.name.as_ptr().cast::<c_char>(),
        version: strings.version.as_ptr().cast::<c_char>(),
        description: strings.description.as_ptr().cast::<c_char>(),
        create: Some(create::<P>),
        destroy: Some(destroy::<P>),
        free_buffer: Some(free_buffer),
        hooks,
    }
}

/// `create`: checks the host's table, parses the configuration, calls `Plugin::create`.
///
/// # Safety
/// The host's side of the ABI: `api` as in [`Host::from_raw`], `config` readable for
/// `config_len` bytes (or null with 0), `error` null or writable.
unsafe extern "C" fn create<P: Plugin>(
    api: *const posd_host_api,
    config: *const c_char,
    config_len: usize,
    error: *mut posd_buffer,
) -> *mut c_void {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: forwarded from this function's contract.
        let host = unsafe { Host::from_raw(api) }?;
        // SAFETY: forwarded from this function's contract.
        let config = match unsafe { bytes(config, config_len) }? {
            [] => Value::Object(serde_json::Map::new()),
            text => serde_json::from_slice(text).map_err(|e| {
                PluginError::invalid_argument(format!("configuration is not JSON: {e}"))
            })?,
        };
        let plugin = P::create(&host, config)?;
        Ok(Box::new(Instance { plugin, host }))
    }));
    match outcome.unwrap_or_else(|payload| Err(panicked(payload))) {
        Ok(instance) => Box::into_raw(instance).cast::<c_void>(),
        Err(e) => {
            // SAFETY: the host passes a writable buffer or null.
            if let Some(error) = unsafe { error.as_mut() } {
                write_buffer(error, e.to_json());
            }
            std::ptr::null_mut()
        }
    }
}

/// `destroy`: drops the instance; a panic in its `Drop` is logged, not propagated.
///
/// # Safety
/// `instance` must be null or a pointer `create::<P>` returned, not yet destroyed.
unsafe extern "C" fn destroy<P: Plugin>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    // SAFETY: made by Box::into_raw in create::<P>; destroyed exactly once.
    let instance = unsafe { Box::from_raw(instance.cast::<Instance<P>>()) };
    let Instance { plugin, host } = *instance;
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(plugin))) {
        host.error(&format!(
            "panicked while being destroyed: {}",
            panicked(payload).message
        ));
    }
}

/// `free_buffer`: reclaims a response or error buffer this SDK wrote. Null pointers and
/// empty buffers are ignored; the buffer is emptied so a second call does nothing.
///
/// # Safety
/// `buffer` must be null or point to a `posd_buffer` this SDK filled and nobody freed.
pub unsafe extern "C" fn free_buffer(buffer: *mut posd_buffer) {
    // SAFETY: null or a valid buffer, by this function's contract.
    let Some(buffer) = (unsafe { buffer.as_mut() }) else {
        return;
    };
    if !buffer.data.is_null() {
        let slice = std::ptr::slice_from_raw_parts_mut(buffer.data.cast::<u8>(), buffer.len);
        // SAFETY: `write_buffer` made exactly this Box<[u8]> of exactly this length.
        drop(unsafe { Box::from_raw(slice) });
    }
    *buffer = posd_buffer::empty();
}

/// Moves `bytes` into `out` as a leaked `Box<[u8]>`; empty stays `NULL`/0, as the ABI says.
fn write_buffer(out: &mut posd_buffer, bytes: Vec<u8>) {
    if bytes.is_empty() {
        *out = posd_buffer::empty();
        return;
    }
    let boxed: Box<[u8]> = bytes.into_boxed_slice();
    let len = boxed.len();
    *out = posd_buffer {
        data: Box::into_raw(boxed).cast::<c_char>(),
        len,
    };
}

/// The bytes of a request or configuration the host passed.
///
/// # Safety
/// `data` must be readable for `len` bytes during the call, or null.
unsafe fn bytes<'a>(data: *const c_char, len: usize) -> Result<&'a [u8], PluginError> {
    match (data.is_null(), len) {
        (true, 0) => Ok(&[]),
        (true, len) => Err(PluginError::invalid_argument(format!(
            "request is a null pointer with length {len}"
        ))),
        // SAFETY: by this function's contract.
        (false, len) => Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }),
    }
}

/// The error a panic turns into, with the panic's message when it has one.
fn panicked(payload: Box<dyn Any + Send>) -> PluginError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic payload".to_string());
    PluginError::plugin_failed(format!("plugin panicked: {message}"))
}

/// A hook's response, with a last check before it leaves the plugin.
pub trait HookResponse: Serialize {
    /// Refuses a response the host would reject anyway, with a clearer message.
    fn check(&self) -> Result<(), PluginError> {
        Ok(())
    }
}

impl HookResponse for ClassifyCodeResponse {}
impl HookResponse for EnterCodeResponse {}
impl HookResponse for ListActionsResponse {}
impl HookResponse for Effects {}
impl HookResponse for EvaluateBasketResponse {}
impl HookResponse for ListRewardsResponse {}
impl HookResponse for ValidateTenderResponse {}
impl HookResponse for Empty {}
impl HookResponse for DeliverMessageResponse {}
impl HookResponse for CustomerAccountsResponse {}
impl HookResponse for ListAdminActionsResponse {}
impl HookResponse for InvokeAdminActionResponse {
    /// The host would refuse these effects: unbalanced, or with receipt sections (an admin
    /// action has no receipt).
    fn check(&self) -> Result<(), PluginError> {
        let Some(effects) = &self.effects else {
            return Ok(());
        };
        if !effects.sections.is_empty() {
            return Err(PluginError::plugin_failed(
                "an admin action's effects have no receipt to print sections on",
            ));
        }
        effects.check_balanced()
    }
}

impl HookResponse for CheckoutEffects {
    fn check(&self) -> Result<(), PluginError> {
        self.check_balanced()
    }
}

impl HookResponse for VoidReceiptResponse {
    fn check(&self) -> Result<(), PluginError> {
        self.effects.check_balanced()
    }
}

impl HookResponse for ReturnLinesResponse {
    fn check(&self) -> Result<(), PluginError> {
        self.effects.check_balanced()
    }
}

/// The body of every hook trampoline: parse, call, check, serialise, all inside
/// `catch_unwind`; then write the response or the error object.
///
/// # Safety
/// The host's side of the ABI: `instance` from `create::<P>`, `request` readable for `len`
/// bytes, `response` writable.
unsafe fn run_hook<P, Req, Resp>(
    instance: *mut c_void,
    request: *const c_char,
    len: usize,
    response: *mut posd_buffer,
    method: fn(&mut P, &Host, Req) -> Result<Resp, PluginError>,
) -> i32
where
    P: Plugin,
    Req: DeserializeOwned,
    Resp: HookResponse,
{
    // SAFETY: the host passes a writable buffer; without one there is nowhere to answer.
    let Some(response) = (unsafe { response.as_mut() }) else {
        return POSD_ERROR;
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: made by create::<P> and not destroyed; the host calls one at a time.
        let Some(instance) = (unsafe { instance.cast::<Instance<P>>().as_mut() }) else {
            return Err(PluginError::invalid_argument(
                "hook called without an instance",
            ));
        };
        // SAFETY: forwarded from this function's contract.
        let text = unsafe { bytes(request, len) }?;
        // Checked as UTF-8 once, so the parser need not check each string it reads.
        let request: Req = std::str::from_utf8(text)
            .map_err(|e| format!("malformed request: not UTF-8: {e}"))
            .and_then(|text| {
                serde_json::from_str(text).map_err(|e| format!("malformed request: {e}"))
            })
            .map_err(PluginError::invalid_argument)?;
        let answer = method(&mut instance.plugin, &instance.host, request)?;
        answer.check()?;
        serde_json::to_vec(&answer).map_err(|e| {
            PluginError::plugin_failed(format!("response could not be serialised: {e}"))
        })
    }));
    match outcome.unwrap_or_else(|payload| Err(panicked(payload))) {
        Ok(json) => {
            write_buffer(response, json);
            POSD_OK
        }
        Err(e) => {
            write_buffer(response, e.to_json());
            POSD_ERROR
        }
    }
}

/// Picks a hook's trampoline when `P` implements the hook's trait (autoref specialisation:
/// `(&Probe::<P, Marker>::new()).hook()` finds [`ViaImpl`] on `Probe` before it tries
/// [`ViaDefault`] on `&Probe`, and the former only exists where `P: Trait`). Works on
/// concrete types only, which is why it happens in the macro.
pub struct Probe<P, H>(PhantomData<(P, H)>);

impl<P, H> Probe<P, H> {
    /// A probe for plugin `P` and hook marker `H`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

/// The trampoline of an implemented hook.
pub trait ViaImpl {
    /// `Some(trampoline)`.
    fn hook(&self) -> Option<posd_hook>;
}

/// NULL for a hook the plugin does not implement.
pub trait ViaDefault {
    /// `None`.
    fn hook(&self) -> Option<posd_hook>;
}

impl<P, H> ViaDefault for &Probe<P, H> {
    fn hook(&self) -> Option<posd_hook> {
        None
    }
}

macro_rules! define_trampolines {
    ($(
        $(#[$doc:meta])*
        $trait:ident :: $method:ident ( $request:ty ) -> $response:ty;
    )*) => {
        /// One marker type per hook, naming it for [`Probe`].
        pub mod hook_markers {
            $(
                /// Names the hook of the same name for `Probe`.
                pub struct $trait;
            )*
        }

        /// The `extern "C"` function of each hook, generic over the plugin type.
        pub mod trampolines {
            use super::*;
            $(
                #[doc = concat!("The `", stringify!($method), "` hook of `P`.")]
                ///
                /// # Safety
                /// Called by the host as the ABI says: `instance` from `create`, `request`
                /// readable for `len` bytes, `response` writable.
                pub unsafe extern "C" fn $method<P: crate::plugin::$trait>(
                    instance: *mut c_void,
                    request: *const c_char,
                    len: usize,
                    response: *mut posd_buffer,
                ) -> i32 {
                    // SAFETY: forwarded from this function's contract.
                    unsafe {
                        run_hook::<P, $request, $response>(
                            instance,
                            request,
                            len,
                            response,
                            <P as crate::plugin::$trait>::$method,
                        )
                    }
                }
            )*
        }

        $(
            impl<P: crate::plugin::$trait> ViaImpl for Probe<P, hook_markers::$trait> {
                fn hook(&self) -> Option<posd_hook> {
                    Some(trampolines::$method::<P>)
                }
            }
        )*

        /// The number of hooks the SDK knows; must be the ABI's.
        const HOOK_COUNT: usize = [$(stringify!($method)),*].len();
        const _: () = assert!(HOOK_COUNT == posd_plugin_abi::HOOK_NAMES.len());

        /// The SDK's hook names in table order, to compare with the ABI's `HOOK_NAMES`.
        #[cfg(test)]
        pub(crate) const SDK_HOOK_NAMES: [&str; HOOK_COUNT] = [$(stringify!($method)),*];
    };
}

for_each_hook!(define_trampolines);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_hooks_are_the_abis_in_the_same_order() {
        assert_eq!(SDK_HOOK_NAMES, posd_plugin_abi::HOOK_NAMES);
    }

    #[test]
    fn free_buffer_ignores_null_and_empties_the_buffer() {
        // SAFETY: null is allowed.
        unsafe { free_buffer(std::ptr::null_mut()) };
        let mut buffer = posd_buffer::empty();
        write_buffer(&mut buffer, b"{}".to_vec());
        assert_eq!(buffer.len, 2);
        // SAFETY: written by write_buffer just above.
        unsafe { free_buffer(&mut buffer) };
        assert!(buffer.data.is_null());
        assert_eq!(buffer.len, 0);
        // SAFETY: an emptied buffer is a no-op.
        unsafe { free_buffer(&mut buffer) };
    }

    #[test]
    fn c_string_terminates_and_checks_ids() {
        assert_eq!(c_string::<6>("hello", Field::Id), *b"hello\0");
        assert_eq!(c_string::<4>("A b", Field::Text).len(), 4);
        assert!(std::panic::catch_unwind(|| c_string::<3>("Ab", Field::Id)).is_err());
    }
}
