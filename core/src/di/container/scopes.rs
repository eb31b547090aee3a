//! Scopes: [`ScopeHandle`] gives scoped providers one instance per scope (a request, a user, a
//! transaction) and its own `CONTEXT`; singletons still come from the container. Disposing a scope
//! runs the `on_destroy` hooks of its own instances only.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::lifecycle::run_destroy_hooks;
use super::{At, Container, Slot};
use crate::di::provider::{Instance, downcast};
use crate::di::reentry::{self, Marked, Op};
use crate::di::spec::ProviderId;
use crate::di::token::{Token, TokenKey};
use crate::error::{Error, ErrorCode, Result};

impl Container {
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
}

pub(crate) struct ScopeInner {
    pub(super) context: Instance,
    slots: Mutex<std::collections::HashMap<ProviderId, Arc<Slot>>>,
    pub(super) created: Mutex<Vec<(ProviderId, Instance)>>,
    pub(super) disposed: AtomicBool,
    dispose_outcome: tokio::sync::OnceCell<Result<()>>,
}

impl ScopeInner {
    pub(super) fn slot(&self, id: ProviderId) -> Arc<Slot> {
        self.slots.lock().entry(id).or_default().clone()
    }

    pub(super) fn check_alive(&self) -> Result<()> {
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
