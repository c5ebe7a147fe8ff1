//! The store's local time for validity windows (days, weekdays, hours), without a time zone
//! database: the stores are in Austria, Germany and Czechia, which keep Central European
//! Time and the EU's summer time (from the last Sunday of March, 01:00 UTC, to the last
//! Sunday of October, 01:00 UTC). A fixed offset (`"+02:00"`, `"UTC"`) serves elsewhere.

/// The zone a store's clock shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// UTC+1, UTC+2 in EU summer time.
    CentralEurope,
    /// A fixed offset from UTC, in minutes.
    Fixed(i32),
}

/// Zone names that mean Central European Time with EU summer time.
const CENTRAL_EUROPE: [&str; 6] = [
    "Europe/Vienna",
    "Europe/Berlin",
    "Europe/Prague",
    "Europe/Bratislava",
    "Europe/Budapest",
    "CET",
];

impl Zone {
    /// Parses a zone name from [`CENTRAL_EUROPE`], `UTC`, or an offset `±HH:MM`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if CENTRAL_EUROPE.contains(&text) {
            return Ok(Zone::CentralEurope);
        }
        if text == "UTC" {
            return Ok(Zone::Fixed(0));
        }
        let sign = match text.as_bytes().first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => {
                return Err(format!(
                    "{text:?} is not a zone this plugin knows: one of {}, \"UTC\" or an offset like \"+01:00\"",
                    CENTRAL_EUROPE.join(", ")
                ));
            }
        };
        let (h, m) = text[1..]
            .split_once(':')
            .and_then(|(h, m)| Some((h.parse::<i32>().ok()?, m.parse::<i32>().ok()?)))
            .filter(|&(h, m)| (0..=14).contains(&h) && (0..60).contains(&m))
            .ok_or_else(|| format!("{text:?} is not an offset like \"+01:00\""))?;
        Ok(Zone::Fixed(sign * (h * 60 + m)))
    }

    /// The offset from UTC in minutes at `utc_ms`.
    fn offset_minutes(self, utc_ms: i64) -> i32 {
        match self {
            Zone::Fixed(minutes) => minutes,
            Zone::CentralEurope => {
                let (year, _, _) = civil(utc_ms.div_euclid(86_400_000));
                let start = last_sunday(year, 3) * 86_400_000 + 3_600_000;
                let end = last_sunday(year, 10) * 86_400_000 + 3_600_000;
                if (start..end).contains(&utc_ms) {
                    120
                } else {
                    60
                }
            }
        }
    }

    /// The local time at `utc_ms` (the host's clock).
    pub fn local(self, utc_ms: i64) -> LocalTime {
        let local = utc_ms + i64::from(self.offset_minutes(utc_ms)) * 60_000;
        let days = local.div_euclid(86_400_000);
        let minute = u32::try_from(local.rem_euclid(86_400_000) / 60_000).unwrap_or(0);
        LocalTime {
            date: civil(days),
            // 1970-01-01 was a Thursday: Monday is 0.
            weekday: u8::try_from((days + 3).rem_euclid(7)).unwrap_or(0),
            minute,
        }
    }
}

/// A moment as the store's clock shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Year, month, day.
    pub date: (i32, u32, u32),
    /// Monday 0 … Sunday 6.
    pub weekday: u8,
    /// Minutes since midnight.
    pub minute: u32,
}

/// The civil date (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// algorithm).
pub fn civil(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = i32::try_from(yoe + era * 400 + i64::from(month <= 2)).unwrap_or(1970);
    (year, month, day)
}

/// Days since 1970-01-01 of a civil date (the inverse of [`civil`]).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The day count of the last Sunday of `month` in `year` (March and October have 31 days).
fn last_sunday(year: i32, month: u32) -> i64 {
    let last = days_from_civil(year, month, 31);
    // Monday 0 … Sunday 6; a Sunday goes back 0 days, a Monday 1, a Saturday 6.
    let weekday = (last + 3).rem_euclid(7);
    last - (weekday + 1).rem_euclid(7)
}

/// Parses `YYYY-MM-DD` into a day that exists.
pub fn parse_date(text: &str) -> Option<(i32, u32, u32)> {
    let mut parts = text.trim().splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let date = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    (date.1 >= 1
        && date.1 <= 12
        && date.2 >= 1
        && civil(days_from_civil(date.0, date.1, date.2)) == date)
        .then_some(date)
}

/// Days of the week, as a set; empty means every day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Weekdays(u8);

/// The names of the days, Monday first.
const DAY_NAMES: [&str; 7] = ["mo", "tu", "we", "th", "fr", "sa", "su"];

