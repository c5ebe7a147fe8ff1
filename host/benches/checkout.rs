//! Checkout over D-Bus: a 20-line sale checked out by the real daemon with every shipped
//! plugin taking part, in the example configuration's order: the promotions plugin with 50
//! promotions, the cards plugin (a fifth of the customers hold a card whose discount
//! applies), the product plugin `posd-vouchers`, whose gift voucher — a generated code,
//! known to the plugin by its keyed hash — pays what the card leaves, posted against the
//! voucher's floor, with a redemption slip and a kv note of the receipt, and the points
//! plugin, which posts what the sale earns after the reductions; and a receipt printer on a
//! real TCP listener, measured at the client as a frontend sees it. The plugins are release
//! builds. Next to it, in the same run and in the same directory as the daemon's database, the
//! raw rate of single-row SQLite transactions with WAL and `synchronous=FULL`: a checkout
//! commits one such transaction, so that rate is its ceiling on this disk. After the
//! checkouts, the X report of the day they made (every receipt read and summed) and the Z
//! that closes it.
//!
//! The checkouts are timed twice in one run, with every plugin inside the daemon and with
//! each in its own process (the default), and the difference printed.
//!
//! `cargo bench -p posd --bench checkout`. Prints figures; asserts nothing.

#[path = "../../tests/support/mod.rs"]
mod support;

mod figures;
#[allow(dead_code)] // the basket bench times with it
mod promotion_set;
mod shipped;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use figures::{raw_commits, report};
use posd_client::{Manager1Proxy, Sale1Proxy};
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
    voucher: &str,
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
            // Groups the promotions, points and the card's discount are about; none is the
            // punch card's (group:5): the sales are built long before they are checked out,
            // and a punch card counted on a basket refuses a checkout after another sale of
            // the same customer changed it.
            ("tags", Variant::from(vec![format!("group:{}", line % 5)])),
        ]))
        .await
        .expect("AddItem");
    }
    sale.add_tender("card", "100.00", HashMap::new())
        .await
        .expect("AddTender");
    sale.enter_code(voucher).await.expect("EnterCode");
    sale
}

/// What the voucher is sold for: the most a programme allows. Each sale's goods come to
/// 216.38, of which the card pays 100.00 and the voucher the rest, so it lasts the
/// 620 sales of the run.
const VOUCHER_VALUE: &str = "100000.00";

/// The `[plugin.vouchers]` section: the key file (which its process may read) and the one
/// programme the bench sells.
fn vouchers_config(key_file: &Path) -> String {
    format!(
        "[plugins.run.vouchers]\nread = [\"{0}\"]\n\n[plugin.vouchers]\nkey_file = \"{0}\"\n\n[[plugin.vouchers.programmes]]\nid = \"gift\"\nname = \"Geschenkgutschein\"\nkind = \"gift\"\nmax_amount = \"100000.00\"\ncode = {{ format = \"template\", groups = [4, 4, 4, 4], separator = \"-\" }}\n",
        key_file.display()
    )
}

/// Sells the gift voucher every sale redeems, with a balance that outlasts the run; returns
/// its code (generated by the plugin, handed to the frontend once).
async fn sell_voucher(conn: &zbus::Connection, manager: &Manager1Proxy<'_>) -> String {
    let sale = open_sale(conn, manager, "").await;
    let args = HashMap::from([("amount", Variant::from(VOUCHER_VALUE))]);
    let answer: HashMap<String, zbus::OwnedVariant> = sale
        .inner()
        .call("Invoke", &("vouchers:sell-gift", args))
        .await
        .expect("sell the voucher");
    let result: HashMap<String, zbus::OwnedVariant> =
        answer["result"].clone().try_into().expect("result");
    let code = s(&result["code"]);
    sale.add_tender("cash", VOUCHER_VALUE, HashMap::new())
        .await
        .expect("cash");
    sale.checkout("sell-voucher").await.expect("Checkout");
    code
}

