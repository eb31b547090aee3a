//! Metrics for JavaScript. Counters and histograms are recorded without crossing into native code:
//! each series hands JavaScript a `Float64Array` over a shard of cells the engine sums in when it
//! reads (see `core/src/metrics`). Gauges (whose `set` cannot be split) go through native calls.

use napi::bindgen_prelude::Float64Array;
use napi_derive::napi;
use omnitron::metrics::{Exporter, Metric, MetricKind, MetricOptions, Registry, SeriesRef};
use parking_lot::Mutex;

use crate::error::ToJs;

#[napi(object)]
pub struct JsMetricOptions {
    /// `counter`, `gauge` or `histogram`.
    pub kind: String,
    pub name: String,
    pub help: String,
    pub label_names: Vec<String>,
    pub buckets: Option<Vec<f64>>,
    pub cardinality_limit: Option<u32>,
}

/// A registry of metrics.
#[napi]
pub struct NativeRegistry {
    registry: Registry,
}

#[napi]
impl NativeRegistry {
    /// A new, empty registry.
    #[napi(constructor)]
    pub fn new() -> Self {
        NativeRegistry { registry: Registry::new() }
    }

    /// The process-wide registry the engine instruments itself into.
    #[napi(factory)]
    pub fn global() -> Self {
        NativeRegistry { registry: Registry::global().clone() }
    }

    /// Declares a metric (or returns the same declaration made before).
    #[napi]
    pub fn metric(&self, opts: JsMetricOptions) -> napi::Result<NativeMetric, String> {
        let kind: MetricKind = opts.kind.parse().js()?;
        let options = MetricOptions {
            name: opts.name,
            help: opts.help,
            label_names: opts.label_names,
            buckets: opts.buckets,
            cardinality_limit: opts.cardinality_limit.map(|n| n as usize),
        };
        Ok(NativeMetric { metric: self.registry.metric(kind, options).js()? })
    }

    /// Removes a metric.
    #[napi]
    pub fn unregister(&self, name: String) -> bool {
        self.registry.unregister(&name)
    }

    /// Removes every metric.
    #[napi]
    pub fn clear(&self) {
        self.registry.clear();
    }

    /// The Prometheus text format.
    #[napi]
    pub fn text(&self) -> String {
        self.registry.gather_text()
    }

    /// The OpenMetrics text format.
    #[napi]
    pub fn openmetrics(&self) -> String {
        self.registry.gather_openmetrics()
    }

    /// A snapshot as JSON.
    #[napi]
    pub fn snapshot_json(&self) -> String {
        self.registry.snapshot_json()
    }

    /// Serves `/metrics` on `addr` (`host:port`, port 0 for any).
    #[napi]
    pub fn serve(&self, addr: String) -> napi::Result<NativeExporter, String> {
        let exporter = Exporter::start(self.registry.clone(), &addr).js()?;
        Ok(NativeExporter { port: exporter.local_addr().port(), exporter: Mutex::new(Some(exporter)) })
    }

    /// Whether two handles are the same registry.
    #[napi]
    pub fn same(&self, other: &NativeRegistry) -> bool {
        self.registry.same(&other.registry)
    }
}

impl NativeRegistry {
    pub(crate) fn inner(&self) -> &Registry {
        &self.registry
    }
}

impl Default for NativeRegistry {
    fn default() -> Self {
        Self::new()
    }
}

/// A metric family.
#[napi]
pub struct NativeMetric {
    metric: Metric,
}

#[napi]
impl NativeMetric {
    /// The series for these label values.
    #[napi]
    pub fn series(&self, labels: Vec<String>) -> napi::Result<NativeSeries, String> {
        Ok(NativeSeries { series: self.metric.series(&labels).js()? })
    }

    /// Histogram bucket bounds (without +Inf).
    #[napi(getter)]
    pub fn buckets(&self) -> Vec<f64> {
        self.metric.buckets().to_vec()
    }

    #[napi(getter)]
    pub fn name(&self) -> String {
        self.metric.name().to_string()
    }
}

/// One series.
#[napi]
pub struct NativeSeries {
    series: SeriesRef,
}

#[napi]
impl NativeSeries {
    /// Cells JavaScript writes into directly (counters: `[value]`; histograms: one count per bucket,
    /// then +Inf, sum, count). Only the JavaScript thread writes them.
    #[napi]
    pub fn shard(&self) -> napi::Result<Float64Array, String> {
        let shard = self.series.shard().js()?;
        let (ptr, len) = (shard.as_mut_ptr(), shard.len());
        // SAFETY: the cells live as long as `shard`, which the finalizer keeps until V8 frees the
        // array; the engine only reads them.
        Ok(unsafe { Float64Array::with_external_data(ptr, len, move |_, _| drop(shard)) })
    }

    #[napi]
    pub fn add(&self, v: f64) -> napi::Result<(), String> {
        self.series.add(v).js()
    }

    #[napi]
    pub fn set(&self, v: f64) -> napi::Result<(), String> {
        self.series.set(v).js()
    }

    #[napi]
    pub fn observe(&self, v: f64) -> napi::Result<(), String> {
        self.series.observe(v).js()
    }

    /// A counter's or gauge's value (shards included).
    #[napi]
    pub fn value(&self) -> f64 {
        self.series.value()
    }
}

/// A running `/metrics` server.
#[napi]
pub struct NativeExporter {
    port: u16,
    exporter: Mutex<Option<Exporter>>,
}

#[napi]
impl NativeExporter {
    /// The port it listens on.
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        u32::from(self.port)
    }

    /// Stops the server (idempotent).
    #[napi]
    pub fn stop(&self) {
        if let Some(e) = self.exporter.lock().take() {
            e.stop_blocking();
        }
    }
}
