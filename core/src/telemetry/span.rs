//! Spans: a timed, named piece of work in a trace, recorded when its trace is sampled and handed
//! to the exporter when it ends.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use super::context::TraceContext;
use super::tracer::{Tracer, tracer};

/// What a span stands for, as OpenTelemetry names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Work inside a process.
    Internal,
    /// Serving a request (an RPC handler, an HTTP request).
    Server,
    /// Making a request.
    Client,
    /// Sending a message that is handled later (a job added, an event published).
    Producer,
    /// Handling such a message.
    Consumer,
}

impl SpanKind {
    /// OTLP's number for it.
    pub(super) fn otlp(self) -> u64 {
        match self {
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
            SpanKind::Producer => 4,
            SpanKind::Consumer => 5,
        }
    }

    /// From its lowercase name (what the doors pass); `E001` naming the valid ones otherwise.
    pub fn parse(name: &str) -> crate::Result<SpanKind> {
        Ok(match name {
            "internal" => SpanKind::Internal,
            "server" => SpanKind::Server,
            "client" => SpanKind::Client,
            "producer" => SpanKind::Producer,
            "consumer" => SpanKind::Consumer,
            _ => {
                return Err(crate::Error::invalid_argument(format!(
                    "'{name}' is not a span kind: internal, server, client, producer or consumer"
                )));
            }
        })
    }
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// Text.
    Str(Cow<'static, str>),
    /// A whole number.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// True or false.
    Bool(bool),
}

impl From<&'static str> for AttrValue {
    fn from(s: &'static str) -> Self {
        AttrValue::Str(Cow::Borrowed(s))
    }
}
impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Str(Cow::Owned(s))
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::Float(v)
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}

/// How a span's work ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    /// Not said (the default: OpenTelemetry leaves success unset).
    #[default]
    Unset,
    /// Said to have succeeded.
    Ok,
    /// Failed, with a message.
    Error(String),
}

/// A recorded span, as it is exported.
#[derive(Debug, Clone)]
pub struct SpanData {
    /// Its trace, span id and `tracestate`.
    pub context: TraceContext,
    /// The span it is a child of (0: a root).
    pub parent_span_id: u64,
    /// Its name (`payment@1.0.0/charge` for an RPC).
    pub name: Cow<'static, str>,
    /// What it stands for.
    pub kind: SpanKind,
    /// When it started and ended, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// When it ended.
    pub end_ns: u64,
    /// Its attributes.
    pub attributes: Vec<(Cow<'static, str>, AttrValue)>,
    /// Spans it is linked to (a resumed workflow run's earlier trace, say).
    pub links: Vec<TraceContext>,
    /// How it ended.
    pub status: Status,
}

/// A span being timed. Ending it (or dropping it) records it if its trace is sampled. A span
/// whose trace is not sampled still has a context, which calls made inside it pass on, so the
/// processes downstream make the same decision.
#[derive(Debug)]
pub struct Span {
    context: TraceContext,
    data: Option<Box<SpanData>>,
}

impl Span {
    /// Starts a span: a child of `parent` (in the same trace, sampled as it is), or the root of a
    /// new trace sampled as the tracer's sampler decides. Without a tracer installed the span
    /// records nothing, and is a child of `parent` if there is one.
    pub fn start(name: impl Into<Cow<'static, str>>, kind: SpanKind, parent: Option<&TraceContext>) -> Span {
        match tracer() {
            Some(t) => t.start(name.into(), kind, parent),
            None => Span::unrecorded(parent.map_or_else(|| TraceContext::root(false), TraceContext::child)),
        }
    }

    pub(super) fn unrecorded(context: TraceContext) -> Span {
        Span { context, data: None }
    }

    pub(super) fn recorded(
        context: TraceContext,
        parent_span_id: u64,
        name: Cow<'static, str>,
        kind: SpanKind,
    ) -> Span {
        let data = SpanData {
            context: context.clone(),
            parent_span_id,
            name,
            kind,
            start_ns: now_ns(),
            end_ns: 0,
            attributes: Vec::new(),
            links: Vec::new(),
            status: Status::Unset,
        };
        Span { context, data: Some(Box::new(data)) }
    }

    /// Its context: what a call made inside it passes on.
    pub fn context(&self) -> &TraceContext {
        &self.context
    }

    /// Whether it is recorded (its trace is sampled and a tracer exports it).
    pub fn is_recording(&self) -> bool {
        self.data.is_some()
    }

    /// Sets an attribute (nothing if it is not recorded).
    pub fn set_attribute(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<AttrValue>) {
        if let Some(d) = &mut self.data {
            d.attributes.push((key.into(), value.into()));
        }
    }

    /// Renames it (an HTTP request's span is named once its route is known).
    pub fn set_name(&mut self, name: impl Into<Cow<'static, str>>) {
        if let Some(d) = &mut self.data {
            d.name = name.into();
        }
    }

    /// Links it to another span (nothing if it is not recorded).
    pub fn add_link(&mut self, to: TraceContext) {
        if let Some(d) = &mut self.data {
            d.links.push(to);
        }
    }

    /// Says how it ended.
    pub fn set_status(&mut self, status: Status) {
        if let Some(d) = &mut self.data {
            d.status = status;
        }
    }

    /// Marks it failed with an engine error code (`error.type`) and message.
    pub fn set_error(&mut self, code: &str, message: &str) {
        if let Some(d) = &mut self.data {
            d.attributes.push((Cow::Borrowed("error.type"), AttrValue::Str(Cow::Owned(code.to_string()))));
            d.status = Status::Error(message.to_string());
        }
    }

    /// Drops it without recording it (work that turned out not to happen).
    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn discard(mut self) {
        self.data = None;
    }

    /// Ends it now.
    pub fn end(self) {
        drop(self)
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(mut d) = self.data.take() {
            d.end_ns = now_ns().max(d.start_ns);
            if let Some(t) = tracer() {
                Tracer::record(t, d);
            }
        }
    }
}

/// Nanoseconds since the Unix epoch.
pub(super) fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
