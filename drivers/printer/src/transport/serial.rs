//! Serial printers (RS-232, USB-serial adapters), through the `serialport` crate in raw
//! mode. The `escpos` crate's serial driver needs libudev; we open a configured path and
//! need no port enumeration.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use serialport::{ClearBuffer, SerialPort, TTYPort};

use super::{Duplex, FlowControl, Transport, io_error, is_timeout, query_status_over};
use crate::error::{Error, Result};
use crate::status::PrinterStatus;

/// An open serial line to a printer.
pub(super) struct SerialTransport {
    target: String,
    port: TTYPort,
    /// Write stall timeout; reads set their own.
    timeout: Duration,
}

impl SerialTransport {
    /// Opens `path` exclusively (a second daemon cannot interleave its jobs), 8N1 at `baud`
    /// with `flow`, raw (no newline translation, no echo).
    pub(super) fn open(
        target: String,
        path: &Path,
        baud: u32,
        flow: FlowControl,
        timeout: Duration,
    ) -> Result<Self> {
        let flow = match flow {
            FlowControl::None => serialport::FlowControl::None,
            FlowControl::XonXoff => serialport::FlowControl::Software,
            FlowControl::RtsCts => serialport::FlowControl::Hardware,
        };
        let port = serialport::new(path.to_string_lossy(), baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(flow)
            .timeout(timeout)
            .open_native()
            .map_err(|source| Error::Serial {
                target: target.clone(),
                source,
            })?;
        Ok(SerialTransport {
            target,
            port,
            timeout,
        })
    }
}

impl Transport for SerialTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.port
            .set_timeout(self.timeout)
            .map_err(|e| io_error(&self.target, "write", e.into()))?;
        self.port
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

impl Duplex for SerialTransport {
    fn target(&self) -> &str {
        &self.target
    }

    fn discard_input(&mut self) -> Result<()> {
        self.port
            .clear(ClearBuffer::Input)
            .map_err(|e| io_error(&self.target, "status check", e.into()))
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.write_all(bytes)
    }

    fn receive(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        self.port
            .set_timeout(timeout)
            .map_err(|e| io_error(&self.target, "status read", e.into()))?;
        match self.port.read(buf) {
            Ok(0) => Err(Error::Closed {
                target: self.target.clone(),
            }),
            Ok(n) => Ok(n),
            Err(e) if is_timeout(&e) => Ok(0),
            Err(e) => Err(io_error(&self.target, "status read", e)),
        }
    }
}
