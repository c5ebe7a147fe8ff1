//! Decoding hand-written ESC/POS byte sequences, the way our renderer emits them, and
//! checking what a technician would read off the paper.

use posd_virtual_printer::{
    Align, BarcodeKind, DrawerKick, HriPosition, Interpreter, Line, Output, QrErrorCorrection,
    Receipt, Tokenizer, decode, decode_all,
};

const INIT: &[u8] = b"\x1b@";
const PC858: &[u8] = b"\x1bt\x13";
const PC852: &[u8] = b"\x1bt\x12";
const CUT: &[u8] = b"\x1dVA\x00";

fn stream(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn single(bytes: &[u8]) -> Receipt {
    let mut receipts = decode(bytes);
    assert_eq!(receipts.len(), 1, "expected one receipt: {receipts:#?}");
    receipts.remove(0)
}

fn texts(receipt: &Receipt) -> Vec<String> {
    receipt.text_lines().iter().map(|l| l.text()).collect()
}

#[test]
fn german_text_in_pc858() {
    // Bytes from the PC858 chart: ü 81, ß E1, Ä 8E, Ö 99, Ü 9A, ö 94, ä 84, € D5.
    let receipt = single(&stream(&[
        INIT,
        PC858,
        b"Gr\x81\xe1e: \x8epfel, \x99l, \x9abergr\x94\xe1e\n",
        b"\x84 \x94 \x81 \xe1 12,50 \xd5\n",
        CUT,
    ]));
    assert_eq!(
        texts(&receipt),
        ["Grüße: Äpfel, Öl, Übergröße", "ä ö ü ß 12,50 €"]
    );
    assert!(receipt.warnings.is_empty(), "{:?}", receipt.warnings);
    assert!(receipt.is_finished());
}

#[test]
fn czech_text_in_pc852() {
    let receipt = single(&stream(&[
        INIT,
        PC852,
        // Příliš žluťoučký kůň úpěl ďábelské ódy
        b"P\xfd\xa1li\xe7 \xa7lu\x9cou\x9fk\xec k\x85\xe5 \xa3p\xd8l \xd4\xa0belsk\x82 \xa2dy\n",
        // Capitals: Č Ř Š Ž Ť Ď Ň Ě Ů Ú Á É Í Ó Ý
        b"\xac\xfc\xe6\xa6\x9b\xd2\xd5\xb7\xde\xe9\xb5\x90\xd6\xe0\xed\n",
        CUT,
    ]));
    assert_eq!(
        texts(&receipt),
        ["Příliš žluťoučký kůň úpěl ďábelské ódy", "ČŘŠŽŤĎŇĚŮÚÁÉÍÓÝ"]
    );
}

#[test]
fn code_page_switches_mid_receipt_and_init_resets_to_pc437() {
    let receipts = decode(&stream(&[
        PC858,
        b"\xd5\n",
        PC852,
        b"\xd5\n",
        CUT,
        INIT,
        b"\xd5\x84\n",
        CUT,
    ]));
    assert_eq!(texts(&receipts[0]), ["€", "Ň"]);
    // A printer left in PC437 prints a box drawing character instead of the euro sign.
    assert_eq!(texts(&receipts[1]), ["╒ä"]);
}

#[test]
fn unsupported_code_page_is_a_warning() {
    let receipt = single(&stream(&[PC858, b"\x1bt\x07\xd5\n"]));
    assert_eq!(texts(&receipt), ["€"]);
    assert!(
        receipt.warnings[0].contains("ESC t 7"),
        "{:?}",
        receipt.warnings
    );
}

#[test]
fn alignment_bold_and_size_show_in_the_text_rendering() {
    let receipt = single(&stream(&[
        INIT,
        PC858,
        b"\x1ba\x01\x1bE\x01Filiale Wien\n\x1bE\x00",
        b"\x1ba\x02Summe 12,50\n",
        b"\x1ba\x00\x1d!\x11TOTAL\x1d!\x00 ok\n",
        b"Links\n",
        CUT,
    ]));
    let lines = receipt.text_lines();
    assert_eq!(lines[0].align, Align::Center);
    assert!(lines[0].is_bold());
    assert_eq!(lines[1].align, Align::Right);
    assert!(!lines[1].is_bold());
    assert_eq!(lines[2].spans[0].width, 2);
    assert_eq!(lines[2].spans[0].height, 2);
    assert_eq!(lines[2].spans[1].width, 1);
    assert_eq!(lines[2].height(), 2);
    assert_eq!(lines[2].columns(), 13);
    let expected = format!(
        "{}Filiale Wien\n{}Summe 12,50\nT O T A L  ok\nLinks\n✂{}\n",
        " ".repeat(15),
        " ".repeat(31),
        " -".repeat(20)
    );
    assert_eq!(receipt.to_text(42), expected);
}

#[test]
fn double_width_centred_uses_two_columns_per_character() {
    let receipt = single(b"\x1ba\x01\x1d!\x10SUMME\n");
    // 5 characters × 2 columns = 10 columns, centred in 42: 16 spaces.
    assert_eq!(
        receipt.to_text(42),
        format!("{}S U M M E\n", " ".repeat(16))
    );
    // Not cut: no scissors line, and the receipt says so.
    assert!(!receipt.is_finished());
}

#[test]
fn alignment_in_the_middle_of_a_line_is_ignored_like_on_the_printer() {
    let receipt = single(b"abc\x1ba\x02def\nxyz\n");
    let lines = receipt.text_lines();
    assert_eq!(lines[0].text(), "abcdef");
    assert_eq!(lines[0].align, Align::Left);
    assert_eq!(lines[1].align, Align::Left);
    assert!(
        receipt.warnings[0].contains("ESC a"),
        "{:?}",
        receipt.warnings
    );
}

#[test]
fn long_lines_wrap_at_the_column_width() {
    let receipt = single(&[b"x".repeat(50).as_slice(), b"\n"].concat());
    assert_eq!(
        receipt.to_text(42),
        format!("{}\n{}\n", "x".repeat(42), "x".repeat(8))
    );
    assert_eq!(receipt.to_text(32).lines().count(), 2);
}

#[test]
fn feeds_and_empty_lines() {
    let receipt = single(b"A\n\n\x1bd\x03B\x1bd\x01C\n");
    assert_eq!(
        receipt
            .lines
            .iter()
            .filter(|l| matches!(l, Line::Feed(_)))
            .count(),
        2
    );
    assert_eq!(receipt.to_text(42), "A\n\n\n\n\nB\nC\n");
}

#[test]
fn ean13_with_and_without_check_digit() {
    let receipt = single(&stream(&[
        b"\x1ba\x01\x1dh\x50\x1dw\x02\x1dH\x02",
        b"\x1dkC\x0d4006381333931",
        b"\x1dkC\x0c400638133393",
        CUT,
    ]));
    let barcodes: Vec<_> = receipt
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Barcode(b) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(barcodes.len(), 2);
    for barcode in &barcodes {
        assert_eq!(barcode.kind, BarcodeKind::Ean13);
        assert_eq!(barcode.data, "4006381333931");
        assert_eq!(barcode.height, 80);
        assert_eq!(barcode.module_width, 2);
        assert_eq!(barcode.hri, HriPosition::Below);
        assert_eq!(barcode.align, Align::Center);
    }
    assert!(receipt.warnings.is_empty(), "{:?}", receipt.warnings);
    assert!(
        receipt
            .to_text(42)
            .contains("          [EAN13 4006381333931]\n")
    );
}

#[test]
fn ean13_problems_are_warned() {
    let receipt = single(b"\x1dkC\x0d4006381333932\x1dkC\x0540063");
    assert_eq!(receipt.lines.len(), 1, "a wrong check digit still prints");
    assert!(receipt.warnings[0].contains("check digit should be 1"));
    assert!(receipt.warnings[1].contains("12 or 13 digits"));
}

#[test]
fn code128_set_b_and_set_c() {
    let receipt = single(&stream(&[
        b"\x1dkI\x09{BABC-123",
        b"\x1dkI\x06{C\x0c\x22\x38\x4e",
        b"\x1dkI\x08{BNr{C\x0c\x22",
        CUT,
    ]));
    let text = receipt.to_text(42);
    assert_eq!(
        text.lines().take(3).collect::<Vec<_>>(),
        [
            "[CODE128 ABC-123]",
            "[CODE128 12345678]",
            "[CODE128 Nr1234]"
        ]
    );
    assert!(matches!(&receipt.lines[0], Line::Barcode(b) if b.kind == BarcodeKind::Code128));
}

#[test]
fn code128_without_code_set_is_not_printed() {
    let receipt = single(b"\x1dkI\x03ABC");
    assert!(receipt.lines.is_empty());
    assert!(
        receipt.warnings[0].contains("code set"),
        "{:?}",
        receipt.warnings
    );
}

fn qr_store(data: &[u8]) -> Vec<u8> {
    let len = data.len() + 3;
    let mut out = vec![
        0x1d,
        0x28,
        0x6b,
        (len % 256) as u8,
        (len / 256) as u8,
        0x31,
        0x50,
        0x30,
    ];
    out.extend_from_slice(data);
    out
}

#[test]
fn qr_store_and_print() {
    let url = "https://posd.example/r/2024-000123?s=Wien";
    let receipt = single(&stream(&[
        b"\x1ba\x01",
        b"\x1d(k\x04\x001A2\x00",
        b"\x1d(k\x03\x001C\x06",
        b"\x1d(k\x03\x001E1",
        &qr_store(url.as_bytes()),
        b"\x1d(k\x03\x001Q0",
        CUT,
    ]));
    match &receipt.lines[..] {
        [Line::Qr(qr)] => {
            assert_eq!(qr.data, url);
            assert_eq!(qr.module_size, 6);
            assert_eq!(qr.error_correction, QrErrorCorrection::M);
            assert_eq!(qr.align, Align::Center);
        }
        other => panic!("expected one QR line, got {other:?}"),
    }
    assert!(receipt.to_text(80).contains(&format!("[QR {url}]")));
}

#[test]
fn qr_with_long_data_uses_the_high_length_byte() {
    let data = "x".repeat(300);
    let receipt = single(&stream(&[&qr_store(data.as_bytes()), b"\x1d(k\x03\x001Q0"]));
    assert!(matches!(&receipt.lines[..], [Line::Qr(qr)] if qr.data == data));
}

#[test]
fn qr_print_without_data_is_warned() {
    let receipt = single(b"\x1d(k\x03\x001Q0");
    assert!(receipt.lines.is_empty());
    assert!(receipt.warnings[0].contains("without stored data"));
}

#[test]
fn raster_image_bits_and_scale() {
    // 16 × 3 dots: a frame row, a row with the outer dots, a full row.
    let image = b"\x1dv0\x00\x02\x00\x03\x00\xff\xff\x80\x01\xff\xff";
    let receipt = single(&stream(&[image, b"\x1dv0\x03\x01\x00\x01\x00\xaa", CUT]));
    let images: Vec<_> = receipt
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Image(i) => Some(i),
            _ => None,
        })
        .collect();
    assert_eq!((images[0].width, images[0].height), (16, 3));
    assert!(images[0].is_black(0, 1) && images[0].is_black(15, 1));
    assert!(!images[0].is_black(1, 1) && !images[0].is_black(14, 1));
    assert!(images[0].is_black(7, 2));
    assert_eq!(
        (images[1].printed_width(), images[1].printed_height()),
        (16, 2)
    );
    assert_eq!(
        receipt.to_text(42).lines().take(2).collect::<Vec<_>>(),
        ["[IMAGE 16x3]", "[IMAGE 16x2]"]
    );
}

