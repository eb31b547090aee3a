//! Metrics for Python: the engine's registry. Every record is one native call (about a tenth of
//! what prometheus_client spends in Python).

use omnitron::metrics::{Exporter, Metric, MetricKind, MetricOptions, Registry, SeriesRef};
use parking_lot::Mutex;
use pyo3::prelude::*;

use crate::error::ToPy;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeRegistry>()?;
    m.add_class::<NativeMetric>()?;
    m.add_class::<NativeSeries>()?;
    m.add_class::<NativeExporter>()?;
    Ok(())
}

/// A registry of metrics.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeRegistry {
    pub(crate) registry: Registry,
}

#[pymethods]
impl NativeRegistry {
    #[new]
    fn new() -> Self {
        NativeRegistry { registry: Registry::new() }
    }

    /// The process-wide registry the engine instruments itself into.
    #[staticmethod]
    fn global_registry() -> Self {
        NativeRegistry { registry: Registry::global().clone() }
    }

    /// Declares a metric (or returns the same declaration made before).
    // Mirrors the Python keyword signature one to one; a struct would only move the list.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (kind, name, help, label_names, buckets=None, cardinality_limit=None))]
    fn metric(
        &self,
        py: Python<'_>,
        kind: &str,
        name: String,
        help: String,
        label_names: Vec<String>,
        buckets: Option<Vec<f64>>,
        cardinality_limit: Option<usize>,
    ) -> PyResult<NativeMetric> {
        let kind: MetricKind = kind.parse().py(py)?;
        let opts = MetricOptions { name, help, label_names, buckets, cardinality_limit };
        Ok(NativeMetric { metric: self.registry.metric(kind, opts).py(py)? })
    }

    fn unregister(&self, name: &str) -> bool {
        self.registry.unregister(name)
    }

    fn clear(&self) {
        self.registry.clear();
    }

    /// The Prometheus text format.
    fn text(&self, py: Python<'_>) -> String {
        py.detach(|| self.registry.gather_text())
    }

    /// The OpenMetrics text format.
    fn openmetrics(&self, py: Python<'_>) -> String {
        py.detach(|| self.registry.gather_openmetrics())
    }

    /// A snapshot as JSON.
    fn snapshot_json(&self, py: Python<'_>) -> String {
        py.detach(|| self.registry.snapshot_json())
    }

    /// Serves `/metrics` on `addr` (`host:port`, port 0 for any).
    fn serve(&self, py: Python<'_>, addr: &str) -> PyResult<NativeExporter> {
        let exporter = py.detach(|| Exporter::start(self.registry.clone(), addr)).py(py)?;
        Ok(NativeExporter { port: exporter.local_addr().port(), exporter: Mutex::new(Some(exporter)) })
    }

    fn same(&self, other: &NativeRegistry) -> bool {
        self.registry.same(&other.registry)
    }
}

/// A metric family.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeMetric {
    metric: Metric,
}

#[pymethods]
impl NativeMetric {
    /// The series for these label values.
    fn series(&self, py: Python<'_>, labels: Vec<String>) -> PyResult<NativeSeries> {
        Ok(NativeSeries { series: self.metric.series(&labels).py(py)? })
    }

    #[getter]
    fn buckets(&self) -> Vec<f64> {
        self.metric.buckets().to_vec()
    }

    #[getter]
    fn name(&self) -> String {
        self.metric.name().to_string()
    }

    #[getter]
    fn label_names(&self) -> Vec<String> {
        self.metric.label_names().to_vec()
    }
}

/// One series.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeSeries {
    series: SeriesRef,
}

#[pymethods]
impl NativeSeries {
    /// Adds `amount` (counters refuse negative amounts).
    #[pyo3(signature = (amount=1.0))]
    fn inc(&self, py: Python<'_>, amount: f64) -> PyResult<()> {
        self.series.add(amount).py(py)
    }

    /// Subtracts `amount` (gauges only).
    #[pyo3(signature = (amount=1.0))]
    fn dec(&self, py: Python<'_>, amount: f64) -> PyResult<()> {
        self.series.add(-amount).py(py)
    }

    fn set(&self, py: Python<'_>, value: f64) -> PyResult<()> {
        self.series.set(value).py(py)
    }

    fn observe(&self, py: Python<'_>, value: f64) -> PyResult<()> {
        self.series.observe(value).py(py)
    }

    /// A counter's or gauge's value.
    fn value(&self) -> f64 {
        self.series.value()
    }

    /// A histogram's (count, sum).
    fn count_and_sum(&self) -> (f64, f64) {
        self.series.count_and_sum()
    }
}

/// A running `/metrics` server.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeExporter {
    port: u16,
    exporter: Mutex<Option<Exporter>>,
}

#[pymethods]
impl NativeExporter {
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (idempotent).
    fn stop(&self, py: Python<'_>) {
        if let Some(e) = self.exporter.lock().take() {
            py.detach(|| e.stop_blocking());
        }
    }
}
