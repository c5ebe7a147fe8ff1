//! Tokenizer: split a raw ESC/POS byte stream into commands.
//!
//! Bytes arrive from TCP in arbitrary chunks, and a status request (`DLE EOT n`) must be
//! answered while the connection is still open, so the tokenizer is incremental: it keeps an
//! incomplete command until the rest arrives and hands out every complete command at once.
//! It never interprets what a command means for the paper; that is the job of
//! [`crate::interpret::Interpreter`].
//!
//! # Lengths assumed for commands we do not render
//!
//! Commands outside the set our renderer emits are skipped with the length the Epson
//! ESC/POS reference gives them, so the bytes after them are not misread as text:
//!
//! | command | bytes skipped |
//! | --- | --- |
//! | `ESC` with one parameter: `SP - 3 = ? J K M R T U V e r u { %` | 3 |
//! | `ESC 2`, `ESC <`, `ESC L`, `ESC S`, `ESC v` | 2 |
//! | `ESC $ nL nH`, `ESC \ nL nH`, `ESC c x n` | 4 |
//! | `ESC W` (page mode area) | 10 |
//! | `ESC D n1 … NUL` (tab stops) | up to and including NUL, at most 32 stops |
//! | `ESC * m nL nH d…` (bit image) | 5 + n (m = 0, 1) or 5 + 3n (m = 32, 33) |
//! | `ESC & y c1 c2 [x d1…d(y·x)]…` (user characters) | as declared (y ≤ 3, x ≤ 12) |
//! | `ESC ( X pL pH …`, `GS ( X pL pH …`, `FS ( X pL pH …` | 5 + pL + 256·pH |
//! | `GS 8 L p1 p2 p3 p4 …` (graphics, large) | 7 + p1…p4 (little endian) |
//! | `GS * x y d…` (downloaded bit image) | 4 + 8·x·y |
//! | `GS` with one parameter: `B b f a r I T / E Z` | 3 |
//! | `GS L`, `GS W`, `GS P`, `GS $`, `GS \` (two parameters) | 4 |
//! | `GS ^ r t m`, `GS g x nL nH`-style | 5 |
//! | `GS :` (macro start/end) | 2 |
//! | `GS V m` with an unknown m, `GS k m` with an unknown m | 3 |
//! | `FS p n m`, `FS S n1 n2` | 4 |
//! | `FS C n`, `FS ! n`, `FS - n` | 3 |
//! | `FS .`, `FS &` | 2 |
//! | `DLE ENQ n` | 3 |
//! | `DLE DC4 fn a b` | 5 |
//! | any other `ESC x`, `GS x`, `FS x` | 2 (the command byte and its letter) |
//! | any other control byte below 0x20 (not LF, CR, HT) | 1 |
//!
//! Declared data lengths are capped ([`MAX_DATA_LEN`](crate::command::MAX_DATA_LEN)); a
//! command that declares more is treated as unusable: only its header is skipped, as Epson
//! printers do with out-of-range parameters, so a corrupt header cannot make the printer wait
//! for gigabytes.

/// The largest data block (bytes) a single command may declare before it is treated as
/// corrupt; big enough for a full-width raster logo several metres long.
pub const MAX_DATA_LEN: usize = 16 * 1024 * 1024;

/// Widest raster image accepted, in bytes per row (1024 bytes = 8192 dots; real 80 mm
/// printers take 72 bytes). Larger declarations are treated as corrupt headers.
pub const MAX_RASTER_WIDTH_BYTES: usize = 1024;

/// Tallest raster image accepted, in rows (the Epson limit for `GS v 0`).
pub const MAX_RASTER_HEIGHT: usize = 4095;

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const FS: u8 = 0x1C;
const DLE: u8 = 0x10;
const LF: u8 = 0x0A;
const CR: u8 = 0x0D;
const HT: u8 = 0x09;
const EOT: u8 = 0x04;

