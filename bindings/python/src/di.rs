//! The DI graph for Python. Python keeps classes, factories and instances; the engine keeps the
//! graph, checks it, compiles it into a plan (which the Python layer turns into resolver closures)
//! and writes every error message.

use omnitron::di::{
    Binding, Dependency, ExportItem, Exports, Graph, InitHook, ModuleKey, ModuleSpec, PlanKind, ProviderId,
    ProviderKind, ProviderSpec, Scope, TokenKey, TokenRef,
};
use omnitron::{Error, ErrorCode};
use parking_lot::Mutex;
use pyo3::exceptions::PyBaseException;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::{ToPy, to_py};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeGraph>()?;
    m.add_function(wrap_pyfunction!(fresh_token_key, m)?)?;
    m.add_function(wrap_pyfunction!(fresh_module_key, m)?)?;
    m.add_function(wrap_pyfunction!(context_token_key, m)?)?;
    m.add_function(wrap_pyfunction!(disposed_error, m)?)?;
    m.add_function(wrap_pyfunction!(lifecycle_error, m)?)?;
    m.add_function(wrap_pyfunction!(check_scope, m)?)?;
    Ok(())
}

/// A fresh token key, unique in the process.
#[pyfunction]
fn fresh_token_key() -> u64 {
    TokenKey::fresh().as_u64()
}

/// A fresh module key, unique in the process.
#[pyfunction]
fn fresh_module_key() -> u64 {
    ModuleKey::fresh().as_u64()
}

