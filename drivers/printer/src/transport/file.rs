//! Character-device printers (`/dev/usb/lp0`, `/dev/lp0`) and plain files: write-only.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Transport, io_error};
use crate::error::{Error, Result};
use crate::status::PrinterStatus;

/// An open device or file.
pub(super) struct FileTransport {
    target: String,
    file: File,
    /// How long a write may make no progress before it fails.
    timeout: Duration,
}

impl FileTransport {
    /// Opens `path` for appending: `O_WRONLY | O_APPEND | O_NOCTTY`, never creating or
    /// truncating (a typo must not create a file in /dev, and a journal file keeps its
    /// contents). `O_NONBLOCK` too, so a printer that stops taking data (paper out) makes
    /// the write fail after `timeout` instead of hanging the daemon's printer thread.
    pub(super) fn open(target: String, path: &Path, timeout: Duration) -> Result<Self> {
        let file = OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
            .open(path)
            .map_err(|source| Error::Connect {
                target: target.clone(),
                source,
            })?;
        Ok(FileTransport {
            target,
            file,
            timeout,
        })
    }

    /// Waits until the device takes data again, at most `timeout` (rounded up to whole
    /// milliseconds).
    fn wait_writable(&self, timeout: Duration) -> io::Result<()> {
        let mut pollfd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        let millis =
            libc::c_int::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX);
        // SAFETY: `pollfd` is one valid, initialised `pollfd` that outlives the call, and
        // the count passed is 1.
        let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
        if ready == -1 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }
}

impl Transport for FileTransport {
    fn write_all(&mut self, mut bytes: &[u8]) -> Result<()> {
        let mut last_progress = Instant::now();
        while !bytes.is_empty() {
            match self.file.write(bytes) {
                Ok(0) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "device took no data");
                    return Err(io_error(&self.target, "write", e));
                }
                Ok(n) => {
                    bytes = &bytes[n..];
                    last_progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let waited = last_progress.elapsed();
                    if waited >= self.timeout {
                        let e = io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("printer took no data for {:?}", self.timeout),
                        );
                        return Err(io_error(&self.target, "write", e));
                    }
                    self.wait_writable(self.timeout - waited)
                        .map_err(|e| io_error(&self.target, "write", e))?;
                }
                Err(e) => return Err(io_error(&self.target, "write", e)),
            }
        }
        Ok(())
    }

    /// A character device gives no status back through this transport.
    fn query_status(&mut self, _timeout: Duration) -> Result<Option<PrinterStatus>> {
        Ok(None)
    }

    fn is_bidirectional(&self) -> bool {
        false
    }
}
