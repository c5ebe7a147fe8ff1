//! PNG rendering: the receipt as the customer holds it, white paper, black dots.
//!
//! Layout follows a thermal printer: the paper is `dots` wide, the text grid has `columns`
//! cells of `dots / columns` dots centred on it, a text line is 1.5 font heights tall
//! (times the tallest character on it). Glyphs come from the bitmap fonts bundled with
//! `embedded-graphics` (X11 misc-fixed, in ISO 8859 variants): for each character the first
//! variant that contains it is used, so Latin-1, Latin Extended-A (German, Czech, …), €,
//! and the Greek letters of PC437 all print; box drawing and block characters of the IBM
//! code pages are drawn as lines and fills; the three characters of PC858 that no bundled
//! font has (`⌂`, `ƒ`, `‗`) are drawn from the font's own `H` and `f`; anything else prints
//! as a hollow box, like a printer's missing-glyph mark.
//!
//! Bold (emphasized) is the regular glyph one dot wider: each run of ink in a glyph row grows
//! by one dot to the right, but only where the dot after that is blank too, so a gap of one
//! dot stays open. Striking the glyph twice, one dot apart, would close those gaps and turn
//! `m`, `w`, `#` into solid blocks ("Summe" printed as "Su■■e"). A test checks every glyph of
//! PC858 and PC852 in every style against the font.

use std::collections::HashMap;

use embedded_graphics::mono_font::mapping::{self, StrGlyphMapping};
use embedded_graphics::mono_font::{
    MonoFont, MonoTextStyle, iso_8859_1, iso_8859_2, iso_8859_3, iso_8859_4, iso_8859_5,
    iso_8859_7, iso_8859_9, iso_8859_10, iso_8859_13, iso_8859_14, iso_8859_15, iso_8859_16,
};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, Drawable, OriginDimensions, Pixel, Point, Size};
use embedded_graphics::text::{Baseline, Text};

use crate::error::Error;
use crate::interpret::qr_level;
use crate::receipt::{
    Align, Barcode, BarcodeKind, HriPosition, Line, QrCode, RasterImage, Receipt,
};
use crate::symbology;
use crate::text::{Cell, DEFAULT_COLUMNS, indent, placeholder, wrap};

/// Paper above the first line, in dots.
const TOP_MARGIN: u32 = 16;
/// Paper below the last line before the cut, in dots.
const BOTTOM_MARGIN: u32 = 24;
/// Longest receipt image, in dots (about 12 m of paper); the rest is cut off.
const MAX_HEIGHT: u32 = 100_000;
/// Widest paper accepted, in dots (a generous limit so a typo cannot allocate gigabytes).
const MAX_DOTS: u32 = 4096;

/// 80 mm paper at 203 dpi: the width of our stores' receipts.
pub const DEFAULT_DOTS: u32 = 576;

/// Font cell sizes bundled by embedded-graphics, largest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FontSize {
    F10x20,
    F9x18,
    F8x13,
    F7x14,
    F6x13,
    F6x10,
    F5x8,
    F4x6,
}

impl FontSize {
    const ALL: [FontSize; 8] = [
        FontSize::F10x20,
        FontSize::F9x18,
        FontSize::F8x13,
        FontSize::F7x14,
        FontSize::F6x13,
        FontSize::F6x10,
        FontSize::F5x8,
        FontSize::F4x6,
    ];

    fn size(self) -> (u32, u32) {
        match self {
            FontSize::F10x20 => (10, 20),
            FontSize::F9x18 => (9, 18),
            FontSize::F8x13 => (8, 13),
            FontSize::F7x14 => (7, 14),
            FontSize::F6x13 => (6, 13),
            FontSize::F6x10 => (6, 10),
            FontSize::F5x8 => (5, 8),
            FontSize::F4x6 => (4, 6),
        }
    }

    /// The largest font whose glyphs fit a cell `cell_width` dots wide.
    fn for_cell(cell_width: u32) -> FontSize {
        FontSize::ALL
            .into_iter()
            .find(|f| f.size().0 <= cell_width)
            .unwrap_or(FontSize::F4x6)
    }
}

