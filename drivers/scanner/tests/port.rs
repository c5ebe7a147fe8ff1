//! The serial side against real kernel pseudo-terminals: the master end plays the scanner, the
//! slave end is the "serial port" posd opens. No mocks.

use std::ffi::CStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use posd_scanner::{
    DecodeOptions, FlowControl, Framer, FramingConfig, Parity, ScanError, ScannerPort, SerialSpec,
    Suffix, Symbology, decode,
};

/// A kernel pty pair's master (the "scanner") and the slave's device path.
struct Pty {
    master: File,
    slave: String,
}

fn open_pty() -> Pty {
    // SAFETY: plain libc calls on a descriptor we own; ptsname_r writes at most `name.len()`
    // bytes including the terminating NUL.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = File::from_raw_fd(fd);
        assert_eq!(libc::grantpt(fd), 0, "grantpt");
        assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        let slave = CStr::from_ptr(name.as_ptr())
            .to_str()
            .expect("pty name is UTF-8")
            .to_owned();
        Pty { master, slave }
    }
}

fn spec(path: &str) -> SerialSpec {
    SerialSpec::parse(&format!("serial:{path}?baud=9600")).expect("valid spec")
}

fn open(path: &str) -> ScannerPort {
    ScannerPort::open(&spec(path)).unwrap_or_else(|e| panic!("open {path}: {e}"))
}

/// Reads frames until one arrives or two seconds pass.
fn next_frame(port: &mut ScannerPort, framer: &mut Framer) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let mut frames = port
            .read_frames(framer, Duration::from_millis(200))
            .expect("port alive");
        if !frames.is_empty() {
            assert_eq!(frames.len(), 1, "one code sent");
            return frames.remove(0);
        }
    }
    panic!("no frame within 2 s");
}

// --- connection strings ----------------------------------------------------------------------

#[test]
fn connection_string_with_all_options() {
    let s = SerialSpec::parse(
        "serial:/dev/ttyUSB0?baud=19200&data_bits=7&parity=even&stop_bits=2\
         &flow_control=hardware&exclusive=true",
    )
    .expect("valid");
    assert_eq!(s.path, "/dev/ttyUSB0");
    assert_eq!(s.baud, 19200);
    assert_eq!(s.data_bits, 7);
    assert_eq!(s.parity, Parity::Even);
    assert_eq!(s.stop_bits, 2);
    assert_eq!(s.flow_control, FlowControl::Hardware);
    assert!(s.exclusive);
    // The canonical form parses back to the same spec.
    assert_eq!(SerialSpec::parse(&s.to_string()).expect("round trip"), s);
}

#[test]
fn connection_string_defaults() {
    let s: SerialSpec = "serial:/dev/serial/by-id/usb-Scanner-if00"
        .parse()
        .expect("valid");
    assert_eq!(s.path, "/dev/serial/by-id/usb-Scanner-if00");
    assert_eq!(
        (s.baud, s.data_bits, s.parity, s.stop_bits),
        (9600, 8, Parity::None, 1)
    );
    assert_eq!(s.flow_control, FlowControl::None);
    assert!(!s.exclusive);
}

#[test]
fn bad_connection_strings_say_what_is_wrong() {
    let cases = [
        ("/dev/ttyUSB0", "starts with \"serial:\""),
        ("tcp:10.0.0.1:9100", "starts with \"serial:\""),
        ("serial:", "no device path"),
        ("serial:?baud=9600", "no device path"),
        ("serial:/dev/ttyS0?baud=fast", "baud=\"fast\""),
        ("serial:/dev/ttyS0?baud=0", "positive number"),
        ("serial:/dev/ttyS0?data_bits=9", "5, 6, 7 or 8"),
        ("serial:/dev/ttyS0?parity=mark", "none, odd or even"),
        ("serial:/dev/ttyS0?stop_bits=1.5", "1 or 2"),
        (
            "serial:/dev/ttyS0?flow_control=rts",
            "none, software or hardware",
        ),
        ("serial:/dev/ttyS0?exclusive=yes", "true or false"),
        ("serial:/dev/ttyS0?speed=9600", "unknown option \"speed\""),
        ("serial:/dev/ttyS0?baud", "has no \"=value\""),
        ("serial:/dev/ttyS0?baud=9600&baud=19200", "given twice"),
    ];
    for (input, needle) in cases {
        let e = SerialSpec::parse(input).expect_err(input);
        assert!(matches!(e, ScanError::Connection { .. }), "{input}: {e}");
        let message = e.to_string();
        assert!(
            message.contains(needle),
            "{input}: {message:?} lacks {needle:?}"
        );
        assert!(
            message.contains(input),
            "{input}: {message:?} should quote the input"
        );
    }
}

