//! A committed receipt rendered for paper: the customer's receipt, the slips plugins ask
//! for (a sold voucher with its full code), and a plain-text form for `posctl` and tests.
//!
//! Rendering goes through [`posd_printer::Document`] so one receipt fits every paper width
//! (the printer crate wraps); [`receipt_text`] lays the same document out as plain text, so
//! what `posctl receipt ID` shows is what was printed.
//!
//! Rules kept here, each tested below:
//! - Words and numbers follow the receipt's locale: `de*` and `cs*` use a decimal comma and
//!   `24.11.2026 14:03`, everything else English with a decimal point and `2026-11-24 14:03`.
//! - The time is printed as written in `receipt.time` (its own offset); nothing is
//!   converted, so a reprint is identical on any machine.
//! - Codes (voucher, discount code, tender references) appear on the customer's receipt
//!   only masked by [`mask`], even where a plugin or frontend put them into a free text; the
//!   full code is printed only on the slip the customer keeps as the voucher.
//! - Amounts never go through floats: they are formatted from `Decimal` with exactly the
//!   currency's minor digits.
//! - Each line's amount is followed by its VAT letter, keyed to the VAT table, whose rate
//!   column carries the same letters: `A` for the highest rate on the receipt, `B` for the
//!   next, …, and after the taxed rates one letter for what is outside VAT (sold vouchers,
//!   top-ups, cash rounding), so every line points at a row. A reduction spread over lines
//!   of several rates carries each of their letters (`AB`). The letters are derived from
//!   the receipt alone, so a reprint shows the same ones.
//! - The customer is printed when the sale had one; the receipt id is printed as a CODE128
//!   barcode at the end (data exactly the id, e.g. `0001-01-000042`), so scanning it at
//!   the till finds the receipt for a return.
//! - A reprint ([`render_copy`]) is the original with `KOPIE`/`COPY` in large letters
//!   above and below it and the time of the reprint: its numbers are the original's, and
//!   it can't pass for a second original.

use posd_printer::{Align, Code128, Cut, Document, Element, ErrorCorrection, QrCode, Style};
use rust_decimal::Decimal;

use super::day::DayReport;
use super::model::{Line, LineKind, Receipt, ReceiptKind, Section, Tender, VatLine, mask};
use crate::money;

/// How a locale writes a point in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// `24.11.2026 14:03`, as German and Czech customers read dates.
    DayMonthYear,
    /// `2026-11-24 14:03`: unambiguous for everyone else.
    Iso,
}

