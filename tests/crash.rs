//! Crash safety of checkout: a few hundred checkouts from concurrent frontends while the
//! daemon is killed with SIGKILL at random moments and, in other rounds, aborts itself right
//! before a checkout's transaction commits (`POSDTEST_FAULT=checkout-before-commit`). After
//! every crash the daemon is restarted and every checkout whose outcome the client never
//! learnt is retried with its idempotency key; at the end the database must show every
//! checkout exactly once, whole, with a ledger that verifies.
//!
//! The kill schedule comes from a seeded PRNG; the seed is printed and `CRASH_TEST_SEED`
//! (decimal or 0x-hex) replays a run. Interleavings still differ between runs: the test
//! asserts invariants that hold for every interleaving, never a particular one.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use posd_client::{Manager1Proxy, error_reply};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use support::*;
use zbus::{OwnedObjectPath, Variant};

/// Sales started over the whole run (a sale whose building a kill interrupts is abandoned
/// and not checked out, so slightly fewer checkouts are attempted).
const SALES: usize = 260;
/// Frontends building sales and checking out at the same time.
const LANES: usize = 3;
/// A SIGKILL comes after this many checkouts of an epoch were sent (inclusive range) …
const KILL_AFTER: (u64, u64) = (20, 40);
/// … plus this many microseconds, so it lands anywhere in a checkout or between them.
const KILL_DELAY_US: (u64, u64) = (0, 12_000);
/// Epochs that run with the fault armed (every other epoch until this many happened).
const FAULT_ROUNDS: usize = 4;
/// Customers the sales are spread over (so per-customer counters add up).
const CUSTOMERS: u64 = 7;
const REGISTER: &str = "01";
const DEFAULT_SEED: u64 = 0x00C0_FFEE_2026;

/// SplitMix64: small, seedable, good enough to pick moments and baskets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn seed() -> u64 {
    match std::env::var("CRASH_TEST_SEED") {
        Ok(text) => {
            let text = text.trim();
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("CRASH_TEST_SEED={text:?}: {e}"))
        }
        Err(_) => DEFAULT_SEED,
    }
}

/// What a frontend puts into one sale.
#[derive(Debug, Clone)]
struct Plan {
    customer: String,
    /// (qty, unit price in cents, tax rate)
    items: Vec<(u64, u64, &'static str)>,
}

impl Plan {
    fn random(rng: &mut Rng) -> Self {
        let count = rng.range((1, 5));
        Plan {
            customer: format!("C-{}", 1000 + rng.range((1, CUSTOMERS))),
            items: (0..count)
                .map(|_| {
                    (
                        rng.range((1, 3)),
                        rng.range((100, 2500)),
                        if rng.range((0, 1)) == 0 { "20" } else { "10" },
                    )
                })
                .collect(),
        }
    }

    fn total_cents(&self) -> u64 {
        self.items.iter().map(|(qty, cents, _)| qty * cents).sum()
    }

    /// What the points plugin books: one per full euro of the item lines.
    fn points(&self) -> i64 {
        i64::try_from(self.total_cents() / 100).unwrap_or(i64::MAX)
    }

    /// Cash handed over: the total rounded up to the next ten euros, change given.
    fn cash(&self) -> String {
        format!("{}.00", (self.total_cents() / 1000 + 1) * 10)
    }
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// What the client learnt of one checkout.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// Answered with this receipt.
    Committed(String),
    /// Answered with a D-Bus error (name and message).
    Refused(String),
    /// No answer: the daemon died during the call (the bus said why).
    Unknown(String),
}

#[derive(Debug, Clone)]
struct Attempt {
    path: OwnedObjectPath,
    sale_id: String,
    key: String,
    plan: Plan,
    epoch: usize,
    first: Outcome,
    /// After restarts: the answer to Checkout(same key) on the same path.
    retried: Option<Result<String, String>>,
}

impl Attempt {
    /// The receipt the client was finally told, first try or retry.
    fn receipt(&self) -> Option<&str> {
        match (&self.first, &self.retried) {
            (Outcome::Committed(r), _) => Some(r),
            (_, Some(Ok(r))) => Some(r),
            _ => None,
        }
    }
}

/// Whether an error means "the daemon is gone" (killed, aborted, not back yet): the call's
/// outcome is unknown. Errors posd itself answers (including UnknownObject for a path it
/// does not serve) are answers.
fn daemon_gone(e: &zbus::Error) -> Option<String> {
    match error_reply(e) {
        Some((name, message)) => matches!(
            name.as_str(),
            "org.freedesktop.DBus.Error.NoReply"
                | "org.freedesktop.DBus.Error.ServiceUnknown"
                | "org.freedesktop.DBus.Error.NameHasNoOwner"
                | "org.freedesktop.DBus.Error.Disconnected"
        )
        .then(|| format!("{name}: {message}")),
        None => Some(format!("no reply: {e}")),
    }
}

fn describe(e: &zbus::Error) -> String {
    match error_reply(e) {
        Some((name, message)) => format!("{name}: {message}"),
        None => e.to_string(),
    }
}

/// State the frontends of one epoch share with the main task and the killer.
struct Shared {
    seed: u64,
    epoch: usize,
    sales_started: Arc<AtomicUsize>,
    checkouts_sent: AtomicUsize,
    stop: AtomicBool,
    attempts: Mutex<Vec<Attempt>>,
    /// Checkouts asked again right after their answer, and what went wrong doing so.
    reasked: AtomicUsize,
    reask_findings: Mutex<Vec<String>>,
}

/// Runs `call` with the test's patience; a daemon that does not answer at all is hung.
async fn patiently<T>(
    what: &str,
    call: impl std::future::Future<Output = zbus::Result<T>>,
) -> zbus::Result<T> {
    tokio::time::timeout(PATIENCE, call)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {PATIENCE:?}: posd hangs"))
}

/// Opens a sale with the plan's customer, items and cash; `Ok(None)` when the daemon died
/// meanwhile (the half-built sale is abandoned).
async fn build_sale(
    conn: &zbus::Connection,
    manager: &Manager1Proxy<'_>,
    plan: &Plan,
) -> Result<Option<OwnedObjectPath>, String> {
    macro_rules! step {
        ($what:expr, $call:expr) => {
            match patiently($what, $call).await {
                Ok(v) => v,
                Err(e) if daemon_gone(&e).is_some() => return Ok(None),
                Err(e) => return Err(format!("{}: {}", $what, describe(&e))),
            }
        };
    }
    let path = step!(
        "OpenSale",
        manager.open_sale(HashMap::from([
            ("cashier", Variant::from("crash")),
            ("customer", Variant::from(plan.customer.as_str())),
        ]))
    );
    let sale = sale_proxy(conn, path.clone()).await;
    for (i, (qty, cents, rate)) in plan.items.iter().enumerate() {
        let name = format!("Artikel {i}");
        let qty = qty.to_string();
        let price = money(*cents);
        step!(
            "AddItem",
            sale.add_item(HashMap::from([
                ("sku", Variant::from("4006381333931")),
                ("name", Variant::from(name.as_str())),
                ("qty", Variant::from(qty.as_str())),
                ("unit_price", Variant::from(price.as_str())),
                ("tax_rate", Variant::from(*rate)),
            ]))
        );
    }
    step!(
        "AddTender",
        sale.add_tender("cash", &plan.cash(), HashMap::new())
    );
    Ok(Some(path))
}

/// One frontend: builds sales and checks them out until the daemon dies, the run has
/// started enough sales, or the epoch is stopped.
async fn lane(conn: zbus::Connection, mut rng: Rng, shared: Arc<Shared>) -> Result<(), String> {
    let manager = Manager1Proxy::builder(&conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let n = shared.sales_started.fetch_add(1, Ordering::SeqCst);
        if n >= SALES {
            return Ok(());
        }
        let plan = Plan::random(&mut rng);
        let Some(path) = build_sale(&conn, &manager, &plan).await? else {
            return Ok(());
        };
        let sale_id = path
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let key = format!("crash-{:x}-{n:04}", shared.seed);
        let sale = sale_proxy(&conn, path.clone()).await;
        shared.checkouts_sent.fetch_add(1, Ordering::SeqCst);
        let first = match patiently("Checkout", sale.checkout(&key)).await {
            Ok(receipt) => Outcome::Committed(receipt),
            Err(e) => match daemon_gone(&e) {
                Some(why) => Outcome::Unknown(why),
                None => Outcome::Refused(describe(&e)),
            },
        };
        // Now and then the frontend asks again at once (a double click): same receipt.
        if let Outcome::Committed(receipt) = &first
            && rng.range((0, 5)) == 0
        {
            shared.reasked.fetch_add(1, Ordering::SeqCst);
            match patiently("Checkout again", sale.checkout(&key)).await {
                Ok(again) if again == *receipt => {}
                Err(e) if daemon_gone(&e).is_some() => {}
                other => shared
                    .reask_findings
                    .lock()
                    .expect("findings")
                    .push(format!(
                        "{key} on {} answered {receipt}, at once again {:?}",
                        path.as_str(),
                        other.map_err(|e| describe(&e))
                    )),
            }
        }
        let gone = matches!(first, Outcome::Unknown(_));
        shared.attempts.lock().expect("attempts").push(Attempt {
            path,
            sale_id,
            key,
            plan,
            epoch: shared.epoch,
            first,
            retried: None,
        });
        if gone {
            return Ok(());
        }
    }
}

/// The database as the daemon left it, opened read-only.
fn open_read_only(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("open {} read-only: {e}", path.display()))
}

