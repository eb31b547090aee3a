//! Lifecycle: `initialize()` (build every singleton, run its `on_init` hook once) and `dispose()`
//! (run the `on_destroy` hooks, dependents first, and close the container), the check that refuses
//! an `on_init` hook that would never run, and the errors both report.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{At, Compiled, Container, Slot};
use crate::di::explain::Failed;
use crate::di::provider::{Hooks, Instance};
use crate::di::reentry::{self, Marked, Op};
use crate::di::scope::Scope;
use crate::di::spec::{ProviderId, ProviderKind, ProviderSpec};
use crate::error::{Error, ErrorCode, Result};

impl Container {
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
}

/// The error for `initialize()` called from inside `initialize()` of the same container (by a hook
/// or a factory it runs), which would wait for itself.
pub fn initialize_reentered() -> Error {
    Error::new(
        ErrorCode::LifecycleFailed,
        "initialize() was called from inside initialize() of the same container (by an onInit hook or a factory): it would wait for itself",
    )
}

/// Refuses an `on_init` hook on a provider the container never initialises (transient, scoped): it
/// would silently never run.
pub(super) fn check_hooks(spec: &ProviderSpec, hooks: &Hooks) -> Result<()> {
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
pub(super) async fn run_destroy_hooks(
    c: &Compiled,
    created: Vec<(ProviderId, Instance)>,
    what: &str,
) -> Result<()> {
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
