//! Following the daemon's signals: a sale's `PropertiesChanged`, scanners' `Scanned`,
//! printers' paper and cover state, and (for the customer display) sales appearing.
//! Nothing here polls.

use std::collections::HashMap;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use zbus::OwnedVariant;
use zbus::{ObjectPath, OwnedObjectPath};

use crate::link::Event;
use crate::view::SaleView;

const SALE_INTERFACE: &str = "org.posd.Sale1";

/// Every property of the sale at `path`, read once.
pub async fn snapshot(conn: &zbus::Connection, path: ObjectPath<'_>) -> zbus::Result<SaleView> {
    let props = zbus::fdo::PropertiesProxy::builder(conn)
        .destination(posd_client::BUS_NAME)
        .path(path)
        .build()
        .await?;
    read_all(&props).await
}

/// Every property of the sale behind `props`, read once.
async fn read_all(props: &zbus::fdo::PropertiesProxy<'_>) -> zbus::Result<SaleView> {
    let name = zbus::names::InterfaceName::try_from(SALE_INTERFACE)?;
    let all: HashMap<String, OwnedVariant> = props.get_all(name).await?;
    let mut view = SaleView::default();
    view.apply(&all);
    Ok(view)
}

/// Follows the sale at `path` until aborted: every `PropertiesChanged` of it becomes an
/// [`Event::Sale`] with the whole view. The subscription is made before the first reading, so
/// no change between the two is missed.
pub fn sale(
    conn: zbus::Connection,
    path: OwnedObjectPath,
    events: mpsc::UnboundedSender<Event>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let builder = zbus::fdo::PropertiesProxy::builder(&conn)
            .destination(posd_client::BUS_NAME)
            .path(path);
        let Ok(props) = builder.build().await else {
            return;
        };
        let Ok(mut changes) = props.receive_properties_changed().await else {
            return;
        };
        let Ok(mut view) = read_all(&props).await else {
            return;
        };
        let _ = events.send(Event::Sale(Some(view.clone())));
        while let Some(signal) = changes.next().await {
            let Ok(args) = signal.args() else { continue };
            if args.interface_name().as_str() != SALE_INTERFACE {
                continue;
            }
            let changed: HashMap<String, OwnedVariant> = args
                .changed_properties()
                .iter()
                .filter_map(|(k, v)| Some((k.to_string(), OwnedVariant::try_from(v).ok()?)))
                .collect();
            view.apply(&changed);
            if !args.invalidated_properties().is_empty()
                && let Ok(fresh) = read_all(&props).await
            {
                view = fresh;
            }
            if events.send(Event::Sale(Some(view.clone()))).is_err() {
                return;
            }
        }
    })
}

/// Every `Scanned` signal of any scanner of posd becomes an [`Event::Scanned`].
pub async fn scanners(conn: &zbus::Connection, events: mpsc::UnboundedSender<Event>) {
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface("org.posd.Scanner1")
        .member("Scanned")
        .build();
    let Ok(rule) = rule else {
        return;
    };
    let queue = std::num::NonZeroUsize::new(64);
    let Ok(mut stream) = zbus::MessageStream::for_match_rule(rule, conn, queue).await else {
        return;
    };
    tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            let body = message.body();
            let Ok((code, _symbology, _kind, _details)) =
                body.deserialize::<(String, String, String, HashMap<String, OwnedVariant>)>()
            else {
                continue;
            };
            if events.send(Event::Scanned(code)).is_err() {
                return;
            }
        }
    });
}

/// The paper and cover state of every printer, now and on every change, as
/// [`Event::Printer`] warnings.
pub async fn printers(conn: &zbus::Connection, events: mpsc::UnboundedSender<Event>) {
    let objects = zbus::fdo::ObjectManagerProxy::builder(conn)
        .destination(posd_client::BUS_NAME)
        .path(posd_client::ROOT_PATH);
    let Ok(objects) = objects.build().await else {
        return;
    };
    let Ok(managed) = objects.get_managed_objects().await else {
        return;
    };
    let printers: Vec<OwnedObjectPath> = managed
        .into_iter()
        .filter(|(_, ifaces)| ifaces.keys().any(|i| i.as_str() == "org.posd.Printer1"))
        .map(|(path, _)| path)
        .collect();
    for path in printers {
        let conn = conn.clone();
        let events = events.clone();
        tokio::spawn(async move {
            let builder = posd_client::Printer1Proxy::builder(&conn).path(path);
            let Ok(printer) = builder.build().await else {
                return;
            };
            let mut near = printer.receive_paper_near_end_changed().await;
            let mut out = printer.receive_paper_out_changed().await;
            let mut cover = printer.receive_cover_open_changed().await;
            loop {
                let mut warnings = Vec::new();
                if printer.paper_out().await.unwrap_or(false) {
                    warnings.push("Paper out");
                } else if printer.paper_near_end().await.unwrap_or(false) {
                    warnings.push("Paper near end");
                }
                if printer.cover_open().await.unwrap_or(false) {
                    warnings.push("Printer cover open");
                }
                if events.send(Event::Printer(warnings)).is_err() {
                    return;
                }
                tokio::select! {
                    Some(_) = near.next() => {}
                    Some(_) = out.next() => {}
                    Some(_) = cover.next() => {}
                    else => return,
                }
            }
        });
    }
}

/// Sales appearing on the bus (`InterfacesAdded` of `Sale1`), for the customer display's
/// `--follow`: each new sale's id. Sales already open when it starts are reported first.
pub async fn new_sales(
    conn: &zbus::Connection,
    found: mpsc::UnboundedSender<String>,
) -> zbus::Result<()> {
    let objects = zbus::fdo::ObjectManagerProxy::builder(conn)
        .destination(posd_client::BUS_NAME)
        .path(posd_client::ROOT_PATH)
        .build()
        .await?;
    let mut added = objects.receive_interfaces_added().await?;
    let managed = objects.get_managed_objects().await?;
    let mut open: Vec<String> = Vec::new();
    for (path, ifaces) in managed {
        if let Some((_, props)) = ifaces.iter().find(|(i, _)| i.as_str() == SALE_INTERFACE) {
            let mut view = SaleView::default();
            let props: HashMap<String, OwnedVariant> = props
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.try_clone().ok()?)))
                .collect();
            view.apply(&props);
            if view.is_open() {
                open.push(path.as_str().rsplit('/').next().unwrap_or("").to_string());
            }
        }
    }
    open.sort();
    for id in open {
        let _ = found.send(id);
    }
    tokio::spawn(async move {
        while let Some(signal) = added.next().await {
            let Ok(args) = signal.args() else { continue };
            if args
                .interfaces_and_properties()
                .keys()
                .any(|i| i.as_str() == SALE_INTERFACE)
            {
                let id = args.object_path().as_str().rsplit('/').next().unwrap_or("");
                if found.send(id.to_string()).is_err() {
                    return;
                }
            }
        }
    });
    Ok(())
}
