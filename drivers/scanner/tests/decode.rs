//! Decoding as the till sees it: the right article, the right symbology, the weight, price and
//! dates printed on the label — and never a misread passed off as a scan.

use std::collections::BTreeMap;

use posd_scanner::{
    DecodeOptions, InStoreLayout, InStoreValue, Scan, ScanError, Symbology, decode,
};

const GS: &str = "\x1d";

fn options() -> DecodeOptions {
    DecodeOptions {
        reference_year: Some(2026),
        ..DecodeOptions::default()
    }
}

fn ok(frame: &str) -> Scan {
    decode(frame.as_bytes(), &options()).unwrap_or_else(|e| panic!("{frame:?}: {e}"))
}

fn err(frame: &str) -> ScanError {
    match decode(frame.as_bytes(), &options()) {
        Ok(scan) => panic!("{frame:?} decoded to {scan:?}, expected an error"),
        Err(e) => e,
    }
}

fn detail<'a>(scan: &'a Scan, key: &str) -> &'a str {
    scan.details
        .get(key)
        .unwrap_or_else(|| panic!("no details[{key:?}] in {:?}", scan.details))
}

// --- AIM identifiers and EAN/UPC check digits -------------------------------------------------

#[test]
fn ean13_with_aim_id_is_stripped_and_verified() {
    let scan = ok("]E04006381333931");
    assert_eq!(scan.code, "4006381333931");
    assert_eq!(scan.symbology, Symbology::Ean13);
    assert_eq!(scan.symbology.as_str(), "ean13");
    assert_eq!(detail(&scan, "gtin"), "04006381333931");
    assert_eq!(detail(&scan, "aim"), "]E0");
}

#[test]
fn ean8_with_aim_id() {
    let scan = ok("]E455123457");
    assert_eq!(scan.code, "55123457");
    assert_eq!(scan.symbology.as_str(), "ean8");
    assert_eq!(detail(&scan, "gtin"), "00000055123457");
}

#[test]
fn upc_a_sent_as_13_digits_is_reported_as_12() {
    let scan = ok("]E00036000291452");
    assert_eq!(scan.code, "036000291452");
    assert_eq!(scan.symbology, Symbology::UpcA);
    assert_eq!(scan.symbology.as_str(), "upca");
    assert_eq!(detail(&scan, "gtin"), "00036000291452");

    let plain = ok("036000291452");
    assert_eq!(plain.code, "036000291452");
    assert_eq!(plain.symbology, Symbology::UpcA);
    assert_eq!(detail(&plain, "gtin"), "00036000291452");
}

#[test]
fn upc_e_is_verified_through_its_upc_a_expansion() {
    let scan = ok("]E001234565");
    assert_eq!(scan.code, "01234565");
    assert_eq!(scan.symbology.as_str(), "upce");
    assert_eq!(detail(&scan, "gtin"), "00012345000065");
    assert!(matches!(
        err("]E001234566"),
        ScanError::CheckDigit {
            expected: 5,
            found: 6,
            ..
        }
    ));
}

#[test]
fn ean_with_add_on() {
    let scan = ok("]E3977123456700305");
    assert_eq!(scan.code, "9771234567003");
    assert_eq!(scan.symbology, Symbology::Ean13);
    assert_eq!(detail(&scan, "add_on"), "05");
    let add_on = ok("]E212345");
    assert_eq!(add_on.symbology.as_str(), "ean-addon");
    assert_eq!(add_on.code, "12345");
}

#[test]
fn digits_without_aim_id_are_taken_as_ean_by_length() {
    assert_eq!(ok("4006381333931").symbology, Symbology::Ean13);
    assert_eq!(ok("55123457").symbology, Symbology::Ean8);
    assert_eq!(ok("036000291452").symbology, Symbology::UpcA);
    let other = ok("1234567890");
    assert_eq!(other.symbology, Symbology::Unknown);
    assert_eq!(other.code, "1234567890");
    assert!(other.details.is_empty(), "{:?}", other.details);
}