/// Idempotency key → receipt, as committed.
fn committed_keys(db: &Path) -> BTreeMap<String, String> {
    let c = open_read_only(db);
    let mut stmt = c
        .prepare("SELECT key, result FROM idempotency WHERE operation = 'checkout'")
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn receipt_count(db: &Path) -> i64 {
    open_read_only(db)
        .query_row("SELECT count(*) FROM receipts", [], |r| r.get(0))
        .expect("count receipts")
}

/// Findings that break the contract, by kind; reported together at the end.
#[derive(Default)]
struct Findings(BTreeMap<&'static str, Vec<String>>);

/// The journal in the database is wrong.
const JOURNAL: &str = "journal";
/// Checkout(same key) on the same path after a restart did not answer as required.
const AFTER_RESTART: &str = "Checkout(same key) after a restart";
/// A checkout whose answer the crash took, retried after the restart, did not answer as
/// required (its receipt if it had committed, a fresh commit if not).
const LOST_ANSWER: &str =
    "Checkout(same key) after a restart, for a checkout whose answer was lost";
/// Checkout(same key) on the same path, same daemon, did not answer the same receipt.
const SAME_DAEMON: &str = "Checkout(same key) without a restart";

impl Findings {
    /// Notes a finding of `kind` unless `ok`; journal checks use [`JOURNAL`].
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.check_as(JOURNAL, ok, what);
    }

    fn check_as(&mut self, kind: &'static str, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.push(kind, what());
        }
    }

    fn push(&mut self, kind: &'static str, what: String) {
        self.0.entry(kind).or_default().push(what);
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every kind with its count and the first few cases.
    fn report(&self) -> String {
        let mut out = String::new();
        for (kind, cases) in &self.0 {
            out += &format!("\n{kind}: {} case(s)", cases.len());
            for case in cases.iter().take(6) {
                out += &format!("\n  - {case}");
            }
            if cases.len() > 6 {
                out += &format!("\n  - … and {} more", cases.len() - 6);
            }
        }
        out
    }
}

/// A checkout of the killed epoch whose outcome the client did not learn, and whether the
/// database says it committed before the crash.
struct Pending {
    index: usize,
    committed_before: Option<String>,
}

#[derive(Default)]
struct Tally {
    kills: usize,
    fault_rounds: usize,
    unknown_committed: usize,
    unknown_not_committed: usize,
    retries_same_receipt: usize,
    retries_fresh_commit: usize,
    known_rechecked: usize,
    reasked_at_once: usize,
    restarts: usize,
}

#[tokio::test(flavor = "multi_thread")]
async fn checkouts_survive_sigkill_and_a_crash_before_commit_exactly_once() {
    let seed = seed();
    println!("crash test seed: {seed:#x} (CRASH_TEST_SEED={seed:#x} replays the schedule)");
    let began = Instant::now();
    let mut rng = Rng(seed);

    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let printer = FakePrinter::listen(0);
    let (plugin_dir, plugins) = plugin_config(&root, 10_000, "");
    place_plugin(
        &build_rust_plugin("posd-test-points"),
        &plugin_dir,
        "libposd_test_points.so",
    );
    place_plugin(
        &build_rust_plugin("hello-rust"),
        &plugin_dir,
        "libhello_rust.so",
    );
    let config = format!(
        "{plugins}\n[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"{}\"\nstatus_poll_ms = 200\n",
        printer.connection()
    );
    let start = |fault: bool| {
        let mut setup = DaemonSetup::new(bus.address(), &root).config(&config);
        if fault {
            setup = setup.env("POSDTEST_FAULT", "checkout-before-commit");
        }
        setup.start()
    };
    let conn = bus.client().await;

    let mut attempts: Vec<Attempt> = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut findings = Findings::default();
    let mut tally = Tally::default();
    let sales_started = Arc::new(AtomicUsize::new(0));
    let db: PathBuf = root.join("state").join(posd::store::DATABASE_FILE);
    let mut epoch = 0usize;

    // The epoch the final daemon served without a restart, if any.
    let mut live_epoch = None;
    let mut daemon = loop {
        // A fresh daemon; first settle what the last crash left open.
        let daemon = start(false);
        tally.restarts += 1;
        assert_eq!(daemon.database(), db);
        recover(
            &conn,
            &mut attempts,
            std::mem::take(&mut pending),
            &mut findings,
            &mut tally,
        )
        .await;
        recheck_known(&conn, &attempts, None, &mut rng, &mut findings, &mut tally).await;
        if sales_started.load(Ordering::SeqCst) >= SALES {
            break daemon;
        }

        // Fault epochs alternate with kill epochs until enough of them ran.
        let fault = epoch % 2 == 1 && tally.fault_rounds < FAULT_ROUNDS;
        let daemon = if fault {
            // The running daemon is idle: stop it cleanly and start one with the fault armed.
            let mut idle = daemon;
            let status = idle.stop();
            assert!(status.success(), "SIGTERM: {status}; log:\n{}", idle.log());
            start(true)
        } else {
            daemon
        };
        if fault {
            tally.restarts += 1;
        }
        let receipts_before = receipt_count(&db);
        let shared = Arc::new(Shared {
            seed,
            epoch,
            sales_started: sales_started.clone(),
            checkouts_sent: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            attempts: Mutex::new(Vec::new()),
            reasked: AtomicUsize::new(0),
            reask_findings: Mutex::new(Vec::new()),
        });
        let lanes: Vec<_> = (0..LANES)
            .map(|_| tokio::spawn(lane(conn.clone(), Rng(rng.next()), shared.clone())))
            .collect();
        let kill_after = usize::try_from(rng.range(KILL_AFTER)).unwrap_or(usize::MAX);
        let delay = Duration::from_micros(rng.range(KILL_DELAY_US));
        let killer = {
            let shared = shared.clone();
            std::thread::spawn(move || killer(daemon, shared, fault, kill_after, delay))
        };
        for lane in lanes {
            if let Err(e) = lane.await.expect("lane task") {
                panic!("seed {seed:#x}: a frontend failed unexpectedly: {e}");
            }
        }
        shared.stop.store(true, Ordering::SeqCst);
        let (daemon, exit) = killer.join().expect("killer thread");
        let epoch_attempts = std::mem::take(&mut *shared.attempts.lock().expect("attempts"));
        tally.reasked_at_once += shared.reasked.load(Ordering::SeqCst);
        for finding in shared.reask_findings.lock().expect("findings").drain(..) {
            findings.push(SAME_DAEMON, finding);
        }
        let first = attempts.len();
        attempts.extend(epoch_attempts);

        let Some(exit) = exit else {
            // The run's sales are all started and the daemon was never killed: done.
            assert!(
                attempts[first..]
                    .iter()
                    .all(|a| !matches!(a.first, Outcome::Unknown(_))),
                "seed {seed:#x}: no crash, yet a checkout got no answer; log:\n{}",
                daemon.log()
            );
            live_epoch = Some(epoch);
            break daemon;
        };
        // The daemon is dead: see what its last transaction left before restarting it.
        let committed = committed_keys(&db);
        for (index, attempt) in attempts.iter().enumerate().skip(first) {
            if let Outcome::Unknown(_) = attempt.first {
                let committed_before = committed.get(&attempt.key).cloned();
                if committed_before.is_some() {
                    tally.unknown_committed += 1;
                } else {
                    tally.unknown_not_committed += 1;
                }
                pending.push(Pending {
                    index,
                    committed_before,
                });
            }
        }
        if fault {
            use std::os::unix::process::ExitStatusExt;
            tally.fault_rounds += 1;
            assert_eq!(
                exit.signal(),
                Some(libc::SIGABRT),
                "seed {seed:#x}: the armed daemon should abort at the fault point, but {exit}; log:\n{}",
                daemon.log()
            );
            assert!(
                daemon
                    .log()
                    .contains("fault injection at checkout-before-commit"),
                "seed {seed:#x}: log:\n{}",
                daemon.log()
            );
            findings.check(receipt_count(&db) == receipts_before, || {
                format!(
                    "epoch {epoch}: a receipt was committed by a daemon that aborts before every commit"
                )
            });
            findings.check(
                pending
                    .iter()
                    .all(|p| attempts[p.index].epoch != epoch || p.committed_before.is_none()),
                || format!("epoch {epoch}: an aborted checkout's idempotency key was committed"),
            );
        } else {
            tally.kills += 1;
        }
        epoch += 1;
    };

    // The last daemon is alive: the same keys on it once more, then a clean stop.
    recheck_known(
        &conn,
        &attempts,
        live_epoch,
        &mut rng,
        &mut findings,
        &mut tally,
    )
    .await;
    let status = daemon.stop();
    assert!(
        status.success(),
        "seed {seed:#x}: SIGTERM: {status}; log:\n{}",
        daemon.log()
    );
    let summary = verify_journal(&db, &attempts, &mut findings);

    let refused: Vec<_> = attempts
        .iter()
        .filter_map(|a| match &a.first {
            Outcome::Refused(why) => Some(format!("{} ({}): {why}", a.key, a.sale_id)),
            _ => None,
        })
        .collect();
    findings.check(refused.is_empty(), || {
        format!("checkouts refused: {refused:?}")
    });
    println!(
        "crash test: seed {seed:#x}, {} checkouts in {:.1}s: {} kills, {} fault rounds, {} restarts; \
         unknown outcomes {} (committed before the crash {}, not committed {}); retries: {} same \
         receipt, {} fresh commit; {} answered checkouts asked again at once, {} after a restart; {summary}",
        attempts.len(),
        began.elapsed().as_secs_f64(),
        tally.kills,
        tally.fault_rounds,
        tally.restarts,
        tally.unknown_committed + tally.unknown_not_committed,
        tally.unknown_committed,
        tally.unknown_not_committed,
        tally.retries_same_receipt,
        tally.retries_fresh_commit,
        tally.reasked_at_once,
        tally.known_rechecked,
    );
    assert!(
        attempts.len() >= SALES * 8 / 10,
        "seed {seed:#x}: only {} checkouts",
        attempts.len()
    );
    assert_eq!(
        tally.fault_rounds, FAULT_ROUNDS,
        "seed {seed:#x}: fault rounds"
    );
    assert!(
        findings.is_empty(),
        "seed {seed:#x}: the contract does not hold:{}",
        findings.report()
    );
}

/// Kills the daemon with SIGKILL `delay` after the `kill_after`-th checkout of the epoch was
/// sent, or (fault epochs) waits for it to abort itself. Returns the daemon and how it ended;
/// `None` when the epoch ended without a crash (the run's sales were all started).
fn killer(
    mut daemon: Daemon,
    shared: Arc<Shared>,
    fault: bool,
    kill_after: usize,
    delay: Duration,
) -> (Daemon, Option<std::process::ExitStatus>) {
    let deadline = Instant::now() + PATIENCE * 3;
    loop {
        if fault {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                return (daemon, Some(status));
            }
            if shared.stop.load(Ordering::SeqCst) {
                // The frontends gave up because the daemon is dying at the fault point; an
                // abort (with its core dump) can take a moment to finish.
                let status = wait_with_timeout(&mut daemon.child, Duration::from_secs(10));
                return (daemon, status);
            }
        } else if shared.checkouts_sent.load(Ordering::SeqCst) >= kill_after {
            std::thread::sleep(delay);
            daemon.signal(libc::SIGKILL);
            let status = daemon.wait();
            return (daemon, Some(status));
        }
        if shared.stop.load(Ordering::SeqCst) {
            return (daemon, None);
        }
        assert!(
            Instant::now() < deadline,
            "the epoch made no progress; log:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Retries every checkout of the last crash whose outcome was unknown, with its key, on its
/// sale's path: one that had committed must answer its receipt, one that had not must commit
/// now (the journal check at the end proves it committed once).
async fn recover(
    conn: &zbus::Connection,
    attempts: &mut [Attempt],
    pending: Vec<Pending>,
    findings: &mut Findings,
    tally: &mut Tally,
) {
    for p in pending {
        let attempt = &mut attempts[p.index];
        let sale = sale_proxy(conn, attempt.path.clone()).await;
        let answer = patiently("Checkout retry", sale.checkout(&attempt.key))
            .await
            .map_err(|e| describe(&e));
        match (&p.committed_before, &answer) {
            (Some(before), Ok(receipt)) if before == receipt => tally.retries_same_receipt += 1,
            (None, Ok(_)) => tally.retries_fresh_commit += 1,
            (before, _) => findings.push(
                LOST_ANSWER,
                format!(
                "retry of {} on {} after the crash (committed before it: {}) answered {answer:?}",
                attempt.key,
                attempt.path.as_str(),
                    before.as_deref().unwrap_or("no"),
                ),
            ),
        }
        attempt.retried = Some(answer);
    }
}

/// Asks again, with the same key on the same path, for checkouts the client already saw
/// succeed: the last two (the ones closest to the crash, if there was one) and one at
/// random. Each must answer its receipt and change nothing. `live_epoch` is the epoch the
/// running daemon served, if it was not restarted since.
async fn recheck_known(
    conn: &zbus::Connection,
    attempts: &[Attempt],
    live_epoch: Option<usize>,
    rng: &mut Rng,
    findings: &mut Findings,
    tally: &mut Tally,
) {
    let known: Vec<&Attempt> = attempts.iter().filter(|a| a.receipt().is_some()).collect();
    if known.is_empty() {
        return;
    }
    let mut chosen: Vec<&Attempt> = known.iter().rev().take(2).copied().collect();
    let any = usize::try_from(rng.next() % known.len() as u64).unwrap_or(0);
    chosen.push(known[any]);
    for attempt in chosen {
        let Some(receipt) = attempt.receipt() else {
            continue;
        };
        tally.known_rechecked += 1;
        let sale = sale_proxy(conn, attempt.path.clone()).await;
        let answer = patiently("Checkout again", sale.checkout(&attempt.key))
            .await
            .map_err(|e| describe(&e));
        let kind = if live_epoch == Some(attempt.epoch) {
            SAME_DAEMON
        } else {
            AFTER_RESTART
        };
        findings.check_as(kind, answer.as_deref() == Ok(receipt), || {
            format!(
                "{} on {} had answered {receipt}; asked again it answered {answer:?}",
                attempt.key,
                attempt.path.as_str(),
            )
        });
    }
}

/// The journal in the database: every checkout the client saw succeed exactly once, whole;
/// nothing that belongs to no receipt; numbers without gaps; a ledger that verifies.
fn verify_journal(db: &Path, attempts: &[Attempt], findings: &mut Findings) -> String {
    let c = open_read_only(db);
    let strings = |sql: &str| -> Vec<(String, String)> {
        let mut stmt = c.prepare(sql).expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };

    // receipts: id → (number, sale_id, customer)
    let mut receipts: BTreeMap<String, (i64, String, String)> = BTreeMap::new();
    {
        let mut stmt = c
            .prepare(
                "SELECT id, number, sale_id, customer, kind, register FROM receipts ORDER BY number",
            )
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .expect("query");
        for row in rows {
            let (id, number, sale_id, customer, kind, register) = row.expect("row");
            findings.check(kind == "sale" && register == REGISTER, || {
                format!("receipt {id}: kind {kind}, register {register}")
            });
            receipts.insert(id, (number, sale_id, customer));
        }
    }
    let n = receipts.len();
    let mut numbers: Vec<i64> = receipts.values().map(|r| r.0).collect();
    numbers.sort_unstable();
    let expected: Vec<i64> = (1..=i64::try_from(n).unwrap_or(0)).collect();
    findings.check(numbers == expected, || {
        let missing: Vec<i64> = expected
            .iter()
            .filter(|x| !numbers.contains(x))
            .copied()
            .collect();
        format!("receipt numbers are not 1..={n} without gaps: missing {missing:?}")
    });
    let mut by_sale: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, (_, sale_id, _)) in &receipts {
        by_sale.entry(sale_id).or_default().push(id);
    }
    for (sale_id, ids) in &by_sale {
        findings.check(ids.len() == 1, || {
            format!("sale {sale_id} has {} receipts: {ids:?}", ids.len())
        });
    }

    // Every attempt: committed once, or not at all, and as the client was told.
    let keys: BTreeMap<String, String> = strings("SELECT key, result FROM idempotency")
        .into_iter()
        .collect();
    let by_id: BTreeMap<&str, &Attempt> =
        attempts.iter().map(|a| (a.sale_id.as_str(), a)).collect();
    for attempt in attempts {
        let in_journal = keys.get(&attempt.key);
        let sale_receipts = by_sale.get(attempt.sale_id.as_str());
        match (attempt.receipt(), in_journal) {
            (Some(told), Some(stored)) => findings.check(told == stored, || {
                format!(
                    "{}: the client was told {told}, the journal says {stored}",
                    attempt.key
                )
            }),
            (Some(told), None) => findings.push(
                JOURNAL,
                format!(
                    "{}: the client was told {told}, but the key is not in the journal",
                    attempt.key
                ),
            ),
            (None, _) => {}
        }
        match in_journal {
            Some(stored) => {
                findings.check(
                    receipts
                        .get(stored)
                        .is_some_and(|(_, sale, _)| *sale == attempt.sale_id),
                    || {
                        format!(
                            "{}: key maps to {stored}, which is not a receipt of sale {}",
                            attempt.key, attempt.sale_id
                        )
                    },
                );
                findings.check(sale_receipts.is_some_and(|r| r.len() == 1), || {
                    format!(
                        "{}: sale {} has receipts {sale_receipts:?}",
                        attempt.key, attempt.sale_id
                    )
                });
            }
            None => findings.check(sale_receipts.is_none(), || {
                format!(
                    "{}: no idempotency row, but sale {} has receipts {sale_receipts:?}",
                    attempt.key, attempt.sale_id
                )
            }),
        }
    }
    findings.check(keys.len() == n, || {
        format!("{} idempotency keys for {n} receipts", keys.len())
    });
    for (id, (_, sale_id, customer)) in &receipts {
        let attempt = by_id.get(sale_id.as_str());
        findings.check(
            attempt.is_some_and(|a| a.plan.customer == *customer),
            || format!("receipt {id}: sale {sale_id} / customer {customer} is not one the test checked out"),
        );
    }
    let sale_states: BTreeMap<String, String> =
        strings("SELECT id, state FROM sales").into_iter().collect();
    for (id, (_, sale_id, _)) in &receipts {
        findings.check(
            sale_states.get(sale_id).map(String::as_str) == Some("completed"),
            || {
                format!(
                    "receipt {id}: its sale {sale_id} is {:?} in the sales table",
                    sale_states.get(sale_id)
                )
            },
        );
    }
    for (sale_id, state) in &sale_states {
        findings.check(
            (state == "completed") == by_sale.contains_key(sale_id.as_str()),
            || {
                format!(
                    "sale {sale_id} is {state} but has receipts {:?}",
                    by_sale.get(sale_id.as_str())
                )
            },
        );
    }

    // Ledger: one entry per receipt, referencing it, booking the sale's points.
    let mut entries: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    {
        let mut stmt = c
            .prepare("SELECT id, reference FROM ledger_entries")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .expect("query");
        for row in rows {
            let (entry, reference) = row.expect("row");
            entries.entry(reference).or_default().push(entry);
        }
    }
    let mut postings: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
    {
        let mut stmt = c
            .prepare(
                "SELECT p.entry_id, a.code, p.amount FROM ledger_postings p
                 JOIN ledger_accounts a ON a.id = p.account_id ORDER BY p.id",
            )
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .expect("query");
        for row in rows {
            let (entry, account, amount) = row.expect("row");
            postings.entry(entry).or_default().push((account, amount));
        }
    }
    for reference in entries.keys() {
        findings.check(receipts.contains_key(reference), || {
            format!("ledger entries reference {reference:?}, which is no receipt (half-written)")
        });
    }
    let mut points_by_receipts: i64 = 0;
    let mut receipts_of_customer: BTreeMap<&str, i64> = BTreeMap::new();
    for (id, (_, sale_id, customer)) in &receipts {
        let Some(attempt) = by_id.get(sale_id.as_str()) else {
            continue;
        };
        let points = attempt.plan.points();
        points_by_receipts += points;
        *receipts_of_customer.entry(customer).or_default() += 1;
        let ids = entries.get(id).cloned().unwrap_or_default();
        findings.check(ids.len() == 1, || {
            format!("receipt {id} has {} ledger entries", ids.len())
        });
        // The plugin's postings; the host's own (cash, revenue, VAT) are checked by
        // verify_books against the receipt.
        let booked: Vec<(String, String)> = ids
            .iter()
            .flat_map(|e| postings.get(e).cloned().unwrap_or_default())
            .filter(|(account, _)| !account.starts_with("host:"))
            .collect();
        let want = vec![
            (format!("points:customer:{customer}"), points.to_string()),
            ("points:issued".to_string(), (-points).to_string()),
        ];
        findings.check(booked == want, || {
            format!("receipt {id}: postings {booked:?}, expected {want:?}")
        });
    }
    let points_posted: i64 = postings
        .values()
        .flatten()
        .filter(|(account, _)| account.starts_with("points:customer:"))
        .map(|(_, amount)| amount.parse::<i64>().unwrap_or(i64::MIN / 4))
        .sum();
    findings.check(points_posted == points_by_receipts, || {
        format!("points posted to customers {points_posted} ≠ points of the receipts {points_by_receipts}")
    });
    let issued: Option<String> = c
        .query_row(
            "SELECT balance FROM ledger_accounts WHERE code = 'points:issued'",
            [],
            |r| r.get(0),
        )
        .optional()
        .expect("issued");
    findings.check(
        issued.as_deref() == Some((-points_by_receipts).to_string().as_str()),
        || format!("points:issued balance {issued:?}, expected -{points_by_receipts}"),
    );
    let verified = verify_books(db);
    findings.check(verified.is_ok(), || {
        format!("the books do not verify: {verified:?}")
    });

    // Outbox: one message per receipt, keyed by its checkout, with its points.
    let mut outbox: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    {
        let mut stmt = c
            .prepare("SELECT reference, plugin, key, payload FROM outbox")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .expect("query");
        for row in rows {
            let (reference, plugin, key, payload) = row.expect("row");
            outbox
                .entry(reference)
                .or_default()
                .push((plugin, key, payload));
        }
    }
    for reference in outbox.keys() {
        findings.check(receipts.contains_key(reference), || {
            format!("outbox messages reference {reference:?}, which is no receipt (half-written)")
        });
    }
    let key_of_receipt: BTreeMap<&str, &str> =
        keys.iter().map(|(k, r)| (r.as_str(), k.as_str())).collect();
    for (id, (_, sale_id, _)) in &receipts {
        let Some(attempt) = by_id.get(sale_id.as_str()) else {
            continue;
        };
        let messages = outbox.get(id).cloned().unwrap_or_default();
        let key = key_of_receipt.get(id.as_str()).copied().unwrap_or("?");
        let ok = matches!(messages.as_slice(), [(plugin, k, payload)]
            if plugin == "points"
                && *k == format!("{sale_id}/{key}")
                && serde_json::from_str::<serde_json::Value>(payload).ok()
                    == Some(serde_json::json!({ "points": attempt.plan.points() })));
        findings.check(ok, || format!("receipt {id}: outbox messages {messages:?}"));
    }

    // Print jobs: the receipt once, for an existing receipt only.
    let jobs = strings("SELECT reference, kind FROM print_jobs");
    let mut receipt_jobs: BTreeMap<&str, usize> = BTreeMap::new();
    for (reference, kind) in &jobs {
        findings.check(receipts.contains_key(reference), || {
            format!("print job ({kind}) for {reference:?}, which is no receipt (half-written)")
        });
        if kind == "receipt" {
            *receipt_jobs.entry(reference).or_default() += 1;
        }
    }
    for id in receipts.keys() {
        let count = receipt_jobs.get(id.as_str()).copied().unwrap_or(0);
        findings.check(count == 1, || {
            format!("receipt {id} has {count} receipt print jobs")
        });
    }

    // kv, written with each checkout: a counter per customer equal to their receipts.
    let counters: BTreeMap<String, String> =
        strings("SELECT key, value FROM plugin_kv WHERE plugin = 'points'")
            .into_iter()
            .collect();
    let customers: BTreeSet<&str> = receipts_of_customer.keys().copied().collect();
    for customer in &customers {
        let want = receipts_of_customer.get(customer).copied().unwrap_or(0);
        let key = format!("checkouts:customer:{customer}");
        findings.check(
            counters.get(&key).map(String::as_str) == Some(want.to_string().as_str()),
            || {
                format!(
                    "kv {key} = {:?}, but the customer has {want} receipts",
                    counters.get(&key)
                )
            },
        );
    }
    findings.check(counters.len() == customers.len(), || {
        format!("kv counters {counters:?} for customers {customers:?}")
    });

    format!(
        "journal: {n} receipts numbered 1..={n}, {} ledger entries, {} outbox messages, {} print jobs, {points_by_receipts} points, ledger {}",
        entries.values().map(Vec::len).sum::<usize>(),
        outbox.values().map(Vec::len).sum::<usize>(),
        jobs.len(),
        match verified {
            Ok(report) => format!("verified ({report})"),
            Err(breach) => format!("BREACH: {breach}"),
        }
    )
}

/// One step of a till's days in [`days_survive_sigkill_and_a_crash_in_the_z_exactly_once`].
#[derive(Debug, Clone)]
enum DayOp {
    /// OpenDay with this float (cents).
    Open(u64),
    /// A cash sale of this many cents, paid with the next ten euros; the sale once built
    /// (a retry checks out the same sale).
    Sale(u64, Option<OwnedObjectPath>),
    /// CashMovement in (true) or out of this many cents.
    Move(bool, u64),
    /// CloseDay with the cash counted (fixed when the step is first tried, so a retry asks
    /// the same).
    Close(Option<String>),
}

/// What the till's day test learnt of one step.
#[derive(Debug)]
struct DayStep {
    op: DayOp,
    key: String,
    /// The receipt the client was told, first try or after restarts.
    receipt: Option<String>,
}

/// One day step with its key; `Ok(None)` when the daemon died during it (outcome unknown).
async fn day_step(
    conn: &zbus::Connection,
    op: &mut DayOp,
    key: &str,
) -> Result<Option<String>, String> {
    use posd_client::Register1Proxy;
    let register = Register1Proxy::builder(conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let manager = Manager1Proxy::new(conn).await.map_err(|e| e.to_string())?;
    macro_rules! step {
        ($what:expr, $call:expr) => {
            match patiently($what, $call).await {
                Ok(v) => v,
                Err(e) if daemon_gone(&e).is_some() => return Ok(None),
                Err(e) => return Err(format!("{} ({key}): {}", $what, describe(&e))),
            }
        };
    }
    let receipt = match op {
        DayOp::Open(cents) => step!("OpenDay", register.open_day(&money(*cents), key)),
        DayOp::Move(into, cents) => {
            let (kind, reason) = if *into {
                ("in", "Wechselgeld")
            } else {
                ("out", "Bank")
            };
            step!(
                "CashMovement",
                register.cash_movement(kind, &money(*cents), reason, HashMap::new(), key)
            )
        }
        DayOp::Sale(cents, built) => {
            if built.is_none() {
                let plan = Plan {
                    customer: "C-day".into(),
                    items: vec![(1, *cents, "20")],
                };
                let Some(path) = build_sale(conn, &manager, &plan).await? else {
                    return Ok(None);
                };
                *built = Some(path);
            }
            let path = built.clone().expect("built");
            let sale = sale_proxy(conn, path).await;
            step!("Checkout", sale.checkout(key))
        }
        DayOp::Close(counted) => {
            if counted.is_none() {
                let expected = step!("ExpectedCash", register.expected_cash());
                // A cent short now and then, so differences are booked too.
                let short = key.bytes().last().is_some_and(|b| b % 2 == 0);
                let cents = (expected.replace('.', "").parse::<u64>().unwrap_or(0))
                    .saturating_sub(u64::from(short));
                *counted = Some(money(cents));
            }
            let counted = counted.clone().unwrap_or_default();
            step!("CloseDay", register.close_day(&counted, key))
        }
    };
    Ok(Some(receipt))
}

#[tokio::test(flavor = "multi_thread")]
async fn days_survive_sigkill_and_a_crash_in_the_z_exactly_once() {
    const DAYS: usize = 30;
    const Z_FAULT_ROUNDS: usize = 3;
    let seed = seed() ^ 0xDA75;
    println!("day crash test seed: {seed:#x}");
    let mut rng = Rng(seed);
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let printer = FakePrinter::listen(0);
    let config = format!(
        "[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"{}\"\nstatus_poll_ms = 200\n",
        printer.connection()
    );
    let start = |fault: bool| {
        let mut setup = DaemonSetup::new(bus.address(), &root).config(&config);
        if fault {
            setup = setup.env("POSDTEST_FAULT", "close-day-before-commit");
        }
        setup.start()
    };
    let conn = bus.client().await;
    let db: PathBuf = root.join("state").join(posd::store::DATABASE_FILE);

    // The script: each day opened with a float, sales and cash movements, closed by a Z.
    let mut steps: Vec<DayStep> = Vec::new();
    for day in 0..DAYS {
        let mut ops = vec![DayOp::Open(rng.range((0, 20_000)))];
        for _ in 0..rng.range((1, 4)) {
            ops.push(match rng.range((0, 2)) {
                0 => DayOp::Move(true, rng.range((100, 5_000))),
                1 => DayOp::Move(false, rng.range((1, 50))),
                _ => DayOp::Sale(rng.range((100, 3_000)), None),
            });
        }
        ops.push(DayOp::Close(None));
        for (i, op) in ops.into_iter().enumerate() {
            steps.push(DayStep {
                op,
                key: format!("day-{seed:x}-{day:02}-{i}"),
                receipt: None,
            });
        }
    }

    let mut daemon = start(false);
    let mut next = 0usize;
    let (mut kills, mut faults) = (0usize, 0usize);
    // Retries of a step the crash took: (it had committed, it had not).
    let (mut retried_committed, mut retried_fresh) = (0usize, 0usize);
    while next < steps.len() {
        // Every other round arms the fault in the Z; the others are killed at random.
        let fault = faults < Z_FAULT_ROUNDS && kills % 2 == 1;
        if fault {
            assert!(daemon.stop().success(), "SIGTERM; log:\n{}", daemon.log());
            daemon = start(true);
        }
        let kill_after = usize::try_from(rng.range((1, 6))).unwrap_or(1);
        let delay = Duration::from_micros(rng.range((0, 4_000)));
        let sent = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let killer = {
            let (sent, stop) = (sent.clone(), stop.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + PATIENCE * 3;
                loop {
                    if fault {
                        if let Ok(Some(status)) = daemon.child.try_wait() {
                            return (daemon, Some(status));
                        }
                    } else if sent.load(Ordering::SeqCst) >= kill_after {
                        std::thread::sleep(delay);
                        daemon.signal(libc::SIGKILL);
                        let status = daemon.wait();
                        return (daemon, Some(status));
                    }
                    if stop.load(Ordering::SeqCst) {
                        if fault {
                            let status =
                                wait_with_timeout(&mut daemon.child, Duration::from_secs(10));
                            return (daemon, status);
                        }
                        return (daemon, None);
                    }
                    assert!(Instant::now() < deadline, "the day test made no progress");
                    std::thread::sleep(Duration::from_micros(200));
                }
            })
        };
        // Steps until the daemon dies (or the script ends); the one in flight is unknown.
        let mut unknown = None;
        while next < steps.len() {
            sent.fetch_add(1, Ordering::SeqCst);
            let step = &mut steps[next];
            match day_step(&conn, &mut step.op, &step.key).await {
                Ok(Some(receipt)) => {
                    step.receipt = Some(receipt);
                    next += 1;
                }
                Ok(None) => {
                    unknown = Some(next);
                    break;
                }
                Err(e) => panic!("seed {seed:#x}: {e}"),
            }
        }
        stop.store(true, Ordering::SeqCst);
        let (dead, exit) = killer.join().expect("killer");
        daemon = dead;
        if exit.is_none() {
            break;
        }
        if fault {
            faults += 1;
            let c = open_read_only(&db);
            let open_days: i64 = c
                .query_row(
                    "SELECT count(*) FROM days WHERE closed_at IS NULL",
                    [],
                    |r| r.get(0),
                )
                .expect("days");
            assert_eq!(
                open_days, 1,
                "seed {seed:#x}: a Z that aborted before its commit must leave the day open"
            );
        } else {
            kills += 1;
        }
        daemon = start(false);
        // The step whose answer the crash took: the same key again answers its receipt if
        // it committed, or commits it now.
        if let Some(index) = unknown {
            let step = &mut steps[index];
            let before: Option<String> = open_read_only(&db)
                .query_row(
                    "SELECT result FROM idempotency WHERE key = ?1",
                    [&step.key],
                    |r| r.get(0),
                )
                .optional()
                .expect("idempotency");
            let again = day_step(&conn, &mut step.op, &step.key)
                .await
                .unwrap_or_else(|e| panic!("seed {seed:#x}: retry: {e}"))
                .unwrap_or_else(|| panic!("seed {seed:#x}: the restarted daemon died"));
            match before {
                Some(before) => {
                    assert_eq!(
                        again, before,
                        "seed {seed:#x}: {} committed as {before} before the crash, the retry answered {again}",
                        step.key
                    );
                    retried_committed += 1;
                }
                None => retried_fresh += 1,
            }
            step.receipt = Some(again);
            next = index + 1;
        }
    }
    assert!(daemon.stop().success(), "SIGTERM; log:\n{}", daemon.log());
    assert_eq!(faults, Z_FAULT_ROUNDS, "seed {seed:#x}: fault rounds");

    // Every step once, as the client was told; days and Z reports numbered without gaps.
    let c = open_read_only(&db);
    let keys: BTreeMap<String, String> = {
        let mut stmt = c
            .prepare("SELECT key, result FROM idempotency")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    for step in &steps {
        let told = step.receipt.as_deref().expect("every step answered");
        assert_eq!(
            keys.get(&step.key).map(String::as_str),
            Some(told),
            "seed {seed:#x}: {} was told {told}",
            step.key
        );
    }
    assert_eq!(
        keys.len(),
        steps.len(),
        "seed {seed:#x}: no key twice, none extra"
    );
    let count = |kind: &str| -> usize {
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM receipts WHERE kind = ?1",
                [kind],
                |r| r.get(0),
            )
            .expect("count");
        usize::try_from(n).unwrap_or(usize::MAX)
    };
    let of = |f: fn(&DayOp) -> bool| steps.iter().filter(|s| f(&s.op)).count();
    assert_eq!(count("day_open"), of(|o| matches!(o, DayOp::Open(_))));
    assert_eq!(count("z"), DAYS, "seed {seed:#x}: one Z per day");
    assert_eq!(count("sale"), of(|o| matches!(o, DayOp::Sale(..))));
    assert_eq!(
        count("cash_in") + count("cash_out"),
        of(|o| matches!(o, DayOp::Move(..)))
    );
    let days: Vec<(i64, Option<String>, String)> = {
        let mut stmt = c
            .prepare("SELECT number, z_receipt, id FROM days ORDER BY number")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let numbers: Vec<i64> = days.iter().map(|d| d.0).collect();
    assert_eq!(
        numbers,
        (1..=i64::try_from(DAYS).unwrap_or(0)).collect::<Vec<_>>(),
        "seed {seed:#x}: days (and so Z numbers) without gaps"
    );
    for (number, z, id) in &days {
        let z = z.as_deref().unwrap_or_else(|| panic!("day {id} has no Z"));
        let document: String = c
            .query_row(
                "SELECT document FROM receipts WHERE id = ?1 AND kind = 'z' AND day = ?2",
                [z, id],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("seed {seed:#x}: Z {z} of day {id}: {e}"));
        let report: serde_json::Value = serde_json::from_str(&document).expect("Z document");
        assert_eq!(
            report["event"]["report"]["number"],
            serde_json::json!(number),
            "seed {seed:#x}: the Z of day {id} carries its number"
        );
    }
    let drawer: Option<String> = c
        .query_row(
            "SELECT balance FROM ledger_accounts WHERE code = 'host:cash:01'",
            [],
            |r| r.get(0),
        )
        .optional()
        .expect("drawer");
    assert_eq!(
        drawer.and_then(|b| b.parse::<rust_decimal::Decimal>().ok()),
        Some(rust_decimal::Decimal::ZERO),
        "seed {seed:#x}: after the last Z the drawer is empty in the books"
    );
    let numbers: Vec<i64> = {
        let mut stmt = c
            .prepare("SELECT number FROM receipts ORDER BY number")
            .expect("prepare");
        stmt.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert_eq!(
        numbers,
        (1..=i64::try_from(numbers.len()).unwrap_or(0)).collect::<Vec<_>>(),
        "seed {seed:#x}: receipt numbers without gaps"
    );
    let books = verify_books(&db);
    assert!(books.is_ok(), "seed {seed:#x}: {books:?}");
    println!(
        "day crash test: seed {seed:#x}, {} steps over {DAYS} days: {kills} kills, {faults} crashes in the Z; retried {retried_committed} committed before the crash, {retried_fresh} not; {}",
        steps.len(),
        books.unwrap_or_default()
    );
}

/// The pids of the daemon's plugin processes (`posd plugin-host` children).
fn plugin_processes(daemon: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let parent = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            parent == Some(daemon)
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"plugin-host"))
        })
        .collect()
}

