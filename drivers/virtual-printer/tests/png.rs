//! The PNG is what a customer would hold: decode it back and look at the pixels.

use posd_virtual_printer::{
    Align, Barcode, BarcodeKind, HriPosition, Line, QrCode, QrErrorCorrection, RasterImage,
    Receipt, Span, TextLine, decode,
};

/// A decoded PNG: `black[y * width + x]`.
struct Bitmap {
    width: usize,
    height: usize,
    black: Vec<bool>,
}

impl Bitmap {
    fn at(&self, x: usize, y: usize) -> bool {
        self.black[y * self.width + x]
    }

    fn ink(&self) -> usize {
        self.black.iter().filter(|&&b| b).count()
    }

    /// (min x, min y, max x, max y) of all ink.
    fn bbox(&self) -> (usize, usize, usize, usize) {
        let mut b = (usize::MAX, usize::MAX, 0, 0);
        for y in 0..self.height {
            for x in 0..self.width {
                if self.at(x, y) {
                    b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
                }
            }
        }
        assert!(b.0 != usize::MAX, "the image is blank");
        b
    }

    fn transitions(&self, y: usize) -> usize {
        (1..self.width)
            .filter(|&x| self.at(x, y) != self.at(x - 1, y))
            .count()
    }
}

fn png(receipt: &Receipt, dots: u32) -> Bitmap {
    let bytes = match receipt.to_png(dots) {
        Ok(bytes) => bytes,
        Err(e) => panic!("to_png failed: {e}"),
    };
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("PNG header decodes");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("PNG image data decodes");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let (width, height) = (info.width as usize, info.height as usize);
    let black = buf[..width * height].iter().map(|&v| v < 128).collect();
    Bitmap {
        width,
        height,
        black,
    }
}

fn text_receipt(text: &str, bold: bool, width: u8, height: u8) -> Receipt {
    Receipt {
        lines: vec![Line::Text(TextLine {
            align: Align::Left,
            spans: vec![Span {
                text: text.to_string(),
                bold,
                width,
                height,
            }],
        })],
        ..Receipt::default()
    }
}

fn single(bytes: &[u8]) -> Receipt {
    let mut receipts = decode(bytes);
    assert_eq!(receipts.len(), 1);
    receipts.remove(0)
}

#[test]
fn png_is_as_wide_as_the_paper_and_grows_with_the_receipt() {
    let short = single(b"\x1b@Eine Zeile\n\x1dVA\x00");
    let long = single(b"\x1b@Eine Zeile\nzwei\ndrei\n\x1dVA\x00");
    let short_png = png(&short, 576);
    let long_png = png(&long, 576);
    assert_eq!(short_png.width, 576);
    assert!(long_png.height > short_png.height);
    let (x0, _, x1, _) = short_png.bbox();
    assert!(x0 > 0 && x1 < 576, "text stays on the paper: {x0}..{x1}");
    let narrow = png(&short, 384);
    assert_eq!(narrow.width, 384);
    assert!(short.to_png(0).is_err());
    assert!(short.to_png_with_columns(200, 576).is_err());
}

#[test]
fn bold_line_has_more_ink_than_the_same_text_plain() {
    let plain = png(&text_receipt("SUMME 12,50 €", false, 1, 1), 576);
    let bold = png(&text_receipt("SUMME 12,50 €", true, 1, 1), 576);
    assert!(
        bold.ink() * 10 > plain.ink() * 13,
        "bold {} vs plain {} black dots",
        bold.ink(),
        plain.ink()
    );
}

#[test]
fn double_size_text_is_twice_as_wide_and_tall() {
    let normal = png(&text_receipt("Wien", false, 1, 1), 576).bbox();
    let double = png(&text_receipt("Wien", false, 2, 2), 576).bbox();
    let size = |b: (usize, usize, usize, usize)| (b.2 - b.0 + 1, b.3 - b.1 + 1);
    let (nw, nh) = size(normal);
    let (dw, dh) = size(double);
    assert!(dw >= 2 * nw - 2 && dw <= 2 * nw + 30, "width {nw} -> {dw}");
    assert_eq!(dh, 2 * nh, "height {nh} -> {dh}");
}

#[test]
fn alignment_moves_the_ink() {
    let line = |align: &[u8]| single(&[align, b"Mitte\n".as_slice()].concat());
    let left = png(&line(b"\x1ba\x00"), 576).bbox();
    let centre = png(&line(b"\x1ba\x01"), 576).bbox();
    let right = png(&line(b"\x1ba\x02"), 576).bbox();
    assert!(left.0 < 40);
    assert!((centre.0 + centre.2) / 2 > 270 && (centre.0 + centre.2) / 2 < 306);
    assert!(right.2 > 536);
}

