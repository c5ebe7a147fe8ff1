//! Plain text rendering of a receipt, as a technician reads it.
//!
//! Tests and `posctl receipt` compare this text, so it is deterministic and simple:
//! alignment applied within the column width, double width characters followed by a
//! space per extra column, non-text items as bracketed placeholders, and the cut as a
//! scissors line. Lines longer than the width wrap exactly like the printer wraps them.

use crate::receipt::{Align, BarcodeKind, Line, Receipt, TextLine};

/// Column width of a 80 mm receipt in our stores (font A, 42 columns).
pub const DEFAULT_COLUMNS: usize = 42;

/// One character cell of a physical printed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cell {
    pub ch: char,
    pub bold: bool,
    pub width: u8,
    pub height: u8,
}

/// Split a text line into the physical lines the printer prints: a character that does
/// not fit in the remaining columns starts a new line (Epson wraps at the print width).
pub(crate) fn wrap(line: &TextLine, columns: usize) -> Vec<Vec<Cell>> {
    let columns = columns.max(1);
    let mut rows: Vec<Vec<Cell>> = vec![Vec::new()];
    let mut used = 0;
    for span in &line.spans {
        for ch in span.text.chars() {
            let cell = Cell {
                ch,
                bold: span.bold,
                width: span.width,
                height: span.height,
            };
            let w = usize::from(span.width);
            if used + w > columns && used > 0 {
                rows.push(Vec::new());
                used = 0;
            }
            if let Some(row) = rows.last_mut() {
                row.push(cell);
            }
            used += w;
        }
    }
    rows
}

/// Columns of blank space left of an item `used` columns wide.
pub(crate) fn indent(align: Align, used: usize, columns: usize) -> usize {
    let free = columns.saturating_sub(used);
    match align {
        Align::Left => 0,
        Align::Center => free / 2,
        Align::Right => free,
    }
}

/// The bracketed placeholder for a non-text line, or `None` for text and feeds.
pub(crate) fn placeholder(line: &Line) -> Option<(Align, String)> {
    match line {
        Line::Barcode(barcode) => {
            let kind = match barcode.kind {
                BarcodeKind::Ean13 => "EAN13".to_string(),
                BarcodeKind::Code128 => "CODE128".to_string(),
                BarcodeKind::Other(system) => format!("BARCODE m={system}"),
            };
            Some((barcode.align, format!("[{kind} {}]", barcode.data)))
        }
        Line::Qr(qr) => Some((qr.align, format!("[QR {}]", qr.data))),
        Line::Image(image) => Some((
            image.align,
            format!(
                "[IMAGE {}x{}]",
                image.printed_width(),
                image.printed_height()
            ),
        )),
        Line::Text(_) | Line::Feed(_) => None,
    }
}

impl Receipt {
    /// Render the receipt as plain text, `columns` characters wide (42 in our stores).
    ///
    /// Each output line ends with `\n`; trailing blanks are trimmed so comparisons do not
    /// depend on invisible padding. A finished receipt ends with a `✂ - - -` line.
    pub fn to_text(&self, columns: usize) -> String {
        let columns = columns.max(1);
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::Text(text) => {
                    for row in wrap(text, columns) {
                        let used: usize = row.iter().map(|c| usize::from(c.width)).sum();
                        let mut rendered = " ".repeat(indent(text.align, used, columns));
                        for cell in row {
                            rendered.push(cell.ch);
                            for _ in 1..cell.width {
                                rendered.push(' ');
                            }
                        }
                        push_line(&mut out, &rendered);
                    }
                }
                Line::Feed(n) => {
                    for _ in 0..*n {
                        out.push('\n');
                    }
                }
                other => {
                    if let Some((align, label)) = placeholder(other) {
                        let used = label.chars().count();
                        let rendered =
                            format!("{}{label}", " ".repeat(indent(align, used, columns)));
                        push_line(&mut out, &rendered);
                    }
                }
            }
        }
        if self.cut.is_some() {
            let mut scissors = String::from("✂");
            while scissors.chars().count() + 2 <= columns {
                scissors.push_str(" -");
            }
            push_line(&mut out, &scissors);
        }
        out
    }
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line.trim_end());
    out.push('\n');
}
