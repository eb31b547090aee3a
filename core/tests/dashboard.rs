//! The Grafana dashboard shipped in `dashboards/grafana/omnitron.json` against the engine's own
//! metrics: every series it queries is one the engine registers, with labels it has, and every
//! metric the engine registers has a panel (a new metric without one fails here).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every metric the engine registers, with its labels.
fn registered() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            // Every "omnitron_…" literal in the engine names a metric (through MetricOptions or
            // a helper around it).
            for (i, _) in text.match_indices("\"omnitron_") {
                let rest = &text[i..];
                let name: String = rest[1..].chars().take_while(|c| *c != '"').collect();
                if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                    continue; // a message that starts with a metric's name, not a name
                }
                // Its labels, if the same builder chain names them before the statement ends.
                let chain = &rest[..rest.find(';').unwrap_or(rest.len())];
                let labels = chain.find(".labels([").map_or_else(BTreeSet::new, |l| {
                    let list = &chain[l + ".labels([".len()..];
                    list[..list.find(']').unwrap()]
                        .split(',')
                        .map(|s| s.trim().trim_matches('"').to_string())
                        .collect()
                });
                out.insert(name, labels);
            }
        }
    }
    out
}

fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in expr.match_indices("omnitron_") {
        let name: String = expr[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        out.push(name);
    }
    out
}

/// The labels of `by (…)` clauses.
fn grouped_by(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in expr.match_indices("by (") {
        let list = &expr[i + 4..];
        out.extend(list[..list.find(')').unwrap()].split(',').map(|s| s.trim().to_string()));
    }
    out
}

#[test]
fn the_dashboard_queries_what_the_engine_exports_and_shows_all_of_it() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards/grafana/omnitron.json");
    let d: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let metrics = registered();
    assert!(metrics.len() > 20, "found the engine's metrics: {metrics:?}");
    let mut shown = BTreeSet::new();
    let panels = d["panels"].as_array().unwrap();
    let ids: BTreeSet<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    for p in panels.iter().filter(|p| p["type"] != "row") {
        let title = p["title"].as_str().unwrap();
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} has queries");
        for t in targets {
            let expr = t["expr"].as_str().unwrap();
            for name in metric_names(expr) {
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|f| metrics.contains_key(*f)))
                    .unwrap_or(&name)
                    .to_string();
                let labels = metrics
                    .get(&family)
                    .unwrap_or_else(|| panic!("{title}: {name} is not a metric the engine exports"));
                for l in grouped_by(expr) {
                    assert!(
                        labels.contains(&l) || ["le", "job", "instance"].contains(&l.as_str()),
                        "{title}: {family} has no label {l} (it has {labels:?})"
                    );
                }
                shown.insert(family);
            }
        }
    }
    let missing: Vec<&String> = metrics.keys().filter(|m| !shown.contains(*m)).collect();
    assert!(missing.is_empty(), "metrics without a panel: {missing:?}");
}
