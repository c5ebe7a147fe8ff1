//! Every ESC/POS command this crate sends, in one place, byte for byte.
//!
//! This is the complete list the virtual printer (`drivers/virtual-printer`) decodes (the
//! table in the crate documentation); adding a command here means telling its author.
//!
//! # Why our own bytes and not the `escpos` crate
//!
//! Checked byte for byte against escpos 0.20.1 (`barcodes`, `codes_2d`, `std`):
//!
//! - text: PC858/PC850/PC857 print ASCII `-` as `0xF0` (PC857 also breaks `.`), PC858
//!   lacks `Ò`, and a missing character goes out as raw UTF-8 — see [`crate::codepage`];
//! - `cash_drawer(Pin2)` is `1B 70 00` without the pulse times, so the printer takes the
//!   next two bytes as t1 t2;
//! - `real_time_status` is `10 04 n 00`: the stray `00` reaches the print buffer;
//! - `partial_cut()` is `1D 56 41 01`, i.e. function B *full* cut after feeding 1 unit;
//! - `ean13()` uses function A (`GS k 2 … 00`) and adds `GS f 0`; QR defaults to model 1;
//!   there is no CODE128; raster images need its `graphics` feature (the `image` crate);
//! - `writeln` ends lines with `ESC d 1` instead of `LF`.
//!
//! What it gets right (`ESC @`, `ESC t`, `ESC a`, `ESC E`, `GS !`, `ESC d`, `GS h/w/H`, the
//! QR function bytes) is a few constant bytes each; using it would mean driving its
//! `Printer` through a `Driver` trait object with an allocation per command, for no gain.

use crate::document::{CutKind, DrawerPin, ErrorCorrection};

/// `ESC`, the prefix of most commands.
pub(crate) const ESC: u8 = 0x1B;
/// `GS`, the prefix of the "group separator" commands.
pub(crate) const GS: u8 = 0x1D;
/// `DLE`, the prefix of the real-time commands.
pub(crate) const DLE: u8 = 0x10;
/// `EOT`, second byte of `DLE EOT n`.
pub(crate) const EOT: u8 = 0x04;
/// `LF`: print the line buffer and advance one line.
pub(crate) const LF: u8 = 0x0A;

/// `ESC @`: reset the printer's modes (alignment, bold, size, code table) to power-on.
pub(crate) fn init(out: &mut Vec<u8>) {
    out.extend_from_slice(&[ESC, b'@']);
}

/// `ESC t n`: select character code table `n`.
pub(crate) fn code_table(out: &mut Vec<u8>, n: u8) {
    out.extend_from_slice(&[ESC, b't', n]);
}

/// `ESC a n`: justification, 0 left, 1 center, 2 right.
pub(crate) fn justify(out: &mut Vec<u8>, n: u8) {
    out.extend_from_slice(&[ESC, b'a', n]);
}

/// `ESC E n`: emphasised (bold) off (0) or on (1).
pub(crate) fn bold(out: &mut Vec<u8>, on: bool) {
    out.extend_from_slice(&[ESC, b'E', u8::from(on)]);
}

/// `GS ! n` value for double width.
pub(crate) const SIZE_DOUBLE_WIDTH: u8 = 0x10;
/// `GS ! n` value for double height.
pub(crate) const SIZE_DOUBLE_HEIGHT: u8 = 0x01;

/// `GS ! n`: character size; 0 normal, 0x10 double width, 0x01 double height, 0x11 both.
pub(crate) fn size(out: &mut Vec<u8>, n: u8) {
    out.extend_from_slice(&[GS, b'!', n]);
}

/// `ESC d n`: print the buffer and feed `n` lines.
pub(crate) fn feed_lines(out: &mut Vec<u8>, n: u8) {
    out.extend_from_slice(&[ESC, b'd', n]);
}

/// `GS h n`: barcode height in dots.
pub(crate) fn barcode_height(out: &mut Vec<u8>, dots: u8) {
    out.extend_from_slice(&[GS, b'h', dots]);
}

/// `GS w n`: barcode module width in dots (2..=6 on Epson; 1 on many others).
pub(crate) fn barcode_module_width(out: &mut Vec<u8>, dots: u8) {
    out.extend_from_slice(&[GS, b'w', dots]);
}

/// `GS H 2`: print the human-readable interpretation below the barcode.
pub(crate) fn hri_below(out: &mut Vec<u8>) {
    out.extend_from_slice(&[GS, b'H', 2]);
}

/// `GS k 67 13 d1…d13`: EAN-13, function B (length-prefixed).
pub(crate) fn ean13(out: &mut Vec<u8>, digits: &[u8; 13]) {
    out.extend_from_slice(&[GS, b'k', 67, 13]);
    out.extend_from_slice(digits);
}

/// `GS k 73 n d1…dn`: CODE128, function B; `data` already starts with `{B` or `{C`.
/// The caller keeps `data` at most 255 bytes ([`crate::document::Code128`] guarantees it).
pub(crate) fn code128(out: &mut Vec<u8>, data: &[u8]) {
    let n = u8::try_from(data.len()).unwrap_or(u8::MAX);
    out.extend_from_slice(&[GS, b'k', 73, n]);
    out.extend_from_slice(&data[..usize::from(n)]);
}

