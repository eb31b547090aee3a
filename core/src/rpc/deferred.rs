//! Handlers that answer later, from any thread: for bindings whose handlers run on an event loop
//! (Node) and answer when that loop gets to them. Such a call costs no future, task, timer or
//! cancellation token. A request from another process is recorded in its connection's serving
//! map with its deadline; the handler answers through its [`Reply`]; a CANCEL, the deadline (the
//! connection's sweeper) or a disconnect takes the record out instead, answers `E005` / `E006`
//! as a waiting future's handler would, and tells the service's cancel callback the call's key.
//! Such a call, as its connection records it, is in `deferred_call.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::answer::AnswerSink;
use super::codec::{WireError, wire};
use crate::error::ErrorCode;

/// Starts a call: the raw MessagePack arguments and the way to answer it.
pub type DeferredStart = Arc<dyn Fn(Bytes, Reply) + Send + Sync>;

/// Told the key ([`Reply::key`]) of a call that will not take an answer any more (cancelled by
/// its caller, past its deadline, or its caller disconnected): stop working on it.
pub type DeferredCancel = Arc<dyn Fn(u64) + Send + Sync>;

/// A method answered through a [`Reply`] (see
/// [`ServiceBuilder::deferred`](crate::rpc::ServiceBuilder::deferred)).
#[derive(Clone)]
pub struct DeferredHandler {
    pub(crate) start: DeferredStart,
    pub(crate) cancel: DeferredCancel,
}

impl std::fmt::Debug for DeferredHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeferredHandler")
    }
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// A new call key, unique in this process: [`Reply::key`] takes its keys from here, and a binding
/// that tracks other work in the same table can too.
pub fn next_call_key() -> u64 {
    NEXT_KEY.fetch_add(1, Ordering::Relaxed)
}

/// The way to answer one call of a deferred handler. Dropping it without answering leaves the
/// call to its deadline.
#[derive(Debug)]
pub struct Reply {
    key: u64,
    to: ReplyTo,
    trace: Option<Bytes>,
}

#[derive(Debug)]
enum ReplyTo {
    /// A request from another process: answered straight into its connection.
    Conn(Arc<dyn AnswerSink>, u64),
    /// A call made in this process.
    Local(oneshot::Sender<Result<Bytes, WireError>>),
}

impl Reply {
    pub(crate) fn conn(key: u64, conn: Arc<dyn AnswerSink>, id: u64, trace: Option<Bytes>) -> Reply {
        Reply { key, to: ReplyTo::Conn(conn, id), trace }
    }

    /// The call's trace context (the `trace` field, a raw MessagePack map): what the handler's
    /// code runs under and passes on to the calls it makes.
    pub fn trace(&self) -> Option<&Bytes> {
        self.trace.as_ref()
    }

    /// This call's key, unique in this process; the cancel callback is told it.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// Answers the call (counted in the service's metrics). False if it no longer waits for an
    /// answer: cancelled, past its deadline, or its caller gone.
    pub fn send(self, r: Result<Bytes, WireError>) -> bool {
        match self.to {
            ReplyTo::Conn(conn, id) => conn.finish_deferred(id, self.key, r),
            ReplyTo::Local(tx) => tx.send(r).is_ok(),
        }
    }
}

/// Starts a deferred handler for a call made in this process; the future gives its answer. If it
/// is dropped first (deadline, cancellation), the handler is told to stop.
pub(crate) fn start_local(
    h: &DeferredHandler,
    args: Bytes,
    trace: Option<Bytes>,
) -> impl std::future::Future<Output = Result<Bytes, WireError>> + Send + 'static {
    let (tx, rx) = oneshot::channel();
    let key = next_call_key();
    (h.start)(args, Reply { key, to: ReplyTo::Local(tx), trace });
    let guard = CancelUnlessAnswered { key, cancel: h.cancel.clone(), answered: false };
    async move {
        // The whole guard moves into the future (not just the field assigned below).
        let mut guard = guard;
        let r = rx.await;
        guard.answered = true;
        r.unwrap_or_else(|_| {
            Err(wire(ErrorCode::HandlerFailed, "the handler dropped the call without answering"))
        })
    }
}

struct CancelUnlessAnswered {
    key: u64,
    cancel: DeferredCancel,
    answered: bool,
}

impl Drop for CancelUnlessAnswered {
    fn drop(&mut self) {
        if !self.answered {
            (self.cancel)(self.key);
        }
    }
}
