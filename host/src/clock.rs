//! The till's business clock: the time receipts, sales, ledger entries and plugins see.
//!
//! It is the system clock, except under tests: set `POSDTEST_CLOCK=<file>` (not a `POSD_*`
//! variable: those are configuration) and the daemon adds the whole number of seconds the
//! file holds (`31708800`, `-86400`) to every business time. The file is read again on every
//! use, so a test moves the till a year ahead by rewriting it, without a restart — which is
//! how points expiring, turnover over the last months and validity dates are tested through
//! the running daemon. Time that only measures how long something takes (deadlines, backoff
//! of the outbox, unique sale ids) stays on the system clock.
//!
//! A shifted clock is logged as a warning at start, so a till that somehow runs with one is
//! visible in its journal. A file that can't be read or doesn't hold a number shifts nothing.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The environment variable naming the offset file.
pub const TEST_CLOCK_VAR: &str = "POSDTEST_CLOCK";

/// Milliseconds since the epoch, business time.
pub fn now_ms() -> u128 {
    let system = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    match offset_seconds() {
        0 => system,
        offset => {
            let shifted = i128::try_from(system).unwrap_or(i128::MAX) + i128::from(offset) * 1000;
            u128::try_from(shifted).unwrap_or(0)
        }
    }
}

/// [`now_ms`] as the signed milliseconds the plugin ABI's `now_ms` answers.
pub fn now_ms_i64() -> i64 {
    i64::try_from(now_ms()).unwrap_or(i64::MAX)
}

/// The offset the test clock file holds now, in seconds; 0 without one.
pub fn offset_seconds() -> i64 {
    static FILE: OnceLock<Option<PathBuf>> = OnceLock::new();
    let Some(file) = FILE.get_or_init(|| std::env::var_os(TEST_CLOCK_VAR).map(PathBuf::from))
    else {
        return 0;
    };
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| text.trim().parse::<i64>().ok())
        .unwrap_or(0)
}

/// Whether the clock can be shifted (the test variable is set), for the start-up warning.
pub fn is_shiftable() -> bool {
    std::env::var_os(TEST_CLOCK_VAR).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_the_variable_business_time_is_the_system_clock() {
        // The unit tests never set POSDTEST_CLOCK.
        let system = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap();
        let now = now_ms();
        assert!(now >= system && now - system < 5_000, "{now} vs {system}");
        assert_eq!(offset_seconds(), 0);
    }
}
