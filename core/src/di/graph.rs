//! The registry of modules and providers, and the checks made when something is added.
//!
//! A [`Graph`] holds descriptions only ([`ProviderSpec`], [`ModuleSpec`]). Whoever registers keeps the
//! matching factories, classes or values in an array indexed by the [`ProviderId`] the graph returns.
//! [`Graph::plan`] compiles the current registry into a [`Plan`] once and reuses it until the registry
//! changes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::plan::{self, Plan};
use super::spec::{
    ExportItem, Exports, ModuleKey, ModuleSpec, ProviderId, ProviderKind, ProviderSpec, TokenRef,
};
use super::token::TokenKey;
use crate::error::{Error, ErrorCode, Result};

/// Index of a module in a graph; the container's own (root) module is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub(crate) u32);

impl ModuleId {
    pub(crate) const ROOT: ModuleId = ModuleId(0);

    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Debug)]
pub(crate) struct ProviderNode {
    pub(crate) spec: ProviderSpec,
    pub(crate) module: ModuleId,
    /// False once a later registration with `replace` took its place.
    pub(crate) live: bool,
}

#[derive(Debug)]
pub(crate) struct ModuleNode {
    pub(crate) name: Arc<str>,
    pub(crate) imports: Vec<ModuleId>,
    /// Own providers by token, in registration order of the tokens.
    pub(crate) own: Vec<(TokenKey, Vec<ProviderId>)>,
    pub(crate) own_index: HashMap<TokenKey, usize>,
    /// What importers see, fixed at load time (a module's imports load before it).
    pub(crate) exported: Vec<(TokenKey, Vec<ProviderId>)>,
    pub(crate) global: bool,
    pub(crate) process: Option<super::spec::ModuleProcess>,
}

impl ModuleNode {
    fn new(name: Arc<str>, global: bool) -> Self {
        ModuleNode {
            name,
            imports: Vec::new(),
            own: Vec::new(),
            own_index: HashMap::new(),
            exported: Vec::new(),
            global,
            process: None,
        }
    }

    pub(crate) fn own_get(&self, token: TokenKey) -> Option<&Vec<ProviderId>> {
        self.own_index.get(&token).map(|&i| &self.own[i].1)
    }
}

/// The registry: every module and provider a container knows.
#[derive(Debug)]
pub struct Graph {
    pub(crate) names: HashMap<TokenKey, Arc<str>>,
    pub(crate) providers: Vec<ProviderNode>,
    pub(crate) modules: Vec<ModuleNode>,
    module_index: HashMap<ModuleKey, ModuleId>,
    /// The module given to `Omnitron.create(...)`: its whole inside view is visible from the root.
    pub(crate) entry: Option<ModuleId>,
    disposed: bool,
    plan: Option<Arc<Plan>>,
    pub(crate) dialect: super::Dialect,
}

impl Default for Graph {
    fn default() -> Self {
        Self::new()
    }
}

impl Graph {
    /// An empty graph holding only the built-in `CONTEXT` provider.
    pub fn new() -> Self {
        let mut g = Graph {
            names: HashMap::new(),
            providers: Vec::new(),
            modules: vec![ModuleNode::new("root".into(), false)],
            module_index: HashMap::new(),
            entry: None,
            disposed: false,
            plan: None,
            dialect: super::Dialect::default(),
        };
        let mut ctx = ProviderSpec::new(TokenRef::context(), ProviderKind::Context);
        ctx.scope = super::Scope::Scoped;
        g.insert(ModuleId::ROOT, ctx);
        g
    }

    /// Which API the engine's messages speak of (the Rust one by default).
    pub fn set_dialect(&mut self, dialect: super::Dialect) {
        self.dialect = dialect;
        self.plan = None;
    }

