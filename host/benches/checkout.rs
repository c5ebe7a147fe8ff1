//! Checkout over D-Bus: a 20-line sale checked out by the real daemon with two plugins
//! taking part (the points test plugin, which posts, queues an outbox message and writes kv
//! in the checkout's transaction; the vouchers test plugin, whose gift voucher pays what the
//! card leaves, posted against the voucher's floor) and a receipt printer on a real TCP
//! listener, measured at the client as a frontend sees it. Next to it, in the same run and in the same directory as the daemon's database, the
//! raw rate of single-row SQLite transactions with WAL and `synchronous=FULL`: a checkout
//! commits one such transaction, so that rate is its ceiling on this disk. After the
//! checkouts, the X report of the day they made (every receipt read and summed) and the Z
//! that closes it.
//!
//! `cargo bench -p posd --bench checkout`. Prints figures; asserts nothing.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use posd::client::{Manager1Proxy, Sale1Proxy};
use support::*;
use zbus::Variant;

/// Checkouts timed.
const CHECKOUTS: usize = 300;
/// Checkouts before timing (plugin threads, SQLite caches, the bus).
const WARM_UP: usize = 20;
/// Lines per sale.
const LINES: usize = 20;
/// Frontends checking out at once in the concurrent figure (self-checkouts on one daemon).
const FRONTENDS: usize = 4;
/// Single-row transactions of the raw SQLite figure.
const RAW_COMMITS: usize = 2000;
/// X reports taken of the bench's day, one after another.
const REPORTS: usize = 50;

fn report(what: &str, mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / u32::try_from(samples.len()).unwrap_or(1);
    println!(
        "{what:<44} n={:<5} median={:>7.2} ms  p99={:>7.2} ms  mean={:>7.2} ms  max={:>7.2} ms",
        samples.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
    (at(0.5), at(0.99))
}

/// Opens a sale (for `customer`, unless empty) at the bench's cashier.
async fn open_sale<'a>(
    conn: &'a zbus::Connection,
    manager: &Manager1Proxy<'_>,
    customer: &str,
) -> Sale1Proxy<'a> {
    let mut options = HashMap::from([("cashier", Variant::from("bench"))]);
    if !customer.is_empty() {
        options.insert("customer", Variant::from(customer));
    }
    let path = manager.open_sale(options).await.expect("OpenSale");
    sale_proxy(conn, path).await
}

/// Opens a sale for customer `C-<n>` with [`LINES`] lines, paid by card and voucher.
async fn paid_sale<'a>(
    conn: &'a zbus::Connection,
    manager: &Manager1Proxy<'_>,
    n: usize,
) -> Sale1Proxy<'a> {
    let customer = format!("C-{}", 1000 + n % 50);
    let sale = open_sale(conn, manager, &customer).await;
    for line in 0..LINES {
        let name = format!("Artikel {line} mit einem längeren Namen");
        let sku = format!("40063813{line:05}");
        let qty = (1 + line % 3).to_string();
        let price = format!("{}.{:02}", 1 + line % 9, (line * 37) % 100);
        sale.add_item(HashMap::from([
            ("sku", Variant::from(sku.as_str())),
            ("name", Variant::from(name.as_str())),
            ("qty", Variant::from(qty.as_str())),
            ("unit_price", Variant::from(price.as_str())),
            (
                "tax_rate",
                Variant::from(if line % 4 == 0 { "10" } else { "20" }),
            ),
        ]))
        .await
        .expect("AddItem");
    }
    sale.add_tender("card", "20.00", HashMap::new())
        .await
        .expect("AddTender");
    sale.enter_code(VOUCHER).await.expect("EnterCode");
    sale
}

/// The gift voucher every sale redeems.
const VOUCHER: &str = "GV-1";

/// Sells [`VOUCHER`] with a balance that outlasts the run.
async fn sell_voucher(conn: &zbus::Connection, manager: &Manager1Proxy<'_>) {
    let sale = open_sale(conn, manager, "").await;
    let args = HashMap::from([
        ("code", Variant::from(VOUCHER)),
        ("amount", Variant::from("900000.00")),
    ]);
    let _: HashMap<String, zbus::OwnedVariant> = sale
        .inner()
        .call("Invoke", &("vouchers:sell", args))
        .await
        .expect("sell the voucher");
    sale.add_tender("cash", "900000.00", HashMap::new())
        .await
        .expect("cash");
    sale.checkout("sell-voucher").await.expect("Checkout");
}