#[test]
fn german_and_czech_letters_have_their_own_glyphs() {
    // 'ƒ' is in PC437 but in none of the bundled fonts: it prints the missing-glyph box.
    let tofu = png(&text_receipt("ƒ", false, 1, 1), 576).black;
    let pairs = [
        ('ä', 'a'),
        ('ö', 'o'),
        ('ü', 'u'),
        ('ß', 'B'),
        ('Ä', 'A'),
        ('Ö', 'O'),
        ('Ü', 'U'),
        ('€', 'C'),
        ('á', 'a'),
        ('č', 'c'),
        ('ď', 'd'),
        ('é', 'e'),
        ('ě', 'e'),
        ('í', 'i'),
        ('ň', 'n'),
        ('ó', 'o'),
        ('ř', 'r'),
        ('š', 's'),
        ('ť', 't'),
        ('ú', 'u'),
        ('ů', 'u'),
        ('ý', 'y'),
        ('ž', 'z'),
        ('Á', 'A'),
        ('Č', 'C'),
        ('Ď', 'D'),
        ('É', 'E'),
        ('Ě', 'E'),
        ('Í', 'I'),
        ('Ň', 'N'),
        ('Ó', 'O'),
        ('Ř', 'R'),
        ('Š', 'S'),
        ('Ť', 'T'),
        ('Ú', 'U'),
        ('Ů', 'U'),
        ('Ý', 'Y'),
        ('Ž', 'Z'),
    ];
    for (letter, base) in pairs {
        let glyph = png(&text_receipt(&letter.to_string(), false, 1, 1), 576);
        let plain = png(&text_receipt(&base.to_string(), false, 1, 1), 576);
        assert!(glyph.ink() > 0, "{letter} is blank");
        assert_ne!(glyph.black, tofu, "{letter} has no glyph");
        assert_ne!(glyph.black, plain.black, "{letter} looks like {base}");
    }
}

#[test]
fn box_drawing_lines_join_across_characters() {
    let bitmap = png(&text_receipt(&"═".repeat(20), false, 1, 1), 576);
    let longest_run = (0..bitmap.height)
        .map(|y| {
            let mut best = 0;
            let mut run = 0;
            for x in 0..bitmap.width {
                run = if bitmap.at(x, y) { run + 1 } else { 0 };
                best = best.max(run);
            }
            best
        })
        .max()
        .unwrap_or(0);
    assert!(
        longest_run >= 20 * 13,
        "longest horizontal run {longest_run}"
    );
}

/// Read the modules of the barcode on row `y`, `module` dots per module.
fn modules_on_row(bitmap: &Bitmap, y: usize, module: usize) -> String {
    let xs: Vec<usize> = (0..bitmap.width).filter(|&x| bitmap.at(x, y)).collect();
    let (first, last) = (xs[0], xs[xs.len() - 1]);
    (first..=last)
        .step_by(module)
        .map(|x| if bitmap.at(x, y) { '1' } else { '0' })
        .collect()
}

fn barcode_receipt(kind: BarcodeKind, data: &str, raw: &[u8], hri: HriPosition) -> Receipt {
    Receipt {
        lines: vec![Line::Barcode(Barcode {
            kind,
            data: data.to_string(),
            raw: raw.to_vec(),
            align: Align::Center,
            height: 60,
            module_width: 2,
            hri,
        })],
        ..Receipt::default()
    }
}

#[test]
fn ean13_is_drawn_as_scannable_bars_with_digits_below() {
    let receipt = single(b"\x1ba\x01\x1dh\x3c\x1dw\x02\x1dH\x02\x1dkC\x0d4006381333931");
    let bitmap = png(&receipt, 576);
    let bar_rows: Vec<usize> = (0..bitmap.height)
        .filter(|&y| bitmap.transitions(y) >= 60)
        .collect();
    assert_eq!(bar_rows.len(), 60, "bars are 60 dots high");
    // The same bit string the independent python-barcode library produces.
    assert_eq!(
        modules_on_row(&bitmap, bar_rows[30], 2),
        "10100011010100111010111101111010001001011001101010100001010000101000010111010010000101100110101"
    );
    let below = bar_rows[59] + 1;
    assert!(
        (below..bitmap.height).any(|y| (0..bitmap.width).any(|x| bitmap.at(x, y))),
        "HRI digits below the bars"
    );
    // Without HRI nothing is printed below the bars.
    let bare = png(
        &barcode_receipt(
            BarcodeKind::Ean13,
            "4006381333931",
            b"4006381333931",
            HriPosition::None,
        ),
        576,
    );
    assert_eq!(bare.bbox().3 - bare.bbox().1 + 1, 60);
}

