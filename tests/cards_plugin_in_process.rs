//! The tests of `cards_plugin.rs` again, with every plugin inside the daemon
//! (`isolation = "in-process"`, see `support::isolation`): both modes keep one contract.

#[path = "cards_plugin.rs"]
mod tests;
