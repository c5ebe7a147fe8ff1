//! ESC/POS receipt printers for posd: what a receipt says, how it becomes printer bytes,
//! and how those bytes reach the printer and status comes back.
//!
//! ```text
//! Document ──render(&Profile)──▶ Rendered { bytes, warnings } ──Transport::write_all──▶ printer
//!                                                      Transport::query_status ◀── DLE EOT answers
//! ```
//!
//! # Commands we send
//!
//! Exactly these (the virtual printer in `drivers/virtual-printer` decodes this list):
//!
//! | bytes | meaning |
//! |---|---|
//! | `1B 40` | `ESC @` initialise (start of every document) |
//! | `1B 74 n` | `ESC t n` code table: 0 PC437, 18 PC852, 19 PC858 |
//! | `1B 61 n` | `ESC a n` align 0 left, 1 center, 2 right (only on change) |
//! | `1B 45 n` | `ESC E n` bold off/on (only on change) |
//! | `1D 21 n` | `GS ! n` size 0x00, 0x10 double width, 0x01 double height, 0x11 both (only on change) |
//! | `0A` | `LF` end of every text line |
//! | `1B 64 n` | `ESC d n` feed n lines (blank feed; tear-off feed without cutter) |
//! | `1D 68 n` | `GS h n` barcode height (80 dots) |
//! | `1D 77 n` | `GS w n` barcode module width (1–3, widest that fits) |
//! | `1D 48 02` | `GS H 2` HRI below the barcode |
//! | `1D 6B 43 0D d…` | `GS k 67 13` EAN-13, 13 ASCII digits |
//! | `1D 6B 49 n 7B 42 …` | `GS k 73 n {B…` CODE128 set B; a literal `{` is sent as `{{` |
//! | `1D 6B 49 n 7B 43 …` | `GS k 73 n {C…` CODE128 set C; one byte 0–99 per digit pair |
//! | `1D 28 6B 04 00 31 41 32 00` | QR model 2 (fn 165) |
//! | `1D 28 6B 03 00 31 43 n` | QR module size (fn 167) |
//! | `1D 28 6B 03 00 31 45 n` | QR error correction 48–51 = L/M/Q/H (fn 169) |
//! | `1D 28 6B pL pH 31 50 30 d…` | QR store, pL pH = len + 3 (fn 180) |
//! | `1D 28 6B 03 00 31 51 30` | QR print (fn 181) |
//! | `1D 76 30 00 xL xH yL yH d…` | `GS v 0` raster image, x in bytes, y in dots |
//! | `1D 56 42 n` / `1D 56 41 n` | `GS V 66 n` partial / `GS V 65 n` full cut after feeding n |
//! | `1B 70 m t1 t2` | `ESC p` drawer pulse, m 0 = pin 2, 1 = pin 5, t in 2 ms |
//! | `10 04 n` | `DLE EOT n` real-time status, n = 1, 2, 4 (transports only) |
//!
//! Text bytes are 0x20–0x7E and 0x80–0xFF of the selected code page; no other control
//! byte ever appears in text (a control character in the data prints as `?`). Barcodes,
//! QR codes and images are centered with `ESC a 1`; text lines set their own alignment.
//!
//! All bytes are ours, not the `escpos` crate's: `commands.rs` lists what that crate gets
//! wrong. Serial lines use the `serialport` crate directly (without libudev).

// What a receipt says: Document, Element, Style, barcodes, images, cut, drawer kick.
pub mod document;
// Unicode text to printer bytes: PC858, PC852, PC437, replacements and warnings.
pub mod codepage;
// Document + Profile to ESC/POS bytes; the technician's test page; drawer kick bytes.
pub mod render;
// DLE EOT requests and the PrinterStatus read from their answers.
pub mod status;
// Connection strings, the Transport trait, TCP / serial / device transports.
pub mod transport;
// The ESC/POS command encoders everything above uses.
mod commands;
// The crate's one error type.
mod error;

pub use codepage::{CodePage, Warning};
pub use document::{
    Align, Code128, Cut, CutKind, Document, DrawerKick, DrawerPin, Ean13, Element, ErrorCorrection,
    Image, QrCode, Style,
};
pub use error::{Error, Result};
pub use render::{Profile, Rendered, TestPageInfo, drawer_kick, render, test_page};
pub use status::{PrinterStatus, StatusRequest};
pub use transport::{Connection, FlowControl, Transport, connect};
