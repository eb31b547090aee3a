//! Metrics: counters, gauges and histograms with labels, a global registry and separate ones,
//! Prometheus text and OpenMetrics exposition, snapshots, and a `/metrics` HTTP exporter.
//!
//! Values live in atomic `f64` cells, so recording is lock-free. A binding that records from its own
//! thread (Node) gets a [`Shard`]: cells of its own that it writes without crossing into native code,
//! summed in whenever the value is read.

mod atomic;
#[cfg(feature = "exporter")]
mod exporter;
mod expose;
mod family;
mod names;
mod registry;

#[cfg(feature = "exporter")]
pub use exporter::Exporter;
#[cfg(all(feature = "exporter", feature = "process"))]
pub(crate) use exporter::spawn_http1;
pub use expose::{
    BucketSnapshot, FamilySnapshot, OPENMETRICS_CONTENT_TYPE, SampleValue, SeriesSnapshot, TEXT_CONTENT_TYPE,
};
pub use family::{DEFAULT_BUCKETS, DEFAULT_CARDINALITY_LIMIT, MetricKind, MetricOptions, Shard};
pub use registry::{
    Counter, CounterVec, Gauge, GaugeVec, Histogram, HistogramVec, Metric, Registry, SeriesRef,
};
