//! Plugins as third parties ship them: C compiled with gcc against our header, Rust built
//! through the SDK, loaded by the real daemon and asked over the bus.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use posd_client::{Manager1Proxy, Plugin1Proxy, error_reply, plugin_path};
use support::*;

fn string(info: &HashMap<String, zbus::OwnedVariant>, key: &str) -> String {
    info.get(key)
        .map(|v| String::try_from(v.clone()).expect("string"))
        .unwrap_or_default()
}

async fn plugin_proxy<'a>(conn: &'a zbus::Connection, id: &str) -> Plugin1Proxy<'a> {
    Plugin1Proxy::builder(conn)
        .path(plugin_path(id))
        .build()
        .await
        .expect("plugin proxy")
}

fn c_plugin(stem: &str, dir: &Path, name: &str) -> PathBuf {
    let built = build_c_plugin(
        &test_plugin_source(stem),
        &dir.join(format!("build-{stem}.so")),
    );
    place_plugin(&built, &dir.join("plugins"), name)
}

fn hello_c(root: &Path) -> PathBuf {
    let out = root.join("libhello_c.so");
    build_c_plugin(
        &workspace().join("plugins/examples/hello-c/hello_c.c"),
        &out,
    )
}

/// Starts a daemon with the given plugins already in its plugin directory.
fn daemon_with(bus: &TestBus, place: impl FnOnce(&Path), deadline_ms: u64, extra: &str) -> Daemon {
    let root = bus.dir.path();
    let (dir, config) = plugin_config(root, deadline_ms, extra);
    place(&dir);
    DaemonSetup::new(bus.address(), root)
        .config(&config)
        .start()
}

fn failure(err: &zbus::Error) -> (String, String) {
    error_reply(err).expect("a D-Bus error reply")
}