/// Texts of a locale: every word a receipt prints, and how it writes numbers and dates.
///
/// One static table per language keeps the wording in one reviewable place; `de` serves
/// Austria and Germany alike, so words that differ between them are avoided ("Bediener",
/// not "Kassier"/"Kassierer").
#[derive(Debug, PartialEq, Eq)]
pub struct Texts {
    /// Language subtag these texts are for: `de`, `cs`, `en`.
    pub language: &'static str,
    /// Between whole and fractional digits: `,` or `.`.
    pub decimal_separator: char,
    /// How dates are written.
    pub date_style: DateStyle,
    /// Title of a sale's receipt.
    pub title_sale: &'static str,
    /// Title of a void (storno) receipt.
    pub title_void: &'static str,
    /// Title of a return receipt.
    pub title_return: &'static str,
    /// Label of the receipt a void or return reverses.
    pub original: &'static str,
    /// Label of the receipt id.
    pub receipt_no: &'static str,
    /// Label of the date and time.
    pub date: &'static str,
    /// Label of the register.
    pub register: &'static str,
    /// Label of the cashier.
    pub cashier: &'static str,
    /// Label of the customer.
    pub customer: &'static str,
    /// The mark of a reprint, printed large above and below it.
    pub copy: &'static str,
    /// Label of the time a reprint was made.
    pub reprinted: &'static str,
    /// Label of the cash rounding line.
    pub rounding: &'static str,
    /// Label of the total (the currency code follows).
    pub total: &'static str,
    /// Label of the change handed back.
    pub change: &'static str,
    /// Tender method `cash`.
    pub cash: &'static str,
    /// Tender method `card`.
    pub card: &'static str,
    /// Tender method `voucher`.
    pub voucher: &'static str,
    /// Tender method `credit`.
    pub credit: &'static str,
    /// VAT table header: rate, net, tax, gross.
    pub vat_header: [&'static str; 4],
    /// Rate column of rows outside VAT (sold vouchers, top-ups, rounding).
    pub outside_vat: &'static str,
    /// Words of the till's day: its receipts and the X and Z reports.
    pub day: DayTexts,
}

/// Words of the till's day, per locale.
#[derive(Debug, PartialEq, Eq)]
pub struct DayTexts {
    /// Title of the receipt that opens a day.
    pub title_open: &'static str,
    /// Title of a cash-in receipt (Einlage).
    pub title_cash_in: &'static str,
    /// Title of a cash-out receipt (Entnahme).
    pub title_cash_out: &'static str,
    /// Title of the X report.
    pub title_x: &'static str,
    /// Title of the Z report.
    pub title_z: &'static str,
    /// The day's id.
    pub day: &'static str,
    /// The Z's number.
    pub z_no: &'static str,
    /// When the day opened.
    pub opened: &'static str,
    /// When the Z closed it.
    pub closed: &'static str,
    /// Reason of a cash movement.
    pub reason: &'static str,
    /// The counted opening float.
    pub float: &'static str,
    /// Sales, voids, returns, discounts: label of each count and sum.
    pub tallies: [&'static str; 4],
    /// Turnover: sales less voids and returns.
    pub turnover: &'static str,
    /// Headings: tenders, cashiers, programmes, cash drawer.
    pub headings: [&'static str; 4],
    /// Cash drawer rows: cash sales, cash in, cash out, expected, counted, difference.
    pub cash: [&'static str; 6],
}

static DE: Texts = Texts {
    language: "de",
    decimal_separator: ',',
    date_style: DateStyle::DayMonthYear,
    title_sale: "Rechnung",
    title_void: "Storno",
    title_return: "Retoure",
    original: "Originalbeleg",
    receipt_no: "Beleg-Nr.",
    date: "Datum",
    register: "Kasse",
    cashier: "Bediener",
    customer: "Kunde",
    copy: "KOPIE",
    reprinted: "Nachdruck",
    rounding: "Rundung",
    total: "Summe",
    change: "Rückgeld",
    cash: "Bar",
    card: "Karte",
    voucher: "Gutschein",
    credit: "Guthaben",
    vat_header: ["MwSt.", "Netto", "Steuer", "Brutto"],
    outside_vat: "steuerfrei",
    day: DayTexts {
        title_open: "Tagesbeginn",
        title_cash_in: "Einlage",
        title_cash_out: "Entnahme",
        title_x: "X-Bericht",
        title_z: "Z-Bericht",
        day: "Tag",
        z_no: "Z-Nr.",
        opened: "Geöffnet",
        closed: "Geschlossen",
        reason: "Grund",
        float: "Anfangsbestand",
        tallies: ["Verkäufe", "Stornos", "Retouren", "Rabatte"],
        turnover: "Umsatz",
        headings: ["Zahlungsarten", "Bediener", "Programme", "Kassenbestand"],
        cash: [
            "Bar-Umsatz",
            "Einlagen",
            "Entnahmen",
            "Soll",
            "Gezählt",
            "Differenz",
        ],
    },
};

static CS: Texts = Texts {
    language: "cs",
    decimal_separator: ',',
    date_style: DateStyle::DayMonthYear,
    title_sale: "Účtenka",
    title_void: "Storno",
    title_return: "Vratka",
    original: "Původní doklad",
    receipt_no: "Doklad č.",
    date: "Datum",
    register: "Pokladna",
    cashier: "Pokladník",
    customer: "Zákazník",
    copy: "KOPIE",
    reprinted: "Dotisk",
    rounding: "Zaokrouhlení",
    total: "Celkem",
    change: "Vráceno",
    cash: "Hotovost",
    card: "Karta",
    voucher: "Poukaz",
    credit: "Kredit",
    vat_header: ["DPH", "Základ", "Daň", "Celkem"],
    outside_vat: "mimo DPH",
    day: DayTexts {
        title_open: "Otevření dne",
        title_cash_in: "Vklad",
        title_cash_out: "Výběr",
        title_x: "X-přehled",
        title_z: "Z-uzávěrka",
        day: "Den",
        z_no: "Z č.",
        opened: "Otevřeno",
        closed: "Uzavřeno",
        reason: "Důvod",
        float: "Počáteční stav",
        tallies: ["Prodeje", "Storna", "Vratky", "Slevy"],
        turnover: "Tržba",
        headings: ["Platby", "Pokladníci", "Programy", "Hotovost v pokladně"],
        cash: [
            "Hotovostní tržba",
            "Vklady",
            "Výběry",
            "Očekáváno",
            "Napočítáno",
            "Rozdíl",
        ],
    },
};

static EN: Texts = Texts {
    language: "en",
    decimal_separator: '.',
    date_style: DateStyle::Iso,
    title_sale: "Receipt",
    title_void: "Void",
    title_return: "Return",
    original: "Original receipt",
    receipt_no: "Receipt no.",
    date: "Date",
    register: "Register",
    cashier: "Cashier",
    customer: "Customer",
    copy: "COPY",
    reprinted: "Reprinted",
    rounding: "Rounding",
    total: "Total",
    change: "Change",
    cash: "Cash",
    card: "Card",
    voucher: "Voucher",
    credit: "Credit",
    vat_header: ["VAT", "Net", "Tax", "Gross"],
    outside_vat: "no VAT",
    day: DayTexts {
        title_open: "Day opened",
        title_cash_in: "Cash in",
        title_cash_out: "Cash out",
        title_x: "X report",
        title_z: "Z report",
        day: "Day",
        z_no: "Z no.",
        opened: "Opened",
        closed: "Closed",
        reason: "Reason",
        float: "Float",
        tallies: ["Sales", "Voids", "Returns", "Discounts"],
        turnover: "Turnover",
        headings: ["Tenders", "Cashiers", "Programmes", "Cash drawer"],
        cash: [
            "Cash sales",
            "Cash in",
            "Cash out",
            "Expected",
            "Counted",
            "Difference",
        ],
    },
};

/// The texts of a BCP 47 locale by its language subtag (`de-AT` → de, `cs-CZ` → cs, case
/// and `_` tolerated); any other language gets English, so a receipt always prints.
pub fn texts(locale: &str) -> &'static Texts {
    let language = locale.split(['-', '_']).next().unwrap_or_default();
    if language.eq_ignore_ascii_case("de") {
        &DE
    } else if language.eq_ignore_ascii_case("cs") {
        &CS
    } else {
        &EN
    }
}

impl Texts {
    /// `-12,50`: exactly `minor` decimals, rounded half away from zero, never `-0,00`.
    fn amount(&self, value: Decimal, minor: u32) -> String {
        let rounded = money::round(value, minor);
        let value = if rounded.is_zero() {
            Decimal::ZERO
        } else {
            rounded
        };
        self.localize(money::format(value, minor))
    }

    /// A unit price: at least `minor` decimals, more if the price has them (`0,995`), so
    /// "qty x price" never shows a rounded price that does not multiply out.
    fn unit_price(&self, value: Decimal, minor: u32) -> String {
        self.amount(value, minor.max(value.normalize().scale()))
    }

    /// `2`, `0,35`: trailing zeros trimmed.
    fn quantity(&self, value: Decimal) -> String {
        if value.is_zero() {
            return "0".to_string();
        }
        self.localize(value.normalize().to_string())
    }

    /// `20 %`, `5,5 %`, or the locale's word for rows outside VAT.
    fn rate(&self, rate: Option<Decimal>) -> String {
        match rate {
            Some(rate) => format!("{} %", self.quantity(rate)),
            None => self.outside_vat.to_string(),
        }
    }

    fn localize(&self, number: String) -> String {
        if self.decimal_separator == '.' {
            number
        } else {
            number.replace('.', &self.decimal_separator.to_string())
        }
    }

    /// The receipt's RFC 3339 time as the locale writes it, to the minute, in the offset it
    /// was written with. Anything that is not RFC 3339 is printed as it is rather than
    /// dropped: a receipt without its date would be worse than an odd-looking one.
    fn date_time(&self, rfc3339: &str) -> String {
        let b = rfc3339.as_bytes();
        let digits = |range: std::ops::Range<usize>| {
            b.get(range.clone())
                .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
                .then(|| rfc3339.get(range))
                .flatten()
        };
        let parts = (
            digits(0..4),
            digits(5..7),
            digits(8..10),
            digits(11..13),
            digits(14..16),
        );
        let separators = b.get(4) == Some(&b'-')
            && b.get(7) == Some(&b'-')
            && matches!(b.get(10), Some(b'T' | b't' | b' '))
            && b.get(13) == Some(&b':');
        match parts {
            (Some(y), Some(mo), Some(d), Some(h), Some(mi)) if separators => {
                match self.date_style {
                    DateStyle::DayMonthYear => format!("{d}.{mo}.{y} {h}:{mi}"),
                    DateStyle::Iso => format!("{y}-{mo}-{d} {h}:{mi}"),
                }
            }
            _ => rfc3339.to_string(),
        }
    }

    /// The tender method in the locale; methods a plugin declared are printed as given.
    fn method<'a>(&'a self, method: &'a str) -> &'a str {
        match method {
            "cash" => self.cash,
            "card" => self.card,
            "voucher" => self.voucher,
            "credit" => self.credit,
            other => other,
        }
    }

    fn title(&self, kind: ReceiptKind) -> &'static str {
        match kind {
            ReceiptKind::Sale => self.title_sale,
            ReceiptKind::Void => self.title_void,
            ReceiptKind::Return => self.title_return,
            ReceiptKind::DayOpen => self.day.title_open,
            ReceiptKind::CashIn => self.day.title_cash_in,
            ReceiptKind::CashOut => self.day.title_cash_out,
            ReceiptKind::Z => self.day.title_z,
        }
    }
}

/// Replaces every code of the receipt (line and tender references) by its masked form in
/// free texts: names, plugin sections, header and footer are written by others, and a
/// voucher code printed in full on the receipt could be redeemed by whoever finds it.
struct Scrubber {
    /// (code, masked), longest code first so a code containing another is masked whole.
    codes: Vec<(String, String)>,
}

impl Scrubber {
    fn new(receipt: &Receipt) -> Self {
        let mut codes: Vec<(String, String)> = receipt
            .lines
            .iter()
            .filter(|l| !l.show_ref)
            .map(|l| l.reference.as_str())
            .chain(receipt.tenders.iter().map(|t| t.reference.as_str()))
            .filter(|code| mask(code) != *code)
            .map(|code| (code.to_string(), mask(code)))
            .collect();
        codes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        codes.dedup();
        Scrubber { codes }
    }

    fn clean(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (code, masked) in &self.codes {
            if text.contains(code.as_str()) {
                text = text.replace(code.as_str(), masked);
            }
        }
        text
    }
}

/// `name ••••5678`: a text followed by a masked code, either of them possibly empty.
fn with_code(text: &str, code: &str) -> String {
    match (text.is_empty(), code.is_empty()) {
        (_, true) => text.to_string(),
        (true, false) => mask(code),
        (false, false) => format!("{text} {}", mask(code)),
    }
}

/// The VAT letters of one receipt: a letter per row of its VAT table, `A` for the highest
/// rate, then down the rates, the row outside VAT last.
struct VatLetters {
    rows: Vec<(Option<Decimal>, char)>,
}

impl VatLetters {
    fn of(vat: &[VatLine]) -> Self {
        let mut rates: Vec<Option<Decimal>> = vat.iter().map(|row| row.rate).collect();
        // Highest rate first; `None` (outside VAT) sorts below every rate.
        rates.sort_by(|a, b| b.cmp(a));
        rates.dedup();
        VatLetters {
            rows: rates.into_iter().zip('A'..='Z').collect(),
        }
    }

    fn letter(&self, rate: Option<Decimal>) -> Option<char> {
        self.rows
            .iter()
            .find(|(r, _)| *r == rate)
            .map(|(_, letter)| *letter)
    }

