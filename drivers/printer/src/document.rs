//! What a receipt says, independent of the printer it goes to.
//!
//! The daemon builds a [`Document`] from a sale; [`crate::render::render`] turns it into
//! bytes for one printer's [`crate::render::Profile`] (paper width, code page). Keeping the
//! two apart lets the same receipt go to a 58 mm and an 80 mm printer, and lets tests check
//! the content without decoding bytes.
//!
//! Everything here is validated when it is built (barcode digits, image sizes), so
//! rendering cannot fail half-way through a receipt.

use crate::error::{Error, Result};

/// A receipt (or any other print job): elements printed top to bottom.
///
/// Built with chained calls that read like the receipt:
///
/// ```
/// use posd_printer::document::{Cut, Document, Style};
///
/// let receipt = Document::new()
///     .line_styled("Bäckerei Huber", Style::new().center().bold().double_size())
///     .line_styled("Hauptstraße 1, 1010 Wien", Style::new().center())
///     .separator('-')
///     .item("Milch 1,5 %", "1,29")
///     .item("Müsli Früchte", "3,49")
///     .separator('=')
///     .item_styled("Summe EUR", "4,78", Style::new().bold())
///     .feed(2)
///     .cut(Cut::partial());
/// assert_eq!(receipt.elements.len(), 9);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// The elements in printing order; public so the daemon can assemble them as it likes.
    pub elements: Vec<Element>,
}

/// One printed part of a [`Document`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    /// Text, word-wrapped at the paper's column width; `\n` starts a new line.
    Text {
        /// The text, in Unicode; the code page is the renderer's business.
        text: String,
        /// Alignment and emphasis.
        style: Style,
    },
    /// A left text and a right-aligned amount on one line ("Milch 1,5 %  …  1,29").
    /// When both do not fit, the left text gets its own line(s) and the amount follows
    /// right-aligned on the next line, so an amount is never cut or wrapped into the name.
    TwoColumn {
        /// Item name or label, wrapped if longer than a line.
        left: String,
        /// The already formatted amount (this crate never sees money as numbers).
        right: String,
        /// Emphasis and size; the alignment is ignored (the line spans the paper).
        style: Style,
    },
    /// A full-width line of one repeated character, e.g. `-` or `=`.
    Separator(char),
    /// Blank paper, in text lines.
    Feed(u8),
    /// An EAN-13 barcode with its digits printed below (HRI), centered.
    Ean13(Ean13),
    /// A CODE128 barcode with its text printed below (HRI), centered.
    Code128(Code128),
    /// A QR code, centered.
    Qr(QrCode),
    /// A 1-bit raster image such as the shop's logo, centered.
    Image(Image),
    /// Cut the paper (or, on printers without a cutter, feed it to the tear-off edge).
    Cut(Cut),
    /// Pulse the cash drawer connector so the drawer springs open.
    DrawerKick(DrawerKick),
}

/// Horizontal placement of text lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Align {
    /// Flush left — item lines, most text.
    #[default]
    Left,
    /// Centered — shop name, footer.
    Center,
    /// Flush right.
    Right,
}

/// How a text line looks: alignment, bold, double width and double height.
///
/// Double width halves the number of characters per line (the renderer wraps at half the
/// columns); double height does not change the column count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Style {
    /// Horizontal placement.
    pub align: Align,
    /// Emphasised (bold) printing.
    pub bold: bool,
    /// Characters twice as wide.
    pub double_width: bool,
    /// Characters twice as tall.
    pub double_height: bool,
}

impl Style {
    /// Plain, left-aligned text; the other methods add to it.
    pub const fn new() -> Self {
        Style {
            align: Align::Left,
            bold: false,
            double_width: false,
            double_height: false,
        }
    }

    /// The same style, centered.
    pub const fn center(mut self) -> Self {
        self.align = Align::Center;
        self
    }