    /// Adds a provider to the container's own (root) module.
    ///
    /// Fails with `DuplicateProvider` when the token already has a provider and neither `multi` nor
    /// `replace` is set, with `InvalidProvider` for a malformed spec, and with `ContainerDisposed` after
    /// [`Graph::mark_disposed`].
    pub fn register(&mut self, spec: ProviderSpec) -> Result<ProviderId> {
        self.check_alive()?;
        validate_spec(&spec)?;
        check_duplicate(&self.modules[0], &spec, "the container", self.dialect)?;
        Ok(self.insert(ModuleId::ROOT, spec))
    }

    /// Loads modules: `modules` holds every module reachable from `entry` that is not loaded yet
    /// (already loaded ones may be left out or repeated; they are skipped). Imports load before their
    /// importers. All checks run before anything changes, so a failed load leaves the graph as it was.
    ///
    /// Returns, for each spec in `modules`, the ids of its providers (in its order), or an empty list
    /// for a module that was already loaded. With `as_entry`, everything the entry module can see is
    /// also visible from the root (what `Omnitron.create(AppModule)` does).
    pub fn load_modules(
        &mut self,
        entry: ModuleKey,
        modules: &[ModuleSpec],
        as_entry: bool,
    ) -> Result<Vec<Vec<ProviderId>>> {
        self.check_alive()?;
        let by_key: HashMap<ModuleKey, usize> = modules.iter().enumerate().map(|(i, m)| (m.key, i)).collect();
        if !by_key.contains_key(&entry) && !self.module_index.contains_key(&entry) {
            return Err(Error::new(
                ErrorCode::InvalidModule,
                "the module to load is not among the modules given",
            ));
        }
        let order = self.load_order(entry, modules, &by_key)?;
        for &i in &order {
            let m = &modules[i];
            if m.name.trim().is_empty() {
                return Err(Error::new(ErrorCode::InvalidModule, "a module needs a non-empty name"));
            }
            let mut seen: HashSet<TokenKey> = HashSet::new();
            for p in &m.providers {
                validate_spec(p).map_err(|e| in_module(e, &m.name))?;
                if !seen.insert(p.token.key) && !p.multi && !p.replace {
                    return Err(duplicate(&p.token.name, &format!("module '{}'", m.name), self.dialect));
                }
            }
        }
        // Exports are checked against what each module will see; do that before mutating anything
        // by computing them on a dry run.
        let mut planned_exports: HashMap<ModuleKey, Vec<TokenKey>> = HashMap::new();
        for &i in &order {
            let m = &modules[i];
            let tokens = self.dry_exports(m, modules, &by_key, &planned_exports)?;
            planned_exports.insert(m.key, tokens);
        }

        let mut ids: Vec<Vec<ProviderId>> = vec![Vec::new(); modules.len()];
        for &i in &order {
            let m = &modules[i];
            let mid = ModuleId(self.modules.len() as u32);
            let mut node = ModuleNode::new(m.name.clone(), m.global);
            node.process = m.process;
            node.imports = m.imports.iter().map(|k| self.module_index[k]).collect();
            self.modules.push(node);
            self.module_index.insert(m.key, mid);
            for p in &m.providers {
                ids[i].push(self.insert(mid, p.clone()));
            }
            let exported = self.compute_exports(mid, &m.exports);
            self.modules[mid.index()].exported = exported;
        }
        let entry_id = self.module_index[&entry];
        if !self.modules[0].imports.contains(&entry_id) {
            self.modules[0].imports.push(entry_id);
        }
        if as_entry {
            self.entry = Some(entry_id);
        }
        self.plan = None;
        Ok(ids)
    }