type Variant = (&'static StrGlyphMapping<'static>, MonoFont<'static>);

/// All ISO 8859 variants of one font size, in order of preference.
macro_rules! variants {
    ($font:ident) => {
        vec![
            (&mapping::ISO_8859_1, iso_8859_1::$font),
            (&mapping::ISO_8859_15, iso_8859_15::$font),
            (&mapping::ISO_8859_2, iso_8859_2::$font),
            (&mapping::ISO_8859_16, iso_8859_16::$font),
            (&mapping::ISO_8859_13, iso_8859_13::$font),
            (&mapping::ISO_8859_4, iso_8859_4::$font),
            (&mapping::ISO_8859_3, iso_8859_3::$font),
            (&mapping::ISO_8859_9, iso_8859_9::$font),
            (&mapping::ISO_8859_10, iso_8859_10::$font),
            (&mapping::ISO_8859_14, iso_8859_14::$font),
            (&mapping::ISO_8859_7, iso_8859_7::$font),
            (&mapping::ISO_8859_5, iso_8859_5::$font),
        ]
    };
}

fn variants(size: FontSize) -> Vec<Variant> {
    match size {
        FontSize::F10x20 => variants!(FONT_10X20),
        FontSize::F9x18 => variants!(FONT_9X18),
        FontSize::F8x13 => variants!(FONT_8X13),
        FontSize::F7x14 => variants!(FONT_7X14),
        FontSize::F6x13 => variants!(FONT_6X13),
        FontSize::F6x10 => variants!(FONT_6X10),
        FontSize::F5x8 => variants!(FONT_5X8),
        FontSize::F4x6 => variants!(FONT_4X6),
    }
}

/// A glyph as a small bitmap, `w × h`, row-major, true = ink.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GlyphBitmap {
    w: u32,
    h: u32,
    ink: Vec<bool>,
}

impl GlyphBitmap {
    fn blank(w: u32, h: u32) -> Self {
        GlyphBitmap {
            w,
            h,
            ink: vec![false; (w * h) as usize],
        }
    }

    /// Whether dot (x, y) is ink; outside the bitmap is blank.
    fn at(&self, x: u32, y: u32) -> bool {
        x < self.w && y < self.h && self.ink[(y * self.w + x) as usize]
    }

    fn set(&mut self, x: u32, y: u32) {
        if x < self.w && y < self.h {
            self.ink[(y * self.w + x) as usize] = true;
        }
    }

    /// (min x, min y, max x, max y) of the ink, `None` for a blank glyph.
    fn extent(&self) -> Option<(u32, u32, u32, u32)> {
        let mut extent: Option<(u32, u32, u32, u32)> = None;
        for y in 0..self.h {
            for x in 0..self.w {
                if self.at(x, y) {
                    let (x0, y0, x1, y1) = extent.unwrap_or((x, y, x, y));
                    extent = Some((x0.min(x), y0.min(y), x1.max(x), y1.max(y)));
                }
            }
        }
        extent
    }

    /// The emphasized glyph, one dot wider: each run of ink grows into the blank dot after
    /// it unless the dot after that is ink, so every gap keeps at least one blank dot.
    fn emboldened(&self) -> GlyphBitmap {
        let mut bold = GlyphBitmap::blank(self.w + 1, self.h);
        for y in 0..self.h {
            for x in 0..bold.w {
                let grows = x > 0 && self.at(x - 1, y) && !self.at(x + 1, y);
                if self.at(x, y) || grows {
                    bold.set(x, y);
                }
            }
        }
        bold
    }
}

impl DrawTarget for GlyphBitmap {
    type Color = BinaryColor;
    type Error = std::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(point, color) in pixels {
            if color != BinaryColor::On {
                continue;
            }
            if let (Ok(x), Ok(y)) = (u32::try_from(point.x), u32::try_from(point.y))
                && x < self.w
                && y < self.h
            {
                self.ink[(y * self.w + x) as usize] = true;
            }
        }
        Ok(())
    }
}

impl OriginDimensions for GlyphBitmap {
    fn size(&self) -> Size {
        Size::new(self.w, self.h)
    }
}

/// Looks glyphs up in the font variants and caches the bitmaps, regular and bold.
struct Glyphs {
    size: FontSize,
    variants: Vec<Variant>,
    cache: HashMap<(char, bool), Option<GlyphBitmap>>,
}

