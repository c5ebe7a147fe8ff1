//! `posctl`: the technicians' command line for a running posd.
//!
//! Talks to the daemon over D-Bus like any frontend, so what it shows is what frontends see.
//! Every command takes `--json` for scripts. A failed call prints the D-Bus error name and
//! message and exits non-zero.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use posd::bus::{self, BusChoice};
use posd::client::{MANAGER_PROPERTIES, Manager1Proxy, error_reply};
use serde_json::{Value, json};

/// Inspect and control a running posd.
#[derive(Debug, Parser)]
#[command(name = "posctl", version)]
struct Cli {
    /// Talk to posd on the session bus instead of the system bus.
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
}

/// Why a command failed.
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
            eprintln!("posctl: cannot start the async runtime: {e}");
            return ExitCode::from(71);
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Reply { name, message }) => {
            if cli.json {
                println!("{}", json!({ "error": name, "message": message }));
            } else {
                eprintln!("posctl: {name}: {message}");
            }
            ExitCode::from(1)
        }
        Err(Failure::Transport(message)) => {
            if cli.json {
                println!("{}", json!({ "error": "transport", "message": message }));
            } else {
                eprintln!("posctl: cannot reach posd: {message}");
            }
            ExitCode::from(2)
        }
    }
}

async fn run(cli: &Cli) -> Result<(), Failure> {
    let choice = match (&cli.bus_address, cli.session) {
        (Some(address), _) => BusChoice::Address(address.clone()),
        (None, true) => BusChoice::Session,
        (None, false) => BusChoice::System,
    };
    let conn = bus::connect(&choice).await?;
    match cli.command {
        Command::Status => status(&conn, cli.json).await,
        Command::ReloadConfig => {
            Manager1Proxy::new(&conn).await?.reload_config().await?;
            if cli.json {
                println!("{}", json!({ "reloaded": true }));
            } else {
                println!("configuration reloaded");
            }
            Ok(())
        }
    }
}

async fn status(conn: &zbus::Connection, as_json: bool) -> Result<(), Failure> {
    let properties = zbus::fdo::PropertiesProxy::builder(conn)
        .destination(bus::BUS_NAME)
        .path(bus::ROOT_PATH)
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
        println!("{}", Value::Object(values.into_iter().collect()));
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
            println!("{name:<12} {text}");
        }
    }
    Ok(())
}

fn variant_to_json(value: &zbus::OwnedVariant) -> Value {
    if let Ok(s) = String::try_from(value.clone()) {
        return Value::String(s);
    }
    if let Ok(b) = bool::try_from(value.clone()) {
        return Value::Bool(b);
    }
    if let Ok(n) = u32::try_from(value.clone()) {
        return json!(n);
    }
    Value::String(format!("{:?}", &**value))
}