    /// Puts `spec` in the place of every provider of its token, in whichever module holds it: each
    /// keeps its id, its module, its place among that module's exports and its `multi` flag (what
    /// a testing module's `overrideProvider(X)` does, before anything is built). Returns the ids
    /// replaced, none when nothing provides the token (then register it instead). The
    /// replacement's dependencies must be visible where each copy stands (the plan says so if
    /// not). `CONTEXT` cannot be replaced.
    pub fn override_provider(&mut self, spec: ProviderSpec) -> Result<Vec<ProviderId>> {
        self.check_alive()?;
        validate_spec(&spec)?;
        if spec.token.key == TokenRef::context().key {
            return Err(Error::new(
                ErrorCode::InvalidProvider,
                "CONTEXT is built in: it cannot be overridden",
            ));
        }
        let ids: Vec<ProviderId> = (0..self.providers.len())
            .filter(|&i| self.providers[i].live && self.providers[i].spec.token.key == spec.token.key)
            .map(|i| ProviderId(i as u32))
            .collect();
        self.remember_names(&spec);
        for id in &ids {
            let node = &mut self.providers[id.index()];
            let multi = node.spec.multi;
            node.spec = ProviderSpec { multi, replace: false, ..spec.clone() };
        }
        self.plan = None;
        Ok(ids)
    }

    /// Whether a module with this key is loaded.
    pub fn has_module(&self, key: ModuleKey) -> bool {
        self.module_index.contains_key(&key)
    }

    /// The `process` a loaded module declared (recorded, not acted upon yet).
    pub fn module_process(&self, key: ModuleKey) -> Option<super::spec::ModuleProcess> {
        self.module_index.get(&key).and_then(|id| self.modules[id.index()].process)
    }

    /// From now on every registration fails with `ContainerDisposed`.
    pub fn mark_disposed(&mut self) {
        self.disposed = true;
    }

    /// Whether [`Graph::mark_disposed`] was called.
    pub fn is_disposed(&self) -> bool {
        self.disposed
    }

    /// The error every operation on a disposed container gives.
    pub fn disposed_error() -> Error {
        Error::new(
            ErrorCode::ContainerDisposed,
            "the container has been disposed: nothing can be resolved or registered any more; create a new container",
        )
    }

    /// The compiled plan of the current registry, compiled now if anything changed since last time.
    pub fn plan(&mut self) -> Arc<Plan> {
        if let Some(p) = &self.plan {
            return p.clone();
        }
        let p = Arc::new(plan::compile(self));
        self.plan = Some(p.clone());
        p
    }

    /// The spec a provider was registered with.
    pub fn spec(&self, id: ProviderId) -> Option<&ProviderSpec> {
        self.providers.get(id.index()).map(|n| &n.spec)
    }

    /// Number of providers ever registered (including replaced ones and the built-in `CONTEXT`).
    pub fn provider_count(&self) -> usize {
        self.providers.len()
    }

    /// The name a token was registered or asked for under.
    pub fn token_name(&self, key: TokenKey) -> Option<&str> {
        self.names.get(&key).map(|n| &**n)
    }

    fn check_alive(&self) -> Result<()> {
        if self.disposed { Err(Graph::disposed_error()) } else { Ok(()) }
    }

    /// Keeps the names of the tokens `spec` mentions, for messages.
    fn remember_names(&mut self, spec: &ProviderSpec) {
        self.names.entry(spec.token.key).or_insert_with(|| spec.token.name.clone());
        for d in &spec.deps {
            self.names.entry(d.token.key).or_insert_with(|| d.token.name.clone());
        }
        if let ProviderKind::Alias(t) = &spec.kind {
            self.names.entry(t.key).or_insert_with(|| t.name.clone());
        }
    }

    fn insert(&mut self, module: ModuleId, spec: ProviderSpec) -> ProviderId {
        let id = ProviderId(self.providers.len() as u32);
        self.remember_names(&spec);
        let m = &mut self.modules[module.index()];
        let key = spec.token.key;
        match m.own_index.get(&key).copied() {
            Some(slot) if spec.multi && !spec.replace => m.own[slot].1.push(id),
            Some(slot) => {
                for old in std::mem::replace(&mut m.own[slot].1, vec![id]) {
                    self.providers[old.index()].live = false;
                }
            }
            None => {
                m.own_index.insert(key, m.own.len());
                m.own.push((key, vec![id]));
            }
        }
        self.providers.push(ProviderNode { spec, module, live: true });
        self.plan = None;
        id
    }

