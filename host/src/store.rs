//! The state database: one SQLite file that holds everything posd must not lose.
//!
//! Open sales, the ledger, the receipt journal, the print queue, the outbox and the plugins'
//! key-value data all live here, so one transaction can commit a whole checkout and one backup
//! holds the till's complete state. The file is opened in WAL mode with `synchronous=FULL`
//! (a commit that returned is on disk), foreign keys on and a busy timeout.
//!
//! The schema is versioned with `PRAGMA user_version`. Migrations run at start, each in one
//! transaction together with the version bump, so a crash mid-migration leaves the previous
//! version intact. A database written by a newer posd is refused rather than guessed at.
//!
//! [`Database`] owns the connection on a thread of its own, so SQLite's blocking calls never
//! stall the async runtime; callers send it closures.
//!
//! The WAL is written with zeros up to the size it reaches between two checkpoints
//! ([`zero_fill_wal`]) when the thread starts and after every truncation. SQLite restarts
//! the WAL from its beginning after a checkpoint and never shrinks it, so on a till that has
//! run a while every commit overwrites blocks the file already has; a fresh or truncated WAL
//! would instead grow with every commit, and an `fsync` that must also journal the file's
//! new size and blocks took twice as long here (about 240 µs against 115 µs for the same
//! 4 KiB frame) — the largest share of a basket change. Writing real zeros, not
//! `fallocate`, is what makes the blocks count as written; PostgreSQL's `wal_init_zero` does
//! the same for the same reason. SQLite reads a WAL only up to its first frame whose salt and
//! checksum do not match its header, so the zeros are never taken for frames.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer posd whose schema this build does not know.
    #[error(
        "database {path} has schema version {found}, but this posd knows versions up to {supported}: \
         it was written by a newer posd. Install that version again, or restore a backup made by this one"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Version found in the file.
        found: i64,
        /// Highest version this build can migrate to.
        supported: i64,
    },
    /// The state directory could not be created or used.
    #[error("state directory {path}: {reason}")]
    StateDirectory {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A backup could not be written or did not verify.
    #[error("backup to {path}: {reason}")]
    Backup {
        /// The backup file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The database thread is gone (it panicked or the daemon is shutting down).
    #[error("the database thread has stopped")]
    Stopped,
}

/// Result of database work.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// File name of the database inside the state directory.
pub use posd_client::connect::DATABASE_FILE;

/// One schema step. `sql` runs inside the migration's transaction.
struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

/// Every schema step, oldest first. Append only: a released migration never changes.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "database identity and migration history",
        sql: "
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY NOT NULL,
            value TEXT NOT NULL
        ) STRICT;
        CREATE TABLE schema_history (
            version      INTEGER PRIMARY KEY NOT NULL,
            description  TEXT NOT NULL,
            applied_at   TEXT NOT NULL,
            posd_version TEXT NOT NULL
        ) STRICT;
        INSERT INTO meta (key, value)
            VALUES ('database_id', lower(hex(randomblob(16)))),
                   ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    ",
    },
    Migration {
        version: 2,
        description: "durable print queue",
        sql: "
        CREATE TABLE print_jobs (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            device      TEXT NOT NULL,
            kind        TEXT NOT NULL,
            reference   TEXT NOT NULL DEFAULT '',
            bytes       BLOB NOT NULL,
            state       TEXT NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'printed', 'failed')),
            attempts    INTEGER NOT NULL DEFAULT 0,
            last_error  TEXT NOT NULL DEFAULT '',
            created_at  TEXT NOT NULL,
            finished_at TEXT
        ) STRICT;
        CREATE INDEX print_jobs_waiting ON print_jobs (device, id) WHERE state = 'queued';
    ",
    },
    Migration {
        version: 3,
        description: "plugin storage and the ledger",
        sql: "
        CREATE TABLE plugin_settings (
            plugin  TEXT PRIMARY KEY NOT NULL,
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1))
        ) STRICT;
        CREATE TABLE plugin_kv (
            plugin TEXT NOT NULL,
            key    TEXT NOT NULL,
            value  TEXT NOT NULL,
            PRIMARY KEY (plugin, key)
        ) STRICT;
        CREATE TABLE ledger_accounts (
            id         INTEGER PRIMARY KEY,
            code       TEXT NOT NULL UNIQUE,
            owner      TEXT NOT NULL,
            kind       TEXT NOT NULL,
            unit       TEXT NOT NULL,
            floor      TEXT,
            customer   TEXT,
            balance    TEXT NOT NULL,
            created_at TEXT NOT NULL
        ) STRICT;
        CREATE INDEX ledger_accounts_customer ON ledger_accounts (customer) WHERE customer IS NOT NULL;
        CREATE TABLE ledger_entries (
            id        INTEGER PRIMARY KEY,
            time      TEXT NOT NULL,
            kind      TEXT NOT NULL,
            reference TEXT NOT NULL,
            memo      TEXT NOT NULL
        ) STRICT;
        CREATE INDEX ledger_entries_reference ON ledger_entries (reference);
        CREATE TABLE ledger_postings (
            id         INTEGER PRIMARY KEY,
            entry_id   INTEGER NOT NULL REFERENCES ledger_entries (id),
            account_id INTEGER NOT NULL REFERENCES ledger_accounts (id),
            amount     TEXT NOT NULL,
            expires    TEXT
        ) STRICT;
        CREATE INDEX ledger_postings_account ON ledger_postings (account_id, id);
        CREATE INDEX ledger_postings_entry ON ledger_postings (entry_id);
        CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings
            BEGIN SELECT RAISE(ABORT, 'ledger postings are append-only'); END;
        CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings
            BEGIN SELECT RAISE(ABORT, 'ledger postings are append-only'); END;
        CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
            BEGIN SELECT RAISE(ABORT, 'journal entries are append-only'); END;
        CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
            BEGIN SELECT RAISE(ABORT, 'journal entries are append-only'); END;
    ",
    },
    Migration {
        version: 4,
        description: "outbox of partner messages",
        sql: "
        CREATE TABLE outbox (
            id           INTEGER PRIMARY KEY,
            plugin       TEXT NOT NULL,
            destination  TEXT NOT NULL,
            key          TEXT NOT NULL,
            payload      TEXT NOT NULL,
            reference    TEXT NOT NULL,
            state        TEXT NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'delivered', 'dead')),
            attempts     INTEGER NOT NULL DEFAULT 0,
            next_attempt INTEGER NOT NULL,
            created_at   INTEGER NOT NULL,
            delivered_at INTEGER,
            last_error   TEXT NOT NULL DEFAULT '',
            UNIQUE (plugin, key)
        ) STRICT;
        CREATE INDEX outbox_due ON outbox (next_attempt) WHERE state = 'pending';
    ",
    },
    Migration {
        version: 5,
        description: "open sales, the receipt journal and idempotency keys",
        sql: "
        CREATE TABLE sales (
            id         TEXT PRIMARY KEY NOT NULL,
            state      TEXT NOT NULL CHECK (state IN ('open', 'completed', 'cancelled')),
            document   TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) STRICT;
        CREATE INDEX sales_open ON sales (id) WHERE state = 'open';
        CREATE TABLE receipts (
            id        TEXT PRIMARY KEY NOT NULL,
            register  TEXT NOT NULL,
            number    INTEGER NOT NULL,
            kind      TEXT NOT NULL CHECK (kind IN ('sale', 'void', 'return')),
            original  TEXT NOT NULL,
            sale_id   TEXT NOT NULL,
            time      TEXT NOT NULL,
            customer  TEXT NOT NULL,
            total     TEXT NOT NULL,
            document  TEXT NOT NULL,
            UNIQUE (register, number)
        ) STRICT;
        CREATE INDEX receipts_original ON receipts (original) WHERE original != '';
        CREATE INDEX receipts_customer ON receipts (customer, time) WHERE customer != '';
        CREATE TRIGGER receipts_no_update BEFORE UPDATE ON receipts
            BEGIN SELECT RAISE(ABORT, 'receipts are immutable'); END;
        CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts
            BEGIN SELECT RAISE(ABORT, 'receipts are immutable'); END;
        CREATE TABLE idempotency (
            key          TEXT PRIMARY KEY NOT NULL,
            operation    TEXT NOT NULL,
            request      TEXT NOT NULL,
            result       TEXT NOT NULL,
            created_at   TEXT NOT NULL
        ) STRICT;
    ",
    },
    Migration {
        version: 6,
        description: "the till's day: receipts of day events, each receipt's day, the days",
        sql: "
        CREATE TABLE receipts_v6 (
            id        TEXT PRIMARY KEY NOT NULL,
            register  TEXT NOT NULL,
            number    INTEGER NOT NULL,
            kind      TEXT NOT NULL
                      CHECK (kind IN ('sale', 'void', 'return', 'day_open', 'cash_in', 'cash_out', 'z')),
            original  TEXT NOT NULL,
            sale_id   TEXT NOT NULL,
            time      TEXT NOT NULL,
            customer  TEXT NOT NULL,
            total     TEXT NOT NULL,
            document  TEXT NOT NULL,
            day       TEXT NOT NULL DEFAULT '',
            booked    INTEGER NOT NULL DEFAULT 1 CHECK (booked IN (0, 1)),
            UNIQUE (register, number)
        ) STRICT;
        -- Receipts from before: their money was not booked in the ledger yet.
        INSERT INTO receipts_v6 (id, register, number, kind, original, sale_id, time, customer, total, document, day, booked)
            SELECT id, register, number, kind, original, sale_id, time, customer, total, document, '', 0 FROM receipts;
        DROP TABLE receipts;
        ALTER TABLE receipts_v6 RENAME TO receipts;
        CREATE INDEX receipts_original ON receipts (original) WHERE original != '';
        CREATE INDEX receipts_customer ON receipts (customer, time) WHERE customer != '';
        CREATE INDEX receipts_day ON receipts (day, number) WHERE day != '';
        CREATE TRIGGER receipts_no_update BEFORE UPDATE ON receipts
            BEGIN SELECT RAISE(ABORT, 'receipts are immutable'); END;
        CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts
            BEGIN SELECT RAISE(ABORT, 'receipts are immutable'); END;
        CREATE TABLE days (
            id           TEXT PRIMARY KEY NOT NULL,
            register     TEXT NOT NULL,
            number       INTEGER NOT NULL,
            opened_at    TEXT NOT NULL,
            float        TEXT NOT NULL,
            open_receipt TEXT NOT NULL,
            closed_at    TEXT,
            z_receipt    TEXT,
            counted      TEXT,
            difference   TEXT,
            expected     TEXT,
            UNIQUE (register, number)
        ) STRICT;
        CREATE UNIQUE INDEX days_one_open ON days (register) WHERE closed_at IS NULL;
    ",
    },
    Migration {
        version: 7,
        description: "a sale's lines in rows of their own, so a basket change writes only what changed",
        sql: "
        CREATE TABLE sale_lines (
            sale_id  TEXT NOT NULL REFERENCES sales (id),
            position INTEGER NOT NULL CHECK (position >= 0),
            document TEXT NOT NULL,
            PRIMARY KEY (sale_id, position)
        ) STRICT, WITHOUT ROWID;
        INSERT INTO sale_lines (sale_id, position, document)
            SELECT sales.id, CAST(line.key AS INTEGER), line.value
            FROM sales, json_each(sales.document, '$.lines') AS line;
        UPDATE sales SET document = json_set(document, '$.lines', json('[]'));
    ",
    },
    Migration {
        version: 8,
        description: "a sale's line rows keyed by line id, their order in the head, so a line added or gone rewrites no other line",
        sql: "
        CREATE TABLE sale_lines_by_id (
            sale_id  TEXT NOT NULL REFERENCES sales (id),
            line_id  TEXT NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (sale_id, line_id)
        ) STRICT, WITHOUT ROWID;
        INSERT INTO sale_lines_by_id (sale_id, line_id, document)
            SELECT sale_id, json_extract(document, '$.id'), document FROM sale_lines;
        UPDATE sales SET document = json_set(document, '$.line_order', json((
                SELECT json_group_array(json_extract(l.document, '$.id') ORDER BY l.position)
                FROM sale_lines l WHERE l.sale_id = sales.id)))
            WHERE EXISTS (SELECT 1 FROM sale_lines l WHERE l.sale_id = sales.id);
        DROP TABLE sale_lines;
        ALTER TABLE sale_lines_by_id RENAME TO sale_lines;
    ",
    },
    Migration {
        version: 9,
        description: "outbox messages a technician discarded: state 'discarded', kept for the record",
        // SQLite cannot change a CHECK constraint in place: the table is built anew with the
        // wider one and the rows copied over, ids and all.
        sql: "
        CREATE TABLE outbox_with_discarded (
            id           INTEGER PRIMARY KEY,
            plugin       TEXT NOT NULL,
            destination  TEXT NOT NULL,
            key          TEXT NOT NULL,
            payload      TEXT NOT NULL,
            reference    TEXT NOT NULL,
            state        TEXT NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'delivered', 'dead', 'discarded')),
            attempts     INTEGER NOT NULL DEFAULT 0,
            next_attempt INTEGER NOT NULL,
            created_at   INTEGER NOT NULL,
            delivered_at INTEGER,
            last_error   TEXT NOT NULL DEFAULT '',
            UNIQUE (plugin, key)
        ) STRICT;
        INSERT INTO outbox_with_discarded (id, plugin, destination, key, payload, reference,
                state, attempts, next_attempt, created_at, delivered_at, last_error)
            SELECT id, plugin, destination, key, payload, reference,
                state, attempts, next_attempt, created_at, delivered_at, last_error
            FROM outbox;
        DROP TABLE outbox;
        ALTER TABLE outbox_with_discarded RENAME TO outbox;
        CREATE INDEX outbox_due ON outbox (next_attempt) WHERE state = 'pending';
    ",
    },
];

