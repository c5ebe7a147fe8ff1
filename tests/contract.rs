//! The contract held where a frontend developer leans on it: input records checked by name,
//! numbers as precise as given, records (not JSON strings) back, NotFound for what is not
//! there, previews served, line ids that stay, codes masked but rule ids not, rewards
//! checked, and a receipt's number found when its barcode is scanned.
//!
//! The plugin behind it, `promo`, is written here in C and built with gcc, as a third party
//! would: a 3-for-2 promotion on iced tea, previews, a reward, an action, a tender method, a
//! section with a QR code, and a greedy claim of every code that starts like a receipt id.

mod support;

use std::collections::HashMap;

use futures_util::StreamExt;
use posd_client::{Manager1Proxy, Sale1Proxy, error_reply, to_json};
use serde_json::{Value, json};
use support::*;
use zbus::{OwnedVariant, Variant};

type Record = HashMap<String, OwnedVariant>;

/// The `promo` plugin. It keeps two counters a test reads through `LookupCode("PROMO-LOG")`
/// (its `state`): how often `apply_reward` and `invoke_action` were called.
const PROMO_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "posd_plugin.h"

typedef struct { int applied; int invoked; } promo;

static int32_t put(posd_buffer *b, const char *json, int32_t status) {
    size_t len = strlen(json);
    b->data = malloc(len);
    b->len = b->data != NULL ? len : 0;
    if (b->data == NULL) return POSD_ERROR;
    memcpy(b->data, json, len);
    return status;
}
static void free_buffer(posd_buffer *b) {
    if (b != NULL) { free(b->data); b->data = NULL; b->len = 0; }
}
static void *create(const posd_host_api *h, const char *c, size_t l, posd_buffer *e) {
    (void)h; (void)c; (void)l; (void)e;
    return calloc(1, sizeof(promo));
}
static void destroy(void *i) { free(i); }

/* Where `needle` starts in the request, or -1 (requests are not NUL-terminated). */
static long find(const char *r, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; r != NULL && i + n <= len; i++)
        if (memcmp(r + i, needle, n) == 0) return (long)i;
    return -1;
}
static int has(const char *r, size_t len, const char *needle) { return find(r, len, needle) >= 0; }

static int32_t classify_code(void *i, const char *r, size_t l, posd_buffer *out) {
    promo *p = i;
    char json[160];
    if (has(r, l, "\"code\":\"PROMO-LOG\"")) {
        snprintf(json, sizeof json,
                 "{\"claimed\":true,\"kind\":\"coupon\",\"state\":\"applied=%d invoked=%d\"}",
                 p->applied, p->invoked);
        return put(out, json, POSD_OK);
    }
    /* A greedy guess: anything that starts like a receipt id is "a voucher". */
    if (has(r, l, "\"code\":\"0001-"))
        return put(out, "{\"claimed\":true,\"kind\":\"voucher\",\"state\":\"guessed\"}", POSD_OK);
    return put(out, "{\"claimed\":false}", POSD_OK);
}

static int32_t enter_code(void *i, const char *r, size_t l, posd_buffer *out) {
    (void)i;
    if (has(r, l, "\"code\":\"0001-"))
        return put(out, "{\"claimed\":true,\"kind\":\"voucher\",\"message\":\"guessed\"}", POSD_OK);
    return put(out, "{\"claimed\":false}", POSD_OK);
}

static int32_t evaluate_basket(void *i, const char *r, size_t l, posd_buffer *out) {
    (void)i;
    if (!has(r, l, "\"sku\":\"EISTEE\""))
        return put(out, "{\"previews\":[{\"label\":\"Sie sammeln 5 Punkte\",\"points\":\"5\"}]}",
                   POSD_OK);
    /* The rule's amount grows with the basket: the line is the same promotion still. */
    const char *amount = has(r, l, "\"sku\":\"WASSER\"") ? "-1.50" : "-1.00";
    char json[1024];
    snprintf(json, sizeof json,
             "{\"lines\":["
             "{\"kind\":\"discount\",\"name\":\"Eistee 3 fuer 2\",\"amount\":\"%s\","
             "\"applies_to\":[],\"ref\":\"PROMO-EISTEE-3\",\"ref_kind\":\"rule\"},"
             "{\"kind\":\"discount\",\"name\":\"Coupon\",\"amount\":\"-0.50\","
             "\"applies_to\":[],\"ref\":\"CPN-SECRET-9876\"}],"
             "\"previews\":[{\"label\":\"Sie sammeln 5 Punkte\",\"points\":\"5\"},"
             "{\"kind\":\"nudge\",\"label\":\"1 Eistee mehr: 1 gratis\"}]}",
             amount);
    return put(out, json, POSD_OK);
}