    /// The same style, flush right.
    pub const fn right(mut self) -> Self {
        self.align = Align::Right;
        self
    }

    /// The same style, bold.
    pub const fn bold(mut self) -> Self {
        self.bold = true;
        self
    }

    /// The same style, double width (half as many characters per line).
    pub const fn double_width(mut self) -> Self {
        self.double_width = true;
        self
    }

    /// The same style, double height.
    pub const fn double_height(mut self) -> Self {
        self.double_height = true;
        self
    }

    /// The same style, double width and double height (headlines, totals).
    pub const fn double_size(self) -> Self {
        self.double_width().double_height()
    }
}

impl Document {
    /// An empty document.
    pub fn new() -> Self {
        Document::default()
    }

    /// Appends any element; for loops over sale lines, where the chained form is awkward.
    pub fn push(&mut self, element: Element) -> &mut Self {
        self.elements.push(element);
        self
    }

    /// Adds a plain left-aligned text line (wrapped if long).
    pub fn line(self, text: impl Into<String>) -> Self {
        self.line_styled(text, Style::new())
    }

    /// Adds a text line with alignment and emphasis.
    pub fn line_styled(mut self, text: impl Into<String>, style: Style) -> Self {
        self.elements.push(Element::Text {
            text: text.into(),
            style,
        });
        self
    }

    /// Adds an item line: name on the left, amount flush right.
    pub fn item(self, left: impl Into<String>, right: impl Into<String>) -> Self {
        self.item_styled(left, right, Style::new())
    }

    /// Adds an item line with emphasis, e.g. a bold total.
    pub fn item_styled(
        mut self,
        left: impl Into<String>,
        right: impl Into<String>,
        style: Style,
    ) -> Self {
        self.elements.push(Element::TwoColumn {
            left: left.into(),
            right: right.into(),
            style,
        });
        self
    }

    /// Adds a full-width line of `c`.
    pub fn separator(mut self, c: char) -> Self {
        self.elements.push(Element::Separator(c));
        self
    }

    /// Adds `lines` blank lines.
    pub fn feed(mut self, lines: u8) -> Self {
        self.elements.push(Element::Feed(lines));
        self
    }

    /// Adds an EAN-13 barcode.
    pub fn ean13(mut self, code: Ean13) -> Self {
        self.elements.push(Element::Ean13(code));
        self
    }

    /// Adds a CODE128 barcode.
    pub fn code128(mut self, code: Code128) -> Self {
        self.elements.push(Element::Code128(code));
        self
    }

    /// Adds a QR code.
    pub fn qr(mut self, code: QrCode) -> Self {
        self.elements.push(Element::Qr(code));
        self
    }

    /// Adds a raster image (logo).
    pub fn image(mut self, image: Image) -> Self {
        self.elements.push(Element::Image(image));
        self
    }

    /// Adds a paper cut.
    pub fn cut(mut self, cut: Cut) -> Self {
        self.elements.push(Element::Cut(cut));
        self
    }

    /// Adds a cash drawer pulse.
    pub fn drawer_kick(mut self, kick: DrawerKick) -> Self {
        self.elements.push(Element::DrawerKick(kick));
        self
    }
}

impl Extend<Element> for Document {
    fn extend<I: IntoIterator<Item = Element>>(&mut self, iter: I) {
        self.elements.extend(iter);
    }
}

impl Element {
    /// A plain text element, for [`Document::push`].
    pub fn text(text: impl Into<String>, style: Style) -> Self {
        Element::Text {
            text: text.into(),
            style,
        }
    }

    /// An item line element, for [`Document::push`].
    pub fn item(left: impl Into<String>, right: impl Into<String>, style: Style) -> Self {
        Element::TwoColumn {
            left: left.into(),
            right: right.into(),
            style,
        }
    }
}

/// The 13 digits of a valid EAN-13 (the check digit verified or computed).
///
/// Validated here so a typo in a voucher number is caught when the receipt is built, not by
/// a printer that silently prints nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ean13 {
    digits: [u8; 13],
}

