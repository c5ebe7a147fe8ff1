//! Cutting the byte stream of a serial scanner into one frame per scanned code.
//!
//! A serial scanner sends each code as `[prefix] data [suffix]` and nothing marks where a read
//! from the port begins or ends: one read can hold half a code or three codes. [`Framer`]
//! collects bytes until the configured [`Suffix`] arrives. Scanners programmed to send no suffix
//! are framed by silence instead: a frame is complete once no byte came for
//! [`FramingConfig::inter_byte_timeout`].
//!
//! Decisions a user can notice:
//!
//! - **Prefix**: stripped when a frame starts with it. A frame *without* the configured prefix
//!   is still accepted, unchanged. Scanners lose their programming after a factory reset, and a
//!   till that refuses every scan because a cosmetic prefix went missing is worse than one that
//!   keeps selling; the prefix is not an authentication.
//! - **Suffix**: matched exactly as configured. A scanner sending CR LF to a framer configured
//!   for CR leaves a stray LF at the start of the next code, which then fails to decode: set the
//!   suffix the scanner really sends.
//! - **Stale partial frames**: with a suffix configured, bytes that stop arriving before the
//!   suffix came (a half-transmitted code, line noise, a scanner unplugged mid-code) are
//!   discarded once the inter-byte timeout has passed and counted in [`Framer::discarded`]; they
//!   are never glued to the next code.
//! - **Empty frames** (a bare suffix, a frame that is only the prefix) are dropped silently.
//! - **Overlong frames**: more than [`MAX_FRAME_LEN`] bytes without a suffix are discarded and
//!   counted, so a babbling line cannot grow memory without bound.

use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest frame kept, in bytes. A QR code holds at most 7,089 characters, so real codes
/// fit; anything longer is noise.
pub const MAX_FRAME_LEN: usize = 8192;

/// What the scanner sends after each code. Configured as `"cr"`, `"lf"`, `"crlf"`, `"tab"` or
/// `"none"` to match the scanner's programming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suffix {
    /// Carriage return (0x0D), the factory default of most serial scanners.
    #[default]
    Cr,
    /// Line feed (0x0A).
    Lf,
    /// Carriage return then line feed.
    CrLf,
    /// Horizontal tab (0x09), common on scanners set up for keyboard-wedge forms.
    Tab,
    /// No suffix: frames end when the line goes quiet for the inter-byte timeout.
    None,
}

impl Suffix {
    /// The bytes that end a frame; empty for [`Suffix::None`].
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Self::Cr => b"\r",
            Self::Lf => b"\n",
            Self::CrLf => b"\r\n",
            Self::Tab => b"\t",
            Self::None => b"",
        }
    }
}

/// How a scanner's byte stream is cut into codes; one per scanner in the daemon's
/// configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FramingConfig {
    /// What ends each code.
    pub suffix: Suffix,
    /// Bytes the scanner puts before each code, stripped when present (see the module docs for
    /// frames that lack it). `None` or an empty string: no prefix.
    pub prefix: Option<String>,
    /// How long the line must stay quiet before a partial frame counts as complete (no suffix)
    /// or as garbage (with a suffix). In configuration files: `inter_byte_timeout_ms`.
    #[serde(
        rename = "inter_byte_timeout_ms",
        serialize_with = "serialize_millis",
        deserialize_with = "deserialize_millis"
    )]
    pub inter_byte_timeout: Duration,
}

impl Default for FramingConfig {
    /// CR suffix, no prefix, 50 ms: the factory setting of common serial scanners, and at 9600
    /// baud one byte takes about 1 ms, so 50 ms of silence means the scanner has finished.
    fn default() -> Self {
        Self {
            suffix: Suffix::Cr,
            prefix: None,
            inter_byte_timeout: Duration::from_millis(50),
        }
    }
}

fn serialize_millis<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    let millis = u64::try_from(value.as_millis()).unwrap_or(u64::MAX);
    serializer.serialize_u64(millis)
}

fn deserialize_millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let millis = u64::deserialize(deserializer)?;
    if millis == 0 {
        return Err(serde::de::Error::custom(
            "inter_byte_timeout_ms must be at least 1",
        ));
    }
    Ok(Duration::from_millis(millis))
}

/// Turns arbitrary chunks of bytes from the port into complete frames (prefix and suffix
/// removed). Holds at most one partial frame between calls.
#[derive(Debug, Clone)]
pub struct Framer {
    config: FramingConfig,
    partial: Vec<u8>,
    last_byte_at: Option<Instant>,
    discarded: u64,
}

impl Framer {
    /// A framer with nothing buffered.
    pub fn new(config: FramingConfig) -> Self {
        Self {
            config,
            partial: Vec::new(),
            last_byte_at: None,
            discarded: 0,
        }
    }

    /// The configuration this framer cuts by.
    pub fn config(&self) -> &FramingConfig {
        &self.config
    }

    /// Feeds bytes that arrived at `now` and returns every frame they complete, oldest first.
    ///
    /// A partial frame that had already gone stale before these bytes came is dealt with first
    /// (completed without a suffix, discarded with one), so a slow half-code never merges with
    /// the next scan even if [`Framer::poll_timeout`] was not called in between.
    pub fn push(&mut self, bytes: &[u8], now: Instant) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        if let Some(frame) = self.poll_timeout(now) {
            frames.push(frame);
        }
        let suffix = self.config.suffix.bytes();
        for &byte in bytes {
            self.partial.push(byte);
            if !suffix.is_empty() && self.partial.ends_with(suffix) {
                let end = self.partial.len() - suffix.len();
                let frame: Vec<u8> = self.partial.drain(..).take(end).collect();
                if let Some(frame) = self.finish(frame) {
                    frames.push(frame);
                }
            } else if self.partial.len() > MAX_FRAME_LEN {
                self.partial.clear();
                self.discarded += 1;
            }
        }
        self.last_byte_at = if self.partial.is_empty() {
            None
        } else {
            Some(now)
        };
        frames
    }

    /// Completes or drops the partial frame once the line has been quiet for the inter-byte
    /// timeout. Without a suffix this is how every frame ends; with a suffix the partial frame
    /// is garbage and only counted. Returns `None` while the timeout has not passed.
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Vec<u8>> {
        let deadline = self.deadline()?;
        if now < deadline {
            return None;
        }
        let partial = std::mem::take(&mut self.partial);
        self.last_byte_at = None;
        if self.config.suffix == Suffix::None {
            self.finish(partial)
        } else {
            self.discarded += 1;
            None
        }
    }

    /// When [`Framer::poll_timeout`] will next have something to do, so a reader can sleep
    /// exactly that long; `None` when nothing is buffered.
    pub fn deadline(&self) -> Option<Instant> {
        self.last_byte_at
            .map(|at| at + self.config.inter_byte_timeout)
    }

    /// How many partial frames were thrown away (stale before their suffix came, or longer than
    /// [`MAX_FRAME_LEN`]); a rising count points at a wrong suffix setting or a noisy line.
    pub fn discarded(&self) -> u64 {
        self.discarded
    }

    /// Forgets a buffered partial frame without counting it, for when the port was reopened
    /// and old bytes must not be completed by new ones.
    pub fn reset(&mut self) {
        self.partial.clear();
        self.last_byte_at = None;
    }

    fn finish(&self, mut frame: Vec<u8>) -> Option<Vec<u8>> {
        if let Some(prefix) = self.config.prefix.as_deref()
            && !prefix.is_empty()
            && frame.starts_with(prefix.as_bytes())
        {
            frame.drain(..prefix.len());
        }
        (!frame.is_empty()).then_some(frame)
    }
}
