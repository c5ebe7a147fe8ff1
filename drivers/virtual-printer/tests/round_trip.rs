//! What posd-printer renders, the virtual printer reads back: text in both code pages with
//! its styles and alignment, two-column lines, barcodes, QR codes, images, cuts and drawer
//! kicks. A change to either side that the other does not understand fails here.

use posd_printer::{
    Code128, CodePage, Cut, Document, DrawerKick, DrawerPin, Ean13, ErrorCorrection, Image,
    Profile, QrCode, Style, render,
};
use posd_virtual_printer::{Align, BarcodeKind, Line, Output, decode, decode_all};

fn text_lines(receipt: &posd_virtual_printer::Receipt) -> Vec<String> {
    receipt
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Text(t) => Some(t.text()),
            _ => None,
        })
        .collect()
}

#[test]
fn german_and_czech_text_round_trips_in_its_code_page() {
    for (code_page, text) in [
        (CodePage::Pc858, "Müsli Früchte, Größe XL: 12,50 €"),
        (CodePage::Pc852, "Příliš žluťoučký kůň úpěl ďábelské ódy"),
        (CodePage::Pc852, "PŘÍLIŠ ŽLUŤOUČKÝ KŮŇ ÚPĚL ĎÁBELSKÉ ÓDY"),
    ] {
        let profile = Profile::paper_80mm(code_page);
        let doc = Document::new().line(text).cut(Cut::partial());
        let rendered = render(&doc, &profile);
        assert!(rendered.warnings.is_empty(), "{:?}", rendered.warnings);
        let receipts = decode(&rendered.bytes);
        assert_eq!(receipts.len(), 1);
        assert_eq!(
            text_lines(&receipts[0]),
            vec![text.to_string()],
            "{code_page:?}"
        );
        assert!(
            receipts[0].warnings.is_empty(),
            "{:?}",
            receipts[0].warnings
        );
    }
}

#[test]
fn styles_alignment_and_columns_round_trip() {
    let profile = Profile::paper_80mm_512(CodePage::Pc858);
    let doc = Document::new()
        .line_styled("Filiale Wien", Style::new().center().bold().double_size())
        .line_styled("rechts", Style::new().right())
        .item("Milch 1,5 %", "1,29")
        .item_styled("Summe EUR", "13,79", Style::new().bold())
        .cut(Cut::full());
    let receipts = decode(&render(&doc, &profile).bytes);
    let receipt = &receipts[0];
    let Line::Text(title) = &receipt.lines[0] else {
        panic!("{:?}", receipt.lines[0]);
    };
    assert_eq!(title.text(), "Filiale Wien");
    assert_eq!(title.align, Align::Center);
    assert!(title.is_bold());
    assert_eq!(title.height(), 2);
    let text = receipt.to_text(42);
    assert!(text.contains(&format!("{:>42}", "rechts")), "{text}");
    assert!(
        text.contains(&format!("Milch 1,5 %{:>31}", "1,29")),
        "{text}"
    );
    assert!(
        text.contains(&format!("Summe EUR{:>33}", "13,79")),
        "{text}"
    );
    assert!(receipt.cut.is_some_and(|c| !c.partial));
}

#[test]
fn barcodes_qr_images_and_drawer_round_trip() {
    let profile = Profile::paper_80mm(CodePage::Pc858);
    let image = Image::new(16, 2, vec![0xFF, 0x00, 0x0F, 0xF0]).expect("image");
    let doc = Document::new()
        .ean13(Ean13::new("400638133393").expect("ean"))
        .code128(Code128::new("ABC-123").expect("code128 B"))
        .code128(Code128::new("12345678").expect("code128 C"))
        .qr(QrCode::new(
            "https://posd.example/r/0001-01-000042",
            6,
            ErrorCorrection::M,
        )
        .expect("qr"))
        .image(image)
        .drawer_kick(DrawerKick::new(DrawerPin::Pin5, 100, 200))
        .cut(Cut::partial());
    let receipts = decode(&render(&doc, &profile).bytes);
    let receipt = &receipts[0];
    let barcodes: Vec<(BarcodeKind, String)> = receipt
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Barcode(b) => Some((b.kind, b.data.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        barcodes,
        vec![
            (BarcodeKind::Ean13, "4006381333931".to_string()),
            (BarcodeKind::Code128, "ABC-123".to_string()),
            (BarcodeKind::Code128, "12345678".to_string()),
        ]
    );
    let qr = receipt.lines.iter().find_map(|l| match l {
        Line::Qr(q) => Some(q),
        _ => None,
    });
    let qr = qr.expect("QR decoded");
    assert_eq!(qr.data, "https://posd.example/r/0001-01-000042");
    assert_eq!(qr.module_size, 6);
    let image = receipt.lines.iter().find_map(|l| match l {
        Line::Image(i) => Some(i),
        _ => None,
    });
    let image = image.expect("image decoded");
    assert_eq!((image.width, image.height), (16, 2));
    assert!(
        image.is_black(0, 0)
            && !image.is_black(8, 0)
            && !image.is_black(0, 1)
            && image.is_black(8, 1)
    );
    let kicks: Vec<String> = decode_all(&render(&doc, &profile).bytes)
        .iter()
        .filter_map(|o| match o {
            Output::DrawerKick(kick) => Some(kick.to_string()),
            Output::Receipt(_) => None,
        })
        .collect();
    assert_eq!(kicks, ["drawer kick pin 5 (m=1, on 100 ms, off 200 ms)"]);
    assert!(receipt.warnings.is_empty(), "{:?}", receipt.warnings);
}

#[test]
fn the_test_page_decodes_without_warnings_in_every_profile() {
    for profile in [
        Profile::paper_58mm(CodePage::Pc852),
        Profile::paper_80mm_512(CodePage::Pc858),
        Profile::paper_80mm(CodePage::Pc858),
    ] {
        let info = posd_printer::TestPageInfo {
            device_name: "receipt",
            connection: "tcp:192.0.2.10:9100",
            store_id: "AT-1010-003",
            register_id: "02",
            version: "0.1.0",
            job_id: "receipt-7",
        };
        let rendered = render(&posd_printer::test_page(&profile, &info), &profile);
        let receipts = decode(&rendered.bytes);
        assert_eq!(receipts.len(), 1, "{profile:?}");
        assert!(
            receipts[0].warnings.is_empty(),
            "{profile:?}: {:?}",
            receipts[0].warnings
        );
        let text = receipts[0].to_text(usize::from(profile.columns));
        assert!(text.contains("receipt-7"), "{text}");
        receipts[0]
            .to_png(u32::from(profile.dots_per_line))
            .expect("PNG of the test page");
    }
}
