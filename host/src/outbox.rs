//! The outbox: messages to external partners (a bonus programme's collect, a correction
//! after a void) that must arrive exactly once although partner servers go down.
//!
//! A plugin returns messages from a checkout; the host writes them here in the checkout's
//! own transaction, so a message exists exactly when its sale does. A background worker
//! hands each due message to its plugin's `deliver_message` hook, in order of creation, and
//! records the outcome: delivered; a temporary failure, retried with capped exponential
//! backoff that survives restarts; or a permanent failure, or too long without success,
//! which makes it a dead letter for a technician (`posctl outbox`). Each message carries an
//! idempotency key unique per plugin, which the plugin sends along so a partner can drop a
//! duplicate after a crash between delivery and bookkeeping.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use crate::plugins::{CallError, Hook, PluginManager};
use crate::store::Database;

/// A message to write with a checkout.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// The plugin that delivers it.
    pub plugin: String,
    /// Partner or channel, as the plugin names it.
    pub destination: String,
    /// Idempotency key, unique per plugin.
    pub key: String,
    /// What to send.
    pub payload: Value,
    /// What it belongs to, e.g. a receipt id.
    pub reference: String,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Row id.
    pub id: i64,
    /// Delivering plugin.
    pub plugin: String,
    /// Partner.
    pub destination: String,
    /// Idempotency key.
    pub key: String,
    /// Payload.
    pub payload: Value,
    /// What it belongs to.
    pub reference: String,
    /// pending, delivered or dead.
    pub state: String,
    /// Tries so far.
    pub attempts: i64,
    /// Why the last try failed.
    pub last_error: String,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Writes a message in the caller's transaction. The same key from the same plugin again is
/// ignored: the message is already there.
pub fn enqueue(c: &Connection, message: &NewMessage) -> rusqlite::Result<()> {
    let now = now_ms();
    c.prepare_cached("INSERT INTO outbox (plugin, destination, key, payload, reference, next_attempt, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
         ON CONFLICT (plugin, key) DO NOTHING")?.execute(
        params![
            message.plugin,
            message.destination,
            message.key,
            message.payload.to_string(),
            message.reference,
            now
        ],
    )?;
    Ok(())
}

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: r.get(0)?,
        plugin: r.get(1)?,
        destination: r.get(2)?,
        key: r.get(3)?,
        payload: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or(Value::Null),
        reference: r.get(5)?,
        state: r.get(6)?,
        attempts: r.get(7)?,
        last_error: r.get(8)?,
    })
}

const COLUMNS: &str =
    "id, plugin, destination, key, payload, reference, state, attempts, last_error";

/// The oldest pending message that is due, if any.
pub fn next_due(c: &Connection) -> rusqlite::Result<Option<Message>> {
    c.prepare_cached(
        "SELECT id, plugin, destination, key, payload, reference, state, attempts, last_error
         FROM outbox WHERE state = 'pending' AND next_attempt <= ?1 ORDER BY id LIMIT 1",
    )?
    .query_row([now_ms()], read)
    .optional()
}

/// What the worker does next.
enum Next {
    /// Deliver this message.
    Due(Message),
    /// Nothing is due: wait this long, or until woken.
    Idle(Duration),
}

/// The next due message, else how long until one is due (at most a minute): one database
/// round trip for the worker.
fn next(c: &Connection) -> rusqlite::Result<Next> {
    if let Some(message) = next_due(c)? {
        return Ok(Next::Due(message));
    }
    let wait = next_wake(c)?.map_or(Duration::from_secs(60), |ms| {
        Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(Duration::from_secs(60))
    });
    Ok(Next::Idle(wait))
}

/// Milliseconds until the next pending message is due (`None`: nothing pending).
pub fn next_wake(c: &Connection) -> rusqlite::Result<Option<i64>> {
    let next: Option<i64> = c
        .prepare_cached("SELECT min(next_attempt) FROM outbox WHERE state = 'pending'")?
        .query_row([], |r| r.get(0))?;
    Ok(next.map(|at| (at - now_ms()).max(0)))
}

