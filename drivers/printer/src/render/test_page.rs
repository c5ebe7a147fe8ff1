//! The technician's test page: one print that shows whether the configuration matches the
//! printer (code page, columns, print width, cutter) and which till it belongs to.

use crate::document::{Code128, Cut, Document, Ean13, ErrorCorrection, Image, QrCode, Style};
use crate::render::Profile;

/// What the test page says about the till and the printer connection.
///
/// Borrowed strings: the daemon has them in its configuration already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestPageInfo<'a> {
    /// The printer's name in the configuration, e.g. "receipt".
    pub device_name: &'a str,
    /// The connection string, e.g. "tcp:192.0.2.10:9100".
    pub connection: &'a str,
    /// The store, e.g. "AT-1010-003".
    pub store_id: &'a str,
    /// The till within the store, e.g. "02".
    pub register_id: &'a str,
    /// The posd version that printed the page.
    pub version: &'a str,
    /// The print job's id, so the paper can be matched to the daemon's log ("" for none).
    pub job_id: &'a str,
}

/// Data of the test page's EAN-13 (a valid code, so scanning it proves the scanner too).
pub const TEST_EAN13: &str = "4006381333931";
/// Data of the test page's CODE128.
pub const TEST_CODE128: &str = "POSD-TEST-0001";

/// A test page for `profile`: identification, column ruler, print width bar, the German
/// and Czech letters and `€` in the configured code page, the whole code page, the text
/// styles, an item line, an EAN-13, a CODE128, a QR code and a partial cut.
///
/// Letters the code page lacks come out without their accents, exactly as they would on a
/// receipt — that is the point of printing them.
pub fn test_page(profile: &Profile, info: &TestPageInfo<'_>) -> Document {
    let columns = usize::from(profile.columns);
    let code_page = profile.code_page;
    let mut doc = Document::new()
        .line_styled("TEST PAGE", Style::new().center().bold().double_size())
        .line_styled("posd receipt printer", Style::new().center())
        .feed(1)
        .item("Device", info.device_name)
        .item("Connection", info.connection)
        .item("Store", info.store_id)
        .item("Register", info.register_id)
        .item("posd version", info.version)
        .item("Job", info.job_id)
        .item(
            "Code page",
            format!("{code_page} (ESC t {})", code_page.escpos_table()),
        )
        .item("Columns", columns.to_string())
        .item("Dots per line", profile.dots_per_line.to_string())
        .item("Cutter", if profile.cut { "yes" } else { "no" })
        .separator('-')
        .line("Column ruler (last digit at the edge):")
        .line(ruler_tens(columns))
        .line(ruler_ones(columns))
        .line("Print width (bar spans the paper):");
    if let Some(bar) = width_bar(profile.dots_per_line) {
        doc = doc.image(bar);
    }
    doc = doc
        .separator('-')
        .line("German: äöü ÄÖÜ ß")
        .line("Czech: áčďéěíňóřšťúůýž")
        .line("       ÁČĎÉĚÍŇÓŘŠŤÚŮÝŽ")
        .line("Euro: € 12,50 €")
        .line("Letters missing from the code page print without accent, other characters as ?")
        .separator('-')
        .line(format!("{code_page}, bytes 80-FF:"));
    for (row, chars) in code_page.upper_half().chunks(16).enumerate() {
        let mut line = format!("{:X}x ", row + 8);
        line.extend(chars.iter());
        doc = doc.line(line);
    }
    doc = doc
        .separator('-')
        .line("Normal")
        .line_styled("Bold", Style::new().bold())
        .line_styled("Double width", Style::new().double_width())
        .line_styled("Double height", Style::new().double_height())
        .line_styled("Double size", Style::new().double_size())
        .line_styled("Centered", Style::new().center())
        .line_styled("Right", Style::new().right())
        .item("Milch 1,5 %", "1,29")
        .item("Müsli Früchte mit einem sehr langen Namen", "12,50")
        .item_styled("Summe EUR", "13,79", Style::new().bold())
        .separator('=');

    doc = doc.line_styled("EAN-13", Style::new().center());
    doc = match Ean13::new(TEST_EAN13) {
        Ok(code) => doc.ean13(code),
        Err(e) => doc.line(e.to_string()),
    };
    doc = doc.feed(1).line_styled("CODE128", Style::new().center());
    doc = match Code128::new(TEST_CODE128) {
        Ok(code) => doc.code128(code),
        Err(e) => doc.line(e.to_string()),
    };
    doc = doc.feed(1).line_styled("QR", Style::new().center());
    let qr_data = format!(
        "posd test page; device {}; store {}; register {}; {}",
        info.device_name, info.store_id, info.register_id, info.connection
    );
    doc = match QrCode::new(qr_data, 6, ErrorCorrection::M) {
        Ok(code) => doc.qr(code),
        Err(e) => doc.line(e.to_string()),
    };
    doc.feed(2).cut(Cut::partial())
}

/// "         1         2  …": the tens above [`ruler_ones`].
fn ruler_tens(columns: usize) -> String {
    (1..=columns)
        .map(|i| {
            if i % 10 == 0 {
                char::from(b'0' + ((i / 10) % 10) as u8)
            } else {
                ' '
            }
        })
        .collect()
}

