//! OTLP's trace messages in protobuf (opentelemetry-proto's `trace/v1/trace.proto`), written by
//! hand: the few messages an export needs, so that no code generator or gRPC stack is built.
//! The tests decode what this writes with the official `opentelemetry-proto` package.

use super::span::{AttrValue, SpanData, Status};

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, LEN);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn str_field(out: &mut Vec<u8>, field: u32, s: &str) {
    if !s.is_empty() {
        bytes_field(out, field, s.as_bytes());
    }
}

fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

fn fixed32(out: &mut Vec<u8>, field: u32, v: u32) {
    tag(out, field, FIXED32);
    out.extend_from_slice(&v.to_le_bytes());
}

/// A nested message: written after its length, which is only known once it is written.
fn message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    body(&mut inner);
    bytes_field(out, field, &inner);
}

/// `KeyValue { string key = 1; AnyValue value = 2; }`
fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: &AttrValue) {
    message(out, field, |kv| {
        str_field(kv, 1, key);
        message(kv, 2, |any| match value {
            AttrValue::Str(s) => bytes_field(any, 1, s.as_bytes()),
            AttrValue::Bool(b) => {
                tag(any, 2, VARINT);
                varint(any, u64::from(*b));
            }
            AttrValue::Int(i) => {
                tag(any, 3, VARINT);
                varint(any, *i as u64);
            }
            AttrValue::Float(f) => fixed64(any, 4, f.to_bits()),
        });
    });
}

/// The resource every span of this process shares, and the scope its spans come from.
pub(super) struct Resource<'a> {
    pub(super) attributes: Vec<(&'a str, AttrValue)>,
    pub(super) scope_version: &'a str,
}

/// `ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }` for one resource
/// and one instrumentation scope (`omnitron`).
pub(super) fn export_request(resource: &Resource<'_>, spans: &[Box<SpanData>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + spans.len() * 160);
    message(&mut out, 1, |rs| {
        // ResourceSpans.resource = 1: Resource { repeated KeyValue attributes = 1; }
        message(rs, 1, |r| {
            for (k, v) in &resource.attributes {
                key_value(r, 1, k, v);
            }
        });
        // ResourceSpans.scope_spans = 2: ScopeSpans { scope = 1; repeated Span spans = 2; }
        message(rs, 2, |ss| {
            message(ss, 1, |scope| {
                str_field(scope, 1, "omnitron");
                str_field(scope, 2, resource.scope_version);
            });
            for s in spans {
                message(ss, 2, |out| span(out, s));
            }
        });
    });
    out
}

/// `Span` (fields by number: trace_id 1, span_id 2, trace_state 3, parent_span_id 4, name 5,
/// kind 6, start 7, end 8, attributes 9, links 13, status 15, flags 16).
fn span(out: &mut Vec<u8>, s: &SpanData) {
    bytes_field(out, 1, &s.context.trace_id.to_be_bytes());
    bytes_field(out, 2, &s.context.span_id.to_be_bytes());
    if let Some(state) = &s.context.state {
        str_field(out, 3, state);
    }
    if s.parent_span_id != 0 {
        bytes_field(out, 4, &s.parent_span_id.to_be_bytes());
    }
    str_field(out, 5, &s.name);
    tag(out, 6, VARINT);
    varint(out, s.kind.otlp());
    fixed64(out, 7, s.start_ns);
    fixed64(out, 8, s.end_ns);
    for (k, v) in &s.attributes {
        key_value(out, 9, k, v);
    }
    for l in &s.links {
        message(out, 13, |link| {
            bytes_field(link, 1, &l.trace_id.to_be_bytes());
            bytes_field(link, 2, &l.span_id.to_be_bytes());
            if let Some(state) = &l.state {
                str_field(link, 3, state);
            }
            fixed32(link, 6, u32::from(l.sampled));
        });
    }
    // Status { string message = 2; StatusCode code = 3; }
    match &s.status {
        Status::Unset => {}
        Status::Ok => message(out, 15, |st| {
            tag(st, 3, VARINT);
            varint(st, 1);
        }),
        Status::Error(m) => message(out, 15, |st| {
            str_field(st, 2, m);
            tag(st, 3, VARINT);
            varint(st, 2);
        }),
    }
    // Flags: the W3C trace flags (sampled); whether the parent was remote is left unsaid.
    fixed32(out, 16, u32::from(s.context.sampled));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_little_endian_base_128() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        out.clear();
        varint(&mut out, (-1i64) as u64);
        assert_eq!(out.len(), 10);
    }
}
