//! The file transport against real files: appends, never creates or truncates, and has
//! no status to give.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use posd_printer::{CodePage, Connection, Cut, Document, Error, Profile, connect, render};

const TIMEOUT: Duration = Duration::from_secs(2);

fn file_connection(path: &std::path::Path) -> Connection {
    Connection::parse(&format!("file:{}", path.display())).unwrap()
}

#[test]
fn appends_rendered_bytes_after_existing_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lp0");
    fs::write(&path, b"earlier job\n").unwrap();
    let doc = Document::new().line("Müsli Früchte").cut(Cut::full());
    let bytes = render(&doc, &Profile::paper_58mm(CodePage::Pc858)).bytes;

    let mut transport = connect(&file_connection(&path), TIMEOUT).unwrap();
    transport.write_all(&bytes).unwrap();
    drop(transport);
    // A second connection appends too (the daemon reconnects after errors).
    let mut transport = connect(&file_connection(&path), TIMEOUT).unwrap();
    transport.write_all(b"second").unwrap();
    drop(transport);

    let mut expected = b"earlier job\n".to_vec();
    expected.extend(&bytes);
    expected.extend(b"second");
    assert_eq!(fs::read(&path).unwrap(), expected);
}

#[test]
fn is_write_only_and_reports_no_status() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut transport = connect(&file_connection(file.path()), TIMEOUT).unwrap();
    assert!(!transport.is_bidirectional());
    assert_eq!(transport.query_status(TIMEOUT).unwrap(), None);
    // Nothing was written to ask for status.
    assert_eq!(fs::read(file.path()).unwrap(), b"");
}

#[test]
fn missing_device_is_a_connect_error_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usb").join("lp0");
    let err = match connect(&file_connection(&path), TIMEOUT) {
        Ok(_) => panic!("opened a missing device"),
        Err(e) => e,
    };
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(err.to_string().contains("lp0"), "{err}");
    let path = dir.path().join("lp0");
    assert!(connect(&file_connection(&path), TIMEOUT).is_err());
    assert!(!path.exists());
}

#[test]
fn device_that_takes_no_data_fails_the_write_after_the_timeout() {
    // A FIFO nobody drains stands in for a printer that stopped accepting data.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo");
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    // Keep a reader open so opening for writing succeeds, but never read.
    let _reader = fs::OpenOptions::new()
        .read(true)
        // Opening a FIFO for reading would block until a writer comes.
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    let mut transport = connect(&file_connection(&path), Duration::from_millis(200)).unwrap();
    let started = std::time::Instant::now();
    let err = transport.write_all(&vec![0u8; 1 << 20]).unwrap_err();
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
    assert!(err.to_string().contains("took no data"), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(started.elapsed() < Duration::from_secs(5));
}
