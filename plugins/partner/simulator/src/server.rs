//! Routes requests to the partner's books and applies the failure mode: what to answer, and
//! when, or whether at all. A thread per connection, so a late or slow answer never holds up
//! `/stats` or `/control`.

use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use crate::http::{self, ReadError, Request};
use crate::partner::{Mode, Partner, Reply};

/// How long a kept-alive connection may sit idle before the simulator closes it: longer than
/// HTTP clients keep idle connections pooled (ureq: 15 s), so a client never sends into a
/// connection the simulator is closing.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// What all connections share: the books and the API key `/v1` requests must carry.
pub struct Shared {
    partner: Mutex<Partner>,
    api_key: Option<String>,
}

impl Shared {
    /// A fresh partner; with `api_key`, every `/v1` request must send `Bearer <api_key>`.
    pub fn new(api_key: Option<String>) -> Shared {
        Shared {
            partner: Mutex::new(Partner::new()),
            api_key,
        }
    }

    /// The books. A thread that panicked while holding them leaves them usable: the
    /// simulator's state changes are single steps that can't be left half done.
    fn partner(&self) -> MutexGuard<'_, Partner> {
        self.partner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// When the reply goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Right away.
    Now,
    /// After this long (mode `late`).
    After(Duration),
    /// Never: the connection is closed instead (mode `drop`).
    Never,
}

/// A request's reply and when it is delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// What the partner answers.
    pub reply: Reply,
    /// When the client gets it.
    pub delivery: Delivery,
}

impl Outcome {
    fn now(reply: Reply) -> Outcome {
        Outcome {
            reply,
            delivery: Delivery::Now,
        }
    }
}

/// The body as JSON; an empty body is `empty` (`None`: an error).
fn json_body(request: &Request, empty: Option<Value>) -> Result<Value, Reply> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return empty
            .ok_or_else(|| Reply::error(400, "bad_request", "the body is empty; JSON expected"));
    }
    serde_json::from_slice(&request.body)
        .map_err(|e| Reply::error(400, "bad_request", format!("the body is not JSON: {e}")))
}

/// Answers one request: the control interface at once, `/v1` as the mode says.
pub fn handle(shared: &Shared, request: &Request) -> Outcome {
    let path = request.path();
    if path == "/v1" || path.starts_with("/v1/") {
        return handle_v1(shared, request);
    }
    let reply = match (request.method.as_str(), path) {
        ("POST", "/control") => match json_body(request, Some(json!({}))) {
            Ok(command) => shared.partner().control(&command),
            Err(reply) => reply,
        },
        ("GET", "/stats") => shared.partner().stats(),
        (_, "/control" | "/stats") => method_not_allowed(request),
        _ => not_found(path),
    };
    Outcome::now(reply)
}

fn not_found(path: &str) -> Reply {
    Reply::error(404, "not_found", format!("no such path: {path}"))
}

fn method_not_allowed(request: &Request) -> Reply {
    Reply::error(
        405,
        "method_not_allowed",
        format!("{} is not allowed on {}", request.method, request.path()),
    )
}

fn handle_v1(shared: &Shared, request: &Request) -> Outcome {
    let (mode, delay_ms) = {
        let mut partner = shared.partner();
        if partner.mode().0 == Mode::Down {
            partner.note_unavailable();
        }
        partner.mode()
    };
    if mode == Mode::Down {
        return Outcome::now(Reply::error(
            503,
            "unavailable",
            "the partner is down (simulated)",
        ));
    }
    let delay = Duration::from_millis(delay_ms);
    if mode == Mode::Slow {
        thread::sleep(delay);
    }
    let reply = if authorised(shared, request) {
        route_v1(shared, request)
    } else {
        Reply::error(
            401,
            "unauthorized",
            "a valid Authorization: Bearer <api key> header is required",
        )
    };
    let delivery = match mode {
        Mode::Drop => Delivery::Never,
        Mode::Late => Delivery::After(delay),
        Mode::Ok | Mode::Slow | Mode::Down => Delivery::Now,
    };
    Outcome { reply, delivery }
}

