//! The tests of `admin_actions.rs` again, with every plugin inside the daemon
//! (`isolation = "in-process"`, see `support::isolation`): both modes keep one contract.

#[path = "admin_actions.rs"]
mod tests;
