//! The tests of `voucher_admin.rs` again, with every plugin inside the daemon
//! (`isolation = "in-process"`, see `support::isolation`): both modes keep one contract.

#[path = "voucher_admin.rs"]
mod tests;
