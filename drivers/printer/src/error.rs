//! The crate's one error type.

use std::io;
use std::time::Duration;

use crate::status::StatusRequest;

/// Everything that can go wrong in this crate, so the daemon matches one type.
///
/// Construction errors (`Invalid*`) are raised while a document or configuration is built,
/// never while rendering: [`crate::render::render`] cannot fail. I/O errors name the printer
/// (`target`) because the daemon drives several printers and logs the message as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A connection string from the configuration could not be understood.
    #[error("invalid printer connection {input:?}: {reason}")]
    InvalidConnection {
        /// The string as written in the configuration.
        input: String,
        /// What is wrong with it, in words a technician can act on.
        reason: String,
    },

    /// A printer profile from the configuration is unusable.
    #[error("invalid printer profile: {reason}")]
    InvalidProfile {
        /// What is wrong with it.
        reason: String,
    },

    /// Barcode data that no printer would accept.
    #[error("invalid {symbology} barcode {data:?}: {reason}")]
    InvalidBarcode {
        /// "EAN-13", "CODE128" or "QR".
        symbology: &'static str,
        /// The data as given.
        data: String,
        /// Why it was refused.
        reason: String,
    },

    /// An image whose size or pixel buffer does not add up.
    #[error("invalid image: {reason}")]
    InvalidImage {
        /// Why it was refused.
        reason: String,
    },

    /// A byte that arrived as the answer to a real-time status request does not have the
    /// fixed bits of one (`0xx1xx10`).
    #[error("byte {byte:#04x} is not an ESC/POS real-time status byte")]
    NotAStatusByte {
        /// The byte received.
        byte: u8,
    },

    /// The printer could not be reached or opened.
    #[error("cannot connect to printer {target}: {source}")]
    Connect {
        /// The connection as configured, e.g. `tcp:192.0.2.10:9100`.
        target: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },

    /// The serial port could not be opened or configured.
    #[error("cannot open serial printer {target}: {source}")]
    Serial {
        /// The connection as configured.
        target: String,
        /// The serial library's reason.
        #[source]
        source: serialport::Error,
    },

    /// Writing to or reading from an open printer connection failed; the daemon should mark
    /// the printer offline and reconnect.
    #[error("printer {target}: {action} failed: {source}")]
    Io {
        /// The connection as configured.
        target: String,
        /// What we were doing ("write", "status query").
        action: &'static str,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },

    /// The printer (or the print server in front of it) closed the connection.
    #[error("printer {target} closed the connection")]
    Closed {
        /// The connection as configured.
        target: String,
    },

    /// A bidirectional printer did not answer a real-time status request in time: it is off,
    /// unplugged, or not an ESC/POS printer.
    #[error("printer {target} did not answer {request} within {timeout:?}")]
    StatusTimeout {
        /// The connection as configured.
        target: String,
        /// The request that went unanswered.
        request: StatusRequest,
        /// The time allowed for all requests together.
        timeout: Duration,
    },
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
