//! Rendering: a [`Document`] for one printer's [`Profile`] becomes ESC/POS bytes.
//!
//! Rendering never fails: everything that could be refused was refused when the document
//! was built. What cannot be printed exactly (a character missing from the code page) is
//! printed as a visible replacement and reported in [`Rendered::warnings`].
//!
//! The byte stream starts with `ESC @` and `ESC t n`, ends every text line with `LF`, and
//! sends alignment, bold and size commands only when they change. The full command list is
//! in the crate documentation.

mod test_page;
mod wrap;

pub use test_page::{TestPageInfo, test_page};

use serde::Deserialize;

use crate::codepage::{CodePage, Warning};
use crate::commands;
use crate::document::{
    Align, Code128, CodeSet, Cut, Document, DrawerKick, DrawerPin, Ean13, Element, Image, QrCode,
    Style,
};
use crate::error::{Error, Result};
use wrap::wrap;

/// What the renderer needs to know about one printer: paper width in characters and dots,
/// its code page, whether it can cut.
///
/// Read by the daemon from its configuration, e.g. in TOML:
///
/// ```toml
/// columns = 48
/// code_page = "pc858"
/// dots_per_line = 576
/// cut = true          # optional, default true
/// ```
///
/// `columns` must match the font the printer uses by default (we never switch fonts):
/// font A gives 32 columns on 58 mm paper (384 dots), 42 on 512 dots and 48 on 576 dots
/// (80 mm); font B gives 42, 56 and 64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "ProfileConfig")]
pub struct Profile {
    /// Characters per line in normal size; double-width text gets half.
    pub columns: u8,
    /// The character table selected with `ESC t n` and used for all text.
    pub code_page: CodePage,
    /// Printable width in dots (384, 512 or 576): barcodes are sized and images cropped to it.
    pub dots_per_line: u16,
    /// Whether the printer has a cutter; without one a cut becomes a feed to the tear bar.
    pub cut: bool,
}

/// The configuration form of [`Profile`], checked by [`Profile::new`] on the way in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileConfig {
    columns: u8,
    code_page: CodePage,
    dots_per_line: u16,
    #[serde(default = "default_cut")]
    cut: bool,
}

fn default_cut() -> bool {
    true
}

impl TryFrom<ProfileConfig> for Profile {
    type Error = Error;

    fn try_from(c: ProfileConfig) -> Result<Self> {
        Profile::new(c.columns, c.code_page, c.dots_per_line, c.cut)
    }
}

impl Profile {
    /// A profile, refusing values no receipt printer has (a typo in the configuration
    /// should stop the daemon with a message, not print a garbled receipt).
    pub fn new(columns: u8, code_page: CodePage, dots_per_line: u16, cut: bool) -> Result<Self> {
        if !(16..=96).contains(&columns) {
            return Err(Error::InvalidProfile {
                reason: format!("columns = {columns}, expected 16..=96 (usually 32, 42 or 48)"),
            });
        }
        if !(128..=1024).contains(&dots_per_line) || !dots_per_line.is_multiple_of(8) {
            return Err(Error::InvalidProfile {
                reason: format!(
                    "dots_per_line = {dots_per_line}, expected a multiple of 8 in 128..=1024 \
                     (usually 384, 512 or 576)"
                ),
            });
        }
        Ok(Profile {
            columns,
            code_page,
            dots_per_line,
            cut,
        })
    }

    /// 58 mm paper: 32 columns, 384 dots, with cutter.
    pub const fn paper_58mm(code_page: CodePage) -> Self {
        Profile {
            columns: 32,
            code_page,
            dots_per_line: 384,
            cut: true,
        }
    }

    /// 80 mm paper on a 512-dot printer: 42 columns, with cutter.
    pub const fn paper_80mm_512(code_page: CodePage) -> Self {
        Profile {
            columns: 42,
            code_page,
            dots_per_line: 512,
            cut: true,
        }
    }

    /// 80 mm paper on a 576-dot printer (Epson TM-T88 and the like): 48 columns, with cutter.
    pub const fn paper_80mm(code_page: CodePage) -> Self {
        Profile {
            columns: 48,
            code_page,
            dots_per_line: 576,
            cut: true,
        }
    }
}

