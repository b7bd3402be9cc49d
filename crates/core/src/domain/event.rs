//! Events: what happened, with a stable type name and a schema version each.
//!
//! The type name and version are written into every envelope. Payloads are JSON objects.
//! When an event's shape changes, its version goes up and [`upcast`] learns to turn the old
//! shape into the new one; stored events are never rewritten.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::catalog::{
    ProductAdded, ProductArchived, ProductClassified, ProductImageChanged, ProductRenamed, ProductRepriced,
    ProductRestored,
};
use super::conflicts::OrderConflictsResolved;
use super::customers::{CustomerDetailsChanged, CustomerRegistered};
use super::devices::{DeviceAdmitted, DeviceRetired};
use super::drawer::DrawerRecorded;
use super::orders::{OrderCancelled, OrderDelivered, OrderPlaced, OrderRefunded, OrderShipped};
use super::payments::{OrderPaid, Payment, Tender};
use super::returns::ReturnRecorded;
use super::shop::{ShopOpened, ShopSettingsChanged};
use super::stock::{ProductLowStockSet, StockCounted, StockReceived};

/// Something that happened in the shop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    ShopOpened(ShopOpened),
    ShopSettingsChanged(ShopSettingsChanged),
    ProductAdded(ProductAdded),
    ProductRenamed(ProductRenamed),
    ProductRepriced(ProductRepriced),
    ProductImageChanged(ProductImageChanged),
    ProductArchived(ProductArchived),
    ProductRestored(ProductRestored),
    ProductClassified(ProductClassified),
    ProductLowStockSet(ProductLowStockSet),
    StockReceived(StockReceived),
    StockCounted(StockCounted),
    CustomerRegistered(CustomerRegistered),
    CustomerDetailsChanged(CustomerDetailsChanged),
    OrderPlaced(OrderPlaced),
    OrderShipped(OrderShipped),
    OrderDelivered(OrderDelivered),
    OrderCancelled(OrderCancelled),
    OrderRefunded(OrderRefunded),
    OrderPaid(OrderPaid),
    OrderConflictsResolved(OrderConflictsResolved),
    DrawerRecorded(DrawerRecorded),
    ReturnRecorded(ReturnRecorded),
    DeviceAdmitted(DeviceAdmitted),
    DeviceRetired(DeviceRetired),
}

/// The stream an event belongs to: one per aggregate instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamId {
    Shop,
    Product(String),
    Customer(String),
    Order(String),
    Return(String),
    /// A business day's cash drawer.
    Drawer(chrono::NaiveDate),
    /// A device of the shop (its admission and retirement).
    Device(String),
}

impl StreamId {
    /// The stored form: `shop`, `product/85123A`, `customer/17850`, `order/536365`.
    pub fn to_key(&self) -> String {
        match self {
            StreamId::Shop => "shop".to_owned(),
            StreamId::Product(sku) => format!("product/{sku}"),
            StreamId::Customer(id) => format!("customer/{id}"),
            StreamId::Order(id) => format!("order/{id}"),
            StreamId::Return(id) => format!("return/{id}"),
            StreamId::Drawer(day) => format!("drawer/{day}"),
            StreamId::Device(id) => format!("device/{id}"),
        }
    }

    /// Parses the stored form.
    pub fn from_key(key: &str) -> Option<StreamId> {
        if key == "shop" {
            return Some(StreamId::Shop);
        }
        let (kind, id) = key.split_once('/')?;
        match kind {
            "product" => Some(StreamId::Product(id.to_owned())),
            "customer" => Some(StreamId::Customer(id.to_owned())),
            "order" => Some(StreamId::Order(id.to_owned())),
            "return" => Some(StreamId::Return(id.to_owned())),
            "drawer" => id.parse().ok().map(StreamId::Drawer),
            "device" => Some(StreamId::Device(id.to_owned())),
            _ => None,
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_key())
    }
}

