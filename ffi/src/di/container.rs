//! Containers and scopes.

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use omnitron::Error;
use omnitron::di::{Container, Dialect, ScopeHandle};

use super::module::{OmnitronModule, collect};
use super::provider::{OmnitronProvider, PROVIDERS};
use super::token::{OmnitronToken, token_arg};
use super::{instance, pointer};
use crate::boundary::{Table, check_out, guard, guard_void, write_out};
use crate::error::OmnitronStatus;

/// A dependency-injection container. Thread-safe: it may be used from several threads at once.
#[derive(Debug)]
pub struct OmnitronContainer {
    _private: [u8; 0],
}

/// A scope of a container: scoped providers get one instance per scope.
#[derive(Debug)]
pub struct OmnitronScope {
    _private: [u8; 0],
}

/// omnitron_container_export_graph format: JSON.
pub const OMNITRON_GRAPH_JSON: u32 = 0;
/// omnitron_container_export_graph format: a Mermaid flowchart.
pub const OMNITRON_GRAPH_MERMAID: u32 = 1;

static CONTAINERS: Table<Container> = Table::new("container");
static SCOPES: Table<ScopeHandle> = Table::new("scope");

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    omnitron::runtime::block_on_here(f)
}

/// Creates an empty container. Free it with omnitron_container_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_new(out: *mut *mut OmnitronContainer) -> OmnitronStatus {
    guard(|| {
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
    guard(|| {
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
/// scoped providers and values (valid until dispose), owned by the caller for transients. Factory
/// callbacks run on this thread; on_init callbacks never run here (omnitron_container_initialize
/// runs them). A factory that fails gives OMNITRON_STATUS_FACTORY_FAILED, whose message names the
/// provider, the providers being built and the chain of modules that provides it, then what the
/// factory said (omnitron_callback_error); a library error the factory passed on (the status of a
/// failed DI call it made) comes back unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_resolve(
    container: *mut OmnitronContainer,
    token: *const OmnitronToken,
    out: *mut *mut c_void,
) -> OmnitronStatus {
    guard(|| {
        check_out(out, "out")?;
        let c = CONTAINERS.get(container)?;
        let t = token_arg(token)?;
        let i = c.resolve_key(t.key, &t.name)?;
        write_out(out, pointer(&i), "out")
    })
}

/// Resolves every provider of a multi token, in registration order. Writes up to `capacity`
/// pointers to `out` (which may be NULL when `capacity` is 0) and the total count to `*len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_resolve_all(
    container: *mut OmnitronContainer,
    token: *const OmnitronToken,
    out: *mut *mut c_void,
    capacity: usize,
    len: *mut usize,
) -> OmnitronStatus {
    guard(|| {
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
    guard(|| {
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
/// omnitron_container_dispose first to see them) and frees the handle. NULL and freed handles are
/// ignored.
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
/// OMNITRON_GRAPH_MERMAID). Free it with omnitron_string_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_export_graph(
    container: *mut OmnitronContainer,
    format: u32,
    out: *mut *mut c_char,
) -> OmnitronStatus {
    guard(|| {
        check_out(out, "out")?;
        let c = CONTAINERS.get(container)?;
        let text = match format {
            OMNITRON_GRAPH_JSON => c.export_graph_json()?,
            OMNITRON_GRAPH_MERMAID => c.export_graph_mermaid()?,
            other => return Err(Error::invalid_argument(format!("unknown graph format {other}"))),
        };
        let s = CString::new(text).map_err(|_| Error::invalid_argument("graph text contains NUL"))?;
        write_out(out, s.into_raw(), "out")
    })
}

/// Frees a string the library returned. NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the library made `s` with CString::into_raw (contract: only pass such strings).
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Creates a scope. `context` is what the CONTEXT token gives inside it (borrowed: it must outlive
/// the scope; may be NULL). Free it with omnitron_scope_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_container_create_scope(
    container: *mut OmnitronContainer,
    context: *mut c_void,
    out: *mut *mut OmnitronScope,
) -> OmnitronStatus {
    guard(|| {
        check_out(out, "out")?;
        let c = CONTAINERS.get(container)?;
        let s = c.create_scope_arc(instance(context))?;
        SCOPES.insert_out(out, s)
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
    guard(|| {
        check_out(out, "out")?;
        let s = SCOPES.get(scope)?;
        let t = token_arg(token)?;
        let i = s.resolve_key(t.key, &t.name)?;
        write_out(out, pointer(&i), "out")
    })
}

/// Runs the on_destroy callbacks of the scope's instances (dependents first) on this thread.
/// Idempotent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_scope_dispose(scope: *mut OmnitronScope) -> OmnitronStatus {
    guard(|| {
        let s = SCOPES.get(scope)?;
        block_on(s.dispose())
    })
}

/// Disposes the scope if needed (failures dropped) and frees the handle. NULL and freed handles are
/// ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_scope_free(scope: *mut OmnitronScope) {
    guard_void(|| {
        if let Some(s) = SCOPES.remove(scope) {
            let s: Arc<ScopeHandle> = s;
            let _ = block_on(s.dispose());
        }
        Ok(())
    })
}
