//! Typed providers for Rust users: what to build, from which dependencies, with which hooks.
//!
//! Dependencies are declared as a tuple of tokens, so the factory receives exactly the typed values it
//! asked for and the engine knows the graph before anything runs:
//!
//! ```
//! use std::sync::Arc;
//! use omnitron::di::{Provider, Token, optional};
//!
//! struct Config;
//! struct Cache;
//! struct Service { config: Arc<Config>, cache: Option<Arc<Cache>> }
//!
//! let config = Token::<Config>::new("Config");
//! let cache = Token::<Cache>::new("Cache");
//! let service = Token::<Service>::new("Service");
//! let _p = Provider::factory(&service, (&config, optional(&cache)), |(config, cache)| {
//!     Ok(Service { config, cache })
//! });
//! ```

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::scope::Scope;
use super::spec::{Dependency, InitHook, ProviderKind, ProviderSpec, TokenRef};
use super::token::Token;
use crate::error::{BoxError, Error, ErrorCode, Result};

/// An instance as the container stores it.
pub type Instance = Arc<dyn Any + Send + Sync>;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A dependency's value as handed to a factory before it is typed.
#[derive(Clone)]
pub enum Resolved {
    /// One instance.
    One(Instance),
    /// Every instance of a multi token.
    Many(Vec<Instance>),
    /// An optional dependency with no provider.
    Absent,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resolved::One(_) => f.write_str("One(..)"),
            Resolved::Many(v) => write!(f, "Many({} items)", v.len()),
            Resolved::Absent => f.write_str("Absent"),
        }
    }
}

pub(crate) fn downcast<T: Send + Sync + 'static>(inst: Instance, token: &str) -> Result<Arc<T>> {
    inst.downcast::<T>().map_err(|_| {
        Error::new(
            ErrorCode::InvalidProvider,
            format!("the instance provided for '{token}' is not a {}", std::any::type_name::<T>()),
        )
    })
}

/// One declared dependency: a token (`&token`), [`optional`]`(&token)` or [`all`]`(&token)`.
pub trait DepItem {
    /// What the factory receives for it.
    type Output: Send + 'static;
    /// The engine's description of it.
    fn dependency(&self) -> Dependency;
    /// Types the resolved value.
    fn extract(value: Resolved, token: &str) -> Result<Self::Output>;
}

impl<T: Send + Sync + 'static> DepItem for &Token<T> {
    type Output = Arc<T>;
    fn dependency(&self) -> Dependency {
        Dependency::required(TokenRef::from(*self))
    }
    fn extract(value: Resolved, token: &str) -> Result<Arc<T>> {
        <Token<T> as DepItem>::extract(value, token)
    }
}

impl<T: Send + Sync + 'static> DepItem for Token<T> {
    type Output = Arc<T>;
    fn dependency(&self) -> Dependency {
        Dependency::required(TokenRef::from(self))
    }
    fn extract(value: Resolved, token: &str) -> Result<Arc<T>> {
        match value {
            Resolved::One(i) => downcast(i, token),
            Resolved::Many(mut v) if !v.is_empty() => downcast(v.swap_remove(0), token),
            _ => Err(Error::new(
                ErrorCode::Internal,
                format!("required dependency '{token}' was not resolved"),
            )),
        }
    }
}

/// An optional dependency: the factory gets `None` when nothing provides it.
#[derive(Debug, Clone)]
pub struct Optional<T: 'static>(pub Token<T>);

/// Declares `token` as an optional dependency.
pub fn optional<T: 'static>(token: &Token<T>) -> Optional<T> {
    Optional(token.clone())
}

impl<T: Send + Sync + 'static> DepItem for Optional<T> {
    type Output = Option<Arc<T>>;
    fn dependency(&self) -> Dependency {
        Dependency::optional(TokenRef::from(&self.0))
    }
    fn extract(value: Resolved, token: &str) -> Result<Option<Arc<T>>> {
        match value {
            Resolved::Absent => Ok(None),
            other => <Token<T> as DepItem>::extract(other, token).map(Some),
        }
    }
}

/// Every provider of a multi token, in registration order.
#[derive(Debug, Clone)]
pub struct All<T: 'static>(pub Token<T>);

/// Declares a dependency on every provider of the multi token `token`.
pub fn all<T: 'static>(token: &Token<T>) -> All<T> {
    All(token.clone())
}

impl<T: Send + Sync + 'static> DepItem for All<T> {
    type Output = Vec<Arc<T>>;
    fn dependency(&self) -> Dependency {
        Dependency::all(TokenRef::from(&self.0))
    }
    fn extract(value: Resolved, token: &str) -> Result<Vec<Arc<T>>> {
        match value {
            Resolved::Many(v) => v.into_iter().map(|i| downcast(i, token)).collect(),
            Resolved::One(i) => Ok(vec![downcast(i, token)?]),
            Resolved::Absent => Ok(Vec::new()),
        }
    }
}

