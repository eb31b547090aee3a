//! Requests on their way to Python and answers on their way back.
//!
//! Engine threads queue requests without taking the GIL: each is appended to one JSON array (the
//! batch) as `[id, handler, envelope]`, the envelope being `Request::door_json()`'s bytes, and the
//! first request of a batch wakes the event loop (a byte on a socket pair the loop watches). The
//! loop then takes the whole batch at once and hands it to Python as one `bytes` (one `json.loads`,
//! one GIL-held pass for however many requests arrived). Answers come back by id, many per call.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use omnitron::http::{DoorAnswer, HealthReport, HttpError};
use parking_lot::Mutex;
use pyo3::prelude::*;
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

/// Work run on the loop with the GIL (settling a future, starting a health check).
pub(crate) type Job = Box<dyn FnOnce(Python<'_>) + Send>;

/// How a request or a health check ended, as Python said.
pub(crate) enum Outcome {
    /// The handler's answer.
    Answer(DoorAnswer),
    /// The handler raised: a problem with this error, and headers to add (`HTTPException`'s).
    Fail(HttpError, Vec<(String, String)>),
    /// A health check's report.
    Health(HealthReport),
}

#[derive(Default)]
struct Queue {
    /// `[[id,handler,envelope],...` without its closing bracket (empty when no request waits).
    batch: Vec<u8>,
    /// The ids in `batch`, to fail them should the dispatch itself fail.
    ids: Vec<u64>,
    jobs: Vec<Job>,
}

pub(crate) struct Inbox {
    queue: Mutex<Queue>,
    /// Who waits for each answer, by id.
    pending: Mutex<FxHashMap<u64, oneshot::Sender<Outcome>>>,
    next: AtomicU64,
    wake_tx: std::os::unix::net::UnixStream,
    pub(crate) wake_rx: std::os::unix::net::UnixStream,
}

/// What the loop takes from the inbox in one pass.
pub(crate) struct Taken {
    /// The batch, a complete JSON array (empty when no request waited).
    pub(crate) batch: Vec<u8>,
    pub(crate) ids: Vec<u64>,
    pub(crate) jobs: Vec<Job>,
}

impl Inbox {
    pub(crate) fn new() -> std::io::Result<Inbox> {
        let (wake_tx, wake_rx) = std::os::unix::net::UnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(Inbox {
            queue: Mutex::new(Queue::default()),
            pending: Mutex::new(FxHashMap::default()),
            next: AtomicU64::new(1),
            wake_tx,
            wake_rx,
        })
    }

    /// A new id whose outcome the returned receiver gets.
    pub(crate) fn expect(&self) -> (u64, oneshot::Receiver<Outcome>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, tx);
        (id, rx)
    }

    /// Queues a request for `handler` with its envelope; its outcome comes to the receiver.
    pub(crate) fn request(&self, handler: u32, envelope: &[u8]) -> oneshot::Receiver<Outcome> {
        let (id, rx) = self.expect();
        let first = {
            let mut q = self.queue.lock();
            let first = q.ids.is_empty() && q.jobs.is_empty();
            let sep = if q.ids.is_empty() { b'[' } else { b',' };
            q.batch.push(sep);
            // Writing into a Vec cannot fail.
            let _ = write!(q.batch, "[{id},{handler},");
            q.batch.extend_from_slice(envelope);
            q.batch.push(b']');
            q.ids.push(id);
            first
        };
        if first {
            self.wake();
        }
        rx
    }

    /// Queues work for the loop.
    pub(crate) fn run(&self, job: impl FnOnce(Python<'_>) + Send + 'static) {
        let first = {
            let mut q = self.queue.lock();
            let first = q.ids.is_empty() && q.jobs.is_empty();
            q.jobs.push(Box::new(job));
            first
        };
        if first {
            self.wake();
        }
    }

    fn wake(&self) {
        // A full socket buffer means a wake-up is already waiting: nothing is lost.
        let _ = (&self.wake_tx).write(&[1]);
    }

    /// Everything queued, for one pass of the loop (the wake-ups read first, so a request queued
    /// after the take wakes the loop again).
    pub(crate) fn take(&self) -> Taken {
        let mut buf = [0u8; 256];
        while matches!(std::io::Read::read(&mut (&self.wake_rx), &mut buf), Ok(n) if n > 0) {}
        let mut q = self.queue.lock();
        let mut batch = std::mem::take(&mut q.batch);
        if !batch.is_empty() {
            batch.push(b']');
        }
        Taken { batch, ids: std::mem::take(&mut q.ids), jobs: std::mem::take(&mut q.jobs) }
    }

    /// Settles the outcome of `id`; false when nobody waits for it (answered already, or the
    /// client went away).
    pub(crate) fn settle(&self, id: u64, outcome: Outcome) -> bool {
        let tx = self.pending.lock().remove(&id);
        tx.is_some_and(|tx| tx.send(outcome).is_ok())
    }

    /// Settles many outcomes, taking the lock once.
    pub(crate) fn settle_many(&self, outcomes: Vec<(u64, Outcome)>) {
        let senders: Vec<_> = {
            let mut p = self.pending.lock();
            outcomes.into_iter().filter_map(|(id, o)| p.remove(&id).map(|tx| (tx, o))).collect()
        };
        for (tx, o) in senders {
            let _ = tx.send(o);
        }
    }

    /// Fails whichever of `ids` are still waiting with a 500 (`H005`).
    pub(crate) fn fail_all(&self, ids: &[u64], detail: &str) {
        let senders: Vec<_> = {
            let mut p = self.pending.lock();
            ids.iter().filter_map(|id| p.remove(id)).collect()
        };
        for tx in senders {
            let _ = tx.send(Outcome::Fail(HttpError::internal(detail), Vec::new()));
        }
    }
}

/// A body Python gave: `bytes` or `str`.
pub(crate) fn body_of(v: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(b) = v.cast::<pyo3::types::PyBytes>() {
        return Ok(Bytes::copy_from_slice(b.as_bytes()));
    }
    if let Ok(s) = v.cast::<pyo3::types::PyString>() {
        return Ok(Bytes::copy_from_slice(s.to_cow()?.as_bytes()));
    }
    Err(crate::error::invalid_argument(format!(
        "a response body is bytes or str, got {}",
        v.get_type().name().map(|n| n.to_string()).unwrap_or_default()
    )))
}
