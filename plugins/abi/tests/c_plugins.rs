//! The C plugins in this repository — the hello-c example and the misbehaving test plugins
//! the host's integration tests load — compile warning-free against the header and do what
//! their comments say. Each is built as posd's tests build it (`gcc -shared -fPIC -std=c11
//! -Wall -Werror` and json-c's `pkg-config` flags, plus `-Wextra`) and loaded by `tests/c/driver.c`, a minimal host in C,
//! with AddressSanitizer and UBSan when the compiler has them, so an out-of-bounds read on
//! hostile input fails here.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("plugins/")
        .to_path_buf()
}

/// The C sources of every plugin in the repository.
fn c_plugin_sources() -> Vec<PathBuf> {
    let mut sources = vec![plugins_dir().join("examples/hello-c/hello_c.c")];
    let test_plugins = plugins_dir().join("testplugins/c");
    let mut tests: Vec<PathBuf> = std::fs::read_dir(&test_plugins)
        .expect("plugins/testplugins/c")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "c"))
        .collect();
    tests.sort();
    sources.extend(tests);
    sources
}

const SANITIZE: &str = "-fsanitize=address,undefined";

/// A scratch directory with the C driver built in it.
struct Lab {
    dir: tempfile::TempDir,
    driver: PathBuf,
    sanitize: bool,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().expect("temporary directory");
        let driver = dir.path().join("driver");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/driver.c");
        let build = |sanitize: bool| {
            let mut gcc = gcc(&["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"]);
            if sanitize {
                gcc.arg(SANITIZE);
            }
            gcc.arg(&source).arg("-o").arg(&driver).arg("-ldl");
            gcc.output().expect("gcc is needed (Debian package gcc)")
        };
        let sanitize = build(true).status.success();
        if !sanitize {
            eprintln!("gcc cannot build with {SANITIZE}; testing without sanitizers");
            let plain = build(false);
            assert!(
                plain.status.success(),
                "driver.c: {}",
                String::from_utf8_lossy(&plain.stderr)
            );
        }
        Lab {
            dir,
            driver,
            sanitize,
        }
    }

    /// Builds one plugin source as a shared library in the lab.
    fn build(&self, source: &Path, optimisation: &str) -> PathBuf {
        let stem = source.file_stem().and_then(|s| s.to_str()).expect("stem");
        let out = self.dir.path().join(format!("lib{stem}{optimisation}.so"));
        let mut gcc = gcc(&[
            "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror", "-g",
        ]);
        gcc.arg(optimisation);
        if self.sanitize {
            gcc.arg(SANITIZE);
        }
        let output = gcc
            .arg(source)
            .arg("-o")
            .arg(&out)
            .args(json_c_flags())
            .output()
            .expect("gcc");
        assert!(
            output.status.success(),
            "{} does not compile warning-free at {optimisation}:\n{}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        out
    }

    /// Loads a test plugin by file stem with `config` and calls `(hook, request)` pairs.
    fn run(&self, stem: &str, config: &str, calls: &[(&str, &str)]) -> Run {
        let source = if stem == "hello_c" {
            plugins_dir().join("examples/hello-c/hello_c.c")
        } else {
            plugins_dir().join(format!("testplugins/c/{stem}.c"))
        };
        let library = self.build(&source, "-O1");
        let mut driver = Command::new(&self.driver);
        driver.arg(&library).arg(config);
        for (hook, request) in calls {
            driver.arg(hook).arg(request);
        }
        let output = driver.output().expect("run driver");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stem}: driver failed ({:?}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        Run {
            lines: stdout
                .lines()
                .map(|line| line.split('\t').map(str::to_string).collect())
                .collect(),
        }
    }
}

/// `pkg-config --cflags --libs json-c`: the C plugins read and write JSON with json-c, as
/// the guide tells C authors to.
fn json_c_flags() -> Vec<String> {
    let output = Command::new("pkg-config")
        .args(["--cflags", "--libs", "json-c"])
        .output()
        .expect("pkg-config is needed (Debian package pkgconf; .ci/run installs it)");
    assert!(
        output.status.success(),
        "json-c is needed (Debian package libjson-c-dev; .ci/run installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn gcc(flags: &[&str]) -> Command {
    let mut gcc = Command::new("gcc");
    gcc.args(flags)
        .arg(format!("-I{}", plugins_dir().join("abi/include").display()));
    gcc
}

/// What the driver printed, as tab-separated fields per line.
struct Run {
    lines: Vec<Vec<String>>,
}

impl Run {
    /// The fields after the first line whose first field is `key`.
    fn first<'a>(&'a self, key: &'a str) -> &'a [String] {
        self.all(key)
            .next()
            .unwrap_or_else(|| panic!("no {key} line in {:?}", self.lines))
    }

    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a [String]> + 'a {
        self.lines
            .iter()
            .filter(move |line| line[0] == key)
            .map(|line| &line[1..])
    }

    /// Each call of `hook`, as (status, response JSON).
    fn answers(&self, hook: &str) -> Vec<(i32, Value)> {
        self.all(hook)
            .map(|fields| {
                let status = fields[0].parse().expect("status");
                let body = serde_json::from_str(&fields[1]).unwrap_or_else(|e| {
                    panic!("{hook} answered invalid JSON {:?}: {e}", fields[1])
                });
                (status, body)
            })
            .collect()
    }
}

