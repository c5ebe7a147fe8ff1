//! The product plugin `posd-cards` built as a `.so` and driven over the bus like a frontend
//! and a technician: a card sold at the till assigns its programmes to the sale's customer,
//! scanning or typing it puts that customer on a sale, and each programme works through
//! checkout, void and return — stored value topped up, spent and given back, the holder
//! discount, the punch card across voids, the session card, the warranty extension found
//! again with `posctl warranty SERIAL`. Bad input gets its named error, a bad configuration
//! fails the plugin's load naming the key, and the books verify after every story.

mod support;

use std::collections::HashMap;

use posd_client::{Manager1Proxy, Plugin1Proxy, Sale1Proxy, plugin_path};
use support::*;
use zbus::{OwnedVariant, Variant};

type Record = HashMap<String, OwnedVariant>;

const SECTION: &str = r#"
number_prefix = "2791"

[[plugin.cards.programmes]]
id = "guthaben"
name = "Guthabenkarte"
kind = "stored_value"
max_balance = "500.00"

[[plugin.cards.programmes]]
id = "rabatt"
name = "Rabatt Hoergeraete"
kind = "discount"
percent = "10"
tags = ["hearing"]

[[plugin.cards.programmes]]
id = "batterien"
name = "Batteriebonus"
kind = "bonus_article"
every = 3
tags = ["group:batteries"]

[[plugin.cards.programmes]]
id = "garantie"
name = "Garantieverlaengerung"
kind = "warranty"
months = 24
tags = ["hearing"]

[[plugin.cards.programmes]]
id = "training"
name = "Trainingskarte"
kind = "sessions"
sessions = 3

[[plugin.cards.card_types]]
id = "plus"
name = "Kundenkarte Plus"
price = "5.00"
tax_rate = "20"
programmes = ["guthaben", "rabatt", "batterien", "garantie", "training"]

[[plugin.cards.card_types]]
id = "bonus"
name = "Bonuskarte"
programmes = ["batterien"]
"#;

/// A card number of this till's format: prefix 2791, twelve digits, the EAN (GS1) check
/// digit.
fn card_number(n: u32) -> String {
    posd_cards::number::with_check_digit(&format!("2791{n:08}"))
}

fn last4(number: &str) -> &str {
    &number[number.len() - 4..]
}

/// A daemon with the cards plugin and a receipt printer.
/// Fields drop in order: the client, the daemon, the printer, then the bus.
struct Till {
    conn: zbus::Connection,
    daemon: Daemon,
    printer: FakePrinter,
    bus: TestBus,
    /// posd.toml, to start the daemon again over the same state.
    config: String,
}

impl Till {
    /// A till whose `[plugin.cards]` is `section`, with `extra` configuration after it.
    async fn start_with(section: &str, extra: &str) -> Self {
        let bus = TestBus::start();
        let root = bus.dir.path().to_path_buf();
        let printer = FakePrinter::listen(0);
        let library = build_rust_plugin("posd-cards");
        let config = format!(
            "[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"{}\"\nstatus_poll_ms = 200\n\n{extra}\n[plugin.cards]\n{section}",
            printer.connection()
        );
        let (dir, config) = plugin_config(&root, 5000, &config);
        place_plugin(&library, &dir, "libposd_cards.so");
        std::fs::write(root.join("clock"), "0").expect("clock file");
        let daemon = DaemonSetup::new(bus.address(), &root)
            .config(&config)
            .env("POSDTEST_CLOCK", &root.join("clock").display().to_string())
            .start();
        let conn = bus.client().await;
        Self {
            conn,
            daemon,
            printer,
            bus,
            config,
        }
    }

    /// Stops the daemon and starts it again over the same database: the plugin is created
    /// anew and has only what the host kept.
    fn restart(&mut self) {
        self.daemon.stop();
        let root = self.bus.dir.path().to_path_buf();
        self.daemon = DaemonSetup::new(self.bus.address(), &root)
            .config(&self.config)
            .env("POSDTEST_CLOCK", &root.join("clock").display().to_string())
            .start();
    }

