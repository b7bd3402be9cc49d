//! Read model: the current shop, products and customers, as other read models and queries
//! need them (a customer's email for an order view, a product's image for its lines).
//! Owns `dir_shop`, `dir_products`, `dir_customers`, `dir_not_merchandise`.

use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{Apply, decode_row, encode_row};
use crate::domain::{Customer, CustomerDetailsChanged, CustomerRegistered, Event, Shop, Stamp, Stamps};
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

impl CustomerInfo {
    /// Copies the field `name` ([`crate::domain::CUSTOMER_FIELDS`]) from `from`.
    fn set_field(&mut self, name: &str, from: &Customer) {
        match name {
            "name" => self.name.clone_from(&from.name),
            "email" => self.email.clone_from(&from.email),
            "phone" => self.phone.clone_from(&from.phone),
            "country" => self.country.clone_from(&from.country),
            _ => {}
        }
    }
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

    /// Whether the edit of `field` of `stream` stamped `stamp` wins (the latest stamp per
    /// field, see `domain/clock.rs`); records it when it does. Unstamped edits always apply.
    fn wins(&mut self, stream: &str, field: &str, stamp: Option<&Stamp>) -> Result<bool, crate::Error> {
        let Some(stamp) = stamp else { return Ok(true) };
        let mut stamps: Stamps =
            self.stamps.get(stream)?.map(|v| decode_row(v.value())).transpose()?.unwrap_or_default();
        let won = crate::domain::wins(&mut stamps, field, Some(stamp));
        if won {
            self.stamps.insert(stream, encode_row(&stamps)?.as_slice())?;
        }
        Ok(won)
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
                let stream = envelope.event.stream().to_key();
                let stamp = e.stamp.as_ref();
                // Two tills added one SKU while apart: field by field, the later edit wins.
                let mut info = match self.product(&p.sku)? {
                    Some(current) if stamp.is_some() => current,
                    _ => ProductInfo {
                        sku: p.sku.clone(),
                        name: p.name.clone(),
                        image: p.image.clone(),
                        archived: false,
                    },
                };
                if self.wins(&stream, "name", stamp)? {
                    info.name.clone_from(&p.name);
                }
                if self.wins(&stream, "image", stamp)? {
                    info.image.clone_from(&p.image);
                }
                if self.wins(&stream, "archived", stamp)? {
                    info.archived = p.archived;
                }
                self.products.insert(p.sku.as_str(), encode_row(&info)?.as_slice())?;
                if self.wins(&stream, "not_merchandise", stamp)? {
                    self.classify(&p.sku, p.not_merchandise)?;
                }
            }
            Event::ProductRenamed(e) => {
                return self.update_product(&e.sku, "name", e.stamp.as_ref(), |p| p.name.clone_from(&e.name));
            }
            Event::ProductImageChanged(e) => {
                return self.update_product(&e.sku, "image", e.stamp.as_ref(), |p| p.image.clone_from(&e.image));
            }
            Event::ProductArchived(e) => {
                return self.update_product(&e.sku, "archived", e.stamp.as_ref(), |p| p.archived = true);
            }
            Event::ProductRestored(e) => {
                return self.update_product(&e.sku, "archived", e.stamp.as_ref(), |p| p.archived = false);
            }
            Event::ProductClassified(e) => {
                if self.product(&e.sku)?.is_none() {
                    return Ok(Err(format!("product {} is not in the directory", e.sku)));
                }
                if self.wins(&envelope.event.stream().to_key(), "not_merchandise", e.stamp.as_ref())? {
                    self.classify(&e.sku, e.not_merchandise)?;
                }
            }
            Event::CustomerRegistered(CustomerRegistered { customer, stamp, .. }) => {
                let stream = envelope.event.stream().to_key();
                let mut info = match self.customer(&customer.id)? {
                    Some(current) if stamp.is_some() => current,
                    _ => CustomerInfo::from(customer),
                };
                for field in crate::domain::CUSTOMER_FIELDS {
                    if self.wins(&stream, field, stamp.as_ref())? {
                        info.set_field(field, customer);
                    }
                }
                self.customers.insert(customer.id.as_str(), encode_row(&info)?.as_slice())?;
            }
            Event::CustomerDetailsChanged(CustomerDetailsChanged { customer, stamp, changed }) => {
                let info = match (stamp, self.customer(&customer.id)?) {
                    (Some(stamp), Some(mut info)) => {
                        let stream = envelope.event.stream().to_key();
                        for field in changed {
                            if self.wins(&stream, field, Some(stamp))? {
                                info.set_field(field, customer);
                            }
                        }
                        info
                    }
                    _ => CustomerInfo::from(customer),
                };
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

    fn classify(&mut self, sku: &str, not_merchandise: bool) -> Result<(), crate::Error> {
        if not_merchandise {
            self.not_merchandise.insert(sku, ())?;
        } else {
            self.not_merchandise.remove(sku)?;
        }
        Ok(())
    }

    /// Changes `field` of a product, when the edit wins (see [`Tables::wins`]).
    fn update_product(
        &mut self,
        sku: &str,
        field: &str,
        stamp: Option<&Stamp>,
        change: impl FnOnce(&mut ProductInfo),
    ) -> Result<Apply, crate::Error> {
        let Some(mut info) = self.product(sku)? else {
            return Ok(Err(format!("product {sku} is not in the directory")));
        };
        if self.wins(&format!("product/{sku}"), field, stamp)? {
            change(&mut info);
            self.products.insert(sku, encode_row(&info)?.as_slice())?;
        }
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
    super::tables::digest_table(&txn.open_table(STAMPS)?, hasher)?;
    Ok(())
}
