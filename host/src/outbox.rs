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
//!
//! A technician manages dead letters ([`retry`], [`discard`]; `Manager1.RetryOutboxMessage`
//! and `DiscardOutboxMessage`): a retried message is due again at once, a discarded one is
//! never delivered and stays in the table for the record.

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
    /// pending, delivered, dead or discarded.
    pub state: String,
    /// Tries so far.
    pub attempts: i64,
    /// Why the last try failed.
    pub last_error: String,
    /// When it was written, in milliseconds since the epoch: a technician sees how long a
    /// partner has been waiting for it.
    pub created_at: i64,
    /// When the worker tries it next (pending) or would have (others), in milliseconds since
    /// the epoch.
    pub next_attempt: i64,
    /// When the partner took it, in milliseconds since the epoch; `None` until delivered.
    pub delivered_at: Option<i64>,
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
        created_at: r.get(9)?,
        next_attempt: r.get(10)?,
        delivered_at: r.get(11)?,
    })
}

/// The columns [`read`] reads, in its order.
const COLUMNS: &str = "id, plugin, destination, key, payload, reference, state, attempts, \
     last_error, created_at, next_attempt, delivered_at";

/// The oldest pending message that is due, if any.
pub fn next_due(c: &Connection) -> rusqlite::Result<Option<Message>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox
         WHERE state = 'pending' AND next_attempt <= ?1 ORDER BY id LIMIT 1"
    ))?
    .query_row([now_ms()], read)
    .optional()
}

/// One message by id, whatever its state, for a technician (`posctl outbox show`).
pub fn get(c: &Connection, id: i64) -> rusqlite::Result<Option<Message>> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"))?
        .query_row([id], read)
        .optional()
}

/// What the worker does next.
enum Next {
    /// Deliver this message (boxed: a message is large, the idle answer small).
    Due(Box<Message>),
    /// Nothing is due: wait this long, or until woken.
    Idle(Duration),
}

