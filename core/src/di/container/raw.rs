//! Untyped providers and modules, for the C ABI and the bindings that keep their instances in this
//! container: a [`RawProvider`] carries a spec, how to make the instance and plain hooks, and is
//! turned into what a typed [`Provider`](crate::di::Provider) becomes.

use std::sync::Arc;

use super::Container;
use super::lifecycle::check_hooks;
use crate::di::provider::{Hooks, Instance, Make, Resolved};
use crate::di::spec::{ProviderId, TokenRef};
use crate::di::token::TokenKey;
use crate::error::{BoxError, Result};

impl Container {
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
        entry: crate::di::spec::ModuleKey,
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
    pub spec: crate::di::spec::ProviderSpec,
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
    fn into_parts(self) -> (crate::di::spec::ProviderSpec, Make, Hooks) {
        let mut spec = self.spec;
        if self.on_init.is_some() {
            spec.init = crate::di::spec::InitHook::Sync;
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
    pub spec: crate::di::spec::ModuleSpec,
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

/// For bindings that pass token names with keys.
pub fn token_ref(key: TokenKey, name: &str) -> TokenRef {
    TokenRef::new(key, name)
}
