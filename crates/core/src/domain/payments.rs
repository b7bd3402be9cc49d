//! Payments: the tenders an order is paid with (cash, card, gift card, other), change for
//! cash, splitting one order over several tenders, paying an invoice later, and which tender a
//! refund goes back by.
//!
//! Tenders are applied in the order given, each to what is still due. Cash may be more than
//! is due: what was handed over is kept (`tendered`) and the difference is the change. No other
//! tender may be more than is due (a card is charged what is owed, not more). An order may be
//! left unpaid or part paid (an invoice) and paid later with [`PayOrder`].

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Rejection;
use crate::money::{Currency, MoneyInput};

/// Most tenders on one payment: a split of twenty ways is already an accident.
pub const MAX_TENDERS: usize = 20;

/// How money was taken or given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Tender {
    Cash,
    Card,
    GiftCard,
    Other,
}

impl Tender {
    /// Every tender, in the order reports list them.
    pub const ALL: [Tender; 4] = [Tender::Cash, Tender::Card, Tender::GiftCard, Tender::Other];

    /// The stored and typed form: `cash`, `card`, `gift_card`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tender::Cash => "cash",
            Tender::Card => "card",
            Tender::GiftCard => "gift_card",
            Tender::Other => "other",
        }
    }

    /// How a person reads it: "Cash", "Card", "Gift card", "Other".
    pub fn label(self) -> &'static str {
        match self {
            Tender::Cash => "Cash",
            Tender::Card => "Card",
            Tender::GiftCard => "Gift card",
            Tender::Other => "Other",
        }
    }

    /// A tender as typed (`cash`, `Card`, `gift card`, `gift-card`, `gift`, `other`).
    pub fn parse(text: &str) -> Option<Tender> {
        let folded: String =
            text.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '_')).flat_map(char::to_lowercase).collect();
        match folded.as_str() {
            "cash" => Some(Tender::Cash),
            "card" => Some(Tender::Card),
            "giftcard" | "gift" | "voucher" => Some(Tender::GiftCard),
            "other" => Some(Tender::Other),
            _ => None,
        }
    }

    /// The tender an order placed before payments were recorded was paid with, from its
    /// free-text payment method ("Card", "Visa", "Cash", "PayPal", or none).
    pub fn from_method(method: Option<&str>) -> Tender {
        let Some(method) = method else { return Tender::Other };
        let folded = method.trim().to_lowercase();
        if let Some(tender) = Tender::parse(&folded) {
            return tender;
        }
        let card = ["card", "visa", "mastercard", "amex", "maestro", "debit", "credit", "contactless"];
        if card.iter().any(|word| folded.contains(word)) && !folded.contains("gift") {
            Tender::Card
        } else if folded.contains("gift") || folded.contains("voucher") {
            Tender::GiftCard
        } else if folded.contains("cash") {
            Tender::Cash
        } else {
            Tender::Other
        }
    }
}

/// In a sentence: "cash", "card", "gift card", "other".
impl std::fmt::Display for Tender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label().to_lowercase())
    }
}

/// One tender as taken.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
pub struct Payment {
    pub tender: Tender,
    /// What it paid toward the order.
    #[ts(as = "String")]
    pub amount: Decimal,
    /// Cash only: what was handed over, when it was more than `amount` (the rest went back
    /// as change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(as = "Option<String>")]
    pub tendered: Option<Decimal>,
    pub at: DateTime<Utc>,
}

impl Payment {
    /// The change given back for it (zero but for cash handed over beyond what was due).
    pub fn change(&self) -> Decimal {
        self.tendered.map_or(Decimal::ZERO, |t| t - self.amount)
    }
}

/// A tender as entered. For cash, `amount` is what was handed over: more than is due gives change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentInput {
    pub tender: Tender,
    pub amount: MoneyInput,
}

/// Pay (the rest of) an order placed unpaid or part paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayOrder {
    pub order: String,
    pub payments: Vec<PaymentInput>,
    pub at: Option<DateTime<Utc>>,
}

/// Money taken on an order after it was placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPaid {
    pub order: String,
    pub payments: Vec<Payment>,
    pub at: DateTime<Utc>,
}

