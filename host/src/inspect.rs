//! `posd inspect`: read-only views of a state database, for posctl.
//!
//! posctl is a client of the daemon and does not link it (issue 18), but reading the books
//! and the outbox takes the daemon's own code: the ledger's and the journal's invariants,
//! the outbox's rows, the contract's times. So for the commands that read a database
//! directly — also with no daemon running — posctl runs `posd inspect VIEW --database FILE`:
//!
//! - `ledger-verify`: every invariant of the books (`posctl ledger verify`).
//! - `ledger-balance [ACCOUNT]`: balances, all or under a prefix (`posctl ledger balance`).
//! - `outbox-list [--state S] [--limit N]`: partner messages, newest first (`posctl outbox`).
//! - `outbox-show ID`: every field of one message (`posctl outbox show`).
//!
//! A view opens the database read-only (it never migrates, repairs or takes the state
//! directory's lock, so it runs beside a serving daemon), prints one JSON document on stdout
//! — the document `posctl --json` prints for the same command — and exits 0. A refusal
//! prints `{"error": NAME, "message": TEXT}` as one line on stderr and exits non-zero; the
//! names are [`InspectError::name`]. Nothing here is for people: posctl's commands are.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};

use crate::daemon::EXIT_IOERR;

/// The argument that makes the posd binary answer one view of a database and exit.
pub const INSPECT_ARG: &str = "inspect";

/// The exit status of a command line `posd inspect` does not take (sysexits' `EX_USAGE`).
pub const EXIT_USAGE: i32 = 64;

/// How long a view waits for a writer that holds the database (a checkpoint of the
/// serving daemon) before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The outbox states a message can be in, as `--state` takes them.
const OUTBOX_STATES: [&str; 4] = ["pending", "delivered", "dead", "discarded"];

/// Read-only views of a posd state database as JSON, for posctl.
#[derive(Debug, Parser)]
#[command(name = "posd inspect", version)]
pub struct InspectCli {
    /// What to read.
    #[command(subcommand)]
    pub view: View,
}

/// One view of a database: what posctl asks `posd inspect` for.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum View {
    /// Check every invariant of the books: SQLite's integrity check, each journal entry
    /// balanced, cached balances matching their postings, no account below its floor,
    /// receipts agreeing with the ledger and numbered without gaps. The first breach is a
    /// refusal naming the database.
    LedgerVerify {
        /// The state database file.
        #[arg(long, value_name = "FILE")]
        database: PathBuf,
    },
    /// Account balances: all, one account, or those under a prefix (`host:`, `vouchers:`).
    LedgerBalance {
        /// An account code or the start of one.
        account: Option<String>,
        /// The state database file.
        #[arg(long, value_name = "FILE")]
        database: PathBuf,
    },
    /// Partner messages, newest first.
    OutboxList {
        /// The state database file.
        #[arg(long, value_name = "FILE")]
        database: PathBuf,
        /// Only messages in this state: pending, delivered, dead or discarded.
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
        /// How many at most (1 to 10000).
        #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
        limit: i64,
    },
    /// Every field of one partner message, its times as the contract writes them.
    OutboxShow {
        /// The message id, as the list shows it.
        id: String,
        /// The state database file.
        #[arg(long, value_name = "FILE")]
        database: PathBuf,
    },
}

/// Why a view answered nothing. posctl shows the named refusals as it shows the daemon's
/// errors, and a database failure as a failure to reach what it asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    /// The database could not be opened or read: missing, unreadable, not a database.
    #[error("{0}")]
    Database(String),
    /// The books break an invariant; the message names the database and the first breach.
    #[error("{0}")]
    LedgerBreach(String),
    /// What was asked for is not in the database (an account, a message).
    #[error("{0}")]
    NotFound(String),
    /// An argument no database could answer (an outbox state or message id that cannot be).
    #[error("{0}")]
    InvalidArgument(String),
}

impl InspectError {
    /// The name on stderr: the contract's error name for a refusal the daemon would answer
    /// the same way over D-Bus, and `database` for a failure to read, which is no answer of
    /// the daemon's at all.
    pub fn name(&self) -> &'static str {
        match self {
            InspectError::Database(_) => "database",
            InspectError::LedgerBreach(_) => "org.posd.Error.LedgerBreach",
            InspectError::NotFound(_) => "org.posd.Error.NotFound",
            InspectError::InvalidArgument(_) => "org.posd.Error.InvalidArgument",
        }
    }

    /// The exit status: 1 for a refusal, as posctl exits for one, and `EX_IOERR` for a
    /// database that could not be read.
    pub fn exit_code(&self) -> i32 {
        match self {
            InspectError::Database(_) => EXIT_IOERR,
            _ => 1,
        }
    }
}

