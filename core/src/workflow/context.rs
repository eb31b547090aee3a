//! What a stage (or a compensation) knows about the run it belongs to.

use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::telemetry::TraceContext;

/// Given to every stage attempt and every compensation attempt. Cheap to clone.
#[derive(Clone, Debug)]
pub struct StageContext {
    pub(crate) run_id: Arc<str>,
    pub(crate) workflow: Arc<str>,
    pub(crate) stage: Arc<str>,
    pub(crate) attempt: u32,
    pub(crate) idempotency_key: Arc<str>,
    pub(crate) input: Arc<Value>,
    pub(crate) compensation: bool,
    pub(crate) cancel: CancellationToken,
    pub(crate) trace: Option<TraceContext>,
}

impl StageContext {
    /// The run's id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The workflow's name.
    pub fn workflow(&self) -> &str {
        &self.workflow
    }

    /// The stage's name (for a compensation: the stage it undoes).
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// This attempt's number, from 1, counted over the run's whole life (crashes and run retries
    /// included).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// `{run_id}:{stage}` for a stage, `{run_id}:{stage}:compensate` for its compensation: the
    /// same on every attempt, after a crash too. Pass it on to remote services so a repeated
    /// attempt is recognised.
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// The run's original input.
    pub fn workflow_input(&self) -> &Value {
        &self.input
    }

    /// Whether this is a compensation rather than the stage itself.
    pub fn is_compensation(&self) -> bool {
        self.compensation
    }

    /// Whether the run was cancelled or timed out (the attempt is about to be abandoned).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// This attempt's span context, when tracing is on: calls made inside the attempt are its
    /// children. Rust code inside the stage's future has it as its current context already; a
    /// door hands it to its own language's context (`traceparent()`).
    pub fn trace(&self) -> Option<&TraceContext> {
        self.trace.as_ref()
    }

    /// [`StageContext::trace`] as a W3C traceparent.
    pub fn traceparent(&self) -> Option<String> {
        self.trace.as_ref().map(TraceContext::traceparent)
    }

    /// `f` with this attempt's span as its current context (as it is, without one).
    pub(crate) fn in_trace<F: std::future::Future>(
        &self,
        f: F,
    ) -> impl std::future::Future<Output = F::Output> + use<F> {
        let ctx = self.trace.clone();
        async move {
            match ctx {
                Some(c) => crate::telemetry::in_context(c, f).await,
                None => f.await,
            }
        }
    }

    /// Resolves when the run is cancelled or timed out, for stages that can stop early.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }
}

/// `{run_id}:{stage}`.
pub(crate) fn stage_key(run_id: &str, stage: &str) -> String {
    format!("{run_id}:{stage}")
}

/// `{run_id}:{stage}:compensate`.
pub(crate) fn compensation_key(run_id: &str, stage: &str) -> String {
    format!("{run_id}:{stage}:compensate")
}
