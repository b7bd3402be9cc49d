//! Products: SKU (unique, never changes), name, unit price, tax rate, image, archived flag,
//! and whether it is merchandise (postage and fees are not).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::clock::Stamp;

use super::{Event, Rejection, Shop, text};
use crate::money::{self, MoneyInput};

/// A product in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Product {
    pub sku: String,
    pub name: String,
    /// In the shop's currency; may have sub-cent places.
    #[ts(as = "String")]
    pub unit_price: Decimal,
    /// A fraction: 0.2 = 20 %.
    #[ts(as = "String")]
    pub tax_rate: Decimal,
    pub image: Option<String>,
    pub archived: bool,
    /// Not goods: postage, carriage, fees, bank charges. Sold and counted in the takings like
    /// anything else, and left out of the best-selling products.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_merchandise: bool,
    /// At or below this many on hand, the product is low (`None`: only when out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_stock_at: Option<i64>,
}

/// Add a product to the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddProduct {
    pub sku: String,
    pub name: String,
    pub unit_price: MoneyInput,
    /// `None`: the shop's default rate.
    pub tax_rate: Option<Decimal>,
    pub image: Option<String>,
}

/// Change a product. Absent fields stay as they are; an empty image clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateProduct {
    pub sku: String,
    pub name: Option<String>,
    pub unit_price: Option<MoneyInput>,
    pub tax_rate: Option<Decimal>,
    pub image: Option<String>,
    pub archived: Option<bool>,
    /// Mark it as not merchandise (postage, fees), or as goods again.
    #[serde(default)]
    pub not_merchandise: Option<bool>,
    /// `Some(Some(n))`: low at or below n; `Some(None)`: only when out; `None`: unchanged.
    #[serde(default)]
    pub low_stock_at: Option<Option<i64>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductAdded {
    #[serde(flatten)]
    pub product: Product,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRenamed {
    pub sku: String,
    pub name: String,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRepriced {
    pub sku: String,
    pub unit_price: Decimal,
    pub tax_rate: Decimal,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductImageChanged {
    pub sku: String,
    pub image: Option<String>,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductArchived {
    pub sku: String,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRestored {
    pub sku: String,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

/// The product was marked as not merchandise (postage, fees), or as goods again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductClassified {
    pub sku: String,
    pub not_merchandise: bool,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

/// The fields an edit sets one by one (see `clock.rs`); `price` is unit price and tax rate.
pub(crate) const FIELDS: [&str; 6] = ["name", "price", "image", "archived", "not_merchandise", "low_stock_at"];

/// The SKU of the product an event edits, for the events [`fold`] folds (not stock movements:
/// how many are on hand is the read side's).
pub(crate) fn edited(event: &Event) -> Option<&str> {
    match event {
        Event::ProductAdded(e) => Some(&e.product.sku),
        Event::ProductRenamed(e) => Some(&e.sku),
        Event::ProductRepriced(e) => Some(&e.sku),
        Event::ProductImageChanged(e) => Some(&e.sku),
        Event::ProductArchived(e) => Some(&e.sku),
        Event::ProductRestored(e) => Some(&e.sku),
        Event::ProductClassified(e) => Some(&e.sku),
        Event::ProductLowStockSet(e) => Some(&e.sku),
        _ => None,
    }
}

/// One product's fold, the same for the write side's state and the read side's directory: the
/// product after `event`, given what it was. `wins(field, stamp)` says whether the event's edit
/// of `field` wins over the edits folded before (the latest stamp per field, `clock.rs`; an
/// unstamped edit always does) and records it. Events of other streams change nothing.
pub(crate) fn fold(
    product: Option<Product>,
    event: &Event,
    mut wins: impl FnMut(&str, Option<&Stamp>) -> bool,
) -> Option<Product> {
    let mut change = |field: &str, stamp: &Option<Stamp>, product: Option<Product>, set: &dyn Fn(&mut Product)| {
        let won = wins(field, stamp.as_ref());
        product.map(|mut p| {
            if won {
                set(&mut p);
            }
            p
        })
    };
    match event {
        Event::ProductAdded(e) => match product {
            // Two tills added one SKU while apart: field by field, the later edit wins.
            Some(mut current) if e.stamp.is_some() => {
                let (new, stamp) = (&e.product, e.stamp.as_ref());
                if wins("name", stamp) {
                    current.name.clone_from(&new.name);
                }
                if wins("price", stamp) {
                    (current.unit_price, current.tax_rate) = (new.unit_price, new.tax_rate);
                }
                if wins("image", stamp) {
                    current.image.clone_from(&new.image);
                }
                if wins("archived", stamp) {
                    current.archived = new.archived;
                }
                if wins("not_merchandise", stamp) {
                    current.not_merchandise = new.not_merchandise;
                }
                if wins("low_stock_at", stamp) {
                    current.low_stock_at = new.low_stock_at;
                }
                Some(current)
            }
            _ => {
                for field in FIELDS {
                    wins(field, e.stamp.as_ref());
                }
                Some(e.product.clone())
            }
        },
        Event::ProductRenamed(e) => change("name", &e.stamp, product, &|p| p.name.clone_from(&e.name)),
        Event::ProductRepriced(e) => {
            change("price", &e.stamp, product, &|p| (p.unit_price, p.tax_rate) = (e.unit_price, e.tax_rate))
        }
        Event::ProductImageChanged(e) => change("image", &e.stamp, product, &|p| p.image.clone_from(&e.image)),
        Event::ProductArchived(e) => change("archived", &e.stamp, product, &|p| p.archived = true),
        Event::ProductRestored(e) => change("archived", &e.stamp, product, &|p| p.archived = false),
        Event::ProductClassified(e) => {
            change("not_merchandise", &e.stamp, product, &|p| p.not_merchandise = e.not_merchandise)
        }
        Event::ProductLowStockSet(e) => change("low_stock_at", &e.stamp, product, &|p| p.low_stock_at = e.low_at),
        _ => product,
    }
}

pub(super) fn add(shop: &Shop, existing: Option<&Product>, cmd: &AddProduct) -> Result<Vec<Event>, Rejection> {
    let sku = text::sku(&cmd.sku)?;
    if let Some(product) = existing {
        return Err(Rejection::SkuTaken { sku, name: product.name.clone() });
    }
    let name = text::required("product name", "the name shown on receipts", &cmd.name, text::NAME_MAX)?;
    let price = cmd.unit_price.in_currency(shop.currency, "unit price")?;
    let product = Product {
        sku,
        name,
        unit_price: money::check_unit_price(price, shop.currency)?,
        tax_rate: money::check_tax_rate(cmd.tax_rate.unwrap_or(shop.default_tax_rate))?,
        image: text::optional("image path", cmd.image.as_deref(), text::PATH_MAX)?,
        archived: false,
        not_merchandise: false,
        low_stock_at: None,
    };
    Ok(vec![Event::ProductAdded(ProductAdded { product, stamp: None })])
}

pub(super) fn update(shop: &Shop, existing: Option<&Product>, cmd: &UpdateProduct) -> Result<Vec<Event>, Rejection> {
    let product =
        existing.ok_or_else(|| Rejection::UnknownProduct { sku: cmd.sku.trim().to_owned(), hint: String::new() })?;
    let sku = product.sku.clone();
    let mut events = Vec::new();
    if let Some(name) = &cmd.name {
        let name = text::required("product name", "the name shown on receipts", name, text::NAME_MAX)?;
        if name != product.name {
            events.push(Event::ProductRenamed(ProductRenamed { sku: sku.clone(), name, stamp: None }));
        }
    }
    if cmd.unit_price.is_some() || cmd.tax_rate.is_some() {
        let unit_price = match &cmd.unit_price {
            Some(input) => money::check_unit_price(input.in_currency(shop.currency, "unit price")?, shop.currency)?,
            None => product.unit_price,
        };
        let tax_rate = cmd.tax_rate.map(money::check_tax_rate).transpose()?.unwrap_or(product.tax_rate);
        if unit_price != product.unit_price || tax_rate != product.tax_rate {
            events.push(Event::ProductRepriced(ProductRepriced {
                sku: sku.clone(),
                unit_price,
                tax_rate,
                stamp: None,
            }));
        }
    }
    if let Some(image) = &cmd.image {
        let image = text::optional("image path", Some(image), text::PATH_MAX)?;
        if image != product.image {
            events.push(Event::ProductImageChanged(ProductImageChanged { sku: sku.clone(), image, stamp: None }));
        }
    }
    if let Some(not_merchandise) = cmd.not_merchandise
        && not_merchandise != product.not_merchandise
    {
        events.push(Event::ProductClassified(ProductClassified { sku: sku.clone(), not_merchandise, stamp: None }));
    }
    if let Some(low_at) = cmd.low_stock_at {
        events.extend(super::stock::low_at(product, low_at)?);
    }
    match cmd.archived {
        Some(true) if !product.archived => events.push(Event::ProductArchived(ProductArchived { sku, stamp: None })),
        Some(false) if product.archived => events.push(Event::ProductRestored(ProductRestored { sku, stamp: None })),
        _ => {}
    }
    Ok(events)
}
