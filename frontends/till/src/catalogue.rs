//! The till's product catalogue: what a typed article number or a scanned barcode is.
//!
//! posd keeps no catalogue by design (the store's merchandise system owns the articles, and
//! every frontend sends name, price, VAT rate and tags with each `AddItem`), so the till
//! reads one of its own from a TOML file. The till looks a code up here first; what the
//! catalogue does not know goes to posd as a code (`EnterCode`: vouchers, cards, discount
//! codes, partner cards and coupons).
//!
//! # Format
//!
//! One `[[product]]` table per article; unknown keys are refused, so a misspelt key is
//! named instead of being silently ignored:
//!
//! ```toml
//! [[product]]
//! sku = "1003"                                # required: the article number the cashier types
//! codes = ["9006900333119", "9006900333287"]  # optional: further codes, e.g. EAN-13 barcodes
//! name = "Eistee Pfirsich 0,5 l"              # required: printed on the receipt
//! price = "1.19"                              # required: gross unit price, a decimal string
//! tax_rate = "20"                             # required: VAT in percent, a decimal string
//! tags = ["promo:eistee"]                     # optional: the tags plugins' rules match on
//! ```
//!
//! - `price` and `tax_rate` are **strings** (`"1.19"`, not `1.19`): a TOML number is a
//!   binary float, which cannot hold every cent exactly. A price is 0 to 1 000 000 (posd's
//!   limit for a unit price) with at most two decimals, written with a point; a VAT rate is
//!   0 up to (not including) 100 with at most two decimals — `"20"`, `"10"`, `"13"` in
//!   Austria, `"19"`, `"7"` in Germany, `"21"`, `"12"` in Czechia, `"0"`. They are sent to
//!   posd as `AddItem`'s `unit_price` and `tax_rate`.
//! - `sku`, every entry of `codes`, and every tag are non-empty; a sku or code holds no
//!   spaces (a scanner never sends them). Every sku and code names **one** product: a code
//!   given twice, in one product or in two, is refused, since a scan must never be
//!   ambiguous.
//! - `name` is not empty. Texts are at most 200 printable characters, as posd accepts them.
//!
//! Every error names the file and, where it can, the line: a catalogue is edited by hand.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

/// The demo catalogue shipped with the till (`frontends/till/demo/catalogue.toml`), built
/// in so that the demo and the tests need no file next to the binary.
const DEMO_CATALOGUE: &str = include_str!("../demo/catalogue.toml");

/// The longest text posd accepts for a name, sku or tag (its `MAX_TEXT`): a longer one
/// would pass here and be refused at `AddItem`, in front of the customer.
const MAX_TEXT: usize = 200;

/// The highest unit price posd accepts (its `MAX_AMOUNT`), for the same reason.
const MAX_PRICE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// Decimals a catalogue price may have: the currencies posd serves count in cents.
const PRICE_DECIMALS: u32 = 2;

/// Decimals a VAT rate may have, as posd's `tax_rate` allows.
const TAX_RATE_DECIMALS: u32 = 2;

/// One article the till can sell: what it sends to posd's `AddItem` when the cashier types
/// its sku or scans one of its codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// The article number, short enough to type; sent as `AddItem`'s `sku`, which is what
    /// promotions and discount codes name.
    pub sku: String,
    /// Further codes that find this product: barcodes (EAN-13) printed on the package.
    pub codes: Vec<String>,
    /// The text on the screen and the receipt.
    pub name: String,
    /// Gross price of one unit, with two decimals.
    pub unit_price: Decimal,
    /// VAT rate in percent (`20` for 20 %).
    pub tax_rate: Decimal,
    /// Tags the plugins' rules match on (`group:batteries`, `payback`, …).
    pub tags: Vec<String>,
}

/// The products of one catalogue file, in file order, and an index from every sku and
/// code to its product, so that a scan is one look-up however long the catalogue is.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    products: Vec<Product>,
    by_code: HashMap<String, usize>,
}

