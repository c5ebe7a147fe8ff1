//! Write posd plugins in safe Rust.
//!
//! A plugin is a `cdylib` that implements [`Plugin`] (who it is, how an instance is made
//! from its configuration), one small trait per hook it takes part in ([`ClassifyCode`],
//! [`EnterCode`], …), and calls [`posd_plugin!`] once. The SDK does all of the C ABI
//! (`posd-plugin-abi`): the exported `posd_plugin_entry`, the descriptor and hooks table,
//! JSON in and out, buffers, and catching panics at the boundary. Plugin code needs no
//! `unsafe` and can be `#![forbid(unsafe_code)]`.
//!
//! ```
//! #![forbid(unsafe_code)]
//! use posd_plugin_sdk::{posd_plugin, serde_json, ClassifyCode, Host, Plugin, PluginError};
//! use posd_plugin_sdk::schema::{ClassifyCodeRequest, ClassifyCodeResponse, CodeInfo, CodeKind};
//!
//! struct Cards;
//!
//! impl Plugin for Cards {
//!     const ID: &'static str = "cards";
//!     const NAME: &'static str = "Customer cards";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     const DESCRIPTION: &'static str = "Recognises our customer cards";
//!     fn create(_host: &Host, _config: serde_json::Value) -> Result<Self, PluginError> {
//!         Ok(Cards)
//!     }
//! }
//!
//! impl ClassifyCode for Cards {
//!     fn classify_code(&mut self, _host: &Host, request: ClassifyCodeRequest)
//!         -> Result<ClassifyCodeResponse, PluginError> {
//!         Ok(if request.code.starts_with("CARD-") {
//!             ClassifyCodeResponse::Claimed(CodeInfo::new(CodeKind::CustomerCard))
//!         } else {
//!             ClassifyCodeResponse::NotClaimed
//!         })
//!     }
//! }
//!
//! posd_plugin!(Cards);
//!
//! // The hooks table holds classify_code and NULL for every hook Cards does not implement.
//! let mut harness = posd_plugin_sdk::testing::Harness::<Cards>::create(serde_json::json!({}))?;
//! assert!(harness.implements("classify_code") && !harness.implements("enter_code"));
//! let answer = harness.call("classify_code", &serde_json::json!({"schema": 1, "code": "CARD-7"}))?;
//! assert_eq!(answer, serde_json::json!({"claimed": true, "kind": "customer_card"}));
//! # Ok::<(), PluginError>(())
//! ```
//!
//! Reading order:
//! - [`plugin`]: the [`Plugin`] trait and the hook traits; how "implemented" is decided.
//! - [`date`]: calendar days of the host's clock, for expiry and validity.
//! - [`schema`]: the JSON of every hook and host service as Rust types.
//! - [`host`]: [`Host`], the daemon's log, clock and services, valid during a call.
//! - [`error`]: [`PluginError`] and the contract's [`ErrorName`]s.
//! - [`testing`]: [`testing::Harness`], a small in-memory host to test a plugin in-process,
//!   also as a sequence (checkout → rewards → void) with kv, ledger and receipts kept.
//!
//! The typed path is the short one: `host.kv_get::<u32>(key)?` and `host.kv_put(key,
//! &value)?` read and write your own types, `KvWrite::new(key, &value)?` commits one with a
//! checkout, and `line.whole_units()?` ([`WholeUnits`]) counts a line's quantity, refusing
//! fractions rather than rounding them.
//! - [`ffi`]: the trampolines behind [`posd_plugin!`] (not for plugin code).
//!
//! Not for: loading plugins (that is the daemon's plugin manager) or plugins in C (write
//! against `plugins/abi/include/posd_plugin.h` directly).

#![warn(missing_docs)]

pub mod check_digit;
pub mod date;
pub mod error;
pub mod ffi;
pub mod host;
pub mod plugin;
pub mod schema;
pub mod testing;

