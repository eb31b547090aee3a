//! How a handler's answer reaches a caller in another process from the handler's own thread: a
//! unary handler's `CallContext::answer_now` goes through [`DirectAnswer`], a deferred handler's
//! `Reply` through [`AnswerSink::finish_deferred`].
//!
//! The connection is reached through [`AnswerSink`] (`conn.rs` implements it), not named: a
//! connection holds the deferred calls it serves, they hold their services, and a service's
//! handlers take these answers, so naming `Conn` here would tie those files in a circle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

use super::codec::WireError;

/// Where the answers to a connection's requests are written: the connection (`conn::Conn`).
pub(crate) trait AnswerSink: Send + Sync + std::fmt::Debug {
    /// Writes the answer to request `id`, which a handler gave from its own thread (see
    /// [`DirectAnswer::send`]).
    fn answer_direct(&self, id: u64, r: &Result<Bytes, WireError>);

    /// Answers deferred call `key` (request `id`) with its handler's result; false if it no
    /// longer waits for one.
    fn finish_deferred(&self, id: u64, key: u64, r: Result<Bytes, WireError>) -> bool;
}

/// The way to answer one request straight into its connection, from any thread (see
/// `CallContext::answer_now`). Whoever answers first (the handler through this, or the serving
/// task with the handler's result) sends; the other does not.
#[derive(Debug, Clone)]
pub(crate) struct DirectAnswer {
    pub(crate) conn: Arc<dyn AnswerSink>,
    pub(crate) id: u64,
    pub(crate) sent: Arc<AtomicBool>,
}

impl DirectAnswer {
    /// Sends the answer unless one was sent; true if this sent it.
    pub(crate) fn send(&self, r: &Result<Bytes, WireError>) -> bool {
        if self.sent.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.conn.answer_direct(self.id, r);
        true
    }
}
