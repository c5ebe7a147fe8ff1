//! Printer supervisor: connects, polls the real-time status, prints the queue in order, opens
//! the drawer.
//!
//! A job is taken from the durable queue only while the printer says it can print, written,
//! and marked printed only if the status afterwards is still fine; otherwise it stays queued
//! and prints when the printer is back (see [`crate::print_queue`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use posd_printer::{PrinterStatus, Profile, Transport};

use super::{
    Backoff, Device, DeviceError, DeviceEvent, DeviceState, DeviceStatus, PaperStatus, set_state,
};
use crate::config::DeviceConfig;
use crate::print_queue;
use crate::store::Database;

/// How long a TCP connect or a status answer may take.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Requests to a printer's supervisor thread.
#[derive(Debug)]
pub enum PrinterCommand {
    /// New jobs are queued: look at the queue now.
    Wake,
    /// Kick the drawer now, or answer that the printer is unavailable.
    OpenDrawer(oneshot::Sender<Result<(), DeviceError>>),
    /// End the supervisor.
    Stop,
}

/// Printer settings taken from the device's configuration entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterSettings {
    /// Rendering profile: columns, code page, dots per line.
    pub profile: Profile,
    /// Drawer kick pin (2 or 5) and pulse length.
    pub drawer_pin: u8,
    /// Drawer pulse on-time in milliseconds.
    pub drawer_pulse_ms: u16,
    /// How often to ask an idle printer for its status.
    pub status_poll: Duration,
}

impl PrinterSettings {
    /// The settings in a device's configuration entry, with the printer defaults filled in:
    /// 42 columns on 512 dots (80 mm), PC858, drawer on pin 2 with a 100 ms pulse.
    pub fn of(config: &DeviceConfig) -> Result<Self, posd_printer::Error> {
        let columns = config.columns.unwrap_or(42);
        let dots = config.dots_per_line.unwrap_or(match columns {
            32 => 384,
            42 => 512,
            _ => 576,
        });
        let code_page = config.code_page.unwrap_or(posd_printer::CodePage::Pc858);
        Ok(Self {
            profile: Profile::new(columns, code_page, dots, true)?,
            drawer_pin: config.drawer_pin.unwrap_or(2),
            drawer_pulse_ms: config.drawer_pulse_ms.unwrap_or(100),
            status_poll: Duration::from_millis(config.status_poll_ms.unwrap_or(1000)),
        })
    }

    fn drawer_kick(&self) -> Vec<u8> {
        let pin = if self.drawer_pin == 5 {
            posd_printer::DrawerPin::Pin5
        } else {
            posd_printer::DrawerPin::Pin2
        };
        posd_printer::drawer_kick(pin, self.drawer_pulse_ms, self.drawer_pulse_ms * 2)
    }
}

/// The bus side's handle on a printer.
#[derive(Debug)]
pub struct PrinterHandle {
    name: String,
    connection: String,
    /// Store and register id, printed on the test page.
    identity: (String, String),
    settings: PrinterSettings,
    db: Database,
    commands: Mutex<Sender<PrinterCommand>>,
}

impl PrinterHandle {
    /// Hands a command to the supervisor (ignored once it has ended).
    pub fn send(&self, command: PrinterCommand) {
        let _ = self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(command);
    }

    /// The rendering profile (columns, code page, dots).
    pub fn profile(&self) -> Profile {
        self.settings.profile
    }

    /// The bytes that open this printer's drawer: `ESC p m t1 t2` with its configured pin
    /// and pulse, for a kick queued as a print job behind a receipt.
    pub fn drawer_kick(&self) -> Vec<u8> {
        self.settings.drawer_kick()
    }

