//! Getting bytes to a printer and status back: TCP (port 9100), serial lines, and
//! character devices such as `/dev/usb/lp0`.
//!
//! The daemon holds one `Box<dyn Transport + Send>` per printer. Every failure of an open
//! connection is an error on the next call (never a silent success), so the daemon can mark
//! the printer offline and [`connect`] again.

mod file;
mod serial;
mod tcp;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::status::{PrinterStatus, StatusRequest, is_status_byte};

/// Where a printer is attached, as written in the configuration:
///
/// - `tcp:192.0.2.10:9100` (or `tcp:printer.local`, port 9100 by default; IPv6 as
///   `tcp:[2001:db8::1]:9100`)
/// - `serial:/dev/ttyUSB0?baud=19200` (optionally `&flow=rtscts` or `&flow=xonxoff`)
/// - `file:/dev/usb/lp0`
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub enum Connection {
    /// A network printer (raw TCP, "JetDirect" port).
    Tcp {
        /// Host name or IP address.
        host: String,
        /// TCP port, usually 9100.
        port: u16,
    },
    /// A printer on a serial line (RS-232 or USB-serial adapter).
    Serial {
        /// The device, e.g. `/dev/ttyUSB0`.
        path: PathBuf,
        /// Line speed; must match the printer's setting, so there is no default.
        baud: u32,
        /// Flow control; must match the printer's setting.
        flow: FlowControl,
    },
    /// A write-only character device (USB printer class, parallel port) or a file.
    File {
        /// The device or file; it is appended to, never created or truncated.
        path: PathBuf,
    },
}

/// Serial flow control, so a large logo does not overrun the printer's buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum FlowControl {
    /// None (`flow=none`, the default).
    #[default]
    None,
    /// XON/XOFF sent by the printer (`flow=xonxoff`).
    XonXoff,
    /// RTS/CTS hardware handshake (`flow=rtscts`).
    RtsCts,
}

/// The TCP port of raw network printing, used when a `tcp:` connection names none.
pub const DEFAULT_TCP_PORT: u16 = 9100;

impl Connection {
    /// Parses a connection string (see the type's description); errors say what to write.
    pub fn parse(input: &str) -> Result<Connection> {
        let invalid = |reason: &str| Error::InvalidConnection {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(rest) = input.strip_prefix("tcp:") {
            let (host, port) = split_host_port(rest).map_err(invalid)?;
            Ok(Connection::Tcp {
                host: host.to_owned(),
                port,
            })
        } else if let Some(rest) = input.strip_prefix("serial:") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let path = device_path(path).map_err(invalid)?;
            let (baud, flow) = serial_options(query).map_err(invalid)?;
            Ok(Connection::Serial { path, baud, flow })
        } else if let Some(rest) = input.strip_prefix("file:") {
            if rest.contains('?') {
                return Err(invalid("file: connections take no options"));
            }
            Ok(Connection::File {
                path: device_path(rest).map_err(invalid)?,
            })
        } else {
            Err(invalid(
                "expected tcp:HOST[:PORT], serial:/dev/DEVICE?baud=RATE or file:/dev/DEVICE",
            ))
        }
    }
}

fn split_host_port(rest: &str) -> std::result::Result<(&str, u16), &'static str> {
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or("IPv6 address lacks the closing ]")?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or("expected :PORT after ]")?),
            ),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err("write IPv6 addresses in brackets, e.g. tcp:[2001:db8::1]:9100");
            }
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err("host is missing");
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c == '/' || c == '?')
    {
        return Err("host contains a space, / or ?");
    }
    let port = match port {
        None => DEFAULT_TCP_PORT,
        Some(port) => match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err("port must be a number from 1 to 65535"),
            Ok(port) => port,
        },
    };
    Ok((host, port))
}

fn device_path(path: &str) -> std::result::Result<PathBuf, &'static str> {
    if path.is_empty() {
        return Err("device path is missing");
    }
    if !path.starts_with('/') {
        return Err("device path must be absolute, e.g. /dev/ttyUSB0");
    }
    Ok(PathBuf::from(path))
}