/// "1234567890123…", exactly `columns` long.
fn ruler_ones(columns: usize) -> String {
    (1..=columns)
        .map(|i| char::from(b'0' + (i % 10) as u8))
        .collect()
}

/// A frame `dots` wide with a tick every 8 mm (64 dots): if the configured print width is
/// right, it ends at both paper edges without wrapping. `None` if wider than any image.
fn width_bar(dots: u16) -> Option<Image> {
    const HEIGHT: u16 = 16;
    let width = usize::from(dots);
    let mut pixels = vec![255u8; width * usize::from(HEIGHT)];
    for y in 0..usize::from(HEIGHT) {
        for x in 0..width {
            let border = y < 2 || y >= usize::from(HEIGHT) - 2 || x < 2 || x + 2 >= width;
            let tick = x % 64 == 0 && y < usize::from(HEIGHT) / 2;
            if border || tick {
                pixels[y * width + x] = 0;
            }
        }
    }
    Image::from_greyscale(dots, HEIGHT, &pixels, 128).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codepage::CodePage;
    use crate::document::Element;
    use crate::render::render;

    fn info() -> TestPageInfo<'static> {
        TestPageInfo {
            device_name: "receipt",
            connection: "tcp:192.0.2.10:9100",
            store_id: "AT-1010-003",
            register_id: "02",
            version: "0.1.0",
            job_id: "receipt-7",
        }
    }

    fn texts(doc: &Document) -> Vec<String> {
        doc.elements
            .iter()
            .filter_map(|e| match e {
                Element::Text { text, .. } => Some(text.clone()),
                Element::TwoColumn { left, right, .. } => Some(format!("{left}|{right}")),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn shows_identification_and_configuration() {
        let profile = Profile::paper_80mm(CodePage::Pc852);
        let t = texts(&test_page(&profile, &info()));
        for expected in [
            "Device|receipt",
            "Connection|tcp:192.0.2.10:9100",
            "Store|AT-1010-003",
            "Register|02",
            "posd version|0.1.0",
            "Code page|PC852 (ESC t 18)",
            "Columns|48",
            "Dots per line|576",
            "Cutter|yes",
        ] {
            assert!(t.iter().any(|l| l == expected), "missing {expected:?}");
        }
    }

    #[test]
    fn has_ruler_letters_codes_and_a_cut() {
        let profile = Profile::paper_58mm(CodePage::Pc858);
        let doc = test_page(&profile, &info());
        let t = texts(&doc);
        assert!(t.contains(&"12345678901234567890123456789012".to_owned()));
        assert!(t.contains(&"         1         2         3  ".to_owned()));
        assert!(t.iter().any(|l| l.contains("ÄÖÜ ß")));
        assert!(t.iter().any(|l| l.contains("ÁČĎÉĚÍŇÓŘŠŤÚŮÝŽ")));
        assert!(t.iter().any(|l| l.contains('€')));
        assert!(t.contains(&"Dx ðÐÊËÈ€ÍÎÏ┘┌█▄¦Ì▀".to_owned()));
        let has = |f: fn(&Element) -> bool| doc.elements.iter().any(f);
        assert!(has(|e| matches!(e, Element::Ean13(_))));
        assert!(has(|e| matches!(e, Element::Code128(_))));
        assert!(has(|e| matches!(e, Element::Qr(_))));
        assert!(has(|e| matches!(e, Element::Image(i) if i.width() == 384)));
        assert!(matches!(doc.elements.last(), Some(Element::Cut(_))));
        assert!(has(
            |e| matches!(e, Element::Text { style, .. } if style.bold)
        ));
        assert!(has(
            |e| matches!(e, Element::Text { style, .. } if style.double_width && style.double_height)
        ));
    }

    #[test]
    fn renders_the_code_page_rows_as_bytes_80_to_ff() {
        let profile = Profile::paper_58mm(CodePage::Pc852);
        let rendered = render(&test_page(&profile, &info()), &profile);
        for high in 8u8..=0xF {
            let mut row = format!("{high:X}x ").into_bytes();
            // Trailing blanks (NBSP at 0xFF is not a space) are kept; 0x20 never occurs.
            row.extend((0..16).map(|low| high * 16 + low));
            row.push(b'\n');
            assert!(
                rendered.bytes.windows(row.len()).any(|w| w == row),
                "row {high:X}x not printed as raw bytes"
            );
        }
        // On PC852 only € is missing from the letters shown.
        let missing: Vec<char> = rendered.warnings.iter().map(|w| w.character).collect();
        assert_eq!(missing, ['€']);
    }

    #[test]
    fn pc858_test_page_warns_about_the_czech_hacek_letters() {
        let profile = Profile::paper_58mm(CodePage::Pc858);
        let rendered = render(&test_page(&profile, &info()), &profile);
        let missing: String = rendered.warnings.iter().map(|w| w.character).collect();
        assert_eq!(missing, "čďěňřšťůžČĎĚŇŘŠŤŮŽ");
    }
}
