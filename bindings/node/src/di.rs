//! The DI graph for JavaScript. JS keeps classes, factories and instances; the engine keeps the graph,
//! checks it, compiles it into a plan (which the TS layer turns into resolver closures) and writes
//! every error message.

use napi_derive::napi;
use omnitron::Error;
use omnitron::di::{
    Dialect, Failed, Graph, ModuleKey, ProviderId, Scope, TokenKey, WireDependency, WireExport, WireModule,
    WireProcess, WireProvider,
};
use parking_lot::Mutex;

use crate::error::{ToJs, to_js};

/// A fresh token key, unique in the process.
#[napi]
pub fn fresh_token_key() -> i64 {
    TokenKey::fresh().as_u64() as i64
}

/// A fresh module key, unique in the process.
#[napi]
pub fn fresh_module_key() -> i64 {
    ModuleKey::fresh().as_u64() as i64
}

#[napi(object)]
pub struct JsPlanCodes {
    pub dep_absent: i32,
    pub dep_missing: i32,
    pub dep_many_base: i32,
    pub kind_class: u8,
    pub kind_value: u8,
    pub kind_factory: u8,
    pub kind_alias: u8,
    pub kind_context: u8,
    pub scope_singleton: u8,
    pub scope_transient: u8,
    pub scope_scoped: u8,
}

/// The numbers a plan uses, named by the engine.
#[napi]
pub fn plan_codes() -> JsPlanCodes {
    use omnitron::di::plan_codes as c;
    JsPlanCodes {
        dep_absent: c::DEP_ABSENT,
        dep_missing: c::DEP_MISSING,
        dep_many_base: c::DEP_MANY_BASE,
        kind_class: c::KIND_CLASS,
        kind_value: c::KIND_VALUE,
        kind_factory: c::KIND_FACTORY,
        kind_alias: c::KIND_ALIAS,
        kind_context: c::KIND_CONTEXT,
        scope_singleton: c::SCOPE_SINGLETON,
        scope_transient: c::SCOPE_TRANSIENT,
        scope_scoped: c::SCOPE_SCOPED,
    }
}

/// The key of the built-in `CONTEXT` token.
#[napi]
pub fn context_token_key() -> i64 {
    TokenKey::CONTEXT.as_u64() as i64
}

#[napi(object)]
pub struct JsDependency {
    pub token: i64,
    pub name: String,
    pub optional: bool,
    pub all: bool,
}

#[napi(object)]
pub struct JsProviderSpec {
    pub token: i64,
    pub name: String,
    /// `class`, `value`, `factory` or `alias`.
    pub kind: String,
    /// For aliases: the target token.
    pub target: Option<i64>,
    pub target_name: Option<String>,
    /// `singleton`, `transient`, `scoped` or `request`; absent means singleton.
    pub scope: Option<String>,
    pub deps: Vec<JsDependency>,
    pub is_async: bool,
    /// `none`, `sync` or `async`.
    pub init: String,
    pub multi: bool,
    pub replace: bool,
    pub label: Option<String>,
}

#[napi(object)]
pub struct JsExport {
    /// A token key, or absent when `module` is set.
    pub token: Option<i64>,
    pub name: Option<String>,
    /// A re-exported module's key.
    pub module: Option<i64>,
}

#[napi(object)]
pub struct JsModuleSpec {
    pub key: i64,
    pub name: String,
    pub imports: Vec<i64>,
    pub providers: Vec<JsProviderSpec>,
    /// Absent: export every provider; present: exactly these.
    pub exports: Option<Vec<JsExport>>,
    pub global: bool,
    /// The spec's `process` (types checked by the TS layer, values here); recorded, not acted upon.
    pub process: Option<JsModuleProcess>,
}

#[napi(object)]
pub struct JsModuleProcess {
    /// `type`.
    pub kind: Option<String>,
    /// `instances`: `auto` or a whole number, as text.
    pub instances: Option<String>,
    pub isolation: Option<String>,
}

/// A compiled plan in flat arrays. Binding codes in `deps`: `>= 0` a provider id, `-1` absent
/// (optional), `-2` missing, `-3 - k` the list `many[k]`.
#[napi(object)]
pub struct JsPlan {
    /// 0 class, 1 value, 2 factory, 3 alias, 4 context.
    pub kinds: Vec<u8>,
    /// 0 singleton, 1 transient, 2 scoped.
    pub scopes: Vec<u8>,
    pub is_async: Vec<bool>,
    pub needs_scope: Vec<bool>,
    pub failed: Vec<bool>,
    /// Position in a dependencies-first order of all providers.
    pub ranks: Vec<u32>,
    pub deps: Vec<Vec<i32>>,
    pub many: Vec<Vec<u32>>,
    pub root_keys: Vec<i64>,
    pub root_ids: Vec<Vec<u32>>,
    pub init_order: Vec<u32>,
}

#[napi(object)]
pub struct JsErrorInfo {
    pub code: String,
    pub message: String,
}