/// Messages in `state` (or all), newest first, for technicians.
pub fn list(c: &Connection, state: Option<&str>, limit: i64) -> rusqlite::Result<Vec<Message>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![state, limit], read)?;
    rows.collect()
}

/// How the worker retries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First retry after this long.
    pub first: Duration,
    /// Never wait longer than this between tries.
    pub cap: Duration,
    /// A message undelivered this long after it was written becomes a dead letter.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(5),
            cap: Duration::from_secs(15 * 60),
            give_up_after: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

/// What became of one try.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The partner has it.
    Delivered,
    /// Try again later (partner down, timeout); at the earliest after this long.
    Retry {
        /// Why.
        reason: String,
        /// The plugin's wish, if any.
        after: Option<Duration>,
    },
    /// Never deliverable (rejected by the partner, plugin refused).
    Dead(String),
}

/// Records the outcome of a try.
pub fn record(
    c: &Connection,
    message: &Message,
    outcome: &Outcome,
    policy: &RetryPolicy,
) -> rusqlite::Result<()> {
    let now = now_ms();
    match outcome {
        Outcome::Delivered => {
            c.prepare_cached("UPDATE outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = ?2, last_error = ''
                 WHERE id = ?1 AND state = 'pending'")?.execute(
                params![message.id, now],
            )?;
        }
        Outcome::Dead(reason) => {
            c.prepare_cached("UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ?2 WHERE id = ?1")?.execute(
                params![message.id, reason],
            )?;
        }
        Outcome::Retry { reason, after } => {
            let created: i64 = c
                .prepare_cached("SELECT created_at FROM outbox WHERE id = ?1")?
                .query_row([message.id], |r| r.get(0))?;
            let give_up = i64::try_from(policy.give_up_after.as_millis()).unwrap_or(i64::MAX);
            if now - created >= give_up {
                let reason = format!(
                    "undelivered after {} tries; last: {reason}",
                    message.attempts + 1
                );
                return record(c, message, &Outcome::Dead(reason), policy);
            }
            let exponent = u32::try_from(message.attempts.clamp(0, 20)).unwrap_or(20);
            let backoff = policy
                .first
                .saturating_mul(2u32.saturating_pow(exponent))
                .min(policy.cap);
            let delay = after.map_or(backoff, |a| a.max(backoff).min(policy.cap));
            let next = now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
            c.prepare_cached("UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, last_error = ?3 WHERE id = ?1")?.execute(
                params![message.id, next, reason],
            )?;
        }
    }
    Ok(())
}

/// Asks the message's plugin to deliver it.
pub async fn deliver(plugins: &PluginManager, message: &Message) -> Outcome {
    let request = json!({
        "schema": 1,
        "message": {
            "id": message.id.to_string(), "destination": message.destination,
            "key": message.key, "payload": message.payload, "attempt": message.attempts + 1,
        }
    });
    match plugins
        .call(&message.plugin, Hook::DeliverMessage, &request)
        .await
    {
        Ok(answer) if answer.get("delivered").and_then(Value::as_bool) == Some(true) => {
            Outcome::Delivered
        }
        Ok(answer) => Outcome::Retry {
            reason: answer
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("not delivered")
                .to_string(),
            after: answer
                .get("retry_after_ms")
                .and_then(Value::as_u64)
                .map(Duration::from_millis),
        },
        Err(CallError::Refused { error, message }) => Outcome::Dead(format!("{error}: {message}")),
        // The plugin is down, slow or gone: the message waits for it.
        Err(e) => Outcome::Retry {
            reason: e.to_string(),
            after: None,
        },
    }
}

