//! Who is calling: the bus's word on a caller's user and groups.
//!
//! Admin rights are decided from the credentials the bus daemon reports for the sender's
//! connection (`GetConnectionCredentials`), never from anything the caller says about itself.

use std::ffi::CString;

use zbus::message::Header;

use super::BusError;

/// The Unix group whose members may call the admin methods.
pub const ADMIN_GROUP: &str = "posd-admin";

/// A caller's identity as the bus daemon knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Unique bus name of the caller's connection.
    pub sender: String,
    /// Unix user id.
    pub uid: u32,
    /// Primary and supplementary groups.
    pub gids: Vec<u32>,
}

impl Caller {
    /// Asks the bus for the credentials of the sender of `header`.
    pub async fn of(conn: &zbus::Connection, header: &Header<'_>) -> Result<Self, BusError> {
        let sender = header
            .sender()
            .ok_or_else(|| {
                BusError::NotAllowed("the call has no sender; cannot check rights".into())
            })?
            .to_owned();
        let dbus = zbus::fdo::DBusProxy::new(conn).await?;
        let creds = dbus
            .get_connection_credentials(sender.clone().into())
            .await
            .map_err(|e| {
                BusError::NotAllowed(format!("the bus did not tell who is calling: {e}"))
            })?;
        let uid = creds.unix_user_id().ok_or_else(|| {
            BusError::NotAllowed("the bus did not report the caller's user".into())
        })?;
        Ok(Self {
            sender: sender.to_string(),
            uid,
            gids: creds.into_unix_group_ids().unwrap_or_default(),
        })
    }

    /// Whether the caller may use the admin methods: root, the daemon's own user (a
    /// developer's session bus), or a member of `posd-admin`.
    pub fn is_admin(&self) -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let own_uid = unsafe { libc::geteuid() };
        self.uid == 0
            || self.uid == own_uid
            || group_id(ADMIN_GROUP).is_some_and(|g| self.gids.contains(&g))
    }

    /// `Ok` for an admin, `NotAllowed` naming the caller otherwise.
    pub fn require_admin(&self, what: &str) -> Result<(), BusError> {
        if self.is_admin() {
            Ok(())
        } else {
            tracing::warn!(uid = self.uid, sender = %self.sender, "refused admin call {what}");
            Err(BusError::NotAllowed(format!(
                "{what} needs root or membership of group {ADMIN_GROUP}; caller uid {} is neither",
                self.uid
            )))
        }
    }
}

/// Looks a group up by name in the system's group database.
pub fn group_id(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; getgrnam_r writes only into `group` and
    // `buf` (of the length passed) and sets `result` to null or to `&group`.
    let rc = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut group,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(group.gr_gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_admin_and_strangers_are_not() {
        let root = Caller {
            sender: ":1.1".into(),
            uid: 0,
            gids: vec![0],
        };
        assert!(root.is_admin());
        let stranger = Caller {
            sender: ":1.2".into(),
            uid: 4_000_000,
            gids: vec![4_000_000],
        };
        assert!(unsafe { libc::geteuid() } != 4_000_000);
        let err = stranger.require_admin("ReloadConfig").expect_err("refused");
        assert!(
            matches!(err, BusError::NotAllowed(m) if m.contains("ReloadConfig") && m.contains("4000000"))
        );
    }

    #[test]
    fn group_lookup_reads_the_group_database() {
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(group_id("no-such-group-posd"), None);
    }
}
