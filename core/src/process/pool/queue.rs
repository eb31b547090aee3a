//! Tasks waiting for a worker. A task awaited in Rust (`exec_raw`) waits on a channel; a task
//! started with `exec_raw_with` (what the bindings use) waits as a callback that whoever frees a
//! slot runs right there: the request is written from that thread (for a pool whose workers are read
//! on a binding's event loop, the loop's own), with no engine task to wake per queued task.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::PoolInner;
use super::workers::{Worker, pick, release};
use crate::error::{Error, ErrorCode, Result};
use crate::rpc::{CallHandle, WireError};

/// What a queued callback is given: its worker (a slot taken on it), or why it will get none.
pub(super) type Start = Box<dyn FnOnce(std::result::Result<Arc<Worker>, WireError>) + Send>;

/// A task in the queue.
pub(super) enum Waiter {
    /// An awaited task.
    Task(oneshot::Sender<Arc<Worker>>),
    /// A task started with `exec_raw_with`.
    Callback(Arc<Queued>),
}

impl Waiter {
    /// Its task gave up waiting (cancelled, dropped).
    pub(super) fn is_closed(&self) -> bool {
        match self {
            Waiter::Task(tx) => tx.is_closed(),
            Waiter::Callback(q) => q.start.lock().is_none(),
        }
    }
}

/// A queued `exec_raw_with` task.
pub(super) struct Queued {
    /// Taken once: to send it, to fail it, or by a cancel.
    pub(super) start: Mutex<Option<Start>>,
    /// When its task timeout runs out.
    pub(super) deadline: Instant,
    /// Once sent: the call and its worker, for a cancel.
    pub(super) sent: Mutex<Option<(CallHandle, Arc<Worker>)>>,
}

fn queue_full(inner: &PoolInner, waiting: usize) -> Error {
    Error::new(
        ErrorCode::QueueFull,
        format!(
            "pool '{}' is full: {waiting} tasks already wait for a worker (queue limit {}); slow down or raise the limit",
            inner.opts.name, inner.opts.queue_limit
        ),
    )
}

fn timed_out(inner: &PoolInner) -> Error {
    Error::new(
        ErrorCode::Timeout,
        format!(
            "pool '{}': no worker was free within the task timeout of {} ms",
            inner.opts.name,
            inner.opts.task_timeout.as_millis()
        ),
    )
}

pub(super) fn stopped(inner: &PoolInner) -> Error {
    Error::new(ErrorCode::NotRunning, format!("pool '{}' is stopped", inner.opts.name))
}

/// Whether one more task may wait. Places left by tasks cancelled while they waited do not count
/// against the limit: they are swept out, but only when the queue looks full (a sweep per task
/// made a long queue quadratic).
fn has_room(inner: &PoolInner, s: &mut super::State) -> bool {
    if s.waiters.len() < inner.opts.queue_limit {
        return true;
    }
    s.waiters.retain(|w| !w.is_closed());
    s.waiters.len() < inner.opts.queue_limit
}

/// Queues `q` (no worker was free); refused when the queue is full. The caller has checked that
/// no worker is free, under the same lock.
pub(super) fn enqueue(inner: &PoolInner, s: &mut super::State, q: Arc<Queued>) -> Result<()> {
    if !has_room(inner, s) {
        return Err(queue_full(inner, s.waiters.len()));
    }
    s.waiters.push_back(Waiter::Callback(q));
    inner.metrics.queue_depth.set(s.waiters.len() as f64);
    Ok(())
}

