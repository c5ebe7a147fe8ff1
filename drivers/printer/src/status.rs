//! Real-time status: asking the printer whether it can print, and reading its answer.
//!
//! `DLE EOT n` is answered by the printer immediately, even while it is offline or its
//! buffer is full, with one byte whose fixed bits are `0xx1xx10`. We ask three questions
//! ([`StatusRequest`]) and fold the answers into one [`PrinterStatus`].
//!
//! Bit meanings follow Epson's TM series (and the printers that copy it). Requests are
//! exactly three bytes: the `escpos` crate appends a fourth `00`, which a printer would
//! take as the start of the next command.

use std::fmt;

use crate::commands;
use crate::error::{Error, Result};

/// One of the real-time status questions we ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusRequest {
    /// `DLE EOT 1`: online/offline and the drawer sensor.
    Printer,
    /// `DLE EOT 2`: why the printer is offline (cover, paper end, error).
    OfflineCause,
    /// `DLE EOT 4`: the roll paper near-end and end sensors.
    RollPaper,
}

impl StatusRequest {
    /// The three questions in the order [`crate::transport::Transport::query_status`]
    /// asks them.
    pub const ALL: [StatusRequest; 3] = [
        StatusRequest::Printer,
        StatusRequest::OfflineCause,
        StatusRequest::RollPaper,
    ];

    /// The bytes to send: `10 04 n`, nothing more.
    pub const fn bytes(self) -> [u8; 3] {
        commands::status_request(match self {
            StatusRequest::Printer => 1,
            StatusRequest::OfflineCause => 2,
            StatusRequest::RollPaper => 4,
        })
    }
}

impl fmt::Display for StatusRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatusRequest::Printer => "DLE EOT 1 (printer status)",
            StatusRequest::OfflineCause => "DLE EOT 2 (offline cause)",
            StatusRequest::RollPaper => "DLE EOT 4 (roll paper sensor)",
        })
    }
}

/// Whether `byte` can be a real-time status answer: bits 0 and 7 clear, bits 1 and 4 set
/// (`0xx1xx10`).
///
/// Everything else a printer may send unasked has a different shape: Automatic Status Back
/// blocks start with `0xx1xx00` and continue with `0xx0xxxx`, XON/XOFF are `0x11`/`0x13`,
/// so those bytes can be skipped without being misread as an answer.
pub const fn is_status_byte(byte: u8) -> bool {
    byte & 0b1001_0011 == 0b0001_0010
}

/// What the daemon needs to know about a printer, from the three status answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PrinterStatus {
    /// The printer accepts and prints data (`DLE EOT 1`, bit 3 clear).
    pub online: bool,
    /// The paper cover is open (`DLE EOT 2`, bit 2).
    pub cover_open: bool,
    /// No paper: the paper end sensor sees none (`DLE EOT 4`, bits 5–6) or printing stopped
    /// for lack of paper (`DLE EOT 2`, bit 5).
    pub paper_out: bool,
    /// The roll is nearly used up (`DLE EOT 4`, bits 2–3): change it soon.
    pub paper_near_end: bool,
    /// The drawer is open: drawer connector pin 3 is high (`DLE EOT 1`, bit 2). This
    /// assumes the usual wiring where the drawer's switch pulls pin 3 low while it is shut;
    /// a drawer without a switch always reads closed.
    pub drawer_open: bool,
    /// An error stopped the printer, e.g. a cutter jam or overheated head (`DLE EOT 2`,
    /// bit 6).
    pub error: bool,
}

impl PrinterStatus {
    /// Combines the answers to `DLE EOT 1`, `2` and `4`; refuses a byte that is not a status
    /// byte (so a misaligned answer is never turned into a wrong status).
    pub fn from_bytes(printer: u8, offline_cause: u8, roll_paper: u8) -> Result<Self> {
        for byte in [printer, offline_cause, roll_paper] {
            if !is_status_byte(byte) {
                return Err(Error::NotAStatusByte { byte });
            }
        }
        Ok(PrinterStatus {
            online: printer & 0x08 == 0,
            drawer_open: printer & 0x04 != 0,
            cover_open: offline_cause & 0x04 != 0,
            error: offline_cause & 0x40 != 0,
            paper_out: offline_cause & 0x20 != 0 || roll_paper & 0x60 != 0,
            paper_near_end: roll_paper & 0x0C != 0,
        })
    }