/// Delivers due messages until the daemon stops; `wake` is notified when new messages were
/// committed. A delivery's outcome is recorded and the next message read in one database
/// round trip, so a busy till's checkouts wait less for the database thread.
pub async fn run_worker(
    db: Database,
    plugins: Arc<PluginManager>,
    policy: RetryPolicy,
    wake: Arc<tokio::sync::Notify>,
) {
    let mut upcoming = db.call(|c| next(c)).await;
    loop {
        upcoming = match upcoming {
            Ok(Next::Due(message)) => {
                let outcome = deliver(&plugins, &message).await;
                match &outcome {
                    Outcome::Delivered => {
                        tracing::info!(plugin = %message.plugin, key = %message.key, "outbox: delivered")
                    }
                    Outcome::Retry { reason, .. } => {
                        tracing::warn!(plugin = %message.plugin, key = %message.key, "outbox: will retry: {reason}")
                    }
                    Outcome::Dead(reason) => {
                        tracing::error!(plugin = %message.plugin, key = %message.key, "outbox: dead letter: {reason}")
                    }
                }
                let recorded = db
                    .call(move |c| {
                        record(c, &message, &outcome, &policy)?;
                        next(c)
                    })
                    .await;
                if let Err(e) = &recorded {
                    tracing::error!("outbox: cannot record a delivery: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                recorded
            }
            Ok(Next::Idle(wait)) => {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
                db.call(|c| next(c)).await
            }
            Err(e) => {
                tracing::error!("outbox: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                db.call(|c| next(c)).await
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("dir");
        let c = crate::store::open(dir.path(), Duration::from_secs(1)).expect("open");
        (dir, c)
    }

    fn message(key: &str) -> NewMessage {
        NewMessage {
            plugin: "partner".into(),
            destination: "payback".into(),
            key: key.into(),
            payload: json!({ "points": 12 }),
            reference: "R1".into(),
        }
    }

    #[test]
    fn a_key_is_written_once_and_delivered_in_order() {
        let (_dir, c) = db();
        enqueue(&c, &message("a")).expect("enqueue");
        enqueue(&c, &message("a")).expect("same key again is ignored");
        enqueue(&c, &message("b")).expect("enqueue");
        let first = next_due(&c).expect("due").expect("one");
        assert_eq!(first.key, "a");
        record(&c, &first, &Outcome::Delivered, &RetryPolicy::default()).expect("record");
        let second = next_due(&c).expect("due").expect("one");
        assert_eq!(second.key, "b");
        assert_eq!(list(&c, Some("delivered"), 10).expect("list").len(), 1);
    }

    #[test]
    fn a_retry_waits_with_backoff_and_a_stale_message_dies() {
        let (_dir, c) = db();
        enqueue(&c, &message("a")).expect("enqueue");
        let m = next_due(&c).expect("due").expect("one");
        let policy = RetryPolicy {
            first: Duration::from_secs(5),
            cap: Duration::from_secs(60),
            give_up_after: Duration::from_secs(3600),
        };
        record(
            &c,
            &m,
            &Outcome::Retry {
                reason: "down".into(),
                after: None,
            },
            &policy,
        )
        .expect("record");
        assert!(
            next_due(&c).expect("due").is_none(),
            "not due before its backoff"
        );
        let wake = next_wake(&c).expect("wake").expect("pending");
        assert!((4000..=5000).contains(&wake), "{wake}");
        // Pretend it was written long ago: the next failure makes it a dead letter.
        c.execute(
            "UPDATE outbox SET created_at = created_at - 7200000, next_attempt = 0",
            [],
        )
        .expect("age");
        let m = next_due(&c).expect("due").expect("one");
        record(
            &c,
            &m,
            &Outcome::Retry {
                reason: "still down".into(),
                after: None,
            },
            &policy,
        )
        .expect("record");
        let dead = list(&c, Some("dead"), 10).expect("list");
        assert_eq!(dead.len(), 1);
        assert!(
            dead[0].last_error.contains("still down") && dead[0].attempts == 2,
            "{:?}",
            dead[0]
        );
    }
}
