//! Loading a plugin library: the file checks, `dlopen`, the entry symbol, and reading the
//! descriptor without ever trusting more of it than it declared.
//!
//! Every `unsafe` of the plugin boundary that is about loading lives here; calling hooks
//! lives in [`super::instance`].

use std::ffi::{CStr, c_char};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use posd_plugin_abi as abi;

use super::PluginError;

/// The descriptor of a loaded plugin, copied out of the library and checked.
#[derive(Clone)]
pub struct Loaded {
    /// The plugin's id.
    pub id: String,
    /// Name for people.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// One line or "".
    pub description: String,
    /// ABI the plugin was built against.
    pub abi: (u16, u16),
    /// Oldest host minor it works with.
    pub min_abi_minor: u16,
    /// Which hooks it implements, indexed like [`abi::HOOK_NAMES`].
    pub present: [bool; abi::HOOK_NAMES.len()],
    /// The library mapped into this process, when it is: a plugin that runs in a child
    /// process of its own was only described by that child, never mapped here.
    pub native: Option<Native>,
}

/// A plugin library mapped into this process.
#[derive(Clone, Copy)]
pub struct Native {
    /// The descriptor in the library (static data; the library is never unloaded).
    pub descriptor: &'static abi::posd_plugin_descriptor,
    /// The hooks, copied up to the size the plugin declared; hooks beyond it are `None`.
    pub hooks: Hooks,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("abi", &self.abi)
            .finish_non_exhaustive()
    }
}

/// The hook table as the host uses it: indexed like [`abi::HOOK_NAMES`].
#[derive(Debug, Clone, Copy)]
pub struct Hooks(pub [Option<abi::posd_hook>; abi::HOOK_NAMES.len()]);

/// Who may own a plugin file besides root: the daemon's own user.
fn trusted_owner(uid: u32) -> bool {
    // SAFETY: geteuid has no preconditions.
    uid == 0 || uid == unsafe { libc::geteuid() }
}

