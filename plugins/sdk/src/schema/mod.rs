//! The JSON schemas of version 1 as Rust types: what the host sends a hook, what a hook
//! answers, and what host services take and give.
//!
//! Rules every type here follows, because the contract says so:
//! - money, quantities, points and rates are [`Decimal`](crate::Decimal)s, which travel as
//!   strings (`"12.50"`, `"-3.00"`, `"0.350"`) and are refused as JSON numbers;
//! - requests ignore keys they do not know (the host adds keys in later minors) and take a
//!   default for keys that are missing, so a plugin never fails on a newer host's request;
//! - responses leave out what is empty, and a plugin's own extra keys go under `data`.
//!
//! - [`view`]: the sale, its lines, tenders and totals, the store, a committed receipt.
//! - [`effects`]: what a hook may do to a sale ([`Effects`]) and to the books at checkout
//!   ([`CheckoutEffects`]).
//! - [`hooks`]: one request and one response type per hook.
//! - [`services`]: the answers of host services (kv, ledger).

pub mod effects;
pub mod hooks;
pub mod services;
pub mod view;

pub use effects::*;
pub use hooks::*;
pub use services::*;
pub use view::*;

/// Defines a string enum whose set the host may grow in a later minor: known values get a
/// variant, anything else is kept in `Other` instead of failing the whole request.
macro_rules! open_string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this SDK does not know yet, kept as sent.
            Other(String),
        }

        impl $name {
            /// The value as it travels in JSON.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(text) => text,
                }
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $( $text => $name::$variant, )*
                    _ => $name::Other(text),
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_string()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use open_string_enum;

/// `skip_serializing_if` for `data` objects: nothing to say is left out.
pub(crate) fn is_null(value: &serde_json::Value) -> bool {
    value.is_null()
}