/// Why a catalogue could not be read. Each names the file (`origin`) and, after the file
/// was parsed, the line of the mistake, so the person editing it finds it at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    /// The file could not be read (missing, no permission, not UTF-8).
    #[error("catalogue {}: cannot read: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The text is not TOML, or a key has a value of the wrong kind or is missing.
    #[error("{origin}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        origin: String,
        /// Line of the mistake, from 1.
        line: usize,
        /// Column of the mistake, from 1 (in characters).
        column: usize,
        /// The TOML parser's description.
        message: String,
    },
    /// A key the format does not have (a typo such as `prize`, or `[[products]]`).
    #[error(
        "{origin}:{line}: unknown key {key:?}; a [[product]] has sku, codes, name, price, tax_rate and tags"
    )]
    UnknownKey {
        /// The file.
        origin: String,
        /// Line of the key, from 1.
        line: usize,
        /// The key as written.
        key: String,
    },
    /// A sku, code or tag that is empty or not a single printable word.
    #[error("{origin}:{line}: product {sku:?}: {field} {value:?} {reason}")]
    InvalidCode {
        /// The file.
        origin: String,
        /// Line of the value, from 1.
        line: usize,
        /// The product's sku (as written, possibly the bad one).
        sku: String,
        /// `sku`, `codes` or `tags`.
        field: &'static str,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A sku or code that already names a product: a scan would be ambiguous.
    #[error(
        "{origin}:{line}: product {sku:?}: code {code:?} already belongs to product {first_sku:?} (line {first_line})"
    )]
    DuplicateCode {
        /// The file.
        origin: String,
        /// Line of the second use, from 1.
        line: usize,
        /// The product that uses it again.
        sku: String,
        /// The code.
        code: String,
        /// The product that has it first.
        first_sku: String,
        /// Line of the first use, from 1.
        first_line: usize,
    },
    /// A name that is empty (or only spaces), or too long to print.
    #[error("{origin}:{line}: product {sku:?}: {reason}")]
    InvalidName {
        /// The file.
        origin: String,
        /// Line of the name, from 1.
        line: usize,
        /// The product's sku.
        sku: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A price that is not a decimal string of 0 to 1 000 000 with at most two decimals.
    #[error("{origin}:{line}: product {sku:?}: price {value}: {reason}")]
    InvalidPrice {
        /// The file.
        origin: String,
        /// Line of the price, from 1.
        line: usize,
        /// The product's sku.
        sku: String,
        /// The value as written (a string in quotes, a number without).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A VAT rate that is not a decimal string from 0 to below 100 with at most two
    /// decimals.
    #[error("{origin}:{line}: product {sku:?}: tax_rate {value}: {reason}")]
    InvalidTaxRate {
        /// The file.
        origin: String,
        /// Line of the rate, from 1.
        line: usize,
        /// The product's sku.
        sku: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The file as written: only the shape, with the position of every value, so that the
/// checks after it can name the line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    #[serde(default)]
    product: Vec<RawProduct>,
}

/// One `[[product]]` as written. Price and rate are taken as any TOML value so that a
/// number written without quotes gets its own, clear error instead of a type mismatch.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    sku: Spanned<String>,
    #[serde(default)]
    codes: Vec<Spanned<String>>,
    name: Spanned<String>,
    price: Spanned<toml::Value>,
    tax_rate: Spanned<toml::Value>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
}

/// Turns byte offsets of the text into the lines and columns people read.
struct Positions<'a> {
    text: &'a str,
}

impl Positions<'_> {
    /// Line (from 1) of the byte at `offset`.
    fn line(&self, offset: usize) -> usize {
        self.line_column(offset).0
    }

    /// Line and column (both from 1, the column in characters) of the byte at `offset`.
    fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        (line, column)
    }
}

impl Catalogue {
    /// Reads a catalogue from `text`; `origin` (a file name) is what errors name.
    pub fn parse(text: &str, origin: &str) -> Result<Catalogue, CatalogueError> {
        let positions = Positions { text };
        let raw: RawCatalogue =
            toml::from_str(text).map_err(|e| toml_error(&e, origin, &positions))?;
        let mut catalogue = Catalogue::default();
        // Where each code was first given, for the message about a second use.
        let mut first_lines: HashMap<String, usize> = HashMap::new();
        for raw_product in raw.product {
            let product =
                check_product(
                    raw_product,
                    origin,
                    &positions,
                    |code, line, sku| match catalogue.by_code.get(code) {
                        Some(&index) => Err(CatalogueError::DuplicateCode {
                            origin: origin.to_string(),
                            line,
                            sku: sku.to_string(),
                            code: code.to_string(),
                            first_sku: catalogue.products[index].sku.clone(),
                            first_line: first_lines.get(code).copied().unwrap_or(0),
                        }),
                        None => Ok(()),
                    },
                )?;
            // Codes within the product were checked against each other in check_product.
            let index = catalogue.products.len();
            for (code, line) in product.codes_with_lines {
                first_lines.insert(code.clone(), line);
                catalogue.by_code.insert(code, index);
            }
            catalogue.products.push(product.product);
        }
        Ok(catalogue)
    }