#[test]
fn code128_is_drawn_with_check_symbol_and_stop_pattern() {
    let receipt = barcode_receipt(
        BarcodeKind::Code128,
        "ABC-123",
        b"{BABC-123",
        HriPosition::None,
    );
    let bitmap = png(&receipt, 576);
    let (_, top, _, _) = bitmap.bbox();
    assert_eq!(
        modules_on_row(&bitmap, top + 10, 2),
        "1101001000010100011000100010110001000100011010011011100100111001101100111001011001011100101100001001100011101011"
    );
    let set_c = barcode_receipt(
        BarcodeKind::Code128,
        "12345678",
        &[b'{', b'C', 12, 34, 56, 78],
        HriPosition::None,
    );
    let bitmap = png(&set_c, 576);
    let (_, top, _, _) = bitmap.bbox();
    assert_eq!(
        modules_on_row(&bitmap, top + 10, 2),
        "1101001110010110011100100010110001110001011011000010100100011101101100011101011"
    );
}

#[test]
fn qr_code_reads_back_with_a_qr_decoder_at_the_module_size() {
    let url = "https://posd.example/r/2024-000123?s=Wien";
    let receipt = Receipt {
        lines: vec![Line::Qr(QrCode {
            data: url.to_string(),
            raw: url.as_bytes().to_vec(),
            module_size: 5,
            error_correction: QrErrorCorrection::M,
            align: Align::Center,
        })],
        ..Receipt::default()
    };
    let bitmap = png(&receipt, 576);
    assert!(bitmap.ink() > 0, "QR area is not empty");
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(bitmap.width, bitmap.height, |x, y| {
            if bitmap.at(x, y) { 0 } else { 255 }
        });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code found");
    let (meta, content) = grids[0].decode().expect("QR decodes");
    assert_eq!(content, url);
    let modules = 17 + 4 * meta.version.0;
    let (x0, y0, x1, y1) = bitmap.bbox();
    assert_eq!((x1 - x0 + 1, y1 - y0 + 1), (modules * 5, modules * 5));
}

#[test]
fn raster_image_is_drawn_dot_for_dot() {
    let rows: [[u8; 2]; 3] = [[0xff, 0xff], [0x80, 0x01], [0xa5, 0x5a]];
    let receipt = Receipt {
        lines: vec![Line::Image(RasterImage {
            width: 16,
            height: 3,
            bits: rows.concat(),
            scale_x: 1,
            scale_y: 1,
            align: Align::Left,
        })],
        ..Receipt::default()
    };
    let bitmap = png(&receipt, 576);
    let (x0, y0, x1, y1) = bitmap.bbox();
    assert_eq!((x1 - x0 + 1, y1 - y0 + 1), (16, 3));
    for (y, row) in rows.iter().enumerate() {
        for x in 0..16 {
            let expected = row[x / 8] & (0x80 >> (x % 8)) != 0;
            assert_eq!(bitmap.at(x0 + x, y0 + y), expected, "dot ({x}, {y})");
        }
    }
}

#[test]
fn a_whole_receipt_renders() {
    let bytes = [
        b"\x1b@\x1bt\x13\x1ba\x01\x1bE\x01\x1d!\x11B\x84ckerei\n\x1d!\x00\x1bE\x00".as_slice(),
        b"\x1ba\x00Semmel                              0,80 \xd5\n",
        b"\x1ba\x01\x1dh\x50\x1dw\x02\x1dH\x02\x1dkC\x0d4006381333931",
        b"\x1d(k\x03\x001C\x04\x1d(k\x1b\x001P0https://posd.example/r/1\x1d(k\x03\x001Q0",
        b"\x1dv0\x00\x02\x00\x02\x00\xff\xff\xff\xff\x1bd\x02\x1dVA\x10",
    ]
    .concat();
    let receipt = single(&bytes);
    assert!(receipt.warnings.is_empty(), "{:?}", receipt.warnings);
    let bitmap = png(&receipt, 576);
    assert_eq!(bitmap.width, 576);
    assert!(bitmap.height > 300, "height {}", bitmap.height);
}