static int32_t list_rewards(void *i, const char *r, size_t l, posd_buffer *out) {
    (void)i;
    if (has(r, l, "\"customer\":\"C-1\""))
        return put(out, "{\"rewards\":[{\"id\":\"r-5\",\"label\":\"5 EUR fuer 500 Punkte\","
                        "\"amount\":\"5.00\",\"points\":\"500\"}]}", POSD_OK);
    return put(out, "{\"rewards\":[]}", POSD_OK);
}

static int32_t apply_reward(void *i, const char *r, size_t l, posd_buffer *out) {
    promo *p = i;
    (void)r; (void)l;
    p->applied++;
    return put(out, "{\"message\":\"500 Punkte eingeloest\",\"add_lines\":[{\"kind\":"
                    "\"points_redemption\",\"name\":\"Punkte-Rabatt\",\"qty\":\"1\","
                    "\"unit_price\":\"-5.00\",\"tax_rate\":\"20\",\"ref\":\"r-5\","
                    "\"ref_kind\":\"rule\"}]}", POSD_OK);
}

static int32_t list_actions(void *i, const char *r, size_t l, posd_buffer *out) {
    (void)i; (void)r; (void)l;
    return put(out, "{\"actions\":[{\"id\":\"greet\",\"label\":\"Gruessen\",\"params\":["
                    "{\"name\":\"name\",\"type\":\"string\",\"required\":true},"
                    "{\"name\":\"times\",\"type\":\"integer\",\"required\":false,\"default\":1}"
                    "]}]}", POSD_OK);
}

/* Answers with the args it was given, as it got them, next to a result of every kind. */
static int32_t invoke_action(void *i, const char *r, size_t l, posd_buffer *out) {
    promo *p = i;
    p->invoked++;
    long start = find(r, l, "\"args\":{");
    if (start < 0) return put(out, "{\"error\":\"InvalidArgument\",\"message\":\"no args\"}", POSD_ERROR);
    size_t from = (size_t)start + 7, to = from;
    int depth = 0;
    for (; to < l; to++) {
        if (r[to] == '{') depth++;
        if (r[to] == '}' && --depth == 0) break;
    }
    char json[2048];
    int n = snprintf(json, sizeof json,
                     "{\"message\":\"hallo\",\"result\":{\"args\":%.*s,\"code\":\"GV-9\","
                     "\"amount\":\"25.00\",\"count\":3,\"sold\":true,\"none\":null,"
                     "\"codes\":[\"A\",\"B\"],\"slip\":{\"title\":\"Gutschein\"}}}",
                     (int)(to - from + 1), r + from);
    if (n < 0 || (size_t)n >= sizeof json)
        return put(out, "{\"error\":\"InvalidArgument\",\"message\":\"args too long\"}", POSD_ERROR);
    return put(out, json, POSD_OK);
}

static int32_t validate_tender(void *i, const char *r, size_t l, posd_buffer *out) {
    (void)i;
    if (!has(r, l, "\"method\":\"promo-credit\""))
        return put(out, "{\"error\":\"NotFound\",\"message\":\"promo takes no such tender\"}", POSD_ERROR);
    if (!has(r, l, "\"details\":{}"))
        return put(out, "{\"error\":\"InvalidArgument\",\"message\":\"unknown key in details: "
                        "promo-credit takes no details\"}", POSD_ERROR);
    return put(out, "{\"accepted\":true,\"amount\":\"1.00\",\"ref\":\"PC-1\"}", POSD_OK);
}

static int32_t prepare_checkout(void *i, const char *r, size_t l, posd_buffer *out) {
    (void)i; (void)r; (void)l;
    return put(out, "{\"sections\":[{\"title\":\"Partner\",\"lines\":[\"bestaetigt\"],"
                    "\"qr\":\"https://partner.example/c?t=42\"}]}", POSD_OK);
}