/// An event payload that could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// A type name this version of Countertop does not know.
    #[error("unknown event type '{0}'")]
    UnknownType(String),
    /// A schema version newer than this program: written by a newer Countertop.
    #[error(
        "event type '{event_type}' has schema version {version}, but this Countertop reads up to version {known}; update Countertop"
    )]
    NewerVersion { event_type: String, version: u16, known: u16 },
    /// A payload that does not have the shape its type and version promise.
    #[error("event type '{event_type}' v{version} has a malformed payload: {source}")]
    Malformed { event_type: String, version: u16, source: serde_json::Error },
}

macro_rules! events {
    ($($variant:ident => $name:literal, v $version:literal),* $(,)?) => {
        impl Event {
            /// The stable type name written into the log.
            pub fn type_name(&self) -> &'static str {
                match self { $(Event::$variant(_) => $name,)* }
            }

            /// The schema version this program writes for the event's type.
            pub fn schema_version(&self) -> u16 {
                match self { $(Event::$variant(_) => $version,)* }
            }

            /// The payload as JSON.
            pub fn to_payload(&self) -> Value {
                match self { $(Event::$variant(e) => to_value(e),)* }
            }

            /// Reads a stored payload of any known version, upcasting old shapes first.
            pub fn from_payload(event_type: &str, version: u16, payload: Value) -> Result<Event, DecodeError> {
                match event_type {
                    $($name => {
                        if version > $version {
                            return Err(DecodeError::NewerVersion { event_type: event_type.to_owned(), version, known: $version });
                        }
                        let current = upcast(event_type, version, payload);
                        from_value(event_type, version, current).map(Event::$variant)
                    })*
                    _ => Err(DecodeError::UnknownType(event_type.to_owned())),
                }
            }

            /// Like [`from_payload`](Self::from_payload), from the payload's JSON text: one of
            /// the current schema version parses straight into its type, an older one goes
            /// through [`upcast`] as a `Value`.
            pub fn from_payload_json(event_type: &str, version: u16, json: &str) -> Result<Event, DecodeError> {
                match event_type {
                    $($name if version == $version => {
                        serde_json::from_str(json).map(Event::$variant).map_err(|source| DecodeError::Malformed {
                            event_type: event_type.to_owned(),
                            version,
                            source,
                        })
                    })*
                    _ => {
                        let known = EVENT_TYPES
                            .iter()
                            .find(|(name, _)| *name == event_type)
                            .map(|(_, known)| *known)
                            .ok_or_else(|| DecodeError::UnknownType(event_type.to_owned()))?;
                        if version > known {
                            return Err(DecodeError::NewerVersion { event_type: event_type.to_owned(), version, known });
                        }
                        let payload = serde_json::from_str(json).map_err(|source| DecodeError::Malformed {
                            event_type: event_type.to_owned(),
                            version,
                            source,
                        })?;
                        Event::from_payload(event_type, version, payload)
                    }
                }
            }
        }

        /// Every event type with its current schema version.
        pub const EVENT_TYPES: &[(&str, u16)] = &[$(($name, $version)),*];
    };
}

events! {
    ShopOpened => "shop.opened", v 1,
    ShopSettingsChanged => "shop.settings_changed", v 1,
    ProductAdded => "product.added", v 2,
    ProductRenamed => "product.renamed", v 2,
    ProductRepriced => "product.repriced", v 2,
    ProductImageChanged => "product.image_changed", v 2,
    ProductArchived => "product.archived", v 2,
    ProductRestored => "product.restored", v 2,
    ProductClassified => "product.classified", v 2,
    ProductLowStockSet => "product.low_stock_set", v 2,
    StockReceived => "stock.received", v 1,
    StockCounted => "stock.counted", v 1,
    CustomerRegistered => "customer.registered", v 3,
    CustomerDetailsChanged => "customer.details_changed", v 2,
    OrderPlaced => "order.placed", v 4,
    OrderShipped => "order.shipped", v 1,
    OrderDelivered => "order.delivered", v 1,
    OrderCancelled => "order.cancelled", v 2,
    OrderRefunded => "order.refunded", v 3,
    OrderPaid => "order.paid", v 1,
    OrderConflictsResolved => "order.conflicts_resolved", v 1,
    DrawerRecorded => "drawer.recorded", v 1,
    ReturnRecorded => "return.recorded", v 2,
    DeviceAdmitted => "device.admitted", v 1,
    DeviceRetired => "device.retired", v 1,
}

