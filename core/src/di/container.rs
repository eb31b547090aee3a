//! The typed container for Rust (and the C ABI, which stores C pointers in it).
//!
//! It keeps the graph and the factories under one lock, compiles a [`Plan`] when the registry
//! changes, and resolves by following the plan. Singletons live in per-provider slots so a resolve
//! that finds its instance takes no lock beyond a read.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, RwLock};

use super::explain::{Failed, is_di_error};
use super::graph::Graph;
use super::module::Module;
use super::plan::{Binding, Plan, PlanKind};
use super::provider::{BoxFuture, ErasedProvider, Hooks, Instance, Make, Provider, Resolved, downcast};
use super::reentry::{self, Marked, Op};
use super::scope::Scope;
use super::spec::{ProviderId, ProviderKind, ProviderSpec, TokenRef};
use super::token::{Token, TokenKey};
use crate::error::{BoxError, Error, ErrorCode, Result};

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

    /// Registers an untyped provider (for the C ABI and other bindings that keep their instances in
    /// this container).
    pub fn register_raw(&self, provider: RawProvider) -> Result<ProviderId> {
        let (spec, make, hooks) = provider.into_parts();
        check_hooks(&spec, &hooks)?;
        let mut reg = self.inner.registry.lock();
        let id = reg.graph.register(spec)?;
        self.attach(&mut reg, &[(id, make, hooks)]);
        Ok(id)
    }

    /// Loads untyped modules (for bindings): `modules` holds every module reachable from `entry` with
    /// its providers (the specs' own `providers` lists are ignored). Loops, unknown imports and bad
    /// exports are refused before anything changes.
    pub fn load_raw(
        &self,
        entry: super::spec::ModuleKey,
        modules: Vec<RawModule>,
        as_entry: bool,
    ) -> Result<()> {
        let mut reg = self.inner.registry.lock();
        let mut specs = Vec::with_capacity(modules.len());
        let mut bodies = Vec::with_capacity(modules.len());
        for m in modules {
            let mut spec = m.spec;
            let mut parts = Vec::with_capacity(m.providers.len());
            spec.providers = Vec::with_capacity(m.providers.len());
            for p in m.providers {
                let (s, make, hooks) = p.into_parts();
                check_hooks(&s, &hooks).map_err(|e| e.context(format!("in module '{}'", spec.name)))?;
                spec.providers.push(s);
                parts.push((make, hooks));
            }
            specs.push(spec);
            bodies.push(parts);
        }
        let ids = reg.graph.load_modules(entry, &specs, as_entry)?;
        let mut attach = Vec::new();
        for (parts, ids) in bodies.into_iter().zip(ids) {
            for ((make, hooks), id) in parts.into_iter().zip(ids) {
                attach.push((id, make, hooks));
            }
        }
        self.attach(&mut reg, &attach);
        Ok(())
    }

    fn root_one(&self, c: &Compiled, key: TokenKey, name: &str) -> Result<ProviderId> {
        match c.plan.lookup(key) {
            Some(ids) => Ok(ids[0]),
            None => Err(c.plan.explain_missing(key, name)),
        }
    }

    /// Builds every singleton not built yet and runs the `on_init` hooks of those not initialised
    /// yet, in dependency order (a provider's dependencies are built and initialised before it is
    /// built), awaiting async factories and hooks. Afterwards even async singletons resolve
    /// synchronously.
    ///
    /// Resolving never runs `on_init`: this is the only place hooks run, once per singleton.
    /// Transient and scoped instances are never initialised. Calling it again does only what is left
    /// (singletons registered, or built by a resolve, since the last call). Fails on the first
    /// provider that cannot be built or whose hook fails (`LifecycleFailed`, naming it; that hook
    /// runs again on the next call).
    pub async fn initialize(&self) -> Result<()> {
        let owner = self.owner();
        if reentry::is_active(owner, Op::Initialize) {
            return Err(initialize_reentered());
        }
        Marked::new(owner, Op::Initialize, async {
            let _one = self.inner.init_lock.lock().await;
            let c = self.compiled()?;
            for &id in c.plan.init_order() {
                let v = self.get_async(&c, id, At { scope: None }).await?;
                let slot = &c.slots[id.index()];
                if slot.initialized.load(Ordering::Acquire) {
                    continue;
                }
                self.run_init(&c, id, &v).await?;
                // A hook may have disposed the container.
                self.check_alive()?;
                slot.initialized.store(true, Ordering::Release);
            }
            Ok(())
        })
        .await
    }

    async fn run_init(&self, c: &Compiled, id: ProviderId, v: &Instance) -> Result<()> {
        let hooks = &c.hooks[id.index()];
        if let Some(init) = &hooks.init_sync {
            init(v).map_err(|e| self.failure(c, id, Failed::OnInit, e))?;
        }
        if let Some(init) = &hooks.init_async {
            init(v.clone()).await.map_err(|e| self.failure(c, id, Failed::OnInit, e))?;
        }
        Ok(())
    }

    /// The error a user callback's failure becomes: DI errors from inside it pass through; anything
    /// else is wrapped (`FactoryFailed` / `LifecycleFailed`) naming the provider, the resolution path
    /// and the module path, with the callback's error as its source.
    fn failure(&self, c: &Compiled, id: ProviderId, what: Failed, e: BoxError) -> Error {
        let building = if what == Failed::OnInit { Vec::new() } else { reentry::builds(self.owner()) };
        match e.downcast::<Error>() {
            Ok(engine) if is_di_error(engine.code()) => *engine,
            Ok(engine) => {
                c.plan.explain_failure(id, what, &building, &engine.to_string()).with_source(*engine)
            }
            Err(other) => c.plan.explain_failure(id, what, &building, &other.to_string()).with_source(other),
        }
    }

    /// Whether every singleton has been built and initialised by [`Container::initialize`] (false
    /// again once a singleton is registered, or built by a resolve, after it ran).
    pub fn is_initialized(&self) -> bool {
        match self.compiled() {
            Ok(c) => {
                c.plan.init_order().iter().all(|id| c.slots[id.index()].initialized.load(Ordering::Acquire))
            }
            Err(_) => false,
        }
    }

    /// Runs every `on_destroy` hook, dependents before their dependencies, and closes the container.
    ///
    /// A failing hook does not stop the others; all failures are reported together in one
    /// `LifecycleFailed` error (see [`Error::related`]). Calling it again (or concurrently) waits for
    /// the first call and gives its outcome. Afterwards every resolve and register fails with
    /// `ContainerDisposed`.
    pub async fn dispose(&self) -> Result<()> {
        let owner = self.owner();
        if reentry::is_active(owner, Op::Dispose) {
            return Err(Error::new(
                ErrorCode::LifecycleFailed,
                "dispose() was called from an onDestroy hook of the same container: it would wait for itself",
            ));
        }
        self.inner
            .dispose_outcome
            .get_or_init(|| Marked::new(owner, Op::Dispose, self.dispose_once()))
            .await
            .clone()
    }

    /// Identity of this container for re-entrancy marks.
    fn owner(&self) -> usize {
        Arc::as_ptr(&self.inner) as *const () as usize
    }

    /// The error for asking for a provider while it is being built on this thread.
    fn loop_error(&self, c: &Compiled, id: ProviderId) -> Error {
        let mut path = reentry::builds(self.owner());
        if let Some(start) = path.iter().position(|p| *p == id) {
            path.drain(..start);
        }
        path.push(id);
        c.plan.explain_runtime_loop(&path)
    }

    fn check_reentry(&self, c: &Compiled, id: ProviderId) -> Result<()> {
        if reentry::is_active(self.owner(), Op::Build(id)) { Err(self.loop_error(c, id)) } else { Ok(()) }
    }

    /// An instance finished after its container (or scope) was disposed: destroy it at once and
    /// report the container as disposed.
    fn discard(&self, c: &Compiled, id: ProviderId, v: Instance) -> Error {
        if let Some(hook) = &c.hooks[id.index()].destroy {
            let hook = hook.clone();
            if let Err(e) = crate::runtime::block_on(async move { hook(v).await }) {
                tracing::warn!(provider = c.plan.name(id), error = %e, "onDestroy of an instance finished after dispose failed");
            }
        }
        Graph::disposed_error()
    }

    async fn dispose_once(&self) -> Result<()> {
        let c = match self.compiled() {
            Ok(c) => c,
            Err(e) => return Err(e),
        };
        self.inner.disposed.store(true, Ordering::Release);
        self.inner.registry.lock().graph.mark_disposed();
        let mut created = std::mem::take(&mut *self.inner.created.lock());
        c.plan.sort_for_dispose(&mut created);
        let result = run_destroy_hooks(&c, created, "container").await;
        // Drop the instances the container held.
        for slot in self.inner.singletons.write().iter_mut() {
            *slot = Arc::new(Slot::default());
        }
        *self.inner.compiled.write() = None;
        result
    }

    /// Whether [`Container::dispose`] was called.
    pub fn is_disposed(&self) -> bool {
        self.inner.disposed.load(Ordering::Acquire)
    }

    /// A new scope with `()` as its context.
    pub fn create_scope(&self) -> Result<ScopeHandle> {
        self.create_scope_with(())
    }

    /// A new scope whose `CONTEXT` is `context` (a request, a user, a transaction).
    pub fn create_scope_with<C: Send + Sync + 'static>(&self, context: C) -> Result<ScopeHandle> {
        self.create_scope_arc(Arc::new(context))
    }

    /// A new scope with an already shared context (for bindings).
    pub fn create_scope_arc(&self, context: Instance) -> Result<ScopeHandle> {
        self.compiled()?;
        Ok(ScopeHandle {
            container: self.clone(),
            inner: Arc::new(ScopeInner {
                context,
                slots: Mutex::new(std::collections::HashMap::new()),
                created: Mutex::new(Vec::new()),
                disposed: AtomicBool::new(false),
                dispose_outcome: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// The dependency graph as JSON.
    pub fn export_graph_json(&self) -> Result<String> {
        Ok(self.plan()?.graph_json())
    }

    /// The dependency graph as a Mermaid flowchart.
    pub fn export_graph_mermaid(&self) -> Result<String> {
        Ok(self.plan()?.graph_mermaid())
    }

    // ---- resolution -------------------------------------------------------------------------

    /// A built singleton visible from the root under `key`, found without cloning the plan: the
    /// common case of a resolve.
    fn ready(&self, key: TokenKey) -> Option<Instance> {
        if self.inner.disposed.load(Ordering::Acquire) {
            return None;
        }
        let guard = self.inner.compiled.read();
        let c = guard.as_ref()?;
        let id = *c.plan.lookup(key)?.first()?;
        if c.plan.provider(id).scope != Scope::Singleton {
            return None;
        }
        c.slots[id.index()].cell.get().cloned()
    }

    fn get(&self, c: &Compiled, id: ProviderId, at: At<'_>) -> Result<Instance> {
        let p = c.plan.provider(id);
        match p.scope {
            Scope::Singleton => {
                let slot = &c.slots[id.index()];
                if let Some(v) = slot.cell.get() {
                    return Ok(v.clone());
                }
                self.check_alive()?;
                self.check_buildable(c, id)?;
                if p.is_async {
                    return Err(c.plan.explain_async(id));
                }
                self.check_reentry(c, id)?;
                let _guard = slot.building.lock();
                if let Some(v) = slot.cell.get() {
                    return Ok(v.clone());
                }
                // Singletons never see a scope: what they depend on must outlive every scope.
                let v = self.build(c, id, At { scope: None })?;
                if self.is_disposed() {
                    return Err(self.discard(c, id, v));
                }
                let _ = slot.cell.set(v.clone());
                self.track(c, id, &v, None);
                Ok(v)
            }
            Scope::Scoped => {
                if p.kind == PlanKind::Context {
                    return Ok(at
                        .scope
                        .map(|s| s.context.clone())
                        .unwrap_or_else(|| self.inner.context.clone()));
                }
                self.check_buildable(c, id)?;
                let Some(scope) = at.scope else {
                    return Err(c.plan.explain_needs_scope(id));
                };
                scope.check_alive()?;
                let slot = scope.slot(id);
                if let Some(v) = slot.cell.get() {
                    return Ok(v.clone());
                }
                if p.is_async {
                    return Err(c.plan.explain_async(id));
                }
                self.check_reentry(c, id)?;
                let _guard = slot.building.lock();
                if let Some(v) = slot.cell.get() {
                    return Ok(v.clone());
                }
                let v = self.build(c, id, at)?;
                if self.is_disposed() || scope.disposed.load(Ordering::Acquire) {
                    return Err(self.discard(c, id, v));
                }
                let _ = slot.cell.set(v.clone());
                self.track(c, id, &v, Some(scope));
                Ok(v)
            }
            Scope::Transient => {
                self.check_buildable(c, id)?;
                if p.needs_scope && at.scope.is_none() {
                    return Err(c.plan.explain_needs_scope(id));
                }
                if p.is_async {
                    return Err(c.plan.explain_async(id));
                }
                self.check_reentry(c, id)?;
                self.build(c, id, at)
            }
        }
    }

    fn check_alive(&self) -> Result<()> {
        if self.inner.disposed.load(Ordering::Acquire) { Err(Graph::disposed_error()) } else { Ok(()) }
    }

    fn check_buildable(&self, c: &Compiled, id: ProviderId) -> Result<()> {
        if c.plan.provider(id).failed { Err(c.plan.explain(id)) } else { Ok(()) }
    }

    fn build(&self, c: &Compiled, id: ProviderId, at: At<'_>) -> Result<Instance> {
        let _mark = reentry::Mark::new(self.owner(), Op::Build(id));
        let p = c.plan.provider(id);
        let mut values = Vec::with_capacity(p.deps.len());
        for b in &p.deps {
            values.push(match b {
                Binding::One(q) => Resolved::One(self.get(c, *q, at)?),
                Binding::Many(qs) => {
                    Resolved::Many(qs.iter().map(|q| self.get(c, *q, at)).collect::<Result<Vec<_>>>()?)
                }
                Binding::Absent => Resolved::Absent,
                Binding::Missing => return Err(c.plan.explain(id)),
            });
        }
        let v = match (&c.makers[id.index()], p.kind) {
            (_, PlanKind::Alias) => match values.pop() {
                Some(Resolved::One(v)) => v,
                _ => return Err(c.plan.explain(id)),
            },
            (Make::Value(v), _) => v.clone(),
            (Make::Sync(f), kind) => f(values).map_err(|e| self.failure(c, id, made_by(kind), e))?,
            (Make::Async(_), _) => return Err(c.plan.explain_async(id)),
            (Make::Builtin, _) => {
                return Err(Error::new(ErrorCode::Internal, format!("no maker for '{}'", c.plan.name(id))));
            }
        };
        Ok(v)
    }

    fn get_async<'a>(
        &'a self,
        c: &'a Compiled,
        id: ProviderId,
        at: At<'a>,
    ) -> BoxFuture<'a, Result<Instance>> {
        Box::pin(async move {
            let p = c.plan.provider(id);
            if !p.is_async {
                return self.get(c, id, at);
            }
            self.check_buildable(c, id)?;
            match p.scope {
                Scope::Singleton => {
                    let slot = &c.slots[id.index()];
                    if let Some(v) = slot.cell.get() {
                        return Ok(v.clone());
                    }
                    self.check_alive()?;
                    self.check_reentry(c, id)?;
                    let mut fresh = false;
                    let v = slot
                        .cell
                        .get_or_try_init(|| async {
                            fresh = true;
                            let v = self.build_marked(c, id, At { scope: None }).await?;
                            if self.is_disposed() { Err(self.discard(c, id, v)) } else { Ok(v) }
                        })
                        .await?
                        .clone();
                    if fresh {
                        self.track(c, id, &v, None);
                    }
                    Ok(v)
                }
                Scope::Scoped => {
                    let Some(scope) = at.scope else {
                        return Err(c.plan.explain_needs_scope(id));
                    };
                    scope.check_alive()?;
                    self.check_reentry(c, id)?;
                    let slot = scope.slot(id);
                    let mut fresh = false;
                    let v = slot
                        .cell
                        .get_or_try_init(|| async {
                            fresh = true;
                            let v = self.build_marked(c, id, at).await?;
                            if self.is_disposed() || scope.disposed.load(Ordering::Acquire) {
                                Err(self.discard(c, id, v))
                            } else {
                                Ok(v)
                            }
                        })
                        .await?
                        .clone();
                    if fresh {
                        self.track(c, id, &v, Some(scope));
                    }
                    Ok(v)
                }
                Scope::Transient => {
                    if p.needs_scope && at.scope.is_none() {
                        return Err(c.plan.explain_needs_scope(id));
                    }
                    self.check_reentry(c, id)?;
                    self.build_marked(c, id, at).await
                }
            }
        })
    }

    /// [`Container::build_async`] with this provider marked as being built while it is polled.
    async fn build_marked(&self, c: &Compiled, id: ProviderId, at: At<'_>) -> Result<Instance> {
        Marked::new(self.owner(), Op::Build(id), self.build_async(c, id, at)).await
    }

    async fn build_async(&self, c: &Compiled, id: ProviderId, at: At<'_>) -> Result<Instance> {
        let p = c.plan.provider(id);
        let mut values = Vec::with_capacity(p.deps.len());
        for b in &p.deps {
            values.push(match b {
                Binding::One(q) => Resolved::One(self.get_async(c, *q, at).await?),
                Binding::Many(qs) => {
                    let mut v = Vec::with_capacity(qs.len());
                    for q in qs.iter() {
                        v.push(self.get_async(c, *q, at).await?);
                    }
                    Resolved::Many(v)
                }
                Binding::Absent => Resolved::Absent,
                Binding::Missing => return Err(c.plan.explain(id)),
            });
        }
        let v = match (&c.makers[id.index()], p.kind) {
            (_, PlanKind::Alias) => match values.pop() {
                Some(Resolved::One(v)) => v,
                _ => return Err(c.plan.explain(id)),
            },
            (Make::Value(v), _) => v.clone(),
            (Make::Sync(f), kind) => f(values).map_err(|e| self.failure(c, id, made_by(kind), e))?,
            (Make::Async(f), kind) => f(values).await.map_err(|e| self.failure(c, id, made_by(kind), e))?,
            (Make::Builtin, _) => {
                return Err(Error::new(ErrorCode::Internal, format!("no maker for '{}'", c.plan.name(id))));
            }
        };
        Ok(v)
    }

    /// Remembers an instance that has an `on_destroy` hook, for disposal.
    fn track(&self, c: &Compiled, id: ProviderId, v: &Instance, scope: Option<&ScopeInner>) {
        if c.hooks[id.index()].destroy.is_none() {
            return;
        }
        match scope {
            Some(s) => s.created.lock().push((id, v.clone())),
            None => self.inner.created.lock().push((id, v.clone())),
        }
    }
}

/// A synchronous hook on an untyped instance. Its error is the hook's own (wrapped by the container,
/// naming the provider) or an engine error (a DI error passes through unchanged).
pub type RawHook = Box<dyn Fn(&Instance) -> std::result::Result<(), BoxError> + Send + Sync>;
type SharedRawHook = Arc<dyn Fn(&Instance) -> std::result::Result<(), BoxError> + Send + Sync>;

/// How an untyped provider makes its instance.
pub enum RawMake {
    /// A ready value.
    Value(Instance),
    /// A function of the resolved dependencies (in the order of the spec's `deps`). Its error is the
    /// factory's own (wrapped by the container into `FactoryFailed`, naming the provider, the
    /// resolution path and the module path) or an engine error (a DI error passes through).
    Factory(Box<dyn Fn(Vec<Resolved>) -> std::result::Result<Instance, BoxError> + Send + Sync>),
    /// An alias or other provider the container builds itself.
    Builtin,
}

impl std::fmt::Debug for RawMake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RawMake::Value(_) => "Value",
            RawMake::Factory(_) => "Factory",
            RawMake::Builtin => "Builtin",
        })
    }
}

