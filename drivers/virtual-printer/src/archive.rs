//! A directory of printed receipts as text and PNG, and a log of the printer's events.
//!
//! Each receipt is written as `<name>.txt` and `<name>.png`. The name is the caller's when it
//! knows which of its jobs the receipt was (the daemon's development mode names them by
//! receipt number, kind and job id, e.g. `0001-01-000042-job17`); otherwise receipts are
//! numbered `receipt-0001`, `receipt-0002`, … on from what is already there. A name already
//! taken gets `-2`, `-3`, … so a restart never overwrites earlier previews.
//!
//! What the printer does besides printing — a drawer kick — is not a receipt: it is appended
//! to `events.log` at once, one line each with its UTC time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::{DrawerKick, Error, Job, Outcome, Receipt};

/// The file the printer's events are appended to, in the archive's directory.
pub const EVENTS_FILE: &str = "events.log";

/// Writes each printed receipt as text and PNG into one directory.
#[derive(Debug)]
pub struct Archive {
    dir: PathBuf,
    columns: usize,
    dots: u32,
    number: u32,
}

/// Where a receipt was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    /// The files' name without extension, e.g. `0001-01-000042-job17` or `receipt-0003`.
    pub name: String,
    /// The text rendering, with warnings marked `#`.
    pub text: PathBuf,
    /// The picture of the paper.
    pub png: PathBuf,
}

impl Archive {
    /// Opens (creating) `dir` for receipts `columns` wide on paper `dots` wide.
    pub fn open(dir: &Path, columns: usize, dots: u32) -> Result<Self, Error> {
        // Fail on bad dimensions now, not at the first receipt.
        Receipt::default().to_png_with_columns(columns, dots)?;
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            columns,
            dots,
            number: last_receipt_number(dir),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a printed job's receipt as the next `receipt-NNNN`; `None` for a job the
    /// printer dropped.
    pub fn store(&mut self, job: &Job) -> Result<Option<Archived>, Error> {
        if let Outcome::NotPrinted { .. } = job.outcome {
            return Ok(None);
        }
        self.number += 1;
        let name = format!("receipt-{:04}", self.number);
        self.store_as(job, &name)
    }

    /// Writes a printed job's receipt as `name` (`-2`, `-3`, … appended if the name is
    /// taken; characters other than letters, digits, `-`, `_` and `.` become `_`); `None`
    /// for a job the printer dropped.
    pub fn store_as(&mut self, job: &Job, name: &str) -> Result<Option<Archived>, Error> {
        if let Outcome::NotPrinted { .. } = job.outcome {
            return Ok(None);
        }
        let name = self.free_name(&safe_name(name));
        let text = self.dir.join(format!("{name}.txt"));
        let png = self.dir.join(format!("{name}.png"));
        write(&text, text_file(&job.receipt, self.columns).as_bytes())?;
        write(
            &png,
            &job.receipt.to_png_with_columns(self.columns, self.dots)?,
        )?;
        Ok(Some(Archived { name, text, png }))
    }

    /// Appends `<UTC time> <kick>` and `note` (what it followed, say) to `events.log` now;
    /// returns the line written.
    pub fn log_drawer_kick(&self, kick: &DrawerKick, note: &str) -> Result<String, Error> {
        let mut line = format!("{} {kick}", utc_rfc3339(SystemTime::now()));
        if !note.is_empty() {
            line.push(' ');
            line.push_str(note);
        }
        let path = self.dir.join(EVENTS_FILE);
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(format!("{line}\n").as_bytes()));
        appended.map_err(|source| Error::Write { path, source })?;
        Ok(line)
    }

    /// `name`, or `name-2`, `name-3`, … whichever has no files yet.
    fn free_name(&self, name: &str) -> String {
        let taken = |candidate: &str| {
            self.dir.join(format!("{candidate}.txt")).exists()
                || self.dir.join(format!("{candidate}.png")).exists()
        };
        if !taken(name) {
            return name.to_string();
        }
        (2u32..)
            .map(|n| format!("{name}-{n}"))
            .find(|candidate| !taken(candidate))
            .unwrap_or_else(|| name.to_string())
    }
}

/// The .txt file: the paper, then warnings marked with `#`.
pub fn text_file(receipt: &Receipt, columns: usize) -> String {
    let mut text = receipt.to_text(columns);
    for warning in &receipt.warnings {
        text.push_str(&format!("# warning: {warning}\n"));
    }
    text
}

/// A file name from anything: no path separators, no spaces, never empty.
fn safe_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.').to_string();
    if safe.is_empty() {
        "receipt".to_string()
    } else {
        safe
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The highest NNNN of receipt-NNNN.txt in `dir`.
fn last_receipt_number(dir: &Path) -> u32 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix("receipt-")?
                .strip_suffix(".txt")?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0)
}

/// `2026-11-24T14:03:27Z`: a point in time in UTC, to the second.
pub fn utc_rfc3339(time: SystemTime) -> String {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let of_day = seconds % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_times_are_written_as_the_calendar_has_them() {
        let at = |s: u64| utc_rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_961_007), "2026-11-29T14:03:27Z");
    }

    #[test]
    fn names_are_made_safe_and_never_overwrite() {
        assert_eq!(safe_name("0001-01-000042-job17"), "0001-01-000042-job17");
        assert_eq!(safe_name("../a b/c"), "_a_b_c");
        assert_eq!(safe_name(""), "receipt");
        let dir = tempfile::tempdir().expect("dir");
        let mut archive = Archive::open(dir.path(), 42, 512).expect("open");
        let job = Job {
            receipt: Receipt::default(),
            outcome: Outcome::Printed,
            bytes: Vec::new(),
        };
        let first = archive
            .store_as(&job, "x-job1")
            .expect("write")
            .expect("printed");
        let again = archive
            .store_as(&job, "x-job1")
            .expect("write")
            .expect("printed");
        assert_eq!(
            (first.name.as_str(), again.name.as_str()),
            ("x-job1", "x-job1-2")
        );
        assert!(again.png.exists() && first.text.exists());
    }
}
