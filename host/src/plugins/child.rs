//! The child side of an isolated plugin: `posd plugin-host`, started by the daemon with the
//! channel on its standard input. It walls itself in ([`super::sandbox`]), maps the plugin's
//! library through the same loader and ABI as the daemon would, and serves the daemon's
//! calls one at a time; the plugin's host callbacks travel back over the channel.
//!
//! Nothing here is for people: the daemon starts it, and it exits when the daemon closes
//! the channel or dies (`PR_SET_PDEATHSIG`).

use std::ffi::c_char;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use posd_plugin_abi as abi;

use super::instance::{call_hook, create};
use super::library;
use super::services::{give, host_free_buffer, refusal, text};
use super::wire::{self, Described, Init, Refused};
use super::{CallError, Hook};

/// The argument that makes the posd binary a plugin's child.
pub const PLUGIN_HOST_ARG: &str = "plugin-host";
/// The environment variable holding the daemon's pid, so a child whose daemon died before
/// it could ask to die with it notices.
pub const PARENT_ENV: &str = "POSD_PLUGIN_PARENT";

/// The child's end of the channel and the business clock's offset, which the daemon sends
/// with every call. `posd_host_api.host` points at it.
struct Channel {
    stream: Mutex<UnixStream>,
    offset_ms: AtomicI64,
}

impl Channel {
    fn send(&self, tag: u8, parts: &[&[u8]]) -> std::io::Result<()> {
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        wire::write_frame(&mut *stream, tag, parts)
    }

    fn receive(&self) -> std::io::Result<(u8, Vec<u8>)> {
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        wire::read_frame(&mut *stream)
    }
}

/// Runs the child until the daemon says stop or goes away; the process's exit code.
pub fn run() -> i32 {
    // SAFETY: prctl and getppid have no memory preconditions.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let parent = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok());
    // SAFETY: as above.
    if parent.is_some_and(|p| p != unsafe { libc::getppid() }) {
        return 1; // The daemon died before PR_SET_PDEATHSIG could tie this process to it.
    }
    let Some(channel) = take_channel() else {
        eprintln!("posd plugin-host: standard input is not the daemon's channel");
        return 2;
    };
    // Never closed here: a plugin may have closed its descriptor already (closing it again
    // would be an I/O-safety abort), and the process ends right after anyway.
    let channel = std::mem::ManuallyDrop::new(channel);
    let init: Init = match channel
        .receive()
        .ok()
        .filter(|(tag, _)| *tag == wire::INIT)
        .and_then(|(_, body)| serde_json::from_slice(&body).ok())
    {
        Some(init) => init,
        None => return 2,
    };
    let refuse = |not_a_plugin: bool, reason: String| {
        let body = serde_json::to_vec(&Refused {
            not_a_plugin,
            reason,
        })
        .unwrap_or_default();
        let _ = channel.send(wire::REFUSED, &[&body]);
    };
    let sandbox = match super::sandbox::apply(&init.sandbox, &init.snapshot) {
        Ok(applied) => applied,
        Err(reason) => {
            refuse(
                false,
                format!(
                    "{}: its sandbox could not be set up: {reason}",
                    init.shown_as.display()
                ),
            );
            return 3;
        }
    };
    let loaded = match library::load(&init.snapshot, &init.shown_as, init.host_minor) {
        Ok(loaded) => loaded,
        Err(e) => {
            refuse(
                matches!(e, super::PluginError::NotAPlugin { .. }),
                e.to_string(),
            );
            return 0;
        }
    };
    let Some(native) = loaded.native else {
        return 3;
    };
    // `ps`, `top` and the journal show "plugin-<id>" instead of a second "posd".
    if let Ok(name) = std::ffi::CString::new(format!("plugin-{}", loaded.id)) {
        // SAFETY: PR_SET_NAME reads a NUL-terminated string (the kernel keeps 15 bytes).
        unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    }
    let described = Described {
        id: loaded.id.clone(),
        name: loaded.name.clone(),
        version: loaded.version.clone(),
        description: loaded.description.clone(),
        abi: loaded.abi,
        min_abi_minor: loaded.min_abi_minor,
        present: loaded.present.to_vec(),
        sandbox: sandbox.summary,
        degraded: sandbox.degraded,
    };
    let body = serde_json::to_vec(&described).unwrap_or_default();
    if channel.send(wire::DESCRIBED, &[&body]).is_err() || init.describe_only {
        return 0;
    }
    let Ok((wire::CREATE, body)) = channel.receive() else {
        return 0;
    };
    let Some((offset, config)) = wire::split_i64(&body) else {
        return 2;
    };
    channel.offset_ms.store(offset, Ordering::Relaxed);
    let api = abi::posd_host_api {
        struct_size: abi::POSD_HOST_API_SIZE_1_0 as u32,
        abi_major: abi::POSD_ABI_MAJOR,
        abi_minor: abi::POSD_ABI_MINOR,
        host: std::ptr::from_ref(&channel)
            .cast_mut()
            .cast::<abi::posd_host>(),
        log: Some(child_log),
        now_ms: Some(child_now_ms),
        call: Some(child_call),
        free_buffer: Some(host_free_buffer),
    };
    let instance = match create(native.descriptor, &api, config) {
        Ok(instance) => instance,
        Err(reason) => {
            let _ = channel.send(wire::CREATE_FAILED, &[reason.as_bytes()]);
            return 0;
        }
    };
    if channel.send(wire::CREATED, &[]).is_err() {
        return 0;
    }
    loop {
        let Ok((tag, body)) = channel.receive() else {
            return 0; // The daemon closed the channel: it is stopping or gave up on us.
        };
        match tag {
            wire::HOOK => {
                let Some((&index, rest)) = body.split_first() else {
                    return 2;
                };
                let Some((offset, request)) = wire::split_i64(rest) else {
                    return 2;
                };
                let Some(hook) = Hook::from_index(index) else {
                    return 2;
                };
                channel.offset_ms.store(offset, Ordering::Relaxed);
                let result = call_hook(native.descriptor, &native.hooks, instance.0, hook, request);
                let sent = match &result {
                    Ok(bytes) => channel.send(wire::ANSWER, &[&[wire::outcome::OK], bytes]),
                    Err(CallError::Refused { error, message }) => {
                        let body =
                            serde_json::json!({ "error": error, "message": message }).to_string();
                        channel.send(wire::ANSWER, &[&[wire::outcome::REFUSED], body.as_bytes()])
                    }
                    Err(CallError::Failed(message)) => channel.send(
                        wire::ANSWER,
                        &[&[wire::outcome::FAILED], message.as_bytes()],
                    ),
                    Err(CallError::NotImplemented) => {
                        channel.send(wire::ANSWER, &[&[wire::outcome::NOT_IMPLEMENTED]])
                    }
                };
                if sent.is_err() {
                    return 0;
                }
            }
            wire::DESTROY => {
                if let Some(destroy) = native.descriptor.destroy {
                    // SAFETY: the instance came from this plugin's create and is destroyed
                    // once, after its last call, on the thread that made all calls.
                    unsafe { destroy(instance.0) };
                }
                let _ = channel.send(wire::DESTROYED, &[]);
                return 0;
            }
            _ => return 2,
        }
    }
}