impl Ean13 {
    /// Accepts 13 digits with a correct check digit, or 12 digits (the check digit is
    /// computed and appended).
    pub fn new(data: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidBarcode {
            symbology: "EAN-13",
            data: data.to_owned(),
            reason: reason.to_owned(),
        };
        if !data.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("only digits 0-9 are allowed"));
        }
        let given = data.as_bytes();
        if given.len() != 12 && given.len() != 13 {
            return Err(invalid("needs 12 digits (check digit computed) or 13"));
        }
        let mut digits = [b'0'; 13];
        digits[..given.len()].copy_from_slice(given);
        let check = ean13_check_digit(&digits[..12]);
        if given.len() == 13 && digits[12] != check {
            return Err(invalid(&format!(
                "wrong check digit {}, expected {}",
                char::from(digits[12]),
                char::from(check)
            )));
        }
        digits[12] = check;
        Ok(Ean13 { digits })
    }

    /// The 13 ASCII digits, check digit last.
    pub fn digits(&self) -> &[u8; 13] {
        &self.digits
    }
}

/// The EAN-13 check digit (as an ASCII digit) of the first 12 ASCII digits.
fn ean13_check_digit(first12: &[u8]) -> u8 {
    let sum: u32 = first12
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    // The result is 0..=9, so it fits a byte.
    b'0' + ((10 - sum % 10) % 10) as u8
}

/// Which CODE128 code set a barcode uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeSet {
    /// Code set B: printable ASCII, one symbol per character.
    B,
    /// Code set C: digit pairs, one symbol per two digits (half as wide for numbers).
    C,
}

/// Data for a CODE128 barcode: receipt numbers, return labels, voucher codes.
///
/// An even-length string of digits is encoded in code set C (half the width), anything
/// else in code set B.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code128 {
    data: String,
    code_set: CodeSet,
}

impl Code128 {
    /// The most symbols that still fit 384-dot (58 mm) paper at the narrowest module width:
    /// 11 modules per symbol plus start, check and stop (11 × (31 + 2) + 13 = 376 dots).
    pub const MAX_SYMBOLS: usize = 31;

    /// Accepts printable ASCII (space to `~`); refuses data too long for a 58 mm receipt.
    pub fn new(data: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidBarcode {
            symbology: "CODE128",
            data: data.to_owned(),
            reason,
        };
        if data.is_empty() {
            return Err(invalid("is empty".to_owned()));
        }
        if !data.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
            return Err(invalid(
                "only printable ASCII (space to ~) can be encoded".to_owned(),
            ));
        }
        let all_digits = data.bytes().all(|b| b.is_ascii_digit());
        let (code_set, symbols) = if all_digits && data.len().is_multiple_of(2) {
            (CodeSet::C, data.len() / 2)
        } else {
            (CodeSet::B, data.len())
        };
        if symbols > Self::MAX_SYMBOLS {
            return Err(invalid(format!(
                "too long: {symbols} symbols, at most {} fit on 58 mm paper",
                Self::MAX_SYMBOLS
            )));
        }
        Ok(Code128 {
            data: data.to_owned(),
            code_set,
        })
    }

    /// The data as given.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The code set chosen for the data.
    pub fn code_set(&self) -> CodeSet {
        self.code_set
    }

    /// Number of CODE128 symbols for the data (without start, check and stop).
    pub fn symbols(&self) -> usize {
        match self.code_set {
            CodeSet::B => self.data.len(),
            CodeSet::C => self.data.len() / 2,
        }
    }
}

/// QR error correction level: how much of the symbol may be damaged and still scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ErrorCorrection {
    /// About 7 % — the smallest symbol.
    L,
    /// About 15 % — a sensible default for receipts.
    #[default]
    M,
    /// About 25 %.
    Q,
    /// About 30 % — for codes that get crumpled in wallets.
    H,
}