impl Glyphs {
    fn new(size: FontSize) -> Self {
        Glyphs {
            size,
            variants: variants(size),
            cache: HashMap::new(),
        }
    }

    /// The glyph for `c` (emboldened if `bold`), or `None` if no bundled font has it and it
    /// is not one of the characters drawn here.
    fn get(&mut self, c: char, bold: bool) -> Option<&GlyphBitmap> {
        if !self.cache.contains_key(&(c, bold)) {
            let glyph = if bold {
                self.get(c, false).map(GlyphBitmap::emboldened)
            } else {
                self.font_glyph(c).or_else(|| self.drawn_glyph(c))
            };
            self.cache.insert((c, bold), glyph);
        }
        self.cache.get(&(c, bold)).and_then(Option::as_ref)
    }

    /// The glyph of the first font variant that has `c`.
    fn font_glyph(&self, c: char) -> Option<GlyphBitmap> {
        let (w, h) = self.size.size();
        let (_, font) = self.variants.iter().find(|(map, _)| map.contains(c))?;
        let mut bitmap = GlyphBitmap::blank(w, h);
        let style = MonoTextStyle::new(font, BinaryColor::On);
        let mut buf = [0u8; 4];
        let text = c.encode_utf8(&mut buf);
        // Drawing into a GlyphBitmap cannot fail: its error type is Infallible.
        let Ok(_) =
            Text::with_baseline(text, Point::zero(), style, Baseline::Top).draw(&mut bitmap);
        Some(bitmap)
    }

    /// Characters of the IBM code pages that no bundled font has, drawn from the font's
    /// own letters so they match it in size and weight: `⌂` (0x7F) from the capital H's
    /// box, PC858's `‗` (double low line) under it, `ƒ` as an `f` with a descender.
    fn drawn_glyph(&self, c: char) -> Option<GlyphBitmap> {
        let (w, h) = self.size.size();
        let mut glyph = GlyphBitmap::blank(w, h);
        match c {
            '⌂' | '‗' => {
                let (x0, top, x1, base) = self.font_glyph('H')?.extent()?;
                if c == '‗' {
                    let low = (base + 4).min(h - 1);
                    for x in x0..=x1 {
                        glyph.set(x, low);
                        glyph.set(x, low.saturating_sub(2));
                    }
                    return Some(glyph);
                }
                let eaves = (top + base).div_ceil(2);
                for y in eaves..=base {
                    glyph.set(x0, y);
                    glyph.set(x1, y);
                }
                for x in x0..=x1 {
                    glyph.set(x, base);
                }
                let apex = (x0 + x1) / 2;
                let rise = eaves.saturating_sub(top).max(1);
                for y in top..=eaves {
                    let run = (y - top) * (apex - x0) / rise;
                    glyph.set(apex - run, y);
                    glyph.set(apex + (y - top) * (x1 - apex) / rise, y);
                }
                Some(glyph)
            }
            'ƒ' => {
                let mut glyph = self.font_glyph('f')?;
                let (x0, _, x1, base) = glyph.extent()?;
                // The stem is the column with the most ink.
                let stem = (x0..=x1).max_by_key(|&x| {
                    let ink = (0..h).filter(|&y| glyph.at(x, y)).count();
                    // Ties go to the leftmost column.
                    (ink, std::cmp::Reverse(x))
                })?;
                let bottom = (base + (h - base) / 2).min(h - 1).max(base + 1);
                for y in base..=bottom {
                    glyph.set(stem, y);
                }
                glyph.set(stem.saturating_sub(1), bottom);
                glyph.set(stem.saturating_sub(2), bottom);
                Some(glyph)
            }
            _ => None,
        }
    }
}

/// A black-and-white page that grows downwards as things are printed, up to
/// [`MAX_HEIGHT`]; anything below is cut off rather than exhausting memory.
struct Canvas {
    width: u32,
    height: u32,
    ink: Vec<bool>,
}

impl Canvas {
    fn new(width: u32) -> Self {
        Canvas {
            width,
            height: 0,
            ink: Vec::new(),
        }
    }

    fn grow_to(&mut self, height: u32) {
        let height = height.min(MAX_HEIGHT);
        if height > self.height {
            self.height = height;
            self.ink
                .resize(self.width as usize * height as usize, false);
        }
    }

    fn index(&self, x: u32, y: u32) -> usize {
        y as usize * self.width as usize + x as usize
    }

