//! The walls around a plugin's child process, put up by the child itself before it maps the
//! plugin's library: resource limits, Landlock (files, TCP ports, signals) and a seccomp
//! filter (no programs, no processes, no sockets without a grant, no kernel tinkering).
//!
//! Every mechanism degrades on its own: a kernel without Landlock still gets the limits and
//! seccomp, and [`Applied::summary`] says what is enforced, so the daemon's log and
//! `posctl plugins` tell a technician the truth about each till.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};
use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};
use serde::{Deserialize, Serialize};

/// The newest Landlock ABI this code was written and tested against; newer kernels are
/// asked for no more than this, older ones give what they have (best effort).
const LANDLOCK_ABI: ABI = ABI::V6;

/// What a plugin's child may do, decided by the daemon from `[plugins]` and
/// `[plugins.run.<id>]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// The one directory the plugin may write (and read); `None` for none.
    pub state_dir: Option<PathBuf>,
    /// TCP endpoints (`host:port`) it may connect to; empty: no network at all.
    pub network: Vec<String>,
    /// Files and directories it may read besides the system's libraries: its own secrets.
    pub read: Vec<PathBuf>,
    /// Address-space limit in MiB.
    pub memory_mb: u64,
    /// CPU time limit of the child's life in seconds (SIGXCPU, then SIGKILL 5 s later).
    pub cpu_seconds: u64,
    /// Open file descriptors.
    pub open_files: u64,
}

/// What [`apply`] could enforce on this kernel.
#[derive(Debug, Clone)]
pub struct Applied {
    /// One line for the log.
    pub summary: String,
    /// What could not be enforced here, if anything.
    pub degraded: Option<String>,
}

/// Files every dynamically linked program needs to read: the loader's cache, shared
/// libraries, time zones, name resolution and certificates. Nothing of posd's own.
const READABLE: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
    "/proc/self",
    "/sys/devices/system/cpu",
    "/sys/fs/cgroup",
];

/// Puts up every wall `spec` asks for around the calling (single-threaded) process, for
/// good. `library` is the plugin file it will map. Fails only where the grants themselves
/// are wrong or its state directory is missing; a mechanism this kernel (or the daemon's
/// own unit) does not offer is left out and named in the summary, with `degraded` set, so
/// that the till goes on selling with what there is and the log says what is missing.
pub fn apply(spec: &SandboxSpec, library: &Path) -> Result<Applied, String> {
    let mut missing = Vec::new();
    let memory = spec.memory_mb.saturating_mul(1024 * 1024);
    for (resource, soft, hard, what) in [
        (libc::RLIMIT_CORE, 0, 0, "core dumps"),
        (libc::RLIMIT_AS, memory, memory, "memory"),
        (
            libc::RLIMIT_CPU,
            spec.cpu_seconds,
            spec.cpu_seconds.saturating_add(5),
            "CPU time",
        ),
        (
            libc::RLIMIT_NOFILE,
            spec.open_files,
            spec.open_files,
            "open files",
        ),
    ] {
        if let Err(e) = limit(resource, soft, hard) {
            missing.push(format!("no {what} limit ({e})"));
        }
    }
    if let Some(dir) = &spec.state_dir {
        std::env::set_current_dir(dir)
            .map_err(|e| format!("cannot enter its state directory {}: {e}", dir.display()))?;
    }
    let ports = ports(&spec.network)?;
    let landlock = match landlock(spec, library, &ports) {
        Ok((text, full)) => {
            if !full {
                missing.push(text.clone());
            }
            text
        }
        Err(e) => {
            missing.push(format!("no landlock ({e})"));
            "no landlock: files and ports are not walled off".into()
        }
    };
    let seccomp = match seccomp(!spec.network.is_empty()) {
        Ok(()) => "seccomp: no programs, processes or raw kernel access".to_string(),
        Err(e) => {
            missing.push(format!("no seccomp ({e})"));
            format!("no seccomp ({e})")
        }
    };
    let network = if spec.network.is_empty() {
        "no network".to_string()
    } else {
        format!("network to {}", spec.network.join(", "))
    };
    Ok(Applied {
        summary: format!(
            "{landlock}; {seccomp}; {network}; limits {} MiB, {} s CPU, {} files",
            spec.memory_mb, spec.cpu_seconds, spec.open_files
        ),
        degraded: (!missing.is_empty()).then(|| missing.join("; ")),
    })
}

