//! The tests of `voucher_returns.rs` again, with every plugin inside the daemon
//! (`isolation = "in-process"`, see `support::isolation`): both modes keep one contract.

#[path = "voucher_returns.rs"]
mod tests;
