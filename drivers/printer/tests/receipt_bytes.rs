//! A German/Czech receipt rendered for PC858 (Austria, Germany) and PC852 (Czechia) gives
//! exactly these bytes. The expected bytes are written out by hand from the IBM 858 and
//! 852 charts (the same tables as Epson's 19 and 18), not computed by the encoder.

use posd_printer::{CodePage, Cut, Document, Profile, Style, render};

fn receipt() -> Document {
    Document::new()
        .line_styled("Müsli Früchte", Style::new().center().bold())
        .line("Příliš žluťoučký kůň")
        .line("Äpfel, Öl & Übergröße")
        .item("Milch 1,5 %", "1,29")
        .separator('-')
        .item_styled("Summe EUR", "12,50 €", Style::new().bold())
        .cut(Cut::partial())
}

/// Bytes both code pages share: "Müsli Früchte" line, the umlaut line, the milk item
/// and the separator, with the style changes between them.
fn shared_middle(czech_line: &[u8]) -> Vec<u8> {
    let mut b = vec![];
    // ESC a 1 (center), ESC E 1 (bold)
    b.extend([0x1B, 0x61, 0x01, 0x1B, 0x45, 0x01]);
    // M ü s l i ␠ F r ü c h t e LF   (ü = 0x81 in both pages)
    b.extend([
        0x4D, 0x81, 0x73, 0x6C, 0x69, 0x20, 0x46, 0x72, 0x81, 0x63, 0x68, 0x74, 0x65, 0x0A,
    ]);
    // ESC a 0 (left), ESC E 0 (bold off)
    b.extend([0x1B, 0x61, 0x00, 0x1B, 0x45, 0x00]);
    b.extend(czech_line);
    // Ä p f e l , ␠ Ö l ␠ & ␠ Ü b e r g r ö ß e LF   (Ä 8E, Ö 99, Ü 9A, ö 94, ß E1 in both)
    b.extend([
        0x8E, 0x70, 0x66, 0x65, 0x6C, 0x2C, 0x20, 0x99, 0x6C, 0x20, 0x26, 0x20, 0x9A, 0x62, 0x65,
        0x72, 0x67, 0x72, 0x94, 0xE1, 0x65, 0x0A,
    ]);
    // "Milch 1,5 %" (11) + 17 spaces + "1,29" (4) = 32 columns, LF
    b.extend([
        0x4D, 0x69, 0x6C, 0x63, 0x68, 0x20, 0x31, 0x2C, 0x35, 0x20, 0x25,
    ]);
    b.extend([0x20; 17]);
    b.extend([0x31, 0x2C, 0x32, 0x39, 0x0A]);
    // 32 × '-' (0x2D, not 0xF0), LF
    b.extend([0x2D; 32]);
    b.push(0x0A);
    // ESC E 1 (bold) for the total
    b.extend([0x1B, 0x45, 0x01]);
    // "Summe EUR"
    b.extend([0x53, 0x75, 0x6D, 0x6D, 0x65, 0x20, 0x45, 0x55, 0x52]);
    b
}

#[test]
fn pc858_receipt_bytes() {
    let mut expected = vec![0x1B, 0x40, 0x1B, 0x74, 19]; // ESC @, ESC t 19
    // P ř→r í l i š→s ␠ ž→z l u ť→t o u č→c k ý ␠ k ů→u ň→n LF   (í A1, ý EC)
    let czech: [u8; 21] = [
        0x50, 0x72, 0xA1, 0x6C, 0x69, 0x73, 0x20, 0x7A, 0x6C, 0x75, 0x74, 0x6F, 0x75, 0x63, 0x6B,
        0xEC, 0x20, 0x6B, 0x75, 0x6E, 0x0A,
    ];
    expected.extend(shared_middle(&czech));
    // 9 + 16 spaces + "12,50 €" (7, € = 0xD5) = 32, LF
    expected.extend([0x20; 16]);
    expected.extend([0x31, 0x32, 0x2C, 0x35, 0x30, 0x20, 0xD5, 0x0A]);
    expected.extend([0x1D, 0x56, 0x42, 0x00]); // GS V 66 0

    let rendered = render(&receipt(), &Profile::paper_58mm(CodePage::Pc858));
    assert_eq!(hex(&rendered.bytes), hex(&expected));

    let replaced: Vec<(char, &str)> = rendered
        .warnings
        .iter()
        .map(|w| (w.character, w.replacement))
        .collect();
    assert_eq!(
        replaced,
        [
            ('ř', "r"),
            ('š', "s"),
            ('ž', "z"),
            ('ť', "t"),
            ('č', "c"),
            ('ů', "u"),
            ('ň', "n")
        ]
    );
}

#[test]
fn pc852_receipt_bytes() {
    let mut expected = vec![0x1B, 0x40, 0x1B, 0x74, 18]; // ESC @, ESC t 18
    // P ř í l i š ␠ ž l u ť o u č k ý ␠ k ů ň LF
    // (ř FD, í A1, š E7, ž A7, ť 9C, č 9F, ý EC, ů 85, ň E5)
    let czech: [u8; 21] = [
        0x50, 0xFD, 0xA1, 0x6C, 0x69, 0xE7, 0x20, 0xA7, 0x6C, 0x75, 0x9C, 0x6F, 0x75, 0x9F, 0x6B,
        0xEC, 0x20, 0x6B, 0x85, 0xE5, 0x0A,
    ];
    expected.extend(shared_middle(&czech));
    // 9 + 14 spaces + "12,50 EUR" (9; PC852 has no €) = 32, LF
    expected.extend([0x20; 14]);
    expected.extend([0x31, 0x32, 0x2C, 0x35, 0x30, 0x20, 0x45, 0x55, 0x52, 0x0A]);
    expected.extend([0x1D, 0x56, 0x42, 0x00]); // GS V 66 0

    let rendered = render(&receipt(), &Profile::paper_58mm(CodePage::Pc852));
    assert_eq!(hex(&rendered.bytes), hex(&expected));

    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].character, '€');
    assert_eq!(rendered.warnings[0].code_page, CodePage::Pc852);
    assert_eq!(rendered.warnings[0].replacement, "EUR");
}

/// Hex dump, so a failing comparison shows where the bytes differ.
fn hex(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|row| {
            row.iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
