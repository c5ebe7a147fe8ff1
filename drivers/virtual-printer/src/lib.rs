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

/// The decoded receipt model: lines, barcodes, QR codes, images, warnings; drawer kicks.
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
    Align, Barcode, BarcodeKind, Cut, DrawerKick, HriPosition, Line, Output, QrCode,
    QrErrorCorrection, RasterImage, Receipt, Span, TextLine,
};
pub use render::DEFAULT_DOTS;
pub use server::{Activity, Job, Options, Outcome, VirtualPrinter};
pub use status::{PrinterState, StatusKind};
pub use text::DEFAULT_COLUMNS;

/// Decode a complete ESC/POS stream into receipts, one per cut.
///
/// If data follows the last cut, the last receipt is unfinished (`cut == None`); status
/// requests are not print data and never create a receipt; drawer kicks are left out (see
/// [`decode_all`]). Never panics, whatever the input.
pub fn decode(bytes: &[u8]) -> Vec<Receipt> {
    decode_all(bytes)
        .into_iter()
        .filter_map(|output| match output {
            Output::Receipt(receipt) => Some(receipt),
            Output::DrawerKick(_) => None,
        })
        .collect()
}

/// Decode a complete ESC/POS stream into what the printer did, in order: each receipt at
/// its cut and each drawer kick where it came, so a test sees that the drawer opened right
/// after a receipt and not before it. Never panics, whatever the input.
pub fn decode_all(bytes: &[u8]) -> Vec<Output> {
    let mut tokenizer = Tokenizer::new();
    let mut interpreter = Interpreter::new();
    let mut outputs = Vec::new();
    let parsed = tokenizer.push(bytes).into_iter().chain(tokenizer.finish());
    for command in parsed {
        outputs.extend(interpreter.apply(command.command));
    }
    outputs.extend(interpreter.finish().map(Output::Receipt));
    outputs
}