/// Whether the request carries the API key (always, when the simulator has none).
fn authorised(shared: &Shared, request: &Request) -> bool {
    let Some(key) = &shared.api_key else {
        return true;
    };
    request
        .header("Authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|sent| sent.trim() == key)
}

fn route_v1(shared: &Shared, request: &Request) -> Reply {
    let path = request.path();
    let segments: Vec<&str> = path["/v1".len()..]
        .trim_start_matches('/')
        .split('/')
        .collect();
    let key = request.header("Idempotency-Key");
    let with_body = |act: &dyn Fn(&mut Partner, &Value) -> Reply| match json_body(request, None) {
        Ok(body) => {
            let mut partner = shared.partner();
            partner.note_request();
            act(&mut partner, &body)
        }
        Err(reply) => reply,
    };
    match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["transactions"]) => with_body(&|p, body| p.transaction(key, body)),
        ("POST", ["authorizations"]) => with_body(&|p, body| p.authorize(key, body)),
        ("POST", ["authorizations", "cancel"]) => with_body(&|p, body| p.cancel(body)),
        ("POST", ["authorizations", id, "release"]) => {
            let mut partner = shared.partner();
            partner.note_request();
            partner.release(id)
        }
        ("GET", ["cards", card]) => {
            let mut partner = shared.partner();
            partner.note_request();
            partner.card(card)
        }
        (_, ["transactions" | "authorizations"])
        | (_, ["authorizations", "cancel"])
        | (_, ["authorizations", _, "release"])
        | (_, ["cards", _]) => method_not_allowed(request),
        _ => not_found(path),
    }
}

/// Accepts connections until the process is killed, each served on a thread of its own.
pub fn run(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let shared = Arc::clone(&shared);
                thread::spawn(move || serve_connection(stream, &shared));
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
}

