//! The partner's books, as plain data and functions so that tests can drive them without a
//! socket: messages counted once per idempotency key, points held, released and captured,
//! card balances, and the failure mode the control interface set.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Map, Value, json};

/// How the simulator treats `/v1` requests, set through `POST /control`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Process and answer at once.
    Ok,
    /// Answer 503 and record nothing: the partner is down.
    Down,
    /// Process and record, then close the connection without an answer.
    Drop,
    /// Process and record at once, answer only after the delay: the client may have given up.
    Late,
    /// Wait the delay, then process and answer.
    Slow,
}

impl Mode {
    /// The mode a control command names.
    fn parse(name: &str) -> Option<Mode> {
        match name {
            "ok" => Some(Mode::Ok),
            "down" => Some(Mode::Down),
            "drop" => Some(Mode::Drop),
            "late" => Some(Mode::Late),
            "slow" => Some(Mode::Slow),
            _ => None,
        }
    }
}

/// The delay of `late` and `slow` until a control command sets another.
pub const DEFAULT_DELAY_MS: u64 = 1000;

/// An HTTP status and JSON body, before any mode decides when (or whether) it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The JSON answer.
    pub body: Value,
}

impl Reply {
    /// A 200 answer.
    pub fn ok(body: Value) -> Reply {
        Reply { status: 200, body }
    }

    /// An error answer in the partner's shape: `{"error": name, "message": text}`.
    pub fn error(status: u16, error: &str, message: impl Into<String>) -> Reply {
        Reply {
            status,
            body: json!({ "error": error, "message": message.into() }),
        }
    }
}

/// One idempotency key and what arrived under it.
#[derive(Debug, Clone, Serialize)]
struct Transaction {
    key: String,
    /// How often the key arrived, duplicates included.
    count: u64,
    /// The body of the first arrival, the one that was applied.
    body: Value,
}

/// Where an authorisation's points are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldState {
    /// Taken off the card, waiting for capture or release.
    Held,
    /// Given back to the card.
    Released,
    /// Spent: the sale was paid with them.
    Captured,
}

/// Points held on a card for a tender.
#[derive(Debug, Clone, Serialize)]
struct Authorization {
    id: String,
    card: String,
    points: i64,
    state: HoldState,
    /// The client's id for the try that asked (`request` in the body, or the
    /// `Idempotency-Key` header), so the client can cancel a hold whose answer it never saw.
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<String>,
}

/// Everything the simulated partner knows.
#[derive(Debug)]
pub struct Partner {
    mode: Mode,
    delay_ms: u64,
    /// In arrival order; `index` finds one by key.
    transactions: Vec<Transaction>,
    index: HashMap<String, usize>,
    /// `/v1/transactions` requests recorded, duplicates included.
    received: u64,
    authorizations: Vec<Authorization>,
    balances: BTreeMap<String, i64>,
    /// `/v1` requests processed (any route, not those refused while down or unauthorised).
    requests: u64,
    /// `/v1` requests answered 503 because the mode was `down`.
    unavailable: u64,
}

impl Default for Partner {
    fn default() -> Partner {
        Partner::new()
    }
}

/// The integer a JSON value holds, if it is one.
fn integer(value: &Value) -> Option<i64> {
    value.as_i64()
}

impl Partner {
    /// A partner with no cards, no messages, mode `ok`.
    pub fn new() -> Partner {
        Partner {
            mode: Mode::Ok,
            delay_ms: DEFAULT_DELAY_MS,
            transactions: Vec::new(),
            index: HashMap::new(),
            received: 0,
            authorizations: Vec::new(),
            balances: BTreeMap::new(),
            requests: 0,
            unavailable: 0,
        }
    }

    /// The current mode and the delay `late` and `slow` use.
    pub fn mode(&self) -> (Mode, u64) {
        (self.mode, self.delay_ms)
    }

    /// Counts a `/v1` request refused because the partner is down.
    pub fn note_unavailable(&mut self) {
        self.unavailable += 1;
    }

