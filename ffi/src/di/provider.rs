//! Provider builders: describe a factory, value or alias, then register it in a container or add it
//! to a module (as many times as you like).

use std::ffi::c_void;
use std::sync::Arc;

use omnitron::di::{
    Dependency, Instance, ProviderKind, ProviderSpec, RawHook, RawMake, RawProvider, Resolved, Scope,
    TokenRef,
};
use omnitron::{BoxError, Error, ErrorCode};
use parking_lot::Mutex;

use super::token::{OmnitronToken, token_arg};
use super::{instance, pointer};
use crate::boundary::{CPtr, OmnitronFreeFn, Table, UserData, guard, guard_out, guard_void};
use crate::error::{
    CallbackStatus, OmnitronStatus, clear_callback_message, passed_on, status_text, take_callback_message,
};

/// A provider description under construction. Thread-safe (calls on one provider are serialized),
/// though it is normally built on one thread. Registering or adding it to a module copies it; the
/// copies share its callbacks' user_data, which is freed when the last of them goes.
#[derive(Debug)]
pub struct OmnitronProvider {
    _private: [u8; 0],
}

/// omnitron_provider_set_lifetime: one instance per container (the default).
pub const OMNITRON_LIFETIME_SINGLETON: u32 = 0;
/// omnitron_provider_set_lifetime: a new instance on every resolve, owned by the caller.
pub const OMNITRON_LIFETIME_TRANSIENT: u32 = 1;
/// omnitron_provider_set_lifetime: one instance per scope (omnitron_container_create_scope).
pub const OMNITRON_LIFETIME_SCOPED: u32 = 2;

/// omnitron_provider_add_dependency flag: NULL is passed when nothing provides the dependency.
pub const OMNITRON_DEP_OPTIONAL: u32 = 1;
/// omnitron_provider_set_flags flag: one of several providers of a multi token.
pub const OMNITRON_PROVIDER_MULTI: u32 = 1;
/// omnitron_provider_set_flags flag: replaces an existing provider of the token.
pub const OMNITRON_PROVIDER_REPLACE: u32 = 2;

/// Builds an instance. `deps` holds one pointer per dependency, in the order they were added (NULL
/// for a missing optional one); it is only valid during the call. Store the new instance in `*out`
/// and return OMNITRON_STATUS_OK; on failure return another status (after
/// omnitron_callback_error to say why). Runs on the thread that resolves or initializes; several
/// threads may run it at once for different instances (never twice for one singleton).
pub type OmnitronFactoryFn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        deps: *const *mut c_void,
        deps_len: usize,
        out: *mut *mut c_void,
    ) -> CallbackStatus,
>;

/// A lifecycle hook on an instance (`on_init`). Return OMNITRON_STATUS_OK, or another status to fail
/// (after omnitron_callback_error to say why). Runs on the thread that calls
/// omnitron_container_initialize (never during a resolve).
pub type OmnitronHookFn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, instance: *mut c_void) -> CallbackStatus>;

/// Releases an instance the container owned (`on_destroy`). Runs on the thread that disposes or
/// frees the container or scope. Return OMNITRON_STATUS_OK, or another status to report a failure.
pub type OmnitronDestroyFn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, instance: *mut c_void) -> CallbackStatus>;

type RawFactory =
    unsafe extern "C" fn(*mut c_void, *const *mut c_void, usize, *mut *mut c_void) -> CallbackStatus;

#[derive(Clone)]
enum Make {
    Factory(RawFactory, Arc<UserData>),
    Value(CPtr),
    Alias,
}

#[derive(Clone)]
pub(crate) struct Builder {
    token: TokenRef,
    kind: ProviderKind,
    make: Make,
    deps: Vec<Dependency>,
    scope: Scope,
    multi: bool,
    replace: bool,
    on_init: Option<(CHookFn, Arc<UserData>)>,
    on_destroy: Option<(CHookFn, Arc<UserData>)>,
}

pub(crate) static PROVIDERS: Table<Mutex<Builder>> = Table::new("provider");

fn new_builder(token: TokenRef, kind: ProviderKind, make: Make) -> Builder {
    Builder {
        token,
        kind,
        make,
        deps: Vec::new(),
        scope: Scope::Singleton,
        multi: false,
        replace: false,
        on_init: None,
        on_destroy: None,
    }
}

