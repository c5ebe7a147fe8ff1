//! A virtual ESC/POS receipt printer.
//!
//! Technicians preview receipt layouts with it, the daemon prints to it in development mode,
//! and tests print to it instead of a real TM printer: it listens on TCP like a port 9100
//! printer, answers real-time status requests, and decodes the byte stream back into
//! receipts that can be read as text or looked at as a PNG of the paper.
//!
//! The pipeline, one module per step:

#![warn(missing_docs)]

/// Bytes → commands, incrementally, with the lengths assumed for unknown commands.
pub mod command;

/// Code page tables (PC437, PC850, PC852, PC858) for text bytes 0x80–0xFF.
pub mod codepage;

/// Commands → receipts: the printer's modes, line buffer and cut.
pub mod interpret;

/// The decoded receipt model: lines, barcodes, QR codes, images, events, warnings.
pub mod receipt;

/// EAN-13 and CODE128 data validation and bar patterns.
pub mod symbology;

/// Receipt → plain text, as a technician reads it.
pub mod text;

/// Receipt → PNG, as a customer sees it.
pub mod render;

/// Simulated paper / cover / offline state and the `DLE EOT` status bytes.
pub mod status;

/// The TCP printer and its control socket, runnable in-process.
pub mod server;

/// Printed receipts kept as text and PNG files in a directory.
pub mod archive;

/// The crate's error type.
pub mod error;

pub use archive::{Archive, Archived};
pub use command::{Command, Tokenizer};
pub use error::Error;
pub use interpret::Interpreter;
pub use receipt::{
    Align, Barcode, BarcodeKind, Cut, HriPosition, Line, QrCode, QrErrorCorrection, RasterImage,
    Receipt, Span, TextLine,
};
pub use render::DEFAULT_DOTS;
pub use server::{Job, Options, Outcome, VirtualPrinter};
pub use status::{PrinterState, StatusKind};
pub use text::DEFAULT_COLUMNS;

/// Decode a complete ESC/POS stream into receipts, one per cut.
///
/// If data follows the last cut, the last receipt is unfinished (`cut == None`); status
/// requests are not print data and never create a receipt. Never panics, whatever the input.
pub fn decode(bytes: &[u8]) -> Vec<Receipt> {
    let mut tokenizer = Tokenizer::new();
    let mut interpreter = Interpreter::new();
    let mut receipts = Vec::new();
    let parsed = tokenizer.push(bytes).into_iter().chain(tokenizer.finish());
    for command in parsed {
        if let Some(receipt) = interpreter.apply(command.command) {
            receipts.push(receipt);
        }
    }
    receipts.extend(interpreter.finish());
    receipts
}
