//! The cashier's language: German, Czech or English, for every label of the screen and for
//! the daemon's named errors.
//!
//! posd answers in English and names each failure (`org.posd.Error.VoucherEmpty`); a
//! frontend localises by the name (contract, "Errors"). The daemon's own message is kept
//! beside the translation where it says more than the name (which plugin failed, which key
//! was unknown), so a technician reading over the cashier's shoulder still sees it.
//!
//! Labels are looked up by their English text, so the source reads naturally and a label
//! without a translation falls back to English instead of showing a key; a unit test makes
//! sure every label used in the source has both translations.

/// A language the till speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Deutsch (Austria, Germany).
    De,
    /// Čeština.
    Cs,
    /// English: the fallback, and the language of technicians' logs.
    En,
}

impl Lang {
    /// The language of a BCP 47 locale or a `LANG`-style value (`de-AT`, `cs_CZ.UTF-8`,
    /// `en`); English for anything else.
    pub fn from_locale(locale: &str) -> Lang {
        let primary = locale
            .split(['-', '_', '.'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "de" => Lang::De,
            "cs" | "cz" => Lang::Cs,
            _ => Lang::En,
        }
    }

    /// The language named on the command line (`de`, `cs`, `en`).
    pub fn parse(name: &str) -> Option<Lang> {
        match name.to_ascii_lowercase().as_str() {
            "de" => Some(Lang::De),
            "cs" => Some(Lang::Cs),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Decimal separator of amounts on screen: a comma in German and Czech.
    pub fn decimal_separator(self) -> char {
        match self {
            Lang::De | Lang::Cs => ',',
            Lang::En => '.',
        }
    }

    /// A decimal string of the daemon ("12.50", "-3.00") as the cashier reads it ("12,50").
    /// Only the separator changes: the digits are the daemon's, never re-rounded.
    pub fn number(self, decimal: &str) -> String {
        decimal.replace('.', &self.decimal_separator().to_string())
    }

    /// A number the cashier typed ("12,50" or "12.50") as the daemon's decimal string.
    pub fn parse_number(self, typed: &str) -> String {
        typed.trim().replace(',', ".")
    }
}

/// `english` in `lang`; the English text itself when there is no translation.
pub fn tr(lang: Lang, english: &'static str) -> &'static str {
    if lang == Lang::En {
        return english;
    }
    LABELS
        .iter()
        .find(|(en, _, _)| *en == english)
        .map(|(_, de, cs)| if lang == Lang::De { *de } else { *cs })
        .unwrap_or(english)
}

/// A failed call as the cashier should read it: the error name's short text in `lang`, with
/// the daemon's message after it when it adds something (a plugin's name, a key, a balance).
pub fn error_text(lang: Lang, name: &str, message: &str) -> String {
    let short = name.strip_prefix("org.posd.Error.").unwrap_or(name);
    let text = ERRORS
        .iter()
        .find(|(n, _, _, _)| *n == short)
        .map(|(_, en, de, cs)| match lang {
            Lang::En => *en,
            Lang::De => *de,
            Lang::Cs => *cs,
        });
    let message = message.trim();
    match text {
        Some(text) if message.is_empty() => text.to_string(),
        Some(text) => format!("{text} ({message})"),
        None if message.is_empty() => {
            format!("{} ({name})", tr(lang, "The till could not do that"))
        }
        None => format!("{} ({message})", tr(lang, "The till could not do that")),
    }
}

/// The label of an action's parameter. The contract gives a param only its `name`, so the
/// names the shipped plugins use read in the cashier's language and any other reads as its
/// name in words ("card_type" → "Card type"): a new plugin still gets a readable dialog.
pub fn param_label(lang: Lang, name: &str) -> String {
    if let Some((_, en, de, cs)) = PARAMS.iter().find(|(n, _, _, _)| *n == name) {
        return match lang {
            Lang::En => en,
            Lang::De => de,
            Lang::Cs => cs,
        }
        .to_string();
    }
    let words = name.replace(['_', '-'], " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Parameter names the shipped plugins' actions use: name, English, German, Czech.
const PARAMS: &[(&str, &str, &str, &str)] = &[
    ("amount", "Amount", "Betrag", "Částka"),
    ("code", "Code", "Code", "Kód"),
    ("card", "Card number", "Kartennummer", "Číslo karty"),
    ("card_type", "Card type", "Kartentyp", "Typ karty"),
    (
        "customer",
        "Customer number",
        "Kundennummer",
        "Číslo zákazníka",
    ),
    (
        "last4",
        "Last 4 digits",
        "Letzte 4 Ziffern",
        "Poslední 4 číslice",
    ),
    ("line", "Line", "Position", "Položka"),
    ("number", "Number", "Nummer", "Číslo"),
    ("points", "Points", "Punkte", "Body"),
    ("programme", "Programme", "Programm", "Program"),
    ("serial", "Serial number", "Seriennummer", "Sériové číslo"),
    ("coupons", "Coupons", "Coupons", "Kupóny"),
    ("qty", "Quantity", "Menge", "Množství"),
    ("reason", "Reason", "Grund", "Důvod"),
];

/// Every error name of the contract: English, German, Czech.
const ERRORS: &[(&str, &str, &str, &str)] = &[
    (
        "InvalidArgument",
        "Invalid input",
        "Ungültige Eingabe",
        "Neplatný vstup",
    ),
    (
        "NotFound",
        "Nothing could be found",
        "Es konnte nichts gefunden werden",
        "Nic nebylo nalezeno",
    ),
    (
        "VoucherEmpty",
        "The voucher is empty",
        "Der Gutschein ist leer",
        "Poukaz je prázdný",
    ),
    (
        "InvalidConfiguration",
        "The programme is misconfigured",
        "Konfiguration des Gutscheins ist ungültig",
        "Konfigurace programu je neplatná",
    ),
    (
        "LimitReached",
        "No uses left",
        "Keine Einlösungen mehr möglich",
        "Limit použití vyčerpán",
    ),
    (
        "CustomerRequired",
        "A customer is needed first",
        "Zuerst einen Kunden erfassen",
        "Nejprve zadejte zákazníka",
    ),
    (
        "CustomerLocked",
        "The customer can't change now",
        "Der Kunde kann jetzt nicht geändert werden",
        "Zákazníka teď nelze změnit",
    ),
    (
        "InsufficientBalance",
        "Balance too low",
        "Guthaben reicht nicht aus",
        "Nedostatečný zůstatek",
    ),
    (
        "NotPaid",
        "Not fully paid yet",
        "Noch nicht vollständig bezahlt",
        "Ještě není zaplaceno",
    ),
    (
        "NotAllowed",
        "Not allowed",
        "Nicht erlaubt",
        "Není povoleno",
    ),
    (
        "Conflict",
        "Already done, or done differently",
        "Bereits erledigt oder anders erledigt",
        "Již provedeno, nebo jinak",
    ),
    (
        "PluginFailed",
        "A plugin failed",
        "Ein Zusatzmodul hat versagt",
        "Zásuvný modul selhal",
    ),
    (
        "DeviceUnavailable",
        "Device unavailable",
        "Gerät nicht verfügbar",
        "Zařízení není k dispozici",
    ),
    (
        "ShuttingDown",
        "The till is shutting down",
        "Die Kasse wird beendet",
        "Pokladna se vypíná",
    ),
    (
        "Internal",
        "Internal error of the till",
        "Interner Fehler der Kasse",
        "Vnitřní chyba pokladny",
    ),
];

/// Every label of the screen: English, German, Czech.
const LABELS: &[(&str, &str, &str)] = &[
    (
        "The till could not do that",
        "Das ging nicht",
        "To nešlo provést",
    ),
    (
        "No connection to posd",
        "Keine Verbindung zu posd",
        "Žádné spojení s posd",
    ),
    (
        "Connection to posd lost",
        "Verbindung zu posd verloren",
        "Spojení s posd ztraceno",
    ),
    ("Till", "Kasse", "Pokladna"),
    ("Cashier", "Kassier", "Pokladník"),
    ("Customer", "Kunde", "Zákazník"),
    ("Sale", "Verkauf", "Prodej"),
    ("no sale", "kein Verkauf", "žádný prodej"),
    ("Item", "Artikel", "Položka"),
    ("Qty", "Menge", "Množ."),
    ("Price", "Preis", "Cena"),
    ("VAT", "USt", "DPH"),
    ("Amount", "Betrag", "Částka"),
    ("Subtotal", "Zwischensumme", "Mezisoučet"),
    ("Discount", "Rabatt", "Sleva"),
    ("Tax", "Steuer", "Daň"),
    ("Total", "Summe", "Celkem"),
    ("Paid", "Bezahlt", "Zaplaceno"),
    ("Given", "Gegeben", "Přijato"),
    ("Due", "Offen", "Zbývá"),
    ("Change", "Rückgeld", "Vrátit"),
    ("Payments", "Zahlungen", "Platby"),
    ("You save", "Sie sparen", "Ušetříte"),
    (
        "Scan or type a code",
        "Code scannen oder eingeben",
        "Naskenujte nebo zadejte kód",
    ),
    ("quantity", "Menge", "množství"),
    ("remove", "entfernen", "odebrat"),
    ("customer", "Kunde", "zákazník"),
    ("actions", "Aktionen", "akce"),
    ("rewards", "Prämien", "odměny"),
    ("pay", "zahlen", "platit"),
    ("receipts", "Belege", "účtenky"),
    ("check out", "abschließen", "dokončit"),
    ("cancel sale", "Verkauf abbrechen", "zrušit prodej"),
    ("quit", "beenden", "konec"),
    ("Quantity", "Menge", "Množství"),
    (
        "Customer number or card",
        "Kundennummer oder Karte",
        "Číslo zákazníka nebo karta",
    ),
    (
        "empty: no customer",
        "leer: kein Kunde",
        "prázdné: bez zákazníka",
    ),
    ("Actions", "Aktionen", "Akce"),
    ("Rewards", "Prämien", "Odměny"),
    ("Payment", "Zahlung", "Platba"),
    ("Method", "Zahlungsart", "Způsob"),
    ("Code", "Code", "Kód"),
    ("cash", "Bar", "hotově"),
    ("card", "Karte", "kartou"),
    ("voucher", "Gutschein", "poukaz"),
    ("credit", "Kundenguthaben", "kredit zákazníka"),
    ("partner points", "Partnerpunkte", "partnerské body"),
    ("card credit", "Kartenguthaben", "kredit na kartě"),
    ("Receipt", "Beleg", "Účtenka"),
    ("Receipt number", "Belegnummer", "Číslo účtenky"),
    ("reprint", "nachdrucken", "vytisknout znovu"),
    ("void", "stornieren", "stornovat"),
    ("return", "Retoure", "vrátit zboží"),
    ("close", "schließen", "zavřít"),
    (
        "Return: quantity per line",
        "Retoure: Menge je Zeile",
        "Vrácení: množství na řádek",
    ),
    (
        "Void this receipt?",
        "Diesen Beleg stornieren?",
        "Stornovat tuto účtenku?",
    ),
    (
        "Cancel this sale?",
        "Diesen Verkauf abbrechen?",
        "Zrušit tento prodej?",
    ),
    (
        "Enter: yes   Esc: no",
        "Enter: ja   Esc: nein",
        "Enter: ano   Esc: ne",
    ),
    (
        "Enter: confirm   Esc: back",
        "Enter: bestätigen   Esc: zurück",
        "Enter: potvrdit   Esc: zpět",
    ),
    (
        "Tab: next field   ←/→: choose",
        "Tab: nächstes Feld   ←/→: wählen",
        "Tab: další pole   ←/→: vybrat",
    ),
    ("required", "Pflichtfeld", "povinné"),
    ("suggested", "Vorschlag", "návrh"),
    (
        "Nothing offered now",
        "Derzeit nichts angeboten",
        "Nyní není nic nabízeno",
    ),
    ("Added", "Hinzugefügt", "Přidáno"),
    ("Removed", "Entfernt", "Odebráno"),
    ("Paid with", "Bezahlt mit", "Zaplaceno"),
    ("Sale completed", "Verkauf abgeschlossen", "Prodej dokončen"),
    ("Sale cancelled", "Verkauf abgebrochen", "Prodej zrušen"),
    ("Sale resumed", "Verkauf fortgesetzt", "Prodej obnoven"),
    (
        "Checkout not confirmed: F9 tries again with the same key",
        "Abschluss nicht bestätigt: F9 versucht es mit demselben Schlüssel erneut",
        "Dokončení nepotvrzeno: F9 to zkusí znovu se stejným klíčem",
    ),
    ("Printing", "Wird gedruckt", "Tiskne se"),
    ("Voided", "Storniert", "Stornováno"),
    ("Returned", "Zurückgenommen", "Vráceno"),
    ("Customer set", "Kunde erfasst", "Zákazník zadán"),
    ("Customer removed", "Kunde entfernt", "Zákazník odebrán"),
    ("Paper near end", "Papier geht zu Ende", "Dochází papír"),
    ("Paper out", "Kein Papier", "Došel papír"),
    (
        "Printer cover open",
        "Druckerdeckel offen",
        "Otevřený kryt tiskárny",
    ),
    ("Warning", "Warnung", "Upozornění"),
    ("Welcome", "Willkommen", "Vítejte"),
    (
        "Thank you!",
        "Danke für Ihren Einkauf!",
        "Děkujeme za nákup!",
    ),
    (
        "Next customer, please",
        "Der Nächste, bitte",
        "Další zákazník, prosím",
    ),
    (
        "Waiting for a sale",
        "Warte auf einen Verkauf",
        "Čekám na prodej",
    ),
    ("Customer display", "Kundenanzeige", "Zákaznický displej"),
    ("Balance", "Guthaben", "Zůstatek"),
    ("yes", "ja", "ano"),
    ("no", "nein", "ne"),
    ("Nothing to pay", "Nichts zu zahlen", "Není co platit"),
    (
        "Select a line first",
        "Zuerst eine Zeile wählen",
        "Nejprve vyberte řádek",
    ),
    ("Not a number", "Keine Zahl", "Není číslo"),
    ("Result", "Ergebnis", "Výsledek"),
    ("Messages", "Meldungen", "Zprávy"),
    (
        "The catalogue has no products: every code goes to posd",
        "Das Sortiment ist leer: jeder Code geht an posd",
        "Katalog je prázdný: každý kód jde do posd",
    ),
    (
        "No product of that name",
        "Kein Artikel dieses Namens",
        "Žádné zboží toho názvu",
    ),
    ("Products", "Artikel", "Zboží"),
    ("demo catalogue", "Demo-Sortiment", "ukázkový katalog"),
    (
        "F9 completes the sale",
        "F9 schließt den Verkauf ab",
        "F9 dokončí prodej",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_pick_the_language_and_unknown_ones_fall_back_to_english() {
        assert_eq!(Lang::from_locale("de-AT"), Lang::De);
        assert_eq!(Lang::from_locale("cs_CZ.UTF-8"), Lang::Cs);
        assert_eq!(Lang::from_locale("en-GB"), Lang::En);
        assert_eq!(Lang::from_locale("fr-FR"), Lang::En);
        assert_eq!(Lang::from_locale(""), Lang::En);
    }

    #[test]
    fn a_named_error_reads_in_the_cashiers_language_with_the_daemons_detail() {
        assert_eq!(
            error_text(Lang::De, "org.posd.Error.VoucherEmpty", ""),
            "Der Gutschein ist leer"
        );
        assert_eq!(
            error_text(Lang::Cs, "org.posd.Error.NotFound", "no plugin claims 123"),
            "Nic nebylo nalezeno (no plugin claims 123)"
        );
        // A name the till does not know still says something, and what.
        assert_eq!(
            error_text(Lang::En, "org.freedesktop.DBus.Error.NoReply", ""),
            "The till could not do that (org.freedesktop.DBus.Error.NoReply)"
        );
    }

    #[test]
    fn amounts_keep_the_daemons_digits_with_the_local_separator() {
        assert_eq!(Lang::De.number("-3.50"), "-3,50");
        assert_eq!(Lang::En.number("12.50"), "12.50");
        assert_eq!(Lang::Cs.parse_number(" 12,5 "), "12.5");
    }

    /// The literal labels of `tr(lang, "…")` and `self.t("…")` calls in `source`.
    fn used_labels(source: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (at, _) in source.match_indices("tr(") {
            let before = source[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &source[at + 3..];
            let Some((first, after)) = rest.split_once(", \"") else {
                continue;
            };
            if first.contains(['(', ')', '"', '\n']) {
                continue;
            }
            if let Some((label, _)) = after.split_once('"') {
                out.push(label.to_string());
            }
        }
        for (at, _) in source.match_indices(".t(\"") {
            if let Some((label, _)) = source[at + 4..].split_once('"') {
                out.push(label.to_string());
            }
        }
        out
    }

    #[test]
    fn a_param_reads_in_the_cashiers_language_and_an_unknown_one_in_words() {
        assert_eq!(param_label(Lang::De, "amount"), "Betrag");
        assert_eq!(param_label(Lang::Cs, "serial"), "Sériové číslo");
        assert_eq!(param_label(Lang::En, "last4"), "Last 4 digits");
        assert_eq!(param_label(Lang::De, "gift_wrap"), "Gift wrap");
        assert_eq!(param_label(Lang::En, ""), "");
    }

    #[test]
    fn the_label_scan_finds_both_kinds_of_call() {
        let found = used_labels("x(tr(lang, \"Total\")); self.t(\"Due\"); as_str(a, \"no\")");
        assert_eq!(found, vec!["Total".to_string(), "Due".to_string()]);
    }

    /// Every `tr(…, "label")` in the till's source has a German and a Czech text, so no
    /// screen shows English to a German or Czech cashier.
    #[test]
    fn every_label_in_the_source_is_translated() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("src") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == "i18n.rs") {
                continue; // the table itself, and this scanner's own examples
            }
            let text = std::fs::read_to_string(&path).expect("read");
            for label in used_labels(&text) {
                if !LABELS.iter().any(|(en, _, _)| *en == label) {
                    missing.push(format!("{}: {label}", path.display()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "labels without translations: {missing:#?}"
        );
    }

    /// Every error name the contract documents has a text in every language: a new error
    /// in docs/dbus-api.md fails here until the till can say it.
    #[test]
    fn every_error_name_of_the_contract_has_a_text() {
        let contract = include_str!("../../../docs/dbus-api.md");
        let names: std::collections::BTreeSet<&str> = contract
            .split("org.posd.Error.")
            .skip(1)
            .map(|rest| {
                rest.split(|c: char| !c.is_ascii_alphanumeric())
                    .next()
                    .unwrap_or("")
            })
            .filter(|name| !name.is_empty())
            .collect();
        assert!(names.len() >= 13, "{names:?}");
        for name in names {
            for lang in [Lang::En, Lang::De, Lang::Cs] {
                let text = error_text(lang, &format!("org.posd.Error.{name}"), "");
                assert!(!text.contains("org.posd"), "{name} in {lang:?}: {text}");
            }
        }
    }
}
