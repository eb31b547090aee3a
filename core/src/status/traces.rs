//! Which traces the page gets: the latest ones, the latest that crossed processes, and the whole
//! ones (root still kept) that crossed the most processes (those are what one opens the page for;
//! a busy process's single-span traces, or many traces still in flight, would push them out, and a
//! long trace's early spans leave a process's ring first).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// Traces kept of each kind.
const LATEST: usize = 20;

/// What the page knows of a trace: its latest end, the services it crossed, whether its root is
/// here.
type Seen = (u64, HashSet<String>, bool);

/// Keeps in each report's `spans` only the spans of the chosen traces.
pub(super) fn trim(reports: &mut [&mut Value]) {
    // trace id -> (its latest end, the services it crossed, whether its root is here)
    let mut traces: HashMap<String, Seen> = HashMap::new();
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
            if s.get("parent_span_id").and_then(Value::as_str).is_some_and(str::is_empty) {
                t.2 = true;
            }
        }
    }
    let mut by_end: Vec<(&String, &Seen)> = traces.iter().collect();
    by_end.sort_by_key(|t| std::cmp::Reverse(t.1.0));
    // Whole traces across processes, the widest first, then the latest.
    let mut widest: Vec<_> = by_end.iter().filter(|(_, t)| t.1.len() > 1 && t.2).collect();
    widest.sort_by_key(|(_, t)| std::cmp::Reverse((t.1.len(), t.0)));
    let keep: HashSet<String> = by_end
        .iter()
        .take(LATEST)
        .chain(by_end.iter().filter(|(_, t)| t.1.len() > 1).take(LATEST))
        .chain(widest.into_iter().take(LATEST))
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
        json!({ "trace_id": trace, "service": service, "end_ns": end, "parent_span_id": "p" })
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

    #[test]
    fn keeps_whole_traces_across_processes_past_newer_broken_ones() {
        // An old trace with its root across three processes, then 30 newer ones across two (whole
        // or not).
        let mut root = span("whole", "gateway", 1);
        root["parent_span_id"] = json!("");
        let mut a = json!({ "spans": [root] });
        let mut b = json!({ "spans": [span("whole", "inventory", 2), span("whole", "payment", 3)] });
        for i in 0..30u64 {
            let mut s = span(&format!("t{i}"), "gateway", 10 + i);
            if i % 2 == 0 {
                s["parent_span_id"] = json!("");
            }
            a["spans"].as_array_mut().unwrap().push(s);
            b["spans"].as_array_mut().unwrap().push(span(&format!("t{i}"), "inventory", 10 + i));
        }
        trim(&mut [&mut a, &mut b]);
        let ids: HashSet<&str> =
            a["spans"].as_array().unwrap().iter().map(|s| s["trace_id"].as_str().unwrap()).collect();
        assert!(ids.contains("whole"), "the whole trace is kept");
        assert!(!ids.contains("t9"), "older broken ones are not");
    }
}