    fn dot(&mut self, x: u32, y: u32) {
        self.fill(x, y, 1, 1);
    }

    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32) {
        if w == 0 || h == 0 || x >= self.width || y >= MAX_HEIGHT {
            return;
        }
        let y_end = y.saturating_add(h).min(MAX_HEIGHT);
        self.grow_to(y_end);
        let x_end = x.saturating_add(w).min(self.width);
        for row in y..y_end {
            let (start, end) = (self.index(x, row), self.index(x_end, row));
            self.ink[start..end].fill(true);
        }
    }
}

/// Geometry shared by everything drawn on one receipt.
struct Page {
    canvas: Canvas,
    glyphs: Glyphs,
    columns: usize,
    cell_w: u32,
    font_w: u32,
    font_h: u32,
    line_h: u32,
    /// Left edge of the text grid.
    left: u32,
    /// Width of the text grid.
    area: u32,
    y: u32,
}

impl Receipt {
    /// Render the receipt as a PNG `dots_per_line` dots wide (576 for 80 mm at 203 dpi),
    /// laid out in the default 42 columns.
    pub fn to_png(&self, dots_per_line: u32) -> Result<Vec<u8>, Error> {
        self.to_png_with_columns(DEFAULT_COLUMNS, dots_per_line)
    }

    /// Render the receipt as a PNG with an explicit column count, for printers configured
    /// differently (e.g. 48 columns of font A on 576 dots, 32 columns on 58 mm paper).
    pub fn to_png_with_columns(
        &self,
        columns: usize,
        dots_per_line: u32,
    ) -> Result<Vec<u8>, Error> {
        let dimension_error = |reason| Error::Dimensions {
            dots: dots_per_line,
            columns,
            reason,
        };
        if dots_per_line == 0 || dots_per_line > MAX_DOTS {
            return Err(dimension_error("width must be 1 to 4096 dots"));
        }
        if columns == 0 || columns > dots_per_line as usize / 4 {
            return Err(dimension_error("each column needs at least 4 dots"));
        }
        let canvas = render(self, columns, dots_per_line);
        encode_png(&canvas)
    }
}

fn render(receipt: &Receipt, columns: usize, dots: u32) -> Canvas {
    let cell_w = dots / columns as u32;
    let size = FontSize::for_cell(cell_w);
    let (font_w, font_h) = size.size();
    let area = cell_w * columns as u32;
    let mut page = Page {
        canvas: Canvas::new(dots),
        glyphs: Glyphs::new(size),
        columns,
        cell_w,
        font_w,
        font_h,
        line_h: font_h + font_h / 2,
        left: (dots - area) / 2,
        area,
        y: TOP_MARGIN,
    };
    for line in &receipt.lines {
        if page.y >= MAX_HEIGHT {
            break;
        }
        match line {
            Line::Text(text) => {
                for row in wrap(text, columns) {
                    if page.y >= MAX_HEIGHT {
                        break;
                    }
                    page.text_row(&row, text.align);
                }
            }
            Line::Feed(n) => page.y = page.y.saturating_add(n.saturating_mul(page.line_h)),
            Line::Barcode(barcode) => page.barcode(barcode, line),
            Line::Qr(qr) => page.qr(qr, line),
            Line::Image(image) => page.image(image),
        }
    }
    let feed = receipt.cut.map_or(0, |cut| u32::from(cut.feed_dots));
    page.y = page.y.saturating_add(feed + BOTTOM_MARGIN);
    page.canvas.grow_to(page.y);
    page.canvas
}

impl Page {
    /// Left edge for an item `width` dots wide: aligned within the text grid, or within the
    /// paper if it is wider than the grid.
    fn item_x(&self, align: Align, width: u32) -> u32 {
        let (start, span) = if width <= self.area {
            (self.left, self.area)
        } else {
            (0, self.canvas.width)
        };
        let free = span.saturating_sub(width);
        start
            + match align {
                Align::Left => 0,
                Align::Center => free / 2,
                Align::Right => free,
            }
    }