/// A failed read of an opened database: a database failure with SQLite's reason.
fn read_failed(e: rusqlite::Error) -> InspectError {
    InspectError::Database(e.to_string())
}

/// Runs `posd inspect ARGS` (`args` are what follows `inspect`) with the process's stdout
/// and stderr; the process's exit status.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    respond(
        args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// [`run`] writing to `out` and `err`: the document on `out`, a refusal as one JSON line on
/// `err`, clap's usage text on `err` (help and version on `out`).
pub fn respond(
    args: impl IntoIterator<Item = OsString>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> i32 {
    let words = std::iter::once(OsString::from("posd inspect")).chain(args);
    let cli = match InspectCli::try_parse_from(words) {
        Ok(cli) => cli,
        Err(e) => {
            let shown = e.render().to_string();
            return if e.use_stderr() {
                let _ = write!(err, "{shown}");
                EXIT_USAGE
            } else {
                let _ = write!(out, "{shown}");
                0
            };
        }
    };
    match answer(&cli.view) {
        Ok(document) => match writeln!(out, "{document}").and_then(|()| out.flush()) {
            Ok(()) => 0,
            Err(_) => EXIT_IOERR,
        },
        Err(e) => {
            let _ = writeln!(
                err,
                "{}",
                json!({ "error": e.name(), "message": e.to_string() })
            );
            e.exit_code()
        }
    }
}

/// The document of `view`.
pub fn answer(view: &View) -> Result<Value, InspectError> {
    match view {
        View::LedgerVerify { database } => ledger_verify(database),
        View::LedgerBalance { account, database } => ledger_balance(database, account.as_deref()),
        View::OutboxList {
            database,
            state,
            limit,
        } => outbox_list(database, state.as_deref(), *limit),
        View::OutboxShow { id, database } => outbox_show(database, id),
    }
}

/// Opens `database` read-only: a view never changes what it inspects, and never creates a
/// database where there is none.
pub fn open(database: &Path) -> Result<Connection, InspectError> {
    let conn = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| InspectError::Database(format!("{}: {e}", database.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(read_failed)?;
    Ok(conn)
}

/// `ledger-verify`: what was checked, or the first breach. The document: `ok`, `database`,
/// `entries`, `postings`, `accounts`, `receipts`, `receipts_booked`,
/// `receipts_before_ledger`, `sales_reversed`, `admin_entries`.
pub fn ledger_verify(database: &Path) -> Result<Value, InspectError> {
    let breach =
        |message: String| InspectError::LedgerBreach(format!("{}: {message}", database.display()));
    let conn = open(database)?;
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(read_failed)?;
    if check != "ok" {
        return Err(breach(format!("SQLite integrity check: {check}")));
    }
    let verified = crate::ledger::verify(&conn)
        .map_err(read_failed)?
        .map_err(|b| breach(b.to_string()))?;
    let receipts_checked = crate::sale::booking::verify(&conn, crate::config::minor_unit_of)
        .map_err(read_failed)?
        .map_err(breach)?;
    let registers: Vec<(String, i64, i64)> = conn
        .prepare("SELECT register, count(*), max(number) FROM receipts GROUP BY register")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(read_failed)?;
    let receipts: i64 = registers.iter().map(|(_, n, _)| n).sum();
    if let Some((register, count, max)) = registers.iter().find(|(_, n, max)| n != max) {
        return Err(breach(format!(
            "register {register}: {count} receipts but numbers up to {max}: the journal has a gap"
        )));
    }
    Ok(
        json!({ "ok": true, "database": database.display().to_string(),
               "entries": verified.entries, "postings": verified.postings,
               "accounts": verified.accounts, "receipts": receipts,
               "receipts_booked": receipts_checked.booked,
               "receipts_before_ledger": receipts_checked.before_ledger,
               "sales_reversed": receipts_checked.reversed,
               "admin_entries": receipts_checked.admin_entries }),
    )
}

/// `ledger-balance`: the accounts whose code is `account` or starts with it (all without
/// one), by code, each `account`, `kind`, `unit`, `balance` (a decimal string) and
/// `customer` (empty for none). A prefix no account has is [`InspectError::NotFound`].
pub fn ledger_balance(database: &Path, account: Option<&str>) -> Result<Value, InspectError> {
    let conn = open(database)?;
    let prefix = account.unwrap_or("");
    let rows: Vec<(String, String, String, String, Option<String>)> = conn
        .prepare(
            "SELECT code, kind, unit, balance, customer FROM ledger_accounts
             WHERE ?1 = '' OR code = ?1 OR substr(code, 1, length(?1)) = ?1 ORDER BY code",
        )
        .and_then(|mut stmt| {
            stmt.query_map([prefix], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(read_failed)?;
    if rows.is_empty() && !prefix.is_empty() {
        return Err(InspectError::NotFound(format!(
            "no account {prefix:?}; `posctl ledger balance` lists them all"
        )));
    }
    Ok(Value::Array(
        rows.into_iter()
            .map(|(code, kind, unit, balance, customer)| {
                json!({ "account": code, "kind": kind, "unit": unit, "balance": balance,
                        "customer": customer.unwrap_or_default() })
            })
            .collect(),
    ))
}

/// Refuses an outbox state no message can be in.
fn check_outbox_state(state: Option<&str>) -> Result<(), InspectError> {
    match state {
        Some(s) if !OUTBOX_STATES.contains(&s) => Err(InspectError::InvalidArgument(format!(
            "--state {s:?}: expected pending, delivered, dead or discarded"
        ))),
        _ => Ok(()),
    }
}

/// `outbox-list`: at most `limit` messages (kept within 1 and 10000) in `state` (or all),
/// newest first, each `id`, `plugin`, `destination`, `key`, `reference`, `state`,
/// `attempts`, `last_error` and `payload`.
pub fn outbox_list(
    database: &Path,
    state: Option<&str>,
    limit: i64,
) -> Result<Value, InspectError> {
    check_outbox_state(state)?;
    let conn = open(database)?;
    let messages =
        crate::outbox::list(&conn, state, limit.clamp(1, 10_000)).map_err(read_failed)?;
    Ok(Value::Array(
        messages
            .into_iter()
            .map(|m| {
                json!({ "id": m.id, "plugin": m.plugin, "destination": m.destination, "key": m.key,
                        "reference": m.reference, "state": m.state, "attempts": m.attempts,
                        "last_error": m.last_error, "payload": m.payload })
            })
            .collect(),
    ))
}

/// A time of the outbox (milliseconds since the epoch) as the contract writes times: RFC
/// 3339 in the till's local time.
fn outbox_time(ms: i64) -> String {
    crate::sale::time::local_rfc3339_ms(u128::try_from(ms).unwrap_or(0))
}

/// `outbox-show`: every field of message `id` as the list has them, and `created_at`,
/// `next_attempt` and `delivered_at` (null until delivered) as RFC 3339 local times. An id
/// that is no number is [`InspectError::InvalidArgument`], one no message has
/// [`InspectError::NotFound`], both worded as the daemon words them.
pub fn outbox_show(database: &Path, id: &str) -> Result<Value, InspectError> {
    let id =
        crate::outbox::parse_id(id).map_err(|e| InspectError::InvalidArgument(e.to_string()))?;
    let conn = open(database)?;
    let message = crate::outbox::get(&conn, id).map_err(read_failed)?;
    let Some(m) = message else {
        return Err(InspectError::NotFound(
            crate::outbox::ManageError::NotFound(id).to_string(),
        ));
    };
    Ok(
        json!({ "id": m.id, "plugin": m.plugin, "destination": m.destination, "key": m.key,
               "reference": m.reference, "state": m.state, "attempts": m.attempts,
               "last_error": m.last_error, "created_at": outbox_time(m.created_at),
               "next_attempt": outbox_time(m.next_attempt),
               "delivered_at": m.delivered_at.map(outbox_time), "payload": m.payload }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    /// A migrated state database, as a daemon leaves it; its directory and file.
    fn database() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("dir");
        drop(crate::store::open(dir.path(), Duration::from_secs(1)).expect("database"));
        let file = dir.path().join(crate::store::DATABASE_FILE);
        (dir, file)
    }

    /// A writing connection to `file`, as the daemon has.
    fn writer(file: &Path) -> Connection {
        let dir = file.parent().expect("a directory");
        crate::store::open(dir, Duration::from_secs(1)).expect("open")
    }

    fn posting(account: &str, amount: &str) -> crate::ledger::PostingSpec {
        crate::ledger::PostingSpec {
            account: account.into(),
            amount: amount.parse::<Decimal>().expect("decimal"),
            unit: "EUR".into(),
            kind: "voucher".into(),
            floor: None,
            customer: account.ends_with(":A").then(|| "C-1".to_string()),
            expires: None,
        }
    }

    /// A plugin's admin action that issued a voucher: one entry, two accounts.
    fn issue_voucher(file: &Path) {
        crate::ledger::post(
            &writer(file),
            crate::sale::checkout::ADMIN_ENTRY_KIND,
            "admin:vouchers:issue:1",
            "issued",
            &[
                posting("vouchers:voucher:A", "20.00"),
                posting("vouchers:issued", "-20.00"),
            ],
        )
        .expect("post");
    }

    fn message(file: &Path, key: &str, reference: &str) -> i64 {
        let conn = writer(file);
        crate::outbox::enqueue(
            &conn,
            &crate::outbox::NewMessage {
                plugin: "partner".into(),
                destination: "payback".into(),
                key: key.into(),
                payload: json!({ "points": 4 }),
                reference: reference.into(),
            },
        )
        .expect("enqueue");
        conn.query_row("SELECT id FROM outbox WHERE key = ?1", [key], |r| r.get(0))
            .expect("id")
    }

    #[test]
    fn verified_books_say_what_was_checked_in_which_database() {
        let (_dir, file) = database();
        issue_voucher(&file);
        let answer = ledger_verify(&file).expect("the books are right");
        assert_eq!(answer["ok"], true);
        assert_eq!(answer["database"], file.display().to_string());
        assert_eq!(
            (&answer["entries"], &answer["postings"], &answer["accounts"]),
            (&json!(1), &json!(2), &json!(2))
        );
        assert_eq!(answer["receipts"], 0);
        assert_eq!(answer["admin_entries"], 1);
    }

    #[test]
    fn a_balance_that_disagrees_with_its_postings_is_a_breach_naming_the_database() {
        let (_dir, file) = database();
        issue_voucher(&file);
        writer(&file)
            .execute(
                "UPDATE ledger_accounts SET balance = '99.00' WHERE code = 'vouchers:voucher:A'",
                [],
            )
            .expect("tamper");
        let breach = ledger_verify(&file).expect_err("a breach");
        assert_eq!(breach.name(), "org.posd.Error.LedgerBreach");
        assert_eq!(breach.exit_code(), 1);
        let text = breach.to_string();
        assert!(
            text.starts_with(&format!("{}: ", file.display()))
                && text.contains("vouchers:voucher:A"),
            "{text}"
        );
    }

    #[test]
    fn balances_are_listed_by_prefix_and_an_unknown_account_is_not_found() {
        let (_dir, file) = database();
        issue_voucher(&file);
        let all = ledger_balance(&file, None).expect("all");
        assert_eq!(
            all,
            json!([
                { "account": "vouchers:issued", "kind": "voucher", "unit": "EUR",
                  "balance": "-20.00", "customer": "" },
                { "account": "vouchers:voucher:A", "kind": "voucher", "unit": "EUR",
                  "balance": "20.00", "customer": "C-1" },
            ])
        );
        let some = ledger_balance(&file, Some("vouchers:voucher:")).expect("prefix");
        assert_eq!(some.as_array().map(Vec::len), Some(1), "{some}");
        let missing = ledger_balance(&file, Some("points:")).expect_err("none");
        assert_eq!(missing.name(), "org.posd.Error.NotFound");
        assert!(missing.to_string().contains("\"points:\""), "{missing}");
        assert_eq!(
            ledger_balance(&database().1, None).expect("empty books"),
            json!([])
        );
    }

    #[test]
    fn the_outbox_lists_newest_first_by_state_and_refuses_states_there_are_not() {
        let (_dir, file) = database();
        let first = message(&file, "k1", "0001-01-000001");
        let second = message(&file, "k2", "0001-01-000002");
        writer(&file)
            .execute("UPDATE outbox SET state = 'dead' WHERE id = ?1", [first])
            .expect("a dead letter");
        let all = outbox_list(&file, None, 50).expect("all");
        assert_eq!(all[0]["id"], second);
        assert_eq!(all[1]["id"], first);
        assert_eq!(all[0]["payload"]["points"], 4);
        let dead = outbox_list(&file, Some("dead"), 50).expect("dead");
        assert_eq!(dead.as_array().map(Vec::len), Some(1), "{dead}");
        assert_eq!(dead[0]["key"], "k1");
        // A limit below one still shows the newest message.
        assert_eq!(
            outbox_list(&file, None, -5)
                .expect("one")
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        let refused = outbox_list(&file, Some("lost"), 50).expect_err("no such state");
        assert_eq!(refused.name(), "org.posd.Error.InvalidArgument");
        assert!(refused.to_string().contains("\"lost\""), "{refused}");
    }

    #[test]
    fn one_message_shows_its_times_and_bad_or_unknown_ids_are_refused_by_name() {
        let (_dir, file) = database();
        let id = message(&file, "k1", "0001-01-000001");
        let shown = outbox_show(&file, &format!(" {id} ")).expect("shown");
        assert_eq!(shown["id"], id);
        assert_eq!(shown["state"], "pending");
        assert!(shown["delivered_at"].is_null(), "{shown}");
        let created = shown["created_at"].as_str().expect("a time");
        assert!(
            created.len() == "2026-11-24T12:17:13.042+01:00".len() && created.contains('T'),
            "RFC 3339 with its offset: {created}"
        );
        let unknown = outbox_show(&file, "999").expect_err("no such message");
        assert_eq!(unknown.name(), "org.posd.Error.NotFound");
        assert_eq!(
            unknown.to_string(),
            crate::outbox::ManageError::NotFound(999).to_string()
        );
        let bad = outbox_show(&file, "k1").expect_err("not an id");
        assert_eq!(bad.name(), "org.posd.Error.InvalidArgument");
    }

    #[test]
    fn a_missing_database_is_a_database_failure_and_is_not_created() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join(crate::store::DATABASE_FILE);
        let failure = ledger_verify(&file).expect_err("nothing to read");
        assert_eq!(failure.name(), "database");
        assert_eq!(failure.exit_code(), EXIT_IOERR);
        assert!(
            failure.to_string().starts_with(&file.display().to_string()),
            "{failure}"
        );
        assert!(!file.exists(), "a view creates nothing");
    }

    #[test]
    fn a_view_cannot_write_to_what_it_inspects() {
        let (_dir, file) = database();
        let conn = open(&file).expect("open");
        assert!(conn.execute("DELETE FROM outbox", []).is_err(), "read-only");
    }

    #[test]
    fn the_command_line_answers_json_on_stdout_and_refusals_as_one_json_line_on_stderr() {
        let (_dir, file) = database();
        let id = message(&file, "k1", "R1");
        let mut database = OsString::from("--database=");
        database.push(&file);
        let call = |words: &[OsString]| {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let code = respond(words.iter().cloned(), &mut out, &mut err);
            (
                code,
                String::from_utf8(out).expect("utf-8"),
                String::from_utf8(err).expect("utf-8"),
            )
        };
        let words = |list: &[&str]| -> Vec<OsString> {
            let mut all: Vec<OsString> = list.iter().map(OsString::from).collect();
            all.insert(1, database.clone());
            all
        };
        let (code, out, err) = call(&words(&["outbox-list", "--limit=-3", "--state=pending"]));
        assert_eq!((code, err.as_str()), (0, ""));
        let listed: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(listed[0]["id"], id);
        let (code, out, err) = call(&words(&["outbox-show", "--", "-3"]));
        assert_eq!((code, out.as_str()), (1, ""));
        assert_eq!(err.lines().count(), 1, "{err}");
        let refusal: Value = serde_json::from_str(&err).expect("JSON");
        assert_eq!(refusal["error"], "org.posd.Error.NotFound");
        assert!(
            refusal["message"]
                .as_str()
                .is_some_and(|m| m.contains("-3")),
            "{refusal}"
        );
        let (code, out, _) = call(&words(&["ledger-balance", "--", "vouchers:"]));
        assert_eq!(code, 1, "{out}");
        let (code, _, err) = call(&[OsString::from("no-such-view")]);
        assert_eq!(code, EXIT_USAGE);
        assert!(err.contains("no-such-view"), "{err}");
    }
}