// --- real pseudo-terminals -------------------------------------------------------------------

#[test]
fn a_scan_written_by_the_scanner_is_decoded() {
    let mut pty = open_pty();
    let mut port = open(&pty.slave);
    pty.master
        .write_all(b"]E04006381333931\r")
        .expect("write to master");
    let mut framer = Framer::new(FramingConfig::default());
    let frame = next_frame(&mut port, &mut framer);
    let scan = decode(&frame, &DecodeOptions::default()).expect("valid scan");
    assert_eq!(scan.code, "4006381333931");
    assert_eq!(scan.symbology, Symbology::Ean13);
}

#[test]
fn the_line_is_raw_control_characters_pass_untouched() {
    // In the pty's default cooked mode CR would turn into LF, ^U would erase the line, ^C
    // would raise a signal and GS would be fine but nothing would arrive before a newline.
    let mut pty = open_pty();
    let mut port = open(&pty.slave);
    let sent = b"AB\x15CD\x03\x1d\x7f\r";
    pty.master.write_all(sent).expect("write");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 64];
    while got.len() < sent.len() && Instant::now() < deadline {
        let n = port
            .read(&mut buf, Duration::from_millis(200))
            .expect("port alive");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, sent);
}

#[test]
fn gs1_data_with_group_separators_arrives_intact() {
    let mut pty = open_pty();
    let mut port = open(&pty.slave);
    pty.master
        .write_all(b"]C10104012345678901\x1d" as &[u8])
        .and_then(|()| pty.master.write_all(b"10ABC123\x1d3103001250\r"))
        .expect("write");
    let mut framer = Framer::new(FramingConfig::default());
    let frame = next_frame(&mut port, &mut framer);
    let scan = decode(&frame, &DecodeOptions::default()).expect("valid GS1");
    assert_eq!(scan.details["gtin"], "04012345678901");
    assert_eq!(scan.details["batch"], "ABC123");
    assert_eq!(scan.details["net_weight_kg"], "1.250");
}

#[test]
fn a_read_without_data_returns_promptly_at_its_timeout() {
    let pty = open_pty();
    let mut port = open(&pty.slave);
    let mut framer = Framer::new(FramingConfig::default());
    let start = Instant::now();
    let frames = port
        .read_frames(&mut framer, Duration::from_millis(300))
        .expect("port alive");
    let took = start.elapsed();
    assert!(frames.is_empty());
    assert!(
        took >= Duration::from_millis(300),
        "returned early: {took:?}"
    );
    // Slack for a loaded CI machine, still far below a doubled or repeated wait.
    assert!(took < Duration::from_millis(450), "returned late: {took:?}");

    let mut buf = [0u8; 16];
    let start = Instant::now();
    assert_eq!(
        port.read(&mut buf, Duration::from_millis(100))
            .expect("alive"),
        0
    );
    let took = start.elapsed();
    assert!(
        (Duration::from_millis(100)..Duration::from_millis(250)).contains(&took),
        "{took:?}"
    );
    drop(pty);
}

#[test]
fn a_scanner_without_suffix_is_framed_by_silence_not_by_the_read_timeout() {
    let mut pty = open_pty();
    let mut port = open(&pty.slave);
    let mut framer = Framer::new(FramingConfig {
        suffix: Suffix::None,
        prefix: None,
        inter_byte_timeout: Duration::from_millis(50),
    });
    pty.master.write_all(b"]E455123457").expect("write");
    let start = Instant::now();
    let mut frames = Vec::new();
    while frames.is_empty() && start.elapsed() < Duration::from_secs(5) {
        frames = port
            .read_frames(&mut framer, Duration::from_secs(5))
            .expect("port alive");
    }
    let took = start.elapsed();
    assert_eq!(frames, [b"]E455123457".to_vec()]);
    assert!(
        took >= Duration::from_millis(50),
        "completed before the line went quiet: {took:?}"
    );
    assert!(
        took < Duration::from_secs(1),
        "waited for the read timeout: {took:?}"
    );
}