    /// Counts a `/v1` request that reached a route.
    pub fn note_request(&mut self) {
        self.requests += 1;
    }

    /// `POST /v1/transactions`: records `body` under `key` and applies it the first time the
    /// key arrives; later arrivals only raise its count.
    pub fn transaction(&mut self, key: Option<&str>, body: &Value) -> Reply {
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            return Reply::error(400, "bad_request", "the Idempotency-Key header is required");
        };
        if !body.is_object() {
            return Reply::error(400, "bad_request", "the body must be a JSON object");
        }
        self.received += 1;
        if let Some(&at) = self.index.get(key) {
            self.transactions[at].count += 1;
            return Reply::ok(json!({ "status": "duplicate", "key": key }));
        }
        self.index.insert(key.to_string(), self.transactions.len());
        self.transactions.push(Transaction {
            key: key.to_string(),
            count: 1,
            body: body.clone(),
        });
        let mut answer = json!({ "status": "accepted", "key": key });
        if let Some(warning) = self.apply(body) {
            answer["warning"] = Value::from(warning);
        }
        Reply::ok(answer)
    }

    /// The effect of a message on the books; a warning when it refers to a hold that is not
    /// there to capture.
    fn apply(&mut self, body: &Value) -> Option<&'static str> {
        match body.get("type").and_then(Value::as_str) {
            // Points earned, given back, or taken back off (negative): all land on the card.
            Some("collect" | "refund" | "correction") => {
                let card = body.get("card").and_then(Value::as_str);
                let points = body.get("points").and_then(integer);
                if let (Some(card), Some(points)) = (card, points) {
                    *self.balances.entry(card.to_string()).or_insert(0) += points;
                }
                None
            }
            Some("capture") => {
                let id = body.get("authorization").and_then(Value::as_str);
                match self
                    .authorizations
                    .iter_mut()
                    .find(|a| Some(a.id.as_str()) == id)
                {
                    // The points left the card when they were held.
                    Some(hold) if hold.state == HoldState::Held => {
                        hold.state = HoldState::Captured;
                        None
                    }
                    Some(hold) if hold.state == HoldState::Captured => {
                        Some("authorization already captured")
                    }
                    _ => Some("authorization not held"),
                }
            }
            _ => None,
        }
    }

    /// `POST /v1/authorizations`: holds `points` of `card`. A request id seen before gets
    /// the hold it made back instead of a second one.
    pub fn authorize(&mut self, key: Option<&str>, body: &Value) -> Reply {
        let Some(card) = body.get("card").and_then(Value::as_str) else {
            return Reply::error(400, "bad_request", "card must be a string");
        };
        let Some(points) = body.get("points").and_then(integer).filter(|p| *p > 0) else {
            return Reply::error(400, "bad_request", "points must be a whole number above 0");
        };
        let request = body
            .get("request")
            .and_then(Value::as_str)
            .or(key)
            .filter(|r| !r.is_empty());
        if let Some(request) = request
            && let Some(hold) = self
                .authorizations
                .iter()
                .find(|a| a.request.as_deref() == Some(request))
        {
            return Self::hold_answer(hold);
        }
        let Some(balance) = self.balances.get_mut(card) else {
            return Reply::error(404, "unknown_card", format!("card {card} is not known"));
        };
        if *balance < points {
            return Reply::error(
                402,
                "insufficient_points",
                format!("card {card} has {balance} points"),
            );
        }
        *balance -= points;
        let hold = Authorization {
            id: format!("A-{:06}", self.authorizations.len() + 1),
            card: card.to_string(),
            points,
            state: HoldState::Held,
            request: request.map(str::to_string),
        };
        let answer = Self::hold_answer(&hold);
        self.authorizations.push(hold);
        answer
    }

    fn hold_answer(hold: &Authorization) -> Reply {
        Reply::ok(json!({ "authorization": hold.id, "points": hold.points, "state": hold.state }))
    }

    /// `POST /v1/authorizations/<id>/release`: gives held points back; releasing twice is
    /// fine, releasing what was captured is not.
    pub fn release(&mut self, id: &str) -> Reply {
        match self.authorizations.iter().position(|a| a.id == id) {
            Some(at) => self.release_at(at),
            None => Reply::error(
                404,
                "unknown_authorization",
                format!("authorization {id} is not known"),
            ),
        }
    }

    /// `POST /v1/authorizations/cancel` with `{"request": r}`: releases whatever the try `r`
    /// held, for a client whose authorisation timed out before it heard the answer.
    pub fn cancel(&mut self, body: &Value) -> Reply {
        let Some(request) = body.get("request").and_then(Value::as_str) else {
            return Reply::error(400, "bad_request", "request must be a string");
        };
        match self
            .authorizations
            .iter()
            .position(|a| a.request.as_deref() == Some(request))
        {
            Some(at) => self.release_at(at),
            None => Reply::error(
                404,
                "unknown_request",
                format!("request {request} holds nothing"),
            ),
        }
    }

    fn release_at(&mut self, at: usize) -> Reply {
        let hold = &mut self.authorizations[at];
        match hold.state {
            HoldState::Held => {
                hold.state = HoldState::Released;
                *self.balances.entry(hold.card.clone()).or_insert(0) += hold.points;
            }
            HoldState::Released => {}
            HoldState::Captured => {
                return Reply::error(
                    409,
                    "captured",
                    format!("authorization {} is captured", hold.id),
                );
            }
        }
        Reply::ok(json!({ "status": "released", "authorization": hold.id }))
    }

    /// `GET /v1/cards/<card>`: the card's points.
    pub fn card(&self, card: &str) -> Reply {
        match self.balances.get(card) {
            Some(points) => Reply::ok(json!({ "card": card, "points": points })),
            None => Reply::error(404, "unknown_card", format!("card {card} is not known")),
        }
    }

    /// `POST /control`: sets the mode, the delay, card balances, or starts over (`reset`).
    /// Checks the whole command before it changes anything.
    pub fn control(&mut self, command: &Value) -> Reply {
        let Some(command) = command.as_object() else {
            return Reply::error(400, "bad_request", "the command must be a JSON object");
        };
        let bad = |message: String| Reply::error(400, "bad_request", message);
        let mut mode = None;
        let mut delay_ms = None;
        let mut balances = Map::new();
        let mut reset = false;
        for (name, value) in command {
            match name.as_str() {
                "mode" => match value.as_str().and_then(Mode::parse) {
                    Some(m) => mode = Some(m),
                    None => {
                        return bad(format!(
                            "mode must be ok, down, drop, late or slow, not {value}"
                        ));
                    }
                },
                "delay_ms" => match value.as_u64() {
                    Some(d) => delay_ms = Some(d),
                    None => {
                        return bad(format!(
                            "delay_ms must be a whole number of milliseconds, not {value}"
                        ));
                    }
                },
                "balances" => match value.as_object() {
                    Some(cards) if cards.values().all(|p| integer(p).is_some()) => {
                        balances = cards.clone();
                    }
                    _ => return bad("balances must map card numbers to whole points".into()),
                },
                "reset" => match value.as_bool() {
                    Some(r) => reset = r,
                    None => return bad("reset must be true or false".into()),
                },
                other => {
                    return bad(format!(
                        "unknown control key {other:?}: mode, delay_ms, balances or reset"
                    ));
                }
            }
        }
        if reset {
            let (mode, delay_ms) = self.mode();
            *self = Partner::new();
            self.mode = mode;
            self.delay_ms = delay_ms;
        }
        for (card, points) in balances {
            self.balances.insert(card, integer(&points).unwrap_or(0));
        }
        if let Some(mode) = mode {
            self.mode = mode;
        }
        if let Some(delay_ms) = delay_ms {
            self.delay_ms = delay_ms;
        }
        Reply::ok(json!({ "mode": self.mode, "delay_ms": self.delay_ms }))
    }

    /// `GET /stats`: everything recorded, for tests to assert on.
    pub fn stats(&self) -> Reply {
        Reply::ok(json!({
            "mode": self.mode,
            "delay_ms": self.delay_ms,
            "received": self.received,
            "unique": self.transactions.len(),
            "requests": self.requests,
            "unavailable": self.unavailable,
            "transactions": self.transactions,
            "authorizations": self.authorizations,
            "balances": self.balances,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_card(card: &str, points: i64) -> Partner {
        let mut partner = Partner::new();
        let answer = partner.control(&json!({ "balances": { card: points } }));
        assert_eq!(answer.status, 200);
        partner
    }

    fn balance(partner: &Partner, card: &str) -> Value {
        partner.stats().body["balances"][card].clone()
    }

    #[test]
    fn the_same_key_twice_is_counted_twice_but_applied_once() {
        let mut partner = Partner::new();
        let collect = json!({ "type": "collect", "card": "C1", "points": 10 });
        let first = partner.transaction(Some("collect-R1"), &collect);
        assert_eq!(
            first.body,
            json!({ "status": "accepted", "key": "collect-R1" })
        );
        let again = partner.transaction(Some("collect-R1"), &collect);
        assert_eq!(
            again.body,
            json!({ "status": "duplicate", "key": "collect-R1" })
        );

        let stats = partner.stats().body;
        assert_eq!(stats["received"], 2);
        assert_eq!(stats["unique"], 1);
        assert_eq!(stats["transactions"][0]["count"], 2);
        assert_eq!(stats["transactions"][0]["body"], collect);
        assert_eq!(
            balance(&partner, "C1"),
            10,
            "the points once, on a new card"
        );
    }

    #[test]
    fn a_transaction_without_a_key_or_object_is_refused_and_not_recorded() {
        let mut partner = Partner::new();
        let answer = partner.transaction(None, &json!({ "type": "collect" }));
        assert_eq!(answer.status, 400);
        assert_eq!(answer.body["error"], "bad_request");
        assert_eq!(partner.transaction(Some("k"), &json!([1])).status, 400);
        assert_eq!(partner.stats().body["received"], 0);
    }

    #[test]
    fn refunds_and_corrections_move_points_and_a_collect_without_points_changes_nothing() {
        let mut partner = with_card("C1", 100);
        partner.transaction(
            Some("a"),
            &json!({ "type": "refund", "card": "C1", "points": 30 }),
        );
        partner.transaction(
            Some("b"),
            &json!({ "type": "correction", "card": "C1", "points": -10 }),
        );
        partner.transaction(Some("c"), &json!({ "type": "collect", "card": "C1" }));
        assert_eq!(balance(&partner, "C1"), 120);
    }

    #[test]
    fn a_hold_takes_points_a_release_gives_them_back_once_and_a_capture_keeps_them() {
        let mut partner = with_card("C1", 1000);
        let held = partner.authorize(None, &json!({ "card": "C1", "points": 500 }));
        assert_eq!(held.status, 200);
        assert_eq!(held.body["authorization"], "A-000001");
        assert_eq!(held.body["points"], 500);
        assert_eq!(balance(&partner, "C1"), 500);

        assert_eq!(partner.release("A-000001").body["status"], "released");
        assert_eq!(balance(&partner, "C1"), 1000);
        assert_eq!(
            partner.release("A-000001").status,
            200,
            "releasing twice is fine"
        );
        assert_eq!(balance(&partner, "C1"), 1000, "but gives back once");

        let second = partner.authorize(None, &json!({ "card": "C1", "points": 400 }));
        assert_eq!(second.body["authorization"], "A-000002");
        let capture = json!({ "type": "capture", "authorization": "A-000002" });
        let captured = partner.transaction(Some("capture-A-000002"), &capture);
        assert_eq!(
            captured.body,
            json!({ "status": "accepted", "key": "capture-A-000002" })
        );
        assert_eq!(
            balance(&partner, "C1"),
            600,
            "held points are not taken twice"
        );
        assert_eq!(partner.release("A-000002").status, 409);
        assert_eq!(balance(&partner, "C1"), 600);

        let states: Vec<Value> = partner.stats().body["authorizations"]
            .as_array()
            .map(|a| a.iter().map(|x| x["state"].clone()).collect())
            .unwrap_or_default();
        assert_eq!(states, [json!("released"), json!("captured")]);
    }

    #[test]
    fn capturing_a_released_or_unknown_hold_is_recorded_with_a_warning() {
        let mut partner = with_card("C1", 1000);
        partner.authorize(None, &json!({ "card": "C1", "points": 100 }));
        partner.release("A-000001");
        let late = partner.transaction(
            Some("k1"),
            &json!({ "type": "capture", "authorization": "A-000001" }),
        );
        assert_eq!(late.status, 200);
        assert_eq!(late.body["warning"], "authorization not held");
        let unknown = partner.transaction(
            Some("k2"),
            &json!({ "type": "capture", "authorization": "A-9" }),
        );
        assert_eq!(unknown.body["warning"], "authorization not held");
        assert_eq!(partner.stats().body["unique"], 2);
        assert_eq!(balance(&partner, "C1"), 1000);
    }

    #[test]
    fn unknown_cards_and_too_few_points_are_named_errors_and_hold_nothing() {
        let mut partner = with_card("C1", 100);
        let unknown = partner.authorize(None, &json!({ "card": "C2", "points": 1 }));
        assert_eq!(unknown.status, 404);
        assert_eq!(unknown.body["error"], "unknown_card");
        assert_eq!(unknown.body["message"], "card C2 is not known");
        let short = partner.authorize(None, &json!({ "card": "C1", "points": 101 }));
        assert_eq!(short.status, 402);
        assert_eq!(short.body["error"], "insufficient_points");
        assert_eq!(short.body["message"], "card C1 has 100 points");
        assert_eq!(
            partner
                .authorize(None, &json!({ "card": "C1", "points": 0 }))
                .status,
            400
        );
        assert_eq!(partner.stats().body["authorizations"], json!([]));
        assert_eq!(balance(&partner, "C1"), 100);
    }

    #[test]
    fn a_try_sent_again_gets_its_hold_back_and_a_cancel_by_request_releases_it() {
        let mut partner = with_card("C1", 1000);
        let ask = json!({ "card": "C1", "points": 300, "request": "try-1" });
        let first = partner.authorize(Some("try-1"), &ask);
        let again = partner.authorize(Some("try-1"), &ask);
        assert_eq!(first.body["authorization"], again.body["authorization"]);
        assert_eq!(balance(&partner, "C1"), 700, "held once");

        assert_eq!(
            partner.cancel(&json!({ "request": "try-1" })).body["status"],
            "released"
        );
        assert_eq!(balance(&partner, "C1"), 1000);
        assert_eq!(partner.cancel(&json!({ "request": "try-2" })).status, 404);
        assert_eq!(partner.release("A-000009").status, 404);
    }

    #[test]
    fn control_sets_mode_delay_and_balances_and_refuses_a_wrong_command_whole() {
        let mut partner = Partner::new();
        let answer =
            partner.control(&json!({ "mode": "late", "delay_ms": 250, "balances": { "C1": 5 } }));
        assert_eq!(answer.body, json!({ "mode": "late", "delay_ms": 250 }));
        assert_eq!(partner.mode(), (Mode::Late, 250));
        assert_eq!(
            partner.card("C1").body,
            json!({ "card": "C1", "points": 5 })
        );

        let wrong = partner.control(&json!({ "mode": "sideways", "balances": { "C1": 9 } }));
        assert_eq!(wrong.status, 400);
        assert_eq!(partner.mode(), (Mode::Late, 250), "nothing changed");
        assert_eq!(partner.card("C1").body["points"], 5);
        assert_eq!(partner.control(&json!({ "colour": "red" })).status, 400);

        partner.transaction(Some("k"), &json!({ "type": "collect" }));
        partner.control(&json!({ "reset": true }));
        let stats = partner.stats().body;
        assert_eq!(stats["unique"], 0);
        assert_eq!(stats["balances"], json!({}));
        assert_eq!(stats["mode"], "late", "a reset keeps the mode");
    }
}
