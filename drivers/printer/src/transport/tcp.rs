//! Network printers: raw TCP, usually port 9100.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

use super::{Duplex, Transport, io_error, is_timeout, query_status_over};
use crate::error::{Error, Result};
use crate::status::PrinterStatus;

/// Keepalive probes start after this much silence, so a printer that lost power (and
/// never closed the connection) is noticed within about a minute even while idle.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Interval between keepalive probes.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes before the kernel declares the connection dead.
const KEEPALIVE_RETRIES: u32 = 3;
/// Sent data unacknowledged this long fails the connection (instead of the kernel's
/// retransmissions for a quarter of an hour) when a printer loses power mid-receipt.
const USER_TIMEOUT: Duration = Duration::from_secs(60);

/// An open TCP connection to a printer.
pub(super) struct TcpTransport {
    target: String,
    stream: TcpStream,
}

impl TcpTransport {
    /// Connects within `timeout` (trying each address the host resolves to) and sets
    /// `TCP_NODELAY` (a drawer kick must not wait for more data), keepalive, and `timeout`
    /// as the write timeout.
    pub(super) fn connect(
        target: String,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<Self> {
        let connect_error = |source: io::Error| Error::Connect {
            target: target.clone(),
            source,
        };
        let addresses = (host, port).to_socket_addrs().map_err(connect_error)?;
        let mut last_error = io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} resolves to no address"),
        );
        let mut stream = None;
        for address in addresses {
            match TcpStream::connect_timeout(&address, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last_error = e,
            }
        }
        let stream = stream.ok_or_else(|| connect_error(last_error))?;
        stream.set_nodelay(true).map_err(connect_error)?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(connect_error)?;
        let keepalive = TcpKeepalive::new()
            .with_time(KEEPALIVE_IDLE)
            .with_interval(KEEPALIVE_INTERVAL)
            .with_retries(KEEPALIVE_RETRIES);
        let socket = SockRef::from(&stream);
        socket
            .set_tcp_keepalive(&keepalive)
            .map_err(connect_error)?;
        socket
            .set_tcp_user_timeout(Some(USER_TIMEOUT))
            .map_err(connect_error)?;
        Ok(TcpTransport { target, stream })
    }

    /// Reads and drops whatever has arrived, without waiting; an end-of-stream means the
    /// printer closed the connection.
    fn drain(&mut self) -> Result<()> {
        self.stream
            .set_nonblocking(true)
            .map_err(|e| io_error(&self.target, "status check", e))?;
        let mut buf = [0u8; 64];
        let result = loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    break Err(Error::Closed {
                        target: self.target.clone(),
                    });
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(io_error(&self.target, "status check", e)),
            }
        };
        self.stream
            .set_nonblocking(false)
            .map_err(|e| io_error(&self.target, "status check", e))?;
        result
    }
}

impl Transport for TcpTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        // The kernel accepts a write into a connection the printer has already closed;
        // look for the close first so the caller learns now, not one job later.
        self.drain()?;
        self.stream
            .write_all(bytes)
            .map_err(|e| io_error(&self.target, "write", e))
    }

    fn query_status(&mut self, timeout: Duration) -> Result<Option<PrinterStatus>> {
        query_status_over(self, timeout).map(Some)
    }

    fn is_bidirectional(&self) -> bool {
        true
    }
}

impl Duplex for TcpTransport {
    fn target(&self) -> &str {
        &self.target
    }

    fn discard_input(&mut self) -> Result<()> {
        self.drain()
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .map_err(|e| io_error(&self.target, "status request", e))
    }

    fn receive(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        self.stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| io_error(&self.target, "status read", e))?;
        match self.stream.read(buf) {
            Ok(0) => Err(Error::Closed {
                target: self.target.clone(),
            }),
            Ok(n) => Ok(n),
            Err(e) if is_timeout(&e) => Ok(0),
            Err(e) => Err(io_error(&self.target, "status read", e)),
        }
    }
}
