//! The TCP printer: a port 9100 style socket that prints, answers status requests and can
//! be put "offline", plus a line-based control socket to change its state while running.
//!
//! It runs on background threads so a Rust test can start it in-process, point the daemon at
//! [`VirtualPrinter::local_addr`], flip states with [`VirtualPrinter::set_state`] and read
//! back what was printed with [`VirtualPrinter::wait_for_receipts`]. A drawer kick is
//! recorded the moment it arrives, as an [`Activity`] of its own beside the receipts, so
//! whoever watches the printer sees the drawer open when it opens, not with the next receipt.
//!
//! Each accepted connection is one ESC/POS stream with its own modes, and gets its own
//! thread, so a client that keeps its connection open cannot block the next one (the daemon
//! may hold a print connection while a health check polls the status).
//!
//! While the state does not allow printing (offline, paper out, cover open), commands are
//! still decoded so `DLE EOT` keeps being answered, but everything else is discarded and
//! recorded as a [`Job`] with [`Outcome::NotPrinted`], like data a real printer drops.

use std::fmt::Display;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::command::{Command, Parsed, Tokenizer};
use crate::error::Error;
use crate::interpret::Interpreter;
use crate::receipt::{DrawerKick, Output, Receipt};
use crate::status::{PrinterState, StatusKind};

/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(25);

/// Longest control command line accepted; longer input is answered with an error.
const MAX_CONTROL_LINE: usize = 1024;

/// How the virtual printer starts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The simulated state at start.
    pub state: PrinterState,
    /// Where to listen for control commands (`paper-out on`, `status`, …); none if `None`.
    pub control: Option<SocketAddr>,
}

/// What became of a receipt sent to the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It is on paper.
    Printed,
    /// The printer could not print and dropped the data.
    NotPrinted {
        /// The state that prevented printing, e.g. "paper out".
        reason: String,
    },
}

/// One receipt the printer received, printed or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// What it decoded to.
    pub receipt: Receipt,
    /// Whether it was printed.
    pub outcome: Outcome,
    /// The print data that made it, as sent from the end of the one before: status
    /// requests are not in it, nor a drawer kick sent on its own. A client that keeps the
    /// bytes of its jobs (the daemon's print queue) finds which of its jobs this was.
    pub bytes: Vec<u8>,
}

/// Everything the printer did, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// A receipt, printed or dropped.
    Job(Job),
    /// A drawer kick, recorded when it arrived; `NotPrinted` when the printer was not
    /// ready and ignored it, as a real one does.
    DrawerKick {
        /// The pulse asked for.
        kick: DrawerKick,
        /// Whether the drawer opened.
        outcome: Outcome,
    },
}

impl Activity {
    /// The job, if this was one.
    pub fn job(&self) -> Option<&Job> {
        match self {
            Activity::Job(job) => Some(job),
            Activity::DrawerKick { .. } => None,
        }
    }
}

impl Job {
    /// Whether the receipt is on paper.
    pub fn is_printed(&self) -> bool {
        self.outcome == Outcome::Printed
    }
}

/// State shared by the listener threads and the handle.
#[derive(Debug, Default)]
struct Shared {
    inner: Mutex<Inner>,
    changed: Condvar,
    stop: AtomicBool,
}

#[derive(Debug, Default)]
struct Inner {
    state: PrinterState,
    activity: Vec<Activity>,
}

impl Inner {
    fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.activity.iter().filter_map(Activity::job)
    }
}

