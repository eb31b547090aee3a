//! A worker whose handler lives in another language (Node, Python, C): each job becomes a call
//! with an id, handed to the door's `invoke`, and answered with [`answer`] when the host's
//! handler settles. Written once here so that every door behaves the same: a call not answered
//! before the job's timeout or lease loss is abandoned (the door hears it through `abandon`), and
//! a late answer is dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::handle::QueueEvent;
use super::job::{AttemptError, Counts, JobInfo};
use super::worker::{Handler, Job};
use crate::error::{Error, ErrorCode, Result};

struct Call {
    job: Job,
    answer: oneshot::Sender<Result<Bytes>>,
}

static CALLS: LazyLock<Mutex<HashMap<u32, Call>>> = LazyLock::new(Default::default);
// Wrapping: an id comes back only after four billion newer calls, long after its own ended.
static NEXT: AtomicU32 = AtomicU32::new(1);

/// Hands a job to the host: `(call id, job)`; false when the host is gone (the attempt fails).
pub type Invoke = Arc<dyn Fn(u32, &Job) -> bool + Send + Sync>;
/// Tells the host that a call was abandoned (timeout, lease lost, worker closing).
pub type Abandon = Arc<dyn Fn(u32) + Send + Sync>;

/// A call still waiting for its answer when its future goes (the attempt timed out, its lease
/// was lost, the worker closed, or the task was aborted): forgotten, and the host told.
struct Waiting {
    id: u32,
    abandon: Option<Abandon>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if CALLS.lock().remove(&self.id).is_some()
            && let Some(a) = &self.abandon
        {
            a(self.id);
        }
    }
}

/// A handler that calls into a door.
pub fn handler(invoke: Invoke, abandon: Option<Abandon>) -> Handler {
    Arc::new(move |job: Job| {
        let (tx, rx) = oneshot::channel();
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        CALLS.lock().insert(id, Call { job: job.clone(), answer: tx });
        let waiting = Waiting { id, abandon: abandon.clone() };
        let invoked = invoke(id, &job);
        Box::pin(async move {
            let _waiting = waiting;
            if !invoked {
                return Err(Error::new(ErrorCode::JobFailed, "the handler's host is gone"));
            }
            tokio::select! {
                r = rx => r.unwrap_or_else(|_| Err(Error::new(ErrorCode::JobFailed, "the handler was dropped"))),
                _ = job.cancelled().cancelled() => Err(Error::new(ErrorCode::JobFailed, "the attempt was stopped")),
            }
        })
    })
}

/// Answers call `id`: the handler's result (MessagePack) or its error. False when the call is
/// gone (abandoned, or answered already).
pub fn answer(id: u32, result: Result<Bytes>) -> bool {
    match CALLS.lock().remove(&id) {
        Some(c) => c.answer.send(result).is_ok(),
        None => false,
    }
}

/// The error a door's handler failed with: its code when it carries one of Omnitron's, else
/// `Q005` with the message.
pub fn failure(code: Option<&str>, message: &str) -> Error {
    match code.and_then(ErrorCode::from_id) {
        Some(c) => Error::new(c, message),
        None => Error::new(ErrorCode::JobFailed, message),
    }
}

/// The job of call `id` (for `job.progress(...)` from the host), while it runs.
pub fn job(id: u32) -> Option<Job> {
    CALLS.lock().get(&id).map(|c| c.job.clone())
}

/// A MessagePack map written by hand, so that payloads already in MessagePack (a job's data, its
/// result) are embedded as they are, not decoded and encoded again.
struct Map {
    out: Vec<u8>,
}

