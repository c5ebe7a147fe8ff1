//! The serial line: parsing `serial:` connection strings, opening the port in raw mode and
//! reading from it with a timeout.
//!
//! Reconnecting is the daemon supervisor's job, not this module's: every read failure is
//! reported once as [`ScanError::Disconnected`] and the port is then useless. Reads never block
//! longer than their timeout (plus scheduling), so the daemon can always shut down.
//!
//! Pseudo-terminals stand in for scanners in tests and on development machines. They have no
//! modem lines, so the DTR/RTS ioctls fail there with `ENOTTY`; that is expected and not taken
//! for a dead port. Closing the master side gives the slave a hang-up and `EIO`, reported as
//! [`ScanError::Disconnected`] like an unplugged USB adapter.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::{Framer, ScanError};

/// Parity of each character on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parity {
    /// No parity bit (`parity=none`), the usual setting.
    #[default]
    None,
    /// Odd parity (`parity=odd`).
    Odd,
    /// Even parity (`parity=even`), common with 7 data bits.
    Even,
}

/// Flow control on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlowControl {
    /// None (`flow_control=none`): scanners send little and rarely need it.
    #[default]
    None,
    /// XON/XOFF (`flow_control=software`).
    Software,
    /// RTS/CTS (`flow_control=hardware`).
    Hardware,
}

/// A parsed `serial:` connection string: everything needed to open a scanner's port.
///
/// Format: `serial:PATH[?key=value&...]` with keys `baud` (default 9600), `data_bits` (5–8,
/// default 8), `parity` (`none`, `odd`, `even`; default none), `stop_bits` (1 or 2, default 1),
/// `flow_control` (`none`, `software`, `hardware`; default none) and `exclusive` (`true` or
/// `false`, default false). Unknown or repeated keys are refused, so a typo does not silently
/// fall back to a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialSpec {
    /// Device path, e.g. `/dev/ttyUSB0` or a udev symlink like `/dev/serial/by-id/...`, which
    /// survives replugging.
    pub path: String,
    /// Line speed in baud.
    pub baud: u32,
    /// Data bits per character, 5 to 8.
    pub data_bits: u8,
    /// Parity bit.
    pub parity: Parity,
    /// Stop bits, 1 or 2.
    pub stop_bits: u8,
    /// Flow control.
    pub flow_control: FlowControl,
    /// Lock the port against other openers (`TIOCEXCL` and `flock`). Off by default so a
    /// technician's diagnostic tool, or the next posd after a crash whose old descriptor
    /// lingers, can still open the line.
    pub exclusive: bool,
}

impl SerialSpec {
    /// Parses a connection string such as
    /// `serial:/dev/ttyUSB0?baud=9600&data_bits=8&parity=none&stop_bits=1`; a bad string is a
    /// [`ScanError::Connection`] naming the problem.
    pub fn parse(spec: &str) -> Result<Self, ScanError> {
        let fail = |reason: String| ScanError::Connection {
            spec: spec.to_owned(),
            reason,
        };
        let rest = spec.strip_prefix("serial:").ok_or_else(|| {
            fail("a scanner connection starts with \"serial:\", e.g. serial:/dev/ttyUSB0".into())
        })?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty() {
            return Err(fail("no device path after \"serial:\"".into()));
        }
        let mut parsed = Self {
            path: path.to_owned(),
            baud: 9600,
            data_bits: 8,
            parity: Parity::None,
            stop_bits: 1,
            flow_control: FlowControl::None,
            exclusive: false,
        };
        let mut seen: Vec<&str> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| fail(format!("option {pair:?} has no \"=value\"")))?;
            if seen.contains(&key) {
                return Err(fail(format!("option {key:?} is given twice")));
            }
            seen.push(key);
            let bad = |allowed: &str| fail(format!("{key}={value:?}: expected {allowed}"));
            match key {
                "baud" => {
                    parsed.baud = value
                        .parse()
                        .ok()
                        .filter(|&b| b > 0)
                        .ok_or_else(|| bad("a positive number like 9600"))?;
                }
                "data_bits" => {
                    parsed.data_bits = value
                        .parse()
                        .ok()
                        .filter(|b| (5..=8).contains(b))
                        .ok_or_else(|| bad("5, 6, 7 or 8"))?;
                }
                "parity" => {
                    parsed.parity = match value {
                        "none" => Parity::None,
                        "odd" => Parity::Odd,
                        "even" => Parity::Even,
                        _ => return Err(bad("none, odd or even")),
                    };
                }
                "stop_bits" => {
                    parsed.stop_bits = match value {
                        "1" => 1,
                        "2" => 2,
                        _ => return Err(bad("1 or 2")),
                    };
                }
                "flow_control" => {
                    parsed.flow_control = match value {
                        "none" => FlowControl::None,
                        "software" => FlowControl::Software,
                        "hardware" => FlowControl::Hardware,
                        _ => return Err(bad("none, software or hardware")),
                    };
                }
                "exclusive" => {
                    parsed.exclusive = match value {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad("true or false")),
                    };
                }
                _ => {
                    return Err(fail(format!(
                        "unknown option {key:?} (known: baud, data_bits, parity, stop_bits, \
                         flow_control, exclusive)"
                    )));
                }
            }
        }
        Ok(parsed)
    }
}

