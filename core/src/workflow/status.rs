//! A workflow engine's part of its process's status report (the status page): its runs by state,
//! and the latest runs with their stages and compensations.

use std::sync::Arc;

use serde_json::{Value, json};

use super::engine::Engine;
use super::run::{RunFilter, RunState};

/// How many of the latest runs the page gets in full.
const LATEST_RUNS: usize = 12;

/// Adds `engine` to the process's status report while it lives.
pub(super) fn watch(engine: &Engine) {
    let weak = Arc::downgrade(&engine.inner);
    let alive = weak.clone();
    crate::status::add_source(
        "workflows",
        crate::status::Source {
            alive: Box::new(move || alive.strong_count() > 0),
            part: Box::new(move || {
                let engine = Engine { inner: weak.upgrade()? };
                Some(Box::pin(async move { summary(&engine).await }))
            }),
        },
    );
}

async fn summary(engine: &Engine) -> Value {
    let runs = match engine.list(&RunFilter::default()).await {
        Ok(r) => r,
        Err(e) => return json!({ "error": e.to_string() }),
    };
    let mut states = serde_json::Map::new();
    for st in RunState::ALL {
        let n = runs.iter().filter(|r| r.state == st).count();
        states.insert(st.as_str().to_string(), json!(n));
    }
    let mut latest: Vec<_> = runs.iter().collect();
    latest.sort_by_key(|r| std::cmp::Reverse((r.updated_at_ms, r.created_at_ms)));
    let mut shown = Vec::new();
    for r in latest.into_iter().take(LATEST_RUNS) {
        if let Ok(mut info) = engine.get(&r.run_id).await {
            // The page shows where a run is, not its data: inputs and outputs stay in the journal.
            info.input = Value::Null;
            for s in &mut info.stages {
                s.output = None;
            }
            shown.push(info);
        }
    }
    json!({
        "workflows": engine.workflows(),
        "total": runs.len(),
        "states": states,
        "runs": shown,
    })
}