pub use error::{ErrorName, PluginError, parse_config};
pub use ffi::Exported;
pub use host::{Host, LogLevel};
pub use plugin::{
    AbortCheckout, ApplyReward, ClassifyCode, CommitCheckout, CustomerAccounts, DeliverMessage,
    EnterCode, EvaluateBasket, InvokeAction, InvokeAdminAction, ListActions, ListAdminActions,
    ListRewards, Plugin, PrepareCheckout, ReleaseTender, ReturnLines, ValidateTender, VoidReceipt,
};
/// The money type of every amount, quantity, points value and rate: travels as a decimal
/// string, never as a float. With its rounding strategies, so that a plugin rounds money as
/// the host does (`MidpointAwayFromZero`; `Decimal::round_dp` alone rounds half to even).
pub use rust_decimal::{Decimal, RoundingStrategy};
pub use schema::WholeUnits;
/// JSON values, for configuration, `data` and open-ended parts of the schemas.
pub use serde_json;

/// What the macro's expansion names; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::ffi::hook_markers as markers;
    pub use crate::ffi::{Field, Probe, Strings, ViaDefault, ViaImpl, c_string, descriptor};
    pub use posd_plugin_abi as abi;

    /// `struct_size` of the hooks table this SDK builds: 1.4's, with `release_tender` (NULL
    /// unless the plugin implements it); an older host reads only the part it knows.
    pub const HOOKS_SIZE: u32 = abi::POSD_PLUGIN_HOOKS_SIZE_1_4 as u32;
}