    /// Moves the till's business clock so that it reads `target` (seconds since the
    /// epoch) now, through the daemon's test clock file.
    fn set_clock_to(&self, target: i64) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let offset = target - i64::try_from(now).expect("seconds");
        std::fs::write(self.bus.dir.path().join("clock"), offset.to_string()).expect("clock");
    }

    async fn start() -> Self {
        Self::start_with(SECTION, "").await
    }

    async fn manager(&self) -> Manager1Proxy<'_> {
        Manager1Proxy::new(&self.conn).await.expect("manager")
    }

    /// A new sale, for `customer` if given.
    async fn open_sale(&self, customer: Option<&str>) -> Sale1Proxy<'_> {
        let path = self
            .manager()
            .await
            .open_sale(HashMap::from([("cashier", Variant::from("anna"))]))
            .await
            .expect("OpenSale");
        let sale = sale_proxy(&self.conn, path).await;
        if let Some(customer) = customer {
            sale.inner()
                .call::<_, _, ()>("SetCustomer", &(customer,))
                .await
                .expect("SetCustomer");
        }
        sale
    }

    /// Sells a card of `card_type` numbered `number` on a sale for `customer`, paid in cash;
    /// the receipt.
    async fn sell_card(&self, card_type: &str, number: &str, customer: Option<&str>) -> String {
        let sale = self.open_sale(customer).await;
        invoke_action(
            &sale,
            "cards:sell-card",
            &[("card_type", card_type), ("number", number)],
        )
        .await
        .expect("sell-card");
        pay_rest(&sale, "cash").await;
        sale.checkout(&format!("sell-{number}"))
            .await
            .expect("Checkout")
    }

    /// `Manager1.Customer`'s accounts of this plugin: programme → (kind, balance, unit).
    async fn accounts(&self, customer: &str) -> Vec<(String, String, String, String)> {
        let info = self
            .manager()
            .await
            .customer(customer)
            .await
            .expect("Customer");
        records(&info["accounts"])
            .into_iter()
            .filter(|a| s(&a["plugin"]) == "cards")
            .map(|a| {
                (
                    s(&a["programme"]),
                    s(&a["kind"]),
                    s(&a["balance"]),
                    s(&a["unit"]),
                )
            })
            .collect()
    }

    /// The balance `Manager1.Customer` shows for the programme named `programme` of card
    /// `number`.
    async fn balance(&self, customer: &str, programme: &str, number: &str) -> String {
        let wanted = format!("{programme} ••••{}", last4(number));
        self.accounts(customer)
            .await
            .into_iter()
            .find(|a| a.0 == wanted)
            .unwrap_or_else(|| panic!("{customer} has no {wanted}"))
            .2
    }

    /// The lines of every section this plugin printed with `receipt`, by title.
    async fn sections(&self, receipt: &str) -> Vec<(String, Vec<String>)> {
        let receipt = self
            .manager()
            .await
            .get_receipt(receipt)
            .await
            .expect("GetReceipt");
        records(&receipt["sections"])
            .into_iter()
            .filter(|r| s(&r["plugin"]) == "cards")
            .map(|r| {
                let lines: Vec<String> = r["lines"].clone().try_into().expect("lines");
                (s(&r["title"]), lines)
            })
            .collect()
    }

    async fn wait_printed(&self, text: &str) {
        eventually(&format!("{text:?} printed"), || async {
            !find_all(&self.printer.received(), text.as_bytes()).is_empty()
        })
        .await;
    }

    fn verify_ledger(&self) {
        let verified = verify_books(&self.daemon.database());
        assert!(verified.is_ok(), "{verified:?}");
    }
}

fn item<'a>(
    name: &'a str,
    price: &'a str,
    qty: &'a str,
    tags: &[&'a str],
) -> HashMap<&'a str, Variant<'a>> {
    HashMap::from([
        ("sku", Variant::from("4006381333931")),
        ("name", Variant::from(name)),
        ("qty", Variant::from(qty)),
        ("unit_price", Variant::from(price)),
        ("tax_rate", Variant::from("20")),
        ("tags", Variant::from(tags.to_vec())),
    ])
}