/// Refuses a file that someone other than root or posd could have changed, as sudo and PAM
/// refuse their modules: it would run with the daemon's rights and see all the money.
pub fn check_file_is_safe(path: &Path) -> Result<(), PluginError> {
    let refuse = |reason: String| PluginError::Insecure {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::symlink_metadata(path).map_err(|e| PluginError::Load {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !meta.file_type().is_file() {
        return Err(refuse("it is not a regular file".into()));
    }
    if !trusted_owner(meta.uid()) {
        return Err(refuse(format!(
            "it is owned by uid {}, not by root or the daemon's user",
            meta.uid()
        )));
    }
    let mode = meta.mode();
    if mode & 0o022 != 0 {
        return Err(refuse(format!(
            "its mode {:04o} lets {} write to it",
            mode & 0o7777,
            if mode & 0o002 != 0 {
                "everyone"
            } else {
                "its group"
            }
        )));
    }
    if let Some(dir) = path.parent() {
        let dir_meta = std::fs::metadata(dir).map_err(|e| PluginError::Load {
            path: path.to_path_buf(),
            reason: format!("its directory: {e}"),
        })?;
        let sticky = dir_meta.mode() & 0o1000 != 0;
        if dir_meta.mode() & 0o002 != 0 && !sticky {
            return Err(refuse(format!(
                "its directory {} is writable by everyone",
                dir.display()
            )));
        }
        if !trusted_owner(dir_meta.uid()) {
            return Err(refuse(format!(
                "its directory {} is owned by uid {}",
                dir.display(),
                dir_meta.uid()
            )));
        }
    }
    Ok(())
}

/// Copies `path` to a private snapshot in `cache_dir` and loads that: a plugin file replaced
/// or rewritten under a running daemon can then never corrupt code that is mapped, and a
/// reload always gets a fresh library (the dynamic loader would hand back the old one for the
/// same file).
pub fn snapshot(path: &Path, cache_dir: &Path, serial: u64) -> Result<PathBuf, PluginError> {
    let fail = |reason: String| PluginError::Load {
        path: path.to_path_buf(),
        reason,
    };
    std::fs::create_dir_all(cache_dir)
        .map_err(|e| fail(format!("{}: {e}", cache_dir.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin.so".into());
    let copy = cache_dir.join(format!("{serial:06}-{}-{name}", std::process::id()));
    std::fs::copy(path, &copy)
        .map_err(|e| fail(format!("cannot copy to {}: {e}", copy.display())))?;
    Ok(copy)
}

/// Loads the library at `path` (a snapshot), finds `posd_plugin_entry` and checks the
/// descriptor against the host's ABI `host_minor`. The library stays loaded for the life of
/// the process, also when this fails after `dlopen`.
pub fn load(path: &Path, shown_as: &Path, host_minor: u16) -> Result<Loaded, PluginError> {
    let fail = |reason: String| PluginError::Load {
        path: shown_as.to_path_buf(),
        reason,
    };
    // Past dlopen the library is mapped for good, and what is wrong is in its bytes.
    let not_a_plugin = |reason: String| PluginError::NotAPlugin {
        path: shown_as.to_path_buf(),
        reason,
    };
    // SAFETY: loading runs the library's initialisers. That is the trust a plugin is given;
    // check_file_is_safe made sure only root or posd could have put this code there.
    let library = unsafe {
        libloading::os::unix::Library::open(
            Some(path),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
    }
    .map_err(|e| {
        fail(format!(
            "not a loadable shared library: {}",
            loader_reason(&e, path, shown_as)
        ))
    })?;
    // SAFETY: the symbol is declared by the ABI as `const posd_plugin_descriptor *(void)`.
    let entry: abi::posd_plugin_entry_fn = match unsafe {
        library.get::<abi::posd_plugin_entry_fn>(abi::POSD_PLUGIN_ENTRY_SYMBOL)
    } {
        Ok(symbol) => *symbol,
        Err(_) => {
            library.into_raw();
            return Err(not_a_plugin(
                "it exports no posd_plugin_entry symbol: not a posd plugin (see plugins/abi/README.md)"
                    .into(),
            ));
        }
    };
    // Never dlclose: thread-local destructors of a Rust cdylib make unloading unsafe.
    library.into_raw();
    // SAFETY: calling the entry point the ABI defines; it takes nothing and returns a pointer
    // to static data or null.
    let descriptor = unsafe { entry() };
    // SAFETY: a non-null result points to the plugin's static descriptor, which lives as
    // long as the (never unloaded) library.
    let descriptor: &'static abi::posd_plugin_descriptor = unsafe { descriptor.as_ref() }
        .ok_or_else(|| not_a_plugin("posd_plugin_entry returned NULL".into()))?;
    check_descriptor(descriptor, host_minor).map_err(not_a_plugin)
}

/// The dynamic loader's own words for why `dlopen` failed ("undefined symbol:
/// missing_function", "invalid ELF header"): libloading's error only says "dlopen failed" and
/// keeps `dlerror()`'s text as its source, which is what a technician needs to fix the
/// library. The loader names the private snapshot it was given; that name means nothing to
/// anyone, so the file the technician installed is named instead (or, where the loader's
/// text starts with the path, the path is left to the caller's prefix).
fn loader_reason(error: &libloading::Error, snapshot: &Path, shown_as: &Path) -> String {
    let Some(source) = std::error::Error::source(error) else {
        return error.to_string();
    };
    let text = source.to_string();
    let snapshot = snapshot.display().to_string();
    match text.strip_prefix(&format!("{snapshot}: ")) {
        Some(reason) => reason.to_string(),
        None => text.replace(&snapshot, &shown_as.display().to_string()),
    }
}

/// Checks versions and sizes and copies the descriptor out. Reads no field beyond the size
/// the plugin declared.
pub fn check_descriptor(
    d: &'static abi::posd_plugin_descriptor,
    host_minor: u16,
) -> Result<Loaded, String> {
    // The first three fields exist in every major version's descriptor.
    if d.abi_major != abi::POSD_ABI_MAJOR {
        return Err(format!(
            "it was built for plugin ABI {}.{}, but this posd offers ABI {}.{}: rebuild it against ABI {}",
            d.abi_major,
            d.abi_minor,
            abi::POSD_ABI_MAJOR,
            host_minor,
            abi::POSD_ABI_MAJOR
        ));
    }
    if (d.struct_size as usize) < abi::POSD_PLUGIN_DESCRIPTOR_SIZE_1_0 {
        return Err(format!(
            "its descriptor is {} bytes, smaller than the {} bytes of ABI 1.0",
            d.struct_size,
            abi::POSD_PLUGIN_DESCRIPTOR_SIZE_1_0
        ));
    }
    if d.min_abi_minor > host_minor {
        return Err(format!(
            "it needs plugin ABI {}.{} or newer, but this posd offers {}.{}: update posd or use a plugin built for {}.{}",
            d.abi_major,
            d.min_abi_minor,
            abi::POSD_ABI_MAJOR,
            host_minor,
            abi::POSD_ABI_MAJOR,
            host_minor
        ));
    }
    if d.min_abi_minor > d.abi_minor {
        return Err(format!(
            "its descriptor is inconsistent: min_abi_minor {} is above abi_minor {}",
            d.min_abi_minor, d.abi_minor
        ));
    }
    let text = |p: *const c_char, field: &str, required: bool| -> Result<String, String> {
        if p.is_null() {
            return if required {
                Err(format!("its descriptor has no {field}"))
            } else {
                Ok(String::new())
            };
        }
        // SAFETY: the ABI requires NUL-terminated static strings.
        let s = unsafe { CStr::from_ptr(p) };
        s.to_str()
            .map(str::to_string)
            .map_err(|_| format!("its {field} is not UTF-8"))
    };
    let id = text(d.id, "id", true)?;
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(format!(
            "its id {id:?} is not 1 to 64 lowercase letters, digits, '-' or '_'"
        ));
    }
    if id == crate::ledger::HOST_OWNER {
        // The host's own ledger accounts are `host:…`; a plugin of that id could post to them.
        return Err(format!(
            "its id {id:?} is reserved for the host's own accounts"
        ));
    }
    if d.create.is_none() || d.destroy.is_none() || d.free_buffer.is_none() {
        return Err("its descriptor lacks create, destroy or free_buffer".into());
    }
    // SAFETY: the hooks table is the plugin's static data, or null.
    let table = unsafe { d.hooks.as_ref() };
    let hooks = match table {
        None => Hooks([None; abi::HOOK_NAMES.len()]),
        Some(table) => read_hooks(table)?,
    };
    Ok(Loaded {
        name: text(d.name, "name", true)?,
        version: text(d.version, "version", true)?,
        description: text(d.description, "description", false)?,
        id,
        abi: (d.abi_major, d.abi_minor),
        min_abi_minor: d.min_abi_minor,
        present: hooks.0.map(|h| h.is_some()),
        native: Some(Native {
            descriptor: d,
            hooks,
        }),
    })
}

/// Copies the hooks the plugin declared; anything past its `struct_size` is absent.
fn read_hooks(table: &'static abi::posd_plugin_hooks) -> Result<Hooks, String> {
    let declared = table.struct_size as usize;
    let header = std::mem::offset_of!(abi::posd_plugin_hooks, classify_code);
    if declared < header {
        return Err(format!("its hooks table is only {declared} bytes"));
    }
    let base = std::ptr::from_ref(table).cast::<u8>();
    let slot = std::mem::size_of::<Option<abi::posd_hook>>();
    let mut hooks = [None; abi::HOOK_NAMES.len()];
    for (i, hook) in hooks.iter_mut().enumerate() {
        let offset = header + i * slot;
        if offset + slot > declared {
            break;
        }
        // SAFETY: the plugin declared at least `declared` bytes of table; this slot lies
        // within them and within the host's own layout of the table.
        *hook = unsafe { base.add(offset).cast::<Option<abi::posd_hook>>().read() };
    }
    Ok(Hooks(hooks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::c_void;

    unsafe extern "C" fn create(
        _: *const abi::posd_host_api,
        _: *const c_char,
        _: usize,
        _: *mut abi::posd_buffer,
    ) -> *mut c_void {
        std::ptr::null_mut()
    }
    unsafe extern "C" fn destroy(_: *mut c_void) {}
    unsafe extern "C" fn free_buffer(_: *mut abi::posd_buffer) {}
    unsafe extern "C" fn hook(
        _: *mut c_void,
        _: *const c_char,
        _: usize,
        _: *mut abi::posd_buffer,
    ) -> i32 {
        0
    }

    fn descriptor(
        major: u16,
        minor: u16,
        min_minor: u16,
        size: usize,
        hooks: &'static abi::posd_plugin_hooks,
    ) -> &'static abi::posd_plugin_descriptor {
        Box::leak(Box::new(abi::posd_plugin_descriptor {
            struct_size: size as u32,
            abi_major: major,
            abi_minor: minor,
            min_abi_minor: min_minor,
            reserved0: 0,
            reserved1: 0,
            id: c"unit-test".as_ptr(),
            name: c"Unit test".as_ptr(),
            version: c"1".as_ptr(),
            description: std::ptr::null(),
            create: Some(create),
            destroy: Some(destroy),
            free_buffer: Some(free_buffer),
            hooks,
        }))
    }

    fn all_hooks(size: usize) -> &'static abi::posd_plugin_hooks {
        Box::leak(Box::new(abi::posd_plugin_hooks {
            struct_size: size as u32,
            classify_code: Some(hook),
            enter_code: Some(hook),
            customer_accounts: Some(hook),
            ..Default::default()
        }))
    }

    #[test]
    fn a_1_0_plugin_loads_on_a_newer_host() {
        let d = descriptor(
            1,
            0,
            0,
            abi::POSD_PLUGIN_DESCRIPTOR_SIZE_1_0,
            all_hooks(abi::POSD_PLUGIN_HOOKS_SIZE_1_0),
        );
        let loaded = check_descriptor(d, 3).expect("host 1.3 takes a 1.0 plugin");
        assert_eq!(loaded.abi, (1, 0));
        assert!(loaded.present[0] && loaded.present[14]);
    }

    #[test]
    fn a_1_0_table_has_no_admin_actions_even_if_memory_past_it_is_set() {
        let table = Box::leak(Box::new(abi::posd_plugin_hooks {
            struct_size: abi::POSD_PLUGIN_HOOKS_SIZE_1_0 as u32,
            customer_accounts: Some(hook),
            list_admin_actions: Some(hook),
            invoke_admin_action: Some(hook),
            ..Default::default()
        }));
        let d = descriptor(1, 0, 0, abi::POSD_PLUGIN_DESCRIPTOR_SIZE_1_0, table);
        let loaded = check_descriptor(d, 1).expect("loads");
        assert!(loaded.present[super::super::Hook::CustomerAccounts as usize]);
        assert!(!loaded.present[super::super::Hook::ListAdminActions as usize]);
        assert!(!loaded.present[super::super::Hook::InvokeAdminAction as usize]);

        let table = Box::leak(Box::new(abi::posd_plugin_hooks {
            struct_size: abi::POSD_PLUGIN_HOOKS_SIZE_1_1 as u32,
            list_admin_actions: Some(hook),
            invoke_admin_action: Some(hook),
            ..Default::default()
        }));
        let d = descriptor(1, 1, 0, abi::POSD_PLUGIN_DESCRIPTOR_SIZE_1_0, table);
        let loaded = check_descriptor(d, 1).expect("loads");
        assert!(loaded.present[super::super::Hook::ListAdminActions as usize]);
        assert!(loaded.present[super::super::Hook::InvokeAdminAction as usize]);
    }

    #[test]
    fn another_major_is_refused_with_the_versions_named() {
        let d = descriptor(
            2,
            0,
            0,
            abi::POSD_PLUGIN_DESCRIPTOR_SIZE_1_0,
            all_hooks(abi::POSD_PLUGIN_HOOKS_SIZE_1_0),
        );
        let err = check_descriptor(d, 0).expect_err("refused");
        assert!(
            err.contains("ABI 2.0") && err.contains("offers ABI 1.0"),
            "{err}"
        );
    }

    #[test]
    fn a_plugin_needing_a_newer_minor_is_refused_unless_it_is_optional() {
        let needs = descriptor(
            1,
            2,
            2,
            abi::POSD_PLUGIN_DESCRIPTOR_SIZE_1_0,
            all_hooks(abi::POSD_PLUGIN_HOOKS_SIZE_1_0),
        );
        let err = check_descriptor(needs, 0).expect_err("refused");
        assert!(err.contains("needs plugin ABI 1.2"), "{err}");
        let optional = descriptor(
            1,
            2,
            0,
            abi::POSD_PLUGIN_DESCRIPTOR_SIZE_1_0 + 16,
            all_hooks(abi::POSD_PLUGIN_HOOKS_SIZE_1_0),
        );
        check_descriptor(optional, 0).expect("newer parts declared optional");
    }

    #[test]
    fn hooks_past_the_declared_size_are_absent() {
        let size = std::mem::offset_of!(abi::posd_plugin_hooks, enter_code);
        let d = descriptor(
            1,
            0,
            0,
            abi::POSD_PLUGIN_DESCRIPTOR_SIZE_1_0,
            all_hooks(size),
        );
        let loaded = check_descriptor(d, 0).expect("loads");
        assert!(loaded.present[0], "classify_code is within the size");
        assert!(!loaded.present[1], "enter_code is past it, though set");
        assert!(!loaded.present[14]);
    }

    #[test]
    fn a_descriptor_smaller_than_1_0_is_refused() {
        let d = descriptor(
            1,
            0,
            0,
            abi::POSD_PLUGIN_DESCRIPTOR_SIZE_1_0 - 8,
            all_hooks(abi::POSD_PLUGIN_HOOKS_SIZE_1_0),
        );
        assert!(
            check_descriptor(d, 0)
                .expect_err("refused")
                .contains("smaller")
        );
    }

    #[test]
    fn a_file_the_loader_refuses_keeps_the_loaders_reason_under_the_installed_name() {
        let dir = tempfile::tempdir().expect("dir");
        let snapshot = dir.path().join("000001-42-notes.so");
        std::fs::write(&snapshot, "this is a text file, not a library\n".repeat(8)).expect("write");
        let installed = Path::new("/var/lib/posd/plugins/notes.so");
        let err = load(&snapshot, installed, 0)
            .expect_err("not a library")
            .to_string();
        assert!(
            err.starts_with("/var/lib/posd/plugins/notes.so: not a loadable shared library: "),
            "{err}"
        );
        assert!(err.contains("invalid ELF header"), "{err}");
        assert!(
            !err.contains("000001-42"),
            "the snapshot's name means nothing to a technician: {err}"
        );
        assert!(!err.contains("dlopen failed"), "{err}");
    }

    #[test]
    fn insecure_files_are_refused_with_the_reason() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("p.so");
        std::fs::write(&file, b"x").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        check_file_is_safe(&file).expect("0644 owned by us is fine");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let err = check_file_is_safe(&file)
            .expect_err("world-writable")
            .to_string();
        assert!(err.contains("0666") && err.contains("everyone"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).expect("chmod");
        assert!(
            check_file_is_safe(&file)
                .expect_err("group-writable")
                .to_string()
                .contains("group")
        );
    }
}