    /// Print a row of cells at the current position and advance.
    fn text_row(&mut self, row: &[Cell], align: Align) {
        let tallest = row.iter().map(|c| u32::from(c.height)).max().unwrap_or(1);
        let row_h = self.line_h * tallest;
        let used: usize = row.iter().map(|c| usize::from(c.width)).sum();
        let mut x = self.left + indent(align, used, self.columns) as u32 * self.cell_w;
        for cell in row {
            self.cell(cell, x, row_h);
            x += self.cell_w * u32::from(cell.width);
        }
        self.y += row_h;
    }

    /// Print plain text (HRI digits, placeholders) centred or aligned, in normal size.
    fn plain_text(&mut self, text: &str, align: Align) {
        let cells: Vec<Cell> = text
            .chars()
            .map(|ch| Cell {
                ch,
                bold: false,
                width: 1,
                height: 1,
            })
            .collect();
        for row in cells.chunks(self.columns.max(1)) {
            self.text_row(row, align);
        }
    }

    /// Where the top left dot of a glyph goes in a cell at `x` whose row is `row_h` tall:
    /// centred in the cell, sitting on the row's baseline, scaled `sx` × `sy`.
    fn glyph_origin(&self, x: u32, row_h: u32, sx: u32, sy: u32) -> (u32, u32) {
        let bottom_pad = self.line_h.saturating_sub(self.font_h) / 2;
        (
            x + self.cell_w.saturating_sub(self.font_w) / 2 * sx,
            (self.y + row_h).saturating_sub(bottom_pad + self.font_h * sy),
        )
    }

    /// Draw one character cell whose row starts at `self.y` and is `row_h` tall.
    fn cell(&mut self, cell: &Cell, x: u32, row_h: u32) {
        let sx = u32::from(cell.width);
        let sy = u32::from(cell.height);
        let cell_w = self.cell_w * sx;
        if cell.ch == ' ' || cell.ch == '\u{a0}' {
            return;
        }
        if draw_box_char(&mut self.canvas, cell.ch, x, self.y, cell_w, row_h, sx, sy) {
            return;
        }
        let (glyph_x, glyph_y) = self.glyph_origin(x, row_h, sx, sy);
        match self.glyphs.get(cell.ch, cell.bold) {
            Some(glyph) => {
                for gy in 0..glyph.h {
                    for gx in 0..glyph.w {
                        if glyph.at(gx, gy) {
                            self.canvas
                                .fill(glyph_x + gx * sx, glyph_y + gy * sy, sx, sy);
                        }
                    }
                }
            }
            None => {
                // Missing glyph: a hollow box the size of a capital letter.
                let (w, h) = ((self.font_w - 2) * sx, (self.font_h * 3 / 4) * sy);
                let (bx, by) = (glyph_x + sx, glyph_y + (self.font_h / 8) * sy);
                self.canvas.fill(bx, by, w, sy);
                self.canvas.fill(bx, by + h - sy, w, sy);
                self.canvas.fill(bx, by, sx, h);
                self.canvas.fill(bx + w - sx, by, sx, h);
            }
        }
    }

    fn barcode(&mut self, barcode: &Barcode, line: &Line) {
        let modules = match barcode.kind {
            BarcodeKind::Ean13 => symbology::parse_ean13(barcode.data.as_bytes())
                .ok()
                .map(|ean| symbology::ean13_modules(&ean.digits)),
            BarcodeKind::Code128 => symbology::parse_code128(&barcode.raw)
                .ok()
                .map(|code| symbology::code128_modules(&code.values)),
            BarcodeKind::Other(_) => None,
        };
        let Some(modules) = modules else {
            if let Some((align, label)) = placeholder(line) {
                self.plain_text(&label, align);
            }
            return;
        };
        let module = u32::from(barcode.module_width.max(1));
        let width = modules.len() as u32 * module;
        let x0 = self.item_x(barcode.align, width);
        if matches!(barcode.hri, HriPosition::Above | HriPosition::Both) {
            self.hri(&barcode.data, x0, width);
        }
        let height = u32::from(barcode.height);
        for (i, &bar) in modules.iter().enumerate() {
            if bar {
                self.canvas
                    .fill(x0 + i as u32 * module, self.y, module, height);
            }
        }
        self.y += height;
        if matches!(barcode.hri, HriPosition::Below | HriPosition::Both) {
            self.hri(&barcode.data, x0, width);
        }
    }

