//! The durable print queue: every receipt, slip and test page waits here until its printer
//! took it.
//!
//! A job is stored with the exact bytes to send, rendered when it was queued, so what prints
//! after an outage or a restart is what the cashier saw then. Jobs of one printer print in
//! queue order. A job counts as printed only after its bytes were written and the printer's
//! status afterwards was fine; until then it stays queued and is tried again. The one window
//! left is a crash between the write and the commit that marks it printed: then the job prints
//! a second time after the restart — a duplicate receipt is recoverable, a lost one is not.

use rusqlite::{Connection, OptionalExtension, params};

/// A job as the printer thread takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintJob {
    /// Row id; queue order.
    pub id: i64,
    /// Printer device name.
    pub device: String,
    /// `receipt`, `slip`, `test_page`, …
    pub kind: String,
    /// What the job prints, e.g. a receipt id.
    pub reference: String,
    /// ESC/POS bytes to send.
    pub bytes: Vec<u8>,
    /// Tries so far.
    pub attempts: i64,
}

impl PrintJob {
    /// The id frontends see in `JobDone` and `Print` results.
    pub fn job_id(&self) -> String {
        job_id(&self.device, self.id)
    }
}

/// The public id of job `id` on `device`: `receipt-17`.
pub fn job_id(device: &str, id: i64) -> String {
    format!("{device}-{id}")
}

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// Queues `bytes` for `device`; returns the job id.
pub fn enqueue(
    conn: &Connection,
    device: &str,
    kind: &str,
    reference: &str,
    bytes: &[u8],
) -> rusqlite::Result<String> {
    enqueue_with(conn, device, kind, reference, |_| bytes.to_vec())
}

/// Queues a job whose bytes depend on its own id (a test page prints its job id, so a
/// technician can match paper to log); `render` gets the id. Atomic (a savepoint): the job
/// is never visible without its bytes, also inside a caller's transaction (a checkout).
pub fn enqueue_with(
    conn: &Connection,
    device: &str,
    kind: &str,
    reference: &str,
    render: impl FnOnce(&str) -> Vec<u8>,
) -> rusqlite::Result<String> {
    conn.execute_batch("SAVEPOINT print_enqueue")?;
    let result = (|| {
        conn.execute(
            &format!(
                "INSERT INTO print_jobs (device, kind, reference, bytes, created_at)
                 VALUES (?1, ?2, ?3, x'', {NOW})"
            ),
            params![device, kind, reference],
        )?;
        let id = conn.last_insert_rowid();
        let job = job_id(device, id);
        conn.prepare_cached("UPDATE print_jobs SET bytes = ?2 WHERE id = ?1")?
            .execute(params![id, render(&job)])?;
        Ok(job)
    })();
    match &result {
        Ok(_) => conn.execute_batch("RELEASE print_enqueue")?,
        Err(_) => conn.execute_batch("ROLLBACK TO print_enqueue; RELEASE print_enqueue")?,
    }
    result
}

/// The oldest job still waiting for `device`.
pub fn next(conn: &Connection, device: &str) -> rusqlite::Result<Option<PrintJob>> {
    conn.prepare_cached(
        "SELECT id, device, kind, reference, bytes, attempts FROM print_jobs
         WHERE device = ?1 AND state = 'queued' ORDER BY id LIMIT 1",
    )?
    .query_row([device], |r| {
        Ok(PrintJob {
            id: r.get(0)?,
            device: r.get(1)?,
            kind: r.get(2)?,
            reference: r.get(3)?,
            bytes: r.get(4)?,
            attempts: r.get(5)?,
        })
    })
    .optional()
}

/// The kind of a print job whose bytes hold a secret (a sold voucher's full code, a
/// section marked `secret`): wiped from the database once it printed, never reprinted.
pub const SECRET_SLIP: &str = "secret_slip";

/// The printer took the job and reported no fault afterwards. A secret slip's bytes are
/// wiped then (`secure_delete` is on for every connection, see `store`); the answer is
/// `true` for such a job, and the caller then has the WAL truncated
/// ([`crate::store::Database::truncate_wal`]) so that no copy of the bytes is left in the
/// database files.
pub fn mark_printed(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    let wiped = conn.execute(
        &format!(
            "UPDATE print_jobs SET state = 'printed', attempts = attempts + 1,
             finished_at = {NOW},
             bytes = CASE WHEN kind = '{SECRET_SLIP}' THEN x'' ELSE bytes END
             WHERE id = ?1 AND state = 'queued'"
        ),
        [id],
    )? > 0
        && conn.query_row(
            "SELECT kind = ?2 FROM print_jobs WHERE id = ?1",
            rusqlite::params![id, SECRET_SLIP],
            |r| r.get::<_, bool>(0),
        )?;
    Ok(wiped)
}