/// An untyped provider, for bindings.
pub struct RawProvider {
    /// What the engine checks and compiles.
    pub spec: super::spec::ProviderSpec,
    /// How to make the instance.
    pub make: RawMake,
    /// Runs once in `initialize()` (singletons only; refused on others).
    pub on_init: Option<RawHook>,
    /// Runs at dispose for instances the container (or a scope) holds.
    pub on_destroy: Option<RawHook>,
}

impl std::fmt::Debug for RawProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawProvider").field("spec", &self.spec).finish_non_exhaustive()
    }
}

impl RawProvider {
    fn into_parts(self) -> (super::spec::ProviderSpec, Make, Hooks) {
        let mut spec = self.spec;
        if self.on_init.is_some() {
            spec.init = super::spec::InitHook::Sync;
        }
        let make = match self.make {
            RawMake::Value(v) => Make::Value(v),
            RawMake::Factory(f) => Make::Sync(Arc::from(f)),
            RawMake::Builtin => Make::Builtin,
        };
        (spec, make, raw_hooks(self.on_init, self.on_destroy))
    }
}

/// An untyped module with its providers, for bindings.
#[derive(Debug)]
pub struct RawModule {
    /// The module (its `providers` list is filled from `providers`).
    pub spec: super::spec::ModuleSpec,
    /// Its providers.
    pub providers: Vec<RawProvider>,
}

