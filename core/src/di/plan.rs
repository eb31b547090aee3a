//! The compiled form of a graph: for every provider, exactly which providers its dependencies come
//! from, whether it can be built at all (and why not), whether it needs awaiting or a scope, and an
//! order for initialising and disposing.
//!
//! The plan is what makes resolving cheap in every language: the decisions are taken here once, and a
//! binding's hot path only follows the indices (see
//! `docs/decisions/0005-di-plans-compiled-by-the-engine.md`).

use std::collections::HashMap;
use std::sync::Arc;

use super::graph::{Graph, ModuleId};
use super::scope::Scope;
use super::spec::{Dependency, InitHook, ProviderId, ProviderKind, TokenRef};
use super::token::{KeyMap, TokenKey};

/// Where one dependency comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// One provider's instance.
    One(ProviderId),
    /// A list of instances, one per provider, in registration order (an `all` dependency).
    Many(Arc<[ProviderId]>),
    /// Nothing: an optional dependency with no provider.
    Absent,
    /// Nothing, and it was required: the dependent cannot be built (see [`Plan::explain`]).
    Missing,
}

/// How a binding builds a provider's instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    /// Construct the class with the dependencies.
    Class,
    /// The registered value.
    Value,
    /// Call the factory with the dependencies.
    Factory,
    /// The instance of `deps[0]`.
    Alias,
    /// The current scope's context (the root's context outside any scope).
    Context,
}

/// Everything a binding needs to build one provider's instance.
#[derive(Debug, Clone)]
pub struct ProviderPlan {
    /// The token it provides.
    pub token: TokenKey,
    /// How to build it.
    pub kind: PlanKind,
    /// Where its instance is cached: singletons in the container, scoped in the scope, transients
    /// and aliases nowhere. Values are singletons.
    pub scope: Scope,
    /// Its dependencies, in the order its constructor or factory takes them.
    pub deps: Vec<Binding>,
    /// Building it (or something it needs) must be awaited.
    pub is_async: bool,
    /// Its `onInit` hook, as declared (run by `initialize()` for singletons only; it does not make
    /// the provider async).
    pub init: InitHook,
    /// Building it needs a scope (it is scoped, or a transient that needs a scoped dependency).
    pub needs_scope: bool,
    /// It cannot be built; [`Plan::explain`] says why.
    pub failed: bool,
    /// Position in a dependencies-first order of all providers. Dispose in decreasing rank.
    pub rank: u32,
    /// Not replaced by a later registration.
    pub live: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// A required dependency has no provider visible from the dependent's module.
    Missing { token: TokenRef, module: ModuleId },
    /// The provider is on a dependency loop; the path starts and ends with it.
    Cycle { path: Arc<[ProviderId]> },
    /// A singleton depends (through transients) on a scoped provider; the path starts with it.
    Scope { path: Vec<ProviderId> },
    /// A dependency cannot be built.
    Dep { via: ProviderId },
    /// The longest dependency chain below it is longer than [`MAX_DEPTH`].
    TooDeep { depth: u32 },
}

/// The longest dependency chain a provider may have (itself included). Every runner builds
/// dependencies recursively; this keeps the recursion far from any stack or interpreter limit.
pub const MAX_DEPTH: u32 = 256;

/// A compiled graph. Cheap to share; a registration makes a new one.
#[derive(Debug)]
pub struct Plan {
    pub(crate) providers: Vec<ProviderPlan>,
    pub(crate) failures: Vec<Option<Failure>>,
    /// For explaining async: the first dependency that makes a provider async.
    pub(crate) async_via: Vec<Option<ProviderId>>,
    /// For explaining scope requirements: the dependency path to the scoped provider.
    pub(crate) scope_via: Vec<Option<ProviderId>>,
    pub(crate) root: KeyMap<Vec<ProviderId>>,
    pub(crate) init_order: Vec<ProviderId>,
    // What messages need.
    pub(crate) names: Vec<Arc<str>>,
    pub(crate) labels: Vec<Option<Arc<str>>>,
    pub(crate) deps_spec: Vec<Vec<Dependency>>,
    pub(crate) provider_module: Vec<ModuleId>,
    pub(crate) module_names: Vec<Arc<str>>,
    pub(crate) module_imports: Vec<Vec<ModuleId>>,
    pub(crate) module_exports: Vec<Vec<TokenKey>>,
    pub(crate) module_own: Vec<Vec<TokenKey>>,
    pub(crate) visible_names: Vec<Vec<Arc<str>>>,
    pub(crate) token_names: HashMap<TokenKey, Arc<str>>,
    pub(crate) spec_async: Vec<bool>,
    pub(crate) dialect: super::Dialect,
}