/// The bytes of a rendered document, and what could not be printed exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// ESC/POS bytes, ready for [`crate::transport::Transport::write_all`].
    pub bytes: Vec<u8>,
    /// One entry per distinct character the code page lacks; the daemon logs them.
    pub warnings: Vec<Warning>,
}

/// Lines fed instead of cutting on printers without a cutter ([`Profile::cut`] false), so
/// the last printed line clears the tear bar.
pub const TEAR_OFF_FEED_LINES: u8 = 4;

/// Height of 1D barcodes in dots (10 mm at 203 dpi): tall enough for hand scanners.
pub const BARCODE_HEIGHT_DOTS: u8 = 80;

/// Renders `document` for the printer described by `profile`.
pub fn render(document: &Document, profile: &Profile) -> Rendered {
    let mut renderer = Renderer {
        profile,
        out: Vec::with_capacity(estimated_size(document)),
        warnings: Vec::new(),
        scratch: Vec::with_capacity(128),
        align: Align::Left,
        bold: false,
        size: 0,
    };
    commands::init(&mut renderer.out);
    commands::code_table(&mut renderer.out, profile.code_page.escpos_table());
    for element in &document.elements {
        renderer.element(element);
    }
    Rendered {
        bytes: renderer.out,
        warnings: renderer.warnings,
    }
}

/// The bytes that open a cash drawer on its own (no receipt): `ESC p m t1 t2`.
///
/// Times are in milliseconds; the printer counts 2 ms steps up to 510 ms, so odd values
/// are rounded up and longer ones capped.
pub fn drawer_kick(pin: DrawerPin, on_ms: u16, off_ms: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(5);
    commands::drawer_pulse(&mut out, pin, on_ms, off_ms);
    out
}

/// A guess of the output size, so the output buffer is allocated once.
fn estimated_size(document: &Document) -> usize {
    document
        .elements
        .iter()
        .map(|element| match element {
            Element::Text { text, .. } => text.len() + 16,
            Element::TwoColumn { .. } => 64,
            Element::Image(image) => image.bits().len() + 16,
            Element::Qr(qr) => qr.data().len() + 48,
            _ => 96,
        })
        .sum::<usize>()
        + 8
}

/// The state of one rendering: the output so far and the printer modes it has set.
struct Renderer<'p> {
    profile: &'p Profile,
    out: Vec<u8>,
    warnings: Vec<Warning>,
    /// Encoded text of the element being rendered, reused to avoid allocations.
    scratch: Vec<u8>,
    align: Align,
    bold: bool,
    /// The current `GS !` value.
    size: u8,
}

