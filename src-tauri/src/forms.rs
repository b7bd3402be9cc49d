//! What the UI's forms send, as typed (numbers are strings), and their conversion into core
//! commands. Parsing uses the core's own parsers, so a bad number gets the same message as in
//! the CLI; every rule about what is allowed stays in `countertop-core`.

use countertop_core::{
    AddCustomer, AddProduct, CancelOrder, ChangeShopSettings, Command, CountStock, DeliverOrder, DiscountInput,
    DrawerMove, LineInput, MoneyInput, OpenShop, PayOrder, PaymentInput, PlaceOrder, ReceiveStock, RecordDrawer,
    RefundLineInput, RefundOrder, ShipOrder, Tender, UpdateCustomer, UpdateProduct, parse_decimal, parse_tax_rate,
};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};

/// Trims and drops empty optional text.
fn given(text: &Option<String>) -> Option<String> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

fn money(field: &str, text: &str) -> ApiResult<MoneyInput> {
    text.parse::<MoneyInput>().map_err(|e| ApiError::input(format!("{field}: {e}")))
}

fn quantity(text: &str) -> ApiResult<i64> {
    text.trim()
        .parse()
        .map_err(|_| ApiError::input(format!("quantity '{}' is not a whole number; enter e.g. 2", text.trim())))
}

fn rate(field: &str, text: &str) -> ApiResult<countertop_core::Decimal> {
    parse_tax_rate(text).map_err(|e| ApiError::input(format!("{field}: {e}")))
}

#[derive(Debug, Deserialize, ts_rs::TS)]
pub struct ShopForm {
    pub name: String,
    pub currency: String,
    pub time_zone: String,
    pub day_start: String,
    pub prices_include_tax: bool,
    /// `20%` or `0.2`.
    pub tax_rate: String,
}

impl ShopForm {
    pub fn command(self) -> ApiResult<Command> {
        Ok(Command::OpenShop(OpenShop {
            name: self.name,
            currency: self.currency,
            time_zone: self.time_zone,
            day_start: self.day_start,
            prices_include_tax: self.prices_include_tax,
            default_tax_rate: rate("default tax rate", &self.tax_rate)?,
        }))
    }
}

#[derive(Debug, Deserialize, ts_rs::TS)]
pub struct SettingsForm {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub day_start: Option<String>,
    pub prices_include_tax: Option<bool>,
    pub tax_rate: Option<String>,
    /// For receipts; empty clears it.
    #[serde(default)]
    #[ts(optional)]
    pub address: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub receipt_footer: Option<String>,
}

impl SettingsForm {
    pub fn command(self) -> ApiResult<Command> {
        Ok(Command::ChangeShopSettings(ChangeShopSettings {
            name: self.name,
            time_zone: self.time_zone,
            day_start: self.day_start,
            prices_include_tax: self.prices_include_tax,
            default_tax_rate: given(&self.tax_rate).map(|r| rate("default tax rate", &r)).transpose()?,
            address: self.address,
            receipt_footer: self.receipt_footer,
        }))
    }
}

/// One line of the order being entered: a catalog product (by SKU) or an ad-hoc item.
#[derive(Debug, Deserialize, ts_rs::TS)]
pub struct LineForm {
    pub sku: Option<String>,
    /// For ad-hoc items (no SKU from the catalog).
    pub name: Option<String>,
    pub quantity: String,
    /// Overrides the catalog price; required for ad-hoc items.
    pub unit_price: Option<String>,
}

#[derive(Debug, Deserialize, ts_rs::TS)]
pub struct OrderForm {
    /// `None`: a walk-in sale.
    pub customer: Option<String>,
    pub lines: Vec<LineForm>,
    /// `10%` or an amount.
    pub discount: Option<String>,
    pub note: Option<String>,
    pub payment_method: Option<String>,
    /// The tenders taken (cash: what was handed over). Empty: paid in full by
    /// `payment_method`, unless `invoice`.
    #[serde(default)]
    pub payments: Vec<PaymentForm>,
    /// Leave it unpaid or part paid, to pay later.
    #[serde(default)]
    pub invoice: bool,
}