    /// Queues the technician's test page; it shows its own job id.
    pub async fn print_test_page(&self) -> Result<String, DeviceError> {
        let profile = self.settings.profile;
        let name = self.name.clone();
        let connection = self.connection.clone();
        let (store_id, register_id) = self.identity.clone();
        self.enqueue_with("test_page", "", move |job_id| {
            let info = posd_printer::TestPageInfo {
                device_name: &name,
                connection: &connection,
                store_id: &store_id,
                register_id: &register_id,
                version: env!("CARGO_PKG_VERSION"),
                job_id,
            };
            let rendered =
                posd_printer::render(&posd_printer::test_page(&profile, &info), &profile);
            for warning in &rendered.warnings {
                tracing::warn!(device = %name, "test page: {warning}");
            }
            rendered.bytes
        })
        .await
    }

    /// Queues a committed receipt again.
    pub async fn print_receipt(&self, receipt_id: &str) -> Result<String, DeviceError> {
        // The receipt journal arrives with the sales engine; until then no receipt exists.
        Err(DeviceError::NotFound(format!("no receipt {receipt_id:?}")))
    }

    /// Queues what `render` makes of the job id, and wakes the supervisor.
    pub async fn enqueue_with(
        &self,
        kind: &'static str,
        reference: &str,
        render: impl FnOnce(&str) -> Vec<u8> + Send + 'static,
    ) -> Result<String, DeviceError> {
        let device = self.name.clone();
        let reference = reference.to_string();
        let job_id = self
            .db
            .call(move |c| print_queue::enqueue_with(c, &device, kind, &reference, render))
            .await?;
        tracing::info!(device = %self.name, job = %job_id, kind, "queued");
        self.send(PrinterCommand::Wake);
        Ok(job_id)
    }

    /// Opens the drawer now.
    pub async fn open_drawer(&self) -> Result<(), DeviceError> {
        let (tx, rx) = oneshot::channel();
        self.send(PrinterCommand::OpenDrawer(tx));
        match tokio::time::timeout(IO_TIMEOUT * 3, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(DeviceError::Unavailable(format!(
                "{} is stopping",
                self.name
            ))),
            Err(_) => Err(DeviceError::Unavailable(format!(
                "{} did not answer in time",
                self.name
            ))),
        }
    }
}