/// A tuple of [`DepItem`]s: `()`, `(&a,)`, `(&a, optional(&b))`, ... up to twelve.
pub trait Deps {
    /// The tuple the factory receives.
    type Output: Send + 'static;
    /// The engine's description of each item.
    fn dependencies(&self) -> Vec<Dependency>;
    /// Types the resolved values (same length and order as [`Deps::dependencies`]).
    fn extract(values: Vec<Resolved>, names: &[Dependency]) -> Result<Self::Output>;
}

impl Deps for () {
    type Output = ();
    fn dependencies(&self) -> Vec<Dependency> {
        Vec::new()
    }
    fn extract(_: Vec<Resolved>, _: &[Dependency]) -> Result<()> {
        Ok(())
    }
}

macro_rules! tuple_deps {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: DepItem),+> Deps for ($($name,)+) {
            type Output = ($($name::Output,)+);
            fn dependencies(&self) -> Vec<Dependency> {
                vec![$(self.$idx.dependency()),+]
            }
            fn extract(values: Vec<Resolved>, names: &[Dependency]) -> Result<Self::Output> {
                let mut it = values.into_iter();
                Ok(($(
                    $name::extract(
                        it.next().unwrap_or(Resolved::Absent),
                        names.get($idx).map(|d| &*d.token.name).unwrap_or("?"),
                    )?,
                )+))
            }
        }
    };
}

tuple_deps!(A 0);
tuple_deps!(A 0, B 1);
tuple_deps!(A 0, B 1, C 2);
tuple_deps!(A 0, B 1, C 2, D 3);
tuple_deps!(A 0, B 1, C 2, D 3, E 4);
tuple_deps!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_deps!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_deps!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_deps!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_deps!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_deps!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_deps!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

/// A type that is its own provider (the Rust counterpart of an `@Injectable()` class), registered
/// under [`Token::of`] with [`Provider::class`].
pub trait Injectable: Send + Sync + Sized + 'static {
    /// Its dependencies: a tuple of owned tokens, [`Optional`]s and [`All`]s.
    type Deps: Deps;
    /// Declares the dependencies.
    fn deps() -> Self::Deps;
    /// Builds an instance.
    fn create(deps: <Self::Deps as Deps>::Output) -> std::result::Result<Self, BoxError>;
    /// Its lifetime.
    fn scope() -> Scope {
        Scope::Singleton
    }
}

/// A maker's error is the factory's own (the container wraps it into `FactoryFailed`, naming the
/// provider and its path) or an engine error from inside it (which passes through when it is a DI
/// error).
pub(crate) type SyncMake =
    Arc<dyn Fn(Vec<Resolved>) -> std::result::Result<Instance, BoxError> + Send + Sync>;
pub(crate) type AsyncMake =
    Arc<dyn Fn(Vec<Resolved>) -> BoxFuture<'static, std::result::Result<Instance, BoxError>> + Send + Sync>;
pub(crate) type Hook =
    Arc<dyn Fn(Instance) -> BoxFuture<'static, std::result::Result<(), BoxError>> + Send + Sync>;
pub(crate) type SyncHook = Arc<dyn Fn(&Instance) -> std::result::Result<(), BoxError> + Send + Sync>;

/// How a registered provider makes its instance, with the types erased.
#[derive(Clone)]
pub(crate) enum Make {
    Value(Instance),
    Sync(SyncMake),
    Async(AsyncMake),
    /// Aliases and the built-in context: the container handles them itself.
    Builtin,
}

#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) init_sync: Option<SyncHook>,
    pub(crate) init_async: Option<Hook>,
    pub(crate) destroy: Option<Hook>,
}

/// A provider for `T`, ready to register in a container or a module.
pub struct Provider<T> {
    pub(crate) spec: ProviderSpec,
    pub(crate) make: Make,
    pub(crate) hooks: Hooks,
    _type: std::marker::PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Provider<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("spec", &self.spec).finish_non_exhaustive()
    }
}

/// A provider with its type erased, as a module holds it.
pub(crate) struct ErasedProvider {
    pub(crate) spec: ProviderSpec,
    pub(crate) make: Make,
    pub(crate) hooks: Hooks,
}

