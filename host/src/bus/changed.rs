//! A sale's `PropertiesChanged`, encoded with the bus records of unchanged lines reused.
//!
//! Every basket change sends the whole `Lines` list again (the contract keeps it whole), and
//! encoding each line's `a{sv}` of variants was most of what a change of a long sale cost
//! the daemon. A line's record depends only on the line (and the currency's minor units), so
//! its encoded entries are kept per line id and written again as they are while the line is
//! unchanged. The message is built around those bytes with zbus's raw-body builder; what it
//! carries is exactly what serializing every property would give (a test compares the two).
//!
//! D-Bus encoding of an `a{sv}` record at any 4-aligned offset: its byte length (`u32`),
//! padding to 8, then the dict entries, which start 8-aligned and so encode the same
//! wherever the record lands. Only the length and the padding are written per change.

use zbus::Message;
use zbus::message::NATIVE_ENDIAN_SIG;
use zbus::wire::serialized::Context;

use super::sale::LineRecord;
use crate::sale::line_cache::LineCache;
use crate::sale::model::Sale;

/// The encoded record entries of a sale's lines by line id, from the last announcement.
#[derive(Debug, Default)]
pub struct LineRecords(LineCache<Vec<u8>>);

/// The D-Bus encoding context of a message body part at `position`.
fn context(position: usize) -> Context {
    Context::new(NATIVE_ENDIAN_SIG.into(), position)
}

/// Pads `bytes` with zeros to a multiple of `n`.
fn pad(bytes: &mut Vec<u8>, n: usize) {
    let len = bytes.len().next_multiple_of(n);
    bytes.resize(len, 0);
}

/// Writes `value` as a `u32` in the message's byte order.
fn put_u32(bytes: &mut Vec<u8>, value: usize) -> zbus::Result<()> {
    let value = u32::try_from(value).map_err(|_| zbus::Error::ExcessData)?;
    bytes.extend_from_slice(&value.to_ne_bytes());
    Ok(())
}

/// Overwrites the `u32` at `at` with `value`.
fn set_u32(bytes: &mut [u8], at: usize, value: usize) -> zbus::Result<()> {
    let value = u32::try_from(value).map_err(|_| zbus::Error::ExcessData)?;
    bytes[at..at + 4].copy_from_slice(&value.to_ne_bytes());
    Ok(())
}

/// The dict entries of `record` (an `a{sv}`): its encoding at offset 0 without the length
/// and the padding before the first entry.
fn record_entries(record: &LineRecord<'_>) -> zbus::Result<Vec<u8>> {
    let data = zbus::wire::to_bytes(context(0), record)?;
    // u32 length at 0..4, padding to 8, entries from 8 on.
    Ok(data.get(8..).unwrap_or_default().to_vec())
}

impl LineRecords {
    /// The encoded entries of each of `sale`'s lines, in order: reused where the line is
    /// the one encoded last time, encoded anew where not. Lines no longer in the sale are
    /// forgotten.
    fn refresh(&mut self, sale: &Sale, minor: u32) -> zbus::Result<Vec<&[u8]>> {
        let entries = self.0.refresh(&sale.lines, minor, 0, 0, |line, minor| {
            record_entries(&super::sale::line_record(line, minor))
        })?;
        Ok(entries.into_iter().map(Vec::as_slice).collect())
    }
}

/// The `PropertiesChanged` body (`sa{sv}as`) of `interface` with `head` (every property but
/// `Lines`, an `a{sv}`) and `Lines` from the lines' encoded entries; nothing invalidated.
fn body<H>(interface: &str, head: &H, lines: &[&[u8]]) -> zbus::Result<Vec<u8>>
where
    H: serde::Serialize + zbus::wire::Type,
{
    let encoded = zbus::wire::to_bytes(context(0), &(interface, head))?;
    let mut bytes: Vec<u8> = encoded.to_vec();
    // The interface name (u32 length, bytes, NUL), padding to 4, the dict's u32 length, and
    // its entries from the next multiple of 8 on.
    let dict_len_at = (4 + interface.len() + 1).next_multiple_of(4);
    let entries_at = (dict_len_at + 4).next_multiple_of(8);
    // `Lines` as one more dict entry: key, signature, then the array of records.
    pad(&mut bytes, 8);
    put_u32(&mut bytes, "Lines".len())?;
    bytes.extend_from_slice(b"Lines\0");
    bytes.push(6);
    bytes.extend_from_slice(b"aa{sv}\0");
    pad(&mut bytes, 4);
    let array_len_at = bytes.len();
    put_u32(&mut bytes, 0)?;
    let array_at = bytes.len();
    for entries in lines {
        pad(&mut bytes, 4);
        put_u32(&mut bytes, entries.len())?;
        pad(&mut bytes, 8);
        bytes.extend_from_slice(entries);
    }
    let array_len = bytes.len() - array_at;
    set_u32(&mut bytes, array_len_at, array_len)?;
    let dict_len = bytes.len() - entries_at;
    set_u32(&mut bytes, dict_len_at, dict_len)?;
    // Nothing invalidated: an empty `as`.
    pad(&mut bytes, 4);
    put_u32(&mut bytes, 0)?;
    Ok(bytes)
}