impl Plan {
    /// The plan of one provider.
    pub fn provider(&self, id: ProviderId) -> &ProviderPlan {
        &self.providers[id.index()]
    }

    /// Every provider's plan, indexed by [`ProviderId::index`].
    pub fn providers(&self) -> &[ProviderPlan] {
        &self.providers
    }

    /// What resolving `token` from the container itself gives: the providers visible from the root,
    /// or `None` when there is no such provider (see [`Plan::explain_missing`]).
    pub fn lookup(&self, token: TokenKey) -> Option<&[ProviderId]> {
        self.root.get(&token).map(|v| &v[..])
    }

    /// Every token visible from the root with its providers, for bindings that build their own
    /// lookup table.
    pub fn root_entries(&self) -> impl Iterator<Item = (TokenKey, &[ProviderId])> {
        self.root.iter().map(|(k, v)| (*k, &v[..]))
    }

    /// Singletons in dependencies-first order: what `initialize()` builds and initialises.
    pub fn init_order(&self) -> &[ProviderId] {
        &self.init_order
    }

    /// Sorts created instances for disposal: dependents before their dependencies. Ties keep
    /// reverse creation order (the input is assumed to be in creation order).
    pub fn sort_for_dispose<T>(&self, created: &mut [(ProviderId, T)]) {
        created.reverse();
        created
            .sort_by_key(|(id, _)| std::cmp::Reverse(self.providers.get(id.index()).map_or(0, |p| p.rank)));
    }

    /// The name of a provider's token.
    pub fn name(&self, id: ProviderId) -> &str {
        &self.names[id.index()]
    }
}

/// Compiles the registry. Never fails: problems are recorded per provider and reported when that
/// provider is asked for (or by `initialize()`, which asks for every singleton).
pub(crate) fn compile(g: &Graph) -> Plan {
    let n = g.providers.len();
    let visible = visibility(g);

    let mut failures: Vec<Option<Failure>> = vec![None; n];
    let mut providers: Vec<ProviderPlan> = Vec::with_capacity(n);
    for (i, node) in g.providers.iter().enumerate() {
        let spec = &node.spec;
        let vis = &visible[node.module.index()];
        let bind = |d: &Dependency, failure: &mut Option<Failure>| -> Binding {
            match vis.get(&d.token.key) {
                _ if d.all => Binding::Many(vis.get(&d.token.key).cloned().unwrap_or_default().into()),
                Some(ids) => Binding::One(ids[0]),
                None if d.optional => Binding::Absent,
                None => {
                    if failure.is_none() {
                        *failure = Some(Failure::Missing { token: d.token.clone(), module: node.module });
                    }
                    Binding::Missing
                }
            }
        };
        let mut failure = None;
        let (kind, deps) = match &spec.kind {
            ProviderKind::Class => {
                (PlanKind::Class, spec.deps.iter().map(|d| bind(d, &mut failure)).collect())
            }
            ProviderKind::Factory => {
                (PlanKind::Factory, spec.deps.iter().map(|d| bind(d, &mut failure)).collect())
            }
            ProviderKind::Value => (PlanKind::Value, Vec::new()),
            ProviderKind::Context => (PlanKind::Context, Vec::new()),
            ProviderKind::Alias(target) => {
                (PlanKind::Alias, vec![bind(&Dependency::required(target.clone()), &mut failure)])
            }
        };
        failures[i] = failure;
        let scope = match kind {
            PlanKind::Value => Scope::Singleton,
            PlanKind::Alias => Scope::Transient,
            PlanKind::Context => Scope::Scoped,
            _ => spec.scope,
        };
        providers.push(ProviderPlan {
            token: spec.token.key,
            kind,
            scope,
            deps,
            is_async: false,
            init: spec.init,
            needs_scope: false,
            failed: false,
            rank: 0,
            live: node.live,
        });
    }

    let mut walk = Walk {
        providers: &mut providers,
        failures: &mut failures,
        spec_async: g.providers.iter().map(|p| p.spec.is_async).collect(),
        color: vec![Color::White; n],
        depth: vec![0; n],
        captive: vec![None; n],
        async_via: vec![None; n],
        scope_via: vec![None; n],
        next_rank: 0,
    };
    for i in 0..n {
        walk.visit(ProviderId(i as u32));
    }
    let Walk { async_via, scope_via, spec_async, .. } = walk;
    for (i, p) in providers.iter_mut().enumerate() {
        p.failed = failures[i].is_some();
    }

    let mut init_order: Vec<ProviderId> = (0..n)
        .map(|i| ProviderId(i as u32))
        .filter(|id| {
            let p = &providers[id.index()];
            p.live && p.scope == Scope::Singleton && matches!(p.kind, PlanKind::Class | PlanKind::Factory)
        })
        .collect();
    init_order.sort_by_key(|id| providers[id.index()].rank);

    let module_names: Vec<Arc<str>> = g.modules.iter().map(|m| m.name.clone()).collect();
    let visible_names =
        visible.iter().map(|v| v.keys().filter_map(|k| g.names.get(k).cloned()).collect()).collect();
    Plan {
        failures,
        async_via,
        scope_via,
        root: visible.into_iter().next().unwrap_or_default(),
        init_order,
        names: g.providers.iter().map(|p| p.spec.token.name.clone()).collect(),
        labels: g.providers.iter().map(|p| p.spec.label.clone()).collect(),
        deps_spec: g.providers.iter().map(|p| p.spec.deps.clone()).collect(),
        provider_module: g.providers.iter().map(|p| p.module).collect(),
        module_names,
        module_imports: g.modules.iter().map(|m| m.imports.clone()).collect(),
        module_exports: g.modules.iter().map(|m| m.exported.iter().map(|(t, _)| *t).collect()).collect(),
        module_own: g.modules.iter().map(|m| m.own.iter().map(|(t, _)| *t).collect()).collect(),
        visible_names,
        token_names: g.names.clone(),
        spec_async,
        providers,
        dialect: g.dialect,
    }
}

