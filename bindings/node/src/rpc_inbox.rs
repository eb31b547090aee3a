//! What a peer hands to JavaScript (answers to its calls, calls for its handlers, events), in
//! batches: producers push from any thread; the first push after a drain wakes JavaScript once, and
//! JavaScript takes everything queued with one `drain(buffer)` (see `batch`).

use std::sync::Arc;

use bytes::Bytes;
use omnitron::rpc::WireError;

use crate::batch::{Direct, Parts, Queue};

pub(crate) enum Item {
    /// A call made from JavaScript finished (or a stream it started moved on).
    Done(u32, Result<Bytes, WireError>),
    /// A call for a JavaScript handler: serving id, the method's number (`expose`), arguments,
    /// and its trace context (`traceparent`, `tracestate`) when it has one.
    Call(u32, u32, Bytes, Option<crate::telemetry::CallTrace>),
    /// An event for a subscription: subscription id, topic, payload, and the publisher's
    /// `traceparent` when it had one.
    Event(u32, String, Bytes, Option<String>),
}

// Kinds, as `lib/rpc/peer.ts` reads them.
const ANSWER: u8 = 0;
const ERROR: u8 = 1;
const CALL: u8 = 2;
const EVENT: u8 = 3;

fn parts(item: &Item) -> Parts<'_> {
    match item {
        Item::Done(id, Ok(v)) => Parts { kind: ANSWER, id: *id, aux: 0, bytes: v, strings: [None, None] },
        Item::Done(id, Err(e)) => Parts {
            kind: ERROR,
            id: *id,
            aux: 0,
            bytes: e.data.as_deref().unwrap_or(&[]),
            strings: [Some(&e.code), Some(&e.message)],
        },
        Item::Call(id, handler, args, trace) => Parts {
            kind: CALL,
            id: *id,
            aux: *handler,
            bytes: args,
            strings: match trace {
                Some(t) => t.strings(),
                None => [None, None],
            },
        },
        Item::Event(sub, topic, payload, trace) => {
            Parts { kind: EVENT, id: *sub, aux: 0, bytes: payload, strings: [Some(topic), trace.as_deref()] }
        }
    }
}

pub(crate) struct Inbox(Arc<Queue<Item>>);

impl Inbox {
    pub(crate) fn new(wake: crate::batch::WakeFn, direct: Option<Direct>) -> Arc<Inbox> {
        Arc::new(Inbox(Queue::new(wake, direct)))
    }

    pub(crate) fn push(&self, item: Item) {
        self.0.push(item);
    }

    pub(crate) fn drain_into(&self, out: &mut [u8]) -> i64 {
        self.0.drain_into(out, parts)
    }
}
