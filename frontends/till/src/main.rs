//! `posd-till`: the reference cashier frontend of posd, and its customer display, in the
//! terminal. It speaks only the D-Bus contract (through `posd-client`), so it is what a
//! frontend developer copies from.
//!
//! Reading order:
//! - [`app`]: the cashier screen's state and keys, plain Rust;
//! - [`link`]: the one connection to posd, requests in order, the sale followed by signals;
//! - [`watch`]: the signals followed (sale, scanners, printers, new sales);
//! - [`view`]: sales and receipts as plain structs;
//! - [`ui`]: drawing, cashier screen and customer display;
//! - [`catalogue`]: the products, from a file the till reads;
//! - [`state`]: what survives the till's restart (the sale, unconfirmed idempotency keys);
//! - [`i18n`]: German, Czech and English.

mod app;
mod catalogue;
mod i18n;
mod link;
mod state;
mod ui;
mod view;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use posd_client::BusChoice;
use tokio::sync::mpsc;

/// The cashier screen (default) or the customer display of posd.
#[derive(Debug, Parser)]
#[command(name = "posd-till", version)]
struct Cli {
    /// Talk to posd on the session bus (falling back to a development posd's private bus)
    /// instead of the system bus.
    #[arg(long, conflicts_with = "bus_address")]
    session: bool,
    /// Talk to posd on the bus at this D-Bus address.
    #[arg(long, value_name = "ADDRESS")]
    bus_address: Option<String>,
    /// The product catalogue (TOML); default $POSD_TILL_CATALOGUE, else
    /// /etc/posd/catalogue.toml if it exists, else the built-in demo catalogue.
    #[arg(long, value_name = "FILE")]
    catalogue: Option<PathBuf>,
    /// The cashier's language: de, cs or en [default: the store's locale].
    #[arg(long, value_name = "LANG")]
    lang: Option<String>,
    /// The cashier's name, recorded on each sale.
    #[arg(long, value_name = "NAME", default_value = "")]
    cashier: String,
    /// Where the till keeps its open sale and unconfirmed keys [default:
    /// $XDG_STATE_HOME/posd-till or ~/.local/state/posd-till].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Customer display of this sale (read-only).
    #[arg(long, value_name = "SALE", conflicts_with = "follow")]
    display: Option<String>,
    /// Customer display of whichever sale is rung up on this register (read-only).
    #[arg(long)]
    follow: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = match cli.lang.as_deref().map(i18n::Lang::parse) {
        None => None,
        Some(Some(l)) => Some(l),
        Some(None) => {
            eprintln!("posd-till: --lang takes de, cs or en");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("posd-till: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, lang)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("posd-till: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why the till could not start or went down; each says what to do.
#[derive(Debug, thiserror::Error)]
enum TillError {
    /// The catalogue file is wrong.
    #[error(transparent)]
    Catalogue(#[from] catalogue::CatalogueError),
    /// The state directory can't be used.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// The terminal can't be driven.
    #[error("the terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

fn load_catalogue(cli: &Cli) -> Result<(catalogue::Catalogue, bool), TillError> {
    let given = cli
        .catalogue
        .clone()
        .or_else(|| posd_client::connect::env_var("POSD_TILL_CATALOGUE").map(PathBuf::from));
    if let Some(path) = given {
        return Ok((catalogue::Catalogue::load(&path)?, false));
    }
    let system = PathBuf::from("/etc/posd/catalogue.toml");
    if system.exists() {
        return Ok((catalogue::Catalogue::load(&system)?, false));
    }
    Ok((catalogue::Catalogue::demo(), true))
}

async fn run(cli: Cli, lang: Option<i18n::Lang>) -> Result<(), TillError> {
    let choice = match (&cli.bus_address, cli.session) {
        (Some(a), _) => BusChoice::Address(a.clone()),
        (None, true) => BusChoice::Session,
        (None, false) => BusChoice::System,
    };
    let start_lang = lang.unwrap_or_else(|| {
        i18n::Lang::from_locale(&posd_client::connect::env_var("LANG").unwrap_or_default())
    });
    if cli.display.is_some() || cli.follow {
        let mut terminal = Screen::enter()?;
        let result = display(
            &mut terminal,
            choice,
            start_lang,
            lang.is_some(),
            cli.display,
        )
        .await;
        drop(terminal);
        return result;
    }
    let (catalogue, demo) = load_catalogue(&cli)?;
    let dir = cli
        .state_dir
        .clone()
        .unwrap_or_else(|| state::default_dir(posd_client::connect::env_var));
    let store = state::Store::open(&dir)?;
    let mut app = app::App::new(start_lang, lang.is_some(), catalogue, cli.cashier.clone());
    if demo {
        app.demo_catalogue = true;
    }
    if app.catalogue.is_empty() {
        let text = i18n::tr(
            app.lang,
            "The catalogue has no products: every code goes to posd",
        );
        app.message = Some((app::Tone::Warning, text.to_string()));
    }
    let mut terminal = Screen::enter()?;
    let conn = connect_showing(&mut terminal, &choice, &mut app).await?;
    let (requests, requests_rx) = mpsc::unbounded_channel();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    tokio::spawn(
        link::Link::new(conn.clone(), store, cli.cashier.clone(), events_tx).run(requests_rx),
    );
    let mut keys = EventStream::new();
    let mut lost = Box::pin(lost(conn));
    loop {
        terminal.draw(|f| ui::draw(f, &app))?;
        let sent = tokio::select! {
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => app.key(k),
                Some(Ok(_)) => Vec::new(),
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            event = events.recv() => match event {
                Some(e) => app.event(e),
                None => break,
            },
            () = &mut lost => {
                let text = i18n::tr(app.lang, "Connection to posd lost").to_string();
                app.message = Some((app::Tone::Error, text));
                terminal.draw(|f| ui::draw(f, &app))?;
                tokio::time::sleep(Duration::from_secs(2)).await;
                break;
            }
        };
        for r in sent {
            let _ = requests.send(r);
        }
        if app.quit {
            break;
        }
    }
    Ok(())
}

/// Resolves when posd leaves the bus (its name loses its owner).
async fn lost(conn: zbus::Connection) {
    let Ok(dbus) = zbus::fdo::DBusProxy::new(&conn).await else {
        return std::future::pending().await;
    };
    let Ok(mut changes) = dbus.receive_name_owner_changed().await else {
        return std::future::pending().await;
    };
    while let Some(signal) = changes.next().await {
        if let Ok(args) = signal.args()
            && args.name().as_str() == posd_client::BUS_NAME
            && args.new_owner().is_none()
        {
            return;
        }
    }
    std::future::pending().await
}

/// Connects, showing "No connection to posd" and trying again each second until posd
/// answers (a till is started with the machine and may come up before the daemon); Ctrl-C
/// gives up.
async fn connect_showing(
    terminal: &mut Screen,
    choice: &BusChoice,
    app: &mut app::App,
) -> Result<zbus::Connection, TillError> {
    let mut keys = EventStream::new();
    loop {
        match posd_client::connect_to_posd(choice).await {
            Ok((conn, _note)) if posd_client::connect::posd_is_on(&conn).await => return Ok(conn),
            Ok(_) => {
                app.message = Some((
                    app::Tone::Error,
                    format!("{} ({choice})", i18n::tr(app.lang, "No connection to posd")),
                ));
            }
            Err(e) => {
                app.message = Some((
                    app::Tone::Error,
                    format!(
                        "{} ({choice}: {e})",
                        i18n::tr(app.lang, "No connection to posd")
                    ),
                ));
            }
        }
        terminal.draw(|f| ui::draw(f, app))?;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            Some(Ok(TermEvent::Key(k))) = keys.next() => {
                app.key(k);
                if app.quit {
                    return Err(TillError::Terminal(std::io::Error::other("no connection to posd")));
                }
            }
        }
    }
}

/// The customer display: follows one sale (`--display SALE`) or each new sale of the
/// register (`--follow`), by signals only; keys other than Ctrl-C do nothing.
async fn display(
    terminal: &mut Screen,
    choice: BusChoice,
    mut lang: i18n::Lang,
    lang_fixed: bool,
    only: Option<String>,
) -> Result<(), TillError> {
    let mut app = app::App::new(
        lang,
        lang_fixed,
        catalogue::Catalogue::demo(),
        String::new(),
    );
    let conn = connect_showing(terminal, &choice, &mut app).await?;
    let manager = posd_client::Manager1Proxy::new(&conn).await.ok();
    let mut currency = String::new();
    if let Some(m) = &manager {
        currency = m.currency().await.unwrap_or_default();
        if !lang_fixed {
            lang = i18n::Lang::from_locale(&m.locale().await.unwrap_or_default());
        }
    }
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (found_tx, mut found) = mpsc::unbounded_channel();
    match &only {
        Some(id) => {
            let _ = found_tx.send(id.clone());
        }
        None => {
            let _ = watch::new_sales(&conn, found_tx.clone()).await;
        }
    }
    let mut watcher: Option<tokio::task::JoinHandle<()>> = None;
    let mut sale: Option<view::SaleView> = None;
    let mut keys = EventStream::new();
    loop {
        terminal.draw(|f| ui::draw_display(f, lang, &currency, sale.as_ref()))?;
        tokio::select! {
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(k)))
                    if k.modifiers.contains(crossterm::event::KeyModifiers::CONTROL)
                        && matches!(k.code, crossterm::event::KeyCode::Char('c') | crossterm::event::KeyCode::Char('q')) => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(id) = found.recv() => {
                let Some(m) = &manager else { continue };
                if let Ok(path) = m.get_sale(&id).await {
                    if let Some(w) = watcher.take() {
                        w.abort();
                    }
                    watcher = Some(watch::sale(conn.clone(), path, events_tx.clone()));
                }
            }
            Some(event) = events.recv() => {
                if let link::Event::Sale(Some(view)) = event {
                    sale = Some(view);
                }
            }
        }
    }
    Ok(())
}

/// The terminal in raw mode on the alternate screen, given back as it was on drop, on
/// errors and on panics.
struct Screen {
    terminal: ratatui::DefaultTerminal,
}

impl Screen {
    fn enter() -> std::io::Result<Screen> {
        let terminal = ratatui::try_init()?;
        Ok(Screen { terminal })
    }

    fn draw(&mut self, f: impl FnOnce(&mut ratatui::Frame<'_>)) -> std::io::Result<()> {
        self.terminal.draw(f).map(|_| ())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        ratatui::restore();
    }
}