/// `GS ( k` function 165: QR model 2.
pub(crate) fn qr_model_2(out: &mut Vec<u8>) {
    out.extend_from_slice(&[GS, b'(', b'k', 4, 0, 0x31, 0x41, 0x32, 0x00]);
}

/// `GS ( k` function 167: QR module size in dots.
pub(crate) fn qr_module_size(out: &mut Vec<u8>, dots: u8) {
    out.extend_from_slice(&[GS, b'(', b'k', 3, 0, 0x31, 0x43, dots]);
}

/// `GS ( k` function 169: QR error correction, 48 = L, 49 = M, 50 = Q, 51 = H.
pub(crate) fn qr_error_correction(out: &mut Vec<u8>, level: ErrorCorrection) {
    let n = match level {
        ErrorCorrection::L => 48,
        ErrorCorrection::M => 49,
        ErrorCorrection::Q => 50,
        ErrorCorrection::H => 51,
    };
    out.extend_from_slice(&[GS, b'(', b'k', 3, 0, 0x31, 0x45, n]);
}

/// `GS ( k` function 180: store QR data; `pL pH` = data length + 3, little-endian.
/// The caller keeps `data` short enough ([`crate::document::QrCode`] guarantees it).
pub(crate) fn qr_store(out: &mut Vec<u8>, data: &[u8]) {
    let [pl, ph] = u16::try_from(data.len() + 3)
        .unwrap_or(u16::MAX)
        .to_le_bytes();
    out.extend_from_slice(&[GS, b'(', b'k', pl, ph, 0x31, 0x50, 0x30]);
    out.extend_from_slice(data);
}

/// `GS ( k` function 181: print the stored QR symbol.
pub(crate) fn qr_print(out: &mut Vec<u8>) {
    out.extend_from_slice(&[GS, b'(', b'k', 3, 0, 0x31, 0x51, 0x30]);
}

/// `GS v 0 m xL xH yL yH d…`: raster image, normal density (m = 0); x in bytes per row,
/// y in dots. Note the third byte is ASCII `'0'` (0x30), as in Epson's manual.
pub(crate) fn raster_header(out: &mut Vec<u8>, row_bytes: u16, height: u16) {
    let [xl, xh] = row_bytes.to_le_bytes();
    let [yl, yh] = height.to_le_bytes();
    out.extend_from_slice(&[GS, b'v', b'0', 0, xl, xh, yl, yh]);
}

/// `GS V 66 n` (feed by n and partial cut) or `GS V 65 n` (feed by n and full cut).
pub(crate) fn cut(out: &mut Vec<u8>, kind: CutKind, feed: u8) {
    let m = match kind {
        CutKind::Partial => 66,
        CutKind::Full => 65,
    };
    out.extend_from_slice(&[GS, b'V', m, feed]);
}

/// `ESC p m t1 t2`: drawer pulse on pin 2 (m = 0) or 5 (m = 1), on t1 × 2 ms, off t2 × 2 ms.
pub(crate) fn drawer_pulse(out: &mut Vec<u8>, pin: DrawerPin, on_ms: u16, off_ms: u16) {
    let m = match pin {
        DrawerPin::Pin2 => 0,
        DrawerPin::Pin5 => 1,
    };
    out.extend_from_slice(&[ESC, b'p', m, two_ms_units(on_ms), two_ms_units(off_ms)]);
}

/// Milliseconds in the 2 ms units of `ESC p`, rounded up and capped at 255 (510 ms).
fn two_ms_units(ms: u16) -> u8 {
    u8::try_from(ms.div_ceil(2)).unwrap_or(u8::MAX)
}

/// `DLE EOT n`: real-time status request; exactly three bytes.
pub(crate) const fn status_request(n: u8) -> [u8; 3] {
    [DLE, EOT, n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawer_pulse_sends_all_five_bytes_with_times_in_two_ms_units() {
        let mut out = Vec::new();
        drawer_pulse(&mut out, DrawerPin::Pin2, 100, 200);
        drawer_pulse(&mut out, DrawerPin::Pin5, 51, 1000);
        assert_eq!(out, [0x1B, 0x70, 0x00, 50, 100, 0x1B, 0x70, 0x01, 26, 255]);
    }

    #[test]
    fn cut_uses_function_b_with_the_feed_amount() {
        let mut out = Vec::new();
        cut(&mut out, CutKind::Partial, 0);
        cut(&mut out, CutKind::Full, 24);
        assert_eq!(out, [0x1D, 0x56, 66, 0, 0x1D, 0x56, 65, 24]);
    }

    #[test]
    fn qr_store_length_counts_the_three_header_bytes() {
        let mut out = Vec::new();
        qr_store(&mut out, &[b'x'; 300]);
        // 303 = 0x012F
        assert_eq!(out[..8], [0x1D, 0x28, 0x6B, 0x2F, 0x01, 0x31, 0x50, 0x30]);
        assert_eq!(out.len(), 308);
    }

    #[test]
    fn raster_header_is_gs_v_ascii_zero() {
        let mut out = Vec::new();
        raster_header(&mut out, 72, 300);
        assert_eq!(out, [0x1D, 0x76, 0x30, 0x00, 72, 0, 0x2C, 0x01]);
    }
}
