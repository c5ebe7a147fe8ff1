//! posd — the point-of-sale host daemon.
//!
//! posd owns a till's open sales, money ledger and receipt journal, drives its scanners and
//! receipt printers, loads loyalty plugins, and serves all of it to local frontends over D-Bus
//! (`org.posd.Posd1`, see `host/interfaces/`). This crate is the daemon; the contract's client
//! side (`posd-client`), device drivers and the plugin ABI live in crates of their own.
//!
//! Reading order:
//! - [`config`]: the layered, validated configuration.
//! - [`store`]: the SQLite state database, its migrations and backups.
//! - [`sale`]: the sale model and receipt rendering.
//! - [`service`]: the daemon's shared state and life cycle, free of D-Bus.
//! - [`bus`]: the thin D-Bus layer: connection, name, the contract's objects and errors.
//! - [`daemon`]: start-up, the main loop, reload and shutdown.
//! - [`devices`]: scanner and printer supervisors (drivers in `drivers/`).
//! - [`devmode`]: the virtual receipt printer of development mode.
//! - [`fault`]: named crash points for crash tests.
//! - [`clock`]: business time, which tests may shift (`POSDTEST_CLOCK`).
//! - [`customers`]: customers' groups, from the back office's export.
//! - [`ledger`]: double-entry accounts of vouchers, wallets, points; append-only.
//! - [`money`]: decimal parsing, explicit rounding, discount spreading, the VAT table.
//! - [`plugins`]: the plugin manager: loading, calling with deadlines, host services.
//! - [`notify`]: the systemd notification protocol.
//! - [`outbox`]: partner messages, delivered by plugins with retries across restarts.
//! - [`paths`]: where state lives.
//! - [`print_queue`]: the durable queue of print jobs.
//! - [`inspect`]: `posd inspect`, read-only views of a state database for posctl.

pub mod bus;
pub mod clock;
pub mod config;
pub mod customers;
pub mod daemon;
pub mod devices;
pub mod devmode;
pub mod fault;
pub mod inspect;
pub mod ledger;
pub mod money;
pub mod notify;
pub mod outbox;
pub mod paths;
pub mod plugins;
pub mod print_queue;
pub mod sale;
pub mod service;
pub mod store;