#[test]
fn cuts_split_receipts_and_trailing_data_is_unfinished() {
    let receipts = decode(&stream(&[
        b"Bon 1\n",
        CUT,
        b"Bon 2\n",
        b"\x1dV\x01",
        b"Bon 3\n",
    ]));
    assert_eq!(receipts.len(), 3);
    assert_eq!(texts(&receipts[0]), ["Bon 1"]);
    assert_eq!(texts(&receipts[1]), ["Bon 2"]);
    assert!(receipts[1].cut.is_some_and(|c| c.partial));
    assert_eq!(texts(&receipts[2]), ["Bon 3"]);
    assert!(!receipts[2].is_finished());
    assert!(
        receipts[0]
            .to_text(42)
            .ends_with("✂ - - - - - - - - - - - - - - - - - - - -\n")
    );
    // Nothing after the last cut: no empty unfinished receipt.
    assert_eq!(decode(&stream(&[b"A\n", CUT])).len(), 1);
    assert!(decode(b"").is_empty());
}

#[test]
fn a_drawer_kick_happens_when_it_arrives_and_status_requests_are_not_print_data() {
    let outputs = decode_all(&stream(&[
        b"Bon\n",
        b"\x1bp\x00\x19\xfa",
        CUT,
        b"\x10\x04\x01",
        b"\x1bp\x01\x32\x64",
    ]));
    let kick = |m, on_ms, off_ms| Output::DrawerKick(DrawerKick { m, on_ms, off_ms });
    assert_eq!(
        outputs.len(),
        3,
        "no empty receipt at the end: {outputs:#?}"
    );
    assert_eq!(
        outputs[0],
        kick(0, 50, 500),
        "before the receipt it was sent in"
    );
    assert!(
        matches!(&outputs[1], Output::Receipt(r) if r.text_lines()[0].text() == "Bon"),
        "{outputs:#?}"
    );
    assert_eq!(
        outputs[2],
        kick(1, 100, 200),
        "a kick after the cut is no receipt"
    );
    let pin5 = DrawerKick {
        m: 1,
        on_ms: 100,
        off_ms: 200,
    };
    assert_eq!(
        pin5.to_string(),
        "drawer kick pin 5 (m=1, on 100 ms, off 200 ms)"
    );
    assert_eq!(
        decode(&stream(&[b"\x1bp\x00\x19\xfa"])),
        Vec::<Receipt>::new()
    );
}

