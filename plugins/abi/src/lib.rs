//! The posd plugin ABI, version 1.4, as Rust types.
//!
//! `include/posd_plugin.h` is the source of truth; this crate mirrors it field for field so
//! that the host (which loads plugins) and the Rust SDK (which builds them) speak exactly
//! the C layout. A test compiles the header with the system C compiler and compares every
//! struct's size and field offsets with these definitions.
//!
//! Nothing here is safe to use on its own: these are raw FFI types. Plugin authors use
//! `posd-plugin-sdk`; the daemon wraps them in its plugin manager.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void};

/// ABI major version: another major is refused.
pub const POSD_ABI_MAJOR: u16 = 1;
/// ABI minor version the host offers and the SDK builds against. 1.1 appended the admin
/// hooks; 1.2 changes no struct, but a 1.2 host commits the `effects` of an
/// `invoke_admin_action` answer, which a 1.1 host would ignore, so a plugin reads the host's
/// `abi_minor` before it offers an action that needs them. 1.3 changes no struct either:
/// `return_lines` tells a plugin what of its reductions the customer keeps and takes back
/// what the plugin reprices (`reductions`, `returned_before`, `repriced`), which a 1.2 host
/// would ignore. 1.4 appends the `release_tender` hook, so that a plugin can release what it
/// authorised for a tender the cashier removed or a cancelled sale left behind.
pub const POSD_ABI_MINOR: u16 = 4;
/// The one symbol a plugin exports, NUL-terminated for `dlsym`.
pub const POSD_PLUGIN_ENTRY_SYMBOL: &[u8] = b"posd_plugin_entry\0";

/// A hook or host call succeeded; the buffer holds the JSON response.
pub const POSD_OK: i32 = 0;
/// A hook or host call failed; the buffer holds `{"error": …, "message": …}`.
pub const POSD_ERROR: i32 = 1;

/// Log level: error.
pub const POSD_LOG_ERROR: i32 = 1;
/// Log level: warning.
pub const POSD_LOG_WARN: i32 = 2;
/// Log level: information.
pub const POSD_LOG_INFO: i32 = 3;
/// Log level: debugging.
pub const POSD_LOG_DEBUG: i32 = 4;
/// Log level: tracing.
pub const POSD_LOG_TRACE: i32 = 5;

/// UTF-8 JSON owned by whichever side allocated it; `data` is null exactly when `len` is 0.
#[repr(C)]
#[derive(Debug)]
pub struct posd_buffer {
    /// The bytes.
    pub data: *mut c_char,
    /// How many.
    pub len: usize,
}

impl posd_buffer {
    /// An empty buffer for the callee to fill.
    pub const fn empty() -> Self {
        Self {
            data: std::ptr::null_mut(),
            len: 0,
        }
    }
}

/// The host's side of an instance; opaque to plugins.
#[repr(C)]
pub struct posd_host {
    _private: [u8; 0],
}

/// `log(host, level, message, len)`.
pub type posd_log_fn = unsafe extern "C" fn(*mut posd_host, i32, *const c_char, usize);
/// `now_ms(host)`.
pub type posd_now_fn = unsafe extern "C" fn(*mut posd_host) -> i64;
/// `call(host, service, service_len, request, request_len, response)`.
pub type posd_call_fn = unsafe extern "C" fn(
    *mut posd_host,
    *const c_char,
    usize,
    *const c_char,
    usize,
    *mut posd_buffer,
) -> i32;
/// `free_buffer(host, buffer)` for buffers the host wrote.
pub type posd_host_free_fn = unsafe extern "C" fn(*mut posd_host, *mut posd_buffer);

/// Callbacks the host offers a plugin instance.
#[repr(C)]
pub struct posd_host_api {
    /// `size_of::<posd_host_api>()` as the host compiled it.
    pub struct_size: u32,
    /// Host ABI major.
    pub abi_major: u16,
    /// Host ABI minor.
    pub abi_minor: u16,
    /// Passed back to every callback.
    pub host: *mut posd_host,
    /// Writes a log line tagged with the plugin id.
    pub log: Option<posd_log_fn>,
    /// Wall clock in milliseconds since the Unix epoch.
    pub now_ms: Option<posd_now_fn>,
    /// A named host service (JSON in, JSON out).
    pub call: Option<posd_call_fn>,
    /// Frees a buffer the host wrote.
    pub free_buffer: Option<posd_host_free_fn>,
}

/// Size of [`posd_host_api`] in ABI 1.0.
pub const POSD_HOST_API_SIZE_1_0: usize = std::mem::size_of::<posd_host_api>();

/// A hook: `(instance, request, request_len, response) -> status`.
pub type posd_hook =
    unsafe extern "C" fn(*mut c_void, *const c_char, usize, *mut posd_buffer) -> i32;

