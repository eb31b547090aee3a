//! The typed container for Rust (and the C ABI, which stores C pointers in it).
//!
//! It keeps the graph and the factories under one lock, compiles a [`Plan`] when the registry
//! changes, and resolves by following the plan. Singletons live in per-provider slots so a resolve
//! that finds its instance takes no lock beyond a read.
//!
//! This file holds the container's state, registration and its public resolve calls; the rest is
//! beside it in `container/`:
//!
//! - `resolve.rs`: following the plan (getting, building, caching an instance);
//! - `lifecycle.rs`: `initialize()` and `dispose()`, the `on_init` / `on_destroy` hooks and their errors;
//! - `scopes.rs`: [`ScopeHandle`], one instance of each scoped provider per scope;
//! - `raw.rs`: untyped providers and modules, for the C ABI and the bindings.

mod lifecycle;
mod raw;
mod resolve;
mod scopes;

pub use lifecycle::{destroy_failed, initialize_reentered, lifecycle_aggregate};
pub use raw::{RawHook, RawMake, RawModule, RawProvider, token_ref};
pub use scopes::ScopeHandle;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, RwLock};

use super::graph::Graph;
use super::module::Module;
use super::plan::Plan;
use super::provider::{ErasedProvider, Hooks, Instance, Make, Provider, downcast};
use super::spec::ProviderId;
use super::token::{Token, TokenKey};
use crate::error::Result;
use lifecycle::check_hooks;
use scopes::ScopeInner;

/// One cached instance, filled once.
#[derive(Default)]
pub(crate) struct Slot {
    cell: tokio::sync::OnceCell<Instance>,
    /// Serialises synchronous creation so two threads never both build a singleton.
    building: Mutex<()>,
    /// `initialize()` has run its `on_init` hook (or found it has none). Only singletons have it set.
    initialized: AtomicBool,
}

/// What one plan needs to run: the plan, and the makers and hooks indexed like it.
struct Compiled {
    plan: Arc<Plan>,
    makers: Vec<Make>,
    hooks: Vec<Hooks>,
    /// The singleton slots as of compilation (slots are only ever added, and adding one
    /// recompiles), so the hot path reads a slot without another lock.
    slots: Vec<Arc<Slot>>,
}

struct Registry {
    graph: Graph,
    makers: Vec<Make>,
    hooks: Vec<Hooks>,
}

struct Inner {
    registry: Mutex<Registry>,
    compiled: RwLock<Option<Arc<Compiled>>>,
    singletons: RwLock<Vec<Arc<Slot>>>,
    /// Instances with an `on_destroy` hook, in creation order.
    created: Mutex<Vec<(ProviderId, Instance)>>,
    context: Instance,
    disposed: AtomicBool,
    dispose_outcome: tokio::sync::OnceCell<Result<()>>,
    /// One `initialize()` at a time, so a hook never runs twice.
    init_lock: tokio::sync::Mutex<()>,
}

/// A dependency-injection container.
///
/// Cloning gives another handle to the same container. Registration, resolution and scopes may be
/// used from any thread.
#[derive(Clone)]
pub struct Container {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container").field("disposed", &self.is_disposed()).finish_non_exhaustive()
    }
}

impl Default for Container {
    fn default() -> Self {
        Container::new()
    }
}

/// Where a resolution is happening: the container itself, or one scope.
#[derive(Clone, Copy)]
struct At<'a> {
    scope: Option<&'a ScopeInner>,
}

impl Container {
    /// An empty container; its root context (what `CONTEXT` gives outside scopes) is `()`.
    pub fn new() -> Self {
        Container::with_context(())
    }

    /// An empty container whose messages speak of `dialect`'s API (the C ABI uses this).
    pub fn with_dialect(dialect: super::Dialect) -> Self {
        let c = Container::new();
        c.inner.registry.lock().graph.set_dialect(dialect);
        c
    }

