//! Device objects under `/org/posd/Posd1/device/<name>`: `Device1` on each, plus
//! `Scanner1` or `Printer1`.

use std::collections::HashMap;
use std::sync::Arc;

use zbus::interface;
use zbus::object_server::SignalEmitter;

use super::BusError;
use crate::config::DeviceKind;
use crate::devices::{Device, DeviceEvent, DeviceStatus};

/// `org.posd.Device1`: what every device has.
#[derive(Debug)]
pub struct DeviceObject {
    device: Arc<Device>,
}

#[interface(name = "org.posd.Device1")]
impl DeviceObject {
    /// Configured name.
    #[zbus(property(emits_changed_signal = "const"))]
    fn name(&self) -> String {
        self.device.name.clone()
    }

    /// scanner or printer.
    #[zbus(property(emits_changed_signal = "const"))]
    fn kind(&self) -> String {
        match self.device.kind {
            DeviceKind::Scanner => "scanner".into(),
            DeviceKind::Printer => "printer".into(),
        }
    }

    /// online, offline (unreachable, being retried) or error (reachable but unusable).
    #[zbus(property)]
    fn state(&self) -> String {
        self.device.status().state.as_str().into()
    }

    /// How the device is attached, e.g. serial:/dev/ttyUSB0@9600 or tcp:192.0.2.10:9100.
    #[zbus(property(emits_changed_signal = "const"))]
    fn connection(&self) -> String {
        self.device.connection.clone()
    }

    /// Why the device is not online; "" while it is.
    #[zbus(property)]
    fn last_error(&self) -> String {
        self.device.status().last_error
    }
}

/// `org.posd.Scanner1`: codes as they are read.
#[derive(Debug)]
pub struct ScannerObject {
    device: Arc<Device>,
}

#[interface(name = "org.posd.Scanner1")]
impl ScannerObject {
    /// Scans refused as misreads (bad check digit, malformed GS1 data) since the daemon
    /// started; they never reach frontends as codes.
    #[zbus(property)]
    fn rejected_scans(&self) -> u32 {
        self.device.status().rejected_scans
    }

    /// A code was read. `symbology` e.g. ean13, gs1-128, qr; `kind` what the code is
    /// (product, voucher, customer_card, … as LookupCode); `details` parsed GS1 and
    /// in-store data as strings (gtin, batch, expiry, net_weight_kg, price, item, …).
    #[zbus(signal)]
    async fn scanned(
        emitter: &SignalEmitter<'_>,
        code: &str,
        symbology: &str,
        kind: &str,
        details: HashMap<String, zbus::Variant<'_>>,
    ) -> zbus::Result<()>;
}

/// `org.posd.Printer1`: the receipt printer and the cash drawer on it.
#[derive(Debug)]
pub struct PrinterObject {
    device: Arc<Device>,
}

#[interface(name = "org.posd.Printer1")]
impl PrinterObject {
    /// The roll is nearly used up: change it soon.
    #[zbus(property)]
    fn paper_near_end(&self) -> bool {
        self.device.status().paper.paper_near_end
    }

    /// No paper: jobs wait in the queue.
    #[zbus(property)]
    fn paper_out(&self) -> bool {
        self.device.status().paper.paper_out
    }

    /// The cover is open: jobs wait in the queue.
    #[zbus(property)]
    fn cover_open(&self) -> bool {
        self.device.status().paper.cover_open
    }

    /// Jobs waiting to print.
    #[zbus(property)]
    fn queue_length(&self) -> u32 {
        self.device.status().queue_length
    }

    /// Characters per line.
    #[zbus(property(emits_changed_signal = "const"))]
    fn columns(&self) -> u32 {
        self.device.columns
    }

    /// Prints a committed receipt again on this printer. NotFound for an unknown receipt.
    async fn print(&self, receipt_id: &str) -> Result<String, BusError> {
        Ok(self.printer()?.print_receipt(receipt_id).await?)
    }

    /// Queues the technician's test page; returns its job id.
    async fn print_test_page(&self) -> Result<String, BusError> {
        Ok(self.printer()?.print_test_page().await?)
    }

    /// Opens the cash drawer now. DeviceUnavailable while the printer is not reachable:
    /// a drawer must never spring open later by surprise.
    async fn open_drawer(&self) -> Result<(), BusError> {
        Ok(self.printer()?.open_drawer().await?)
    }

