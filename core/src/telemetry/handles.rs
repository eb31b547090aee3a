//! Spans held by number, for the doors: JavaScript, Python and C start a span, get a number and
//! its context back, and end it by that number later (a span cannot cross into their heaps).

use std::collections::HashMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::context::TraceContext;
use super::span::{AttrValue, Span, SpanKind, Status};

static SPANS: LazyLock<Mutex<HashMap<u64, Span>>> = LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Starts a span for a door: its number (0 when it is not recorded: nothing to end) and its
/// context, which the door makes current for the code the span wraps.
pub fn start_span(name: String, kind: SpanKind, parent: Option<&TraceContext>) -> (u64, TraceContext) {
    let span = Span::start(name, kind, parent);
    let context = span.context().clone();
    if !span.is_recording() {
        return (0, context);
    }
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    SPANS.lock().insert(id, span);
    (id, context)
}

/// Sets an attribute on a span [`start_span`] started (nothing once it ended).
pub fn set_span_attribute(id: u64, key: String, value: AttrValue) {
    if let Some(s) = SPANS.lock().get_mut(&id) {
        s.set_attribute(key, value);
    }
}

/// Ends a span [`start_span`] started: failed when `message` is given, with the error's `code`
/// as `error.type` when there is one. False if no span has that number (ended already, or 0).
pub fn end_span(id: u64, code: Option<&str>, message: Option<&str>) -> bool {
    let Some(mut s) = SPANS.lock().remove(&id) else { return false };
    match (code, message) {
        (Some(c), m) => s.set_error(c, m.unwrap_or_default()),
        (None, Some(m)) => s.set_status(Status::Error(m.to_string())),
        (None, None) => {}
    }
    s.end();
    true
}

/// Spans started by number and not ended yet (a leak shows here).
pub fn open_spans() -> usize {
    SPANS.lock().len()
}
