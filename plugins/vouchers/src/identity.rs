//! The identity of a voucher: a keyed hash of its canonical code.
//!
//! The database holds `HMAC-SHA256(key, canonical code)` and the last four characters,
//! never the code: a copy of the database (a backup, a till sent for repair) hands out no
//! spendable code, and without the key nobody can test guessed codes against it offline.
//! The key lives in a file outside the database (`key_file`), e.g. a systemd credential.
//! The same key on every till of a chain gives every code one identity chain-wide, which is
//! what a central voucher store will look codes up by.

use std::fmt;
use std::path::PathBuf;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::ConfigError;

/// The fewest key bytes accepted: 256 bits, the HMAC-SHA256 block strength.
pub const MIN_KEY_BYTES: usize = 32;

/// The HMAC key. Its `Debug` prints no byte of it.
pub struct Key(Vec<u8>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({} bytes)", self.0.len())
    }
}

/// Where `key_file` points: a leading `$CREDENTIALS_DIRECTORY` is the directory systemd
/// hands the service its credentials in (`LoadCredential=vouchers.key:/etc/posd/vouchers.key`).
pub fn key_path(configured: &str) -> Result<PathBuf, ConfigError> {
    const VAR: &str = "$CREDENTIALS_DIRECTORY";
    if let Some(rest) = configured.strip_prefix(VAR) {
        let dir =
            std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| ConfigError::KeyFile {
                path: configured.to_string(),
                reason: "CREDENTIALS_DIRECTORY is not set: is LoadCredential= in the service unit?"
                    .into(),
            })?;
        return Ok(PathBuf::from(dir).join(rest.trim_start_matches('/')));
    }
    Ok(PathBuf::from(configured))
}

impl Key {
    /// Reads the key from `configured` (see [`key_path`]); refuses a missing, unreadable or
    /// short file. The message names the path, never the content.
    pub fn load(configured: &str) -> Result<Self, ConfigError> {
        let path = key_path(configured)?;
        let bytes = std::fs::read(&path).map_err(|e| ConfigError::KeyFile {
            path: configured.to_string(),
            reason: format!("cannot be read ({}): {e}", path.display()),
        })?;
        Key::from_bytes(bytes).map_err(|reason| ConfigError::KeyFile {
            path: configured.to_string(),
            reason,
        })
    }

    /// A key of at least [`MIN_KEY_BYTES`] bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "holds {} bytes, at least {MIN_KEY_BYTES} are needed (e.g. `head -c 32 /dev/urandom | base64`)",
                bytes.len()
            ));
        }
        Ok(Key(bytes))
    }

    /// The identity of a canonical code.
    pub fn identify(&self, canonical: &str) -> CodeId {
        // HMAC takes keys of any length; new_from_slice cannot fail for HMAC.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        };
        mac.update(canonical.as_bytes());
        CodeId(hex::encode(mac.finalize().into_bytes()))
    }
}

/// A voucher's identity: 64 hex digits of the keyed hash. Ledger account
/// `voucher:<id>` and kv key `voucher:<id>` are named by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeId(pub String);

impl CodeId {
    /// The id as it came back in a line's or tender's `data`, if it has the shape of one.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| CodeId(text.to_string()))
    }
}

impl fmt::Display for CodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_is_the_hmac_of_the_canonical_code_under_the_key() {
        let key = Key::from_bytes(vec![b'k'; 32]).unwrap();
        let id = key.identify("ABCD");
        assert_eq!(id.0.len(), 64);
        assert_eq!(id, key.identify("ABCD"), "stable");
        assert_ne!(id, key.identify("ABCE"));
        let other = Key::from_bytes(vec![b'x'; 32]).unwrap();
        assert_ne!(id, other.identify("ABCD"), "another key, another identity");
        assert_eq!(CodeId::parse(&id.0), Some(id.clone()));
        assert_eq!(CodeId::parse("ABCD"), None);
        assert!(!format!("{key:?}").contains('k'));
    }

    #[test]
    fn a_missing_or_short_key_file_is_refused_naming_the_path() {
        let dir = std::env::temp_dir().join(format!("posd-vouchers-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let short = dir.join("short.key");
        std::fs::write(&short, b"0123456789").unwrap();
        let e = Key::load(short.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("key_file") && e.contains("10 bytes"), "{e}");
        assert!(!e.contains("0123456789"), "the key is never shown: {e}");
        let e = Key::load("/nonexistent/vouchers.key")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/vouchers.key") && e.contains("cannot be read"),
            "{e}"
        );
        let good = dir.join("good.key");
        std::fs::write(&good, [7u8; 32]).unwrap();
        assert!(Key::load(good.to_str().unwrap()).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
