//! Which traces the page gets: the latest ones, and the latest that crossed processes (those are
//! what one opens the page for, and a busy process's single-span traces would push them out).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// Traces kept of each kind.
const LATEST: usize = 20;

/// Keeps in each report's `spans` only the spans of the chosen traces.
pub(super) fn trim(reports: &mut [&mut Value]) {
    // trace id -> (its latest end, the services it crossed)
    let mut traces: HashMap<String, (u64, HashSet<String>)> = HashMap::new();
    for r in reports.iter() {
        for s in r.get("spans").and_then(Value::as_array).into_iter().flatten() {
            let (Some(id), Some(end)) =
                (s.get("trace_id").and_then(Value::as_str), s.get("end_ns").and_then(Value::as_u64))
            else {
                continue;
            };
            let t = traces.entry(id.to_string()).or_default();
            t.0 = t.0.max(end);
            if let Some(svc) = s.get("service").and_then(Value::as_str) {
                t.1.insert(svc.to_string());
            }
        }
    }
    let mut by_end: Vec<(&String, &(u64, HashSet<String>))> = traces.iter().collect();
    by_end.sort_by_key(|t| std::cmp::Reverse(t.1.0));
    let keep: HashSet<String> = by_end
        .iter()
        .take(LATEST)
        .chain(by_end.iter().filter(|(_, t)| t.1.len() > 1).take(LATEST))
        .map(|(id, _)| (*id).clone())
        .collect();
    for r in reports.iter_mut() {
        if let Some(Value::Array(spans)) = r.get_mut("spans") {
            spans.retain(|s| s.get("trace_id").and_then(Value::as_str).is_some_and(|id| keep.contains(id)));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn span(trace: &str, service: &str, end: u64) -> Value {
        json!({ "trace_id": trace, "service": service, "end_ns": end })
    }

    #[test]
    fn keeps_the_latest_traces_and_the_latest_that_crossed_processes() {
        // One old trace across two processes, then many newer single-process ones.
        let mut a = json!({ "spans": [span("cross", "gateway", 1)] });
        let mut b = json!({ "spans": [span("cross", "inventory", 2)] });
        for i in 0..100u64 {
            a["spans"].as_array_mut().unwrap().push(span(&format!("t{i}"), "gateway", 10 + i));
        }
        trim(&mut [&mut a, &mut b]);
        let ids: HashSet<&str> =
            a["spans"].as_array().unwrap().iter().map(|s| s["trace_id"].as_str().unwrap()).collect();
        assert!(ids.contains("cross"), "the trace across processes is kept");
        assert!(ids.contains("t99") && ids.contains("t80") && !ids.contains("t79"), "the 20 latest are kept");
        assert_eq!(b["spans"].as_array().unwrap().len(), 1);
    }
}
