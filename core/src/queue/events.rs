//! A queue's events, heard in every process that shares its store.
//!
//! The process where something happens (a worker finishing a job, reaping a lost lease, a handler
//! reporting progress) delivers the event to its own listeners at once and publishes it through the
//! store; each store carries it to the other processes its own way (Redis: `PUBLISH`; SQLite: a
//! short-lived table that listening processes tail). Every publication carries its process's
//! origin, so that a process does not hear its own events twice.
//!
//! Delivery is at most once and best effort, as BullMQ's and Celery's events are: a listener hears
//! what happens after it started listening, and one that falls too far behind loses the oldest.

use std::collections::HashMap;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{broadcast, watch};

/// What happened to a job, as `@OnQueueEvent` handlers hear it.
#[derive(Debug, Clone, PartialEq)]
pub enum QueueEvent {
    /// A job completed; its result (MessagePack).
    Completed {
        /// The job.
        id: String,
        /// Its name.
        name: String,
        /// The attempt that completed it.
        attempt: u32,
        /// Its result.
        result: Bytes,
    },
    /// An attempt failed; `dead` when it was the last (the job is in the dead-letter queue).
    Failed {
        /// The job.
        id: String,
        /// Its name.
        name: String,
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        error: String,
        /// No attempt is left.
        dead: bool,
    },
    /// A job's worker was lost (its lease expired): the job went back to the queue, or to the
    /// dead-letter queue when `requeued` is false.
    Stalled {
        /// The job.
        id: String,
        /// Back in the queue.
        requeued: bool,
    },
    /// A running job reported progress (MessagePack).
    Progress {
        /// The job.
        id: String,
        /// What it reported.
        progress: Bytes,
    },
    /// A worker found the queue empty after running jobs.
    Drained,
}

impl QueueEvent {
    /// The event's name as handlers subscribe to it: `completed`, `failed`, `stalled`,
    /// `progress`, `drained`.
    pub fn kind(&self) -> &'static str {
        match self {
            QueueEvent::Completed { .. } => "completed",
            QueueEvent::Failed { .. } => "failed",
            QueueEvent::Stalled { .. } => "stalled",
            QueueEvent::Progress { .. } => "progress",
            QueueEvent::Drained => "drained",
        }
    }
}

/// How many events a listener may fall behind before it loses the oldest.
const BACKLOG: usize = 4096;

/// One store's listeners in this process, per queue.
pub(crate) struct EventHub {
    origin: u64,
    topics: Mutex<HashMap<String, Topic>>,
}

struct Topic {
    tx: broadcast::Sender<QueueEvent>,
    /// Whether events from other processes reach `tx` yet.
    ready: watch::Sender<bool>,
}

impl std::fmt::Debug for EventHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHub").field("origin", &self.origin).finish()
    }
}

impl Default for EventHub {
    fn default() -> Self {
        // Random, not the pid: two stores of one process (or a pid reused across machines) differ.
        EventHub { origin: fastrand::u64(1..), topics: Mutex::new(HashMap::new()) }
    }
}

impl EventHub {
    /// This store's mark on what it publishes.
    pub(crate) fn origin(&self) -> u64 {
        self.origin
    }

    /// Hears the queue's events; the boolean is true for the queue's first listener in this
    /// process, which the store must start carrying other processes' events for.
    pub(crate) fn subscribe(&self, queue: &str) -> (broadcast::Receiver<QueueEvent>, bool) {
        let mut topics = self.topics.lock();
        if let Some(t) = topics.get(queue) {
            return (t.tx.subscribe(), false);
        }
        let (tx, rx) = broadcast::channel(BACKLOG);
        topics.insert(queue.to_string(), Topic { tx, ready: watch::channel(false).0 });
        (rx, true)
    }

    /// The queues listened to, for a store that reconnects and listens again.
    pub(crate) fn queues(&self) -> Vec<String> {
        self.topics.lock().keys().cloned().collect()
    }

    /// Whether anyone in this process listens to `queue`.
    #[cfg(feature = "redis")]
    pub(crate) fn listened(&self, queue: &str) -> bool {
        self.topics.lock().contains_key(queue)
    }

    /// The store carries other processes' events of `queue` now.
    pub(crate) fn set_ready(&self, queue: &str, ready: bool) {
        if let Some(t) = self.topics.lock().get(queue) {
            t.ready.send_replace(ready);
        }
    }

    /// Returns once other processes' events of `queue` are heard (at once if nobody listens).
    pub(crate) async fn ready(&self, queue: &str) {
        let rx = self.topics.lock().get(queue).map(|t| t.ready.subscribe());
        if let Some(mut rx) = rx {
            let _ = rx.wait_for(|r| *r).await;
        }
    }

    /// Delivers this process's events to its listeners.
    pub(crate) fn deliver(&self, queue: &str, events: &[QueueEvent]) {
        if let Some(t) = self.topics.lock().get(queue) {
            for e in events {
                let _ = t.tx.send(e.clone());
            }
        }
    }

    /// Delivers what another process published (what this one published is skipped: its
    /// listeners heard it already). A publication that does not decode is dropped.
    pub(crate) fn deliver_published(&self, queue: &str, body: &[u8]) {
        match decode(body) {
            Some((origin, _)) if origin == self.origin => {}
            Some((_, events)) => self.deliver(queue, &events),
            None => tracing::debug!(queue, "queue events: dropped a publication that does not decode"),
        }
    }
}

