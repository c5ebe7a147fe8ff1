//! Checks of the files in `systemd/` with the real tools that consume them:
//! `systemd-analyze verify` and `security`, `systemd-sysusers` and `dbus-daemon`.
//!
//! The D-Bus policy is checked twice: by a small evaluator of dbus-daemon's
//! policy rules (which also proves that no answer depends on the order in
//! which dbus-daemon applies a caller's groups), and, when the tests run as
//! root, against a real dbus-daemon with callers of real uids and groups.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BUS_NAME: &str = "org.posd.Posd1";
const OBJECT: &str = "/org/posd/Posd1";

/// The exposure level `systemd-analyze security` may report at most: the
/// upper end of its "OK" band. posd.service scores 1.5 with systemd 252.
const MAX_EXPOSURE: f64 = 1.9;

/// The findings `systemd-analyze security` may list as not hardened, each
/// with the reason it cannot be. Anything else it flags is a regression.
const ACCEPTED_EXPOSURES: &[(&str, &str)] = &[
    (
        "RootDirectory=/RootImage=",
        "posd is a host service, not an image",
    ),
    (
        "SupplementaryGroups=",
        "dialout and lp give access to scanners and printers",
    ),
    (
        "PrivateDevices=",
        "it would hide /dev/tty* and /dev/usb/lp*; DeviceAllow= limits them instead",
    ),
    ("RestrictAddressFamilies=~AF_UNIX", "D-Bus and sd_notify"),
    (
        "RestrictAddressFamilies=~AF_(INET|INET6)",
        "network printers and partner servers",
    ),
    ("PrivateNetwork=", "network printers and partner servers"),
    (
        "PrivateUsers=",
        "unmaps dialout and lp, so device access through them would break",
    ),
    (
        "DeviceAllow=",
        "serial scanners and USB printers (char-rtc:r is added by ProtectClock=)",
    ),
    (
        "IPAddressDeny=",
        "printers are on the shop's LAN, partner servers anywhere",
    ),
];

fn systemd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd")
}