/// Applies `inputs` to `due`, in order; see the module doc for the rules.
pub(super) fn take(
    currency: Currency,
    due: Decimal,
    inputs: &[PaymentInput],
    at: DateTime<Utc>,
) -> Result<Vec<Payment>, Rejection> {
    if inputs.len() > MAX_TENDERS {
        return Err(Rejection::TooManyTenders { given: inputs.len(), max: MAX_TENDERS });
    }
    let mut left = due;
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        let given = input.amount.in_currency(currency, "payment amount")?;
        let amount = currency.round(given);
        if amount <= Decimal::ZERO {
            return Err(Rejection::PaymentNotPositive { tender: input.tender, given: currency.format(given) });
        }
        super::orders::check_total("payment amount", "payment", amount, currency)?;
        if left <= Decimal::ZERO {
            return Err(Rejection::PaymentNotDue { tender: input.tender, given: currency.format(amount) });
        }
        let payment = match input.tender {
            Tender::Cash if amount > left => Payment { tender: Tender::Cash, amount: left, tendered: Some(amount), at },
            tender if amount > left => {
                return Err(Rejection::PaymentOverDue {
                    tender,
                    given: currency.format(amount),
                    due: currency.format(left),
                });
            }
            tender => Payment { tender, amount, tendered: None, at },
        };
        left -= payment.amount;
        out.push(payment);
    }
    Ok(out)
}

/// What `payments` paid in all.
pub fn paid(payments: &[Payment]) -> Decimal {
    payments.iter().map(|p| p.amount).sum()
}

/// The tender that paid the most of `payments` (the first of equals): where a refund goes
/// back by when it does not say.
pub fn main_tender(payments: &[Payment]) -> Option<Tender> {
    let mut by: Vec<(Tender, Decimal)> = Vec::new();
    for p in payments {
        match by.iter_mut().find(|(t, _)| *t == p.tender) {
            Some((_, sum)) => *sum += p.amount,
            None => by.push((p.tender, p.amount)),
        }
    }
    by.iter()
        .fold(None::<(Tender, Decimal)>, |best, &(t, sum)| match best {
            Some((_, most)) if most >= sum => best,
            _ => Some((t, sum)),
        })
        .map(|(t, _)| t)
}

/// "Cash", "Card", "Cash + Card": an order's payment method as one text (exports, lists).
pub fn summary(payments: &[Payment]) -> Option<String> {
    let mut tenders: Vec<Tender> = Vec::new();
    for p in payments {
        if !tenders.contains(&p.tender) {
            tenders.push(p.tender);
        }
    }
    (!tenders.is_empty()).then(|| tenders.iter().map(|t| t.label()).collect::<Vec<_>>().join(" + "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenders_read_as_typed_and_old_methods_map_to_one() {
        assert_eq!(Tender::parse(" Gift card "), Some(Tender::GiftCard));
        assert_eq!(Tender::parse("gift_card"), Some(Tender::GiftCard));
        assert_eq!(Tender::parse("CASH"), Some(Tender::Cash));
        assert_eq!(Tender::parse("cheque"), None);
        assert_eq!(Tender::from_method(Some("Visa debit")), Tender::Card);
        assert_eq!(Tender::from_method(Some("Card")), Tender::Card);
        assert_eq!(Tender::from_method(Some("cash")), Tender::Cash);
        assert_eq!(Tender::from_method(Some("Gift voucher")), Tender::GiftCard);
        assert_eq!(Tender::from_method(Some("PayPal")), Tender::Other);
        assert_eq!(Tender::from_method(None), Tender::Other);
    }

    #[test]
    fn the_main_tender_is_the_one_that_paid_most() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let p = |tender, cents| Payment { tender, amount: Decimal::new(cents, 2), tendered: None, at };
        let payments = [p(Tender::Cash, 500), p(Tender::Card, 700), p(Tender::Cash, 300)];
        assert_eq!(main_tender(&payments), Some(Tender::Cash), "8.00 in cash against 7.00 by card");
        assert_eq!(main_tender(&[p(Tender::Card, 500), p(Tender::Cash, 500)]), Some(Tender::Card));
        assert_eq!(main_tender(&[]), None);
        assert_eq!(summary(&payments).as_deref(), Some("Cash + Card"));
    }
}