/// One ESC/POS command, as far as the virtual printer distinguishes them.
///
/// The variants mirror the command list our renderer emits; everything else becomes
/// [`Command::Skipped`] with an explanation so the technician sees what was ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `ESC @`: reset styles and the code page, discard unprinted text.
    Init,
    /// `ESC t n`: select a character code table.
    SelectCodePage(u8),
    /// A run of text bytes (0x20–0xFF), still in the printer's code page.
    Text(Vec<u8>),
    /// `LF`: print the line buffer and advance one line.
    LineFeed,
    /// `CR`: ignored by Epson printers with auto line feed off; kept to stay silent about it.
    CarriageReturn,
    /// `HT`: advance to the next tab stop (every 8 columns by default).
    Tab,
    /// `ESC a n`: justification (0/48 left, 1/49 centre, 2/50 right).
    Align(u8),
    /// `ESC E n` or `ESC G n`: emphasized / double-strike on (LSB 1) or off.
    Bold(u8),
    /// `GS ! n`: character size, high nibble width − 1, low nibble height − 1.
    CharSize(u8),
    /// `ESC ! n`: print mode (bit 3 emphasized, bit 4 double height, bit 5 double width).
    PrintMode(u8),
    /// `ESC d n`: print the buffer and feed n lines.
    FeedLines(u8),
    /// `GS h n`: barcode height in dots.
    BarcodeHeight(u8),
    /// `GS w n`: barcode module width in dots.
    BarcodeModuleWidth(u8),
    /// `GS H n`: where the human readable digits go.
    HriPosition(u8),
    /// `GS k m …`: print a barcode of system `m`.
    Barcode {
        /// The system byte `m` (67 = EAN-13 and 73 = CODE128 in function B, 2 = EAN-13 in A).
        system: u8,
        /// The data bytes as sent (for CODE128 including the `{B`/`{C` selectors).
        data: Vec<u8>,
    },
    /// `GS ( k pL pH 49 fn …`: a QR code function.
    Qr {
        /// The function byte (65 model, 67 size, 69 error correction, 80 store, 81 print).
        function: u8,
        /// Everything after the function byte.
        params: Vec<u8>,
    },
    /// `GS v 0 m xL xH yL yH d…`: raster bit image.
    RasterImage {
        /// Scale mode (0 normal, 1 double width, 2 double height, 3 both; 48–51 too).
        mode: u8,
        /// Bytes per row.
        width_bytes: usize,
        /// Number of rows.
        height: usize,
        /// Row-major bits, MSB leftmost, 1 = black.
        data: Vec<u8>,
    },
    /// `GS V …`, `ESC i`, `ESC m`: cut the paper, ending the receipt.
    Cut {
        /// True for a partial cut (one point left uncut).
        partial: bool,
        /// Dots fed before cutting (function B, `GS V 65 n`).
        feed_dots: u8,
    },
    /// `ESC p m t1 t2`: pulse the cash drawer connector.
    DrawerKick {
        /// 0/48 = connector pin 2, 1/49 = pin 5.
        pin: u8,
        /// On time in 2 ms units.
        on: u8,
        /// Off time in 2 ms units.
        off: u8,
    },
    /// `DLE EOT n`: real-time status request, answered by the server, never printed.
    StatusRequest(u8),
    /// A command the virtual printer recognises or assumes a length for but does not render.
    Skipped {
        /// Human readable explanation, e.g. "ESC - (underline) not rendered".
        reason: String,
    },
}

/// A complete command together with the number of stream bytes it occupied.
///
/// The length lets the server report how many bytes it discarded while "offline".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The command.
    pub command: Command,
    /// How many bytes of the stream it consumed.
    pub len: usize,
}

/// Incremental ESC/POS tokenizer; feed it chunks in stream order.
#[derive(Debug, Default)]
pub struct Tokenizer {
    pending: Vec<u8>,
}

/// Result of trying to parse one command at the front of the buffer.
enum Step {
    /// A full command of the given length.
    Done(Command, usize),
    /// More bytes are needed.
    NeedMore,
}