fn read_systemd_file(name: &str) -> String {
    let path = systemd_dir().join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?} (is the tool installed?): {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Values of `key=` lines of a unit-style file (sections are not told apart;
/// the keys asked for here are unique in their files).
fn ini_values(content: &str, key: &str) -> Vec<String> {
    content
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

fn ini_value(content: &str, key: &str) -> String {
    let values = ini_values(content, key);
    assert_eq!(
        values.len(),
        1,
        "expected exactly one {key}=, got {values:?}"
    );
    values.into_iter().next().expect("one value, checked above")
}

// ---------------------------------------------------------------------------
// posd.service
// ---------------------------------------------------------------------------

#[test]
fn unit_passes_systemd_analyze_verify() {
    let unit = read_systemd_file("posd.service");
    // verify insists that ExecStart= is executable: point it at the daemon
    // cargo just built, and change nothing else.
    let installed = "ExecStart=/usr/bin/posd ";
    assert_eq!(
        unit.matches(installed).count(),
        1,
        "posd.service must have one ExecStart= running /usr/bin/posd"
    );
    let built = format!("ExecStart={} ", env!("CARGO_BIN_EXE_posd"));
    let rewritten = unit.replacen(installed, &built, 1);

    let dir = tempfile::tempdir().expect("creating a temp dir for the unit");
    let path = dir.path().join("posd.service");
    fs::write(&path, rewritten).expect("writing the rewritten unit");

    // --recursive-errors=no: non-zero exit on errors in this unit itself.
    // verify merely warns about unknown keys or bad values and still exits 0,
    // so any output at all is a failure.
    let out = run(Command::new("systemd-analyze")
        .args(["verify", "--recursive-errors=no"])
        .arg(&path));
    let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success() && printed.trim().is_empty(),
        "systemd-analyze verify posd.service: {}\n{printed}",
        out.status
    );
}

/// The points plugin's nightly expiry: its timer and service pass `systemd-analyze verify`,
/// and the service runs the plugin's admin action as the daemon's user, after the daemon.
#[test]
fn the_points_expiry_timer_and_its_service_pass_systemd_analyze_verify() {
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/points/systemd");
    let service = fs::read_to_string(units.join("posd-points-expire.service")).expect("service");
    let timer = fs::read_to_string(units.join("posd-points-expire.timer")).expect("timer");
    assert_eq!(
        ini_value(&service, "ExecStart"),
        "/usr/bin/posctl points expire"
    );
    assert_eq!(
        ini_value(&service, "User"),
        "posd",
        "the daemon's user may run admin actions"
    );
    assert_eq!(ini_value(&service, "Requisite"), "posd.service");
    assert_eq!(
        ini_value(&timer, "Persistent"),
        "true",
        "a till off at night catches up"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let built = format!("ExecStart={} ", support::posctl_binary().display());
    fs::write(
        dir.path().join("posd-points-expire.service"),
        service.replacen("ExecStart=/usr/bin/posctl ", &built, 1),
    )
    .expect("service");
    fs::write(dir.path().join("posd-points-expire.timer"), &timer).expect("timer");
    for unit in ["posd-points-expire.service", "posd-points-expire.timer"] {
        let out = run(Command::new("systemd-analyze")
            .args(["verify", "--recursive-errors=no"])
            .arg(dir.path().join(unit)));
        let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success() && printed.trim().is_empty(),
            "systemd-analyze verify {unit}: {}\n{printed}",
            out.status
        );
    }
}

#[test]
fn unit_security_exposure_is_low() {
    let path = systemd_dir().join("posd.service");
    let out = run(Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path));
    let report = text(&out.stdout);
    assert!(
        out.status.success(),
        "systemd-analyze security --offline=true: {}\n{report}{}",
        out.status,
        text(&out.stderr)
    );

    let overall = report
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for posd.service:"))
        .map(|(_, rest)| rest.trim().to_owned())
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{report}"));
    let score: f64 = overall
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the exposure level from {overall:?}"));
    eprintln!("posd.service overall exposure level: {overall}");
    assert!(
        score <= MAX_EXPOSURE,
        "exposure level {score} is above {MAX_EXPOSURE}:\n{report}"
    );

    // Every finding that is not hardened must be one we accepted on purpose.
    let flagged: BTreeSet<String> = report
        .lines()
        .filter_map(|l| l.strip_prefix("✗ "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let accepted: BTreeSet<String> = ACCEPTED_EXPOSURES
        .iter()
        .map(|(k, _)| (*k).to_owned())
        .collect();
    for (setting, reason) in ACCEPTED_EXPOSURES {
        if flagged.contains(*setting) {
            eprintln!("  accepted: {setting} ({reason})");
        }
    }
    let unexpected: Vec<_> = flagged.difference(&accepted).collect();
    assert!(
        unexpected.is_empty(),
        "systemd-analyze security flags settings that are not on the accepted list: \
         {unexpected:?}\n{report}"
    );
}

/// The system calls in a `systemd-analyze syscall-filter` group, nested groups expanded.
fn syscall_group(group: &str) -> BTreeSet<String> {
    let out = run(Command::new("systemd-analyze").args(["syscall-filter", group]));
    assert!(
        out.status.success(),
        "syscall-filter {group}: {}",
        text(&out.stderr)
    );
    let mut calls = BTreeSet::new();
    for line in text(&out.stdout).lines().skip(1) {
        let item = line.trim();
        if item.is_empty() || item.starts_with('#') {
            continue;
        }
        if item.starts_with('@') {
            calls.extend(syscall_group(item));
        } else {
            calls.insert(item.to_string());
        }
    }
    calls
}

/// The calls a unit's `SystemCallFilter=` lines allow, as systemd combines them: the first
/// allow list, then each `~` line taking away and each plain line adding.
fn allowed_syscalls(unit: &str) -> BTreeSet<String> {
    let mut allowed = BTreeSet::new();
    for value in ini_values(unit, "SystemCallFilter") {
        let (deny, list) = match value.strip_prefix('~') {
            Some(list) => (true, list),
            None => (false, value.as_str()),
        };
        for item in list.split_whitespace() {
            let calls = if item.starts_with('@') {
                syscall_group(item)
            } else {
                BTreeSet::from([item.to_string()])
            };
            for call in calls {
                if deny {
                    allowed.remove(&call);
                } else {
                    allowed.insert(call);
                }
            }
        }
    }
    allowed
}

#[test]
fn the_unit_lets_plugin_processes_wall_themselves_in() {
    // A plugin's child process lowers its limits (prlimit64), applies Landlock and a
    // seccomp filter under the unit's own filter; the daemon starts it (clone3, execve) over
    // a socket pair. Were one of these refused, every plugin would run with weaker walls.
    let allowed = allowed_syscalls(&read_systemd_file("posd.service"));
    for call in [
        "seccomp",
        "landlock_create_ruleset",
        "landlock_add_rule",
        "landlock_restrict_self",
        "prctl",
        "prlimit64",
        "clone3",
        "execve",
        "socketpair",
        "wait4",
    ] {
        assert!(allowed.contains(call), "posd.service refuses {call}");
    }
    for call in ["mount", "reboot", "setrlimit", "sched_setscheduler"] {
        assert!(!allowed.contains(call), "posd.service allows {call}");
    }
}

#[test]
fn unit_matches_the_daemon_contract() {
    let unit = read_systemd_file("posd.service");
    assert_eq!(ini_value(&unit, "Type"), "notify");
    assert_eq!(ini_value(&unit, "NotifyAccess"), "main");
    assert_eq!(ini_value(&unit, "BusName"), BUS_NAME);
    assert_eq!(ini_value(&unit, "User"), "posd");
    assert_eq!(ini_value(&unit, "StateDirectory"), "posd");
    assert_eq!(ini_value(&unit, "ConfigurationDirectory"), "posd");
    assert_eq!(ini_value(&unit, "ExecReload"), "/bin/kill -HUP $MAINPID");
    let no_restart: BTreeSet<String> = ini_values(&unit, "RestartPreventExitStatus")
        .iter()
        .flat_map(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    for code in ["65", "78"] {
        assert!(
            no_restart.contains(code),
            "exit status {code} must not be restarted: {no_restart:?}"
        );
    }
    assert!(
        !no_restart.contains("69"),
        "exit status 69 (bus name taken) should be retried"
    );

    // The bus activation file must start this very unit as this very user.
    let activation = read_systemd_file("org.posd.Posd1.service");
    assert!(
        activation.lines().any(|l| l.trim() == "[D-BUS Service]"),
        "org.posd.Posd1.service lacks its [D-BUS Service] section"
    );
    assert_eq!(ini_value(&activation, "Name"), BUS_NAME);
    assert_eq!(ini_value(&activation, "SystemdService"), "posd.service");
    assert_eq!(ini_value(&activation, "User"), "posd");
    assert!(
        ini_value(&activation, "Exec").starts_with("/usr/bin/posd"),
        "the activation file must run /usr/bin/posd"
    );
}

#[test]
fn command_line_options_are_known_to_the_daemon() {
    let out = run(Command::new(env!("CARGO_BIN_EXE_posd")).arg("--help"));
    let help = text(&out.stdout);
    assert!(
        out.status.success(),
        "posd --help: {}\n{help}{}",
        out.status,
        text(&out.stderr)
    );
    // An option is listed when it is followed by neither a letter nor a
    // dash (so "--config" is not found inside "--config-dir").
    let listed = |option: &str| {
        help.match_indices(option).any(|(at, _)| {
            help[at + option.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '-')
        })
    };
    let commands = [
        (
            "posd.service ExecStart=",
            ini_value(&read_systemd_file("posd.service"), "ExecStart"),
        ),
        (
            "org.posd.Posd1.service Exec=",
            ini_value(&read_systemd_file("org.posd.Posd1.service"), "Exec"),
        ),
    ];
    for (whose, command) in &commands {
        for option in command.split_whitespace().filter(|w| w.starts_with("--")) {
            assert!(
                listed(option),
                "{whose} passes {option}, which `posd --help` does not list:\n{help}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// posd.sysusers
// ---------------------------------------------------------------------------

/// Runs systemd-sysusers on a temp root holding a copy of this machine's
/// passwd and group plus posd.sysusers as /usr/lib/sysusers.d/posd.conf.
fn apply_sysusers() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("creating a temp root for systemd-sysusers");
    let etc = root.path().join("etc");
    let conf_dir = root.path().join("usr/lib/sysusers.d");
    fs::create_dir_all(&etc).expect("creating <root>/etc");
    fs::create_dir_all(&conf_dir).expect("creating <root>/usr/lib/sysusers.d");
    for file in ["passwd", "group"] {
        fs::copy(Path::new("/etc").join(file), etc.join(file))
            .unwrap_or_else(|e| panic!("copying /etc/{file} into the temp root: {e}"));
    }
    fs::copy(
        systemd_dir().join("posd.sysusers"),
        conf_dir.join("posd.conf"),
    )
    .expect("installing posd.sysusers into the temp root");

    let sysusers = |round: &str| {
        let out =
            run(Command::new("systemd-sysusers").arg(format!("--root={}", root.path().display())));
        let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success(),
            "systemd-sysusers ({round} run): {}\n{printed}",
            out.status
        );
        printed
    };
    // It reports bad lines but still exits 0: the first run may only say
    // what it creates, the second must find nothing left to do.
    let first = sysusers("first");
    let complaints: Vec<&str> = first
        .lines()
        .filter(|l| !l.starts_with("Creating "))
        .collect();
    assert!(
        complaints.is_empty(),
        "systemd-sysusers complained:\n{first}"
    );
    let second = sysusers("second");
    assert!(
        second.trim().is_empty(),
        "systemd-sysusers is not idempotent:\n{second}"
    );
    root
}

/// Accounts for the callers of the live policy check, added to a temp root
/// that `apply_sysusers` prepared.
fn add_test_callers(root: &Path) {
    let out = run(Command::new("systemd-sysusers")
        .arg(format!("--root={}", root.display()))
        .arg("--inline")
        .args([
            "u posd-test-clerk - \"posd test frontend\"",
            "m posd-test-clerk posd-frontend",
            "u posd-test-tech - \"posd test technician\"",
            "m posd-test-tech posd-admin",
            "u posd-test-lead - \"posd test frontend and technician\"",
            "m posd-test-lead posd-frontend",
            "m posd-test-lead posd-admin",
        ]));
    assert!(
        out.status.success(),
        "adding the test callers with systemd-sysusers: {}\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The colon-separated fields of each line of a passwd or group file.
fn colon_file(path: &Path) -> Vec<Vec<String>> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(':').map(str::to_owned).collect())
        .collect()
}

fn find_entry<'a>(entries: &'a [Vec<String>], name: &str) -> &'a [String] {
    entries
        .iter()
        .find(|e| e[0] == name)
        .unwrap_or_else(|| panic!("no entry {name:?}"))
}

fn numeric(field: &str) -> u32 {
    field
        .parse()
        .unwrap_or_else(|e| panic!("not a numeric id {field:?}: {e}"))
}

#[test]
fn sysusers_creates_the_posd_accounts() {
    let root = apply_sysusers();
    let passwd = colon_file(&root.path().join("etc/passwd"));
    let group = colon_file(&root.path().join("etc/group"));

    let posd = find_entry(&passwd, "posd");
    let (uid, gid) = (numeric(&posd[2]), numeric(&posd[3]));
    assert!(
        uid > 0 && uid < 1000,
        "posd must be a system user, uid {uid}"
    );
    assert_eq!(posd[5], "/var/lib/posd", "home of posd");
    assert!(
        posd[6].ends_with("nologin"),
        "posd must not have a login shell: {}",
        posd[6]
    );
    assert_eq!(
        numeric(&find_entry(&group, "posd")[2]),
        gid,
        "the primary group of posd must be group posd"
    );
    for name in ["posd-frontend", "posd-admin"] {
        let entry = find_entry(&group, name);
        let id = numeric(&entry[2]);
        assert!(
            id > 0 && id < 1000,
            "{name} must be a system group, gid {id}"
        );
        assert!(
            entry[3].split(',').all(|m| m != "posd"),
            "the daemon's own user must not be in {name}"
        );
    }
}

// ---------------------------------------------------------------------------
// org.posd.Posd1.conf: an evaluator of dbus-daemon's policy rules
// ---------------------------------------------------------------------------

/// The part of dbus-daemon's policy language that org.posd.Posd1.conf uses.
/// Anything else in the file makes the evaluator refuse, rather than guess.
mod policy {
    use std::collections::BTreeSet;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Context {
        Default,
        Mandatory,
        User(String),
        Group(String),
    }

    #[derive(Debug, Clone)]
    pub enum Matcher {
        Own(Option<String>),
        Send {
            destination: Option<String>,
            interface: Option<String>,
            member: Option<String>,
            method_call_only: Option<bool>,
        },
    }

    #[derive(Debug, Clone)]
    pub struct Rule {
        pub allow: bool,
        pub matcher: Matcher,
    }

    #[derive(Debug)]
    pub struct Policy {
        pub context: Context,
        pub rules: Vec<Rule>,
    }

    pub struct Caller<'a> {
        pub user: &'a str,
        pub groups: &'a [&'a str],
    }

    #[derive(Debug, Clone, Copy)]
    pub enum Request<'a> {
        Own(&'a str),
        /// A method call; `interface` is optional in D-Bus messages.
        Call {
            destination: &'a str,
            interface: Option<&'a str>,
            member: &'a str,
        },
    }

    /// "*" means any, as in dbus-daemon.
    fn pattern(value: Option<&str>) -> Option<String> {
        value.filter(|v| *v != "*").map(str::to_owned)
    }

    pub fn parse(xml: &str) -> Result<Vec<Policy>, String> {
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        let doc = roxmltree::Document::parse_with_options(xml, options)
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        let root = doc.root_element();
        if root.tag_name().name() != "busconfig" {
            return Err(format!("root element is <{}>", root.tag_name().name()));
        }
        let mut policies = Vec::new();
        for node in root.children().filter(|n| n.is_element()) {
            if node.tag_name().name() != "policy" {
                return Err(format!("unexpected <{}>", node.tag_name().name()));
            }
            let context = match (
                node.attribute("context"),
                node.attribute("user"),
                node.attribute("group"),
            ) {
                (Some("default"), None, None) => Context::Default,
                (Some("mandatory"), None, None) => Context::Mandatory,
                (None, Some(user), None) => Context::User(user.to_owned()),
                (None, None, Some(group)) => Context::Group(group.to_owned()),
                _ => {
                    return Err(format!(
                        "unsupported <policy> attributes at {:?}",
                        node.range()
                    ));
                }
            };
            let mut rules = Vec::new();
            for rule in node.children().filter(|n| n.is_element()) {
                let allow = match rule.tag_name().name() {
                    "allow" => true,
                    "deny" => false,
                    other => return Err(format!("unexpected <{other}> in <policy>")),
                };
                let mut own = None;
                let mut send = false;
                for attr in rule.attributes() {
                    match attr.name() {
                        "own" => own = Some(attr.value()),
                        "send_destination" | "send_interface" | "send_member" | "send_type" => {
                            send = true
                        }
                        other => {
                            return Err(format!(
                                "the evaluator does not model attribute {other:?}"
                            ));
                        }
                    }
                }
                let matcher = match (own, send) {
                    (Some(name), false) => Matcher::Own(pattern(Some(name))),
                    (None, true) => Matcher::Send {
                        destination: pattern(rule.attribute("send_destination")),
                        interface: pattern(rule.attribute("send_interface")),
                        member: pattern(rule.attribute("send_member")),
                        method_call_only: rule
                            .attribute("send_type")
                            .filter(|t| *t != "*")
                            .map(|t| t == "method_call"),
                    },
                    _ => return Err(format!("rule mixes or lacks kinds at {:?}", rule.range())),
                };
                rules.push(Rule { allow, matcher });
            }
            policies.push(Policy { context, rules });
        }
        Ok(policies)
    }

    /// Whether `rule` applies to `request`, following dbus-daemon's
    /// bus_client_policy_check_can_send and bus_rules_check_can_own.
    fn applies(rule: &Rule, request: Request) -> bool {
        match (&rule.matcher, request) {
            (Matcher::Own(pattern), Request::Own(name)) => {
                pattern.as_deref().is_none_or(|p| p == name)
            }
            (
                Matcher::Send {
                    destination,
                    interface,
                    member,
                    method_call_only,
                },
                Request::Call {
                    destination: dest,
                    interface: iface,
                    member: memb,
                },
            ) => {
                if *method_call_only == Some(false) {
                    return false;
                }
                if let Some(want) = interface {
                    match iface {
                        // A call without an interface field: allow rules
                        // naming an interface skip it, deny rules catch it.
                        None if rule.allow => return false,
                        Some(got) if got != want => return false,
                        _ => {}
                    }
                }
                if member.as_deref().is_some_and(|m| m != memb) {
                    return false;
                }
                destination.as_deref().is_none_or(|d| d == dest)
            }
            _ => false,
        }
    }

    fn decide(
        policies: &[Policy],
        caller: &Caller,
        group_order: &[&str],
        request: Request,
    ) -> bool {
        let mut list: Vec<&Rule> = Vec::new();
        let mut add = |want: &dyn Fn(&Context) -> bool| {
            for p in policies.iter().filter(|p| want(&p.context)) {
                list.extend(p.rules.iter());
            }
        };
        add(&|c| *c == Context::Default);
        for group in group_order {
            add(&|c| matches!(c, Context::Group(g) if g == group));
        }
        add(&|c| matches!(c, Context::User(u) if u == caller.user));
        add(&|c| *c == Context::Mandatory);
        // The last rule that applies wins; nothing is allowed by default.
        list.iter()
            .rev()
            .find(|r| applies(r, request))
            .is_some_and(|r| r.allow)
    }

    fn permutations<'a>(items: &[&'a str]) -> Vec<Vec<&'a str>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut all = Vec::new();
        for (i, first) in items.iter().enumerate() {
            let mut rest = items.to_vec();
            rest.remove(i);
            for mut tail in permutations(&rest) {
                tail.insert(0, first);
                all.push(tail);
            }
        }
        all
    }

    /// dbus-daemon applies a caller's group policies in the order of the
    /// caller's group list, not in file order: an answer that changes with
    /// that order is an error.
    pub fn allowed(policies: &[Policy], caller: &Caller, request: Request) -> Result<bool, String> {
        let answers: BTreeSet<bool> = permutations(caller.groups)
            .iter()
            .map(|order| decide(policies, caller, order, request))
            .collect();
        match answers.len() {
            1 => Ok(answers.contains(&true)),
            _ => Err(format!(
                "{request:?} by {} in groups {:?} depends on the order of the groups",
                caller.user, caller.groups
            )),
        }
    }
}

