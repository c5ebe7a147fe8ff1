//! Just enough HTTP/1.1 for the simulator: one request at a time off a connection (keep-alive,
//! `Content-Length` or chunked bodies, `Expect: 100-continue`) and a JSON answer back.
//!
//! Written on `std::net` rather than a server crate because the simulator must be able to take
//! a request, act on it and then close the connection without a single byte of answer (the
//! "drop" mode): tiny_http answers a dropped request with a 500 of its own and keeps the
//! connection open when its writer is taken, so neither looks like a partner that died.

use std::fmt;
use std::io::{self, BufRead, Read, Write};

/// The longest request line or header line accepted, so a broken client can't fill memory.
const MAX_LINE: u64 = 16 * 1024;
/// The most headers one request may carry.
const MAX_HEADERS: usize = 100;
/// The largest body accepted: partner messages are a few hundred bytes.
const MAX_BODY: usize = 1024 * 1024;

/// One HTTP request as read off the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target as sent, query string included.
    pub target: String,
    /// Header names and values in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether the client wants the connection kept open after the answer.
    pub keep_alive: bool,
}

impl Request {
    /// The first value of header `name`, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query string: what the routes match on.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The client closed the connection between requests: the normal end.
    Closed,
    /// The bytes are not an HTTP/1.x request; answered 400 and the connection closed.
    Malformed(String),
    /// A line or the body is larger than the simulator takes; answered 413.
    TooLarge(String),
    /// The socket failed or timed out.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Closed => write!(f, "connection closed"),
            ReadError::Malformed(m) => write!(f, "malformed request: {m}"),
            ReadError::TooLarge(m) => write!(f, "request too large: {m}"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

/// Reads one line ending in LF (CR LF accepted), without the line end. `None` at the end of
/// the stream before any byte.
fn read_line<R: BufRead>(reader: &mut R) -> Result<Option<String>, ReadError> {
    let mut line = Vec::new();
    let read = reader
        .by_ref()
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        if read as u64 >= MAX_LINE {
            return Err(ReadError::TooLarge(format!("a line over {MAX_LINE} bytes")));
        }
        return Err(ReadError::Malformed(
            "the connection ended inside a line".into(),
        ));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| ReadError::Malformed("a line is not UTF-8".into()))
}

/// Reads the next request. `interim` receives the `100 Continue` a client that asked for it
/// waits for before it sends the body.
pub fn read_request<R: BufRead, W: Write>(
    reader: &mut R,
    interim: &mut W,
) -> Result<Request, ReadError> {
    // Empty lines before a request are allowed (RFC 9112 §2.2).
    let request_line = loop {
        match read_line(reader)? {
            None => return Err(ReadError::Closed),
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed(format!(
            "request line {request_line:?}"
        )));
    };
    let http_11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        other => return Err(ReadError::Malformed(format!("version {other:?}"))),
    };
    if method.is_empty() || !target.starts_with('/') {
        return Err(ReadError::Malformed(format!(
            "request line {request_line:?}"
        )));
    }

    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| {
            ReadError::Malformed("the connection ended inside the headers".into())
        })?;
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(ReadError::TooLarge(format!(
                "more than {MAX_HEADERS} headers"
            )));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| ReadError::Malformed(format!("header line {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }

    let mut request = Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body: Vec::new(),
        keep_alive: http_11,
    };
    if let Some(connection) = request.header("Connection") {
        let connection = connection.to_ascii_lowercase();
        if connection.contains("close") {
            request.keep_alive = false;
        } else if connection.contains("keep-alive") {
            request.keep_alive = true;
        }
    }

    let chunked = request
        .header("Transfer-Encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let length = match request.header("Content-Length") {
        Some(text) if !chunked => Some(
            text.parse::<usize>()
                .map_err(|_| ReadError::Malformed(format!("Content-Length {text:?}")))?,
        ),
        _ => None,
    };
    if length.is_some_and(|n| n > MAX_BODY) {
        return Err(ReadError::TooLarge(format!("a body over {MAX_BODY} bytes")));
    }
    let has_body = chunked || length.is_some_and(|n| n > 0);
    if has_body
        && request
            .header("Expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        interim.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        interim.flush()?;
    }
    if chunked {
        request.body = read_chunked(reader)?;
    } else if let Some(length) = length {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                ReadError::Malformed("the connection ended inside the body".into())
            } else {
                ReadError::Io(e)
            }
        })?;
        request.body = body;
    }
    Ok(request)
}

/// Reads a chunked body up to and including its trailer.
fn read_chunked<R: BufRead>(reader: &mut R) -> Result<Vec<u8>, ReadError> {
    let ended = || ReadError::Malformed("the connection ended inside a chunked body".into());
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(ended)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| ReadError::Malformed(format!("chunk size {size:?}")))?;
        if size == 0 {
            // Trailer fields, ignored, up to the empty line.
            while !read_line(reader)?.ok_or_else(ended)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadError::TooLarge(format!("a body over {MAX_BODY} bytes")));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).map_err(|_| ended())?;
        if !read_line(reader)?.ok_or_else(ended)?.is_empty() {
            return Err(ReadError::Malformed("a chunk longer than its size".into()));
        }
    }
}

/// The reason phrase for the statuses the simulator answers with.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Writes one complete JSON answer; `close` tells the client the connection ends after it.
pub fn write_response<W: Write>(
    writer: &mut W,
    status: u16,
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    let connection = if close { "close" } else { "keep-alive" };
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        reason(status),
        body.len()
    );
    // One buffer, one write: a client never sees the head without the body.
    let mut answer = head.into_bytes();
    answer.extend_from_slice(body);
    writer.write_all(&answer)?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn read(text: &str) -> (Result<Request, ReadError>, Vec<u8>) {
        let mut interim = Vec::new();
        let result = read_request(&mut BufReader::new(text.as_bytes()), &mut interim);
        (result, interim)
    }

    #[test]
    fn a_post_with_a_length_keeps_the_connection_and_its_headers() {
        let (request, _) = read(
            "POST /v1/transactions?x=1 HTTP/1.1\r\nIdempotency-Key: k1\r\nContent-Length: 2\r\n\r\n{}",
        );
        let request = request.expect("parsed");
        assert_eq!(request.method, "POST");
        assert_eq!(request.path(), "/v1/transactions");
        assert_eq!(request.header("idempotency-key"), Some("k1"));
        assert_eq!(request.body, b"{}");
        assert!(request.keep_alive);
    }

    #[test]
    fn a_chunked_body_is_joined_and_100_continue_is_sent_when_asked() {
        let (request, interim) = read(
            "POST /control HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n",
        );
        let request = request.expect("parsed");
        assert_eq!(request.body, br#"{"a":1}"#);
        assert!(!request.keep_alive);
        assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn an_empty_stream_is_a_closed_connection_and_garbage_is_malformed() {
        assert!(matches!(read("").0, Err(ReadError::Closed)));
        assert!(matches!(
            read("hello\r\n\r\n").0,
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            read("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n{}").0,
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            read("POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n").0,
            Err(ReadError::TooLarge(_))
        ));
    }

    #[test]
    fn http_1_0_closes_unless_asked_to_keep_alive() {
        let (request, _) = read("GET /stats HTTP/1.0\r\n\r\n");
        assert!(!request.expect("parsed").keep_alive);
        let (request, _) = read("GET /stats HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(request.expect("parsed").keep_alive);
    }
}
