//! Countertop's core: the shop's rules, the event-sourced write store, and (soon) the read side.

mod domain;
mod money;

pub use domain::*;
pub use rust_decimal::Decimal;
pub use money::{Currency, MAX_PRICE_PLACES, MAX_UNIT_PRICE, MoneyInput, format_rate, parse_decimal, parse_tax_rate};
mod store;

pub use store::{Entity, Envelope, Error, HeadWatch, OrderHistory, Outcome, Request, Verification, WRITE_STORE_FILE, WriteStore};
