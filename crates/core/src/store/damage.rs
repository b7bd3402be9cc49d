//! Turning panics into errors: redb's on damaged pages into [`Error::Corrupt`], Countertop's own
//! into [`Error::Bug`].
//!
//! redb checks its pages' structure as it reads them and panics when one is not what it should
//! be (a flipped byte in a page header, say). A damaged write store must give a clear error that
//! names the file and the fix, never a crash, so every entry into redb on the write store's
//! behalf (open, the writer's transactions, reads) runs inside [`contain`]. A panic that comes
//! from damage has done nothing but read: the write transaction it happened in is dropped
//! during unwinding, which aborts it.
//!
//! A panic raised anywhere else (a bug of ours, in a decision, say) is not damage: "restore
//! from a backup" would be the wrong advice for a healthy file. It aborts its transaction the
//! same way, so nothing was written, and becomes [`Error::Bug`] with where it happened and what
//! it said; the store works on. Which is which is told by the panic's location: redb's source
//! files, or not.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use super::Error;

thread_local! {
    /// Set while this thread runs inside [`contain`]: its panics become errors, so the default
    /// hook's "thread panicked at …" would only confuse the person reading the error.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
    /// Where the last contained panic on this thread happened (`file:line:column`).
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f`; a panic inside it becomes [`Error::Corrupt`] when redb raised it, [`Error::Bug`]
/// otherwise, with the panic's message.
pub(crate) fn contain<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CONTAINED.with(Cell::get) {
                let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                LOCATION.with(|l| *l.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
    let outer = CONTAINED.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(outer));
    result.unwrap_or_else(|payload| {
        let location = LOCATION.with(|l| l.borrow_mut().take()).unwrap_or_else(|| "an unknown place".into());
        let message = message(&*payload).to_owned();
        if from_redb(&location) {
            Err(Error::corrupt(format!("a page could not be read ({message})")))
        } else {
            Err(Error::Bug { message, location, log: std::path::PathBuf::new() })
        }
    })
}

/// Whether a panic at `location` was raised by redb's own code (a source file of the redb
/// crate, as cargo lays it out: `…/redb-4.1.0/src/…`).
fn from_redb(location: &str) -> bool {
    location
        .split(['/', '\\'])
        .any(|part| part.starts_with("redb-") && part[5..].starts_with(|c: char| c.is_ascii_digit()))
}

fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "no message"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redb_panics_are_damage_and_ours_are_bugs() {
        assert!(from_redb(
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/redb-4.1.0/src/tree_store/btree_base.rs:311:9"
        ));
        assert!(from_redb(r"C:\Users\a\.cargo\registry\src\index\redb-4.0.0\src\db.rs:1:1"));
        assert!(!from_redb("crates/core/src/store/writer.rs:390:13"));
        assert!(!from_redb("/home/me/redb-notes/countertop/crates/core/src/domain/orders.rs:1:1"));
        let bug = contain::<()>(|| panic!("an invariant did not hold"));
        match bug {
            Err(Error::Bug { message, location, .. }) => {
                assert_eq!(message, "an invariant did not hold");
                assert!(location.contains("damage.rs"), "{location}");
            }
            other => panic!("expected a bug, got {other:?}"),
        }
    }
}
