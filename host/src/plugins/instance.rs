//! A running plugin instance: its own thread, one call at a time, each with a deadline.
//!
//! The host never calls a plugin from the async runtime: a plugin that blocks or loops
//! would stall the till. Calls are queued to the instance's thread and awaited with a
//! deadline. On that thread the plugin runs either in a child process of its own
//! ([`super::process`], the default: a crash costs one call) or in the daemon
//! (`isolation = "in-process"`): there a call past its deadline is `PluginFailed` for the
//! caller, and after [`MISSES_BEFORE_FAILED`] misses in a row the instance is marked failed
//! and gets no more calls (its thread may stay stuck; it is abandoned, not killed).

use std::ffi::{c_char, c_void};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use posd_plugin_abi as abi;
use tokio::sync::oneshot;

use super::library::{Hooks, Loaded};
use super::process::{Isolated, Supervisor};
use super::services::HostContext;
use super::{CallError, Hook, PluginError};

/// Deadline misses in a row after which an in-process instance is marked failed.
pub const MISSES_BEFORE_FAILED: u32 = 3;

/// The most a plugin may answer in one response.
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// What an isolated call may take beyond the deadline before the caller stops waiting: the
/// instance's thread kills a late child itself and answers first.
const ISOLATED_GRACE: Duration = Duration::from_secs(3);

enum Job {
    Hook {
        hook: Hook,
        request: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, CallError>>,
    },
    Destroy,
}

/// Where an instance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// In a child process of its own (the default).
    Process,
    /// In the daemon's process, on a thread of its own.
    InProcess,
}

impl Isolation {
    /// The configuration's and `posctl plugins`' spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Process => "process",
            Isolation::InProcess => "in-process",
        }
    }
}

/// What an instance's thread and its callers share: whether it is failed, and for an
/// isolated one its child's pid, restarts and last crash.
#[derive(Debug)]
pub struct Status {
    isolation: Isolation,
    failed: AtomicBool,
    failure: Mutex<String>,
    /// The child's pid; 0 while none runs (and always in-process).
    pub pid: AtomicU32,
    /// Crashes, kills and failed restarts since the instance was created.
    pub restarts: AtomicU32,
    /// How the child ended the last time it crashed; "" if it never did.
    pub last_crash: Mutex<String>,
    changed: Option<Arc<tokio::sync::Notify>>,
}

impl Status {
    fn new(isolation: Isolation, changed: Option<Arc<tokio::sync::Notify>>) -> Self {
        Status {
            isolation,
            failed: AtomicBool::new(false),
            failure: Mutex::new(String::new()),
            pid: AtomicU32::new(0),
            restarts: AtomicU32::new(0),
            last_crash: Mutex::new(String::new()),
            changed,
        }
    }

    /// The last crash, for messages.
    pub fn last_crash(&self) -> String {
        self.last_crash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops calling the instance.
    pub fn mark_failed(&self, id: &str, reason: &str) {
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = reason.to_string();
        if !self.failed.swap(true, Ordering::SeqCst) {
            tracing::error!(plugin = %id, "plugin failed: {reason}");
        }
        self.changed();
    }

    /// Tells the manager to publish the instance's state again.
    pub fn changed(&self) {
        if let Some(changed) = &self.changed {
            changed.notify_one();
        }
    }
}

/// A created plugin instance.
pub struct Instance {
    id: String,
    present: [bool; abi::HOOK_NAMES.len()],
    jobs: Mutex<mpsc::Sender<Job>>,
    deadline: Duration,
    misses: AtomicU32,
    status: Arc<Status>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("id", &self.id).finish()
    }
}

/// The instance pointer of a plugin; only ever used on the instance's thread.
pub(super) struct InstancePtr(pub(super) *mut c_void);
// SAFETY: the pointer is created, used and destroyed on the one instance thread; it merely
// travels there inside the thread's closure.
unsafe impl Send for InstancePtr {}

