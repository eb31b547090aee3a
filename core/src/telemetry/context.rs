//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the ids a hop carries, and their
//! `traceparent` / `tracestate` text.

use std::fmt;
use std::sync::Arc;

/// Where a call is in a trace: the trace, the span that made the call, and whether that trace is
/// sampled (recorded and exported). Cheap to copy around: the `tracestate` is shared.
#[derive(Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace's id, never zero.
    pub trace_id: u128,
    /// The span's id, never zero.
    pub span_id: u64,
    /// The `sampled` flag: spans of this trace are recorded and exported.
    pub sampled: bool,
    /// The vendors' `tracestate`, passed on unchanged (empty: none).
    pub state: Option<Arc<str>>,
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceContext({})", self.traceparent())
    }
}

/// A `tracestate` longer than this is dropped (the W3C limit is 32 members of at most 256 bytes;
/// 512 is what a propagator must at least pass on).
const MAX_STATE: usize = 8192;

impl TraceContext {
    /// A context with a new random trace id and span id (a root).
    pub fn root(sampled: bool) -> TraceContext {
        TraceContext { trace_id: new_trace_id(), span_id: new_span_id(), sampled, state: None }
    }

    /// A child of this context: the same trace, a new span id.
    pub fn child(&self) -> TraceContext {
        TraceContext { span_id: new_span_id(), ..self.clone() }
    }

    /// Parses a `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`). Version 00 must be exactly
    /// that; a later version may carry more fields after a dash, which are ignored as the
    /// specification says. None for anything malformed, an all-zero id, or version `ff`.
    pub fn from_traceparent(s: &str) -> Option<TraceContext> {
        Self::from_traceparent_bytes(s.trim().as_bytes())
    }

    /// [`TraceContext::from_traceparent`] over bytes (what the wire carries).
    pub fn from_traceparent_bytes(b: &[u8]) -> Option<TraceContext> {
        if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let version = hex_u8(&b[0..2])?;
        if version == 0xff || (version == 0 && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
            return None;
        }
        let trace_id = hex_u128(&b[3..35])?;
        let span_id = hex_u64(&b[36..52])?;
        let flags = hex_u8(&b[53..55])?;
        if trace_id == 0 || span_id == 0 {
            return None;
        }
        Some(TraceContext { trace_id, span_id, sampled: flags & 1 == 1, state: None })
    }

    /// With this `tracestate` (trimmed; an empty or oversized one is dropped).
    pub fn with_state(mut self, state: Option<&str>) -> TraceContext {
        self.state = state.map(str::trim).filter(|s| !s.is_empty() && s.len() <= MAX_STATE).map(Arc::from);
        self
    }

    /// The `traceparent` header for this context.
    pub fn traceparent(&self) -> String {
        let b = self.traceparent_bytes();
        // All ASCII hex and dashes.
        String::from_utf8_lossy(&b).into_owned()
    }

    /// The `traceparent` header's 55 bytes, written without a formatter (every RPC call with
    /// tracing on writes one).
    pub fn traceparent_bytes(&self) -> [u8; 55] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut b = [b'-'; 55];
        b[0] = b'0';
        b[1] = b'0';
        for i in 0..32 {
            b[3 + i] = HEX[((self.trace_id >> (124 - 4 * i)) & 0xf) as usize];
        }
        for i in 0..16 {
            b[36 + i] = HEX[((self.span_id >> (60 - 4 * i)) & 0xf) as usize];
        }
        b[53] = b'0';
        b[54] = if self.sampled { b'1' } else { b'0' };
        b
    }

    /// From the two W3C headers, as the doors hand them over; None if `traceparent` is not valid
    /// (W3C: a new trace starts, nothing is passed on).
    pub fn from_headers(traceparent: &str, tracestate: Option<&str>) -> Option<TraceContext> {
        TraceContext::from_traceparent(traceparent).map(|c| c.with_state(tracestate))
    }

    /// The two W3C headers: `traceparent`, and `tracestate` when there is one.
    pub fn headers(&self) -> (String, Option<String>) {
        (self.traceparent(), self.state.as_deref().map(str::to_string))
    }

    /// The trace id as 32 lowercase hex digits (what logs and OTLP viewers show).
    pub fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        format!("{:016x}", self.span_id)
    }
}

/// A new random trace id (never zero).
pub fn new_trace_id() -> u128 {
    loop {
        let id = fastrand::u128(..);
        if id != 0 {
            return id;
        }
    }
}

/// A new random span id (never zero).
pub fn new_span_id() -> u64 {
    loop {
        let id = fastrand::u64(..);
        if id != 0 {
            return id;
        }
    }
}

fn hex_u8(b: &[u8]) -> Option<u8> {
    hex_u64(b).map(|v| v as u8)
}

/// Each byte's value as a lowercase hex digit, or 0xff (W3C allows lowercase only).
const NIBBLE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Up to 16 hex digits; None if any is not one. A table lookup per digit and one check at the end
/// (every traced request parses 50 of them).
fn hex_u64(b: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    let mut bad = 0u8;
    for &c in b {
        let d = NIBBLE[c as usize];
        bad |= d;
        v = (v << 4) | u64::from(d & 0xf);
    }
    (bad & 0xf0 == 0).then_some(v)
}

fn hex_u128(b: &[u8]) -> Option<u128> {
    let (hi, lo) = b.split_at(b.len().saturating_sub(16));
    Some((u128::from(hex_u64(hi)?) << 64) | u128::from(hex_u64(lo)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips() {
        let s = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let c = TraceContext::from_traceparent(s).unwrap();
        assert_eq!(c.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(c.span_id, 0x00f067aa0ba902b7);
        assert!(c.sampled);
        assert_eq!(c.traceparent(), s);
        let unsampled =
            TraceContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        assert!(!unsampled.unwrap().sampled);
    }

    #[test]
    fn malformed_traceparents_are_refused() {
        for s in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(TraceContext::from_traceparent(s).is_none(), "{s:?} should be refused");
        }
        // A later version may append fields.
        assert!(
            TraceContext::from_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz")
                .is_some()
        );
    }

    #[test]
    fn children_keep_the_trace() {
        let root = TraceContext::root(true).with_state(Some("vendor=1"));
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.span_id, root.span_id);
        assert_eq!(child.state.as_deref(), Some("vendor=1"));
    }
}
