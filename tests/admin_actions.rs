//! Admin actions (plugin ABI 1.1) end to end: a Rust test plugin built through the SDK and a
//! C plugin built as for ABI 1.0 with gcc, loaded by the real daemon; `Manager1.AdminActions`
//! and `InvokeAdminAction` over the bus; and the real posctl running an action by its
//! command path, writing its output file itself.

mod support;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use posd_client::{Plugin1Proxy, error_reply, plugin_path, to_json};
use serde_json::{Value, json};
use support::*;
use zbus::{OwnedVariant, Variant};

type Record = HashMap<String, OwnedVariant>;

/// A daemon with the admin test plugin and the ABI 1.0 C plugin in its plugin directory.
fn daemon(bus: &TestBus) -> Daemon {
    let root = bus.dir.path();
    let (dir, config) = plugin_config(root, 2000, "");
    place_plugin(&build_rust_plugin("posd-test-admin"), &dir, "admin.so");
    let abi10 = build_c_plugin(&test_plugin_source("abi10"), &root.join("build-abi10.so"));
    place_plugin(&abi10, &dir, "abi10.so");
    DaemonSetup::new(bus.address(), root)
        .config(&config)
        .start()
}

async fn manager(conn: &zbus::Connection) -> zbus::Proxy<'static> {
    zbus::Proxy::new(
        conn,
        "org.posd.Posd1",
        "/org/posd/Posd1",
        "org.posd.Manager1",
    )
    .await
    .expect("manager")
}

fn record_json(record: &Record) -> Value {
    Value::Object(
        record
            .iter()
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect(),
    )
}

async fn invoke(
    conn: &zbus::Connection,
    plugin: &str,
    action: &str,
    args: HashMap<&str, Variant<'_>>,
) -> Result<Value, (String, String)> {
    let answer: Result<Record, zbus::Error> = manager(conn)
        .await
        .call("InvokeAdminAction", &(plugin, action, args))
        .await;
    answer
        .map(|r| record_json(&r))
        .map_err(|e| error_reply(&e).expect("a named D-Bus error"))
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_actions_are_listed_and_run_with_checked_args() {
    let bus = TestBus::start();
    let _daemon = daemon(&bus);
    let conn = bus.client().await;

    // The 1.0 plugin loads and simply has no admin actions.
    let old = Plugin1Proxy::builder(&conn)
        .path(plugin_path("abi10"))
        .build()
        .await
        .expect("proxy");
    assert_eq!(old.state().await.expect("State"), "loaded");
    assert_eq!(old.abi_version().await.expect("AbiVersion"), "1.0");

    let listed: Vec<Record> = manager(&conn)
        .await
        .call("AdminActions", &())
        .await
        .expect("AdminActions");
    let listed: Vec<Value> = listed.iter().map(record_json).collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.iter().all(|a| a["plugin"] == "admin-test"));
    assert_eq!(listed[0]["id"], "issue");
    assert_eq!(listed[0]["command"], json!(["token", "issue"]));
    assert_eq!(listed[0]["params"][0]["name"], "count");
    assert_eq!(listed[0]["params"][0]["type"], "integer");
    assert_eq!(listed[0]["params"][0]["required"], true);
    assert_eq!(listed[0]["params"][0]["help"], "how many, 1 to 1000");
    assert_eq!(listed[0]["params"][2]["type"], "output_file");
    assert_eq!(listed[1]["command"], json!(["token", "echo"]));
    assert_eq!(
        listed[2]["command"],
        json!(["token", "post"]),
        "offered: this host commits effects"
    );

    // Args reach the plugin typed as declared: integers from text, decimals trimmed.
    let answer = invoke(
        &conn,
        "admin-test",
        "echo",
        HashMap::from([
            ("text", Variant::from("hallo")),
            ("times", Variant::from("3")),
            ("loud", Variant::from(true)),
            ("amount", Variant::from(" 12.50 ")),
        ]),
    )
    .await
    .expect("echo");
    assert_eq!(
        answer["result"]["args"],
        json!({"text": "hallo", "times": 3, "loud": true, "amount": "12.50"})
    );
    assert!(answer["text"].as_str().expect("text").starts_with("echo: "));

    let answer = invoke(
        &conn,
        "admin-test",
        "issue",
        HashMap::from([("count", Variant::from(2i64))]),
    )
    .await
    .expect("issue");
    assert_eq!(answer["output"], "TOK-0001\nTOK-0002\n");
    assert_eq!(answer["result"]["issued"], 2);
    assert_eq!(answer["text"], "issued 2 tokens (batch 1)");

    // Bad and missing args are InvalidArgument naming the param; the plugin is not run.
    for (args, part) in [
        (HashMap::new(), "\"text\" is required"),
        (
            HashMap::from([
                ("text", Variant::from("x")),
                ("times", Variant::from("many")),
            ]),
            "\"times\"",
        ),
        (
            HashMap::from([
                ("text", Variant::from("x")),
                ("colour", Variant::from("red")),
            ]),
            "unknown argument \"colour\"",
        ),
        (
            HashMap::from([
                ("text", Variant::from("x")),
                ("amount", Variant::from(1.5f64)),
            ]),
            "never a double",
        ),
    ] {
        let (name, message) = invoke(&conn, "admin-test", "echo", args)
            .await
            .expect_err(part);
        assert_eq!(name, "org.posd.Error.InvalidArgument", "{message}");
        assert!(message.contains(part), "{part}: {message}");
    }
    let (name, message) = invoke(
        &conn,
        "admin-test",
        "issue",
        HashMap::from([
            ("count", Variant::from(1i64)),
            ("out", Variant::from("/tmp/x")),
        ]),
    )
    .await
    .expect_err("an output file is the client's");
    assert_eq!(name, "org.posd.Error.InvalidArgument");
    assert!(message.contains("the client writes"), "{message}");
    // The plugin's own refusal keeps its name.
    let (name, message) = invoke(
        &conn,
        "admin-test",
        "issue",
        HashMap::from([("count", Variant::from(0i64))]),
    )
    .await
    .expect_err("count 0");
    assert_eq!(name, "org.posd.Error.InvalidArgument");
    assert!(message.contains("count must be 1 to 1000"), "{message}");
    // None of the refused calls issued a batch.
    let answer = invoke(
        &conn,
        "admin-test",
        "issue",
        HashMap::from([("count", Variant::from(1i64))]),
    )
    .await
    .expect("issue");
    assert_eq!(answer["result"]["batch"], 2);

    for (plugin, action) in [
        ("admin-test", "dance"),
        ("nobody", "issue"),
        ("abi10", "issue"),
    ] {
        let (name, message) = invoke(&conn, plugin, action, HashMap::new())
            .await
            .expect_err("unknown");
        assert_eq!(
            name, "org.posd.Error.NotFound",
            "{plugin}:{action}: {message}"
        );
    }
}