/// The schema version this build migrates to.
pub fn schema_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Opens (creating if needed) the database in `state_dir`, applies pending migrations and
/// returns the connection.
pub fn open(state_dir: &Path, busy_timeout: Duration) -> Result<Connection> {
    std::fs::create_dir_all(state_dir).map_err(|e| StoreError::StateDirectory {
        path: state_dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let path = state_dir.join(DATABASE_FILE);
    let sqlite = |source| StoreError::Sqlite {
        path: path.clone(),
        source,
    };
    let mut conn = Connection::open(&path).map_err(sqlite)?;
    configure(&conn, busy_timeout).map_err(sqlite)?;
    migrate(&mut conn, &path)?;
    Ok(conn)
}

fn configure(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(busy_timeout)?;
    // Every statement of a checkout stays prepared between checkouts.
    conn.set_prepared_statement_cache_capacity(64);
    // journal_mode answers with the mode in force; WAL is persistent in the file.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "SQLite refused WAL mode; running with {mode}");
    }
    // secure_delete: deleted and overwritten content is zeroed, so a printed secret slip's
    // bytes (print_queue::mark_printed) leave no copy in a free page.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
    )?;
    Ok(())
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let sqlite = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sqlite)?;
    let supported = schema_version();
    if found > supported {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            supported,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        // IMMEDIATE: take the write lock before reading, so two processes never both migrate.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let current: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sqlite)?;
        if current >= migration.version {
            continue;
        }
        tx.execute_batch(migration.sql).map_err(sqlite)?;
        tx.execute(
            "INSERT INTO schema_history (version, description, applied_at, posd_version)
             VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?3)",
            rusqlite::params![
                migration.version,
                migration.description,
                env!("CARGO_PKG_VERSION")
            ],
        )
        .map_err(sqlite)?;
        // PRAGMA takes no bound parameters; the version is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", migration.version))
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        tracing::info!(
            version = migration.version,
            "migrated database: {}",
            migration.description
        );
    }
    Ok(())
}

