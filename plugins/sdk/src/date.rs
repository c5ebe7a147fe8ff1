//! Calendar days of the host's clock (`YYYY-MM-DD`, UTC), without a date crate: a
//! voucher's expiry, a point's, a warranty's end are days, and what plugins need of them is
//! "N months after" and "is it past". `Date::from_epoch_ms(host.now())` is today, on the
//! business clock the host gives (which its tests shift).

use std::fmt;

/// A proleptic Gregorian date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    year: i32,
    month: u32,
    day: u32,
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// The date, or `None` for a day that does not exist.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Self> {
        ((1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && (1970..=9999).contains(&year))
        .then_some(Date { year, month, day })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().splitn(3, '-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    }

    /// The UTC day of a time in milliseconds since the epoch (the host's clock).
    pub fn from_epoch_ms(ms: i64) -> Self {
        // Howard Hinnant's civil_from_days.
        let z = ms.div_euclid(86_400_000) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// The same day `months` later, the month's last day where it is shorter
    /// (31 January + 1 month = 28 or 29 February).
    pub fn plus_months(self, months: u32) -> Self {
        let index = self.year as i64 * 12 + i64::from(self.month - 1) + i64::from(months);
        let year = index.div_euclid(12) as i32;
        let month = index.rem_euclid(12) as u32 + 1;
        Date {
            year,
            month,
            day: self.day.min(days_in_month(year, month)),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_days_and_month_arithmetic() {
        assert_eq!(Date::from_epoch_ms(0).to_string(), "1970-01-01");
        // 2026-06-14T10:31:07Z
        assert_eq!(
            Date::from_epoch_ms(1_781_433_067_000).to_string(),
            "2026-06-14"
        );
        let d = Date::parse("2024-01-31").unwrap();
        assert_eq!(d.plus_months(1).to_string(), "2024-02-29");
        assert_eq!(d.plus_months(13).to_string(), "2025-02-28");
        assert_eq!(d.plus_months(36).to_string(), "2027-01-31");
        assert!(Date::parse("2025-02-29").is_none());
        assert!(Date::parse("2025-2-1").is_none());
        assert!(Date::parse("2025-02-01").unwrap() < Date::parse("2025-02-02").unwrap());
    }
}