impl Map {
    fn new(len: usize) -> Map {
        let mut out = Vec::with_capacity(64);
        if len < 16 {
            out.push(0x80 | len as u8);
        } else {
            out.push(0xde);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        Map { out }
    }

    fn key(mut self, k: &str) -> Map {
        str_into(&mut self.out, k);
        self
    }

    fn str(mut self, k: &str, v: &str) -> Map {
        self = self.key(k);
        str_into(&mut self.out, v);
        self
    }

    fn uint(mut self, k: &str, v: u64) -> Map {
        self = self.key(k);
        self.out.push(0xcf);
        self.out.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn bool(mut self, k: &str, v: bool) -> Map {
        self = self.key(k);
        self.out.push(if v { 0xc3 } else { 0xc2 });
        self
    }

    /// `v`, already MessagePack (nil when none or empty).
    fn raw(mut self, k: &str, v: Option<&[u8]>) -> Map {
        self = self.key(k);
        match v {
            Some(b) if !b.is_empty() => self.out.extend_from_slice(b),
            _ => self.out.push(0xc0),
        }
        self
    }

    fn done(self) -> Vec<u8> {
        self.out
    }
}

fn str_into(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n < 256 {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n < 65_536 {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn array_into(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn error_map(e: &AttemptError) -> Vec<u8> {
    Map::new(4)
        .uint("attempt", u64::from(e.attempt))
        .uint("at", e.at_ms)
        .str("code", &e.code)
        .str("message", &e.message)
        .done()
}

/// A job as a door reads it: `{id, name, data, state, attempts, errors, progress, result, priority,
/// createdAt, finishedAt}` (times in ms since the epoch; `finishedAt` 0 while it runs).
pub fn info_envelope(j: &JobInfo) -> Vec<u8> {
    let mut m = Map::new(11)
        .str("id", &j.id)
        .str("name", &j.name)
        .raw("data", Some(&j.data))
        .str("state", j.state.as_str())
        .uint("attempts", u64::from(j.attempts))
        .key("errors");
    array_into(&mut m.out, j.errors.len());
    for e in &j.errors {
        m.out.extend_from_slice(&error_map(e));
    }
    m.raw("progress", j.progress.as_deref())
        .raw("result", j.result.as_deref())
        .uint("priority", u64::from(j.priority))
        .uint("createdAt", j.created_ms)
        .uint("finishedAt", j.finished_ms.unwrap_or(0))
        .done()
}

/// Jobs as a door reads them: an array of [`info_envelope`]s.
pub fn infos_envelope(jobs: &[JobInfo]) -> Vec<u8> {
    let mut out = Vec::new();
    array_into(&mut out, jobs.len());
    for j in jobs {
        out.extend_from_slice(&info_envelope(j));
    }
    out
}

/// Counts as a door reads them: `{waiting, delayed, active, completed, dead, paused}`.
pub fn counts_envelope(c: &Counts) -> Vec<u8> {
    Map::new(6)
        .uint("waiting", c.waiting)
        .uint("delayed", c.delayed)
        .uint("active", c.active)
        .uint("completed", c.completed)
        .uint("dead", c.dead)
        .bool("paused", c.paused)
        .done()
}

/// An event as a door's `@OnQueueEvent` handler gets it: `{event, id, name, attempt, result,
/// error, dead, requeued, progress}`, the members that apply (others nil).
pub fn event_envelope(e: &QueueEvent) -> Vec<u8> {
    let m = Map::new(9).str("event", e.kind());
    let none: Option<&[u8]> = None;
    match e {
        QueueEvent::Completed { id, name, attempt, result } => m
            .str("id", id)
            .str("name", name)
            .uint("attempt", u64::from(*attempt))
            .raw("result", Some(result))
            .raw("error", none)
            .bool("dead", false)
            .bool("requeued", false)
            .raw("progress", none),
        QueueEvent::Failed { id, name, attempt, error, dead } => m
            .str("id", id)
            .str("name", name)
            .uint("attempt", u64::from(*attempt))
            .raw("result", none)
            .str("error", error)
            .bool("dead", *dead)
            .bool("requeued", false)
            .raw("progress", none),
        QueueEvent::Stalled { id, requeued } => m
            .str("id", id)
            .raw("name", none)
            .raw("attempt", none)
            .raw("result", none)
            .raw("error", none)
            .bool("dead", !requeued)
            .bool("requeued", *requeued)
            .raw("progress", none),
        QueueEvent::Progress { id, progress } => m
            .str("id", id)
            .raw("name", none)
            .raw("attempt", none)
            .raw("result", none)
            .raw("error", none)
            .bool("dead", false)
            .bool("requeued", false)
            .raw("progress", Some(progress)),
        QueueEvent::Drained => m
            .raw("id", none)
            .raw("name", none)
            .raw("attempt", none)
            .raw("result", none)
            .raw("error", none)
            .bool("dead", false)
            .bool("requeued", false)
            .raw("progress", none),
    }
    .done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_messagepack_every_reader_decodes() {
        let c = Counts { waiting: 3, dead: 1, paused: true, ..Counts::default() };
        let v: serde_json::Value = rmp_serde::from_slice(&counts_envelope(&c)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"waiting": 3, "delayed": 0, "active": 0, "completed": 0, "dead": 1, "paused": true})
        );
        let result = rmp_serde::to_vec_named(&serde_json::json!({"ok": [1, 2]})).unwrap();
        let long = "x".repeat(300);
        let e =
            QueueEvent::Completed { id: long.clone(), name: "n".into(), attempt: 2, result: result.into() };
        let v: serde_json::Value = rmp_serde::from_slice(&event_envelope(&e)).unwrap();
        assert_eq!(
            (v["event"].as_str(), v["id"].as_str(), v["attempt"].as_u64()),
            (Some("completed"), Some(long.as_str()), Some(2))
        );
        assert_eq!(v["result"], serde_json::json!({"ok": [1, 2]}));
        assert!(v["error"].is_null());
        let v: serde_json::Value = rmp_serde::from_slice(&event_envelope(&QueueEvent::Drained)).unwrap();
        assert_eq!(v["event"], "drained");
    }
}