/// A try failed; the job stays queued and prints when the printer is fine again.
pub fn record_failed_attempt(conn: &Connection, id: i64, error: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE print_jobs SET attempts = attempts + 1, last_error = ?2
         WHERE id = ?1 AND state = 'queued'",
    )?
    .execute(params![id, error])?;
    Ok(())
}

/// Gives up every waiting job of `device` (the printer was removed from the configuration);
/// returns their ids so `JobDone(failed)` can be sent for each.
pub fn fail_waiting(
    conn: &mut Connection,
    device: &str,
    reason: &str,
) -> rusqlite::Result<Vec<String>> {
    let tx = conn.transaction()?;
    let ids: Vec<i64> = {
        let mut stmt = tx.prepare(
            "SELECT id FROM print_jobs WHERE device = ?1 AND state = 'queued' ORDER BY id",
        )?;
        let rows = stmt.query_map([device], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    tx.execute(
        &format!(
            "UPDATE print_jobs SET state = 'failed', last_error = ?2, finished_at = {NOW}
             WHERE device = ?1 AND state = 'queued'"
        ),
        params![device, reason],
    )?;
    tx.commit()?;
    Ok(ids.into_iter().map(|id| job_id(device, id)).collect())
}

/// Jobs waiting for `device`.
pub fn queue_length(conn: &Connection, device: &str) -> rusqlite::Result<u32> {
    conn.prepare_cached("SELECT count(*) FROM print_jobs WHERE device = ?1 AND state = 'queued'")?
        .query_row([device], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = crate::store::open(dir.path(), Duration::from_secs(1)).expect("open");
        (dir, conn)
    }

    #[test]
    fn jobs_print_in_queue_order_per_device() {
        let (_dir, conn) = db();
        let a = enqueue(&conn, "receipt", "receipt", "R1", b"one").expect("enqueue");
        enqueue(&conn, "kitchen", "receipt", "R1", b"other").expect("enqueue");
        let b = enqueue(&conn, "receipt", "receipt", "R2", b"two").expect("enqueue");
        assert_eq!(queue_length(&conn, "receipt").expect("len"), 2);
        let first = next(&conn, "receipt").expect("next").expect("a job");
        assert_eq!(
            (first.job_id(), first.bytes.as_slice()),
            (a, b"one".as_slice())
        );
        record_failed_attempt(&conn, first.id, "paper out").expect("attempt");
        let again = next(&conn, "receipt").expect("next").expect("still first");
        assert_eq!((again.id, again.attempts), (first.id, 1));
        mark_printed(&conn, first.id).expect("printed");
        let second = next(&conn, "receipt").expect("next").expect("a job");
        assert_eq!(second.job_id(), b);
        mark_printed(&conn, second.id).expect("printed");
        assert!(next(&conn, "receipt").expect("next").is_none());
        assert_eq!(queue_length(&conn, "receipt").expect("len"), 0);
        assert_eq!(queue_length(&conn, "kitchen").expect("len"), 1);
    }

    #[test]
    fn printed_twice_is_recorded_once() {
        let (_dir, conn) = db();
        enqueue(&conn, "p", "receipt", "", b"x").expect("enqueue");
        let job = next(&conn, "p").expect("next").expect("job");
        mark_printed(&conn, job.id).expect("printed");
        mark_printed(&conn, job.id).expect("again is harmless");
        let attempts: i64 = conn
            .query_row(
                "SELECT attempts FROM print_jobs WHERE id = ?1",
                [job.id],
                |r| r.get(0),
            )
            .expect("attempts");
        assert_eq!(attempts, 1);
    }

    #[test]
    fn a_job_can_print_its_own_id() {
        let (_dir, conn) = db();
        let id = enqueue_with(&conn, "p", "test_page", "", |id| id.as_bytes().to_vec())
            .expect("enqueue");
        let job = next(&conn, "p").expect("next").expect("job");
        assert_eq!(job.bytes, id.as_bytes());
    }

    #[test]
    fn removed_printer_fails_its_waiting_jobs() {
        let (_dir, mut conn) = db();
        let a = enqueue(&conn, "p", "receipt", "", b"1").expect("enqueue");
        let b = enqueue(&conn, "p", "receipt", "", b"2").expect("enqueue");
        assert_eq!(
            fail_waiting(&mut conn, "p", "removed").expect("fail"),
            vec![a, b]
        );
        assert_eq!(queue_length(&conn, "p").expect("len"), 0);
        assert!(next(&conn, "p").expect("next").is_none());
    }
}