impl Tokenizer {
    /// A tokenizer at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append a chunk and return every command that is now complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Parsed> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < self.pending.len() {
            match parse_one(&self.pending[pos..]) {
                Step::Done(command, len) => {
                    out.push(Parsed { command, len });
                    pos += len;
                }
                Step::NeedMore => break,
            }
        }
        self.pending.drain(..pos);
        out
    }

    /// End of stream: whatever is left is an incomplete command, reported so the receipt
    /// can carry a warning instead of silently losing it.
    pub fn finish(self) -> Option<Parsed> {
        if self.pending.is_empty() {
            return None;
        }
        let len = self.pending.len();
        Some(Parsed {
            command: Command::Skipped {
                reason: format!(
                    "stream ended inside a command: {} ({len} bytes dropped)",
                    hex_prefix(&self.pending)
                ),
            },
            len,
        })
    }

    /// Number of bytes held back waiting for the rest of a command.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

/// Up to 8 leading bytes in hex, for warnings that identify a command.
fn hex_prefix(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02X}")).collect();
    let more = if bytes.len() > 8 { " …" } else { "" };
    format!("{}{more}", shown.join(" "))
}

/// Byte at `i`, or `None` if the buffer ends before it.
fn at(buf: &[u8], i: usize) -> Option<u8> {
    buf.get(i).copied()
}

fn skipped(reason: impl Into<String>, len: usize) -> Step {
    Step::Done(
        Command::Skipped {
            reason: reason.into(),
        },
        len,
    )
}

/// Skip a command of fixed total length `len`, once all its bytes are there.
fn fixed(buf: &[u8], len: usize, name: &str) -> Step {
    if buf.len() < len {
        return Step::NeedMore;
    }
    skipped(
        format!("{name} not rendered ({}), skipped", hex_prefix(&buf[..len])),
        len,
    )
}

/// Skip a command whose total length is `header + data`, capping silly declarations.
fn with_data(buf: &[u8], header: usize, data: usize, name: &str) -> Step {
    if data > MAX_DATA_LEN {
        return skipped(
            format!("{name} declares {data} data bytes, treated as corrupt; skipped its header"),
            header,
        );
    }
    let total = header + data;
    if buf.len() < total {
        return Step::NeedMore;
    }
    skipped(format!("{name} not rendered, skipped {total} bytes"), total)
}

/// Parse the command at the front of `buf` (never empty).
fn parse_one(buf: &[u8]) -> Step {
    let Some(first) = at(buf, 0) else {
        return Step::NeedMore;
    };
    match first {
        0x20..=0xFF => {
            let len = buf.iter().take_while(|&&b| b >= 0x20).count();
            Step::Done(Command::Text(buf[..len].to_vec()), len)
        }
        LF => Step::Done(Command::LineFeed, 1),
        CR => Step::Done(Command::CarriageReturn, 1),
        HT => Step::Done(Command::Tab, 1),
        ESC => parse_esc(buf),
        GS => parse_gs(buf),
        FS => parse_fs(buf),
        DLE => parse_dle(buf),
        other => skipped(
            format!("control byte {other:02X} ignored, skipped 1 byte"),
            1,
        ),
    }
}

/// A command with one parameter byte `ESC x n` / `GS x n`, built by `make`.
fn one_param(buf: &[u8], make: impl FnOnce(u8) -> Command) -> Step {
    match at(buf, 2) {
        Some(n) => Step::Done(make(n), 3),
        None => Step::NeedMore,
    }
}

