//! The printer over real TCP sockets: status answers, simulated states, several clients,
//! the control channel, and the command line binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use posd_virtual_printer::{Activity, Options, Outcome, PrinterState, VirtualPrinter};

const WAIT: Duration = Duration::from_secs(10);

fn printer(state: PrinterState) -> VirtualPrinter {
    let options = Options {
        state,
        control: Some(loopback()),
    };
    VirtualPrinter::bind("127.0.0.1:0", options).expect("bind on loopback")
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    stream
}

/// Send `DLE EOT 1`, `2`, `4` and read the three answers.
fn statuses(stream: &mut TcpStream) -> [u8; 3] {
    stream
        .write_all(b"\x10\x04\x01\x10\x04\x02\x10\x04\x04")
        .expect("send status requests");
    let mut answer = [0u8; 3];
    stream.read_exact(&mut answer).expect("three status bytes");
    answer
}

fn send_and_close(addr: SocketAddr, bytes: &[u8]) {
    let mut stream = connect(addr);
    stream.write_all(bytes).expect("send print data");
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    // Wait for the printer to close its side, so nothing is lost to a reset.
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
}

#[test]
fn status_requests_are_answered_for_every_simulated_state() {
    let vp = printer(PrinterState::default());
    let mut stream = connect(vp.local_addr());
    let cases = [
        (PrinterState::default(), [0x12, 0x12, 0x12]),
        (
            PrinterState {
                paper_out: true,
                ..Default::default()
            },
            [0x1A, 0x32, 0x72],
        ),
        (
            PrinterState {
                paper_near_end: true,
                ..Default::default()
            },
            [0x12, 0x12, 0x1E],
        ),
        (
            PrinterState {
                cover_open: true,
                ..Default::default()
            },
            [0x1A, 0x16, 0x12],
        ),
        (
            PrinterState {
                offline: true,
                ..Default::default()
            },
            [0x1A, 0x12, 0x12],
        ),
        (
            PrinterState {
                paper_out: true,
                paper_near_end: true,
                cover_open: true,
                offline: false,
            },
            [0x1A, 0x36, 0x7E],
        ),
    ];
    for (state, expected) in cases {
        vp.set_state(state);
        assert_eq!(statuses(&mut stream), expected, "state {state}");
    }
    assert!(vp.jobs().is_empty(), "status polls are not receipts");
}

#[test]
fn status_is_answered_in_the_middle_of_a_receipt() {
    let vp = printer(PrinterState::default());
    let mut stream = connect(vp.local_addr());
    stream.write_all(b"\x1b@Erste Zeile\n").expect("send");
    assert_eq!(statuses(&mut stream), [0x12, 0x12, 0x12]);
    stream.write_all(b"Zweite Zeile\n\x1dVA\x00").expect("send");
    let receipts = vp.wait_for_receipts(1, WAIT);
    assert_eq!(receipts.len(), 1);
    assert_eq!(
        receipts[0].to_text(42),
        "Erste Zeile\nZweite Zeile\n✂ - - - - - - - - - - - - - - - - - - - -\n"
    );
}

#[test]
fn a_drawer_kick_on_an_open_connection_is_recorded_at_once_and_not_as_a_receipt() {
    let vp = printer(PrinterState::default());
    let mut stream = connect(vp.local_addr());
    let receipt = b"\x1b@Bar 12,00\n\x1dVA\x00";
    stream.write_all(receipt).expect("send receipt");
    assert_eq!(statuses(&mut stream), [0x12, 0x12, 0x12]);
    stream.write_all(b"\x1bp\x00\x32\x64").expect("send kick");
    // The connection stays open, as the daemon's does: the kick must not wait for it.
    let activity = vp.wait_for_activity(2, WAIT);
    assert_eq!(activity.len(), 2, "{activity:#?}");
    let Activity::Job(job) = &activity[0] else {
        panic!("the receipt first: {activity:#?}");
    };
    assert_eq!(
        job.bytes, receipt,
        "a job's bytes are what was sent for it, status requests left out"
    );
    match &activity[1] {
        Activity::DrawerKick { kick, outcome } => {
            assert_eq!(*outcome, Outcome::Printed);
            assert_eq!(
                kick.to_string(),
                "drawer kick pin 2 (m=0, on 100 ms, off 200 ms)"
            );
        }
        other => panic!("a drawer kick, not {other:?}"),
    }
    stream.write_all(b"Zweiter\n\x1dVA\x00").expect("send");
    let jobs = vp.wait_for_jobs(2, WAIT);
    assert_eq!(
        jobs[1].bytes, b"Zweiter\n\x1dVA\x00",
        "the kick is no part of the next receipt"
    );
    drop(stream);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        vp.jobs().len(),
        2,
        "no blank receipt when the connection closes"
    );
}

