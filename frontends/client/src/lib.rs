//! posd-client — the posd D-Bus contract (`docs/dbus-api.md`) in Rust, for frontends.
//!
//! posctl, the reference till and the tests use this crate and nothing of the daemon's, so
//! they call posd exactly as a third-party frontend does, and build without it.
//!
//! Reading order:
//! - [`connect`]: which bus, and finding a development posd's private bus.
//! - [`proxies`]: typed proxies of `Manager1`, `Register1`, `Sale1`, devices and plugins.
//! - [`values`]: a failed call's error name, the fields of a record, values as JSON.

pub mod connect;
pub mod proxies;
pub mod values;

pub use connect::{BusChoice, connect, connect_to_posd};
pub use proxies::*;
pub use values::{error_reply, to_json};

/// posd's well-known name on the bus.
pub const BUS_NAME: &str = "org.posd.Posd1";

/// The root object: `Manager1`, `Register1` and the `ObjectManager` of sales, devices and
/// plugins.
pub const ROOT_PATH: &str = "/org/posd/Posd1";

/// The prefix of every error name of the contract (`org.posd.Error.NotFound`, …).
pub const ERROR_PREFIX: &str = "org.posd.Error.";