fn raw_hooks(init: Option<RawHook>, destroy: Option<RawHook>) -> Hooks {
    let mut hooks = Hooks::default();
    if let Some(init) = init {
        let init: SharedRawHook = Arc::from(init);
        hooks.init_sync = Some(Arc::new(move |i: &Instance| init(i)));
    }
    if let Some(destroy) = destroy {
        let destroy: SharedRawHook = Arc::from(destroy);
        hooks.destroy = Some(Arc::new(move |i: Instance| {
            let r = destroy(&i);
            Box::pin(async move { r })
        }));
    }
    hooks
}

/// The error for `initialize()` called from inside `initialize()` of the same container (by a hook
/// or a factory it runs), which would wait for itself.
pub fn initialize_reentered() -> Error {
    Error::new(
        ErrorCode::LifecycleFailed,
        "initialize() was called from inside initialize() of the same container (by an onInit hook or a factory): it would wait for itself",
    )
}

/// Which callback makes a provider of this kind.
fn made_by(kind: PlanKind) -> Failed {
    if kind == PlanKind::Class { Failed::Constructor } else { Failed::Factory }
}

/// Refuses an `on_init` hook on a provider the container never initialises (transient, scoped): it
/// would silently never run.
fn check_hooks(spec: &ProviderSpec, hooks: &Hooks) -> Result<()> {
    let has_init = hooks.init_sync.is_some() || hooks.init_async.is_some();
    if has_init && matches!(spec.kind, ProviderKind::Alias(_)) {
        // An alias gives another provider's instance: initialize() runs that provider's hook.
        return Err(Error::new(
            ErrorCode::InvalidProvider,
            format!(
                "'{}' is an alias and has an on_init hook, which would never run: put the hook on the provider it aliases",
                spec.token.name
            ),
        ));
    }
    if has_init
        && spec.scope != Scope::Singleton
        && matches!(spec.kind, ProviderKind::Class | ProviderKind::Factory)
    {
        return Err(Error::new(
            ErrorCode::InvalidProvider,
            format!(
                "'{}' is {} and has an on_init hook, which would never run: initialize() runs on_init of singletons only. Do the set-up in its factory (an async factory for async set-up), or make it a singleton",
                spec.token.name, spec.scope
            ),
        ));
    }
    Ok(())
}

