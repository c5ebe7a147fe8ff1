//! `posctl`: the technicians' command line for a running posd.
//!
//! Talks to the daemon over D-Bus like any frontend, so what it shows is what frontends see.
//! Every command takes `--json` for scripts: stdout then holds JSON only (a document per
//! line for `scan-monitor`); notes go to stderr. A failed call prints the D-Bus error name and
//! message and exits non-zero. A reader that stops reading (`posctl … | head`) ends the output
//! quietly.
//!
//! posctl does not link the daemon: it calls posd through `posd-client` like any frontend,
//! and the commands that read a state database directly (`ledger`, `outbox`, `outbox show`)
//! run the daemon's executable as `posd inspect` (see [`inspect`]), which reads it read-only
//! with the daemon's own code.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use posd_client::connect::{DATABASE_FILE, env_var};
use posd_client::{
    BUS_NAME, BusChoice, ERROR_PREFIX, MANAGER_PROPERTIES, Manager1Proxy, Printer1Proxy, ROOT_PATH,
    Register1Proxy, device_path, error_reply,
};
use serde_json::{Value, json};
use tokio::signal::unix::SignalKind;

/// Prints a line on stdout. A reader that went away (`posctl … | head`) is not an error of
/// posctl's: the rest of the output is dropped quietly (see [`emit`]).
macro_rules! out {
    ($($arg:tt)*) => {
        emit(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints on stdout without a newline (text that brings its own), like [`out!`].
macro_rules! out_raw {
    ($($arg:tt)*) => {
        emit(format_args!($($arg)*))
    };
}

/// Prints a line on stderr: notes, warnings and errors, never what a script parses. A closed
/// stderr loses the note rather than panicking.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Set once stdout is closed: nothing more is written, and endless commands (`scan-monitor`)
/// end.
static OUTPUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes to stdout. `println!` panics with a backtrace when the reader has gone (a closed
/// pipe); posctl instead stops writing and finishes with the exit status of what it did, so
/// `posctl … | head` ends quietly and a failure still shows in the status.
fn emit(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if output_closed() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        OUTPUT_CLOSED.store(true, std::sync::atomic::Ordering::SeqCst);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            note!("posctl: cannot write the output: {e}");
        }
    }
}

/// Whether stdout has been closed by its reader.
fn output_closed() -> bool {
    OUTPUT_CLOSED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Inspect and control a running posd.
#[derive(Debug, Parser)]
#[command(name = "posctl", version)]
struct Cli {
    /// Talk to posd on the session bus instead of the system bus; without a session bus (or
    /// without posd on it), on the private bus a development posd recorded.
    #[arg(long, global = true, conflicts_with = "bus_address")]
    session: bool,
    /// Talk to posd on the bus at this D-Bus address.
    #[arg(long, global = true, value_name = "ADDRESS")]
    bus_address: Option<String>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the daemon's version, identity and state.
    Status,
    /// Make posd re-read its configuration, as SIGHUP does (root or group posd-admin).
    ReloadConfig,
    /// List the configured devices with their state.
    Devices,
    /// Show every property of one device.
    Device {
        /// Device name from the configuration.
        name: String,
    },
    /// Print the test page on a printer.
    PrintTest {
        /// Printer name.
        name: String,
        /// Wait until the printer reports the job done (or failed), at most this many seconds.
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
    },
    /// Open the cash drawer on a printer.
    OpenDrawer {
        /// Printer name.
        name: String,
    },
    /// Show a committed receipt as it was printed.
    Receipt {
        /// Receipt id, e.g. 0001-01-000042.
        id: String,
    },
    /// Check the books (reads the database directly: the running posd's, or with posd down
    /// the one of --state-dir or the default state directory; says which).
    Ledger {
        #[command(subcommand)]
        action: LedgerAction,
    },
    /// The till's day: open it with a float, cash in and out, the X and Z reports.
    Day {
        #[command(subcommand)]
        action: DayAction,
    },
    /// Partner messages waiting, delivered, dead or discarded (reads the database directly,
    /// as `ledger` does); `show`, `retry` and `discard` one of them.
    #[command(args_conflicts_with_subcommands = true)]
    Outbox {
        #[command(subcommand)]
        action: Option<OutboxAction>,
        /// Only messages in this state: pending, delivered, dead or discarded.
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
        /// How many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Read the database in this state directory, without asking a daemon [default: the
        /// running posd's database, else the state directory as posd chooses it].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<std::path::PathBuf>,
    },
    /// What a code is (balance inquiry): kind, plugin, balance, expiry.
    Lookup {
        /// The code as scanned or typed.
        code: String,
    },
    /// List the plugins with their state.
    Plugins {
        #[command(subcommand)]
        action: Option<PluginsAction>,
    },
    /// Manage one plugin (root or group posd-admin).
    Plugin {
        #[command(subcommand)]
        action: PluginAction,
    },
    /// Show scans live, one line each, until interrupted.
    ScanMonitor {
        /// Stop after this many scans.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// List the admin actions plugins offer, each a command of its own (root or group
    /// posd-admin).
    AdminActions,
    /// Any other command is an admin action a plugin offers, by its command path, with its
    /// params as `--name value` (`posctl admin-actions` lists them), e.g. `posctl voucher
    /// issue --programme gift --count 10 --amount 20.00 --out codes.txt`; bare values fill
    /// the required params in their declared order (`posctl points C-1001`).
    #[command(external_subcommand)]
    External(Vec<String>),
    /// Render the printer test page to a PNG, as the virtual printer shows it (no daemon
    /// needed).
    PrintPreview {
        /// The PNG file to write.
        output: std::path::PathBuf,
        /// Characters per line: 32, 42 or 48.
        #[arg(long, default_value_t = 42)]
        columns: u8,
        /// Code page: pc858 or pc852.
        #[arg(long, default_value = "pc858")]
        code_page: String,
    },
}

#[derive(Debug, Subcommand)]
enum DayAction {
    /// Open the day with the counted float.
    Open {
        /// Cash counted in the drawer, e.g. 150.00.
        float: String,
        /// Idempotency key: the same key again answers the same receipt [default: a new one].
        #[arg(long)]
        key: Option<String>,
    },
    /// Put cash into the drawer (Einlage).
    CashIn(MovementArgs),
    /// Take cash out of the drawer (Entnahme).
    CashOut(MovementArgs),
    /// Show the X report of the open day (nothing is written).
    X,
    /// Close the day with the cash counted: the Z report, printed and kept in the journal.
    Z {
        /// Cash counted in the drawer.
        counted: String,
        /// Idempotency key [default: a new one].
        #[arg(long)]
        key: Option<String>,
    },
    /// List closed days with their Z receipts.
    History {
        /// First opening date, YYYY-MM-DD.
        #[arg(long, default_value = "")]
        from: String,
        /// Last opening date, YYYY-MM-DD.
        #[arg(long, default_value = "")]
        to: String,
    },
}

/// A cash movement: how much, why, by whom.
#[derive(Debug, clap::Args)]
struct MovementArgs {
    /// Amount, e.g. 50.00.
    amount: String,
    /// Why (required), e.g. "Wechselgeld" or "Bank".
    #[arg(long)]
    reason: String,
    /// Who moved it.
    #[arg(long)]
    cashier: Option<String>,
    /// Idempotency key [default: a new one].
    #[arg(long)]
    key: Option<String>,
}

#[derive(Debug, Subcommand)]
enum LedgerAction {
    /// Check every invariant: each journal entry balances, cached balances match their
    /// postings, no account is below its floor, receipts are numbered without gaps, and
    /// SQLite's integrity check passes. Exits non-zero at the first breach.
    Verify {
        /// Read the database in this state directory, without asking a daemon [default: the
        /// running posd's database, else $STATE_DIRECTORY, else the XDG state directory,
        /// else /var/lib/posd].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<std::path::PathBuf>,
    },
    /// Show account balances: all, one account, or those under a prefix (`host:`,
    /// `host:vat:`, `vouchers:`).
    Balance {
        /// An account code or the start of one.
        account: Option<String>,
        /// Read the database in this state directory, without asking a daemon [default: the
        /// running posd's database, else the state directory as posd chooses it].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum OutboxAction {
    /// Show every field of one message, its payload pretty-printed (reads the database
    /// directly, as the list does).
    Show {
        /// Message id, as `posctl outbox` lists it.
        id: String,
        /// Read the database in this state directory, without asking a daemon [default: the
        /// running posd's database, else the state directory as posd chooses it].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<std::path::PathBuf>,
    },
    /// Deliver a dead (or pending) message now, e.g. after its partner is back (root or
    /// group posd-admin; asks the running posd).
    Retry {
        /// Message id, as `posctl outbox` lists it.
        id: String,
    },
    /// Never deliver a dead (or pending) message; it stays listed as discarded (root or
    /// group posd-admin; asks the running posd).
    Discard {
        /// Message id, as `posctl outbox` lists it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum PluginsAction {
    /// Load new and changed plugin files, retire removed ones (root or group posd-admin).
    Reload,
}

#[derive(Debug, Subcommand)]
enum PluginAction {
    /// Copy a plugin library into the install directory and load it.
    Install {
        /// The .so file.
        path: std::path::PathBuf,
    },
    /// Switch a plugin on.
    Enable {
        /// Plugin id.
        id: String,
    },
    /// Switch a plugin off (remembered across restarts).
    Disable {
        /// Plugin id.
        id: String,
    },
    /// Delete an installed plugin.
    Remove {
        /// Plugin id.
        id: String,
    },
}

/// Why a command failed.
#[derive(Debug)]
enum Failure {
    /// The daemon (or the bus) answered with a named error.
    Reply { name: String, message: String },
    /// No answer at all.
    Transport(String),
}

impl From<zbus::Error> for Failure {
    fn from(e: zbus::Error) -> Self {
        match error_reply(&e) {
            Some((name, message)) => Failure::Reply { name, message },
            None => Failure::Transport(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            note!("posctl: cannot start the async runtime: {e}");
            return ExitCode::from(71);
        }
    };
    // `--json` after an admin action's command path reaches posctl among its words.
    let as_json = cli.json
        || matches!(&cli.command, Command::External(words) if words.iter().any(|w| w == "--json"));
    match runtime.block_on(run(&cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Reply { name, message }) => {
            if as_json {
                out!("{}", json!({ "error": name, "message": message }));
            } else {
                note!("posctl: {name}: {message}");
            }
            ExitCode::from(1)
        }
        Err(Failure::Transport(message)) => {
            if as_json {
                out!("{}", json!({ "error": "transport", "message": message }));
            } else {
                note!("posctl: cannot reach posd: {message}");
            }
            ExitCode::from(2)
        }
    }
}

async fn run(cli: &Cli) -> Result<(), Failure> {
    if let Command::Ledger { action } = &cli.command {
        return match action {
            LedgerAction::Verify { state_dir } => {
                let database = state_database(cli, state_dir.clone()).await?;
                ledger_verify(&database, cli.json)
            }
            LedgerAction::Balance { account, state_dir } => {
                let database = state_database(cli, state_dir.clone()).await?;
                ledger_balance(account.as_deref(), &database, cli.json)
            }
        };
    }
    if let Command::Outbox {
        action,
        state,
        limit,
        state_dir,
    } = &cli.command
    {
        match action {
            None => {
                check_outbox_state(state.as_deref())?;
                let database = state_database(cli, state_dir.clone()).await?;
                return outbox(state.as_deref(), *limit, &database, cli.json);
            }
            Some(OutboxAction::Show { id, state_dir }) => {
                let id = outbox_id(id)?;
                let database = state_database(cli, state_dir.clone()).await?;
                return outbox_show(id, &database, cli.json);
            }
            // Retry and discard change the daemon's outbox: they go through the daemon.
            Some(OutboxAction::Retry { .. } | OutboxAction::Discard { .. }) => {}
        }
    }
    if let Command::PrintPreview {
        output,
        columns,
        code_page,
    } = &cli.command
    {
        return print_preview(output, *columns, code_page, cli.json);
    }
    let conn = connect(cli).await?;
    match &cli.command {
        Command::Status => status(&conn, cli.json).await,
        Command::ReloadConfig => {
            Manager1Proxy::new(&conn).await?.reload_config().await?;
            say(
                cli.json,
                json!({ "reloaded": true }),
                "configuration reloaded",
            );
            Ok(())
        }
        Command::Devices => devices(&conn, cli.json).await,
        Command::Device { name } => device(&conn, name, cli.json).await,
        Command::PrintTest { name, wait } => print_test(&conn, name, *wait, cli.json).await,
        Command::OpenDrawer { name } => {
            printer(&conn, name).await?.open_drawer().await?;
            say(
                cli.json,
                json!({ "drawer": name, "opened": true }),
                "drawer opened",
            );
            Ok(())
        }
        Command::ScanMonitor { count } => scan_monitor(&conn, *count, cli.json).await,
        Command::Lookup { code } => lookup(&conn, code, cli.json).await,
        Command::Receipt { id } => {
            let receipt = Manager1Proxy::new(&conn).await?.get_receipt(id).await?;
            show_printed(&receipt, cli.json);
            Ok(())
        }
        Command::Day { action } => day(&conn, action, cli.json).await,
        Command::Outbox {
            action: Some(action),
            ..
        } => outbox_manage(&conn, action, cli.json).await,
        Command::Ledger { .. } | Command::Outbox { .. } => Ok(()),
        Command::Plugins { action: None } => plugins(&conn, cli.json).await,
        Command::Plugins {
            action: Some(PluginsAction::Reload),
        } => {
            Manager1Proxy::new(&conn).await?.reload_plugins().await?;
            say(cli.json, json!({ "reloaded": true }), "plugins reloaded");
            Ok(())
        }
        Command::Plugin { action } => plugin(&conn, action, cli.json).await,
        Command::AdminActions => admin_actions(&conn, cli.json).await,
        Command::External(words) => admin_action(&conn, words, cli.json).await,
        Command::PrintPreview { .. } => Ok(()),
    }
}

/// The bus the options name: `--bus-address`, `--session` or the system bus.
fn bus_choice(cli: &Cli) -> BusChoice {
    match (&cli.bus_address, cli.session) {
        (Some(address), _) => BusChoice::Address(address.clone()),
        (None, true) => BusChoice::Session,
        (None, false) => BusChoice::System,
    }
}

/// Connects to posd's bus. `--session` where no session bus answers, or where posd is not on
/// it, falls back to the private bus a development posd recorded (see
/// [`posd_client::connect_to_posd`]), and says so on stderr; stdout stays the command's own.
async fn connect(cli: &Cli) -> Result<zbus::Connection, Failure> {
    let (conn, note) = posd_client::connect_to_posd(&bus_choice(cli)).await?;
    if let Some(note) = note {
        note!("posctl: {note}");
    }
    Ok(conn)
}

/// The database a command that reads it directly works on: the one of `--state-dir`; else
/// the running daemon's (`Manager1.DatabasePath`), so the answer is about the till posctl
/// talks to; else, with no daemon answering on the session or system bus, the default state
/// directory's, as posd would choose it, with a note on stderr. A `--bus-address` whose posd
/// does not answer is an error: reading some other database would answer for the wrong till.
async fn state_database(cli: &Cli, state_dir: Option<PathBuf>) -> Result<PathBuf, Failure> {
    if let Some(dir) = state_dir {
        return Ok(dir.join(DATABASE_FILE));
    }
    let asked = async {
        let conn = connect(cli).await?;
        let path = Manager1Proxy::new(&conn).await?.database_path().await?;
        if path.is_empty() {
            return Err(Failure::Transport("posd names no database".into()));
        }
        Ok(PathBuf::from(path))
    };
    match asked.await {
        Ok(path) => Ok(path),
        Err(failure) => {
            let reason = match failure {
                Failure::Reply { name, message } => format!("{name}: {message}"),
                Failure::Transport(message) => message,
            };
            let bus = bus_choice(cli);
            if let BusChoice::Address(address) = bus {
                return Err(Failure::Transport(format!(
                    "no posd answers at {address} ({reason}); give --state-dir DIR to read a \
                     database without a daemon"
                )));
            }
            let path = posd_client::connect::state_dir(None, env_var).join(DATABASE_FILE);
            note!(
                "posctl: no posd answers on the {bus} ({reason}); reading {} of the default \
                 state directory",
                path.display()
            );
            Ok(path)
        }
    }
}

async fn lookup(conn: &zbus::Connection, code: &str, as_json: bool) -> Result<(), Failure> {
    let info = Manager1Proxy::new(conn).await?.lookup_code(code).await?;
    let values = record_json(&info);
    if as_json {
        out!("{}", json!(values));
        return Ok(());
    }
    for key in ["kind", "plugin", "balance", "expires", "state", "customer"] {
        if let Some(text) = values
            .get(key)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            out!("{key:<9} {text}");
        }
    }
    if let Some(warnings) = values.get("warnings").and_then(Value::as_array) {
        for warning in warnings.iter().filter_map(Value::as_str) {
            out!("warning   {warning}");
        }
    }
    Ok(())
}

async fn plugins(conn: &zbus::Connection, as_json: bool) -> Result<(), Failure> {
    let manager = zbus::fdo::ObjectManagerProxy::builder(conn)
        .destination(BUS_NAME)
        .path(ROOT_PATH)
        .build()
        .await?;
    let objects = manager
        .get_managed_objects()
        .await
        .map_err(zbus::Error::from)?;
    let mut list: Vec<BTreeMap<String, Value>> = objects
        .values()
        .filter_map(|ifaces| ifaces.get("org.posd.Plugin1"))
        .map(|props| {
            props
                .iter()
                .map(|(k, v)| (k.to_string(), variant_to_json(v)))
                .collect()
        })
        .collect();
    list.sort_by(|a, b| {
        a.get("Id")
            .map(Value::to_string)
            .cmp(&b.get("Id").map(Value::to_string))
    });
    if as_json {
        out!("{}", json!(list));
        return Ok(());
    }
    if list.is_empty() {
        out!("no plugins");
        return Ok(());
    }
    out!(
        "{:<16} {:<9} {:<10} {:<5} {:<10} {:>7} {:>8} PATH / ERROR",
        "ID",
        "STATE",
        "VERSION",
        "ABI",
        "MODE",
        "PID",
        "RESTARTS"
    );
    for p in &list {
        let get = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let number = |k: &str| p.get(k).and_then(Value::as_u64).unwrap_or(0);
        let tail = if get("Error").is_empty() {
            get("Path")
        } else {
            format!("{}: {}", get("Path"), get("Error"))
        };
        let pid = match number("Pid") {
            0 => "-".to_string(),
            pid => pid.to_string(),
        };
        let mode = get("Isolation");
        out!(
            "{:<16} {:<9} {:<10} {:<5} {:<10} {:>7} {:>8} {}",
            get("Id"),
            get("State"),
            get("Version"),
            get("AbiVersion"),
            if mode.is_empty() { "-" } else { mode.as_str() },
            pid,
            number("Restarts"),
            tail
        );
        let crash = get("LastCrash");
        if !crash.is_empty() {
            out!("{:<16} last crash: {crash}", "");
        }
    }
    Ok(())
}

async fn plugin(
    conn: &zbus::Connection,
    action: &PluginAction,
    as_json: bool,
) -> Result<(), Failure> {
    let manager = Manager1Proxy::new(conn).await?;
    match action {
        PluginAction::Install { path } => {
            // The daemon resolves paths itself; give it an absolute one.
            let absolute =
                std::path::absolute(path).map_err(|e| Failure::Transport(e.to_string()))?;
            let id = manager.install_plugin(&absolute.to_string_lossy()).await?;
            say(
                as_json,
                json!({ "installed": id }),
                &format!("installed plugin {id}"),
            );
        }
        PluginAction::Enable { id } => {
            manager.set_plugin_enabled(id, true).await?;
            say(
                as_json,
                json!({ "enabled": id }),
                &format!("plugin {id} enabled"),
            );
        }
        PluginAction::Disable { id } => {
            manager.set_plugin_enabled(id, false).await?;
            say(
                as_json,
                json!({ "disabled": id }),
                &format!("plugin {id} disabled"),
            );
        }
        PluginAction::Remove { id } => {
            manager.remove_plugin(id).await?;
            say(
                as_json,
                json!({ "removed": id }),
                &format!("plugin {id} removed"),
            );
        }
    }
    Ok(())
}

fn say(as_json: bool, value: Value, text: &str) {
    if as_json {
        out!("{value}");
    } else {
        out!("{text}");
    }
}

async fn managed_devices(
    conn: &zbus::Connection,
) -> Result<BTreeMap<String, BTreeMap<String, BTreeMap<String, Value>>>, Failure> {
    let manager = zbus::fdo::ObjectManagerProxy::builder(conn)
        .destination(BUS_NAME)
        .path(ROOT_PATH)
        .build()
        .await?;
    let objects = manager
        .get_managed_objects()
        .await
        .map_err(zbus::Error::from)?;
    let mut devices = BTreeMap::new();
    for (path, interfaces) in objects {
        let Some(name) = path.as_str().strip_prefix("/org/posd/Posd1/device/") else {
            continue;
        };
        let mut by_interface = BTreeMap::new();
        for (interface, properties) in interfaces {
            let props: BTreeMap<String, Value> = properties
                .iter()
                .map(|(k, v)| (k.to_string(), variant_to_json(v)))
                .collect();
            by_interface.insert(interface.to_string(), props);
        }
        devices.insert(name.to_string(), by_interface);
    }
    Ok(devices)
}

async fn devices(conn: &zbus::Connection, as_json: bool) -> Result<(), Failure> {
    let devices = managed_devices(conn).await?;
    if as_json {
        let list: Vec<Value> = devices
            .values()
            .filter_map(|ifaces| ifaces.get("org.posd.Device1"))
            .map(|props| json!(props))
            .collect();
        out!("{}", Value::Array(list));
        return Ok(());
    }
    if devices.is_empty() {
        out!("no devices configured");
        return Ok(());
    }
    out!(
        "{:<12} {:<8} {:<8} {:<32} LAST ERROR",
        "NAME",
        "KIND",
        "STATE",
        "CONNECTION"
    );
    for (name, ifaces) in &devices {
        let get = |key: &str| {
            ifaces
                .get("org.posd.Device1")
                .and_then(|p| p.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        out!(
            "{:<12} {:<8} {:<8} {:<32} {}",
            name,
            get("Kind"),
            get("State"),
            get("Connection"),
            get("LastError")
        );
    }
    Ok(())
}

async fn device(conn: &zbus::Connection, name: &str, as_json: bool) -> Result<(), Failure> {
    let devices = managed_devices(conn).await?;
    let Some(ifaces) = devices.get(name) else {
        return Err(Failure::Reply {
            name: "org.posd.Error.NotFound".into(),
            message: format!("no device {name:?}; `posctl devices` lists them"),
        });
    };
    if as_json {
        out!("{}", json!(ifaces));
        return Ok(());
    }
    for (interface, props) in ifaces {
        out!("{interface}");
        for (key, value) in props {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            out!("  {key:<14} {text}");
        }
    }
    Ok(())
}

async fn printer<'a>(conn: &'a zbus::Connection, name: &str) -> Result<Printer1Proxy<'a>, Failure> {
    // The bus answers a call on a device that does not exist with UnknownObject, before any
    // of posd's code runs; Manager1.GetDevice answers NotFound naming the device instead.
    let manager = Manager1Proxy::new(conn).await?;
    let _: zbus::OwnedObjectPath = manager.inner().call("GetDevice", &(name,)).await?;
    Ok(Printer1Proxy::builder(conn)
        .path(device_path(name))
        .build()
        .await?)
}

async fn print_test(
    conn: &zbus::Connection,
    name: &str,
    wait: Option<u64>,
    as_json: bool,
) -> Result<(), Failure> {
    let printer = printer(conn, name).await?;
    // Subscribe before queueing, so a fast printer's JobDone is not missed.
    let mut done = printer.receive_job_done().await?;
    let job_id = printer.print_test_page().await?;
    let Some(seconds) = wait else {
        say(
            as_json,
            json!({ "job": job_id }),
            &format!("queued {job_id}"),
        );
        return Ok(());
    };
    let deadline = std::time::Duration::from_secs(seconds);
    let outcome = tokio::time::timeout(deadline, async {
        while let Some(signal) = done.next().await {
            if let Ok(args) = signal.args()
                && args.job_id == job_id
            {
                return Some(args.state);
            }
        }
        None
    })
    .await;
    match outcome {
        Ok(Some(state)) => {
            say(
                as_json,
                json!({ "job": job_id, "state": state }),
                &format!("{job_id} {state}"),
            );
            if state == "printed" {
                Ok(())
            } else {
                Err(Failure::Reply {
                    name: "org.posd.Error.DeviceUnavailable".into(),
                    message: format!("{job_id} {state}"),
                })
            }
        }
        _ => Err(Failure::Reply {
            name: "org.posd.Error.DeviceUnavailable".into(),
            message: format!(
                "{job_id} still waiting after {seconds} s; it prints when the printer is back"
            ),
        }),
    }
}

async fn scan_monitor(
    conn: &zbus::Connection,
    count: Option<u64>,
    as_json: bool,
) -> Result<(), Failure> {
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender(BUS_NAME)
        .interface("org.posd.Scanner1")
        .member("Scanned")
        .build()?;
    let mut stream = zbus::MessageStream::for_match_rule(rule, conn, None).await?;
    // Interrupting is how a technician ends the monitor: it ends it cleanly (exit 0). The
    // handlers are in place before the line below says that the monitor is listening.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    // On stderr even with --json: scripts know from it that the subscription is in place.
    note!("waiting for scans (Ctrl-C ends)…");
    let mut seen = 0u64;
    loop {
        let message = tokio::select! {
            message = stream.next() => match message {
                Some(message) => message?,
                None => break,
            },
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        };
        let device = message
            .header()
            .path()
            .map(|p| p.as_str().rsplit('/').next().unwrap_or("").to_string())
            .unwrap_or_default();
        let (code, symbology, kind, details): (
            String,
            String,
            String,
            std::collections::HashMap<String, zbus::OwnedVariant>,
        ) = message.body().deserialize()?;
        let details = record_json(&details);
        if as_json {
            out!(
                "{}",
                json!({ "device": device, "code": code, "symbology": symbology, "kind": kind, "details": details })
            );
        } else {
            let extra: Vec<String> = details
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str().map_or_else(|| v.to_string(), str::to_string)
                    )
                })
                .collect();
            out!("{device} {symbology} {kind} {code} {}", extra.join(" "));
        }
        seen += 1;
        if count.is_some_and(|n| seen >= n) || output_closed() {
            break;
        }
    }
    Ok(())
}

/// A signal stream; a failure to install it is posctl's, not the daemon's.
fn signal(kind: SignalKind) -> Result<tokio::signal::unix::Signal, Failure> {
    tokio::signal::unix::signal(kind)
        .map_err(|e| Failure::Transport(format!("cannot handle signals: {e}")))
}

/// Where posctl looks for the daemon's executable, which reads a state database for it:
/// `$POSD_BINARY` alone when it is set; else `posd` beside posctl's own executable (an
/// installation, or cargo's target directory); else `posd` on `PATH`.
fn posd_candidates() -> Vec<(String, OsString)> {
    if let Some(named) = std::env::var_os("POSD_BINARY").filter(|v| !v.is_empty()) {
        let shown = format!("$POSD_BINARY ({})", Path::new(&named).display());
        return vec![(shown, named)];
    }
    let mut candidates = Vec::new();
    if let Some(beside) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("posd")))
    {
        candidates.push((beside.display().to_string(), beside.into_os_string()));
    }
    candidates.push(("posd on PATH".to_string(), OsString::from("posd")));
    candidates
}

/// Runs `posd inspect VIEW ARGS` and returns the JSON document it printed. A refusal it
/// names with the contract's error name (`org.posd.Error.LedgerBreach`, `NotFound`,
/// `InvalidArgument`) is a [`Failure::Reply`] as the daemon's would be; a database it could
/// not read, an executable that cannot be run or an answer that is not one is a
/// [`Failure::Transport`], naming what was tried.
fn inspect(view: &str, database: &Path, args: &[OsString]) -> Result<Value, Failure> {
    let mut database_arg = OsString::from("--database=");
    database_arg.push(database);
    let mut tried = Vec::new();
    for (shown, program) in posd_candidates() {
        let run = std::process::Command::new(&program)
            .arg("inspect")
            .arg(view)
            .arg(&database_arg)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output();
        match run {
            Ok(output) => return inspect_answer(&shown, &output),
            Err(e) => tried.push(format!("{shown}: {e}")),
        }
    }
    Err(Failure::Transport(format!(
        "the daemon's executable reads the database for posctl (`posd inspect`), and none \
         could be run (tried {}); install posd beside posctl or name it in POSD_BINARY",
        tried.join("; ")
    )))
}

/// What one run of `posd inspect` (the executable `shown`) answered: see [`inspect`].
fn inspect_answer(shown: &str, output: &std::process::Output) -> Result<Value, Failure> {
    if output.status.success() {
        return serde_json::from_slice(&output.stdout).map_err(|e| {
            Failure::Transport(format!("{shown} inspect answered no JSON document: {e}"))
        });
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let refusal = stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .and_then(|line| serde_json::from_str::<Value>(line).ok());
    let named = refusal.as_ref().and_then(|r| {
        Some((
            r.get("error")?.as_str()?.to_string(),
            r.get("message")?.as_str()?.to_string(),
        ))
    });
    match named {
        Some((name, message)) if name.starts_with(ERROR_PREFIX) => {
            Err(Failure::Reply { name, message })
        }
        Some((_, message)) => Err(Failure::Transport(message)),
        None => Err(Failure::Transport(format!(
            "{shown} inspect failed ({}): {}",
            output.status,
            stderr.trim()
        ))),
    }
}

/// Runs a view of `database` and prints `note` on stderr once the database was read (a
/// refusal of what it holds counts; a database that could not be read does not), as posctl
/// says which database it read before the answer.
fn inspect_noted(
    view: &str,
    database: &Path,
    args: &[OsString],
    note: &str,
) -> Result<Value, Failure> {
    let answer = inspect(view, database, args);
    if !matches!(answer, Err(Failure::Transport(_))) {
        note!("posctl: {note} {}", database.display());
    }
    answer
}

/// Refuses an outbox state that does not exist before anything is opened.
fn check_outbox_state(state: Option<&str>) -> Result<(), Failure> {
    match state {
        Some(s) if !matches!(s, "pending" | "delivered" | "dead" | "discarded") => {
            Err(Failure::Reply {
                name: "org.posd.Error.InvalidArgument".into(),
                message: format!("--state {s:?}: expected pending, delivered, dead or discarded"),
            })
        }
        _ => Ok(()),
    }
}

/// An outbox message id as typed (`"42"`), refused as the daemon refuses it
/// (InvalidArgument) before any database or daemon is asked.
fn outbox_id(text: &str) -> Result<i64, Failure> {
    text.trim().parse().map_err(|_| Failure::Reply {
        name: "org.posd.Error.InvalidArgument".into(),
        message: format!(
            "{text:?} is not an outbox message id (a number; `posctl outbox` lists them)"
        ),
    })
}

/// A text field of an inspected document, empty when it has none.
fn text_of(document: &Value, key: &str) -> String {
    match &document[key] {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `posctl outbox show ID`: every field of one message, read from the database.
fn outbox_show(id: i64, database: &Path, as_json: bool) -> Result<(), Failure> {
    let args = [OsString::from("--"), OsString::from(id.to_string())];
    let m = inspect_noted("outbox-show", database, &args, "outbox of")?;
    if as_json {
        out!("{m}");
        return Ok(());
    }
    let delivered_at = match &m["delivered_at"] {
        Value::Null => "-".to_string(),
        _ => text_of(&m, "delivered_at"),
    };
    let fields = [
        ("id", text_of(&m, "id")),
        ("plugin", text_of(&m, "plugin")),
        ("destination", text_of(&m, "destination")),
        ("key", text_of(&m, "key")),
        ("reference", text_of(&m, "reference")),
        ("state", text_of(&m, "state")),
        ("attempts", text_of(&m, "attempts")),
        ("last_error", text_of(&m, "last_error")),
        ("created_at", text_of(&m, "created_at")),
        ("next_attempt", text_of(&m, "next_attempt")),
        ("delivered_at", delivered_at),
    ];
    for (name, value) in fields {
        out!("{name:<13} {value}");
    }
    out!("payload");
    let payload = &m["payload"];
    let payload = serde_json::to_string_pretty(payload).unwrap_or_else(|_| payload.to_string());
    for line in payload.lines() {
        out!("  {line}");
    }
    Ok(())
}

/// `posctl outbox retry|discard ID`: asks the running daemon, which checks the caller's
/// rights and the message's state.
async fn outbox_manage(
    conn: &zbus::Connection,
    action: &OutboxAction,
    as_json: bool,
) -> Result<(), Failure> {
    let manager = Manager1Proxy::new(conn).await?;
    // The daemon accepted the id, so it is a number; the JSON shows it as the list does.
    let shown = |id: &str| outbox_id(id).map_or_else(|_| json!(id), |n| json!(n));
    match action {
        OutboxAction::Retry { id } => {
            manager.retry_outbox_message(id).await?;
            say(
                as_json,
                json!({ "retried": shown(id) }),
                &format!("outbox message {} is due now", id.trim()),
            );
        }
        OutboxAction::Discard { id } => {
            manager.discard_outbox_message(id).await?;
            say(
                as_json,
                json!({ "discarded": shown(id) }),
                &format!(
                    "outbox message {} discarded: it will never be delivered",
                    id.trim()
                ),
            );
        }
        OutboxAction::Show { .. } => {}
    }
    Ok(())
}

/// `posctl outbox`: the messages, newest first, read from the database.
fn outbox(state: Option<&str>, limit: i64, database: &Path, as_json: bool) -> Result<(), Failure> {
    let mut args = vec![OsString::from(format!("--limit={limit}"))];
    if let Some(state) = state {
        args.push(OsString::from(format!("--state={state}")));
    }
    let messages = inspect_noted("outbox-list", database, &args, "outbox of")?;
    if as_json {
        out!("{messages}");
        return Ok(());
    }
    let messages = messages.as_array().cloned().unwrap_or_default();
    if messages.is_empty() {
        out!("no messages");
        return Ok(());
    }
    out!(
        "{:<6} {:<10} {:<12} {:<16} {:<9} {:>5}  LAST ERROR",
        "ID",
        "PLUGIN",
        "TO",
        "RECEIPT",
        "STATE",
        "TRIES"
    );
    for m in &messages {
        out!(
            "{:<6} {:<10} {:<12} {:<16} {:<9} {:>5}  {}",
            text_of(m, "id"),
            text_of(m, "plugin"),
            text_of(m, "destination"),
            text_of(m, "reference"),
            text_of(m, "state"),
            text_of(m, "attempts"),
            text_of(m, "last_error")
        );
    }
    Ok(())
}

/// `posctl ledger verify`: every invariant of the books, or the first breach.
fn ledger_verify(database: &Path, as_json: bool) -> Result<(), Failure> {
    let verified = inspect("ledger-verify", database, &[])?;
    if as_json {
        out!("{verified}");
        return Ok(());
    }
    let count = |key: &str| verified[key].as_u64().unwrap_or(0);
    let mut text = format!(
        "ledger ok in {}: {} journal entries, {} postings, {} accounts balance; {} receipts without gaps, \
         {} agree with the ledger and add up as printed, {} sales within their reversals",
        database.display(),
        count("entries"),
        count("postings"),
        count("accounts"),
        count("receipts"),
        count("receipts_booked"),
        count("sales_reversed")
    );
    if count("admin_entries") > 0 {
        text += &format!(
            "; {} entries of plugins' admin actions post to their own plugin's accounts only",
            count("admin_entries")
        );
    }
    if count("receipts_before_ledger") > 0 {
        text += &format!(
            "; {} receipts from before posd booked all money were checked for their arithmetic only",
            count("receipts_before_ledger")
        );
    }
    out!("{text}");
    Ok(())
}

/// `posctl ledger balance [ACCOUNT]`: balances, all or under a prefix.
fn ledger_balance(account: Option<&str>, database: &Path, as_json: bool) -> Result<(), Failure> {
    let mut args = Vec::new();
    if let Some(account) = account {
        args.extend([OsString::from("--"), OsString::from(account)]);
    }
    let balances = inspect_noted("ledger-balance", database, &args, "balances in")?;
    if as_json {
        out!("{balances}");
        return Ok(());
    }
    let rows = balances.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        out!("no accounts");
        return Ok(());
    }
    let width = rows
        .iter()
        .map(|r| text_of(r, "account").chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    out!(
        "{:<width$} {:<10} {:>14} UNIT",
        "ACCOUNT",
        "KIND",
        "BALANCE"
    );
    for row in &rows {
        let (code, kind, balance, unit) = (
            text_of(row, "account"),
            text_of(row, "kind"),
            text_of(row, "balance"),
            text_of(row, "unit"),
        );
        out!("{code:<width$} {kind:<10} {balance:>14} {unit}");
    }
    Ok(())
}

/// A key for a command a technician may run again: unique per call.
fn fresh_key(what: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("posctl-{what}-{}-{now}", std::process::id())
}

async fn day(conn: &zbus::Connection, action: &DayAction, as_json: bool) -> Result<(), Failure> {
    let register = Register1Proxy::new(conn).await?;
    let manager = Manager1Proxy::new(conn).await?;
    let key = |given: &Option<String>, what: &str| given.clone().unwrap_or_else(|| fresh_key(what));
    let receipt_done = async |id: String, verb: &str| -> Result<(), Failure> {
        if as_json {
            let receipt = manager.get_receipt(&id).await?;
            let values = record_json(&receipt);
            out!("{}", json!(values));
        } else {
            out!("{verb}: receipt {id}");
        }
        Ok(())
    };
    match action {
        DayAction::Open { float, key: k } => {
            let id = register.open_day(float, &key(k, "open")).await?;
            receipt_done(id, "day opened").await
        }
        DayAction::CashIn(movement) | DayAction::CashOut(movement) => {
            let kind = if matches!(action, DayAction::CashIn(_)) {
                "in"
            } else {
                "out"
            };
            let mut details = std::collections::HashMap::new();
            if let Some(cashier) = &movement.cashier {
                details.insert("cashier", zbus::Variant::from(cashier.as_str()));
            }
            let id = register
                .cash_movement(
                    kind,
                    &movement.amount,
                    &movement.reason,
                    details,
                    &key(&movement.key, kind),
                )
                .await?;
            receipt_done(id, &format!("cash {kind}")).await
        }
        DayAction::X => {
            let mut report = register.report().await?;
            if as_json {
                // The record a script reads; the printed form is for people.
                report.remove("text");
            }
            show_printed(&report, as_json);
            Ok(())
        }
        DayAction::Z { counted, key: k } => {
            let id = register.close_day(counted, &key(k, "z")).await?;
            let receipt = manager.get_receipt(&id).await?;
            show_printed(&receipt, as_json);
            Ok(())
        }
        DayAction::History { from, to } => {
            let days = register.list_days(from, to).await?;
            let list: Vec<BTreeMap<String, Value>> = days.iter().map(record_json).collect();
            if as_json {
                out!("{}", json!(list));
                return Ok(());
            }
            if list.is_empty() {
                out!("no closed days");
                return Ok(());
            }
            out!(
                "{:>5} {:<18} {:<26} {:<16} {:>10} {:>10} {:>10}",
                "Z",
                "DAY",
                "CLOSED",
                "Z RECEIPT",
                "EXPECTED",
                "COUNTED",
                "DIFFERENCE"
            );
            for d in &list {
                let get = |k: &str| {
                    d.get(k)
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .unwrap_or_default()
                };
                out!(
                    "{:>5} {:<18} {:<26} {:<16} {:>10} {:>10} {:>10}",
                    get("number"),
                    get("day"),
                    get("closed_at"),
                    get("z_receipt_id"),
                    get("expected"),
                    get("counted"),
                    get("difference")
                );
            }
            Ok(())
        }
    }
}

fn print_preview(
    output: &std::path::Path,
    columns: u8,
    code_page: &str,
    as_json: bool,
) -> Result<(), Failure> {
    let invalid = |message: String| Failure::Reply {
        name: "org.posd.Error.InvalidArgument".into(),
        message,
    };
    let code_page = preview_code_page(code_page).map_err(invalid)?;
    if ![32, 42, 48].contains(&columns) {
        return Err(invalid("--columns must be 32, 42 or 48".into()));
    }
    let dots = match columns {
        32 => 384,
        42 => 512,
        _ => 576,
    };
    let profile = posd_printer::Profile::new(columns, code_page, dots, true)
        .map_err(|e| invalid(e.to_string()))?;
    let page = posd_printer::test_page(
        &profile,
        &posd_printer::TestPageInfo {
            device_name: "preview",
            connection: "-",
            store_id: "-",
            register_id: "-",
            version: env!("CARGO_PKG_VERSION"),
            job_id: "preview",
        },
    );
    let rendered = posd_printer::render(&page, &profile);
    if let Some(summary) = missing_characters(&rendered.warnings, code_page) {
        note!("posctl: {summary}");
    }
    let receipts = posd_virtual_printer::decode(&rendered.bytes);
    let receipt = receipts
        .first()
        .ok_or_else(|| Failure::Transport("the test page decoded to nothing".into()))?;
    let png = receipt
        .to_png(u32::from(profile.dots_per_line))
        .map_err(|e| Failure::Transport(e.to_string()))?;
    std::fs::write(output, png)
        .map_err(|e| Failure::Transport(format!("{}: {e}", output.display())))?;
    say(
        as_json,
        json!({ "preview": output.display().to_string(), "code_page": spelling(code_page),
                "missing_characters": rendered.warnings.len() }),
        &format!("wrote {}", output.display()),
    );
    Ok(())
}

/// The code pages receipts are printed in: `pc858` (German, Austrian, the euro sign) and
/// `pc852` (Czech). The printer driver knows PC437 too, but it has no `€`, and posd neither
/// configures it nor checks the virtual printer's font against it.
const PREVIEW_CODE_PAGES: [posd_printer::CodePage; 2] =
    [posd_printer::CodePage::Pc858, posd_printer::CodePage::Pc852];

/// A code page as `--code-page` and the configuration spell it (`pc858`).
fn spelling(code_page: posd_printer::CodePage) -> String {
    code_page.to_string().to_ascii_lowercase()
}

/// The `--code-page` of a preview, if it is one receipts are printed in.
fn preview_code_page(name: &str) -> Result<posd_printer::CodePage, String> {
    let supported = || {
        PREVIEW_CODE_PAGES
            .iter()
            .map(|page| spelling(*page))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    name.parse::<posd_printer::CodePage>()
        .ok()
        .filter(|page| PREVIEW_CODE_PAGES.contains(page))
        .ok_or_else(|| format!("--code-page {name:?}: expected {}", supported()))
}

/// One line for the characters of the test page that `code_page` lacks, with what prints
/// instead: the test page shows German and Czech on purpose, so one of the two lines always
/// has some, and a warning per character buried the message.
fn missing_characters(
    warnings: &[posd_printer::Warning],
    code_page: posd_printer::CodePage,
) -> Option<String> {
    const SHOWN: usize = 8;
    if warnings.is_empty() {
        return None;
    }
    let mut examples: Vec<String> = warnings
        .iter()
        .take(SHOWN)
        .map(|w| format!("{}→{}", w.character, w.replacement))
        .collect();
    if warnings.len() > SHOWN {
        examples.push("…".into());
    }
    Some(format!(
        "{} characters of the test page are not in code page {} and print as replacements ({})",
        warnings.len(),
        spelling(code_page),
        examples.join(" ")
    ))
}

async fn status(conn: &zbus::Connection, as_json: bool) -> Result<(), Failure> {
    let properties = zbus::fdo::PropertiesProxy::builder(conn)
        .destination(BUS_NAME)
        .path(ROOT_PATH)
        .build()
        .await?;
    let interface = zbus::names::InterfaceName::try_from("org.posd.Manager1")?;
    let all = properties
        .get_all(interface)
        .await
        .map_err(zbus::Error::from)?;
    let mut values: BTreeMap<String, Value> = BTreeMap::new();
    for (name, value) in all {
        values.insert(name, variant_to_json(&value));
    }
    if as_json {
        out!("{}", Value::Object(values.into_iter().collect()));
        return Ok(());
    }
    // Contract order first, anything newer after it.
    let mut names: Vec<&str> = MANAGER_PROPERTIES.to_vec();
    names.extend(
        values
            .keys()
            .map(String::as_str)
            .filter(|k| !MANAGER_PROPERTIES.contains(k)),
    );
    for name in names {
        if let Some(value) = values.get(name) {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            out!("{name:<12} {text}");
        }
    }
    Ok(())
}

/// A receipt or report: its record as JSON, or its `text` as printed.
fn show_printed(record: &std::collections::HashMap<String, zbus::OwnedVariant>, as_json: bool) {
    if as_json {
        out!("{}", json!(record_json(record)));
    } else {
        let text = record.get("text").map(variant_to_json).unwrap_or_default();
        out_raw!("{}", text.as_str().unwrap_or_default());
    }
}

/// A record of the contract (`a{sv}`) as a JSON object, keys in order.
fn record_json(
    record: &std::collections::HashMap<String, zbus::OwnedVariant>,
) -> BTreeMap<String, Value> {
    record
        .iter()
        .map(|(k, v)| (k.clone(), variant_to_json(v)))
        .collect()
}

fn variant_to_json(value: &zbus::OwnedVariant) -> Value {
    posd_client::to_json(value)
}

/// `org.posd.Manager1` without the generated proxy, for the admin action calls.
async fn manager_proxy(conn: &zbus::Connection) -> Result<zbus::Proxy<'static>, Failure> {
    Ok(zbus::Proxy::new(conn, BUS_NAME, "/org/posd/Posd1", "org.posd.Manager1").await?)
}

/// What every plugin offers admins, as JSON objects (plugin, id, command, label, help,
/// params).
async fn fetch_admin_actions(conn: &zbus::Connection) -> Result<Vec<Value>, Failure> {
    let records: Vec<std::collections::HashMap<String, zbus::OwnedVariant>> =
        manager_proxy(conn).await?.call("AdminActions", &()).await?;
    Ok(records.iter().map(|r| json!(record_json(r))).collect())
}

/// A failure of posctl's own, named like the daemon's errors so scripts read one set.
fn refused(name: &str, message: String) -> Failure {
    Failure::Reply {
        name: format!("org.posd.Error.{name}"),
        message,
    }
}

/// The words of an action's command path.
fn command_words(action: &Value) -> Vec<&str> {
    action["command"]
        .as_array()
        .map(|words| words.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `posctl admin-actions`: every admin action as the command that runs it.
async fn admin_actions(conn: &zbus::Connection, as_json: bool) -> Result<(), Failure> {
    let actions = fetch_admin_actions(conn).await?;
    if as_json {
        out!("{}", Value::Array(actions));
        return Ok(());
    }
    if actions.is_empty() {
        out!("no plugin offers admin actions");
    }
    for action in &actions {
        out!(
            "posctl {}  {} (plugin {}, action {})",
            command_words(action).join(" "),
            action["label"].as_str().unwrap_or_default(),
            action["plugin"].as_str().unwrap_or_default(),
            action["id"].as_str().unwrap_or_default()
        );
        for param in action["params"].as_array().into_iter().flatten() {
            let required = if param["required"] == true {
                " (required)"
            } else {
                ""
            };
            out!(
                "    --{} <{}>{required}  {}",
                param["name"].as_str().unwrap_or_default(),
                param["type"].as_str().unwrap_or_default(),
                param["help"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// `posctl <command path> --help`: the action's label, help and params.
fn admin_action_help(words: &[String], actions: &[Value], as_json: bool) -> Result<(), Failure> {
    let path: Vec<&str> = words.iter().map(String::as_str).collect();
    let matching: Vec<&Value> = actions
        .iter()
        .filter(|a| {
            let command = command_words(a);
            command.len() >= path.len() && command.starts_with(&path)
        })
        .collect();
    if matching.is_empty() {
        return Err(refused(
            "NotFound",
            format!(
                "no plugin offers an admin action {:?}; `posctl admin-actions` lists them",
                path.join(" ")
            ),
        ));
    }
    if as_json {
        out!("{}", json!(matching));
        return Ok(());
    }
    for action in matching {
        out!(
            "posctl {}: {}",
            command_words(action).join(" "),
            action["label"].as_str().unwrap_or_default()
        );
        if let Some(help) = action["help"].as_str().filter(|h| !h.is_empty()) {
            out!("{help}");
        }
        for param in action["params"].as_array().into_iter().flatten() {
            let required = if param["required"] == true {
                " (required)"
            } else {
                ""
            };
            out!(
                "    --{} <{}>{required}  {}",
                param["name"].as_str().unwrap_or_default(),
                param["type"].as_str().unwrap_or_default(),
                param["help"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// What the technician asked for: the action, the args to send and the file to write.
#[derive(Debug, PartialEq)]
struct AdminCall {
    /// The plugin offering it.
    plugin: String,
    /// Its id.
    action: String,
    /// Args typed as the params declare (integers and booleans as such).
    args: serde_json::Map<String, Value>,
    /// The output file, which stays with posctl.
    output_file: Option<std::path::PathBuf>,
}

/// Resolves `words` (what followed `posctl`) against the declared `actions`: the longest
/// command path the leading words spell, then `--name value` (or `--name=value`, `--flag`
/// for a boolean) per param, `-` and `_` alike in names, and bare values for the required
/// params not given as options, in declared order. `--json` is posctl's own.
fn resolve_admin_call(words: &[String], actions: &[Value]) -> Result<AdminCall, Failure> {
    let path: Vec<&str> = words
        .iter()
        .take_while(|w| !w.starts_with('-'))
        .map(String::as_str)
        .collect();
    let action = actions
        .iter()
        .filter(|a| {
            let command = command_words(a);
            !command.is_empty() && path.starts_with(&command)
        })
        // The longest path; among equals the first listed (`max_by_key` keeps the last).
        .rev()
        .max_by_key(|a| command_words(a).len())
        .ok_or_else(|| {
            refused(
                "NotFound",
                format!(
                    "posctl has no command {:?} and no plugin offers it as an admin action; \
                     `posctl admin-actions` lists them",
                    path.join(" ")
                ),
            )
        })?;
    let command = command_words(action);
    let shown = command.join(" ");
    let params: Vec<&Value> = action["params"].as_array().into_iter().flatten().collect();
    let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut rest = words[command.len()..].iter().filter(|w| *w != "--json");
    let mut args = serde_json::Map::new();
    let mut output_file = None;
    // Bare words fill the required params in the order the action declares them
    // (`posctl points C-1001`), after or among the `--name value` options.
    let mut positional = params.iter().filter(|p| {
        p["required"] == true && !matches!(p["type"].as_str(), Some("boolean" | "output_file"))
    });
    while let Some(word) = rest.next() {
        let Some(option) = word.strip_prefix("--") else {
            let param = positional
                .by_ref()
                .find(|p| !args.contains_key(p["name"].as_str().unwrap_or_default()))
                .ok_or_else(|| {
                    refused(
                        "InvalidArgument",
                        format!(
                            "posctl {shown} takes no more bare values, not {word:?}: \
                             give options as --name value"
                        ),
                    )
                })?;
            let key = param["name"].as_str().unwrap_or_default().to_string();
            let typed = typed_arg(&key, param["type"].as_str().unwrap_or_default(), word)?;
            args.insert(key, typed);
            continue;
        };
        let (name, inline) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (option, None),
        };
        let param = params
            .iter()
            .find(|p| {
                p["name"].as_str().map(|n| n.replace('_', "-")) == Some(name.replace('_', "-"))
            })
            .ok_or_else(|| {
                refused(
                    "InvalidArgument",
                    format!(
                        "unknown option --{name}: posctl {shown} takes {}",
                        if names.is_empty() {
                            "no options".to_string()
                        } else {
                            names
                                .iter()
                                .map(|n| format!("--{n}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                )
            })?;
        let key = param["name"].as_str().unwrap_or_default().to_string();
        let kind = param["type"].as_str().unwrap_or_default();
        let value = match (inline, kind) {
            (Some(value), _) => value,
            (None, "boolean") => "true".to_string(),
            (None, _) => rest.next().cloned().ok_or_else(|| {
                refused("InvalidArgument", format!("--{key} needs a value ({kind})"))
            })?,
        };
        if kind == "output_file" {
            output_file = Some(std::path::PathBuf::from(&value));
            continue;
        }
        let typed = typed_arg(&key, kind, &value)?;
        if args.insert(key.clone(), typed).is_some() {
            return Err(refused("InvalidArgument", format!("--{key} given twice")));
        }
    }
    if let Some(file) = params
        .iter()
        .find(|p| p["type"] == "output_file" && p["required"] == true)
        && output_file.is_none()
    {
        return Err(refused(
            "InvalidArgument",
            format!(
                "posctl {shown} needs --{} FILE: the file it writes",
                file["name"].as_str().unwrap_or_default()
            ),
        ));
    }
    Ok(AdminCall {
        plugin: action["plugin"].as_str().unwrap_or_default().to_string(),
        action: action["id"].as_str().unwrap_or_default().to_string(),
        args,
        output_file,
    })
}

/// An admin action's argument `value` for the param `key` of type `kind`, as the host takes
/// it: integers as numbers, booleans as booleans, everything else as text.
fn typed_arg(key: &str, kind: &str, value: &str) -> Result<Value, Failure> {
    let bad = |what: &str| {
        refused(
            "InvalidArgument",
            format!("--{key} must be {what}, not {value:?}"),
        )
    };
    Ok(match kind {
        "integer" => Value::from(value.trim().parse::<i64>().map_err(|_| bad("an integer"))?),
        "boolean" => match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("true or false")),
        },
        _ => Value::String(value.to_string()),
    })
}

/// Creates `path` for an action's output: new (never overwriting what is there), mode 0600
/// from the start, so secret codes are readable by the technician alone.
fn create_output_file(path: &std::path::Path) -> Result<std::fs::File, Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            let name = if e.kind() == std::io::ErrorKind::AlreadyExists {
                "Conflict"
            } else {
                "InvalidArgument"
            };
            refused(
                name,
                format!(
                    "cannot create {} ({e}); posctl never overwrites an output file",
                    path.display()
                ),
            )
        })
}

/// `posctl <command path> --name value …`: runs a plugin's admin action. The output file is
/// created before the action runs, so a file that cannot be written costs nothing; the
/// action's `output` goes there (or, without one, to stdout and its `text` to stderr), and
/// never through posd's disk.
async fn admin_action(
    conn: &zbus::Connection,
    words: &[String],
    as_json: bool,
) -> Result<(), Failure> {
    let as_json = as_json || words.iter().any(|w| w == "--json");
    let actions = fetch_admin_actions(conn).await?;
    if words.iter().any(|w| w == "--help" || w == "-h") {
        let without: Vec<String> = words
            .iter()
            .filter(|w| !w.starts_with('-'))
            .cloned()
            .collect();
        return admin_action_help(&without, &actions, as_json);
    }
    let call = resolve_admin_call(words, &actions)?;
    let mut file = match &call.output_file {
        Some(path) => Some(create_output_file(path)?),
        None => None,
    };
    let args: std::collections::HashMap<String, zbus::Variant<'static>> = call
        .args
        .iter()
        .map(|(k, v)| {
            let variant = match v {
                Value::Bool(b) => zbus::Variant::from(*b),
                Value::Number(n) => zbus::Variant::from(n.as_i64().unwrap_or_default()),
                other => zbus::Variant::from(other.as_str().unwrap_or_default().to_string()),
            };
            (k.clone(), variant)
        })
        .collect();
    let answer: Result<std::collections::HashMap<String, zbus::OwnedVariant>, zbus::Error> =
        manager_proxy(conn)
            .await?
            .call("InvokeAdminAction", &(&call.plugin, &call.action, args))
            .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            if let (Some(path), Some(_)) = (&call.output_file, file.take()) {
                let _ = std::fs::remove_file(path);
            }
            return Err(e.into());
        }
    };
    let answer = record_json(&answer);
    let text = answer
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let output = answer
        .get("output")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut shown = json!({
        "plugin": call.plugin,
        "action": call.action,
        "result": answer.get("result").cloned().unwrap_or_else(|| json!({})),
        "text": text,
    });
    // The ledger entry of what the action committed (plugin ABI 1.2), if it committed any.
    if let Some(reference) = answer
        .get("reference")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        shown["reference"] = json!(reference);
    }
    if let (Some(file), Some(path)) = (file.as_mut(), &call.output_file) {
        use std::io::Write as _;
        file.write_all(output.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| {
                refused(
                    "Internal",
                    format!(
                        "the action ran but writing {} failed: {e}; its output is lost",
                        path.display()
                    ),
                )
            })?;
        shown["output_file"] = json!(path.display().to_string());
        if as_json {
            out!("{shown}");
        } else {
            out!("{text}");
            note!("posctl: output written to {}", path.display());
        }
    } else if as_json {
        shown["output"] = json!(output);
        out!("{shown}");
    } else if output.is_empty() {
        out!("{text}");
    } else {
        note!("{text}");
        out_raw!("{output}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actions() -> Vec<Value> {
        vec![
            json!({"plugin": "p", "id": "issue", "command": ["voucher", "issue"],
            "params": [
                {"name": "count", "type": "integer", "required": true},
                {"name": "amount", "type": "decimal", "required": true},
                {"name": "dry_run", "type": "boolean", "required": false},
                {"name": "out", "type": "output_file", "required": false},
            ]}),
            json!({"plugin": "q", "id": "lookup", "command": ["voucher"], "params": [
                       {"name": "code", "type": "code", "required": true}]}),
        ]
    }

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    fn message(failure: Failure) -> (String, String) {
        match failure {
            Failure::Reply { name, message } => (name, message),
            Failure::Transport(m) => ("transport".into(), m),
        }
    }

    #[test]
    fn the_longest_command_path_wins_and_options_are_typed() {
        let call = resolve_admin_call(
            &words("voucher issue --count 10 --amount=25.00 --dry-run --out c.txt --json"),
            &actions(),
        )
        .unwrap_or_else(|f| panic!("{:?}", message(f)));
        assert_eq!((call.plugin.as_str(), call.action.as_str()), ("p", "issue"));
        assert_eq!(
            Value::Object(call.args),
            json!({"count": 10, "amount": "25.00", "dry_run": true})
        );
        assert_eq!(call.output_file, Some("c.txt".into()));
        let call = resolve_admin_call(&words("voucher --code AB"), &actions())
            .unwrap_or_else(|f| panic!("{:?}", message(f)));
        assert_eq!(call.action, "lookup");
        // Two plugins with one path: the first listed runs.
        let mut twice = actions();
        twice.push(json!({"plugin": "r", "id": "other", "command": ["voucher", "issue"]}));
        let call = resolve_admin_call(&words("voucher issue --count 1 --amount 1"), &twice)
            .unwrap_or_else(|f| panic!("{:?}", message(f)));
        assert_eq!(call.plugin, "p");
    }

    #[test]
    fn unknown_commands_and_bad_options_are_named() {
        let (name, text) =
            message(resolve_admin_call(&words("coupon issue"), &actions()).expect_err("none"));
        assert_eq!(name, "org.posd.Error.NotFound");
        assert!(text.contains("\"coupon issue\""), "{text}");
        for (line, part) in [
            ("voucher issue --colour red", "unknown option --colour"),
            ("voucher issue --count ten", "--count must be an integer"),
            ("voucher issue --count", "--count needs a value"),
            ("voucher issue --count 1 --count 2", "given twice"),
            ("voucher issue stray", "not \"stray\""),
        ] {
            let (name, text) =
                message(resolve_admin_call(&words(line), &actions()).expect_err(line));
            assert_eq!(name, "org.posd.Error.InvalidArgument", "{line}");
            assert!(text.contains(part), "{line}: {text}");
        }
    }

    #[test]
    fn an_output_file_is_new_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("codes.txt");
        create_output_file(&path).expect("created");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&path, "keep").expect("write");
        let (name, _) = message(create_output_file(&path).expect_err("exists"));
        assert_eq!(name, "org.posd.Error.Conflict");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "keep");
    }
}
