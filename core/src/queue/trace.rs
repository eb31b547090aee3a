//! A job's trace (docs/OBSERVABILITY.md, "Queue jobs"): adding a job is a PRODUCER span, a child
//! of what is current where it is added, whose context travels with the job (`JobOptions::trace`,
//! in both stores); each attempt is a CONSUMER span, its child, current while the handler runs, so
//! the calls a job makes belong to the trace that added it. Without a tracer, a job added inside a
//! trace still carries that trace to its handler, as a call does; outside any, nothing is made.

use super::job::Leased;
use crate::telemetry::{self, Span, SpanKind, TraceContext};

/// The span of an add (of `jobs` jobs) and the traceparent the jobs carry, or nothing when no
/// trace is current and tracing is off.
pub(super) fn adding(queue: &str, jobs: usize) -> (Option<Span>, Option<String>) {
    let parent = telemetry::current_if_any();
    if !telemetry::enabled() {
        return (None, parent.map(|p| p.traceparent()));
    }
    let name = if jobs == 1 { format!("{queue} publish") } else { format!("{queue} publish ({jobs} jobs)") };
    let mut span = Span::start(name, SpanKind::Producer, parent.as_ref());
    span.set_attribute("messaging.system", "omnitron");
    span.set_attribute("messaging.operation.type", "publish");
    span.set_attribute("messaging.destination.name", queue.to_string());
    if jobs > 1 {
        span.set_attribute("messaging.batch.message_count", jobs as i64);
    }
    let tp = span.context().traceparent();
    (Some(span), Some(tp))
}

/// The span of one attempt, and the context its handler runs in.
pub(super) fn processing(queue: &str, job: &Leased) -> (Option<Span>, Option<TraceContext>) {
    let Some(parent) = job.opts.trace.as_deref().and_then(TraceContext::from_traceparent) else {
        return (None, None);
    };
    if !telemetry::enabled() {
        return (None, Some(parent));
    }
    let mut span = Span::start(format!("{queue} process"), SpanKind::Consumer, Some(&parent));
    span.set_attribute("messaging.system", "omnitron");
    span.set_attribute("messaging.operation.type", "process");
    span.set_attribute("messaging.destination.name", queue.to_string());
    span.set_attribute("messaging.message.id", job.id.clone());
    span.set_attribute("omnitron.job.name", job.name.clone());
    span.set_attribute("omnitron.job.attempt", i64::from(job.attempt));
    let ctx = span.context().clone();
    (Some(span), Some(ctx))
}
