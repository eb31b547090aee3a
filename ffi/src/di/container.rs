//! Containers and scopes.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use omnitron::Error;
use omnitron::di::{Container, Dialect, PlanKind, ScopeHandle, TokenRef};

use super::module::{OmnitronModule, collect};
use super::provider::{OmnitronProvider, PROVIDERS};
use super::token::{OmnitronToken, token_arg};
use super::{instance, pointer};
use crate::boundary::{
    OmnitronFreeFn, Table, UserData, check_out, give_string, guard, guard_out, guard_void, write_out,
};
use crate::error::OmnitronStatus;

/// A dependency-injection container. Thread-safe: any function may be called on it from several
/// threads at once (factories then run on those threads; a singleton is still built once). From
/// inside its own callbacks, resolving from it is fine (a loop is reported as
/// OMNITRON_STATUS_CIRCULAR_DEPENDENCY); disposing, initializing or freeing it is not (reported as
/// OMNITRON_STATUS_LIFECYCLE_FAILED where detected).
#[derive(Debug)]
pub struct OmnitronContainer {
    _private: [u8; 0],
}

/// A scope of a container: scoped providers get one instance per scope. Thread-safe like its
/// container; it keeps the container's providers alive until it is freed.
#[derive(Debug)]
pub struct OmnitronScope {
    _private: [u8; 0],
}

/// omnitron_container_resolve_with_owner: nothing (the call failed).
pub const OMNITRON_OWNER_NONE: u32 = 0;
/// omnitron_container_resolve_with_owner: the caller owns the instance and releases it (a
/// transient: the container keeps no reference and runs no on_destroy for it).
pub const OMNITRON_OWNER_CALLER: u32 = 1;
/// omnitron_container_resolve_with_owner: the container holds the instance (a singleton or a
/// value) until omnitron_container_dispose, which runs its on_destroy; do not release it.
pub const OMNITRON_OWNER_CONTAINER: u32 = 2;
/// omnitron_container_resolve_with_owner: the scope holds the instance (a scoped provider, or the
/// scope's context) until omnitron_scope_dispose / omnitron_scope_free; do not release it.
pub const OMNITRON_OWNER_SCOPE: u32 = 3;

/// A scope and its context pointer (freed with the scope when a free function was given).
struct CScope {
    scope: ScopeHandle,
    /// For omnitron_scope_resolve_with_owner's plan lookup (the scope keeps its container anyway).
    container: Container,
    _context: Arc<UserData>,
}

/// omnitron_container_export_graph format: JSON.
pub const OMNITRON_GRAPH_JSON: u32 = 0;
/// omnitron_container_export_graph format: a Mermaid flowchart.
pub const OMNITRON_GRAPH_MERMAID: u32 = 1;

static CONTAINERS: Table<Container> = Table::new("container");
static SCOPES: Table<CScope> = Table::new("scope");

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    omnitron::runtime::block_on_here(f)
}

/// Creates an empty container. Free it with omnitron_container_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_new(out: *mut *mut OmnitronContainer) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        CONTAINERS.insert_out(out, Container::with_dialect(Dialect::C))
    })
}

/// Creates a container from a root module (like Omnitron.create(AppModule)): everything the module
/// can see is resolvable from the container. The module handle may be freed afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_new_from_module(
    module: *const OmnitronModule,
    out: *mut *mut OmnitronContainer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let (entry, modules) = collect(module)?;
        let c = Container::with_dialect(Dialect::C);
        c.load_raw(entry, modules, true)?;
        CONTAINERS.insert_out(out, c)
    })
}

/// Loads a module (and its imports) into a container: its exports become resolvable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_load_module(
    container: *mut OmnitronContainer,
    module: *const OmnitronModule,
) -> OmnitronStatus {
    guard(|| {
        let c = CONTAINERS.get(container)?;
        let (entry, modules) = collect(module)?;
        c.load_raw(entry, modules, false)
    })
}

/// Registers a provider in the container. The provider handle may be freed or reused afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_register(
    container: *mut OmnitronContainer,
    provider: *const OmnitronProvider,
) -> OmnitronStatus {
    guard(|| {
        let c = CONTAINERS.get(container)?;
        let raw = PROVIDERS.get(provider)?.lock().to_raw();
        c.register_raw(raw).map(|_| ())
    })
}