    /// A job finished: state printed or failed (the printer was removed with jobs waiting).
    #[zbus(signal)]
    async fn job_done(emitter: &SignalEmitter<'_>, job_id: &str, state: &str) -> zbus::Result<()>;
}

impl PrinterObject {
    fn printer(&self) -> Result<&crate::devices::PrinterHandle, BusError> {
        self.device
            .printer()
            .ok_or_else(|| BusError::NotFound(format!("{} is not a printer", self.device.name)))
    }
}

/// Puts a device's objects on the bus; the ObjectManager announces them.
pub async fn add(conn: &zbus::Connection, device: &Arc<Device>) -> zbus::Result<()> {
    let path = device.object_path();
    let server = conn.object_server();
    server
        .at(
            path.as_str(),
            DeviceObject {
                device: device.clone(),
            },
        )
        .await?;
    match device.kind {
        DeviceKind::Scanner => {
            server
                .at(
                    path.as_str(),
                    ScannerObject {
                        device: device.clone(),
                    },
                )
                .await?;
        }
        DeviceKind::Printer => {
            server
                .at(
                    path.as_str(),
                    PrinterObject {
                        device: device.clone(),
                    },
                )
                .await?;
        }
    }
    Ok(())
}

/// Takes a device's objects off the bus.
pub async fn remove(conn: &zbus::Connection, device: &Arc<Device>) -> zbus::Result<()> {
    let path = device.object_path();
    let server = conn.object_server();
    match device.kind {
        DeviceKind::Scanner => {
            server.remove::<ScannerObject, _>(path.as_str()).await?;
        }
        DeviceKind::Printer => {
            server.remove::<PrinterObject, _>(path.as_str()).await?;
        }
    }
    server.remove::<DeviceObject, _>(path.as_str()).await?;
    Ok(())
}

/// A plugin's refusal of a scanned code (a look-up rate limit, a blocked card): the scanner's
/// listeners are told why, as `LookupCode` of the same code would be.
#[derive(Debug, Clone, Copy)]
pub struct ScanRefusal<'a> {
    /// The contract error's name without prefix (`LimitReached`).
    pub error: &'a str,
    /// The plugin's message.
    pub message: &'a str,
}

/// Emits `Scanned` for a scan whose `kind` the caller determined (by the plugins), with the
/// refusal of a plugin that claimed the code and refused it, if one did.
pub async fn publish_scan(
    conn: &zbus::Connection,
    device: &Device,
    scan: &posd_scanner::Scan,
    kind: &str,
    refusal: Option<ScanRefusal<'_>>,
) -> zbus::Result<()> {
    let emitter = SignalEmitter::new(conn, device.object_path())?;
    let mut details: HashMap<String, zbus::Variant<'_>> = scan
        .details
        .iter()
        .map(|(k, v)| (k.clone(), zbus::Variant::from(v.as_str())))
        .collect();
    if let Some(refusal) = refusal {
        details.insert(
            "error".into(),
            zbus::Variant::from(format!("org.posd.Error.{}", refusal.error)),
        );
        details.insert("message".into(), zbus::Variant::from(refusal.message));
    }
    ScannerObject::scanned(&emitter, &scan.code, scan.symbology.as_str(), kind, details).await
}

/// Turns a supervisor's event into properties and signals.
pub async fn publish(conn: &zbus::Connection, event: DeviceEvent) -> zbus::Result<()> {
    match event {
        DeviceEvent::Scanned { device, scan } => {
            publish_scan(conn, &device, &scan, crate::devices::classify(&scan), None).await
        }
        DeviceEvent::JobDone {
            device,
            job_id,
            state,
        } => {
            let emitter = SignalEmitter::new(conn, device.object_path())?;
            PrinterObject::job_done(&emitter, &job_id, state).await
        }
        DeviceEvent::StatusChanged { device, before } => {
            announce_status(conn, &device, &before).await
        }
    }
}

async fn announce_status(
    conn: &zbus::Connection,
    device: &Arc<Device>,
    before: &DeviceStatus,
) -> zbus::Result<()> {
    let now = device.status();
    let path = device.object_path();
    let server = conn.object_server();
    let iface = server.interface::<_, DeviceObject>(path.as_str()).await?;
    let emitter = iface.signal_emitter();
    {
        let object = iface.get().await;
        if now.state != before.state {
            object.state_changed(emitter).await?;
        }
        if now.last_error != before.last_error {
            object.last_error_changed(emitter).await?;
        }
    }
    match device.kind {
        DeviceKind::Printer => {
            let iface = server.interface::<_, PrinterObject>(path.as_str()).await?;
            let emitter = iface.signal_emitter();
            let object = iface.get().await;
            if now.paper.paper_near_end != before.paper.paper_near_end {
                object.paper_near_end_changed(emitter).await?;
            }
            if now.paper.paper_out != before.paper.paper_out {
                object.paper_out_changed(emitter).await?;
            }
            if now.paper.cover_open != before.paper.cover_open {
                object.cover_open_changed(emitter).await?;
            }
            if now.queue_length != before.queue_length {
                object.queue_length_changed(emitter).await?;
            }
        }
        DeviceKind::Scanner => {
            if now.rejected_scans != before.rejected_scans {
                let iface = server.interface::<_, ScannerObject>(path.as_str()).await?;
                iface
                    .get()
                    .await
                    .rejected_scans_changed(iface.signal_emitter())
                    .await?;
            }
        }
    }
    Ok(())
}