/// Makes a type implementing [`Plugin`] a posd plugin: exports `posd_plugin_entry`, which
/// returns a static descriptor of ABI 1.4 (loadable by 1.0 to 1.3 hosts too, which never
/// call the hooks they do not know, such as [`ReleaseTender`]; check [`Host::abi_minor`]
/// before relying on 1.2 or 1.3 JSON) whose hooks table holds a trampoline for every hook
/// trait the type implements and NULL for the others, and implements [`Exported`] for the
/// type so [`testing::Harness`] can load it.
///
/// Call it once per `cdylib`, with the plugin type. `Plugin::ID` is checked at compile
/// time (lowercase ASCII letters, digits, `-`, `_`), and no string may contain a NUL:
///
/// ```compile_fail
/// # use posd_plugin_sdk::{posd_plugin, serde_json::Value, Host, Plugin, PluginError};
/// struct Shouty;
/// impl Plugin for Shouty {
///     const ID: &'static str = "Shouty Plugin"; // upper case and a space: refused
///     const NAME: &'static str = "Shouty";
///     const VERSION: &'static str = "1";
///     const DESCRIPTION: &'static str = "";
///     fn create(_: &Host, _: Value) -> Result<Self, PluginError> { Ok(Shouty) }
/// }
/// posd_plugin!(Shouty);
/// ```
#[macro_export]
macro_rules! posd_plugin {
    ($plugin:ty) => {
        const _: () = {
            // Full paths only: a `use` of a type here could shadow the plugin's own type of
            // the same name (the SDK's tests name their plugin `Probe` to keep this honest).
            const ID_SIZE: usize = <$plugin as $crate::Plugin>::ID.len() + 1;
            const NAME_SIZE: usize = <$plugin as $crate::Plugin>::NAME.len() + 1;
            const VERSION_SIZE: usize = <$plugin as $crate::Plugin>::VERSION.len() + 1;
            const DESCRIPTION_SIZE: usize = <$plugin as $crate::Plugin>::DESCRIPTION.len() + 1;
            static ID: [u8; ID_SIZE] = $crate::__private::c_string(
                <$plugin as $crate::Plugin>::ID,
                $crate::__private::Field::Id,
            );
            static NAME: [u8; NAME_SIZE] = $crate::__private::c_string(
                <$plugin as $crate::Plugin>::NAME,
                $crate::__private::Field::Text,
            );
            static VERSION: [u8; VERSION_SIZE] = $crate::__private::c_string(
                <$plugin as $crate::Plugin>::VERSION,
                $crate::__private::Field::Text,
            );
            static DESCRIPTION: [u8; DESCRIPTION_SIZE] = $crate::__private::c_string(
                <$plugin as $crate::Plugin>::DESCRIPTION,
                $crate::__private::Field::Text,
            );

            fn hooks() -> $crate::__private::abi::posd_plugin_hooks {
                $crate::__private::abi::posd_plugin_hooks {
                    struct_size: $crate::__private::HOOKS_SIZE,
                    reserved: 0,
                    classify_code: $crate::__posd_hook!($plugin, ClassifyCode),
                    enter_code: $crate::__posd_hook!($plugin, EnterCode),
                    list_actions: $crate::__posd_hook!($plugin, ListActions),
                    invoke_action: $crate::__posd_hook!($plugin, InvokeAction),
                    evaluate_basket: $crate::__posd_hook!($plugin, EvaluateBasket),
                    list_rewards: $crate::__posd_hook!($plugin, ListRewards),
                    apply_reward: $crate::__posd_hook!($plugin, ApplyReward),
                    validate_tender: $crate::__posd_hook!($plugin, ValidateTender),
                    prepare_checkout: $crate::__posd_hook!($plugin, PrepareCheckout),
                    commit_checkout: $crate::__posd_hook!($plugin, CommitCheckout),
                    abort_checkout: $crate::__posd_hook!($plugin, AbortCheckout),
                    void_receipt: $crate::__posd_hook!($plugin, VoidReceipt),
                    return_lines: $crate::__posd_hook!($plugin, ReturnLines),
                    deliver_message: $crate::__posd_hook!($plugin, DeliverMessage),
                    customer_accounts: $crate::__posd_hook!($plugin, CustomerAccounts),
                    list_admin_actions: $crate::__posd_hook!($plugin, ListAdminActions),
                    invoke_admin_action: $crate::__posd_hook!($plugin, InvokeAdminAction),
                    release_tender: $crate::__posd_hook!($plugin, ReleaseTender),
                }
            }

            // SAFETY: the descriptor is built by the SDK's `descriptor` for this very type.
            unsafe impl $crate::Exported for $plugin {
                fn descriptor() -> &'static $crate::__private::abi::posd_plugin_descriptor {
                    static HOOKS: ::std::sync::OnceLock<$crate::__private::abi::posd_plugin_hooks> =
                        ::std::sync::OnceLock::new();
                    static DESCRIPTOR: ::std::sync::OnceLock<
                        $crate::__private::abi::posd_plugin_descriptor,
                    > = ::std::sync::OnceLock::new();
                    DESCRIPTOR.get_or_init(|| {
                        $crate::__private::descriptor::<$plugin>(
                            $crate::__private::Strings {
                                id: &ID,
                                name: &NAME,
                                version: &VERSION,
                                description: &DESCRIPTION,
                            },
                            HOOKS.get_or_init(hooks),
                        )
                    })
                }
            }
        };

        /// The one symbol a posd plugin exports: its static descriptor.
        #[unsafe(no_mangle)]
        pub extern "C" fn posd_plugin_entry()
        -> *const $crate::__private::abi::posd_plugin_descriptor {
            <$plugin as $crate::Exported>::descriptor()
        }
    };
}

/// One entry of the hooks table: the hook's trampoline if `$plugin` implements the hook's
/// trait, else NULL (see [`ffi::Probe`]). Part of [`posd_plugin!`]; not for plugin code.
#[doc(hidden)]
#[macro_export]
macro_rules! __posd_hook {
    ($plugin:ty, $hook:ident) => {{
        #[allow(unused_imports)]
        use $crate::__private::{ViaDefault as _, ViaImpl as _};
        (&$crate::__private::Probe::<$plugin, $crate::__private::markers::$hook>::new()).hook()
    }};
}
