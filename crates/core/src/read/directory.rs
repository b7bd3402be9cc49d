//! Read model: the current shop, products and customers, as other read models and queries
//! need them (a customer's email for an order view, a product's image for its lines).
//! Owns `dir_shop`, `dir_products`, `dir_customers`, `dir_not_merchandise`, `dir_stamps`.
//!
//! The rows are the domain's own `Shop`, `Product` and `Customer`, folded by the domain's
//! folds (`catalog::fold`, `customers::fold`, `shop::apply_change`): the merge of edits two
//! tills made while apart is written once, and both sides keep it alike.

use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Apply, decode_row, encode_row};
use crate::domain::{Customer, CustomerDetailsChanged, CustomerRegistered, Event, Product, Shop, Stamp, Stamps};
use crate::store::Envelope;

const SHOP: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("dir_shop");
const PRODUCTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("dir_products");
const CUSTOMERS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("dir_customers");
/// The SKUs of the products that are not merchandise (postage, fees): few, read whole by the
/// top-products query.
const NOT_MERCHANDISE: TableDefinition<'_, &str, ()> = TableDefinition::new("dir_not_merchandise");
/// Stream key (`product/SKU`, `customer/ID`) → the stamps of the edits that set its fields,
/// on a shop with several tills (`domain/clock.rs`).
const STAMPS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("dir_stamps");

/// A customer as the read side knows them now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct CustomerInfo {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
}

impl From<&Customer> for CustomerInfo {
    fn from(c: &Customer) -> CustomerInfo {
        CustomerInfo {
            id: c.id.clone(),
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            country: c.country.clone(),
        }
    }
}

/// A product as the search index and the order views need it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductInfo {
    pub sku: String,
    pub name: String,
    pub image: Option<String>,
    pub archived: bool,
}

impl From<Product> for ProductInfo {
    fn from(p: Product) -> ProductInfo {
        ProductInfo { sku: p.sku, name: p.name, image: p.image, archived: p.archived }
    }
}

pub(crate) struct Tables<'txn> {
    shop: Table<'txn, &'static str, &'static [u8]>,
    products: Table<'txn, &'static str, &'static [u8]>,
    customers: Table<'txn, &'static str, &'static [u8]>,
    not_merchandise: Table<'txn, &'static str, ()>,
    stamps: Table<'txn, &'static str, &'static [u8]>,
}

