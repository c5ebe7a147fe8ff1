//! Interpreter: apply commands to the printer's modes and collect receipts.
//!
//! It plays the part of the printer's firmware in standard mode: a line buffer that `LF`
//! prints, modes set by commands, and a cut that ends the receipt. Behaviour follows the
//! Epson ESC/POS reference where it matters for what lands on paper:
//! * `ESC a` only takes effect at the beginning of a line (a warning says when it did not);
//! * `ESC @` discards text that was not yet printed (warned) and resets every mode;
//! * barcodes, QR codes, images and cuts first print a pending partial line;
//! * invalid barcode data prints nothing (warned), as the printer ignores the command.

use crate::codepage::CodePage;
use crate::command::Command;
use crate::receipt::{
    Align, Barcode, BarcodeKind, Cut, DrawerKick, HriPosition, Line, Output, QrCode,
    QrErrorCorrection, RasterImage, Receipt, Span, TextLine,
};
use crate::symbology;

/// Default `GS h` bar height in dots.
const DEFAULT_BARCODE_HEIGHT: u8 = 162;
/// Default `GS w` module width in dots.
const DEFAULT_MODULE_WIDTH: u8 = 3;
/// Default QR module size in dots.
const DEFAULT_QR_MODULE: u8 = 3;
/// Tab stops every this many columns (the Epson default).
const TAB_WIDTH: usize = 8;

/// Everything `ESC @` resets.
#[derive(Debug, Clone)]
struct Modes {
    code_page: CodePage,
    align: Align,
    bold: bool,
    width: u8,
    height: u8,
    barcode_height: u8,
    module_width: u8,
    hri: HriPosition,
    qr_module: u8,
    qr_ec: QrErrorCorrection,
    qr_data: Option<Vec<u8>>,
}

impl Default for Modes {
    fn default() -> Self {
        Modes {
            code_page: CodePage::Pc437,
            align: Align::Left,
            bold: false,
            width: 1,
            height: 1,
            barcode_height: DEFAULT_BARCODE_HEIGHT,
            module_width: DEFAULT_MODULE_WIDTH,
            hri: HriPosition::None,
            qr_module: DEFAULT_QR_MODULE,
            qr_ec: QrErrorCorrection::L,
            qr_data: None,
        }
    }
}

/// Turns commands into receipts; one interpreter per stream (connection).
#[derive(Debug, Default)]
pub struct Interpreter {
    modes: Modes,
    /// The line buffer: text not yet ended by LF.
    spans: Vec<Span>,
    /// Alignment captured when the line buffer became non-empty.
    line_align: Align,
    receipt: Receipt,
    /// Last warning text and how often it repeated in a row, so a run of garbage gives one
    /// readable warning instead of thousands.
    last_warning: Option<(String, usize)>,
}

impl Interpreter {
    /// A printer fresh after power-on.
    pub fn new() -> Self {
        Self::default()
    }

