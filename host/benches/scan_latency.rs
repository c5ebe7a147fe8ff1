//! Scan-to-signal latency: bytes written at a pseudo-terminal's master side until the
//! `Scanned` signal reaches a subscribed client on the bus, over 10,000 scans — printed next
//! to a bare D-Bus method round trip to the same daemon (`Peer.Ping`) measured in the same run.
//!
//! `cargo bench -p posd --bench scan_latency` (release build of the daemon). Prints figures;
//! asserts nothing.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use posd_client::{Scanner1Proxy, device_path};
use support::*;

const SCANS: usize = 10_000;
const PINGS: usize = 10_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn report(what: &str, mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let p50 = percentile(&samples, 0.50);
    let p99 = percentile(&samples, 0.99);
    println!(
        "{what:<32} n={:<6} p50={:>8.1} µs  p99={:>8.1} µs  max={:>8.1} µs",
        samples.len(),
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        samples.last().map_or(0.0, |d| d.as_secs_f64() * 1e6)
    );
    (p50, p99)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let bus = TestBus::start();
    let mut pty = Pty::open();
    let link = bus.dir.path().join("ttyBench");
    repoint_symlink(&link, &pty.slave_path);
    let config = format!(
        "[log]\nlevel = \"warn\"\n[[devices]]\nname = \"scanner\"\nkind = \"scanner\"\nconnection = \"serial:{}?baud=115200\"\n",
        link.display()
    );
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&config)
        .start();
    let conn = bus.client().await;

    // Baseline: a bare method round trip through the same bus to the same daemon.
    let peer = zbus::fdo::PeerProxy::builder(&conn)
        .destination("org.posd.Posd1")
        .path("/org/posd/Posd1")
        .build()
        .await
        .expect("peer proxy");
    for _ in 0..500 {
        peer.ping().await.expect("warm-up ping");
    }
    let mut pings = Vec::with_capacity(PINGS);
    for _ in 0..PINGS {
        let start = Instant::now();
        peer.ping().await.expect("ping");
        pings.push(start.elapsed());
    }

    let scanner = Scanner1Proxy::builder(&conn)
        .path(device_path("scanner"))
        .build()
        .await
        .expect("scanner proxy");
    let mut scans = scanner.receive_scanned().await.expect("subscribe");
    // Wait until the scanner is online: a first scan comes through.
    let deadline = Instant::now() + PATIENCE;
    loop {
        pty.send(b"]E04006381333931\r");
        if tokio::time::timeout(Duration::from_millis(200), scans.next())
            .await
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "scanner never came online");
    }
    let mut latencies = Vec::with_capacity(SCANS);
    for _ in 0..SCANS {
        let start = Instant::now();
        pty.send(b"]E04006381333931\r");
        tokio::time::timeout(PATIENCE, scans.next())
            .await
            .expect("Scanned")
            .expect("stream");
        latencies.push(start.elapsed());
    }

    println!("posd scan-to-signal latency (pty → daemon → dbus-daemon → client)");
    let (_, ping_p99) = report("bare method round trip (Ping)", pings);
    let (_, scan_p99) = report("scan to Scanned signal", latencies);
    println!(
        "p99 ratio scan/round trip: {:.2} (target ≤ 2.0); p99 target < 1000 µs",
        scan_p99.as_secs_f64() / ping_p99.as_secs_f64()
    );
}