/// A QR code: a link to the digital receipt, a signature line (RKSV in Austria), etc.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QrCode {
    data: Vec<u8>,
    module_size: u8,
    error_correction: ErrorCorrection,
}

impl QrCode {
    /// The most bytes a QR code (version 40, level L, byte mode) can hold.
    pub const MAX_BYTES: usize = 2953;

    /// `module_size` is the width of one QR module in dots (1..=16; 4–6 scan well on
    /// receipts). The data is stored as UTF-8 bytes.
    pub fn new(
        data: impl Into<Vec<u8>>,
        module_size: u8,
        error_correction: ErrorCorrection,
    ) -> Result<Self> {
        let data = data.into();
        let invalid = |reason: String| Error::InvalidBarcode {
            symbology: "QR",
            data: String::from_utf8_lossy(&data).into_owned(),
            reason,
        };
        if data.is_empty() {
            return Err(invalid("is empty".to_owned()));
        }
        if data.len() > Self::MAX_BYTES {
            return Err(invalid(format!(
                "{} bytes, a QR code holds at most {}",
                data.len(),
                Self::MAX_BYTES
            )));
        }
        if !(1..=16).contains(&module_size) {
            return Err(invalid(format!(
                "module size {module_size} is outside 1..=16 dots"
            )));
        }
        Ok(QrCode {
            data,
            module_size,
            error_correction,
        })
    }

    /// The encoded bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Module width in dots.
    pub fn module_size(&self) -> u8 {
        self.module_size
    }

    /// The error correction level.
    pub fn error_correction(&self) -> ErrorCorrection {
        self.error_correction
    }
}

/// A 1-bit raster image (black dots on paper), e.g. the shop logo.
///
/// `bits` holds the rows top to bottom, each row `(width + 7) / 8` bytes, most significant
/// bit leftmost, 1 = black. That is the printer's raster format, so printing copies it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Image {
    width: u16,
    height: u16,
    bits: Vec<u8>,
}

impl Image {
    /// The widest paper we drive (80 mm, 576 dots); wider images cannot be printed whole.
    pub const MAX_WIDTH: u16 = 576;
    /// The tallest raster image an Epson TM accepts in one `GS v 0`.
    pub const MAX_HEIGHT: u16 = 2303;

    /// An image from packed rows (see the type's description).
    pub fn new(width: u16, height: u16, bits: Vec<u8>) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidImage { reason };
        if width == 0 || height == 0 {
            return Err(invalid(format!("size {width}x{height} is empty")));
        }
        if width > Self::MAX_WIDTH {
            return Err(invalid(format!(
                "{width} dots wide, paper has at most {} dots",
                Self::MAX_WIDTH
            )));
        }
        if height > Self::MAX_HEIGHT {
            return Err(invalid(format!(
                "{height} dots tall, printers take at most {}",
                Self::MAX_HEIGHT
            )));
        }
        let expected = usize::from(width).div_ceil(8) * usize::from(height);
        if bits.len() != expected {
            return Err(invalid(format!(
                "{} bytes of bits for {width}x{height}, expected {expected}",
                bits.len()
            )));
        }
        Ok(Image {
            width,
            height,
            bits,
        })
    }

    /// An image from 8-bit greyscale pixels (row by row, 0 = black, 255 = white): pixels
    /// darker than `threshold` print black. For logos loaded from files by the daemon.
    pub fn from_greyscale(width: u16, height: u16, pixels: &[u8], threshold: u8) -> Result<Self> {
        let (w, h) = (usize::from(width), usize::from(height));
        if pixels.len() != w * h {
            return Err(Error::InvalidImage {
                reason: format!(
                    "{} greyscale pixels for {width}x{height}, expected {}",
                    pixels.len(),
                    w * h
                ),
            });
        }
        let row_bytes = w.div_ceil(8);
        let mut bits = vec![0u8; row_bytes * h];
        if w > 0 {
            for (y, row) in pixels.chunks_exact(w).enumerate() {
                for (x, &pixel) in row.iter().enumerate() {
                    if pixel < threshold {
                        bits[y * row_bytes + x / 8] |= 0x80 >> (x % 8);
                    }
                }
            }
        }
        Image::new(width, height, bits)
    }

    /// Width in dots.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Height in dots.
    pub fn height(&self) -> u16 {
        self.height
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> usize {
        usize::from(self.width).div_ceil(8)
    }

    /// The packed rows.
    pub fn bits(&self) -> &[u8] {
        &self.bits
    }

    /// Whether the dot at (`x`, `y`) prints black; false outside the image.
    pub fn is_black(&self, x: u16, y: u16) -> bool {
        if x >= self.width || y >= self.height {
            return false;
        }
        let index = usize::from(y) * self.row_bytes() + usize::from(x) / 8;
        self.bits
            .get(index)
            .is_some_and(|byte| byte & (0x80 >> (x % 8)) != 0)
    }
}