// The wire form of a publication: the origin (u64), then per event a kind byte and its fields;
// integers little-endian, strings and bytes prefixed by their u32 length. Private to the stores
// of this build, so no version byte beyond the kinds.

const COMPLETED: u8 = 1;
const FAILED: u8 = 2;
const STALLED: u8 = 3;
const PROGRESS: u8 = 4;
const DRAINED: u8 = 5;

/// `events` as one publication of `origin`.
pub(crate) fn encode(origin: u64, events: &[QueueEvent]) -> Vec<u8> {
    fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    }
    let mut out = Vec::with_capacity(64 * events.len() + 8);
    out.extend_from_slice(&origin.to_le_bytes());
    for e in events {
        match e {
            QueueEvent::Completed { id, name, attempt, result } => {
                out.push(COMPLETED);
                bytes(&mut out, id.as_bytes());
                bytes(&mut out, name.as_bytes());
                out.extend_from_slice(&attempt.to_le_bytes());
                bytes(&mut out, result);
            }
            QueueEvent::Failed { id, name, attempt, error, dead } => {
                out.push(FAILED);
                bytes(&mut out, id.as_bytes());
                bytes(&mut out, name.as_bytes());
                out.extend_from_slice(&attempt.to_le_bytes());
                bytes(&mut out, error.as_bytes());
                out.push(u8::from(*dead));
            }
            QueueEvent::Stalled { id, requeued } => {
                out.push(STALLED);
                bytes(&mut out, id.as_bytes());
                out.push(u8::from(*requeued));
            }
            QueueEvent::Progress { id, progress } => {
                out.push(PROGRESS);
                bytes(&mut out, id.as_bytes());
                bytes(&mut out, progress);
            }
            QueueEvent::Drained => out.push(DRAINED),
        }
    }
    out
}

/// A publication's origin and events; `None` when it is not one.
pub(crate) fn decode(mut b: &[u8]) -> Option<(u64, Vec<QueueEvent>)> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if b.len() < n {
            return None;
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Some(head)
    }
    fn u32_(b: &mut &[u8]) -> Option<u32> {
        Some(u32::from_le_bytes(take(b, 4)?.try_into().ok()?))
    }
    fn blob(b: &mut &[u8]) -> Option<Bytes> {
        let n = u32_(b)? as usize;
        Some(Bytes::copy_from_slice(take(b, n)?))
    }
    fn text(b: &mut &[u8]) -> Option<String> {
        let n = u32_(b)? as usize;
        String::from_utf8(take(b, n)?.to_vec()).ok()
    }
    fn flag(b: &mut &[u8]) -> Option<bool> {
        Some(take(b, 1)?[0] != 0)
    }
    let origin = u64::from_le_bytes(take(&mut b, 8)?.try_into().ok()?);
    let mut events = Vec::new();
    while let Some(kind) = take(&mut b, 1) {
        events.push(match kind[0] {
            COMPLETED => QueueEvent::Completed {
                id: text(&mut b)?,
                name: text(&mut b)?,
                attempt: u32_(&mut b)?,
                result: blob(&mut b)?,
            },
            FAILED => QueueEvent::Failed {
                id: text(&mut b)?,
                name: text(&mut b)?,
                attempt: u32_(&mut b)?,
                error: text(&mut b)?,
                dead: flag(&mut b)?,
            },
            STALLED => QueueEvent::Stalled { id: text(&mut b)?, requeued: flag(&mut b)? },
            PROGRESS => QueueEvent::Progress { id: text(&mut b)?, progress: blob(&mut b)? },
            DRAINED => QueueEvent::Drained,
            _ => return None,
        });
    }
    Some((origin, events))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<QueueEvent> {
        vec![
            QueueEvent::Completed {
                id: "a".into(),
                name: "n".into(),
                attempt: 2,
                result: Bytes::from_static(b"\x01"),
            },
            QueueEvent::Failed {
                id: "b".into(),
                name: "é".into(),
                attempt: 3,
                error: "boom".into(),
                dead: true,
            },
            QueueEvent::Stalled { id: "c".into(), requeued: false },
            QueueEvent::Progress { id: "d".into(), progress: Bytes::new() },
            QueueEvent::Drained,
        ]
    }

    #[test]
    fn publications_round_trip() {
        assert_eq!(decode(&encode(7, &all())), Some((7, all())));
        assert_eq!(decode(&encode(9, &[])), Some((9, vec![])));
    }

    #[test]
    fn a_cut_or_foreign_publication_is_refused() {
        let body = encode(7, &all());
        for n in 0..body.len() {
            // Every cut that ends inside an event fails; one that ends between events is a shorter list.
            if let Some((_, events)) = decode(&body[..n]) {
                assert!(all().starts_with(&events));
            }
        }
        let mut bad = body.clone();
        bad[8] = 99;
        assert_eq!(decode(&bad), None);
    }

    #[test]
    fn a_process_does_not_hear_its_own_publications_twice() {
        let hub = EventHub::default();
        let (mut rx, first) = hub.subscribe("q");
        assert!(first);
        assert!(!hub.subscribe("q").1);
        hub.deliver_published("q", &encode(hub.origin(), &[QueueEvent::Drained]));
        assert!(rx.try_recv().is_err());
        hub.deliver_published("q", &encode(hub.origin() ^ 1, &[QueueEvent::Drained]));
        assert_eq!(rx.try_recv().ok(), Some(QueueEvent::Drained));
    }
}
