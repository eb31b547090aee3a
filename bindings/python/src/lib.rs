//! The native half of the `omnitron` Python package (`omnitron._native`): a thin pyo3 layer over the
//! engine. Python code never imports it directly; the package in `python/omnitron/` wraps it.

// pyo3 exports must be `pub`, and its generated types carry no Debug.
#![allow(unreachable_pub, missing_debug_implementations)]

mod di;
mod error;
mod http;
mod log;
mod metrics;
mod options;
mod pack;
mod polling;
mod process;
mod queue;
mod resilience;
mod rpc;
mod status;
mod telemetry;
mod workflow;

use pyo3::prelude::*;

/// The engine version.
#[pyfunction]
fn version() -> &'static str {
    omnitron::VERSION
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(version, m)?)?;
    di::register(m)?;
    http::register(m)?;
    metrics::register(m)?;
    options::register(m)?;
    polling::register(m)?;
    process::register(m)?;
    queue::register(m)?;
    resilience::register(m)?;
    rpc::register(m)?;
    status::register(m)?;
    telemetry::register(m)?;
    log::register(m)?;
    workflow::register(m)?;
    Ok(())
}
