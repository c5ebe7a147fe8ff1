//! Sales: the model, the rules that turn lines into totals and a VAT table, and the
//! rendering of a committed receipt for the printer.
//!
//! - [`model`]: sale, line, tender, receipt as data.
//! - [`engine`]: what may change and how totals and the VAT table follow.
//! - [`book`]: the open sales, in memory and in the database, and what plugins do to them.
//! - [`time`]: RFC 3339 timestamps.
//! - [`receipt`]: a receipt rendered as a printer document, in the configured locale.
//! - [`reversal`]: the money of a void: lines, tenders and VAT that reverse a receipt.
//! - [`booking`]: the host's ledger postings of a receipt and the checks that the journal
//!   and the ledger agree.
//! - [`day`]: the till's day and its X and Z report, as data and rules.
//! - [`register`]: opening the day, cash in and out, X and Z on the journal.
//! - [`line_cache`]: what a line encodes to, kept between basket changes.
//! - [`view`]: the sale and receipts as a plugin sees them, written straight from these
//!   structs for one plugin (its own `data` only).
//! - [`admin`]: the effects of a plugin's admin action, committed like a checkout's but
//!   without a receipt.

pub mod admin;
pub mod book;
pub mod booking;
pub mod checkout;
pub mod day;
pub mod engine;
pub mod line_cache;
pub mod model;
pub mod receipt;
pub mod register;
pub mod repricing;
pub mod reversal;
pub mod time;
pub mod view;
