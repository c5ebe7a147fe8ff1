//! The decoded receipt: what ended up on the paper, line by line.
//!
//! This is the model the text and PNG renderings are made from and the thing tests assert
//! on, so it keeps what a person would notice on paper (text, alignment, emphasis, size,
//! barcodes with their data, QR codes, images, feeds, the cut) and drops what they would not
//! (the exact bytes, line spacing commands).

/// Horizontal position of a line on the paper (`ESC a n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Align {
    /// Flush left, the power-on default.
    #[default]
    Left,
    /// Centred within the print width.
    Center,
    /// Flush right.
    Right,
}

/// A run of text printed with one style; lines can switch bold or size mid-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The characters, already decoded from the code page.
    pub text: String,
    /// Emphasized (`ESC E 1`): drawn double-struck.
    pub bold: bool,
    /// Width multiplier 1–8 (`GS !` high nibble + 1); each character takes this many columns.
    pub width: u8,
    /// Height multiplier 1–8 (`GS !` low nibble + 1).
    pub height: u8,
}

/// A printed line of text, as it was ended by `LF` (or by a command that prints the buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLine {
    /// Alignment in effect when the line started.
    pub align: Align,
    /// The styled runs, in order; never empty.
    pub spans: Vec<Span>,
}

impl TextLine {
    /// The plain characters of the whole line, for assertions and searching.
    pub fn text(&self) -> String {
        self.spans.iter().map(|s| s.text.as_str()).collect()
    }

    /// True if every non-blank character is bold: "the line is bold" as a reader sees it.
    pub fn is_bold(&self) -> bool {
        self.spans
            .iter()
            .filter(|s| !s.text.trim().is_empty())
            .all(|s| s.bold)
    }

    /// Columns the line occupies (double width characters count twice).
    pub fn columns(&self) -> usize {
        self.spans
            .iter()
            .map(|s| s.text.chars().count() * usize::from(s.width))
            .sum()
    }

    /// Largest height multiplier on the line; the whole line is that tall.
    pub fn height(&self) -> u8 {
        self.spans.iter().map(|s| s.height).max().unwrap_or(1)
    }
}

/// Barcode symbologies the virtual printer draws as bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BarcodeKind {
    /// EAN-13 (`GS k 67` or `GS k 2`).
    Ean13,
    /// CODE128 (`GS k 73`).
    Code128,
    /// Another `GS k` system; shown as a placeholder with its system byte.
    Other(u8),
}

/// Where the printer puts the human readable interpretation (`GS H n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HriPosition {
    /// No digits printed (the Epson default).
    #[default]
    None,
    /// Digits above the bars.
    Above,
    /// Digits below the bars.
    Below,
    /// Digits above and below.
    Both,
}

/// A printed barcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Barcode {
    /// Symbology.
    pub kind: BarcodeKind,
    /// The human readable data: 13 digits for EAN-13 (check digit included, computed if the
    /// stream sent 12), the decoded characters for CODE128 (set C pairs as two digits).
    pub data: String,
    /// The data bytes exactly as sent, needed to redraw CODE128 code set switches.
    pub raw: Vec<u8>,
    /// Alignment of the symbol on the paper.
    pub align: Align,
    /// Bar height in dots (`GS h`, default 162).
    pub height: u8,
    /// Narrowest bar width in dots (`GS w`, default 3).
    pub module_width: u8,
    /// Position of the human readable digits (`GS H`).
    pub hri: HriPosition,
}

/// QR error correction level (`GS ( k` fn 169).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum QrErrorCorrection {
    /// About 7 % recoverable (48), the Epson default.
    #[default]
    L,
    /// About 15 % (49).
    M,
    /// About 25 % (50).
    Q,
    /// About 30 % (51).
    H,
}

/// A printed QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    /// The stored data as text (invalid UTF-8 replaced), what a phone would read.
    pub data: String,
    /// The stored bytes exactly, re-encoded for the PNG.
    pub raw: Vec<u8>,
    /// Dots per module (`GS ( k` fn 167, default 3).
    pub module_size: u8,
    /// Error correction level.
    pub error_correction: QrErrorCorrection,
    /// Alignment of the symbol.
    pub align: Align,
}