/// Turns a payload of an older schema version into the current shape, one version step at a
/// time. Each step is a pure function on JSON and stays here for as long as any log may hold
/// events of that version — that is, forever.
///
/// - `order.placed` and `customer.registered` v1 → v2: v2 says whether the shop's sequence
///   gave the number (`numbered`) and where an imported one came from (`source`). v1 did not
///   record it and moved the sequence past every number, so a v1 event reads as `numbered`:
///   a store written then keeps the sequence it had.
/// - `return.recorded` v1 → v2: v2 may carry a `source`; a v1 return has none.
/// - `order.placed` v2 → v3: v3 may say an imported order is still `open`; every v2 import
///   was history (the file's orders were completed business), which is what its absence says.
/// - `order.refunded` v1 → v2: v2 may name the goods that came back (`lines`); a v1 refund
///   was of an amount only.
/// - `order.placed` v3 → v4: v4 carries the `payments` taken when it was placed (none: an
///   unpaid invoice). Every order before v4 was paid in full when placed, by the method it
///   names: one payment of its total by that tender ([`Tender::from_method`]) at its time.
/// - `order.refunded` v2 → v3: v3 says the `tender` the money went back by; an older refund
///   went back as the order was paid (`None`: read models take the order's main tender).
/// - `product.*` v1 → v2, `customer.registered` v2 → v3, `customer.details_changed` v1 → v2:
///   the newer may carry a hybrid-logical-clock `stamp` (and the fields a details change
///   `changed`), on a shop with several tills; the older have none, and apply in log order.
/// - `order.cancelled` v1 → v2: v2 may say what the till knew when it cancelled (`knew`, on
///   a shop with several tills); a v1 cancellation knew everything recorded before it.
fn upcast(event_type: &str, version: u16, payload: Value) -> Value {
    match (event_type, version) {
        ("order.placed" | "customer.registered", 1) => upcast(event_type, 2, with_field(payload, "numbered", true)),
        ("order.placed", 2) => upcast(event_type, 3, payload),
        ("order.placed", 3) => paid_when_placed(payload),
        ("return.recorded" | "order.refunded", 1) => upcast(event_type, 2, payload),
        _ => payload,
    }
}

/// `order.placed` v3 → v4: see [`upcast`]. A payload without the fields to work it out is
/// left as it is (and reads as malformed, as it would have).
fn paid_when_placed(payload: Value) -> Value {
    let total = payload.pointer("/totals/total").cloned().and_then(|t| serde_json::from_value(t).ok());
    let at = payload.get("at").cloned().and_then(|t| serde_json::from_value(t).ok());
    let method = payload.get("payment_method").and_then(Value::as_str).map(str::to_owned);
    let (Some(total), Some(at)) = (total, at) else { return payload };
    let total: rust_decimal::Decimal = total;
    let payments = if total > rust_decimal::Decimal::ZERO {
        vec![Payment { tender: Tender::from_method(method.as_deref()), amount: total, tendered: None, at }]
    } else {
        Vec::new()
    };
    with_field(payload, "payments", to_value(&payments))
}

fn with_field(mut payload: Value, name: &str, value: impl Into<Value>) -> Value {
    if let Value::Object(map) = &mut payload {
        map.insert(name.to_owned(), value.into());
    }
    payload
}

fn to_value<T: Serialize>(event: &T) -> Value {
    // Serialising these plain structs cannot fail: no maps with non-string keys, no
    // custom serialisers that error.
    serde_json::to_value(event).unwrap_or(Value::Null)
}

fn from_value<T: DeserializeOwned>(event_type: &str, version: u16, payload: Value) -> Result<T, DecodeError> {
    serde_json::from_value(payload).map_err(|source| DecodeError::Malformed {
        event_type: event_type.to_owned(),
        version,
        source,
    })
}

