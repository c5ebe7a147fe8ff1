//! `posd`: the daemon's command line. Parses options, loads the configuration, sets up
//! logging, then hands over to [`posd::daemon::run`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use posd::bus::BusChoice;
use posd::bus::private::{PrivateBus, RecordedAddress};
use posd::config::{self, ConfigSources};
use posd::daemon::{self, EXIT_CONFIG, Options, SetLogFilter};
use posd::devmode::VirtualReceiptPrinter;
use posd::{paths, store};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

/// Point-of-sale host daemon: sales, ledger, receipt journal, devices and plugins on D-Bus.
#[derive(Debug, Parser)]
#[command(
    name = "posd",
    version,
    after_help = "`posd inspect --help`: read-only views of a state database as JSON, which \
                  posctl reads the books and the outbox with."
)]
struct Cli {
    /// Development mode: serve on the session bus instead of the system bus. Without a
    /// session bus, posd starts a private bus of its own, prints how to reach it and records
    /// its address where `posctl --session` finds it. Plugins install into the state
    /// directory's `plugins/` unless the configuration names plugin directories.
    #[arg(long, conflicts_with = "bus_address")]
    session: bool,
    /// Serve on the bus at this D-Bus address (e.g. `unix:path=/run/posd-test/bus`).
    #[arg(long, value_name = "ADDRESS")]
    bus_address: Option<String>,
    /// Directory of the state database [default: $STATE_DIRECTORY, else the XDG state
    /// directory, else /var/lib/posd].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Configuration directory holding posd.toml and posd.d/ [default:
    /// $CONFIGURATION_DIRECTORY, else /etc/posd].
    #[arg(long, value_name = "DIR")]
    config_dir: Option<PathBuf>,
    /// A configuration file applied after all others.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate the configuration, print the effective one and exit (0 valid, 78 invalid).
    #[arg(long)]
    check_config: bool,
    /// Write a consistent copy of the state database to FILE (safe while posd runs) and exit.
    #[arg(long, value_name = "FILE", conflicts_with = "check_config")]
    backup: Option<PathBuf>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn main() -> ExitCode {
    // The daemon starts each isolated plugin as `posd plugin-host` (not for people).
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == posd::plugins::child::PLUGIN_HOST_ARG)
    {
        return ExitCode::from(u8::try_from(posd::plugins::child::run()).unwrap_or(1));
    }
    // posctl reads a state database as `posd inspect VIEW --database FILE`: no
    // configuration, no logging, no state lock, just the view (see posd::inspect).
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == posd::inspect::INSPECT_ARG)
    {
        return exit(posd::inspect::run(std::env::args_os().skip(2)));
    }
    let cli = Cli::parse();
    let sources = ConfigSources {
        config_dir: Some(paths::config_dir(cli.config_dir.clone(), env)),
        environment: std::env::vars().collect(),
        explicit_file: cli.config.clone(),
    };
    let loaded = match config::load(&sources) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("posd: invalid configuration: {e}");
            eprintln!("posd: refusing to start; see systemd/posd.toml.example for every key");
            return exit(EXIT_CONFIG);
        }
    };
    if cli.check_config {
        println!(
            "# posd {} — configuration is valid",
            env!("CARGO_PKG_VERSION")
        );
        println!(
            "# sources, later ones winning: {}",
            loaded.sources.join(" → ")
        );
        print!("{}", config::to_toml(&loaded.config));
        return ExitCode::SUCCESS;
    }
    let set_log_filter = init_logging(&loaded.config.log.level);
    let state_dir = paths::state_dir(cli.state_dir.clone(), env);

    if let Some(target) = &cli.backup {
        let source = state_dir.join(store::DATABASE_FILE);
        return match store::backup(&source, target) {
            Ok(report) => {
                println!(
                    "posd: backed up {} to {} (schema version {}, {} pages, integrity ok)",
                    source.display(),
                    target.display(),
                    report.schema_version,
                    report.pages
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("posd: {e}");
                exit(daemon::EXIT_IOERR)
            }
        };
    }

    // One daemon per state directory, decided before a development daemon starts a bus of
    // its own or records its address where posctl looks.
    let state_lock = match daemon::lock_state(&state_dir) {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("posd: {e}");
            return exit(e.exit_code());
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("posd")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("posd: cannot start the async runtime: {e}");
            return exit(71);
        }
    };
    // Kept alive until the daemon has stopped; dropping them stops the bus and removes its
    // recorded address.
    let mut private_bus = None;
    let mut recorded_address = None;
    let bus = if let Some(address) = cli.bus_address.clone() {
        BusChoice::Address(address)
    } else if cli.session {
        if session_bus_exists() {
            BusChoice::Session
        } else {
            match start_private_bus() {
                Ok(bus) => {
                    let address = bus.address().to_string();
                    recorded_address = Some(record_address(&address, &state_dir));
                    private_bus = Some(bus);
                    BusChoice::Address(address)
                }
                Err(e) => {
                    eprintln!("posd: no session bus, and a private one could not be started: {e}");
                    return exit(daemon::EXIT_UNAVAILABLE);
                }
            }
        }
    } else {
        BusChoice::System
    };

    // Development mode without a printer: print to a virtual printer in the state directory.
    let mut virtual_printer = None;
    if cli.session && !loaded.config.has_printer() {
        let database = state_dir.join(posd::store::DATABASE_FILE);
        match VirtualReceiptPrinter::start(&state_dir.join("virtual-printer"), &database) {
            Ok(printer) => {
                eprintln!(
                    "posd: no printer configured, so receipts go to a virtual printer at {}:",
                    printer.address()
                );
                eprintln!("posd: text and PNG of each in {}", printer.dir().display());
                virtual_printer = Some(printer);
            }
            Err(e) => eprintln!("posd: no virtual printer: {e}"),
        }
    }
    let options = Options {
        bus,
        state_dir,
        config_sources: sources,
        config: loaded.config,
        set_log_filter,
        fallback_devices: virtual_printer.iter().map(|p| p.device()).collect(),
        development: cli.session,
    };
    let result = runtime.block_on(daemon::run(options));
    drop(virtual_printer);
    drop(recorded_address);
    if let Some(bus) = private_bus {
        let dir = bus.dir().to_path_buf();
        drop(bus);
        let _ = std::fs::remove_dir_all(dir);
    }
    // Released last: the database is closed by now.
    drop(state_lock);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("posd: {e}");
            exit(e.exit_code())
        }
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn session_bus_exists() -> bool {
    if env("DBUS_SESSION_BUS_ADDRESS").is_some() {
        return true;
    }
    env("XDG_RUNTIME_DIR").is_some_and(|dir| PathBuf::from(dir).join("bus").exists())
}

