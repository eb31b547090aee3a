//! `exportGraph()`: the dependency graph as JSON (for tools) or Mermaid (for people).

use serde::Serialize;

use super::plan::{Binding, Plan, PlanKind};
use super::spec::ProviderId;

/// One provider in an exported graph.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GraphNode {
    /// Provider id (stable within the container).
    pub id: u32,
    /// Token name.
    pub token: String,
    /// `class`, `value`, `factory`, `alias` or `context`.
    pub kind: &'static str,
    /// `singleton`, `transient` or `scoped`.
    pub scope: &'static str,
    /// The module it belongs to (`root` for the container's own registrations).
    pub module: String,
    /// Building it must be awaited.
    #[serde(rename = "async")]
    pub is_async: bool,
    /// It cannot be built (a missing dependency, a loop, a scope violation).
    pub failed: bool,
    /// What made it (class name), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// One dependency edge in an exported graph.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GraphEdge {
    /// The dependent's id.
    pub from: u32,
    /// The dependency's id, or `None` when it has no provider.
    pub to: Option<u32>,
    /// The token asked for.
    pub token: String,
    /// An optional dependency.
    pub optional: bool,
}

/// A whole exported graph.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DependencyGraph {
    /// Live providers (replaced ones and an unused built-in `CONTEXT` are left out).
    pub nodes: Vec<GraphNode>,
    /// Their dependencies.
    pub edges: Vec<GraphEdge>,
}

impl Plan {
    /// The dependency graph of every live provider.
    pub fn graph(&self) -> DependencyGraph {
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        let used = |id: usize| {
            self.providers.iter().any(|p| {
                p.live
                    && p.deps.iter().any(|b| match b {
                        Binding::One(x) => x.index() == id,
                        Binding::Many(xs) => xs.iter().any(|x| x.index() == id),
                        _ => false,
                    })
            })
        };
        for (i, p) in self.providers.iter().enumerate() {
            if !p.live || (p.kind == PlanKind::Context && !used(i)) {
                continue;
            }
            let id = ProviderId::from_index(i);
            nodes.push(GraphNode {
                id: i as u32,
                token: self.name(id).to_string(),
                kind: match p.kind {
                    PlanKind::Class => "class",
                    PlanKind::Value => "value",
                    PlanKind::Factory => "factory",
                    PlanKind::Alias => "alias",
                    PlanKind::Context => "context",
                },
                scope: p.scope.as_str(),
                module: self.module_names[self.provider_module[i].index()].to_string(),
                is_async: p.is_async,
                failed: p.failed,
                label: self.labels[i].as_ref().map(|l| l.to_string()),
            });
            let specs = &self.deps_spec[i];
            for (k, b) in p.deps.iter().enumerate() {
                let (token, optional) = match specs.get(k) {
                    Some(d) => (d.token.name.to_string(), d.optional),
                    None => (String::new(), false),
                };
                let targets: Vec<Option<u32>> = match b {
                    Binding::One(x) => vec![Some(x.0)],
                    Binding::Many(xs) => xs.iter().map(|x| Some(x.0)).collect(),
                    Binding::Absent | Binding::Missing => vec![None],
                };
                let token = if token.is_empty() {
                    targets
                        .first()
                        .copied()
                        .flatten()
                        .map(|t| self.names[t as usize].to_string())
                        .unwrap_or_default()
                } else {
                    token
                };
                for to in targets {
                    edges.push(GraphEdge { from: i as u32, to, token: token.clone(), optional });
                }
            }
        }
        DependencyGraph { nodes, edges }
    }

    /// The graph as JSON: `{"nodes": [...], "edges": [...]}`.
    pub fn graph_json(&self) -> String {
        serde_json::to_string_pretty(&self.graph()).unwrap_or_else(|_| "{}".into())
    }

    /// The graph as a Mermaid flowchart (`graph TD`). Optional edges are dotted; missing providers
    /// are drawn as red nodes.
    pub fn graph_mermaid(&self) -> String {
        let g = self.graph();
        let mut out = String::from("graph TD\n");
        for n in &g.nodes {
            out.push_str(&format!("  p{}[\"{} ({})\"]\n", n.id, escape(&n.token), n.scope));
        }
        let mut missing = 0;
        for e in &g.edges {
            let arrow = if e.optional { "-.->" } else { "-->" };
            match e.to {
                Some(to) => out.push_str(&format!("  p{} {arrow} p{to}\n", e.from)),
                None => {
                    missing += 1;
                    out.push_str(&format!(
                        "  p{} {arrow} m{missing}[\"{} (missing)\"]\n",
                        e.from,
                        escape(&e.token)
                    ));
                    out.push_str(&format!("  style m{missing} fill:#fdd,stroke:#c00\n"));
                }
            }
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('"', "#quot;")
}
