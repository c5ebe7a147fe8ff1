//! Plugins in child processes of their own, as a till runs them by default: a plugin that
//! segfaults, aborts, exits, hangs, eats memory, prints garbage or closes its channel costs
//! one call, never the till; one that tries to read posd's database or another plugin's
//! secret, or to reach the network without a grant, is refused by the kernel; and no plugin
//! process outlives the daemon.
//!
//! The misbehaviour comes from `plugins/testplugins/c/wrecker.c`, compiled with gcc: it does
//! what `[plugin.wrecker] mode` says when the basket holds a line named `CRASH`, and
//! otherwise previews "wrecker saw N lines".

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use posd_client::{Manager1Proxy, Plugin1Proxy, Sale1Proxy};
use support::*;
use zbus::Variant;

/// A daemon with the wrecker plugin in `mode`, `extra` added to its configuration.
struct Till {
    bus: TestBus,
    daemon: Daemon,
    conn: zbus::Connection,
}

impl Till {
    async fn start(deadline_ms: u64, extra: &str) -> Till {
        Till::start_on(TestBus::start(), deadline_ms, extra).await
    }

    async fn start_on(bus: TestBus, deadline_ms: u64, extra: &str) -> Till {
        let root = bus.dir.path().to_path_buf();
        let (dir, config) = plugin_config(&root, deadline_ms, extra);
        let built = build_c_plugin(
            &test_plugin_source("wrecker"),
            &root.join("build-wrecker.so"),
        );
        place_plugin(&built, &dir, "wrecker.so");
        let daemon = DaemonSetup::new(bus.address(), &root)
            .config(&config)
            .start();
        let conn = bus.client().await;
        Till { bus, daemon, conn }
    }