impl Renderer<'_> {
    fn element(&mut self, element: &Element) {
        match element {
            Element::Text { text, style } => self.text(text, *style),
            Element::TwoColumn { left, right, style } => self.two_column(left, right, *style),
            Element::Separator(c) => self.separator(*c),
            Element::Feed(lines) => {
                if *lines > 0 {
                    commands::feed_lines(&mut self.out, *lines);
                }
            }
            Element::Ean13(code) => self.ean13(code),
            Element::Code128(code) => self.code128(code),
            Element::Qr(code) => self.qr(code),
            Element::Image(image) => self.image(image),
            Element::Cut(cut) => self.cut(*cut),
            Element::DrawerKick(DrawerKick { pin, on_ms, off_ms }) => {
                commands::drawer_pulse(&mut self.out, *pin, *on_ms, *off_ms);
            }
        }
    }

    fn text(&mut self, text: &str, style: Style) {
        let width = self.apply(style);
        for paragraph in text.split('\n') {
            let paragraph = paragraph.strip_suffix('\r').unwrap_or(paragraph);
            self.scratch.clear();
            self.profile
                .code_page
                .encode_into(paragraph, &mut self.scratch, &mut self.warnings);
            for line in wrap(&self.scratch, width) {
                self.out.extend_from_slice(line);
                self.out.push(commands::LF);
            }
        }
    }

    fn two_column(&mut self, left: &str, right: &str, style: Style) {
        let width = self.apply(Style {
            align: Align::Left,
            ..style
        });
        let code_page = self.profile.code_page;
        self.scratch.clear();
        code_page.encode_into(left.trim_end(), &mut self.scratch, &mut self.warnings);
        let split = self.scratch.len();
        code_page.encode_into(right.trim(), &mut self.scratch, &mut self.warnings);
        let (left, right) = self.scratch.split_at(split);

        let gap = usize::from(!left.is_empty());
        if left.len() + gap + right.len() <= width {
            self.out.extend_from_slice(left);
            pad(&mut self.out, width - left.len() - right.len());
            self.out.extend_from_slice(right);
            self.out.push(commands::LF);
            return;
        }
        // Does not fit: the name on its own line(s), the amount right-aligned below.
        if !left.is_empty() {
            for line in wrap(left, width) {
                self.out.extend_from_slice(line);
                self.out.push(commands::LF);
            }
        }
        for line in wrap(right, width) {
            pad(&mut self.out, width - line.len());
            self.out.extend_from_slice(line);
            self.out.push(commands::LF);
        }
    }

    fn separator(&mut self, c: char) {
        let width = self.apply(Style::new());
        self.scratch.clear();
        let mut utf8 = [0u8; 4];
        self.profile.code_page.encode_into(
            c.encode_utf8(&mut utf8),
            &mut self.scratch,
            &mut self.warnings,
        );
        if !self.scratch.is_empty() {
            self.out
                .extend(self.scratch.iter().copied().cycle().take(width));
        }
        self.out.push(commands::LF);
    }

    fn ean13(&mut self, code: &Ean13) {
        // 95 modules plus the quiet zones (11 left, 7 right).
        self.barcode_setup(95 + 18);
        commands::ean13(&mut self.out, code.digits());
    }

    fn code128(&mut self, code: &Code128) {
        // 11 modules per symbol, start and check symbols, 13 for stop, 10 quiet each side.
        self.barcode_setup(11 * (code.symbols() + 2) + 13 + 20);
        self.scratch.clear();
        match code.code_set() {
            CodeSet::B => {
                self.scratch.extend_from_slice(b"{B");
                for b in code.data().bytes() {
                    // `{` starts a code set switch in ESC/POS, so a literal one is doubled.
                    if b == b'{' {
                        self.scratch.push(b'{');
                    }
                    self.scratch.push(b);
                }
            }
            CodeSet::C => {
                // Code set C is sent as one byte 0..=99 per digit pair, not as ASCII.
                self.scratch.extend_from_slice(b"{C");
                for pair in code.data().as_bytes().chunks_exact(2) {
                    self.scratch.push((pair[0] - b'0') * 10 + (pair[1] - b'0'));
                }
            }
        }
        commands::code128(&mut self.out, &self.scratch);
    }

    /// Centers the barcode and sets height, the widest module that fits, and HRI below.
    fn barcode_setup(&mut self, modules: usize) {
        self.set_align(Align::Center);
        let dots = usize::from(self.profile.dots_per_line);
        let module_width = (1..=3u8)
            .rev()
            .find(|&w| modules * usize::from(w) <= dots)
            .unwrap_or(1);
        commands::barcode_height(&mut self.out, BARCODE_HEIGHT_DOTS);
        commands::barcode_module_width(&mut self.out, module_width);
        commands::hri_below(&mut self.out);
    }

    fn qr(&mut self, code: &QrCode) {
        self.set_align(Align::Center);
        commands::qr_model_2(&mut self.out);
        commands::qr_module_size(&mut self.out, code.module_size());
        commands::qr_error_correction(&mut self.out, code.error_correction());
        commands::qr_store(&mut self.out, code.data());
        commands::qr_print(&mut self.out);
    }

    /// Prints the image centered; one wider than the paper loses equal parts on both
    /// sides (a logo's middle matters most).
    fn image(&mut self, image: &Image) {
        self.set_align(Align::Center);
        let row_bytes = image.row_bytes();
        let max_row_bytes = usize::from(self.profile.dots_per_line / 8);
        if row_bytes <= max_row_bytes {
            // Both fit u16: an image is at most 576 dots wide.
            commands::raster_header(&mut self.out, row_bytes as u16, image.height());
            self.out.extend_from_slice(image.bits());
            return;
        }
        let skip = (row_bytes - max_row_bytes) / 2;
        commands::raster_header(&mut self.out, max_row_bytes as u16, image.height());
        for row in image.bits().chunks_exact(row_bytes) {
            self.out.extend_from_slice(&row[skip..skip + max_row_bytes]);
        }
    }

    fn cut(&mut self, cut: Cut) {
        if self.profile.cut {
            commands::cut(&mut self.out, cut.kind, cut.feed);
        } else {
            commands::feed_lines(&mut self.out, TEAR_OFF_FEED_LINES);
        }
    }

    /// Sets the printer modes for `style`; returns the characters per line in that style.
    fn apply(&mut self, style: Style) -> usize {
        self.set_align(style.align);
        if self.bold != style.bold {
            commands::bold(&mut self.out, style.bold);
            self.bold = style.bold;
        }
        let mut size = 0;
        if style.double_width {
            size |= commands::SIZE_DOUBLE_WIDTH;
        }
        if style.double_height {
            size |= commands::SIZE_DOUBLE_HEIGHT;
        }
        if self.size != size {
            commands::size(&mut self.out, size);
            self.size = size;
        }
        let columns = usize::from(self.profile.columns);
        let width = if style.double_width {
            columns / 2
        } else {
            columns
        };
        width.max(1)
    }

    fn set_align(&mut self, align: Align) {
        if self.align != align {
            let n = match align {
                Align::Left => 0,
                Align::Center => 1,
                Align::Right => 2,
            };
            commands::justify(&mut self.out, n);
            self.align = align;
        }
    }
}