#[test]
fn a_wrong_check_digit_is_a_misread_never_a_scan() {
    for frame in [
        "]E04006381333932",
        "4006381333932",
        "]E455123450",
        "036000291453",
    ] {
        let e = err(frame);
        assert!(e.is_misread(), "{frame}: {e}");
        assert!(!e.is_device_gone());
    }
    match err("]E04006381333932") {
        ScanError::CheckDigit {
            code,
            expected,
            found,
        } => {
            assert_eq!(code, "4006381333932");
            assert_eq!((expected, found), (1, 2));
        }
        other => panic!("expected a check digit error, got {other}"),
    }
    let message = err("55123450").to_string();
    assert!(
        message.contains("55123450") && message.contains('7'),
        "{message}"
    );
}

#[test]
fn ean_aim_id_with_data_that_is_no_ean_is_malformed() {
    assert!(matches!(err("]E0400638133393X"), ScanError::Format { .. }));
    assert!(matches!(err("]E01234567890"), ScanError::Format { .. }));
    assert!(matches!(err("]E4123"), ScanError::Format { .. }));
    assert!(matches!(err("]C0"), ScanError::Format { .. }));
}

#[test]
fn code39_passes_as_is_even_when_it_looks_like_an_ean() {
    let scan = ok("]A0ABC-123 $");
    assert_eq!(scan.code, "ABC-123 $");
    assert_eq!(scan.symbology, Symbology::Code39);
    assert_eq!(scan.symbology.as_str(), "code39");
    // The AIM id says Code 39, so 13 digits with a "wrong" EAN check digit are fine.
    let digits = ok("]A04006381333932");
    assert_eq!(digits.code, "4006381333932");
    assert_eq!(digits.symbology, Symbology::Code39);
    assert!(!digits.details.contains_key("gtin"));
}

#[test]
fn symbology_names_from_aim_ids() {
    let cases = [
        ("]C0ABC", "code128"),
        ("]Q1https://example.com/p/1", "qr"),
        ("]d1ABC", "datamatrix"),
        ("]I012345678", "itf"),
        ("]F0A1234B", "codabar"),
        ("]X0whatever", "unknown"),
        ("]Z9whatever", "unknown"),
    ];
    for (frame, name) in cases {
        let scan = ok(frame);
        assert_eq!(scan.symbology.as_str(), name, "{frame}");
        assert_eq!(scan.code.as_str(), &frame[3..], "{frame}: AIM id stripped");
        assert_eq!(detail(&scan, "aim"), &frame[..3]);
    }
}

#[test]
fn text_that_is_not_utf8_is_read_as_latin1() {
    let scan = decode(b"]C0Gr\xfc\xdfe", &options()).expect("latin-1 text");
    assert_eq!(scan.code, "Grüße");
}

// --- GS1 element strings ---------------------------------------------------------------------