/// Who calls, in the policy table below.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Nobody,
    Frontend,
    Admin,
    FrontendAndAdmin,
    Root,
    Posd,
}

#[derive(Debug, Clone, Copy)]
enum Ask {
    Own,
    Call(&'static str, &'static str),
}

use Ask::{Call, Own};

const INTROSPECT: Ask = Call("org.freedesktop.DBus.Introspectable", "Introspect");
const PROPERTIES_GET: Ask = Call("org.freedesktop.DBus.Properties", "Get");
const PROPERTIES_GET_ALL: Ask = Call("org.freedesktop.DBus.Properties", "GetAll");
const PROPERTIES_SET: Ask = Call("org.freedesktop.DBus.Properties", "Set");
const MANAGED_OBJECTS: Ask = Call("org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
const PING: Ask = Call("org.freedesktop.DBus.Peer", "Ping");
const OPEN_SALE: Ask = Call("org.posd.Manager1", "OpenSale");
const LOOKUP_CODE: Ask = Call("org.posd.Manager1", "LookupCode");
const VOID: Ask = Call("org.posd.Manager1", "Void");
const ADD_ITEM: Ask = Call("org.posd.Sale1", "AddItem");
const CHECKOUT: Ask = Call("org.posd.Sale1", "Checkout");
const PRINT: Ask = Call("org.posd.Printer1", "Print");
const OPEN_DRAWER: Ask = Call("org.posd.Printer1", "OpenDrawer");
const RELOAD_CONFIG: Ask = Call("org.posd.Manager1", "ReloadConfig");
const INSTALL_PLUGIN: Ask = Call("org.posd.Manager1", "InstallPlugin");
const REMOVE_PLUGIN: Ask = Call("org.posd.Manager1", "RemovePlugin");
const SET_PLUGIN_ENABLED: Ask = Call("org.posd.Manager1", "SetPluginEnabled");
const RELOAD_PLUGINS: Ask = Call("org.posd.Manager1", "ReloadPlugins");

/// What the policy must grant. `true`: allowed.
const POLICY_TABLE: &[(Who, Ask, bool)] = &[
    (Who::Nobody, INTROSPECT, true),
    (Who::Nobody, PROPERTIES_GET, false),
    (Who::Nobody, MANAGED_OBJECTS, false),
    (Who::Nobody, OPEN_SALE, false),
    (Who::Nobody, ADD_ITEM, false),
    (Who::Nobody, RELOAD_CONFIG, false),
    (Who::Nobody, Own, false),
    (Who::Frontend, INTROSPECT, true),
    (Who::Frontend, PROPERTIES_GET, true),
    (Who::Frontend, PROPERTIES_GET_ALL, true),
    (Who::Frontend, PROPERTIES_SET, false),
    (Who::Frontend, MANAGED_OBJECTS, true),
    (Who::Frontend, PING, true),
    (Who::Frontend, OPEN_SALE, true),
    (Who::Frontend, LOOKUP_CODE, true),
    (Who::Frontend, VOID, true),
    (Who::Frontend, ADD_ITEM, true),
    (Who::Frontend, CHECKOUT, true),
    (Who::Frontend, PRINT, true),
    (Who::Frontend, OPEN_DRAWER, true),
    (Who::Frontend, RELOAD_CONFIG, false),
    (Who::Frontend, INSTALL_PLUGIN, false),
    (Who::Frontend, REMOVE_PLUGIN, false),
    (Who::Frontend, SET_PLUGIN_ENABLED, false),
    (Who::Frontend, RELOAD_PLUGINS, false),
    (Who::Frontend, Own, false),
    (Who::Admin, PROPERTIES_GET, true),
    (Who::Admin, ADD_ITEM, true),
    (Who::Admin, RELOAD_CONFIG, true),
    (Who::Admin, INSTALL_PLUGIN, true),
    (Who::Admin, REMOVE_PLUGIN, true),
    (Who::Admin, SET_PLUGIN_ENABLED, true),
    (Who::Admin, RELOAD_PLUGINS, true),
    (Who::Admin, Own, false),
    (Who::FrontendAndAdmin, RELOAD_CONFIG, true),
    (Who::FrontendAndAdmin, INSTALL_PLUGIN, true),
    (Who::FrontendAndAdmin, ADD_ITEM, true),
    (Who::Root, RELOAD_CONFIG, true),
    (Who::Root, INSTALL_PLUGIN, true),
    (Who::Root, ADD_ITEM, true),
    (Who::Root, Own, false),
    (Who::Posd, Own, true),
];

fn model_caller(who: Who) -> policy::Caller<'static> {
    let (user, groups): (&str, &'static [&'static str]) = match who {
        Who::Nobody => ("nobody", &["nogroup"]),
        Who::Frontend => ("clerk", &["clerk", "posd-frontend"]),
        Who::Admin => ("tech", &["tech", "posd-admin"]),
        Who::FrontendAndAdmin => ("lead", &["lead", "posd-frontend", "posd-admin"]),
        Who::Root => ("root", &["root"]),
        Who::Posd => ("posd", &["posd", "dialout", "lp"]),
    };
    policy::Caller { user, groups }
}