    /// Human readable digits centred under (or over) a barcode `width` dots wide at `x0`.
    fn hri(&mut self, text: &str, x0: u32, width: u32) {
        let used = text.chars().count() as u32 * self.cell_w;
        let mut x = x0 + width.saturating_sub(used) / 2;
        for ch in text.chars() {
            let cell = Cell {
                ch,
                bold: false,
                width: 1,
                height: 1,
            };
            self.cell(&cell, x, self.line_h);
            x += self.cell_w;
        }
        self.y += self.line_h;
    }

    fn qr(&mut self, qr: &QrCode, line: &Line) {
        let Ok(code) =
            qrcode::QrCode::with_error_correction_level(&qr.raw, qr_level(qr.error_correction))
        else {
            if let Some((align, label)) = placeholder(line) {
                self.plain_text(&label, align);
            }
            return;
        };
        let modules = code.width() as u32;
        let size = u32::from(qr.module_size.max(1));
        let width = modules * size;
        let x0 = self.item_x(qr.align, width);
        for (i, color) in code.to_colors().iter().enumerate() {
            if *color == qrcode::Color::Dark {
                let (mx, my) = (i as u32 % modules, i as u32 / modules);
                self.canvas
                    .fill(x0 + mx * size, self.y + my * size, size, size);
            }
        }
        self.y += width;
    }

    fn image(&mut self, image: &RasterImage) {
        let (sx, sy) = (u32::from(image.scale_x), u32::from(image.scale_y));
        let x0 = self.item_x(image.align, image.printed_width());
        for y in 0..image.height {
            for x in 0..image.width {
                if image.is_black(x, y) {
                    self.canvas.fill(x0 + x * sx, self.y + y * sy, sx, sy);
                }
            }
        }
        self.y += image.printed_height();
    }
}

/// Line weights of a box drawing character: up, down, left, right (0 none, 1 light,
/// 2 double), for the characters of PC437/PC850/PC852.
fn box_weights(c: char) -> Option<[u8; 4]> {
    Some(match c {
        '─' => [0, 0, 1, 1],
        '│' => [1, 1, 0, 0],
        '┌' => [0, 1, 0, 1],
        '┐' => [0, 1, 1, 0],
        '└' => [1, 0, 0, 1],
        '┘' => [1, 0, 1, 0],
        '├' => [1, 1, 0, 1],
        '┤' => [1, 1, 1, 0],
        '┬' => [0, 1, 1, 1],
        '┴' => [1, 0, 1, 1],
        '┼' => [1, 1, 1, 1],
        '═' => [0, 0, 2, 2],
        '║' => [2, 2, 0, 0],
        '╔' => [0, 2, 0, 2],
        '╗' => [0, 2, 2, 0],
        '╚' => [2, 0, 0, 2],
        '╝' => [2, 0, 2, 0],
        '╠' => [2, 2, 0, 2],
        '╣' => [2, 2, 2, 0],
        '╦' => [0, 2, 2, 2],
        '╩' => [2, 0, 2, 2],
        '╬' => [2, 2, 2, 2],
        '╒' => [0, 1, 0, 2],
        '╓' => [0, 2, 0, 1],
        '╕' => [0, 1, 2, 0],
        '╖' => [0, 2, 1, 0],
        '╘' => [1, 0, 0, 2],
        '╙' => [2, 0, 0, 1],
        '╛' => [1, 0, 2, 0],
        '╜' => [2, 0, 1, 0],
        '╞' => [1, 1, 0, 2],
        '╟' => [2, 2, 0, 1],
        '╡' => [1, 1, 2, 0],
        '╢' => [2, 2, 1, 0],
        '╤' => [0, 1, 2, 2],
        '╥' => [0, 2, 1, 1],
        '╧' => [1, 0, 2, 2],
        '╨' => [2, 0, 1, 1],
        '╪' => [1, 1, 2, 2],
        '╫' => [2, 2, 1, 1],
        _ => return None,
    })
}