static const posd_plugin_hooks hooks = {
    .struct_size = sizeof(posd_plugin_hooks),
    .classify_code = classify_code,
    .enter_code = enter_code,
    .list_actions = list_actions,
    .invoke_action = invoke_action,
    .evaluate_basket = evaluate_basket,
    .list_rewards = list_rewards,
    .apply_reward = apply_reward,
    .validate_tender = validate_tender,
    .prepare_checkout = prepare_checkout,
};

static const posd_plugin_descriptor descriptor = {
    .struct_size = sizeof(posd_plugin_descriptor),
    .abi_major = POSD_ABI_MAJOR, .abi_minor = POSD_ABI_MINOR, .min_abi_minor = 0,
    .id = "promo", .name = "Promo (test)", .version = "1.0.0",
    .description = "Test plugin: promotions, previews, a reward, an action, a tender",
    .create = create, .destroy = destroy, .free_buffer = free_buffer, .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) { return &descriptor; }
"#;

/// A daemon with the `promo` plugin and a receipt printer named `receipt`.
/// Fields drop in order: the client, the daemon, the printer, then the bus.
struct Till {
    conn: zbus::Connection,
    _daemon: Daemon,
    _printer: FakePrinter,
    bus: TestBus,
}

impl Till {
    async fn start() -> Self {
        let bus = TestBus::start();
        let root = bus.dir.path().to_path_buf();
        let printer = FakePrinter::listen(0);
        let devices = format!(
            "[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"{}\"\nstatus_poll_ms = 200\n",
            printer.connection()
        );
        let (dir, config) = plugin_config(&root, 5000, &devices);
        let source = root.join("promo.c");
        std::fs::write(&source, PROMO_C).expect("write promo.c");
        let built = build_c_plugin(&source, &root.join("promo.so"));
        place_plugin(&built, &dir, "libpromo.so");
        let daemon = DaemonSetup::new(bus.address(), &root)
            .config(&config)
            .start();
        let conn = bus.client().await;
        Self {
            conn,
            _daemon: daemon,
            _printer: printer,
            bus,
        }
    }

    async fn manager(&self) -> Manager1Proxy<'_> {
        Manager1Proxy::new(&self.conn).await.expect("manager")
    }

    async fn open_sale(&self) -> Sale1Proxy<'_> {
        let path = self
            .manager()
            .await
            .open_sale(HashMap::from([("cashier", Variant::from("anna"))]))
            .await
            .expect("OpenSale");
        sale_proxy(&self.conn, path).await
    }

    /// How often the plugin's apply_reward and invoke_action were called.
    async fn promo_log(&self) -> String {
        let info = self
            .manager()
            .await
            .lookup_code("PROMO-LOG")
            .await
            .expect("LookupCode");
        s(&info["state"])
    }
}

/// A record as JSON, to compare whole records at once.
fn json_of(record: &Record) -> Value {
    Value::Object(
        record
            .iter()
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect(),
    )
}

fn message(err: &zbus::Error) -> String {
    error_reply(err).expect("named error").1
}

fn item<'a>(sku: &'a str, qty: &'a str, price: &'a str) -> HashMap<&'a str, Variant<'a>> {
    HashMap::from([
        ("sku", Variant::from(sku)),
        ("name", Variant::from(sku)),
        ("qty", Variant::from(qty)),
        ("unit_price", Variant::from(price)),
        ("tax_rate", Variant::from("20")),
    ])
}

async fn invoke(
    sale: &Sale1Proxy<'_>,
    action: &str,
    args: HashMap<&str, Variant<'_>>,
) -> zbus::Result<Record> {
    sale.inner().call("Invoke", &(action, args)).await
}

async fn pay_rest(sale: &Sale1Proxy<'_>) {
    let due = s(&sale.totals().await.expect("Totals")["due"]);
    sale.add_tender("card", &due, HashMap::new())
        .await
        .expect("card");
}