/// The key of the built-in CONTEXT token.
#[pyfunction]
fn context_token_key() -> u64 {
    TokenKey::CONTEXT.as_u64()
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct PyDependency {
    token: u64,
    name: String,
    optional: bool,
    all: bool,
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct PyProviderSpec {
    token: u64,
    name: String,
    kind: String,
    target: Option<u64>,
    target_name: Option<String>,
    scope: Option<String>,
    deps: Vec<PyDependency>,
    is_async: bool,
    init: String,
    multi: bool,
    replace: bool,
    label: Option<String>,
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct PyExport {
    token: Option<u64>,
    name: Option<String>,
    module: Option<u64>,
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct PyModuleSpec {
    key: u64,
    name: String,
    imports: Vec<u64>,
    providers: Vec<PyProviderSpec>,
    exports: Option<Vec<PyExport>>,
    global_: bool,
}

fn token_ref(raw: u64, name: &str) -> Result<TokenRef, Error> {
    if raw == 0 {
        return Err(Error::invalid_argument(format!("{name}: invalid token key 0")));
    }
    Ok(TokenRef::new(TokenKey::from_u64(raw), name))
}

fn spec(p: PyProviderSpec) -> Result<ProviderSpec, Error> {
    let token = token_ref(p.token, &p.name)?;
    let kind = match p.kind.as_str() {
        "class" => ProviderKind::Class,
        "value" => ProviderKind::Value,
        "factory" => ProviderKind::Factory,
        "alias" => {
            let target = p.target.ok_or_else(|| {
                Error::new(ErrorCode::InvalidProvider, format!("alias '{}' has no target token", p.name))
            })?;
            ProviderKind::Alias(token_ref(target, p.target_name.as_deref().unwrap_or("?"))?)
        }
        other => {
            return Err(Error::new(ErrorCode::InvalidProvider, format!("unknown provider kind '{other}'")));
        }
    };
    let mut s = ProviderSpec::new(token, kind);
    s.scope = match p.scope.as_deref() {
        None => Scope::Singleton,
        Some(name) => name.parse()?,
    };
    s.deps = p
        .deps
        .into_iter()
        .map(|d| Ok(Dependency { token: token_ref(d.token, &d.name)?, optional: d.optional, all: d.all }))
        .collect::<Result<_, Error>>()?;
    s.is_async = p.is_async;
    s.init = match p.init.as_str() {
        "none" => InitHook::None,
        "sync" => InitHook::Sync,
        "async" => InitHook::Async,
        other => return Err(Error::invalid_argument(format!("unknown init hook kind '{other}'"))),
    };
    s.multi = p.multi;
    s.replace = p.replace;
    s.label = p.label.map(Into::into);
    Ok(s)
}

fn module(m: PyModuleSpec) -> Result<ModuleSpec, Error> {
    Ok(ModuleSpec {
        key: ModuleKey::from_u64(m.key),
        name: m.name.into(),
        imports: m.imports.into_iter().map(ModuleKey::from_u64).collect(),
        providers: m.providers.into_iter().map(spec).collect::<Result<_, _>>()?,
        exports: match m.exports {
            None => Exports::All,
            Some(items) => Exports::Only(
                items
                    .into_iter()
                    .map(|e| match (e.module, e.token) {
                        (Some(k), _) => Ok(ExportItem::Module(ModuleKey::from_u64(k))),
                        (None, Some(t)) => {
                            Ok(ExportItem::Token(token_ref(t, e.name.as_deref().unwrap_or("?"))?))
                        }
                        (None, None) => {
                            Err(Error::invalid_argument("an export names neither a token nor a module"))
                        }
                    })
                    .collect::<Result<_, _>>()?,
            ),
        },
        global: m.global_,
    })
}

fn exc(py: Python<'_>, e: Error) -> Py<PyBaseException> {
    to_py(py, &e).into_value(py)
}

/// The engine's graph for one Python container.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeGraph {
    graph: Mutex<Graph>,
}

#[pymethods]
impl NativeGraph {
    #[new]
    fn new() -> Self {
        NativeGraph { graph: Mutex::new(Graph::new()) }
    }

    /// Registers a provider in the container's own module; returns its id.
    fn register(&self, py: Python<'_>, provider: PyProviderSpec) -> PyResult<usize> {
        let s = spec(provider).py(py)?;
        self.graph.lock().register(s).map(|id| id.index()).py(py)
    }

    /// Loads modules (every module reachable from `entry` not loaded yet); returns each module's
    /// provider ids.
    fn load_modules(
        &self,
        py: Python<'_>,
        entry: u64,
        modules: Vec<PyModuleSpec>,
        as_entry: bool,
    ) -> PyResult<Vec<Vec<usize>>> {
        let specs = modules.into_iter().map(module).collect::<Result<Vec<_>, _>>().py(py)?;
        let ids = py
            .detach(|| self.graph.lock().load_modules(ModuleKey::from_u64(entry), &specs, as_entry))
            .py(py)?;
        Ok(ids.into_iter().map(|v| v.into_iter().map(|i| i.index()).collect()).collect())
    }

    /// Whether a module with this key is loaded.
    fn has_module(&self, key: u64) -> bool {
        self.graph.lock().has_module(ModuleKey::from_u64(key))
    }

    /// The current plan as a dict of lists (see `omnitron/di/container.py`); `ranks` orders providers
    /// dependencies first. Binding codes in
    /// `deps`: `>= 0` a provider id, `-1` absent (optional), `-2` missing, `-3 - k` the list
    /// `many[k]`.
    fn compile<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let plan = py.detach(|| self.graph.lock().plan());
        let d = PyDict::new(py);
        let n = plan.providers().len();
        let mut kinds = Vec::with_capacity(n);
        let mut scopes = Vec::with_capacity(n);
        let mut is_async = Vec::with_capacity(n);
        let mut needs_scope = Vec::with_capacity(n);
        let mut failed = Vec::with_capacity(n);
        let mut ranks = Vec::with_capacity(n);
        let mut deps: Vec<Vec<i64>> = Vec::with_capacity(n);
        let mut many: Vec<Vec<usize>> = Vec::new();
        for p in plan.providers() {
            kinds.push(match p.kind {
                PlanKind::Class => 0u8,
                PlanKind::Value => 1,
                PlanKind::Factory => 2,
                PlanKind::Alias => 3,
                PlanKind::Context => 4,
            });
            scopes.push(match p.scope {
                Scope::Singleton => 0u8,
                Scope::Transient => 1,
                Scope::Scoped => 2,
            });
            is_async.push(p.is_async);
            needs_scope.push(p.needs_scope);
            failed.push(p.failed);
            ranks.push(p.rank);
            deps.push(
                p.deps
                    .iter()
                    .map(|b| match b {
                        Binding::One(id) => id.index() as i64,
                        Binding::Absent => -1,
                        Binding::Missing => -2,
                        Binding::Many(ids) => {
                            many.push(ids.iter().map(|i| i.index()).collect());
                            -3 - (many.len() as i64 - 1)
                        }
                    })
                    .collect(),
            );
        }
        let root: Vec<(u64, Vec<usize>)> = plan
            .root_entries()
            .map(|(k, ids)| (k.as_u64(), ids.iter().map(|i| i.index()).collect()))
            .collect();
        d.set_item("kinds", kinds)?;
        d.set_item("scopes", scopes)?;
        d.set_item("is_async", is_async)?;
        d.set_item("needs_scope", needs_scope)?;
        d.set_item("failed", failed)?;
        d.set_item("ranks", ranks)?;
        d.set_item("deps", deps)?;
        d.set_item("many", many)?;
        d.set_item("root", root)?;
        d.set_item("init_order", plan.init_order().iter().map(|i| i.index()).collect::<Vec<_>>())?;
        Ok(d)
    }

    /// The exception explaining why provider `id` cannot be built.
    fn explain(&self, py: Python<'_>, id: usize) -> Py<PyBaseException> {
        let plan = self.graph.lock().plan();
        exc(py, plan.explain(ProviderId::from_index(id)))
    }

    /// The exception for a token nothing visible provides.
    fn explain_missing(&self, py: Python<'_>, token: u64, name: &str) -> Py<PyBaseException> {
        let plan = self.graph.lock().plan();
        exc(py, plan.explain_missing(TokenKey::from_u64(token), name))
    }

    /// The exception for resolving async provider `id` synchronously.
    fn explain_async(&self, py: Python<'_>, id: usize) -> Py<PyBaseException> {
        let plan = self.graph.lock().plan();
        exc(py, plan.explain_async(ProviderId::from_index(id)))
    }

    /// The exception for resolving provider `id` outside a scope.
    fn explain_needs_scope(&self, py: Python<'_>, id: usize) -> Py<PyBaseException> {
        let plan = self.graph.lock().plan();
        exc(py, plan.explain_needs_scope(ProviderId::from_index(id)))
    }

    /// Indices into `ids` (provider ids of created instances, in creation order) in dispose order.
    fn dispose_order(&self, ids: Vec<usize>) -> Vec<usize> {
        let plan = self.graph.lock().plan();
        let mut items: Vec<(ProviderId, usize)> =
            ids.iter().enumerate().map(|(i, id)| (ProviderId::from_index(*id), i)).collect();
        plan.sort_for_dispose(&mut items);
        items.into_iter().map(|(_, i)| i).collect()
    }

    /// From now on registration fails with DI008.
    fn mark_disposed(&self) {
        self.graph.lock().mark_disposed();
    }

    /// The dependency graph, `json` or `mermaid`.
    fn export_graph(&self, py: Python<'_>, format: &str) -> PyResult<String> {
        let plan = self.graph.lock().plan();
        match format {
            "json" => Ok(plan.graph_json()),
            "mermaid" => Ok(plan.graph_mermaid()),
            other => Err(to_py(
                py,
                &Error::invalid_argument(format!(
                    "unknown graph format '{other}': expected 'json' or 'mermaid'"
                )),
            )),
        }
    }
}

/// The exception every operation on a disposed container raises.
#[pyfunction]
fn disposed_error(py: Python<'_>) -> Py<PyBaseException> {
    exc(py, Graph::disposed_error())
}

/// The one exception reporting every failed `on_destroy` hook of a dispose of `what` that ran
/// `total` hooks; `failures` holds (token name, message) pairs.
#[pyfunction]
fn lifecycle_error(
    py: Python<'_>,
    what: &str,
    total: usize,
    failures: Vec<(String, String)>,
) -> Py<PyBaseException> {
    let related = failures.iter().map(|(t, m)| omnitron::di::destroy_failed(t, m)).collect();
    exc(py, omnitron::di::lifecycle_aggregate(what, total, related))
}

/// Checks a scope name; returns the canonical one.
#[pyfunction]
fn check_scope(py: Python<'_>, name: &str) -> PyResult<&'static str> {
    name.parse::<Scope>().map(|s| s.as_str()).py(py)
}
