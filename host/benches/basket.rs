//! A basket change as a frontend feels it: `SetQuantity` on one line of an open sale, timed
//! from the call to its reply, on sales of 20, 200 and 500 lines — once with no plugin and
//! with plugins: the three issue 13 measured (the vouchers plugin with a percentage
//! discount code on the sale, so its automatic line follows every change; the points test
//! plugin; the hello-rust example), and every shipped plugin, those three and the
//! promotions plugin with the 50 competing promotions of `promotion_set`. Every change
//! re-evaluates the sale with the plugins and makes it
//! durable before the reply. Next to each, in the same run, the floor a change can't go
//! below: a bare bus round trip to the same daemon (a `Manager1` property read) plus one
//! `synchronous=FULL` commit of the rows that change writes — the lines that differ, and the
//! sale's head where it differs, read from the daemon's own file after a change and written
//! back the way the daemon writes them (a head with a new `updated_at` each time), into a
//! copy of the sale in that same file (the copy is removed).
//!
//! `cargo bench -p posd --bench basket`; `-- 200 shipped` times only 200-line sales with
//! every shipped plugin. Prints figures; asserts nothing.

#[path = "../../tests/support/mod.rs"]
mod support;

mod figures;
mod promotion_set;
mod shipped;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use figures::{cpu_by_thread, cpu_with_plugin_processes, report};
use posd_client::{Manager1Proxy, Sale1Proxy};
use shipped::{CARDS_FILE, POINTS_FILE, SHIPPED, sell_card};
use support::*;
use zbus::Variant;

/// Changes timed per sale, unless `BASKET_CHANGES` says how many (more, to profile a run).
const CHANGES: usize = 300;

/// [`CHANGES`], or the number `BASKET_CHANGES` gives.
fn changes_timed() -> usize {
    std::env::var("BASKET_CHANGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CHANGES)
}
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

/// Whether a configuration is to be timed: every one, unless words are given as arguments
/// (`-- shipped`), then those whose title or label holds one of them.
fn chosen(name: &str) -> bool {
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-') && a.parse::<usize>().is_err())
        .collect();
    words.is_empty() || words.iter().any(|w| name.contains(w.as_str()))
}

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
        // The skus and groups the 50 promotions of `promotion_set` are about.
        let sku = format!("sku{}", line % 40);
        let group = format!("group:{}", line % 10);
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
                ("tags", Variant::from(vec![group.as_str()])),
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

/// A change's figures at one sale size: median and p99 of the change, and its floor.
struct Figures {
    lines: usize,
    median: Duration,
    p99: Duration,
    floor: Duration,
}

/// A sale's rows as the daemon keeps them: its head document and its lines' documents by
/// line id.
fn rows(db: &rusqlite::Connection, id: &str) -> (String, BTreeMap<String, String>) {
    let head = db
        .query_row("SELECT document FROM sales WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .expect("the sale's head");
    let lines = db
        .prepare("SELECT line_id, document FROM sale_lines WHERE sale_id = ?1")
        .expect("prepare")
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("lines")
        .collect::<rusqlite::Result<_>>()
        .expect("line rows");
    (head, lines)
}

/// The line rows that writing version `to` over version `from` of a sale upserts (id,
/// document) and deletes (id), as the daemon does.
fn line_writes<'a>(
    from: &BTreeMap<String, String>,
    to: &'a BTreeMap<String, String>,
) -> (Vec<(&'a str, &'a str)>, Vec<String>) {
    let upserts = to
        .iter()
        .filter(|(id, doc)| from.get(*id) != Some(*doc))
        .map(|(id, doc)| (id.as_str(), doc.as_str()))
        .collect();
    let deletes = from
        .keys()
        .filter(|id| !to.contains_key(*id))
        .cloned()
        .collect();
    (upserts, deletes)
}

/// The commit floor of a change: the rows `change` made the daemon write to sale `id` —
/// the lines that differ afterwards (new or changed, and those gone), and its head if that
/// differs — written `CHANGES` times, each as one `synchronous=FULL` transaction with the
/// daemon's statements, alternating between the two versions as the timed changes do, into
/// a copy of the sale in the daemon's own file. Returns each commit's time and the number
/// of rows.
fn commit_floor(
    state_dir: &Path,
    id: &str,
    before: (String, BTreeMap<String, String>),
    after: (String, BTreeMap<String, String>),
) -> (Vec<Duration>, usize) {
    let db = rusqlite::Connection::open(state_dir.join(posd::store::DATABASE_FILE))
        .expect("the daemon's database");
    db.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    db.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
    )
    .expect("the daemon's settings");
    let copy = format!("{id}-floor");
    let forth = line_writes(&before.1, &after.1);
    let back = line_writes(&after.1, &before.1);
    let head_changed = before.0 != after.0;
    db.execute(
        "INSERT INTO sales (id, state, document, updated_at) VALUES (?1, 'open', ?2, 'bench')",
        [&copy, &before.0],
    )
    .expect("the copy's head");
    for (line_id, line) in &before.1 {
        db.execute(
            "INSERT INTO sale_lines (sale_id, line_id, document) VALUES (?1, ?2, ?3)",
            rusqlite::params![copy, line_id, line],
        )
        .expect("the copy's lines");
    }
    let mut samples = Vec::with_capacity(CHANGES);
    for n in 0..CHANGES {
        let (head, (upserts, deletes)) = if n % 2 == 0 {
            (&after.0, &forth)
        } else {
            (&before.0, &back)
        };
        let start = Instant::now();
        let tx = db.unchecked_transaction().expect("begin");
        if head_changed {
            tx.prepare_cached(
                "UPDATE sales SET document = ?2, updated_at = ?3 WHERE id = ?1 AND state = 'open'",
            )
            .expect("prepare")
            .execute(rusqlite::params![copy, head, format!("bench {n}")])
            .expect("head");
        }
        let mut line = tx
            .prepare_cached(
                "INSERT INTO sale_lines (sale_id, line_id, document) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sale_id, line_id) DO UPDATE SET document = excluded.document",
            )
            .expect("prepare");
        for (line_id, document) in upserts {
            line.execute(rusqlite::params![copy, line_id, document])
                .expect("line");
        }
        drop(line);
        let mut delete = tx
            .prepare_cached("DELETE FROM sale_lines WHERE sale_id = ?1 AND line_id = ?2")
            .expect("prepare");
        for line_id in deletes {
            delete
                .execute(rusqlite::params![copy, line_id])
                .expect("delete");
        }
        drop(delete);
        tx.commit().expect("commit");
        samples.push(start.elapsed());
    }
    db.execute("DELETE FROM sale_lines WHERE sale_id = ?1", [&copy])
        .expect("remove the copy's lines");
    db.execute("DELETE FROM sales WHERE id = ?1", [&copy])
        .expect("remove the copy");
    (
        samples,
        usize::from(head_changed) + forth.0.len() + forth.1.len(),
    )
}