#[test]
fn offline_printer_answers_status_but_does_not_print() {
    let vp = printer(PrinterState {
        offline: true,
        ..Default::default()
    });
    let mut stream = connect(vp.local_addr());
    stream.write_all(b"\x1b@Storno\n").expect("send");
    assert_eq!(statuses(&mut stream)[0], 0x1A, "offline bit set");
    stream.write_all(b"\x1dVA\x00").expect("send");
    drop(stream);
    let jobs = vp.wait_for_jobs(1, WAIT);
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].outcome,
        Outcome::NotPrinted {
            reason: "offline".to_string()
        }
    );
    assert!(jobs[0].receipt.warnings[0].starts_with("not printed (offline): 13 bytes discarded"));
    assert!(vp.receipts().is_empty());
    assert_eq!(vp.not_printed().len(), 1);

    // Back online, the same data prints.
    vp.set_state(PrinterState::default());
    send_and_close(vp.local_addr(), b"\x1b@Storno\n\x1dVA\x00");
    let receipts = vp.wait_for_receipts(1, WAIT);
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].text_lines()[0].text(), "Storno");
}

#[test]
fn paper_out_and_cover_open_do_not_print_either() {
    let vp = printer(PrinterState {
        paper_out: true,
        ..Default::default()
    });
    send_and_close(vp.local_addr(), b"A\n\x1dVA\x00");
    vp.set_state(PrinterState {
        cover_open: true,
        ..Default::default()
    });
    send_and_close(vp.local_addr(), b"B\n\x1dVA\x00");
    vp.set_state(PrinterState {
        paper_near_end: true,
        ..Default::default()
    });
    send_and_close(vp.local_addr(), b"C\n\x1dVA\x00");
    let jobs = vp.wait_for_jobs(3, WAIT);
    let outcomes: Vec<_> = jobs.iter().map(|j| j.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::NotPrinted {
                reason: "paper out".into()
            },
            Outcome::NotPrinted {
                reason: "cover open".into()
            },
            Outcome::Printed,
        ]
    );
}

#[test]
fn clients_in_sequence_each_send_their_own_stream() {
    let vp = printer(PrinterState::default());
    send_and_close(
        vp.local_addr(),
        b"\x1b@\x1bt\x13\x1bE\x01Bon 1 \xd5\n\x1dVA\x00",
    );
    // The second connection starts with power-on modes: not bold, PC437.
    send_and_close(vp.local_addr(), b"Bon 2 \x84\n\x1dVA\x00");
    // The third never cuts; closing the connection flushes what is on the paper.
    send_and_close(vp.local_addr(), b"Bon 3\n");
    let receipts = vp.wait_for_receipts(3, WAIT);
    let lines: Vec<_> = receipts.iter().map(|r| r.text_lines()[0].clone()).collect();
    assert_eq!(lines[0].text(), "Bon 1 €");
    assert!(lines[0].is_bold());
    assert_eq!(lines[1].text(), "Bon 2 ä");
    assert!(!lines[1].is_bold());
    assert_eq!(lines[2].text(), "Bon 3");
    assert!(receipts[0].is_finished() && !receipts[2].is_finished());
}

#[test]
fn stopped_printer_refuses_connections() {
    let vp = printer(PrinterState::default());
    let addr = vp.local_addr();
    let mut open = connect(addr);
    open.write_all(b"offen\n").expect("send");
    // Make sure the printer has read the line before stopping it.
    assert_eq!(statuses(&mut open)[0], 0x12);
    vp.stop();
    assert!(TcpStream::connect(addr).is_err());
}

/// A line-based client for the control channel.
struct Control {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Control {
    fn connect(addr: SocketAddr) -> Self {
        let writer = connect(addr);
        let reader = BufReader::new(writer.try_clone().expect("clone"));
        Control { reader, writer }
    }

