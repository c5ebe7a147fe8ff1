//! Typed proxies of every interface of the contract (`docs/dbus-api.md`), so posctl, the till
//! and the tests call the daemon the way any frontend does.

use crate::ROOT_PATH;

/// `org.posd.Manager1` on `/org/posd/Posd1`.
#[zbus::proxy(
    interface = "org.posd.Manager1",
    default_service = "org.posd.Posd1",
    default_path = "/org/posd/Posd1"
)]
pub trait Manager1 {
    /// Daemon version.
    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;
    /// Plugin ABI version.
    #[zbus(property)]
    fn abi_version(&self) -> zbus::Result<String>;
    /// Store id.
    #[zbus(property)]
    fn store_id(&self) -> zbus::Result<String>;
    /// Register id.
    #[zbus(property)]
    fn register_id(&self) -> zbus::Result<String>;
    /// ISO 4217 currency.
    #[zbus(property)]
    fn currency(&self) -> zbus::Result<String>;
    /// BCP 47 locale.
    #[zbus(property)]
    fn locale(&self) -> zbus::Result<String>;
    /// Life-cycle state.
    #[zbus(property)]
    fn state(&self) -> zbus::Result<String>;
    /// Absolute path of the daemon's state database.
    #[zbus(property)]
    fn database_path(&self) -> zbus::Result<String>;
    /// Re-read the configuration (admin).
    fn reload_config(&self) -> zbus::Result<()>;
    /// What a code is.
    fn lookup_code(
        &self,
        code: &str,
    ) -> zbus::Result<std::collections::HashMap<String, zbus::OwnedVariant>>;
    /// Install a plugin file (admin).
    fn install_plugin(&self, path: &str) -> zbus::Result<String>;
    /// Delete an installed plugin (admin).
    fn remove_plugin(&self, id: &str) -> zbus::Result<()>;
    /// Switch a plugin on or off (admin).
    fn set_plugin_enabled(&self, id: &str, enabled: bool) -> zbus::Result<()>;
    /// Reload plugin files (admin).
    fn reload_plugins(&self) -> zbus::Result<()>;
    /// Make a dead (or pending) outbox message due now (admin).
    fn retry_outbox_message(&self, message_id: &str) -> zbus::Result<()>;
    /// Give up on a dead (or pending) outbox message for good (admin).
    fn discard_outbox_message(&self, message_id: &str) -> zbus::Result<()>;
    /// Open a sale.
    fn open_sale(
        &self,
        options: std::collections::HashMap<&str, zbus::Variant<'_>>,
    ) -> zbus::Result<zbus::OwnedObjectPath>;
    /// What posd and its plugins know of a customer: `accounts`, `groups`.
    fn customer(
        &self,
        customer_id: &str,
    ) -> zbus::Result<std::collections::HashMap<String, zbus::OwnedVariant>>;
    /// A committed receipt.
    fn get_receipt(
        &self,
        receipt_id: &str,
    ) -> zbus::Result<std::collections::HashMap<String, zbus::OwnedVariant>>;
    /// Print a receipt again.
    fn reprint(&self, receipt_id: &str) -> zbus::Result<String>;
    /// Storno of a receipt.
    fn void(&self, receipt_id: &str, idempotency_key: &str) -> zbus::Result<String>;
    /// Take lines back.
    fn r#return(
        &self,
        receipt_id: &str,
        lines: Vec<std::collections::HashMap<&str, zbus::Variant<'_>>>,
        idempotency_key: &str,
    ) -> zbus::Result<(String, Vec<String>)>;
    /// The object of an open sale by id.
    fn get_sale(&self, sale_id: &str) -> zbus::Result<zbus::OwnedObjectPath>;
    /// A sale was checked out.
    #[zbus(signal)]
    fn sale_completed(&self, receipt_id: String, sale: zbus::OwnedObjectPath) -> zbus::Result<()>;
}

