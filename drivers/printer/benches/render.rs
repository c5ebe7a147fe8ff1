//! Times `render` on a 40-line receipt against two baselines measured in the same run:
//! cloning the document, and copying its strings into a byte buffer without encoding,
//! wrapping or commands. Run with `cargo bench -p posd-printer --bench render`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use posd_printer::{
    CodePage, Cut, Document, DrawerKick, Ean13, Element, ErrorCorrection, Profile, QrCode, Style,
    render,
};

const ITERATIONS: usize = 20_000;
const WARMUP: usize = 2_000;

/// 40 printed text lines: header, 30 items (some wrap), totals, footer, plus a QR and a cut.
fn receipt() -> Document {
    let names = [
        "Milch 1,5 %",
        "Müsli Früchte",
        "Vollkornbrot geschnitten 500 g",
        "Příliš žluťoučký kůň",
        "Äpfel Gala lose",
        "Butter",
        "Käse Gouda jung am Stück",
        "Mineralwasser prickelnd 6 x 1,5 l",
        "Řepa červená",
        "Süßstoff",
    ];
    let mut doc = Document::new()
        .drawer_kick(DrawerKick::default())
        .line_styled("Bäckerei Huber", Style::new().center().bold().double_size())
        .line_styled("Hauptstraße 1, 1010 Wien", Style::new().center())
        .line_styled("UID ATU12345678", Style::new().center())
        .separator('-');
    for i in 0..30 {
        let amount = format!("{},{:02}", i % 17 + 1, (i * 37) % 100);
        doc.push(Element::item(names[i % names.len()], amount, Style::new()));
    }
    doc = doc
        .separator('=')
        .item_styled("Summe EUR", "123,45 €", Style::new().bold().double_height())
        .item("Bar", "150,00")
        .item("Rückgeld", "26,55")
        .feed(1)
        .line_styled("Vielen Dank für Ihren Einkauf!", Style::new().center())
        .line_styled(
            "Kassa 02 · Beleg 4711 · 2025-03-14 10:42",
            Style::new().center(),
        );
    if let Ok(code) = Ean13::new("400638133393") {
        doc = doc.ean13(code);
    }
    if let Ok(code) = QrCode::new(
        "_R1-AT1_KASSA-02_4711_2025-03-14T10:42:00_123,45_0,00_0,00_0,00_0,00_AAAA",
        4,
        ErrorCorrection::M,
    ) {
        doc = doc.qr(code);
    }
    doc.cut(Cut::partial())
}

/// The floor: every string copied into a buffer with a newline, nothing else.
fn copy_strings(doc: &Document, out: &mut Vec<u8>) {
    for element in &doc.elements {
        match element {
            Element::Text { text, .. } => {
                out.extend_from_slice(text.as_bytes());
                out.push(b'\n');
            }
            Element::TwoColumn { left, right, .. } => {
                out.extend_from_slice(left.as_bytes());
                out.push(b' ');
                out.extend_from_slice(right.as_bytes());
                out.push(b'\n');
            }
            _ => {}
        }
    }
}

fn measure(name: &str, mut f: impl FnMut()) -> Duration {
    for _ in 0..WARMUP {
        f();
    }
    let mut times = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let start = Instant::now();
        f();
        times.push(start.elapsed());
    }
    times.sort_unstable();
    let median = times[ITERATIONS / 2];
    let p99 = times[ITERATIONS * 99 / 100];
    println!(
        "{name:<40} median {:>8.2} µs   p99 {:>8.2} µs",
        median.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    median
}

fn main() {
    let doc = receipt();
    for profile in [
        Profile::paper_80mm(CodePage::Pc858),
        Profile::paper_58mm(CodePage::Pc852),
    ] {
        let rendered = render(&doc, &profile);
        let lines = rendered.bytes.iter().filter(|&&b| b == b'\n').count();
        println!(
            "\nprofile: {} columns, {}; {} elements, {lines} text lines, {} bytes, {} warnings",
            profile.columns,
            profile.code_page,
            doc.elements.len(),
            rendered.bytes.len(),
            rendered.warnings.len()
        );
        let baseline_clone = measure("baseline: clone the Document", || {
            black_box(black_box(&doc).clone());
        });
        let baseline_copy = measure("baseline: copy strings into a Vec<u8>", || {
            let mut out = Vec::new();
            copy_strings(black_box(&doc), &mut out);
            black_box(out);
        });
        let rendering = measure("render", || {
            black_box(render(black_box(&doc), black_box(&profile)));
        });
        println!(
            "render median = {:.1} x clone, {:.1} x string copy",
            rendering.as_secs_f64() / baseline_clone.as_secs_f64(),
            rendering.as_secs_f64() / baseline_copy.as_secs_f64()
        );
    }
}
