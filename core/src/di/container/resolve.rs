//! Resolution: following the compiled plan to an instance. A singleton is built once into its slot,
//! a scoped provider once per scope, a transient one on every resolve; the synchronous path refuses
//! what must be awaited, the async path awaits factories. A provider asked for while it is being
//! built on this thread is a loop, reported with its path.

use std::sync::atomic::Ordering;

use super::scopes::ScopeInner;
use super::{At, Compiled, Container};
use crate::di::explain::{Failed, is_di_error};
use crate::di::graph::Graph;
use crate::di::plan::{Binding, PlanKind};
use crate::di::provider::{BoxFuture, Instance, Make, Resolved};
use crate::di::reentry::{self, Marked, Op};
use crate::di::scope::Scope;
use crate::di::spec::ProviderId;
use crate::di::token::TokenKey;
use crate::error::{BoxError, Error, ErrorCode, Result};

impl Container {
    /// A built singleton visible from the root under `key`, found without cloning the plan: the
    /// common case of a resolve.
    pub(super) fn ready(&self, key: TokenKey) -> Option<Instance> {
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

    pub(super) fn get(&self, c: &Compiled, id: ProviderId, at: At<'_>) -> Result<Instance> {
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

    pub(super) fn check_alive(&self) -> Result<()> {
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

    pub(super) fn get_async<'a>(
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

    /// The error a user callback's failure becomes: DI errors from inside it pass through; anything
    /// else is wrapped (`FactoryFailed` / `LifecycleFailed`) naming the provider, the resolution path
    /// and the module path, with the callback's error as its source.
    pub(super) fn failure(&self, c: &Compiled, id: ProviderId, what: Failed, e: BoxError) -> Error {
        let building = if what == Failed::OnInit { Vec::new() } else { reentry::builds(self.owner()) };
        match e.downcast::<Error>() {
            Ok(engine) if is_di_error(engine.code()) => *engine,
            Ok(engine) => {
                c.plan.explain_failure(id, what, &building, &engine.to_string()).with_source(*engine)
            }
            Err(other) => c.plan.explain_failure(id, what, &building, &other.to_string()).with_source(other),
        }
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
}

/// Which callback makes a provider of this kind.
fn made_by(kind: PlanKind) -> Failed {
    if kind == PlanKind::Class { Failed::Constructor } else { Failed::Factory }
}