fn model_request(ask: Ask, with_interface: bool) -> policy::Request<'static> {
    match ask {
        Own => policy::Request::Own(BUS_NAME),
        Call(interface, member) => policy::Request::Call {
            destination: BUS_NAME,
            interface: with_interface.then_some(interface),
            member,
        },
    }
}

fn posd_policy() -> Vec<policy::Policy> {
    policy::parse(&read_systemd_file("org.posd.Posd1.conf"))
        .unwrap_or_else(|e| panic!("org.posd.Posd1.conf: {e}"))
}

#[test]
fn policy_grants_what_the_table_says() {
    let policies = posd_policy();
    let mut wrong = Vec::new();
    for &(who, ask, expected) in POLICY_TABLE {
        let got = policy::allowed(&policies, &model_caller(who), model_request(ask, true))
            .unwrap_or_else(|e| panic!("{e}"));
        if got != expected {
            wrong.push(format!("{who:?} {ask:?}: allowed={got}, want {expected}"));
        }
    }
    assert!(wrong.is_empty(), "policy disagrees:\n{}", wrong.join("\n"));
}

#[test]
fn policy_admin_methods_stay_closed_without_an_interface_field() {
    // D-Bus lets a method call leave its interface out. Whoever may not call
    // an admin method with its interface must not reach it without one.
    let policies = posd_policy();
    for who in [Who::Nobody, Who::Frontend, Who::Posd] {
        for ask in [
            RELOAD_CONFIG,
            INSTALL_PLUGIN,
            REMOVE_PLUGIN,
            SET_PLUGIN_ENABLED,
            RELOAD_PLUGINS,
        ] {
            let got = policy::allowed(&policies, &model_caller(who), model_request(ask, false))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(!got, "{who:?} reaches {ask:?} by leaving the interface out");
        }
    }
    for who in [Who::Admin, Who::FrontendAndAdmin, Who::Root] {
        let got = policy::allowed(
            &policies,
            &model_caller(who),
            model_request(RELOAD_CONFIG, false),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            got,
            "{who:?} cannot call ReloadConfig without an interface field"
        );
    }
}

