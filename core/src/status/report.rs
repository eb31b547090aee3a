//! What one process reports about itself to the status page: the answer of the built-in `$status`
//! service, as JSON text (so that any door can read it without a schema).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::metrics::Registry;

/// The built-in service every peer answers (docs/PROTOCOL.md, reserved services).
pub const STATUS_SERVICE: &str = "$status";
/// Its one method: no arguments, answers the report as JSON text.
pub const REPORT_METHOD: &str = "report";

type Pending = Pin<Box<dyn Future<Output = Value> + Send>>;

/// How long one part of the report may take.
const PART_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// A part of the report some engine object adds while it lives.
#[cfg_attr(not(feature = "workflow"), allow(dead_code))]
pub(crate) struct Source {
    /// Whether the object is still there (checked whenever a source is added, so that a program
    /// making many short-lived engines does not grow this list).
    pub(crate) alive: Box<dyn Fn() -> bool + Send + Sync>,
    /// Its part, or `None` once it is gone.
    pub(crate) part: Box<dyn Fn() -> Option<Pending> + Send + Sync>,
}

static SOURCES: Mutex<Vec<(&'static str, Source)>> = Mutex::new(Vec::new());

/// Adds a part to this process's report under `key` (a list: each source adds one element), for
/// as long as the source is alive. What a workflow engine does when it is made.
#[cfg(feature = "workflow")]
pub(crate) fn add_source(key: &'static str, source: Source) {
    let mut sources = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
    sources.retain(|(_, s)| (s.alive)());
    sources.push((key, source));
}

/// This process's report: its process id, name, metrics (the global registry's snapshot), latest
/// spans, and one entry per live source under its key (`workflows`).
pub async fn report() -> Value {
    let pending: Vec<(&'static str, Pending)> = {
        let mut sources = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        // A source whose object is gone says so and is dropped here.
        sources.retain(|(key, s)| match (s.part)() {
            Some(p) => {
                out.push((*key, p));
                true
            }
            None => false,
        });
        out
    };
    let mut parts = serde_json::Map::new();
    for (key, p) in pending {
        // A slow part (a journal with very many runs) costs its own entry, not the report.
        let v = tokio::time::timeout(PART_TIMEOUT, p).await.unwrap_or_else(
            |_| json!({ "error": format!("no answer within {} ms", PART_TIMEOUT.as_millis()) }),
        );
        match parts.get_mut(key) {
            Some(Value::Array(a)) => a.push(v),
            _ => {
                parts.insert(key.to_string(), Value::Array(vec![v]));
            }
        }
    }
    let mut out = json!({
        "pid": std::process::id(),
        "name": std::env::var("OMNITRON_CHILD_NAME").ok(),
        "metrics": Registry::global().snapshot(),
        "spans": crate::telemetry::recent_spans(),
        "tracing": crate::telemetry::enabled(),
    });
    if let Value::Object(o) = &mut out {
        o.extend(parts);
    }
    out
}

/// [`report`] as JSON text: what `$status` `report` answers.
pub async fn report_json() -> String {
    report().await.to_string()
}