/// A printed raster image (`GS v 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RasterImage {
    /// Width in source dots (bytes per row × 8).
    pub width: u32,
    /// Height in source rows.
    pub height: u32,
    /// Row-major bits, MSB = leftmost dot, 1 = black; `width / 8` bytes per row.
    pub bits: Vec<u8>,
    /// Horizontal scale (2 for double width modes).
    pub scale_x: u8,
    /// Vertical scale (2 for double height modes).
    pub scale_y: u8,
    /// Alignment of the image.
    pub align: Align,
}

impl RasterImage {
    /// Whether source dot (x, y) is black; out-of-range dots are white.
    pub fn is_black(&self, x: u32, y: u32) -> bool {
        if x >= self.width || y >= self.height {
            return false;
        }
        let row_bytes = self.width.div_ceil(8) as usize;
        let index = y as usize * row_bytes + (x / 8) as usize;
        self.bits
            .get(index)
            .is_some_and(|byte| byte & (0x80 >> (x % 8)) != 0)
    }

    /// Printed width in dots, scale applied.
    pub fn printed_width(&self) -> u32 {
        self.width * u32::from(self.scale_x)
    }

    /// Printed height in dots, scale applied.
    pub fn printed_height(&self) -> u32 {
        self.height * u32::from(self.scale_y)
    }
}

/// One item on the paper, top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line of text.
    Text(TextLine),
    /// A 1D barcode.
    Barcode(Barcode),
    /// A QR code.
    Qr(QrCode),
    /// A raster image.
    Image(RasterImage),
    /// Empty paper: `ESC d n`, or `LF` on an empty line (1).
    Feed(u32),
}

/// How the receipt was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cut {
    /// Partial cut (a tab of paper left so the receipt hangs).
    pub partial: bool,
    /// Dots fed before cutting.
    pub feed_dots: u8,
}

/// A pulse on the cash drawer connector (`ESC p m t1 t2`).
///
/// The drawer opens the moment the printer gets the command, whether or not a receipt is
/// being printed, so it is not part of any receipt: the interpreter hands it out on its own
/// as soon as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DrawerKick {
    /// The connector byte `m` as sent: 0/48 = pin 2, 1/49 = pin 5.
    pub m: u8,
    /// Pulse on-time in milliseconds (`t1` × 2).
    pub on_ms: u32,
    /// Pulse off-time in milliseconds (`t2` × 2).
    pub off_ms: u32,
}

impl DrawerKick {
    /// The drawer connector pin the kick drives (2 or 5), `None` for an unknown `m`.
    pub fn pin(&self) -> Option<u8> {
        match self.m {
            0 | 48 => Some(2),
            1 | 49 => Some(5),
            _ => None,
        }
    }
}

impl std::fmt::Display for DrawerKick {
    /// `drawer kick pin 2 (m=0, on 100 ms, off 200 ms)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pin() {
            Some(pin) => write!(f, "drawer kick pin {pin}")?,
            None => write!(f, "drawer kick pin ?")?,
        }
        write!(
            f,
            " (m={}, on {} ms, off {} ms)",
            self.m, self.on_ms, self.off_ms
        )
    }
}

/// What the interpreter finished with one command: a receipt at a cut, or a drawer kick
/// at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A receipt ended by a cut (or, at the end of the stream, an unfinished one).
    Receipt(Receipt),
    /// The cash drawer was kicked.
    DrawerKick(DrawerKick),
}

/// One receipt: everything between two cuts.
///
/// A receipt with `cut == None` is unfinished: the stream ended (or the connection closed)
/// before the cut. The server still reports it, because on a real printer those lines are
/// on the paper, just not torn off.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    /// What was printed, top to bottom.
    pub lines: Vec<Line>,
    /// Problems a technician should know about: skipped commands, invalid barcodes, etc.
    pub warnings: Vec<String>,
    /// The cut that ended the receipt, `None` if unfinished.
    pub cut: Option<Cut>,
}

impl Receipt {
    /// Whether a cut ended this receipt.
    pub fn is_finished(&self) -> bool {
        self.cut.is_some()
    }

    /// Whether nothing at all happened; such receipts are not reported.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.warnings.is_empty()
    }

    /// The text lines only, for assertions like "the third line reads …".
    pub fn text_lines(&self) -> Vec<&TextLine> {
        self.lines
            .iter()
            .filter_map(|line| match line {
                Line::Text(text) => Some(text),
                _ => None,
            })
            .collect()
    }
}