/// Commits per second of single-row INSERT transactions in a fresh database in `dir`
/// (WAL, `synchronous=FULL`, as the daemon's).
fn raw_commit_rate(dir: &Path) -> (f64, Vec<Duration>) {
    let path = dir.join("bench-raw.sqlite3");
    let c = rusqlite::Connection::open(&path).expect("raw database");
    let mode: String = c
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("WAL");
    assert!(mode.eq_ignore_ascii_case("wal"), "journal mode {mode}");
    c.execute_batch(
        "PRAGMA synchronous = FULL;
         CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL) STRICT;",
    )
    .expect("schema");
    let payload = "x".repeat(200);
    let mut samples = Vec::with_capacity(RAW_COMMITS);
    let began = Instant::now();
    for _ in 0..RAW_COMMITS {
        let start = Instant::now();
        c.execute_batch("BEGIN").expect("begin");
        c.execute("INSERT INTO t (payload) VALUES (?1)", [&payload])
            .expect("insert");
        c.execute_batch("COMMIT").expect("commit");
        samples.push(start.elapsed());
    }
    let rate = RAW_COMMITS as f64 / began.elapsed().as_secs_f64();
    drop(c);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    (rate, samples)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let points = build_rust_plugin_with("posd-test-points", true);
    let vouchers = build_rust_plugin_with("posd-test-vouchers", true);
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let printer = FakePrinter::listen(0);
    let devices = format!(
        "[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"{}\"\n",
        printer.connection()
    );
    let (plugin_dir, config) = plugin_config(&root, 2000, &devices);
    place_plugin(&points, &plugin_dir, "libposd_test_points.so");
    place_plugin(&vouchers, &plugin_dir, "libposd_test_vouchers.so");
    let mut daemon = DaemonSetup::new(bus.address(), &root)
        .config(&config)
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::builder(&conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("manager");

    sell_voucher(&conn, &manager).await;
    println!(
        "posd checkout over D-Bus: {LINES}-line sale paid by card and gift voucher, plugins \
         points + vouchers (release), receipt printer on TCP, state in {}",
        daemon.state_dir.display()
    );
    let build_began = Instant::now();
    let mut sales = Vec::with_capacity(WARM_UP + CHECKOUTS);
    for n in 0..WARM_UP + CHECKOUTS {
        sales.push(paid_sale(&conn, &manager, n).await);
    }
    println!(
        "built {} sales ({} calls) in {:.1} s",
        sales.len(),
        sales.len() * (LINES + 3),
        build_began.elapsed().as_secs_f64()
    );
    for (n, sale) in sales.iter().take(WARM_UP).enumerate() {
        sale.checkout(&format!("warm-{n}"))
            .await
            .expect("Checkout (warm-up)");
    }
    let mut latencies = Vec::with_capacity(CHECKOUTS);
    let began = Instant::now();
    for (n, sale) in sales.iter().skip(WARM_UP).enumerate() {
        let key = format!("bench-{n}");
        let start = Instant::now();
        let receipt = sale.checkout(&key).await.expect("Checkout");
        latencies.push(start.elapsed());
        std::hint::black_box(receipt);
    }
    let elapsed = began.elapsed();
    let throughput = CHECKOUTS as f64 / elapsed.as_secs_f64();

    // The same with several frontends at once, each on its own bus connection.
    let mut frontends = Vec::with_capacity(FRONTENDS);
    for f in 0..FRONTENDS {
        let conn = bus.client().await;
        let mut paths = Vec::new();
        for n in (f..CHECKOUTS).step_by(FRONTENDS) {
            paths.push(
                paid_sale(&conn, &manager, n)
                    .await
                    .inner()
                    .path()
                    .to_owned(),
            );
        }
        frontends.push((conn, paths));
    }
    let concurrent_began = Instant::now();
    let mut running = Vec::new();
    for (f, (conn, paths)) in frontends.into_iter().enumerate() {
        running.push(tokio::spawn(async move {
            for (n, path) in paths.into_iter().enumerate() {
                let sale = sale_proxy(&conn, path).await;
                sale.checkout(&format!("frontend-{f}-{n}"))
                    .await
                    .expect("Checkout (concurrent)");
            }
        }));
    }
    for frontend in running {
        frontend.await.expect("frontend");
    }
    let concurrent = CHECKOUTS as f64 / concurrent_began.elapsed().as_secs_f64();

    // For reading the figure: what a call costs that does (almost) nothing, and a checkout
    // answered from its idempotency key (the bus, one database read, no plugin, no write).
    let mut round_trips = Vec::with_capacity(CHECKOUTS);
    for _ in 0..CHECKOUTS {
        let start = Instant::now();
        std::hint::black_box(manager.version().await.expect("Version"));
        round_trips.push(start.elapsed());
    }
    let mut replays = Vec::with_capacity(CHECKOUTS);
    for (n, sale) in sales.iter().skip(WARM_UP).enumerate() {
        let key = format!("bench-{n}");
        let start = Instant::now();
        std::hint::black_box(sale.checkout(&key).await.expect("Checkout replay"));
        replays.push(start.elapsed());
    }
    // The day's reports over all of the bench's receipts: the X a manager takes at any time,
    // then the Z that closes the day (once: it ends the day).
    let register = posd::client::Register1Proxy::new(&conn)
        .await
        .expect("register");
    let mut x_reports = Vec::with_capacity(REPORTS);
    for _ in 0..REPORTS {
        let start = Instant::now();
        std::hint::black_box(register.report().await.expect("Report"));
        x_reports.push(start.elapsed());
    }
    let expected = register.expected_cash().await.expect("ExpectedCash");
    let start = Instant::now();
    register
        .close_day(&expected, "bench-z")
        .await
        .expect("CloseDay");
    let z_report = start.elapsed();
    let printed = Instant::now();
    // `GS V` with a partial or full cut ends every receipt and slip.
    let cut = |bytes: &[u8]| {
        bytes
            .windows(3)
            .filter(|w| w[0] == 0x1d && w[1] == 0x56 && (w[2] == 0x41 || w[2] == 0x42))
            .count()
    };
    // Every sale prints its receipt and the voucher's slip; so did the voucher's own sale.
    let documents = 2 * (WARM_UP + 2 * CHECKOUTS + 1) + 1;
    while cut(&printer.received()) < documents && printed.elapsed().as_secs() < 60 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "the printer received {} of {documents} receipts and slips ({:.1} s after the last checkout)",
        cut(&printer.received()),
        printed.elapsed().as_secs_f64()
    );
    let status = daemon.stop();
    assert!(status.success(), "posd: {status}; log:\n{}", daemon.log());

    let (_, p99) = report("Checkout (client → posd → client)", latencies);
    println!(
        "{:<44} {throughput:>8.1} checkouts/s ({CHECKOUTS} sequential in {:.2} s)",
        "sustained",
        elapsed.as_secs_f64()
    );
    println!(
        "{:<44} {concurrent:>8.1} checkouts/s ({CHECKOUTS} from {FRONTENDS} frontends at once)",
        "sustained, several frontends"
    );
    report("  Checkout again, same key (replay)", replays);
    report("  Get Manager1.Version (bus round trip)", round_trips);
    let receipts = WARM_UP + 2 * CHECKOUTS + 1;
    report(
        &format!("X report of a day of {receipts} receipts"),
        x_reports,
    );
    println!(
        "{:<44} {:>8.2} ms (the same day, written, booked and printed)",
        "Z report",
        z_report.as_secs_f64() * 1e3
    );
    let (raw, raw_samples) = raw_commit_rate(&daemon.state_dir);
    report("raw single-row transaction (WAL, FULL)", raw_samples);
    println!(
        "{:<44} {raw:>8.1} commits/s ({RAW_COMMITS} transactions, same directory)",
        "raw SQLite"
    );
    println!(
        "checkout throughput / raw commit rate: {:.2} (target ≥ 0.50; several frontends: {:.2}); p99 {:.2} ms (target < 10 ms)",
        throughput / raw,
        concurrent / raw,
        p99.as_secs_f64() * 1e3
    );
}