/// Appends `n` spaces.
fn pad(out: &mut Vec<u8>, n: usize) {
    out.resize(out.len() + n, b' ');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{CutKind, ErrorCorrection};

    const INIT_PC858: [u8; 5] = [0x1B, 0x40, 0x1B, 0x74, 19];

    fn bytes(document: Document, profile: &Profile) -> Vec<u8> {
        render(&document, profile).bytes
    }

    /// The printed text lines of `bytes`, skipping the style commands this crate emits.
    fn printed_lines(bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                0x1B | 0x1D => i += 3, // ESC t/a/E n, GS ! n
                0x0A => {
                    lines.push(std::mem::take(&mut line));
                    i += 1;
                }
                b => {
                    line.push(CodePage::Pc858.decode_byte(b).unwrap());
                    i += 1;
                }
            }
        }
        lines
    }

    fn p58() -> Profile {
        Profile::paper_58mm(CodePage::Pc858)
    }

    #[test]
    fn starts_with_init_and_code_table() {
        assert_eq!(bytes(Document::new(), &p58()), INIT_PC858);
        let pc852 = bytes(Document::new(), &Profile::paper_58mm(CodePage::Pc852));
        assert_eq!(pc852, [0x1B, 0x40, 0x1B, 0x74, 18]);
    }

    #[test]
    fn item_amount_ends_at_the_right_edge_for_every_paper_width() {
        for profile in [
            p58(),
            Profile::paper_80mm_512(CodePage::Pc858),
            Profile::paper_80mm(CodePage::Pc858),
        ] {
            let out = bytes(Document::new().item("Milch 1,5 %", "1,29"), &profile);
            let lines = printed_lines(&out[INIT_PC858.len()..]);
            let width = usize::from(profile.columns);
            let expected = format!("Milch 1,5 %{}1,29", " ".repeat(width - 15));
            assert_eq!(lines, [expected]);
        }
    }

    #[test]
    fn item_that_does_not_fit_puts_the_amount_below_right_aligned() {
        let name = "Bio Vollmilch 3,5 % Fett laktosefrei";
        let out = bytes(Document::new().item(name, "12,49"), &p58());
        assert_eq!(
            printed_lines(&out[INIT_PC858.len()..]),
            [
                "Bio Vollmilch 3,5 % Fett".to_owned(),
                "laktosefrei".to_owned(),
                format!("{}12,49", " ".repeat(27)),
            ]
        );
    }

    #[test]
    fn item_needs_at_least_one_space_between_name_and_amount() {
        // 27 + 5 = 32 exactly: no gap left, so the amount moves below.
        let name = "A".repeat(27);
        let out = bytes(Document::new().item(name.clone(), "12,49"), &p58());
        assert_eq!(printed_lines(&out[5..]).len(), 2);
        let name = "A".repeat(26);
        let out = bytes(Document::new().item(name.clone(), "12,49"), &p58());
        assert_eq!(printed_lines(&out[5..]), [format!("{name} 12,49")]);
    }

    #[test]
    fn double_width_halves_the_columns() {
        let doc = Document::new().item_styled("SUMME", "12,50", Style::new().bold().double_size());
        let out = bytes(doc, &p58());
        let mut expected = INIT_PC858.to_vec();
        expected.extend_from_slice(&[0x1B, 0x45, 1, 0x1D, 0x21, 0x11]);
        expected.extend_from_slice(b"SUMME      12,50\n");
        assert_eq!(out, expected);
        let out = bytes(
            Document::new().line_styled("ab cd ef gh ij kl mn op qr", Style::new().double_width()),
            &p58(),
        );
        let lines = printed_lines(&out[5..]);
        // 16 columns: "kl" would be the 17th character.
        assert_eq!(lines, ["ab cd ef gh ij", "kl mn op qr"]);
    }

    #[test]
    fn double_height_keeps_the_columns() {
        let text = "x".repeat(32);
        let out = bytes(
            Document::new().line_styled(text.clone(), Style::new().double_height()),
            &p58(),
        );
        assert_eq!(printed_lines(&out[5..]), [text]);
        assert_eq!(&out[5..8], [0x1D, 0x21, 0x01]);
    }

    #[test]
    fn style_commands_are_sent_only_when_the_style_changes() {
        let doc = Document::new()
            .line_styled("A", Style::new().center().bold())
            .line_styled("B", Style::new().center().bold())
            .line("C")
            .line_styled("D", Style::new().right());
        let mut expected = INIT_PC858.to_vec();
        expected.extend_from_slice(b"\x1ba\x01\x1bE\x01A\nB\n\x1ba\x00\x1bE\x00C\n\x1ba\x02D\n");
        assert_eq!(bytes(doc, &p58()), expected);
    }

    #[test]
    fn newlines_in_text_start_new_lines_and_empty_text_is_a_blank_line() {
        let out = bytes(Document::new().line("a\r\nb\n").line(""), &p58());
        assert_eq!(&out[5..], b"a\nb\n\n\n");
    }

    #[test]
    fn separator_fills_the_line_and_uses_the_code_page() {
        let out = bytes(Document::new().separator('-').separator('═'), &p58());
        let mut expected = INIT_PC858.to_vec();
        expected.extend_from_slice(&[b'-'; 32]);
        expected.push(b'\n');
        expected.extend_from_slice(&[0xCD; 32]);
        expected.push(b'\n');
        assert_eq!(out, expected);
    }

    #[test]
    fn separator_is_full_width_even_after_double_width_text() {
        let doc = Document::new()
            .line_styled("X", Style::new().double_width())
            .separator('=');
        let out = bytes(doc, &p58());
        assert!(out.ends_with(&[&[0x1D, 0x21, 0x00][..], &[b'='; 32], b"\n"].concat()));
    }

    #[test]
    fn ean13_is_centered_with_hri_below_using_function_b() {
        let out = bytes(
            Document::new().ean13(Ean13::new("400638133393").unwrap()),
            &p58(),
        );
        let mut expected = INIT_PC858.to_vec();
        expected.extend_from_slice(&[0x1B, 0x61, 1, 0x1D, 0x68, 80, 0x1D, 0x77, 3, 0x1D, 0x48, 2]);
        expected.extend_from_slice(&[0x1D, 0x6B, 67, 13]);
        expected.extend_from_slice(b"4006381333931");
        assert_eq!(out, expected);
    }

    #[test]
    fn code128_text_uses_code_set_b_and_doubles_braces() {
        let out = bytes(
            Document::new().code128(Code128::new("R-{1}").unwrap()),
            &p58(),
        );
        // "R-{1}" with the brace doubled is 6 bytes, plus "{B": n = 8.
        assert!(out.ends_with(&[
            0x1D, 0x6B, 73, 8, b'{', b'B', b'R', b'-', b'{', b'{', b'1', b'}'
        ]));
    }

    #[test]
    fn code128_even_digits_use_code_set_c_as_binary_pairs() {
        let out = bytes(
            Document::new().code128(Code128::new("0012349907").unwrap()),
            &p58(),
        );
        assert!(out.ends_with(&[0x1D, 0x6B, 73, 7, b'{', b'C', 0, 12, 34, 99, 7]));
    }

    #[test]
    fn code128_module_width_shrinks_to_fit_narrow_paper() {
        // 21 symbols: 11 x 23 + 13 + 20 quiet = 286 modules.
        let code = Code128::new("ABCDEFGHIJKLMNOPQRSTU").unwrap();
        let narrow = bytes(Document::new().code128(code.clone()), &p58());
        let wide = bytes(
            Document::new().code128(code),
            &Profile::paper_80mm(CodePage::Pc858),
        );
        let module_width = |out: &[u8]| {
            let at = out.windows(2).position(|w| w == [0x1D, 0x77]).unwrap();
            out[at + 2]
        };
        assert_eq!(module_width(&narrow), 1);
        assert_eq!(module_width(&wide), 2);
        let short = bytes(Document::new().code128(Code128::new("42").unwrap()), &p58());
        assert_eq!(module_width(&short), 3);
    }

    #[test]
    fn qr_sends_model_size_correction_store_and_print() {
        let out = bytes(
            Document::new().qr(QrCode::new("https://x.at/r/1", 6, ErrorCorrection::Q).unwrap()),
            &p58(),
        );
        let mut expected = INIT_PC858.to_vec();
        expected.extend_from_slice(&[0x1B, 0x61, 1]);
        expected.extend_from_slice(&[0x1D, 0x28, 0x6B, 4, 0, 0x31, 0x41, 0x32, 0]);
        expected.extend_from_slice(&[0x1D, 0x28, 0x6B, 3, 0, 0x31, 0x43, 6]);
        expected.extend_from_slice(&[0x1D, 0x28, 0x6B, 3, 0, 0x31, 0x45, 50]);
        expected.extend_from_slice(&[0x1D, 0x28, 0x6B, 19, 0, 0x31, 0x50, 0x30]);
        expected.extend_from_slice(b"https://x.at/r/1");
        expected.extend_from_slice(&[0x1D, 0x28, 0x6B, 3, 0, 0x31, 0x51, 0x30]);
        assert_eq!(out, expected);
    }

    #[test]
    fn image_is_sent_as_raster_with_its_rows() {
        let image = Image::new(16, 2, vec![0xF0, 0x0F, 0xAA, 0x55]).unwrap();
        let out = bytes(Document::new().image(image), &p58());
        let mut expected = INIT_PC858.to_vec();
        expected.extend_from_slice(&[0x1B, 0x61, 1, 0x1D, 0x76, 0x30, 0, 2, 0, 2, 0]);
        expected.extend_from_slice(&[0xF0, 0x0F, 0xAA, 0x55]);
        assert_eq!(out, expected);
    }

    #[test]
    fn image_wider_than_the_paper_keeps_its_middle() {
        // 576 dots = 72 bytes per row on 384-dot paper (48 bytes): 12 bytes off each side.
        let row: Vec<u8> = (0..72).collect();
        let image = Image::new(576, 1, row).unwrap();
        let out = bytes(Document::new().image(image), &p58());
        let at = out
            .windows(3)
            .position(|w| w == [0x1D, 0x76, 0x30])
            .unwrap();
        assert_eq!(&out[at + 4..at + 8], [48, 0, 1, 0]);
        assert_eq!(&out[at + 8..], (12..60).collect::<Vec<u8>>());
    }

    #[test]
    fn cut_partial_full_and_tear_off_without_cutter() {
        let doc = Document::new()
            .cut(Cut::partial())
            .cut(Cut::full().with_feed(10));
        assert_eq!(
            &bytes(doc.clone(), &p58())[5..],
            [0x1D, 0x56, 66, 0, 0x1D, 0x56, 65, 10]
        );
        let no_cutter = Profile {
            cut: false,
            ..p58()
        };
        assert_eq!(&bytes(doc, &no_cutter)[5..], [0x1B, 0x64, 4, 0x1B, 0x64, 4]);
        assert_eq!(Cut::default().kind, CutKind::Partial);
    }

    #[test]
    fn drawer_kick_is_five_bytes() {
        assert_eq!(
            drawer_kick(DrawerPin::Pin2, 100, 200),
            [0x1B, 0x70, 0, 50, 100]
        );
        assert_eq!(
            drawer_kick(DrawerPin::Pin5, 120, 240),
            [0x1B, 0x70, 1, 60, 120]
        );
        let out = bytes(Document::new().drawer_kick(DrawerKick::default()), &p58());
        assert_eq!(&out[5..], [0x1B, 0x70, 0, 50, 100]);
    }

    #[test]
    fn feed_sends_esc_d_and_zero_feeds_nothing() {
        assert_eq!(
            &bytes(Document::new().feed(3).feed(0), &p58())[5..],
            [0x1B, 0x64, 3]
        );
    }

    #[test]
    fn control_characters_in_data_cannot_become_commands() {
        // A product name carrying ESC p 0 25 50 (drawer kick), an amount carrying GS V (cut),
        // a line carrying DLE EOT 1.
        let doc = Document::new()
            .item("Tee\x1bp\x00\x19\x32", "1,00\x1dV\x41\x00")
            .line("\x10\x04\x01");
        let out = bytes(doc, &p58());
        let payload = &out[INIT_PC858.len()..];
        assert!(
            payload
                .iter()
                .all(|&b| (b >= 0x20 && b != 0x7F) || b == b'\n'),
            "{payload:02X?}"
        );
        assert_eq!(
            printed_lines(payload),
            [
                format!("Tee?p??2{}1,00?VA?", " ".repeat(16)),
                "???".to_owned()
            ]
        );
    }

    #[test]
    fn warnings_report_each_missing_character_once() {
        let doc = Document::new().line("č č ř").item("Kč", "€");
        let rendered = render(&doc, &p58());
        let missing: Vec<char> = rendered.warnings.iter().map(|w| w.character).collect();
        assert_eq!(missing, ['č', 'ř']);
        let rendered = render(&doc, &Profile::paper_58mm(CodePage::Pc852));
        let missing: Vec<char> = rendered.warnings.iter().map(|w| w.character).collect();
        assert_eq!(missing, ['€']);
    }

    #[test]
    fn replacement_wider_than_the_character_is_wrapped_correctly() {
        // "€" becomes "EUR" on PC852: 30 x + " €" is 33 columns, so EUR moves down.
        let text = format!("{} €", "x".repeat(30));
        let out = bytes(
            Document::new().line(text),
            &Profile::paper_58mm(CodePage::Pc852),
        );
        assert!(out.ends_with(format!("{}\nEUR\n", "x".repeat(30)).as_bytes()));
    }

    #[test]
    fn profile_is_read_from_toml_and_checked() {
        let profile: Profile =
            toml::from_str("columns = 42\ncode_page = \"pc852\"\ndots_per_line = 512\n").unwrap();
        assert_eq!(profile, Profile::paper_80mm_512(CodePage::Pc852));
        let no_cut: Profile = toml::from_str(
            "columns = 32\ncode_page = \"cp858\"\ndots_per_line = 384\ncut = false\n",
        )
        .unwrap();
        assert!(!no_cut.cut);
        let err =
            toml::from_str::<Profile>("columns = 4\ncode_page = \"pc858\"\ndots_per_line = 384\n")
                .unwrap_err();
        assert!(err.to_string().contains("columns = 4"), "{err}");
        assert!(
            toml::from_str::<Profile>(
                "columns = 32\ncode_page = \"pc1252\"\ndots_per_line = 384\n"
            )
            .is_err()
        );
        assert!(
            toml::from_str::<Profile>("columns = 32\ncode_page = \"pc858\"\ndots_per_line = 383\n")
                .is_err()
        );
        assert!(
            toml::from_str::<Profile>(
                "columns = 32\ncode_page = \"pc858\"\ndots_per_line = 384\nfont = \"b\"\n"
            )
            .is_err()
        );
    }
}