/// What the admin test plugin's `post` left: the balance of `admin-test:balance` (None: never
/// posted), its kv `note`, and the number of ledger entries.
fn posted(db: &Path) -> (Option<String>, Option<String>, i64) {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open");
    let one = |sql: &str| -> Option<String> { c.query_row(sql, [], |r| r.get(0)).ok() };
    (
        one("SELECT balance FROM ledger_accounts WHERE code = 'admin-test:balance'"),
        one("SELECT value FROM plugin_kv WHERE plugin = 'admin-test' AND key = 'note'"),
        c.query_row("SELECT count(*) FROM ledger_entries", [], |r| r.get(0))
            .expect("count"),
    )
}

/// ABI 1.2: an admin action's effects are committed before the answer, as one `admin`
/// entry; effects the ledger refuses (below a floor) or that do not balance write nothing,
/// and the caller gets the error instead of the answer.
#[tokio::test(flavor = "multi_thread")]
async fn an_admin_actions_effects_commit_whole_or_not_at_all() {
    let bus = TestBus::start();
    let daemon = daemon(&bus);
    let conn = bus.client().await;
    let db = daemon.database();
    let post = |args: Vec<(&'static str, &'static str)>| {
        let conn = conn.clone();
        async move {
            let args: HashMap<&str, Variant<'_>> = args
                .into_iter()
                .map(|(k, v)| (k, Variant::from(v)))
                .collect();
            invoke(&conn, "admin-test", "post", args).await
        }
    };
    let answer = post(vec![("amount", "25.00"), ("floor", "0"), ("note", "first")])
        .await
        .expect("posted");
    assert_eq!(answer["output"], "posted 25.00\n");
    assert_eq!(answer["reference"], "admin:admin-test:post:1", "{answer}");
    assert_eq!(
        posted(&db),
        (Some("25.00".into()), Some("\"first\"".into()), 1)
    );

    // Below the floor: the whole entry and its kv write are refused.
    let (name, message) = post(vec![("amount", "-30.00"), ("note", "second")])
        .await
        .expect_err("below floor");
    assert_eq!(name, "org.posd.Error.InsufficientBalance", "{message}");
    assert!(message.contains("admin-test:balance"), "{message}");
    // Unbalanced (the SDK refuses it in the plugin already): nothing either.
    let (name, message) = post(vec![("amount", "5"), ("contra", "-4"), ("note", "third")])
        .await
        .expect_err("unbalanced");
    assert_eq!(name, "org.posd.Error.PluginFailed", "{message}");
    assert!(message.contains("do not balance"), "{message}");
    assert_eq!(
        posted(&db),
        (Some("25.00".into()), Some("\"first\"".into()), 1),
        "nothing of the refused ones was written"
    );

    // The next one gets the next number; the books verify with admin entries in them.
    let answer = post(vec![("amount", "-25.00")]).await.expect("back to 0");
    assert_eq!(answer["reference"], "admin:admin-test:post:2", "{answer}");
    let verified = verify_books(&db).expect("books verify");
    assert!(verified.contains("admin_entries: 2"), "{verified}");
    let out = posctl(bus.address(), &["ledger", "verify"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("2 entries of plugins' admin actions"),
        "{}",
        text(&out.stdout)
    );
}

/// Runs posctl; stdout, stderr and the exit code.
fn posctl_run(bus: &str, args: &[&str]) -> (String, String, Option<i32>) {
    let out = posctl(bus, args);
    (text(&out.stdout), text(&out.stderr), out.status.code())
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn posctl_runs_an_admin_action_by_its_command_path() {
    let bus = TestBus::start();
    let _daemon = daemon(&bus);
    let bus = bus.address().to_string();

    let (stdout, stderr, code) = posctl_run(&bus, &["--json", "admin-actions"]);
    assert_eq!(code, Some(0), "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).expect("JSON");
    let commands: Vec<&Value> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|a| &a["command"])
        .collect();
    assert_eq!(
        commands,
        [
            &json!(["token", "issue"]),
            &json!(["token", "echo"]),
            &json!(["token", "post"])
        ]
    );
    let (stdout, _, code) = posctl_run(&bus, &["admin-actions"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("posctl token issue  Issue a batch of test tokens"),
        "{stdout}"
    );
    assert!(
        stdout.contains("--count <integer> (required)  how many, 1 to 1000"),
        "{stdout}"
    );

    let (stdout, _, code) = posctl_run(&bus, &["token", "issue", "--help"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.starts_with("posctl token issue: Issue a batch of test tokens\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("--out <output_file>  file for the tokens"),
        "{stdout}"
    );
    let (stdout, _, code) = posctl_run(&bus, &["--json", "token", "--help"]);
    assert_eq!(code, Some(0));
    let both: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(both.as_array().map(Vec::len), Some(3), "{both}");

    // The output file: written by posctl, mode 0600, the codes and nothing else.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("codes.txt");
    let file_arg = file.to_str().expect("UTF-8 path");
    let (stdout, stderr, code) = posctl_run(
        &bus,
        &[
            "token", "issue", "--count", "3", "--prefix", "GIFT", "--out", file_arg,
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "issued 3 tokens (batch 1)\n");
    assert!(!stdout.contains("GIFT-0001") && !stderr.contains("GIFT-0001"));
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "GIFT-0001\nGIFT-0002\nGIFT-0003\n"
    );
    assert_eq!(mode(&file), 0o600);

    // An existing file is never overwritten, and the action does not run.
    let (stdout, stderr, code) = posctl_run(
        &bus,
        &[
            "--json", "token", "issue", "--count", "1", "--out", file_arg,
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    let refused: Value = serde_json::from_str(&stdout).expect("JSON error");
    assert_eq!(refused["error"], "org.posd.Error.Conflict");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "GIFT-0001\nGIFT-0002\nGIFT-0003\n"
    );

    // Without a file the output goes to stdout once, the text to stderr; --json may follow
    // the command path. The refused run above issued no batch.
    let (stdout, stderr, code) = posctl_run(&bus, &["token", "issue", "--count", "2"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "TOK-0001\nTOK-0002\n");
    assert!(stderr.contains("issued 2 tokens (batch 2)"), "{stderr}");
    let (stdout, stderr, code) = posctl_run(
        &bus,
        &[
            "token", "echo", "--text", "hi", "--times", "2", "--loud", "--json",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let shown: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(shown["plugin"], "admin-test");
    assert_eq!(shown["action"], "echo");
    assert_eq!(
        shown["result"]["args"],
        json!({"text": "hi", "times": 2, "loud": true})
    );
    // A bare word is the first required param not given as an option.
    let (stdout, stderr, code) = posctl_run(
        &bus,
        &["token", "echo", "hello there", "--times", "3", "--json"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let shown: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        shown["result"]["args"],
        json!({"text": "hello there", "times": 3})
    );
    let (stdout, stderr, code) = posctl_run(&bus, &["token", "issue", "2", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let shown: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(shown["result"]["issued"], 2, "typed as its param: {shown}");
    let file2 = dir.path().join("more.txt");
    let (stdout, _, code) = posctl_run(
        &bus,
        &[
            "--json",
            "token",
            "issue",
            "--count",
            "1",
            "--out",
            file2.to_str().expect("path"),
        ],
    );
    assert_eq!(code, Some(0));
    let shown: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(shown["result"]["issued"], 1);
    assert_eq!(shown["output_file"], file2.to_str().expect("path"));
    assert!(
        shown.get("output").is_none(),
        "the codes are in the file only"
    );
    assert_eq!(mode(&file2), 0o600);

    // Unknown commands, options and bad values are named errors.
    for (args, error, part) in [
        (vec!["coupon", "issue"], "NotFound", "no plugin offers it"),
        (
            vec!["token", "issue", "--colour", "red"],
            "InvalidArgument",
            "--colour",
        ),
        (
            vec!["token", "issue", "--count", "ten"],
            "InvalidArgument",
            "--count",
        ),
        (
            vec!["token", "issue", "--count", "0"],
            "InvalidArgument",
            "count must be 1",
        ),
        (
            vec!["token", "echo"],
            "InvalidArgument",
            "\"text\" is required",
        ),
        (
            vec!["token", "echo", "one", "two"],
            "InvalidArgument",
            "no more bare values",
        ),
        (
            vec!["token", "echo", "one", "--text", "two"],
            "InvalidArgument",
            "--text given twice",
        ),
        (
            vec!["token", "issue", "ten"],
            "InvalidArgument",
            "--count must be an integer",
        ),
    ] {
        let (stdout, _, code) = posctl_run(&bus, &[&["--json"], args.as_slice()].concat());
        assert_eq!(code, Some(1), "{args:?}");
        let refused: Value = serde_json::from_str(&stdout).expect("JSON error");
        assert_eq!(
            refused["error"],
            format!("org.posd.Error.{error}"),
            "{args:?}"
        );
        assert!(
            refused["message"].as_str().expect("message").contains(part),
            "{args:?}: {refused}"
        );
    }
}

#[test]
fn admin_actions_need_admin_rights() {
    if !is_root() {
        eprintln!("skipped: calling as another user needs root");
        return;
    }
    use std::os::unix::process::CommandExt;
    let bus = TestBus::start_for_everyone();
    let _daemon = daemon(&bus);
    let nobody = 65534;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let file = dir.path().join("codes.txt");
    for args in [
        vec!["admin-actions"],
        vec!["token", "issue", "--count", "1"],
    ] {
        let out = run(std::process::Command::new(posctl_binary())
            .arg("--bus-address")
            .arg(bus.address())
            .arg("--json")
            .args(&args)
            .uid(nobody)
            .gid(nobody));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let refused: Value = serde_json::from_slice(&out.stdout).expect("JSON error");
        assert_eq!(refused["error"], "org.posd.Error.NotAllowed", "{args:?}");
        assert!(
            refused["message"]
                .as_str()
                .expect("message")
                .contains("AdminActions needs root or membership of group posd-admin"),
            "{refused}"
        );
    }
    // InvokeAdminAction checks rights itself, not only through AdminActions.
    let out = run(std::process::Command::new("busctl")
        .arg(format!("--address={}", bus.address()))
        .args(["call", "org.posd.Posd1", "/org/posd/Posd1"])
        .args(["org.posd.Manager1", "InvokeAdminAction", "ssa{sv}"])
        .args(["admin-test", "issue", "1", "count", "x", "1"])
        .uid(nobody)
        .gid(nobody));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("InvokeAdminAction needs root or membership"),
        "{}",
        text(&out.stderr)
    );
    assert!(!file.exists());
    // Root may.
    let out = posctl(bus.address(), &["token", "issue", "--count", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "TOK-0001\n");
}