/// One tender as typed.
#[derive(Debug, Deserialize, ts_rs::TS)]
pub struct PaymentForm {
    pub tender: Tender,
    pub amount: String,
}

/// The tenders as typed; a tender left empty is one not used.
fn payments(forms: Vec<PaymentForm>) -> ApiResult<Vec<PaymentInput>> {
    forms
        .into_iter()
        .filter(|p| !p.amount.trim().is_empty())
        .map(|p| Ok(PaymentInput { tender: p.tender, amount: money(&format!("{} payment", p.tender), &p.amount)? }))
        .collect()
}

impl OrderForm {
    pub fn command(self) -> ApiResult<Command> {
        let mut lines = Vec::with_capacity(self.lines.len());
        for (n, line) in self.lines.iter().enumerate() {
            let at = |e: ApiError| ApiError { message: format!("line {}: {}", n + 1, e.message), ..e };
            let price = given(&line.unit_price).map(|p| money("price", &p)).transpose().map_err(at)?;
            let quantity = quantity(&line.quantity).map_err(at)?;
            lines.push(match given(&line.sku) {
                Some(sku) => LineInput::Product { sku, quantity, unit_price: price },
                None => LineInput::Item {
                    sku: None,
                    name: line.name.clone().unwrap_or_default(),
                    quantity,
                    unit_price: price,
                    tax_rate: None,
                    total: None,
                },
            });
        }
        let discount = match given(&self.discount) {
            None => None,
            Some(text) => Some(match text.strip_suffix('%') {
                Some(percent) => DiscountInput::Percent(
                    parse_decimal(percent).map_err(|e| ApiError::input(format!("discount: {e}")))?,
                ),
                None => DiscountInput::Amount(money("discount", &text)?),
            }),
        };
        Ok(Command::PlaceOrder(PlaceOrder {
            order: None,
            customer: given(&self.customer),
            lines,
            discount,
            note: given(&self.note),
            payment_method: given(&self.payment_method),
            at: None,
            payments: payments(self.payments)?,
            invoice: self.invoice,
        }))
    }
}

/// Ship, deliver, cancel or refund an order.
#[derive(Debug, Deserialize, ts_rs::TS)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OrderAction {
    Ship {
        order: String,
        carrier: String,
        tracking: String,
    },
    Deliver {
        order: String,
    },
    Cancel {
        order: String,
        reason: String,
    },
    /// `amount` empty: what the `lines` were sold for.
    Refund {
        order: String,
        amount: String,
        #[serde(default)]
        lines: Vec<RefundLineForm>,
        reason: String,
        /// How the money goes back; `None`: by the tender that paid most.
        #[serde(default)]
        #[ts(optional)]
        tender: Option<Tender>,
        /// The goods in `lines` go back on the shelf.
        #[serde(default)]
        #[ts(optional)]
        restock: Option<bool>,
    },
    /// Take (part of) what is still due.
    Pay {
        order: String,
        payments: Vec<PaymentForm>,
    },
}

/// Units of one order line to refund, as typed (lines count from 1).
#[derive(Debug, Deserialize, ts_rs::TS)]
pub struct RefundLineForm {
    pub line: usize,
    pub quantity: String,
}

impl OrderAction {
    pub fn command(self) -> ApiResult<Command> {
        Ok(match self {
            OrderAction::Ship { order, carrier, tracking } => {
                Command::ShipOrder(ShipOrder { order, carrier, tracking, at: None })
            }
            OrderAction::Deliver { order } => Command::DeliverOrder(DeliverOrder { order, at: None }),
            OrderAction::Cancel { order, reason } => Command::CancelOrder(CancelOrder { order, reason, at: None }),
            OrderAction::Pay { order, payments: forms } => {
                Command::PayOrder(PayOrder { order, payments: payments(forms)?, at: None })
            }
            OrderAction::Refund { order, amount, lines, reason, tender, restock } => {
                let amount = match amount.trim() {
                    "" => None,
                    amount => Some(money("refund amount", amount)?),
                };
                let lines = lines
                    .into_iter()
                    // A line left empty or at 0 is one the customer keeps.
                    .filter(|l| !matches!(l.quantity.trim(), "" | "0"))
                    .map(|l| {
                        let quantity = quantity(&l.quantity)
                            .map_err(|e| ApiError { message: format!("line {}: {}", l.line, e.message), ..e })?;
                        Ok(RefundLineInput { line: l.line, quantity })
                    })
                    .collect::<ApiResult<_>>()?;
                let restock = restock.unwrap_or(false);
                Command::RefundOrder(RefundOrder { order, amount, lines, reason, at: None, tender, restock })
            }
        })
    }
}