fn parse_esc(buf: &[u8]) -> Step {
    let Some(letter) = at(buf, 1) else {
        return Step::NeedMore;
    };
    match letter {
        b'@' => Step::Done(Command::Init, 2),
        b't' => one_param(buf, Command::SelectCodePage),
        b'a' => one_param(buf, Command::Align),
        b'E' | b'G' => one_param(buf, Command::Bold),
        b'!' => one_param(buf, Command::PrintMode),
        b'd' => one_param(buf, Command::FeedLines),
        b'p' => {
            if buf.len() < 5 {
                return Step::NeedMore;
            }
            Step::Done(
                Command::DrawerKick {
                    pin: buf[2],
                    on: buf[3],
                    off: buf[4],
                },
                5,
            )
        }
        b'i' => Step::Done(
            Command::Cut {
                partial: false,
                feed_dots: 0,
            },
            2,
        ),
        b'm' => Step::Done(
            Command::Cut {
                partial: true,
                feed_dots: 0,
            },
            2,
        ),
        b'-' => fixed(buf, 3, "ESC - (underline)"),
        b' ' => fixed(buf, 3, "ESC SP (character spacing)"),
        b'3' => fixed(buf, 3, "ESC 3 (line spacing)"),
        b'2' => fixed(buf, 2, "ESC 2 (default line spacing)"),
        b'=' => fixed(buf, 3, "ESC = (peripheral select)"),
        b'?' => fixed(buf, 3, "ESC ? (cancel user character)"),
        b'J' => fixed(buf, 3, "ESC J (feed dots)"),
        b'K' => fixed(buf, 3, "ESC K (reverse feed dots)"),
        b'M' => fixed(buf, 3, "ESC M (character font)"),
        b'R' => fixed(buf, 3, "ESC R (international character set)"),
        b'T' => fixed(buf, 3, "ESC T (page mode direction)"),
        b'U' => fixed(buf, 3, "ESC U (unidirectional printing)"),
        b'V' => fixed(buf, 3, "ESC V (90° rotation)"),
        b'e' => fixed(buf, 3, "ESC e (reverse feed lines)"),
        b'r' => fixed(buf, 3, "ESC r (print colour)"),
        b'u' => fixed(buf, 3, "ESC u (peripheral status)"),
        b'{' => fixed(buf, 3, "ESC { (upside down)"),
        b'%' => fixed(buf, 3, "ESC % (user character set)"),
        b'<' => fixed(buf, 2, "ESC < (return home)"),
        b'L' => fixed(buf, 2, "ESC L (page mode)"),
        b'S' => fixed(buf, 2, "ESC S (standard mode)"),
        b'v' => fixed(buf, 2, "ESC v (paper sensor status)"),
        b'$' => fixed(buf, 4, "ESC $ (absolute position)"),
        b'\\' => fixed(buf, 4, "ESC \\ (relative position)"),
        b'c' => fixed(buf, 4, "ESC c (panel / sensor settings)"),
        b'W' => fixed(buf, 10, "ESC W (page mode area)"),
        b'D' => {
            // Tab positions: up to 32 bytes terminated by NUL.
            match buf.iter().skip(2).take(33).position(|&b| b == 0) {
                Some(i) => skipped("ESC D (tab positions) not rendered, skipped", 2 + i + 1),
                None if buf.len() >= 2 + 33 => {
                    skipped("ESC D without NUL terminator, skipped its header", 2)
                }
                None => Step::NeedMore,
            }
        }
        b'*' => {
            let (Some(m), Some(nl), Some(nh)) = (at(buf, 2), at(buf, 3), at(buf, 4)) else {
                return Step::NeedMore;
            };
            let n = usize::from(nl) + 256 * usize::from(nh);
            let data = match m {
                0 | 1 => n,
                32 | 33 => 3 * n,
                _ => {
                    return skipped(
                        format!("ESC * with unknown mode {m}, skipped its header"),
                        5,
                    );
                }
            };
            with_data(buf, 5, data, "ESC * (bit image)")
        }
        b'&' => parse_user_chars(buf),
        b'(' => {
            let (Some(fnc), Some(pl), Some(ph)) = (at(buf, 2), at(buf, 3), at(buf, 4)) else {
                return Step::NeedMore;
            };
            let n = usize::from(pl) + 256 * usize::from(ph);
            with_data(buf, 5, n, &format!("ESC ( {}", printable(fnc)))
        }
        other => skipped(
            format!(
                "unknown command ESC {} ({}), skipped 2 bytes",
                printable(other),
                hex_prefix(&buf[..2])
            ),
            2,
        ),
    }
}

/// `ESC & y c1 c2 [x d1 … d(y·x)]…`: define user characters; one block per character.
fn parse_user_chars(buf: &[u8]) -> Step {
    let (Some(y), Some(c1), Some(c2)) = (at(buf, 2), at(buf, 3), at(buf, 4)) else {
        return Step::NeedMore;
    };
    // Epson: y = 3 (2 on 58 mm models), 32 ≤ c1 ≤ c2 ≤ 126, x ≤ 12 per character.
    if !(1..=3).contains(&y) || c1 < 32 || c2 > 126 || c2 < c1 {
        return skipped("ESC & with out-of-range parameters, skipped its header", 5);
    }
    let mut pos = 5;
    for _ in c1..=c2 {
        let Some(x) = at(buf, pos) else {
            return Step::NeedMore;
        };
        if x > 12 {
            return skipped(
                "ESC & with a character wider than 12 dots, skipped its header",
                5,
            );
        }
        pos += 1 + usize::from(y) * usize::from(x);
    }
    if buf.len() < pos {
        return Step::NeedMore;
    }
    skipped(
        format!("ESC & (user-defined characters) not rendered, skipped {pos} bytes"),
        pos,
    )
}