impl Weekdays {
    /// Parses day names (`mo` … `su`).
    pub fn parse(names: &[String]) -> Result<Self, String> {
        let mut set = 0u8;
        for name in names {
            let i = DAY_NAMES
                .iter()
                .position(|d| d.eq_ignore_ascii_case(name.trim()))
                .ok_or_else(|| format!("{name:?} is not one of {}", DAY_NAMES.join(", ")))?;
            set |= 1 << i;
        }
        Ok(Weekdays(set))
    }

    /// Whether `weekday` (Monday 0) is in the set.
    pub fn contains(self, weekday: u8) -> bool {
        self.0 == 0 || self.0 & (1 << weekday) != 0
    }
}

/// Hours of the day, `HH:MM-HH:MM`: from the first minute, inclusive, to the second,
/// exclusive; a window that ends before it starts runs over midnight (`22:00-02:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    from: u32,
    until: u32,
}

impl Hours {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let minute = |t: &str| {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60 && t.trim().len() == 5).then_some(h * 60 + m)
        };
        let bad = || format!("{text:?} is not a window like \"08:00-12:30\"");
        let (from, until) = text.split_once('-').ok_or_else(bad)?;
        let (from, until) = (
            minute(from).ok_or_else(bad)?,
            minute(until).ok_or_else(bad)?,
        );
        if from == until {
            return Err(format!("{text:?} starts where it ends"));
        }
        Ok(Hours { from, until })
    }

    /// Whether `minute` (since midnight) is inside the window.
    pub fn contains(self, minute: u32) -> bool {
        if self.from < self.until {
            (self.from..self.until).contains(&minute)
        } else {
            minute >= self.from || minute < self.until
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc_ms(y: i32, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * 86_400_000 + h * 3_600_000 + mi * 60_000
    }

    #[test]
    fn central_european_time_follows_eu_summer_time() {
        let vienna = Zone::parse("Europe/Vienna").expect("zone");
        // 2026: summer time from Sunday 29 March 01:00 UTC to Sunday 25 October 01:00 UTC.
        assert_eq!(last_sunday(2026, 3), days_from_civil(2026, 3, 29));
        assert_eq!(last_sunday(2026, 10), days_from_civil(2026, 10, 25));
        assert_eq!(last_sunday(2027, 3), days_from_civil(2027, 3, 28));
        let winter = vienna.local(utc_ms(2026, 3, 29, 0, 59));
        assert_eq!((winter.date, winter.minute), ((2026, 3, 29), 119));
        let summer = vienna.local(utc_ms(2026, 3, 29, 1, 0));
        assert_eq!(
            (summer.date, summer.minute),
            ((2026, 3, 29), 180),
            "02:00 became 03:00"
        );
        let last_summer = vienna.local(utc_ms(2026, 10, 25, 0, 59));
        assert_eq!(last_summer.minute, 179);
        let back = vienna.local(utc_ms(2026, 10, 25, 1, 0));
        assert_eq!(back.minute, 120, "03:00 became 02:00 again");
        let new_year = vienna.local(utc_ms(2026, 12, 31, 23, 30));
        assert_eq!((new_year.date, new_year.minute), ((2027, 1, 1), 30));
        assert_eq!(new_year.weekday, 4, "1 January 2027 is a Friday");
        assert_eq!(Zone::parse("+05:30"), Ok(Zone::Fixed(330)));
        assert_eq!(Zone::parse("UTC"), Ok(Zone::Fixed(0)));
        assert!(Zone::parse("+25:00").is_err());
        assert!(Zone::parse("Europe/London").is_err());
    }

    #[test]
    fn days_weekdays_and_hours() {
        assert_eq!(parse_date("2028-02-29"), Some((2028, 2, 29)));
        assert_eq!(parse_date("2027-02-29"), None);
        assert_eq!(parse_date("2026-1-01"), None);
        let weekend = Weekdays::parse(&["sa".into(), "SU".into()]).expect("days");
        assert!(weekend.contains(5) && weekend.contains(6) && !weekend.contains(0));
        assert!(Weekdays::default().contains(3), "none given: every day");
        assert!(Weekdays::parse(&["mon".into()]).is_err());
        let morning = Hours::parse("08:00-12:30").expect("hours");
        assert!(morning.contains(8 * 60) && morning.contains(12 * 60 + 29));
        assert!(!morning.contains(12 * 60 + 30) && !morning.contains(7 * 60 + 59));
        let night = Hours::parse("22:00-02:00").expect("over midnight");
        assert!(night.contains(23 * 60) && night.contains(60) && !night.contains(2 * 60));
        for bad in ["8-12", "08:00", "24:00-01:00", "10:00-10:00", "08:0-09:00"] {
            assert!(Hours::parse(bad).is_err(), "{bad}");
        }
    }
}