/// Moves the channel off standard input (which becomes `/dev/null`), so that a plugin that
/// reads its standard input or closes it by mistake does not touch the channel.
fn take_channel() -> Option<Channel> {
    // SAFETY: fcntl duplicates a descriptor we own; the new one is ours alone.
    let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh descriptor of the socket the daemon passed as stdin.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    // The descriptor must really be a socket: a technician running `posd plugin-host` by
    // hand gets a message instead of a hang.
    stream.peer_addr().ok()?;
    let null = std::fs::File::open("/dev/null").ok()?;
    // SAFETY: dup2 onto descriptor 0, which we own.
    unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0) };
    Some(Channel {
        stream: Mutex::new(stream),
        offset_ms: AtomicI64::new(0),
    })
}

/// # Safety
/// `host` must be the `Channel` pointer of the api `run` made.
unsafe fn channel<'a>(host: *mut abi::posd_host) -> Option<&'a Channel> {
    // SAFETY: guaranteed by the caller.
    unsafe { host.cast::<Channel>().as_ref() }
}

unsafe extern "C" fn child_log(
    host: *mut abi::posd_host,
    level: i32,
    message: *const c_char,
    len: usize,
) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the plugin passes its host pointer and a message of `len` bytes.
        let (Some(channel), message) = (unsafe { channel(host) }, unsafe { text(message, len) })
        else {
            return;
        };
        let _ = channel.send(wire::LOG, &[&level.to_le_bytes(), message.as_bytes()]);
    }));
}

unsafe extern "C" fn child_now_ms(host: *mut abi::posd_host) -> i64 {
    let offset = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the plugin passes its host pointer.
        unsafe { channel(host) }.map_or(0, |c| c.offset_ms.load(Ordering::Relaxed))
    }))
    .unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    now.saturating_add(offset)
}

unsafe extern "C" fn child_call(
    host: *mut abi::posd_host,
    service: *const c_char,
    service_len: usize,
    request: *const c_char,
    request_len: usize,
    response: *mut abi::posd_buffer,
) -> i32 {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the plugin passes its host pointer and buffers of the given lengths.
        let channel = unsafe { channel(host) }.ok_or(())?;
        // SAFETY: as above.
        let service = unsafe { text(service, service_len) };
        let request: &[u8] = if request.is_null() || request_len == 0 {
            &[]
        } else {
            // SAFETY: as above.
            unsafe { std::slice::from_raw_parts(request.cast::<u8>(), request_len) }
        };
        let name_len = u16::try_from(service.len()).map_err(|_| ())?;
        let mut stream = channel.stream.lock().unwrap_or_else(|e| e.into_inner());
        wire::write_frame(
            &mut *stream,
            wire::SERVICE,
            &[&name_len.to_le_bytes(), service.as_bytes(), request],
        )
        .map_err(|_| ())?;
        let (tag, body) = wire::read_frame(&mut *stream).map_err(|_| ())?;
        if tag != wire::SERVICE_ANSWER {
            return Err(());
        }
        let (status, answer) = wire::split_i32(&body).ok_or(())?;
        Ok((status, answer.to_vec()))
    }));
    let (status, body) = match outcome {
        Ok(Ok(answer)) => answer,
        _ => (
            abi::POSD_ERROR,
            refusal("Internal", "the daemon did not answer the host call")
                .to_string()
                .into_bytes(),
        ),
    };
    give(response, body);
    status
}