/// Reads requests off one connection and answers them until the client closes it, asks to
/// close it, or a mode drops it.
fn serve_connection(stream: TcpStream, shared: &Shared) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    if stream.set_read_timeout(Some(IDLE_TIMEOUT)).is_err() {
        return;
    }
    let mut reader = BufReader::new(stream);
    loop {
        let request = match http::read_request(&mut reader, &mut writer) {
            Ok(request) => request,
            Err(ReadError::Closed | ReadError::Io(_)) => return,
            Err(e @ (ReadError::Malformed(_) | ReadError::TooLarge(_))) => {
                let status = if matches!(e, ReadError::TooLarge(_)) {
                    413
                } else {
                    400
                };
                eprintln!("- - {status} ({e})");
                let reply = Reply::error(status, "bad_request", e.to_string());
                let _ = http::write_response(
                    &mut writer,
                    status,
                    reply.body.to_string().as_bytes(),
                    true,
                );
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        };
        let outcome = handle(shared, &request);
        let status = outcome.reply.status;
        let note = match outcome.delivery {
            Delivery::Now => String::new(),
            Delivery::After(delay) => format!(" (answer held back {} ms)", delay.as_millis()),
            Delivery::Never => " (dropped: connection closed, no answer)".to_string(),
        };
        eprintln!("{} {} {status}{note}", request.method, request.path());
        match outcome.delivery {
            Delivery::Now => {}
            Delivery::After(delay) => thread::sleep(delay),
            Delivery::Never => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        }
        let body = outcome.reply.body.to_string();
        let close = !request.keep_alive;
        if http::write_response(&mut writer, status, body.as_bytes(), close).is_err() || close {
            let _ = writer.flush();
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read};
    use std::time::Instant;

    fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: method.into(),
            target: target.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            keep_alive: true,
        }
    }

    fn stats(shared: &Shared) -> Value {
        handle(shared, &request("GET", "/stats", &[], ""))
            .reply
            .body
    }

    #[test]
    fn down_answers_503_and_records_nothing_and_ok_brings_it_back() {
        let shared = Shared::new(None);
        handle(
            &shared,
            &request("POST", "/control", &[], r#"{"mode":"down"}"#),
        );
        let collect = r#"{"type":"collect","card":"C1","points":5}"#;
        let down = handle(
            &shared,
            &request(
                "POST",
                "/v1/transactions",
                &[("Idempotency-Key", "k1")],
                collect,
            ),
        );
        assert_eq!(down.reply.status, 503);
        assert_eq!(down.reply.body["error"], "unavailable");
        let held = handle(
            &shared,
            &request(
                "POST",
                "/v1/authorizations",
                &[],
                r#"{"card":"C1","points":1}"#,
            ),
        );
        assert_eq!(held.reply.status, 503);
        let seen = stats(&shared);
        assert_eq!(seen["received"], 0);
        assert_eq!(seen["unique"], 0);
        assert_eq!(seen["unavailable"], 2);
        assert_eq!(seen["balances"], json!({}));

        handle(
            &shared,
            &request("POST", "/control", &[], r#"{"mode":"ok"}"#),
        );
        let up = handle(
            &shared,
            &request(
                "POST",
                "/v1/transactions",
                &[("Idempotency-Key", "k1")],
                collect,
            ),
        );
        assert_eq!(up.reply.body["status"], "accepted");
        assert_eq!(stats(&shared)["balances"]["C1"], 5);
    }

    #[test]
    fn with_an_api_key_v1_needs_it_and_control_does_not() {
        let shared = Shared::new(Some("s3cret".into()));
        let card = request("GET", "/v1/cards/C1", &[], "");
        let refused = handle(&shared, &card);
        assert_eq!(refused.reply.status, 401);
        assert_eq!(refused.reply.body["error"], "unauthorized");
        assert!(
            !refused.reply.body.to_string().contains("s3cret"),
            "the key is never told"
        );
        let wrong = request(
            "GET",
            "/v1/cards/C1",
            &[("Authorization", "Bearer nope")],
            "",
        );
        assert_eq!(handle(&shared, &wrong).reply.status, 401);

        let control = request("POST", "/control", &[], r#"{"balances":{"C1":7}}"#);
        assert_eq!(handle(&shared, &control).reply.status, 200);
        let good = request(
            "GET",
            "/v1/cards/C1",
            &[("authorization", "Bearer s3cret")],
            "",
        );
        assert_eq!(
            handle(&shared, &good).reply.body,
            json!({ "card": "C1", "points": 7 })
        );
    }

    #[test]
    fn late_and_drop_process_at_once_and_only_change_the_delivery() {
        let shared = Shared::new(None);
        handle(
            &shared,
            &request(
                "POST",
                "/control",
                &[],
                r#"{"mode":"late","delay_ms":1234}"#,
            ),
        );
        let late = handle(
            &shared,
            &request(
                "POST",
                "/v1/transactions",
                &[("Idempotency-Key", "k1")],
                r#"{"type":"collect"}"#,
            ),
        );
        assert_eq!(late.delivery, Delivery::After(Duration::from_millis(1234)));
        handle(
            &shared,
            &request("POST", "/control", &[], r#"{"mode":"drop"}"#),
        );
        let dropped = handle(
            &shared,
            &request(
                "POST",
                "/v1/transactions",
                &[("Idempotency-Key", "k2")],
                r#"{"type":"collect"}"#,
            ),
        );
        assert_eq!(dropped.delivery, Delivery::Never);
        assert_eq!(stats(&shared)["unique"], 2, "both recorded");
    }

    #[test]
    fn bad_json_missing_keys_and_unknown_paths_are_named() {
        let shared = Shared::new(None);
        let bad = handle(
            &shared,
            &request(
                "POST",
                "/v1/transactions",
                &[("Idempotency-Key", "k")],
                "{nope",
            ),
        );
        assert_eq!(bad.reply.status, 400);
        assert_eq!(bad.reply.body["error"], "bad_request");
        assert!(
            bad.reply.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("not JSON"))
        );
        let keyless = handle(&shared, &request("POST", "/v1/transactions", &[], "{}"));
        assert_eq!(keyless.reply.status, 400);
        assert_eq!(
            handle(&shared, &request("GET", "/nowhere", &[], ""))
                .reply
                .body["error"],
            "not_found"
        );
        assert_eq!(
            handle(&shared, &request("GET", "/v1/nowhere", &[], ""))
                .reply
                .status,
            404
        );
        assert_eq!(
            handle(&shared, &request("GET", "/v1/transactions", &[], ""))
                .reply
                .status,
            405
        );
    }

    /// A simulator on a real socket, on a port of its own.
    fn start(api_key: Option<&str>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let shared = Arc::new(Shared::new(api_key.map(str::to_string)));
        thread::spawn(move || run(listener, shared));
        port
    }

    /// Sends raw HTTP on a fresh connection and reads until the server closes it (or the
    /// timeout): whatever bytes came back, or the read error.
    fn exchange(port: u16, raw: &str, timeout: Duration) -> Result<String, std::io::Error> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.write_all(raw.as_bytes())?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    }

    fn post(path: &str, headers: &str, body: &str) -> String {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    fn stats_over(port: u16) -> Value {
        let answer = exchange(
            port,
            "GET /stats HTTP/1.1\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        )
        .expect("stats");
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body).expect("stats JSON")
    }

    #[test]
    fn over_a_real_socket_keep_alive_drop_and_late_behave_as_a_client_sees_them() {
        let port = start(Some("k3y"));
        let auth = "Authorization: Bearer k3y\r\n";

        // Two requests on one kept-alive connection, both answered.
        let collect = r#"{"type":"collect","card":"C1","points":3}"#;
        let keep = format!(
            "POST /v1/transactions HTTP/1.1\r\n{auth}Idempotency-Key: k1\r\nContent-Length: {}\r\n\r\n{collect}",
            collect.len()
        );
        let both = format!(
            "{keep}{}",
            post(
                "/v1/transactions",
                &format!("{auth}Idempotency-Key: k1\r\n"),
                collect
            )
        );
        let answer = exchange(port, &both, Duration::from_secs(5)).expect("answers");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            answer.contains("Content-Type: application/json"),
            "{answer}"
        );
        assert!(answer.contains(r#""status":"accepted""#), "{answer}");
        assert!(answer.contains(r#""status":"duplicate""#), "{answer}");
        let seen = stats_over(port);
        assert_eq!(
            (seen["received"].clone(), seen["unique"].clone()),
            (json!(2), json!(1))
        );

        // Without the key: 401, and nothing recorded.
        let refused = exchange(
            port,
            &post("/v1/transactions", "Idempotency-Key: k9\r\n", "{}"),
            Duration::from_secs(5),
        )
        .expect("answer");
        assert!(refused.starts_with("HTTP/1.1 401 "), "{refused}");

        // Dropped: recorded, and the connection closes without one byte of answer.
        let control = |command: &str| {
            let answer = exchange(port, &post("/control", "", command), Duration::from_secs(5))
                .expect("control");
            assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        };
        control(r#"{"mode":"drop"}"#);
        let dropped = exchange(
            port,
            &post(
                "/v1/transactions",
                &format!("{auth}Idempotency-Key: k2\r\n"),
                collect,
            ),
            Duration::from_secs(5),
        );
        match dropped {
            Ok(bytes) => assert_eq!(bytes, "", "no answer at all"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
        }
        assert_eq!(
            stats_over(port)["unique"],
            2,
            "the dropped one was recorded"
        );

        // Late: recorded at once; a client that waits less than the delay hears nothing,
        // one that waits longer gets the answer; /stats is not held up meanwhile.
        control(r#"{"mode":"late","delay_ms":600}"#);
        let started = Instant::now();
        let impatient = exchange(
            port,
            &post(
                "/v1/transactions",
                &format!("{auth}Idempotency-Key: k3\r\n"),
                collect,
            ),
            Duration::from_millis(200),
        );
        let e = impatient.expect_err("gave up before the answer");
        assert!(
            matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{e}"
        );
        assert_eq!(stats_over(port)["unique"], 3, "recorded before it answered");
        assert!(
            started.elapsed() < Duration::from_millis(600),
            "/stats answered meanwhile"
        );
        let patient = exchange(
            port,
            &post(
                "/v1/transactions",
                &format!("{auth}Idempotency-Key: k3\r\n"),
                collect,
            ),
            Duration::from_secs(5),
        )
        .expect("answer in the end");
        assert!(patient.contains(r#""status":"duplicate""#), "{patient}");
        assert!(started.elapsed() >= Duration::from_millis(600));
        assert_eq!(
            stats_over(port)["balances"]["C1"],
            9,
            "three keys, three collects"
        );
    }
}