/// Starts a factory provider for `token`: `factory(user_data, deps, ...)` builds the instance. Add
/// dependencies with omnitron_provider_add_dependency. `user_data` is passed back untouched;
/// `free_user_data(user_data)` (NULL: nothing) runs once when the library lets go of it: when this
/// provider handle and every container, scope and module it was copied into are freed (on the
/// thread that frees the last of them), or before this function returns if it fails.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_provider_factory(
    token: *const OmnitronToken,
    factory: OmnitronFactoryFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
    out: *mut *mut OmnitronProvider,
) -> OmnitronStatus {
    guard_out(out, || {
        let ud = UserData::new(user_data, free_user_data);
        let token = token_arg(token)?;
        let f = factory.ok_or_else(|| Error::invalid_argument("factory is NULL"))?;
        let b = new_builder(token, ProviderKind::Factory, Make::Factory(f, ud));
        PROVIDERS.insert_out(out, Mutex::new(b))
    })
}

/// Starts a value provider: resolving `token` gives `value`. The container does not own `value`
/// unless an on_destroy callback is set, which then runs at dispose.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_provider_value(
    token: *const OmnitronToken,
    value: *mut c_void,
    out: *mut *mut OmnitronProvider,
) -> OmnitronStatus {
    guard_out(out, || {
        let token = token_arg(token)?;
        let b = new_builder(token, ProviderKind::Value, Make::Value(CPtr(value)));
        PROVIDERS.insert_out(out, Mutex::new(b))
    })
}

/// Starts an alias: resolving `token` gives the instance of `target`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_provider_alias(
    token: *const OmnitronToken,
    target: *const OmnitronToken,
    out: *mut *mut OmnitronProvider,
) -> OmnitronStatus {
    guard_out(out, || {
        let token = token_arg(token)?;
        let target = token_arg(target)?;
        let b = new_builder(token, ProviderKind::Alias(target), Make::Alias);
        PROVIDERS.insert_out(out, Mutex::new(b))
    })
}

/// Adds a dependency; the factory receives dependencies in the order they were added. `flags` is 0
/// or OMNITRON_DEP_OPTIONAL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_provider_add_dependency(
    provider: *mut OmnitronProvider,
    dependency: *const OmnitronToken,
    flags: u32,
) -> OmnitronStatus {
    guard(|| {
        let p = PROVIDERS.get(provider)?;
        let token = token_arg(dependency)?;
        if flags & !OMNITRON_DEP_OPTIONAL != 0 {
            return Err(Error::invalid_argument(format!("unknown dependency flags {flags:#x}")));
        }
        let mut b = p.lock();
        if !matches!(b.make, Make::Factory(..)) {
            return Err(Error::new(ErrorCode::InvalidProvider, "only factory providers take dependencies"));
        }
        b.deps.push(if flags & OMNITRON_DEP_OPTIONAL != 0 {
            Dependency::optional(token)
        } else {
            Dependency::required(token)
        });
        Ok(())
    })
}

/// Sets how long instances live: one of OMNITRON_LIFETIME_* (passed as a number so an out-of-range
/// value is an error, not undefined behaviour).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_provider_set_lifetime(
    provider: *mut OmnitronProvider,
    lifetime: u32,
) -> OmnitronStatus {
    guard(|| {
        let p = PROVIDERS.get(provider)?;
        let scope = match lifetime {
            OMNITRON_LIFETIME_SINGLETON => Scope::Singleton,
            OMNITRON_LIFETIME_TRANSIENT => Scope::Transient,
            OMNITRON_LIFETIME_SCOPED => Scope::Scoped,
            other => {
                return Err(Error::new(
                    ErrorCode::InvalidScope,
                    format!(
                        "unknown lifetime {other}: expected OMNITRON_LIFETIME_SINGLETON, _TRANSIENT or _SCOPED"
                    ),
                ));
            }
        };
        p.lock().scope = scope;
        Ok(())
    })
}

/// Sets flags: OMNITRON_PROVIDER_MULTI and/or OMNITRON_PROVIDER_REPLACE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_provider_set_flags(
    provider: *mut OmnitronProvider,
    flags: u32,
) -> OmnitronStatus {
    guard(|| {
        let p = PROVIDERS.get(provider)?;
        if flags & !(OMNITRON_PROVIDER_MULTI | OMNITRON_PROVIDER_REPLACE) != 0 {
            return Err(Error::invalid_argument(format!("unknown provider flags {flags:#x}")));
        }
        let mut b = p.lock();
        b.multi = flags & OMNITRON_PROVIDER_MULTI != 0;
        b.replace = flags & OMNITRON_PROVIDER_REPLACE != 0;
        Ok(())
    })
}