fn start_private_bus() -> std::io::Result<PrivateBus> {
    let dir = std::env::temp_dir().join(format!("posd-bus-{}", std::process::id()));
    let bus = PrivateBus::start(&dir)?;
    eprintln!("posd: there is no session bus here, so posd started a private bus.");
    eprintln!("posd: reach it with:  posctl --session status");
    eprintln!(
        "posd:            or:  posctl --bus-address '{}' status",
        bus.address()
    );
    eprintln!(
        "posd:            or:  export DBUS_SESSION_BUS_ADDRESS='{}'",
        bus.address()
    );
    Ok(bus)
}

/// Writes the private bus's address where `posctl --session` looks for it. A place that
/// can't be written is reported and skipped: the address is printed as well.
fn record_address(address: &str, state_dir: &std::path::Path) -> RecordedAddress {
    let files = paths::bus_address_files(state_dir, env);
    let (record, failures) = RecordedAddress::write(address, &files);
    for failure in failures {
        eprintln!("posd: cannot record the bus address for posctl: {failure}");
    }
    record
}

/// Logs to stderr (the journal under systemd). `RUST_LOG` wins over `log.level`; otherwise
/// the returned handle lets a reload change the level.
fn init_logging(level: &str) -> Option<SetLogFilter> {
    let from_env = env("RUST_LOG").and_then(|f| EnvFilter::try_new(f).ok());
    let pinned = from_env.is_some();
    let filter = from_env
        .or_else(|| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    // The journal stamps every line itself.
    let under_journal = env("JOURNAL_STREAM").is_some();
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(true);
    let registry = tracing_subscriber::registry().with(filter);
    if under_journal {
        registry.with(fmt.without_time()).init();
    } else {
        registry.with(fmt).init();
    }
    if pinned {
        return None;
    }
    Some(Box::new(move |level: &str| {
        let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
        handle.reload(filter).map_err(|e| e.to_string())
    }))
}