impl Instance {
    /// Starts the instance's thread and creates the instance on it with `config` (a JSON
    /// object). Fails if create fails or misses the deadline.
    pub fn start(
        loaded: &Loaded,
        config: Vec<u8>,
        host: HostContext,
        deadline: Duration,
    ) -> Result<Arc<Instance>, PluginError> {
        let Some(native) = loaded.native else {
            return Err(PluginError::Create {
                id: loaded.id.clone(),
                reason: "its library is not mapped in the daemon".into(),
            });
        };
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (created_tx, created_rx) = mpsc::channel::<Result<(), String>>();
        let descriptor = native.descriptor;
        let hooks = native.hooks;
        let id = loaded.id.clone();
        let thread = std::thread::Builder::new()
            .name(format!("plugin-{id}"))
            .spawn(move || {
                // Both live on this thread until destroy returned; the host_api points into
                // `host`, which therefore must not move: it is boxed.
                let host = Box::new(host);
                let api = host.api();
                let instance = match create(descriptor, &api, &config) {
                    Ok(instance) => {
                        let _ = created_tx.send(Ok(()));
                        instance
                    }
                    Err(reason) => {
                        let _ = created_tx.send(Err(reason));
                        return;
                    }
                };
                while let Ok(job) = job_rx.recv() {
                    match job {
                        Job::Hook {
                            hook,
                            request,
                            reply,
                        } => {
                            let result = call_hook(descriptor, &hooks, instance.0, hook, &request);
                            let _ = reply.send(result);
                        }
                        Job::Destroy => break,
                    }
                }
                if let Some(destroy) = descriptor.destroy {
                    // SAFETY: the instance came from this plugin's create and is destroyed
                    // once, on its own thread, after its last call.
                    unsafe { destroy(instance.0) };
                }
                // `api` and `host` go out of scope only here, after destroy returned.
            })
            .map_err(|e| PluginError::Load {
                path: Default::default(),
                reason: format!("cannot start its thread: {e}"),
            })?;
        drop(thread);
        match created_rx.recv_timeout(deadline.max(Duration::from_secs(5))) {
            Ok(Ok(())) => Ok(Arc::new(Instance {
                id: loaded.id.clone(),
                present: loaded.present,
                jobs: Mutex::new(jobs),
                deadline,
                misses: AtomicU32::new(0),
                status: Arc::new(Status::new(Isolation::InProcess, None)),
            })),
            Ok(Err(reason)) => Err(PluginError::Create {
                id: loaded.id.clone(),
                reason,
            }),
            Err(_) => Err(PluginError::Create {
                id: loaded.id.clone(),
                reason: "create did not return in time".into(),
            }),
        }
    }

    /// Starts the instance's thread, which starts the plugin's child process (walled in as
    /// `isolated` says) and creates the instance in it. Fails if create fails or the child
    /// does not start. `changed` is told when the child crashes or comes back.
    #[allow(clippy::too_many_arguments)]
    pub fn start_isolated(
        loaded: &Loaded,
        snapshot: &Path,
        shown_as: &Path,
        config: Vec<u8>,
        host: HostContext,
        deadline: Duration,
        isolated: Isolated,
        changed: Arc<tokio::sync::Notify>,
    ) -> Result<Arc<Instance>, PluginError> {
        let status = Arc::new(Status::new(Isolation::Process, Some(changed)));
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (created_tx, created_rx) = mpsc::channel::<Result<(), String>>();
        let id = loaded.id.clone();
        let snapshot = snapshot.to_path_buf();
        let shown_as = shown_as.to_path_buf();
        let thread_status = status.clone();
        std::thread::Builder::new()
            .name(format!("plugin-{id}"))
            .spawn(move || {
                // The children are started from this thread, which lives as long as the
                // instance: PR_SET_PDEATHSIG is tied to the thread that started a child.
                let mut supervisor = match Supervisor::start(
                    &id,
                    &snapshot,
                    &shown_as,
                    config,
                    host,
                    deadline,
                    isolated,
                    thread_status,
                ) {
                    Ok(s) => {
                        let _ = created_tx.send(Ok(()));
                        s
                    }
                    Err(reason) => {
                        let _ = created_tx.send(Err(reason));
                        return;
                    }
                };
                loop {
                    let job = match supervisor.restart_at() {
                        Some(at) => {
                            match job_rx.recv_timeout(at.saturating_duration_since(Instant::now()))
                            {
                                Ok(job) => job,
                                Err(mpsc::RecvTimeoutError::Timeout) => {
                                    supervisor.restart();
                                    continue;
                                }
                                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                            }
                        }
                        None => match job_rx.recv() {
                            Ok(job) => job,
                            Err(_) => break,
                        },
                    };
                    match job {
                        Job::Hook {
                            hook,
                            request,
                            reply,
                        } => {
                            let _ = reply.send(supervisor.call(hook, &request));
                        }
                        Job::Destroy => break,
                    }
                }
                supervisor.stop();
            })
            .map_err(|e| PluginError::Load {
                path: Default::default(),
                reason: format!("cannot start its thread: {e}"),
            })?;
        match created_rx.recv() {
            Ok(Ok(())) => Ok(Arc::new(Instance {
                id: loaded.id.clone(),
                present: loaded.present,
                jobs: Mutex::new(jobs),
                deadline,
                misses: AtomicU32::new(0),
                status,
            })),
            Ok(Err(reason)) => Err(PluginError::Create {
                id: loaded.id.clone(),
                reason,
            }),
            Err(_) => Err(PluginError::Create {
                id: loaded.id.clone(),
                reason: "its supervisor stopped".into(),
            }),
        }
    }

