//! From one frame to a [`Scan`]: AIM identifier, check digits, GS1 and in-store data.
//!
//! # The `details` scheme
//!
//! [`Scan::details`] maps flat, lower-case keys to strings. A key is present only when the code
//! carries that information:
//!
//! | key | when | value |
//! |---|---|---|
//! | `aim` | the scanner sent an AIM identifier | the identifier, e.g. `]E0` |
//! | `gtin` | EAN-13/EAN-8/UPC-A/UPC-E (not in-store), GS1 AI 01 | 14 digits, zero-padded |
//! | `add_on` | EAN/UPC with add-on (`]E3`) | the 2 or 5 add-on digits |
//! | `in_store` | EAN-13 with prefix 20–29 | `true` |
//! | `item` | in-store code with a matching layout | the item (PLU) digits |
//! | `weight_kg` | in-store weight layout | decimal, e.g. `0.350` |
//! | `price` | in-store price layout, GS1 AI 392n/393n | decimal, e.g. `3.49` |
//! | `price_currency` | GS1 AI 393n | ISO 4217 letters (`EUR`), or digits if unknown |
//! | `ai.<AI>` | every GS1 element | the raw value, e.g. `ai.3103` = `001250` |
//! | readable GS1 names | GS1 AIs this crate knows | see below |
//! | `hri` | GS1 data | human-readable form, `(01)04012345678901(10)ABC123` |
//!
//! Readable GS1 keys, by AI: 00 `sscc`, 01 `gtin`, 02 `content_gtin`, 03 `mto_gtin`, 10
//! `batch`, 11 `production_date`, 12 `due_date`, 13 `packaging_date`, 15 `best_before`, 16
//! `sell_by`, 17 `expiry`, 20 `variant`, 21 `serial`, 22 `consumer_product_variant`, 235
//! `third_party_serial`, 240 `additional_id`, 241 `customer_part_number`, 242
//! `made_to_order_variant`, 243 `packaging_component`, 250 `secondary_serial`, 251
//! `source_reference`, 253 `gdti`, 254 `gln_extension`, 255 `gcn`, 30 `variable_count`, 310n
//! `net_weight_kg`, 311n `length_m`, 312n `width_m`, 313n `height_m`, 314n `area_m2`, 315n
//! `net_volume_l`, 316n `net_volume_m3`, 320n `net_weight_lb`, 330n `gross_weight_kg`, 37
//! `count`, 390n `amount_payable`, 391n `amount_payable` + `amount_payable_currency`, 392n
//! `price`, 393n `price` + `price_currency`, 394n `percent_off`, 400 `order_number`, 401 `ginc`,
//! 402 `gsin`, 403 `routing_code`, 410–417 `ship_to_gln`, `bill_to_gln`, `purchased_from_gln`,
//! `ship_for_gln`, `location_gln`, `pay_to_gln`, `production_location_gln`, `party_gln`, 420
//! `ship_to_postal_code`, 422 `origin_country`, 7003 `expiry_time`, 7006 `first_freeze_date`,
//! 8005 `price_per_unit`, 8020 `payment_slip_reference`, 8200 `url`, 90 `internal`, 91–99
//! `internal_91` … `internal_99`. Other AIs of an assigned group appear as `ai.<AI>` only;
//! AIs of unassigned groups are refused.
//!
//! Dates are `YYYY-MM-DD` (GS1 day 00 becomes the last day of the month; two-digit years follow
//! the GS1 rule of at most 49 years back and 50 ahead); decimals use `.` and keep the label's precision (`12.50`), so the
//! daemon parses them into its money type without floating point.
//!
//! # Text
//!
//! `Scan::code` is the data after the AIM identifier. Bytes that are not UTF-8 are read as
//! ISO 8859-1 (what Code 128 and Code 39 extended characters are), so nothing is lost. GS1 codes
//! keep their GS (0x1D) separators, minus a leading one, so the code can be re-parsed or
//! forwarded byte for byte; `details["hri"]` is the form to show a person.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digits::all_digits;
use crate::gs1::{self, GS};
use crate::symbology::{Announced, split_aim};
use crate::{InStoreLayout, ScanError, Symbology, ean};

/// One successfully decoded barcode, as the daemon publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The code without AIM identifier, prefix or suffix: the article lookup key for most
    /// symbologies (UPC-A as 12 digits).
    pub code: String,
    /// Which kind of barcode it was.
    pub symbology: Symbology,
    /// What the code carries beyond its digits; keys in the module docs.
    pub details: BTreeMap<String, String>,
}

/// Store-specific decoding settings, from the daemon's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeOptions {
    /// Layouts of in-store EAN-13 codes (prefixes 20–29), first match wins. Empty: in-store
    /// codes are reported as plain EAN-13 with `details["in_store"] = "true"`.
    pub in_store: Vec<InStoreLayout>,
    /// The year that decides the century of GS1 two-digit years; `None` (the default) uses the
    /// system clock. Set it to make decoding reproducible, in tests and replays.
    #[serde(skip)]
    pub reference_year: Option<i32>,
}

impl DecodeOptions {
    /// Checks every in-store layout, so the daemon refuses a bad configuration at load time
    /// instead of failing at the first weighed article.
    pub fn validate(&self) -> Result<(), ScanError> {
        self.in_store.iter().try_for_each(InStoreLayout::validate)
    }
}

/// Decodes one frame (as returned by [`crate::Framer`]) into a [`Scan`].
///
/// An AIM identifier decides the symbology and is stripped; without one, codes of 8, 12 or 13
/// digits are taken as EAN-8, UPC-A and EAN-13, anything else as [`Symbology::Unknown`],
/// passed on unchanged. EAN/UPC check digits and GTIN check digits in GS1 data are verified;
/// a mismatch, malformed GS1 data or data that does not fit its symbology is an error and never
/// a scan.
pub fn decode(frame: &[u8], options: &DecodeOptions) -> Result<Scan, ScanError> {
    let mut details = BTreeMap::new();
    let (announced, data) = match split_aim(frame) {
        Some((id, announced, data)) => {
            details.insert(
                "aim".to_owned(),
                id.iter().map(|&b| char::from(b)).collect(),
            );
            (Some(announced), data)
        }
        None => (None, frame),
    };
    let text = to_text(data);
    let (symbology, code) = match announced {
        Some(Announced::Ean(modifier)) => {
            ean::decode(&text, Some(modifier), options, &mut details)?
        }
        Some(Announced::Other(symbology)) if symbology.carries_gs1() => {
            let year = options.reference_year.unwrap_or_else(gs1::current_year);
            gs1::parse(&text, year, &mut details)?;
            let code = text.trim_start_matches(char::from(GS)).to_owned();
            (symbology, code)
        }
        Some(Announced::Other(symbology)) => (symbology, text),
        None if all_digits(&text) && matches!(text.len(), 8 | 12 | 13) => {
            ean::decode(&text, None, options, &mut details)?
        }
        None => (Symbology::Unknown, text),
    };
    if code.is_empty() {
        return Err(ScanError::Format {
            symbology: symbology.as_str(),
            code,
            reason: "no data after the symbology identifier".into(),
        });
    }
    Ok(Scan {
        code,
        symbology,
        details,
    })
}

/// UTF-8 when the bytes are UTF-8, ISO 8859-1 otherwise (every byte is one character there).
fn to_text(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(s) => s.to_owned(),
        Err(_) => data.iter().map(|&b| char::from(b)).collect(),
    }
}
