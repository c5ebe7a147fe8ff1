//! The rate limit on failed look-ups, per register: a till must not be usable to guess
//! codes (a numeric EAN-13 code has only ~30 bits; see the README's *Security*).
//!
//! A sliding window: a register that has had `failures` failed look-ups (a code in one of
//! our formats that was never sold) within the last `seconds` is refused every look-up —
//! even of a valid code — with `LimitReached` until the oldest of those failures leaves
//! the window. Refused look-ups are not counted (the wait stays bounded); successful ones
//! are not counted either. Times come from the host's clock, so tests can drive them.

use std::collections::{HashMap, HashSet, VecDeque};

use posd_plugin_sdk::{ErrorName, Host, PluginError};
use serde::Deserialize;

use crate::error::ConfigError;
use crate::identity::CodeId;
use crate::store::Found;

/// `lookup_limit` as written in the configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLookupLimit {
    #[serde(default = "default_failures")]
    failures: u32,
    #[serde(default = "default_seconds")]
    seconds: u32,
}

fn default_failures() -> u32 {
    10
}

fn default_seconds() -> u32 {
    60
}

/// The checked limit: at most `failures` failed look-ups per `seconds`, per register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupLimit {
    /// Failed look-ups a register may have within the window.
    pub failures: u32,
    /// The window's length in seconds.
    pub seconds: u32,
}

impl Default for LookupLimit {
    fn default() -> Self {
        LookupLimit {
            failures: default_failures(),
            seconds: default_seconds(),
        }
    }
}

impl LookupLimit {
    /// Checks the configured limit (absent: the defaults, 10 per 60 s).
    pub fn parse(raw: Option<RawLookupLimit>) -> Result<Self, ConfigError> {
        let Some(raw) = raw else {
            return Ok(LookupLimit::default());
        };
        if !(1..=10_000).contains(&raw.failures) {
            return Err(ConfigError::invalid(
                "lookup_limit.failures",
                format!("{} is not between 1 and 10000", raw.failures),
            ));
        }
        if !(1..=86_400).contains(&raw.seconds) {
            return Err(ConfigError::invalid(
                "lookup_limit.seconds",
                format!("{} is not between 1 and 86400 (a day)", raw.seconds),
            ));
        }
        Ok(LookupLimit {
            failures: raw.failures,
            seconds: raw.seconds,
        })
    }

    fn window_ms(&self) -> i64 {
        i64::from(self.seconds) * 1000
    }
}

/// What one register has failed lately.
#[derive(Debug, Default)]
struct RegisterFailures {
    /// Times (ms, host clock) of the failed look-ups still inside the window, oldest first.
    at: VecDeque<i64>,
    /// Whether the lock-out now in force has been logged (logged once per lock-out).
    logged: bool,
}

/// The failed look-ups per register, held in the plugin's memory.
#[derive(Debug, Default)]
pub struct Limiter {
    limit: LookupLimit,
    registers: HashMap<String, RegisterFailures>,
    /// Registers whose failures were read back from kv by this instance.
    restored: HashSet<String>,
}

/// The kv key holding a register's recent failure times, so that a plugin restart (or
/// `reload-config`) does not reset its count.
pub fn kv_key(register: &str) -> String {
    format!("lookup_failures:{register}")
}

/// The outcome of [`Limiter::check`] for a refused look-up.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Whole seconds (rounded up) until look-ups are accepted again.
    pub wait_seconds: i64,
    /// Whether this is the first refusal of this lock-out (log it then, once).
    pub first: bool,
}

impl Limiter {
    /// A limiter with no failures yet.
    pub fn new(limit: LookupLimit) -> Self {
        Limiter {
            limit,
            registers: HashMap::new(),
            restored: HashSet::new(),
        }
    }

    /// Whether `register`'s failures still have to be read back from kv.
    pub fn needs_restore(&self, register: &str) -> bool {
        !self.restored.contains(register)
    }

    /// Puts failure times read back from kv in front of the ones counted since.
    pub fn restore(&mut self, register: &str, times: Vec<i64>) {
        self.restored.insert(register.to_string());
        let entry = self.registers.entry(register.to_string()).or_default();
        for t in times.into_iter().rev() {
            entry.at.push_front(t);
        }
        while entry.at.len() > self.limit.failures as usize {
            entry.at.pop_front();
        }
    }