#[tokio::test(flavor = "multi_thread")]
async fn both_example_plugins_load_and_classify_their_codes() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let hello_c = hello_c(&root);
    let hello_rust = build_rust_plugin("hello-rust");
    let _daemon = daemon_with(
        &bus,
        |dir| {
            place_plugin(&hello_c, dir, "libhello_c.so");
            place_plugin(&hello_rust, dir, "libhello_rust.so");
        },
        2000,
        "[plugin.hello-rust]\nbalance = \"25.00\"\n",
    );
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");

    let info = manager
        .lookup_code("HELLOC-anna")
        .await
        .expect("LookupCode");
    assert_eq!(string(&info, "plugin"), "hello-c");
    assert_eq!(string(&info, "kind"), "customer_card");

    for id in ["hello-c", "hello-rust"] {
        let plugin = plugin_proxy(&conn, id).await;
        let state = plugin.state().await.expect("State");
        assert_eq!(
            state,
            "loaded",
            "{id}: {}",
            plugin.error().await.unwrap_or_default()
        );
    }
    let info = manager
        .lookup_code("hellors-0042")
        .await
        .expect("LookupCode, any case");
    assert_eq!(string(&info, "plugin"), "hello-rust");
    assert_eq!(string(&info, "kind"), "voucher");
    assert_eq!(
        string(&info, "balance"),
        "25.00",
        "from its configuration section"
    );

    let info = manager
        .lookup_code("4006381333931")
        .await
        .expect("a product");
    assert_eq!(
        (string(&info, "kind"), string(&info, "plugin")),
        ("product".into(), String::new())
    );
    let info = manager
        .lookup_code("NOBODY-1")
        .await
        .expect("nobody's code");
    assert_eq!(string(&info, "kind"), "unknown");
    let err = manager.lookup_code("  ").await.expect_err("empty");
    assert_eq!(failure(&err).0, "org.posd.Error.InvalidArgument");

    for id in ["hello-c", "hello-rust"] {
        let plugin = plugin_proxy(&conn, id).await;
        assert_eq!(plugin.state().await.expect("State"), "loaded", "{id}");
        assert_eq!(plugin.abi_version().await.expect("AbiVersion"), "1.4");
        assert_eq!(plugin.error().await.expect("Error"), "");
    }
    assert_eq!(manager.state().await.expect("State"), "running");
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_are_checked_as_the_abi_promises() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let _daemon = daemon_with(
        &bus,
        |_| {
            c_plugin("abi2", &root, "abi2.so");
            c_plugin("needs_minor5", &root, "needs_minor5.so");
            c_plugin("newer_optional", &root, "newer_optional.so");
        },
        2000,
        "",
    );
    let conn = bus.client().await;
    let abi2 = plugin_proxy(&conn, "abi2").await;
    assert_eq!(abi2.state().await.expect("State"), "failed");
    let error = abi2.error().await.expect("Error");
    assert!(
        error.contains("ABI 2.0") && error.contains("offers ABI 1.4"),
        "{error}"
    );

    let needs = plugin_proxy(&conn, "needs-minor5").await;
    assert_eq!(needs.state().await.expect("State"), "failed");
    let error = needs.error().await.expect("Error");
    assert!(error.contains("needs plugin ABI 1.5"), "{error}");

    let newer = plugin_proxy(&conn, "newer-optional").await;
    assert_eq!(
        newer.state().await.expect("State"),
        "loaded",
        "{}",
        newer.error().await.unwrap_or_default()
    );
    assert_eq!(newer.abi_version().await.expect("AbiVersion"), "1.5");

    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    assert_eq!(
        manager.state().await.expect("State"),
        "degraded",
        "failed plugins degrade the till"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn files_that_are_not_plugins_are_refused_clearly() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let _daemon = daemon_with(
        &bus,
        |dir| {
            c_plugin("no_entry", &root, "no_entry.so");
            c_plugin("create_fails", &root, "create_fails.so");
            std::fs::write(dir.join("notes.so"), "this is a text file\n").expect("write");
        },
        2000,
        "",
    );
    let conn = bus.client().await;
    let error = plugin_proxy(&conn, "no-entry")
        .await
        .error()
        .await
        .expect("Error");
    assert!(error.contains("posd_plugin_entry"), "{error}");
    let error = plugin_proxy(&conn, "notes")
        .await
        .error()
        .await
        .expect("Error");
    assert!(error.contains("not a loadable shared library"), "{error}");
    let plugin = plugin_proxy(&conn, "create-fails").await;
    assert_eq!(plugin.state().await.expect("State"), "failed");
    assert!(
        plugin
            .error()
            .await
            .expect("Error")
            .contains("did not start")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_library_with_an_undefined_symbol_is_refused_with_the_loaders_reason() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let daemon = daemon_with(
        &bus,
        |_| drop(c_plugin("undefined_symbol", &root, "undefined_symbol.so")),
        2000,
        "",
    );
    let conn = bus.client().await;
    // What the technician sees on the bus (posctl plugins shows the same Error).
    let plugin = plugin_proxy(&conn, "undefined-symbol").await;
    assert_eq!(plugin.state().await.expect("State"), "failed");
    let error = plugin.error().await.expect("Error");
    assert!(
        error.contains("undefined symbol: missing_function"),
        "the loader's own reason: {error}"
    );
    assert!(
        error.contains(
            &root
                .join("plugins/undefined_symbol.so")
                .display()
                .to_string()
        ),
        "names the file the technician put there: {error}"
    );
    assert!(
        !error.contains("plugin-cache"),
        "not the private snapshot: {error}"
    );
    // The log says the same.
    assert!(
        daemon.log().contains("undefined symbol: missing_function"),
        "{}",
        daemon.log()
    );
    // Installing the same library is refused with the reason too, and nothing is kept.
    let built = build_c_plugin(
        &test_plugin_source("undefined_symbol"),
        &root.join("libmissing.so"),
    );
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let err = manager
        .install_plugin(&built.to_string_lossy())
        .await
        .expect_err("refused");
    let (name, message) = failure(&err);
    assert_eq!(name, "org.posd.Error.InvalidArgument");
    assert!(
        message.contains("not installed") && message.contains("undefined symbol: missing_function"),
        "{message}"
    );
    assert!(!root.join("plugins/libmissing.so").exists());
    // Tried again on every reload, still refused for the same reason, leaving no copies.
    for _ in 0..3 {
        manager.reload_plugins().await.expect("ReloadPlugins");
    }
    let error = plugin.error().await.expect("Error");
    assert!(
        error.contains("undefined symbol: missing_function"),
        "{error}"
    );
    let copies = std::fs::read_dir(daemon.state_dir.join("plugin-cache"))
        .map(|dir| {
            dir.flatten()
                .filter(|e| e.file_name().to_string_lossy().contains("undefined_symbol"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(copies, 0, "no snapshot of a library that did not load");
}

/// A daemon with one misbehaving plugin, and what LookupCode of `code` says.
async fn misbehaving(stem: &str, code: &str) -> (String, String) {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let mut daemon = daemon_with(
        &bus,
        |_| drop(c_plugin(stem, &root, &format!("{stem}.so"))),
        2000,
        "",
    );
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let err = manager.lookup_code(code).await.expect_err("PluginFailed");
    // The daemon is still there and answers.
    assert!(manager.version().await.is_ok());
    assert!(daemon.child.try_wait().expect("wait").is_none());
    failure(&err)
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_and_null_responses_are_plugin_failures() {
    let (name, message) = misbehaving("malformed_json", "ANY-1").await;
    assert_eq!(name, "org.posd.Error.PluginFailed");
    assert!(
        message.contains("malformed-json") && message.contains("malformed JSON"),
        "{message}"
    );
    let (name, message) = misbehaving("null_response", "ANY-1").await;
    assert_eq!(name, "org.posd.Error.PluginFailed");
    assert!(
        message.contains("null-response") && message.contains("NULL"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_rust_plugin_fails_one_call_and_the_daemon_goes_on() {
    let bus = TestBus::start();
    let panicky = build_rust_plugin("posd-test-panicky");
    let _daemon = daemon_with(
        &bus,
        |dir| drop(place_plugin(&panicky, dir, "libpanicky.so")),
        2000,
        "",
    );
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let err = manager
        .lookup_code("PANIC-1")
        .await
        .expect_err("PluginFailed");
    let (name, message) = failure(&err);
    assert_eq!(name, "org.posd.Error.PluginFailed");
    assert!(message.contains("panick"), "{message}");
    let info = manager
        .lookup_code("CALM-1")
        .await
        .expect("the next call works");
    assert_eq!(string(&info, "plugin"), "panicky");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_past_its_deadline_fails_the_call_and_then_is_marked_failed() {
    // In a child process, a late call kills the child, which comes back after a backoff;
    // the third kill (crash_limit) fails the plugin. Inside the daemon, the third missed
    // deadline in a row does.
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let _daemon = daemon_with(
        &bus,
        |_| drop(c_plugin("sleepy", &root, "sleepy.so")),
        200,
        "crash_limit = 3\n",
    );
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let isolated = support::isolation() == "process";
    let pid = |conn: zbus::Connection| async move {
        let plugin = plugin_proxy(&conn, "sleepy").await;
        plugin.pid().await.expect("Pid")
    };
    for attempt in 0..3 {
        if isolated {
            eventually("its process is (back) up", || async {
                pid(conn.clone()).await != 0
            })
            .await;
        }
        let started = std::time::Instant::now();
        let err = manager.lookup_code("SLEEPY-1").await.expect_err("deadline");
        let (name, message) = failure(&err);
        assert_eq!(name, "org.posd.Error.PluginFailed", "attempt {attempt}");
        assert!(
            message.contains("sleepy") && message.contains("200 ms"),
            "{message}"
        );
        if isolated {
            assert!(message.contains("was killed"), "{message}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the caller is not held up"
        );
    }
    let plugin = plugin_proxy(&conn, "sleepy").await;
    eventually("marked failed", || async {
        plugin.state().await.is_ok_and(|s| s == "failed")
    })
    .await;
    let error = plugin.error().await.expect("Error");
    if isolated {
        assert!(
            error.contains("crashed 3 times") && error.contains("did not answer classify_code"),
            "{error}"
        );
        assert_eq!(plugin.restarts().await.expect("Restarts"), 3);
        assert_eq!(plugin.pid().await.expect("Pid"), 0, "no process is left");
    } else {
        assert!(error.contains("deadline"), "{error}");
    }
    // A failed plugin is skipped: the code is simply unclaimed now.
    let info = manager
        .lookup_code("SLEEPY-1")
        .await
        .expect("answers without the plugin");
    assert_eq!(string(&info, "kind"), "unknown");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_world_writable_plugin_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let _daemon = daemon_with(
        &bus,
        |_| {
            let placed = c_plugin("counter", &root, "counter.so");
            std::fs::set_permissions(&placed, std::fs::Permissions::from_mode(0o666))
                .expect("chmod");
        },
        2000,
        "",
    );
    let conn = bus.client().await;
    let plugin = plugin_proxy(&conn, "counter").await;
    assert_eq!(plugin.state().await.expect("State"), "failed");
    let error = plugin.error().await.expect("Error");
    assert!(
        error.contains("0666") && error.contains("everyone"),
        "{error}"
    );
    let info = Manager1Proxy::new(&conn)
        .await
        .expect("manager")
        .lookup_code("COUNT-1")
        .await
        .expect("lookup");
    assert_eq!(
        string(&info, "kind"),
        "unknown",
        "the refused code never ran"
    );
    // While it stays refused, every reload says so; chmod alone changes neither size nor
    // time of the file, yet the next reload tries it again and loads it.
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let err = manager.reload_config().await.expect_err("still refused");
    let (name, message) = failure(&err);
    assert_eq!(name, "org.posd.Error.PluginFailed");
    assert!(
        message.contains("counter") && message.contains("0666"),
        "{message}"
    );
    std::fs::set_permissions(
        root.join("plugins/counter.so"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    manager.reload_config().await.expect("ReloadConfig");
    eventually("loaded after the chmod", || async {
        plugin.state().await.is_ok_and(|s| s == "loaded")
    })
    .await;
    let info = manager.lookup_code("COUNT-1").await.expect("lookup");
    assert_eq!(string(&info, "plugin"), "counter");
}

#[tokio::test(flavor = "multi_thread")]
async fn hot_reload_swaps_a_plugin_without_a_restart() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let mut daemon = daemon_with(
        &bus,
        |_| drop(c_plugin("counter", &root, "counter.so")),
        2000,
        "",
    );
    let pid = daemon.child.id();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let before = manager.lookup_code("COUNT-1").await.expect("v1");
    assert_eq!(string(&before, "plugin"), "counter");
    let kind_v1 = string(&before, "kind");

    // The new version replaces the file (as a package update would) and is reloaded.
    let v2 = build_c_plugin(&test_plugin_source("counter_v2"), &root.join("v2.so"));
    place_plugin(&v2, &root.join("plugins"), "counter.so");
    manager.reload_plugins().await.expect("ReloadPlugins");
    let after = manager.lookup_code("COUNT-1").await.expect("v2");
    assert_eq!(string(&after, "kind"), "coupon");
    assert_ne!(kind_v1, "coupon");
    assert_eq!(
        string(&after, "balance"),
        "1",
        "a fresh instance counts from one"
    );
    assert_eq!(daemon.child.id(), pid);
    assert!(daemon.child.try_wait().expect("wait").is_none());
    assert_eq!(
        plugin_proxy(&conn, "counter")
            .await
            .state()
            .await
            .expect("State"),
        "loaded"
    );

    // A broken update does not take the working version down.
    std::fs::write(root.join("plugins/counter.so.new"), "garbage").expect("write");
    std::fs::rename(
        root.join("plugins/counter.so.new"),
        root.join("plugins/counter.so"),
    )
    .expect("rename");
    manager.reload_plugins().await.expect("ReloadPlugins");
    let still = manager
        .lookup_code("COUNT-1")
        .await
        .expect("v2 keeps running");
    assert_eq!(string(&still, "kind"), "coupon");
    let plugin = plugin_proxy(&conn, "counter").await;
    assert!(
        plugin
            .error()
            .await
            .expect("Error")
            .contains("previous version keeps running")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_config_typo_fails_the_reload_by_name_and_the_fix_brings_the_plugin_back() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let hello_rust = build_rust_plugin("hello-rust");
    let (dir, base) = plugin_config(&root, 2000, "");
    place_plugin(&hello_rust, &dir, "libhello_rust.so");
    let config = |store: &str, section: &str| {
        format!("{base}[store]\nid = \"{store}\"\n[plugin.hello-rust]\n{section}\n")
    };
    let mut daemon = DaemonSetup::new(bus.address(), &root)
        .config(&config("S1", "balance = \"25.00\""))
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    // Read from the daemon each time: a cached property would lag PropertiesChanged.
    let plugin = Plugin1Proxy::builder(&conn)
        .path(plugin_path("hello-rust"))
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("plugin proxy");
    assert_eq!(plugin.state().await.expect("State"), "loaded");
    let write = |text: String| {
        std::fs::write(daemon.config_dir.join("posd.toml"), text).expect("write config")
    };
    let reload = || posctl(bus.address(), &["reload-config"]);

    // The typo (and a new store id in the same file): posctl fails naming the plugin and
    // the key, the plugin is failed with the reason, the rest of the file is applied.
    write(config("S2", "balanse = \"30.00\""));
    let out = reload();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stdout: {}", text(&out.stdout));
    assert!(
        stderr.contains("org.posd.Error.PluginFailed")
            && stderr.contains("hello-rust")
            && stderr.contains("balanse"),
        "{stderr}"
    );
    assert!(!text(&out.stdout).contains("configuration reloaded"));
    assert_eq!(plugin.state().await.expect("State"), "failed");
    let reason = plugin.error().await.expect("Error");
    assert!(reason.contains("balanse"), "{reason}");
    assert_eq!(
        manager.store_id().await.expect("StoreId"),
        "S2",
        "the rest of the configuration is applied"
    );
    eventually("degraded", || async {
        manager.state().await.is_ok_and(|s| s == "degraded")
    })
    .await;
    assert!(
        !daemon
            .log()
            .contains("plugin restarted with its new configuration"),
        "{}",
        daemon.log()
    );
    // Over the bus: the contract's PluginFailed, the message naming plugin and key.
    let err = manager.reload_config().await.expect_err("still failed");
    let (name, message) = failure(&err);
    assert_eq!(name, "org.posd.Error.PluginFailed");
    assert!(
        message.contains("hello-rust") && message.contains("balanse"),
        "{message}"
    );
    let info = manager
        .lookup_code("HELLORS-1")
        .await
        .expect("the till sells on");
    assert_eq!(
        string(&info, "kind"),
        "unknown",
        "a failed plugin is not asked"
    );

    // The fix: the next reload tries the plugin again, with the new value.
    write(config("S2", "balance = \"30.00\""));
    let out = reload();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("configuration reloaded"));
    assert_eq!(
        plugin.state().await.expect("State"),
        "loaded",
        "{}",
        plugin.error().await.unwrap_or_default()
    );
    assert_eq!(plugin.error().await.expect("Error"), "");
    let info = manager.lookup_code("HELLORS-1").await.expect("claimed");
    assert_eq!(string(&info, "balance"), "30.00");
    eventually("running again", || async {
        manager.state().await.is_ok_and(|s| s == "running")
    })
    .await;
    assert!(daemon.stop().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_methods_install_disable_enable_and_remove() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let mut daemon = daemon_with(&bus, |_| {}, 2000, "");
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let built = hello_c(&root);

    let id = manager
        .install_plugin(&built.to_string_lossy())
        .await
        .expect("InstallPlugin");
    assert_eq!(id, "hello-c");
    assert!(
        root.join("plugins/libhello_c.so").exists(),
        "copied into the install directory"
    );
    assert_eq!(
        string(
            &manager.lookup_code("HELLOC-x").await.expect("lookup"),
            "plugin"
        ),
        "hello-c"
    );

    manager
        .set_plugin_enabled("hello-c", false)
        .await
        .expect("disable");
    let plugin = plugin_proxy(&conn, "hello-c").await;
    eventually("disabled", || async {
        plugin.state().await.is_ok_and(|s| s == "disabled")
    })
    .await;
    assert_eq!(
        string(
            &manager.lookup_code("HELLOC-x").await.expect("lookup"),
            "kind"
        ),
        "unknown"
    );

    // Disabled stays disabled across a restart.
    assert!(daemon.stop().success());
    let mut daemon = DaemonSetup::new(bus.address(), &root)
        .config(&plugin_config(&root, 2000, "").1)
        .start();
    let plugin = plugin_proxy(&conn, "hello-c").await;
    assert_eq!(plugin.state().await.expect("State"), "disabled");
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    manager
        .set_plugin_enabled("hello-c", true)
        .await
        .expect("enable");
    eventually("loaded", || async {
        plugin.state().await.is_ok_and(|s| s == "loaded")
    })
    .await;
    assert_eq!(
        string(
            &manager.lookup_code("HELLOC-x").await.expect("lookup"),
            "plugin"
        ),
        "hello-c"
    );

    let err = manager
        .set_plugin_enabled("nosuch", true)
        .await
        .expect_err("unknown");
    assert_eq!(failure(&err).0, "org.posd.Error.NotFound");
    let err = manager
        .install_plugin("relative/path.so")
        .await
        .expect_err("relative");
    assert_eq!(failure(&err).0, "org.posd.Error.InvalidArgument");
    let not_plugin = root.join("readme.so");
    std::fs::write(&not_plugin, "text").expect("write");
    let err = manager
        .install_plugin(&not_plugin.to_string_lossy())
        .await
        .expect_err("not a plugin");
    assert!(
        failure(&err).1.contains("not installed"),
        "{:?}",
        failure(&err)
    );
    assert!(
        !root.join("plugins/readme.so").exists(),
        "a refused file is not kept"
    );

    manager
        .remove_plugin("hello-c")
        .await
        .expect("RemovePlugin");
    assert!(!root.join("plugins/libhello_c.so").exists());
    eventually("object removed", || async {
        plugin_proxy(&conn, "hello-c").await.state().await.is_err()
    })
    .await;
    assert!(daemon.stop().success());
}

#[test]
fn a_caller_who_is_not_admin_cannot_manage_plugins() {
    if !is_root() {
        eprintln!("skipped: calling as another user needs root");
        return;
    }
    let bus = TestBus::start_for_everyone();
    let root = bus.dir.path().to_path_buf();
    let built = hello_c(&root);
    let _daemon = daemon_with(&bus, |_| {}, 2000, "");
    use std::os::unix::process::CommandExt;
    let as_nobody = |args: &[&str]| {
        run(std::process::Command::new(posctl_binary())
            .arg("--bus-address")
            .arg(bus.address())
            .args(args)
            .uid(65534)
            .gid(65534))
    };
    for args in [
        vec!["plugin", "install", built.to_str().expect("utf8")],
        vec!["plugin", "disable", "hello-c"],
        vec!["plugin", "remove", "hello-c"],
        vec!["plugins", "reload"],
    ] {
        let out = as_nobody(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains("org.posd.Error.NotAllowed"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(
        !root.join("plugins/libhello_c.so").exists(),
        "nothing was installed"
    );
    // Reading is for everyone on this bus.
    let out = as_nobody(&["plugins"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn posctl_manages_plugins() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let built = hello_c(&root);
    let _daemon = daemon_with(&bus, |_| {}, 2000, "");
    let ok = |args: &[&str]| {
        let out = posctl(bus.address(), args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    assert!(
        ok(&["plugin", "install", built.to_str().expect("utf8")])
            .contains("installed plugin hello-c")
    );
    let listing = ok(&["plugins"]);
    assert!(
        listing.contains("hello-c") && listing.contains("loaded"),
        "{listing}"
    );
    let lookup: serde_json::Value =
        serde_json::from_str(&ok(&["--json", "lookup", "HELLOC-bob"])).expect("JSON");
    assert_eq!(lookup["kind"], "customer_card");
    ok(&["plugin", "disable", "hello-c"]);
    let json: serde_json::Value = serde_json::from_str(&ok(&["--json", "plugins"])).expect("JSON");
    assert_eq!(json[0]["State"], "disabled");
    ok(&["plugin", "enable", "hello-c"]);
    ok(&["plugins", "reload"]);
    ok(&["plugin", "remove", "hello-c"]);
    assert!(ok(&["plugins"]).contains("no plugins"));
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_messages_wait_for_a_down_partner_across_restarts_and_arrive_once() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    // The "partner" is a directory the plugin may write: in its own state directory (an
    // isolated plugin may write nowhere else).
    let inbox = DaemonSetup::new(bus.address(), &root)
        .state_dir
        .join("plugin-state/courier/partner-inbox");
    let extra = format!(
        "[plugin.courier]\ninbox = \"{}\"\n[outbox]\nretry_first_ms = 50\nretry_cap_ms = 100\n",
        inbox.display()
    );
    let (_dir, config) = plugin_config(&root, 2000, &extra);
    c_plugin("courier", &root, "courier.so");
    let setup = || DaemonSetup::new(bus.address(), &root).config(&config);
    // Three messages committed by earlier sales.
    let state = setup().state_dir;
    {
        let conn = posd::store::open(&state, Duration::from_secs(1)).expect("database");
        for key in ["k1", "k2", "k3"] {
            posd::outbox::enqueue(
                &conn,
                &posd::outbox::NewMessage {
                    plugin: "courier".into(),
                    destination: "partner".into(),
                    key: key.into(),
                    payload: serde_json::json!({ "points": 10 }),
                    reference: "R1".into(),
                },
            )
            .expect("enqueue");
        }
    }
    let attempts = |key: &str| -> i64 {
        let conn =
            rusqlite::Connection::open(state.join(posd::store::DATABASE_FILE)).expect("open");
        conn.query_row("SELECT attempts FROM outbox WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .expect("attempts")
    };

    let mut daemon = setup().start();
    eventually("retried while the partner is down", || async {
        attempts("k1") >= 2
    })
    .await;
    assert!(!inbox.join("delivered.log").exists());
    daemon.signal(libc::SIGKILL);
    daemon.wait();

    std::fs::create_dir_all(&inbox).expect("partner back");
    // Past the retry cap, so all three are due when the next daemon starts: the order of
    // creation is then the order of delivery (a restart quicker than the last backoff would
    // see the message retried last still waiting).
    tokio::time::sleep(Duration::from_millis(250)).await;
    let _daemon = setup().start();
    let log = inbox.join("delivered.log");
    eventually("all delivered", || async {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 3)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        std::fs::read_to_string(&log).expect("log"),
        "k1\nk2\nk3\n",
        "each once, in order"
    );
    let conn = rusqlite::Connection::open(state.join(posd::store::DATABASE_FILE)).expect("open");
    let pending: i64 = conn
        .query_row(
            "SELECT count(*) FROM outbox WHERE state != 'delivered'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(pending, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn served_plugin_interface_matches_the_checked_in_xml() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let _daemon = daemon_with(
        &bus,
        |_| drop(c_plugin("counter", &root, "counter.so")),
        2000,
        "",
    );
    let conn = bus.client().await;
    let introspectable = zbus::fdo::IntrospectableProxy::builder(&conn)
        .destination("org.posd.Posd1")
        .path(plugin_path("counter"))
        .build()
        .await
        .expect("proxy");
    let served = introspectable.introspect().await.expect("Introspect");
    let checked_in = include_str!("../host/interfaces/org.posd.Plugin1.xml");
    assert_eq!(
        interface_shape(&served, "org.posd.Plugin1"),
        interface_shape(checked_in, "org.posd.Plugin1")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scanned_code_gets_its_kind_from_the_plugins() {
    use futures_util::StreamExt;
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let built = hello_c(&root);
    let mut pty = Pty::open();
    let link = root.join("ttyScanner");
    repoint_symlink(&link, &pty.slave_path);
    let extra = format!(
        "[[devices]]\nname = \"scanner\"\nkind = \"scanner\"\nconnection = \"serial:{}?baud=9600\"\n",
        link.display()
    );
    let _daemon = daemon_with(
        &bus,
        |dir| drop(place_plugin(&built, dir, "libhello_c.so")),
        2000,
        &extra,
    );
    let conn = bus.client().await;
    let scanner = online_scanner(&conn, "scanner").await;
    let mut scans = scanner.receive_scanned().await.expect("subscribe");
    pty.send(b"HELLOC-maria\r");
    let scan = tokio::time::timeout(PATIENCE, scans.next())
        .await
        .expect("Scanned")
        .expect("stream");
    assert_eq!(
        scan.args().expect("args").kind,
        "customer_card",
        "hello-c claims it"
    );
    pty.send(b"]E04006381333931\r");
    let scan = tokio::time::timeout(PATIENCE, scans.next())
        .await
        .expect("Scanned")
        .expect("stream");
    assert_eq!(
        scan.args().expect("args").kind,
        "product",
        "unclaimed article numbers are products"
    );
}

#[test]
fn posctl_outbox_lists_messages_by_state() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    {
        let conn = posd::store::open(&state, Duration::from_secs(1)).expect("database");
        for key in ["a", "b"] {
            posd::outbox::enqueue(
                &conn,
                &posd::outbox::NewMessage {
                    plugin: "partner".into(),
                    destination: "payback".into(),
                    key: key.into(),
                    payload: serde_json::json!({ "points": 1 }),
                    reference: "0001-01-000007".into(),
                },
            )
            .expect("enqueue");
        }
        conn.execute(
            "UPDATE outbox SET state = 'dead', last_error = 'rejected' WHERE key = 'b'",
            [],
        )
        .expect("dead letter");
    }
    let state = state.to_string_lossy().into_owned();
    let out = run(std::process::Command::new(posctl_binary()).args([
        "outbox",
        "--state",
        "dead",
        "--state-dir",
        &state,
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(
        listing.contains("rejected") && listing.contains("0001-01-000007"),
        "{listing}"
    );
    assert_eq!(
        listing.lines().count(),
        2,
        "header and the one dead letter: {listing}"
    );
    let out = run(std::process::Command::new(posctl_binary()).args([
        "--json",
        "outbox",
        "--state-dir",
        &state,
    ]));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json.as_array().map(Vec::len), Some(2));
    let out = run(std::process::Command::new(posctl_binary()).args([
        "outbox",
        "--state",
        "lost",
        "--state-dir",
        &state,
    ]));
    assert_eq!(out.status.code(), Some(1));
}

/// The labels of `sale`'s previews, in the order the sale shows them.
async fn preview_labels(sale: &posd_client::Sale1Proxy<'_>) -> Vec<String> {
    sale.previews()
        .await
        .expect("Previews")
        .iter()
        .map(|p| string(p, "label"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_are_asked_in_the_configured_order_then_by_id() {
    let hello_rust = build_rust_plugin("hello-rust");
    let points = build_rust_plugin("posd-test-points");
    let till = |order: &str| {
        let bus = TestBus::start();
        let daemon = daemon_with(
            &bus,
            |dir| {
                place_plugin(&hello_rust, dir, "libhello_rust.so");
                place_plugin(&points, dir, "libposd_test_points.so");
            },
            2000,
            order,
        );
        (bus, daemon)
    };
    let mut firsts = Vec::new();
    for order in ["", "order = [\"points\"]\n"] {
        let (bus, _daemon) = till(order);
        let conn = bus.client().await;
        let manager = Manager1Proxy::new(&conn).await.expect("manager");
        let path = manager
            .open_sale(HashMap::from([("cashier", zbus::Variant::from("anna"))]))
            .await
            .expect("OpenSale");
        let sale = sale_proxy(&conn, path).await;
        sale.add_item(HashMap::from([
            ("name", zbus::Variant::from("Tee")),
            ("qty", zbus::Variant::from("1")),
            ("unit_price", zbus::Variant::from("4.50")),
            ("tax_rate", zbus::Variant::from("10")),
        ]))
        .await
        .expect("AddItem");
        let labels = preview_labels(&sale).await;
        assert_eq!(labels.len(), 2, "one preview from each: {labels:?}");
        firsts.push(labels[0].clone());
    }
    // By id, hello-rust is asked first; listed first, points is.
    assert!(firsts[0].contains("Hallo-Punkte"), "{firsts:?}");
    assert!(!firsts[1].contains("Hallo-Punkte"), "{firsts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_independent_of_other_plugins_lines_is_taken_without_asking_again() {
    let promotions = build_rust_plugin("posd-promotions");
    let mut seen = Vec::new();
    for independent in [false, true] {
        let bus = TestBus::start();
        let root = bus.dir.path().to_path_buf();
        let extra = format!(
            "order = [\"promotions\", \"watcher\"]\n\
             [plugin.watcher]\nindependent = {independent}\n\
             [plugin.promotions]\ntimezone = \"Europe/Vienna\"\n\
             [[plugin.promotions.promotions]]\nid = \"KORB\"\nname = \"Einkauf ab 10 €\"\n\
             kind = \"threshold\"\ntiers = [{{ from = \"10.00\", amount = \"1.00\" }}]\n"
        );
        let _daemon = daemon_with(
            &bus,
            |dir| {
                place_plugin(&promotions, dir, "libposd_promotions.so");
                c_plugin("watcher", &root, "libwatcher.so");
            },
            2000,
            &extra,
        );
        let conn = bus.client().await;
        let manager = Manager1Proxy::new(&conn).await.expect("manager");
        let path = manager
            .open_sale(HashMap::from([("cashier", zbus::Variant::from("anna"))]))
            .await
            .expect("OpenSale");
        let sale = sale_proxy(&conn, path).await;
        let line = sale
            .add_item(HashMap::from([
                ("name", zbus::Variant::from("Tee")),
                ("qty", zbus::Variant::from("3")),
                ("unit_price", zbus::Variant::from("4.50")),
                ("tax_rate", zbus::Variant::from("10")),
            ]))
            .await
            .expect("AddItem");
        let first = preview_labels(&sale).await;
        sale.set_quantity(&line, "4").await.expect("SetQuantity");
        let second = preview_labels(&sale).await;
        let totals = sale.totals().await.expect("Totals");
        assert_eq!(string(&totals, "discount"), "-1.00", "the threshold holds");
        seen.push((first, second));
    }
    // Asked again after the promotion's line, as the order says...
    assert_eq!(
        seen[0].0.last().map(String::as_str),
        Some("saw 1"),
        "{seen:?}"
    );
    assert_eq!(
        seen[0].1.last().map(String::as_str),
        Some("saw 1"),
        "{seen:?}"
    );
    // ...unless its answer says it doesn't depend on other plugins' lines.
    assert_eq!(
        seen[1].0.last().map(String::as_str),
        Some("saw 0"),
        "{seen:?}"
    );
    assert_eq!(
        seen[1].1.last().map(String::as_str),
        Some("saw 0"),
        "{seen:?}"
    );
}

/// What `release_tender` told the tender_log test plugin (`TABLOG`) or its 1.3 build
/// (`TABLOG13`) so far: `<reason>:<tender>:<ref>:<slot>`, oldest first.
async fn releases(manager: &Manager1Proxy<'_>, code: &str) -> String {
    let info = manager.lookup_code(code).await.expect("LookupCode");
    string(&info, "state")
}

/// A sale with one item of 10.00 on it.
async fn sale_of_ten<'a>(
    conn: &'a zbus::Connection,
    manager: &Manager1Proxy<'_>,
) -> posd_client::Sale1Proxy<'a> {
    let path = manager
        .open_sale(HashMap::from([("cashier", zbus::Variant::from("anna"))]))
        .await
        .expect("OpenSale");
    let sale = sale_proxy(conn, path).await;
    sale.add_item(HashMap::from([
        ("name", zbus::Variant::from("Tee")),
        ("qty", zbus::Variant::from("1")),
        ("unit_price", zbus::Variant::from("10.00")),
        ("tax_rate", zbus::Variant::from("10")),
    ]))
    .await
    .expect("AddItem");
    sale
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_tender_removed_or_left_on_a_cancelled_sale_is_released_to_its_plugin() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let _daemon = daemon_with(
        &bus,
        |_| {
            c_plugin("tender_log", &root, "libtender_log.so");
            c_plugin("tender_log_13", &root, "libtender_log_13.so");
        },
        2000,
        "",
    );
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    for (id, abi) in [("tender_log", "1.4"), ("tender_log_13", "1.3")] {
        let plugin = plugin_proxy(&conn, id).await;
        assert_eq!(
            plugin.state().await.expect("State"),
            "loaded",
            "{id}: {}",
            plugin.error().await.unwrap_or_default()
        );
        assert_eq!(plugin.abi_version().await.expect("AbiVersion"), abi, "{id}");
    }
    let none = HashMap::new;

    // The cashier takes a tab off again: its plugin hears it once, with its ref and data.
    let sale = sale_of_ten(&conn, &manager).await;
    let tab = sale.add_tender("tab", "4.00", none()).await.expect("a tab");
    assert_eq!(
        releases(&manager, "TABLOG").await,
        "",
        "nothing released yet"
    );
    sale.remove_tender(&tab).await.expect("RemoveTender");
    // Queued before RemoveTender answered, so it is heard before this lookup.
    assert_eq!(
        releases(&manager, "TABLOG").await,
        format!("removed:{tab}:TAB-1:1")
    );
    let err = sale.remove_tender(&tab).await.expect_err("gone already");
    assert_eq!(failure(&err).0, "org.posd.Error.NotFound");

    // A cancelled sale releases each tab still on it, and nothing of cash or of a plugin
    // built for 1.3 (whose table has no release_tender), which still takes its tenders.
    let sale = sale_of_ten(&conn, &manager).await;
    let first = sale.add_tender("tab", "2.00", none()).await.expect("tab");
    let second = sale.add_tender("tab", "3.00", none()).await.expect("tab");
    sale.add_tender("cash", "1.00", none()).await.expect("cash");
    let old = sale
        .add_tender("tab13", "1.00", none())
        .await
        .expect("tab13");
    let tenders = sale.tenders().await.expect("Tenders");
    let old_tender = tenders
        .iter()
        .find(|t| s(&t["id"]) == old)
        .expect("the 1.3 plugin's tender");
    assert_eq!(s(&old_tender["method"]), "tab13");
    sale.cancel().await.expect("Cancel");
    assert_eq!(
        releases(&manager, "TABLOG").await,
        format!("removed:{tab}:TAB-1:1 cancelled:{first}:TAB-2:2 cancelled:{second}:TAB-3:3")
    );
    assert_eq!(
        releases(&manager, "TABLOG13").await,
        "",
        "a 1.3 plugin is never called"
    );

    // A tab a checkout took is never released, not even by a Cancel after it.
    let sale = sale_of_ten(&conn, &manager).await;
    sale.add_tender("tab", "10.00", none())
        .await
        .expect("tab for all");
    sale.checkout("release-1").await.expect("Checkout");
    let err = sale.cancel().await.expect_err("completed");
    assert_eq!(failure(&err).0, "org.posd.Error.Conflict");
    assert_eq!(
        releases(&manager, "TABLOG").await,
        format!("removed:{tab}:TAB-1:1 cancelled:{first}:TAB-2:2 cancelled:{second}:TAB-3:3"),
        "the checkout's tab stays taken"
    );
}