fn serial_options(query: &str) -> std::result::Result<(u32, FlowControl), &'static str> {
    let mut baud = None;
    let mut flow = FlowControl::None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("baud", value)) => match value.parse::<u32>() {
                Ok(rate @ 300..=4_000_000) => baud = Some(rate),
                _ => return Err("baud must be a line speed such as 9600, 19200 or 38400"),
            },
            Some(("flow", "none")) => flow = FlowControl::None,
            Some(("flow", "xonxoff")) => flow = FlowControl::XonXoff,
            Some(("flow", "rtscts")) => flow = FlowControl::RtsCts,
            Some(("flow", _)) => return Err("flow must be none, xonxoff or rtscts"),
            _ => return Err("unknown option; serial takes baud=RATE and flow=none|xonxoff|rtscts"),
        }
    }
    let baud = baud
        .ok_or("baud is missing: add ?baud=RATE with the printer's setting (e.g. ?baud=38400)")?;
    Ok((baud, flow))
}

impl FromStr for Connection {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Connection::parse(s)
    }
}

impl TryFrom<String> for Connection {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        Connection::parse(&s)
    }
}

impl fmt::Display for Connection {
    /// The canonical connection string; [`Connection::parse`] reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Connection::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp:[{host}]:{port}")
            }
            Connection::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
            Connection::Serial { path, baud, flow } => {
                write!(f, "serial:{}?baud={baud}", path.display())?;
                match flow {
                    FlowControl::None => Ok(()),
                    FlowControl::XonXoff => f.write_str("&flow=xonxoff"),
                    FlowControl::RtsCts => f.write_str("&flow=rtscts"),
                }
            }
            Connection::File { path } => write!(f, "file:{}", path.display()),
        }
    }
}

/// An open connection to a printer.
pub trait Transport {
    /// Sends `bytes` (a rendered receipt, a drawer kick) completely, or fails. A connection
    /// the printer closed fails here, even if the operating system would still buffer data.
    fn write_all(&mut self, bytes: &[u8]) -> Result<()>;

    /// Asks the printer `DLE EOT 1`, `2` and `4` and combines the answers, waiting at most
    /// `timeout` in all. `Ok(None)` from write-only transports, which cannot know.
    /// Bytes the printer sends unasked (Automatic Status Back, XON/XOFF) are skipped.
    fn query_status(&mut self, timeout: Duration) -> Result<Option<PrinterStatus>>;

    /// Whether [`Transport::query_status`] can give an answer.
    fn is_bidirectional(&self) -> bool;
}

/// Opens the connection: `timeout` bounds connecting and each later write that makes no
/// progress (a printer out of paper stops accepting data).
pub fn connect(connection: &Connection, timeout: Duration) -> Result<Box<dyn Transport + Send>> {
    let target = connection.to_string();
    Ok(match connection {
        Connection::Tcp { host, port } => {
            Box::new(tcp::TcpTransport::connect(target, host, *port, timeout)?)
        }
        Connection::Serial { path, baud, flow } => Box::new(serial::SerialTransport::open(
            target, path, *baud, *flow, timeout,
        )?),
        Connection::File { path } => Box::new(file::FileTransport::open(target, path, timeout)?),
    })
}

/// A two-way byte stream, as the status query needs it.
trait Duplex {
    /// The connection string, for error messages.
    fn target(&self) -> &str;
    /// Throws away whatever arrived unasked, so an old answer is not taken for a new one;
    /// fails if the peer has gone.
    fn discard_input(&mut self) -> Result<()>;
    /// Sends all of `bytes`.
    fn send(&mut self, bytes: &[u8]) -> Result<()>;
    /// Reads some bytes, waiting at most `timeout` (> 0). `Ok(0)` means nothing arrived in
    /// time; a closed connection is an error.
    fn receive(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize>;
}

/// Asks the three status questions one after another and waits for each answer, skipping
/// bytes that are not status bytes.
fn query_status_over(duplex: &mut impl Duplex, timeout: Duration) -> Result<PrinterStatus> {
    let deadline = Instant::now() + timeout;
    duplex.discard_input()?;
    let mut answers = [0u8; 3];
    for (answer, request) in answers.iter_mut().zip(StatusRequest::ALL) {
        duplex.send(&request.bytes())?;
        *answer = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::StatusTimeout {
                    target: duplex.target().to_owned(),
                    request,
                    timeout,
                });
            }
            let mut byte = [0u8; 1];
            if duplex.receive(&mut byte, remaining)? == 1 && is_status_byte(byte[0]) {
                break byte[0];
            }
        };
    }
    PrinterStatus::from_bytes(answers[0], answers[1], answers[2])
}

/// Whether an I/O error means the other end has gone away.
fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof
    )
}

