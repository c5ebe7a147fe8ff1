//! The till's hardware as the daemon runs it: one supervisor thread per configured device.
//!
//! The daemon knows devices only as "a scanner" or "a printer" behind a connection string;
//! everything about a particular scanner or printer lives in the driver crates
//! (`posd-scanner`, `posd-printer`). A supervisor opens its device, runs it until it fails,
//! reports `offline` with the reason, and tries again with capped exponential backoff, so an
//! unplugged scanner or a printer that dropped its TCP connection comes back by itself and
//! never blocks the daemon or another device.
//!
//! Supervisors report through [`DeviceEvent`]s; [`crate::bus`] turns those into properties and
//! signals. A configuration reload adds, removes and restarts devices without a restart of the
//! daemon.

mod backoff;
mod printer;
mod scanner;

pub use backoff::Backoff;
pub use printer::{PrinterCommand, PrinterHandle, PrinterSettings};
pub use scanner::{classify, classify_code, framing_of};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use tokio::sync::mpsc::UnboundedSender;

use crate::config::{Config, DeviceConfig, DeviceKind};
use crate::store::Database;

/// Why a device could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The device is not reachable and the request can't wait for it.
    #[error("{0}")]
    Unavailable(String),
    /// What the request names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The print queue could not be written.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Whether a device works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// Connected and usable.
    Online,
    /// Not reachable (unplugged, connection refused, closed); being retried.
    Offline,
    /// Reachable but not usable (paper out, cover open, printer error).
    Error,
}

impl DeviceState {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Online => "online",
            DeviceState::Offline => "offline",
            DeviceState::Error => "error",
        }
    }
}

/// What a printer last said about itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaperStatus {
    /// The roll is nearly used up.
    pub paper_near_end: bool,
    /// No paper: nothing prints.
    pub paper_out: bool,
    /// The cover is open: nothing prints.
    pub cover_open: bool,
}

/// The live status of one device, read by the bus objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStatus {
    /// online / offline / error
    pub state: DeviceState,
    /// Why it is not online ("" when it is).
    pub last_error: String,
    /// Printer only.
    pub paper: PaperStatus,
    /// Printer only: jobs waiting.
    pub queue_length: u32,
    /// Scanner only: scans refused as misreads since start.
    pub rejected_scans: u32,
}

/// A configured device as the bus objects see it.
#[derive(Debug)]
pub struct Device {
    /// Configured name; the object path's last element.
    pub name: String,
    /// Scanner or printer.
    pub kind: DeviceKind,
    /// Human-readable connection, e.g. `serial:/dev/ttyUSB0@9600`.
    pub connection: String,
    /// Printer only: characters per line.
    pub columns: u32,
    status: Mutex<DeviceStatus>,
    printer: Option<printer::PrinterHandle>,
}

impl Device {
    /// A snapshot of the status.
    pub fn status(&self) -> DeviceStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes the status; returns the old one.
    pub fn update(&self, change: impl FnOnce(&mut DeviceStatus)) -> DeviceStatus {
        let mut guard = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let before = guard.clone();
        change(&mut guard);
        before
    }

    /// The printer side of a printer device.
    pub fn printer(&self) -> Option<&printer::PrinterHandle> {
        self.printer.as_ref()
    }

    /// D-Bus object path of the device.
    pub fn object_path(&self) -> String {
        format!("{}/device/{}", crate::bus::ROOT_PATH, self.name)
    }
}

/// What supervisors report. Sent over an unbounded channel: a supervisor must never block
/// on the bus.
#[derive(Debug)]
pub enum DeviceEvent {
    /// The device's status changed (state, paper, queue).
    StatusChanged {
        /// The device.
        device: Arc<Device>,
        /// Its status before the change.
        before: DeviceStatus,
    },
    /// A scanner read a code.
    Scanned {
        /// The scanner.
        device: Arc<Device>,
        /// What was read.
        scan: posd_scanner::Scan,
    },
    /// A print job finished.
    JobDone {
        /// The printer.
        device: Arc<Device>,
        /// Job id.
        job_id: String,
        /// `printed` or `failed`.
        state: &'static str,
    },
}

/// Settings that all devices of a kind share.
#[derive(Debug, Clone)]
pub struct SharedSettings {
    /// How in-store EAN-13 codes (prefix 20–29) are decoded.
    pub decode: posd_scanner::DecodeOptions,
    /// Store and register id, for printed test pages.
    pub identity: (String, String),
}

impl SharedSettings {
    /// The shared settings a configuration describes.
    pub fn of(config: &Config) -> Self {
        Self {
            decode: posd_scanner::DecodeOptions {
                in_store: config.scanning.in_store.clone(),
                ..Default::default()
            },
            identity: (config.store.id.clone(), config.register.id.clone()),
        }
    }
}

struct Supervised {
    config: DeviceConfig,
    settings_key: String,
    device: Arc<Device>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Supervised {
    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(printer) = self.device.printer() {
            printer.send(PrinterCommand::Stop);
        }
        if let Some(thread) = self.thread.take() {
            // Supervisors check the flag at least every read timeout (≤ 100 ms).
            let _ = thread.join();
        }
    }
}

/// The running devices by name, readable from other tasks (the bus's event publisher
/// decides from it whether the daemon is degraded).
pub type Registry = Arc<RwLock<BTreeMap<String, Arc<Device>>>>;

