//! Trace context in the RPC protocol: a REQUEST's `trace` field is a MessagePack map with the W3C
//! keys, `traceparent` and (when there is one) `tracestate` (docs/PROTOCOL.md). Other keys are
//! ignored, so a later version can add some.

use bytes::Bytes;

use super::context::TraceContext;
use crate::rpc::msgpack::{Reader, write_map_len, write_str};

/// The `trace` field for a context.
pub fn to_wire(ctx: &TraceContext) -> Bytes {
    let mut out = Vec::with_capacity(80);
    write_map_len(&mut out, if ctx.state.is_some() { 2 } else { 1 });
    write_str(&mut out, "traceparent");
    write_str(&mut out, &ctx.traceparent());
    if let Some(s) = &ctx.state {
        write_str(&mut out, "tracestate");
        write_str(&mut out, s);
    }
    Bytes::from(out)
}

/// The current context (the task's or the thread's) as a `trace` field: what a door's blocking
/// call passes on, read on the caller's thread before the call moves to an engine thread.
pub fn current_wire() -> Option<Bytes> {
    super::current::current().map(|c| to_wire(&c))
}

/// The context a `trace` field carries; None if it is not a map with a valid `traceparent`.
pub fn from_wire(raw: &Bytes) -> Option<TraceContext> {
    let mut r = Reader::new(raw.clone());
    let n = r.map_len().ok()?;
    let (mut parent, mut state) = (None, None);
    for _ in 0..n {
        let key = r.str().ok()?;
        match key.as_str() {
            "traceparent" => parent = Some(r.str().ok()?),
            "tracestate" => state = Some(r.str().ok()?),
            _ => r.skip_value().ok()?,
        }
    }
    TraceContext::from_traceparent(parent.as_deref()?).map(|c| c.with_state(state.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_cross_the_wire() {
        let c = TraceContext::root(true).with_state(Some("a=1"));
        let back = from_wire(&to_wire(&c)).unwrap();
        assert_eq!(back, c);
        let plain = TraceContext::root(false);
        assert_eq!(from_wire(&to_wire(&plain)).unwrap(), plain);
        // Not a map, a map without the key, a bad value: no context, no error.
        for raw in [&[0xc0u8][..], &[0x80], &[0x81, 0xa1, b'x', 0x01], &[0x81, 0xab]] {
            assert!(from_wire(&Bytes::copy_from_slice(raw)).is_none());
        }
    }
}