/// Reads one value from the `meta` table.
pub fn meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

/// Writes a consistent copy of the live database at `source` to `target`, while the daemon
/// may keep writing. Uses SQLite's online backup API in steps, so writers are held up for one
/// step at a time only. The copy is written beside the target and renamed into place after it
/// passed `PRAGMA integrity_check`, so a failed backup never leaves a half-written file under
/// the target's name.
pub fn backup(source: &Path, target: &Path) -> Result<BackupReport> {
    let fail = |reason: String| StoreError::Backup {
        path: target.to_path_buf(),
        reason,
    };
    if !source.exists() {
        return Err(fail(format!(
            "there is no database at {}",
            source.display()
        )));
    }
    let from = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| fail(e.to_string()))?;
    from.busy_timeout(Duration::from_secs(10))
        .map_err(|e| fail(e.to_string()))?;
    let file_name = target
        .file_name()
        .ok_or_else(|| fail("the target is not a file name".into()))?;
    let partial = target.with_file_name(format!(".{}.partial", file_name.to_string_lossy()));
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        let mut to = Connection::open(&partial).map_err(|e| e.to_string())?;
        {
            let backup =
                rusqlite::backup::Backup::new(&from, &mut to).map_err(|e| e.to_string())?;
            backup
                .run_to_completion(256, Duration::from_millis(5), None)
                .map_err(|e| e.to_string())?;
        }
        // The copy is a plain rollback-journal file: one file to carry away, no -wal beside it.
        to.pragma_update(None, "journal_mode", "DELETE")
            .map_err(|e| e.to_string())?;
        let check: String = to
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if check != "ok" {
            return Err(format!("the copy failed its integrity check: {check}"));
        }
        let version: i64 = to
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        let pages: i64 = to
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        drop(to);
        std::fs::rename(&partial, target).map_err(|e| e.to_string())?;
        Ok(BackupReport {
            schema_version: version,
            pages,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.map_err(fail)
}

/// What a backup wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupReport {
    /// Schema version of the copy.
    pub schema_version: i64,
    /// Database pages copied.
    pub pages: i64,
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

enum Request {
    Run(Job),
    TruncateWal,
    Close(tokio::sync::oneshot::Sender<()>),
}

/// The WAL's size between two automatic checkpoints: its header and
/// `wal_autocheckpoint` frames of one page and a 24-byte frame header each, plus one frame
/// for the commit that crosses the threshold.
fn wal_working_size(conn: &Connection) -> rusqlite::Result<u64> {
    let page_size: u32 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    // 0 or less: automatic checkpoints are off, and no size is the working size.
    let frames: i64 = conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?;
    let Ok(frames) = u64::try_from(frames) else {
        return Ok(0);
    };
    if frames == 0 {
        return Ok(0);
    }
    Ok(32 + (frames + 1) * (u64::from(page_size) + 24))
}

/// Writes zeros from the end of the database's WAL up to [`wal_working_size`], so that the
/// commits until the WAL next restarts overwrite blocks the file has instead of growing it
/// (see the module's documentation). Run on the database thread between transactions, in WAL
/// mode only; a WAL already that large is left alone. A failure costs speed, not data, and is
/// logged.
pub fn zero_fill_wal(conn: &Connection, database: &Path) {
    use std::io::Write;
    let result = (|| -> std::result::Result<(), String> {
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        let target = wal_working_size(conn).map_err(|e| e.to_string())?;
        let mut wal_name = database.as_os_str().to_owned();
        wal_name.push("-wal");
        let wal = PathBuf::from(wal_name);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&wal)
            .map_err(|e| format!("{}: {e}", wal.display()))?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        if len >= target {
            return Ok(());
        }
        const CHUNK: usize = 64 * 1024;
        let zeros = vec![0u8; CHUNK];
        let mut left = target - len;
        while left > 0 {
            let n = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            file.write_all(&zeros[..n]).map_err(|e| e.to_string())?;
            left -= n as u64;
        }
        file.sync_all().map_err(|e| e.to_string())
    })();
    if let Err(e) = result {
        tracing::warn!("writing the WAL's zeros ahead (commits will be slower): {e}");
    }
}