/// Whether any device in `registry` is not online (the daemon is then `degraded`).
pub fn any_not_online(registry: &Registry) -> bool {
    registry
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .any(|d| d.status().state != DeviceState::Online)
}

/// The configured devices and their supervisors.
pub struct DeviceManager {
    db: Database,
    events: UnboundedSender<DeviceEvent>,
    devices: BTreeMap<String, Supervised>,
    registry: Registry,
}

/// What [`DeviceManager::apply`] did, so the bus layer can add and remove objects.
#[derive(Debug, Default)]
pub struct Applied {
    /// Devices now running that were not before (new, or restarted with new settings).
    pub added: Vec<Arc<Device>>,
    /// Devices no longer running (removed, or about to be replaced).
    pub removed: Vec<Arc<Device>>,
}

impl DeviceManager {
    /// A manager with no devices; events go to `events`.
    pub fn new(db: Database, events: UnboundedSender<DeviceEvent>) -> Self {
        Self {
            db,
            events,
            devices: BTreeMap::new(),
            registry: Registry::default(),
        }
    }

    /// The running devices, shared.
    pub fn registry(&self) -> Registry {
        self.registry.clone()
    }

    fn publish_registry(&self) {
        let mut registry = self.registry.write().unwrap_or_else(|e| e.into_inner());
        *registry = self
            .devices
            .iter()
            .map(|(name, d)| (name.clone(), d.device.clone()))
            .collect();
    }

    /// Brings the running devices in line with `config`: starts new ones, stops removed ones
    /// and restarts those whose settings changed. Devices left alone keep running undisturbed.
    pub fn apply(&mut self, config: &Config) -> Applied {
        let settings = SharedSettings::of(config);
        let wanted: BTreeMap<&str, &DeviceConfig> = config
            .devices
            .iter()
            .filter(|d| d.enabled)
            .map(|d| (d.name.as_str(), d))
            .collect();
        let mut applied = Applied::default();
        let names: Vec<String> = self.devices.keys().cloned().collect();
        for name in names {
            let keep = wanted.get(name.as_str()).is_some_and(|want| {
                self.devices.get(&name).is_some_and(|d| {
                    d.config == **want && d.settings_key == settings_key(want, &settings)
                })
            });
            if !keep && let Some(mut old) = self.devices.remove(&name) {
                old.stop();
                tracing::info!(device = %name, "device stopped");
                applied.removed.push(old.device.clone());
            }
        }
        for (name, want) in wanted {
            if self.devices.contains_key(name) {
                continue;
            }
            let supervised = self.start(want, &settings);
            tracing::info!(device = %name, connection = %supervised.device.connection, "device started");
            applied.added.push(supervised.device.clone());
            self.devices.insert(name.to_string(), supervised);
        }
        self.publish_registry();
        applied
    }

    fn start(&self, config: &DeviceConfig, settings: &SharedSettings) -> Supervised {
        let stop = Arc::new(AtomicBool::new(false));
        let (device, thread) = match config.kind {
            DeviceKind::Scanner => {
                scanner::start(config, settings, stop.clone(), self.events.clone())
            }
            DeviceKind::Printer => printer::start(
                config,
                settings.identity.clone(),
                self.db.clone(),
                stop.clone(),
                self.events.clone(),
            ),
        };
        Supervised {
            config: config.clone(),
            settings_key: settings_key(config, settings),
            device,
            stop,
            thread,
        }
    }

    /// Every running device.
    pub fn devices(&self) -> impl Iterator<Item = &Arc<Device>> {
        self.devices.values().map(|d| &d.device)
    }

    /// Stops every supervisor (daemon shutdown).
    pub fn stop_all(&mut self) -> Vec<Arc<Device>> {
        let mut stopped = Vec::new();
        for (_, mut d) in std::mem::take(&mut self.devices) {
            d.stop();
            stopped.push(d.device.clone());
        }
        self.publish_registry();
        stopped
    }
}

/// Scanner settings shared by all scanners take part in deciding whether a scanner restarts.
fn settings_key(config: &DeviceConfig, settings: &SharedSettings) -> String {
    match config.kind {
        DeviceKind::Scanner => format!("{:?}", settings.decode),
        DeviceKind::Printer => format!("{:?}", settings.identity),
    }
}

/// Sleeps up to `duration`, waking early when `stop` is set.
fn sleep_unless_stopped(duration: std::time::Duration, stop: &AtomicBool) {
    let deadline = std::time::Instant::now() + duration;
    while !stop.load(Ordering::SeqCst) {
        let now = std::time::Instant::now();
        if now >= deadline {
            return;
        }
        std::thread::sleep((deadline - now).min(std::time::Duration::from_millis(50)));
    }
}

/// Records a state change and reports it if anything changed.
fn set_state(
    device: &Arc<Device>,
    events: &UnboundedSender<DeviceEvent>,
    state: DeviceState,
    last_error: &str,
) {
    let before = device.update(|s| {
        s.state = state;
        s.last_error = last_error.to_string();
    });
    if before.state != state || before.last_error != last_error {
        match state {
            DeviceState::Online => tracing::info!(device = %device.name, "online"),
            _ => tracing::warn!(device = %device.name, state = state.as_str(), "{last_error}"),
        }
        let _ = events.send(DeviceEvent::StatusChanged {
            device: device.clone(),
            before,
        });
    }
}
