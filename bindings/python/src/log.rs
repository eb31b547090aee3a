//! The structured logger for Python (`python/omnitron/log.py`, a `logging` handler): records go
//! through the engine's, so a Python process writes the same JSON lines as every other process of
//! the application, and the same filter decides what is written.

use omnitron::log::{self, Level, Record};
use omnitron::telemetry::TraceContext;
use pyo3::prelude::*;

use crate::error::ToPy;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(log_init, m)?)?;
    m.add_function(wrap_pyfunction!(log_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(log_threshold, m)?)?;
    m.add_function(wrap_pyfunction!(log_generation, m)?)?;
    m.add_function(wrap_pyfunction!(log_most_verbose, m)?)?;
    m.add_function(wrap_pyfunction!(log_write, m)?)?;
    m.add_function(wrap_pyfunction!(log_set_filter, m)?)?;
    m.add_function(wrap_pyfunction!(log_set_level, m)?)?;
    m.add_function(wrap_pyfunction!(log_filter, m)?)?;
    Ok(())
}

fn level_of(py: Python<'_>, n: u32) -> PyResult<Level> {
    Level::from_number(n).py(py)
}

/// Sends the engine's own diagnostics to the logger and reads `OMNITRON_LOG*` (once); what it
/// cannot use is returned as a message (the logger keeps its defaults for it).
#[pyfunction]
#[pyo3(signature = (name=""))]
fn log_init(name: &str) -> Option<String> {
    log::install_bridge();
    log::init_from_env(name).err().map(|e| e.to_string())
}

/// Whether a record of `level` (10 trace to 60 fatal) from `module` would be written.
#[pyfunction]
fn log_enabled(level: u32, module: &str) -> bool {
    Level::from_number(level).is_ok_and(|l| log::enabled(l, module))
}

/// The threshold that applies to `module` (10 to 60), None when it is off.
#[pyfunction]
fn log_threshold(module: &str) -> Option<u8> {
    log::threshold(module).map(Level::number)
}

/// The least severe level any module writes (10 to 60), None when nothing is written.
#[pyfunction]
fn log_most_verbose() -> Option<u8> {
    log::most_verbose().map(Level::number)
}

/// A number that changes whenever the filter does.
#[pyfunction]
fn log_generation() -> u64 {
    log::generation()
}

/// Writes one record; `fields` is the text of a JSON object.
#[pyfunction]
#[pyo3(signature = (level, module, msg, fields=None, service=None, method=None, traceparent=None))]
#[allow(clippy::too_many_arguments)]
fn log_write(
    py: Python<'_>,
    level: u32,
    module: &str,
    msg: &str,
    fields: Option<&str>,
    service: Option<&str>,
    method: Option<&str>,
    traceparent: Option<&str>,
) -> PyResult<()> {
    let level = level_of(py, level)?;
    let trace = traceparent.and_then(TraceContext::from_traceparent);
    let mut r = Record::new(level, module, msg);
    r.fields = fields;
    r.service = service;
    r.method = method;
    r.trace = trace.as_ref();
    log::write_checked(&r).py(py)
}

/// Replaces the filter (`info,orders=debug`).
#[pyfunction]
fn log_set_filter(py: Python<'_>, spec: &str) -> PyResult<()> {
    log::set_filter(spec).py(py)
}

/// Sets one module's level (the default's for `""`).
#[pyfunction]
fn log_set_level(py: Python<'_>, module: &str, level: &str) -> PyResult<()> {
    log::set_level(module, level).py(py)
}

/// The filter in force.
#[pyfunction]
fn log_filter() -> String {
    log::filter()
}
