//! Calendar days from the host's clock (UTC), and adding months for a warranty's end: the
//! only date arithmetic the plugin needs, kept small rather than pulling in a date crate.

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year, e.g. 2026.
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
}

impl Date {
    /// The UTC day of a clock reading in milliseconds since the epoch.
    pub fn from_ms(ms: i64) -> Date {
        let days = ms.div_euclid(86_400_000);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Date {
            year: yoe + era * 400 + i64::from(month <= 2),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }

    /// The same day `months` later; a day the month lacks becomes its last day
    /// (31 January + 1 month = 28 or 29 February).
    pub fn plus_months(self, months: u32) -> Date {
        let total = self.year * 12 + i64::from(self.month - 1) + i64::from(months);
        let year = total.div_euclid(12);
        let month = u32::try_from(total.rem_euclid(12)).unwrap_or(0) + 1;
        Date {
            year,
            month,
            day: self.day.min(days_in_month(year, month)),
        }
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months() {
        let d = Date::from_ms(1_767_225_600_000);
        assert_eq!(d.to_string(), "2026-01-01");
        assert_eq!(d.plus_months(24).to_string(), "2028-01-01");
        let end_of_jan = Date {
            year: 2028,
            month: 1,
            day: 31,
        };
        assert_eq!(end_of_jan.plus_months(1).to_string(), "2028-02-29");
        assert_eq!(end_of_jan.plus_months(13).to_string(), "2029-02-28");
    }
}
