//! Trace context in the RPC protocol: a REQUEST's `trace` field is a MessagePack map with the W3C
//! keys, `traceparent` and (when there is one) `tracestate` (docs/PROTOCOL.md). Other keys are
//! ignored, so a later version can add some.

use bytes::Bytes;

use super::context::TraceContext;
use crate::rpc::msgpack::{Reader, write_map_len, write_str};

/// The field's usual form, a map of one key: `{ "traceparent": <55 bytes> }`, up to the value.
const PLAIN_HEAD: &[u8; 15] = b"\x81\xabtraceparent\xd9\x37";

/// The `trace` field for a context.
pub fn to_wire(ctx: &TraceContext) -> Bytes {
    let Some(state) = &ctx.state else {
        // Written in one go: every traced call makes one.
        let mut out = [0u8; 70];
        out[..15].copy_from_slice(PLAIN_HEAD);
        out[15..].copy_from_slice(&ctx.traceparent_bytes());
        return Bytes::copy_from_slice(&out);
    };
    let mut out = Vec::with_capacity(96 + state.len());
    write_map_len(&mut out, 2);
    write_str(&mut out, "traceparent");
    write_str(&mut out, &ctx.traceparent());
    write_str(&mut out, "tracestate");
    write_str(&mut out, state);
    Bytes::from(out)
}

/// The current context (the task's or the thread's) as a `trace` field: what a door's blocking
/// call passes on, read on the caller's thread before the call moves to an engine thread.
pub fn current_wire() -> Option<Bytes> {
    super::current::current().map(|c| to_wire(&c))
}

/// [`current_wire`], at the cost of one load in a process where no context was ever current.
pub fn current_wire_if_any() -> Option<Bytes> {
    if super::current::any_context() { current_wire() } else { None }
}

/// The `traceparent` of a `trace` field in the usual form (a map of that one key), borrowed from
/// it; None for any other form. Not checked beyond being ASCII: what a door hands its code, which
/// checks it where it is used (a call made with it, an OpenTelemetry context).
pub fn plain_traceparent(raw: &Bytes) -> Option<&str> {
    if raw.len() == 70 && raw.starts_with(PLAIN_HEAD) { std::str::from_utf8(&raw[15..]).ok() } else { None }
}

/// Whether a `trace` field in the usual form says its trace is not sampled: read from the flags'
/// last digit alone, so that a hop that records nothing passes it on without parsing it.
pub(crate) fn plainly_unsampled(raw: &Bytes) -> bool {
    raw.len() == 70 && raw.starts_with(PLAIN_HEAD) && raw[67] == b'-' && raw[68] == b'0' && raw[69] == b'0'
}

/// The context a `trace` field carries; None if it is not a map with a valid `traceparent`.
pub fn from_wire(raw: &Bytes) -> Option<TraceContext> {
    if raw.len() == 70 && raw.starts_with(PLAIN_HEAD) {
        return TraceContext::from_traceparent_bytes(&raw[15..]);
    }
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
        assert!(plainly_unsampled(&to_wire(&plain)));
        assert!(!plainly_unsampled(&to_wire(&TraceContext::root(true))));
        // Not a map, a map without the key, a bad value: no context, no error.
        for raw in [&[0xc0u8][..], &[0x80], &[0x81, 0xa1, b'x', 0x01], &[0x81, 0xab]] {
            assert!(from_wire(&Bytes::copy_from_slice(raw)).is_none());
        }
    }
}
