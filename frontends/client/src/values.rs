//! Values of the contract as a frontend uses them: a failed call's error name, a record's
//! fields, any value as JSON.

use std::collections::HashMap;

use zbus::DBusError;
use zbus::OwnedVariant as OwnedValue;
use zbus::Variant as Value;

/// The D-Bus error name and message of a failed call, as a technician should see them;
/// `None` for failures that never got an answer from a peer (no bus, broken connection).
pub fn error_reply(e: &zbus::Error) -> Option<(String, String)> {
    match e {
        zbus::Error::MethodError(name, message, _) => {
            Some((name.to_string(), message.clone().unwrap_or_default()))
        }
        zbus::Error::FDO(fdo) => Some((
            fdo.name().to_string(),
            fdo.description().unwrap_or_default().to_string(),
        )),
        _ => None,
    }
}

/// A string field of a record (`a{sv}`), "" when it is missing or not a string: the contract's
/// records are extensible, so a frontend reads what it knows and ignores the rest.
pub fn field(record: &HashMap<String, OwnedValue>, key: &str) -> String {
    record.get(key).map(|v| as_string(v)).unwrap_or_default()
}

/// A boolean field of a record, `false` when missing.
pub fn flag(record: &HashMap<String, OwnedValue>, key: &str) -> bool {
    record.get(key).is_some_and(|v| as_flag(v))
}

/// A string-list field (`as`) of a record, empty when missing.
pub fn strings(record: &HashMap<String, OwnedValue>, key: &str) -> Vec<String> {
    record.get(key).map(|v| as_strings(v)).unwrap_or_default()
}

/// A record-list field (`aa{sv}`) of a record, empty when missing.
pub fn records(
    record: &HashMap<String, OwnedValue>,
    key: &str,
) -> Vec<HashMap<String, OwnedValue>> {
    record.get(key).map(|v| as_records(v)).unwrap_or_default()
}

/// A string (or object path) value, "" for any other type.
pub fn as_string(value: &Value<'_>) -> String {
    match value {
        Value::Str(s) => s.to_string(),
        Value::ObjectPath(p) => p.to_string(),
        Value::Variant(inner) => as_string(inner),
        _ => String::new(),
    }
}

/// A boolean value, `false` for any other type.
pub fn as_flag(value: &Value<'_>) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Variant(inner) => as_flag(inner),
        _ => false,
    }
}

/// A string-list value (`as`), empty for any other type.
pub fn as_strings(value: &Value<'_>) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .inner()
            .iter()
            .filter_map(|v| match v {
                Value::Str(s) => Some(s.to_string()),
                _ => None,
            })
            .collect(),
        Value::Variant(inner) => as_strings(inner),
        _ => Vec::new(),
    }
}

/// A record value (`a{sv}`), `None` for any other type.
pub fn as_record(value: &Value<'_>) -> Option<HashMap<String, OwnedValue>> {
    let owned = OwnedValue::try_from(value.try_clone().ok()?).ok()?;
    HashMap::<String, OwnedValue>::try_from(owned).ok()
}

/// A record-list value (`aa{sv}`), empty for any other type.
pub fn as_records(value: &Value<'_>) -> Vec<HashMap<String, OwnedValue>> {
    match value {
        Value::Array(items) => items.inner().iter().filter_map(as_record).collect(),
        Value::Variant(inner) => as_records(inner),
        _ => Vec::new(),
    }
}

/// A field as display text whatever its type: strings as they are, anything else as JSON.
pub fn text(record: &HashMap<String, OwnedValue>, key: &str) -> String {
    match record.get(key) {
        None => String::new(),
        Some(v) => match to_json(v) {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        },
    }
}

/// A D-Bus value as JSON, for scripts and tests: numbers as numbers, records as objects,
/// lists and structures as arrays.
pub fn to_json(value: &zbus::Variant<'_>) -> serde_json::Value {
    use zbus::Variant as V;
    match value {
        V::U8(n) => serde_json::json!(n),
        V::Bool(b) => serde_json::json!(b),
        V::I16(n) => serde_json::json!(n),
        V::U16(n) => serde_json::json!(n),
        V::I32(n) => serde_json::json!(n),
        V::U32(n) => serde_json::json!(n),
        V::I64(n) => serde_json::json!(n),
        V::U64(n) => serde_json::json!(n),
        V::F64(n) => serde_json::json!(n),
        V::Str(s) => serde_json::Value::String(s.to_string()),
        V::Signature(s) => serde_json::Value::String(s.to_string()),
        V::ObjectPath(p) => serde_json::Value::String(p.to_string()),
        V::Variant(inner) => to_json(inner),
        V::Array(items) => serde_json::Value::Array(items.inner().iter().map(to_json).collect()),
        V::Dict(dict) => serde_json::Value::Object(
            dict.iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        V::Structure(s) => serde_json::Value::Array(s.fields().iter().map(to_json).collect()),
        #[allow(unreachable_patterns)]
        _ => serde_json::Value::Null,
    }
}