#[derive(Debug, Deserialize, ts_rs::TS)]
pub struct ProductForm {
    pub sku: String,
    pub name: String,
    pub unit_price: String,
    /// Empty: the shop's default rate.
    pub tax_rate: Option<String>,
    /// Set when editing an existing product.
    #[serde(default)]
    pub existing: bool,
    pub archived: Option<bool>,
    /// Postage, fees: left out of the best sellers (editing only).
    #[serde(default)]
    pub not_merchandise: Option<bool>,
    /// Low at or below this many on hand; empty: only when out (editing only).
    #[serde(default)]
    #[ts(optional)]
    pub low_stock_at: Option<String>,
}

impl ProductForm {
    pub fn command(self) -> ApiResult<Command> {
        let tax_rate = given(&self.tax_rate).map(|r| rate("tax rate", &r)).transpose()?;
        let unit_price = money("price", &self.unit_price)?;
        Ok(if self.existing {
            Command::UpdateProduct(UpdateProduct {
                sku: self.sku,
                name: Some(self.name),
                unit_price: Some(unit_price),
                tax_rate,
                image: None,
                archived: self.archived,
                not_merchandise: self.not_merchandise,
                low_stock_at: match self.low_stock_at {
                    None => None,
                    Some(text) if text.trim().is_empty() => Some(None),
                    Some(text) => Some(Some(text.trim().parse().map_err(|_| {
                        ApiError::input(format!(
                            "low stock at '{}' is not a whole number; enter e.g. 5, or leave it empty",
                            text.trim()
                        ))
                    })?)),
                },
            })
        } else {
            Command::AddProduct(AddProduct { sku: self.sku, name: self.name, unit_price, tax_rate, image: None })
        })
    }
}

/// A drawer movement as typed: the float, cash removed, or the count.
#[derive(Debug, Deserialize, ts_rs::TS)]
pub struct DrawerForm {
    pub kind: DrawerMove,
    pub amount: String,
    pub note: Option<String>,
    /// The business day (`YYYY-MM-DD`); `None`: today.
    #[ts(as = "Option<String>")]
    pub day: Option<chrono::NaiveDate>,
}

impl DrawerForm {
    pub fn command(self) -> ApiResult<Command> {
        Ok(Command::RecordDrawer(RecordDrawer {
            kind: self.kind,
            amount: money("amount", &self.amount)?,
            note: given(&self.note),
            day: self.day,
            at: None,
        }))
    }
}

/// Goods received, or a shelf counted, as typed.
#[derive(Debug, Deserialize, ts_rs::TS)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StockAction {
    Receive { sku: String, quantity: String, note: Option<String> },
    Count { sku: String, counted: String, reason: String },
}

impl StockAction {
    pub fn command(self) -> ApiResult<Command> {
        let whole = |what: &str, text: &str| {
            text.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::input(format!("{what} '{}' is not a whole number; enter e.g. 12", text.trim())))
        };
        Ok(match self {
            StockAction::Receive { sku, quantity, note } => Command::ReceiveStock(ReceiveStock {
                sku,
                quantity: whole("quantity", &quantity)?,
                note: given(&note),
                at: None,
            }),
            StockAction::Count { sku, counted, reason } => {
                Command::CountStock(CountStock { sku, counted: whole("count", &counted)?, reason, at: None })
            }
        })
    }
}

