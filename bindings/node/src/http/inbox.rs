//! What an HTTP app hands to JavaScript, in batches (`batch::Queue`), as `lib/http/host.ts` reads
//! it:
//! - 0 a request: id, aux = the route's handler number, bytes = the envelope (`door_json`);
//! - 1 a health check to run: id, aux = the check's number;
//! - 2 an audit record: bytes = JSON;
//! - 3 an operation done: id = the operation, aux = a port or status, bytes = a body, string 0 =
//!   headers as JSON;
//! - 4 an operation failed: id = the operation, strings = code, message.

use bytes::Bytes;
use omnitron::http::AuditRecord;

use crate::batch::Parts;

pub(super) enum Item {
    Request { id: u32, handler: u32, envelope: Vec<u8> },
    Health { id: u32, check: u32 },
    Audit(Vec<u8>),
    Done { op: u32, aux: u32, bytes: Bytes, text: Option<String> },
    Failed { op: u32, code: &'static str, message: String },
}

impl Item {
    pub(super) fn failed(op: u32, e: &omnitron::Error) -> Item {
        Item::Failed { op, code: e.code().as_str(), message: e.message().to_string() }
    }
}

pub(super) fn parts(item: &Item) -> Parts<'_> {
    match item {
        Item::Request { id, handler, envelope } => {
            Parts { kind: 0, id: *id, aux: *handler, bytes: envelope, strings: [None, None] }
        }
        Item::Health { id, check } => {
            Parts { kind: 1, id: *id, aux: *check, bytes: &[], strings: [None, None] }
        }
        Item::Audit(json) => Parts { kind: 2, id: 0, aux: 0, bytes: json, strings: [None, None] },
        Item::Done { op, aux, bytes, text } => {
            Parts { kind: 3, id: *op, aux: *aux, bytes, strings: [text.as_deref(), None] }
        }
        Item::Failed { op, code, message } => {
            Parts { kind: 4, id: *op, aux: 0, bytes: &[], strings: [Some(code), Some(message)] }
        }
    }
}

/// An audit record as JSON, in the TypeScript layer's words (`time` in ms since the epoch).
pub(super) fn audit_json(r: &AuditRecord) -> Vec<u8> {
    let time = r.time.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as f64).unwrap_or(0.0);
    serde_json::to_vec(&serde_json::json!({
        "action": r.action,
        "actor": r.actor,
        "method": r.method,
        "path": r.path,
        "route": r.route,
        "params": r.params,
        "status": r.status,
        "outcome": r.outcome,
        "time": time,
        "requestId": r.request_id,
        "remote": r.remote.map(|a| a.to_string()),
    }))
    .unwrap_or_default()
}
