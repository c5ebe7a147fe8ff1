//! A basket change as a frontend feels it: `SetQuantity` on one line of an open sale, timed
//! from the call to its reply, on sales of 20, 200 and 500 lines — once with no plugin and
//! once with every shipped plugin loaded (the vouchers plugin with a percentage discount
//! code on the sale, so its automatic line follows every change; the points test plugin;
//! the hello-rust example). Every change re-evaluates the sale with the plugins and makes it
//! durable before the reply. Next to it, in the same run, the floor a change can't go
//! below: a bare bus round trip (a `Manager1` property read) and one single-row
//! `synchronous=FULL` commit in the daemon's directory.
//!
//! `cargo bench -p posd --bench basket`. Prints figures; asserts nothing.

#[path = "../../tests/support/mod.rs"]
mod support;

mod figures;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use figures::{raw_commits, report};
use posd::client::{Manager1Proxy, Sale1Proxy};
use support::*;
use zbus::Variant;

/// Changes timed per sale.
const CHANGES: usize = 300;
/// Changes before timing.
const WARM_UP: usize = 20;
/// Sale sizes, unless sizes are given as arguments (`-- 20 200`).
const SIZES: [usize; 3] = [20, 200, 500];

/// The sale sizes to time: the arguments that are numbers, or [`SIZES`].
fn sizes() -> Vec<usize> {
    let given: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    if given.is_empty() {
        SIZES.to_vec()
    } else {
        given
    }
}
/// Single-row commits of the floor.
const RAW_COMMITS: usize = 1000;

/// A sale of `lines` item lines (the discount code entered when `code` is given); the id of
/// its middle line.
async fn sale_of<'a>(
    conn: &'a zbus::Connection,
    manager: &Manager1Proxy<'_>,
    lines: usize,
    code: Option<&str>,
) -> (Sale1Proxy<'a>, String) {
    let path = manager
        .open_sale(HashMap::from([
            ("cashier", Variant::from("bench")),
            ("customer", Variant::from("C-1001")),
        ]))
        .await
        .expect("OpenSale");
    let sale = sale_proxy(conn, path).await;
    let mut middle = String::new();
    for line in 0..lines {
        let name = format!("Artikel {line} mit einem längeren Namen");
        let sku = format!("40063813{line:05}");
        let price = format!("{}.{:02}", 1 + line % 9, (line * 37) % 100);
        let id = sale
            .add_item(HashMap::from([
                ("sku", Variant::from(sku.as_str())),
                ("name", Variant::from(name.as_str())),
                ("qty", Variant::from((1 + line % 3).to_string())),
                ("unit_price", Variant::from(price.as_str())),
                (
                    "tax_rate",
                    Variant::from(if line % 4 == 0 { "10" } else { "20" }),
                ),
                ("tags", Variant::from(vec!["group:bench"])),
            ]))
            .await
            .expect("AddItem");
        if line == lines / 2 {
            middle = id;
        }
    }
    if let Some(code) = code {
        sale.enter_code(code).await.expect("EnterCode");
    }
    (sale, middle)
}

/// `SetQuantity` on the middle line of a sale of each size, timed at the client.
async fn changes(
    conn: &zbus::Connection,
    manager: &Manager1Proxy<'_>,
    code: Option<&str>,
    label: &str,
) -> Vec<(usize, Duration, Duration)> {
    let mut figures = Vec::new();
    for lines in sizes() {
        let (sale, line) = sale_of(conn, manager, lines, code).await;
        let mut samples = Vec::with_capacity(CHANGES);
        for n in 0..WARM_UP + CHANGES {
            let qty = if n % 2 == 0 { "5" } else { "4" };
            let start = Instant::now();
            sale.set_quantity(&line, qty).await.expect("SetQuantity");
            if n >= WARM_UP {
                samples.push(start.elapsed());
            }
        }
        let (median, p99) = report(
            &format!("SetQuantity, {lines:>3}-line sale, {label}"),
            samples,
        );
        figures.push((lines, median, p99));
        sale.cancel().await.expect("Cancel");
    }
    figures
}

