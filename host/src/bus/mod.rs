//! The D-Bus skin over the daemon: connecting, owning the name, the contract's objects.
//!
//! Everything here is thin on purpose: parse arguments, call plain Rust, map errors to the
//! contract's names. The interfaces are described in `host/interfaces/*.xml`, which a test
//! compares with what the daemon really serves.

mod caller;
mod changed;
pub mod device;
mod error;
mod manager;
pub mod plugin;
pub mod private;
pub mod register;
pub mod sale;

pub use caller::{ADMIN_GROUP, Caller, group_id};
pub use error::BusError;
pub use manager::{Manager, announce_state, lookup, store_view};

use zbus::fdo::{RequestNameFlags, RequestNameReply};

/// The contract's names and the client's choice of bus are the client crate's: the daemon
/// serves what its frontends call.
pub use posd_client::connect::{BusChoice, builder, connect};
pub use posd_client::{BUS_NAME, ROOT_PATH};

/// Why the well-known name could not be had.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// Another process owns it: two daemons on one till must never both run.
    #[error("{name} is already owned on this bus by {owner}{pid}: another posd is running")]
    Taken {
        /// The name.
        name: &'static str,
        /// Unique name of the owner.
        owner: String,
        /// ", pid N" if the bus told us.
        pid: String,
    },
    /// The bus refused or failed the request (policy, I/O).
    #[error("cannot own {BUS_NAME}: {0}")]
    Bus(#[from] zbus::Error),
}

/// Requests [`BUS_NAME`] without queueing: if someone else has it, say who and fail.
pub async fn claim_name(conn: &zbus::Connection) -> Result<(), NameError> {
    let reply = conn
        .request_name_with_flags(BUS_NAME, RequestNameFlags::DO_NOT_QUEUE)
        .await;
    match reply {
        Ok(RequestNameReply::PrimaryOwner | RequestNameReply::AlreadyOwner) => Ok(()),
        Err(e) if !matches!(e, zbus::Error::NameTaken) => Err(e.into()),
        _ => {
            let dbus = zbus::fdo::DBusProxy::new(conn).await?;
            let name = zbus::names::BusName::try_from(BUS_NAME)?;
            let owner = dbus
                .get_name_owner(name.clone())
                .await
                .map(|o| o.to_string())
                .unwrap_or_else(|_| "another connection".into());
            let pid = dbus
                .get_connection_unix_process_id(name)
                .await
                .map(|p| format!(", pid {p}"))
                .unwrap_or_default();
            Err(NameError::Taken {
                name: BUS_NAME,
                owner,
                pid,
            })
        }
    }
}
