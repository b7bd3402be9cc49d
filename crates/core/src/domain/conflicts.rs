//! Concurrent edits: what two tills apart can both do to one order, how every device reaches
//! the same result from the same events in any arrival order, and the conflicts that are
//! left for the owner.
//!
//! The rules (ARCHITECTURE.md sums them up under "Invariants", *Tills apart*):
//! - Every event counts. Money that went out on one till is never dropped because another
//!   till did something at the same time: two refunds both count, a refund made while another
//!   till cancelled counts on top of the cancellation.
//! - A cancellation records what its till knew ([`Known`]): the refunds already made and the
//!   payments taken. The read models reverse exactly that, so it does not matter whether a
//!   refund made elsewhere at the same time arrives before or after it.
//! - Status: cancelled wins over shipped and delivered, whatever arrives first; the shipment
//!   stays recorded.
//! - What does not add up is a [`Conflict`] listed on the order, the same on every device,
//!   until the owner resolves it ([`OrderConflictsResolved`]): the money and goods cannot be
//!   undone by a rule, only looked into.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::orders::{Cancellation, Order, Refund, Shipment};
use super::payments::Payment;
use super::{Event, Rejection, text};

/// What a till knew of an order when it cancelled it: the refunds already made and the
/// payments taken. A refund or payment another till made while apart is not in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
pub struct Known {
    pub refunds: Vec<Refund>,
    pub payments: Vec<Payment>,
}

/// Something two tills did to one order while apart that does not add up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Conflict {
    /// The refunds add up to more than was paid.
    RefundedMoreThanPaid,
    /// Refunded on one till while cancelled on another: the money went back twice.
    RefundedWhileCancelled,
    /// Paid on one till while cancelled on another: money taken on a cancelled order.
    PaidWhileCancelled,
    /// Cancelled on one till while shipped on another: the goods have left.
    CancelledAfterShipping,
    /// Cancelled on two tills.
    CancelledTwice,
}

impl Conflict {
    pub fn as_str(self) -> &'static str {
        match self {
            Conflict::RefundedMoreThanPaid => "refunded_more_than_paid",
            Conflict::RefundedWhileCancelled => "refunded_while_cancelled",
            Conflict::PaidWhileCancelled => "paid_while_cancelled",
            Conflict::CancelledAfterShipping => "cancelled_after_shipping",
            Conflict::CancelledTwice => "cancelled_twice",
        }
    }

    /// What happened and what to do about it, for the owner.
    pub fn explain(self) -> &'static str {
        match self {
            Conflict::RefundedMoreThanPaid => {
                "refunds on different tills add up to more than was paid; check what the customer got back"
            }
            Conflict::RefundedWhileCancelled => {
                "refunded on one till while cancelled on another, so the money went back twice; check what the customer got back"
            }
            Conflict::PaidWhileCancelled => {
                "paid on one till while cancelled on another; give the money back or take the order again"
            }
            Conflict::CancelledAfterShipping => {
                "cancelled on one till while shipped on another; the goods have left: get them back or record a return"
            }
            Conflict::CancelledTwice => "cancelled on two tills; check the money was given back once",
        }
    }
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The owner looked into an order's conflicts and closed them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderConflictsResolved {
    pub order: String,
    /// The conflicts closed: the ones listed when the owner resolved them. One that appears
    /// later (another till's event arriving) is listed again.
    pub conflicts: Vec<Conflict>,
    pub note: String,
    pub at: DateTime<Utc>,
}

/// Close an order's conflicts, with a note of what was done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveConflicts {
    pub order: String,
    pub note: String,
    pub at: Option<DateTime<Utc>>,
}

/// The parts of an order (write state or order view) the conflicts come from.
pub struct Facts<'a> {
    pub cancellation: Option<&'a Cancellation>,
    pub shipment: Option<&'a Shipment>,
    pub delivered: bool,
    pub refunds: &'a [Refund],
    pub payments: &'a [Payment],
    pub resolved: &'a [Conflict],
}

