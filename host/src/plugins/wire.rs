//! The channel between the daemon and a plugin's child process: one Unix stream socket,
//! length-prefixed frames of a tag byte and a body. Requests and answers travel as the
//! plugin's own JSON bytes, so a call costs two copies and no re-encoding.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::sandbox::SandboxSpec;

/// The largest frame either side accepts: a plugin answer may be 16 MiB.
pub const MAX_FRAME: usize = 32 * 1024 * 1024;

/// Daemon → child: [`Init`] as JSON, the first frame.
pub const INIT: u8 = b'I';
/// Daemon → child: `[clock offset ms: i64 LE][configuration JSON]`, create the instance.
pub const CREATE: u8 = b'C';
/// Daemon → child: `[hook: u8][clock offset ms: i64 LE][request JSON]`.
pub const HOOK: u8 = b'H';
/// Daemon → child: `[status: i32 LE][response JSON]`, the answer to a [`SERVICE`].
pub const SERVICE_ANSWER: u8 = b'S';
/// Daemon → child: destroy the instance and exit.
pub const DESTROY: u8 = b'D';

/// Child → daemon: [`Described`] as JSON.
pub const DESCRIBED: u8 = b'd';
/// Child → daemon: [`Refused`] as JSON: the library did not load.
pub const REFUSED: u8 = b'r';
/// Child → daemon: create returned an instance.
pub const CREATED: u8 = b'c';
/// Child → daemon: create failed; the body says why.
pub const CREATE_FAILED: u8 = b'f';
/// Child → daemon: `[outcome: u8][body]`, see [`outcome`].
pub const ANSWER: u8 = b'a';
/// Child → daemon: `[service name length: u16 LE][service][request JSON]`, a host call.
pub const SERVICE: u8 = b's';
/// Child → daemon: `[level: i32 LE][message]`.
pub const LOG: u8 = b'l';
/// Child → daemon: destroy returned.
pub const DESTROYED: u8 = b'x';

/// The first byte of an [`ANSWER`].
pub mod outcome {
    /// The hook's response follows.
    pub const OK: u8 = 0;
    /// The plugin refused: `{"error","message"}` follows.
    pub const REFUSED: u8 = 1;
    /// The call failed in the child: a message follows.
    pub const FAILED: u8 = 2;
    /// The plugin lacks the hook.
    pub const NOT_IMPLEMENTED: u8 = 3;
}

/// What a child is to load and how it is walled in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Init {
    /// The private snapshot of the library.
    pub snapshot: PathBuf,
    /// The file the technician installed, for messages.
    pub shown_as: PathBuf,
    /// The daemon's ABI minor.
    pub host_minor: u16,
    /// Describe the library and exit, without creating an instance.
    pub describe_only: bool,
    /// The walls.
    pub sandbox: SandboxSpec,
}

/// A loaded library's descriptor, as the child read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Described {
    /// Plugin id.
    pub id: String,
    /// Name for people.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// One line or "".
    pub description: String,
    /// ABI it was built against.
    pub abi: (u16, u16),
    /// Oldest host minor it works with.
    pub min_abi_minor: u16,
    /// Which hooks it has, in table order.
    pub present: Vec<bool>,
    /// What the sandbox enforces on this kernel.
    pub sandbox: String,
    /// What it could not enforce here, if anything.
    pub degraded: Option<String>,
}

/// Why the child could not load the library.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refused {
    /// True for a library that is no posd plugin (same bytes, same answer).
    pub not_a_plugin: bool,
    /// The loader's reason.
    pub reason: String,
}

/// Writes one frame of `tag` whose body is `parts` one after another.
pub fn write_frame(out: &mut impl Write, tag: u8, parts: &[&[u8]]) -> io::Result<()> {
    let len: usize = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a frame of {len} bytes is too large"),
        ));
    }
    let mut head = [0u8; 5];
    head[..4].copy_from_slice(&(len as u32).to_le_bytes());
    head[4] = tag;
    let mut buffer = Vec::with_capacity(5 + len);
    buffer.extend_from_slice(&head);
    for part in parts {
        buffer.extend_from_slice(part);
    }
    out.write_all(&buffer)
}

/// Reads one frame: its tag and body.
pub fn read_frame(input: &mut impl Read) -> io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    input.read_exact(&mut head)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes"),
        ));
    }
    let mut body = vec![0u8; len - 1];
    input.read_exact(&mut body)?;
    Ok((head[4], body))
}

/// Splits `[i64 LE][rest]`.
pub fn split_i64(body: &[u8]) -> Option<(i64, &[u8])> {
    let (head, rest) = body.split_first_chunk::<8>()?;
    Some((i64::from_le_bytes(*head), rest))
}

/// Splits `[i32 LE][rest]`.
pub fn split_i32(body: &[u8]) -> Option<(i32, &[u8])> {
    let (head, rest) = body.split_first_chunk::<4>()?;
    Some((i32::from_le_bytes(*head), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversized_or_empty_ones_are_refused() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, HOOK, &[&[4], &7i64.to_le_bytes(), b"{}"]).expect("write");
        write_frame(&mut bytes, DESTROY, &[]).expect("write");
        let mut input = bytes.as_slice();
        let (tag, body) = read_frame(&mut input).expect("first");
        assert_eq!(tag, HOOK);
        assert_eq!(body[0], 4);
        assert_eq!(split_i64(&body[1..]), Some((7, &b"{}"[..])));
        assert_eq!(read_frame(&mut input).expect("second"), (DESTROY, vec![]));
        assert!(read_frame(&mut input).is_err(), "end of stream");
        let mut garbage: &[u8] = &[0, 0, 0, 0, b'H'];
        assert!(read_frame(&mut garbage).is_err(), "a zero-length frame");
        let mut huge: &[u8] = &[0xff, 0xff, 0xff, 0x7f, b'H'];
        assert!(read_frame(&mut huge).is_err(), "a 2 GiB frame");
    }
}
