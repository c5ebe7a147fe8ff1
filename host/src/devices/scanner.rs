//! Scanner supervisor: opens the serial line, frames and decodes what the scanner sends, and
//! reopens the port when it disappears (a USB scanner unplugged and plugged in again).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use posd_scanner::{Framer, FramingConfig, Scan, ScannerPort, SerialSpec, Symbology};

use super::{
    Backoff, Device, DeviceEvent, DeviceState, DeviceStatus, PaperStatus, SharedSettings,
    set_state, sleep_unless_stopped,
};
use crate::config::DeviceConfig;

/// How long one read waits: also how quickly the supervisor notices a stop request.
const READ_TIMEOUT: Duration = Duration::from_millis(100);

/// What a code is when no plugin claims it: article numbers (EAN/UPC, GS1 with a GTIN,
/// in-store weight and price codes) are products, anything else is unknown.
pub fn classify(scan: &Scan) -> &'static str {
    let is_article = matches!(
        scan.symbology,
        Symbology::Ean13 | Symbology::Ean8 | Symbology::UpcA | Symbology::UpcE
    ) || scan.details.contains_key("gtin");
    if is_article { "product" } else { "unknown" }
}

/// [`classify`] for a code typed or given without a scan: its digits decide.
pub fn classify_code(code: &str) -> &'static str {
    posd_scanner::decode(code.as_bytes(), &posd_scanner::DecodeOptions::default())
        .map_or("unknown", |scan| classify(&scan))
}

/// The framing a scanner's configuration entry describes.
pub fn framing_of(config: &DeviceConfig) -> FramingConfig {
    let mut framing = FramingConfig::default();
    if let Some(suffix) = config.suffix {
        framing.suffix = suffix;
    }
    if let Some(prefix) = &config.prefix {
        framing.prefix = Some(prefix.clone()).filter(|p| !p.is_empty());
    }
    if let Some(ms) = config.inter_byte_timeout_ms {
        framing.inter_byte_timeout = Duration::from_millis(ms);
    }
    framing
}

pub(super) fn start(
    config: &DeviceConfig,
    settings: &SharedSettings,
    stop: Arc<AtomicBool>,
    events: UnboundedSender<DeviceEvent>,
) -> (Arc<Device>, Option<JoinHandle<()>>) {
    let spec = SerialSpec::parse(&config.connection);
    let label = spec
        .as_ref()
        .map(|s| format!("serial:{}@{}", s.path, s.baud))
        .unwrap_or_else(|_| config.connection.clone());
    let device = Arc::new(Device {
        name: config.name.clone(),
        kind: config.kind,
        connection: label,
        columns: 0,
        status: Mutex::new(DeviceStatus {
            state: DeviceState::Offline,
            last_error: "not opened yet".into(),
            paper: PaperStatus::default(),
            queue_length: 0,
            rejected_scans: 0,
        }),
        printer: None,
    });
    let spec = match spec {
        Ok(spec) => spec,
        Err(e) => {
            set_state(&device, &events, DeviceState::Error, &e.to_string());
            return (device, None);
        }
    };
    let worker = Worker {
        device: device.clone(),
        spec,
        framing: framing_of(config),
        decode: settings.decode.clone(),
        events,
        stop,
    };
    match std::thread::Builder::new()
        .name(format!("scanner-{}", config.name))
        .spawn(move || worker.run())
    {
        Ok(thread) => (device, Some(thread)),
        Err(e) => {
            tracing::error!("cannot start the scanner thread: {e}");
            (device, None)
        }
    }
}

struct Worker {
    device: Arc<Device>,
    spec: SerialSpec,
    framing: FramingConfig,
    decode: posd_scanner::DecodeOptions,
    events: UnboundedSender<DeviceEvent>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn run(self) {
        let mut backoff = Backoff::default();
        while !self.stop.load(Ordering::SeqCst) {
            match ScannerPort::open(&self.spec) {
                Ok(port) => {
                    backoff.reset();
                    set_state(&self.device, &self.events, DeviceState::Online, "");
                    if let Some(reason) = self.read_until_gone(port) {
                        set_state(&self.device, &self.events, DeviceState::Offline, &reason);
                    }
                }
                Err(e) => set_state(
                    &self.device,
                    &self.events,
                    DeviceState::Offline,
                    &e.to_string(),
                ),
            }
            sleep_unless_stopped(backoff.next_delay(), &self.stop);
        }
    }

    /// Reads scans until the port fails (`Some(reason)`) or a stop is requested (`None`).
    fn read_until_gone(&self, mut port: ScannerPort) -> Option<String> {
        let mut framer = Framer::new(self.framing.clone());
        while !self.stop.load(Ordering::SeqCst) {
            let frames = match port.read_frames(&mut framer, READ_TIMEOUT) {
                Ok(frames) => frames,
                Err(e) => return Some(e.to_string()),
            };
            let idle = framer.poll_timeout(Instant::now());
            for frame in frames.into_iter().chain(idle) {
                self.handle(&frame);
            }
        }
        None
    }

    fn handle(&self, frame: &[u8]) {
        match posd_scanner::decode(frame, &self.decode) {
            Ok(scan) => {
                tracing::debug!(device = %self.device.name, code = %scan.code, "scanned");
                let _ = self.events.send(DeviceEvent::Scanned {
                    device: self.device.clone(),
                    scan,
                });
            }
            Err(e) => {
                tracing::warn!(device = %self.device.name, "scan refused: {e}");
                let before = self.device.update(|s| s.rejected_scans += 1);
                let _ = self.events.send(DeviceEvent::StatusChanged {
                    device: self.device.clone(),
                    before,
                });
            }
        }
    }
}
