//! The tests of `promotions_plugin.rs` again, with every plugin inside the daemon
//! (`isolation = "in-process"`, see `support::isolation`): both modes keep one contract.

#[path = "promotions_plugin.rs"]
mod tests;
