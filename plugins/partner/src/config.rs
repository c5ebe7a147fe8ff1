//! `[plugin.partner]`: the partner's endpoint and secrets, the card and coupon formats,
//! what earns and what a point is worth. Checked at load: a mistake names its key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use posd_plugin_sdk::{Decimal, PluginError};
use serde::Deserialize;

use crate::number::{Check, NumberFormat};

/// The section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_name")]
    name: String,
    endpoint: String,
    api_key_file: String,
    #[serde(default)]
    client_certificate_file: Option<String>,
    #[serde(default)]
    client_key_file: Option<String>,
    #[serde(default)]
    ca_file: Option<String>,
    card: NumberFormat,
    #[serde(default = "default_coupon")]
    coupon: NumberFormat,
    #[serde(default = "default_max_coupons")]
    max_coupons: usize,
    #[serde(default = "default_tag")]
    eligible_tag: String,
    #[serde(default = "one")]
    points_per_unit: Decimal,
    #[serde(default = "cent")]
    point_value: Decimal,
    #[serde(default = "default_method")]
    tender_method: String,
    #[serde(default = "default_authorize_ms")]
    authorize_timeout_ms: u64,
    #[serde(default = "default_deliver_ms")]
    deliver_timeout_ms: u64,
}

fn default_name() -> String {
    "PAYBACK".into()
}
fn default_coupon() -> NumberFormat {
    NumberFormat {
        prefixes: Vec::new(),
        length: 13,
        check: Check::Gs1,
    }
}
fn default_max_coupons() -> usize {
    10
}
fn default_tag() -> String {
    "partner".into()
}
fn one() -> Decimal {
    Decimal::ONE
}
fn cent() -> Decimal {
    Decimal::new(1, 2)
}
fn default_method() -> String {
    "partner_points".into()
}
fn default_authorize_ms() -> u64 {
    1500
}
fn default_deliver_ms() -> u64 {
    5000
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The programme's name on receipts and in messages ("PAYBACK").
    pub name: String,
    /// The partner's base URL, `https://…` (or `http://` for a simulator on this machine).
    pub endpoint: String,
    /// Read from `api_key_file`; never logged.
    pub api_key: String,
    /// PEM certificate chain and key the till shows the partner, if it asks for one.
    pub client_certificate: Option<(Vec<u8>, Vec<u8>)>,
    /// PEM roots to trust instead of the built-in ones (a partner's private CA).
    pub ca: Option<Vec<u8>>,
    /// Partner card numbers.
    pub card: NumberFormat,
    /// Action coupon numbers.
    pub coupon: NumberFormat,
    /// Coupons one sale may carry.
    pub max_coupons: usize,
    /// The tag of articles that earn partner points.
    pub eligible_tag: String,
    /// Points per currency unit of eligible turnover (rounded down), for the preview.
    pub points_per_unit: Decimal,
    /// What one point pays.
    pub point_value: Decimal,
    /// The tender method paying with points.
    pub tender_method: String,
    /// How long an authorisation may take; below the host's call deadline.
    pub authorize_timeout: Duration,
    /// How long one delivery may take.
    pub deliver_timeout: Duration,
}

fn invalid(key: &str, why: impl std::fmt::Display) -> PluginError {
    PluginError::invalid_configuration(format!("[plugin.partner] {key}: {why}"))
}

/// `path` with a leading `$CREDENTIALS_DIRECTORY` replaced by systemd's credential
/// directory.
fn credential_path(path: &str) -> PathBuf {
    match (
        path.strip_prefix("$CREDENTIALS_DIRECTORY"),
        std::env::var_os("CREDENTIALS_DIRECTORY"),
    ) {
        (Some(rest), Some(dir)) => Path::new(&dir).join(rest.trim_start_matches('/')),
        _ => PathBuf::from(path),
    }
}

fn read_file(key: &str, path: &str) -> Result<Vec<u8>, PluginError> {
    let path = credential_path(path);
    std::fs::read(&path).map_err(|e| invalid(key, format!("{}: {e}", path.display())))
}

impl Config {
    /// Reads and checks the section; the secrets are read from their files now.
    pub fn parse(value: serde_json::Value) -> Result<Config, PluginError> {
        let raw: RawConfig = serde_json::from_value(value)
            .map_err(|e| PluginError::invalid_configuration(format!("[plugin.partner]: {e}")))?;
        let endpoint = raw.endpoint.trim_end_matches('/').to_string();
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(invalid(
                "endpoint",
                format!("{endpoint:?} is not an http:// or https:// URL"),
            ));
        }
        let api_key = String::from_utf8(read_file("api_key_file", &raw.api_key_file)?)
            .map_err(|_| invalid("api_key_file", "the key is not text"))?
            .trim()
            .to_string();
        if api_key.len() < 16 {
            return Err(invalid(
                "api_key_file",
                format!(
                    "the key has {} characters, at least 16 are needed",
                    api_key.len()
                ),
            ));
        }
        let client_certificate = match (&raw.client_certificate_file, &raw.client_key_file) {
            (Some(cert), Some(key)) => Some((
                read_file("client_certificate_file", cert)?,
                read_file("client_key_file", key)?,
            )),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "client_certificate_file",
                    "give client_certificate_file and client_key_file together",
                ));
            }
        };
        let ca = raw
            .ca_file
            .as_deref()
            .map(|f| read_file("ca_file", f))
            .transpose()?;
        for (key, format) in [("card", &raw.card), ("coupon", &raw.coupon)] {
            if !(6..=24).contains(&format.length) {
                return Err(invalid(
                    &format!("{key}.length"),
                    format!("{} is not 6 to 24 digits", format.length),
                ));
            }
            if let Some(p) = format.prefixes.iter().find(|p| {
                p.is_empty() || p.len() >= format.length || !p.bytes().all(|b| b.is_ascii_digit())
            }) {
                return Err(invalid(
                    &format!("{key}.prefixes"),
                    format!("{p:?} is not 1 to length-1 digits"),
                ));
            }
        }
        if raw.points_per_unit < Decimal::ZERO {
            return Err(invalid("points_per_unit", "may not be negative"));
        }
        if raw.point_value <= Decimal::ZERO || raw.point_value.scale() > 4 {
            return Err(invalid(
                "point_value",
                format!("{} is not an amount above 0", raw.point_value),
            ));
        }
        if !(100..=10_000).contains(&raw.authorize_timeout_ms) {
            return Err(invalid(
                "authorize_timeout_ms",
                "expected 100 to 10000 ms (below the host's call deadline)",
            ));
        }
        if !(100..=60_000).contains(&raw.deliver_timeout_ms) {
            return Err(invalid("deliver_timeout_ms", "expected 100 to 60000 ms"));
        }
        if raw.tender_method.is_empty() || raw.eligible_tag.is_empty() {
            return Err(invalid(
                "tender_method",
                "tender_method and eligible_tag may not be empty",
            ));
        }
        Ok(Config {
            name: raw.name,
            endpoint,
            api_key,
            client_certificate,
            ca,
            card: raw.card,
            coupon: raw.coupon,
            max_coupons: raw.max_coupons,
            eligible_tag: raw.eligible_tag,
            points_per_unit: raw.points_per_unit,
            point_value: raw.point_value,
            tender_method: raw.tender_method,
            authorize_timeout: Duration::from_millis(raw.authorize_timeout_ms),
            deliver_timeout: Duration::from_millis(raw.deliver_timeout_ms),
        })
    }
}