/// Sets the on_init hook. omnitron_container_initialize runs it once per singleton instance, after
/// the instance's dependencies are built and initialized (dependency order); resolving never runs
/// it. Only singletons can have one: registering a transient or scoped provider with an on_init hook
/// fails with OMNITRON_STATUS_INVALID_PROVIDER (do the set-up in the factory instead). Setting it
/// again replaces it (and lets go of the old user_data); NULL removes it. `free_user_data` as for
/// omnitron_provider_factory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_provider_on_init(
    provider: *mut OmnitronProvider,
    hook: OmnitronHookFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let p = PROVIDERS.get(provider)?;
        let old = std::mem::replace(&mut p.lock().on_init, hook.map(|h| (h, ud)));
        drop(old); // after the lock: freeing runs C code, which may call the library.
        Ok(())
    })
}

/// Sets the on_destroy callback, run at dispose (dependents first) for every instance the container
/// or a scope owns. Setting it again replaces it; NULL removes it. `free_user_data` as for
/// omnitron_provider_factory: it runs after the last on_destroy call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_provider_on_destroy(
    provider: *mut OmnitronProvider,
    destroy: OmnitronDestroyFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let p = PROVIDERS.get(provider)?;
        let old = std::mem::replace(&mut p.lock().on_destroy, destroy.map(|h| (h, ud)));
        drop(old); // after the lock: freeing runs C code, which may call the library.
        Ok(())
    })
}

/// Frees a provider description (what was registered from it stays registered). NULL and freed
/// handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_provider_free(provider: *mut OmnitronProvider) {
    guard_void(|| {
        PROVIDERS.remove(provider);
        Ok(())
    })
}

impl Builder {
    /// The engine's untyped provider for this description.
    pub(crate) fn to_raw(&self) -> RawProvider {
        let mut spec = ProviderSpec::new(self.token.clone(), self.kind.clone());
        spec.deps = self.deps.clone();
        spec.scope = self.scope;
        spec.multi = self.multi;
        spec.replace = self.replace;
        let make = match &self.make {
            Make::Value(v) => RawMake::Value(instance(v.0)),
            Make::Alias => RawMake::Builtin,
            Make::Factory(f, ud) => {
                let (f, ud) = (*f, ud.clone());
                RawMake::Factory(Box::new(move |values: Vec<Resolved>| {
                    let ptrs: Vec<*mut c_void> = values
                        .iter()
                        .map(|v| match v {
                            Resolved::One(i) => pointer(i),
                            Resolved::Many(v) => v.first().map_or(std::ptr::null_mut(), pointer),
                            Resolved::Absent => std::ptr::null_mut(),
                        })
                        .collect();
                    let mut out: *mut c_void = std::ptr::null_mut();
                    clear_callback_message();
                    // SAFETY: the caller registered `f` with this contract; `ptrs` lives for the call.
                    let status = unsafe { f(ud.get(), ptrs.as_ptr(), ptrs.len(), &mut out) };
                    if status != 0 {
                        // The container wraps it into OMNITRON_STATUS_FACTORY_FAILED naming the
                        // provider, its resolution path and its module path.
                        return Err(callback_failure(status));
                    }
                    Ok(instance(out))
                }))
            }
        };
        let on_init = self.on_init.as_ref().map(|(h, ud)| c_hook(*h, ud));
        let on_destroy = self.on_destroy.as_ref().map(|(h, ud)| c_hook(*h, ud));
        RawProvider { spec, make, on_init, on_destroy }
    }
}

type CHookFn = unsafe extern "C" fn(*mut c_void, *mut c_void) -> CallbackStatus;

/// A C hook as an engine hook: a non-OK status is the hook's failure, which the container reports
/// naming the provider (on_init: OMNITRON_STATUS_LIFECYCLE_FAILED from initialize; on_destroy: one
/// entry of dispose's aggregate).
fn c_hook(h: CHookFn, ud: &Arc<UserData>) -> RawHook {
    let ud = ud.clone();
    Box::new(move |i: &Instance| {
        clear_callback_message();
        // SAFETY: the registered hook's contract (header): it takes its user_data and the instance.
        let status = unsafe { h(ud.get(), pointer(i)) };
        if status == 0 { Ok(()) } else { Err(callback_failure(status)) }
    })
}

/// What a callback that returned `status` failed with: the library error it passed on (a failed
/// call it made, unchanged), or what it said with omnitron_callback_error (or the bare status).
fn callback_failure(status: u32) -> BoxError {
    if let Some(e) = passed_on(status) {
        return Box::new(e);
    }
    take_callback_message()
        .unwrap_or_else(|| format!("it returned status {status} ({})", status_text(status)))
        .into()
}
