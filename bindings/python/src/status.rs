//! The status page of a supervisor's application, served from Python (core's `StatusServer`).

use omnitron::status::{StatusOptions, StatusServer};
use parking_lot::Mutex;
use pyo3::prelude::*;

use crate::error::ToPy;
use crate::process::NativeSupervisor;

/// A running status page.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeStatusPage {
    url: String,
    server: Mutex<Option<StatusServer>>,
}

#[pymethods]
impl NativeStatusPage {
    /// Serves the page of `sup`'s children on `listen` (`host:port`; port 0 picks a free one).
    #[staticmethod]
    fn serve(
        py: Python<'_>,
        sup: &NativeSupervisor,
        app: String,
        listen: String,
    ) -> PyResult<NativeStatusPage> {
        let server = StatusServer::start(sup.sup.clone(), StatusOptions::new(app).listen(listen)).py(py)?;
        Ok(NativeStatusPage { url: server.url(), server: Mutex::new(Some(server)) })
    }

    /// `http://host:port/`.
    #[getter]
    fn url(&self) -> String {
        self.url.clone()
    }

    /// Stops serving (again: nothing).
    fn close(&self) {
        drop(self.server.lock().take());
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeStatusPage>()
}
