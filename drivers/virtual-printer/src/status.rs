//! Simulated printer state and the real-time status bytes (`DLE EOT n`) it produces.
//!
//! The daemon decides whether it may print, and what to tell the cashier, from these bytes,
//! so they follow the Epson TM bit layout exactly; tests flip the state to check that the
//! daemon reacts to "paper out" or "cover open" the way it would with real hardware.

use std::fmt;

/// Bits 1 and 4 are always 1 in every status byte; bits 0 and 7 always 0.
const FIXED_BITS: u8 = 0b0001_0010;

/// The conditions a technician can simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PrinterState {
    /// The roll is empty: printing stops (n=2 bit 5, n=4 bits 5 and 6).
    pub paper_out: bool,
    /// The roll is almost empty: printing continues (n=4 bits 2 and 3).
    pub paper_near_end: bool,
    /// The cover is open: printing stops (n=2 bit 2).
    pub cover_open: bool,
    /// The printer is offline for another reason: printing stops (n=1 bit 3 only).
    pub offline: bool,
}

/// Which real-time status a `DLE EOT n` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// n = 1: printer status.
    Printer,
    /// n = 2: offline cause.
    OfflineCause,
    /// n = 3: error cause (the virtual printer never has mechanical errors).
    ErrorCause,
    /// n = 4: roll paper sensor.
    PaperSensor,
}

impl StatusKind {
    /// The kind for `DLE EOT n`, or `None` for requests the virtual printer does not answer
    /// (a real printer ignores unknown ones too).
    pub fn from_request(n: u8) -> Option<StatusKind> {
        match n {
            1 => Some(StatusKind::Printer),
            2 => Some(StatusKind::OfflineCause),
            3 => Some(StatusKind::ErrorCause),
            4 => Some(StatusKind::PaperSensor),
            _ => None,
        }
    }
}

impl PrinterState {
    /// Whether the printer would put data on paper now. Near end alone does not stop it.
    pub fn can_print(&self) -> bool {
        self.not_printing_reason().is_none()
    }

    /// Why data is discarded, for the "not printed" record; `None` while printing works.
    pub fn not_printing_reason(&self) -> Option<String> {
        let mut reasons = Vec::new();
        if self.offline {
            reasons.push("offline");
        }
        if self.paper_out {
            reasons.push("paper out");
        }
        if self.cover_open {
            reasons.push("cover open");
        }
        (!reasons.is_empty()).then(|| reasons.join(", "))
    }

    /// The status byte answered to `DLE EOT n` in this state.
    pub fn status_byte(&self, kind: StatusKind) -> u8 {
        let bit = |on: bool, mask: u8| if on { mask } else { 0 };
        match kind {
            StatusKind::Printer => FIXED_BITS | bit(!self.can_print(), 0x08),
            StatusKind::OfflineCause => {
                FIXED_BITS | bit(self.cover_open, 0x04) | bit(self.paper_out, 0x20)
            }
            StatusKind::ErrorCause => FIXED_BITS,
            StatusKind::PaperSensor => {
                FIXED_BITS | bit(self.paper_near_end, 0x0C) | bit(self.paper_out, 0x60)
            }
        }
    }
}

impl fmt::Display for PrinterState {
    /// `paper-out=off near-end=on cover-open=off offline=off`: the control channel's words.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = |on: bool| if on { "on" } else { "off" };
        write!(
            f,
            "paper-out={} near-end={} cover-open={} offline={}",
            word(self.paper_out),
            word(self.paper_near_end),
            word(self.cover_open),
            word(self.offline)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_printer_reports_fixed_bits_only() {
        let state = PrinterState::default();
        for kind in [
            StatusKind::Printer,
            StatusKind::OfflineCause,
            StatusKind::ErrorCause,
            StatusKind::PaperSensor,
        ] {
            assert_eq!(state.status_byte(kind), 0x12);
        }
    }

    #[test]
    fn each_condition_sets_its_bits() {
        let paper_out = PrinterState {
            paper_out: true,
            ..PrinterState::default()
        };
        assert_eq!(paper_out.status_byte(StatusKind::Printer), 0x1A);
        assert_eq!(paper_out.status_byte(StatusKind::OfflineCause), 0x32);
        assert_eq!(paper_out.status_byte(StatusKind::PaperSensor), 0x72);
        let cover = PrinterState {
            cover_open: true,
            ..PrinterState::default()
        };
        assert_eq!(cover.status_byte(StatusKind::Printer), 0x1A);
        assert_eq!(cover.status_byte(StatusKind::OfflineCause), 0x16);
        let near = PrinterState {
            paper_near_end: true,
            ..PrinterState::default()
        };
        assert!(near.can_print());
        assert_eq!(near.status_byte(StatusKind::Printer), 0x12);
        assert_eq!(near.status_byte(StatusKind::PaperSensor), 0x1E);
    }
}