/// A letter for warnings: the ASCII character if printable, else its hex value.
fn printable(b: u8) -> String {
    if (0x21..0x7F).contains(&b) {
        char::from(b).to_string()
    } else {
        format!("0x{b:02X}")
    }
}

fn parse_gs(buf: &[u8]) -> Step {
    let Some(letter) = at(buf, 1) else {
        return Step::NeedMore;
    };
    match letter {
        b'!' => one_param(buf, Command::CharSize),
        b'h' => one_param(buf, Command::BarcodeHeight),
        b'w' => one_param(buf, Command::BarcodeModuleWidth),
        b'H' => one_param(buf, Command::HriPosition),
        b'V' => parse_cut(buf),
        b'v' => parse_raster(buf),
        b'k' => parse_barcode(buf),
        b'(' => parse_gs_paren(buf),
        b'8' => {
            if buf.len() < 7 {
                return Step::NeedMore;
            }
            let n = u32::from_le_bytes([buf[3], buf[4], buf[5], buf[6]]);
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            with_data(buf, 7, n, &format!("GS 8 {}", printable(buf[2])))
        }
        b'*' => {
            let (Some(x), Some(y)) = (at(buf, 2), at(buf, 3)) else {
                return Step::NeedMore;
            };
            with_data(
                buf,
                4,
                8 * usize::from(x) * usize::from(y),
                "GS * (downloaded bit image)",
            )
        }
        b'B' => fixed(buf, 3, "GS B (reverse printing)"),
        b'b' => fixed(buf, 3, "GS b (smoothing)"),
        b'f' => fixed(buf, 3, "GS f (HRI font)"),
        b'a' => fixed(buf, 3, "GS a (automatic status back)"),
        b'r' => fixed(buf, 3, "GS r (transmit status, not answered)"),
        b'I' => fixed(buf, 3, "GS I (transmit printer ID, not answered)"),
        b'T' => fixed(buf, 3, "GS T (print position)"),
        b'/' => fixed(buf, 3, "GS / (print downloaded image)"),
        b'E' => fixed(buf, 3, "GS E (print density)"),
        b'Z' => fixed(buf, 3, "GS Z (2D code type)"),
        b'^' => fixed(buf, 5, "GS ^ (execute macro)"),
        b':' => fixed(buf, 2, "GS : (macro definition)"),
        b'L' => fixed(buf, 4, "GS L (left margin)"),
        b'W' => fixed(buf, 4, "GS W (print area width)"),
        b'P' => fixed(buf, 4, "GS P (motion units)"),
        b'$' => fixed(buf, 4, "GS $ (vertical position)"),
        b'\\' => fixed(buf, 4, "GS \\ (relative vertical position)"),
        b'g' => fixed(buf, 5, "GS g (maintenance counter)"),
        other => skipped(
            format!(
                "unknown command GS {} ({}), skipped 2 bytes",
                printable(other),
                hex_prefix(&buf[..2])
            ),
            2,
        ),
    }
}

/// `GS V m [n]`: the cut ends the receipt.
fn parse_cut(buf: &[u8]) -> Step {
    let Some(m) = at(buf, 2) else {
        return Step::NeedMore;
    };
    match m {
        0 | 48 => Step::Done(
            Command::Cut {
                partial: false,
                feed_dots: 0,
            },
            3,
        ),
        1 | 49 => Step::Done(
            Command::Cut {
                partial: true,
                feed_dots: 0,
            },
            3,
        ),
        65 | 66 | 97 | 98 | 103 | 104 => match at(buf, 3) {
            Some(n) => Step::Done(
                Command::Cut {
                    partial: matches!(m, 66 | 98 | 104),
                    feed_dots: n,
                },
                4,
            ),
            None => Step::NeedMore,
        },
        other => skipped(
            format!("GS V with unknown mode {other}, skipped 3 bytes, no cut"),
            3,
        ),
    }
}