#[tokio::test(flavor = "multi_thread")]
async fn tender_details_and_action_args_are_checked_by_name_before_anything_happens() {
    let till = Till::start().await;
    let sale = till.open_sale().await;
    sale.add_item(item("BROT", "1", "10.00"))
        .await
        .expect("AddItem");
    let tenders_now = || async { sale.tenders().await.expect("Tenders").len() };

    for (method, details, key) in [
        ("cash", vec![("foo", "bar")], "foo"),
        ("card", vec![("slip", "0042"), ("pin", "1234")], "pin"),
        ("voucher", vec![("code", "GV-1"), ("amount", "5")], "amount"),
        ("promo-credit", vec![("foo", "bar")], "details"),
    ] {
        let details: HashMap<&str, Variant<'_>> = details
            .into_iter()
            .map(|(k, v)| (k, Variant::from(v)))
            .collect();
        let err = sale
            .add_tender(method, "1.00", details)
            .await
            .expect_err("a key the method does not take");
        assert_eq!(name(&err), "org.posd.Error.InvalidArgument", "{method}");
        assert!(message(&err).contains(key), "{method}: {}", message(&err));
    }
    assert_eq!(tenders_now().await, 0, "no refused tender was added");
    let card = HashMap::from([
        ("terminal", Variant::from("T-7")),
        ("reference", Variant::from("A1B2C3")),
        ("slip", Variant::from("0042")),
    ]);
    assert_eq!(
        sale.add_tender("card", "4.00", card).await.expect("card"),
        "T1"
    );
    assert_eq!(
        sale.add_tender("promo-credit", "1.00", HashMap::new())
            .await
            .expect("the plugin's method"),
        "T2"
    );

    // Invoke: the declared params are name (string, required) and times (integer).
    for (args, param) in [
        (
            vec![
                ("name", Variant::from("Anna")),
                ("nmae", Variant::from("Anna")),
            ],
            "nmae",
        ),
        (vec![("times", Variant::from(2i32))], "name"),
        (
            vec![
                ("name", Variant::from("Anna")),
                ("times", Variant::from("drei")),
            ],
            "times",
        ),
        (vec![("name", Variant::from(7i32))], "name"),
    ] {
        let err = invoke(&sale, "promo:greet", args.into_iter().collect())
            .await
            .expect_err("refused");
        assert_eq!(name(&err), "org.posd.Error.InvalidArgument");
        assert!(
            message(&err).contains(&format!("{param:?}")),
            "{param}: {}",
            message(&err)
        );
    }
    let err = invoke(&sale, "promo:dance", HashMap::new())
        .await
        .expect_err("not declared");
    assert_eq!(name(&err), "org.posd.Error.NotFound");
    assert_eq!(
        till.promo_log().await,
        "applied=0 invoked=0",
        "the plugin was never called with args that do not fit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_answers_its_result_as_a_record() {
    let till = Till::start().await;
    let sale = till.open_sale().await;
    let answer = invoke(
        &sale,
        "promo:greet",
        HashMap::from([
            ("name", Variant::from("Anna")),
            ("times", Variant::from("2")),
        ]),
    )
    .await
    .expect("Invoke");
    assert_eq!(s(&answer["plugin"]), "promo");
    assert_eq!(s(&answer["message"]), "hallo");
    let result: Record = answer["result"]
        .clone()
        .try_into()
        .expect("result is a{sv}");
    assert_eq!(
        json_of(&result),
        json!({
            "args": {"name": "Anna", "times": 2},
            "code": "GV-9", "amount": "25.00", "count": 3, "sold": true,
            "codes": ["A", "B"], "slip": {"title": "Gutschein"}
        }),
        "typed args reached the plugin; null is left out"
    );
    let signature = |key: &str| result[key].value_signature().to_string();
    assert_eq!(
        (signature("count"), signature("codes"), signature("slip")),
        ("x".into(), "as".into(), "a{sv}".into())
    );
    assert_eq!(till.promo_log().await, "applied=0 invoked=1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_unit_price_keeps_its_decimals_in_lines_and_in_the_journal() {
    let till = Till::start().await;
    let sale = till.open_sale().await;
    sale.add_item(item("SCHRAUBE", "10", "1.2345"))
        .await
        .expect("AddItem");
    sale.add_item(item("BROT", "1", "2.5"))
        .await
        .expect("AddItem");
    let prices = |lines: &[Record]| -> Vec<(String, String, String)> {
        lines
            .iter()
            .map(|l| (s(&l["qty"]), s(&l["unit_price"]), s(&l["amount"])))
            .collect()
    };
    let expected = vec![
        ("10".to_string(), "1.2345".to_string(), "12.35".to_string()),
        ("1".to_string(), "2.50".to_string(), "2.50".to_string()),
    ];
    assert_eq!(prices(&sale.lines().await.expect("Lines")), expected);
    let err = sale
        .add_item(item("X", "1", "1.23456"))
        .await
        .expect_err("five decimals");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument");
    pay_rest(&sale).await;
    let receipt_id = sale.checkout("p-1").await.expect("Checkout");
    let receipt = till
        .manager()
        .await
        .get_receipt(&receipt_id)
        .await
        .expect("GetReceipt");
    assert_eq!(prices(&records(&receipt["lines"])), expected);
    assert!(s(&receipt["text"]).contains("10 x 1,2345"));
}

#[tokio::test(flavor = "multi_thread")]
async fn what_does_not_exist_is_not_found_with_a_message() {
    let till = Till::start().await;
    let manager = till.manager().await;
    let sale = till.open_sale().await;
    let sale_id = sale
        .inner()
        .path()
        .as_str()
        .rsplit('/')
        .next()
        .expect("id")
        .to_string();

    // A call on a missing object's path never reaches posd: zbus 6 answers UnknownObject
    // itself and has no fallback. If this starts failing, zbus learned it: serve NotFound
    // on the paths themselves and drop the Get* lookups' caveat.
    for (path, interface) in [
        ("/org/posd/Posd1/sale/nosuch", "org.posd.Sale1"),
        ("/org/posd/Posd1/device/nosuch", "org.posd.Device1"),
        ("/org/posd/Posd1/plugin/nosuch", "org.posd.Plugin1"),
    ] {
        let properties = zbus::fdo::PropertiesProxy::builder(&till.conn)
            .destination("org.posd.Posd1")
            .path(path)
            .build()
            .await
            .expect("proxy");
        let name = interface.try_into().expect("interface name");
        let err = properties.get_all(name).await.expect_err("no such object");
        assert!(err.to_string().contains("UnknownObject"), "{path}: {err}");
    }

    for (method, id, what) in [
        ("GetSale", "nosuch", "no sale \"nosuch\""),
        ("GetDevice", "nosuch", "no device \"nosuch\""),
        ("GetPlugin", "nosuch", "no plugin \"nosuch\""),
        ("GetDevice", "not a path", "no device \"not a path\""),
    ] {
        let err = manager
            .inner()
            .call::<_, _, zbus::OwnedObjectPath>(method, &(id,))
            .await
            .expect_err("not found");
        assert_eq!(name(&err), "org.posd.Error.NotFound", "{method}");
        assert!(message(&err).contains(what), "{method}: {}", message(&err));
    }
    let found = |method: &'static str, id: String| {
        let manager = manager.clone();
        async move {
            manager
                .inner()
                .call::<_, _, zbus::OwnedObjectPath>(method, &(id.as_str(),))
                .await
                .unwrap_or_else(|e| panic!("{method}({id}): {e}"))
                .to_string()
        }
    };
    assert_eq!(
        found("GetSale", sale_id.clone()).await,
        sale.inner().path().as_str()
    );
    assert_eq!(
        found("GetDevice", "receipt".into()).await,
        "/org/posd/Posd1/device/receipt"
    );
    assert_eq!(
        found("GetPlugin", "promo".into()).await,
        "/org/posd/Posd1/plugin/promo"
    );
    let err = manager
        .get_receipt("0001-01-999999")
        .await
        .expect_err("no receipt");
    assert_eq!(name(&err), "org.posd.Error.NotFound");

    let out = posctl(till.bus.address(), &["print-test", "nosuch"]);
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(
        said.contains("org.posd.Error.NotFound") && said.contains("nosuch"),
        "{said}"
    );
    assert!(!said.contains("UnknownObject"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn previews_reach_the_frontend_with_properties_changed() {
    let till = Till::start().await;
    let sale = till.open_sale().await;
    let properties = zbus::fdo::PropertiesProxy::builder(&till.conn)
        .destination("org.posd.Posd1")
        .path(sale.inner().path().to_owned())
        .build()
        .await
        .expect("properties proxy");
    let mut changes = properties
        .receive_properties_changed()
        .await
        .expect("subscribe");
    let mut next_previews = async || -> Value {
        let signal = tokio::time::timeout(PATIENCE, changes.next())
            .await
            .expect("a PropertiesChanged in time")
            .expect("stream");
        let args = signal.args().expect("args");
        let previews = args
            .changed_properties()
            .get("Previews")
            .expect("Previews announced")
            .try_to_owned()
            .expect("owned");
        to_json(&previews)
    };

    sale.add_item(item("BROT", "1", "2.00"))
        .await
        .expect("AddItem");
    assert_eq!(
        next_previews().await,
        json!([{"plugin": "promo", "kind": "earn", "label": "Sie sammeln 5 Punkte",
                "points": "5", "amount": ""}]),
        "a preview that counts points and says no kind is earn"
    );
    sale.add_item(item("EISTEE", "1", "2.00"))
        .await
        .expect("AddItem");
    let previews = next_previews().await;
    assert_eq!(
        previews[1],
        json!({"plugin": "promo", "kind": "nudge", "label": "1 Eistee mehr: 1 gratis",
               "points": "", "amount": ""})
    );
    let served: Vec<Record> = sale
        .inner()
        .get_property("Previews")
        .await
        .expect("Previews");
    assert_eq!(served.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn line_ids_stay_and_an_automatic_line_keeps_its_id_while_its_rule_applies() {
    let till = Till::start().await;
    let sale = till.open_sale().await;
    let automatic = || async {
        sale.lines()
            .await
            .expect("Lines")
            .iter()
            .filter(|l| s(&l["plugin"]) == "promo")
            .map(|l| (s(&l["id"]), s(&l["ref"]), s(&l["amount"])))
            .collect::<Vec<_>>()
    };
    let mut items = Vec::new();
    items.push(
        sale.add_item(item("EISTEE", "1", "2.00"))
            .await
            .expect("AddItem"),
    );
    let first = automatic().await;
    assert_eq!(
        first,
        vec![
            (
                "A1".to_string(),
                "PROMO-EISTEE-3".to_string(),
                "-1.00".to_string()
            ),
            (
                "A2".to_string(),
                "••••9876".to_string(),
                "-0.50".to_string()
            ),
        ],
        "a rule id is shown as it is, a code masked"
    );
    items.push(
        sale.add_item(item("BROT", "1", "3.00"))
            .await
            .expect("AddItem"),
    );
    assert_eq!(
        automatic().await,
        first,
        "another item changes no promotion's id"
    );
    items.push(
        sale.add_item(item("WASSER", "1", "1.00"))
            .await
            .expect("AddItem"),
    );
    assert_eq!(items, vec!["L1", "L2", "L3"], "item lines run L1, L2, L3");
    let grown = automatic().await;
    assert_eq!(
        (grown[0].0.as_str(), grown[0].2.as_str()),
        ("A1", "-1.50"),
        "the same rule with a new amount keeps its id"
    );
    sale.set_quantity(&items[1], "2")
        .await
        .expect("SetQuantity");
    assert_eq!(automatic().await, grown);

    // The rule stops applying: its lines go; when it applies again they are new lines.
    sale.remove_line(&items[0]).await.expect("RemoveLine");
    assert!(automatic().await.is_empty());
    let again = sale
        .add_item(item("EISTEE", "1", "2.00"))
        .await
        .expect("AddItem");
    assert_eq!(again, "L4", "a line id is never given twice in a sale");
    let ids: Vec<String> = automatic().await.into_iter().map(|l| l.0).collect();
    assert_eq!(ids, vec!["A3", "A4"]);

    pay_rest(&sale).await;
    let receipt_id = sale.checkout("ids-1").await.expect("Checkout");
    let receipt = till
        .manager()
        .await
        .get_receipt(&receipt_id)
        .await
        .expect("GetReceipt");
    let printed = s(&receipt["text"]);
    assert!(printed.contains("PROMO-EISTEE-3"), "{printed}");
    assert!(
        printed.contains("••••9876") && !printed.contains("CPN-SECRET"),
        "{printed}"
    );
    let refs: Vec<String> = records(&receipt["lines"])
        .iter()
        .map(|l| s(&l["ref"]))
        .filter(|r| !r.is_empty())
        .collect();
    assert_eq!(refs, vec!["PROMO-EISTEE-3", "••••9876"]);
    let sections = records(&receipt["sections"]);
    assert_eq!(
        json_of(&sections[0]),
        json!({"plugin": "promo", "title": "Partner", "lines": ["bestaetigt"], "slip": false,
               "code": "", "qr": "https://partner.example/c?t=42"}),
        "a section carries the QR code its plugin gave"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_reward_takes_only_a_reward_offered_now() {
    let till = Till::start().await;
    let sale = till.open_sale().await;
    sale.add_item(item("BROT", "2", "10.00"))
        .await
        .expect("AddItem");
    let rewards = || async {
        let list: Vec<Record> = sale.inner().call("Rewards", &()).await.expect("Rewards");
        list.iter().map(|r| s(&r["id"])).collect::<Vec<_>>()
    };
    let apply = |id: &'static str| {
        let sale = sale.clone();
        async move {
            sale.inner()
                .call::<_, _, String>("ApplyReward", &(id,))
                .await
        }
    };
    assert!(rewards().await.is_empty(), "nothing without the customer");
    for id in ["promo:r-5", "promo:r-99", "nosuch:r-5"] {
        let err = apply(id).await.expect_err("not offered");
        assert_eq!(name(&err), "org.posd.Error.NotFound", "{id}");
        assert!(message(&err).contains(id), "{id}: {}", message(&err));
    }
    assert_eq!(
        till.promo_log().await,
        "applied=0 invoked=0",
        "apply_reward is never called for a reward not offered"
    );
    assert_eq!(sale.lines().await.expect("Lines").len(), 1);

    sale.inner()
        .call::<_, _, ()>("SetCustomer", &("C-1",))
        .await
        .expect("SetCustomer");
    assert_eq!(rewards().await, vec!["promo:r-5"]);
    let line = apply("promo:r-5").await.expect("ApplyReward");
    assert_eq!(line, "L2");
    let lines = sale.lines().await.expect("Lines");
    let reward = lines
        .iter()
        .find(|l| s(&l["id"]) == line)
        .expect("the line");
    assert_eq!(
        (s(&reward["kind"]), s(&reward["ref"]), s(&reward["amount"])),
        ("points_redemption".into(), "r-5".into(), "-5.00".into())
    );
    assert_eq!(till.promo_log().await, "applied=1 invoked=0");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_number_scanned_at_the_till_finds_its_receipt() {
    let till = Till::start().await;
    let manager = till.manager().await;
    let sale = till.open_sale().await;
    sale.add_item(item("BROT", "2", "3.00"))
        .await
        .expect("AddItem");
    pay_rest(&sale).await;
    let receipt_id = sale.checkout("r-1").await.expect("Checkout");
    assert_eq!(receipt_id, "0001-01-000001");

    let info = manager.lookup_code(&receipt_id).await.expect("LookupCode");
    let mut info = json_of(&info);
    let time = info["time"].as_str().expect("time").to_string();
    assert!(time.starts_with("20"), "{time}");
    info.as_object_mut().expect("object").remove("time");
    assert_eq!(
        info,
        json!({"kind": "receipt", "plugin": "", "balance": "", "expires": "",
               "state": "valid", "customer": "", "warnings": [],
               "receipt_id": "0001-01-000001", "receipt_kind": "sale", "total": "6.00",
               "voidable": true, "returnable": true, "voided_by": "", "returns": []}),
        "the host answers its own receipt before the plugin that claims 0001-… codes"
    );
    let guessed = manager
        .lookup_code("0001-01-999999")
        .await
        .expect("LookupCode");
    assert_eq!(
        (s(&guessed["kind"]), s(&guessed["plugin"])),
        ("voucher".into(), "promo".into()),
        "a code that is no receipt still goes to the plugins"
    );

    let next = till.open_sale().await;
    next.add_item(item("BROT", "1", "3.00"))
        .await
        .expect("AddItem");
    let entered = next.enter_code(&receipt_id).await.expect("EnterCode");
    assert_eq!(s(&entered["kind"]), "receipt");
    assert_eq!(s(&entered["plugin"]), "");
    assert!(
        s(&entered["message"]).contains("Manager1.Return"),
        "{}",
        s(&entered["message"])
    );
    let added: Vec<String> = entered["lines"].clone().try_into().expect("lines");
    assert!(added.is_empty());
    assert_eq!(
        next.lines().await.expect("Lines").len(),
        1,
        "the sale is unchanged"
    );

    let void_id = manager.void(&receipt_id, "v-1").await.expect("Void");
    let info = manager.lookup_code(&receipt_id).await.expect("LookupCode");
    assert_eq!(s(&info["state"]), "voided");
    assert_eq!(s(&info["voided_by"]), void_id);
    assert!(!bool::try_from(info["voidable"].clone()).expect("b"));
    assert!(!bool::try_from(info["returnable"].clone()).expect("b"));
    let void = manager.lookup_code(&void_id).await.expect("LookupCode");
    assert_eq!(
        (s(&void["receipt_kind"]), s(&void["state"])),
        ("void".into(), "final".into())
    );
}