/// How many of the sales' 50 customers hold a card of the cards plugin.
const CARD_HOLDERS: usize = 10;

/// A checkout slower than this counts as slow (the target for p99).
const SLOW: Duration = Duration::from_millis(10);

/// The checkpoint sequence number in the header of the WAL file `wal` (bytes 12..16, big
/// endian): SQLite increments it whenever a write restarts the WAL after a checkpoint, so
/// a change across a checkout means that checkout's commit waited for a checkpoint (with
/// `wal_autocheckpoint`, the commit that fills the WAL runs it).
fn wal_checkpoint_sequence(wal: &Path) -> u32 {
    use std::io::Read;
    let mut header = [0u8; 16];
    std::fs::File::open(wal)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_or(0, |()| {
            u32::from_be_bytes([header[12], header[13], header[14], header[15]])
        })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let plugins_began = Instant::now();
    let points = build_rust_plugin_with("posd-points", true);
    let vouchers = build_rust_plugin_with("posd-vouchers", true);
    let promotions = build_rust_plugin_with("posd-promotions", true);
    let cards = build_rust_plugin_with("posd-cards", true);
    let built_plugins = plugins_began.elapsed();
    let libraries = [points, vouchers, promotions, cards];
    // The plugins inside the daemon first, for the comparison: only the checkouts.
    let in_process = run("in-process", &libraries, built_plugins, false).await;
    let isolated = run("process", &libraries, built_plugins, true).await;
    let (in_median, in_p99) = report("Checkout, every plugin inside the daemon", in_process);
    let (median, p99) = report("Checkout, every plugin in its own process", isolated);
    println!(
        "isolation adds per checkout: median {:.2} ms, p99 {:.2} ms; checkout p99 with every shipped plugin isolated {:.2} ms (target < 10 ms)",
        (median.as_secs_f64() - in_median.as_secs_f64()) * 1e3,
        (p99.as_secs_f64() - in_p99.as_secs_f64()) * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

/// Runs the bench with the plugins where `isolation` says (`[plugins] isolation`); returns
/// the checkout latencies. Only with `everything` the rest of the figures too.
async fn run(
    isolation: &str,
    [points, vouchers, promotions, cards]: &[std::path::PathBuf; 4],
    built_plugins: Duration,
    everything: bool,
) -> Vec<Duration> {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let key_file = root.join("vouchers.key");
    std::fs::write(&key_file, b"0123456789abcdef0123456789abcdef-bench-key").expect("key file");
    let printer = FakePrinter::listen(0);
    let devices = format!(
        "{}\n[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"{}\"\n\n{}{}{}",
        shipped::ORDER,
        printer.connection(),
        vouchers_config(&key_file),
        shipped::SHIPPED,
        toml::to_string(&serde_json::json!({ "plugin": { "promotions": promotion_set::fifty() } }))
            .expect("promotions as TOML"),
    );
    let (plugin_dir, config) = plugin_config(&root, 2000, &devices);
    place_plugin(points, &plugin_dir, shipped::POINTS_FILE);
    place_plugin(vouchers, &plugin_dir, "libposd_vouchers.so");
    place_plugin(promotions, &plugin_dir, "libposd_promotions.so");
    place_plugin(cards, &plugin_dir, shipped::CARDS_FILE);
    let mut daemon = DaemonSetup::new(bus.address(), &root)
        .config(&config)
        .env("POSD_PLUGINS__ISOLATION", isolation)
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::builder(&conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("manager");

    let plugin = posd_client::Plugin1Proxy::builder(&conn)
        .path(posd_client::plugin_path("vouchers"))
        .build()
        .await
        .expect("plugin proxy");
    let state = plugin.state().await.expect("State");
    assert_eq!(
        state,
        "loaded",
        "posd-vouchers: {}",
        plugin.error().await.expect("Error")
    );
    let voucher = sell_voucher(&conn, &manager).await;
    // Every fifth of the sales' customers holds a card.
    for n in (0..50).step_by(50 / CARD_HOLDERS) {
        let number = u32::try_from(n).expect("small");
        shipped::sell_card(&conn, &manager, &format!("C-{}", 1000 + n), number).await;
    }
    println!(
        "posd checkout over D-Bus: {LINES}-line sale paid by card and gift voucher, every \
         shipped plugin ({isolation}): vouchers, 50 promotions, points, cards (release, built \
         or checked in {:.1} s), receipt printer on TCP, state in {}",
        built_plugins.as_secs_f64(),
        daemon.state_dir.display()
    );
    let build_began = Instant::now();
    let mut sales = Vec::with_capacity(WARM_UP + CHECKOUTS);
    for n in 0..WARM_UP + CHECKOUTS {
        sales.push(paid_sale(&conn, &manager, &voucher, n).await);
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
    // Whether each checkout's commit restarted the WAL, i.e. a checkpoint ran in between.
    let mut restarted = Vec::with_capacity(CHECKOUTS);
    let wal = daemon.database().with_extension("sqlite3-wal");
    let mut wal_seq = wal_checkpoint_sequence(&wal);
    let began = Instant::now();
    for (n, sale) in sales.iter().skip(WARM_UP).enumerate() {
        let key = format!("bench-{n}");
        let start = Instant::now();
        let receipt = sale.checkout(&key).await.expect("Checkout");
        latencies.push(start.elapsed());
        std::hint::black_box(receipt);
        let seq = wal_checkpoint_sequence(&wal);
        restarted.push(seq != wal_seq);
        wal_seq = seq;
    }
    let elapsed = began.elapsed();
    if !everything {
        let status = daemon.stop();
        assert!(status.success(), "posd: {status}; log:\n{}", daemon.log());
        return latencies;
    }
    let slow: Vec<bool> = latencies
        .iter()
        .zip(&restarted)
        .filter(|(l, _)| **l > SLOW)
        .map(|(_, r)| *r)
        .collect();
    let throughput = CHECKOUTS as f64 / elapsed.as_secs_f64();

    // The same with several frontends at once, each on its own bus connection.
    let mut frontends = Vec::with_capacity(FRONTENDS);
    for f in 0..FRONTENDS {
        let conn = bus.client().await;
        let mut paths = Vec::new();
        for n in (f..CHECKOUTS).step_by(FRONTENDS) {
            paths.push(
                paid_sale(&conn, &manager, &voucher, n)
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
    let register = posd_client::Register1Proxy::new(&conn)
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
    // Every sale prints its receipt and the voucher's slip; so did the voucher's own sale;
    // each card's sale printed its receipt.
    let documents = 2 * (WARM_UP + 2 * CHECKOUTS + 1) + 1 + CARD_HOLDERS;
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

    let (_, p99) = report("Checkout (client → posd → client)", latencies.clone());
    println!(
        "{:<44} {} over {} ms, {} of them at a WAL checkpoint ({} checkpoints in {CHECKOUTS})",
        "  slow checkouts",
        slow.len(),
        SLOW.as_millis(),
        slow.iter().filter(|r| **r).count(),
        restarted.iter().filter(|r| **r).count()
    );
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
    let (raw, raw_samples) = raw_commits(&daemon.state_dir, RAW_COMMITS, 200);
    report("raw single-row transaction (WAL, FULL)", raw_samples);
    println!(
        "{:<44} {raw:>8.1} commits/s ({RAW_COMMITS} transactions, same directory)",
        "raw SQLite"
    );
    // Checkouts of one till are sequential and human-paced: latency counts, not the ratio of
    // throughput to the raw commit rate (printed for reference only).
    println!(
        "checkout p99 {:.2} ms (target < 10 ms with every shipped plugin); throughput / raw commit rate {:.2} (several frontends {:.2}), for reference",
        p99.as_secs_f64() * 1e3,
        throughput / raw,
        concurrent / raw,
    );
    latencies
}