    async fn plugin(&self) -> Plugin1Proxy<'_> {
        Plugin1Proxy::builder(&self.conn)
            .path(posd_client::plugin_path("wrecker"))
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("plugin proxy")
    }

    async fn manager(&self) -> Manager1Proxy<'_> {
        Manager1Proxy::builder(&self.conn)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("manager")
    }

    async fn open_sale(&self) -> Sale1Proxy<'_> {
        let path = self
            .manager()
            .await
            .open_sale(HashMap::from([("cashier", Variant::from("anna"))]))
            .await
            .expect("OpenSale");
        sale_proxy(&self.conn, path).await
    }

    /// The wrecker's process id once one runs (after a crash: once it is back).
    async fn running_pid(&self, not: u32) -> u32 {
        let plugin = self.plugin().await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            let pid = plugin.pid().await.unwrap_or(0);
            if pid != 0 && pid != not {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "the plugin's process did not come back"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn add(sale: &Sale1Proxy<'_>, name: &str) -> String {
    sale.add_item(HashMap::from([
        ("name", Variant::from(name)),
        ("qty", Variant::from("1")),
        ("unit_price", Variant::from("2.50")),
        ("tax_rate", Variant::from("10")),
    ]))
    .await
    .expect("AddItem: the sale goes on whatever the plugin does")
}

async fn labels(sale: &Sale1Proxy<'_>) -> Vec<String> {
    sale.previews()
        .await
        .expect("Previews")
        .iter()
        .map(|p| s(&p["label"]))
        .collect()
}

async fn warnings(sale: &Sale1Proxy<'_>) -> Vec<String> {
    sale.inner()
        .get_property::<Vec<String>>("Warnings")
        .await
        .expect("Warnings")
}

/// Whether process `pid` is gone (or only a zombie waiting for its reaper).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// The daemon's threads named `name`.
fn threads_named(pid: u32, name: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .count()
}

fn wrecker(mode: &str, more: &str) -> String {
    format!("[plugin.wrecker]\nmode = \"{mode}\"\n{more}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_segfault_abort_or_exit_costs_one_call_and_the_till_sells_on() {
    for (mode, ended) in [
        ("segfault", "was killed by signal 11 (SIGSEGV)"),
        ("abort", "was killed by signal 6 (SIGABRT)"),
        ("exit", "exited with status 0"),
    ] {
        let till = Till::start(2000, &wrecker(mode, "")).await;
        let plugin = till.plugin().await;
        assert_eq!(plugin.isolation().await.expect("Isolation"), "process");
        let first = till.running_pid(0).await;
        let sale = till.open_sale().await;
        add(&sale, "Brot").await;
        assert_eq!(labels(&sale).await, ["wrecker saw 1 lines"], "{mode}");

        let started = Instant::now();
        let crash = add(&sale, "CRASH").await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{mode}: not held up"
        );
        let expected = format!(
            "promotions of wrecker could not be evaluated: plugin wrecker crashed in evaluate_basket: its process {ended}"
        );
        assert_eq!(warnings(&sale).await, [expected], "{mode}");
        assert_eq!(plugin.restarts().await.expect("Restarts"), 1, "{mode}");
        assert_eq!(
            plugin.last_crash().await.expect("LastCrash"),
            format!("crashed in evaluate_basket: its process {ended}"),
            "{mode}"
        );
        assert_eq!(plugin.state().await.expect("State"), "loaded", "{mode}");
        assert_eq!(
            till.manager().await.state().await.expect("State"),
            "running",
            "{mode}: one crash does not degrade the till"
        );
        assert!(process_gone(first), "{mode}: the crashed process is gone");

        // It comes back by itself, and the sale goes on with it.
        let second = till.running_pid(first).await;
        sale.remove_line(&crash).await.expect("RemoveLine");
        assert_eq!(labels(&sale).await, ["wrecker saw 1 lines"], "{mode}");
        assert!(warnings(&sale).await.is_empty(), "{mode}");
        pay_rest(&sale, "cash").await;
        let receipt = sale
            .checkout(&format!("iso-{mode}"))
            .await
            .expect("Checkout");
        assert!(!receipt.is_empty());
        assert_eq!(
            plugin.pid().await.expect("Pid"),
            second,
            "{mode}: no new crash"
        );

        let out = posctl(till.bus.address(), &["plugins"]);
        let listing = text(&out.stdout);
        let row = listing
            .lines()
            .find(|l| l.starts_with("wrecker"))
            .unwrap_or_else(|| panic!("{listing}"));
        assert!(
            row.contains("process") && row.contains(&second.to_string()) && row.contains(" 1 "),
            "{mode}: mode, pid and restarts: {listing}"
        );
        assert!(
            listing.contains(&format!(
                "last crash: crashed in evaluate_basket: its process {ended}"
            )),
            "{listing}"
        );
        verify_books(&till.daemon.database()).expect("books");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_that_keeps_crashing_is_failed_and_selling_goes_on_without_it() {
    let till = Till::start(
        2000,
        &format!(
            "crash_limit = 2\ncrash_window_s = 60\n{}",
            wrecker("segfault", "")
        ),
    )
    .await;
    let plugin = till.plugin().await;
    let first = till.running_pid(0).await;
    let sale = till.open_sale().await;
    let line = add(&sale, "CRASH").await;
    till.running_pid(first).await;
    sale.set_quantity(&line, "2").await.expect("SetQuantity");
    eventually("failed after its second crash", || async {
        plugin.state().await.is_ok_and(|s| s == "failed")
    })
    .await;
    let error = plugin.error().await.expect("Error");
    assert!(
        error.contains("crashed 2 times within 60 s") && error.contains("SIGSEGV"),
        "{error}"
    );
    assert_eq!(
        plugin.pid().await.expect("Pid"),
        0,
        "no process is restarted"
    );
    let manager = till.manager().await;
    eventually("the till is degraded", || async {
        manager.state().await.is_ok_and(|s| s == "degraded")
    })
    .await;
    // Selling goes on without it.
    sale.set_quantity(&line, "3").await.expect("SetQuantity");
    assert!(labels(&sale).await.is_empty());
    pay_rest(&sale, "cash").await;
    sale.checkout("iso-failed").await.expect("Checkout");
    verify_books(&till.daemon.database()).expect("books");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_that_never_returns_kills_its_process_and_leaks_no_thread() {
    let till = Till::start(300, &wrecker("loop", "")).await;
    let daemon_pid = till.daemon.child.id();
    let plugin = till.plugin().await;
    let manager = till.manager().await;
    let mut pid = till.running_pid(0).await;
    let other = till.open_sale().await;
    add(&other, "Brot").await;
    for round in 1..=3u32 {
        let sale = till.open_sale().await;
        let hanging = {
            let conn = till.conn.clone();
            let path = zbus::OwnedObjectPath::from(sale.inner().path().to_owned());
            tokio::spawn(async move {
                let sale = sale_proxy(&conn, path).await;
                let started = Instant::now();
                let line = add(&sale, "CRASH").await;
                (line, started.elapsed())
            })
        };
        // Meanwhile the daemon answers everyone else at once.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let asked = Instant::now();
        manager.version().await.expect("Version");
        assert_eq!(other.lines().await.expect("Lines").len(), 1);
        other.totals().await.expect("Totals");
        assert!(
            asked.elapsed() < Duration::from_millis(250),
            "round {round}: the daemon is not held up by a hanging plugin: {:?}",
            asked.elapsed()
        );
        let (line, took) = hanging.await.expect("task");
        assert!(took < Duration::from_secs(2), "round {round}: {took:?}");
        let warning = warnings(&sale).await.join("\n");
        assert!(
            warning.contains(&format!(
                "did not answer evaluate_basket within 300 ms: its process {pid} was killed"
            )),
            "round {round}: {warning}"
        );
        assert!(process_gone(pid), "round {round}: killed, not abandoned");
        assert_eq!(plugin.restarts().await.expect("Restarts"), round);
        assert_eq!(
            threads_named(daemon_pid, "plugin-wrecker"),
            1,
            "round {round}: one thread for the plugin, however often it hung"
        );
        sale.remove_line(&line).await.expect("RemoveLine");
        sale.cancel().await.expect("Cancel");
        pid = till.running_pid(pid).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn runaway_memory_is_stopped_by_the_processes_limit() {
    let till = Till::start(
        10_000,
        &format!(
            "[plugins.run.wrecker]\nmemory_mb = 128\n\n{}",
            wrecker("hog", "")
        ),
    )
    .await;
    let daemon_pid = till.daemon.child.id();
    till.running_pid(0).await;
    let sale = till.open_sale().await;
    add(&sale, "CRASH").await;
    let warning = warnings(&sale).await.join("\n");
    assert!(
        warning.contains("crashed in evaluate_basket: its process was killed by signal"),
        "{warning}"
    );
    let status = std::fs::read_to_string(format!("/proc/{daemon_pid}/status")).expect("status");
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS");
    assert!(
        rss_kb < 100 * 1024,
        "the daemon's memory is its own: {rss_kb} kB"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_on_stdout_and_stderr_never_reaches_the_answer() {
    let till = Till::start(2000, &wrecker("garbage", "")).await;
    let sale = till.open_sale().await;
    add(&sale, "CRASH").await;
    assert_eq!(labels(&sale).await, ["wrecker saw 1 lines"]);
    assert!(warnings(&sale).await.is_empty());
    let plugin = till.plugin().await;
    assert_eq!(plugin.restarts().await.expect("Restarts"), 0);
    eventually("its output is logged under its name", || async {
        till.daemon.log().contains("plugin printed")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_that_closes_its_channel_costs_one_call() {
    let till = Till::start(2000, &wrecker("close", "")).await;
    let first = till.running_pid(0).await;
    let sale = till.open_sale().await;
    let line = add(&sale, "CRASH").await;
    let warning = warnings(&sale).await.join("\n");
    assert!(
        warning.contains("plugin wrecker crashed in evaluate_basket: its process exited"),
        "{warning}"
    );
    till.running_pid(first).await;
    sale.remove_line(&line).await.expect("RemoveLine");
    add(&sale, "Brot").await;
    assert_eq!(labels(&sale).await, ["wrecker saw 1 lines"]);
}

/// What the wrecker saw when it opened the path `path` gives for its till's root
/// (`[plugin.wrecker] mode = "open"`), with `extra` configuration for that root.
async fn opened(path: impl Fn(&Path) -> PathBuf, extra: impl Fn(&Path) -> String) -> String {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let key = root.join("vouchers.key");
    std::fs::write(&key, [42u8; 32]).expect("a voucher key, as the vouchers plugin has");
    let path = path(&root);
    let till = Till::start_on(
        bus,
        2000,
        &format!(
            "{}{}",
            extra(&root),
            wrecker("open", &format!("path = \"{}\"\n", path.display()))
        ),
    )
    .await;
    assert!(path.exists(), "{}", path.display());
    let sale = till.open_sale().await;
    add(&sale, "CRASH").await;
    let seen = labels(&sale).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    seen[0].replace(&root.display().to_string(), "ROOT")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_reads_neither_the_database_nor_the_configuration_nor_a_voucher_key() {
    let none = |_: &Path| String::new();
    for (path, shown) in [
        (
            (|root: &Path| root.join("state").join(posd::store::DATABASE_FILE))
                as fn(&Path) -> PathBuf,
            format!("ROOT/state/{}", posd::store::DATABASE_FILE),
        ),
        (
            |root: &Path| root.join("etc/posd.toml"),
            "ROOT/etc/posd.toml".into(),
        ),
        (
            |root: &Path| root.join("vouchers.key"),
            "ROOT/vouchers.key".into(),
        ),
        (
            |_: &Path| PathBuf::from("/etc/shadow"),
            "/etc/shadow".into(),
        ),
    ] {
        assert_eq!(
            opened(path, none).await,
            format!("open {shown}: Permission denied")
        );
    }
    // Its own state directory it may use; a secret it is granted it may read; in the
    // daemon's own process it could have read everything.
    let own = |root: &Path| {
        let dir = root.join("state/plugin-state/wrecker");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("own.txt"), "mine").expect("own file");
        dir.join("own.txt")
    };
    assert_eq!(
        opened(own, none).await,
        "open ROOT/state/plugin-state/wrecker/own.txt: ok"
    );
    let key = |root: &Path| root.join("vouchers.key");
    assert_eq!(
        opened(key, |root| key_grant("wrecker", &root.join("vouchers.key"))).await,
        "open ROOT/vouchers.key: ok"
    );
    let database = |root: &Path| root.join("state").join(posd::store::DATABASE_FILE);
    assert_eq!(
        opened(database, |_| {
            "[plugins.run.wrecker]\nisolation = \"in-process\"\n\n".into()
        })
        .await,
        format!("open ROOT/state/{}: ok", posd::store::DATABASE_FILE),
        "the wall is the child's, not the file's mode"
    );
}

/// What the wrecker saw when it connected to a listener on 127.0.0.1 (`mode = "connect"`),
/// with `[plugins.run.wrecker] network` granting `grant(port)`.
async fn connected(grant: impl Fn(u16) -> Option<String>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let extra = match grant(port) {
        Some(endpoint) => format!("[plugins.run.wrecker]\nnetwork = [\"{endpoint}\"]\n\n"),
        None => String::new(),
    };
    let till = Till::start(
        2000,
        &format!(
            "{extra}{}",
            wrecker("connect", &format!("connect = \"127.0.0.1:{port}\"\n"))
        ),
    )
    .await;
    let sale = till.open_sale().await;
    add(&sale, "CRASH").await;
    let seen = labels(&sale).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    seen[0].replace(&port.to_string(), "PORT")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_network_needs_a_grant_and_the_grant_is_its_endpoint_only() {
    assert_eq!(
        connected(|_| None).await,
        "connect 127.0.0.1:PORT: Permission denied",
        "no grant: no socket at all"
    );
    assert_eq!(
        connected(|port| Some(format!("127.0.0.1:{port}"))).await,
        "connect 127.0.0.1:PORT: ok"
    );
    let other = free_port();
    assert_eq!(
        connected(|_| Some(format!("127.0.0.1:{other}"))).await,
        "connect 127.0.0.1:PORT: Permission denied",
        "a grant of another endpoint does not open this one"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_plugin_process_outlives_the_daemon() {
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        let mut till = Till::start(2000, &wrecker("none", "")).await;
        let pid = till.running_pid(0).await;
        till.daemon.signal(signal);
        till.daemon.wait();
        eventually("the plugin's process is gone with the daemon", || async {
            process_gone(pid)
        })
        .await;
    }
}