fn limit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> Result<(), std::io::Error> {
    let value = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads the struct we pass; no other preconditions.
    if unsafe { libc::setrlimit(resource, &value) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The TCP ports of `host:port` grants, each named in an error if it is not one.
pub fn ports(network: &[String]) -> Result<Vec<u16>, String> {
    network
        .iter()
        .map(|endpoint| {
            endpoint
                .rsplit_once(':')
                .and_then(|(host, port)| (!host.is_empty()).then_some(port))
                .and_then(|port| port.parse::<u16>().ok())
                .filter(|port| *port != 0)
                .ok_or_else(|| format!("{endpoint:?} is not host:port"))
        })
        .collect()
}

/// The Landlock walls; says what is enforced, and whether all of it is.
fn landlock(spec: &SandboxSpec, library: &Path, ports: &[u16]) -> Result<(String, bool), String> {
    let failed = |e: landlock::RulesetError| format!("landlock: {e}");
    let read = AccessFs::from_read(LANDLOCK_ABI);
    let mut rules: BTreeMap<PathBuf, landlock::BitFlags<AccessFs>> = BTreeMap::new();
    for path in READABLE {
        rules.insert(PathBuf::from(path), read);
    }
    rules.insert(
        PathBuf::from("/dev/null"),
        AccessFs::from_file(LANDLOCK_ABI),
    );
    rules.insert(
        library.to_path_buf(),
        AccessFs::from_read(LANDLOCK_ABI) & AccessFs::from_file(LANDLOCK_ABI),
    );
    for path in &spec.read {
        rules.insert(path.clone(), read);
    }
    if let Some(dir) = &spec.state_dir {
        rules.insert(dir.clone(), AccessFs::from_all(LANDLOCK_ABI));
    }
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))
        .map_err(failed)?
        .handle_access(AccessNet::from_all(LANDLOCK_ABI))
        .map_err(failed)?
        .scope(Scope::from_all(LANDLOCK_ABI))
        .map_err(failed)?
        .create()
        .map_err(failed)?;
    for (path, access) in rules {
        // A path this system does not have is simply not granted.
        let Ok(fd) = PathFd::new(&path) else {
            continue;
        };
        let access = if path.is_dir() {
            access
        } else {
            access & AccessFs::from_file(LANDLOCK_ABI)
        };
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, access))
            .map_err(failed)?;
    }
    for port in ports {
        ruleset = ruleset
            .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
            .map_err(failed)?;
    }
    let status = ruleset.restrict_self().map_err(failed)?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => (
            "landlock fully enforced: files, TCP ports, signals and abstract sockets".into(),
            true,
        ),
        RulesetStatus::PartiallyEnforced => (
            "landlock partly enforced (an older kernel: files at least; TCP ports from Linux 6.7, signals from 6.12)".into(),
            false,
        ),
        RulesetStatus::NotEnforced => (
            "landlock not available on this kernel: files and ports are not walled off".into(),
            false,
        ),
    })
}

/// Two stacked filters, because each gives one answer: `clone3` says ENOSYS (the C library
/// falls back to `clone`, whose flags a filter can read), everything refused says EPERM
/// (sockets EACCES), and all else is allowed.
fn seccomp(network: bool) -> Result<(), String> {
    let arch: seccompiler::TargetArch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| format!("seccomp: {e:?}"))?;
    let fail = |e: seccompiler::BackendError| format!("seccomp: {e}");
    let cond = |arg: u8, op: SeccompCmpOp, value: u64| {
        SeccompCondition::new(arg, SeccompCmpArgLen::Qword, op, value).map_err(fail)
    };
    let rule = |conditions: Vec<SeccompCondition>| SeccompRule::new(conditions).map_err(fail);

    let no_clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, vec![])].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(fail)?;

    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() } as u64;
    let mut refused: BTreeMap<i64, Vec<SeccompRule>> = [
        libc::SYS_execve,
        libc::SYS_execveat,
        libc::SYS_fork,
        libc::SYS_vfork,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_pidfd_open,
        libc::SYS_pidfd_send_signal,
        libc::SYS_pidfd_getfd,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_kexec_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_acct,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_setrlimit,
        libc::SYS_prlimit64,
    ]
    .into_iter()
    .map(|call| (call, vec![]))
    .collect();
    // New threads yes, new processes no.
    refused.insert(
        libc::SYS_clone,
        vec![rule(vec![cond(
            0,
            SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
            0,
        )?])?],
    );
    // Signals only to itself (Landlock's signal scope says the same from Linux 6.12).
    refused.insert(
        libc::SYS_kill,
        vec![rule(vec![
            cond(0, SeccompCmpOp::Ne, me)?,
            cond(0, SeccompCmpOp::Ne, 0)?,
        ])?],
    );
    for call in [
        libc::SYS_tgkill,
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_rt_tgsigqueueinfo,
    ] {
        refused.insert(call, vec![rule(vec![cond(0, SeccompCmpOp::Ne, me)?])?]);
    }
    let refused = SeccompFilter::new(
        refused,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(fail)?;

    // Sockets: none without a grant; with one, internet sockets (and netlink, which name
    // resolution asks) but still no local sockets such as the system bus.
    let sockets: Vec<SeccompRule> = if network {
        [libc::AF_UNIX, libc::AF_PACKET]
            .into_iter()
            .map(|family| rule(vec![cond(0, SeccompCmpOp::Eq, family as u64)?]))
            .collect::<Result<_, _>>()?
    } else {
        vec![]
    };
    let no_sockets = SeccompFilter::new(
        [(libc::SYS_socket, sockets)].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        arch,
    )
    .map_err(fail)?;

    for filter in [no_clone3, refused, no_sockets] {
        let program: seccompiler::BpfProgram = filter.try_into().map_err(fail)?;
        seccompiler::apply_filter(&program).map_err(|e| format!("seccomp: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_grants_name_the_entry_that_is_not_host_and_port() {
        assert_eq!(
            ports(&["partner.example.com:443".into(), "127.0.0.1:8080".into()]),
            Ok(vec![443, 8080])
        );
        for bad in [
            "partner.example.com",
            ":443",
            "host:0",
            "host:https",
            "host:70000",
        ] {
            let err = ports(&[bad.to_string()]).expect_err(bad);
            assert!(err.contains(bad), "{err}");
        }
    }
}