    /// Where it runs.
    pub fn isolation(&self) -> Isolation {
        self.status.isolation
    }

    /// Its child's state: pid (0 if none runs), restarts, last crash.
    pub fn process(&self) -> (u32, u32, String) {
        (
            self.status.pid.load(Ordering::SeqCst),
            self.status.restarts.load(Ordering::SeqCst),
            self.status.last_crash(),
        )
    }

    /// The plugin id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the plugin implements `hook`.
    pub fn has(&self, hook: Hook) -> bool {
        self.present[hook as usize]
    }

    /// Why the instance is failed, if it is.
    pub fn failure(&self) -> Option<String> {
        self.status.failed.load(Ordering::SeqCst).then(|| {
            self.status
                .failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        })
    }

    /// Calls `hook` with `request` and waits at most the deadline.
    pub async fn call(
        self: &Arc<Self>,
        hook: Hook,
        request: &serde_json::Value,
    ) -> Result<serde_json::Value, CallError> {
        self.enqueue(hook, request)?.answer().await
    }

    /// Puts the call in the instance's queue now and returns what waits for its answer:
    /// calls enqueued one after another reach the plugin in that order, even when their
    /// answers are awaited elsewhere (a commit notification, then the next prepare).
    pub fn enqueue(
        self: &Arc<Self>,
        hook: Hook,
        request: &serde_json::Value,
    ) -> Result<PendingCall, CallError> {
        self.enqueue_typed(hook, request)
    }

    /// [`Instance::enqueue`] of any request that serializes to the hook's JSON, written
    /// straight to the bytes the plugin reads (no `Value` tree in between).
    pub fn enqueue_typed<Q: serde::Serialize + ?Sized>(
        self: &Arc<Self>,
        hook: Hook,
        request: &Q,
    ) -> Result<PendingCall, CallError> {
        if let Some(reason) = self.failure() {
            return Err(CallError::Failed(format!(
                "plugin {} is failed: {reason}",
                self.id
            )));
        }
        if !self.has(hook) {
            return Err(CallError::NotImplemented);
        }
        let bytes = serde_json::to_vec(request)
            .map_err(|e| CallError::Failed(format!("cannot encode the request: {e}")))?;
        let (reply, answer) = oneshot::channel();
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(Job::Hook {
                hook,
                request: bytes,
                reply,
            });
        if sent.is_err() {
            return Err(CallError::Failed(format!("plugin {} has stopped", self.id)));
        }
        Ok(PendingCall {
            instance: self.clone(),
            hook,
            answer,
        })
    }
}

/// A hook call in an instance's queue: [`PendingCall::answer`] waits for it.
pub struct PendingCall {
    instance: Arc<Instance>,
    hook: Hook,
    answer: oneshot::Receiver<Result<Vec<u8>, CallError>>,
}

impl PendingCall {
    /// Waits at most the plugin's deadline for the answer; counts missed deadlines.
    pub async fn answer(self) -> Result<serde_json::Value, CallError> {
        self.answer_as().await
    }

    /// [`PendingCall::answer`] read straight from the plugin's bytes as the schema type
    /// `T` the hook answers; an answer that is not JSON or does not fit is the plugin's
    /// failure, naming the plugin and the hook.
    pub async fn answer_as<T: serde::de::DeserializeOwned>(self) -> Result<T, CallError> {
        let Self {
            instance,
            hook,
            answer,
        } = self;
        let bytes = instance.wait(hook, answer).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            CallError::Failed(if e.is_data() {
                format!("plugin {}: {} answer: {e}", instance.id, hook.name())
            } else {
                format!(
                    "plugin {} answered {} with malformed JSON: {e}",
                    instance.id,
                    hook.name()
                )
            })
        })
    }
}

impl Instance {
    async fn wait(
        &self,
        hook: Hook,
        answer: oneshot::Receiver<Result<Vec<u8>, CallError>>,
    ) -> Result<Vec<u8>, CallError> {
        let isolated = self.status.isolation == Isolation::Process;
        let patience = if isolated {
            self.deadline + ISOLATED_GRACE
        } else {
            self.deadline
        };
        match tokio::time::timeout(patience, answer).await {
            Ok(Ok(result)) => {
                self.misses.store(0, Ordering::SeqCst);
                result.map_err(|e| e.named(&self.id))
            }
            Ok(Err(_)) => Err(CallError::Failed(format!(
                "plugin {} stopped during the call",
                self.id
            ))),
            Err(_) if isolated => Err(CallError::Failed(format!(
                "plugin {} did not answer {} within {} ms",
                self.id,
                hook.name(),
                patience.as_millis()
            ))),
            Err(_) => {
                let misses = self.misses.fetch_add(1, Ordering::SeqCst) + 1;
                let message = format!(
                    "plugin {} did not answer {} within {} ms",
                    self.id,
                    hook.name(),
                    self.deadline.as_millis()
                );
                tracing::warn!(plugin = %self.id, misses, "{message}");
                if misses >= MISSES_BEFORE_FAILED {
                    self.mark_failed(&format!("missed its deadline {misses} times in a row"));
                }
                Err(CallError::Failed(message))
            }
        }
    }

