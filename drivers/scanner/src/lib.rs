//! Serial barcode scanners for posd: from bytes on a serial line to decoded, verified scans.
//!
//! The path of one scan through this crate:
//!
//! 1. [`serial`] — [`SerialSpec`] parses the configured `serial:/dev/...` connection string and
//!    [`ScannerPort`] reads the line with a timeout, reporting a vanished device as
//!    [`ScanError::Disconnected`] for the daemon's supervisor to reconnect.
//! 2. [`framing`] — [`Framer`] cuts the byte stream into one frame per code by suffix or by
//!    silence, and strips the prefix ([`FramingConfig`]).
//! 3. [`decode()`] — the AIM identifier gives the [`Symbology`]; EAN/UPC check digits are
//!    verified, GS1 element strings and in-store weight/price codes ([`InStoreLayout`]) are
//!    parsed into [`Scan::details`] (key scheme in the [`decode`](mod@decode) module docs).
//!
//! Everything that fails is a [`ScanError`], sorted into "device gone", "misread" and
//! "configuration" by the error module.

pub mod decode;
mod digits;
mod ean;
pub mod error;
pub mod framing;
mod gs1;
pub mod instore;
pub mod serial;
pub mod symbology;

pub use decode::{DecodeOptions, Scan, decode};
pub use error::ScanError;
pub use framing::{Framer, FramingConfig, MAX_FRAME_LEN, Suffix};
pub use instore::{InStoreLayout, InStoreValue};
pub use serial::{FlowControl, Parity, ScannerPort, SerialSpec};
pub use symbology::Symbology;