    /// Whether a receipt sent now would come out: online, paper in, cover shut, no error.
    pub fn ready(&self) -> bool {
        self.online && !self.paper_out && !self.cover_open && !self.error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All three answers of a healthy printer: only the fixed bits set.
    const OK: u8 = 0x12;

    #[test]
    fn requests_are_exactly_three_bytes() {
        assert_eq!(StatusRequest::Printer.bytes(), [0x10, 0x04, 0x01]);
        assert_eq!(StatusRequest::OfflineCause.bytes(), [0x10, 0x04, 0x02]);
        assert_eq!(StatusRequest::RollPaper.bytes(), [0x10, 0x04, 0x04]);
    }

    #[test]
    fn healthy_printer_is_ready() {
        let status = PrinterStatus::from_bytes(OK, OK, OK).unwrap();
        assert_eq!(
            status,
            PrinterStatus {
                online: true,
                ..PrinterStatus::default()
            }
        );
        assert!(status.ready());
    }

    #[test]
    fn printer_status_bit_3_is_offline_and_bit_2_is_drawer() {
        let offline = PrinterStatus::from_bytes(OK | 0x08, OK, OK).unwrap();
        assert!(!offline.online);
        assert!(!offline.drawer_open);
        assert!(!offline.ready());
        let drawer = PrinterStatus::from_bytes(OK | 0x04, OK, OK).unwrap();
        assert!(drawer.online && drawer.drawer_open && drawer.ready());
    }

    #[test]
    fn offline_cause_bits_are_cover_paper_end_and_error() {
        let s = PrinterStatus::from_bytes(OK, OK | 0x04, OK).unwrap();
        assert!(s.cover_open && !s.paper_out && !s.error && !s.ready());
        let s = PrinterStatus::from_bytes(OK, OK | 0x20, OK).unwrap();
        assert!(s.paper_out && !s.cover_open && !s.error && !s.ready());
        let s = PrinterStatus::from_bytes(OK, OK | 0x40, OK).unwrap();
        assert!(s.error && !s.cover_open && !s.paper_out && !s.ready());
        // Bit 3 (paper being fed by the feed button) is none of these.
        let s = PrinterStatus::from_bytes(OK, OK | 0x08, OK).unwrap();
        assert!(s.ready());
    }

    #[test]
    fn roll_paper_bits_are_near_end_and_end() {
        for near_end in [0x04, 0x08, 0x0C] {
            let s = PrinterStatus::from_bytes(OK, OK, OK | near_end).unwrap();
            assert!(
                s.paper_near_end && !s.paper_out && s.ready(),
                "{near_end:#x}"
            );
        }
        for end in [0x20, 0x40, 0x60] {
            let s = PrinterStatus::from_bytes(OK, OK, OK | end).unwrap();
            assert!(s.paper_out && !s.paper_near_end && !s.ready(), "{end:#x}");
        }
    }

    #[test]
    fn status_byte_pattern_is_0xx1xx10() {
        let matching: Vec<u8> = (0..=255u8).filter(|&b| is_status_byte(b)).collect();
        assert_eq!(matching.len(), 16);
        for b in matching {
            assert_eq!(b & 0x80, 0);
            assert_eq!(b & 0x10, 0x10);
            assert_eq!(b & 0x02, 0x02);
            assert_eq!(b & 0x01, 0);
        }
    }

    #[test]
    fn anything_else_is_refused() {
        // ASB first byte, ASB follow-up byte, XON, XOFF, NUL, a high bit, a letter.
        for byte in [0x10, 0x0C, 0x11, 0x13, 0x00, 0x92, b'A'] {
            let err = PrinterStatus::from_bytes(OK, byte, OK).unwrap_err();
            assert!(matches!(err, Error::NotAStatusByte { byte: b } if b == byte));
        }
    }
}