/// For every module, the providers it can see by token: its own first, then its imports' exports
/// (first import wins), then global modules' exports, then the container's own registrations.
/// Entry 0 is the root: the container's registrations, the entry module's whole inside view, the
/// loaded modules' exports, and the globals.
fn visibility(g: &Graph) -> Vec<KeyMap<Vec<ProviderId>>> {
    let globals: Vec<ModuleId> =
        (0..g.modules.len()).map(|i| ModuleId(i as u32)).filter(|m| g.modules[m.index()].global).collect();
    let add = |map: &mut KeyMap<Vec<ProviderId>>, entries: &[(TokenKey, Vec<ProviderId>)]| {
        for (t, ids) in entries {
            map.entry(*t).or_insert_with(|| ids.clone());
        }
    };
    let root = &g.modules[0];
    let mut out: Vec<KeyMap<Vec<ProviderId>>> = vec![KeyMap::default(); g.modules.len()];
    for (i, m) in g.modules.iter().enumerate().skip(1) {
        let mut map = KeyMap::default();
        add(&mut map, &m.own);
        for imp in &m.imports {
            add(&mut map, &g.modules[imp.index()].exported);
        }
        for gm in &globals {
            if gm.index() != i {
                add(&mut map, &g.modules[gm.index()].exported);
            }
        }
        add(&mut map, &root.own);
        out[i] = map;
    }
    let mut map = KeyMap::default();
    add(&mut map, &root.own);
    if let Some(entry) = g.entry {
        for (t, ids) in &out[entry.index()] {
            map.entry(*t).or_insert_with(|| ids.clone());
        }
    }
    for imp in &root.imports {
        add(&mut map, &g.modules[imp.index()].exported);
    }
    for gm in &globals {
        add(&mut map, &g.modules[gm.index()].exported);
    }
    out[0] = map;
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Color {
    White,
    Gray,
    Black,
}

/// Depth-first walk over dependency edges computing ranks, loops, failures, async-ness and scope
/// needs. Iterative, so a chain thousands of providers deep cannot overflow the stack.
struct Walk<'a> {
    providers: &'a mut Vec<ProviderPlan>,
    failures: &'a mut Vec<Option<Failure>>,
    spec_async: Vec<bool>,
    color: Vec<Color>,
    /// Longest dependency chain below each provider, itself included.
    depth: Vec<u32>,
    /// Path from a provider to a scoped provider through transients/aliases (`[self, ..., scoped]`).
    captive: Vec<Option<Vec<ProviderId>>>,
    async_via: Vec<Option<ProviderId>>,
    scope_via: Vec<Option<ProviderId>>,
    next_rank: u32,
}