/// How often the database thread tries again to truncate a WAL that readers kept busy.
const WAL_RETRY: Duration = Duration::from_millis(200);

/// Folds the WAL into the main file and truncates it; `false` when a reader kept it busy
/// (the caller tries again) or it failed (logged).
fn truncate_wal_now(conn: &Connection) -> bool {
    match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(busy) => busy == 0,
        Err(e) => {
            tracing::warn!("truncating the WAL: {e}");
            false
        }
    }
}

/// Handle to the database thread. Cloning is cheap; the thread ends when
/// [`Database::close`] is called or the last handle is dropped.
#[derive(Clone)]
pub struct Database {
    jobs: mpsc::Sender<Request>,
    path: PathBuf,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.path)
            .finish()
    }
}

impl Database {
    /// Opens and migrates the database on a new thread, returning once it is usable.
    pub fn start(state_dir: &Path, busy_timeout: Duration) -> Result<Self> {
        let path = state_dir.join(DATABASE_FILE);
        let (ready_tx, ready_rx) = mpsc::channel();
        let (jobs, job_rx) = mpsc::channel::<Request>();
        let dir = state_dir.to_path_buf();
        std::thread::Builder::new()
            .name("posd-db".into())
            .spawn(move || {
                let database = dir.join(DATABASE_FILE);
                let mut conn = match open(&dir, busy_timeout) {
                    Ok(conn) => {
                        zero_fill_wal(&conn, &database);
                        let _ = ready_tx.send(Ok(()));
                        conn
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let mut closed = None;
                // A truncation asked for and not yet done (readers kept the WAL busy).
                let mut wal_pending = false;
                let mut tries = 0u32;
                loop {
                    let request = if wal_pending {
                        match job_rx.recv_timeout(WAL_RETRY) {
                            Ok(request) => Some(request),
                            Err(mpsc::RecvTimeoutError::Timeout) => None,
                            Err(mpsc::RecvTimeoutError::Disconnected) => break,
                        }
                    } else {
                        match job_rx.recv() {
                            Ok(request) => Some(request),
                            Err(_) => break,
                        }
                    };
                    match request {
                        Some(Request::Run(job)) => {
                            job(&mut conn);
                            continue;
                        }
                        Some(Request::TruncateWal) => wal_pending = true,
                        Some(Request::Close(ack)) => {
                            closed = Some(ack);
                            break;
                        }
                        None => {}
                    }
                    if wal_pending {
                        if truncate_wal_now(&conn) {
                            wal_pending = false;
                            tries = 0;
                            zero_fill_wal(&conn, &database);
                        } else {
                            tries += 1;
                            if tries == 10 {
                                tracing::warn!(
                                    "the WAL still holds a printed secret slip: readers keep it busy; trying every {} ms",
                                    WAL_RETRY.as_millis()
                                );
                            }
                        }
                    }
                }
                // Fold the WAL back into the main file so that after a clean stop the state
                // directory holds one self-contained file.
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                    tracing::warn!("final WAL checkpoint failed: {e}");
                }
                if let Err((_, e)) = conn.close() {
                    tracing::warn!("closing the database failed: {e}");
                }
                if let Some(ack) = closed {
                    let _ = ack.send(());
                }
            })
            .map_err(|e| StoreError::StateDirectory {
                path: state_dir.to_path_buf(),
                reason: format!("cannot start the database thread: {e}"),
            })?;
        ready_rx.recv().map_err(|_| StoreError::Stopped)??;
        Ok(Self { jobs, path })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the database thread and waits for its answer without blocking the runtime.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.submit(f)?.await
    }

    /// Queues `f` for the database thread now and returns what waits for its answer, so the
    /// caller can do other work while SQLite runs (and syncs) it. Jobs run in the order they
    /// were queued, whenever their answers are awaited.
    pub fn submit<T, F>(&self, f: F) -> Result<impl Future<Output = Result<T>> + use<T, F>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.run(f, move |result| {
            let _ = tx.send(result);
        })?;
        Ok(async move { rx.await.map_err(|_| StoreError::Stopped)? })
    }