/// Draw box drawing, block and shade characters filling their whole cell, so frames and
/// bars join up between lines as on a printer. Returns false for other characters.
#[allow(clippy::too_many_arguments)]
fn draw_box_char(
    canvas: &mut Canvas,
    c: char,
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    sx: u32,
    sy: u32,
) -> bool {
    let (cx, cy) = (x + w / 2, y + h / 2);
    if let Some([up, down, left, right]) = box_weights(c) {
        // Light strokes are one scaled dot; double strokes are two, 2 dots either side.
        let vertical = |canvas: &mut Canvas, weight: u8, y0: u32, y1: u32| {
            let len = y1.saturating_sub(y0);
            match weight {
                1 => canvas.fill(cx, y0, sx, len),
                2 => {
                    canvas.fill(cx.saturating_sub(2 * sx), y0, sx, len);
                    canvas.fill(cx + 2 * sx, y0, sx, len);
                }
                _ => {}
            }
        };
        let horizontal = |canvas: &mut Canvas, weight: u8, x0: u32, x1: u32| {
            let len = x1.saturating_sub(x0);
            match weight {
                1 => canvas.fill(x0, cy, len, sy),
                2 => {
                    canvas.fill(x0, cy.saturating_sub(2 * sy), len, sy);
                    canvas.fill(x0, cy + 2 * sy, len, sy);
                }
                _ => {}
            }
        };
        // Each half-stroke runs past the centre so that corners and junctions close.
        vertical(canvas, up, y, cy + 3 * sy);
        vertical(canvas, down, cy.saturating_sub(2 * sy), y + h);
        horizontal(canvas, left, x, cx + 3 * sx);
        horizontal(canvas, right, cx.saturating_sub(2 * sx), x + w);
        return true;
    }
    match c {
        '█' => canvas.fill(x, y, w, h),
        '▀' => canvas.fill(x, y, w, h / 2),
        '▄' => canvas.fill(x, y + h / 2, w, h - h / 2),
        '▌' => canvas.fill(x, y, w / 2, h),
        '▐' => canvas.fill(x + w / 2, y, w - w / 2, h),
        '■' => canvas.fill(x + w / 4, y + h / 3, w / 2, w / 2),
        '░' | '▒' | '▓' => {
            for py in 0..h {
                for px in 0..w {
                    let (ax, ay) = (x + px, y + py);
                    let ink = match c {
                        '░' => ax % 2 == 0 && ay % 2 == 0,
                        '▒' => (ax + ay) % 2 == 0,
                        _ => !(ax % 2 == 0 && ay % 2 == 0),
                    };
                    if ink {
                        canvas.dot(ax, ay);
                    }
                }
            }
        }
        _ => return false,
    }
    true
}