    /// An empty container whose root context is `context`.
    pub fn with_context<C: Send + Sync + 'static>(context: C) -> Self {
        let graph = Graph::new();
        let n = graph.provider_count();
        Container {
            inner: Arc::new(Inner {
                registry: Mutex::new(Registry {
                    graph,
                    makers: vec![Make::Builtin; n],
                    hooks: vec![Hooks::default(); n],
                }),
                compiled: RwLock::new(None),
                singletons: RwLock::new((0..n).map(|_| Arc::new(Slot::default())).collect()),
                created: Mutex::new(Vec::new()),
                context: Arc::new(context),
                disposed: AtomicBool::new(false),
                dispose_outcome: tokio::sync::OnceCell::new(),
                init_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// A container built from a root module, the way `Omnitron.create(AppModule)` does: everything the
    /// module can see is resolvable from the container.
    pub fn from_module(module: &Module) -> Result<Self> {
        let c = Container::new();
        c.load(module, true)?;
        Ok(c)
    }

    /// Registers a provider in the container itself.
    pub fn register<T: Send + Sync + 'static>(&self, provider: Provider<T>) -> Result<ProviderId> {
        let p = provider.erase();
        check_hooks(&p.spec, &p.hooks)?;
        let mut reg = self.inner.registry.lock();
        let id = reg.graph.register(p.spec)?;
        self.attach(&mut reg, &[(id, p.make, p.hooks)]);
        Ok(id)
    }

    /// Loads a module and everything it imports; its exports become resolvable from the container.
    pub fn load_module(&self, module: &Module) -> Result<()> {
        self.load(module, false)
    }

    fn load(&self, module: &Module, as_entry: bool) -> Result<()> {
        let mut reg = self.inner.registry.lock();
        let mut specs = Vec::new();
        let mut bodies: Vec<Vec<&ErasedProvider>> = Vec::new();
        let reachable = module.reachable();
        for m in &reachable {
            if reg.graph.has_module(m.key()) {
                continue;
            }
            for p in m.providers() {
                check_hooks(&p.spec, &p.hooks).map_err(|e| e.context(format!("in module '{}'", m.name())))?;
            }
            specs.push(m.spec());
            bodies.push(m.providers().iter().collect());
        }
        let ids = reg.graph.load_modules(module.key(), &specs, as_entry)?;
        let mut attach = Vec::new();
        for (m, ids) in bodies.iter().zip(ids) {
            for (p, id) in m.iter().zip(ids) {
                attach.push((id, p.make.clone(), p.hooks.clone()));
            }
        }
        self.attach(&mut reg, &attach);
        Ok(())
    }

    fn attach(&self, reg: &mut Registry, items: &[(ProviderId, Make, Hooks)]) {
        let n = reg.graph.provider_count();
        reg.makers.resize(n, Make::Builtin);
        reg.hooks.resize(n, Hooks::default());
        for (id, make, hooks) in items {
            reg.makers[id.index()] = make.clone();
            reg.hooks[id.index()] = hooks.clone();
        }
        let mut slots = self.inner.singletons.write();
        while slots.len() < n {
            slots.push(Arc::new(Slot::default()));
        }
        for (id, make, hooks) in items {
            if let Make::Value(v) = make {
                let _ = slots[id.index()].cell.set(v.clone());
                // A value exists from registration on; its on_destroy hook (if any) runs at dispose.
                if hooks.destroy.is_some() {
                    self.inner.created.lock().push((*id, v.clone()));
                }
            }
        }
        *self.inner.compiled.write() = None;
    }

    fn compiled(&self) -> Result<Arc<Compiled>> {
        if self.inner.disposed.load(Ordering::Acquire) {
            return Err(Graph::disposed_error());
        }
        if let Some(c) = self.inner.compiled.read().as_ref() {
            return Ok(c.clone());
        }
        let mut reg = self.inner.registry.lock();
        let plan = reg.graph.plan();
        let slots = self.inner.singletons.read().clone();
        let c = Arc::new(Compiled { plan, makers: reg.makers.clone(), hooks: reg.hooks.clone(), slots });
        *self.inner.compiled.write() = Some(c.clone());
        Ok(c)
    }

    /// The compiled plan of what is registered now.
    pub fn plan(&self) -> Result<Arc<Plan>> {
        Ok(self.compiled()?.plan.clone())
    }

    /// Whether something visible from the container provides `token`.
    pub fn has<T: ?Sized + 'static>(&self, token: &Token<T>) -> bool {
        self.compiled().map(|c| c.plan.lookup(token.key()).is_some()).unwrap_or(false)
    }

    /// Resolves `token` synchronously.
    ///
    /// Fails with `MissingProvider` / `NotExported` when nothing visible provides it, with the
    /// provider's own reason when it cannot be built (a loop, a missing dependency deeper down, a scope
    /// violation), with `AsyncProviderResolvedSync` when building it must be awaited, and with
    /// `ScopeRequired` for scoped providers.
    pub fn resolve<T: Send + Sync + 'static>(&self, token: &Token<T>) -> Result<Arc<T>> {
        if let Some(v) = self.ready(token.key()) {
            return downcast(v, token.name());
        }
        let c = self.compiled()?;
        let id = self.root_one(&c, token.key(), token.name())?;
        downcast(self.get(&c, id, At { scope: None })?, token.name())
    }