/// The sale's lines of this plugin as (kind, name, amount).
async fn card_lines(sale: &Sale1Proxy<'_>) -> Vec<(String, String, String)> {
    sale.lines()
        .await
        .expect("Lines")
        .into_iter()
        .filter(|l| s(&l["plugin"]) == "cards")
        .map(|l| (s(&l["kind"]), s(&l["name"]), s(&l["amount"])))
        .collect()
}

fn short(err: &zbus::Error) -> String {
    name(err).trim_start_matches("org.posd.Error.").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn selling_a_card_assigns_its_programmes_and_scanning_it_sets_the_customer() {
    let till = Till::start().await;
    let manager = till.manager().await;
    let card = card_number(1);

    // Sold to the sale's customer: a 5.00 line, the programmes printed with the holder.
    let sold = till.sell_card("plus", &card, Some("C-1001")).await;
    let sections = till.sections(&sold).await;
    let (title, lines) = &sections[0];
    assert_eq!(title, &format!("Kundenkarte Plus ••••{}", last4(&card)));
    assert!(
        lines.contains(&"Karteninhaber: C-1001".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"Programm: Trainingskarte: 3 Einheiten".to_string()),
        "{lines:?}"
    );
    let receipt = manager.get_receipt(&sold).await.expect("GetReceipt");
    let totals: Record = receipt["totals"].clone().try_into().expect("totals");
    assert_eq!(s(&totals["total"]), "5.00", "the card's price");

    // Every programme of the card is the customer's now.
    let accounts = till.accounts("C-1001").await;
    let names: Vec<&str> = accounts.iter().map(|a| a.0.as_str()).collect();
    let tail = format!("••••{}", last4(&card));
    assert_eq!(
        names,
        [
            "Guthabenkarte",
            "Rabatt Hoergeraete",
            "Batteriebonus",
            "Garantieverlaengerung",
            "Trainingskarte"
        ]
        .map(|n| format!("{n} {tail}"))
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
    );
    assert_eq!(accounts[0].1, "wallet");
    assert_eq!(
        (accounts[4].2.as_str(), accounts[4].3.as_str()),
        ("3", "sessions")
    );

    // A balance inquiry and a scan know the card and its holder.
    let info = manager.lookup_code(&card).await.expect("LookupCode");
    assert_eq!(s(&info["kind"]), "customer_card");
    assert_eq!(s(&info["plugin"]), "cards");
    assert_eq!(s(&info["customer"]), "C-1001");
    let sale = till.open_sale(None).await;
    let entered: Record = sale
        .inner()
        .call("EnterCode", &(card.as_str(),))
        .await
        .expect("EnterCode");
    assert_eq!(s(&entered["kind"]), "customer_card");
    assert_eq!(sale.customer().await.expect("Customer"), "C-1001");
    // Typed with the spaces printed on the card, too.
    let spaced = format!(
        "{} {} {} {}",
        &card[..4],
        &card[4..8],
        &card[8..12],
        &card[12..]
    );
    let sale = till.open_sale(None).await;
    sale.inner()
        .call::<_, _, Record>("EnterCode", &(spaced.as_str(),))
        .await
        .expect("EnterCode spaced");
    assert_eq!(sale.customer().await.expect("Customer"), "C-1001");

    // A second card on the same customer adds its programmes beside the first's.
    let second = card_number(2);
    till.sell_card("bonus", &second, Some("C-1001")).await;
    let accounts = till.accounts("C-1001").await;
    assert_eq!(accounts.len(), 6, "{accounts:?}");
    assert!(
        accounts
            .iter()
            .any(|a| a.0 == format!("Batteriebonus ••••{}", last4(&second)))
    );

    // Sold on a sale without a customer: the card becomes the customer.
    let anonymous = card_number(3);
    let sale = till.open_sale(None).await;
    invoke_action(
        &sale,
        "cards:sell-card",
        &[("card_type", "bonus"), ("number", &anonymous)],
    )
    .await
    .expect("sell-card");
    assert_eq!(sale.customer().await.expect("Customer"), anonymous);
    pay_rest(&sale, "cash").await;
    sale.checkout("anonymous").await.expect("Checkout");
    let info = manager.lookup_code(&anonymous).await.expect("LookupCode");
    assert_eq!(s(&info["customer"]), anonymous);

    // Bad input: an unknown card, a mistyped one, a card sold twice.
    let unknown = card_number(99);
    assert_eq!(
        short(&manager.lookup_code(&unknown).await.unwrap_err()),
        "NotFound"
    );
    let sale = till.open_sale(None).await;
    assert_eq!(
        short(
            &sale
                .inner()
                .call::<_, _, Record>("EnterCode", &(unknown.as_str(),))
                .await
                .unwrap_err()
        ),
        "NotFound"
    );
    assert_eq!(
        sale.customer().await.expect("Customer"),
        "",
        "nothing changed"
    );
    let mistyped = format!("{}{}", &card[..12], (card.as_bytes()[12] - b'0' + 1) % 10);
    assert_eq!(
        short(&manager.lookup_code(&mistyped).await.unwrap_err()),
        "InvalidArgument"
    );
    assert_eq!(
        short(
            &invoke_action(
                &sale,
                "cards:sell-card",
                &[("card_type", "plus"), ("number", &card)]
            )
            .await
            .unwrap_err()
        ),
        "NotAllowed"
    );
    assert!(card_lines(&sale).await.is_empty());
    till.verify_ledger();
}

/// A scanned card arrives as `Scanned` with kind `customer_card`, as `classify_code` says.
#[tokio::test(flavor = "multi_thread")]
async fn a_scanned_card_carries_kind_customer_card() {
    use futures_util::StreamExt;
    let pty = Pty::open();
    let scanner = format!(
        "[[devices]]\nname = \"scanner\"\nkind = \"scanner\"\nconnection = \"serial:{}?baud=9600\"\nsuffix = \"cr\"\n",
        pty.slave_path.display()
    );
    let mut pty = pty;
    let till = Till::start_with(SECTION, &scanner).await;
    let card = card_number(5);
    till.sell_card("bonus", &card, Some("C-5")).await;
    let scanner = online_scanner(&till.conn, "scanner").await;
    let mut scans = scanner.receive_scanned().await.expect("subscribe");
    // An unknown card in our format is an EAN-13 nobody claims: the host's "product",
    // with the plugin's NotFound in the details.
    for (code, kind, error) in [
        (card.clone(), "customer_card", None),
        (
            card_number(77),
            "product",
            Some("\"org.posd.Error.NotFound\""),
        ),
    ] {
        pty.send(format!("{code}\r").as_bytes());
        let scan = tokio::time::timeout(PATIENCE, scans.next())
            .await
            .unwrap_or_else(|_| panic!("no scan; log:\n{}", till.daemon.log()))
            .expect("stream");
        let args = scan.args().expect("args");
        assert_eq!(args.code, code);
        assert_eq!(args.kind, kind, "{code}");
        let said = args.details.get("error").map(|e| e.to_string());
        assert_eq!(said.as_deref(), error, "{code}");
    }
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_value_is_topped_up_spent_and_given_back_by_a_return() {
    let mut till = Till::start().await;
    let manager = till.manager().await;
    let card = card_number(10);
    till.sell_card("plus", &card, Some("C-10")).await;

    // Topped up: a line outside VAT, the customer locked while it is in the basket.
    let sale = till.open_sale(Some("C-10")).await;
    invoke_action(&sale, "cards:topup", &[("amount", "50.00")])
        .await
        .expect("topup");
    assert_eq!(
        card_lines(&sale).await,
        [(
            "voucher_topup".to_string(),
            format!("Guthabenkarte Aufladung ••••{}", last4(&card)),
            "50.00".to_string()
        )]
    );
    assert!(
        sale.inner()
            .get_property::<bool>("CustomerLocked")
            .await
            .expect("CustomerLocked")
    );
    assert_eq!(s(&sale.totals().await.expect("Totals")["tax"]), "0.00");
    pay_rest(&sale, "cash").await;
    let topped = sale.checkout("topup").await.expect("Checkout");
    assert!(
        till.sections(&topped).await[0]
            .1
            .contains(&"Guthaben: 50.00 EUR".to_string()),
        "{:?}",
        till.sections(&topped).await
    );
    assert_eq!(till.balance("C-10", "Guthabenkarte", &card).await, "50.00");
    let info = manager.lookup_code(&card).await.expect("LookupCode");
    assert_eq!(s(&info["balance"]), "50.00");

    // Spending more than the balance: InsufficientBalance, nothing added.
    let sale = till.open_sale(Some("C-10")).await;
    sale.add_item(item("Hoergeraet Reinigung", "80.00", "1", &[]))
        .await
        .expect("AddItem");
    let refused = sale
        .add_tender("card_credit", "50.01", HashMap::new())
        .await
        .unwrap_err();
    assert_eq!(short(&refused), "InsufficientBalance");
    assert!(sale.tenders().await.expect("Tenders").is_empty());
    // 30.00 with the card, the rest in cash.
    sale.add_tender("card_credit", "30.00", HashMap::new())
        .await
        .expect("AddTender card_credit");
    pay_rest(&sale, "cash").await;
    let paid = sale.checkout("pay").await.expect("Checkout");
    let printed = till.sections(&paid).await;
    assert!(
        printed[0].1.contains(&"Bezahlt: 30.00 EUR".to_string()),
        "{printed:?}"
    );
    assert!(
        printed[0].1.contains(&"Guthaben: 20.00 EUR".to_string()),
        "{printed:?}"
    );
    till.wait_printed("Guthaben: 20.00 EUR").await;
    assert_eq!(till.balance("C-10", "Guthabenkarte", &card).await, "20.00");

    // The daemon restarts: the card, its holder and its balance were never only in memory.
    drop(sale);
    drop(manager);
    till.restart();
    let manager = till.manager().await;
    let info = manager.lookup_code(&card).await.expect("LookupCode");
    assert_eq!(
        (s(&info["customer"]).as_str(), s(&info["balance"]).as_str()),
        ("C-10", "20.00")
    );
    assert_eq!(till.balance("C-10", "Guthabenkarte", &card).await, "20.00");

    // The goods come back: the card's share goes back onto the card, the rest in cash.
    let lines = records(&manager.get_receipt(&paid).await.expect("GetReceipt")["lines"]);
    let goods = s(&lines
        .iter()
        .find(|l| s(&l["kind"]) == "item")
        .expect("the goods")["id"]);
    let (returned, _) = manager
        .r#return(
            &paid,
            vec![HashMap::from([
                ("line", Variant::from(goods.as_str())),
                ("qty", Variant::from("1")),
            ])],
            "return-pay",
        )
        .await
        .expect("Return");
    assert_eq!(till.balance("C-10", "Guthabenkarte", &card).await, "50.00");
    let back = manager.get_receipt(&returned).await.expect("GetReceipt");
    let tenders = records(&back["tenders"]);
    assert!(
        tenders
            .iter()
            .any(|t| s(&t["method"]) == "card_credit" && s(&t["amount"]) == "-30.00"),
        "{tenders:?}"
    );

    // A top-up spent since can't be voided; one not spent can.
    let sale = till.open_sale(Some("C-10")).await;
    sale.add_item(item("Zubehoer", "45.00", "1", &[]))
        .await
        .expect("AddItem");
    sale.add_tender("card_credit", "45.00", HashMap::new())
        .await
        .expect("AddTender");
    sale.checkout("spend").await.expect("Checkout");
    assert_eq!(
        short(&manager.void(&topped, "void-topup").await.unwrap_err()),
        "NotAllowed"
    );
    assert_eq!(
        till.balance("C-10", "Guthabenkarte", &card).await,
        "5.00",
        "nothing changed"
    );
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn holders_get_their_discount_and_the_punch_card_survives_voids() {
    let till = Till::start().await;
    let manager = till.manager().await;
    let card = card_number(20);
    till.sell_card("plus", &card, Some("C-20")).await;

    // The holder discount: 10 % off tagged goods only.
    let sale = till.open_sale(Some("C-20")).await;
    sale.add_item(item("Hoergeraet", "999.95", "1", &["hearing"]))
        .await
        .expect("AddItem");
    sale.add_item(item("Kabel", "10.00", "1", &[]))
        .await
        .expect("AddItem");
    assert_eq!(
        card_lines(&sale).await,
        [(
            "discount".to_string(),
            "Rabatt Hoergeraete 10 %".to_string(),
            "-100.00".to_string()
        )]
    );
    assert_eq!(s(&sale.totals().await.expect("Totals")["total"]), "909.95");
    // Without the card's holder: no discount.
    let stranger = till.open_sale(Some("C-99")).await;
    stranger
        .add_item(item("Hoergeraet", "999.95", "1", &["hearing"]))
        .await
        .expect("AddItem");
    assert!(card_lines(&stranger).await.is_empty());

    // The punch card: every 3rd battery pack free.
    let batteries = |qty: &'static str| item("Batterien 312", "5.90", qty, &["group:batteries"]);
    let sale = till.open_sale(Some("C-20")).await;
    sale.add_item(batteries("2")).await.expect("AddItem");
    assert!(card_lines(&sale).await.is_empty());
    let previews: Vec<String> = sale
        .previews()
        .await
        .expect("Previews")
        .iter()
        .filter(|p| s(&p["plugin"]) == "cards")
        .map(|p| s(&p["label"]))
        .collect();
    assert_eq!(previews, ["Batteriebonus: der nächste Artikel ist gratis"]);
    pay_rest(&sale, "cash").await;
    let first = sale.checkout("punch-1").await.expect("Checkout");
    assert_eq!(till.balance("C-20", "Batteriebonus", &card).await, "2");

    let sale = till.open_sale(Some("C-20")).await;
    sale.add_item(batteries("1")).await.expect("AddItem");
    assert_eq!(
        card_lines(&sale).await,
        [(
            "free_product".to_string(),
            "Batteriebonus: jedes 3. gratis".to_string(),
            "-5.90".to_string()
        )]
    );
    assert_eq!(s(&sale.totals().await.expect("Totals")["total"]), "0.00");
    let free = sale.checkout("punch-2").await.expect("Checkout");
    assert_eq!(till.balance("C-20", "Batteriebonus", &card).await, "0");
    let printed = till.sections(&free).await;
    assert!(
        printed[0].1.contains(&"Gratisartikel: 1".to_string()),
        "{printed:?}"
    );

    // The first sale's punches went into the free pack: voiding it would give it twice.
    assert_eq!(
        short(&manager.void(&first, "void-1").await.unwrap_err()),
        "NotAllowed"
    );
    assert_eq!(till.balance("C-20", "Batteriebonus", &card).await, "0");
    // Voiding the free pack gives back its punches; then the first sale can be voided.
    manager.void(&free, "void-2").await.expect("Void");
    assert_eq!(till.balance("C-20", "Batteriebonus", &card).await, "2");
    manager.void(&first, "void-1b").await.expect("Void");
    assert_eq!(till.balance("C-20", "Batteriebonus", &card).await, "0");

    // A pack returned takes its punch back.
    let sale = till.open_sale(Some("C-20")).await;
    let packs = sale.add_item(batteries("2")).await.expect("AddItem");
    pay_rest(&sale, "cash").await;
    let bought = sale.checkout("punch-3").await.expect("Checkout");
    assert_eq!(till.balance("C-20", "Batteriebonus", &card).await, "2");
    let (returned, _) = manager
        .r#return(
            &bought,
            vec![HashMap::from([
                ("line", Variant::from(packs.as_str())),
                ("qty", Variant::from("1")),
            ])],
            "return-pack",
        )
        .await
        .expect("Return");
    assert_eq!(till.balance("C-20", "Batteriebonus", &card).await, "1");
    let printed = till.sections(&returned).await;
    assert!(
        printed[0]
            .1
            .contains(&"Stempel zurückgenommen: 1".to_string()),
        "{printed:?}"
    );
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_card_uses_one_per_visit_and_prints_the_rest() {
    let till = Till::start().await;
    let manager = till.manager().await;
    let card = card_number(30);
    till.sell_card("plus", &card, Some("C-30")).await;
    let mut visits = Vec::new();
    for (n, left) in ["2", "1", "0"].into_iter().enumerate() {
        let sale = till.open_sale(Some("C-30")).await;
        invoke_action(&sale, "cards:use-session", &[])
            .await
            .expect("use-session");
        let visit = sale
            .checkout(&format!("visit-{n}"))
            .await
            .expect("Checkout");
        let printed = till.sections(&visit).await;
        assert!(
            printed[0]
                .1
                .contains(&format!("Verbleibende Einheiten: {left}")),
            "{printed:?}"
        );
        till.wait_printed(&format!("Verbleibende Einheiten: {left}"))
            .await;
        visits.push(visit);
    }
    assert_eq!(till.balance("C-30", "Trainingskarte", &card).await, "0");
    let sale = till.open_sale(Some("C-30")).await;
    assert_eq!(
        short(
            &invoke_action(&sale, "cards:use-session", &[])
                .await
                .unwrap_err()
        ),
        "InsufficientBalance"
    );
    // A visit voided gives its session back.
    manager.void(&visits[2], "void-visit").await.expect("Void");
    assert_eq!(till.balance("C-30", "Trainingskarte", &card).await, "1");
    // Without a customer: CustomerRequired.
    let sale = till.open_sale(None).await;
    assert_eq!(
        short(
            &invoke_action(&sale, "cards:use-session", &[])
                .await
                .unwrap_err()
        ),
        "CustomerRequired"
    );
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warranty_is_recorded_printed_and_found_by_posctl() {
    /// 2026-01-31T12:00:00Z: 24 months on is 2028-01-31.
    const SOLD_AT: i64 = 1_769_860_800;
    let till = Till::start().await;
    till.set_clock_to(SOLD_AT);
    let card = card_number(40);
    till.sell_card("plus", &card, Some("C-40")).await;
    let sale = till.open_sale(Some("C-40")).await;
    let aid = sale
        .add_item(item("Hoergeraet", "1500.00", "1", &["hearing"]))
        .await
        .expect("AddItem");
    let cable = sale
        .add_item(item("Kabel", "10.00", "1", &[]))
        .await
        .expect("AddItem");
    assert_eq!(
        short(
            &invoke_action(
                &sale,
                "cards:warranty",
                &[("line", &cable), ("serial", "K-1")]
            )
            .await
            .unwrap_err()
        ),
        "InvalidArgument",
        "a cable is not covered"
    );
    invoke_action(
        &sale,
        "cards:warranty",
        &[("line", &aid), ("serial", "hg-2026-0042")],
    )
    .await
    .expect("warranty");
    pay_rest(&sale, "card").await;
    let sold = sale.checkout("aid").await.expect("Checkout");
    let printed = till.sections(&sold).await;
    let (_, lines) = printed
        .iter()
        .find(|(t, _)| t == "Garantieverlaengerung")
        .expect("the warranty's section");
    assert!(
        lines.contains(&"Seriennummer: HG-2026-0042".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"Garantie bis: 2028-01-31".to_string()),
        "{lines:?}"
    );
    till.wait_printed("Seriennummer: HG-2026-0042").await;

    // Found later by the technician, positional serial, with --json for scripts.
    let out = posctl(till.bus.address(), &["warranty", "HG-2026-0042"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("Hoergeraet") && said.contains("C-40") && said.contains("active"),
        "{said}"
    );
    let out = posctl(till.bus.address(), &["--json", "warranty", "hg-2026-0042"]);
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let found = &answer["result"];
    assert_eq!(found["sold"], "2026-01-31", "{found}");
    assert_eq!(found["until"], "2028-01-31", "{found}");
    assert_eq!(found["receipt"], sold.as_str());
    assert_eq!(found["state"], "active");
    // Two years and a day later the technician still finds it, expired.
    till.set_clock_to(SOLD_AT + 731 * 86_400);
    let out = posctl(till.bus.address(), &["--json", "warranty", "HG-2026-0042"]);
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(answer["result"]["state"], "expired", "{answer}");
    till.set_clock_to(SOLD_AT);
    let out = posctl(till.bus.address(), &["warranty", "NOPE-1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("NotFound"),
        "{}",
        text(&out.stderr)
    );

    // The same serial again: Conflict; after a void of the sale it is voided.
    let sale = till.open_sale(Some("C-40")).await;
    let again = sale
        .add_item(item("Hoergeraet", "1500.00", "1", &["hearing"]))
        .await
        .expect("AddItem");
    assert_eq!(
        short(
            &invoke_action(
                &sale,
                "cards:warranty",
                &[("line", &again), ("serial", "HG-2026-0042")]
            )
            .await
            .unwrap_err()
        ),
        "Conflict"
    );
    till.manager()
        .await
        .void(&sold, "void-aid")
        .await
        .expect("Void");
    let out = posctl(till.bus.address(), &["--json", "warranty", "HG-2026-0042"]);
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(answer["result"]["state"], "voided", "{answer}");
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_configuration_fails_the_load_naming_the_key_and_the_till_sells_on() {
    let bad = SECTION.replace("every = 3", "every = 1");
    let till = Till::start_with(&bad, "").await;
    let plugin = Plugin1Proxy::builder(&till.conn)
        .path(plugin_path("cards"))
        .build()
        .await
        .expect("plugin proxy");
    assert_eq!(plugin.state().await.expect("State"), "failed");
    let error = plugin.error().await.expect("Error");
    assert!(error.contains("programmes[2].every"), "{error}");
    let sale = till.open_sale(None).await;
    sale.add_item(item("Kabel", "10.00", "1", &[]))
        .await
        .expect("AddItem");
    pay_rest(&sale, "cash").await;
    sale.checkout("still-selling").await.expect("Checkout");
    till.verify_ledger();
}

/// The ```toml block of the plugin's README without its `[plugin.cards]` line: its full
/// configuration example.
fn readme_example() -> String {
    let readme =
        std::fs::read_to_string(workspace().join("plugins/cards/README.md")).expect("README.md");
    let start = readme.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + readme[start..].find("```").expect("its end");
    readme[start..end]
        .strip_prefix("[plugin.cards]\n")
        .expect("the example starts with its section")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readmes_full_example_loads_and_sells_a_card_with_five_programmes() {
    let till = Till::start_with(&readme_example(), "").await;
    let plugin = Plugin1Proxy::builder(&till.conn)
        .path(plugin_path("cards"))
        .build()
        .await
        .expect("plugin proxy");
    assert_eq!(
        plugin.state().await.expect("State"),
        "loaded",
        "{}",
        plugin.error().await.unwrap_or_default()
    );
    let card = card_number(60);
    till.sell_card("plus", &card, Some("C-60")).await;
    let accounts = till.accounts("C-60").await;
    assert_eq!(accounts.len(), 5, "{accounts:?}");
    assert!(
        accounts
            .iter()
            .any(|a| a.0 == format!("Hörtraining ••••{}", last4(&card)) && a.2 == "10"),
        "{accounts:?}"
    );
    till.verify_ledger();
}