/// Encode the canvas as an 8-bit greyscale PNG (0 = black ink, 255 = paper).
fn encode_png(canvas: &Canvas) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, canvas.width, canvas.height.max(1));
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        let mut data: Vec<u8> = canvas
            .ink
            .iter()
            .map(|&ink| if ink { 0 } else { 255 })
            .collect();
        data.resize((canvas.width * canvas.height.max(1)) as usize, 255);
        writer.write_image_data(&data)?;
        writer.finish()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codepage::CodePage;

    /// The runs of ink in row `y`: (first dot, length).
    fn runs(glyph: &GlyphBitmap, y: u32) -> Vec<(u32, u32)> {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for x in 0..glyph.w {
            if glyph.at(x, y) {
                match runs.last_mut() {
                    Some((start, len)) if *start + *len == x => *len += 1,
                    _ => runs.push((x, 1)),
                }
            }
        }
        runs
    }

    /// A page of one cell size for `font`, two dots wider than its glyphs.
    fn page(font: FontSize) -> Page {
        let (font_w, font_h) = font.size();
        let cell_w = font_w + 2;
        Page {
            canvas: Canvas::new(cell_w * 8 + 8),
            glyphs: Glyphs::new(font),
            columns: 8,
            cell_w,
            font_w,
            font_h,
            line_h: font_h + font_h / 2,
            left: 4,
            area: cell_w * 8,
            y: 0,
        }
    }

    /// Every printable character of the code pages our printers use.
    fn characters() -> Vec<(CodePage, u8, char)> {
        [CodePage::Pc858, CodePage::Pc852]
            .into_iter()
            .flat_map(|page| (0x21..=0xFFu8).map(move |b| (page, b, page.decode_byte(b))))
            .filter(|(_, _, c)| *c != '\u{a0}')
            .collect()
    }

    #[test]
    fn a_bold_glyph_keeps_every_gap_of_the_regular_one_and_is_wider_by_one_dot() {
        for font in FontSize::ALL {
            let mut glyphs = Glyphs::new(font);
            for (table, byte, c) in characters() {
                if box_weights(c).is_some() || "█▀▄▌▐■░▒▓".contains(c) {
                    continue; // drawn as lines and fills, not from the font
                }
                let what = format!("{font:?} {table:?} {byte:#04x} {c:?}");
                let regular = glyphs
                    .get(c, false)
                    .unwrap_or_else(|| panic!("{what}: no glyph, it would print as a box"))
                    .clone();
                let bold = glyphs.get(c, true).expect("bold glyph").clone();
                assert_eq!((bold.w, bold.h), (regular.w + 1, regular.h), "{what}");
                let mut grown = 0;
                for y in 0..regular.h {
                    let (before, after) = (runs(&regular, y), runs(&bold, y));
                    assert_eq!(
                        before.len(),
                        after.len(),
                        "{what}: row {y} {before:?} became {after:?}: a gap closed"
                    );
                    for ((x0, len0), (x1, len1)) in before.iter().zip(&after) {
                        assert_eq!(x0, x1, "{what}: row {y} moved");
                        assert!(*len1 == *len0 || *len1 == len0 + 1, "{what}: row {y}");
                        grown += len1 - len0;
                    }
                }
                let ink = regular.ink.iter().filter(|&&i| i).count();
                assert!(ink > 0, "{what}: the glyph is blank");
                assert!(grown > 0, "{what}: bold looks like regular");
            }
        }
    }

    #[test]
    fn bold_m_keeps_its_counters() {
        let mut glyphs = Glyphs::new(FontSize::F10x20);
        let bold = glyphs.get('m', true).expect("m").clone();
        let rows: Vec<usize> = (0..bold.h).map(|y| runs(&bold, y).len()).collect();
        assert!(
            rows.contains(&3),
            "the three stems of a bold m stay apart: {rows:?}"
        );
    }

    #[test]
    fn every_glyph_prints_as_the_font_draws_it_in_every_size_and_weight() {
        let styles = [
            (false, 1, 1),
            (true, 1, 1),
            (false, 2, 1),
            (false, 1, 2),
            (true, 2, 1),
            (true, 1, 2),
            (true, 2, 2),
        ];
        for font in [FontSize::F10x20, FontSize::F8x13, FontSize::F6x10] {
            for (table, byte, c) in characters() {
                if box_weights(c).is_some() || "█▀▄▌▐■░▒▓".contains(c) {
                    continue;
                }
                for (bold, width, height) in styles {
                    let what = format!(
                        "{font:?} {table:?} {byte:#04x} {c:?} bold={bold} {width}x{height}"
                    );
                    let mut page = page(font);
                    let cell = Cell {
                        ch: c,
                        bold,
                        width,
                        height,
                    };
                    let (sx, sy) = (u32::from(width), u32::from(height));
                    let row_h = page.line_h * sy;
                    let x = page.left;
                    page.canvas.grow_to(row_h);
                    page.cell(&cell, x, row_h);
                    let expected = page.glyphs.get(c, bold).expect("glyph").clone();
                    let (gx0, gy0) = page.glyph_origin(x, row_h, sx, sy);
                    for py in 0..page.canvas.height {
                        for px in 0..page.canvas.width {
                            let ink = page.canvas.ink[page.canvas.index(px, py)];
                            let inside = px >= gx0 && py >= gy0;
                            let want = inside && expected.at((px - gx0) / sx, (py - gy0) / sy);
                            assert_eq!(ink, want, "{what}: dot ({px}, {py})");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_characters_no_font_has_are_drawn_not_boxed() {
        let mut glyphs = Glyphs::new(FontSize::F10x20);
        for c in ['⌂', 'ƒ', '‗'] {
            let glyph = glyphs.get(c, false).expect("drawn").clone();
            let (x0, y0, x1, y1) = glyph.extent().expect("ink");
            assert!(x1 > x0, "{c:?}");
            assert!(y1 >= y0, "{c:?}");
        }
        let f = glyphs.get('f', false).expect("f").clone();
        let hooked = glyphs.get('ƒ', false).expect("ƒ").clone();
        assert!(
            hooked.extent().expect("ink").3 > f.extent().expect("ink").3,
            "ƒ reaches below the baseline"
        );
    }
}