/// `org.posd.Register1` on `/org/posd/Posd1`: the till's day.
#[zbus::proxy(
    interface = "org.posd.Register1",
    default_service = "org.posd.Posd1",
    default_path = "/org/posd/Posd1"
)]
pub trait Register1 {
    /// `open` or `closed`.
    #[zbus(property)]
    fn day_state(&self) -> zbus::Result<String>;
    /// The open day's id, "" while closed.
    #[zbus(property)]
    fn day_id(&self) -> zbus::Result<String>;
    /// When the open day was opened.
    #[zbus(property)]
    fn opened_at(&self) -> zbus::Result<String>;
    /// Cash the drawer should hold.
    #[zbus(property)]
    fn expected_cash(&self) -> zbus::Result<String>;
    /// Open the day with its counted float.
    fn open_day(&self, float: &str, idempotency_key: &str) -> zbus::Result<String>;
    /// Cash in (`in`) or out (`out`) with a reason.
    fn cash_movement(
        &self,
        kind: &str,
        amount: &str,
        reason: &str,
        details: std::collections::HashMap<&str, zbus::Variant<'_>>,
        idempotency_key: &str,
    ) -> zbus::Result<String>;
    /// The X report of the open day.
    fn report(&self) -> zbus::Result<std::collections::HashMap<String, zbus::OwnedVariant>>;
    /// Close the day with the counted cash: the Z report.
    fn close_day(&self, counted: &str, idempotency_key: &str) -> zbus::Result<String>;
    /// Closed days between two dates.
    fn list_days(
        &self,
        from: &str,
        to: &str,
    ) -> zbus::Result<Vec<std::collections::HashMap<String, zbus::OwnedVariant>>>;
}

/// `org.posd.Plugin1` on `/org/posd/Posd1/plugin/<id>`.
#[zbus::proxy(interface = "org.posd.Plugin1", default_service = "org.posd.Posd1")]
pub trait Plugin1 {
    /// Plugin id.
    #[zbus(property)]
    fn id(&self) -> zbus::Result<String>;
    /// Name.
    #[zbus(property)]
    fn name(&self) -> zbus::Result<String>;
    /// Version.
    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;
    /// ABI it was built against.
    #[zbus(property)]
    fn abi_version(&self) -> zbus::Result<String>;
    /// loaded, disabled or failed.
    #[zbus(property)]
    fn state(&self) -> zbus::Result<String>;
    /// Why it failed.
    #[zbus(property)]
    fn error(&self) -> zbus::Result<String>;
    /// Its file.
    #[zbus(property)]
    fn path(&self) -> zbus::Result<String>;
    /// Where it runs: "process", "in-process", or "" while it does not run.
    #[zbus(property)]
    fn isolation(&self) -> zbus::Result<String>;
    /// Its child process's pid; 0 while none runs.
    #[zbus(property)]
    fn pid(&self) -> zbus::Result<u32>;
    /// Crashes, kills and failed restarts of its process since it was loaded.
    #[zbus(property)]
    fn restarts(&self) -> zbus::Result<u32>;
    /// How its process ended the last time it crashed; "" if it never did.
    #[zbus(property)]
    fn last_crash(&self) -> zbus::Result<String>;
}

/// Object path of plugin `id`.
pub fn plugin_path(id: &str) -> String {
    let element: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{ROOT_PATH}/plugin/{element}")
}

/// The property names of `Manager1` in the contract's order, for listings.
pub const MANAGER_PROPERTIES: &[&str] = &[
    "Version",
    "AbiVersion",
    "StoreId",
    "RegisterId",
    "Currency",
    "Locale",
    "State",
    "DatabasePath",
];

/// `org.posd.Device1` on `/org/posd/Posd1/device/<name>`.
#[zbus::proxy(interface = "org.posd.Device1", default_service = "org.posd.Posd1")]
pub trait Device1 {
    /// Configured name.
    #[zbus(property)]
    fn name(&self) -> zbus::Result<String>;
    /// scanner or printer.
    #[zbus(property)]
    fn kind(&self) -> zbus::Result<String>;
    /// online, offline or error.
    #[zbus(property)]
    fn state(&self) -> zbus::Result<String>;
    /// How it is attached.
    #[zbus(property)]
    fn connection(&self) -> zbus::Result<String>;
    /// Why it is not online.
    #[zbus(property)]
    fn last_error(&self) -> zbus::Result<String>;
}

/// `org.posd.Scanner1`.
#[zbus::proxy(interface = "org.posd.Scanner1", default_service = "org.posd.Posd1")]
pub trait Scanner1 {
    /// Scans refused as misreads.
    #[zbus(property)]
    fn rejected_scans(&self) -> zbus::Result<u32>;
    /// A code was read.
    #[zbus(signal)]
    fn scanned(
        &self,
        code: String,
        symbology: String,
        kind: String,
        details: std::collections::HashMap<String, zbus::OwnedVariant>,
    ) -> zbus::Result<()>;
}

