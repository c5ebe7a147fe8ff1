//! The one error type of this crate.
//!
//! The daemon reacts to three kinds of failure differently, so each variant belongs to exactly
//! one of them:
//!
//! - **the device is gone** ([`ScanError::Disconnected`], [`ScanError::Open`]): drop the port
//!   and let the supervisor reconnect with backoff ([`ScanError::is_device_gone`]);
//! - **a misread** ([`ScanError::CheckDigit`], [`ScanError::Format`], [`ScanError::Gs1`]): the
//!   scan is refused and the cashier scans again ([`ScanError::is_misread`]);
//! - **a configuration mistake** ([`ScanError::Connection`], [`ScanError::Config`]): refuse the
//!   configuration and name what is wrong.

use std::io;

/// Everything that can go wrong between the serial line and a decoded [`crate::Scan`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// A connection string (`serial:/dev/ttyUSB0?baud=9600`) could not be understood, so there
    /// is nothing to open; retrying does not help.
    #[error("scanner connection {spec:?}: {reason}")]
    Connection {
        /// The connection string as configured.
        spec: String,
        /// What is wrong with it, in words an administrator can act on.
        reason: String,
    },

    /// The serial device could not be opened or set up (missing, unplugged, no permission,
    /// settings refused). The supervisor retries with backoff: a USB scanner may come back.
    #[error("cannot open scanner port {path}: {source}")]
    Open {
        /// The device path that was opened.
        path: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// The open port stopped working: end of file, `EIO` or a hang-up (a USB adapter pulled, the
    /// master side of a pseudo-terminal closed). The port is useless from now on; drop it and
    /// reconnect.
    #[error("scanner on {path} is gone: {source}")]
    Disconnected {
        /// The device path the port was opened with.
        path: String,
        /// What the operating system said (`UnexpectedEof` for end of file).
        #[source]
        source: io::Error,
    },

    /// An EAN/UPC/GTIN check digit does not match: the scanner misread the code. Never a valid
    /// scan, since accepting it would sell the wrong article.
    #[error("check digit of {code} is {found}, expected {expected}: misread, scan again")]
    CheckDigit {
        /// The digits as read, including the wrong check digit.
        code: String,
        /// The check digit computed from the other digits.
        expected: u8,
        /// The check digit that was read.
        found: u8,
    },

    /// The data does not fit the symbology the scanner announced (an EAN with letters, a wrong
    /// length, an empty code).
    #[error("{symbology} code {code:?} is malformed: {reason}")]
    Format {
        /// The symbology name ([`crate::Symbology::as_str`]).
        symbology: &'static str,
        /// The data as read.
        code: String,
        /// What does not fit.
        reason: String,
    },

    /// GS1 element string data (GS1-128, GS1 DataMatrix, GS1 QR, GS1 DataBar) is malformed:
    /// unknown application identifier, field too short or too long, bad digits, bad date.
    #[error("GS1 data is malformed: {reason}")]
    Gs1 {
        /// What is wrong, naming the application identifier where one is known.
        reason: String,
    },

    /// A decoding or framing setting cannot work (an in-store layout whose digits do not add up
    /// to 13, a prefix outside 20–29).
    #[error("scanner configuration: {reason}")]
    Config {
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl ScanError {
    /// True when the port is unusable and must be dropped and reopened later, so the supervisor
    /// does not have to match on variants.
    pub fn is_device_gone(&self) -> bool {
        matches!(self, Self::Disconnected { .. } | Self::Open { .. })
    }

    /// True when a frame arrived but is not a valid scan: the till beeps and the cashier scans
    /// again; the port itself is fine.
    pub fn is_misread(&self) -> bool {
        matches!(
            self,
            Self::CheckDigit { .. } | Self::Format { .. } | Self::Gs1 { .. }
        )
    }
}