#[test]
fn unknown_and_unrendered_commands_are_skipped_with_warnings() {
    let receipt = single(&stream(&[
        b"\x1b~Weiter\n",
        b"\x1b-\x01Unterstrichen\n",
        b"\x1d(L\x02\x00ab",
        b"Danach\n",
        b"\x1b\x1bX\n",
    ]));
    assert_eq!(texts(&receipt), ["Weiter", "Unterstrichen", "Danach", "X"]);
    let warnings = receipt.warnings.join("\n");
    assert!(warnings.contains("unknown command ESC ~"), "{warnings}");
    assert!(warnings.contains("ESC - (underline)"), "{warnings}");
    assert!(warnings.contains("GS ( L"), "{warnings}");
    assert!(warnings.contains("ESC 0x1B"), "{warnings}");
}

#[test]
fn repeated_warnings_are_folded() {
    let receipt = single(&[vec![0u8; 500], b"ok\n".to_vec()].concat());
    assert_eq!(receipt.warnings.len(), 1);
    assert!(
        receipt.warnings[0].ends_with("(×500)"),
        "{:?}",
        receipt.warnings
    );
}

#[test]
fn init_discards_unprinted_text() {
    let receipt = single(b"verloren\x1b@gedruckt\n");
    assert_eq!(texts(&receipt), ["gedruckt"]);
    assert!(receipt.warnings[0].contains("verloren"));
}