    /// Resolves `token`, awaiting async factories and hooks.
    pub async fn resolve_async<T: Send + Sync + 'static>(&self, token: &Token<T>) -> Result<Arc<T>> {
        let c = self.compiled()?;
        let id = self.root_one(&c, token.key(), token.name())?;
        downcast(self.get_async(&c, id, At { scope: None }).await?, token.name())
    }

    /// Resolves `token`, giving `None` when nothing provides it (other failures are still errors).
    pub fn resolve_optional<T: Send + Sync + 'static>(&self, token: &Token<T>) -> Result<Option<Arc<T>>> {
        let c = self.compiled()?;
        match c.plan.lookup(token.key()) {
            None => Ok(None),
            Some(ids) => downcast(self.get(&c, ids[0], At { scope: None })?, token.name()).map(Some),
        }
    }

    /// Every provider of a multi token, in registration order (empty when there is none).
    pub fn resolve_all<T: Send + Sync + 'static>(&self, token: &Token<T>) -> Result<Vec<Arc<T>>> {
        let c = self.compiled()?;
        let ids: Vec<ProviderId> = c.plan.lookup(token.key()).map(|v| v.to_vec()).unwrap_or_default();
        ids.into_iter().map(|id| downcast(self.get(&c, id, At { scope: None })?, token.name())).collect()
    }

    /// Like [`Container::resolve_all`], awaiting async providers.
    pub async fn resolve_all_async<T: Send + Sync + 'static>(&self, token: &Token<T>) -> Result<Vec<Arc<T>>> {
        let c = self.compiled()?;
        let ids: Vec<ProviderId> = c.plan.lookup(token.key()).map(|v| v.to_vec()).unwrap_or_default();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(downcast(self.get_async(&c, id, At { scope: None }).await?, token.name())?);
        }
        Ok(out)
    }

    /// Resolves by raw token key, untyped (for the C ABI and other bindings).
    pub fn resolve_key(&self, key: TokenKey, name: &str) -> Result<Instance> {
        let c = self.compiled()?;
        let id = self.root_one(&c, key, name)?;
        self.get(&c, id, At { scope: None })
    }

    /// Untyped [`Container::resolve_all`] by key.
    pub fn resolve_all_key(&self, key: TokenKey) -> Result<Vec<Instance>> {
        let c = self.compiled()?;
        let ids: Vec<ProviderId> = c.plan.lookup(key).map(|v| v.to_vec()).unwrap_or_default();
        ids.into_iter().map(|id| self.get(&c, id, At { scope: None })).collect()
    }

    fn root_one(&self, c: &Compiled, key: TokenKey, name: &str) -> Result<ProviderId> {
        match c.plan.lookup(key) {
            Some(ids) => Ok(ids[0]),
            None => Err(c.plan.explain_missing(key, name)),
        }
    }

    /// Identity of this container for re-entrancy marks.
    fn owner(&self) -> usize {
        Arc::as_ptr(&self.inner) as *const () as usize
    }

    /// Whether [`Container::dispose`] was called.
    pub fn is_disposed(&self) -> bool {
        self.inner.disposed.load(Ordering::Acquire)
    }

    /// The dependency graph as JSON.
    pub fn export_graph_json(&self) -> Result<String> {
        Ok(self.plan()?.graph_json())
    }

    /// The dependency graph as a Mermaid flowchart.
    pub fn export_graph_mermaid(&self) -> Result<String> {
        Ok(self.plan()?.graph_mermaid())
    }
}
