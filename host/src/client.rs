//! Typed client proxies of the contract, shared by `posctl` and the tests, so both call the
//! daemon the way a frontend does.

use zbus::DBusError;

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
    /// Re-read the configuration (admin).
    fn reload_config(&self) -> zbus::Result<()>;
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
];

/// The D-Bus error name and message of a failed call, as a technician should see them;
/// `None` for failures that never got an answer from a peer (no bus, broken connection).
pub fn error_reply(e: &zbus::Error) -> Option<(String, String)> {
    match e {
        zbus::Error::MethodError(name, message, _) => {
            Some((name.to_string(), message.clone().unwrap_or_default()))
        }
        zbus::Error::FDO(fdo) => Some((
            fdo.name().to_string(),
            fdo.description().unwrap_or_default().to_string(),
        )),
        _ => None,
    }
}
