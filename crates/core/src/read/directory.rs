//! Read model: the current shop, products and customers, as other read models and queries
//! need them (a customer's email for an order view, a product's image for its lines).
//! Owns `dir_shop`, `dir_products`, `dir_customers`, `dir_not_merchandise`.

use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Apply, decode_row, encode_row};
use crate::domain::{Customer, CustomerDetailsChanged, CustomerRegistered, Event, Shop};
use crate::store::Envelope;

const SHOP: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("dir_shop");
const PRODUCTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("dir_products");
const CUSTOMERS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("dir_customers");
/// The SKUs of the products that are not merchandise (postage, fees): few, read whole by the
/// top-products query.
const NOT_MERCHANDISE: TableDefinition<'_, &str, ()> = TableDefinition::new("dir_not_merchandise");

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

/// A product as the read side knows it now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductInfo {
    pub sku: String,
    pub name: String,
    pub image: Option<String>,
    pub archived: bool,
}

pub(crate) struct Tables<'txn> {
    shop: Table<'txn, &'static str, &'static [u8]>,
    products: Table<'txn, &'static str, &'static [u8]>,
    customers: Table<'txn, &'static str, &'static [u8]>,
    not_merchandise: Table<'txn, &'static str, ()>,
}

impl<'txn> Tables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, crate::Error> {
        Ok(Tables {
            shop: txn.open_table(SHOP)?,
            products: txn.open_table(PRODUCTS)?,
            customers: txn.open_table(CUSTOMERS)?,
            not_merchandise: txn.open_table(NOT_MERCHANDISE)?,
        })
    }

    pub(crate) fn customer(&self, id: &str) -> Result<Option<CustomerInfo>, crate::Error> {
        self.customers.get(id)?.map(|v| decode_row(v.value())).transpose()
    }

    pub(crate) fn product(&self, sku: &str) -> Result<Option<ProductInfo>, crate::Error> {
        self.products.get(sku)?.map(|v| decode_row(v.value())).transpose()
    }

    pub(crate) fn apply(&mut self, envelope: &Envelope) -> Result<Apply, crate::Error> {
        match &envelope.event {
            Event::ShopOpened(e) => self.put_shop(&e.shop)?,
            Event::ShopSettingsChanged(e) => {
                let Some(mut shop) = self.shop()? else {
                    return Ok(Err("shop settings changed before the shop was opened".into()));
                };
                shop.name.clone_from(&e.name);
                shop.time_zone = e.time_zone;
                shop.day_start = e.day_start;
                shop.prices_include_tax = e.prices_include_tax;
                shop.default_tax_rate = e.default_tax_rate;
                self.put_shop(&shop)?;
            }
            Event::ProductAdded(e) => {
                let p = &e.product;
                let info =
                    ProductInfo { sku: p.sku.clone(), name: p.name.clone(), image: p.image.clone(), archived: false };
                self.products.insert(p.sku.as_str(), encode_row(&info)?.as_slice())?;
            }
            Event::ProductRenamed(e) => return self.update_product(&e.sku, |p| p.name.clone_from(&e.name)),
            Event::ProductImageChanged(e) => return self.update_product(&e.sku, |p| p.image.clone_from(&e.image)),
            Event::ProductArchived(e) => return self.update_product(&e.sku, |p| p.archived = true),
            Event::ProductRestored(e) => return self.update_product(&e.sku, |p| p.archived = false),
            Event::ProductClassified(e) => {
                if self.product(&e.sku)?.is_none() {
                    return Ok(Err(format!("product {} is not in the directory", e.sku)));
                }
                if e.not_merchandise {
                    self.not_merchandise.insert(e.sku.as_str(), ())?;
                } else {
                    self.not_merchandise.remove(e.sku.as_str())?;
                }
            }
            Event::CustomerRegistered(CustomerRegistered { customer, .. })
            | Event::CustomerDetailsChanged(CustomerDetailsChanged { customer }) => {
                let info = CustomerInfo::from(customer);
                self.customers.insert(customer.id.as_str(), encode_row(&info)?.as_slice())?;
            }
            _ => {}
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

    fn update_product(&mut self, sku: &str, change: impl FnOnce(&mut ProductInfo)) -> Result<Apply, crate::Error> {
        let Some(mut info) = self.product(sku)? else {
            return Ok(Err(format!("product {sku} is not in the directory")));
        };
        change(&mut info);
        self.products.insert(sku, encode_row(&info)?.as_slice())?;
        Ok(Ok(()))
    }
}

/// Read access for queries.
pub(crate) fn shop(txn: &redb::ReadTransaction) -> Result<Option<Shop>, crate::Error> {
    let table = txn.open_table(SHOP)?;
    table.get("shop")?.map(|v| decode_row(v.value())).transpose()
}

pub(crate) fn customer(txn: &redb::ReadTransaction, id: &str) -> Result<Option<CustomerInfo>, crate::Error> {
    let table = txn.open_table(CUSTOMERS)?;
    table.get(id)?.map(|v| decode_row(v.value())).transpose()
}

pub(crate) fn product(txn: &redb::ReadTransaction, sku: &str) -> Result<Option<ProductInfo>, crate::Error> {
    let table = txn.open_table(PRODUCTS)?;
    table.get(sku)?.map(|v| decode_row(v.value())).transpose()
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
    Ok(())
}
