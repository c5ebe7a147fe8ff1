//! Development mode without hardware: a virtual receipt printer inside the daemon.
//!
//! When posd runs on a session bus with no printer configured (the README's first command),
//! it prints to a [`posd_virtual_printer::VirtualPrinter`] on a loopback port and keeps each
//! receipt as text and PNG in the state directory, so a newcomer sees receipts without a
//! printer on the desk.
//!
//! Files are named by what the daemon's print queue says each job was, found by its bytes
//! (the queue keeps the exact bytes of every job): `0001-01-000042-job17` for a receipt,
//! `0001-01-000042-slip-job18`, `0001-01-000042-reprint-job19`, `0001-01-000043-void-job20`,
//! `test-page-job21`; a job the queue does not know (another client) is `receipt-NNNN`. A
//! drawer kick is appended to `events.log` when it arrives, with the file it followed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use posd_virtual_printer::{Activity, Archive, Job, Options, Outcome, VirtualPrinter};
use rusqlite::OptionalExtension;

use crate::config::{DeviceConfig, DeviceKind};

/// Columns and dots of the virtual printer: an 80 mm printer with 42 columns.
const COLUMNS: u8 = 42;
const DOTS: u32 = 512;
/// The device name the virtual printer is configured as.
const DEVICE: &str = "receipt";

/// A virtual printer on 127.0.0.1 and the thread that files its receipts.
pub struct VirtualReceiptPrinter {
    address: std::net::SocketAddr,
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl VirtualReceiptPrinter {
    /// Starts the printer; receipts go to `dir` as `.txt` and `.png`, named by the print
    /// jobs of the daemon's database at `database` (read only, opened when the first
    /// receipt arrives, so it need not exist yet).
    pub fn start(dir: &Path, database: &Path) -> Result<Self, posd_virtual_printer::Error> {
        let mut archive = Archive::open(dir, usize::from(COLUMNS), DOTS)?;
        let printer = VirtualPrinter::bind("127.0.0.1:0", Options::default())?;
        let address = printer.local_addr();
        let stop = Arc::new(AtomicBool::new(false));
        let mut queue = PrintQueue::new(database);
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("virtual-printer".into())
                .spawn(move || {
                    let mut seen = 0;
                    let mut last = String::from("start");
                    while !stop.load(Ordering::SeqCst) {
                        let activity =
                            printer.wait_for_activity(seen + 1, Duration::from_millis(200));
                        for happened in activity.iter().skip(seen) {
                            file(&mut archive, &mut queue, happened, &mut last);
                        }
                        seen = activity.len();
                    }
                    printer.stop();
                })
                .map_err(|source| posd_virtual_printer::Error::Write {
                    path: dir.to_path_buf(),
                    source,
                })?
        };
        Ok(Self {
            address,
            dir: dir.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }

    /// The device entry that points posd at this printer.
    pub fn device(&self) -> DeviceConfig {
        DeviceConfig {
            name: "receipt".into(),
            kind: DeviceKind::Printer,
            connection: format!("tcp:{}", self.address),
            enabled: true,
            suffix: None,
            prefix: None,
            inter_byte_timeout_ms: None,
            columns: Some(COLUMNS),
            code_page: None,
            dots_per_line: u16::try_from(DOTS).ok(),
            drawer_pin: None,
            drawer_pulse_ms: None,
            status_poll_ms: None,
        }
    }

    /// Where receipts are filed.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The printer's TCP address.
    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }
}

impl Drop for VirtualReceiptPrinter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Files one thing the printer did: a printed receipt as text and PNG under the name of its
/// print job, a drawer kick as a line of `events.log`. `last` is the name of the last file.
fn file(archive: &mut Archive, queue: &mut PrintQueue, happened: &Activity, last: &mut String) {
    match happened {
        Activity::Job(job) => {
            if let Outcome::NotPrinted { reason } = &job.outcome {
                tracing::warn!("virtual printer: a job was not printed ({reason})");
                return;
            }
            let stored = match queue.name_of(job) {
                Some(name) => archive.store_as(job, &name),
                None => archive.store(job),
            };
            match stored {
                Ok(Some(stored)) => {
                    tracing::info!(
                        "virtual printer: {} → {}",
                        stored.name,
                        stored.png.display()
                    );
                    *last = stored.name;
                }
                Ok(None) => tracing::warn!("virtual printer: a job was not printed"),
                Err(e) => tracing::warn!("virtual printer: {e}"),
            }
        }
        Activity::DrawerKick { kick, outcome } => match outcome {
            Outcome::Printed => match archive.log_drawer_kick(kick, &format!("after {last}")) {
                Ok(line) => tracing::info!("virtual printer: {line}"),
                Err(e) => tracing::warn!("virtual printer: {kick}, not logged: {e}"),
            },
            Outcome::NotPrinted { reason } => {
                tracing::warn!("virtual printer: {kick} ignored ({reason})");
            }
        },
    }
}

/// The daemon's print queue, read only, to tell which job a received receipt was.
struct PrintQueue {
    path: PathBuf,
    connection: Option<rusqlite::Connection>,
}

impl PrintQueue {
    fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            connection: None,
        }
    }

    /// The file name of the queued job with exactly `job`'s bytes: the one being printed
    /// (still queued: a job is marked printed only after the printer answered) or else the
    /// latest printed. `None` if the queue has no such job or can't be read.
    fn name_of(&mut self, job: &Job) -> Option<String> {
        if self.connection.is_none() {
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
            match rusqlite::Connection::open_with_flags(&self.path, flags) {
                Ok(c) => {
                    let _ = c.busy_timeout(Duration::from_secs(2));
                    self.connection = Some(c);
                }
                Err(e) => {
                    tracing::warn!("virtual printer: cannot read the print queue: {e}");
                    return None;
                }
            }
        }
        let c = self.connection.as_ref()?;
        let found = c
            .prepare_cached(
                "SELECT id, kind, reference FROM print_jobs WHERE device = ?1 AND bytes = ?2
                 ORDER BY state = 'queued' DESC, CASE WHEN state = 'queued' THEN id ELSE -id END
                 LIMIT 1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(rusqlite::params![DEVICE, job.bytes], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .optional()
            });
        match found {
            Ok(found) => found.map(|(id, kind, reference)| job_file_name(id, &kind, &reference)),
            Err(e) => {
                tracing::warn!("virtual printer: cannot read the print queue: {e}");
                self.connection = None;
                None
            }
        }
    }
}

/// `0001-01-000042-job17` for a receipt, `0001-01-000042-slip-job18` for anything else
/// printed for a receipt, `test-page-job21` for a job of no receipt.
fn job_file_name(id: i64, kind: &str, reference: &str) -> String {
    let kind = kind.replace('_', "-");
    match (kind.as_str(), reference.is_empty()) {
        ("receipt", false) => format!("{reference}-job{id}"),
        (_, false) => format!("{reference}-{kind}-job{id}"),
        (_, true) => format!("{kind}-job{id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_by_receipt_kind_and_job() {
        assert_eq!(
            job_file_name(17, "receipt", "0001-01-000042"),
            "0001-01-000042-job17"
        );
        assert_eq!(
            job_file_name(18, "slip", "0001-01-000042"),
            "0001-01-000042-slip-job18"
        );
        assert_eq!(
            job_file_name(19, "reprint", "0001-01-000042"),
            "0001-01-000042-reprint-job19"
        );
        assert_eq!(
            job_file_name(20, "cash_in", "0001-01-000044"),
            "0001-01-000044-cash-in-job20"
        );
        assert_eq!(job_file_name(21, "test_page", ""), "test-page-job21");
    }
}