#[test]
fn every_c_plugin_compiles_warning_free_as_the_host_builds_it() {
    let lab = Lab::new();
    let sources = c_plugin_sources();
    assert!(
        sources.len() >= 12,
        "hello-c and the test plugins: {sources:?}"
    );
    for source in &sources {
        for optimisation in ["-O0", "-O2"] {
            lab.build(source, optimisation);
        }
    }
}

#[test]
fn hello_c_claims_its_codes_greets_and_offers_greet() {
    let lab = Lab::new();
    let run = lab.run(
        "hello_c",
        r#"{"other": [1, {"greeting": "nested, ignored"}], "greeting": "Servus"}"#,
        &[
            ("classify_code", r#"{"schema":1,"code":"helloc-Anna","store":{"id":"AT-1"}}"#),
            ("classify_code", r#"{"schema":1,"code":"HELLO-Anna"}"#),
            (
                "enter_code",
                r#"{"schema":1,"sale":{"id":"S1","lines":[{"ref":"x","code":"HELLOC-inner"}]},"code":"HELLOC-Zo\u00eb \"Z\""}"#,
            ),
            ("list_actions", r#"{"schema":1,"sale":{},"store":{}}"#),
            ("invoke_action", r#"{"schema":1,"action":"greet","args":{"name":"Jan"}}"#),
            ("invoke_action", r#"{"schema":1,"action":"greet","args":{}}"#),
            ("invoke_action", r#"{"schema":1,"action":"dance","args":{"name":"Jan"}}"#),
            ("enter_code", r#"{"schema":1,"code":"HELLOC-"}"#),
            ("prepare_checkout", "{}"),
        ],
    );
    assert_eq!(run.first("descriptor")[..4], ["80", "1.4", "0", "hello-c"]);
    assert_eq!(
        run.first("hooks"),
        ["classify_code,enter_code,list_actions,invoke_action"]
    );
    assert_eq!(
        run.first("log"),
        ["3", "hello-c ready, greeting \"Servus\""]
    );
    assert_eq!(
        run.answers("classify_code"),
        [
            (
                0,
                json!({"claimed": true, "kind": "customer_card", "customer": "Anna"})
            ),
            (0, json!({"claimed": false})),
        ]
    );
    assert_eq!(
        run.answers("enter_code"),
        [
            (
                0,
                json!({"claimed": true, "kind": "customer_card", "set_customer": "Zoë \"Z\"",
                       "message": "Servus, Zoë \"Z\"!"})
            ),
            (
                1,
                json!({"error": "InvalidArgument",
                       "message": "HELLOC- code without a customer number"})
            ),
        ]
    );
    let actions = &run.answers("list_actions")[0].1;
    assert_eq!(actions["actions"][0]["id"], "greet");
    assert_eq!(
        actions["actions"][0]["params"],
        json!([{"name": "name", "type": "string", "required": true}])
    );
    let invoked = run.answers("invoke_action");
    assert_eq!(
        invoked[0],
        (
            0,
            json!({"message": "Servus Jan", "result": {"greeting": "Servus Jan"}})
        )
    );
    assert_eq!(
        (invoked[1].0, &invoked[1].1["error"]),
        (1, &json!("InvalidArgument"))
    );
    assert_eq!(
        (invoked[2].0, &invoked[2].1["error"]),
        (1, &json!("NotFound"))
    );
    assert_eq!(run.first("prepare_checkout"), ["-", "absent"]);
}

#[test]
fn hello_c_checks_its_configuration() {
    let lab = Lab::new();
    let default = lab.run("hello_c", "{}", &[("enter_code", r#"{"code":"HELLOC-1"}"#)]);
    assert_eq!(default.answers("enter_code")[0].1["message"], "Hallo, 1!");
    for bad in [
        r#"{"greeting": 5}"#,
        &format!(r#"{{"greeting": "{}"}}"#, "x".repeat(64)),
    ] {
        let run = lab.run("hello_c", bad, &[]);
        let created = run.first("create");
        assert_eq!(created[0], "failed", "{bad}");
        let error: Value = serde_json::from_str(&created[1]).expect("error JSON");
        assert_eq!(error["error"], "InvalidConfiguration", "{bad}");
    }
}

#[test]
fn hello_c_survives_hostile_requests() {
    let lab = Lab::new();
    let deep = "[".repeat(10_000);
    let long_code = format!(r#"{{"code":"HELLOC-{}"}}"#, "x".repeat(100_000));
    let hostile: Vec<&str> = vec![
        "",
        "{",
        "{\"code\"",
        "{\"code\":",
        "{\"code\":\"HELLOC-",
        "{\"code\":\"HELLOC-\\",
        "{\"code\":\"HELLOC-\\u12\"}",
        "{\"code\":\"HELLOC-\\u0000\"}",
        "{\"code\":\"HELLOC-\\ud800\"}",
        "{\"code\":\"HELLOC-\\q\"}",
        "{\"code\":\"HELLOC-\u{1}\"}",
        "{\"code\":5}",
        "{\"code\":12",
        "{\"code\":tru",
        "{\"code\":null,\"code\":\"HELLOC-2\"}",
        "[\"code\",\"HELLOC-1\"]",
        "{\"a\":{\"b\":[1,2,{\"c\":\"}\"}]},\"code\":\"HELLOC-ok\"}",
        "{\"action\":\"greet\",\"args\":\"name\"}",
        "{\"action\":\"greet\",\"args\":{\"name\":[]}}",
        "{\"action\":\"greet\",\"args\":{\"name\":\"\"}}",
        &deep,
        &long_code,
    ];
    let mut calls = Vec::new();
    for request in &hostile {
        for hook in ["classify_code", "enter_code", "invoke_action"] {
            calls.push((hook, *request));
        }
    }
    let run = lab.run("hello_c", "{\"greeting\": \"Hallo", &calls);
    assert_eq!(
        run.first("create"),
        ["ok"],
        "a broken config falls back to the default"
    );
    for hook in ["classify_code", "enter_code", "invoke_action"] {
        let answers = run.answers(hook);
        assert_eq!(answers.len(), hostile.len(), "{hook}");
        for ((status, body), request) in answers.iter().zip(&hostile) {
            let shown: String = request.chars().take(60).collect();
            match status {
                0 => assert!(body.is_object(), "{hook} {shown}: {body}"),
                1 => assert!(body["error"].is_string(), "{hook} {shown}: {body}"),
                other => panic!("{hook} {shown}: status {other}"),
            }
        }
    }
    let classified = run.answers("classify_code");
    // The scanner finds the top-level key after a nested brace inside a string.
    assert_eq!(classified[16].1["customer"], "ok");
}

#[test]
fn version_test_plugins_declare_what_they_claim() {
    let lab = Lab::new();
    let abi2 = lab.run("abi2", "{}", &[]);
    assert_eq!(abi2.first("descriptor")[..4], ["80", "2.0", "0", "abi2"]);
    let needs = lab.run("needs_minor5", "{}", &[]);
    assert_eq!(
        needs.first("descriptor")[..4],
        ["80", "1.5", "5", "needs-minor5"]
    );
    // Both fail create loudly if a host calls it anyway.
    assert_eq!(needs.first("create")[0], "failed");

    let newer = lab.run(
        "newer_optional",
        "{}",
        &[
            ("classify_code", r#"{"schema":1,"code":"NEWER-1"}"#),
            ("classify_code", r#"{"schema":1,"code":"OLDER-1"}"#),
        ],
    );
    let descriptor = newer.first("descriptor");
    assert_eq!(descriptor[1..4], ["1.5", "0", "newer-optional"]);
    assert!(
        descriptor[0].parse::<u32>().expect("size") > 80,
        "larger than 1.0"
    );
    assert!(
        descriptor[4].parse::<u32>().expect("hooks size") > 152,
        "larger than 1.4's table (152 bytes, with release_tender)"
    );
    assert_eq!(
        newer.answers("classify_code"),
        [
            (0, json!({"claimed": true, "kind": "coupon"})),
            (0, json!({"claimed": false})),
        ]
    );
}

#[test]
fn the_abi_1_0_test_plugin_declares_the_1_0_table() {
    let lab = Lab::new();
    let old = lab.run(
        "abi10",
        "{}",
        &[("classify_code", r#"{"schema":1,"code":"X"}"#)],
    );
    // 80-byte descriptor, ABI 1.0, and a 128-byte hooks table: 15 hooks, no admin actions.
    assert_eq!(old.first("descriptor"), ["80", "1.0", "0", "abi10", "128"]);
    assert_eq!(
        old.answers("classify_code"),
        [(0, json!({"claimed": false}))]
    );
}

#[test]
fn misbehaving_test_plugins_misbehave_as_documented() {
    let lab = Lab::new();
    let malformed = lab.run("malformed_json", "{}", &[("classify_code", "{}")]);
    assert_eq!(malformed.first("descriptor")[3], "malformed-json");
    assert_eq!(malformed.first("classify_code"), ["0", "{not json"]);

    let null = lab.run("null_response", "{}", &[("classify_code", "{}")]);
    assert_eq!(null.first("descriptor")[3], "null-response");
    assert_eq!(null.first("classify_code"), ["0", "NULL", "5"]);

    let fails = lab.run("create_fails", "{}", &[]);
    assert_eq!(fails.first("descriptor")[3], "create-fails");
    let created = fails.first("create");
    assert_eq!(created[0], "failed");
    let error: Value = serde_json::from_str(&created[1]).expect("error JSON");
    assert_eq!(error["error"], "InvalidConfiguration");

    let no_entry = lab.run("no_entry", "{}", &[]);
    assert_eq!(no_entry.first("entry"), ["missing"]);

    // sleepy takes 5 s per call; its descriptor is enough here.
    let sleepy = lab.run("sleepy", "{}", &[]);
    assert_eq!(sleepy.first("descriptor")[3], "sleepy");
    assert_eq!(sleepy.first("hooks"), ["classify_code"]);
}

#[test]
fn counter_counts_calls_per_instance_and_v2_says_coupon() {
    let lab = Lab::new();
    let calls = [
        (
            "classify_code",
            r#"{"schema":1,"code":"COUNT-1","store":{}}"#,
        ),
        ("classify_code", r#"{"schema":1,"code":"OTHER-1"}"#),
        ("classify_code", r#"{"schema":1,"code":"COUNT-9"}"#),
    ];
    for (stem, kind, version) in [("counter", "voucher", "1"), ("counter_v2", "coupon", "2")] {
        let run = lab.run(stem, "{}", &calls);
        assert_eq!(
            run.first("descriptor")[3],
            "counter",
            "{stem}: same plugin id"
        );
        assert_eq!(
            run.answers("classify_code"),
            [
                (0, json!({"claimed": true, "kind": kind, "balance": "1"})),
                (0, json!({"claimed": false})),
                (0, json!({"claimed": true, "kind": kind, "balance": "3"})),
            ],
            "{stem} (version {version})"
        );
    }
}

#[test]
fn tender_log_authorises_tabs_and_logs_each_release() {
    let lab = Lab::new();
    let tab = r#"{"schema":1,"sale":{"id":"s1","tenders":[]},"store":{},
                  "tender":{"method":"tab","amount":"5.00","details":{}}}"#;
    let run = lab.run(
        "tender_log",
        "{}",
        &[
            ("validate_tender", tab),
            (
                "validate_tender",
                r#"{"schema":1,"tender":{"method":"ewallet","amount":"5.00"}}"#,
            ),
            (
                "release_tender",
                r#"{"schema":1,"sale":{"id":"s1","tenders":[]},"store":{},
                    "tender":{"id":"T1","method":"tab","amount":"5.00","ref":"TAB-1",
                              "data":{"slot":1}},"reason":"removed"}"#,
            ),
            (
                "release_tender",
                r#"{"schema":1,"sale":{"id":"s1","tenders":[{"id":"T2"}]},"store":{},
                    "tender":{"id":"T2","method":"tab","amount":"5.00","ref":"TAB-2",
                              "data":{"slot":2}},"reason":"removed"}"#,
            ),
            ("release_tender", "{not json"),
            ("classify_code", r#"{"schema":1,"code":"TABLOG"}"#),
        ],
    );
    let descriptor = run.first("descriptor");
    assert_eq!(descriptor[1..4], ["1.4", "0", "tender_log"]);
    assert_eq!(descriptor[4], "152", "the 1.4 table, with release_tender");
    assert_eq!(
        run.first("hooks"),
        ["classify_code,validate_tender,release_tender"]
    );
    assert_eq!(
        run.answers("validate_tender"),
        [
            (
                0,
                json!({"accepted": true, "amount": "5.00", "ref": "TAB-1", "data": {"slot": 1}})
            ),
            (1, json!({"error": "NotFound", "message": "not a tab"})),
        ]
    );
    assert_eq!(
        run.answers("release_tender"),
        [(0, json!({})), (0, json!({})), (0, json!({}))]
    );
    assert_eq!(
        run.answers("classify_code")[0].1["state"],
        "removed:T1:TAB-1:1 removed:T2:TAB-2:2 still-on-sale:T2 :::-1",
        "a malformed request is logged with nothing known"
    );

    // Built for 1.3, the same plugin's table ends before release_tender.
    let old = lab.run(
        "tender_log_13",
        "{}",
        &[(
            "release_tender",
            r#"{"tender":{"id":"T1"},"reason":"removed"}"#,
        )],
    );
    assert_eq!(
        old.first("descriptor")[1..],
        ["1.3", "0", "tender_log_13", "144"]
    );
    assert_eq!(old.first("hooks"), ["classify_code,validate_tender"]);
    assert_eq!(old.first("release_tender"), ["-", "absent"]);
}