    /// Apply one command; returns the receipt it finished if it was a cut, or the drawer
    /// kick if it was one (the drawer opens at once, whatever is on the paper).
    pub fn apply(&mut self, command: Command) -> Option<Output> {
        match command {
            Command::Init => {
                if !self.spans.is_empty() {
                    let text: String = self.spans.iter().map(|s| s.text.as_str()).collect();
                    self.warn(format!(
                        "ESC @ discarded text that was never ended by LF: {text:?}"
                    ));
                    self.spans.clear();
                }
                self.modes = Modes::default();
            }
            Command::SelectCodePage(n) => match CodePage::from_esc_t(n) {
                Some(page) => self.modes.code_page = page,
                None => self.warn(format!(
                    "ESC t {n}: code page not supported, still using {}",
                    self.modes.code_page.name()
                )),
            },
            Command::Text(bytes) => {
                let page = self.modes.code_page;
                let text: String = bytes.iter().map(|&b| page.decode_byte(b)).collect();
                self.push_text(&text);
            }
            Command::LineFeed => {
                if self.spans.is_empty() {
                    self.receipt.lines.push(Line::Feed(1));
                } else {
                    self.flush_line();
                }
            }
            Command::CarriageReturn | Command::StatusRequest(_) => {}
            Command::Tab => {
                let used: usize = self
                    .spans
                    .iter()
                    .map(|s| s.text.chars().count() * usize::from(s.width))
                    .sum();
                let width = usize::from(self.modes.width);
                let spaces = (TAB_WIDTH - used % TAB_WIDTH).div_ceil(width).max(1);
                self.push_text(&" ".repeat(spaces));
            }
            Command::Align(n) => {
                let align = match n {
                    0 | 48 => Some(Align::Left),
                    1 | 49 => Some(Align::Center),
                    2 | 50 => Some(Align::Right),
                    _ => None,
                };
                match align {
                    None => self.warn(format!("ESC a {n}: unknown alignment, ignored")),
                    Some(align) if self.spans.is_empty() => self.modes.align = align,
                    Some(_) => self.warn(
                        "ESC a in the middle of a line is ignored by the printer".to_string(),
                    ),
                }
            }
            Command::Bold(n) => self.modes.bold = n & 1 == 1,
            Command::CharSize(n) => {
                let width = ((n >> 4) & 0x07) + 1;
                let height = (n & 0x07) + 1;
                self.modes.width = width;
                self.modes.height = height;
            }
            Command::PrintMode(n) => {
                self.modes.bold = n & 0x08 != 0;
                self.modes.height = if n & 0x10 != 0 { 2 } else { 1 };
                self.modes.width = if n & 0x20 != 0 { 2 } else { 1 };
                if n & 0x81 != 0 {
                    self.warn(format!(
                        "ESC ! {n}: font B / underline not rendered, printed as font A"
                    ));
                }
            }
            Command::FeedLines(n) => {
                let mut feed = u32::from(n);
                if !self.spans.is_empty() {
                    self.flush_line();
                    feed = feed.saturating_sub(1);
                }
                if feed > 0 {
                    self.receipt.lines.push(Line::Feed(feed));
                }
            }
            Command::BarcodeHeight(n) => {
                if n == 0 {
                    self.warn("GS h 0: bar height 0 is invalid, ignored".to_string());
                } else {
                    self.modes.barcode_height = n;
                }
            }
            Command::BarcodeModuleWidth(n) => {
                if (1..=6).contains(&n) || (68..=76).contains(&n) {
                    self.modes.module_width = if n >= 68 { n - 66 } else { n };
                } else {
                    self.warn(format!("GS w {n}: module width out of range, ignored"));
                }
            }
            Command::HriPosition(n) => {
                self.modes.hri = match n {
                    0 | 48 => HriPosition::None,
                    1 | 49 => HriPosition::Above,
                    2 | 50 => HriPosition::Below,
                    3 | 51 => HriPosition::Both,
                    _ => {
                        self.warn(format!("GS H {n}: unknown HRI position, ignored"));
                        self.modes.hri
                    }
                };
            }
            Command::Barcode { system, data } => self.barcode(system, data),
            Command::Qr { function, params } => self.qr(function, &params),
            Command::RasterImage {
                mode,
                width_bytes,
                height,
                data,
            } => {
                self.flush_partial_line();
                let (scale_x, scale_y) = match mode {
                    0 | 48 => (1, 1),
                    1 | 49 => (2, 1),
                    2 | 50 => (1, 2),
                    3 | 51 => (2, 2),
                    _ => {
                        self.warn(format!("GS v 0 mode {mode} unknown, printed unscaled"));
                        (1, 1)
                    }
                };
                let align = self.modes.align;
                self.receipt.lines.push(Line::Image(RasterImage {
                    width: u32::try_from(width_bytes * 8).unwrap_or(u32::MAX),
                    height: u32::try_from(height).unwrap_or(u32::MAX),
                    bits: data,
                    scale_x,
                    scale_y,
                    align,
                }));
            }
            Command::Cut { partial, feed_dots } => {
                self.flush_partial_line();
                self.receipt.cut = Some(Cut { partial, feed_dots });
                return Some(Output::Receipt(self.take_receipt()));
            }
            Command::DrawerKick { pin, on, off } => {
                return Some(Output::DrawerKick(DrawerKick {
                    m: pin,
                    on_ms: u32::from(on) * 2,
                    off_ms: u32::from(off) * 2,
                }));
            }
            Command::Skipped { reason } => self.warn(reason),
        }
        None
    }

    /// End of stream: the unfinished receipt, if anything happened since the last cut.
    pub fn finish(mut self) -> Option<Receipt> {
        self.flush_partial_line();
        let receipt = self.take_receipt();
        (!receipt.is_empty()).then_some(receipt)
    }

    /// Record a warning, folding immediate repeats into one line with a count.
    fn warn(&mut self, text: String) {
        match &mut self.last_warning {
            Some((last, count)) if *last == text => *count += 1,
            _ => {
                self.flush_warning();
                self.last_warning = Some((text, 1));
            }
        }
    }

    fn flush_warning(&mut self) {
        if let Some((text, count)) = self.last_warning.take() {
            let line = if count > 1 {
                format!("{text} (×{count})")
            } else {
                text
            };
            self.receipt.warnings.push(line);
        }
    }

    fn take_receipt(&mut self) -> Receipt {
        self.flush_warning();
        std::mem::take(&mut self.receipt)
    }