#[test]
fn policy_only_touches_org_posd_posd1() {
    // A file in system.d/ is merged into the whole bus's policy: it must
    // not open or close anything of other services.
    for p in posd_policy() {
        for rule in p.rules {
            let name = match &rule.matcher {
                policy::Matcher::Own(name) => name.clone(),
                policy::Matcher::Send { destination, .. } => destination.clone(),
            };
            assert_eq!(
                name.as_deref(),
                Some(BUS_NAME),
                "a rule of {:?} is not limited to {BUS_NAME}: {rule:?}",
                p.context
            );
        }
    }
}

#[test]
fn policy_evaluator_catches_what_it_is_meant_to() {
    // The evaluator itself must be able to say no: a deny in one group
    // policy against an allow in another depends on the group order.
    let risky = r#"<busconfig>
        <policy group="posd-frontend">
          <allow send_destination="org.posd.Posd1" send_interface="org.posd.Manager1"/>
          <deny send_destination="org.posd.Posd1" send_interface="org.posd.Manager1"
                send_member="ReloadConfig"/>
        </policy>
        <policy group="posd-admin">
          <allow send_destination="org.posd.Posd1"/>
        </policy>
      </busconfig>"#;
    let policies = policy::parse(risky).expect("parsing the inline policy");
    let both = model_caller(Who::FrontendAndAdmin);
    assert!(
        policy::allowed(&policies, &both, model_request(RELOAD_CONFIG, true)).is_err(),
        "group-order dependence was not detected"
    );
    let frontend = model_caller(Who::Frontend);
    assert_eq!(
        policy::allowed(&policies, &frontend, model_request(OPEN_SALE, true)),
        Ok(true)
    );
    assert_eq!(
        policy::allowed(&policies, &frontend, model_request(RELOAD_CONFIG, false)),
        Ok(false),
        "a deny rule naming an interface must catch calls without one"
    );
    assert!(
        policy::parse(r#"<busconfig><policy context="default"><allow receive_sender="x"/></policy></busconfig>"#)
            .is_err(),
        "attributes the evaluator does not model must be refused"
    );
}

// ---------------------------------------------------------------------------
// org.posd.Posd1.conf and org.posd.Posd1.service in a real dbus-daemon
// ---------------------------------------------------------------------------

/// A private dbus-daemon of type "system" for tests. Kept free of anything
/// specific to this file so it can move to a shared `tests/support/` module.
mod test_bus {
    use std::fs::{self, File};
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};

    pub struct Options<'a> {
        /// Policy files to `<include>`, e.g. systemd/org.posd.Posd1.conf.
        pub includes: Vec<PathBuf>,
        /// Activation files to offer from a `<servicedir>`.
        pub activation_files: Vec<PathBuf>,
        /// An `etc/` holding passwd and group that dbus-daemon shall resolve
        /// user and group names against (bind-mounted over /etc/passwd and
        /// /etc/group in a private mount namespace; needs root).
        pub accounts_etc: Option<&'a Path>,
    }

    /// The running bus; dropping it stops dbus-daemon.
    pub struct TestBus {
        child: Child,
        pub address: String,
        stderr_path: PathBuf,
        _dir: tempfile::TempDir,
    }

    /// A bus configuration like /usr/share/dbus-1/system.conf, minus
    /// everything that touches the machine (user switch, pid file, syslog,
    /// standard service dirs). Activation goes through a "launch helper"
    /// that is /bin/false: a call that passes the policy to a name that is
    /// not running ends in a Spawn error instead of starting anything.
    pub fn system_bus_config(socket: &Path, service_dir: &Path, includes: &[PathBuf]) -> String {
        let includes: String = includes
            .iter()
            .map(|p| format!("  <include>{}</include>\n", p.display()))
            .collect();
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <servicehelper>/bin/false</servicehelper>
  <servicedir>{service_dir}</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
{includes}</busconfig>
"#,
            socket = socket.display(),
            service_dir = service_dir.display(),
        )
    }

    impl TestBus {
        pub fn start(options: Options) -> TestBus {
            let dir = tempfile::Builder::new()
                .prefix("posd-test-bus.")
                .tempdir()
                .expect("creating a temp dir for dbus-daemon");
            // Callers of other uids must reach the socket.
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
                .expect("making the bus temp dir traversable");
            let service_dir = dir.path().join("services");
            fs::create_dir(&service_dir).expect("creating the service dir");
            for file in &options.activation_files {
                let name = file.file_name().expect("activation file has a name");
                fs::copy(file, service_dir.join(name))
                    .unwrap_or_else(|e| panic!("copying {}: {e}", file.display()));
            }
            let config = dir.path().join("bus.conf");
            let socket = dir.path().join("bus");
            fs::write(
                &config,
                system_bus_config(&socket, &service_dir, &options.includes),
            )
            .expect("writing the bus config");

            let daemon_args = [
                format!("--config-file={}", config.display()),
                "--print-address".to_owned(),
                "--nofork".to_owned(),
                "--nopidfile".to_owned(),
                "--nosyslog".to_owned(),
            ];
            let mut cmd = match options.accounts_etc {
                None => {
                    let mut cmd = Command::new("dbus-daemon");
                    cmd.args(&daemon_args);
                    cmd
                }
                Some(etc) => {
                    // sh execs dbus-daemon: the child's pid is dbus-daemon's.
                    let mut cmd = Command::new("unshare");
                    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
                        .arg(
                            "mount --bind \"$1/passwd\" /etc/passwd && \
                             mount --bind \"$1/group\" /etc/group && \
                             shift && exec dbus-daemon \"$@\"",
                        )
                        .arg("sh")
                        .arg(etc)
                        .args(&daemon_args);
                    cmd
                }
            };
            let stderr_path = dir.path().join("dbus-daemon.stderr");
            let stderr = File::create(&stderr_path).expect("creating the dbus-daemon log");
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));

            // --print-address writes the address once the bus listens.
            let stdout = child.stdout.take().expect("dbus-daemon stdout is piped");
            let mut address = String::new();
            let read = BufReader::new(stdout).read_line(&mut address);
            if !matches!(read, Ok(n) if n > 0) {
                let status = child.wait();
                panic!(
                    "dbus-daemon did not start ({status:?}):\n{}",
                    fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
            TestBus {
                child,
                address: address.trim().to_owned(),
                stderr_path,
                _dir: dir,
            }
        }

        /// What dbus-daemon has written to stderr so far.
        pub fn log(&self) -> String {
            fs::read_to_string(&self.stderr_path).expect("reading the dbus-daemon log")
        }
    }

    impl Drop for TestBus {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn effective_uid() -> u32 {
    let status = fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|euid| euid.parse().ok())
        .expect("no effective uid in /proc/self/status")
}

