//! Which kind of barcode a code came from, read from the AIM symbology identifier.
//!
//! Scanners set up to transmit AIM identifiers (ISO/IEC 15424) put `]`, a symbology letter and
//! a modifier character before the data: `]E0` EAN-13, `]C1` GS1-128, `]d2` GS1 DataMatrix.
//! The identifier is the only reliable way to tell a GS1-128 label from a plain Code 128 one, or
//! an EAN-13 from a 13-digit Code 128 shelf label, so stores should switch it on.

use std::fmt;

/// The kind of barcode a scan came from. [`Symbology::as_str`] gives the stable lower-case name
/// the daemon publishes over D-Bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Symbology {
    /// EAN-13 (`]E0` with 13 digits not starting with 0).
    Ean13,
    /// EAN-8 (`]E4`).
    Ean8,
    /// UPC-A (`]E0` with 12 digits, or 13 digits with a leading 0).
    UpcA,
    /// UPC-E (`]E0` with 8 digits), expanded to UPC-A for its GTIN.
    UpcE,
    /// A 2- or 5-digit EAN/UPC add-on transmitted on its own (`]E1`, `]E2`).
    EanAddOn,
    /// Code 128 without GS1 data (`]C0`, `]C2`, `]C4`).
    Code128,
    /// GS1-128: Code 128 carrying GS1 element strings (`]C1`).
    Gs1_128,
    /// QR Code (`]Q0`–`]Q2`, `]Q5`, `]Q6`).
    Qr,
    /// QR Code carrying GS1 element strings (`]Q3`, `]Q4`).
    Gs1Qr,
    /// Data Matrix (`]d0`, `]d1`, `]d3`, `]d4`, `]d6`).
    DataMatrix,
    /// Data Matrix carrying GS1 element strings (`]d2`, `]d5`).
    Gs1DataMatrix,
    /// GS1 DataBar, always GS1 element strings (`]e0`–`]e3`).
    Gs1DataBar,
    /// Code 39 (`]A`).
    Code39,
    /// Interleaved 2 of 5 (`]I`).
    Itf,
    /// Codabar (`]F`).
    Codabar,
    /// No AIM identifier and not an EAN/UPC, `]X` ("other"), or an identifier this crate does
    /// not know; the data is passed on unchanged.
    Unknown,
}

impl Symbology {
    /// The stable name used in D-Bus signals and logs: "ean13", "ean8", "upca", "upce",
    /// "ean-addon", "code128", "gs1-128", "qr", "gs1-qr", "datamatrix", "gs1-datamatrix",
    /// "gs1-databar", "code39", "itf", "codabar", "unknown".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ean13 => "ean13",
            Self::Ean8 => "ean8",
            Self::UpcA => "upca",
            Self::UpcE => "upce",
            Self::EanAddOn => "ean-addon",
            Self::Code128 => "code128",
            Self::Gs1_128 => "gs1-128",
            Self::Qr => "qr",
            Self::Gs1Qr => "gs1-qr",
            Self::DataMatrix => "datamatrix",
            Self::Gs1DataMatrix => "gs1-datamatrix",
            Self::Gs1DataBar => "gs1-databar",
            Self::Code39 => "code39",
            Self::Itf => "itf",
            Self::Codabar => "codabar",
            Self::Unknown => "unknown",
        }
    }

    /// True for the symbologies whose data is a GS1 element string, parsed into application
    /// identifiers.
    pub fn carries_gs1(self) -> bool {
        matches!(
            self,
            Self::Gs1_128 | Self::Gs1Qr | Self::Gs1DataMatrix | Self::Gs1DataBar
        )
    }
}

impl fmt::Display for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an AIM identifier announces about the data that follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Announced {
    /// The EAN/UPC family; the modifier decides which packet (`0` standard, `1`/`2` add-on
    /// only, `3` with add-on, `4` EAN-8).
    Ean(u8),
    /// Any other symbology, final.
    Other(Symbology),
}

/// Splits a leading AIM identifier off `frame`: the three identifier bytes, what they announce
/// and the data after them. `None` when the frame does not start with `]`, a letter and a
/// modifier.
pub(crate) fn split_aim(frame: &[u8]) -> Option<([u8; 3], Announced, &[u8])> {
    let (&[bracket, letter, modifier], data) = frame.split_first_chunk::<3>()?;
    if bracket != b']' || !letter.is_ascii_alphabetic() || !modifier.is_ascii_alphanumeric() {
        return None;
    }
    let other = |symbology| Announced::Other(symbology);
    let announced = match (letter, modifier) {
        (b'E', m) => Announced::Ean(m),
        (b'C', b'1') => other(Symbology::Gs1_128),
        (b'C', _) => other(Symbology::Code128),
        (b'Q', b'3' | b'4') => other(Symbology::Gs1Qr),
        (b'Q', _) => other(Symbology::Qr),
        (b'd', b'2' | b'5') => other(Symbology::Gs1DataMatrix),
        (b'd', _) => other(Symbology::DataMatrix),
        (b'e', _) => other(Symbology::Gs1DataBar),
        (b'A', _) => other(Symbology::Code39),
        (b'I', _) => other(Symbology::Itf),
        (b'F', _) => other(Symbology::Codabar),
        _ => other(Symbology::Unknown),
    };
    Some(([bracket, letter, modifier], announced, data))
}
