//! The bulkhead: at most `max_concurrent` calls at once, at most `max_queue` waiting, the rest
//! refused. The queue is a state machine with waiter ids, so bindings can park their own promises
//! and futures on it; Rust's async `run` builds on the same.

use std::collections::{HashMap, VecDeque};
use std::future::Future;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::error::{Error, ErrorCode, Result};

/// A queued caller's ticket.
pub type WaiterId = u64;

/// What `try_enter` decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead; call `leave` when done.
    Granted,
    /// Wait until `leave` hands this waiter the slot (or `cancel` it).
    Queued(WaiterId),
    /// Both the slots and the queue are full.
    Rejected,
}

#[derive(Debug, Default)]
struct State {
    active: usize,
    queue: VecDeque<WaiterId>,
    next: WaiterId,
    wakers: HashMap<WaiterId, oneshot::Sender<()>>,
}

/// A bulkhead. Share it with `Arc`.
#[derive(Debug)]
pub struct Bulkhead {
    name: String,
    max_concurrent: usize,
    max_queue: usize,
    state: Mutex<State>,
}

impl Bulkhead {
    /// At most `max_concurrent` at once and `max_queue` waiting.
    pub fn new(name: impl Into<String>, max_concurrent: usize, max_queue: usize) -> Result<Self> {
        let name = name.into();
        if max_concurrent == 0 {
            return Err(Error::new(
                ErrorCode::InvalidPolicy,
                format!("bulkhead '{name}': max_concurrent must be at least 1"),
            ));
        }
        Ok(Bulkhead { name, max_concurrent, max_queue, state: Mutex::new(State::default()) })
    }

    /// The error for a refused call.
    pub fn full_error(&self) -> Error {
        Error::new(
            ErrorCode::BulkheadFull,
            format!(
                "bulkhead '{}' is full: {} calls running and {} waiting (the limits)",
                self.name, self.max_concurrent, self.max_queue
            ),
        )
    }

    /// Takes a slot, a place in the queue, or neither.
    pub fn try_enter(&self) -> Admission {
        let mut s = self.state.lock();
        if s.active < self.max_concurrent && s.queue.is_empty() {
            s.active += 1;
            Admission::Granted
        } else if s.queue.len() < self.max_queue {
            s.next += 1;
            let id = s.next;
            s.queue.push_back(id);
            Admission::Queued(id)
        } else {
            Admission::Rejected
        }
    }

    /// Gives a slot back. If someone was waiting, the slot passes to them and their id is returned
    /// (they are now running).
    pub fn leave(&self) -> Option<WaiterId> {
        let mut s = self.state.lock();
        if let Some(next) = s.queue.pop_front() {
            if let Some(w) = s.wakers.remove(&next) {
                let _ = w.send(());
            }
            Some(next)
        } else {
            s.active = s.active.saturating_sub(1);
            None
        }
    }

    /// Leaves the queue. False when the waiter already got a slot (then it must `leave`).
    pub fn cancel(&self, id: WaiterId) -> bool {
        let mut s = self.state.lock();
        s.wakers.remove(&id);
        match s.queue.iter().position(|w| *w == id) {
            Some(i) => {
                s.queue.remove(i);
                true
            }
            None => false,
        }
    }

    /// Calls running now.
    pub fn active(&self) -> usize {
        let s = self.state.lock();
        s.active
    }

    /// Callers waiting now.
    pub fn queued(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// Runs `f` once a slot is free (waiting in the queue if need be), or fails with `BulkheadFull`.
    pub async fn run<T, F: Future<Output = T>>(&self, f: F) -> Result<T> {
        match self.try_enter() {
            Admission::Granted => {}
            Admission::Rejected => return Err(self.full_error()),
            Admission::Queued(id) => {
                let (tx, rx) = oneshot::channel();
                {
                    let mut s = self.state.lock();
                    if s.queue.contains(&id) {
                        s.wakers.insert(id, tx);
                    } else {
                        let _ = tx.send(());
                    }
                }
                let mut ticket = Ticket { bulkhead: self, id, granted: false };
                let _ = rx.await;
                ticket.granted = true;
                std::mem::forget(ticket);
            }
        }
        let _slot = Slot(self);
        Ok(f.await)
    }
}

impl Bulkhead {
    /// [`Bulkhead::run`] for synchronous code: a queued caller blocks its thread until a slot is
    /// handed to it.
    pub fn run_blocking<T>(&self, f: impl FnOnce() -> T) -> Result<T> {
        crate::runtime::block_on_here(self.run(async move { f() }))
    }
}

/// Gives the slot back when the call ends, however it ends.
struct Slot<'a>(&'a Bulkhead);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// Leaves the queue if the waiting caller is dropped.
struct Ticket<'a> {
    bulkhead: &'a Bulkhead,
    id: WaiterId,
    granted: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.granted && !self.bulkhead.cancel(self.id) {
            // The slot was handed to us as we were dropped: pass it on.
            self.bulkhead.leave();
        }
    }
}
