//! The tests of `plugins.rs` again, with every plugin inside the daemon
//! (`isolation = "in-process"`, see `support::isolation`): both modes keep one contract.

#[path = "plugins.rs"]
mod tests;
