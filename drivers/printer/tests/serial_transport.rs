//! The serial transport on a real pseudo-terminal: the test holds the master side and plays
//! the printer; the transport opens the slave side (`/dev/pts/N`) like a serial port.

use std::ffi::CStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use posd_printer::transport::FlowControl;
use posd_printer::{CodePage, Connection, Document, Error, Profile, connect, render};

const TIMEOUT: Duration = Duration::from_secs(2);

/// Opens a pty master; returns it and the slave's path.
fn open_pty() -> (File, PathBuf) {
    // SAFETY: plain libc calls on a descriptor we own; ptsname_r writes at most
    // `name.len()` bytes, NUL-terminated, into our buffer.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = OwnedFd::from_raw_fd(fd);
        assert_eq!(libc::grantpt(fd), 0);
        assert_eq!(libc::unlockpt(fd), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        let path = CStr::from_ptr(name.as_ptr()).to_str().unwrap().to_owned();
        (File::from(master), PathBuf::from(path))
    }
}

fn serial(path: PathBuf) -> Connection {
    Connection::Serial {
        path,
        baud: 19200,
        flow: FlowControl::None,
    }
}

#[test]
fn bytes_pass_the_line_unchanged() {
    let (mut master, slave) = open_pty();
    // The transport opens the slave before anything is written (a pty drops data written
    // to a master whose slave was never opened).
    let mut transport = connect(&serial(slave), TIMEOUT).unwrap();
    assert!(transport.is_bidirectional());

    // A receipt, then every byte value: raw mode must not turn LF into CR LF, nor eat
    // XON/XOFF (0x11/0x13) or anything else.
    let mut bytes = render(
        &Document::new().line("Příliš žluťoučký kůň"),
        &Profile::paper_58mm(CodePage::Pc852),
    )
    .bytes;
    bytes.extend(0..=255u8);
    transport.write_all(&bytes).unwrap();

    let mut received = vec![0u8; bytes.len()];
    master.read_exact(&mut received).unwrap();
    assert_eq!(received, bytes);
}

#[test]
fn status_query_over_the_line() {
    let (master, slave) = open_pty();
    let mut transport = connect(&serial(slave), TIMEOUT).unwrap();

    // The printer: answers DLE EOT 1/2/4 after an unasked ASB byte; paper near end.
    let mut reader = master.try_clone().unwrap();
    let mut writer = master;
    let printer = thread::spawn(move || {
        let mut requests = Vec::new();
        let mut byte = [0u8; 1];
        while requests.len() < 9 {
            if reader.read(&mut byte).unwrap_or(0) == 0 {
                break;
            }
            requests.push(byte[0]);
            if requests.len() % 3 == 0 {
                let answer = match requests[requests.len() - 1] {
                    1 => 0x12,
                    2 => 0x12,
                    _ => 0x12 | 0x0C,
                };
                writer.write_all(&[0x14, answer]).unwrap();
            }
        }
        // Returned, not dropped: closing the master now would hang up the line while
        // the last answer is still unread.
        (requests, reader, writer)
    });

    let status = transport.query_status(TIMEOUT).unwrap().unwrap();
    assert!(status.online);
    assert!(status.paper_near_end);
    assert!(!status.paper_out);
    let (requests, _reader, _writer) = printer.join().unwrap();
    assert_eq!(
        requests,
        [0x10, 0x04, 0x01, 0x10, 0x04, 0x02, 0x10, 0x04, 0x04]
    );
}

#[test]
fn silent_line_is_a_status_timeout() {
    let (_master, slave) = open_pty();
    let mut transport = connect(&serial(slave), TIMEOUT).unwrap();
    let err = transport
        .query_status(Duration::from_millis(200))
        .unwrap_err();
    assert!(matches!(err, Error::StatusTimeout { .. }), "{err}");
}

#[test]
fn unplugged_printer_fails_the_next_write() {
    let (master, slave) = open_pty();
    let mut transport = connect(&serial(slave), TIMEOUT).unwrap();
    drop(master); // the far end hangs up
    let err = transport.write_all(b"after hang-up").unwrap_err();
    assert!(
        matches!(err, Error::Closed { .. } | Error::Io { .. }),
        "{err}"
    );
}

#[test]
fn missing_port_is_an_error_naming_it() {
    let connection = Connection::parse("serial:/dev/does-not-exist?baud=9600").unwrap();
    let err = match connect(&connection, TIMEOUT) {
        Ok(_) => panic!("opened a missing port"),
        Err(e) => e,
    };
    assert!(matches!(err, Error::Serial { .. }), "{err}");
    assert!(err.to_string().contains("/dev/does-not-exist"), "{err}");
}

#[test]
fn a_second_opener_of_the_same_port_is_refused() {
    let (_master, slave) = open_pty();
    let _first = connect(&serial(slave.clone()), TIMEOUT).unwrap();
    // Two daemons (or a daemon and a technician's tool) must not interleave receipts.
    let err = match connect(&serial(slave), TIMEOUT) {
        Ok(_) => panic!("opened the port twice"),
        Err(e) => e,
    };
    assert!(matches!(err, Error::Serial { .. }), "{err}");
}