impl<T: Send + Sync + 'static> Provider<T> {
    fn with(token: &Token<T>, kind: ProviderKind, make: Make) -> Self {
        Provider {
            spec: ProviderSpec::new(TokenRef::from(token), kind),
            make,
            hooks: Hooks::default(),
            _type: std::marker::PhantomData,
        }
    }

    /// A ready value, shared by everyone who resolves `token`.
    pub fn value(token: &Token<T>, value: T) -> Self {
        Self::with(token, ProviderKind::Value, Make::Value(Arc::new(value)))
    }

    /// A ready value already in an `Arc`.
    pub fn value_arc(token: &Token<T>, value: Arc<T>) -> Self {
        Self::with(token, ProviderKind::Value, Make::Value(value))
    }

    /// A function of the declared dependencies.
    pub fn factory<D, F>(token: &Token<T>, deps: D, f: F) -> Self
    where
        D: Deps,
        F: Fn(D::Output) -> std::result::Result<T, BoxError> + Send + Sync + 'static,
    {
        let declared = deps.dependencies();
        let names = declared.clone();
        let make: SyncMake = Arc::new(move |values| {
            let args = D::extract(values, &names)?;
            f(args).map(|v| Arc::new(v) as Instance)
        });
        let mut p = Self::with(token, ProviderKind::Factory, Make::Sync(make));
        p.spec.deps = declared;
        p
    }

    /// An async function of the declared dependencies. Resolve it with `resolve_async`, or
    /// `initialize()` the container first.
    pub fn factory_async<D, F, Fut>(token: &Token<T>, deps: D, f: F) -> Self
    where
        D: Deps,
        F: Fn(D::Output) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<T, BoxError>> + Send + 'static,
    {
        let declared = deps.dependencies();
        let names = declared.clone();
        let f = Arc::new(f);
        let make: AsyncMake = Arc::new(move |values| {
            let f = f.clone();
            let names = names.clone();
            Box::pin(async move {
                let args = D::extract(values, &names)?;
                f(args).await.map(|v| Arc::new(v) as Instance)
            })
        });
        let mut p = Self::with(token, ProviderKind::Factory, Make::Async(make));
        p.spec.deps = declared;
        p.spec.is_async = true;
        p
    }

    /// Another token's provider under this token: resolving either gives the same instance.
    pub fn alias(token: &Token<T>, target: &Token<T>) -> Self {
        Self::with(token, ProviderKind::Alias(TokenRef::from(target)), Make::Builtin)
    }

    /// Sets the lifetime.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.spec.scope = scope;
        self
    }

    /// A new instance on every resolve.
    pub fn transient(self) -> Self {
        self.scope(Scope::Transient)
    }

    /// One instance per scope.
    pub fn scoped(self) -> Self {
        self.scope(Scope::Scoped)
    }

    /// One of several providers of a multi token (resolved together with `resolve_all`).
    pub fn multi(mut self) -> Self {
        self.spec.multi = true;
        self
    }

    /// Replaces an existing provider of the token instead of failing with `DuplicateProvider`.
    pub fn replace(mut self) -> Self {
        self.spec.replace = true;
        self
    }

    /// Runs once, in [`Container::initialize`](super::Container::initialize), after the instance and
    /// its dependencies are built and their hooks have run. Resolving never runs it. Only singletons
    /// may have one: a transient or scoped provider with an `on_init` hook is refused at
    /// registration (`InvalidProvider`), since the container never initialises those.
    pub fn on_init<F>(mut self, f: F) -> Self
    where
        F: Fn(&T) -> std::result::Result<(), BoxError> + Send + Sync + 'static,
    {
        self.hooks.init_sync = Some(Arc::new(move |inst: &Instance| match inst.downcast_ref::<T>() {
            Some(v) => f(v),
            None => Ok(()),
        }));
        self.hooks.init_async = None;
        self.spec.init = InitHook::Sync;
        self
    }

    /// Like [`Provider::on_init`], awaited by `initialize()`. It does not make the provider async:
    /// a synchronous resolve gives the instance (not yet initialised before `initialize()`).
    pub fn on_init_async<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Arc<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), BoxError>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.hooks.init_async = Some(Arc::new(move |inst: Instance| {
            let f = f.clone();
            Box::pin(async move {
                match inst.downcast::<T>() {
                    Ok(v) => f(v).await,
                    Err(_) => Ok(()),
                }
            })
        }));
        self.hooks.init_sync = None;
        self.spec.init = InitHook::Async;
        self
    }

    /// Runs when the container (or scope) holding the instance is disposed.
    pub fn on_destroy<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Arc<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), BoxError>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.hooks.destroy = Some(Arc::new(move |inst: Instance| {
            let f = f.clone();
            Box::pin(async move {
                match inst.downcast::<T>() {
                    Ok(v) => f(v).await,
                    Err(_) => Ok(()),
                }
            })
        }));
        self
    }

    pub(crate) fn erase(self) -> ErasedProvider {
        ErasedProvider { spec: self.spec, make: self.make, hooks: self.hooks }
    }
}

impl<T: Injectable> Provider<T> {
    /// `T` under its own type token ([`Token::of`]), built by [`Injectable::create`].
    pub fn class() -> Self {
        let token = Token::<T>::of();
        let mut p = Provider::factory(&token, T::deps(), T::create).scope(T::scope());
        p.spec.kind = ProviderKind::Class;
        p.spec.label = Some(std::any::type_name::<T>().into());
        p
    }
}
