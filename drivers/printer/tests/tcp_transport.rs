//! The TCP transport against a real listener on 127.0.0.1 that behaves like a network
//! printer: it records what it receives and answers `DLE EOT n` with configured bytes.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use posd_printer::{
    CodePage, Connection, Cut, Document, Error, PrinterStatus, Profile, StatusRequest, connect,
    render,
};

/// How the fake printer answers.
#[derive(Clone, Copy)]
struct Answers {
    /// Answers to DLE EOT 1, 2 and 4; `None` = stay silent.
    status: Option<[u8; 3]>,
    /// Sent unasked before every answer (Automatic Status Back, XON/XOFF).
    noise: &'static [u8],
}

const HEALTHY: Answers = Answers {
    status: Some([0x12, 0x12, 0x12]),
    noise: &[],
};

/// A printer on 127.0.0.1: serves one connection and returns everything it received once
/// the client closes (or, with `close_after`, once it has received that many bytes, after
/// which it closes the connection itself).
fn fake_printer(answers: Answers, close_after: Option<usize>) -> (Connection, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        drop(listener);
        let mut received = Vec::new();
        let mut scanned = 0;
        let mut buf = [0u8; 4096];
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            received.extend_from_slice(&buf[..n]);
            while scanned + 3 <= received.len() {
                if received[scanned..scanned + 2] == [0x10, 0x04] {
                    let index = match received[scanned + 2] {
                        1 => Some(0),
                        2 => Some(1),
                        4 => Some(2),
                        _ => None,
                    };
                    if let (Some(status), Some(i)) = (answers.status, index) {
                        let mut reply = answers.noise.to_vec();
                        reply.push(status[i]);
                        stream.write_all(&reply).unwrap();
                    }
                    scanned += 3;
                } else {
                    scanned += 1;
                }
            }
            if close_after.is_some_and(|limit| received.len() >= limit) {
                let _ = stream.shutdown(Shutdown::Both);
                break;
            }
        }
        received
    });
    let connection = Connection::parse(&format!("tcp:127.0.0.1:{port}")).unwrap();
    (connection, handle)
}

fn receipt_bytes() -> Vec<u8> {
    let doc = Document::new()
        .line("Müsli Früchte")
        .item("Milch 1,5 %", "1,29")
        .cut(Cut::partial());
    render(&doc, &Profile::paper_80mm(CodePage::Pc858)).bytes
}

const TIMEOUT: Duration = Duration::from_secs(2);

#[test]
fn receipt_arrives_byte_for_byte() {
    let (connection, printer) = fake_printer(HEALTHY, None);
    let mut transport = connect(&connection, TIMEOUT).unwrap();
    assert!(transport.is_bidirectional());
    let bytes = receipt_bytes();
    transport.write_all(&bytes).unwrap();
    drop(transport);
    assert_eq!(printer.join().unwrap(), bytes);
}

#[test]
fn status_query_sends_three_exact_requests_and_combines_the_answers() {
    let answers = Answers {
        // offline | cover open | paper near end
        status: Some([0x12 | 0x08, 0x12 | 0x04, 0x12 | 0x0C]),
        noise: &[],
    };
    let (connection, printer) = fake_printer(answers, None);
    let mut transport = connect(&connection, TIMEOUT).unwrap();
    let status = transport.query_status(TIMEOUT).unwrap();
    assert_eq!(
        status,
        Some(PrinterStatus {
            online: false,
            cover_open: true,
            paper_out: false,
            paper_near_end: true,
            drawer_open: false,
            error: false,
        })
    );
    drop(transport);
    // 10 04 n each, no trailing 00 (the escpos crate sends 10 04 n 00).
    assert_eq!(
        printer.join().unwrap(),
        [0x10, 0x04, 0x01, 0x10, 0x04, 0x02, 0x10, 0x04, 0x04]
    );
}