    /// Reads the catalogue file at `path`.
    pub fn load(path: &Path) -> Result<Catalogue, CatalogueError> {
        let text = std::fs::read_to_string(path).map_err(|e| CatalogueError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Catalogue::parse(&text, &path.display().to_string())
    }

    /// The demo catalogue shipped with the till: German, Austrian and Czech groceries
    /// tagged for the shipped plugins' demo configuration (`demo/posd.toml`).
    pub fn demo() -> Catalogue {
        // The file is part of the binary and a unit test parses it, so it always parses;
        // should it ever not, an empty catalogue still lets codes go to posd.
        Catalogue::parse(DEMO_CATALOGUE, "demo/catalogue.toml").unwrap_or_default()
    }

    /// The product whose sku or one of whose codes is `code` (surrounding spaces, as a
    /// scanner's suffix or a careless paste leaves them, are ignored; otherwise exact).
    pub fn find(&self, code: &str) -> Option<&Product> {
        self.by_code
            .get(code.trim())
            .and_then(|&index| self.products.get(index))
    }

    /// Every product, in file order (for a product list or search on the till).
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// How many products the catalogue has.
    pub fn len(&self) -> usize {
        self.products().len()
    }

    /// Whether the catalogue has no products (every code then goes to posd).
    pub fn is_empty(&self) -> bool {
        self.products().is_empty()
    }
}

/// A checked product and the line each of its codes (sku first) was written on.
struct CheckedProduct {
    product: Product,
    codes_with_lines: Vec<(String, usize)>,
}

/// Checks one product; `taken` refuses a code another product has already.
fn check_product(
    raw: RawProduct,
    origin: &str,
    positions: &Positions<'_>,
    taken: impl Fn(&str, usize, &str) -> Result<(), CatalogueError>,
) -> Result<CheckedProduct, CatalogueError> {
    let line_of = |span: Range<usize>| positions.line(span.start);
    let sku_line = line_of(raw.sku.span());
    let sku_as_written = raw.sku.get_ref().clone();
    let sku = word(&sku_as_written, true).map_err(|reason| CatalogueError::InvalidCode {
        origin: origin.to_string(),
        line: sku_line,
        sku: sku_as_written.clone(),
        field: "sku",
        value: sku_as_written.clone(),
        reason,
    })?;

    let mut codes_with_lines = vec![(sku.clone(), sku_line)];
    let mut codes = Vec::new();
    for code in &raw.codes {
        let line = line_of(code.span());
        let checked = word(code.get_ref(), true).map_err(|reason| CatalogueError::InvalidCode {
            origin: origin.to_string(),
            line,
            sku: sku.clone(),
            field: "codes",
            value: code.get_ref().clone(),
            reason,
        })?;
        if let Some((_, first_line)) = codes_with_lines.iter().find(|(c, _)| *c == checked) {
            return Err(CatalogueError::DuplicateCode {
                origin: origin.to_string(),
                line,
                sku: sku.clone(),
                code: checked,
                first_sku: sku.clone(),
                first_line: *first_line,
            });
        }
        codes_with_lines.push((checked.clone(), line));
        codes.push(checked);
    }
    for (code, line) in &codes_with_lines {
        taken(code, *line, &sku)?;
    }

    let name_line = line_of(raw.name.span());
    let name = raw.name.get_ref().trim().to_string();
    let name_error = |reason: String| CatalogueError::InvalidName {
        origin: origin.to_string(),
        line: name_line,
        sku: sku.clone(),
        reason,
    };
    if name.is_empty() {
        return Err(name_error("the name is empty".into()));
    }
    printable(&name).map_err(|reason| name_error(format!("the name {reason}")))?;

    let price_line = line_of(raw.price.span());
    let unit_price = decimal(raw.price.get_ref(), PRICE_DECIMALS)
        .and_then(|price| {
            if price > MAX_PRICE {
                Err(format!(
                    "must be at most {MAX_PRICE}, posd's highest unit price"
                ))
            } else {
                // Two decimals always, as the till shows and posd prints a price.
                let mut price = price;
                price.rescale(PRICE_DECIMALS);
                Ok(price)
            }
        })
        .map_err(|reason| CatalogueError::InvalidPrice {
            origin: origin.to_string(),
            line: price_line,
            sku: sku.clone(),
            value: as_written(raw.price.get_ref()),
            reason,
        })?;

    let rate_line = line_of(raw.tax_rate.span());
    let tax_rate = decimal(raw.tax_rate.get_ref(), TAX_RATE_DECIMALS)
        .and_then(|rate| {
            if rate >= Decimal::ONE_HUNDRED {
                Err("must be below 100 (a percentage: \"20\" for 20 %)".to_string())
            } else {
                Ok(rate.normalize())
            }
        })
        .map_err(|reason| CatalogueError::InvalidTaxRate {
            origin: origin.to_string(),
            line: rate_line,
            sku: sku.clone(),
            value: as_written(raw.tax_rate.get_ref()),
            reason,
        })?;

    let mut tags = Vec::new();
    for tag in &raw.tags {
        let checked = word(tag.get_ref(), false).map_err(|reason| CatalogueError::InvalidCode {
            origin: origin.to_string(),
            line: line_of(tag.span()),
            sku: sku.clone(),
            field: "tags",
            value: tag.get_ref().clone(),
            reason,
        })?;
        tags.push(checked);
    }

    Ok(CheckedProduct {
        product: Product {
            sku,
            codes,
            name,
            unit_price,
            tax_rate,
            tags,
        },
        codes_with_lines,
    })
}

/// A sku, code (`no_spaces`) or tag, trimmed: not empty, printable, not too long.
fn word(value: &str, no_spaces: bool) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("is empty".into());
    }
    if no_spaces && trimmed.chars().any(char::is_whitespace) {
        return Err("holds a space; a code is one word, as a scanner sends it".into());
    }
    printable(trimmed)?;
    Ok(trimmed.to_string())
}

