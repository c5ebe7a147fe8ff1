//! The tests of `vouchers_plugin.rs` again, with every plugin inside the daemon
//! (`isolation = "in-process"`, see `support::isolation`): both modes keep one contract.

#[path = "vouchers_plugin.rs"]
mod tests;