/// Runs `on_destroy` hooks in the given order, once per distinct instance, collecting failures.
async fn run_destroy_hooks(c: &Compiled, created: Vec<(ProviderId, Instance)>, what: &str) -> Result<()> {
    let mut seen: HashSet<usize> = HashSet::new();
    let mut failures = Vec::new();
    let total = created.len();
    for (id, inst) in created {
        let addr = Arc::as_ptr(&inst) as *const () as usize;
        if !seen.insert(addr) {
            continue;
        }
        if let Some(hook) = &c.hooks[id.index()].destroy
            && let Err(e) = hook(inst).await
        {
            failures.push(destroy_failed(c.plan.name(id), &e).with_source(e));
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    Err(lifecycle_aggregate(what, total, failures))
}

/// One `onDestroy` hook's failure, as listed in the aggregate error of `dispose()`.
pub fn destroy_failed(token: &str, cause: &dyn std::fmt::Display) -> Error {
    Error::new(ErrorCode::CallbackFailed, format!("onDestroy of '{token}' failed: {cause}"))
}

/// The one error `dispose()` reports for every hook that failed.
pub fn lifecycle_aggregate(what: &str, total: usize, failures: Vec<Error>) -> Error {
    let lines: Vec<String> = failures.iter().map(|e| format!("  - {}", e.message())).collect();
    Error::new(
        ErrorCode::LifecycleFailed,
        format!(
            "disposing the {what}: {} of {total} onDestroy hooks failed (the others ran):\n{}",
            failures.len(),
            lines.join("\n")
        ),
    )
    .with_related(failures)
}

pub(crate) struct ScopeInner {
    context: Instance,
    slots: Mutex<std::collections::HashMap<ProviderId, Arc<Slot>>>,
    created: Mutex<Vec<(ProviderId, Instance)>>,
    disposed: AtomicBool,
    dispose_outcome: tokio::sync::OnceCell<Result<()>>,
}

impl ScopeInner {
    fn slot(&self, id: ProviderId) -> Arc<Slot> {
        self.slots.lock().entry(id).or_default().clone()
    }

    fn check_alive(&self) -> Result<()> {
        if self.disposed.load(Ordering::Acquire) {
            Err(Error::new(ErrorCode::ContainerDisposed, "this scope has been disposed; create a new scope"))
        } else {
            Ok(())
        }
    }
}

/// A scope: scoped providers get one instance per scope; singletons come from the container.
#[derive(Clone)]
pub struct ScopeHandle {
    container: Container,
    inner: Arc<ScopeInner>,
}

impl std::fmt::Debug for ScopeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeHandle").field("disposed", &self.inner.disposed.load(Ordering::Relaxed)).finish()
    }
}

