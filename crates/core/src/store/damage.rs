//! Turning redb's panics on damaged pages into [`Error::Corrupt`].
//!
//! redb checks its pages' structure as it reads them and panics when one is not what it should
//! be (a flipped byte in a page header, say). A damaged write store must give a clear error that
//! names the file and the fix, never a crash, so every entry into redb on the write store's
//! behalf (open, the writer's transactions, reads) runs inside [`contain`]. A panic that comes
//! from damage has done nothing but read: the write transaction it happened in is dropped
//! during unwinding, which aborts it.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use super::Error;

thread_local! {
    /// Set while this thread runs inside [`contain`]: its panics become errors, so the default
    /// hook's "thread panicked at …" would only confuse the person reading the error.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`; a panic inside it becomes [`Error::Corrupt`] with the panic's message.
pub(crate) fn contain<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CONTAINED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = CONTAINED.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(outer));
    result.unwrap_or_else(|payload| Err(Error::corrupt(format!("a page could not be read ({})", message(&*payload)))))
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
