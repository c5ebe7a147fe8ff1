//! The vouchers plugin's admin actions, run as a technician runs them: the real posctl
//! against the real daemon with `posd-vouchers` loaded as a `.so`. A lost card blocked with
//! `posctl voucher block` can't pay until it is unblocked; `voucher lookup` and `voucher
//! history` show what sales did to it; `codes list` counts discount code uses;
//! `voucher breakage` shows what was forfeited; `voucher issue` issues a promotional batch
//! (plugin ABI 1.2) whose codes go once to a file or stdout and pay at the till.

mod support;

use std::collections::HashMap;

use posd_client::{Manager1Proxy, Sale1Proxy};
use serde_json::Value;
use support::*;
use zbus::{OwnedVariant, Variant};

type Record = HashMap<String, OwnedVariant>;

const SECTION: &str = r#"
[[plugin.vouchers.programmes]]
id = "gift"
name = "Geschenkgutschein"
kind = "gift"
min_amount = "5.00"
max_amount = "500.00"
code = { format = "template", groups = [4, 4, 4, 4], separator = "-" }

[[plugin.vouchers.programmes]]
id = "forfeit"
name = "Einmalgutschein"
kind = "gift"
amount = "50.00"
reusable = false
residual = "breakage"
code = { format = "template", prefix = "FF" }

[[plugin.vouchers.programmes]]
id = "wallet"
name = "eWallet"
kind = "ewallet"
max_amount = "200.00"
code = { format = "template", prefix = "EW" }

[[plugin.vouchers.discount_codes]]
code = "ONCE"
name = "Einmalig -10 %"
percent = "10"
total_uses = 2
"#;

/// A daemon with the vouchers plugin, a receipt printer and a key file.
/// Fields drop in order: the client, the daemon, the printer, then the bus.
struct Till {
    conn: zbus::Connection,
    _daemon: Daemon,
    _printer: FakePrinter,
    bus: TestBus,
}

impl Till {
    async fn start() -> Self {
        Self::start_on(TestBus::start()).await
    }

    async fn start_on(bus: TestBus) -> Self {
        let (daemon, printer, conn) = start_with_vouchers(&bus, SECTION).await;
        Self {
            conn,
            _daemon: daemon,
            _printer: printer,
            bus,
        }
    }