    fn send(&mut self, command: &str) -> String {
        writeln!(self.writer, "{command}").expect("send control command");
        let mut answer = String::new();
        self.reader.read_line(&mut answer).expect("control answer");
        answer.trim_end().to_string()
    }
}

#[test]
fn control_channel_flips_states_while_running() {
    let vp = printer(PrinterState::default());
    let mut control = Control::connect(vp.control_addr().expect("control address"));
    let mut stream = connect(vp.local_addr());
    assert_eq!(
        control.send("status"),
        "paper-out=off near-end=off cover-open=off offline=off printed=0 not-printed=0"
    );
    assert_eq!(
        control.send("paper-out on"),
        "ok paper-out=on near-end=off cover-open=off offline=off"
    );
    assert_eq!(statuses(&mut stream), [0x1A, 0x32, 0x72]);
    assert!(vp.state().paper_out);
    control.send("paper-out off");
    control.send("near-end on");
    control.send("cover-open on");
    assert_eq!(statuses(&mut stream), [0x1A, 0x16, 0x1E]);
    control.send("cover-open off");
    control.send("offline on");
    assert_eq!(statuses(&mut stream), [0x1A, 0x12, 0x1E]);
    control.send("offline off");
    control.send("near-end off");
    assert_eq!(statuses(&mut stream), [0x12, 0x12, 0x12]);
    assert!(control.send("paper-out maybe").starts_with("error:"));
    assert!(control.send("fly away").starts_with("error:"));
    stream.write_all(b"Bon\n\x1dVA\x00").expect("send");
    vp.wait_for_receipts(1, WAIT);
    assert!(control.send("status").ends_with("printed=1 not-printed=0"));
}

/// The binary, killed when the test ends.
struct Binary {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Binary {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_posd-virtual-printer"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start posd-virtual-printer");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Binary { child, lines }
    }

    fn line(&self) -> String {
        self.lines.recv_timeout(WAIT).expect("a line on stdout")
    }

    /// The address printed after `prefix` on the next line.
    fn addr(&self, prefix: &str) -> SocketAddr {
        let line = self.line();
        let addr = line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"));
        addr.parse().expect("socket address")
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn binary_writes_numbered_text_and_png_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_str().expect("utf-8 path");
    let binary = Binary::start(&[
        "--listen",
        "127.0.0.1:0",
        "--control",
        "127.0.0.1:0",
        "--out",
        out,
        "--columns",
        "32",
        "--dots",
        "384",
        "--paper-near-end",
    ]);
    let print = binary.addr("listening on ");
    let control = binary.addr("control on ");

    let mut stream = connect(print);
    assert_eq!(statuses(&mut stream)[2], 0x1E, "--paper-near-end at start");
    drop(stream);

    send_and_close(
        print,
        b"\x1b@\x1bt\x12\x1ba\x01D\xd8kujeme\n\x1bp\x00\x19\xfa\x1dVA\x00",
    );
    // The drawer opens while the receipt is still printing: a line of its own, at once.
    let line = binary.line();
    assert_eq!(line, "drawer kick pin 2 (m=0, on 50 ms, off 500 ms)");
    let line = binary.line();
    assert!(
        line.starts_with("receipt 0001: 1 line, cut, 0 warnings"),
        "{line}"
    );
    let text = std::fs::read_to_string(dir.path().join("receipt-0001.txt")).expect("txt file");
    assert_eq!(
        text,
        format!("{}Děkujeme\n✂{}\n", " ".repeat(12), " -".repeat(15))
    );
    let events = std::fs::read_to_string(dir.path().join("events.log")).expect("events.log");
    assert!(
        events.ends_with("Z drawer kick pin 2 (m=0, on 50 ms, off 500 ms)\n")
            && events.lines().count() == 1,
        "{events}"
    );
    let png = std::fs::read(dir.path().join("receipt-0001.png")).expect("png file");
    let reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .expect("valid PNG");
    assert_eq!(reader.info().width, 384);

    let mut control = Control::connect(control);
    assert!(control.send("paper-out on").starts_with("ok paper-out=on"));
    send_and_close(print, b"Nicht gedruckt\n\x1dVA\x00");
    let line = binary.line();
    assert!(line.starts_with("NOT PRINTED (paper out)"), "{line}");
    control.send("paper-out off");
    send_and_close(print, b"Zweiter Bon\n\x1dVA\x00");
    assert!(binary.line().starts_with("receipt 0002:"));
    assert!(dir.path().join("receipt-0002.png").exists());
    assert!(!dir.path().join("receipt-0003.txt").exists());
}

#[test]
fn binary_reports_a_taken_port() {
    let vp = printer(PrinterState::default());
    let output = Command::new(env!("CARGO_BIN_EXE_posd-virtual-printer"))
        .args(["--listen", &vp.local_addr().to_string()])
        .output()
        .expect("run posd-virtual-printer");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
}