    /// The failure times of `register` the limit still needs (for kv).
    pub fn failures_of(&self, register: &str) -> Vec<i64> {
        self.registers
            .get(register)
            .map(|r| r.at.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Whether `register` may look a code up at `now` (ms): `Err` while it is locked out.
    pub fn check(&mut self, register: &str, now: i64) -> Result<(), Refusal> {
        let window = self.limit.window_ms();
        let failures = self.limit.failures as usize;
        let Some(entry) = self.registers.get_mut(register) else {
            return Ok(());
        };
        while entry.at.front().is_some_and(|&t| t + window <= now) {
            entry.at.pop_front();
        }
        if entry.at.len() < failures {
            entry.logged = false;
            if entry.at.is_empty() {
                self.registers.remove(register);
            }
            return Ok(());
        }
        // The oldest failure that keeps the count at the limit must leave the window.
        let deciding = entry.at[entry.at.len() - failures];
        let wait_ms = (deciding + window - now).max(1);
        let first = !entry.logged;
        entry.logged = true;
        Err(Refusal {
            wait_seconds: (wait_ms + 999) / 1000,
            first,
        })
    }

    /// Counts a failed look-up (an unknown code) by `register` at `now` (ms).
    pub fn record_failure(&mut self, register: &str, now: i64) {
        let entry = self.registers.entry(register.to_string()).or_default();
        entry.at.push_back(now);
        // Never keep more than the limit needs: only the last `failures` decide.
        while entry.at.len() > self.limit.failures as usize {
            entry.at.pop_front();
        }
    }
}

impl crate::Vouchers {
    /// [`Self::inquire`] under the limit: refused while `register` is locked out, and an
    /// unknown code (`NotFound`) counted against it. The lock-out is logged once, without
    /// the code.
    pub(crate) fn limited_inquire(
        &mut self,
        host: &Host,
        register: &str,
        canonical: &str,
        id: &CodeId,
    ) -> Result<Found, PluginError> {
        self.limited(host, register, canonical, id, Self::inquire)
    }

    /// [`Self::find_usable`] under the limit, for a top-up (a voucher with balance 0 may
    /// be topped up, but probing codes through top-ups is limited like any look-up).
    pub(crate) fn limited_find_usable(
        &mut self,
        host: &Host,
        register: &str,
        canonical: &str,
        id: &CodeId,
    ) -> Result<Found, PluginError> {
        self.limited(host, register, canonical, id, Self::find_usable)
    }

    fn limited(
        &mut self,
        host: &Host,
        register: &str,
        canonical: &str,
        id: &CodeId,
        lookup: fn(&Self, &Host, &str, &CodeId) -> Result<Found, PluginError>,
    ) -> Result<Found, PluginError> {
        let now = host.now();
        if self.limiter.needs_restore(register) {
            // A kv failure must not stop the till: the count then starts in memory.
            let times = host
                .kv_get::<Vec<i64>>(&kv_key(register))
                .unwrap_or_else(|e| {
                    host.warn(&format!(
                        "reading the look-up failures of register {register}: {e}"
                    ));
                    None
                })
                .unwrap_or_default();
            self.limiter.restore(register, times);
        }
        if let Err(refusal) = self.limiter.check(register, now) {
            if refusal.first {
                host.warn(&format!(
                    "register {register}: {} unknown codes within {} s, look-ups refused for {} s",
                    self.config.lookup_limit.failures,
                    self.config.lookup_limit.seconds,
                    refusal.wait_seconds
                ));
            }
            return Err(refusal.error());
        }
        let found = lookup(self, host, canonical, id);
        if let Err(e) = &found
            && e.error == ErrorName::NotFound
        {
            self.limiter.record_failure(register, now);
            let times = self.limiter.failures_of(register);
            if let Err(e) = host.kv_put(&kv_key(register), &times) {
                host.warn(&format!(
                    "keeping the look-up failures of register {register}: {e}"
                ));
            }
        }
        found
    }
}

impl Refusal {
    /// The contract's error for the refused look-up, saying how long to wait.
    pub fn error(&self) -> PluginError {
        PluginError::limit_reached(format!(
            "zu viele unbekannte Codes an dieser Kasse: bitte {} s warten (too many unknown codes at this register, wait {} s)",
            self.wait_seconds, self.wait_seconds
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(failures: u32, seconds: u32) -> Limiter {
        Limiter::new(LookupLimit { failures, seconds })
    }

    #[test]
    fn the_limit_locks_a_register_out_for_the_rest_of_the_window() {
        let mut l = limiter(3, 60);
        for t in [0, 10_000, 20_000] {
            assert!(l.check("01", t).is_ok());
            l.record_failure("01", t);
        }
        // Locked: the first failure (t = 0) leaves the window at 60 s.
        assert_eq!(
            l.check("01", 30_000),
            Err(Refusal {
                wait_seconds: 30,
                first: true
            })
        );
        assert_eq!(
            l.check("01", 59_001),
            Err(Refusal {
                wait_seconds: 1,
                first: false
            })
        );
        assert!(l.check("01", 60_000).is_ok(), "one failure left the window");
        // Two failures are still inside: one more locks again, until 70 s.
        l.record_failure("01", 60_000);
        assert_eq!(
            l.check("01", 61_000),
            Err(Refusal {
                wait_seconds: 9,
                first: true
            })
        );
    }

    /// The count survives a plugin restart: a new instance reads the failures back from kv.
    #[test]
    fn a_restarted_plugin_keeps_the_count_from_kv() {
        use posd_plugin_sdk::testing::Harness;
        use serde_json::json;
        let dir = std::env::temp_dir().join(format!("posd-vouchers-limit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let key = dir.join("k");
        std::fs::write(&key, [7u8; 32]).expect("key");
        let config = json!({"key_file": key, "lookup_limit": {"failures": 2, "seconds": 60},
            "programmes": [{"id": "gift", "name": "G", "kind": "gift", "amount": "25.00",
            "code": {"format": "template"}}]});
        let lookup = |h: &mut Harness<crate::Vouchers>, code: &str| {
            h.call(
                "classify_code",
                &json!({"schema": 1, "code": code,
                    "store": {"id": "0001", "register": "01", "currency": "EUR", "locale": "de-AT"}}),
            )
            .expect_err("not a known voucher")
            .error
        };
        let mut first = Harness::<crate::Vouchers>::create(config.clone()).expect("create");
        first.set_now(1_000_000);
        assert_eq!(
            lookup(&mut first, "ABCD-EFGH-JKMN-PQRS"),
            ErrorName::NotFound
        );
        assert_eq!(
            lookup(&mut first, "ABCD-EFGH-JKMN-PQRT"),
            ErrorName::NotFound
        );
        assert_eq!(
            lookup(&mut first, "ABCD-EFGH-JKMN-PQRU"),
            ErrorName::LimitReached
        );
        let kept = first.kv();
        assert!(
            kept.keys().all(|k| !k.contains("ABCD")),
            "no code in kv: {kept:?}"
        );

        let mut restarted = Harness::<crate::Vouchers>::create(config).expect("create");
        for (k, v) in &kept {
            restarted.kv_put(k, v).expect("copy kv");
        }
        restarted.set_now(1_030_000);
        assert_eq!(
            lookup(&mut restarted, "ABCD-EFGH-JKMN-PQRV"),
            ErrorName::LimitReached,
            "the restart did not reset the count"
        );
        restarted.set_now(1_060_001);
        assert_eq!(
            lookup(&mut restarted, "ABCD-EFGH-JKMN-PQRW"),
            ErrorName::NotFound
        );
    }

    #[test]
    fn another_register_is_not_affected() {
        let mut l = limiter(2, 60);
        l.record_failure("01", 0);
        l.record_failure("01", 1);
        assert!(l.check("01", 2).is_err());
        assert!(l.check("02", 2).is_ok());
        l.record_failure("02", 2);
        assert!(l.check("02", 3).is_ok(), "one failure is below the limit");
    }

    #[test]
    fn the_limit_is_read_with_defaults_and_checked() {
        assert_eq!(
            LookupLimit::parse(None),
            Ok(LookupLimit {
                failures: 10,
                seconds: 60
            })
        );
        let raw: RawLookupLimit =
            serde_json::from_value(serde_json::json!({"seconds": 5})).expect("raw");
        assert_eq!(
            LookupLimit::parse(Some(raw)),
            Ok(LookupLimit {
                failures: 10,
                seconds: 5
            })
        );
        let raw: RawLookupLimit =
            serde_json::from_value(serde_json::json!({"failures": 0})).expect("raw");
        let e = LookupLimit::parse(Some(raw))
            .expect_err("0 refused")
            .to_string();
        assert!(e.contains("lookup_limit.failures"), "{e}");
        let raw: RawLookupLimit =
            serde_json::from_value(serde_json::json!({"seconds": 0})).expect("raw");
        let e = LookupLimit::parse(Some(raw))
            .expect_err("0 refused")
            .to_string();
        assert!(e.contains("lookup_limit.seconds"), "{e}");
    }
}