/// `GS v 0 m xL xH yL yH d…`.
fn parse_raster(buf: &[u8]) -> Step {
    if buf.len() < 8 {
        // The header must be complete before its sizes can be judged; but a wrong third
        // byte is recognisable earlier.
        if let Some(zero) = at(buf, 2)
            && zero != b'0'
        {
            return skipped(
                format!("unknown command GS v {}, skipped 2 bytes", printable(zero)),
                2,
            );
        }
        return Step::NeedMore;
    }
    if buf[2] != b'0' {
        return skipped(
            format!(
                "unknown command GS v {}, skipped 2 bytes",
                printable(buf[2])
            ),
            2,
        );
    }
    let mode = buf[3];
    let width_bytes = usize::from(buf[4]) + 256 * usize::from(buf[5]);
    let height = usize::from(buf[6]) + 256 * usize::from(buf[7]);
    if width_bytes == 0
        || height == 0
        || width_bytes > MAX_RASTER_WIDTH_BYTES
        || height > MAX_RASTER_HEIGHT
    {
        return skipped(
            format!(
                "GS v 0 with out-of-range size {width_bytes} bytes x {height} rows, \
                 skipped its 8-byte header"
            ),
            8,
        );
    }
    let total = 8 + width_bytes * height;
    if buf.len() < total {
        return Step::NeedMore;
    }
    Step::Done(
        Command::RasterImage {
            mode,
            width_bytes,
            height,
            data: buf[8..total].to_vec(),
        },
        total,
    )
}

/// `GS k m …`: function A (m ≤ 6, NUL-terminated) or function B (m 65–79, length byte).
fn parse_barcode(buf: &[u8]) -> Step {
    let Some(system) = at(buf, 2) else {
        return Step::NeedMore;
    };
    match system {
        0..=6 => {
            // Function A: data up to NUL; 255 bytes is more than any function A symbology holds.
            match buf.iter().skip(3).take(256).position(|&b| b == 0) {
                Some(i) => Step::Done(
                    Command::Barcode {
                        system,
                        data: buf[3..3 + i].to_vec(),
                    },
                    3 + i + 1,
                ),
                None if buf.len() >= 3 + 256 => skipped(
                    "GS k function A without NUL terminator, skipped its 3-byte header",
                    3,
                ),
                None => Step::NeedMore,
            }
        }
        65..=79 => {
            let Some(n) = at(buf, 3) else {
                return Step::NeedMore;
            };
            let total = 4 + usize::from(n);
            if buf.len() < total {
                return Step::NeedMore;
            }
            Step::Done(
                Command::Barcode {
                    system,
                    data: buf[4..total].to_vec(),
                },
                total,
            )
        }
        other => skipped(
            format!("GS k with unknown barcode system {other}, skipped 3 bytes"),
            3,
        ),
    }
}

/// `GS ( X pL pH …`; `GS ( k` with cn = 49 is QR, everything else is skipped.
fn parse_gs_paren(buf: &[u8]) -> Step {
    let (Some(fnc), Some(pl), Some(ph)) = (at(buf, 2), at(buf, 3), at(buf, 4)) else {
        return Step::NeedMore;
    };
    let n = usize::from(pl) + 256 * usize::from(ph);
    let total = 5 + n;
    if buf.len() < total {
        return Step::NeedMore;
    }
    let body = &buf[5..total];
    if fnc == b'k' {
        match body {
            [49, function, params @ ..] => {
                return Step::Done(
                    Command::Qr {
                        function: *function,
                        params: params.to_vec(),
                    },
                    total,
                );
            }
            [cn, ..] => {
                let name = match cn {
                    48 => "PDF417",
                    50 => "MaxiCode",
                    51 => "GS1 DataBar",
                    52 => "Composite",
                    53 => "Aztec",
                    54 => "DataMatrix",
                    _ => "unknown symbol",
                };
                return skipped(
                    format!("GS ( k {name} (cn={cn}) not rendered, skipped {total} bytes"),
                    total,
                );
            }
            [] => return skipped("empty GS ( k, skipped 5 bytes", total),
        }
    }
    skipped(
        format!(
            "GS ( {} not rendered, skipped {total} bytes",
            printable(fnc)
        ),
        total,
    )
}