    fn push_text(&mut self, text: &str) {
        if self.spans.is_empty() {
            self.line_align = self.modes.align;
        }
        let (bold, width, height) = (self.modes.bold, self.modes.width, self.modes.height);
        match self.spans.last_mut() {
            Some(span) if span.bold == bold && span.width == width && span.height == height => {
                span.text.push_str(text);
            }
            _ => self.spans.push(Span {
                text: text.to_string(),
                bold,
                width,
                height,
            }),
        }
    }

    /// Print the line buffer as a text line.
    fn flush_line(&mut self) {
        let spans = std::mem::take(&mut self.spans);
        self.receipt.lines.push(Line::Text(TextLine {
            align: self.line_align,
            spans,
        }));
    }

    /// Print the line buffer if it holds anything (before a barcode, image, cut).
    fn flush_partial_line(&mut self) {
        if !self.spans.is_empty() {
            self.flush_line();
        }
    }

    fn barcode(&mut self, system: u8, data: Vec<u8>) {
        self.flush_partial_line();
        let parsed = match system {
            2 | 67 => symbology::parse_ean13(&data).map(|ean| {
                if let Some(expected) = ean.wrong_check_digit {
                    self.warn(format!(
                        "EAN-13 {}: check digit should be {expected}; scanners will reject it",
                        String::from_utf8_lossy(&data)
                    ));
                }
                let text: String = ean.digits.iter().map(|d| char::from(b'0' + d)).collect();
                (BarcodeKind::Ean13, text)
            }),
            73 => symbology::parse_code128(&data).map(|code| (BarcodeKind::Code128, code.text)),
            other => {
                self.warn(format!(
                    "GS k {other}: barcode system not drawn by the virtual printer"
                ));
                Ok((
                    BarcodeKind::Other(other),
                    String::from_utf8_lossy(&data).into_owned(),
                ))
            }
        };
        match parsed {
            Ok((kind, text)) => self.receipt.lines.push(Line::Barcode(Barcode {
                kind,
                data: text,
                raw: data,
                align: self.modes.align,
                height: self.modes.barcode_height,
                module_width: self.modes.module_width,
                hri: self.modes.hri,
            })),
            Err(problem) => self.warn(format!("barcode not printed: {problem}")),
        }
    }

    fn qr(&mut self, function: u8, params: &[u8]) {
        match (function, params) {
            (65, [model, ..]) => {
                if *model != 50 {
                    self.warn(format!(
                        "QR model {model} requested; the virtual printer draws model 2"
                    ));
                }
            }
            (67, [size]) => {
                if (1..=16).contains(size) {
                    self.modes.qr_module = *size;
                } else {
                    self.warn(format!("QR module size {size} out of range 1–16, ignored"));
                }
            }
            (69, [level]) => {
                self.modes.qr_ec = match level {
                    48 => QrErrorCorrection::L,
                    49 => QrErrorCorrection::M,
                    50 => QrErrorCorrection::Q,
                    51 => QrErrorCorrection::H,
                    _ => {
                        self.warn(format!("QR error correction {level} unknown, ignored"));
                        self.modes.qr_ec
                    }
                };
            }
            (80, [48, data @ ..]) => self.modes.qr_data = Some(data.to_vec()),
            (81, [48]) => self.print_qr(),
            _ => self.warn(format!(
                "GS ( k QR function {function} with {} parameter bytes not supported, skipped",
                params.len()
            )),
        }
    }

    fn print_qr(&mut self) {
        self.flush_partial_line();
        let Some(raw) = self.modes.qr_data.clone() else {
            self.warn("QR print (fn 181) without stored data, nothing printed".to_string());
            return;
        };
        if raw.is_empty() {
            self.warn("QR print with empty stored data, nothing printed".to_string());
            return;
        }
        let ec = self.modes.qr_ec;
        if let Err(problem) = qrcode::QrCode::with_error_correction_level(&raw, qr_level(ec)) {
            self.warn(format!("QR code not printed: {problem}"));
            return;
        }
        self.receipt.lines.push(Line::Qr(QrCode {
            data: String::from_utf8_lossy(&raw).into_owned(),
            raw,
            module_size: self.modes.qr_module,
            error_correction: ec,
            align: self.modes.align,
        }));
    }
}

/// The `qrcode` crate's level for ours.
pub(crate) fn qr_level(ec: QrErrorCorrection) -> qrcode::EcLevel {
    match ec {
        QrErrorCorrection::L => qrcode::EcLevel::L,
        QrErrorCorrection::M => qrcode::EcLevel::M,
        QrErrorCorrection::Q => qrcode::EcLevel::Q,
        QrErrorCorrection::H => qrcode::EcLevel::H,
    }
}