/// How far the knife goes through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CutKind {
    /// Leaves a small bridge so the receipt does not fall on the floor (usual at tills).
    #[default]
    Partial,
    /// Cuts through.
    Full,
}

/// A paper cut after the printed content has been fed past the knife.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Cut {
    /// Partial or full.
    pub kind: CutKind,
    /// Extra paper fed beyond the cutting position before cutting, in the printer's
    /// vertical motion units (1/203 in ≈ 0.125 mm on TM printers); 0 cuts right below the
    /// last line.
    pub feed: u8,
}

impl Cut {
    /// A partial cut right below the last line.
    pub const fn partial() -> Self {
        Cut {
            kind: CutKind::Partial,
            feed: 0,
        }
    }

    /// A full cut right below the last line.
    pub const fn full() -> Self {
        Cut {
            kind: CutKind::Full,
            feed: 0,
        }
    }

    /// The same cut with `units` of extra feed first.
    pub const fn with_feed(mut self, units: u8) -> Self {
        self.feed = units;
        self
    }
}

/// Which pin of the printer's drawer connector (DK port) the drawer hangs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DrawerPin {
    /// Pin 2: the first (usually only) drawer.
    #[default]
    Pin2,
    /// Pin 5: a second drawer on a Y cable.
    Pin5,
}

/// A pulse on the drawer connector: on for `on_ms`, then off for `off_ms`.
///
/// Printers count in 2 ms steps up to 510 ms; longer values are capped, odd ones rounded
/// up so the solenoid gets at least the time asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DrawerKick {
    /// The connector pin.
    pub pin: DrawerPin,
    /// Pulse length in milliseconds (drawer makers ask for 50–200 ms).
    pub on_ms: u16,
    /// Pause after the pulse in milliseconds.
    pub off_ms: u16,
}

impl DrawerKick {
    /// A pulse on `pin`.
    pub const fn new(pin: DrawerPin, on_ms: u16, off_ms: u16) -> Self {
        DrawerKick { pin, on_ms, off_ms }
    }
}