/// Resolves `token`. On success `*out` is the instance: owned by the container for singletons,
/// scoped providers and values (valid until dispose), owned by the caller for transients (it
/// releases them); which one a token gives is what omnitron_container_resolve_with_owner reports.
/// Factory callbacks run on this thread; on_init callbacks never run here
/// (omnitron_container_initialize runs them). A factory that fails gives
/// OMNITRON_STATUS_FACTORY_FAILED, whose message names the provider, the providers being built and
/// the chain of modules that provides it, then what the factory said (omnitron_callback_error); a
/// library error the factory passed on (the status of a failed DI call it made) comes back unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_resolve(
    container: *mut OmnitronContainer,
    token: *const OmnitronToken,
    out: *mut *mut c_void,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let c = CONTAINERS.get(container)?;
        let t = token_arg(token)?;
        let i = c.resolve_key(t.key, &t.name)?;
        write_out(out, pointer(&i), "out")
    })
}

/// Like omnitron_container_resolve, and `*owner` says who owns `*out`: OMNITRON_OWNER_CALLER (a
/// transient: release it yourself), OMNITRON_OWNER_CONTAINER (a singleton or value: valid until
/// the container is disposed, which runs its on_destroy) or OMNITRON_OWNER_SCOPE (from a scope
/// only). Aliases report their target's owner. On failure `*out` is NULL and `*owner`
/// OMNITRON_OWNER_NONE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_resolve_with_owner(
    container: *mut OmnitronContainer,
    token: *const OmnitronToken,
    out: *mut *mut c_void,
    owner: *mut u32,
) -> OmnitronStatus {
    guard_out((out, owner), || {
        check_out(out, "out")?;
        check_out(owner, "owner")?;
        let c = CONTAINERS.get(container)?;
        let t = token_arg(token)?;
        let who = owner_of(&c, &t)?;
        let i = c.resolve_key(t.key, &t.name)?;
        write_out(out, pointer(&i), "out")?;
        write_out(owner, who, "owner")
    })
}

/// Who owns what resolving `t` gives: the lifetime of the provider resolve uses (the first visible
/// one), following aliases. Unknown tokens are left for resolve to report.
fn owner_of(c: &Container, t: &TokenRef) -> Result<u32, Error> {
    let plan = c.plan()?;
    let mut key = t.key;
    // An alias chain is at most as long as the provider list (the plan refuses loops).
    for _ in 0..=plan.providers().len() {
        let Some(&id) = plan.lookup(key).and_then(|ids| ids.first()) else {
            return Ok(OMNITRON_OWNER_NONE);
        };
        let p = plan.provider(id);
        match p.kind {
            PlanKind::Alias => match p.deps.first() {
                Some(omnitron::di::Binding::One(target)) => key = plan.provider(*target).token,
                _ => return Ok(OMNITRON_OWNER_NONE),
            },
            PlanKind::Context => return Ok(OMNITRON_OWNER_SCOPE),
            _ => {
                return Ok(match p.scope {
                    omnitron::di::Scope::Transient => OMNITRON_OWNER_CALLER,
                    omnitron::di::Scope::Scoped => OMNITRON_OWNER_SCOPE,
                    omnitron::di::Scope::Singleton => OMNITRON_OWNER_CONTAINER,
                });
            }
        }
    }
    Ok(OMNITRON_OWNER_NONE)
}

/// Resolves every provider of a multi token, in registration order. Writes up to `capacity`
/// pointers to `out` (which may be NULL when `capacity` is 0) and the total count to `*len`. Each
/// instance is owned as omnitron_container_resolve_with_owner reports for its provider. On failure
/// `*len` is 0 and `out` is left as it was.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_resolve_all(
    container: *mut OmnitronContainer,
    token: *const OmnitronToken,
    out: *mut *mut c_void,
    capacity: usize,
    len: *mut usize,
) -> OmnitronStatus {
    guard_out(len, || {
        check_out(len, "len")?;
        if capacity > 0 {
            check_out(out, "out")?;
        }
        let c = CONTAINERS.get(container)?;
        let t = token_arg(token)?;
        let all = c.resolve_all_key(t.key)?;
        for (i, inst) in all.iter().take(capacity).enumerate() {
            // SAFETY: out has room for `capacity` pointers by contract, and i < capacity.
            unsafe { out.add(i).write(pointer(inst)) };
        }
        write_out(len, all.len(), "len")
    })
}

/// Sets `*out` to whether something visible from the container provides `token`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_has(
    container: *mut OmnitronContainer,
    token: *const OmnitronToken,
    out: *mut bool,
) -> OmnitronStatus {
    guard_out(out, || {
        let c = CONTAINERS.get(container)?;
        let t = token_arg(token)?;
        let plan = c.plan()?;
        write_out(out, plan.lookup(t.key).is_some(), "out")
    })
}