/// A `PropertiesChanged` of `interface` on `path` from `sender`, carrying `head` and every
/// line of `sale` (records reused from `records` where the line did not change).
pub fn sale_properties_changed<H>(
    sender: Option<&str>,
    path: &str,
    interface: &str,
    head: &H,
    sale: &Sale,
    minor: u32,
    records: &mut LineRecords,
) -> zbus::Result<Message>
where
    H: serde::Serialize + zbus::wire::Type,
{
    let lines = records.refresh(sale, minor)?;
    let body = body(interface, head, &lines)?;
    let mut builder = Message::signal(path, "org.freedesktop.DBus.Properties", "PropertiesChanged");
    if let Some(sender) = sender {
        builder = builder.sender(sender);
    }
    // SAFETY: `body` is a valid `sa{sv}as` in the message's byte order, with no file
    // descriptors (the test `the_spliced_body_is_what_zbus_would_encode` checks it).
    unsafe { builder.build_raw_body(&body, "sa{sv}as", Vec::new()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::sale::model::{Line, LineKind, SaleState};
    use serde_json::Value;
    use zbus::OwnedVariant;

    type Dict = HashMap<String, OwnedVariant>;

    #[derive(serde::Serialize, zbus::Type)]
    #[zbus(signature = "dict")]
    #[serde(rename_all = "PascalCase")]
    struct Head<'a> {
        #[serde(with = "zbus::as_variant")]
        state: &'a str,
        #[serde(with = "zbus::as_variant")]
        customer_locked: bool,
        #[serde(with = "zbus::as_variant")]
        warnings: &'a [String],
    }

    fn line(id: &str, name: &str, qty: &str, tags: &[&str]) -> Line {
        Line {
            id: id.into(),
            kind: LineKind::Item,
            sku: "4006381333931".into(),
            name: name.into(),
            qty: qty.parse().expect("qty"),
            unit_price: "1.20".parse().expect("price"),
            amount: "2.40".parse().expect("amount"),
            tax_rate: "20".parse().expect("rate"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            plugin: String::new(),
            reference: String::new(),
            applies_to: Vec::new(),
            automatic: false,
            data: Value::Null,
            show_ref: false,
        }
    }

    /// What zbus itself encodes for the same properties, every line serialized anew.
    fn expected(head: &Head<'_>, sale: &Sale) -> Dict {
        let data = zbus::wire::to_bytes(context(0), head).expect("head");
        let mut dict: Dict = data.deserialize().expect("head back").0;
        let lines = zbus::wire::to_bytes(context(0), &super::super::sale::lines_record(sale, 2))
            .expect("lines");
        let lines: Vec<Dict> = lines.deserialize().expect("lines back").0;
        dict.insert(
            "Lines".into(),
            OwnedVariant::try_from(zbus::Variant::from(lines)).expect("variant"),
        );
        dict
    }

    fn sent(message: &Message) -> (String, Dict, Vec<String>) {
        message.body().deserialize().expect("a valid sa{sv}as body")
    }

    /// Whatever the lines and their lengths (so whatever padding falls where), the spliced
    /// message carries what zbus would encode, and after changes it still does with the
    /// unchanged lines' records reused.
    #[test]
    fn the_spliced_body_is_what_zbus_would_encode() {
        let warnings = vec!["promotions of x could not be evaluated".to_string()];
        let head = Head {
            state: "open",
            customer_locked: true,
            warnings: &warnings,
        };
        let mut sale = Sale::new("S-1", SaleState::Open, "anna", "now".into());
        sale.lines.push(line("L1", "Bleistift", "2", &["office"]));
        sale.lines.push(line("L2", "Radiergummi groß", "1", &[]));
        sale.lines.push(line("L3", "Ä", "3.5", &["a", "bc", "def"]));
        let mut records = LineRecords::default();
        let path = "/org/posd/Posd1/sale/S1";
        for round in 0..4 {
            match round {
                1 => sale.lines[1].qty = "7".parse().expect("qty"),
                2 => {
                    sale.lines.remove(0);
                    sale.lines
                        .push(line("L4", "Heft A5 liniert", "1", &["paper"]));
                }
                3 => sale.lines.insert(1, line("L5", "x", "1", &["odd"])),
                _ => {}
            }
            let message = sale_properties_changed(
                Some(":1.7"),
                path,
                "org.posd.Sale1",
                &head,
                &sale,
                2,
                &mut records,
            )
            .expect("built");
            let (interface, changed, invalidated) = sent(&message);
            assert_eq!(interface, "org.posd.Sale1");
            assert_eq!(changed, expected(&head, &sale), "round {round}");
            assert!(invalidated.is_empty());
            assert_eq!(
                records.0.len(),
                sale.lines.len(),
                "gone lines are forgotten"
            );
            let header = message.header();
            assert_eq!(header.path().map(|p| p.as_str()), Some(path));
            assert_eq!(
                header.member().map(|m| m.as_str()),
                Some("PropertiesChanged")
            );
        }
    }
}
