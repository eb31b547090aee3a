//! Options: the Python layer finds an unknown keyword itself and asks here for the error, and
//! hands a capability's keywords over as they are (`raw`), for core to check (`omnitron::options`).

use omnitron::ErrorCode;
use omnitron::dialect::Dialect;
use omnitron::options::{RawOptions, Value};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::error::to_py;

/// The `InvalidArgumentError` for an unknown option `key` of `context`, naming the nearest of
/// `allowed` (returned, for the caller to raise).
#[pyfunction]
fn unknown_option(py: Python<'_>, context: &str, key: &str, allowed: Vec<String>) -> Py<PyAny> {
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    to_py(py, &omnitron::options::unknown_option(context, key, &allowed)).into_value(py).into_any()
}

/// A Python value as an option's raw value: checking it is core's business.
pub(crate) fn value(v: &Bound<'_, PyAny>) -> Value {
    if v.is_none() {
        Value::Null
    } else if let Ok(b) = v.cast::<PyBool>() {
        Value::Bool(b.is_true())
    } else if v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() {
        v.extract::<f64>().map_or_else(|_| Value::Other(describe(v)), Value::Number)
    } else if let Ok(s) = v.cast::<PyString>() {
        Value::Text(s.to_string_lossy().into_owned())
    } else if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        v.try_iter().map_or_else(
            |_| Value::Other(describe(v)),
            |items| Value::List(items.map(|i| i.map_or(Value::Null, |i| value(&i))).collect()),
        )
    } else if let Ok(d) = v.cast::<PyDict>() {
        Value::Map(
            d.iter()
                .map(|(k, v)| (k.str().map_or_else(|_| String::new(), |k| k.to_string()), value(&v)))
                .collect(),
        )
    } else {
        Value::Other(describe(v))
    }
}

/// "a list", "a function": what a value is, for a message.
fn describe(v: &Bound<'_, PyAny>) -> String {
    let name = v.get_type().name().map_or_else(|_| "object".to_string(), |n| n.to_string());
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {name}")
}

/// Keyword options for `what` as core reads them; a wrong value is a `code` error.
pub(crate) fn raw(
    what: String,
    code: ErrorCode,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<RawOptions> {
    let mut raw = RawOptions::new(Dialect::Python, what, code);
    if let Some(options) = options {
        for (k, v) in options.iter() {
            raw.set(&k.extract::<String>()?, value(&v));
        }
    }
    Ok(raw)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(unknown_option, m)?)
}