#[derive(Debug, Deserialize, ts_rs::TS)]
pub struct CustomerForm {
    /// Set when editing; `None` adds a customer with the next free number.
    pub id: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
}

impl CustomerForm {
    pub fn command(self) -> Command {
        match given(&self.id) {
            // An empty email, phone or country clears it on update.
            Some(id) => Command::UpdateCustomer(UpdateCustomer {
                id,
                name: Some(self.name),
                email: Some(self.email.unwrap_or_default()),
                phone: Some(self.phone.unwrap_or_default()),
                country: Some(self.country.unwrap_or_default()),
            }),
            None => Command::AddCustomer(AddCustomer {
                id: None,
                name: self.name,
                email: given(&self.email),
                phone: given(&self.phone),
                country: given(&self.country),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku: Option<&str>, name: Option<&str>, quantity: &str, price: Option<&str>) -> LineForm {
        LineForm {
            sku: sku.map(Into::into),
            name: name.map(Into::into),
            quantity: quantity.into(),
            unit_price: price.map(Into::into),
        }
    }

    #[test]
    fn an_order_form_becomes_a_place_order_command() {
        let form = OrderForm {
            customer: Some("  ".into()),
            lines: vec![line(Some("MUG"), None, "2", Some("")), line(None, Some("Gift wrap"), "1", Some("1.50"))],
            discount: Some("10%".into()),
            note: None,
            payment_method: Some("card".into()),
            payments: vec![
                PaymentForm { tender: Tender::Card, amount: "10".into() },
                PaymentForm { tender: Tender::Cash, amount: " ".into() },
            ],
            invoice: false,
        };
        let Ok(Command::PlaceOrder(place)) = form.command() else { panic!("not a PlaceOrder") };
        assert_eq!(place.payments.len(), 1, "a tender left empty is one not used");
        assert_eq!(place.customer, None, "a blank customer is a walk-in");
        assert_eq!(place.lines[0], LineInput::Product { sku: "MUG".into(), quantity: 2, unit_price: None });
        assert!(matches!(&place.lines[1], LineInput::Item { name, quantity: 1, unit_price: Some(p), .. }
            if name == "Gift wrap" && p.amount.to_string() == "1.50"));
        assert_eq!(place.discount, Some(DiscountInput::Percent("10".parse().unwrap())));
    }

    #[test]
    fn bad_numbers_name_the_line_and_the_fix() {
        let form = OrderForm {
            customer: None,
            lines: vec![line(Some("MUG"), None, "2", None), line(Some("CARD"), None, "two", None)],
            discount: None,
            note: None,
            payment_method: None,
            payments: vec![PaymentForm { tender: Tender::Cash, amount: "20".into() }],
            invoice: false,
        };
        let e = form.command().unwrap_err();
        assert_eq!(e.code, "invalid_input");
        assert_eq!(e.message, "line 2: quantity 'two' is not a whole number; enter e.g. 2");

        let refund = OrderAction::Refund {
            order: "1001".into(),
            amount: "five".into(),
            lines: vec![],
            reason: "x".into(),
            tender: None,
            restock: None,
        };
        let e = refund.command().unwrap_err();
        assert!(e.message.starts_with("refund amount: 'five' is not a number"), "{}", e.message);
        let pay = OrderAction::Pay {
            order: "1001".into(),
            payments: vec![PaymentForm { tender: Tender::GiftCard, amount: "ten".into() }],
        };
        let e = pay.command().unwrap_err();
        assert!(e.message.starts_with("gift card payment: 'ten' is not a number"), "{}", e.message);

        let lines = vec![
            RefundLineForm { line: 1, quantity: "".into() },
            RefundLineForm { line: 2, quantity: "1".into() },
            RefundLineForm { line: 3, quantity: "a few".into() },
        ];
        let refund = OrderAction::Refund {
            order: "1001".into(),
            amount: "".into(),
            lines,
            reason: "x".into(),
            tender: None,
            restock: None,
        };
        let e = refund.command().unwrap_err();
        assert_eq!(e.message, "line 3: quantity 'a few' is not a whole number; enter e.g. 2");
    }
}
