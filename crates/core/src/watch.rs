//! A position that one thread publishes and others wait on: the write store's head, the
//! projector's checkpoints. Waiting blocks on a condition variable; nobody polls.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A published log position. Cheap to clone; all clones see the same position.
#[derive(Clone, Debug)]
pub struct Watch {
    inner: Arc<(Mutex<State>, Condvar)>,
}

#[derive(Debug)]
struct State {
    position: u64,
    /// Bumped by [`Watch::interrupt`] so waiters wake without the position moving.
    interrupts: u64,
}

impl Watch {
    pub(crate) fn new(position: u64) -> Watch {
        Watch { inner: Arc::new((Mutex::new(State { position, interrupts: 0 }), Condvar::new())) }
    }

    /// The last published position.
    pub fn current(&self) -> u64 {
        self.inner.0.lock().unwrap_or_else(PoisonError::into_inner).position
    }

    /// Waits until the position is past `position`, `timeout` passes, or someone calls
    /// [`Watch::interrupt`]; returns the position then.
    pub fn wait_past(&self, position: u64, timeout: Duration) -> u64 {
        self.wait_past_since(position, self.interrupts(), timeout)
    }

    /// How many times [`Watch::interrupt`] was called: read it *before* looking for work, and
    /// pass it to [`Watch::wait_past_since`], so an interrupt that arrives in between is not lost.
    pub(crate) fn interrupts(&self) -> u64 {
        self.inner.0.lock().unwrap_or_else(PoisonError::into_inner).interrupts
    }

    /// Like [`Watch::wait_past`], but also returns at once if an interrupt came after
    /// `interrupts` was read.
    pub(crate) fn wait_past_since(&self, position: u64, interrupts: u64, timeout: Duration) -> u64 {
        let (lock, changed) = &*self.inner;
        let deadline = Instant::now() + timeout;
        let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
        while state.position <= position && state.interrupts == interrupts {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        state.position
    }

    /// Publishes a new position and wakes every waiter.
    pub(crate) fn publish(&self, position: u64) {
        let (lock, changed) = &*self.inner;
        lock.lock().unwrap_or_else(PoisonError::into_inner).position = position;
        changed.notify_all();
    }

    /// Wakes every waiter without moving the position (shutdown, new work of another kind).
    pub(crate) fn interrupt(&self) {
        let (lock, changed) = &*self.inner;
        lock.lock().unwrap_or_else(PoisonError::into_inner).interrupts += 1;
        changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the projector hung when an interrupt came between its check for work and
    /// its wait; the wait now starts from the interrupt count read before the check.
    #[test]
    fn an_interrupt_between_the_check_and_the_wait_is_not_lost() {
        let watch = Watch::new(5);
        let seen = watch.interrupts();
        watch.interrupt();
        let started = Instant::now();
        assert_eq!(watch.wait_past_since(5, seen, Duration::from_secs(60)), 5);
        assert!(started.elapsed() < Duration::from_secs(30), "woke at once, not at the timeout");
    }

    #[test]
    fn a_publish_wakes_a_waiter() {
        let watch = Watch::new(1);
        let other = watch.clone();
        let waiter = std::thread::spawn(move || other.wait_past(1, Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(10));
        watch.publish(2);
        assert_eq!(waiter.join().unwrap(), 2);
    }
}