#[test]
fn truncated_stream_is_reported() {
    let receipt = single(b"Hallo\n\x1dv0\x00\x10\x00\x10\x00\xff");
    assert_eq!(texts(&receipt), ["Hallo"]);
    assert!(receipt.warnings[0].contains("stream ended inside a command"));
}

/// Sample bytes exercising every command, used for the chunking and fuzz tests.
fn sample() -> Vec<u8> {
    stream(&[
        INIT,
        PC858,
        b"\x1ba\x01\x1bE\x01B\x84ckerei\n\x1bE\x00\x1ba\x00",
        b"\x1d!\x11Gro\xe1\x1d!\x00\tklein\n",
        b"\x1dh\x40\x1dw\x02\x1dH\x02\x1dkC\x0d4006381333931",
        b"\x1dkI\x09{BABC-123",
        &qr_store(b"https://posd.example"),
        b"\x1d(k\x03\x001Q0",
        b"\x1dv0\x00\x01\x00\x02\x00\xf0\x0f",
        b"\x1bp\x00\x19\xfa",
        b"\x10\x04\x01",
        CUT,
        PC852,
        b"\x9fesky\n",
        b"\x1dVB\x10",
        b"offen",
    ])
}

#[test]
fn chunked_input_decodes_like_the_whole_stream() {
    let bytes = sample();
    let whole = decode(&bytes);
    assert_eq!(whole.len(), 3);
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..200 {
        let mut tokenizer = Tokenizer::new();
        let mut interpreter = Interpreter::new();
        let mut receipts = Vec::new();
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let n = rng.usize(1..=rest.len().min(9));
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            for parsed in tokenizer.push(chunk) {
                receipts.extend(interpreter.apply(parsed.command).and_then(|o| match o {
                    Output::Receipt(r) => Some(r),
                    Output::DrawerKick(_) => None,
                }));
            }
        }
        receipts.extend(interpreter.finish());
        assert_eq!(receipts, whole);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = fastrand::Rng::with_seed(0x9100);
    let valid = sample();
    for round in 0..400 {
        let len = rng.usize(0..2000);
        let bytes: Vec<u8> = match round % 3 {
            // Pure noise.
            0 => (0..len).map(|_| rng.u8(..)).collect(),
            // Noise made of command introducers and small numbers, to reach deep paths.
            1 => (0..len)
                .map(|_| match rng.u8(0..6) {
                    0 => 0x1b,
                    1 => 0x1d,
                    2 => 0x10,
                    3 => rng.u8(0..8),
                    _ => rng.u8(..),
                })
                .collect(),
            // A valid stream with random bytes flipped.
            _ => {
                let mut bytes = valid.clone();
                for _ in 0..rng.usize(1..10) {
                    let i = rng.usize(..bytes.len());
                    bytes[i] = rng.u8(..);
                }
                bytes
            }
        };
        for receipt in decode(&bytes) {
            let _ = receipt.to_text(42);
            if round % 20 == 0 {
                assert!(receipt.to_png(576).is_ok());
            }
        }
    }
}