/// `SetQuantity` on the middle line of a sale of each size, timed at the client, each
/// beside its floor: a bare bus round trip (a `Manager1.Version` read) timed just before
/// every change, so that both see the machine in the same state, plus the commit of the
/// rows the change writes.
async fn changes(
    conn: &zbus::Connection,
    manager: &Manager1Proxy<'_>,
    state_dir: &Path,
    code: Option<&str>,
    label: &str,
    pids: Pids,
) -> Vec<Figures> {
    let mut figures = Vec::new();
    for lines in sizes() {
        let (sale, line) = sale_of(conn, manager, lines, code).await;
        let path = sale.inner().path().to_string();
        let id = path.rsplit('/').next().unwrap_or_default().to_string();
        let timed = changes_timed();
        let mut samples = Vec::with_capacity(timed);
        let mut reads = Vec::with_capacity(timed);
        let mut used_before = BTreeMap::new();
        for n in 0..WARM_UP + timed {
            if n == WARM_UP {
                used_before = pids.cpu();
            }
            let qty = if n % 2 == 0 { "5" } else { "4" };
            let start = Instant::now();
            std::hint::black_box(manager.version().await.expect("Version"));
            let read = start.elapsed();
            let start = Instant::now();
            sale.set_quantity(&line, qty).await.expect("SetQuantity");
            if n >= WARM_UP {
                reads.push(read);
                samples.push(start.elapsed());
            }
        }
        pids.report_since(&used_before, timed);
        let (trip, _) = report(
            &format!("floor: Manager1.Version read, {lines:>3} lines, {label}"),
            reads,
        );
        let (median, p99) = report(
            &format!("SetQuantity, {lines:>3}-line sale, {label}"),
            samples,
        );
        let db = rusqlite::Connection::open(state_dir.join(posd::store::DATABASE_FILE))
            .expect("the daemon's database");
        let before = rows(&db, &id);
        sale.set_quantity(&line, "5").await.expect("SetQuantity");
        let after = rows(&db, &id);
        drop(db);
        let (commits, rows) = commit_floor(state_dir, &id, before, after);
        let (commit, _) = report(
            &format!("floor: FULL commit of the {rows} rows it writes"),
            commits,
        );
        let floor = trip + commit;
        println!(
            "{:<52} median={:>7.2} ms  change/floor ×{:.2}",
            "floor: round trip + commit",
            floor.as_secs_f64() * 1e3,
            median.as_secs_f64() / floor.as_secs_f64()
        );
        figures.push(Figures {
            lines,
            median,
            p99,
            floor,
        });
        sale.cancel().await.expect("Cancel");
    }
    figures
}