/// `org.posd.Printer1`.
#[zbus::proxy(interface = "org.posd.Printer1", default_service = "org.posd.Posd1")]
pub trait Printer1 {
    /// Paper nearly used up.
    #[zbus(property)]
    fn paper_near_end(&self) -> zbus::Result<bool>;
    /// No paper.
    #[zbus(property)]
    fn paper_out(&self) -> zbus::Result<bool>;
    /// Cover open.
    #[zbus(property)]
    fn cover_open(&self) -> zbus::Result<bool>;
    /// Jobs waiting.
    #[zbus(property)]
    fn queue_length(&self) -> zbus::Result<u32>;
    /// Characters per line.
    #[zbus(property)]
    fn columns(&self) -> zbus::Result<u32>;
    /// Print a receipt again.
    fn print(&self, receipt_id: &str) -> zbus::Result<String>;
    /// Queue the test page.
    fn print_test_page(&self) -> zbus::Result<String>;
    /// Open the cash drawer.
    fn open_drawer(&self) -> zbus::Result<()>;
    /// A job finished.
    #[zbus(signal)]
    fn job_done(&self, job_id: String, state: String) -> zbus::Result<()>;
}

/// Object path of device `name`.
pub fn device_path(name: &str) -> String {
    format!("{ROOT_PATH}/device/{name}")
}

/// `org.posd.Sale1` on `/org/posd/Posd1/sale/<id>`.
#[zbus::proxy(interface = "org.posd.Sale1", default_service = "org.posd.Posd1")]
pub trait Sale1 {
    /// The sale's id, the last element of its path.
    #[zbus(property)]
    fn id(&self) -> zbus::Result<String>;
    /// open, completed, cancelled.
    #[zbus(property)]
    fn state(&self) -> zbus::Result<String>;
    /// Customer id.
    #[zbus(property)]
    fn customer(&self) -> zbus::Result<String>;
    /// Whether the customer can't change (an eWallet in the basket).
    #[zbus(property)]
    fn customer_locked(&self) -> zbus::Result<bool>;
    /// Warnings of the sale as it stands (an expired voucher taken, paper near end).
    #[zbus(property)]
    fn warnings(&self) -> zbus::Result<Vec<String>>;
    /// Lines.
    #[zbus(property)]
    fn lines(&self) -> zbus::Result<Vec<std::collections::HashMap<String, zbus::OwnedVariant>>>;
    /// Tenders.
    #[zbus(property)]
    fn tenders(&self) -> zbus::Result<Vec<std::collections::HashMap<String, zbus::OwnedVariant>>>;
    /// Totals.
    #[zbus(property)]
    fn totals(&self) -> zbus::Result<std::collections::HashMap<String, zbus::OwnedVariant>>;
    /// What plugins want shown beside the basket (earn, nudge, info).
    #[zbus(property)]
    fn previews(&self) -> zbus::Result<Vec<std::collections::HashMap<String, zbus::OwnedVariant>>>;
    /// The receipt once completed.
    #[zbus(property)]
    fn receipt_id(&self) -> zbus::Result<String>;
    /// Add an item.
    fn add_item(
        &self,
        item: std::collections::HashMap<&str, zbus::Variant<'_>>,
    ) -> zbus::Result<String>;
    /// Change a quantity.
    fn set_quantity(&self, line_id: &str, qty: &str) -> zbus::Result<()>;
    /// Remove a line.
    fn remove_line(&self, line_id: &str) -> zbus::Result<()>;
    /// Put a customer on the sale.
    fn set_customer(&self, customer_id: &str) -> zbus::Result<()>;
    /// Take the customer off the sale.
    fn clear_customer(&self) -> zbus::Result<()>;
    /// What plugins offer on this sale now, with the params a dialog asks for.
    fn actions(&self) -> zbus::Result<Vec<std::collections::HashMap<String, zbus::OwnedVariant>>>;
    /// Run one action of [`Sale1Proxy::actions`].
    fn invoke(
        &self,
        action_id: &str,
        args: std::collections::HashMap<&str, zbus::Variant<'_>>,
    ) -> zbus::Result<std::collections::HashMap<String, zbus::OwnedVariant>>;
    /// Rewards the customer can take now.
    fn rewards(&self) -> zbus::Result<Vec<std::collections::HashMap<String, zbus::OwnedVariant>>>;
    /// Take one reward; the line it added.
    fn apply_reward(&self, reward_id: &str) -> zbus::Result<String>;
    /// Enter a code.
    fn enter_code(
        &self,
        code: &str,
    ) -> zbus::Result<std::collections::HashMap<String, zbus::OwnedVariant>>;
    /// Pay.
    fn add_tender(
        &self,
        method: &str,
        amount: &str,
        details: std::collections::HashMap<&str, zbus::Variant<'_>>,
    ) -> zbus::Result<String>;
    /// Take a payment off again.
    fn remove_tender(&self, tender_id: &str) -> zbus::Result<()>;
    /// Commit.
    fn checkout(&self, idempotency_key: &str) -> zbus::Result<String>;
    /// Abandon.
    fn cancel(&self) -> zbus::Result<()>;
}