    /// Has the database thread fold the WAL into the main file and truncate it, trying again
    /// every 200 ms while readers keep it busy: a printed secret slip's wiped bytes must not
    /// stay behind in the WAL. Returns at once.
    pub fn truncate_wal(&self) {
        let _ = self.jobs.send(Request::TruncateWal);
    }

    /// Runs `f` on the database thread and blocks until it answered. For the device threads,
    /// which are not async; never call it from the async runtime.
    pub fn call_blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        self.run(f, move |result| {
            let _ = tx.send(result);
        })?;
        rx.recv().map_err(|_| StoreError::Stopped)?
    }

    /// Queues `f` for the database thread, which hands its result to `answer`.
    fn run<T, F>(&self, f: F, answer: impl FnOnce(Result<T>) + Send + 'static) -> Result<()>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let path = self.path.clone();
        let job: Job = Box::new(move |conn| {
            answer(f(conn).map_err(|source| StoreError::Sqlite { path, source }));
        });
        self.jobs
            .send(Request::Run(job))
            .map_err(|_| StoreError::Stopped)
    }

    /// Runs every job sent before, checkpoints the WAL and closes the file. Calls made
    /// afterwards through other handles fail with [`StoreError::Stopped`].
    pub async fn close(self) -> Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Request::Close(tx))
            .map_err(|_| StoreError::Stopped)?;
        rx.await.map_err(|_| StoreError::Stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_database_is_migrated_and_configured() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = open(dir.path(), Duration::from_secs(1)).expect("opens");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, schema_version());
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("sync");
        assert_eq!(sync, 2, "synchronous=FULL");
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .expect("fk");
        assert_eq!(fk, 1);
        assert!(meta(&conn, "database_id").expect("meta").is_some());
        let history: i64 = conn
            .query_row("SELECT count(*) FROM schema_history", [], |r| r.get(0))
            .expect("history");
        assert_eq!(history, schema_version());
    }

    #[test]
    fn reopening_keeps_data_and_does_not_migrate_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let id = {
            let conn = open(dir.path(), Duration::from_secs(1)).expect("opens");
            meta(&conn, "database_id").expect("meta")
        };
        let conn = open(dir.path(), Duration::from_secs(1)).expect("reopens");
        assert_eq!(meta(&conn, "database_id").expect("meta"), id);
    }

    #[test]
    fn newer_schema_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().expect("temp dir");
        drop(open(dir.path(), Duration::from_secs(1)).expect("opens"));
        let path = dir.path().join(DATABASE_FILE);
        let newer = schema_version() + 5;
        Connection::open(&path)
            .expect("raw open")
            .execute_batch(&format!("PRAGMA user_version = {newer}"))
            .expect("bump");
        let err = open(dir.path(), Duration::from_secs(1)).expect_err("refused");
        assert!(matches!(err, StoreError::TooNew { found, .. } if found == newer));
        assert!(err.to_string().contains("newer posd"), "{err}");
        let still: i64 = Connection::open(&path)
            .expect("raw open")
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(still, newer);
    }

    #[test]
    fn backup_is_consistent_and_complete() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = open(dir.path(), Duration::from_secs(1)).expect("opens");
        conn.execute("INSERT INTO meta (key, value) VALUES ('probe', 'kept')", [])
            .expect("insert");
        let target = dir.path().join("copy.sqlite3");
        let report = backup(&dir.path().join(DATABASE_FILE), &target).expect("backup");
        assert_eq!(report.schema_version, schema_version());
        let copy = Connection::open(&target).expect("copy opens");
        assert_eq!(meta(&copy, "probe").expect("meta").as_deref(), Some("kept"));
        assert!(!dir.path().join(".copy.sqlite3.partial").exists());
    }

    #[test]
    fn backup_of_missing_database_fails_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("copy.sqlite3");
        let err = backup(&dir.path().join(DATABASE_FILE), &target).expect_err("fails");
        assert!(err.to_string().contains("no database"), "{err}");
        assert!(!target.exists());
    }

    #[tokio::test]
    async fn database_thread_runs_jobs_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::start(dir.path(), Duration::from_secs(1)).expect("starts");
        db.call(|c| c.execute("INSERT INTO meta (key, value) VALUES ('a', '1')", []))
            .await
            .expect("insert");
        let value = db.call(|c| meta(c, "a")).await.expect("select");
        assert_eq!(value.as_deref(), Some("1"));
        let other = db.clone();
        db.close().await.expect("close");
        assert!(matches!(
            other.call(|_| Ok(())).await,
            Err(StoreError::Stopped)
        ));
        let wal = dir.path().join(format!("{DATABASE_FILE}-wal"));
        assert!(
            !wal.exists() || std::fs::metadata(&wal).expect("wal").len() == 0,
            "the WAL is folded back on close"
        );
    }

    /// The WAL is written with zeros up to its working size when the database thread starts,
    /// and a copy of the files taken at any moment (what a power cut leaves) opens with every
    /// committed row: SQLite takes the zeros for the WAL's end, never for frames.
    #[tokio::test]
    async fn the_wal_is_zeroed_ahead_and_a_crash_image_keeps_every_commit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::start(dir.path(), Duration::from_secs(1)).expect("starts");
        let wal = dir.path().join(format!("{DATABASE_FILE}-wal"));
        let working = db
            .call(|c| wal_working_size(c))
            .await
            .expect("working size");
        assert!(working > 4_000_000, "1000 frames of 4 KiB pages: {working}");
        assert!(std::fs::metadata(&wal).expect("wal").len() >= working);
        for n in 0..50 {
            db.call(move |c| {
                c.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, 'v')",
                    [format!("k{n}")],
                )
            })
            .await
            .expect("insert");
        }
        assert!(
            std::fs::metadata(&wal).expect("wal").len() >= working,
            "commits overwrite the zeros, they do not grow the WAL"
        );
        let image = tempfile::tempdir().expect("image dir");
        for suffix in ["", "-wal"] {
            std::fs::copy(
                dir.path().join(format!("{DATABASE_FILE}{suffix}")),
                image.path().join(format!("{DATABASE_FILE}{suffix}")),
            )
            .expect("copy");
        }
        let copy = Connection::open(image.path().join(DATABASE_FILE)).expect("opens");
        let rows: i64 = copy
            .query_row("SELECT count(*) FROM meta WHERE key LIKE 'k%'", [], |r| {
                r.get(0)
            })
            .expect("count");
        assert_eq!(rows, 50, "every commit is in the image");
        let check: String = copy
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        assert_eq!(check, "ok");
        db.close().await.expect("close");
    }

    /// Open sales of a version-6 database keep their lines when they move into rows of
    /// their own: a row per line by its id, the head without them but with their order.
    #[test]
    fn the_lines_of_open_sales_move_into_rows_of_their_own() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).expect("raw");
            for m in MIGRATIONS.iter().filter(|m| m.version <= 6) {
                conn.execute_batch(m.sql).expect("old schema");
            }
            conn.execute_batch("PRAGMA user_version = 6")
                .expect("version");
            conn.execute(
                "INSERT INTO sales (id, state, document, updated_at) VALUES ('s1', 'open', ?1, 'then')",
                [r#"{"id":"s1","lines":[{"id":"L2","name":"B"},{"id":"L1","name":"A"}],"tenders":[]}"#],
            )
            .expect("a v6 sale");
        }
        let conn = open(dir.path(), Duration::from_secs(1)).expect("migrates");
        let rows: Vec<(String, String)> = conn
            .prepare("SELECT line_id, json_extract(document, '$.name') FROM sale_lines WHERE sale_id = 's1' ORDER BY line_id")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(
            rows,
            [
                ("L1".to_string(), "A".to_string()),
                ("L2".to_string(), "B".to_string())
            ]
        );
        let head: String = conn
            .query_row("SELECT document FROM sales WHERE id = 's1'", [], |r| {
                r.get(0)
            })
            .expect("head");
        let head: serde_json::Value = serde_json::from_str(&head).expect("json");
        assert_eq!(head["lines"], serde_json::json!([]));
        assert_eq!(
            head["line_order"],
            serde_json::json!(["L2", "L1"]),
            "the order the lines had"
        );
    }

    /// A truncation a reader keeps busy is tried again until it succeeds, without another
    /// job or request to prompt it: a printed secret slip's bytes leave the WAL soon after
    /// the reader lets go.
    #[tokio::test]
    async fn a_wal_truncation_kept_busy_by_a_reader_is_retried_until_done() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::start(dir.path(), Duration::from_secs(1)).expect("starts");
        db.call(|c| c.execute("INSERT INTO meta (key, value) VALUES ('secret', 'x')", []))
            .await
            .expect("insert");
        let wal = dir.path().join(format!("{DATABASE_FILE}-wal"));
        let holds_secret = || {
            let bytes = std::fs::read(&wal).unwrap_or_default();
            bytes.windows(6).any(|w| w == b"secret")
        };
        assert!(holds_secret(), "the write is in the WAL");
        let reader = open(dir.path(), Duration::from_secs(1)).expect("reader");
        reader.execute_batch("BEGIN").expect("begin");
        let _: i64 = reader
            .query_row("SELECT count(*) FROM meta", [], |r| r.get(0))
            .expect("read");
        db.truncate_wal();
        tokio::time::sleep(WAL_RETRY * 3).await;
        assert!(holds_secret(), "a reader holds the WAL: not truncated yet");
        reader.execute_batch("COMMIT").expect("end the read");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while holds_secret() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!holds_secret(), "truncated once the reader let go");
        let bytes = std::fs::read(&wal).expect("the WAL");
        assert!(
            bytes.iter().all(|&b| b == 0),
            "the truncated WAL is written with zeros ahead, nothing else"
        );
        db.close().await.expect("close");
    }
}