fn parse_fs(buf: &[u8]) -> Step {
    let Some(letter) = at(buf, 1) else {
        return Step::NeedMore;
    };
    match letter {
        b'p' => fixed(buf, 4, "FS p (NV bit image)"),
        b'S' => fixed(buf, 4, "FS S (kanji spacing)"),
        b'C' => fixed(buf, 3, "FS C (kanji code system)"),
        b'!' => fixed(buf, 3, "FS ! (kanji print mode)"),
        b'-' => fixed(buf, 3, "FS - (kanji underline)"),
        b'.' => fixed(buf, 2, "FS . (cancel kanji mode)"),
        b'&' => fixed(buf, 2, "FS & (kanji mode)"),
        b'(' => {
            let (Some(fnc), Some(pl), Some(ph)) = (at(buf, 2), at(buf, 3), at(buf, 4)) else {
                return Step::NeedMore;
            };
            let n = usize::from(pl) + 256 * usize::from(ph);
            with_data(buf, 5, n, &format!("FS ( {}", printable(fnc)))
        }
        other => skipped(
            format!(
                "unknown command FS {} ({}), skipped 2 bytes",
                printable(other),
                hex_prefix(&buf[..2])
            ),
            2,
        ),
    }
}

fn parse_dle(buf: &[u8]) -> Step {
    let Some(second) = at(buf, 1) else {
        return Step::NeedMore;
    };
    match second {
        EOT => one_param(buf, Command::StatusRequest),
        0x05 => fixed(buf, 3, "DLE ENQ (real-time request)"),
        0x14 => fixed(buf, 5, "DLE DC4 (real-time pulse / power off)"),
        _ => skipped("control byte 10 (DLE) ignored, skipped 1 byte", 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(bytes: &[u8]) -> Vec<Command> {
        let mut t = Tokenizer::new();
        let out: Vec<Command> = t.push(bytes).into_iter().map(|p| p.command).collect();
        assert_eq!(t.pending_len(), 0, "left pending: {bytes:02X?}");
        out
    }

    #[test]
    fn text_runs_stop_at_control_bytes() {
        assert_eq!(
            commands(b"Hallo\nWelt"),
            vec![
                Command::Text(b"Hallo".to_vec()),
                Command::LineFeed,
                Command::Text(b"Welt".to_vec())
            ]
        );
    }

    #[test]
    fn incomplete_command_waits_for_the_rest() {
        let mut t = Tokenizer::new();
        assert!(t.push(&[0x1D, 0x28, 0x6B, 0x04]).is_empty());
        assert_eq!(t.pending_len(), 4);
        let out = t.push(&[0x00, 0x31, 0x41, 0x32, 0x00]);
        assert_eq!(
            out,
            vec![Parsed {
                command: Command::Qr {
                    function: 0x41,
                    params: vec![0x32, 0x00]
                },
                len: 9
            }]
        );
    }

    #[test]
    fn skipped_commands_do_not_swallow_following_text() {
        let out = commands(b"\x1b-\x01Unterstrichen");
        assert!(matches!(out[0], Command::Skipped { .. }));
        assert_eq!(out[1], Command::Text(b"Unterstrichen".to_vec()));
    }

    #[test]
    fn corrupt_raster_header_is_not_waited_for() {
        let out = commands(&[0x1D, b'v', b'0', 0, 0xFF, 0xFF, 0xFF, 0xFF, b'A']);
        assert!(matches!(out[0], Command::Skipped { .. }));
        assert_eq!(out[1], Command::Text(b"A".to_vec()));
    }

    #[test]
    fn finish_reports_a_truncated_command() {
        let mut t = Tokenizer::new();
        assert!(t.push(&[0x1B]).is_empty());
        let rest = t.finish();
        assert!(matches!(
            rest,
            Some(Parsed {
                command: Command::Skipped { .. },
                len: 1
            })
        ));
    }
}
