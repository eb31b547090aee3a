//! The latest finished spans of this process, kept in a bounded ring for the status page
//! (`omnitron start` asks each child for them through the built-in `$status` service). The
//! exporter thread fills the ring after each batch, so a call pays nothing more for it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::span::{AttrValue, SpanData, SpanKind, Status};
use super::tracer::tracer;

/// A finished span as the status page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentSpan {
    /// Its trace, 32 hex digits.
    pub trace_id: String,
    /// Its id, 16 hex digits.
    pub span_id: String,
    /// Its parent's id, or empty for a root.
    pub parent_span_id: String,
    /// Its name.
    pub name: String,
    /// `internal`, `server`, `client`, `producer` or `consumer`.
    pub kind: String,
    /// Start and end, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End.
    pub end_ns: u64,
    /// `unset`, `ok` or `error`.
    pub status: String,
    /// The error's message when `status` is `error`.
    pub error: Option<String>,
    /// `service.name` of the process that recorded it.
    pub service: String,
    /// Its attributes, as text.
    pub attributes: Vec<(String, String)>,
    /// The spans it links to (a resumed workflow run's first trace), as W3C traceparents.
    pub links: Vec<String>,
}

/// A bounded ring of spans (oldest dropped first).
#[derive(Default)]
pub(super) struct Ring {
    cap: usize,
    // Kept as recorded: converting happens only when the page asks.
    #[allow(clippy::vec_box)]
    spans: VecDeque<Box<SpanData>>,
}

impl Ring {
    pub(super) fn new(cap: usize) -> Ring {
        Ring { cap, spans: VecDeque::with_capacity(cap.min(1024)) }
    }

    pub(super) fn push(&mut self, span: Box<SpanData>) {
        if self.cap == 0 {
            return;
        }
        if self.spans.len() == self.cap {
            self.spans.pop_front();
        }
        self.spans.push_back(span);
    }
}

/// The latest spans this process finished (up to `keep_recent`, oldest first); empty when
/// tracing is off or keeps none.
pub fn recent_spans() -> Vec<RecentSpan> {
    let Some(t) = tracer() else { return Vec::new() };
    let service = &t.config.service_name;
    // Copied under the lock (the exporter thread waits on it), converted outside.
    let spans: Vec<SpanData> = t.recent.lock().spans.iter().map(|s| (**s).clone()).collect();
    spans.iter().map(|s| to_recent(s, service)).collect()
}

fn to_recent(s: &SpanData, service: &str) -> RecentSpan {
    let (status, error) = match &s.status {
        Status::Unset => ("unset", None),
        Status::Ok => ("ok", None),
        Status::Error(m) => ("error", Some(m.clone())),
    };
    RecentSpan {
        trace_id: s.context.trace_id_hex(),
        span_id: format!("{:016x}", s.context.span_id),
        parent_span_id: if s.parent_span_id == 0 {
            String::new()
        } else {
            format!("{:016x}", s.parent_span_id)
        },
        name: s.name.to_string(),
        kind: kind_name(s.kind).to_string(),
        start_ns: s.start_ns,
        end_ns: s.end_ns,
        status: status.to_string(),
        error,
        service: service.to_string(),
        attributes: s
            .attributes
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    AttrValue::Str(s) => s.to_string(),
                    AttrValue::Int(i) => i.to_string(),
                    AttrValue::Float(f) => f.to_string(),
                    AttrValue::Bool(b) => b.to_string(),
                };
                (k.to_string(), v)
            })
            .collect(),
        links: s.links.iter().map(|l| l.traceparent()).collect(),
    }
}

fn kind_name(k: SpanKind) -> &'static str {
    match k {
        SpanKind::Internal => "internal",
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    }
}