/// The processes a change keeps busy: the daemon and the bus daemon routing its messages.
#[derive(Clone, Copy)]
struct Pids {
    daemon: u32,
    bus: u32,
}

impl Pids {
    /// CPU used so far by each thread name of the daemon and its plugin processes, and by
    /// `dbus-daemon`.
    fn cpu(&self) -> BTreeMap<String, Duration> {
        let mut used = cpu_with_plugin_processes(self.daemon);
        let bus: Duration = cpu_by_thread(self.bus).into_values().sum();
        used.insert("dbus-daemon".into(), bus);
        used
    }

    /// Prints the CPU time per change each part used since `before`, over `changes` changes
    /// (each with its floor's property read), busiest first, and their sum: what a change
    /// costs the machine, beside what it takes the frontend to hear back.
    fn report_since(&self, before: &BTreeMap<String, Duration>, changes: usize) {
        let per_change = |d: Duration| d.as_secs_f64() * 1e3 / changes as f64;
        let mut parts: Vec<(String, f64)> = self
            .cpu()
            .into_iter()
            .map(|(name, now)| {
                let was = before.get(&name).copied().unwrap_or_default();
                (name, per_change(now.saturating_sub(was)))
            })
            .filter(|(_, ms)| *ms > 0.0)
            .collect();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        let total: f64 = parts.iter().map(|(_, ms)| ms).sum();
        let shown: Vec<String> = parts
            .iter()
            .map(|(name, ms)| format!("{name} {ms:.2}"))
            .collect();
        println!(
            "CPU per change (ms, 10 ms ticks): {total:.2} in all = {}",
            shown.join(" + ")
        );
    }
}

/// `Manager1` on `conn`, read afresh on every call (no property cache).
async fn manager(conn: &zbus::Connection) -> Manager1Proxy<'_> {
    Manager1Proxy::builder(conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("manager")
}

/// A daemon on `bus` with `plugins` (package, file name) placed and `extra` configuration,
/// the plugins running as `isolation` says (`[plugins] isolation`).
fn daemon(
    bus: &TestBus,
    root: &Path,
    plugins: &[(&Path, &str)],
    extra: &str,
    isolation: &str,
) -> Daemon {
    let (plugin_dir, config) = plugin_config(root, 2000, extra);
    for (library, name) in plugins {
        place_plugin(library, &plugin_dir, name);
    }
    DaemonSetup::new(bus.address(), root)
        .config(&format!("[log]\nlevel = \"warn\"\n{config}"))
        .env("POSD_PLUGINS__ISOLATION", isolation)
        .start()
}

/// A daemon's plugins for one run: its title in the summary, its label beside each figure,
/// and the plugin files.
struct Configuration<'a> {
    title: &'static str,
    label: &'static str,
    plugins: Vec<(&'a Path, &'static str)>,
    /// `"in-process"` or `"process"`.
    isolation: &'static str,
}