#[test]
fn gs1_128_label_with_gtin_expiry_batch_and_weight() {
    let frame = concat!(
        "]C1",
        "0104012345678901",
        "17261130",
        "10ABC123",
        "\x1d",
        "3103001250"
    );
    let scan = ok(frame);
    assert_eq!(scan.symbology, Symbology::Gs1_128);
    assert_eq!(scan.symbology.as_str(), "gs1-128");
    assert_eq!(
        scan.code,
        concat!(
            "0104012345678901",
            "17261130",
            "10ABC123",
            "\x1d",
            "3103001250"
        )
    );
    let expected: BTreeMap<String, String> = [
        ("aim", "]C1"),
        ("ai.01", "04012345678901"),
        ("ai.17", "261130"),
        ("ai.10", "ABC123"),
        ("ai.3103", "001250"),
        ("gtin", "04012345678901"),
        ("expiry", "2026-11-30"),
        ("batch", "ABC123"),
        ("net_weight_kg", "1.250"),
        ("hri", "(01)04012345678901(17)261130(10)ABC123(3103)001250"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(scan.details, expected);
}

#[test]
fn gs1_decimals_follow_the_ai_digit() {
    let scan = ok("]C101040123456789013102001250");
    assert_eq!(detail(&scan, "net_weight_kg"), "12.50");
}

#[test]
fn gs1_price_in_local_currency() {
    let scan = ok(concat!("]C1", "0104012345678901", "3922", "1249"));
    assert_eq!(detail(&scan, "price"), "12.49");
    assert_eq!(detail(&scan, "ai.3922"), "1249");
    assert!(!scan.details.contains_key("price_currency"));

    // Variable length, so GS ends it before the next field.
    let scan = ok(&format!("]C1392099{GS}10LOT7"));
    assert_eq!(detail(&scan, "price"), "99");
    assert_eq!(detail(&scan, "batch"), "LOT7");
}

#[test]
fn gs1_price_with_iso_currency() {
    let eur = ok(concat!("]C1", "0104012345678901", "3932", "978", "1249"));
    assert_eq!(detail(&eur, "price"), "12.49");
    assert_eq!(detail(&eur, "price_currency"), "EUR");
    let czk = ok(concat!("]C1", "3931", "203", "12345"));
    assert_eq!(detail(&czk, "price"), "1234.5");
    assert_eq!(detail(&czk, "price_currency"), "CZK");
    let other = ok(concat!("]C1", "3932", "999", "100"));
    assert_eq!(detail(&other, "price_currency"), "999");
    assert_eq!(detail(&other, "price"), "1.00");
}

#[test]
fn gs1_datamatrix_with_leading_gs_serial_and_day_00_expiry() {
    let frame = format!("]d2{GS}010401234567890121SN-0042{GS}17270200");
    let scan = ok(&frame);
    assert_eq!(scan.symbology, Symbology::Gs1DataMatrix);
    assert_eq!(scan.symbology.as_str(), "gs1-datamatrix");
    assert_eq!(scan.code, format!("010401234567890121SN-0042{GS}17270200"));
    assert_eq!(detail(&scan, "gtin"), "04012345678901");
    assert_eq!(detail(&scan, "serial"), "SN-0042");
    // Day 00: the last day of the month.
    assert_eq!(detail(&scan, "expiry"), "2027-02-28");
    assert_eq!(
        detail(&ok(concat!("]d2", "15", "280200")), "best_before"),
        "2028-02-29"
    );
}

#[test]
fn gs1_databar_and_gs1_qr_carry_element_strings() {
    let bar = ok(concat!(
        "]e0",
        "0104012345678901",
        "3102000350",
        "3922",
        "0299"
    ));
    assert_eq!(bar.symbology.as_str(), "gs1-databar");
    assert_eq!(detail(&bar, "net_weight_kg"), "3.50");
    assert_eq!(detail(&bar, "price"), "2.99");

    let qr = ok(concat!("]Q3", "0104012345678901", "11260315"));
    assert_eq!(qr.symbology.as_str(), "gs1-qr");
    assert_eq!(detail(&qr, "production_date"), "2026-03-15");
}

#[test]
fn gs1_two_digit_years_use_the_gs1_century_window() {
    let mut opts = options();
    opts.reference_year = Some(2026);
    let scan = decode(b"]C117991231", &opts).expect("valid");
    assert_eq!(detail(&scan, "expiry"), "1999-12-31");
    let scan = decode(b"]C117761231", &opts).expect("valid");
    assert_eq!(detail(&scan, "expiry"), "2076-12-31");
}

#[test]
fn gs1_gtin_with_a_wrong_check_digit_is_a_misread() {
    match err(concat!("]C1", "0104012345678902", "10ABC")) {
        ScanError::CheckDigit {
            code,
            expected,
            found,
        } => {
            assert_eq!(code, "04012345678902");
            assert_eq!((expected, found), (1, 2));
        }
        other => panic!("expected a check digit error, got {other}"),
    }
}

#[test]
fn malformed_gs1_data_is_refused_with_a_clear_message() {
    let cases = [
        ("]C10512345", "unknown application identifier"),
        ("]C101040123", "needs 14 characters"),
        ("]C11726AB30", "must be digits"),
        ("]C117261330", "month 13"),
        ("]C117260230", "day 30"),
        (concat!("]C1", "422040", "10ABC"), "GS separator missing"),
        ("]C110", "no data"),
        ("]C1", "no element strings"),
        (
            concat!("]C1", "0104012345678901", "0104012345678901"),
            "appears twice",
        ),
        (
            concat!("]C1", "3103001250", "3102001250"),
            "repeats net_weight_kg",
        ),
        ("]C13106001250", "at most 5"),
        ("]C110AB#C", "does not allow"),
        ("]C1X1", "expected an application identifier"),
    ];
    for (frame, needle) in cases {
        let e = err(frame);
        assert!(
            matches!(e, ScanError::Gs1 { .. }),
            "{frame:?}: expected a GS1 error, got {e}"
        );
        assert!(e.is_misread());
        let message = e.to_string();
        assert!(
            message.contains(needle),
            "{frame:?}: message {message:?} should mention {needle:?}"
        );
    }
}

#[test]
fn gs1_ai_of_an_assigned_group_outside_the_table_is_kept_raw() {
    let scan = ok(concat!(
        "]C1",
        "0104012345678901",
        "4300ACME-GmbH",
        "\x1d",
        "10B1"
    ));
    assert_eq!(detail(&scan, "ai.4300"), "ACME-GmbH");
    assert_eq!(detail(&scan, "batch"), "B1");
}

// --- In-store EAN-13 (prefixes 20–29) --------------------------------------------------------

fn weight_layout() -> InStoreLayout {
    InStoreLayout {
        prefixes: vec!["28".into()],
        item_digits: 5,
        value: InStoreValue::Weight,
        value_digits: 5,
        decimals: 3,
        price_check_digit: false,
    }
}

fn price_layout() -> InStoreLayout {
    InStoreLayout {
        prefixes: vec!["20".into(), "21".into()],
        item_digits: 5,
        value: InStoreValue::Price,
        value_digits: 4,
        decimals: 2,
        price_check_digit: true,
    }
}

fn with_layouts(layouts: Vec<InStoreLayout>) -> DecodeOptions {
    DecodeOptions {
        in_store: layouts,
        reference_year: Some(2026),
    }
}

#[test]
fn in_store_weight_label() {
    let opts = with_layouts(vec![price_layout(), weight_layout()]);
    let scan = decode(b"2812345003503", &opts).expect("valid weight label");
    assert_eq!(scan.code, "2812345003503");
    assert_eq!(scan.symbology, Symbology::Ean13);
    assert_eq!(detail(&scan, "in_store"), "true");
    assert_eq!(detail(&scan, "item"), "12345");
    assert_eq!(detail(&scan, "weight_kg"), "0.350");
    assert!(
        !scan.details.contains_key("gtin"),
        "an in-store code is no GTIN"
    );
    assert!(!scan.details.contains_key("price"));
}

#[test]
fn in_store_price_label_with_price_check_digit() {
    let opts = with_layouts(vec![price_layout()]);
    let scan = decode(b"]E02001235928754", &opts).expect("valid price label");
    assert_eq!(detail(&scan, "item"), "01235");
    assert_eq!(detail(&scan, "price"), "28.75");

    // Same price, wrong price check digit (8 instead of 9), EAN check digit fixed up: the EAN
    // check alone would let this through.
    match decode(b"2001235828757", &opts) {
        Err(ScanError::CheckDigit {
            expected, found, ..
        }) => assert_eq!((expected, found), (9, 8)),
        other => panic!("expected a price check digit error, got {other:?}"),
    }
}

#[test]
fn in_store_price_without_check_digit_and_a_five_digit_weight_with_one() {
    let price = InStoreLayout {
        prefixes: vec!["29".into()],
        item_digits: 5,
        value: InStoreValue::Price,
        value_digits: 5,
        decimals: 2,
        price_check_digit: false,
    };
    let scan = decode(b"2912345003494", &with_layouts(vec![price])).expect("valid");
    assert_eq!(detail(&scan, "price"), "3.49");

    // A real scale label: 28, item 1027, price check digit 5, 502 g.
    let weight = InStoreLayout {
        prefixes: vec!["28".into()],
        item_digits: 4,
        value: InStoreValue::Weight,
        value_digits: 5,
        decimals: 3,
        price_check_digit: true,
    };
    let scan = decode(b"2810275005024", &with_layouts(vec![weight])).expect("valid");
    assert_eq!(detail(&scan, "item"), "1027");
    assert_eq!(detail(&scan, "weight_kg"), "0.502");
}

#[test]
fn in_store_prefix_without_layout_is_a_plain_ean13() {
    // Layouts for 28 and 20/21 only; 22 falls back.
    let opts = with_layouts(vec![weight_layout(), price_layout()]);
    let scan = decode(b"2212345003501", &opts).expect("valid EAN-13");
    assert_eq!(scan.symbology, Symbology::Ean13);
    assert_eq!(detail(&scan, "in_store"), "true");
    assert!(!scan.details.contains_key("item"));
    assert!(!scan.details.contains_key("gtin"));

    // No layouts at all.
    let scan = ok("2812345003503");
    assert_eq!(detail(&scan, "in_store"), "true");
    assert!(!scan.details.contains_key("weight_kg"));
    // The EAN check digit is still verified.
    assert!(matches!(err("2812345003504"), ScanError::CheckDigit { .. }));
}

#[test]
fn in_store_layouts_that_cannot_work_are_refused() {
    let mut too_long = weight_layout();
    too_long.item_digits = 6;
    let mut not_in_store = weight_layout();
    not_in_store.prefixes = vec!["40".into()];
    let mut check_on_three_digits = weight_layout();
    check_on_three_digits.value_digits = 3;
    check_on_three_digits.item_digits = 6;
    check_on_three_digits.price_check_digit = true;
    for layout in [too_long.clone(), not_in_store, check_on_three_digits] {
        let opts = with_layouts(vec![layout.clone()]);
        assert!(
            matches!(opts.validate(), Err(ScanError::Config { .. })),
            "{layout:?}"
        );
    }
    assert!(
        with_layouts(vec![weight_layout(), price_layout()])
            .validate()
            .is_ok()
    );
    // A bad layout that matches is reported at decode time too, not silently ignored.
    let e = decode(b"2812345003503", &with_layouts(vec![too_long])).expect_err("bad layout");
    assert!(e.to_string().contains("14 digits"), "{e}");
}

#[test]
fn decode_options_read_from_configuration() {
    let opts: DecodeOptions = toml::from_str(
        r#"
        [[in_store]]
        prefixes = ["28", "29"]
        item_digits = 5
        value = "weight"
        value_digits = 5
        decimals = 3

        [[in_store]]
        prefixes = ["20"]
        item_digits = 5
        value = "price"
        value_digits = 4
        decimals = 2
        price_check_digit = true
        "#,
    )
    .expect("valid options");
    assert_eq!(opts.in_store.len(), 2);
    assert_eq!(opts.in_store[0].value, InStoreValue::Weight);
    assert!(!opts.in_store[0].price_check_digit);
    assert!(opts.in_store[1].price_check_digit);
    assert!(opts.validate().is_ok());
    assert!(toml::from_str::<DecodeOptions>("[[in_store]]\nprefixes = [\"28\"]").is_err());
}
