//! A stage's context as C sees it: its strings, kept alive for the callback.

use std::ffi::CString;

use omnitron::workflow::StageContext;
use serde_json::Value;

use super::OmnitronStageContext;

/// Strings of a context, kept alive for the callback.
pub(super) struct CtxStrings {
    run_id: CString,
    workflow: CString,
    stage: CString,
    key: CString,
    input: CString,
    traceparent: Option<CString>,
}

pub(super) fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

pub(super) fn json_cstring(v: &Value) -> CString {
    // JSON escapes NUL inside strings, so serialised text has none.
    CString::new(v.to_string()).unwrap_or_default()
}

impl CtxStrings {
    pub(super) fn new(ctx: &StageContext) -> Self {
        CtxStrings {
            run_id: cstring(ctx.run_id()),
            workflow: cstring(ctx.workflow()),
            stage: cstring(ctx.stage()),
            key: cstring(ctx.idempotency_key()),
            input: json_cstring(ctx.workflow_input()),
            traceparent: ctx.traceparent().map(|t| cstring(&t)),
        }
    }

    pub(super) fn view(&self, ctx: &StageContext) -> OmnitronStageContext {
        OmnitronStageContext {
            run_id: self.run_id.as_ptr(),
            workflow: self.workflow.as_ptr(),
            stage: self.stage.as_ptr(),
            attempt: ctx.attempt(),
            idempotency_key: self.key.as_ptr(),
            workflow_input: self.input.as_ptr(),
            is_compensation: ctx.is_compensation(),
            traceparent: self.traceparent.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()),
        }
    }
}