impl Event {
    /// The stream this event is appended to.
    pub fn stream(&self) -> StreamId {
        match self {
            Event::ShopOpened(_) | Event::ShopSettingsChanged(_) => StreamId::Shop,
            Event::ProductAdded(e) => StreamId::Product(e.product.sku.clone()),
            Event::ProductRenamed(e) => StreamId::Product(e.sku.clone()),
            Event::ProductRepriced(e) => StreamId::Product(e.sku.clone()),
            Event::ProductImageChanged(e) => StreamId::Product(e.sku.clone()),
            Event::ProductArchived(e) => StreamId::Product(e.sku.clone()),
            Event::ProductRestored(e) => StreamId::Product(e.sku.clone()),
            Event::ProductClassified(e) => StreamId::Product(e.sku.clone()),
            Event::ProductLowStockSet(e) => StreamId::Product(e.sku.clone()),
            Event::StockReceived(e) => StreamId::Product(e.sku.clone()),
            Event::StockCounted(e) => StreamId::Product(e.sku.clone()),
            Event::CustomerRegistered(e) => StreamId::Customer(e.customer.id.clone()),
            Event::CustomerDetailsChanged(e) => StreamId::Customer(e.customer.id.clone()),
            Event::OrderPlaced(e) => StreamId::Order(e.order.clone()),
            Event::OrderShipped(e) => StreamId::Order(e.order.clone()),
            Event::OrderDelivered(e) => StreamId::Order(e.order.clone()),
            Event::OrderCancelled(e) => StreamId::Order(e.order.clone()),
            Event::OrderRefunded(e) => StreamId::Order(e.order.clone()),
            Event::OrderPaid(e) => StreamId::Order(e.order.clone()),
            Event::OrderConflictsResolved(e) => StreamId::Order(e.order.clone()),
            Event::DrawerRecorded(e) => StreamId::Drawer(e.day),
            Event::ReturnRecorded(e) => StreamId::Return(e.record.id.clone()),
            Event::DeviceAdmitted(e) => StreamId::Device(e.device.clone()),
            Event::DeviceRetired(e) => StreamId::Device(e.device.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_unique() {
        let mut names: Vec<_> = EVENT_TYPES.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EVENT_TYPES.len());
    }

    #[test]
    fn a_newer_schema_version_is_refused_with_advice() {
        let err = Event::from_payload("order.delivered", 9, serde_json::json!({})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "event type 'order.delivered' has schema version 9, but this Countertop reads up to version 1; update Countertop"
        );
        assert!(matches!(Event::from_payload("order.teleported", 1, Value::Null), Err(DecodeError::UnknownType(_))));
        assert!(matches!(
            Event::from_payload("order.delivered", 1, serde_json::json!({"order": 5})),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn the_json_text_path_decodes_like_the_value_path() {
        let placed =
            serde_json::json!({"order": "7", "carrier": "DHL", "tracking": "JD1", "at": "2026-01-02T03:04:05Z"});
        let text = placed.to_string();
        assert_eq!(
            Event::from_payload_json("order.shipped", 1, &text).unwrap(),
            Event::from_payload("order.shipped", 1, placed).unwrap()
        );
        let newer = Event::from_payload_json("order.delivered", 9, "not json").unwrap_err();
        assert!(matches!(newer, DecodeError::NewerVersion { version: 9, known: 1, .. }), "{newer}");
        let unknown = Event::from_payload_json("order.teleported", 1, "{}").unwrap_err();
        assert!(matches!(unknown, DecodeError::UnknownType(_)), "{unknown}");
        let malformed = Event::from_payload_json("order.delivered", 1, r#"{"order": 5}"#).unwrap_err();
        assert!(matches!(malformed, DecodeError::Malformed { .. }), "{malformed}");
    }

    #[test]
    fn stream_keys_round_trip() {
        for stream in [
            StreamId::Shop,
            StreamId::Product("A/B".into()),
            StreamId::Customer("17850".into()),
            StreamId::Order("C536379".into()),
            StreamId::Drawer(chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap_or_default()),
        ] {
            assert_eq!(StreamId::from_key(&stream.to_key()), Some(stream));
        }
        assert_eq!(StreamId::from_key("invoice/1"), None);
    }
}