impl FromStr for SerialSpec {
    type Err = ScanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for SerialSpec {
    /// The canonical connection string with every option spelled out, for logs and
    /// `--check-config`; it parses back to the same spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parity = match self.parity {
            Parity::None => "none",
            Parity::Odd => "odd",
            Parity::Even => "even",
        };
        let flow = match self.flow_control {
            FlowControl::None => "none",
            FlowControl::Software => "software",
            FlowControl::Hardware => "hardware",
        };
        write!(
            f,
            "serial:{}?baud={}&data_bits={}&parity={parity}&stop_bits={}&flow_control={flow}&exclusive={}",
            self.path, self.baud, self.data_bits, self.stop_bits, self.exclusive
        )
    }
}

/// An open scanner port in raw mode. Dropping it closes the device.
#[derive(Debug)]
pub struct ScannerPort {
    port: serialport::TTYPort,
    path: String,
}

impl ScannerPort {
    /// Opens and configures the port: raw mode, the spec's line settings, DTR and RTS raised for
    /// scanners that wait for them (ignored on pseudo-terminals, which have no modem lines),
    /// input received before the open discarded, and non-blocking reads so a read with a
    /// timeout can never hang. Failure is [`ScanError::Open`]; the supervisor retries.
    pub fn open(spec: &SerialSpec) -> Result<Self, ScanError> {
        let open_error = |source: io::Error| ScanError::Open {
            path: spec.path.clone(),
            source,
        };
        let data_bits = match spec.data_bits {
            5 => serialport::DataBits::Five,
            6 => serialport::DataBits::Six,
            7 => serialport::DataBits::Seven,
            _ => serialport::DataBits::Eight,
        };
        let parity = match spec.parity {
            Parity::None => serialport::Parity::None,
            Parity::Odd => serialport::Parity::Odd,
            Parity::Even => serialport::Parity::Even,
        };
        let stop_bits = if spec.stop_bits == 2 {
            serialport::StopBits::Two
        } else {
            serialport::StopBits::One
        };
        let flow_control = match spec.flow_control {
            FlowControl::None => serialport::FlowControl::None,
            FlowControl::Software => serialport::FlowControl::Software,
            FlowControl::Hardware => serialport::FlowControl::Hardware,
        };
        let port = serialport::new(spec.path.as_str(), spec.baud)
            .data_bits(data_bits)
            .parity(parity)
            .stop_bits(stop_bits)
            .flow_control(flow_control)
            .exclusive(spec.exclusive)
            .open_native()
            .map_err(|e| open_error(e.into()))?;
        let fd = port.as_raw_fd();
        raise_modem_lines(fd, spec.flow_control != FlowControl::Hardware).map_err(open_error)?;
        // SAFETY: `fd` is the open descriptor owned by `port`; tcflush and fcntl only act on it.
        unsafe {
            if libc::tcflush(fd, libc::TCIFLUSH) != 0 {
                return Err(open_error(io::Error::last_os_error()));
            }
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
                return Err(open_error(io::Error::last_os_error()));
            }
        }
        Ok(Self {
            port,
            path: spec.path.clone(),
        })
    }

    /// The device path this port was opened with, for log messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Reads whatever bytes arrive within `timeout` into `buf`. Returns as soon as any byte is
    /// there; `Ok(0)` means nothing arrived in time (not end of file). End of file, `EIO`, a
    /// hang-up and any other read failure are [`ScanError::Disconnected`].
    pub fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, ScanError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let fd = self.port.as_raw_fd();
        let deadline = Instant::now() + timeout;
        loop {
            if !self.wait_readable(fd, deadline)? {
                return Ok(0);
            }
            // SAFETY: `buf` is valid for `buf.len()` bytes and `fd` is our open descriptor.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if let Ok(n) = usize::try_from(n) {
                if n == 0 {
                    return Err(self.gone(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "end of file: the device hung up",
                    )));
                }
                return Ok(n);
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                // Another reader took the bytes, or a signal came: wait for the rest of the
                // timeout.
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => {}
                _ => return Err(self.gone(err)),
            }
        }
    }

    /// Reads until `framer` completes at least one frame or `timeout` passes, and returns the
    /// frames (possibly none). Wakes up early when the framer's inter-byte timeout is due, so
    /// scanners without a suffix are not delayed by a long read timeout. A partial frame stays
    /// in `framer` for the next call.
    pub fn read_frames(
        &mut self,
        framer: &mut Framer,
        timeout: Duration,
    ) -> Result<Vec<Vec<u8>>, ScanError> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 512];
        loop {
            let now = Instant::now();
            if let Some(frame) = framer.poll_timeout(now) {
                return Ok(vec![frame]);
            }
            if now >= deadline {
                return Ok(Vec::new());
            }
            let wake = framer.deadline().map_or(deadline, |d| d.min(deadline));
            let n = self.read(&mut buf, wake.saturating_duration_since(now))?;
            if n > 0 {
                let frames = framer.push(&buf[..n], Instant::now());
                if !frames.is_empty() {
                    return Ok(frames);
                }
            }
        }
    }

    /// Waits until `fd` is readable (`true`) or `deadline` passes (`false`); a hang-up without
    /// data is an error.
    fn wait_readable(&self, fd: RawFd, deadline: Instant) -> Result<bool, ScanError> {
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            // Round up, so a sub-millisecond remainder does not spin with a zero timeout.
            let millis = remaining.as_micros().div_ceil(1000);
            let millis = libc::c_int::try_from(millis).unwrap_or(libc::c_int::MAX);
            let mut pollfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, count 1.
            let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
            if ready < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(self.gone(err));
            }
            if ready == 0 {
                if Instant::now() >= deadline {
                    return Ok(false);
                }
                continue;
            }
            if pollfd.revents & libc::POLLIN != 0 {
                // If the device also hung up, the read reports it.
                return Ok(true);
            }
            if pollfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                return Err(self.gone(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the device hung up",
                )));
            }
        }
    }

    fn gone(&self, source: io::Error) -> ScanError {
        ScanError::Disconnected {
            path: self.path.clone(),
            source,
        }
    }
}

/// Raises DTR (and RTS unless the driver handles RTS for hardware flow control). Lines that do
/// not exist (`ENOTTY`, `EINVAL`: pseudo-terminals, some USB adapters) are no error.
fn raise_modem_lines(fd: RawFd, rts: bool) -> io::Result<()> {
    let mut bits: libc::c_int = libc::TIOCM_DTR;
    if rts {
        bits |= libc::TIOCM_RTS;
    }
    // SAFETY: TIOCMBIS reads one c_int through the pointer, which outlives the call.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCMBIS, &bits) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ENOTTY | libc::EINVAL) => Ok(()),
        _ => Err(err),
    }
}