impl Shared {
    /// The lock, recovering from a panicked holder: the data (a list and four flags) is
    /// always consistent, and a test helper must not take the printer down with it.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn state(&self) -> PrinterState {
        self.lock().state
    }

    fn record(&self, activity: Activity) {
        self.lock().activity.push(activity);
        self.changed.notify_all();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A running virtual printer; stops when dropped.
#[derive(Debug)]
pub struct VirtualPrinter {
    addr: SocketAddr,
    control_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl VirtualPrinter {
    /// Listen on `addr` (port 0 picks a free port) and start serving on background threads.
    pub fn bind<A: ToSocketAddrs + Display>(addr: A, options: Options) -> Result<Self, Error> {
        let shared = Arc::new(Shared::default());
        shared.lock().state = options.state;
        let printer = listen(&addr.to_string(), &addr)?;
        let local = local_addr(&printer)?;
        let mut threads = vec![spawn_acceptor(printer, local, &shared, serve_print)?];
        let mut control_addr = None;
        if let Some(control) = options.control {
            let listener = listen(&control.to_string(), control)?;
            let control_local = local_addr(&listener)?;
            control_addr = Some(control_local);
            threads.push(spawn_acceptor(
                listener,
                control_local,
                &shared,
                serve_control,
            )?);
        }
        Ok(VirtualPrinter {
            addr: local,
            control_addr,
            shared,
            threads,
        })
    }

    /// The address the printer listens on (with the real port if 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the control socket, if one was requested.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control_addr
    }

    /// The simulated state now.
    pub fn state(&self) -> PrinterState {
        self.shared.state()
    }

    /// Change the simulated state; takes effect for the next command of every connection.
    pub fn set_state(&self, state: PrinterState) {
        self.shared.lock().state = state;
    }

    /// Everything received so far, printed or not, in the order receipts were completed.
    pub fn jobs(&self) -> Vec<Job> {
        self.shared.lock().jobs().cloned().collect()
    }

    /// Receipts and drawer kicks so far, in the order they happened.
    pub fn activity(&self) -> Vec<Activity> {
        self.shared.lock().activity.clone()
    }

    /// The receipts on paper so far (finished ones, and unfinished ones whose connection
    /// closed), oldest first.
    pub fn receipts(&self) -> Vec<Receipt> {
        printed(&self.jobs())
    }

    /// The receipts that were dropped because the printer could not print.
    pub fn not_printed(&self) -> Vec<Receipt> {
        self.jobs()
            .into_iter()
            .filter(|job| !job.is_printed())
            .map(|job| job.receipt)
            .collect()
    }

    /// Wait until at least `count` jobs exist or `timeout` passes; returns all jobs.
    ///
    /// Data sent by a client is processed on another thread, so tests wait here instead of
    /// sleeping.
    pub fn wait_for_jobs(&self, count: usize, timeout: Duration) -> Vec<Job> {
        self.wait_until(timeout, |inner| inner.jobs().count() >= count)
            .iter()
            .filter_map(Activity::job)
            .cloned()
            .collect()
    }

    /// Wait until at least `count` receipts or drawer kicks happened or `timeout` passes;
    /// returns all of them, in order.
    pub fn wait_for_activity(&self, count: usize, timeout: Duration) -> Vec<Activity> {
        self.wait_until(timeout, |inner| inner.activity.len() >= count)
    }

    /// Wait until at least `count` receipts are printed or `timeout` passes; returns the
    /// printed receipts.
    pub fn wait_for_receipts(&self, count: usize, timeout: Duration) -> Vec<Receipt> {
        let activity = self.wait_until(timeout, |inner| {
            inner.jobs().filter(|j| j.is_printed()).count() >= count
        });
        let jobs: Vec<Job> = activity.iter().filter_map(Activity::job).cloned().collect();
        printed(&jobs)
    }

    fn wait_until(&self, timeout: Duration, done: impl Fn(&Inner) -> bool) -> Vec<Activity> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.shared.lock();
        while !done(&inner) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            inner = match self.shared.changed.wait_timeout(inner, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        inner.activity.clone()
    }

    /// Stop listening, close connections (recording their unfinished receipts) and wait for
    /// the threads. Dropping the printer does the same.
    pub fn stop(self) {}
}

impl Drop for VirtualPrinter {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn printed(jobs: &[Job]) -> Vec<Receipt> {
    jobs.iter()
        .filter(|job| job.is_printed())
        .map(|job| job.receipt.clone())
        .collect()
}

fn listen(name: &str, addr: impl ToSocketAddrs) -> Result<TcpListener, Error> {
    let listener = TcpListener::bind(addr).map_err(|source| Error::Bind {
        addr: name.to_string(),
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| Error::Bind {
            addr: name.to_string(),
            source,
        })?;
    Ok(listener)
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, Error> {
    listener.local_addr().map_err(|source| Error::Bind {
        addr: "bound socket".to_string(),
        source,
    })
}

/// Accept connections until stopped; one thread per connection.
fn spawn_acceptor(
    listener: TcpListener,
    addr: SocketAddr,
    shared: &Arc<Shared>,
    serve: fn(TcpStream, &Shared),
) -> Result<JoinHandle<()>, Error> {
    let shared = Arc::clone(shared);
    thread::Builder::new()
        .name(format!("vprinter-accept-{addr}"))
        .spawn(move || {
            let mut connections: Vec<JoinHandle<()>> = Vec::new();
            while !shared.stopped() {
                match listener.accept() {
                    Ok((stream, _)) => {
                        connections.retain(|c| !c.is_finished());
                        let shared = Arc::clone(&shared);
                        // If no thread can be started the connection is dropped; the client
                        // sees it closed, as with a printer that is busy.
                        if let Ok(handle) = thread::Builder::new()
                            .name("vprinter-conn".to_string())
                            .spawn(move || serve(stream, &shared))
                        {
                            connections.push(handle);
                        }
                    }
                    // WouldBlock: nobody waiting. Other errors (e.g. out of file
                    // descriptors) are transient for a listener: wait and retry.
                    Err(_) => thread::sleep(POLL),
                }
            }
            for connection in connections {
                let _ = connection.join();
            }
        })
        .map_err(|source| Error::Socket { addr, source })
}

/// Read a socket until EOF, error or stop, handing each chunk to `on_data`; stops early if
/// `on_data` returns false (the peer went away while we answered).
fn read_until_closed(
    mut stream: &TcpStream,
    shared: &Shared,
    mut on_data: impl FnMut(&[u8]) -> bool,
) {
    // Accepted sockets may inherit non-blocking mode on some platforms.
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 16 * 1024];
    while !shared.stopped() {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if !on_data(&buf[..n]) {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
}

/// The two interpreters of one print connection: what is printed, and what is dropped.
#[derive(Default)]
struct PrintConnection {
    printing: Interpreter,
    discarding: Interpreter,
    /// Why the current discarded receipt was dropped (state at its first dropped command).
    discard_reason: Option<String>,
    discarded_bytes: usize,
    /// The bytes of the receipt being printed, and of the one being dropped.
    printing_bytes: Vec<u8>,
    discarding_bytes: Vec<u8>,
}

impl PrintConnection {
    /// Handle one command of `bytes`; returns false if the status answer could not be sent.
    fn handle(
        &mut self,
        parsed: Parsed,
        bytes: &[u8],
        mut stream: &TcpStream,
        shared: &Shared,
    ) -> bool {
        let state = shared.state();
        if let Command::StatusRequest(n) = parsed.command {
            // Unknown requests are ignored, as real printers do; they are not print data.
            if let Some(kind) = StatusKind::from_request(n) {
                let byte = state.status_byte(kind);
                return stream
                    .write_all(&[byte])
                    .and_then(|()| stream.flush())
                    .is_ok();
            }
            return true;
        }
        match state.not_printing_reason() {
            None => {
                self.printing_bytes.extend_from_slice(bytes);
                match self.printing.apply(parsed.command) {
                    Some(Output::Receipt(receipt)) => {
                        let bytes = std::mem::take(&mut self.printing_bytes);
                        shared.record(Activity::Job(Job {
                            receipt,
                            outcome: Outcome::Printed,
                            bytes,
                        }));
                    }
                    Some(Output::DrawerKick(kick)) => {
                        // A kick sent on its own is no part of the next receipt's data.
                        if self.printing_bytes == bytes {
                            self.printing_bytes.clear();
                        }
                        shared.record(Activity::DrawerKick {
                            kick,
                            outcome: Outcome::Printed,
                        });
                    }
                    None => {}
                }
            }
            Some(reason) => {
                self.discard_reason.get_or_insert(reason.clone());
                self.discarded_bytes += parsed.len;
                self.discarding_bytes.extend_from_slice(bytes);
                match self.discarding.apply(parsed.command) {
                    Some(Output::Receipt(receipt)) => self.record_discarded(receipt, shared),
                    Some(Output::DrawerKick(kick)) => {
                        if self.discarding_bytes == bytes {
                            self.discarding_bytes.clear();
                        }
                        shared.record(Activity::DrawerKick {
                            kick,
                            outcome: Outcome::NotPrinted { reason },
                        });
                    }
                    None => {}
                }
            }
        }
        true
    }

    fn record_discarded(&mut self, mut receipt: Receipt, shared: &Shared) {
        let reason = self
            .discard_reason
            .take()
            .unwrap_or_else(|| "not ready".to_string());
        receipt.warnings.insert(
            0,
            format!(
                "not printed ({reason}): {} bytes discarded",
                std::mem::take(&mut self.discarded_bytes)
            ),
        );
        shared.record(Activity::Job(Job {
            receipt,
            outcome: Outcome::NotPrinted { reason },
            bytes: std::mem::take(&mut self.discarding_bytes),
        }));
    }

    /// Connection closed: record what is left of both streams.
    fn finish(mut self, shared: &Shared) {
        let discarding = std::mem::take(&mut self.discarding);
        if let Some(receipt) = discarding.finish() {
            self.record_discarded(receipt, shared);
        }
        if let Some(receipt) = self.printing.finish() {
            shared.record(Activity::Job(Job {
                receipt,
                outcome: Outcome::Printed,
                bytes: self.printing_bytes,
            }));
        }
    }
}

fn serve_print(stream: TcpStream, shared: &Shared) {
    let mut tokenizer = Tokenizer::new();
    let mut connection = PrintConnection::default();
    // The stream's bytes the tokenizer has not handed out as commands yet.
    let mut unparsed: Vec<u8> = Vec::new();
    read_until_closed(&stream, shared, |chunk| {
        unparsed.extend_from_slice(chunk);
        let mut used = 0;
        let answered = tokenizer.push(chunk).into_iter().all(|parsed| {
            let end = (used + parsed.len).min(unparsed.len());
            let bytes = &unparsed[used..end];
            used = end;
            connection.handle(parsed, bytes, &stream, shared)
        });
        unparsed.drain(..used);
        answered
    });
    if let Some(rest) = tokenizer.finish() {
        connection.handle(rest, &unparsed, &stream, shared);
    }
    connection.finish(shared);
}

fn serve_control(stream: TcpStream, shared: &Shared) {
    let mut line = Vec::new();
    let mut writer = &stream;
    read_until_closed(&stream, shared, |chunk| {
        for &byte in chunk {
            if byte != b'\n' {
                line.push(byte);
                if line.len() <= MAX_CONTROL_LINE {
                    continue;
                }
            }
            let text = String::from_utf8_lossy(&line).trim().to_string();
            line.clear();
            if text.is_empty() {
                continue;
            }
            let answer = control_command(&text, shared);
            if writer.write_all(format!("{answer}\n").as_bytes()).is_err() {
                return false;
            }
        }
        true
    });
}

/// Execute one control line and return the answer line (without newline).
///
/// Commands: `paper-out on|off`, `near-end on|off`, `cover-open on|off`, `offline on|off`
/// (answer `ok <state>`), `status` (answer `<state> printed=N not-printed=M`).
fn control_command(line: &str, shared: &Shared) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["status"] => {
            let (state, printed, not_printed) = shared.snapshot();
            format!("{state} printed={printed} not-printed={not_printed}")
        }
        [flag, value] => {
            let on = match *value {
                "on" => true,
                "off" => false,
                other => return format!("error: expected on or off, got {other:?}"),
            };
            let mut inner = shared.lock();
            let state = &mut inner.state;
            match *flag {
                "paper-out" => state.paper_out = on,
                "near-end" | "paper-near-end" => state.paper_near_end = on,
                "cover-open" => state.cover_open = on,
                "offline" => state.offline = on,
                other => return format!("error: unknown setting {other:?}"),
            }
            format!("ok {state}")
        }
        _ => format!(
            "error: unknown command {line:?}; use paper-out|near-end|cover-open|offline on|off, or status"
        ),
    }
}

impl Shared {
    /// The state and the number of printed and not printed jobs, for `status`.
    fn snapshot(&self) -> (PrinterState, usize, usize) {
        let inner = self.lock();
        let printed = inner.jobs().filter(|j| j.is_printed()).count();
        (inner.state, printed, inner.jobs().count() - printed)
    }
}
