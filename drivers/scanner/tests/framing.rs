//! Framing as a till would notice it: codes come out whole, once, without prefix or suffix,
//! however the bytes are split across reads.

use std::time::{Duration, Instant};

use posd_scanner::{Framer, FramingConfig, MAX_FRAME_LEN, Suffix};

fn framer(suffix: Suffix, prefix: Option<&str>) -> Framer {
    Framer::new(FramingConfig {
        suffix,
        prefix: prefix.map(str::to_owned),
        inter_byte_timeout: Duration::from_millis(50),
    })
}

fn strings(frames: Vec<Vec<u8>>) -> Vec<String> {
    frames
        .into_iter()
        .map(|f| String::from_utf8_lossy(&f).into_owned())
        .collect()
}

#[test]
fn each_suffix_ends_a_frame_and_is_removed() {
    let now = Instant::now();
    for (suffix, wire) in [
        (Suffix::Cr, &b"4006381333931\r"[..]),
        (Suffix::Lf, b"4006381333931\n"),
        (Suffix::CrLf, b"4006381333931\r\n"),
        (Suffix::Tab, b"4006381333931\t"),
    ] {
        let mut f = framer(suffix, None);
        assert_eq!(
            strings(f.push(wire, now)),
            ["4006381333931"],
            "suffix {suffix:?}"
        );
        assert_eq!(f.deadline(), None, "nothing left over with {suffix:?}");
    }
}

#[test]
fn crlf_framer_keeps_a_lone_cr_inside_the_frame() {
    let now = Instant::now();
    let mut f = framer(Suffix::CrLf, None);
    assert!(f.push(b"AB\rCD", now).is_empty());
    assert_eq!(strings(f.push(b"\r\n", now)), ["AB\rCD"]);
}

#[test]
fn a_code_split_across_reads_comes_out_once_whole() {
    let start = Instant::now();
    let mut f = framer(Suffix::CrLf, None);
    assert!(f.push(b"40063", start).is_empty());
    assert!(
        f.push(b"8133393", start + Duration::from_millis(5))
            .is_empty()
    );
    // The CR LF itself split between reads.
    assert!(f.push(b"1\r", start + Duration::from_millis(10)).is_empty());
    assert_eq!(
        strings(f.push(b"\n", start + Duration::from_millis(15))),
        ["4006381333931"]
    );
}

#[test]
fn several_codes_in_one_read_come_out_in_order() {
    let mut f = framer(Suffix::Cr, None);
    let frames = f.push(
        b"]E04006381333931\r]E455123457\rHELLO\r]C0AB",
        Instant::now(),
    );
    assert_eq!(
        strings(frames),
        ["]E04006381333931", "]E455123457", "HELLO"]
    );
    // The unfinished fourth code waits for its suffix.
    assert_eq!(strings(f.push(b"C\r", Instant::now())), ["]C0ABC"]);
}

#[test]
fn prefix_is_stripped_and_frames_without_it_are_kept() {
    let now = Instant::now();
    let mut f = framer(Suffix::Cr, Some("#S"));
    assert_eq!(
        strings(f.push(b"#S4006381333931\r4006381333931\r", now)),
        ["4006381333931", "4006381333931"]
    );
    // Only a leading prefix is stripped.
    assert_eq!(strings(f.push(b"AB#S\r", now)), ["AB#S"]);
}

#[test]
fn empty_frames_are_dropped() {
    let now = Instant::now();
    let mut f = framer(Suffix::Cr, Some("#"));
    assert!(f.push(b"\r\r#\r", now).is_empty());
    assert_eq!(f.discarded(), 0, "empty frames are not garbage");
}