/// Builds every singleton not built yet and runs the on_init hook of every singleton not yet
/// initialized, in dependency order (dependencies' hooks first), on this thread. Transient and scoped
/// instances are never initialized. Stops at the first failure (a failed hook gives
/// OMNITRON_STATUS_LIFECYCLE_FAILED naming the provider, and runs again on the next call). Calling it
/// again does only what is left: singletons registered, or built by a resolve, since the last call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_initialize(container: *mut OmnitronContainer) -> OmnitronStatus {
    guard(|| {
        let c = CONTAINERS.get(container)?;
        block_on(c.initialize())
    })
}

/// Runs every on_destroy callback (dependents first) on this thread and closes the container. A
/// failing callback does not stop the others: all failures are in one OMNITRON_STATUS_LIFECYCLE_FAILED
/// error. Idempotent. The handle stays valid (every later resolve fails) until
/// omnitron_container_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_dispose(container: *mut OmnitronContainer) -> OmnitronStatus {
    guard(|| {
        let c = CONTAINERS.get(container)?;
        block_on(c.dispose())
    })
}

/// Disposes the container if that was not done (failures are dropped; call
/// omnitron_container_dispose first to see them) and frees the handle. The user_data of its
/// providers is freed here (on this thread) unless a scope still holds them. NULL and freed handles
/// are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_free(container: *mut OmnitronContainer) {
    guard_void(|| {
        if let Some(c) = CONTAINERS.remove(container) {
            let _ = block_on(c.dispose());
        }
        Ok(())
    })
}

/// Writes the dependency graph as a NUL-terminated string to `*out` (OMNITRON_GRAPH_JSON or
/// OMNITRON_GRAPH_MERMAID). Free it with omnitron_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_export_graph(
    container: *mut OmnitronContainer,
    format: u32,
    out: *mut *mut c_char,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let c = CONTAINERS.get(container)?;
        let text = match format {
            OMNITRON_GRAPH_JSON => c.export_graph_json()?,
            OMNITRON_GRAPH_MERMAID => c.export_graph_mermaid()?,
            other => return Err(Error::invalid_argument(format!("unknown graph format {other}"))),
        };
        write_out(out, give_string(&text)?, "out")
    })
}

/// Creates a scope. `context` (may be NULL) is what the CONTEXT token gives inside it;
/// `free_context(context)` (NULL: the caller keeps it, and it must outlive the scope) runs once
/// after the scope is disposed and freed, on the thread that frees it, or before this function
/// returns if it fails. Free the scope with omnitron_scope_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_create_scope(
    container: *mut OmnitronContainer,
    context: *mut c_void,
    free_context: OmnitronFreeFn,
    out: *mut *mut OmnitronScope,
) -> OmnitronStatus {
    guard_out(out, || {
        let ud = UserData::new(context, free_context);
        check_out(out, "out")?;
        let c = CONTAINERS.get(container)?;
        let s = c.create_scope_arc(instance(context))?;
        SCOPES.insert_out(out, CScope { scope: s, container: (*c).clone(), _context: ud })
    })
}

/// Resolves `token` in a scope; ownership as for omnitron_container_resolve (scoped instances are
/// owned by the scope until omnitron_scope_dispose).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_scope_resolve(
    scope: *mut OmnitronScope,
    token: *const OmnitronToken,
    out: *mut *mut c_void,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let s = SCOPES.get(scope)?;
        let t = token_arg(token)?;
        let i = s.scope.resolve_key(t.key, &t.name)?;
        write_out(out, pointer(&i), "out")
    })
}

/// omnitron_container_resolve_with_owner in a scope: OMNITRON_OWNER_SCOPE for scoped instances and
/// the CONTEXT token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_scope_resolve_with_owner(
    scope: *mut OmnitronScope,
    token: *const OmnitronToken,
    out: *mut *mut c_void,
    owner: *mut u32,
) -> OmnitronStatus {
    guard_out((out, owner), || {
        check_out(out, "out")?;
        check_out(owner, "owner")?;
        let s = SCOPES.get(scope)?;
        let t = token_arg(token)?;
        let who = owner_of(&s.container, &t)?;
        let i = s.scope.resolve_key(t.key, &t.name)?;
        write_out(out, pointer(&i), "out")?;
        write_out(owner, who, "owner")
    })
}

/// Runs the on_destroy callbacks of the scope's instances (dependents first) on this thread.
/// Idempotent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_scope_dispose(scope: *mut OmnitronScope) -> OmnitronStatus {
    guard(|| {
        let s = SCOPES.get(scope)?;
        block_on(s.scope.dispose())
    })
}

/// Disposes the scope if needed (failures dropped) and frees the handle, then its context (if
/// free_context was given). NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_scope_free(scope: *mut OmnitronScope) {
    guard_void(|| {
        if let Some(s) = SCOPES.remove(scope) {
            let s: Arc<CScope> = s;
            let _ = block_on(s.scope.dispose());
        }
        Ok(())
    })
}
