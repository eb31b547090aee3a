//! Requests and health checks waiting for JavaScript, by id. An entry leaves when JavaScript
//! answers, when its waiter is dropped (the client left, a health check timed out), or when the
//! app closes (every waiter then sees `None`, and nothing can wait any more).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use omnitron::http::{DoorAnswer, HealthReport, HttpError};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

pub(super) type Answer = Result<DoorAnswer, HttpError>;

enum Waiter {
    Request(oneshot::Sender<Answer>),
    Health(oneshot::Sender<HealthReport>),
}

#[derive(Default)]
struct State {
    waiters: FxHashMap<u32, Waiter>,
    next: u32,
    closed: bool,
}

#[derive(Default)]
pub(super) struct Pending {
    state: Mutex<State>,
    /// Told whenever the last waiter leaves (for a close that waits for requests in flight).
    idle: tokio::sync::Notify,
}

impl Pending {
    fn park<T>(self: &Arc<Self>, make: impl FnOnce(oneshot::Sender<T>) -> Waiter) -> Option<Waiting<T>> {
        let (tx, rx) = oneshot::channel();
        let mut s = self.state.lock();
        if s.closed {
            return None;
        }
        // Ids wrap after 2^32; one still in use is skipped.
        let mut id = s.next;
        while s.waiters.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        s.next = id.wrapping_add(1);
        s.waiters.insert(id, make(tx));
        Some(Waiting { id, pending: self.clone(), rx, done: false })
    }

    /// A request waiting for its handler's answer; none once the app is closed.
    pub(super) fn request(self: &Arc<Self>) -> Option<Waiting<Answer>> {
        self.park(Waiter::Request)
    }

    /// A health check waiting for its outcome; none once the app is closed.
    pub(super) fn health(self: &Arc<Self>) -> Option<Waiting<HealthReport>> {
        self.park(Waiter::Health)
    }

    /// Hands answers to their requests (one lock for the batch); returns how many still waited.
    pub(super) fn answer_requests(&self, answers: Vec<(u32, Answer)>) -> u32 {
        let senders: Vec<_> = {
            let mut s = self.state.lock();
            let senders: Vec<_> = answers
                .into_iter()
                .filter_map(|(id, a)| match s.waiters.remove(&id) {
                    Some(Waiter::Request(tx)) => Some((tx, a)),
                    Some(other) => {
                        s.waiters.insert(id, other);
                        None
                    }
                    None => None,
                })
                .collect();
            if s.waiters.is_empty() {
                self.idle.notify_waiters();
            }
            senders
        };
        senders.into_iter().map(|(tx, a)| u32::from(tx.send(a).is_ok())).sum()
    }

    /// Hands a health check its outcome; false if it no longer waits.
    pub(super) fn answer_health(&self, id: u32, report: HealthReport) -> bool {
        let tx = {
            let mut s = self.state.lock();
            let tx = match s.waiters.remove(&id) {
                Some(Waiter::Health(tx)) => tx,
                Some(other) => {
                    s.waiters.insert(id, other);
                    return false;
                }
                None => return false,
            };
            if s.waiters.is_empty() {
                self.idle.notify_waiters();
            }
            tx
        };
        tx.send(report).is_ok()
    }

    /// Nothing waits any more: every waiter sees `None`, and new ones are refused.
    pub(super) fn close(&self) {
        let waiters = {
            let mut s = self.state.lock();
            s.closed = true;
            std::mem::take(&mut s.waiters)
        };
        drop(waiters);
    }

    fn forget(&self, id: u32) {
        let gone = {
            let mut s = self.state.lock();
            let gone = s.waiters.remove(&id);
            if s.waiters.is_empty() {
                self.idle.notify_waiters();
            }
            gone
        };
        drop(gone);
    }

    /// Resolves once nothing waits (requests in flight answered or gone).
    pub(super) async fn idle(&self) {
        loop {
            let told = self.idle.notified();
            if self.state.lock().waiters.is_empty() {
                return;
            }
            told.await;
        }
    }
}

/// Waits for JavaScript's answer to entry `id`; `None` if it never comes (the app closed).
/// Dropped before that, it takes its entry out.
pub(super) struct Waiting<T> {
    id: u32,
    pending: Arc<Pending>,
    rx: oneshot::Receiver<T>,
    done: bool,
}

impl<T> Waiting<T> {
    pub(super) fn id(&self) -> u32 {
        self.id
    }
}

impl<T> Future for Waiting<T> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                self.done = true;
                Poll::Ready(r.ok())
            }
        }
    }
}

impl<T> Drop for Waiting<T> {
    fn drop(&mut self) {
        if !self.done {
            self.pending.forget(self.id);
        }
    }
}