/// A worker for an awaited task, waiting in the queue for one until `deadline`.
pub(super) async fn acquire(inner: &Arc<PoolInner>, deadline: Instant) -> Result<Arc<Worker>> {
    let rx = {
        let mut s = inner.state.lock();
        if inner.stop.is_cancelled() {
            return Err(stopped(inner));
        }
        if let Some(w) = pick(inner, &s) {
            s.last_busy = Some(Instant::now());
            return Ok(w);
        }
        if !has_room(inner, &mut s) {
            return Err(queue_full(inner, s.waiters.len()));
        }
        let (tx, rx) = oneshot::channel();
        s.waiters.push_back(Waiter::Task(tx));
        inner.metrics.queue_depth.set(s.waiters.len() as f64);
        rx
    };
    inner.changed.notify_waiters();
    // Dropped while waiting (the task cancelled): a worker handed over meanwhile is given back.
    let mut waiting = Waiting { inner, rx: Some(rx) };
    let rx = waiting.rx.as_mut().expect("set above");
    let got = tokio::time::timeout_at(deadline, rx).await;
    if matches!(got, Ok(Ok(_))) {
        waiting.rx = None; // Ours now: released when the task ends.
    }
    drop(waiting); // Timed out: one handed over just now goes back.
    match got {
        Ok(Ok(w)) => Ok(w),
        Ok(Err(_)) => Err(Error::new(ErrorCode::NotRunning, format!("pool '{}' stopped", inner.opts.name))),
        Err(_) => Err(timed_out(inner)),
    }
}

/// A task waiting in the queue for a worker.
struct Waiting<'a> {
    inner: &'a Arc<PoolInner>,
    rx: Option<oneshot::Receiver<Arc<Worker>>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(w) = rx.try_recv() {
                release(self.inner, &w);
            }
        }
    }
}

thread_local! {
    /// The pool this thread is handing slots over for: a callback run by it that frees a slot of
    /// that pool at once (its call failed before it was sent) leaves the slot to the loop already
    /// running.
    static HANDING: std::cell::Cell<*const PoolInner> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// Gives free slots to waiting tasks, in order. A queued callback runs on this thread, outside
/// the pool's lock; one whose task timeout ran out while it waited fails instead.
pub(super) fn hand_over(inner: &Arc<PoolInner>) {
    let this = Arc::as_ptr(inner);
    let outer = HANDING.with(|h| h.replace(this));
    if outer == this {
        return;
    }
    // Put back however this ends (a start callback that panics included): else this thread would
    // never hand this pool's slots over again.
    struct Restore(*const PoolInner);
    impl Drop for Restore {
        fn drop(&mut self) {
            HANDING.with(|h| h.set(self.0));
        }
    }
    let _restore = Restore(outer);
    loop {
        let (waiter, w) = {
            let mut s = inner.state.lock();
            while s.waiters.front().is_some_and(Waiter::is_closed) {
                s.waiters.pop_front();
            }
            let picked = if s.waiters.is_empty() { None } else { pick(inner, &s) };
            let Some(w) = picked else {
                inner.metrics.queue_depth.set(s.waiters.len() as f64);
                break;
            };
            let waiter = s.waiters.pop_front().expect("not empty");
            inner.metrics.queue_depth.set(s.waiters.len() as f64);
            (waiter, w)
        };
        let taken = match waiter {
            Waiter::Task(tx) => tx.send(w.clone()).is_ok(),
            Waiter::Callback(q) => {
                let start = q.start.lock().take();
                match start {
                    Some(start) if Instant::now() >= q.deadline => {
                        start(Err(WireError::from_error(&timed_out(inner))));
                        false
                    }
                    Some(start) => {
                        start(Ok(w.clone()));
                        true
                    }
                    None => false, // Cancelled meanwhile.
                }
            }
        };
        if !taken {
            // Not taken: the slot goes back, and the next waiter may have it.
            w.child.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Fails the queued callbacks whose task timeout ran out (the pool's manager, every 100 ms at
/// most), or all of them when the pool stops.
pub(super) fn expire(inner: &Arc<PoolInner>, all: bool) {
    let now = Instant::now();
    let gone: Vec<Arc<Queued>> = {
        let mut s = inner.state.lock();
        let mut gone = Vec::new();
        s.waiters.retain(|w| match w {
            Waiter::Callback(q) if all || now >= q.deadline => {
                gone.push(q.clone());
                false
            }
            Waiter::Task(_) if all => false, // Dropped: its task sees the pool stopped.
            _ => true,
        });
        inner.metrics.queue_depth.set(s.waiters.len() as f64);
        gone
    };
    for q in gone {
        let start = q.start.lock().take();
        if let Some(start) = start {
            let e = if all { stopped(inner) } else { timed_out(inner) };
            start(Err(WireError::from_error(&e)));
        }
    }
}