    /// The letters of the rates `line` is taxed at on `receipt`: its own rate; none for a
    /// line outside VAT; for a reduction, the rates of the lines it is spread over.
    fn of_line(&self, line: &Line, receipt: &Receipt) -> String {
        let taxable = |l: &&Line| !l.kind.is_reduction() && !l.kind.is_outside_vat();
        let mut rates: Vec<Option<Decimal>> = if line.kind.is_outside_vat() {
            vec![None]
        } else if line.kind.is_reduction() {
            receipt
                .lines
                .iter()
                .filter(taxable)
                .filter(|l| line.applies_to.is_empty() || line.applies_to.contains(&l.id))
                .map(|l| Some(l.tax_rate))
                .collect()
        } else {
            vec![Some(line.tax_rate)]
        };
        if rates.is_empty() {
            rates.push(None);
        }
        let mut letters: Vec<char> = rates.into_iter().filter_map(|r| self.letter(r)).collect();
        letters.sort_unstable();
        letters.dedup();
        letters.into_iter().collect()
    }
}

/// Appends the VAT letters to the amount of the line item at `index` of `doc`.
fn mark_vat(doc: &mut Document, index: usize, letters: &str) {
    if letters.is_empty() {
        return;
    }
    if let Some(Element::TwoColumn { right, .. }) = doc.elements.get_mut(index) {
        right.push(' ');
        right.push_str(letters);
    }
}

/// The customer's receipt, in the receipt's locale, with amounts of `minor` decimals.
///
/// Order: header, title (naming the original receipt of a void or return), id, date,
/// register, cashier, the lines (cash rounding last), the total, tenders and change, the
/// VAT table, plugin sections that are not slips, footer, a partial cut. Codes are masked;
/// slips are left to [`render_slips`] so the full voucher code never lands on the receipt.
pub fn render_receipt(receipt: &Receipt, minor: u32) -> Document {
    if !receipt.kind.is_sale_or_reversal() {
        return render_day_receipt(receipt, minor);
    }
    let t = texts(&receipt.locale);
    let scrub = Scrubber::new(receipt);
    let plain = Style::new();
    let center = Style::new().center();
    let mut doc = Document::new();

    for line in &receipt.header {
        doc.push(Element::text(scrub.clean(line), center));
    }
    if !receipt.header.is_empty() {
        doc.push(Element::Feed(1));
    }

    doc.push(Element::text(
        t.title(receipt.kind),
        Style::new().center().bold().double_size(),
    ));
    if receipt.kind != ReceiptKind::Sale && !receipt.original.is_empty() {
        doc.push(Element::item(t.original, receipt.original.as_str(), plain));
    }
    doc.push(Element::item(t.receipt_no, receipt.id.as_str(), plain));
    doc.push(Element::item(t.date, t.date_time(&receipt.time), plain));
    doc.push(Element::item(
        t.register,
        receipt.register_id.as_str(),
        plain,
    ));
    doc.push(Element::item(
        t.cashier,
        scrub.clean(&receipt.cashier),
        plain,
    ));
    if !receipt.customer.is_empty() {
        doc.push(Element::item(
            t.customer,
            scrub.clean(&receipt.customer),
            plain,
        ));
    }
    doc.push(Element::Separator('-'));

    let letters = VatLetters::of(&receipt.vat);
    let (rounding, lines): (Vec<&Line>, Vec<&Line>) = receipt
        .lines
        .iter()
        .partition(|l| l.kind == LineKind::Rounding);
    for line in lines {
        let at = doc.elements.len();
        push_line(&mut doc, line, t, minor, &scrub);
        mark_vat(&mut doc, at, &letters.of_line(line, receipt));
    }
    for line in rounding {
        let at = doc.elements.len();
        doc.push(Element::item(
            t.rounding,
            t.amount(line.amount, minor),
            plain,
        ));
        mark_vat(&mut doc, at, &letters.of_line(line, receipt));
    }
    doc.push(Element::Separator('-'));

    let total_label = if receipt.currency.is_empty() {
        t.total.to_string()
    } else {
        format!("{} {}", t.total, receipt.currency)
    };
    doc.push(Element::item(
        total_label,
        t.amount(receipt.totals.total, minor),
        Style::new().bold().double_size(),
    ));
    for tender in &receipt.tenders {
        push_tender(&mut doc, tender, t, minor, &scrub);
    }
    if !receipt.totals.change.is_zero() {
        doc.push(Element::item(
            t.change,
            t.amount(receipt.totals.change, minor),
            plain,
        ));
    }

    if !receipt.vat.is_empty() {
        doc.push(Element::Separator('-'));
        push_vat_table(&mut doc, &receipt.vat, t, minor, Some(&letters));
    }

    for section in receipt.sections.iter().filter(|s| !s.slip) {
        doc.push(Element::Separator('-'));
        if !section.title.is_empty() {
            doc.push(Element::text(
                scrub.clean(&section.title),
                Style::new().bold(),
            ));
        }
        for line in &section.lines {
            doc.push(Element::text(scrub.clean(line), plain));
        }
    }

    // The receipt's id to scan at the till (a return, a reprint); below it, as text.
    match Code128::new(receipt.id.as_str()) {
        Ok(barcode) => {
            doc.push(Element::Feed(1));
            doc.push(Element::Code128(barcode));
        }
        Err(error) => {
            tracing::warn!(receipt = %receipt.id, %error, "the receipt id is printed without its barcode");
        }
    }

    if !receipt.footer.is_empty() {
        doc.push(Element::Feed(1));
    }
    for line in &receipt.footer {
        doc.push(Element::text(scrub.clean(line), center));
    }
    doc.cut(Cut::partial())
}

/// A reprint of a committed receipt: the original's document unchanged (its id, date,
/// lines, totals), with the locale's copy mark (`KOPIE`, `COPY`) in large letters above and
/// below it and the time it was reprinted, `reprinted_at` in RFC 3339. Only the receipt is
/// reprinted, never its slips: a second voucher slip would be a second voucher.
pub fn render_copy(receipt: &Receipt, minor: u32, reprinted_at: &str) -> Document {
    let t = texts(&receipt.locale);
    let mark = Element::text(
        format!("*** {} ***", t.copy),
        Style::new().center().bold().double_size(),
    );
    let mut doc = Document::new();
    doc.push(mark.clone());
    doc.push(Element::item(
        t.reprinted,
        t.date_time(reprinted_at),
        Style::new(),
    ));
    doc.push(Element::Separator('='));
    let original = render_receipt(receipt, minor);
    let ends_with_cut = matches!(original.elements.last(), Some(Element::Cut(_)));
    let body = original.elements.len() - usize::from(ends_with_cut);
    doc.extend(original.elements.into_iter().take(body));
    doc.push(Element::Separator('='));
    doc.push(mark);
    doc.cut(Cut::partial())
}

/// One sale line: name (with its masked code) and amount; "qty x unit price" below for
/// goods sold in a quantity other than one.
fn push_line(doc: &mut Document, line: &Line, t: &Texts, minor: u32, scrub: &Scrubber) {
    let left = if line.show_ref {
        // A rule id (the plugin said so) is no secret: printed as it is.
        format!("{} {}", scrub.clean(&line.name), line.reference)
            .trim()
            .to_string()
    } else {
        with_code(&scrub.clean(&line.name), &line.reference)
    };
    doc.push(Element::item(
        left,
        t.amount(line.amount, minor),
        Style::new(),
    ));
    let priced_per_unit = !line.kind.is_reduction() || line.kind == LineKind::FreeProduct;
    if priced_per_unit && line.qty != Decimal::ONE {
        doc.push(Element::text(
            format!(
                "{} x {}",
                t.quantity(line.qty),
                t.unit_price(line.unit_price, minor)
            ),
            Style::new(),
        ));
    }
}

/// One tender: method in the locale (with its masked code) and the amount tendered.
fn push_tender(doc: &mut Document, tender: &Tender, t: &Texts, minor: u32, scrub: &Scrubber) {
    let method = scrub.clean(t.method(&tender.method));
    doc.push(Element::item(
        with_code(&method, &tender.reference),
        t.amount(tender.amount, minor),
        Style::new(),
    ));
}

/// The VAT table as two-column items: the rate left (after its letter, on a receipt), net/
/// tax/gross right; rows in the order of their letters. The three numbers are padded to
/// their column's widest entry so they line up from row to row; the right edge is the
/// printer's business, so this works on every paper width.
fn push_vat_table(
    doc: &mut Document,
    vat: &[VatLine],
    t: &Texts,
    minor: u32,
    letters: Option<&VatLetters>,
) {
    let mut vat: Vec<&VatLine> = vat.iter().collect();
    if let Some(letters) = letters {
        vat.sort_by_key(|row| letters.letter(row.rate));
    }
    let rows: Vec<(String, [String; 3])> = vat
        .iter()
        .map(|row| {
            let letter = letters.and_then(|l| l.letter(row.rate));
            (
                match letter {
                    Some(letter) => format!("{letter} {}", t.rate(row.rate)),
                    None => t.rate(row.rate),
                },
                [
                    t.amount(row.net, minor),
                    t.amount(row.vat, minor),
                    t.amount(row.gross, minor),
                ],
            )
        })
        .collect();
    let mut widths = [0usize; 3];
    for (i, width) in widths.iter_mut().enumerate() {
        *width = rows
            .iter()
            .map(|(_, cells)| cells[i].chars().count())
            .chain(std::iter::once(t.vat_header[i + 1].chars().count()))
            .max()
            .unwrap_or_default();
    }
    let columns = |cells: [&str; 3]| {
        cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:>width$}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let [rate, net, tax, gross] = t.vat_header;
    doc.push(Element::item(
        rate,
        columns([net, tax, gross]),
        Style::new(),
    ));
    for (rate, [net, tax, gross]) in &rows {
        doc.push(Element::item(
            rate.as_str(),
            columns([net, tax, gross]),
            Style::new(),
        ));
    }
}

/// A receipt of the till's day: title, id, date, register, then what it moved (the float,
/// the cash in or out with its reason) or, for a Z, the whole report.
fn render_day_receipt(receipt: &Receipt, minor: u32) -> Document {
    let t = texts(&receipt.locale);
    let plain = Style::new();
    let mut doc = Document::new();
    for line in &receipt.header {
        doc.push(Element::text(line.as_str(), Style::new().center()));
    }
    if !receipt.header.is_empty() {
        doc.push(Element::Feed(1));
    }
    doc.push(Element::text(
        t.title(receipt.kind),
        Style::new().center().bold().double_size(),
    ));
    doc.push(Element::item(t.receipt_no, receipt.id.as_str(), plain));
    doc.push(Element::item(t.date, t.date_time(&receipt.time), plain));
    doc.push(Element::item(
        t.register,
        receipt.register_id.as_str(),
        plain,
    ));
    if !receipt.cashier.is_empty() {
        doc.push(Element::item(t.cashier, receipt.cashier.as_str(), plain));
    }
    doc.push(Element::item(t.day.day, receipt.day.as_str(), plain));
    doc.push(Element::Separator('-'));
    let event = receipt.event.clone().unwrap_or_default();
    match (&receipt.kind, &event.report) {
        (ReceiptKind::Z, Some(report)) => push_report(&mut doc, report, t, minor),
        (ReceiptKind::DayOpen, _) => {
            doc.push(Element::item(
                t.day.float,
                t.amount(receipt.totals.total, minor),
                Style::new().bold().double_size(),
            ));
        }
        _ => {
            doc.push(Element::item(
                t.cash,
                t.amount(receipt.totals.total.abs(), minor),
                Style::new().bold().double_size(),
            ));
            if !event.reason.is_empty() {
                doc.push(Element::item(t.day.reason, event.reason.as_str(), plain));
            }
        }
    }
    doc.cut(Cut::partial())
}

/// The X or Z report as it prints: the day, counts and sums, VAT, tenders, cashiers, the
/// plugins' accounts, the drawer.
fn push_report(doc: &mut Document, r: &DayReport, t: &Texts, minor: u32) {
    let plain = Style::new();
    let d = &t.day;
    let number = |n: i64| n.to_string();
    doc.push(Element::item(d.z_no, number(r.number), plain));
    doc.push(Element::item(d.opened, t.date_time(&r.opened_at), plain));
    if !r.closed_at.is_empty() {
        doc.push(Element::item(d.closed, t.date_time(&r.closed_at), plain));
    }
    doc.push(Element::Separator('-'));
    let tallies = [&r.sales, &r.voids, &r.returns, &r.discounts];
    for (label, tally) in d.tallies.iter().zip(tallies) {
        doc.push(Element::item(
            format!("{label} ({})", tally.count),
            t.amount(tally.amount, minor),
            plain,
        ));
    }
    doc.push(Element::item(
        d.turnover,
        t.amount(r.total, minor),
        Style::new().bold(),
    ));
    if !r.vat.is_empty() {
        doc.push(Element::Separator('-'));
        push_vat_table(doc, &r.vat, t, minor, None);
    }
    let heading = |doc: &mut Document, text: &str| {
        doc.push(Element::Separator('-'));
        doc.push(Element::text(text, Style::new().bold()));
    };
    if !r.tenders.is_empty() {
        heading(doc, d.headings[0]);
        for tender in &r.tenders {
            let method = if tender.plugin.is_empty() {
                t.method(&tender.method).to_string()
            } else {
                format!("{} ({})", t.method(&tender.method), tender.plugin)
            };
            doc.push(Element::item(
                format!("{method} x{}", tender.count),
                t.amount(tender.amount, minor),
                plain,
            ));
        }
    }
    if !r.cashiers.is_empty() {
        heading(doc, d.headings[1]);
        for cashier in &r.cashiers {
            let name = if cashier.cashier.is_empty() {
                "-"
            } else {
                cashier.cashier.as_str()
            };
            doc.push(Element::item(
                format!("{name} x{}", cashier.count),
                t.amount(cashier.amount, minor),
                plain,
            ));
        }
    }
    if !r.plugins.is_empty() {
        heading(doc, d.headings[2]);
        for m in &r.plugins {
            doc.push(Element::item(
                format!("{} {} ({})", m.plugin, m.account, m.unit),
                format!("+{} {}", t.quantity(m.added), t.quantity(m.taken)),
                plain,
            ));
        }
    }
    heading(doc, d.headings[3]);
    let c = &r.cash;
    let rows = [
        (d.float, Some(c.float)),
        (d.cash[0], Some(c.sales)),
        (d.cash[1], Some(c.cash_in)),
        (d.cash[2], Some(-c.cash_out)),
        (d.cash[3], Some(c.expected)),
        (d.cash[4], c.counted),
        (d.cash[5], c.difference),
    ];
    for (label, value) in rows {
        if let Some(value) = value {
            doc.push(Element::item(label, t.amount(value, minor), plain));
        }
    }
}

/// The X report (or a Z's record) as a printable document in `locale`.
pub fn render_report(report: &DayReport, locale: &str, minor: u32) -> Document {
    let t = texts(locale);
    let mut doc = Document::new();
    let title = if report.closed_at.is_empty() {
        t.day.title_x
    } else {
        t.day.title_z
    };
    doc.push(Element::text(
        title,
        Style::new().center().bold().double_size(),
    ));
    doc.push(Element::item(
        t.register,
        report.register.as_str(),
        Style::new(),
    ));
    doc.push(Element::item(t.day.day, report.day.as_str(), Style::new()));
    push_report(&mut doc, report, t, minor);
    doc.cut(Cut::partial())
}

/// [`render_report`] as plain text, `columns` wide, for `posctl day x`.
pub fn report_text(report: &DayReport, locale: &str, minor: u32, columns: usize) -> String {
    document_text(&render_report(report, locale, minor), columns)
}

/// Masks the codes of `secret` sections — their `barcode`/`qr` and every text of the
/// section naming them — as the journal keeps them: the full code is a spendable voucher,
/// printed once on its slip and kept nowhere else. Call it after the slips are rendered.
pub fn mask_secret_sections(receipt: &mut Receipt) {
    let hidden = |code: &str| {
        if code.chars().count() <= 4 {
            "••••".to_string()
        } else {
            mask(code)
        }
    };
    for section in receipt.sections.iter_mut().filter(|s| s.secret) {
        let mut codes: Vec<String> = [&section.barcode, &section.qr]
            .into_iter()
            .flatten()
            .filter(|c| !c.is_empty())
            .cloned()
            .collect();
        codes.sort_by_key(|c| std::cmp::Reverse(c.len()));
        for code in &codes {
            let masked = hidden(code);
            section.title = section.title.replace(code.as_str(), &masked);
            for line in &mut section.lines {
                *line = line.replace(code.as_str(), &masked);
            }
        }
        section.barcode = section.barcode.as_deref().map(hidden);
        section.qr = section.qr.as_deref().map(hidden);
    }
}

/// The slips of a receipt, one per section with `slip: true`, in the receipt's locale.
///
/// A slip is what the customer keeps as the voucher, so it carries the FULL code as a
/// CODE128 barcode (with the code printed below it) and/or a QR code, plus the receipt id
/// and date to trace it back. A code the barcode cannot encode (non-ASCII, too long) is
/// printed as text instead, so the slip is never without its code.
pub fn render_slips(receipt: &Receipt) -> Vec<Document> {
    let t = texts(&receipt.locale);
    receipt
        .sections
        .iter()
        .filter(|s| s.slip)
        .map(|section| render_slip(receipt, section, t))
        .collect()
}

fn render_slip(receipt: &Receipt, section: &Section, t: &Texts) -> Document {
    let mut doc = Document::new();
    if !section.title.is_empty() {
        doc.push(Element::text(
            section.title.as_str(),
            Style::new().center().double_size(),
        ));
    }
    for line in &section.lines {
        doc.push(Element::text(line.as_str(), Style::new()));
    }
    let code_as_text = |doc: &mut Document, code: &str| {
        doc.push(Element::text(code, Style::new().center().bold()));
    };
    if let Some(code) = section.barcode.as_deref().filter(|c| !c.is_empty()) {
        doc.push(Element::Feed(1));
        match Code128::new(code) {
            Ok(barcode) => {
                doc.push(Element::Code128(barcode));
            }
            Err(error) => {
                tracing::warn!(receipt = %receipt.id, plugin = %section.plugin, %error,
                    "slip barcode printed as text");
                code_as_text(&mut doc, code);
            }
        }
    }
    if let Some(data) = section.qr.as_deref().filter(|c| !c.is_empty()) {
        doc.push(Element::Feed(1));
        match QrCode::new(data.as_bytes(), 4, ErrorCorrection::M) {
            Ok(qr) => {
                doc.push(Element::Qr(qr));
            }
            Err(error) => {
                tracing::warn!(receipt = %receipt.id, plugin = %section.plugin, %error,
                    "slip QR code printed as text");
                code_as_text(&mut doc, data);
            }
        }
    }
    doc.push(Element::Feed(1));
    doc.push(Element::item(
        t.receipt_no,
        receipt.id.as_str(),
        Style::new(),
    ));
    doc.push(Element::item(
        t.date,
        t.date_time(&receipt.time),
        Style::new(),
    ));
    doc.cut(Cut::partial())
}

/// The customer's receipt as plain text, `columns` characters wide: the document of
/// [`render_receipt`] laid out like the printer does (same wrapping, amounts flush right),
/// without printer commands or character sizes, so `posctl receipt ID` shows what was
/// printed. Lines end with `\n`; trailing spaces are trimmed.
pub fn receipt_text(receipt: &Receipt, minor: u32, columns: usize) -> String {
    document_text(&render_receipt(receipt, minor), columns)
}

/// Lays out a document as text at `columns` (at least 1), counting characters.
fn document_text(document: &Document, columns: usize) -> String {
    let width = columns.max(1);
    let mut out: Vec<String> = Vec::new();
    let aligned = |line: String, align: Align| {
        let len = line.chars().count();
        let pad = match align {
            Align::Left => 0,
            Align::Center => width.saturating_sub(len) / 2,
            Align::Right => width.saturating_sub(len),
        };
        format!("{}{line}", " ".repeat(pad))
    };
    for element in &document.elements {
        match element {
            Element::Text { text, style } => {
                for paragraph in text.split('\n') {
                    for line in wrap(paragraph, width) {
                        out.push(aligned(line, style.align));
                    }
                }
            }
            Element::TwoColumn { left, right, .. } => {
                let (left, right) = (left.trim_end(), right.trim());
                let (l, r) = (left.chars().count(), right.chars().count());
                let gap = usize::from(l > 0);
                if l + gap + r <= width {
                    out.push(format!("{left}{}{right}", " ".repeat(width - l - r)));
                } else {
                    if l > 0 {
                        out.extend(wrap(left, width));
                    }
                    for line in wrap(right, width) {
                        out.push(aligned(line, Align::Right));
                    }
                }
            }
            Element::Separator(c) => out.push(c.to_string().repeat(width)),
            Element::Feed(lines) => out.extend((0..*lines).map(|_| String::new())),
            Element::Ean13(code) => {
                let digits = String::from_utf8_lossy(code.digits()).into_owned();
                out.push(aligned(digits, Align::Center));
            }
            Element::Code128(code) => out.push(aligned(code.data().to_string(), Align::Center)),
            Element::Qr(_) | Element::Image(_) | Element::Cut(_) | Element::DrawerKick(_) => {}
        }
    }
    let mut text = String::new();
    for line in out {
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Word-wraps like the printer: breaks at the last space that fits, words longer than a
/// line are cut; leading spaces of the first line stay, spaces at a break are dropped.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let chars: Vec<char> = text.chars().collect();
    let mut rest = chars.as_slice();
    let mut lines = Vec::new();
    let mut first = true;
    loop {
        if !first {
            let skip = rest.iter().take_while(|&&c| c == ' ').count();
            rest = &rest[skip..];
            if rest.is_empty() {
                break;
            }
        }
        first = false;
        if rest.len() <= width {
            lines.push(rest.iter().collect::<String>().trim_end().to_string());
            break;
        }
        let indent = rest.iter().take_while(|&&c| c == ' ').count();
        let cut = match rest[..=width].iter().rposition(|&c| c == ' ') {
            Some(space) if space > indent => space,
            _ => width,
        };
        lines.push(
            rest[..cut]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_string(),
        );
        rest = &rest[cut..];
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::str::FromStr;

    use serde_json::Value;

    use super::*;
    use crate::sale::model::{Totals, VatLine};

    const VOUCHER_SOLD: &str = "GV-7788-1234-5678";
    const VOUCHER_PAID: &str = "RDM-4321-8765-9999";
    const DISCOUNT_CODE: &str = "SOMMER2026";

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn line(kind: LineKind, name: &str, qty: &str, unit: &str, amount: &str, rate: &str) -> Line {
        Line {
            id: format!("L-{name}"),
            kind,
            sku: String::new(),
            name: name.to_string(),
            qty: d(qty),
            unit_price: d(unit),
            amount: d(amount),
            tax_rate: d(rate),
            tags: Vec::new(),
            plugin: String::new(),
            reference: String::new(),
            applies_to: Vec::new(),
            automatic: false,
            data: Value::Null,
            show_ref: false,
        }
    }

    fn tender(method: &str, amount: &str, reference: &str) -> Tender {
        Tender {
            id: format!("T-{method}"),
            method: method.to_string(),
            amount: d(amount),
            max_amount: None,
            plugin: String::new(),
            reference: reference.to_string(),
            details: BTreeMap::new(),
            data: Value::Null,
        }
    }

    fn vat(rate: Option<&str>, net: &str, tax: &str, gross: &str) -> VatLine {
        VatLine {
            rate: rate.map(d),
            net: d(net),
            vat: d(tax),
            gross: d(gross),
        }
    }

    /// Groceries at 10 %, a detergent at 20 % with a discount code, a sold voucher (outside
    /// VAT), paid with a voucher and cash with change.
    fn german_receipt() -> Receipt {
        let mut voucher = line(
            LineKind::VoucherSale,
            "Geschenkgutschein",
            "1",
            "50.00",
            "50.00",
            "0",
        );
        voucher.reference = VOUCHER_SOLD.to_string();
        let mut discount = line(
            LineKind::Discount,
            "Rabatt Spülmittel",
            "1",
            "-0.50",
            "-0.50",
            "20",
        );
        discount.reference = DISCOUNT_CODE.to_string();
        discount.applies_to = vec!["L-Spülmittel".to_string()];
        Receipt {
            id: "0001-01-000042".to_string(),
            number: 42,
            kind: ReceiptKind::Sale,
            time: "2026-11-24T14:03:27Z".to_string(),
            store_id: "0001".to_string(),
            register_id: "01".to_string(),
            currency: "EUR".to_string(),
            locale: "de-AT".to_string(),
            cashier: "Anna".to_string(),
            customer: String::new(),
            sale_id: "S42".to_string(),
            original: String::new(),
            lines: vec![
                line(LineKind::Item, "Milch 1,5 %", "2", "1.29", "2.58", "10"),
                line(LineKind::Item, "Müsli Früchte", "1", "3.49", "3.49", "10"),
                line(LineKind::Item, "Äpfel lose", "0.350", "2.99", "1.05", "10"),
                line(LineKind::Item, "Spülmittel", "1", "4.99", "4.99", "20"),
                discount,
                voucher,
            ],
            tenders: vec![
                tender("voucher", "20.00", VOUCHER_PAID),
                tender("cash", "50.00", ""),
            ],
            totals: Totals {
                subtotal: d("62.11"),
                discount: d("-0.50"),
                tax: d("1.40"),
                total: d("61.61"),
                paid: d("61.61"),
                due: d("0.00"),
                change: d("8.39"),
            },
            vat: vec![
                vat(Some("10"), "6.47", "0.65", "7.12"),
                vat(Some("20"), "3.74", "0.75", "4.49"),
                vat(None, "50.00", "0.00", "50.00"),
            ],
            sections: vec![
                Section {
                    plugin: "vouchers".to_string(),
                    title: "Ihr Gutschein".to_string(),
                    lines: vec![
                        "Wert: 50,00 EUR".to_string(),
                        format!("Code: {VOUCHER_SOLD}"),
                    ],
                    slip: true,
                    barcode: Some(VOUCHER_SOLD.to_string()),
                    qr: None,
                    secret: false,
                },
                Section {
                    plugin: "loyalty".to_string(),
                    title: "Treuepunkte".to_string(),
                    lines: vec![
                        "Neue Punkte: 12".to_string(),
                        format!("Gutschein {VOUCHER_SOLD} aktiviert"),
                    ],
                    slip: false,
                    barcode: None,
                    qr: None,
                    secret: false,
                },
            ],
            header: vec!["Bäckerei Huber".to_string(), "Hauptstraße 1".to_string()],
            footer: vec!["Danke für Ihren Einkauf!".to_string()],
            day: String::new(),
            event: None,
        }
    }

    /// A line `width` wide with `left` flush left and `right` flush right.
    fn row(width: usize, left: &str, right: &str) -> String {
        let pad = width - left.chars().count() - right.chars().count();
        format!("{left}{}{right}", " ".repeat(pad))
    }

    fn lines_of(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    fn assert_has(lines: &[&str], expected: &str) {
        assert!(
            lines.contains(&expected),
            "missing line {expected:?} in\n{}",
            lines.join("\n")
        );
    }

    /// Every string a document would print: texts, items, barcode and QR data.
    fn printed_strings(doc: &Document) -> Vec<String> {
        doc.elements
            .iter()
            .flat_map(|e| match e {
                Element::Text { text, .. } => vec![text.clone()],
                Element::TwoColumn { left, right, .. } => vec![left.clone(), right.clone()],
                Element::Code128(c) => vec![c.data().to_string()],
                Element::Qr(q) => vec![String::from_utf8_lossy(q.data()).into_owned()],
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn a_german_receipt_has_its_key_lines() {
        let text = receipt_text(&german_receipt(), 2, 42);
        let lines = lines_of(&text);
        let w = 42;
        assert_eq!(lines[0], format!("{}Bäckerei Huber", " ".repeat(14)));
        assert_has(&lines, &format!("{}Rechnung", " ".repeat(17)));
        assert_has(&lines, &row(w, "Beleg-Nr.", "0001-01-000042"));
        assert_has(&lines, &row(w, "Datum", "24.11.2026 14:03"));
        assert_has(&lines, &row(w, "Kasse", "01"));
        assert_has(&lines, &row(w, "Bediener", "Anna"));
        assert_has(&lines, &row(w, "Milch 1,5 %", "2,58 B"));
        assert_has(&lines, "2 x 1,29");
        assert_has(&lines, "0,35 x 2,99");
        assert_has(&lines, &row(w, "Spülmittel", "4,99 A"));
        assert_has(&lines, &row(w, "Rabatt Spülmittel ••••2026", "-0,50 A"));
        assert_has(&lines, &row(w, "Geschenkgutschein ••••5678", "50,00 C"));
        assert_has(&lines, &row(w, "Summe EUR", "61,61"));
        assert_has(&lines, &row(w, "Gutschein ••••9999", "20,00"));
        assert_has(&lines, &row(w, "Bar", "50,00"));
        assert_has(&lines, &row(w, "Rückgeld", "8,39"));
        assert_has(&lines, &row(w, "MwSt.", "Netto Steuer Brutto"));
        assert_has(&lines, &row(w, "A 20 %", " 3,74   0,75   4,49"));
        assert_has(&lines, &row(w, "B 10 %", " 6,47   0,65   7,12"));
        assert_has(&lines, &row(w, "C steuerfrei", "50,00   0,00  50,00"));
        assert!(
            text.find("A 20 %") < text.find("B 10 %"),
            "the table in the order of its letters:\n{text}"
        );
        // No customer on this sale, so no customer line; the id as a barcode at the end.
        assert!(!text.contains("Kunde"), "{text}");
        assert_has(&lines, &format!("{}0001-01-000042", " ".repeat(14)));
        // A quantity of one gets no "1 x" line, a discount none at all.
        assert!(!text.contains("1 x 3,49"), "{text}");
        assert!(!text.contains("x -0,50"), "{text}");
        // The order the customer reads it in.
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle:?} missing in\n{text}"))
        };
        assert!(at("Rechnung") < at("Milch") && at("Milch") < at("Summe EUR"));
        assert!(at("Summe EUR") < at("Bar") && at("Bar") < at("Rückgeld"));
        assert!(at("Rückgeld") < at("MwSt.") && at("MwSt.") < at("Treuepunkte"));
        assert!(at("Treuepunkte") < at("Danke für Ihren Einkauf!"));
        assert!(at("Neue Punkte") < text.rfind("0001-01-000042").expect("barcode"));
        assert!(lines.iter().all(|l| l.chars().count() <= w), "{text}");
    }

    #[test]
    fn vat_letters_go_from_the_highest_rate_down_with_what_is_outside_vat_last() {
        let mut receipt = german_receipt();
        receipt
            .lines
            .insert(0, line(LineKind::Item, "Blumen", "1", "5.65", "5.65", "13"));
        let mut everything = line(LineKind::Discount, "Aktion", "1", "-1.00", "-1.00", "0");
        everything.applies_to = vec!["L-Milch 1,5 %".into(), "L-Spülmittel".into()];
        receipt.lines.push(everything);
        receipt
            .vat
            .insert(1, vat(Some("13"), "5.00", "0.65", "5.65"));
        let text = receipt_text(&receipt, 2, 42);
        let lines = lines_of(&text);
        assert_has(&lines, &row(42, "Blumen", "5,65 B"));
        assert_has(&lines, &row(42, "Milch 1,5 %", "2,58 C"));
        assert_has(&lines, &row(42, "Spülmittel", "4,99 A"));
        assert_has(&lines, &row(42, "Aktion", "-1,00 AC"));
        assert_has(&lines, &row(42, "Geschenkgutschein ••••5678", "50,00 D"));
        for rate in ["A 20 %", "B 13 %", "C 10 %", "D steuerfrei"] {
            assert!(
                lines.iter().any(|l| l.starts_with(rate)),
                "{rate} in\n{text}"
            );
        }
        // A rate with no row in the table (its lines were given away) gets no letter.
        receipt.vat.retain(|row| row.rate != Some(d("13")));
        let text = receipt_text(&receipt, 2, 42);
        assert_has(&lines_of(&text), &row(42, "Blumen", "5,65"));
        assert_has(&lines_of(&text), &row(42, "Milch 1,5 %", "2,58 B"));
    }

    #[test]
    fn the_customer_is_printed_when_the_sale_had_one() {
        for (locale, label) in [
            ("de-AT", "Kunde"),
            ("cs-CZ", "Zákazník"),
            ("en-GB", "Customer"),
        ] {
            let mut receipt = german_receipt();
            receipt.locale = locale.to_string();
            receipt.customer = "C-1001".to_string();
            let text = receipt_text(&receipt, 2, 42);
            assert_has(&lines_of(&text), &row(42, label, "C-1001"));
            let at = |needle: &str| text.find(needle).expect(needle);
            assert!(at(label) < at("------"), "with the receipt's head:\n{text}");
        }
    }

    #[test]
    fn the_receipt_id_is_printed_as_a_code128_barcode_of_exactly_the_id() {
        let receipt = german_receipt();
        let doc = render_receipt(&receipt, 2);
        let barcodes: Vec<&str> = doc
            .elements
            .iter()
            .filter_map(|e| match e {
                Element::Code128(c) => Some(c.data()),
                _ => None,
            })
            .collect();
        assert_eq!(barcodes, ["0001-01-000042"]);
        // As the printer gets it: GS k 73, length, code set B, the id.
        let bytes = posd_printer::render(
            &doc,
            &posd_printer::Profile::paper_80mm_512(posd_printer::CodePage::Pc858),
        )
        .bytes;
        let mut expected = vec![0x1D, 0x6B, 73, 16, b'{', b'B'];
        expected.extend_from_slice(b"0001-01-000042");
        assert!(
            bytes.windows(expected.len()).any(|w| w == expected),
            "no CODE128 of the id in the receipt's bytes"
        );
    }

    #[test]
    fn a_copy_is_marked_above_and_below_and_keeps_the_originals_numbers() {
        let receipt = german_receipt();
        let original = receipt_text(&receipt, 2, 42);
        let copy = document_text(
            &render_copy(&receipt, 2, "2026-11-25T09:41:07.120+01:00"),
            42,
        );
        let lines = lines_of(&copy);
        let mark = format!("{}*** KOPIE ***", " ".repeat(14));
        assert_eq!(lines[0], mark, "{copy}");
        assert_has(&lines, &row(42, "Nachdruck", "25.11.2026 09:41"));
        assert_eq!(lines.last(), Some(&mark.as_str()), "{copy}");
        assert!(
            copy.contains(&original),
            "the whole original, unchanged, inside the copy:\n{copy}"
        );
        let doc = render_copy(&receipt, 2, "2026-11-25T09:41:07.120+01:00");
        assert_eq!(doc.elements.last(), Some(&Element::Cut(Cut::partial())));
        assert_eq!(
            doc.elements
                .iter()
                .filter(|e| matches!(e, Element::Cut(_)))
                .count(),
            1,
            "one piece of paper"
        );
        assert!(doc.elements.contains(&Element::text(
            "*** KOPIE ***",
            Style::new().center().bold().double_size()
        )));
        for (locale, word) in [("cs-CZ", "*** KOPIE ***"), ("en-GB", "*** COPY ***")] {
            let mut receipt = german_receipt();
            receipt.locale = locale.to_string();
            let copy = document_text(&render_copy(&receipt, 2, "2026-11-25T09:41:07Z"), 42);
            assert_eq!(copy.matches(word).count(), 2, "{copy}");
        }
    }

    #[test]
    fn czech_words_and_comma_decimals() {
        let mut receipt = german_receipt();
        receipt.locale = "cs-CZ".to_string();
        receipt.currency = "CZK".to_string();
        let text = receipt_text(&receipt, 2, 42);
        let lines = lines_of(&text);
        let w = 42;
        assert_has(&lines, &format!("{}Účtenka", " ".repeat(17)));
        assert_has(&lines, &row(w, "Doklad č.", "0001-01-000042"));
        assert_has(&lines, &row(w, "Datum", "24.11.2026 14:03"));
        assert_has(&lines, &row(w, "Pokladník", "Anna"));
        assert_has(&lines, "2 x 1,29");
        assert_has(&lines, &row(w, "Celkem CZK", "61,61"));
        assert_has(&lines, &row(w, "Poukaz ••••9999", "20,00"));
        assert_has(&lines, &row(w, "Hotovost", "50,00"));
        assert_has(&lines, &row(w, "Vráceno", "8,39"));
        assert_has(&lines, &row(w, "DPH", "Základ  Daň Celkem"));
        assert_has(&lines, &row(w, "B 10 %", "  6,47 0,65   7,12"));
        assert_has(&lines, &row(w, "C mimo DPH", " 50,00 0,00  50,00"));
    }

    #[test]
    fn english_uses_decimal_points_and_iso_dates() {
        let mut receipt = german_receipt();
        receipt.locale = "en-GB".to_string();
        let text = receipt_text(&receipt, 2, 42);
        let lines = lines_of(&text);
        let w = 42;
        assert_has(&lines, &row(w, "Date", "2026-11-24 14:03"));
        assert_has(&lines, "2 x 1.29");
        assert_has(&lines, "0.35 x 2.99");
        assert_has(&lines, &row(w, "Total EUR", "61.61"));
        assert_has(&lines, &row(w, "Voucher ••••9999", "20.00"));
        assert_has(&lines, &row(w, "Cash", "50.00"));
        assert_has(&lines, &row(w, "Change", "8.39"));
        assert_has(&lines, &row(w, "VAT", "  Net  Tax Gross"));
        assert_has(&lines, &row(w, "C no VAT", "50.00 0.00 50.00"));
    }

    #[test]
    fn locales_fall_back_by_language_then_to_english() {
        assert_eq!(texts("de-AT").language, "de");
        assert_eq!(texts("de_DE").language, "de");
        assert_eq!(texts("DE").language, "de");
        assert_eq!(texts("cs-CZ").language, "cs");
        assert_eq!(texts("cs").language, "cs");
        assert_eq!(texts("fr-FR").language, "en");
        assert_eq!(texts("").language, "en");
    }

    #[test]
    fn numbers_never_lose_digits_or_show_minus_zero() {
        let de = texts("de");
        assert_eq!(de.amount(d("-12.5"), 2), "-12,50");
        assert_eq!(de.amount(d("-0.001"), 2), "0,00");
        assert_eq!(de.amount(-d("0.00"), 2), "0,00");
        assert_eq!(de.amount(d("124"), 0), "124");
        assert_eq!(de.quantity(d("2.000")), "2");
        assert_eq!(de.quantity(d("0.350")), "0,35");
        assert_eq!(de.quantity(d("-1")), "-1");
        assert_eq!(de.unit_price(d("0.995"), 2), "0,995");
        assert_eq!(de.unit_price(d("1.2"), 2), "1,20");
        assert_eq!(de.rate(Some(d("5.50"))), "5,5 %");
        assert_eq!(texts("en").rate(Some(d("20.00"))), "20 %");
        assert_eq!(
            de.date_time("2026-01-02T03:04:05.123+01:00"),
            "02.01.2026 03:04"
        );
        assert_eq!(de.date_time("yesterday"), "yesterday", "kept, not dropped");
        assert_eq!(de.date_time("2026-01-02"), "2026-01-02");
    }

    #[test]
    fn a_void_names_the_original_receipt() {
        let mut receipt = german_receipt();
        receipt.kind = ReceiptKind::Void;
        receipt.id = "0001-01-000043".to_string();
        receipt.original = "0001-01-000042".to_string();
        for l in &mut receipt.lines {
            l.qty = -l.qty;
            l.amount = -l.amount;
        }
        for t in &mut receipt.tenders {
            t.amount = -t.amount;
        }
        receipt.totals.total = -receipt.totals.total;
        receipt.totals.change = Decimal::ZERO;
        let text = receipt_text(&receipt, 2, 42);
        let lines = lines_of(&text);
        assert_has(&lines, &format!("{}Storno", " ".repeat(18)));
        assert_has(&lines, &row(42, "Originalbeleg", "0001-01-000042"));
        assert_has(&lines, &row(42, "Beleg-Nr.", "0001-01-000043"));
        assert_has(&lines, &row(42, "Milch 1,5 %", "-2,58 B"));
        assert_has(&lines, "-2 x 1,29");
        assert_has(&lines, &row(42, "Summe EUR", "-61,61"));
        assert!(
            !text.contains("Rückgeld"),
            "no change line at zero:\n{text}"
        );

        receipt.kind = ReceiptKind::Return;
        let text = receipt_text(&receipt, 2, 42);
        assert_has(&lines_of(&text), &format!("{}Retoure", " ".repeat(17)));
        assert_has(
            &lines_of(&text),
            &row(42, "Originalbeleg", "0001-01-000042"),
        );

        receipt.kind = ReceiptKind::Sale;
        let text = receipt_text(&receipt, 2, 42);
        assert!(!text.contains("Originalbeleg"), "{text}");
    }

    #[test]
    fn full_codes_only_on_the_slip() {
        let receipt = german_receipt();
        let text = receipt_text(&receipt, 2, 32);
        let printed = printed_strings(&render_receipt(&receipt, 2)).join("\n");
        for code in [VOUCHER_SOLD, VOUCHER_PAID, DISCOUNT_CODE] {
            assert!(!text.contains(code), "{code} in\n{text}");
            assert!(!printed.contains(code), "{code} in\n{printed}");
        }
        assert!(
            text.contains("••••5678") && text.contains("••••9999"),
            "{text}"
        );
        // A plugin's text that names the code is masked too.
        assert_has(&lines_of(&text), "Gutschein ••••5678 aktiviert");

        let slips = render_slips(&receipt);
        assert_eq!(slips.len(), 1);
        let barcodes: Vec<&str> = slips[0]
            .elements
            .iter()
            .filter_map(|e| match e {
                Element::Code128(c) => Some(c.data()),
                _ => None,
            })
            .collect();
        assert_eq!(barcodes, [VOUCHER_SOLD]);
    }

    #[test]
    fn a_secret_sections_code_is_masked_for_the_journal_and_others_are_left_alone() {
        let mut receipt = german_receipt();
        let code = "ABCD-1234-EFGH-5678";
        receipt.sections.push(Section {
            plugin: "vouchers".to_string(),
            title: format!("Gutschein {code}"),
            lines: vec![format!("Code: {code}"), "Wert: 20,00 EUR".to_string()],
            slip: true,
            barcode: Some(code.to_string()),
            qr: Some("PIN1".to_string()),
            secret: true,
        });
        let before = receipt.sections.clone();
        let slips = render_slips(&receipt);
        mask_secret_sections(&mut receipt);
        let secret = receipt.sections.last().expect("section");
        assert_eq!(secret.title, "Gutschein ••••5678");
        assert_eq!(secret.lines, vec!["Code: ••••5678", "Wert: 20,00 EUR"]);
        assert_eq!(secret.barcode.as_deref(), Some("••••5678"));
        assert_eq!(
            secret.qr.as_deref(),
            Some("••••"),
            "a short secret is masked whole"
        );
        assert_eq!(
            receipt.sections[..before.len() - 1],
            before[..before.len() - 1],
            "sections not marked secret are kept as they are"
        );
        assert_ne!(
            render_slips(&receipt),
            slips,
            "rendered from the journal's copy, a secret slip would lose its code: print it first"
        );
    }

    #[test]
    fn the_receipt_ends_with_a_cut_and_slips_are_printed_apart() {
        let mut receipt = german_receipt();
        receipt.sections.push(Section {
            plugin: "partner".to_string(),
            title: "Partnerbon".to_string(),
            lines: vec!["Einlösbar bei Partner X".to_string()],
            slip: true,
            barcode: Some("Bon-Ü1".to_string()),
            qr: Some("https://example.invalid/b/1".to_string()),
            secret: false,
        });
        let doc = render_receipt(&receipt, 2);
        assert_eq!(doc.elements.last(), Some(&Element::Cut(Cut::partial())));
        let cuts = doc
            .elements
            .iter()
            .filter(|e| matches!(e, Element::Cut(_)))
            .count();
        assert_eq!(cuts, 1);
        let text = receipt_text(&receipt, 2, 42);
        assert!(text.contains("Treuepunkte") && text.contains("Neue Punkte: 12"));
        assert!(
            doc.elements
                .contains(&Element::text("Treuepunkte", Style::new().bold()))
        );
        for slip_only in ["Ihr Gutschein", "Wert: 50,00 EUR", "Partnerbon"] {
            assert!(!text.contains(slip_only), "{slip_only} in\n{text}");
        }

        let slips = render_slips(&receipt);
        assert_eq!(slips.len(), 2);
        for slip in &slips {
            assert_eq!(slip.elements.last(), Some(&Element::Cut(Cut::partial())));
            assert!(slip.elements.contains(&Element::item(
                "Beleg-Nr.",
                "0001-01-000042",
                Style::new()
            )));
            assert!(slip.elements.contains(&Element::item(
                "Datum",
                "24.11.2026 14:03",
                Style::new()
            )));
        }
        assert_eq!(
            slips[0].elements[0],
            Element::text("Ihr Gutschein", Style::new().center().double_size())
        );
        // CODE128 cannot encode "Ü": the code is printed as text rather than lost.
        let partner = &slips[1].elements;
        assert!(partner.contains(&Element::text("Bon-Ü1", Style::new().center().bold())));
        assert!(!partner.iter().any(|e| matches!(e, Element::Code128(_))));
        assert!(
            partner
                .iter()
                .any(|e| matches!(e, Element::Qr(q) if q.data() == b"https://example.invalid/b/1"))
        );
    }

    #[test]
    fn rounding_is_its_own_line_before_the_total() {
        let mut receipt = german_receipt();
        receipt.locale = "cs-CZ".to_string();
        receipt.lines.insert(
            0,
            line(LineKind::Rounding, "rounding", "1", "0.39", "0.39", "0"),
        );
        let text = receipt_text(&receipt, 2, 32);
        let lines = lines_of(&text);
        assert_has(&lines, &row(32, "Zaokrouhlení", "0,39 C"));
        let rounding = text.find("Zaokrouhlení").expect("rounding line");
        assert!(text.find("Geschenkgutschein").expect("voucher") < rounding);
        assert!(rounding < text.find("Celkem").expect("total"));
    }

    #[test]
    fn text_layout_wraps_like_the_printer() {
        assert_eq!(wrap("abc def ghi", 7), ["abc def", "ghi"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
        let doc = Document::new()
            .item("Sehr langer Artikelname", "1234,56")
            .line_styled("ab", Style::new().right())
            .separator('=');
        assert_eq!(
            document_text(&doc, 16),
            "Sehr langer\nArtikelname\n         1234,56\n              ab\n================\n"
        );
    }

    /// A Z receipt of day 7 with a cash shortfall of 1.50, in `locale`.
    fn z_receipt(locale: &str) -> Receipt {
        use crate::sale::day::{CashCount, DayReport, PluginMove, Tally, TenderTotal};
        let d = |s: &str| s.parse::<Decimal>().expect("decimal");
        let mut receipt = german_receipt();
        receipt.kind = ReceiptKind::Z;
        receipt.locale = locale.to_string();
        receipt.lines.clear();
        receipt.tenders.clear();
        receipt.vat.clear();
        receipt.day = "0001-01-D000007".into();
        receipt.event = Some(crate::sale::model::DayEvent {
            reason: String::new(),
            report: Some(DayReport {
                day: "0001-01-D000007".into(),
                number: 7,
                register: "01".into(),
                opened_at: "2026-12-01T08:00:00.000+01:00".into(),
                closed_at: "2026-12-01T20:05:00.000+01:00".into(),
                total: d("1234.50"),
                sales: Tally {
                    count: 40,
                    amount: d("1250.00"),
                },
                voids: Tally {
                    count: 1,
                    amount: d("-15.50"),
                },
                vat: vec![VatLine {
                    rate: Some(d("20")),
                    net: d("1028.75"),
                    vat: d("205.75"),
                    gross: d("1234.50"),
                }],
                tenders: vec![TenderTotal {
                    method: "cash".into(),
                    plugin: String::new(),
                    count: 30,
                    amount: d("734.50"),
                }],
                plugins: vec![PluginMove {
                    plugin: "points".into(),
                    account: "customer".into(),
                    unit: "points".into(),
                    added: d("1200"),
                    taken: d("-300"),
                }],
                cash: CashCount {
                    float: d("150.00"),
                    sales: d("734.50"),
                    cash_in: d("50.00"),
                    cash_out: d("200.00"),
                    expected: d("734.50"),
                    counted: Some(d("733.00")),
                    difference: Some(d("-1.50")),
                },
                ..DayReport::default()
            }),
        });
        receipt
    }

    #[test]
    fn the_z_report_prints_in_the_receipt_locale() {
        for (locale, words) in [
            (
                "de-AT",
                [
                    "Z-Bericht",
                    "Z-Nr.",
                    "Stornos (1)",
                    "Kassenbestand",
                    "Differenz",
                    "-1,50",
                    "01.12.2026 20:05",
                ],
            ),
            (
                "cs-CZ",
                [
                    "Z-uzávěrka",
                    "Z č.",
                    "Storna (1)",
                    "Hotovost v pokladně",
                    "Rozdíl",
                    "-1,50",
                    "01.12.2026 20:05",
                ],
            ),
            (
                "en-GB",
                [
                    "Z report",
                    "Z no.",
                    "Voids (1)",
                    "Cash drawer",
                    "Difference",
                    "-1.50",
                    "2026-12-01 20:05",
                ],
            ),
        ] {
            let text = receipt_text(&z_receipt(locale), 2, 42);
            for word in words {
                assert!(text.contains(word), "{locale}: no {word:?} in\n{text}");
            }
            assert!(text.contains("points customer (points)"), "{text}");
        }
        let de = receipt_text(&z_receipt("de-AT"), 2, 42);
        let lines = lines_of(&de);
        assert_has(&lines, &format!("Differenz{}-1,50", " ".repeat(42 - 9 - 5)));
        assert_has(&lines, &format!("Gezählt{}733,00", " ".repeat(42 - 7 - 6)));
    }

    #[test]
    fn a_cash_movement_prints_its_amount_and_reason() {
        let mut receipt = z_receipt("de-AT");
        receipt.kind = ReceiptKind::CashOut;
        receipt.totals.total = "-200.00".parse().expect("decimal");
        receipt.event = Some(crate::sale::model::DayEvent {
            reason: "Bank".into(),
            report: None,
        });
        let text = receipt_text(&receipt, 2, 42);
        let lines = lines_of(&text);
        assert_has(&lines, &format!("{}Entnahme", " ".repeat(17)));
        assert_has(&lines, &format!("Bar{}200,00", " ".repeat(42 - 3 - 6)));
        assert_has(&lines, &format!("Grund{}Bank", " ".repeat(42 - 5 - 4)));
    }
}