/// Refuses control characters and texts longer than posd accepts.
fn printable(text: &str) -> Result<(), String> {
    if text.chars().any(char::is_control) {
        return Err("holds a control character".into());
    }
    if text.chars().count() > MAX_TEXT {
        return Err(format!("is longer than {MAX_TEXT} characters"));
    }
    Ok(())
}

/// A non-negative decimal string with at most `decimals` decimals, such as `"1.29"`.
fn decimal(value: &toml::Value, decimals: u32) -> Result<Decimal, String> {
    let text = match value {
        toml::Value::String(text) => text.trim(),
        toml::Value::Integer(_) | toml::Value::Float(_) => {
            return Err(format!(
                "write it as a string, \"{value}\": a TOML number is a float, which cannot hold every cent exactly"
            ));
        }
        other => {
            return Err(format!(
                "must be a decimal string, not a {}",
                other.type_str()
            ));
        }
    };
    if text.contains(',') {
        return Err("write the decimals after a point (\"1.29\"), not a comma".into());
    }
    if text.starts_with('-') {
        return Err("must not be negative".into());
    }
    let well_formed = !text.is_empty()
        && !text.starts_with('.')
        && !text.ends_with('.')
        && text.chars().filter(|&c| c == '.').count() <= 1
        && text.chars().all(|c| c.is_ascii_digit() || c == '.');
    if !well_formed {
        return Err("is not a decimal number such as \"1.29\"".into());
    }
    let number = Decimal::from_str(text).map_err(|e| format!("is not a number: {e}"))?;
    if number.normalize().scale() > decimals {
        return Err(format!("has more than {decimals} decimals"));
    }
    Ok(number)
}

/// A value as the person wrote it, for messages: strings in quotes, numbers without.
fn as_written(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    }
}

