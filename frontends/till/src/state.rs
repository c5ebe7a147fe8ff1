//! What the till must remember across its own restart: the sale it works on, and the
//! idempotency key of a checkout, void or return that was sent but not confirmed.
//!
//! A frontend that dies (or loses the bus) after sending `Checkout` does not know whether the
//! sale was committed. Sending the same key again is safe: the daemon answers the first
//! receipt and changes nothing. So the key is written to disk, and synced, before the call
//! goes out, and forgotten only once an answer is in.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file in the till's state directory.
pub const STATE_FILE: &str = "till.json";

/// Why the state could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state directory or file could not be written.
    #[error("cannot write the till's state {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file exists but is not the till's state.
    #[error("the till's state {path} is unreadable: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// An operation sent to the daemon with an idempotency key, not yet confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// What it is: `checkout:<sale id>`, `void:<receipt>`, `return:<receipt>:<lines>`.
    pub operation: String,
    /// The key sent with it.
    pub key: String,
}

/// The remembered state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TillState {
    /// The sale being rung up, by id; "" for none.
    #[serde(default)]
    pub sale: String,
    /// The last receipt completed here, for reprint and returns.
    #[serde(default)]
    pub last_receipt: String,
    /// Operations sent but not confirmed.
    #[serde(default)]
    pub pending: Vec<Pending>,
}

/// The state on disk, written through on every change.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    state: TillState,
}

impl Store {
    /// Opens (or starts) the state in `dir`. A missing file is a fresh till; a corrupt one is
    /// an error, never silently reset, because it may hold a key of an unconfirmed checkout.
    pub fn open(dir: &Path) -> Result<Store, StateError> {
        let path = dir.join(STATE_FILE);
        let state = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => TillState::default(),
            Err(e) => {
                return Err(StateError::Corrupt {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        Ok(Store { path, state })
    }

    /// The state as it stands.
    pub fn get(&self) -> &TillState {
        &self.state
    }

    /// Changes the state and writes it (atomically: a temporary file, synced, renamed).
    pub fn update(&mut self, change: impl FnOnce(&mut TillState)) -> Result<(), StateError> {
        let mut next = self.state.clone();
        change(&mut next);
        if next == self.state {
            return Ok(());
        }
        write_atomically(&self.path, &next).map_err(|source| StateError::Write {
            path: self.path.clone(),
            source,
        })?;
        self.state = next;
        Ok(())
    }

    /// The key for `operation`: the one remembered if it was sent before and not confirmed,
    /// else a new one, remembered before it is returned.
    pub fn key_for(&mut self, operation: &str) -> Result<String, StateError> {
        if let Some(p) = self.state.pending.iter().find(|p| p.operation == operation) {
            return Ok(p.key.clone());
        }
        let key = new_key();
        let op = operation.to_string();
        let k = key.clone();
        self.update(move |s| {
            s.pending.push(Pending {
                operation: op,
                key: k,
            })
        })?;
        Ok(key)
    }

    /// Forgets `operation`'s key: the daemon answered it.
    pub fn confirm(&mut self, operation: &str) -> Result<(), StateError> {
        self.update(|s| s.pending.retain(|p| p.operation != operation))
    }
}

fn write_atomically(path: &Path, state: &TillState) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = path.with_extension("json.partial");
    let mut file = std::fs::File::create(&partial)?;
    let text = serde_json::to_string_pretty(state).map_err(std::io::Error::other)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&partial, path)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A fresh idempotency key: 128 random bits from the kernel, hex.
pub fn new_key() -> String {
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if read.is_err() {
        // No /dev/urandom: time and pid still make a key no other till sends.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = (nanos ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("till-{hex}")
}

/// The till's state directory: the one given, else `$XDG_STATE_HOME/posd-till`, else
/// `~/.local/state/posd-till`, else `/var/lib/posd-till`.
pub fn default_dir(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(xdg) = env("XDG_STATE_HOME").filter(|d| d.starts_with('/')) {
        return PathBuf::from(xdg).join("posd-till");
    }
    if let Some(home) = env("HOME").filter(|d| d.starts_with('/')) {
        return PathBuf::from(home).join(".local/state/posd-till");
    }
    PathBuf::from("/var/lib/posd-till")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_sent_but_not_confirmed_is_the_same_key_after_a_restart() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(dir.path()).expect("open");
        store.update(|s| s.sale = "S1".into()).expect("sale");
        let key = store.key_for("checkout:S1").expect("key");
        drop(store);

        let mut again = Store::open(dir.path()).expect("reopen");
        assert_eq!(again.get().sale, "S1");
        assert_eq!(again.key_for("checkout:S1").expect("key"), key);
        again.confirm("checkout:S1").expect("confirm");
        assert_ne!(again.key_for("checkout:S1").expect("key"), key);
    }

    #[test]
    fn a_corrupt_state_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join(STATE_FILE), "{not json").expect("write");
        assert!(matches!(
            Store::open(dir.path()),
            Err(StateError::Corrupt { .. })
        ));
    }

    #[test]
    fn keys_differ() {
        assert_ne!(new_key(), new_key());
        assert!(new_key().starts_with("till-"));
    }
}