    async fn open_sale(&self) -> Sale1Proxy<'_> {
        let manager = Manager1Proxy::new(&self.conn).await.expect("manager");
        let path = manager
            .open_sale(HashMap::from([("cashier", Variant::from("anna"))]))
            .await
            .expect("OpenSale");
        sale_proxy(&self.conn, path).await
    }

    /// `posctl --json <args>`: the action's `result` record, or the error object, with the
    /// exit code.
    fn posctl_json(&self, args: &[&str]) -> (Value, Option<i32>) {
        let out = posctl(self.bus.address(), &[&["--json"], args].concat());
        let parsed: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {} / {}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
        if out.status.success() {
            assert_eq!(parsed["plugin"], "vouchers", "{parsed}");
            (parsed["result"].clone(), out.status.code())
        } else {
            (parsed, out.status.code())
        }
    }

    /// `posctl <args>` as a person reads it: stdout, asserting success.
    fn posctl_text(&self, args: &[&str]) -> String {
        let out = posctl(self.bus.address(), args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

impl Till {
    /// `posctl --json <args>` in full (result, text, reference, output…), or the error
    /// object, with the exit code.
    fn posctl_shown(&self, args: &[&str]) -> (Value, Option<i32>) {
        let out = posctl(self.bus.address(), &[&["--json"], args].concat());
        let parsed: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", text(&out.stderr)));
        (parsed, out.status.code())
    }

    /// The balance of `account` as `posctl ledger balance` shows it; `None`: never posted.
    fn ledger_balance(&self, account: &str) -> Option<String> {
        let out = posctl(
            self.bus.address(),
            &["--json", "ledger", "balance", account],
        );
        let rows: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        if !out.status.success() {
            assert_eq!(rows["error"], "org.posd.Error.NotFound", "{rows}");
            return None;
        }
        rows.as_array()
            .expect("list")
            .iter()
            .find(|r| r["account"] == account)
            .map(|r| r["balance"].as_str().expect("balance").to_string())
    }

    /// `posctl ledger verify --json`, asserting it passes.
    fn ledger_verify(&self) -> Value {
        let (verified, exit) = self.posctl_shown(&["ledger", "verify"]);
        assert_eq!(exit, Some(0), "{verified}");
        assert_eq!(verified["ok"], true, "{verified}");
        verified
    }
}

/// Whether `code` looks as programme `gift` prints its codes: four groups of four from the
/// alphabet without look-alikes, joined by `-`.
fn gift_format(code: &str) -> bool {
    let groups: Vec<&str> = code.split('-').collect();
    groups.len() == 4
        && groups.iter().all(|g| {
            g.len() == 4
                && g.chars()
                    .all(|c| "ABCDEFGHJKMNPQRSTUVWXYZ23456789".contains(c))
        })
}

fn item<'a>(name: &'a str, price: &'a str) -> HashMap<&'a str, Variant<'a>> {
    HashMap::from([
        ("sku", Variant::from("4006381333931")),
        ("name", Variant::from(name)),
        ("qty", Variant::from("1")),
        ("unit_price", Variant::from(price)),
        ("tax_rate", Variant::from("20")),
    ])
}

/// Sells a voucher of `programme` paid in cash; its code and the receipt.
async fn sell(till: &Till, programme: &str, amount: Option<&str>, key: &str) -> (String, String) {
    let sale = till.open_sale().await;
    let args: HashMap<&str, Variant<'_>> = amount
        .map(|a| HashMap::from([("amount", Variant::from(a))]))
        .unwrap_or_default();
    let answer: Record = sale
        .inner()
        .call("Invoke", &(format!("vouchers:sell-{programme}"), args))
        .await
        .expect("sell");
    let result: Record = answer["result"].clone().try_into().expect("result");
    let code = s(&result["code"]);
    let due = s(&sale.totals().await.expect("Totals")["due"]);
    sale.add_tender("cash", &due, HashMap::new())
        .await
        .expect("cash");
    (code, sale.checkout(key).await.expect("Checkout"))
}

/// A sale of goods for `price` with `code` entered; checks out and answers the receipt.
async fn redeem(till: &Till, code: &str, price: &str, key: &str) -> zbus::Result<String> {
    let sale = till.open_sale().await;
    sale.add_item(item("Schal", price)).await.expect("AddItem");
    sale.enter_code(code).await?;
    let due = s(&sale.totals().await.expect("Totals")["due"]);
    if due != "0.00" {
        sale.add_tender("cash", &due, HashMap::new())
            .await
            .expect("cash");
    }
    sale.checkout(key).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_technician_blocks_looks_up_and_reads_the_history_of_a_voucher() {
    let till = Till::start().await;
    let (code, sold_on) = sell(&till, "gift", Some("30.00"), "sell").await;
    let last4: String = code.chars().filter(|c| *c != '-').skip(12).collect();

    // Lost card: blocked, a sale can't redeem it.
    let (blocked, exit) = till.posctl_json(&["voucher", "block", "--code", &code]);
    assert_eq!(exit, Some(0), "{blocked}");
    assert_eq!(blocked["state"], "blocked", "{blocked}");
    assert_eq!(blocked["changed"], true);
    let err = redeem(&till, &code, "20.00", "blocked")
        .await
        .expect_err("blocked");
    assert_eq!(name(&err), "org.posd.Error.NotAllowed", "{err}");
    let (again, _) = till.posctl_json(&["voucher", "lookup", "--code", &code]);
    assert_eq!(again["state"], "blocked");
    assert_eq!(again["balance"], "30.00", "nothing was spent");

    // Found again: unblocked, it pays.
    let shown = till.posctl_text(&["voucher", "unblock", "--code", &code]);
    assert!(
        shown.contains(&format!("voucher ••••{last4} unblocked")),
        "{shown}"
    );
    // Blocked while on a sale: the checkout refuses it.
    let sale = till.open_sale().await;
    sale.add_item(item("Schal", "20.00"))
        .await
        .expect("AddItem");
    sale.enter_code(&code)
        .await
        .expect("entered while unblocked");
    till.posctl_text(&["voucher", "block", "--code", &code]);
    let err = sale
        .checkout("blocked-since")
        .await
        .expect_err("blocked since");
    assert_eq!(name(&err), "org.posd.Error.NotAllowed", "{err}");
    till.posctl_text(&["voucher", "unblock", "--code", &code]);
    let redeemed_on = redeem(&till, &code, "20.00", "redeem")
        .await
        .expect("unblocked, it pays");

    // Lookup: balance after the redemption, state, programme, last 4, never the code.
    let (looked, exit) = till.posctl_json(&["voucher", "lookup", "--code", &code]);
    assert_eq!(exit, Some(0));
    assert_eq!(looked["balance"], "10.00", "{looked}");
    assert_eq!(looked["state"], "active");
    assert_eq!(looked["programme"], "gift");
    assert_eq!(looked["last4"], last4.as_str());
    assert!(looked["expires"].is_null(), "no expiry configured");
    let human = till.posctl_text(&["voucher", "lookup", "--code", &code.to_lowercase()]);
    assert!(human.contains("balance 10.00"), "{human}");
    assert!(!human.contains(&code) && !looked.to_string().contains(&code));

    // History: the sale (+30) and the redemption (−20), oldest first, with the receipt
    // that sold it.
    let (history, exit) = till.posctl_json(&["voucher", "history", "--code", &code]);
    assert_eq!(exit, Some(0));
    assert_eq!(history["sold_on"], sold_on.as_str(), "{history}");
    let amounts: Vec<&str> = history["postings"]
        .as_array()
        .expect("postings")
        .iter()
        .map(|p| p["amount"].as_str().expect("amount"))
        .collect();
    assert_eq!(amounts, ["30.00", "-20.00"], "{history}");
    let receipts: Vec<(&str, &str)> = history["receipts"]
        .as_array()
        .expect("receipts")
        .iter()
        .map(|r| {
            (
                r["receipt"].as_str().expect("receipt"),
                r["amount"].as_str().expect("amount"),
            )
        })
        .collect();
    assert_eq!(
        receipts,
        [
            (sold_on.as_str(), "30.00"),
            (redeemed_on.as_str(), "-20.00")
        ],
        "the sale and the redemption, by receipt: {history}"
    );
    let human = till.posctl_text(&["voucher", "history", "--code", &code]);
    assert!(
        human.contains(&format!("receipt {redeemed_on}  redeem")),
        "{human}"
    );

    // Unknown and empty codes are named errors.
    let (unknown, exit) = till.posctl_json(&["voucher", "lookup", "--code", "ABCD-EFGH-JKMN-PQRS"]);
    assert_eq!(exit, Some(1));
    assert_eq!(unknown["error"], "org.posd.Error.NotFound", "{unknown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_list_counts_uses_and_breakage_shows_what_was_forfeited() {
    let till = Till::start().await;
    let (listed, exit) = till.posctl_json(&["codes", "list"]);
    assert_eq!(exit, Some(0), "{listed}");
    assert_eq!(listed["codes"][0]["code"], "ONCE");
    assert_eq!(listed["codes"][0]["uses_left"], "2");

    let sale = till.open_sale().await;
    sale.add_item(item("Schal", "20.00"))
        .await
        .expect("AddItem");
    sale.enter_code("ONCE").await.expect("code");
    let due = s(&sale.totals().await.expect("Totals")["due"]);
    sale.add_tender("cash", &due, HashMap::new())
        .await
        .expect("cash");
    sale.checkout("with-code").await.expect("Checkout");
    let (listed, _) = till.posctl_json(&["codes", "list"]);
    assert_eq!(listed["codes"][0]["used"], "1", "{listed}");
    assert_eq!(listed["codes"][0]["uses_left"], "1");
    assert!(till.posctl_text(&["codes", "list"]).contains("ONCE"));

    let (nothing, _) = till.posctl_json(&["voucher", "breakage"]);
    assert_eq!(nothing["balance"], "0", "{nothing}");
    // A 50.00 voucher that is not reusable pays 20.00; the other 30.00 are forfeited.
    let (code, _) = sell(&till, "forfeit", None, "sell-ff").await;
    redeem(&till, &code, "20.00", "redeem-ff")
        .await
        .expect("redeem");
    let (breakage, exit) = till.posctl_json(&["voucher", "breakage"]);
    assert_eq!(exit, Some(0));
    assert_eq!(breakage["balance"], "30.00", "{breakage}");
    assert_eq!(breakage["postings"][0]["amount"], "30.00");
    assert!(
        till.posctl_text(&["voucher", "breakage"])
            .contains("breakage: 30.00 EUR")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_who_is_not_admin_can_neither_look_up_block_nor_issue_vouchers() {
    if !is_root() {
        eprintln!("skipped: calling as another user needs root");
        return;
    }
    use std::os::unix::process::CommandExt;
    let till = Till::start_on(TestBus::start_for_everyone()).await;
    let (code, _) = sell(&till, "gift", Some("30.00"), "sell").await;
    let nobody = 65534;
    for args in [
        vec!["voucher", "lookup", "--code", &code],
        vec!["voucher", "block", "--code", &code],
        vec![
            "voucher",
            "issue",
            "--programme",
            "gift",
            "--count",
            "5",
            "--amount",
            "20",
        ],
    ] {
        let action = args[1];
        let out = run(std::process::Command::new(posctl_binary())
            .arg("--bus-address")
            .arg(till.bus.address())
            .arg("--json")
            .args(&args)
            .uid(nobody)
            .gid(nobody));
        assert_eq!(
            out.status.code(),
            Some(1),
            "{action}: {}",
            text(&out.stdout)
        );
        let refused: Value = serde_json::from_slice(&out.stdout).expect("JSON error");
        assert_eq!(
            refused["error"], "org.posd.Error.NotAllowed",
            "{action}: {refused}"
        );
    }
    let (looked, _) = till.posctl_json(&["voucher", "lookup", "--code", &code]);
    assert_eq!(looked["state"], "active", "not blocked by the refused call");
    assert_eq!(
        till.ledger_balance("vouchers:promo"),
        None,
        "no batch was issued by the refused call"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_promotional_batch_is_written_once_to_its_file_and_every_code_pays_at_the_till() {
    use std::os::unix::fs::PermissionsExt;
    let till = Till::start().await;
    assert_eq!(till.ledger_balance("vouchers:promo"), None);
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("promo.txt");
    let path = file.to_str().expect("UTF-8");
    let out = posctl(
        till.bus.address(),
        &[
            "voucher",
            "issue",
            "--programme",
            "gift",
            "--count",
            "3",
            "--amount",
            "20.00",
            "--out",
            path,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(shown.contains("issued (batch B-"), "{shown}");

    // The file: new, 0600, three distinct codes of the programme's format.
    assert_eq!(
        std::fs::metadata(&file).expect("file").permissions().mode() & 0o777,
        0o600
    );
    let written = std::fs::read_to_string(&file).expect("read");
    let codes: Vec<String> = written.lines().map(str::to_string).collect();
    assert_eq!(codes.len(), 3, "{written}");
    assert!(codes.iter().all(|c| gift_format(c)), "{codes:?}");
    let distinct: std::collections::BTreeSet<&String> = codes.iter().collect();
    assert_eq!(distinct.len(), 3);
    for code in &codes {
        assert!(!shown.contains(code.as_str()), "{code} shown: {shown}");
    }
    assert_eq!(
        till.ledger_balance("vouchers:promo").as_deref(),
        Some("-60.00")
    );

    // Looked up: 20.00, issued in the batch; the history names the batch.
    let (looked, exit) = till.posctl_json(&["voucher", "lookup", "--code", &codes[0]]);
    assert_eq!(exit, Some(0), "{looked}");
    assert_eq!(looked["balance"], "20.00", "{looked}");
    let batch = looked["batch"].as_str().expect("batch").to_string();
    assert!(batch.starts_with("B-"), "{batch}");
    assert_eq!(looked["sold_on"], "", "sold on no receipt");
    let history = till.posctl_text(&["voucher", "history", "--code", &codes[1]]);
    assert!(
        history.contains(&format!("issued in batch {batch}")),
        "{history}"
    );

    // Each pays at the till up to its 20.00, and is empty after.
    for (n, code) in codes.iter().enumerate() {
        let receipt = redeem(&till, code, "25.00", &format!("redeem-{n}"))
            .await
            .expect("pays");
        assert!(!receipt.is_empty());
        let (looked, _) = till.posctl_json(&["voucher", "lookup", "--code", code]);
        assert_eq!(looked["balance"], "0.00", "{looked}");
        assert_eq!(looked["state"], "empty");
    }
    let sale = till.open_sale().await;
    sale.add_item(item("Schal", "5.00")).await.expect("AddItem");
    let err = sale.enter_code(&codes[0]).await.expect_err("spent");
    assert_eq!(name(&err), "org.posd.Error.VoucherEmpty", "{err}");

    // The books verify, with the batch's one admin entry; no code is in the database.
    let verified = till.ledger_verify();
    assert_eq!(verified["admin_entries"], 1, "{verified}");
    let db = till._daemon.database();
    assert!(verify_books(&db).is_ok());
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", db.display())) {
            bytes.extend(b);
        }
    }
    assert!(bytes.len() > 10_000, "read the database");
    for code in &codes {
        let plain: String = code.chars().filter(|c| *c != '-').collect();
        for needle in [code.as_str(), plain.as_str(), &plain[..12]] {
            assert!(
                find_all(&bytes, needle.as_bytes()).is_empty(),
                "{needle} is in the database"
            );
        }
        assert!(
            !find_all(&bytes, &plain.as_bytes()[12..]).is_empty(),
            "the last four are kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_file_the_codes_print_once_and_bad_batches_change_nothing() {
    let till = Till::start().await;
    // A fixed programme: the amount may be left out.
    let out = posctl(
        till.bus.address(),
        &["voucher", "issue", "--programme", "forfeit", "--count", "2"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let codes: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(codes.len(), 2, "only the codes on stdout: {codes:?}");
    assert!(codes.iter().all(|c| c.starts_with("FF-")), "{codes:?}");
    assert!(text(&out.stderr).contains("2 × Einmalgutschein über 50.00 EUR issued"));
    assert!(!text(&out.stderr).contains(&codes[0]));

    let (shown, exit) = till.posctl_shown(&[
        "voucher",
        "issue",
        "--programme",
        "gift",
        "--count",
        "1",
        "--amount",
        "12.50",
    ]);
    assert_eq!(exit, Some(0), "{shown}");
    assert_eq!(shown["result"]["issued"], 1, "{shown}");
    assert_eq!(shown["result"]["programme"], "gift");
    assert_eq!(shown["result"]["amount"], "12.50");
    let code = shown["output"].as_str().expect("output").trim().to_string();
    assert!(gift_format(&code), "{code}");
    let last4: String = code.chars().filter(|c| *c != '-').skip(12).collect();
    assert_eq!(shown["result"]["last4"][0], last4.as_str());
    assert!(
        !shown["result"].to_string().contains(&code) && !shown["text"].to_string().contains(&code),
        "the code is in output only: {shown}"
    );
    assert!(
        shown["reference"]
            .as_str()
            .is_some_and(|r| r.starts_with("admin:vouchers:issue:")),
        "{shown}"
    );
    assert_eq!(
        till.ledger_balance("vouchers:promo").as_deref(),
        Some("-112.50")
    );
    let entries = till.ledger_verify()["entries"].clone();

    for (args, part) in [
        (
            vec!["--programme", "gift", "--count", "0", "--amount", "10"],
            "1 to 1000",
        ),
        (
            vec!["--programme", "gift", "--count", "1001", "--amount", "10"],
            "1 to 1000",
        ),
        (
            vec!["--programme", "gift", "--count", "2"],
            "amount is required",
        ),
        (
            vec!["--programme", "gift", "--count", "2", "--amount", "900"],
            "outside",
        ),
        (
            vec!["--programme", "gift", "--count", "2", "--amount", "abc"],
            "amount",
        ),
        (
            vec!["--programme", "forfeit", "--count", "2", "--amount", "20"],
            "fixed at 50.00",
        ),
        (
            vec!["--programme", "wallet", "--count", "2", "--amount", "20"],
            "programme",
        ),
        (
            vec!["--programme", "nope", "--count", "2", "--amount", "20"],
            "programme",
        ),
        (
            vec![
                "--programme",
                "gift",
                "--count",
                "2",
                "--amount",
                "20",
                "--expires",
                "2020-01-01",
            ],
            "has passed",
        ),
    ] {
        let (refused, exit) = till.posctl_shown(&[&["voucher", "issue"], args.as_slice()].concat());
        assert_eq!(exit, Some(1), "{args:?}: {refused}");
        assert_eq!(
            refused["error"], "org.posd.Error.InvalidArgument",
            "{args:?}: {refused}"
        );
        assert!(
            refused["message"].as_str().expect("message").contains(part),
            "{args:?}: {refused}"
        );
    }
    assert_eq!(
        till.ledger_balance("vouchers:promo").as_deref(),
        Some("-112.50"),
        "nothing was posted"
    );
    assert_eq!(
        till.ledger_verify()["entries"],
        entries,
        "no entry was written"
    );

    // The largest batch answers within the call deadline, every code distinct.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("big.txt");
    let out = posctl(
        till.bus.address(),
        &[
            "voucher",
            "issue",
            "--programme",
            "forfeit",
            "--count",
            "1000",
            "--out",
            file.to_str().expect("UTF-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&file).expect("read");
    let distinct: std::collections::BTreeSet<&str> = written.lines().collect();
    assert_eq!(distinct.len(), 1000);
    assert_eq!(
        till.ledger_balance("vouchers:promo").as_deref(),
        Some("-50112.50")
    );
    till.ledger_verify();
}