/// The next due message, else how long until one is due (at most a minute): one database
/// round trip for the worker.
fn next(c: &Connection) -> rusqlite::Result<Next> {
    if let Some(message) = next_due(c)? {
        return Ok(Next::Due(Box::new(message)));
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

/// Why a technician's change to a message ([`retry`], [`discard`]) was refused; the bus
/// turns each into the contract's error of the same meaning.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// The id is not a number, so it cannot name a message.
    #[error("{0:?} is not an outbox message id (a number; `posctl outbox` lists them)")]
    InvalidId(String),
    /// No message has this id.
    #[error("no outbox message {0}; `posctl outbox` lists them")]
    NotFound(i64),
    /// The message is in a state the change does not apply to.
    #[error("outbox message {id} is {state}: {why}")]
    WrongState {
        /// The message.
        id: i64,
        /// Its state, which stays as it is.
        state: String,
        /// Why that state refuses the change, for the technician.
        why: &'static str,
    },
    /// The database failed.
    #[error("outbox: {0}")]
    Database(#[from] rusqlite::Error),
}

/// What a technician's change did, so the caller can log which message it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Managed {
    /// The message as it is after the change.
    pub message: Message,
    /// Its state before the change.
    pub previous_state: String,
}

/// A message id as a technician types it (`"42"`): the D-Bus methods take ids as strings,
/// like every other id of the contract.
pub fn parse_id(text: &str) -> Result<i64, ManageError> {
    text.trim()
        .parse()
        .map_err(|_| ManageError::InvalidId(text.to_string()))
}

/// The message `id`, or [`ManageError::NotFound`].
fn existing(c: &Connection, id: i64) -> Result<Message, ManageError> {
    get(c, id)?.ok_or(ManageError::NotFound(id))
}

/// Makes a dead (or waiting) message due now, for a technician who fixed what kept it from
/// its partner: the worker tries it at its next look, which the caller hastens by waking it.
/// Its tries so far and last error stay until that try records its own. The message keeps
/// its creation time, so if this try fails too and it is older than the retry policy's
/// `give_up_after`, it is a dead letter again at once: a retry is one more try, not another
/// round of them. A delivered message (the partner has it) or a discarded one (a technician
/// decided it must never go out) is [`ManageError::WrongState`].
pub fn retry(c: &Connection, id: i64) -> Result<Managed, ManageError> {
    let before = existing(c, id)?;
    let why = match before.state.as_str() {
        "pending" | "dead" => None,
        "delivered" => Some("the partner has it already; there is nothing to retry"),
        "discarded" => Some("a discarded message is never delivered"),
        _ => Some("posd does not know this state"),
    };
    if let Some(why) = why {
        return Err(ManageError::WrongState {
            id,
            state: before.state,
            why,
        });
    }
    c.prepare_cached("UPDATE outbox SET state = 'pending', next_attempt = ?2 WHERE id = ?1")?
        .execute(params![id, now_ms()])?;
    Ok(Managed {
        message: existing(c, id)?,
        previous_state: before.state,
    })
}

/// Gives up on a dead (or waiting) message for good: it becomes `discarded`, is never
/// delivered, and stays in the table so the record shows what was not sent and that someone
/// decided so. Discarding a discarded message again changes nothing. A delivered message is
/// [`ManageError::WrongState`]: the partner has it, and the record must say so. A pending
/// message whose delivery is under way at that moment may still arrive; it is then recorded
/// as delivered ([`record`]).
pub fn discard(c: &Connection, id: i64) -> Result<Managed, ManageError> {
    let before = existing(c, id)?;
    match before.state.as_str() {
        "pending" | "dead" | "discarded" => {}
        "delivered" => {
            return Err(ManageError::WrongState {
                id,
                state: before.state,
                why: "the partner has it already; a delivered message cannot be discarded",
            });
        }
        _ => {
            return Err(ManageError::WrongState {
                id,
                state: before.state,
                why: "posd does not know this state",
            });
        }
    }
    c.prepare_cached("UPDATE outbox SET state = 'discarded' WHERE id = ?1")?
        .execute([id])?;
    Ok(Managed {
        message: existing(c, id)?,
        previous_state: before.state,
    })
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
        // A message discarded while its delivery was under way did reach the partner: the
        // record says so rather than claim it never went out.
        Outcome::Delivered => {
            c.prepare_cached("UPDATE outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = ?2, last_error = ''
                 WHERE id = ?1 AND state IN ('pending', 'discarded')")?.execute(
                params![message.id, now],
            )?;
        }
        // Only a pending message dies: one a technician discarded meanwhile stays discarded.
        Outcome::Dead(reason) => {
            c.prepare_cached(
                "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ?2
                 WHERE id = ?1 AND state = 'pending'",
            )?
            .execute(params![message.id, reason])?;
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
            c.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, last_error = ?3
                 WHERE id = ?1 AND state = 'pending'",
            )?
            .execute(params![message.id, next, reason])?;
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

    #[test]
    fn a_dead_letter_retried_is_due_at_once_with_its_history() {
        let (_dir, c) = db();
        enqueue(&c, &message("a")).expect("enqueue");
        let m = next_due(&c).expect("due").expect("one");
        record(
            &c,
            &m,
            &Outcome::Dead("rejected".into()),
            &RetryPolicy::default(),
        )
        .expect("record");
        assert!(next_due(&c).expect("due").is_none(), "a dead letter waits");
        let managed = retry(&c, m.id).expect("retry");
        assert_eq!(managed.previous_state, "dead");
        let due = next_due(&c).expect("due").expect("due again");
        assert_eq!(due.id, m.id);
        assert_eq!(due.state, "pending");
        assert_eq!(due.attempts, 1, "tries so far are kept");
        assert_eq!(due.last_error, "rejected", "kept until the next try");
        record(&c, &due, &Outcome::Delivered, &RetryPolicy::default()).expect("record");
        let delivered = get(&c, m.id).expect("get").expect("there");
        assert_eq!(delivered.state, "delivered");
        assert!(delivered.delivered_at.is_some());
        assert!(matches!(
            retry(&c, m.id),
            Err(ManageError::WrongState { ref state, .. }) if state == "delivered"
        ));
        assert!(matches!(
            discard(&c, m.id),
            Err(ManageError::WrongState { ref state, .. }) if state == "delivered"
        ));
    }

    #[test]
    fn a_discarded_message_is_never_due_again() {
        let (_dir, c) = db();
        enqueue(&c, &message("a")).expect("enqueue");
        let in_delivery = next_due(&c).expect("due").expect("one");
        let managed = discard(&c, in_delivery.id).expect("discard");
        assert_eq!(managed.previous_state, "pending");
        assert_eq!(managed.message.state, "discarded");
        assert!(next_due(&c).expect("due").is_none());
        assert_eq!(next_wake(&c).expect("wake"), None, "nothing to wake for");
        // The try that was under way fails: the message stays discarded.
        record(
            &c,
            &in_delivery,
            &Outcome::Dead("rejected".into()),
            &RetryPolicy::default(),
        )
        .expect("record");
        assert_eq!(
            get(&c, in_delivery.id).expect("get").expect("kept").state,
            "discarded"
        );
        assert!(matches!(
            retry(&c, in_delivery.id),
            Err(ManageError::WrongState { ref state, .. }) if state == "discarded"
        ));
        assert_eq!(
            discard(&c, in_delivery.id).expect("again").previous_state,
            "discarded"
        );
        assert_eq!(list(&c, Some("discarded"), 10).expect("list").len(), 1);
    }

    #[test]
    fn unknown_and_malformed_ids_are_told_apart() {
        let (_dir, c) = db();
        assert!(matches!(retry(&c, 99), Err(ManageError::NotFound(99))));
        assert!(matches!(discard(&c, 99), Err(ManageError::NotFound(99))));
        assert_eq!(parse_id(" 42 ").expect("number"), 42);
        assert!(matches!(parse_id("k1"), Err(ManageError::InvalidId(_))));
        assert!(get(&c, 99).expect("get").is_none());
    }
}