/// The conflicts the order's events leave, less the ones resolved; sorted. A function of the
/// set of events, not of their order.
pub fn detect(facts: &Facts<'_>) -> Vec<Conflict> {
    let mut found = Vec::new();
    let paid: Decimal = facts.payments.iter().map(|p| p.amount).sum();
    let refunded: Decimal = facts.refunds.iter().map(|r| r.amount).sum();
    if refunded > paid {
        found.push(Conflict::RefundedMoreThanPaid);
    }
    if let Some(cancellation) = facts.cancellation {
        if let Some(knew) = &cancellation.knew {
            if !within(facts.refunds, &knew.refunds) {
                found.push(Conflict::RefundedWhileCancelled);
            }
            if !within(facts.payments, &knew.payments) {
                found.push(Conflict::PaidWhileCancelled);
            }
        }
        if facts.shipment.is_some() || facts.delivered {
            found.push(Conflict::CancelledAfterShipping);
        }
        if cancellation.repeated > 0 {
            found.push(Conflict::CancelledTwice);
        }
    }
    found.retain(|c| !facts.resolved.contains(c));
    found.sort_unstable();
    found
}

/// Whether every item of `all` is in `known` (as multisets): nothing happened that the
/// cancelling till did not know of.
fn within<T: PartialEq>(all: &[T], known: &[T]) -> bool {
    let mut left: Vec<&T> = known.iter().collect();
    all.iter().all(|item| match left.iter().position(|k| *k == item) {
        Some(i) => {
            left.swap_remove(i);
            true
        }
        None => false,
    })
}

/// The cancellation an order keeps when more than one arrives: the later (then by reason, then
/// by what its till knew), whatever the arrival order, counting the others. The later, so that
/// a device that gets it second moves the read models' dates forward, never back.
pub(crate) fn cancelled(current: Option<Cancellation>, new: Cancellation) -> Cancellation {
    match current {
        None => new,
        Some(old) => {
            let repeated = old.repeated + new.repeated + 1;
            let later = (new.at, &new.reason, &new.knew) > (old.at, &old.reason, &old.knew);
            let mut kept = if later { new } else { old };
            kept.repeated = repeated;
            kept
        }
    }
}

/// The shipment an order keeps when two tills shipped it while apart: the earliest (then by
/// carrier and tracking number), whatever the arrival order.
pub(crate) fn shipped(current: Option<Shipment>, new: Shipment) -> Shipment {
    match current {
        Some(old) if (&old.at, &old.carrier, &old.tracking) <= (&new.at, &new.carrier, &new.tracking) => old,
        _ => new,
    }
}

/// Likewise the delivery time: the earliest.
pub(crate) fn delivered(current: Option<DateTime<Utc>>, new: DateTime<Utc>) -> DateTime<Utc> {
    current.map_or(new, |old| old.min(new))
}

pub(super) fn resolve(
    order: Option<&Order>,
    cmd: &ResolveConflicts,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    let order = order.ok_or_else(|| Rejection::UnknownOrder { id: cmd.order.trim().to_owned() })?;
    let conflicts = order.conflicts();
    if conflicts.is_empty() {
        return Err(Rejection::NoConflicts { id: order.id.clone() });
    }
    let note = text::required(
        "note",
        "what was done about it, e.g. 'customer paid the £5 back'",
        &cmd.note,
        text::REASON_MAX,
    )?;
    Ok(vec![Event::OrderConflictsResolved(OrderConflictsResolved {
        order: order.id.clone(),
        conflicts,
        note,
        at: cmd.at.unwrap_or(now),
    })])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_counts_repeats() {
        assert!(within::<u8>(&[], &[]));
        assert!(within(&[1, 2], &[2, 1]));
        assert!(!within(&[1, 1], &[1]));
        assert!(within(&[1], &[1, 1]));
    }
}
