//! The handles of calls in flight that a caller holds: [`CallHandle`] (to cancel a call made with a
//! callback) and [`RpcStream`] (the items of a streaming call).

use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::codec::WireError;
use super::conn::{Conn, RemoteStream, StreamEvent};
use super::service::decode;
use crate::error::Result;

/// A call made with [`Peer::call_raw_with`](crate::rpc::Peer::call_raw_with), to cancel it: the callee is sent CANCEL and the
/// callback is not called (unless it already was).
#[derive(Debug)]
pub struct CallHandle(pub(super) CallHandleInner);

#[derive(Debug)]
pub(super) enum CallHandleInner {
    Conn(Arc<Conn>, u64),
    Task(tokio::task::AbortHandle),
    Finished,
}

impl CallHandle {
    /// Stops waiting for the answer.
    pub fn cancel(&self) {
        self.cancel_pending();
    }

    /// [`CallHandle::cancel`]; true if the callback was still pending and will not be called (a
    /// call made from a task: true if the task was still there to abort).
    pub(crate) fn cancel_pending(&self) -> bool {
        match &self.0 {
            CallHandleInner::Conn(conn, id) => conn.forget_callback(*id),
            // Dropping the call's future sends CANCEL.
            CallHandleInner::Task(task) => {
                let running = !task.is_finished();
                task.abort();
                running
            }
            CallHandleInner::Finished => false,
        }
    }
}

/// The stream of a streaming call.
pub struct RpcStream {
    pub(super) inner: StreamInner,
    /// The call's client span, when its trace is recorded: ended with the stream (its error, if
    /// it ends with one), or when the stream is dropped.
    pub(super) span: Option<crate::telemetry::Span>,
}

pub(super) enum StreamInner {
    Remote(RemoteStream),
    Local(mpsc::Receiver<StreamEvent>),
}

impl std::fmt::Debug for RpcStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RpcStream")
    }
}

impl RpcStream {
    /// The next raw item; `None` at the end.
    pub async fn next_raw(&mut self) -> Option<std::result::Result<Bytes, WireError>> {
        let next = match &mut self.inner {
            StreamInner::Remote(r) => r.next().await,
            StreamInner::Local(rx) => match rx.recv().await {
                Some(StreamEvent::Item(b)) => Some(Ok(b)),
                Some(StreamEvent::End) | None => None,
                Some(StreamEvent::Error(e)) => Some(Err(e)),
            },
        };
        if self.span.is_some() {
            match &next {
                None => crate::telemetry::rpc::end(self.span.take(), &Ok::<(), WireError>(())),
                Some(Err(e)) => crate::telemetry::rpc::end(self.span.take(), &Err::<(), _>(e.clone())),
                Some(Ok(_)) => {}
            }
        }
        next
    }

    /// The next item, decoded; `None` at the end.
    pub async fn next<T: DeserializeOwned>(&mut self) -> Option<Result<T>> {
        match self.next_raw().await? {
            Ok(b) => Some(decode(&b)),
            Err(e) => Some(Err(e.to_error())),
        }
    }
}