/// A TOML error as a named one: an unknown key gets its own variant, the rest are syntax
/// (including a missing key or a wrong type, which the parser describes well).
fn toml_error(error: &toml::de::Error, origin: &str, positions: &Positions<'_>) -> CatalogueError {
    let offset = error.span().map_or(0, |span| span.start);
    let (line, column) = positions.line_column(offset);
    let message = error.message().trim().to_string();
    // serde's wording for deny_unknown_fields: "unknown field `prize`, expected one of …".
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((key, _)) = rest.split_once('`')
    {
        return CatalogueError::UnknownKey {
            origin: origin.to_string(),
            line,
            key: key.to_string(),
        };
    }
    CatalogueError::Syntax {
        origin: origin.to_string(),
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
        Catalogue::parse(text, "test.toml")
    }

    const TWO: &str = r#"
[[product]]
sku = "1003"
codes = ["9006900333119", "9006900333287"]
name = "Eistee Pfirsich 0,5 l"
price = "1.19"
tax_rate = "20"
tags = ["promo:eistee"]

[[product]]
sku = "2001"
name = "Rohlík"
price = "0.3"
tax_rate = "10.00"
"#;

    #[test]
    fn a_product_is_found_by_its_sku_and_by_each_barcode_with_spaces_ignored() {
        let catalogue = parse(TWO).expect("parses");
        assert_eq!(catalogue.len(), 2);
        assert!(!catalogue.is_empty());
        let tea = catalogue.find("1003").expect("by sku");
        assert_eq!(tea.name, "Eistee Pfirsich 0,5 l");
        assert_eq!(tea.unit_price.to_string(), "1.19");
        assert_eq!(tea.tax_rate.to_string(), "20");
        assert_eq!(tea.tags, vec!["promo:eistee"]);
        assert_eq!(catalogue.find(" 9006900333287\r\n"), Some(tea));
        assert_eq!(catalogue.find("9006900333119"), Some(tea));
        assert_eq!(catalogue.find("900690033311"), None, "no prefix matching");
        assert_eq!(
            catalogue.find("XMAS20"),
            None,
            "unknown codes are left to posd"
        );
        assert_eq!(catalogue.find(""), None);
    }

    #[test]
    fn prices_get_two_decimals_and_rates_none_they_do_not_need_and_order_is_kept() {
        let catalogue = parse(TWO).expect("parses");
        let roll = catalogue.find("2001").expect("roll");
        assert_eq!(
            roll.unit_price.to_string(),
            "0.30",
            "sent to AddItem as 0.30"
        );
        assert_eq!(roll.tax_rate.to_string(), "10", "sent to AddItem as 10");
        assert!(roll.codes.is_empty() && roll.tags.is_empty());
        let skus: Vec<_> = catalogue
            .products()
            .iter()
            .map(|p| p.sku.as_str())
            .collect();
        assert_eq!(skus, ["1003", "2001"]);
    }

    #[test]
    fn an_empty_file_is_an_empty_catalogue() {
        let catalogue = parse("# nothing yet\n").expect("parses");
        assert!(catalogue.is_empty());
        assert_eq!(catalogue.find("1001"), None);
    }

    #[test]
    fn a_toml_mistake_names_the_line_and_column() {
        let err = parse("[[product]]\nsku = \"1\"\nname = \"Milch\nprice = \"1\"\n")
            .expect_err("unterminated string");
        let CatalogueError::Syntax { origin, line, .. } = &err else {
            panic!("syntax error expected, got {err:?}");
        };
        assert_eq!(origin, "test.toml");
        assert_eq!(*line, 3, "{err}");
        assert!(err.to_string().starts_with("test.toml:3:"), "{err}");
    }

    #[test]
    fn a_missing_price_is_named() {
        let err = parse("[[product]]\nsku = \"1\"\nname = \"Milch\"\ntax_rate = \"10\"\n")
            .expect_err("no price");
        assert!(matches!(err, CatalogueError::Syntax { .. }), "{err:?}");
        assert!(err.to_string().contains("price"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let err = parse("[[product]]\nsku = \"1\"\nname = \"Milch\"\nprize = \"1.29\"\nprice = \"1.29\"\ntax_rate = \"10\"\n")
            .expect_err("typo");
        assert_eq!(
            err,
            CatalogueError::UnknownKey {
                origin: "test.toml".into(),
                line: 4,
                key: "prize".into()
            }
        );
        let err = parse("[[products]]\nsku = \"1\"\n").expect_err("plural table");
        assert!(
            matches!(&err, CatalogueError::UnknownKey { key, .. } if key == "products"),
            "{err:?}"
        );
    }

    #[test]
    fn a_code_given_twice_is_refused_naming_both_products() {
        let text = "[[product]]\nsku = \"1001\"\ncodes = [\"9002000123414\"]\nname = \"Milch\"\nprice = \"1.29\"\ntax_rate = \"10\"\n\n[[product]]\nsku = \"1002\"\ncodes = [\"9002000123414\"]\nname = \"Butter\"\nprice = \"2.79\"\ntax_rate = \"10\"\n";
        let err = parse(text).expect_err("duplicate barcode");
        assert_eq!(
            err,
            CatalogueError::DuplicateCode {
                origin: "test.toml".into(),
                line: 10,
                sku: "1002".into(),
                code: "9002000123414".into(),
                first_sku: "1001".into(),
                first_line: 3,
            }
        );
        let same_sku = "[[product]]\nsku = \"1001\"\nname = \"Milch\"\nprice = \"1\"\ntax_rate = \"10\"\n[[product]]\nsku = \" 1001 \"\nname = \"Milch 2\"\nprice = \"1\"\ntax_rate = \"10\"\n";
        assert!(matches!(
            parse(same_sku),
            Err(CatalogueError::DuplicateCode { ref code, .. }) if code == "1001"
        ));
        let own_sku = "[[product]]\nsku = \"1001\"\ncodes = [\"1001\"]\nname = \"Milch\"\nprice = \"1\"\ntax_rate = \"10\"\n";
        assert!(matches!(
            parse(own_sku),
            Err(CatalogueError::DuplicateCode { ref first_sku, .. }) if first_sku == "1001"
        ));
    }

    fn product_with(price: &str, rate: &str) -> String {
        format!("[[product]]\nsku = \"1\"\nname = \"Milch\"\nprice = {price}\ntax_rate = {rate}\n")
    }

    #[test]
    fn prices_must_be_decimal_strings_of_cents_and_never_negative() {
        for (price, hint) in [
            ("1.29", "string"),
            ("\"1,29\"", "point"),
            ("\"-1.00\"", "negative"),
            ("\"1.299\"", "2 decimals"),
            ("\"abc\"", "decimal number"),
            ("\"1e3\"", "decimal number"),
            ("\"\"", "decimal number"),
            ("\"1000000.01\"", "at most"),
        ] {
            let err = parse(&product_with(price, "\"10\"")).expect_err(price);
            let CatalogueError::InvalidPrice { line, reason, .. } = &err else {
                panic!("{price}: InvalidPrice expected, got {err:?}");
            };
            assert_eq!(*line, 4, "{err}");
            assert!(reason.contains(hint), "{price}: {err}");
        }
        let free = parse(&product_with("\"0\"", "\"0\"")).expect("a free article is fine");
        assert_eq!(free.products()[0].unit_price.to_string(), "0.00");
        let trailing = parse(&product_with("\"1.500\"", "\"20\"")).expect("1.500 is 1.50");
        assert_eq!(trailing.products()[0].unit_price.to_string(), "1.50");
    }

    #[test]
    fn tax_rates_are_percentages_below_100_written_as_strings() {
        for (rate, hint) in [
            ("20", "string"),
            ("\"100\"", "below 100"),
            ("\"0.2x\"", "decimal number"),
            ("\"20.125\"", "2 decimals"),
            ("\"-7\"", "negative"),
        ] {
            let err = parse(&product_with("\"1.00\"", rate)).expect_err(rate);
            assert!(
                matches!(&err, CatalogueError::InvalidTaxRate { line: 5, reason, .. } if reason.contains(hint)),
                "{rate}: {err:?}"
            );
        }
        let reduced = parse(&product_with("\"1.00\"", "\"12.5\"")).expect("12.5 %");
        assert_eq!(reduced.products()[0].tax_rate.to_string(), "12.5");
    }

    #[test]
    fn names_skus_codes_and_tags_must_not_be_empty() {
        let err =
            parse("[[product]]\nsku = \"1\"\nname = \"  \"\nprice = \"1\"\ntax_rate = \"10\"\n")
                .expect_err("empty name");
        assert!(
            matches!(&err, CatalogueError::InvalidName { line: 3, sku, .. } if sku == "1"),
            "{err:?}"
        );
        let err =
            parse("[[product]]\nsku = \"\"\nname = \"Milch\"\nprice = \"1\"\ntax_rate = \"10\"\n")
                .expect_err("empty sku");
        assert!(
            matches!(&err, CatalogueError::InvalidCode { field: "sku", .. }),
            "{err:?}"
        );
        let err = parse("[[product]]\nsku = \"1\"\ncodes = [\"900 200\"]\nname = \"Milch\"\nprice = \"1\"\ntax_rate = \"10\"\n")
            .expect_err("code with a space");
        assert!(
            matches!(
                &err,
                CatalogueError::InvalidCode {
                    field: "codes",
                    line: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = parse("[[product]]\nsku = \"1\"\nname = \"Milch\"\nprice = \"1\"\ntax_rate = \"10\"\ntags = [\"group:milch\", \"\"]\n")
            .expect_err("empty tag");
        assert!(
            matches!(
                &err,
                CatalogueError::InvalidCode {
                    field: "tags",
                    line: 6,
                    ..
                }
            ),
            "{err:?}"
        );
        let long = "x".repeat(MAX_TEXT + 1);
        let err = parse(&format!(
            "[[product]]\nsku = \"1\"\nname = \"{long}\"\nprice = \"1\"\ntax_rate = \"10\"\n"
        ))
        .expect_err("too long for posd");
        assert!(matches!(err, CatalogueError::InvalidName { .. }), "{err:?}");
    }

    #[test]
    fn load_reads_a_file_and_names_one_it_cannot_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("catalogue.toml");
        std::fs::write(&path, TWO).expect("write");
        assert_eq!(Catalogue::load(&path).expect("loads").len(), 2);
        std::fs::write(&path, "[[product]]\nsku = 1\n").expect("write");
        let err = Catalogue::load(&path).expect_err("sku is no string");
        assert!(
            err.to_string()
                .starts_with(&format!("{}:2:", path.display())),
            "{err}"
        );
        let missing = dir.path().join("missing.toml");
        let err = Catalogue::load(&missing).expect_err("missing");
        assert!(matches!(err, CatalogueError::Unreadable { ref path, .. } if *path == missing));
        assert!(err.to_string().contains("missing.toml"), "{err}");
    }

    /// The GS1 check digit of the digits before it (EAN-13's last digit).
    fn gs1_check_digit(body: &str) -> u32 {
        let sum: u32 = body
            .chars()
            .rev()
            .enumerate()
            .map(|(i, c)| c.to_digit(10).expect("digit") * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        (10 - sum % 10) % 10
    }

    #[test]
    fn the_demo_catalogue_parses_and_its_barcodes_scan() {
        let demo = Catalogue::parse(DEMO_CATALOGUE, "demo/catalogue.toml").expect("demo parses");
        assert!((25..=45).contains(&demo.len()), "{} products", demo.len());
        assert_eq!(Catalogue::demo().len(), demo.len());
        for product in demo.products() {
            assert!(
                product.sku.len() <= 5 && product.sku.chars().all(|c| c.is_ascii_digit()),
                "{}: a short number to type",
                product.sku
            );
            assert!(!product.codes.is_empty(), "{}: has a barcode", product.sku);
            for code in &product.codes {
                assert_eq!(code.len(), 13, "{code}: EAN-13");
                let (body, check) = code.split_at(12);
                assert_eq!(
                    check.parse::<u32>().expect("digit"),
                    gs1_check_digit(body),
                    "{code} of {}: a scanner checks the check digit",
                    product.sku
                );
                assert!(!code.starts_with('2'), "{code}: 2x is in-store (cards)");
            }
            assert!(
                ["20", "13", "10", "0"].contains(&product.tax_rate.to_string().as_str()),
                "{}: an Austrian VAT rate, {}",
                product.sku,
                product.tax_rate
            );
        }
        // The tags the demo configuration's plugins match on are all there.
        for tag in [
            "promo:eistee",
            "group:suesses",
            "group:pivo",
            "group:kaffee",
            "group:batteries",
            "bio",
            "group:elektro",
            "payback",
        ] {
            assert!(
                demo.products()
                    .iter()
                    .any(|p| p.tags.iter().any(|t| t == tag)),
                "no product tagged {tag}"
            );
        }
        let tea = demo.find("1003").expect("Eistee Pfirsich");
        assert_eq!(tea.unit_price.to_string(), "1.19");
        assert_eq!(demo.find("2001").expect("Rohlík").name, "Rohlík");
    }
}