/// The hooks of ABI 1.4 (1.0's, then 1.1's admin actions, then 1.4's `release_tender`); a
/// `None` hook is one the plugin does not take part in.
#[repr(C)]
#[derive(Default)]
pub struct posd_plugin_hooks {
    /// `size_of::<posd_plugin_hooks>()` as the plugin compiled it.
    pub struct_size: u32,
    /// Zero.
    pub reserved: u32,
    /// What a code is, without a sale.
    pub classify_code: Option<posd_hook>,
    /// A code entered on a sale.
    pub enter_code: Option<posd_hook>,
    /// Actions offered on a sale now.
    pub list_actions: Option<posd_hook>,
    /// Run one action.
    pub invoke_action: Option<posd_hook>,
    /// Automatic discounts and previews.
    pub evaluate_basket: Option<posd_hook>,
    /// Rewards the customer can take now.
    pub list_rewards: Option<posd_hook>,
    /// Take one reward.
    pub apply_reward: Option<posd_hook>,
    /// Check and authorise a tender.
    pub validate_tender: Option<posd_hook>,
    /// Postings, outbox messages, receipt sections of a checkout.
    pub prepare_checkout: Option<posd_hook>,
    /// The checkout was committed.
    pub commit_checkout: Option<posd_hook>,
    /// The checkout was abandoned.
    pub abort_checkout: Option<posd_hook>,
    /// A whole receipt is voided.
    pub void_receipt: Option<posd_hook>,
    /// Lines of a receipt are returned.
    pub return_lines: Option<posd_hook>,
    /// Deliver one outbox message.
    pub deliver_message: Option<posd_hook>,
    /// A customer's accounts and balances.
    pub customer_accounts: Option<posd_hook>,
    /// ABI 1.1: the admin actions the plugin offers technicians outside a sale.
    pub list_admin_actions: Option<posd_hook>,
    /// ABI 1.1: run one admin action.
    pub invoke_admin_action: Option<posd_hook>,
    /// ABI 1.4: a tender of the plugin's is gone before any checkout took it (removed by
    /// the cashier, or left on a cancelled sale); a notification whose answer the host does
    /// not wait for.
    pub release_tender: Option<posd_hook>,
}

/// Size of [`posd_plugin_hooks`] in ABI 1.0: the table ends before the 1.1 hooks, so a
/// plugin built against 1.0 declares this size and has no admin actions.
pub const POSD_PLUGIN_HOOKS_SIZE_1_0: usize =
    std::mem::offset_of!(posd_plugin_hooks, list_admin_actions);
/// Size of [`posd_plugin_hooks`] in ABI 1.1, and still in 1.2 and 1.3 (which changed no
/// struct): the table ends before `release_tender`, so a plugin built against 1.1 to 1.3
/// declares this size and is never told of released tenders.
pub const POSD_PLUGIN_HOOKS_SIZE_1_1: usize =
    std::mem::offset_of!(posd_plugin_hooks, release_tender);
/// Size of [`posd_plugin_hooks`] in ABI 1.4, with `release_tender`.
pub const POSD_PLUGIN_HOOKS_SIZE_1_4: usize = std::mem::size_of::<posd_plugin_hooks>();

/// `create(host_api, config, config_len, error) -> instance`.
pub type posd_create_fn = unsafe extern "C" fn(
    *const posd_host_api,
    *const c_char,
    usize,
    *mut posd_buffer,
) -> *mut c_void;
/// `destroy(instance)`.
pub type posd_destroy_fn = unsafe extern "C" fn(*mut c_void);
/// `free_buffer(buffer)` for buffers the plugin wrote.
pub type posd_plugin_free_fn = unsafe extern "C" fn(*mut posd_buffer);

/// What a plugin is; returned by its `posd_plugin_entry`.
#[repr(C)]
pub struct posd_plugin_descriptor {
    /// `size_of::<posd_plugin_descriptor>()` as the plugin compiled it.
    pub struct_size: u32,
    /// ABI major the plugin was built against.
    pub abi_major: u16,
    /// ABI minor the plugin was built against.
    pub abi_minor: u16,
    /// Oldest host minor the plugin works with.
    pub min_abi_minor: u16,
    /// Zero.
    pub reserved0: u16,
    /// Zero.
    pub reserved1: u32,
    /// Stable id, NUL-terminated.
    pub id: *const c_char,
    /// Name for people, NUL-terminated.
    pub name: *const c_char,
    /// The plugin's own version, NUL-terminated.
    pub version: *const c_char,
    /// One line, NUL-terminated, or null.
    pub description: *const c_char,
    /// Makes an instance.
    pub create: Option<posd_create_fn>,
    /// Ends an instance.
    pub destroy: Option<posd_destroy_fn>,
    /// Frees a buffer the plugin wrote.
    pub free_buffer: Option<posd_plugin_free_fn>,
    /// The hooks table.
    pub hooks: *const posd_plugin_hooks,
}

/// Size of [`posd_plugin_descriptor`] in ABI 1.0.
pub const POSD_PLUGIN_DESCRIPTOR_SIZE_1_0: usize = std::mem::size_of::<posd_plugin_descriptor>();

/// The type of `posd_plugin_entry`.
pub type posd_plugin_entry_fn = unsafe extern "C" fn() -> *const posd_plugin_descriptor;

// SAFETY: the descriptor and hooks are immutable static data of the plugin library; the
// pointers in them are never written through.
unsafe impl Sync for posd_plugin_descriptor {}
// SAFETY: as above.
unsafe impl Send for posd_plugin_descriptor {}
// SAFETY: the hooks table is immutable static data.
unsafe impl Sync for posd_plugin_hooks {}

/// The hook names of ABI 1.4 in table order, as the README and the host's logs name them.
pub const HOOK_NAMES: [&str; 18] = [
    "classify_code",
    "enter_code",
    "list_actions",
    "invoke_action",
    "evaluate_basket",
    "list_rewards",
    "apply_reward",
    "validate_tender",
    "prepare_checkout",
    "commit_checkout",
    "abort_checkout",
    "void_receipt",
    "return_lines",
    "deliver_message",
    "customer_accounts",
    "list_admin_actions",
    "invoke_admin_action",
    "release_tender",
];