/// Root can give dbus-daemon a passwd and group with the posd accounts and
/// call as other uids; others get a bus that cannot resolve the names.
fn can_run_as_others() -> bool {
    effective_uid() == 0
        && Command::new("unshare")
            .args(["--mount", "true"])
            .status()
            .is_ok_and(|s| s.success())
        && Command::new("setpriv")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

fn dbus_send(
    address: &str,
    prefix: &[String],
    dest: &str,
    path: &str,
    method: &str,
    args: &[&str],
) -> Output {
    let mut cmd = if prefix.is_empty() {
        Command::new("dbus-send")
    } else {
        let mut cmd = Command::new(&prefix[0]);
        cmd.args(&prefix[1..]).arg("dbus-send");
        cmd
    };
    cmd.arg(format!("--bus={address}"))
        .args(["--print-reply", "--reply-timeout=10000"])
        .arg(format!("--dest={dest}"))
        .arg(path)
        .arg(method)
        .args(args);
    run(&mut cmd)
}

#[test]
fn dbus_daemon_accepts_the_policy_and_activation_file() {
    let as_root = can_run_as_others();
    // The callers of the live check need accounts before dbus-daemon starts:
    // it sees the passwd and group files as they are when it starts.
    let accounts = as_root.then(|| {
        let root = apply_sysusers();
        add_test_callers(root.path());
        root
    });
    let bus = test_bus::TestBus::start(test_bus::Options {
        includes: vec![systemd_dir().join("org.posd.Posd1.conf")],
        activation_files: vec![systemd_dir().join("org.posd.Posd1.service")],
        accounts_etc: accounts
            .as_ref()
            .map(|root| root.path().join("etc"))
            .as_deref(),
    });

    let id = dbus_send(
        &bus.address,
        &[],
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.GetId",
        &[],
    );
    assert!(
        id.status.success() && text(&id.stdout).contains("string \""),
        "GetId on the test bus failed: {}{}",
        text(&id.stdout),
        text(&id.stderr)
    );
    let names = dbus_send(
        &bus.address,
        &[],
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.ListActivatableNames",
        &[],
    );
    assert!(
        text(&names.stdout).contains(&format!("string \"{BUS_NAME}\"")),
        "dbus-daemon does not offer {BUS_NAME} for activation: {}{}\n{}",
        text(&names.stdout),
        text(&names.stderr),
        bus.log()
    );

    // Everything dbus-daemon said while loading the configuration. Raising
    // the fd limit fails in unprivileged sandboxes and is not about us.
    // Without the posd accounts it cannot resolve our names: only then are
    // exactly those warnings expected.
    let unresolvable = [
        "Unknown username \"posd\" in message bus configuration file",
        "Unknown group \"posd-frontend\" in message bus configuration file",
        "Unknown group \"posd-admin\" in message bus configuration file",
    ];
    let log = bus.log();
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| !l.contains("Failed to set fd limit"))
        .filter(|l| as_root || !unresolvable.iter().any(|u| l.ends_with(u)))
        .collect();
    assert!(
        complaints.is_empty(),
        "dbus-daemon complained about the configuration:\n{log}"
    );
    if !as_root {
        eprintln!(
            "not root (or no unshare/setpriv): dbus-daemon ran without the posd accounts, \
             and the policy was not checked against real callers"
        );
        return;
    }

    // The policy table again, now decided by dbus-daemon for callers with
    // real uids and groups. A method call that passes the policy goes on to
    // activation and fails there (Spawn error, see test_bus); one that does
    // not is AccessDenied. dbus-daemon refuses connections from uids it
    // cannot look up, so the callers have accounts in the temp root too.
    let root = accounts
        .as_ref()
        .expect("accounts exist when running as root")
        .path();
    let passwd = colon_file(&root.join("etc/passwd"));
    let group = colon_file(&root.join("etc/group"));
    let uid = |name: &str| numeric(&find_entry(&passwd, name)[2]);
    let gid = |name: &str| numeric(&find_entry(&group, name)[2]);
    // Callers are given their groups explicitly: dbus-daemon reads them
    // from the socket (SO_PEERGROUPS), like it does in production.
    let setpriv = |user: &str, groups: &[&str]| -> Vec<String> {
        let groups = if groups.is_empty() {
            "--clear-groups".to_owned()
        } else {
            let list: Vec<String> = groups.iter().map(|g| gid(g).to_string()).collect();
            format!("--groups={}", list.join(","))
        };
        vec![
            "setpriv".to_owned(),
            format!("--reuid={}", uid(user)),
            format!("--regid={}", numeric(&find_entry(&passwd, user)[3])),
            groups,
            "--".to_owned(),
        ]
    };
    let prefix = |who: Who| match who {
        Who::Nobody => setpriv("nobody", &[]),
        Who::Frontend => setpriv("posd-test-clerk", &["posd-frontend"]),
        Who::Admin => setpriv("posd-test-tech", &["posd-admin"]),
        Who::FrontendAndAdmin => setpriv("posd-test-lead", &["posd-frontend", "posd-admin"]),
        Who::Root => setpriv("root", &["root"]),
        Who::Posd => setpriv("posd", &["dialout", "lp"]),
    };

    let mut wrong = Vec::new();
    for &(who, ask, expected) in POLICY_TABLE {
        let out = match ask {
            Own => dbus_send(
                &bus.address,
                &prefix(who),
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.RequestName",
                // 4: DBUS_NAME_FLAG_DO_NOT_QUEUE
                &[&format!("string:{BUS_NAME}"), "uint32:4"],
            ),
            Call(interface, member) => dbus_send(
                &bus.address,
                &prefix(who),
                BUS_NAME,
                OBJECT,
                &format!("{interface}.{member}"),
                &[],
            ),
        };
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        let got = match ask {
            // 1: DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
            Own if said.contains("uint32 1") => true,
            Call(..) if said.contains("org.freedesktop.DBus.Error.Spawn.") => true,
            _ if said.contains("org.freedesktop.DBus.Error.AccessDenied") => false,
            _ => panic!("{who:?} {ask:?}: unexpected answer from dbus-daemon:\n{said}"),
        };
        if got != expected {
            wrong.push(format!(
                "{who:?} {ask:?}: allowed={got}, want {expected}\n  {said}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "dbus-daemon disagrees with the policy table:\n{}",
        wrong.join("\n")
    );
}
