//! The partner's HTTP+JSON interface, through ureq with rustls: authorising points as a
//! tender during a sale (with a timeout below the host's call deadline), and delivering the
//! background messages, each with its idempotency key.
//!
//! The API key travels as `Authorization: Bearer …` and is never part of an error or a log
//! line: errors name the endpoint path and the status only.

use std::time::Duration;

use serde_json::{Value, json};
use ureq::Agent;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

use crate::config::Config;

/// What went wrong talking to the partner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartnerError {
    /// No answer in time, or no connection: the partner is down or the network is.
    #[error("{0}")]
    Unreachable(String),
    /// The partner answered that it can't do this (unknown card, too few points); the
    /// partner's error name and message.
    #[error("{error}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The partner's error name, e.g. `insufficient_points`.
        error: String,
        /// Its message.
        message: String,
    },
    /// The partner failed (5xx) or answered garbage: try again later.
    #[error("{0}")]
    Failed(String),
}

/// A granted authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// The partner's authorisation id.
    pub id: String,
    /// Points held.
    pub points: u64,
}

/// The certificates of a PEM file (other items in it are skipped).
fn certificates(pem: &[u8]) -> Result<Vec<Certificate<'static>>, ureq::Error> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect()
}

/// A client of the partner's interface.
pub struct Partner {
    endpoint: String,
    api_key: String,
    agent: Agent,
    authorize_timeout: Duration,
    deliver_timeout: Duration,
}

impl Partner {
    /// A client for the configured partner (its TLS roots and client certificate).
    pub fn new(config: &Config) -> Result<Partner, String> {
        let mut tls = TlsConfig::builder();
        if let Some(ca) = &config.ca {
            let roots = certificates(ca).map_err(|e| format!("ca_file: {e}"))?;
            tls = tls.root_certs(RootCerts::new_with_certs(&roots));
        }
        if let Some((chain, key)) = &config.client_certificate {
            let chain = certificates(chain).map_err(|e| format!("client_certificate_file: {e}"))?;
            let key = PrivateKey::from_pem(key).map_err(|e| format!("client_key_file: {e}"))?;
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
        }
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls.build())
            .user_agent(concat!("posd-partner/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Partner {
            endpoint: config.endpoint.clone(),
            api_key: config.api_key.clone(),
            agent,
            authorize_timeout: config.authorize_timeout,
            deliver_timeout: config.deliver_timeout,
        })
    }

    /// POSTs `body` to `path` within `timeout`; the status and the JSON answer.
    fn post(
        &self,
        path: &str,
        body: &Value,
        key: Option<&str>,
        timeout: Duration,
    ) -> Result<(u16, Value), PartnerError> {
        let url = format!("{}{path}", self.endpoint);
        let mut request = self
            .agent
            .post(&url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("Authorization", &format!("Bearer {}", self.api_key));
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let mut response = request.send_json(body).map_err(|e| match e {
            ureq::Error::Timeout(_) => PartnerError::Unreachable(format!(
                "{path}: no answer within {} ms",
                timeout.as_millis()
            )),
            ureq::Error::Io(e) => PartnerError::Unreachable(format!("{path}: {e}")),
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                PartnerError::Unreachable(format!("{path}: {e}"))
            }
            other => PartnerError::Unreachable(format!("{path}: {other}")),
        })?;
        let status = response.status().as_u16();
        let answer: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        Ok((status, answer))
    }

    fn refused(status: u16, answer: &Value) -> PartnerError {
        let text = |k: &str| {
            answer
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        if status >= 500 || status == 401 || status == 403 || status == 429 {
            return PartnerError::Failed(format!(
                "the partner answered {status} {}",
                text("error")
            ));
        }
        PartnerError::Refused {
            status,
            error: text("error"),
            message: text("message"),
        }
    }

    /// Holds `points` of `card` for a tender; `request` identifies this try, so that a hold
    /// the partner made after this call gave up can be cancelled.
    pub fn authorize(
        &self,
        card: &str,
        points: u64,
        request: &str,
    ) -> Result<Authorized, PartnerError> {
        let (status, answer) = self.post(
            "/v1/authorizations",
            &json!({ "card": card, "points": points, "request": request }),
            Some(request),
            self.authorize_timeout,
        )?;
        if status != 200 && status != 201 {
            return Err(Self::refused(status, &answer));
        }
        let id = answer
            .get("authorization")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                PartnerError::Failed("the partner's answer has no authorization".into())
            })?;
        let points = answer
            .get("points")
            .and_then(Value::as_u64)
            .unwrap_or(points);
        Ok(Authorized {
            id: id.to_string(),
            points,
        })
    }

    /// Cancels whatever `request` held (nothing, if the hold never came about). Short: it
    /// runs inside the tender's call after an authorisation timed out.
    pub fn cancel(&self, request: &str, timeout: Duration) -> Result<(), PartnerError> {
        let (status, answer) = self.post(
            "/v1/authorizations/cancel",
            &json!({ "request": request }),
            Some(&format!("cancel-{request}")),
            timeout,
        )?;
        match status {
            200..=299 | 404 => Ok(()),
            _ => Err(Self::refused(status, &answer)),
        }
    }

    /// Delivers one background message (its `type` says what it is) under its idempotency
    /// key: the partner counts a key once however often it arrives.
    pub fn deliver(&self, key: &str, payload: &Value) -> Result<(), PartnerError> {
        let path = match payload.get("type").and_then(Value::as_str) {
            Some("release") => "/v1/authorizations/cancel",
            _ => "/v1/transactions",
        };
        let (status, answer) = self.post(path, payload, Some(key), self.deliver_timeout)?;
        match status {
            200..=299 => Ok(()),
            // Nothing was held for a release: nothing to do.
            404 if path == "/v1/authorizations/cancel" => Ok(()),
            _ => Err(Self::refused(status, &answer)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(extra: serde_json::Value) -> Result<Config, posd_plugin_sdk::PluginError> {
        let dir = std::env::temp_dir().join(format!("posd-partner-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let key = dir.join("key");
        std::fs::write(&key, "0123456789abcdef0123").expect("key");
        let mut section = json!({
            "endpoint": "https://partner.invalid",
            "api_key_file": key,
            "card": { "length": 16 },
        });
        if let (Some(section), Some(extra)) = (section.as_object_mut(), extra.as_object()) {
            section.extend(extra.clone());
        }
        Config::parse(section)
    }

    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn a_client_certificate_and_private_roots_are_taken_and_garbage_is_named() {
        let with_cert = config(json!({
            "client_certificate_file": fixture("till-test.crt"),
            "client_key_file": fixture("till-test.key"),
            "ca_file": fixture("till-test.crt"),
        }))
        .expect("config");
        assert!(Partner::new(&with_cert).is_ok());
        let garbage = config(json!({
            "client_certificate_file": fixture("till-test.crt"),
            "client_key_file": fixture("till-test.crt"),
        }))
        .expect("config");
        let err = Partner::new(&garbage)
            .err()
            .expect("a certificate is no key");
        assert!(err.contains("client_key_file"), "{err}");
        let half = config(json!({ "client_certificate_file": fixture("till-test.crt") }))
            .expect_err("a certificate without its key");
        assert!(half.message.contains("client_key_file"), "{half}");
    }
}
