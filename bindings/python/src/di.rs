//! The DI graph for Python. Python keeps classes, factories and instances; the engine keeps the
//! graph, checks it, compiles it into a plan (which the Python layer turns into resolver closures)
//! and writes every error message.

use omnitron::Error;
use omnitron::di::{
    Dialect, Failed, Graph, ModuleKey, ProviderId, Scope, TokenKey, WireDependency, WireExport, WireModule,
    WireProcess, WireProvider,
};
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
    m.add_function(wrap_pyfunction!(initialize_reentered_error, m)?)?;
    m.add_function(wrap_pyfunction!(check_module_process, m)?)?;
    m.add_function(wrap_pyfunction!(plan_codes, m)?)?;
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

/// The numbers a plan uses, named by the engine.
#[pyfunction]
fn plan_codes(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    use omnitron::di::plan_codes as c;
    let d = PyDict::new(py);
    d.set_item("dep_absent", c::DEP_ABSENT)?;
    d.set_item("dep_missing", c::DEP_MISSING)?;
    d.set_item("dep_many_base", c::DEP_MANY_BASE)?;
    d.set_item("kind_class", c::KIND_CLASS)?;
    d.set_item("kind_value", c::KIND_VALUE)?;
    d.set_item("kind_factory", c::KIND_FACTORY)?;
    d.set_item("kind_alias", c::KIND_ALIAS)?;
    d.set_item("kind_context", c::KIND_CONTEXT)?;
    d.set_item("scope_singleton", c::SCOPE_SINGLETON)?;
    d.set_item("scope_transient", c::SCOPE_TRANSIENT)?;
    d.set_item("scope_scoped", c::SCOPE_SCOPED)?;
    Ok(d)
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
    #[pyo3(default)]
    process: Option<PyModuleProcess>,
}

/// The spec's `process` (types checked by the Python layer, values by the engine).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct PyModuleProcess {
    kind: Option<String>,
    instances: Option<String>,
    isolation: Option<String>,
}

impl From<PyProviderSpec> for WireProvider {
    fn from(p: PyProviderSpec) -> Self {
        WireProvider {
            token: p.token,
            name: p.name,
            kind: p.kind,
            target: p.target.map(|t| (t, p.target_name.unwrap_or_else(|| "?".into()))),
            scope: p.scope,
            deps: p
                .deps
                .into_iter()
                .map(|d| WireDependency { token: d.token, name: d.name, optional: d.optional, all: d.all })
                .collect(),
            is_async: p.is_async,
            init: p.init,
            multi: p.multi,
            replace: p.replace,
            label: p.label,
        }
    }
}

fn wire_module(m: PyModuleSpec) -> Result<WireModule, Error> {
    let exports = match m.exports {
        None => None,
        Some(items) => Some(
            items
                .into_iter()
                .map(|e| match (e.module, e.token) {
                    (Some(k), _) => Ok(WireExport::Module(k)),
                    (None, Some(t)) => Ok(WireExport::Token(t, e.name.unwrap_or_else(|| "?".into()))),
                    (None, None) => {
                        Err(Error::invalid_argument("an export names neither a token nor a module"))
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(WireModule {
        key: m.key,
        name: m.name,
        imports: m.imports,
        providers: m.providers.into_iter().map(Into::into).collect(),
        exports,
        global: m.global_,
        process: m.process.map(|p| WireProcess {
            kind: p.kind,
            instances: p.instances,
            isolation: p.isolation,
        }),
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
        let mut graph = Graph::new();
        graph.set_dialect(Dialect::Python);
        NativeGraph { graph: Mutex::new(graph) }
    }

    /// Registers a provider in the container's own module; returns its id.
    fn register(&self, py: Python<'_>, provider: PyProviderSpec) -> PyResult<usize> {
        let s = WireProvider::from(provider).into_spec().py(py)?;
        self.graph.lock().register(s).map(|id| id.index()).py(py)
    }

    /// Puts `provider` in the place of every provider of its token (a testing module's
    /// `override_provider`); returns the ids replaced (empty: nothing provides it).
    fn override_provider(&self, py: Python<'_>, provider: PyProviderSpec) -> PyResult<Vec<usize>> {
        let s = WireProvider::from(provider).into_spec().py(py)?;
        let ids = self.graph.lock().override_provider(s).py(py)?;
        Ok(ids.into_iter().map(|id| id.index()).collect())
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
        let specs = modules
            .into_iter()
            .map(|m| wire_module(m).and_then(WireModule::into_spec))
            .collect::<Result<Vec<_>, _>>()
            .py(py)?;
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
        let f = py.detach(|| self.graph.lock().plan().flatten());
        let d = PyDict::new(py);
        d.set_item("kinds", f.kinds)?;
        d.set_item("scopes", f.scopes)?;
        d.set_item("is_async", f.is_async)?;
        d.set_item("needs_scope", f.needs_scope)?;
        d.set_item("failed", f.failed)?;
        d.set_item("ranks", f.ranks)?;
        d.set_item("deps", f.deps)?;
        d.set_item("many", f.many)?;
        d.set_item("root", f.root)?;
        d.set_item("init_order", f.init_order)?;
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

    /// The exception for a provider asked for while it was being built; `ids` is the path being
    /// built, ending with the one asked for again.
    fn explain_loop(&self, py: Python<'_>, ids: Vec<usize>) -> Py<PyBaseException> {
        let plan = self.graph.lock().plan();
        let path: Vec<ProviderId> = ids.into_iter().map(ProviderId::from_index).collect();
        exc(py, plan.explain_runtime_loop(&path))
    }

    /// The exception for a user callback of provider `id` that failed: `what` is `factory`,
    /// `constructor` or `on_init`; `ids` the providers being built (outermost first); `cause` what
    /// the callback raised. Names the token, the resolution path and the module path.
    fn explain_failure(
        &self,
        py: Python<'_>,
        id: usize,
        what: &str,
        ids: Vec<usize>,
        cause: &str,
    ) -> PyResult<Py<PyBaseException>> {
        let what = Failed::from_name(what)
            .ok_or_else(|| to_py(py, &Error::invalid_argument(format!("unknown callback kind '{what}'"))))?;
        let plan = self.graph.lock().plan();
        let path: Vec<ProviderId> = ids.into_iter().map(ProviderId::from_index).collect();
        Ok(exc(py, plan.explain_failure(ProviderId::from_index(id), what, &path, cause)))
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

/// The exception for `initialize()` called from inside `initialize()` of the same container.
#[pyfunction]
fn initialize_reentered_error(py: Python<'_>) -> Py<PyBaseException> {
    exc(py, omnitron::di::initialize_reentered())
}

/// Checks a module's `process` values (`module` names it in the message).
#[pyfunction]
#[pyo3(signature = (module, kind, instances, isolation))]
fn check_module_process(
    py: Python<'_>,
    module: &str,
    kind: Option<String>,
    instances: Option<String>,
    isolation: Option<String>,
) -> PyResult<()> {
    WireProcess { kind, instances, isolation }.into_spec(module).map(|_| ()).py(py)
}

/// Checks a scope name; returns the canonical one.
#[pyfunction]
fn check_scope(py: Python<'_>, name: &str) -> PyResult<&'static str> {
    name.parse::<Scope>().map(|s| s.as_str()).py(py)
}
