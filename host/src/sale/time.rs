//! Timestamps as the contract writes them (RFC 3339, UTC), without a date crate: the till's
//! clock in milliseconds since the Unix epoch, turned into a civil date.

/// `2026-11-24T10:17:13.042Z` for `ms` milliseconds since the epoch.
pub fn rfc3339_ms(ms: u128) -> String {
    let secs = (ms / 1000) as i64;
    let millis = (ms % 1000) as u32;
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The same instant in the till's local time, with its UTC offset:
/// `2026-11-24T12:17:13.042+01:00`. Receipts carry this, so they print the time the customer
/// saw on the clock; the offset keeps the instant exact across daylight-saving changes.
pub fn local_rfc3339_ms(ms: u128) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    with_offset(ms, local_offset(secs))
}

/// `ms` shown at a UTC offset of `offset` seconds.
pub fn with_offset(ms: u128, offset: i64) -> String {
    let shifted = ms as i128 + i128::from(offset) * 1000;
    let shifted = u128::try_from(shifted.max(0)).unwrap_or(0);
    let utc = rfc3339_ms(shifted);
    let sign = if offset < 0 { '-' } else { '+' };
    let minutes = offset.abs() / 60;
    format!(
        "{}{sign}{:02}:{:02}",
        &utc[..utc.len() - 1],
        minutes / 60,
        minutes % 60
    )
}

/// The local zone's offset from UTC at `secs`, as the C library knows it (TZ, /etc/localtime).
fn local_offset(secs: i64) -> i64 {
    let t: libc::time_t = secs;
    // SAFETY: an all-zero `tm` is a valid value of this plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r reads `t` and writes only into `tm`; both live through the call.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok { tm.tm_gmtoff } else { 0 }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_carry_their_offset() {
        assert_eq!(
            with_offset(1_795_515_433_042, 3600),
            "2026-11-24T11:17:13.042+01:00"
        );
        assert_eq!(
            with_offset(1_795_515_433_042, -5 * 3600 - 1800),
            "2026-11-24T04:47:13.042-05:30"
        );
        assert_eq!(with_offset(0, 0), "1970-01-01T00:00:00.000+00:00");
        let now = local_rfc3339_ms(1_795_515_433_042);
        assert!(
            now.len() == 29 && (now.contains('+') || now.contains('-')),
            "{now}"
        );
    }

    #[test]
    fn known_instants_format_as_rfc3339() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_795_515_433_042), "2026-11-24T10:17:13.042Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
