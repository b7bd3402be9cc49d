//! Customers: id, name, optional email and phone, country. Walk-in sales have no customer.

use serde::{Deserialize, Serialize};

use super::clock::Stamp;

use super::{Event, Rejection, Source, text};

/// A customer of the shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
}

/// Register a customer. Without an id, the next free number is used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddCustomer {
    pub id: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
}

/// Change a customer's details. Absent fields stay as they are; an empty email, phone or
/// country clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateCustomer {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRegistered {
    #[serde(flatten)]
    pub customer: Customer,
    /// `true` when the shop's own sequence gave the customer their id; the sequence moves on
    /// only past ids it gave out itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub numbered: bool,
    /// For a customer brought in by an import: which import, and their id or key in that file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

/// The customer's details as they are after the change (all of them, so a reader needs no
/// earlier event to know the current details).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerDetailsChanged {
    #[serde(flatten)]
    pub customer: Customer,
    /// v2: when, on a shop with several tills (see `domain/clock.rs`); `None` on one device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
    /// v2, with a stamp: the fields this edit changed (`name`, `email`, `phone`, `country`);
    /// only those take part in "latest edit wins, per field".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
}

/// The fields an edit sets one by one (see `clock.rs`).
pub(crate) const FIELDS: [&str; 4] = ["name", "email", "phone", "country"];

/// A field of a customer, by its name in [`FIELDS`].
pub(crate) fn field<'a>(c: &'a Customer, name: &str) -> Option<&'a str> {
    match name {
        "name" => Some(c.name.as_str()),
        "email" => c.email.as_deref(),
        "phone" => c.phone.as_deref(),
        "country" => c.country.as_deref(),
        _ => None,
    }
}

/// Copies the field `name` from `from`; an unknown name changes nothing.
fn set_field(c: &mut Customer, name: &str, from: &Customer) {
    match name {
        "name" => c.name.clone_from(&from.name),
        "email" => c.email.clone_from(&from.email),
        "phone" => c.phone.clone_from(&from.phone),
        "country" => c.country.clone_from(&from.country),
        _ => {}
    }
}

/// One customer's fold, the same for the write side's state and the read side's directory: the
/// customer after `event`, given who they were. `wins(field, stamp)` as for products
/// ([`super::catalog::fold`]). Events of other streams change nothing.
pub(crate) fn fold(
    customer: Option<Customer>,
    event: &Event,
    mut wins: impl FnMut(&str, Option<&Stamp>) -> bool,
) -> Option<Customer> {
    match event {
        Event::CustomerRegistered(e) => {
            let mut customer = match customer {
                // Two tills registered one id while apart: field by field, the later wins.
                Some(current) if e.stamp.is_some() => current,
                _ => e.customer.clone(),
            };
            for field in FIELDS {
                if wins(field, e.stamp.as_ref()) {
                    set_field(&mut customer, field, &e.customer);
                }
            }
            Some(customer)
        }
        Event::CustomerDetailsChanged(e) => match (&e.stamp, customer) {
            (Some(stamp), Some(mut customer)) => {
                for field in &e.changed {
                    if wins(field, Some(stamp)) {
                        set_field(&mut customer, field, &e.customer);
                    }
                }
                Some(customer)
            }
            _ => Some(e.customer.clone()),
        },
        _ => customer,
    }
}

pub(super) fn add(existing: Option<&Customer>, next_id: String, cmd: &AddCustomer) -> Result<Vec<Event>, Rejection> {
    let id = match &cmd.id {
        Some(id) => text::id("customer id", id)?,
        None => next_id,
    };
    let numbered = cmd.id.is_none();
    if let Some(customer) = existing {
        return Err(Rejection::CustomerIdTaken { id, name: customer.name.clone() });
    }
    let customer = Customer {
        id,
        name: text::required("customer name", "the customer's name", &cmd.name, text::NAME_MAX)?,
        email: text::email(cmd.email.as_deref())?,
        phone: text::phone(cmd.phone.as_deref())?,
        country: text::optional("country", cmd.country.as_deref(), text::SHORT_MAX)?,
    };
    Ok(vec![Event::CustomerRegistered(CustomerRegistered { customer, numbered, source: None, stamp: None })])
}

pub(super) fn update(existing: Option<&Customer>, cmd: &UpdateCustomer) -> Result<Vec<Event>, Rejection> {
    let current = existing.ok_or_else(|| Rejection::UnknownCustomer { id: cmd.id.trim().to_owned() })?;
    let customer = Customer {
        id: current.id.clone(),
        name: match &cmd.name {
            Some(name) => text::required("customer name", "the customer's name", name, text::NAME_MAX)?,
            None => current.name.clone(),
        },
        email: match &cmd.email {
            Some(email) => text::email(Some(email))?,
            None => current.email.clone(),
        },
        phone: match &cmd.phone {
            Some(phone) => text::phone(Some(phone))?,
            None => current.phone.clone(),
        },
        country: match &cmd.country {
            Some(country) => text::optional("country", Some(country), text::SHORT_MAX)?,
            None => current.country.clone(),
        },
    };
    if &customer == current {
        return Ok(Vec::new());
    }
    Ok(vec![Event::CustomerDetailsChanged(CustomerDetailsChanged { customer, stamp: None, changed: Vec::new() })])
}