impl ScopeHandle {
    fn at(&self) -> At<'_> {
        At { scope: Some(&self.inner) }
    }

    /// Resolves `token` in this scope.
    pub fn resolve<T: Send + Sync + 'static>(&self, token: &Token<T>) -> Result<Arc<T>> {
        self.inner.check_alive()?;
        let c = self.container.compiled()?;
        let id = self.container.root_one(&c, token.key(), token.name())?;
        downcast(self.container.get(&c, id, self.at())?, token.name())
    }

    /// Resolves `token` in this scope, awaiting async providers.
    pub async fn resolve_async<T: Send + Sync + 'static>(&self, token: &Token<T>) -> Result<Arc<T>> {
        self.inner.check_alive()?;
        let c = self.container.compiled()?;
        let id = self.container.root_one(&c, token.key(), token.name())?;
        downcast(self.container.get_async(&c, id, self.at()).await?, token.name())
    }

    /// Untyped resolve by key (for bindings).
    pub fn resolve_key(&self, key: TokenKey, name: &str) -> Result<Instance> {
        self.inner.check_alive()?;
        let c = self.container.compiled()?;
        let id = self.container.root_one(&c, key, name)?;
        self.container.get(&c, id, self.at())
    }

    /// The context this scope was created with, if it is a `C`.
    pub fn context<C: Send + Sync + 'static>(&self) -> Option<Arc<C>> {
        self.inner.context.clone().downcast::<C>().ok()
    }

    /// Runs the `on_destroy` hooks of this scope's instances (dependents first) and closes the scope.
    /// Idempotent; failures are reported together as in [`Container::dispose`].
    pub async fn dispose(&self) -> Result<()> {
        let owner = Arc::as_ptr(&self.inner) as *const () as usize;
        if reentry::is_active(owner, Op::Dispose) {
            return Err(Error::new(
                ErrorCode::LifecycleFailed,
                "dispose() of a scope was called from an onDestroy hook of the same scope: it would wait for itself",
            ));
        }
        let once = Marked::new(owner, Op::Dispose, async {
            self.inner.disposed.store(true, Ordering::Release);
            let mut created = std::mem::take(&mut *self.inner.created.lock());
            let c = match self.container.compiled() {
                Ok(c) => c,
                // The container went first; it has nothing left to run for us.
                Err(_) => return Ok(()),
            };
            c.plan.sort_for_dispose(&mut created);
            let r = run_destroy_hooks(&c, created, "scope").await;
            self.inner.slots.lock().clear();
            r
        });
        self.inner.dispose_outcome.get_or_init(|| once).await.clone()
    }
}

/// For bindings that pass token names with keys.
pub fn token_ref(key: TokenKey, name: &str) -> TokenRef {
    TokenRef::new(key, name)
}
