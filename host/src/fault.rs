//! Fault injection for crash tests: a named point where the process dies as if killed.
//!
//! Set `POSDTEST_FAULT=<point>` (not a `POSD_*` variable: those are configuration) and the
//! daemon aborts when it reaches that point — e.g. `checkout-before-commit`, between a
//! checkout's writes and its commit. Unset, a point costs one cached lookup.

use std::sync::OnceLock;

/// Dies here if the environment names this point.
pub fn point(name: &str) {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| std::env::var("POSDTEST_FAULT").ok());
    if armed.as_deref() == Some(name) {
        eprintln!("posd: fault injection at {name}: aborting");
        std::process::abort();
    }
}