#[test]
fn closing_the_master_ends_a_blocked_read_with_device_gone() {
    let pty = open_pty();
    let mut port = open(&pty.slave);
    let reader = thread::spawn(move || {
        let mut framer = Framer::new(FramingConfig::default());
        let start = Instant::now();
        let result = port.read_frames(&mut framer, Duration::from_secs(10));
        (result, start.elapsed(), port)
    });
    thread::sleep(Duration::from_millis(100));
    drop(pty.master);
    let (result, took, mut port) = reader.join().expect("reader thread");
    let e = result.expect_err("the device is gone");
    assert!(matches!(e, ScanError::Disconnected { .. }), "{e}");
    assert!(e.is_device_gone());
    assert!(
        took < Duration::from_secs(2),
        "hang-up noticed late: {took:?}"
    );
    assert!(e.to_string().contains(&pty.slave), "{e}");

    // Reading again fails at once; the crate does not retry on its own.
    let start = Instant::now();
    let mut buf = [0u8; 8];
    let again = port.read(&mut buf, Duration::from_secs(10));
    assert!(
        matches!(again, Err(ScanError::Disconnected { .. })),
        "{again:?}"
    );
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[test]
fn reopening_through_a_symlink_reaches_the_new_device() {
    let dir = tempfile::tempdir().expect("temp dir");
    let link = dir.path().join("scanner");
    let link_str = link.to_str().expect("UTF-8 temp path").to_owned();

    let mut first = open_pty();
    std::os::unix::fs::symlink(&first.slave, &link).expect("symlink");
    let mut port = open(&link_str);
    assert_eq!(port.path(), link_str);
    let mut framer = Framer::new(FramingConfig::default());
    first.master.write_all(b"]E455123457\r").expect("write");
    assert_eq!(next_frame(&mut port, &mut framer), b"]E455123457");

    // The replacement device node exists before the old one goes, so the kernel cannot hand
    // out the same pts number again and the symlink really moves to another node.
    let mut second = open_pty();
    assert_ne!(second.slave, first.slave);

    // The scanner is unplugged...
    drop(first.master);
    let mut buf = [0u8; 8];
    let gone = port.read(&mut buf, Duration::from_secs(5));
    assert!(
        matches!(gone, Err(ScanError::Disconnected { .. })),
        "{gone:?}"
    );
    drop(port);
    // ...and while it is away, opening fails as "device gone", for the supervisor to retry.
    std::fs::remove_file(&link).expect("remove link");
    let missing = ScannerPort::open(&spec(&link_str)).expect_err("no device");
    assert!(matches!(missing, ScanError::Open { .. }) && missing.is_device_gone());

    // ...and plugged in again under a new device node, which udev's symlink follows.
    std::os::unix::fs::symlink(&second.slave, &link).expect("symlink");
    let mut port = open(&link_str);
    framer.reset();
    second
        .master
        .write_all(b"]E04006381333931\r")
        .expect("write");
    assert_eq!(next_frame(&mut port, &mut framer), b"]E04006381333931");
}

#[test]
fn ports_are_shared_unless_exclusive_is_asked_for() {
    let pty = open_pty();
    let first = open(&pty.slave);
    let second = ScannerPort::open(&spec(&pty.slave));
    assert!(
        second.is_ok(),
        "non-exclusive by default: {:?}",
        second.err()
    );
    drop(second);
    drop(first);

    let exclusive =
        SerialSpec::parse(&format!("serial:{}?exclusive=true", pty.slave)).expect("valid");
    let _held = ScannerPort::open(&exclusive).expect("first exclusive open");
    let refused = ScannerPort::open(&spec(&pty.slave));
    assert!(
        matches!(refused, Err(ScanError::Open { .. })),
        "a second opener must be refused while the port is held exclusively"
    );
}

#[test]
fn opening_a_missing_device_is_an_open_error() {
    let e = ScannerPort::open(&spec("/dev/posd-no-such-scanner")).expect_err("missing");
    assert!(matches!(e, ScanError::Open { .. }), "{e}");
    assert!(e.to_string().contains("/dev/posd-no-such-scanner"), "{e}");
    assert!(!Path::new("/dev/posd-no-such-scanner").exists());
}