/// Checkouts from two frontends while the plugins' processes are killed with SIGKILL at
/// random moments — in the middle of `prepare_checkout`, between it and the commit, during
/// the commit's notification. A checkout the kill reaches fails with `PluginFailed` and
/// leaves nothing written; asked again with its key once the plugin is back, it commits
/// once. The journal check of the daemon-kill test then proves every checkout there exactly
/// once, whole, with its points and its outbox message.
#[tokio::test(flavor = "multi_thread")]
async fn checkouts_survive_a_plugin_killed_in_prepare_and_commit_exactly_once() {
    const PLUGIN_SALES: usize = 90;
    const PLUGIN_KILLS: usize = 60;
    let seed = seed();
    println!("plugin crash test seed: {seed:#x} (CRASH_TEST_SEED replays the schedule)");
    let mut rng = Rng(seed ^ 0x9106);
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let printer = FakePrinter::listen(0);
    // The kills are many: no plugin may count as failed for them.
    let (plugin_dir, plugins) = plugin_config(&root, 10_000, "crash_limit = 1000\n");
    place_plugin(
        &build_rust_plugin("posd-test-points"),
        &plugin_dir,
        "libposd_test_points.so",
    );
    place_plugin(
        &build_rust_plugin("hello-rust"),
        &plugin_dir,
        "libhello_rust.so",
    );
    // Deliveries a kill failed are tried again soon, so the run can wait for all of them.
    let config = format!(
        "{plugins}\n[outbox]\nretry_first_ms = 50\nretry_cap_ms = 200\n\n[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"{}\"\nstatus_poll_ms = 200\n",
        printer.connection()
    );
    let mut daemon = DaemonSetup::new(bus.address(), &root)
        .config(&config)
        .start();
    let db = daemon.database();
    let daemon_pid = daemon.child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (stop, kills) = (stop.clone(), kills.clone());
        let mut rng = Rng(rng.next());
        std::thread::spawn(move || {
            // Enough kills to hit every phase many times; then the checkouts a kill kept
            // refusing get through.
            while !stop.load(Ordering::SeqCst) && kills.load(Ordering::SeqCst) < PLUGIN_KILLS {
                std::thread::sleep(Duration::from_micros(rng.range((2_000, 60_000))));
                let pids = plugin_processes(daemon_pid);
                if pids.is_empty() {
                    continue;
                }
                let pid = pids[rng.range((0, pids.len() as u64 - 1)) as usize];
                // SAFETY: kill has no memory preconditions.
                if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                    kills.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let started = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let lanes: Vec<_> = (0..2)
        .map(|_| {
            let address = bus.address().to_string();
            let (started, refused) = (started.clone(), refused.clone());
            let mut rng = Rng(rng.next());
            tokio::spawn(async move {
                let conn = zbus::connection::Builder::address(address.as_str())
                    .build()
                    .await
                    .expect("client connects");
                let manager = Manager1Proxy::new(&conn).await.expect("manager");
                let mut done: Vec<Attempt> = Vec::new();
                let mut problems: Vec<String> = Vec::new();
                loop {
                    let n = started.fetch_add(1, Ordering::SeqCst);
                    if n >= PLUGIN_SALES {
                        return (done, problems);
                    }
                    let plan = Plan::random(&mut rng);
                    let path = match build_sale(&conn, &manager, &plan).await {
                        Ok(Some(path)) => path,
                        other => {
                            problems.push(format!("sale {n}: {other:?}"));
                            continue;
                        }
                    };
                    let sale_id = path
                        .as_str()
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let key = format!("plugin-crash-{seed:x}-{n:04}");
                    let sale = sale_proxy(&conn, path.clone()).await;
                    let mut answer = None;
                    let asked = Instant::now();
                    while asked.elapsed() < PATIENCE * 3 {
                        match patiently("Checkout", sale.checkout(&key)).await {
                            Ok(receipt) => {
                                answer = Some(receipt);
                                break;
                            }
                            Err(e) if describe(&e).starts_with("org.posd.Error.PluginFailed") => {
                                refused.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(30)).await;
                            }
                            Err(e) => {
                                problems.push(format!("{key}: {}", describe(&e)));
                                break;
                            }
                        }
                    }
                    match answer {
                        Some(receipt) => done.push(Attempt {
                            path,
                            sale_id,
                            key,
                            plan,
                            epoch: 0,
                            first: Outcome::Committed(receipt),
                            retried: None,
                        }),
                        None => problems.push(format!("{key}: never committed")),
                    }
                }
            })
        })
        .collect();
    let mut attempts = Vec::new();
    let mut problems = Vec::new();
    for lane in lanes {
        let (done, found) = lane.await.expect("lane");
        attempts.extend(done);
        problems.extend(found);
    }
    stop.store(true, Ordering::SeqCst);
    killer.join().expect("killer");
    // Let the outbox deliver what a killed plugin could not take yet.
    let conn = bus.client().await;
    eventually("every outbox message delivered", || async {
        open_read_only(&db)
            .query_row(
                "SELECT count(*) FROM outbox WHERE state != 'delivered'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .is_ok_and(|n| n == 0)
    })
    .await;
    drop(conn);
    let status = daemon.stop();
    assert!(
        status.success(),
        "SIGTERM: {status}; log:\n{}",
        daemon.log()
    );
    let mut findings = Findings::default();
    let summary = verify_journal(&db, &attempts, &mut findings);
    let (kills, refused) = (kills.load(Ordering::SeqCst), refused.load(Ordering::SeqCst));
    println!(
        "plugin crash test: seed {seed:#x}, {} checkouts, {kills} plugin processes killed, {refused} checkouts refused by a kill and asked again; {summary}",
        attempts.len()
    );
    assert!(problems.is_empty(), "seed {seed:#x}: {problems:#?}");
    assert_eq!(attempts.len(), PLUGIN_SALES, "seed {seed:#x}");
    assert!(
        kills >= PLUGIN_KILLS / 2,
        "seed {seed:#x}: only {kills} kills"
    );
    assert!(
        refused >= 1,
        "seed {seed:#x}: no kill reached a checkout, so nothing was shown"
    );
    assert!(
        findings.is_empty(),
        "seed {seed:#x}: the contract does not hold:{}",
        findings.report()
    );
}
