//! Options checks: the Python layer finds an unknown keyword itself and asks here for the error,
//! written once in core (`omnitron::options`).

use pyo3::prelude::*;

use crate::error::to_py;

/// The `InvalidArgumentError` for an unknown option `key` of `context`, naming the nearest of
/// `allowed` (returned, for the caller to raise).
#[pyfunction]
fn unknown_option(py: Python<'_>, context: &str, key: &str, allowed: Vec<String>) -> Py<PyAny> {
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    to_py(py, &omnitron::options::unknown_option(context, key, &allowed)).into_value(py).into_any()
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(unknown_option, m)?)
}