/// Whether an I/O error only means "nothing happened within the timeout".
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// The crate error for an I/O failure while `action`.
fn io_error(target: &str, action: &'static str, e: io::Error) -> Error {
    if is_disconnect(&e) {
        Error::Closed {
            target: target.to_owned(),
        }
    } else {
        Error::Io {
            target: target.to_owned(),
            action,
            source: e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(input: &str) -> String {
        Connection::parse(input).unwrap_err().to_string()
    }

    #[test]
    fn parses_tcp_with_and_without_port() {
        assert_eq!(
            Connection::parse("tcp:192.0.2.10:9100").unwrap(),
            Connection::Tcp {
                host: "192.0.2.10".into(),
                port: 9100
            }
        );
        assert_eq!(
            Connection::parse("tcp:printer.local").unwrap(),
            Connection::Tcp {
                host: "printer.local".into(),
                port: 9100
            }
        );
        assert_eq!(
            Connection::parse("tcp:[2001:db8::1]:9101").unwrap(),
            Connection::Tcp {
                host: "2001:db8::1".into(),
                port: 9101
            }
        );
    }

    #[test]
    fn parses_serial_with_baud_and_flow() {
        assert_eq!(
            Connection::parse("serial:/dev/ttyUSB0?baud=19200").unwrap(),
            Connection::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 19200,
                flow: FlowControl::None
            }
        );
        assert_eq!(
            Connection::parse("serial:/dev/ttyS0?baud=38400&flow=rtscts").unwrap(),
            Connection::Serial {
                path: "/dev/ttyS0".into(),
                baud: 38400,
                flow: FlowControl::RtsCts
            }
        );
    }

    #[test]
    fn parses_file() {
        assert_eq!(
            Connection::parse("file:/dev/usb/lp0").unwrap(),
            Connection::File {
                path: "/dev/usb/lp0".into()
            }
        );
    }

    #[test]
    fn errors_say_what_to_write() {
        assert!(parse_err("usb:/dev/usb/lp0").contains("expected tcp:HOST[:PORT]"));
        assert!(parse_err("192.0.2.10:9100").contains("expected tcp:HOST[:PORT]"));
        assert!(parse_err("tcp:").contains("host is missing"));
        assert!(parse_err("tcp::9100").contains("host is missing"));
        assert!(parse_err("tcp:192.0.2.10:99999").contains("port must be a number"));
        assert!(parse_err("tcp:192.0.2.10:0").contains("port must be a number"));
        assert!(parse_err("tcp:2001:db8::1").contains("brackets"));
        assert!(parse_err("serial:/dev/ttyUSB0").contains("baud is missing"));
        assert!(parse_err("serial:/dev/ttyUSB0?baud=fast").contains("line speed"));
        assert!(parse_err("serial:/dev/ttyUSB0?baud=9600&parity=even").contains("unknown option"));
        assert!(parse_err("serial:/dev/ttyUSB0?baud=9600&flow=dtr").contains("flow must be"));
        assert!(parse_err("serial:ttyUSB0?baud=9600").contains("absolute"));
        assert!(parse_err("file:").contains("missing"));
        assert!(parse_err("file:lp0").contains("absolute"));
        let message = parse_err("tcp:");
        assert!(
            message.starts_with("invalid printer connection \"tcp:\""),
            "{message}"
        );
    }

    #[test]
    fn display_round_trips() {
        for input in [
            "tcp:192.0.2.10:9100",
            "tcp:[2001:db8::1]:9100",
            "serial:/dev/ttyUSB0?baud=19200",
            "serial:/dev/ttyS0?baud=38400&flow=xonxoff",
            "file:/dev/usb/lp0",
        ] {
            let connection = Connection::parse(input).unwrap();
            assert_eq!(connection.to_string(), input);
            assert_eq!(input.parse::<Connection>().unwrap(), connection);
        }
        assert_eq!(
            Connection::parse("tcp:printer").unwrap().to_string(),
            "tcp:printer:9100"
        );
    }

    #[test]
    fn connection_is_read_from_config_strings() {
        #[derive(Debug, Deserialize)]
        struct Config {
            connection: Connection,
        }
        let config: Config = toml::from_str("connection = \"tcp:192.0.2.10\"").unwrap();
        assert_eq!(config.connection.to_string(), "tcp:192.0.2.10:9100");
        let err = toml::from_str::<Config>("connection = \"lpt1\"").unwrap_err();
        assert!(err.to_string().contains("expected tcp:HOST"), "{err}");
    }
}
