//! The one error type of the crate.
//!
//! Decoding never fails (garbage becomes warnings on the receipt), so errors only come from
//! the outside world: sockets, files and image encoding.

use std::net::SocketAddr;

/// Everything that can go wrong in the virtual printer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listening socket could not be opened, e.g. the port is taken.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for, as given.
        addr: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A socket operation failed after binding (address lookup, non-blocking mode, thread).
    #[error("socket error on {addr}: {source}")]
    Socket {
        /// The listening address involved.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The receipt image size is unusable.
    #[error("cannot render a receipt {dots} dots wide with {columns} columns: {reason}")]
    Dimensions {
        /// Requested paper width in dots.
        dots: u32,
        /// Requested number of text columns.
        columns: usize,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// The PNG encoder failed.
    #[error("cannot encode the receipt as PNG: {0}")]
    Png(#[from] png::EncodingError),
    /// Writing an output file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file being written.
        path: std::path::PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
}
