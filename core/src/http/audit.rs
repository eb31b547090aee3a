//! Audit records (`@AuditLog({ action })`): one per call of an audited route, whatever its end.
//!
//! An auditor wants every attempt, so the record is written for an answer from any stage: a 429,
//! a 401 or 403, a 400 from the input, the handler's success or error, a panic (500), and a
//! request whose client went away before the answer (status 499, nginx's "client closed
//! request", outcome `failure`: the handler may have run in part). The actor is the verified
//! token's `sub`; never a claim of a token that did not verify.
//!
//! Records go to the app's sink ([`HttpApp::on_audit`](super::HttpApp::on_audit)), else to a
//! `tracing` info event at target `omnitron::audit` with the record's fields. A sink runs on the
//! request's task: keep it quick (hand the record to a channel), and it must not panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::SystemTime;

use serde_json::{Map, Value as Json};

use super::app::{AuditRecord, AuditSink};
use super::request::Request;
use super::spec::RouteSpec;

/// The status of a request whose client went away before its answer.
pub(crate) const CLIENT_CLOSED: u16 = 499;

/// A record being written: finished with the answer's status, or on drop (the client went away).
pub(crate) struct Audit {
    record: Option<AuditRecord>,
    sink: Option<AuditSink>,
}

impl Audit {
    /// Starts the record of `req` to the route `spec` (audited as `action`).
    pub(crate) fn begin(action: &str, spec: &RouteSpec, req: &Request, sink: Option<AuditSink>) -> Audit {
        let params: Map<String, Json> =
            req.params().iter().map(|(k, v)| (k.clone(), Json::from(v.as_str()))).collect();
        let record = AuditRecord {
            action: action.to_string(),
            actor: None,
            method: req.method().as_str().to_string(),
            path: req.path().to_string(),
            route: spec.path.clone(),
            params: Json::Object(params),
            status: CLIENT_CLOSED,
            outcome: "failure",
            time: SystemTime::now(),
            request_id: req.request_id().to_string(),
            remote: req.remote_addr(),
        };
        Audit { record: Some(record), sink }
    }

    /// The actor: the verified claims' `sub` (a string, or a number written out).
    pub(crate) fn set_actor(&mut self, claims: &Map<String, Json>) {
        if let Some(r) = &mut self.record {
            r.actor = match claims.get("sub") {
                Some(Json::String(s)) => Some(s.clone()),
                Some(Json::Number(n)) => Some(n.to_string()),
                _ => None,
            };
        }
    }

    /// Writes the record with the answer's `status`.
    pub(crate) fn finish(mut self, status: u16) {
        if let Some(mut r) = self.record.take() {
            r.status = status;
            r.outcome = if status < 400 { "success" } else { "failure" };
            write(&r, self.sink.as_ref());
        }
    }
}

impl Drop for Audit {
    fn drop(&mut self) {
        // Not finished: the request's future was dropped (the client went away).
        if let Some(r) = self.record.take() {
            write(&r, self.sink.as_ref());
        }
    }
}

fn write(r: &AuditRecord, sink: Option<&AuditSink>) {
    match sink {
        Some(sink) => {
            if catch_unwind(AssertUnwindSafe(|| sink(r))).is_err() {
                tracing::error!(action = r.action, request_id = r.request_id, "the audit sink panicked");
            }
        }
        None => tracing::info!(
            target: "omnitron::audit",
            action = r.action,
            actor = r.actor.as_deref(),
            method = r.method,
            path = r.path,
            route = r.route,
            params = %r.params,
            status = r.status,
            outcome = r.outcome,
            time = %crate::time::rfc3339(r.time),
            request_id = r.request_id,
            remote = r.remote.map(|a| a.to_string()),
            "audit"
        ),
    }
}