/// The file the promotions plugin is placed as; where it is, its 50 promotions are
/// configured.
const PROMOTIONS_FILE: &str = "libposd_promotions.so";

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let vouchers = build_rust_plugin_with("posd-vouchers", true);
    let points = build_rust_plugin_with("posd-test-points", true);
    let hello = build_rust_plugin_with("hello-rust", true);
    let promotions = build_rust_plugin_with("posd-promotions", true);
    let product_points = build_rust_plugin_with("posd-points", true);
    let cards = build_rust_plugin_with("posd-cards", true);
    println!(
        "posd basket change over D-Bus (release): SetQuantity on the middle line, {} \
         changes per sale after {WARM_UP} warm-up",
        changes_timed()
    );

    // Each configuration on a daemon of its own: no plugin; the plugins issue 13 measured
    // (the vouchers plugin with a 10 % code on the sale, so its automatic line follows every
    // change; the points test plugin; hello-rust); every shipped plugin: vouchers with its
    // code, the promotions plugin with the 50 promotions of `promotion_set`, which the lines'
    // skus and groups make compete, the points plugin earning on every group, and the cards
    // plugin with a card of the sale's customer whose holder discount and punch card follow
    // the basket, asked in the order the example configuration gives. The plugins run
    // inside the daemon, as issue 13 measured them; the shipped ones once more each in its
    // own process, as a till runs them by default (issue 16).
    let shipped = || {
        vec![
            (vouchers.as_path(), "libposd_vouchers.so"),
            (promotions.as_path(), PROMOTIONS_FILE),
            (product_points.as_path(), POINTS_FILE),
            (cards.as_path(), CARDS_FILE),
        ]
    };
    let configurations: [Configuration; 4] = [
        Configuration {
            title: "no plugin",
            label: "no plugin",
            plugins: Vec::new(),
            isolation: "in-process",
        },
        Configuration {
            title: "every plugin of issue 13",
            label: "vouchers+points+hello",
            plugins: vec![
                (vouchers.as_path(), "libposd_vouchers.so"),
                (points.as_path(), "libposd_test_points.so"),
                (hello.as_path(), "libhello_rust.so"),
            ],
            isolation: "in-process",
        },
        Configuration {
            title: "every shipped plugin",
            label: "vouchers+50 promotions+points+cards",
            plugins: shipped(),
            isolation: "in-process",
        },
        Configuration {
            title: "every shipped plugin, each in its own process",
            label: "the same, isolated",
            plugins: shipped(),
            isolation: "process",
        },
    ];
    let mut summary = Vec::new();
    let chosen = configurations
        .into_iter()
        .filter(|c| chosen(c.title) || chosen(c.label));
    for Configuration {
        title,
        label,
        plugins,
        isolation,
    } in chosen
    {
        let bus = TestBus::start();
        let root = bus.dir.path().to_path_buf();
        let mut extra = String::new();
        if !plugins.is_empty() {
            let key = root.join("vouchers.key");
            std::fs::write(&key, [42u8; 32]).expect("key");
            extra = format!(
                "[plugins.run.vouchers]\nread = [\"{0}\"]\n\
                 [plugin.vouchers]\nkey_file = \"{0}\"\n\
                 [[plugin.vouchers.programmes]]\nid = \"gift\"\nname = \"Geschenkgutschein\"\n\
                 kind = \"gift\"\nmin_amount = \"5.00\"\nmax_amount = \"500.00\"\n\
                 code = {{ format = \"template\" }}\n\
                 [[plugin.vouchers.discount_codes]]\ncode = \"BENCH10\"\nname = \"-10 %\"\npercent = \"10\"\n\
                 [plugin.hello-rust]\nbalance = \"25.00\"\n",
                key.display()
            );
        }
        if plugins.iter().any(|(_, file)| *file == CARDS_FILE) {
            extra = format!("{}\n{extra}{SHIPPED}", shipped::ORDER);
        }
        if plugins.iter().any(|(_, file)| *file == PROMOTIONS_FILE) {
            extra += &toml::to_string(
                &serde_json::json!({ "plugin": { "promotions": promotion_set::fifty() } }),
            )
            .expect("promotions as TOML");
        }
        let mut daemon = daemon(&bus, &root, &plugins, &extra, isolation);
        let conn = bus.client().await;
        let manager = manager(&conn).await;
        let code = (!plugins.is_empty()).then_some("BENCH10");
        if plugins.iter().any(|(_, file)| *file == CARDS_FILE) {
            sell_card(&conn, &manager, "C-1001", 1).await;
        }
        let pids = Pids {
            daemon: daemon.child.id(),
            bus: bus.bus.pid(),
        };
        summary.push((
            title,
            changes(&conn, &manager, &daemon.state_dir, code, label, pids).await,
        ));
        let status = daemon.stop();
        assert!(status.success(), "posd: {status}; log:\n{}", daemon.log());
    }
    for (label, figures) in summary {
        let Some(first) = figures.first().map(|f| f.median) else {
            continue;
        };
        let growth: Vec<String> = figures
            .iter()
            .map(|f| {
                format!(
                    "{} lines ×{:.2} (p99 {:.2} ms, ×{:.2} its floor)",
                    f.lines,
                    f.median.as_secs_f64() / first.as_secs_f64(),
                    f.p99.as_secs_f64() * 1e3,
                    f.median.as_secs_f64() / f.floor.as_secs_f64()
                )
            })
            .collect();
        println!(
            "median growth from {} lines, {label}: {}",
            figures[0].lines,
            growth.join(", ")
        );
    }
}