impl<'txn> Tables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, crate::Error> {
        Ok(Tables {
            shop: txn.open_table(SHOP)?,
            products: txn.open_table(PRODUCTS)?,
            customers: txn.open_table(CUSTOMERS)?,
            not_merchandise: txn.open_table(NOT_MERCHANDISE)?,
            stamps: txn.open_table(STAMPS)?,
        })
    }

    /// The edit stamps of a product's or customer's fields (`domain/clock.rs`).
    fn stamps(&self, stream: &str) -> Result<Stamps, crate::Error> {
        Ok(self.stamps.get(stream)?.map(|v| decode_row(v.value())).transpose()?.unwrap_or_default())
    }

    /// Folds `event` into `current` with `fold` (the domain's), with the stream's edit stamps;
    /// the stamps are written back when an edit won.
    fn fold<T>(
        &mut self,
        current: Option<T>,
        event: &Event,
        fold: impl FnOnce(Option<T>, &Event, &mut dyn FnMut(&str, Option<&Stamp>) -> bool) -> Option<T>,
    ) -> Result<Option<T>, crate::Error> {
        let stream = event.stream().to_key();
        let mut stamps = self.stamps(&stream)?;
        let mut changed = false;
        let folded = fold(current, event, &mut |field, stamp| {
            let won = crate::domain::wins(&mut stamps, field, stamp);
            changed |= won && stamp.is_some();
            won
        });
        if changed {
            self.stamps.insert(stream.as_str(), encode_row(&stamps)?.as_slice())?;
        }
        Ok(folded)
    }

    pub(crate) fn customer(&self, id: &str) -> Result<Option<CustomerInfo>, crate::Error> {
        Ok(self.full_customer(id)?.as_ref().map(CustomerInfo::from))
    }

    fn full_customer(&self, id: &str) -> Result<Option<Customer>, crate::Error> {
        self.customers.get(id)?.map(|v| decode_row(v.value())).transpose()
    }

    pub(crate) fn product(&self, sku: &str) -> Result<Option<Product>, crate::Error> {
        self.products.get(sku)?.map(|v| decode_row(v.value())).transpose()
    }

    pub(crate) fn apply(&mut self, envelope: &Envelope) -> Result<Apply, crate::Error> {
        let event = &envelope.event;
        if let Some(sku) = crate::domain::edited_product(event) {
            return self.apply_product(sku, event);
        }
        match event {
            Event::ShopOpened(e) => self.put_shop(&e.shop)?,
            Event::ShopSettingsChanged(e) => {
                let Some(mut shop) = self.shop()? else {
                    return Ok(Err("shop settings changed before the shop was opened".into()));
                };
                crate::domain::apply_shop_change(&mut shop, e);
                self.put_shop(&shop)?;
            }
            Event::CustomerRegistered(CustomerRegistered { customer: Customer { id, .. }, .. })
            | Event::CustomerDetailsChanged(CustomerDetailsChanged { customer: Customer { id, .. }, .. }) => {
                let current = self.full_customer(id)?;
                if let Some(customer) =
                    self.fold(current, event, |c, e, wins| crate::domain::fold_customer(c, e, wins))?
                {
                    self.customers.insert(id.as_str(), encode_row(&customer)?.as_slice())?;
                }
            }
            _ => {}
        }
        Ok(Ok(()))
    }

    /// Folds a product's edit with the domain's fold; the not-merchandise list follows it.
    fn apply_product(&mut self, sku: &str, event: &Event) -> Result<Apply, crate::Error> {
        let current = self.product(sku)?;
        if current.is_none() && !matches!(event, Event::ProductAdded(_)) {
            return Ok(Err(format!("product {sku} is not in the directory")));
        }
        if let Some(product) = self.fold(current, event, |p, e, wins| crate::domain::fold_product(p, e, wins))? {
            self.products.insert(sku, encode_row(&product)?.as_slice())?;
            if product.not_merchandise {
                self.not_merchandise.insert(sku, ())?;
            } else {
                self.not_merchandise.remove(sku)?;
            }
        }
        Ok(Ok(()))
    }

    fn shop(&self) -> Result<Option<Shop>, crate::Error> {
        self.shop.get("shop")?.map(|v| decode_row(v.value())).transpose()
    }

    fn put_shop(&mut self, shop: &Shop) -> Result<(), crate::Error> {
        self.shop.insert("shop", encode_row(shop)?.as_slice())?;
        Ok(())
    }
}

/// Read access for queries.
pub(crate) fn shop(txn: &redb::ReadTransaction) -> Result<Option<Shop>, crate::Error> {
    let table = txn.open_table(SHOP)?;
    table.get("shop")?.map(|v| decode_row(v.value())).transpose()
}

pub(crate) fn customer(txn: &redb::ReadTransaction, id: &str) -> Result<Option<CustomerInfo>, crate::Error> {
    let table = txn.open_table(CUSTOMERS)?;
    let customer: Option<Customer> = table.get(id)?.map(|v| decode_row(v.value())).transpose()?;
    Ok(customer.as_ref().map(CustomerInfo::from))
}

pub(crate) fn product(txn: &redb::ReadTransaction, sku: &str) -> Result<Option<ProductInfo>, crate::Error> {
    let table = txn.open_table(PRODUCTS)?;
    let product: Option<Product> = table.get(sku)?.map(|v| decode_row(v.value())).transpose()?;
    Ok(product.map(ProductInfo::from))
}

/// The SKUs of the products that are not merchandise.
pub(crate) fn not_merchandise(txn: &redb::ReadTransaction) -> Result<Vec<String>, crate::Error> {
    let table = txn.open_table(NOT_MERCHANDISE)?;
    table.iter()?.map(|row| Ok(row?.0.value().to_owned())).collect()
}

pub(crate) fn digest(txn: &redb::ReadTransaction, hasher: &mut blake3::Hasher) -> Result<(), crate::Error> {
    for def in [SHOP, PRODUCTS, CUSTOMERS] {
        super::tables::digest_table(&txn.open_table(def)?, hasher)?;
    }
    super::tables::digest_table(&txn.open_table(NOT_MERCHANDISE)?, hasher)?;
    super::tables::digest_table(&txn.open_table(STAMPS)?, hasher)?;
    Ok(())
}
