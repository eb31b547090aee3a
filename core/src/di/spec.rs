//! Language-neutral descriptions of providers and modules.
//!
//! A binding (or the typed Rust container) describes what it registers with these plain structs; the
//! [`Graph`](super::Graph) checks them and compiles them into a [`Plan`](super::Plan). None of them
//! holds an instance or a function: those stay with whoever registered them, indexed by
//! [`ProviderId`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::scope::Scope;
use super::token::TokenKey;

/// A token as the engine sees it: its key and its name for messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenRef {
    /// Identity.
    pub key: TokenKey,
    /// Label for messages and graphs.
    pub name: Arc<str>,
}

impl TokenRef {
    /// A token reference from a key and a name.
    pub fn new(key: TokenKey, name: impl Into<Arc<str>>) -> Self {
        TokenRef { key, name: name.into() }
    }

    /// The built-in context token.
    pub fn context() -> Self {
        TokenRef { key: TokenKey::CONTEXT, name: "CONTEXT".into() }
    }
}

impl<T: ?Sized + 'static> From<&super::token::Token<T>> for TokenRef {
    fn from(t: &super::token::Token<T>) -> Self {
        TokenRef { key: t.key(), name: t.name_arc() }
    }
}

/// Index of a provider inside one graph. Stable for the graph's lifetime (overridden providers keep
/// their id and are marked dead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderId(pub(crate) u32);

impl ProviderId {
    /// The index, for bindings that keep per-provider arrays.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Rebuilds an id from [`ProviderId::index`].
    pub fn from_index(i: usize) -> ProviderId {
        ProviderId(i as u32)
    }
}

/// How a provider makes its instance. The engine only needs the shape; the function or value itself
/// stays with the registrant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// A class constructed with its dependencies (`useClass`, or a decorated class).
    Class,
    /// A ready value (`useValue`): always a singleton.
    Value,
    /// A function called with its dependencies (`useFactory`).
    Factory,
    /// Another token's provider (`useToken` / `useExisting`): the same instance.
    Alias(TokenRef),
    /// The built-in `CONTEXT` token: the value a scope was created with.
    Context,
}

impl ProviderKind {
    /// Short name for graphs and messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProviderKind::Class => "class",
            ProviderKind::Value => "value",
            ProviderKind::Factory => "factory",
            ProviderKind::Alias(_) => "alias",
            ProviderKind::Context => "context",
        }
    }
}

/// One dependency of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// What is asked for.
    pub token: TokenRef,
    /// A missing provider gives "absent" (`undefined`, `None`) instead of an error.
    pub optional: bool,
    /// Every provider of a multi token, in registration order (an empty list when there is none).
    pub all: bool,
}

impl Dependency {
    /// A required dependency.
    pub fn required(token: TokenRef) -> Self {
        Dependency { token, optional: false, all: false }
    }

    /// An optional dependency.
    pub fn optional(token: TokenRef) -> Self {
        Dependency { token, optional: true, all: false }
    }

    /// Every provider of a multi token.
    pub fn all(token: TokenRef) -> Self {
        Dependency { token, optional: false, all: true }
    }
}

/// Whether an instance has an `onInit` hook, and whether it must be awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitHook {
    /// No hook.
    #[default]
    None,
    /// A hook that finishes before it returns.
    Sync,
    /// A hook that returns a future / promise / coroutine.
    Async,
}

/// A provider to register.
#[derive(Debug, Clone)]
pub struct ProviderSpec {
    /// The token it provides.
    pub token: TokenRef,
    /// How it makes its instance.
    pub kind: ProviderKind,
    /// Lifetime of its instances (ignored for values and aliases).
    pub scope: Scope,
    /// What its constructor or factory receives, in order.
    pub deps: Vec<Dependency>,
    /// The factory returns a future / promise / coroutine.
    pub is_async: bool,
    /// Its `onInit` hook.
    pub init: InitHook,
    /// One of several providers of a multi token.
    pub multi: bool,
    /// Replaces an existing provider of the same token instead of failing.
    pub replace: bool,
    /// What made it (a class name, `useFactory`), for graphs; defaults to the kind.
    pub label: Option<Arc<str>>,
}