#[test]
fn without_suffix_a_frame_ends_after_the_inter_byte_timeout() {
    let start = Instant::now();
    let mut f = framer(Suffix::None, None);
    assert!(f.push(b"]E0400638", start).is_empty());
    assert!(
        f.push(b"1333931", start + Duration::from_millis(30))
            .is_empty()
    );
    assert_eq!(f.deadline(), Some(start + Duration::from_millis(80)));
    // 49 ms after the last byte: still waiting.
    assert_eq!(f.poll_timeout(start + Duration::from_millis(79)), None);
    assert_eq!(
        f.poll_timeout(start + Duration::from_millis(80)).as_deref(),
        Some(&b"]E04006381333931"[..])
    );
    assert_eq!(f.poll_timeout(start + Duration::from_secs(5)), None);
    assert_eq!(f.deadline(), None);
}

#[test]
fn without_suffix_a_late_push_completes_the_previous_frame_first() {
    let start = Instant::now();
    let mut f = framer(Suffix::None, Some("#"));
    assert!(f.push(b"#111", start).is_empty());
    // poll_timeout was never called; the next code's bytes must not be glued on.
    let frames = f.push(b"#222", start + Duration::from_millis(200));
    assert_eq!(strings(frames), ["111"]);
    assert_eq!(
        f.poll_timeout(start + Duration::from_millis(250))
            .as_deref(),
        Some(&b"222"[..])
    );
}

#[test]
fn stale_partial_frame_is_discarded_and_counted_with_a_suffix() {
    let start = Instant::now();
    let mut f = framer(Suffix::Cr, None);
    assert!(f.push(b"\x00\xffgarb", start).is_empty());
    assert_eq!(f.poll_timeout(start + Duration::from_millis(60)), None);
    assert_eq!(f.discarded(), 1);
    // The next code is clean.
    assert_eq!(
        strings(f.push(b"4006381333931\r", start + Duration::from_millis(100))),
        ["4006381333931"]
    );

    // Also when the garbage goes stale between two pushes without a poll.
    assert!(
        f.push(b"half", start + Duration::from_millis(200))
            .is_empty()
    );
    assert_eq!(
        strings(f.push(b"55123457\r", start + Duration::from_millis(400))),
        ["55123457"]
    );
    assert_eq!(f.discarded(), 2);
}

#[test]
fn overlong_garbage_is_discarded() {
    let now = Instant::now();
    let mut f = framer(Suffix::Cr, None);
    let noise = vec![b'x'; MAX_FRAME_LEN + 10];
    assert!(f.push(&noise, now).is_empty());
    assert_eq!(f.discarded(), 1);
    assert_eq!(
        strings(f.push(b"\rOK\r", now)),
        ["x".repeat(9), "OK".into()]
    );
}

#[test]
fn default_is_cr_no_prefix_50ms() {
    let d = FramingConfig::default();
    assert_eq!(d.suffix, Suffix::Cr);
    assert_eq!(d.prefix, None);
    assert_eq!(d.inter_byte_timeout, Duration::from_millis(50));
}

#[test]
fn config_reads_lowercase_names_and_milliseconds() {
    let cfg: FramingConfig =
        toml::from_str("suffix = \"crlf\"\nprefix = \"#\"\ninter_byte_timeout_ms = 80\n")
            .expect("valid framing config");
    assert_eq!(cfg.suffix, Suffix::CrLf);
    assert_eq!(cfg.prefix.as_deref(), Some("#"));
    assert_eq!(cfg.inter_byte_timeout, Duration::from_millis(80));

    for name in ["cr", "lf", "tab", "none"] {
        let cfg: FramingConfig =
            toml::from_str(&format!("suffix = \"{name}\"")).expect("known suffix");
        assert_eq!(
            cfg.inter_byte_timeout,
            Duration::from_millis(50),
            "default kept"
        );
    }
    assert!(toml::from_str::<FramingConfig>("suffix = \"CR\"").is_err());
    assert!(toml::from_str::<FramingConfig>("sufix = \"cr\"").is_err());
    assert!(toml::from_str::<FramingConfig>("inter_byte_timeout_ms = 0").is_err());
}
