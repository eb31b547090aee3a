//! Engine errors become the Python exception class for their code (`omnitron.errors`), keeping the
//! code on the exception.

use pyo3::prelude::*;

/// Builds the `OmnitronError` subclass for an engine error.
pub(crate) fn to_py(py: Python<'_>, e: &omnitron::Error) -> PyErr {
    match py
        .import("omnitron.errors")
        .and_then(|m| m.getattr("from_code"))
        .and_then(|f| f.call1((e.code().as_str(), e.message())))
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(import_failed) => import_failed,
    }
}

/// `InvalidArgumentError` (E001, a `TypeError` and `ValueError` too) with `message`: what a
/// value of the wrong type or an impossible option raises.
pub(crate) fn invalid_argument(message: impl Into<String>) -> PyErr {
    let e = omnitron::Error::invalid_argument(message.into());
    Python::attach(|py| to_py(py, &e))
}

/// `?`-friendly conversion of engine results.
pub(crate) trait ToPy<T> {
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> ToPy<T> for omnitron::Result<T> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, &e))
    }
}
