//! Development mode without hardware: a virtual receipt printer inside the daemon.
//!
//! When posd runs on a session bus with no devices configured (the README's first command),
//! it prints to a [`posd_virtual_printer::VirtualPrinter`] on a loopback port and keeps each
//! receipt as text and PNG in the state directory, so a newcomer sees receipts without a
//! printer on the desk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use posd_virtual_printer::{Archive, Options, VirtualPrinter};

use crate::config::{DeviceConfig, DeviceKind};

/// Columns and dots of the virtual printer: an 80 mm printer with 42 columns.
const COLUMNS: u8 = 42;
const DOTS: u32 = 512;

/// A virtual printer on 127.0.0.1 and the thread that files its receipts.
pub struct VirtualReceiptPrinter {
    address: std::net::SocketAddr,
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl VirtualReceiptPrinter {
    /// Starts the printer; receipts go to `dir` as `receipt-NNNN.txt` and `.png`.
    pub fn start(dir: &Path) -> Result<Self, posd_virtual_printer::Error> {
        let mut archive = Archive::open(dir, usize::from(COLUMNS), DOTS)?;
        let printer = VirtualPrinter::bind("127.0.0.1:0", Options::default())?;
        let address = printer.local_addr();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("virtual-printer".into())
                .spawn(move || {
                    let mut seen = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let jobs = printer.wait_for_jobs(seen + 1, Duration::from_millis(200));
                        for job in jobs.iter().skip(seen) {
                            match archive.store(job) {
                                Ok(Some(stored)) => tracing::info!(
                                    "virtual printer: receipt {:04} → {}",
                                    stored.number,
                                    stored.png.display()
                                ),
                                Ok(None) => {
                                    tracing::warn!("virtual printer: a job was not printed")
                                }
                                Err(e) => tracing::warn!("virtual printer: {e}"),
                            }
                        }
                        seen = jobs.len();
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