/// Starts the supervisor of the printer `config` describes.
pub(super) fn start(
    config: &DeviceConfig,
    identity: (String, String),
    db: Database,
    stop: Arc<AtomicBool>,
    events: UnboundedSender<DeviceEvent>,
) -> (Arc<Device>, Option<JoinHandle<()>>) {
    // Configuration validation has checked the settings already.
    let settings = PrinterSettings::of(config).unwrap_or_else(|e| {
        tracing::error!(device = %config.name, "{e}; using the defaults");
        PrinterSettings {
            profile: Profile::paper_80mm_512(posd_printer::CodePage::Pc858),
            drawer_pin: 2,
            drawer_pulse_ms: 100,
            status_poll: Duration::from_secs(1),
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let connection = posd_printer::Connection::parse(&config.connection);
    let label = connection
        .as_ref()
        .map(|c| c.to_string())
        .unwrap_or_else(|_| config.connection.clone());
    let device = Arc::new(Device {
        name: config.name.clone(),
        kind: config.kind,
        connection: label.clone(),
        columns: u32::from(settings.profile.columns),
        status: Mutex::new(DeviceStatus {
            state: DeviceState::Offline,
            last_error: "not connected yet".into(),
            paper: PaperStatus::default(),
            queue_length: 0,
            rejected_scans: 0,
        }),
        printer: Some(PrinterHandle {
            name: config.name.clone(),
            connection: label,
            identity,
            settings: settings.clone(),
            db: db.clone(),
            commands: Mutex::new(tx),
        }),
    });
    let connection = match connection {
        Ok(c) => c,
        Err(e) => {
            set_state(&device, &events, DeviceState::Error, &e.to_string());
            return (device, None);
        }
    };
    let worker = Worker {
        device: device.clone(),
        connection,
        settings,
        db,
        commands: rx,
        events,
        stop,
    };
    let thread = std::thread::Builder::new()
        .name(format!("printer-{}", config.name))
        .spawn(move || worker.run());
    match thread {
        Ok(thread) => (device, Some(thread)),
        Err(e) => {
            tracing::error!("cannot start the printer thread: {e}");
            (device, None)
        }
    }
}

struct Worker {
    device: Arc<Device>,
    connection: posd_printer::Connection,
    settings: PrinterSettings,
    db: Database,
    commands: Receiver<PrinterCommand>,
    events: UnboundedSender<DeviceEvent>,
    stop: Arc<AtomicBool>,
}

/// Why the supervisor left a connection.
enum Leave {
    Stop,
    Lost(String),
}

impl Worker {
    fn run(self) {
        let mut backoff = Backoff::default();
        self.refresh_queue_length();
        while !self.stop.load(Ordering::SeqCst) {
            match posd_printer::connect(&self.connection, IO_TIMEOUT) {
                Ok(transport) => {
                    backoff.reset();
                    match self.serve(transport) {
                        Leave::Stop => return,
                        Leave::Lost(reason) => self.set(DeviceState::Offline, &reason),
                    }
                }
                Err(e) => self.set(DeviceState::Offline, &e.to_string()),
            }
            if self.wait_offline(backoff.next_delay()) {
                return;
            }
        }
    }

    /// Waits out a backoff delay, answering commands as an offline printer must. True when
    /// told to stop.
    fn wait_offline(&self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            match self.commands.recv_timeout(deadline - now) {
                Ok(PrinterCommand::Stop) | Err(RecvTimeoutError::Disconnected) => return true,
                Ok(PrinterCommand::Wake) => self.refresh_queue_length(),
                Ok(PrinterCommand::OpenDrawer(reply)) => {
                    let _ = reply.send(Err(self.unavailable()));
                }
                Err(RecvTimeoutError::Timeout) => return false,
            }
        }
    }

    fn unavailable(&self) -> DeviceError {
        let status = self.device.status();
        DeviceError::Unavailable(format!(
            "{} is {}: {}",
            self.device.name,
            status.state.as_str(),
            status.last_error
        ))
    }

    fn serve(&self, mut transport: Box<dyn Transport + Send>) -> Leave {
        let mut status = match self.poll(&mut *transport) {
            Ok(status) => status,
            Err(reason) => return Leave::Lost(reason),
        };
        let mut last_poll = Instant::now();
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Leave::Stop;
            }
            if can_print(status.as_ref()) {
                match self.print_next(&mut *transport) {
                    Ok(Some(after)) => {
                        status = after;
                        last_poll = Instant::now();
                        continue;
                    }
                    Ok(None) => {}
                    Err(reason) => return Leave::Lost(reason),
                }
            }
            let wait = self
                .settings
                .status_poll
                .saturating_sub(last_poll.elapsed());
            match self.commands.recv_timeout(wait) {
                Ok(PrinterCommand::Stop) | Err(RecvTimeoutError::Disconnected) => {
                    return Leave::Stop;
                }
                Ok(PrinterCommand::Wake) => self.refresh_queue_length(),
                Ok(PrinterCommand::OpenDrawer(reply)) => {
                    if self.device.status().state == DeviceState::Offline {
                        let _ = reply.send(Err(self.unavailable()));
                        continue;
                    }
                    let kick = self.settings.drawer_kick();
                    match transport.write_all(&kick) {
                        Ok(()) => {
                            tracing::info!(device = %self.device.name, "drawer opened");
                            let _ = reply.send(Ok(()));
                        }
                        Err(e) => {
                            let _ = reply.send(Err(DeviceError::Unavailable(e.to_string())));
                            return Leave::Lost(e.to_string());
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if last_poll.elapsed() >= self.settings.status_poll {
                match self.poll(&mut *transport) {
                    Ok(s) => status = s,
                    Err(reason) => return Leave::Lost(reason),
                }
                last_poll = Instant::now();
            }
        }
    }

    /// Asks for the status and publishes it. `Ok(None)` for a write-only transport.
    fn poll(&self, transport: &mut dyn Transport) -> Result<Option<PrinterStatus>, String> {
        let status = transport
            .query_status(IO_TIMEOUT)
            .map_err(|e| e.to_string())?;
        self.publish(status.as_ref());
        Ok(status)
    }

    fn publish(&self, status: Option<&PrinterStatus>) {
        let paper = status.map_or_else(PaperStatus::default, |s| PaperStatus {
            paper_near_end: s.paper_near_end,
            paper_out: s.paper_out,
            cover_open: s.cover_open,
        });
        let before = self.device.update(|s| s.paper = paper);
        if before.paper != paper {
            let _ = self.events.send(DeviceEvent::StatusChanged {
                device: self.device.clone(),
                before,
            });
        }
        match status.map(problem) {
            Some(Some(problem)) => self.set(DeviceState::Error, problem),
            _ => self.set(DeviceState::Online, ""),
        }
    }

    /// Prints the oldest waiting job, if any. Returns the status seen after it.
    fn print_next(
        &self,
        transport: &mut dyn Transport,
    ) -> Result<Option<Option<PrinterStatus>>, String> {
        let device = self.device.name.clone();
        let job = match self
            .db
            .call_blocking(move |c| print_queue::next(c, &device))
        {
            Ok(Some(job)) => job,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::error!(device = %self.device.name, "print queue: {e}");
                return Ok(None);
            }
        };
        let job_id = job.job_id();
        if let Err(e) = transport.write_all(&job.bytes) {
            self.record_attempt(job.id, &e.to_string());
            return Err(e.to_string());
        }
        let after = self.poll(transport)?;
        if can_print(after.as_ref()) {
            match self
                .db
                .call_blocking(move |c| print_queue::mark_printed(c, job.id))
            {
                // A secret slip's bytes were wiped: no copy may stay in the WAL either.
                Ok(true) => self.db.truncate_wal(),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(device = %self.device.name, job = %job_id, "cannot record the print: {e}");
                    return Ok(Some(after));
                }
            }
            tracing::info!(device = %self.device.name, job = %job_id, "printed");
            self.refresh_queue_length();
            let _ = self.events.send(DeviceEvent::JobDone {
                device: self.device.clone(),
                job_id,
                state: "printed",
            });
        } else {
            let reason = after
                .as_ref()
                .and_then(problem)
                .unwrap_or("printer not ready");
            tracing::warn!(device = %self.device.name, job = %job_id, "not printed, kept in the queue: {reason}");
            self.record_attempt(job.id, reason);
        }
        Ok(Some(after))
    }

    fn record_attempt(&self, id: i64, reason: &str) {
        let reason = reason.to_string();
        if let Err(e) = self
            .db
            .call_blocking(move |c| print_queue::record_failed_attempt(c, id, &reason))
        {
            tracing::error!(device = %self.device.name, "print queue: {e}");
        }
    }

    fn refresh_queue_length(&self) {
        let device = self.device.name.clone();
        match self
            .db
            .call_blocking(move |c| print_queue::queue_length(c, &device))
        {
            Ok(length) => {
                let before = self.device.update(|s| s.queue_length = length);
                if before.queue_length != length {
                    let _ = self.events.send(DeviceEvent::StatusChanged {
                        device: self.device.clone(),
                        before,
                    });
                }
            }
            Err(e) => tracing::error!(device = %self.device.name, "print queue: {e}"),
        }
    }

    fn set(&self, state: DeviceState, reason: &str) {
        set_state(&self.device, &self.events, state, reason);
    }
}

/// Whether a job may be sent: a write-only transport (no status) always; otherwise only
/// while the printer reports no fault.
fn can_print(status: Option<&PrinterStatus>) -> bool {
    status.is_none_or(|s| problem(s).is_none())
}

/// What keeps the printer from printing, in a technician's words.
fn problem(status: &PrinterStatus) -> Option<&'static str> {
    if status.paper_out {
        Some("paper out")
    } else if status.cover_open {
        Some("cover open")
    } else if status.error {
        Some("printer error")
    } else if !status.online {
        Some("printer reports offline")
    } else {
        None
    }
}
