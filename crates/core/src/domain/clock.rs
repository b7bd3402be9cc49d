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
//!
//! Another till's stamp is taken within two bounds (`admit.rs` checks them): its time at most
//! [`MAX_STAMP_AHEAD`] after its event was recorded, and its tick below [`MAX_STAMP_TICKS`].
//! Without them one stamp dated 9999 would win every later edit of its field, on every till.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// How far a stamp's time may be after the moment its event was recorded. A stamp is the
/// till's clock, or the latest stamp it has seen when that is later, so a till whose clock is
/// behind another's edits at the other's time. Seven days lets tills whose clocks are hours or
/// days apart (a wrong time zone, a dead clock battery) still agree; a stamp further ahead is
/// no clock's, and would freeze the field it sets.
pub const MAX_STAMP_AHEAD: TimeDelta = TimeDelta::days(7);

/// The bound on a stamp's tick `n`: it is always below this. A tick is one edit made while
/// the till's clock was not past the latest stamp seen; after `MAX_STAMP_TICKS - 1` of them
/// [`next`] moves on to the next microsecond and starts again at 0, so no till writes more.
/// About a million edits at one stamp time (made while the till's clock was behind the latest
/// stamp it had seen) is far beyond any shop, and far enough below `u32::MAX` that a stamp an
/// older Countertop saturated there (where its clock stopped: equal stamps never win) can be
/// told from one of ours.
pub const MAX_STAMP_TICKS: u32 = 1 << 20;

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

/// The stamp for an edit made at `now` on `till`, after `last` (the latest stamp seen): always
/// greater than `last`. When the tick would reach [`MAX_STAMP_TICKS`], the time moves on by a
/// microsecond and the tick starts again at 0.
pub fn next(last: Option<&Stamp>, now: DateTime<Utc>, till: &str) -> Stamp {
    let till = till.to_owned();
    match last {
        Some(last) if last.at >= now => match last.n.checked_add(1).filter(|n| *n < MAX_STAMP_TICKS) {
            Some(n) => Stamp { at: last.at, n, till },
            // Stays put only at the end of chrono's calendar (year 262143), which no clock reaches.
            None => Stamp { at: last.at.checked_add_signed(TimeDelta::microseconds(1)).unwrap_or(last.at), n: 0, till },
        },
        _ => Stamp { at: now, n: 0, till },
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
    fn a_clock_out_of_ticks_moves_on_a_microsecond_instead_of_freezing() {
        // Was: `n` saturated at u32::MAX, and an equal stamp never wins, so every edit after
        // it lost to it.
        let clock_behind = at(10);
        for n in [MAX_STAMP_TICKS - 1, u32::MAX] {
            let seen = Stamp { at: at(100), n, till: "C".into() };
            let mine = next(Some(&seen), clock_behind, "A");
            assert_eq!((mine.at, mine.n), (at(100) + TimeDelta::microseconds(1), 0), "after n = {n}");
            assert!(mine > seen);
            let after = next(Some(&mine), clock_behind, "A");
            assert!(after > mine, "and it goes on ticking from there");
        }
        let seen = Stamp { at: at(100), n: MAX_STAMP_TICKS - 2, till: "C".into() };
        assert_eq!(next(Some(&seen), clock_behind, "A").n, MAX_STAMP_TICKS - 1, "the last tick before the bound");
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
