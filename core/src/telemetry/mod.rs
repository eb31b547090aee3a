//! Tracing across processes and languages (decision 0024): W3C trace context on every hop the
//! engine owns, spans made by the engine and by the user, sampling as OpenTelemetry defines it
//! (parent-based, with a ratio for roots), and export to an OpenTelemetry collector over OTLP/HTTP
//! (protobuf), batched and bounded: a slow or dead collector costs dropped spans (counted), never
//! a slower call or more memory.
//!
//! Tracing is off until installed, from code ([`install`]) or from the standard `OTEL_*`
//! variables ([`install_from_env`], which every door calls when it starts; the supervisor sets
//! them for its children from `omnitron.yaml`'s `tracing:`).
//!
//! ```
//! use omnitron::telemetry::{self, Span, SpanKind, TraceContext};
//!
//! let parent = TraceContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
//! let span = Span::start("charge", SpanKind::Internal, Some(&parent));
//! assert_eq!(span.context().trace_id, parent.trace_id);
//! assert!(!telemetry::enabled()); // nothing installed: the span records nothing
//! ```

mod config;
mod context;
mod current;
mod export;
mod handles;
#[cfg(feature = "http")]
pub(crate) mod http;
mod otlp;
mod recent;
#[cfg(feature = "rpc")]
pub(crate) mod rpc;
mod span;
mod tracer;
#[cfg(feature = "rpc")]
mod wire;

pub use config::{Exporter, Sampler, TraceConfig};
pub use context::{TraceContext, new_span_id, new_trace_id};
pub use current::{
    current, current_if_any, in_context, in_traceparent, set_thread_context, trace, with_context,
};
pub use handles::{end_span, open_spans, set_span_attribute, start_span};
pub use recent::{RecentSpan, recent_spans};
pub use span::{AttrValue, Span, SpanData, SpanKind, Status};
pub use tracer::{SpanCounts, enabled, flush, install, install_from_env, span_counts};
#[cfg(feature = "rpc")]
pub use wire::{current_wire, current_wire_if_any, from_wire, plain_traceparent, to_wire};
