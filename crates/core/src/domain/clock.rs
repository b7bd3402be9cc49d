//! A hybrid logical clock for product and customer edits on a shop with several tills.
//!
//! Two tills apart may both rename a product or change a customer's phone. Each edit of a shop
//! with several tills carries a [`Stamp`]: the till's wall clock, but never behind the latest
//! stamp it has seen (then one more tick of `n`), and its till code to break ties. Per field,
//! the edit with the greatest stamp wins, whatever order the edits arrive in; an edit made
//! after seeing another always wins over it. A till whose clock runs hours ahead wins the
//! edits made at the same time as its own until the others' clocks pass it; its stamps never
//! date anything a person sees (orders keep the times they were entered with).
//!
//! Edits without a stamp (a shop on one device, and everything recorded before it joined a
//! shop) come first in every device's log and simply apply in order.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// When an edit was made, in the order every device agrees on: (time, tick, till).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    pub at: DateTime<Utc>,
    /// Ticks within the same `at` (a clock behind the latest stamp seen, or many edits at once).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub n: u32,
    pub till: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The stamp of the edit that last set each field, by field name.
pub type Stamps = BTreeMap<String, Stamp>;

/// The stamp for an edit made at `now` on `till`, after `last` (the latest stamp seen).
pub fn next(last: Option<&Stamp>, now: DateTime<Utc>, till: &str) -> Stamp {
    match last {
        Some(last) if last.at >= now => Stamp { at: last.at, n: last.n.saturating_add(1), till: till.to_owned() },
        _ => Stamp { at: now, n: 0, till: till.to_owned() },
    }
}

/// Whether an edit of `field` stamped `stamp` wins over what set it so far; records it when it
/// does. An edit without a stamp always applies (see the module comment).
pub fn wins(stamps: &mut Stamps, field: &str, stamp: Option<&Stamp>) -> bool {
    let Some(stamp) = stamp else { return true };
    match stamps.get(field) {
        Some(current) if current >= stamp => false,
        _ => {
            stamps.insert(field.to_owned(), stamp.clone());
            true
        }
    }
}

/// Moves the clock past a stamp seen (an edit here or from another till).
pub fn observe(clock: &mut Option<Stamp>, stamp: Option<&Stamp>) {
    if let Some(stamp) = stamp
        && clock.as_ref().is_none_or(|c| c < stamp)
    {
        *clock = Some(stamp.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + i64::from(s), 0).unwrap_or_default()
    }

    #[test]
    fn a_clock_behind_the_latest_stamp_ticks_on_from_it() {
        let seen = Stamp { at: at(100), n: 0, till: "C".into() };
        let mine = next(Some(&seen), at(10), "A");
        assert!(mine > seen, "an edit after seeing another wins over it");
        assert_eq!((mine.at, mine.n), (at(100), 1));
        assert_eq!(next(Some(&seen), at(200), "A"), Stamp { at: at(200), n: 0, till: "A".into() });
    }

    #[test]
    fn per_field_the_greatest_stamp_wins_in_any_order() {
        let early = Stamp { at: at(1), n: 0, till: "B".into() };
        let late = Stamp { at: at(1), n: 0, till: "C".into() };
        for order in [[&early, &late], [&late, &early]] {
            let mut stamps = Stamps::new();
            let winners: Vec<bool> = order.iter().map(|s| wins(&mut stamps, "name", Some(s))).collect();
            assert_eq!(stamps["name"], late);
            assert_eq!(winners, if order[0] == &early { vec![true, true] } else { vec![true, false] });
        }
        let mut stamps = Stamps::new();
        assert!(wins(&mut stamps, "name", None));
        assert!(stamps.is_empty());
    }
}