    /// Imports-first order of the modules that still need loading; refuses loops and unknown imports.
    fn load_order(
        &self,
        entry: ModuleKey,
        modules: &[ModuleSpec],
        by_key: &HashMap<ModuleKey, usize>,
    ) -> Result<Vec<usize>> {
        let mut order = Vec::new();
        let mut done: HashSet<ModuleKey> = HashSet::new();
        let mut path: Vec<ModuleKey> = Vec::new();
        // Every given module is visited, not only those reachable from the entry, so a stray cycle
        // is still reported.
        let roots = std::iter::once(entry).chain(modules.iter().map(|m| m.key));
        for root in roots {
            self.visit(root, modules, by_key, &mut done, &mut path, &mut order)?;
        }
        Ok(order)
    }

    fn visit(
        &self,
        key: ModuleKey,
        modules: &[ModuleSpec],
        by_key: &HashMap<ModuleKey, usize>,
        done: &mut HashSet<ModuleKey>,
        path: &mut Vec<ModuleKey>,
        order: &mut Vec<usize>,
    ) -> Result<()> {
        if done.contains(&key) || self.module_index.contains_key(&key) {
            return Ok(());
        }
        let name_of = |k: &ModuleKey| -> String {
            by_key.get(k).map(|&i| modules[i].name.to_string()).unwrap_or_else(|| "?".into())
        };
        if let Some(pos) = path.iter().position(|k| *k == key) {
            let mut names: Vec<String> = path[pos..].iter().map(name_of).collect();
            names.push(name_of(&key));
            return Err(Error::new(
                ErrorCode::CircularModuleImport,
                format!(
                    "circular module import: {}. Modules cannot import each other in a loop; move what they share into a third module that both import",
                    names.join(" -> ")
                ),
            ));
        }
        let Some(&i) = by_key.get(&key) else {
            let importer = path.last().map(name_of).unwrap_or_else(|| "?".into());
            return Err(Error::new(
                ErrorCode::InvalidModule,
                format!("module '{importer}' imports a module that was not given to load (is it a module?)"),
            ));
        };
        path.push(key);
        for imp in &modules[i].imports {
            self.visit(*imp, modules, by_key, done, path, order)?;
        }
        path.pop();
        done.insert(key);
        order.push(i);
        Ok(())
    }