impl ProviderSpec {
    /// A provider of `kind` for `token`, singleton, with no dependencies.
    pub fn new(token: TokenRef, kind: ProviderKind) -> Self {
        ProviderSpec {
            token,
            kind,
            scope: Scope::Singleton,
            deps: Vec::new(),
            is_async: false,
            init: InitHook::None,
            multi: false,
            replace: false,
            label: None,
        }
    }
}

/// Identity of a module (a decorated class, a dynamic module object, a Rust [`Module`](super::Module)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleKey(u64);

static NEXT_MODULE: AtomicU64 = AtomicU64::new(1);

impl ModuleKey {
    /// A key no other module has.
    pub fn fresh() -> ModuleKey {
        ModuleKey(NEXT_MODULE.fetch_add(1, Ordering::Relaxed))
    }

    /// The raw number, for bindings.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Rebuilds a key from [`ModuleKey::as_u64`].
    pub fn from_u64(raw: u64) -> ModuleKey {
        ModuleKey(raw)
    }
}

/// What a module makes visible to modules that import it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exports {
    /// Every provider of the module itself (what an omitted `exports` means, as in the original).
    All,
    /// Exactly these tokens and re-exported modules (`exports: []` exports nothing).
    Only(Vec<ExportItem>),
}

/// One entry of a module's `exports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportItem {
    /// A token the module provides or imports.
    Token(TokenRef),
    /// An imported module, re-exported whole.
    Module(ModuleKey),
}

/// A module to load.
#[derive(Debug, Clone)]
pub struct ModuleSpec {
    /// Identity.
    pub key: ModuleKey,
    /// Name for messages.
    pub name: Arc<str>,
    /// Modules whose exports this one sees.
    pub imports: Vec<ModuleKey>,
    /// Its own providers.
    pub providers: Vec<ProviderSpec>,
    /// What it shows to importers.
    pub exports: Exports,
    /// Its exports are visible to every module without an import.
    pub global: bool,
    /// Where the module is meant to run (the spec's `process: { type, instances, isolation }`).
    /// Recorded and checked, not acted upon yet: a module runs in the process that loads it.
    pub process: Option<ModuleProcess>,
}

/// A module's `process` declaration. Every field is optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModuleProcess {
    /// What kind of process (`type`).
    pub kind: Option<ProcessType>,
    /// How many (`instances`).
    pub instances: Option<Instances>,
    /// What separates instances (`isolation`).
    pub isolation: Option<Isolation>,
}

/// `process.type` of a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessType {
    /// The application's main process.
    Main,
    /// An HTTP or RPC entry point.
    Gateway,
    /// A service others call.
    Service,
    /// Background work.
    Worker,
    /// Timed jobs.
    Scheduler,
    /// A queue consumer.
    Queue,
}

impl ProcessType {
    /// Every name, as written in `process.type`.
    pub const NAMES: &'static [&'static str] =
        &["main", "gateway", "service", "worker", "scheduler", "queue"];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessType::Main => "main",
            ProcessType::Gateway => "gateway",
            ProcessType::Service => "service",
            ProcessType::Worker => "worker",
            ProcessType::Scheduler => "scheduler",
            ProcessType::Queue => "queue",
        }
    }

    /// From its name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "main" => ProcessType::Main,
            "gateway" => ProcessType::Gateway,
            "service" => ProcessType::Service,
            "worker" => ProcessType::Worker,
            "scheduler" => ProcessType::Scheduler,
            "queue" => ProcessType::Queue,
            _ => return None,
        })
    }
}

/// `process.instances` of a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instances {
    /// `'auto'`: scaled with the load.
    Auto,
    /// A fixed number (at least 1).
    Fixed(u32),
}

/// `process.isolation` of a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Worker threads of one process.
    Thread,
    /// Separate OS processes.
    Process,
}

impl ModuleSpec {
    /// An empty module with a fresh key.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        ModuleSpec {
            key: ModuleKey::fresh(),
            name: name.into(),
            imports: Vec::new(),
            providers: Vec::new(),
            exports: Exports::All,
            global: false,
            process: None,
        }
    }
}