fn edges(p: &ProviderPlan) -> Vec<ProviderId> {
    let mut out = Vec::new();
    for b in &p.deps {
        match b {
            Binding::One(id) => out.push(*id),
            Binding::Many(ids) => out.extend(ids.iter().copied()),
            Binding::Absent | Binding::Missing => {}
        }
    }
    out
}

impl Walk<'_> {
    fn visit(&mut self, start: ProviderId) {
        if self.color[start.index()] != Color::White {
            return;
        }
        let mut stack: Vec<(ProviderId, Vec<ProviderId>, usize)> = Vec::new();
        self.color[start.index()] = Color::Gray;
        stack.push((start, edges(&self.providers[start.index()]), 0));
        while let Some(frame) = stack.last_mut() {
            let (node, ref next, ref mut pos) = *frame;
            if *pos < next.len() {
                let q = next[*pos];
                *pos += 1;
                match self.color[q.index()] {
                    Color::White => {
                        self.color[q.index()] = Color::Gray;
                        let e = edges(&self.providers[q.index()]);
                        stack.push((q, e, 0));
                    }
                    Color::Gray => {
                        let from = stack.iter().position(|f| f.0 == q).unwrap_or(0);
                        let cycle: Vec<ProviderId> = stack[from..].iter().map(|f| f.0).collect();
                        for (k, member) in cycle.iter().enumerate() {
                            let mut path: Vec<ProviderId> = cycle[k..].to_vec();
                            path.extend_from_slice(&cycle[..k]);
                            path.push(*member);
                            let slot = &mut self.failures[member.index()];
                            if !matches!(slot, Some(Failure::Missing { .. })) {
                                *slot = Some(Failure::Cycle { path: path.into() });
                            }
                        }
                    }
                    Color::Black => {}
                }
            } else {
                stack.pop();
                self.finish(node);
            }
        }
    }

    /// All dependencies of `node` are done (or on a loop with it): derive its own facts.
    fn finish(&mut self, node: ProviderId) {
        let i = node.index();
        let deps = edges(&self.providers[i]);
        let done: Vec<ProviderId> =
            deps.iter().copied().filter(|d| self.color[d.index()] == Color::Black).collect();

        if self.failures[i].is_none()
            && let Some(bad) = done.iter().find(|d| self.failures[d.index()].is_some())
        {
            self.failures[i] = Some(Failure::Dep { via: *bad });
        }
        let depth = 1 + done.iter().map(|d| self.depth[d.index()]).max().unwrap_or(0);
        self.depth[i] = depth;
        if self.failures[i].is_none() && depth > MAX_DEPTH {
            self.failures[i] = Some(Failure::TooDeep { depth });
        }

        let p = &self.providers[i];
        // Only a factory makes a provider async: an `onInit` hook runs in `initialize()`, never while
        // resolving, so it cannot make a resolve wait.
        let own_async = self.spec_async[i];
        let via = done.iter().copied().find(|d| self.providers[d.index()].is_async);
        self.async_via[i] = if own_async { None } else { via };

        let scope = p.scope;
        let kind = p.kind;
        let (captive, needs_scope) = match scope {
            Scope::Scoped => (Some(vec![node]), kind != PlanKind::Context),
            Scope::Transient => {
                let captive = done.iter().find_map(|d| self.captive[d.index()].clone()).map(|mut path| {
                    path.insert(0, node);
                    path
                });
                let via = done.iter().copied().find(|d| self.providers[d.index()].needs_scope);
                self.scope_via[i] = via;
                (captive, via.is_some())
            }
            Scope::Singleton => {
                if self.failures[i].is_none()
                    && let Some(path) = done.iter().find_map(|d| self.captive[d.index()].clone())
                {
                    let mut full = vec![node];
                    full.extend(path);
                    self.failures[i] = Some(Failure::Scope { path: full });
                }
                (None, false)
            }
        };
        self.captive[i] = captive;

        let p = &mut self.providers[i];
        p.is_async = own_async || via.is_some();
        p.needs_scope = needs_scope;
        p.rank = self.next_rank;
        self.next_rank += 1;
        self.color[i] = Color::Black;
    }
}
