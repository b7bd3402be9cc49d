//! Countertop's core: the shop's rules, the event-sourced write store, and (soon) the read side.

mod domain;
mod money;

pub use domain::*;
pub use money::{Currency, MAX_PRICE_PLACES, MAX_UNIT_PRICE, MoneyInput, format_rate, parse_decimal, parse_tax_rate};