impl Default for DrawerKick {
    /// Pin 2, 100 ms on, 200 ms off: what most drawers need.
    fn default() -> Self {
        DrawerKick::new(DrawerPin::Pin2, 100, 200)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ean13_accepts_a_correct_check_digit_and_computes_a_missing_one() {
        assert_eq!(
            Ean13::new("4006381333931").unwrap().digits(),
            b"4006381333931"
        );
        assert_eq!(
            Ean13::new("400638133393").unwrap().digits(),
            b"4006381333931"
        );
        assert_eq!(
            Ean13::new("590123412345").unwrap().digits(),
            b"5901234123457"
        );
        assert_eq!(
            Ean13::new("000000000000").unwrap().digits(),
            b"0000000000000"
        );
    }

    #[test]
    fn ean13_refuses_wrong_check_digit_letters_and_wrong_length() {
        let err = Ean13::new("4006381333932").unwrap_err().to_string();
        assert!(err.contains("wrong check digit 2, expected 1"), "{err}");
        assert!(Ean13::new("40063813339a1").is_err());
        assert!(Ean13::new("40063813339").is_err());
        assert!(Ean13::new("40063813339310").is_err());
        assert!(Ean13::new("").is_err());
    }

    #[test]
    fn code128_uses_code_set_c_only_for_even_digit_strings() {
        assert_eq!(Code128::new("12345678").unwrap().code_set(), CodeSet::C);
        assert_eq!(Code128::new("12345678").unwrap().symbols(), 4);
        assert_eq!(Code128::new("1234567").unwrap().code_set(), CodeSet::B);
        assert_eq!(Code128::new("R-0042").unwrap().code_set(), CodeSet::B);
    }

    #[test]
    fn code128_refuses_non_ascii_empty_and_too_long_data() {
        assert!(Code128::new("Müsli").is_err());
        assert!(Code128::new("a\tb").is_err());
        assert!(Code128::new("").is_err());
        assert!(Code128::new(&"A".repeat(31)).is_ok());
        assert!(Code128::new(&"A".repeat(32)).is_err());
        assert!(Code128::new(&"1".repeat(62)).is_ok());
        assert!(Code128::new(&"1".repeat(64)).is_err());
    }

    #[test]
    fn qr_refuses_empty_too_long_data_and_bad_module_size() {
        assert!(QrCode::new("x", 4, ErrorCorrection::M).is_ok());
        assert!(QrCode::new("", 4, ErrorCorrection::M).is_err());
        assert!(QrCode::new(vec![b'x'; 2954], 4, ErrorCorrection::L).is_err());
        assert!(QrCode::new("x", 0, ErrorCorrection::M).is_err());
        assert!(QrCode::new("x", 17, ErrorCorrection::M).is_err());
    }

    #[test]
    fn greyscale_threshold_makes_dark_pixels_black() {
        // 10x2: first row dark-light alternating, second row all light except the last.
        let mut pixels = vec![255u8; 20];
        for x in (0..10).step_by(2) {
            pixels[x] = 0;
        }
        pixels[19] = 100;
        let image = Image::from_greyscale(10, 2, &pixels, 128).unwrap();
        assert_eq!(image.bits(), &[0b1010_1010, 0b1000_0000, 0, 0b0100_0000]);
        assert!(image.is_black(0, 0));
        assert!(!image.is_black(1, 0));
        assert!(image.is_black(9, 1));
        assert!(!image.is_black(10, 1));
        // A pixel exactly at the threshold stays white.
        let image = Image::from_greyscale(1, 1, &[128], 128).unwrap();
        assert!(!image.is_black(0, 0));
    }

    #[test]
    fn image_refuses_sizes_that_do_not_add_up() {
        assert!(Image::new(8, 2, vec![0; 2]).is_ok());
        assert!(Image::new(9, 2, vec![0; 2]).is_err());
        assert!(Image::new(0, 1, vec![]).is_err());
        assert!(Image::new(577, 1, vec![0; 73]).is_err());
        assert!(Image::new(8, 2304, vec![0; 2304]).is_err());
        assert!(Image::from_greyscale(3, 3, &[0; 8], 128).is_err());
    }

    #[test]
    fn builder_keeps_elements_in_order() {
        let mut doc = Document::new().line("a").separator('-');
        doc.push(Element::item("b", "1,00", Style::new()));
        doc.extend([Element::Feed(1)]);
        assert_eq!(
            doc.elements,
            [
                Element::text("a", Style::new()),
                Element::Separator('-'),
                Element::item("b", "1,00", Style::new()),
                Element::Feed(1),
            ]
        );
    }
}