    /// Stops calling the instance.
    pub fn mark_failed(&self, reason: &str) {
        self.status.mark_failed(&self.id, reason);
    }

    /// Destroys the instance on its thread after the calls already queued. The library
    /// stays loaded.
    pub fn retire(&self) {
        let _ = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(Job::Destroy);
    }
}

pub(super) fn create(
    descriptor: &'static abi::posd_plugin_descriptor,
    api: &abi::posd_host_api,
    config: &[u8],
) -> Result<InstancePtr, String> {
    let Some(create) = descriptor.create else {
        return Err("no create function".into());
    };
    let mut error = abi::posd_buffer::empty();
    // SAFETY: create is the plugin's, called with a valid host_api that outlives the
    // instance, a config buffer valid during the call and an empty error buffer.
    let instance = unsafe {
        create(
            api,
            config.as_ptr().cast::<c_char>(),
            config.len(),
            &mut error,
        )
    };
    let error_text = take_buffer(descriptor, &mut error);
    if instance.is_null() {
        let reason = match error_text {
            Ok(Some(bytes)) => describe_error_object(&bytes),
            _ => "create returned NULL without saying why".into(),
        };
        return Err(reason);
    }
    Ok(InstancePtr(instance))
}

pub(super) fn call_hook(
    descriptor: &'static abi::posd_plugin_descriptor,
    hooks: &Hooks,
    instance: *mut c_void,
    hook: Hook,
    request: &[u8],
) -> Result<Vec<u8>, CallError> {
    let Some(function) = hooks.0[hook as usize] else {
        return Err(CallError::NotImplemented);
    };
    let mut response = abi::posd_buffer::empty();
    // SAFETY: the hook is the plugin's, called on the instance's thread with its instance,
    // a request valid during the call and an empty response buffer.
    let status = unsafe {
        function(
            instance,
            request.as_ptr().cast::<c_char>(),
            request.len(),
            &mut response,
        )
    };
    let body = take_buffer(descriptor, &mut response).map_err(CallError::Failed)?;
    match (status, body) {
        (abi::POSD_OK, Some(bytes)) => Ok(bytes),
        (abi::POSD_OK, None) => Err(CallError::Failed(format!(
            "{} returned no response",
            hook.name()
        ))),
        (abi::POSD_ERROR, Some(bytes)) => Err(parse_error_object(&bytes)),
        (abi::POSD_ERROR, None) => Err(CallError::Failed(format!(
            "{} failed without an error object",
            hook.name()
        ))),
        (other, _) => Err(CallError::Failed(format!(
            "{} returned the unknown status {other}",
            hook.name()
        ))),
    }
}

/// Copies a buffer the plugin wrote and hands it back to the plugin to free.
fn take_buffer(
    descriptor: &'static abi::posd_plugin_descriptor,
    buffer: &mut abi::posd_buffer,
) -> Result<Option<Vec<u8>>, String> {
    if buffer.data.is_null() {
        return if buffer.len == 0 {
            Ok(None)
        } else {
            Err(format!(
                "it returned a NULL buffer of length {}",
                buffer.len
            ))
        };
    }
    let result = if buffer.len > MAX_RESPONSE {
        Err(format!("its response of {} bytes is too large", buffer.len))
    } else {
        // SAFETY: the plugin wrote `len` bytes at `data`, which stay valid until it frees them.
        Ok(Some(
            unsafe { std::slice::from_raw_parts(buffer.data.cast::<u8>(), buffer.len) }.to_vec(),
        ))
    };
    if let Some(free) = descriptor.free_buffer {
        // SAFETY: the buffer is the plugin's own, freed once by its own function.
        unsafe { free(buffer) };
    }
    result
}

pub(super) fn parse_error_object(bytes: &[u8]) -> CallError {
    #[derive(serde::Deserialize)]
    struct ErrorObject {
        error: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<ErrorObject>(bytes) {
        Ok(e) => CallError::Refused {
            error: e.error,
            message: e.message,
        },
        Err(e) => CallError::Failed(format!("its error object is malformed: {e}")),
    }
}

fn describe_error_object(bytes: &[u8]) -> String {
    match parse_error_object(bytes) {
        CallError::Refused { error, message } => format!("{error}: {message}"),
        CallError::Failed(reason) => reason,
        CallError::NotImplemented => "create failed".into(),
    }
}