impl From<JsDependency> for WireDependency {
    fn from(d: JsDependency) -> Self {
        WireDependency { token: d.token.max(0) as u64, name: d.name, optional: d.optional, all: d.all }
    }
}

impl From<JsProviderSpec> for WireProvider {
    fn from(p: JsProviderSpec) -> Self {
        WireProvider {
            token: p.token.max(0) as u64,
            name: p.name,
            kind: p.kind,
            target: p.target.map(|t| (t.max(0) as u64, p.target_name.unwrap_or_else(|| "?".into()))),
            scope: p.scope,
            deps: p.deps.into_iter().map(Into::into).collect(),
            is_async: p.is_async,
            init: p.init,
            multi: p.multi,
            replace: p.replace,
            label: p.label,
        }
    }
}

fn wire_module(m: JsModuleSpec) -> Result<WireModule, Error> {
    let exports = match m.exports {
        None => None,
        Some(items) => Some(
            items
                .into_iter()
                .map(|e| match (e.module, e.token) {
                    (Some(k), _) => Ok(WireExport::Module(k.max(0) as u64)),
                    (None, Some(t)) => {
                        Ok(WireExport::Token(t.max(0) as u64, e.name.unwrap_or_else(|| "?".into())))
                    }
                    (None, None) => {
                        Err(Error::invalid_argument("an export names neither a token nor a module"))
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(WireModule {
        key: m.key.max(0) as u64,
        name: m.name,
        imports: m.imports.into_iter().map(|k| k.max(0) as u64).collect(),
        providers: m.providers.into_iter().map(Into::into).collect(),
        exports,
        global: m.global,
        process: m.process.map(|p| WireProcess {
            kind: p.kind,
            instances: p.instances,
            isolation: p.isolation,
        }),
    })
}

/// The engine's graph for one JS container.
#[napi]
pub struct NativeGraph {
    graph: Mutex<Graph>,
}

impl Default for NativeGraph {
    fn default() -> Self {
        Self::new()
    }
}

#[napi]
impl NativeGraph {
    #[napi(constructor)]
    pub fn new() -> Self {
        let mut graph = Graph::new();
        graph.set_dialect(Dialect::TypeScript);
        NativeGraph { graph: Mutex::new(graph) }
    }

    /// Registers a provider in the container's own module; returns its id.
    #[napi]
    pub fn register(&self, provider: JsProviderSpec) -> napi::Result<u32, String> {
        let s = WireProvider::from(provider).into_spec().js()?;
        self.graph.lock().register(s).map(|id| id.index() as u32).js()
    }

    /// Puts `provider` in the place of every provider of its token (a testing module's
    /// `overrideProvider`); returns the ids replaced (empty: nothing provides it).
    #[napi]
    pub fn override_provider(&self, provider: JsProviderSpec) -> napi::Result<Vec<u32>, String> {
        let s = WireProvider::from(provider).into_spec().js()?;
        let ids = self.graph.lock().override_provider(s).js()?;
        Ok(ids.into_iter().map(|id| id.index() as u32).collect())
    }

    /// Loads modules (every module reachable from `entry` that is not loaded yet). Returns each
    /// module's provider ids.
    #[napi]
    pub fn load_modules(
        &self,
        entry: i64,
        modules: Vec<JsModuleSpec>,
        as_entry: bool,
    ) -> napi::Result<Vec<Vec<u32>>, String> {
        let specs = modules
            .into_iter()
            .map(|m| wire_module(m).and_then(WireModule::into_spec))
            .collect::<Result<Vec<_>, _>>()
            .js()?;
        let ids = self.graph.lock().load_modules(ModuleKey::from_u64(entry as u64), &specs, as_entry).js()?;
        Ok(ids.into_iter().map(|v| v.into_iter().map(|id| id.index() as u32).collect()).collect())
    }

    /// Whether a module with this key is loaded.
    #[napi]
    pub fn has_module(&self, key: i64) -> bool {
        self.graph.lock().has_module(ModuleKey::from_u64(key as u64))
    }

    /// The current plan.
    #[napi]
    pub fn compile(&self) -> JsPlan {
        let f = self.graph.lock().plan().flatten();
        JsPlan {
            kinds: f.kinds,
            scopes: f.scopes,
            is_async: f.is_async,
            needs_scope: f.needs_scope,
            failed: f.failed,
            ranks: f.ranks,
            deps: f.deps,
            many: f.many,
            root_keys: f.root.iter().map(|(k, _)| *k as i64).collect(),
            root_ids: f.root.into_iter().map(|(_, ids)| ids).collect(),
            init_order: f.init_order,
        }
    }

    /// Why provider `id` cannot be built.
    #[napi]
    pub fn explain(&self, id: u32) -> JsErrorInfo {
        let plan = self.graph.lock().plan();
        info(plan.explain(ProviderId::from_index(id as usize)))
    }

    /// The error for a token nothing visible provides.
    #[napi]
    pub fn explain_missing(&self, token: i64, name: String) -> JsErrorInfo {
        let plan = self.graph.lock().plan();
        info(plan.explain_missing(TokenKey::from_u64(token.max(0) as u64), &name))
    }

    /// The error for resolving async provider `id` synchronously.
    #[napi]
    pub fn explain_async(&self, id: u32) -> JsErrorInfo {
        let plan = self.graph.lock().plan();
        info(plan.explain_async(ProviderId::from_index(id as usize)))
    }

    /// The error for resolving provider `id` outside a scope.
    #[napi]
    pub fn explain_needs_scope(&self, id: u32) -> JsErrorInfo {
        let plan = self.graph.lock().plan();
        info(plan.explain_needs_scope(ProviderId::from_index(id as usize)))
    }

    /// The error for a provider asked for while it was being built; `ids` is the path being built,
    /// ending with the one asked for again.
    #[napi]
    pub fn explain_loop(&self, ids: Vec<u32>) -> JsErrorInfo {
        let plan = self.graph.lock().plan();
        let path: Vec<ProviderId> = ids.iter().map(|i| ProviderId::from_index(*i as usize)).collect();
        info(plan.explain_runtime_loop(&path))
    }

    /// The error for a user callback of provider `id` that failed: `what` is `factory`,
    /// `constructor` or `onInit`; `ids` the providers being built (outermost first); `cause` what the
    /// callback threw. Names the token, the resolution path and the module path.
    #[napi]
    pub fn explain_failure(
        &self,
        id: u32,
        what: String,
        ids: Vec<u32>,
        cause: String,
    ) -> napi::Result<JsErrorInfo, String> {
        let what = Failed::from_name(&what)
            .ok_or_else(|| to_js(Error::invalid_argument(format!("unknown callback kind '{what}'"))))?;
        let plan = self.graph.lock().plan();
        let path: Vec<ProviderId> = ids.iter().map(|i| ProviderId::from_index(*i as usize)).collect();
        Ok(info(plan.explain_failure(ProviderId::from_index(id as usize), what, &path, &cause)))
    }

    /// Indices into `ids` (provider ids of created instances, in creation order) in the order to
    /// dispose them: dependents first.
    #[napi]
    pub fn dispose_order(&self, ids: Vec<u32>) -> Vec<u32> {
        let plan = self.graph.lock().plan();
        let mut items: Vec<(ProviderId, u32)> =
            ids.iter().enumerate().map(|(i, id)| (ProviderId::from_index(*id as usize), i as u32)).collect();
        plan.sort_for_dispose(&mut items);
        items.into_iter().map(|(_, i)| i).collect()
    }

    /// From now on registration fails with `DI008`.
    #[napi]
    pub fn mark_disposed(&self) {
        self.graph.lock().mark_disposed();
    }

    /// The dependency graph, `json` or `mermaid`.
    #[napi]
    pub fn export_graph(&self, format: String) -> napi::Result<String, String> {
        let plan = self.graph.lock().plan();
        match format.as_str() {
            "json" => Ok(plan.graph_json()),
            "mermaid" => Ok(plan.graph_mermaid()),
            other => Err(to_js(Error::invalid_argument(format!(
                "unknown graph format '{other}': expected 'json' or 'mermaid'"
            )))),
        }
    }
}

fn info(e: Error) -> JsErrorInfo {
    JsErrorInfo { code: e.code().as_str().to_string(), message: e.message().to_string() }
}

/// The error every operation on a disposed container gives.
#[napi]
pub fn disposed_error() -> JsErrorInfo {
    info(Graph::disposed_error())
}

#[napi(object)]
pub struct JsHookFailure {
    /// The token whose hook failed.
    pub token: String,
    /// What the hook threw.
    pub message: String,
}

/// The one error reporting every failed `onDestroy` hook of a dispose of `what` (`container`,
/// `scope`) that ran `total` hooks.
#[napi]
pub fn lifecycle_error(what: String, total: u32, failures: Vec<JsHookFailure>) -> JsErrorInfo {
    let related = failures.iter().map(|f| omnitron::di::destroy_failed(&f.token, &f.message)).collect();
    info(omnitron::di::lifecycle_aggregate(&what, total as usize, related))
}

/// The error for `initialize()` called from inside `initialize()` of the same container.
#[napi]
pub fn initialize_reentered_error() -> JsErrorInfo {
    info(omnitron::di::initialize_reentered())
}

/// Checks a module's `process` values (`module` names it in the message).
#[napi]
pub fn check_module_process(module: String, process: JsModuleProcess) -> napi::Result<(), String> {
    WireProcess { kind: process.kind, instances: process.instances, isolation: process.isolation }
        .into_spec(&module)
        .map(|_| ())
        .js()
}

/// Checks a scope name (`singleton`, `transient`, `scoped`, `request`).
#[napi]
pub fn check_scope(name: String) -> napi::Result<String, String> {
    name.parse::<Scope>().map(|s| s.as_str().to_string()).js()
}