/// A daemon on `bus` with `plugins` (package, file name) placed and `extra` configuration.
fn daemon(bus: &TestBus, root: &Path, plugins: &[(&Path, &str)], extra: &str) -> Daemon {
    let (plugin_dir, config) = plugin_config(root, 2000, extra);
    for (library, name) in plugins {
        place_plugin(library, &plugin_dir, name);
    }
    DaemonSetup::new(bus.address(), root)
        .config(&format!("[log]\nlevel = \"warn\"\n{config}"))
        .start()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let vouchers = build_rust_plugin_with("posd-vouchers", true);
    let points = build_rust_plugin_with("posd-test-points", true);
    let hello = build_rust_plugin_with("hello-rust", true);
    println!(
        "posd basket change over D-Bus (release): SetQuantity on the middle line, {CHANGES} \
         changes per sale after {WARM_UP} warm-up"
    );

    let mut summary = Vec::new();
    {
        let bus = TestBus::start();
        let root = bus.dir.path().to_path_buf();
        let mut bare = daemon(&bus, &root, &[], "");
        let conn = bus.client().await;
        let manager = Manager1Proxy::builder(&conn)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("manager");
        summary.push((
            "no plugin",
            changes(&conn, &manager, None, "no plugin").await,
        ));
        let mut reads = Vec::with_capacity(CHANGES);
        for _ in 0..CHANGES {
            let start = Instant::now();
            std::hint::black_box(manager.version().await.expect("Version"));
            reads.push(start.elapsed());
        }
        let (read, _) = report("floor: Manager1.Version property read", reads);
        let (commit, _) = report(
            "floor: one single-row FULL commit (same directory)",
            raw_commits(&bare.state_dir, RAW_COMMITS, 400).1,
        );
        println!(
            "{:<52} median={:>7.2} ms",
            "floor: round trip + commit",
            (read + commit).as_secs_f64() * 1e3
        );
        let status = bare.stop();
        assert!(status.success(), "posd: {status}; log:\n{}", bare.log());
    }
    {
        let bus = TestBus::start();
        let root = bus.dir.path().to_path_buf();
        let key = root.join("vouchers.key");
        std::fs::write(&key, [42u8; 32]).expect("key");
        let extra = format!(
            "[plugin.vouchers]\nkey_file = \"{}\"\n\
             [[plugin.vouchers.programmes]]\nid = \"gift\"\nname = \"Geschenkgutschein\"\n\
             kind = \"gift\"\nmin_amount = \"5.00\"\nmax_amount = \"500.00\"\n\
             code = {{ format = \"template\" }}\n\
             [[plugin.vouchers.discount_codes]]\ncode = \"BENCH10\"\nname = \"-10 %\"\npercent = \"10\"\n\
             [plugin.hello-rust]\nbalance = \"25.00\"\n",
            key.display()
        );
        let mut loaded = daemon(
            &bus,
            &root,
            &[
                (&vouchers, "libposd_vouchers.so"),
                (&points, "libposd_test_points.so"),
                (&hello, "libhello_rust.so"),
            ],
            &extra,
        );
        let conn = bus.client().await;
        let manager = Manager1Proxy::builder(&conn)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("manager");
        summary.push((
            "every shipped plugin",
            changes(&conn, &manager, Some("BENCH10"), "vouchers+points+hello").await,
        ));
        let status = loaded.stop();
        assert!(status.success(), "posd: {status}; log:\n{}", loaded.log());
    }
    for (label, figures) in summary {
        let (_, first, _) = figures[0];
        let growth: Vec<String> = figures
            .iter()
            .map(|(lines, median, p99)| {
                format!(
                    "{lines} lines ×{:.2} (p99 {:.2} ms)",
                    median.as_secs_f64() / first.as_secs_f64(),
                    p99.as_secs_f64() * 1e3
                )
            })
            .collect();
        println!(
            "median growth from 20 lines, {label}: {}",
            growth.join(", ")
        );
    }
}
