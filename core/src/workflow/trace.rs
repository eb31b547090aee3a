//! A workflow run's trace (docs/OBSERVABILITY.md, "Workflow runs"): a run is one trace, its span
//! a child of whatever was current where the run was started (an HTTP request, an RPC call), and
//! each stage attempt and compensation attempt a span inside it, current while its function runs,
//! so the calls a stage makes are its children in every door. The run's trace context is kept in
//! the journal (`RunCreated.trace`): an engine that takes the run up after a crash starts a new
//! trace for what it does, linked to the run's first one. Nothing is made while tracing is off,
//! unless the run is started inside a trace: then its context is passed on, as a call's is.

use std::borrow::Cow;

use parking_lot::Mutex;

use super::run::{ErrorRecord, RunState};
use crate::telemetry::{self, Span, SpanKind, TraceContext};

/// The span of a run in this engine, while it runs here.
#[derive(Debug, Default)]
pub(crate) struct RunTrace {
    span: Mutex<Option<Span>>,
    /// The context stages run under: the run span's, or (tracing off) the caller's as it came.
    context: Mutex<Option<TraceContext>>,
}

impl RunTrace {
    /// A new run's span, a child of the current context. Returns the traceparent to journal.
    /// Without a tracer, a run started inside a trace still passes it on (as a call does).
    pub(crate) fn fresh(&self, workflow: &str, run_id: &str) -> Option<String> {
        let parent = telemetry::current_if_any();
        if !telemetry::enabled() {
            // Passed on as it came, as a call does: no span of ours for anyone to point at.
            *self.context.lock() = parent.clone();
            return parent.map(|p| p.traceparent());
        }
        let span = run_span(workflow, run_id, parent.as_ref(), false);
        let traceparent = span.context().traceparent();
        *self.context.lock() = Some(span.context().clone());
        *self.span.lock() = Some(span);
        Some(traceparent)
    }

    /// A run taken up from the journal: a new trace, linked to the run's first one.
    pub(crate) fn resumed(&self, workflow: &str, run_id: &str, first: Option<&str>) {
        if !telemetry::enabled() {
            return;
        }
        let mut span = run_span(workflow, run_id, None, true);
        if let Some(first) = first.and_then(TraceContext::from_traceparent) {
            span.add_link(first);
        }
        *self.context.lock() = Some(span.context().clone());
        *self.span.lock() = Some(span);
    }

    /// The context stage spans are children of.
    pub(crate) fn context(&self) -> Option<TraceContext> {
        self.context.lock().clone()
    }

    /// Forgets the span without recording it (the run was not created after all).
    pub(crate) fn discard(&self) {
        if let Some(span) = self.span.lock().take() {
            span.discard();
        }
    }

    /// Ends the run's span with the run's state: an error unless it completed.
    pub(crate) fn end(&self, state: RunState, error: Option<&ErrorRecord>) {
        let Some(mut span) = self.span.lock().take() else { return };
        span.set_attribute("workflow.state", state.as_str());
        if state != RunState::Completed {
            match error {
                Some(e) => span.set_error(&e.code, &e.message),
                None => span.set_error("", state.as_str()),
            }
        }
        span.end();
    }
}

fn run_span(workflow: &str, run_id: &str, parent: Option<&TraceContext>, resumed: bool) -> Span {
    let name =
        if resumed { format!("workflow {workflow} (resumed)") } else { format!("workflow {workflow}") };
    let mut span = Span::start(name, SpanKind::Internal, parent);
    span.set_attribute("workflow.name", workflow.to_string());
    span.set_attribute("workflow.run_id", run_id.to_string());
    span
}

/// A stage attempt's (or a compensation attempt's) span, inside the run's, and the context its
/// function runs in (without a tracer: the run's, as it came).
pub(crate) fn attempt(
    run: &RunTrace,
    stage: &str,
    attempt: u32,
    compensation: bool,
    key: &str,
) -> (Option<Span>, Option<TraceContext>) {
    let Some(parent) = run.context() else { return (None, None) };
    if !telemetry::enabled() {
        return (None, Some(parent));
    }
    let name: Cow<'static, str> =
        if compensation { format!("compensate {stage}").into() } else { format!("stage {stage}").into() };
    let mut span = Span::start(name, SpanKind::Internal, Some(&parent));
    span.set_attribute("workflow.stage", stage.to_string());
    span.set_attribute("workflow.attempt", i64::from(attempt));
    span.set_attribute("workflow.idempotency_key", key.to_string());
    let ctx = span.context().clone();
    (Some(span), Some(ctx))
}

/// Ends an attempt's span with its outcome.
pub(crate) fn end_attempt(span: Option<Span>, error: Option<&ErrorRecord>) {
    let Some(mut span) = span else { return };
    if let Some(e) = error {
        span.set_error(&e.code, &e.message);
    }
    span.end();
}