#[test]
fn unasked_bytes_before_the_answers_are_skipped() {
    let answers = Answers {
        // paper out (offline cause bit 5 and roll sensor bits 5-6), drawer open
        status: Some([0x12 | 0x04, 0x12 | 0x20, 0x12 | 0x60]),
        // An Automatic Status Back block (4 bytes), then XOFF and XON.
        noise: &[0x14, 0x00, 0x00, 0x0F, 0x13, 0x11],
    };
    let (connection, _printer) = fake_printer(answers, None);
    let mut transport = connect(&connection, TIMEOUT).unwrap();
    let status = transport.query_status(TIMEOUT).unwrap().unwrap();
    assert!(status.online);
    assert!(status.drawer_open);
    assert!(status.paper_out);
    assert!(!status.ready());
}

#[test]
fn status_is_asked_again_after_a_job_and_the_job_is_intact() {
    let (connection, printer) = fake_printer(HEALTHY, None);
    let mut transport = connect(&connection, TIMEOUT).unwrap();
    let bytes = receipt_bytes();
    transport.write_all(&bytes).unwrap();
    assert!(transport.query_status(TIMEOUT).unwrap().unwrap().ready());
    transport.write_all(&bytes).unwrap();
    assert!(transport.query_status(TIMEOUT).unwrap().unwrap().ready());
    drop(transport);
    let mut expected = bytes.clone();
    expected.extend([0x10, 0x04, 0x01, 0x10, 0x04, 0x02, 0x10, 0x04, 0x04]);
    expected.extend(&bytes);
    expected.extend([0x10, 0x04, 0x01, 0x10, 0x04, 0x02, 0x10, 0x04, 0x04]);
    assert_eq!(printer.join().unwrap(), expected);
}

#[test]
fn silent_printer_is_a_status_timeout_not_a_status() {
    let silent = Answers {
        status: None,
        noise: &[],
    };
    let (connection, _printer) = fake_printer(silent, None);
    let mut transport = connect(&connection, TIMEOUT).unwrap();
    let started = Instant::now();
    let err = transport
        .query_status(Duration::from_millis(300))
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(
            err,
            Error::StatusTimeout {
                request: StatusRequest::Printer,
                ..
            }
        ),
        "{err}"
    );
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[test]
fn printer_closing_the_connection_fails_the_next_write_and_status_query() {
    let bytes = receipt_bytes();
    let (connection, printer) = fake_printer(HEALTHY, Some(bytes.len()));
    let mut transport = connect(&connection, TIMEOUT).unwrap();
    transport.write_all(&bytes).unwrap();
    // Wait until the printer has really closed its end.
    assert_eq!(printer.join().unwrap(), bytes);

    let err = transport.write_all(&bytes).unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err}");
    assert!(err.to_string().contains("closed the connection"), "{err}");
    let err = transport.query_status(TIMEOUT).unwrap_err();
    assert!(
        matches!(err, Error::Closed { .. } | Error::Io { .. }),
        "{err}"
    );
}

#[test]
fn printer_that_stops_taking_data_fails_the_write_after_the_timeout() {
    // Accepts the connection and never reads, like a printer whose buffer is full.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let _ = done_rx.recv_timeout(Duration::from_secs(20));
        drop(stream);
    });
    let connection = Connection::parse(&format!("tcp:127.0.0.1:{port}")).unwrap();
    let mut transport = connect(&connection, Duration::from_millis(300)).unwrap();
    let started = Instant::now();
    // Far more than loopback socket buffers hold.
    let err = transport.write_all(&vec![0x20; 64 << 20]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                action: "write",
                ..
            }
        ),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    done_tx.send(()).unwrap();
    holder.join().unwrap();
}

#[test]
fn nobody_listening_is_a_connect_error_naming_the_printer() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let connection = Connection::parse(&format!("tcp:127.0.0.1:{port}")).unwrap();
    let err = match connect(&connection, TIMEOUT) {
        Ok(_) => panic!("connected to a closed port"),
        Err(e) => e,
    };
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("cannot connect to printer tcp:127.0.0.1:{port}")),
        "{err}"
    );
}