    /// The tokens a module about to be loaded would export, or the reason its `exports` is wrong.
    fn dry_exports(
        &self,
        m: &ModuleSpec,
        modules: &[ModuleSpec],
        by_key: &HashMap<ModuleKey, usize>,
        planned: &HashMap<ModuleKey, Vec<TokenKey>>,
    ) -> Result<Vec<TokenKey>> {
        let exports_of = |k: &ModuleKey| -> Vec<TokenKey> {
            if let Some(t) = planned.get(k) {
                return t.clone();
            }
            match self.module_index.get(k) {
                Some(id) => self.modules[id.index()].exported.iter().map(|(t, _)| *t).collect(),
                None => Vec::new(),
            }
        };
        let own: HashSet<TokenKey> = m.providers.iter().map(|p| p.token.key).collect();
        match &m.exports {
            Exports::All => {
                let mut seen = HashSet::new();
                Ok(m.providers.iter().map(|p| p.token.key).filter(|k| seen.insert(*k)).collect())
            }
            Exports::Only(items) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        ExportItem::Token(t) => {
                            let via_import = m.imports.iter().any(|imp| exports_of(imp).contains(&t.key));
                            if !own.contains(&t.key) && !via_import {
                                return Err(Error::new(
                                    ErrorCode::InvalidModule,
                                    format!(
                                        "module '{}' exports '{}' but neither provides it nor imports a module that exports it; add '{}' to its providers or remove it from its exports",
                                        m.name, t.name, t.name
                                    ),
                                ));
                            }
                            out.push(t.key);
                        }
                        ExportItem::Module(k) => {
                            if !m.imports.contains(k) {
                                let name = by_key
                                    .get(k)
                                    .map(|&i| modules[i].name.to_string())
                                    .or_else(|| {
                                        self.module_index
                                            .get(k)
                                            .map(|id| self.modules[id.index()].name.to_string())
                                    })
                                    .unwrap_or_else(|| "?".into());
                                return Err(Error::new(
                                    ErrorCode::InvalidModule,
                                    format!(
                                        "module '{}' re-exports module '{name}' without importing it; add it to imports",
                                        m.name
                                    ),
                                ));
                            }
                            out.extend(exports_of(k));
                        }
                    }
                }
                Ok(out)
            }
        }
    }

    fn compute_exports(&self, mid: ModuleId, exports: &Exports) -> Vec<(TokenKey, Vec<ProviderId>)> {
        let m = &self.modules[mid.index()];
        let from_imports = |token: TokenKey| -> Option<Vec<ProviderId>> {
            m.imports.iter().find_map(|imp| {
                self.modules[imp.index()]
                    .exported
                    .iter()
                    .find(|(t, _)| *t == token)
                    .map(|(_, ids)| ids.clone())
            })
        };
        let mut out: Vec<(TokenKey, Vec<ProviderId>)> = Vec::new();
        let mut push = |t: TokenKey, ids: Vec<ProviderId>| {
            if !out.iter().any(|(k, _)| *k == t) {
                out.push((t, ids));
            }
        };
        match exports {
            Exports::All => {
                for (t, ids) in &m.own {
                    push(*t, ids.clone());
                }
            }
            Exports::Only(items) => {
                for item in items {
                    match item {
                        ExportItem::Token(t) => {
                            if let Some(ids) = m.own_get(t.key).cloned().or_else(|| from_imports(t.key)) {
                                push(t.key, ids);
                            }
                        }
                        ExportItem::Module(k) => {
                            let id = self.module_index[k];
                            for (t, ids) in &self.modules[id.index()].exported {
                                push(*t, ids.clone());
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

fn in_module(e: Error, module: &str) -> Error {
    let code = e.code();
    Error::new(code, format!("in module '{module}': {}", e.message()))
}

fn validate_spec(spec: &ProviderSpec) -> Result<()> {
    let invalid = |why: String| Err(Error::new(ErrorCode::InvalidProvider, why));
    if spec.token.name.trim().is_empty() {
        return invalid("a token needs a non-empty name".into());
    }
    if spec.token.key.is_builtin() {
        return invalid(format!("'{}' is a built-in token and cannot be registered", spec.token.name));
    }
    for d in &spec.deps {
        if d.token.name.trim().is_empty() {
            return invalid(format!("a dependency of '{}' has an empty token name", spec.token.name));
        }
    }
    match &spec.kind {
        ProviderKind::Context => invalid("the CONTEXT provider is built in".into()),
        ProviderKind::Value if !spec.deps.is_empty() => {
            invalid(format!("value provider '{}' cannot have dependencies", spec.token.name))
        }
        ProviderKind::Value if spec.scope != super::Scope::Singleton => invalid(format!(
            "value provider '{}' cannot be {}: a value is one object, shared by everyone",
            spec.token.name, spec.scope
        )),
        ProviderKind::Value if spec.init != super::InitHook::None => invalid(format!(
            "value provider '{}' cannot have an init hook: a value is already built; use a factory",
            spec.token.name
        )),
        ProviderKind::Alias(target) if target.key == spec.token.key => {
            invalid(format!("'{}' is an alias of itself", spec.token.name))
        }
        _ => Ok(()),
    }
}

fn check_duplicate(
    module: &ModuleNode,
    spec: &ProviderSpec,
    place: &str,
    dialect: super::Dialect,
) -> Result<()> {
    if spec.replace || spec.multi || module.own_get(spec.token.key).is_none() {
        return Ok(());
    }
    Err(duplicate(&spec.token.name, place, dialect))
}

fn duplicate(token: &str, place: &str, dialect: super::Dialect) -> Error {
    Error::new(
        ErrorCode::DuplicateProvider,
        format!("'{token}' is already registered in {place}. {}", dialect.replace_hint()),
    )
}
