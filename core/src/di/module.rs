//! Typed modules for Rust: a name, imports, providers, exports, and whether it is global.
//!
//! A dynamic module (`forRoot(options)` in TypeScript) is, in Rust, just a function that builds a
//! [`Module`] from its options.

use std::collections::HashSet;
use std::sync::Arc;

use super::provider::{ErasedProvider, Provider};
use super::spec::{ExportItem, Exports, ModuleKey, ModuleProcess, ModuleSpec, TokenRef};
use super::token::Token;

struct ModuleInner {
    key: ModuleKey,
    name: Arc<str>,
    imports: Vec<Module>,
    providers: Vec<ErasedProvider>,
    exports: Exports,
    global: bool,
    process: Option<ModuleProcess>,
}

/// A module: cheap to clone, shared by every module that imports it.
///
/// ```
/// use omnitron::di::{Container, Module, Provider, Token};
///
/// let url = Token::<String>::new("DatabaseUrl");
/// let database = Module::builder("DatabaseModule")
///     .provider(Provider::value(&url, "postgres://localhost".to_string()))
///     .export(&url)
///     .build();
/// let app = Module::builder("AppModule").import(&database).build();
/// let container = Container::from_module(&app).unwrap();
/// assert_eq!(*container.resolve(&url).unwrap(), "postgres://localhost");
/// ```
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("name", &self.inner.name).finish_non_exhaustive()
    }
}

impl Module {
    /// Starts a module definition.
    pub fn builder(name: impl Into<Arc<str>>) -> ModuleBuilder {
        ModuleBuilder {
            name: name.into(),
            imports: Vec::new(),
            providers: Vec::new(),
            exports: None,
            global: false,
            process: None,
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub(crate) fn key(&self) -> ModuleKey {
        self.inner.key
    }

    pub(crate) fn providers(&self) -> &[ErasedProvider] {
        &self.inner.providers
    }

    /// This module and everything it imports, each once.
    pub(crate) fn reachable(&self) -> Vec<Module> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![self.clone()];
        while let Some(m) = stack.pop() {
            if !seen.insert(m.key()) {
                continue;
            }
            stack.extend(m.inner.imports.iter().cloned());
            out.push(m);
        }
        out
    }

    pub(crate) fn spec(&self) -> ModuleSpec {
        ModuleSpec {
            key: self.inner.key,
            name: self.inner.name.clone(),
            imports: self.inner.imports.iter().map(|m| m.key()).collect(),
            providers: self.inner.providers.iter().map(|p| p.spec.clone()).collect(),
            exports: self.inner.exports.clone(),
            global: self.inner.global,
            process: self.inner.process,
        }
    }
}

/// Builds a [`Module`].
#[derive(Debug)]
pub struct ModuleBuilder {
    name: Arc<str>,
    imports: Vec<Module>,
    providers: Vec<ErasedProvider>,
    exports: Option<Vec<ExportItem>>,
    global: bool,
    process: Option<ModuleProcess>,
}

impl std::fmt::Debug for ErasedProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.spec.fmt(f)
    }
}

impl ModuleBuilder {
    /// Sees the exports of `module`.
    pub fn import(mut self, module: &Module) -> Self {
        self.imports.push(module.clone());
        self
    }

    /// Adds a provider.
    pub fn provider<T: Send + Sync + 'static>(mut self, provider: Provider<T>) -> Self {
        self.providers.push(provider.erase());
        self
    }

    /// Exports a token it provides or imports. Without any `export` call, every provider of the
    /// module is exported (as in the original framework); after one, only what is listed.
    pub fn export<T: ?Sized + 'static>(mut self, token: &Token<T>) -> Self {
        self.exports.get_or_insert_with(Vec::new).push(ExportItem::Token(TokenRef::from(token)));
        self
    }

    /// Re-exports everything an imported module exports.
    pub fn export_module(mut self, module: &Module) -> Self {
        self.exports.get_or_insert_with(Vec::new).push(ExportItem::Module(module.key()));
        self
    }

    /// Exports nothing.
    pub fn export_nothing(mut self) -> Self {
        self.exports = Some(Vec::new());
        self
    }

    /// Its exports are visible to every module without importing it.
    pub fn global(mut self) -> Self {
        self.global = true;
        self
    }

    /// Records where the module is meant to run (the spec's `process`). Not acted upon yet: the
    /// module runs in the process that loads it.
    pub fn process(mut self, process: ModuleProcess) -> Self {
        self.process = Some(process);
        self
    }

    /// Finishes the module.
    pub fn build(self) -> Module {
        Module {
            inner: Arc::new(ModuleInner {
                key: ModuleKey::fresh(),
                name: self.name,
                imports: self.imports,
                providers: self.providers,
                exports: match self.exports {
                    None => Exports::All,
                    Some(items) => Exports::Only(items),
                },
                global: self.global,
                process: self.process,
            }),
        }
    }
}
