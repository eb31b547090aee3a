//! Registries and the handles to their metrics.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use super::family::{DEFAULT_CARDINALITY_LIMIT, Family, MetricKind, MetricOptions, Series, Shard};
use crate::error::{Error, ErrorCode, Result};

struct RegistryInner {
    families: RwLock<BTreeMap<String, Arc<Family>>>,
    default_limit: AtomicUsize,
}

/// A set of metrics exposed together. Cheap to clone (clones share the metrics).
///
/// ```
/// use omnitron::metrics::{MetricOptions, Registry};
///
/// let r = Registry::new();
/// let orders = r.counter_vec(MetricOptions::new("orders_total", "Orders").labels(["status"])).unwrap();
/// orders.with_labels(&["paid"]).unwrap().inc();
/// assert!(r.gather_text().contains("orders_total{status=\"paid\"} 1"));
/// ```
#[derive(Clone)]
pub struct Registry {
    inner: Arc<RegistryInner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("metrics", &self.inner.families.read().len()).finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry {
            inner: Arc::new(RegistryInner {
                families: RwLock::new(BTreeMap::new()),
                default_limit: AtomicUsize::new(DEFAULT_CARDINALITY_LIMIT),
            }),
        }
    }

    /// The process-wide default registry, where the engine instruments itself.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::new)
    }

    /// Whether two handles are the same registry.
    pub fn same(&self, other: &Registry) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The cap on label sets for metrics declared without one (default 10,000).
    pub fn set_default_cardinality_limit(&self, limit: usize) -> Result<()> {
        if limit == 0 {
            return Err(Error::invalid_argument("the cardinality limit must be at least 1"));
        }
        self.inner.default_limit.store(limit, Ordering::Relaxed);
        Ok(())
    }

    /// Declares a metric of any kind, or returns the existing one when the same name was declared the
    /// same way (a different declaration is a `MetricConflict`).
    pub fn metric(&self, kind: MetricKind, opts: MetricOptions) -> Result<Metric> {
        if let Some(f) = self.inner.families.read().get(&opts.name) {
            return existing(f, kind, &opts);
        }
        let family = Family::new(kind, opts, self.inner.default_limit.load(Ordering::Relaxed))?;
        let mut map = self.inner.families.write();
        if let Some(f) = map.get(&family.name) {
            let opts = MetricOptions {
                name: family.name.clone(),
                help: family.help.clone(),
                label_names: family.label_names.clone(),
                buckets: Some(family.buckets.clone()),
                cardinality_limit: None,
            };
            return existing(f, kind, &opts);
        }
        let family = Arc::new(family);
        map.insert(family.name.clone(), family.clone());
        Ok(Metric { family })
    }

    /// A metric by name.
    pub fn get(&self, name: &str) -> Option<Metric> {
        self.inner.families.read().get(name).map(|f| Metric { family: f.clone() })
    }

    /// Removes a metric; returns whether it existed.
    pub fn unregister(&self, name: &str) -> bool {
        self.inner.families.write().remove(name).is_some()
    }

    /// Removes every metric.
    pub fn clear(&self) {
        self.inner.families.write().clear();
    }

    /// Every metric, sorted by name.
    pub(crate) fn families(&self) -> Vec<Arc<Family>> {
        self.inner.families.read().values().cloned().collect()
    }

    /// A counter without labels.
    pub fn counter(&self, opts: MetricOptions) -> Result<Counter> {
        no_labels(&opts, "counter_vec")?;
        Ok(Counter(self.metric(MetricKind::Counter, opts)?.series(&[] as &[&str])?))
    }

    /// A counter with labels.
    pub fn counter_vec(&self, opts: MetricOptions) -> Result<CounterVec> {
        Ok(CounterVec(self.metric(MetricKind::Counter, opts)?))
    }

    /// A gauge without labels.
    pub fn gauge(&self, opts: MetricOptions) -> Result<Gauge> {
        no_labels(&opts, "gauge_vec")?;
        Ok(Gauge(self.metric(MetricKind::Gauge, opts)?.series(&[] as &[&str])?))
    }

    /// A gauge with labels.
    pub fn gauge_vec(&self, opts: MetricOptions) -> Result<GaugeVec> {
        Ok(GaugeVec(self.metric(MetricKind::Gauge, opts)?))
    }

    /// A histogram without labels.
    pub fn histogram(&self, opts: MetricOptions) -> Result<Histogram> {
        no_labels(&opts, "histogram_vec")?;
        Ok(Histogram(self.metric(MetricKind::Histogram, opts)?.series(&[] as &[&str])?))
    }

    /// A histogram with labels.
    pub fn histogram_vec(&self, opts: MetricOptions) -> Result<HistogramVec> {
        Ok(HistogramVec(self.metric(MetricKind::Histogram, opts)?))
    }
}

fn no_labels(opts: &MetricOptions, use_instead: &str) -> Result<()> {
    if opts.label_names.is_empty() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidLabels,
            format!("metric '{}' declares labels: create it with {use_instead}", opts.name),
        ))
    }
}

fn existing(f: &Arc<Family>, kind: MetricKind, opts: &MetricOptions) -> Result<Metric> {
    if f.same_as(kind, opts) {
        return Ok(Metric { family: f.clone() });
    }
    Err(Error::new(
        ErrorCode::MetricConflict,
        format!(
            "metric '{}' is already registered as a {} with labels [{}]; a second declaration must match it (type, help, labels, buckets) or use another name",
            f.name,
            f.kind.as_str(),
            f.label_names.join(", ")
        ),
    ))
}

/// Any metric, untyped (what the bindings use).
#[derive(Clone, Debug)]
pub struct Metric {
    family: Arc<Family>,
}

impl Metric {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.family.name
    }

    /// Its type.
    pub fn kind(&self) -> MetricKind {
        self.family.kind
    }

    /// Its label names.
    pub fn label_names(&self) -> &[String] {
        &self.family.label_names
    }

    /// Its histogram bucket bounds (empty for other types).
    pub fn buckets(&self) -> &[f64] {
        &self.family.buckets
    }

    /// The series for these label values (created on first use).
    pub fn series<S: AsRef<str>>(&self, values: &[S]) -> Result<SeriesRef> {
        Ok(SeriesRef { family: self.family.clone(), series: self.family.series(values)? })
    }
}

/// One series of any metric.
#[derive(Clone, Debug)]
pub struct SeriesRef {
    family: Arc<Family>,
    series: Arc<Series>,
}

impl SeriesRef {
    fn wrong(&self, op: &str) -> Error {
        Error::invalid_argument(format!(
            "'{}' is a {}: it has no {op}",
            self.family.name,
            self.family.kind.as_str()
        ))
    }

    /// Its metric's type.
    pub fn kind(&self) -> MetricKind {
        self.family.kind
    }

    /// Adds to a counter or gauge. A counter refuses negative and NaN values.
    pub fn add(&self, v: f64) -> Result<()> {
        match self.family.kind {
            MetricKind::Counter if v.is_nan() || v < 0.0 => Err(Error::new(
                ErrorCode::InvalidMetricValue,
                format!("counter '{}' can only go up: cannot add {v}", self.family.name),
            )),
            MetricKind::Counter | MetricKind::Gauge => {
                if v.is_nan() {
                    return Err(Error::new(
                        ErrorCode::InvalidMetricValue,
                        format!("'{}': NaN", self.family.name),
                    ));
                }
                self.series.cells.cell(0).add(v);
                Ok(())
            }
            MetricKind::Histogram => Err(self.wrong("add (use observe)")),
        }
    }

    /// Sets a gauge.
    pub fn set(&self, v: f64) -> Result<()> {
        if self.family.kind != MetricKind::Gauge {
            return Err(self.wrong("set"));
        }
        self.series.cells.cell(0).set(v);
        Ok(())
    }

    /// Records an observation in a histogram.
    pub fn observe(&self, v: f64) -> Result<()> {
        if self.family.kind != MetricKind::Histogram {
            return Err(self.wrong("observe"));
        }
        if v.is_nan() {
            return Err(Error::new(
                ErrorCode::InvalidMetricValue,
                format!("histogram '{}': NaN", self.family.name),
            ));
        }
        observe(&self.family, &self.series, v);
        Ok(())
    }

    /// The value of a counter or gauge (including what bindings wrote into their shards).
    pub fn value(&self) -> f64 {
        self.series.total(0)
    }

    /// For histograms: (count, sum).
    pub fn count_and_sum(&self) -> (f64, f64) {
        let n = self.family.buckets.len();
        (self.series.total(n + 2), self.series.total(n + 1))
    }

    /// A block of cells a binding can write into from its own thread (see `Shard`). Counters and
    /// histograms only: a gauge's `set` cannot be split.
    pub fn shard(&self) -> Result<Shard> {
        if self.family.kind == MetricKind::Gauge {
            return Err(self.wrong("shards"));
        }
        Ok(self.series.new_shard())
    }
}

#[inline]
fn observe(family: &Family, series: &Series, v: f64) {
    let n = family.buckets.len();
    series.cells.cell(family.bucket_of(v)).add(1.0);
    series.cells.cell(n + 1).add(v);
    series.cells.cell(n + 2).add(1.0);
}

/// A counter without labels.
#[derive(Clone, Debug)]
pub struct Counter(SeriesRef);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.series.cells.cell(0).add(1.0);
    }

    /// Adds `v` (refuses negative values and NaN).
    pub fn inc_by(&self, v: f64) -> Result<()> {
        self.0.add(v)
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        self.0.value()
    }
}

/// A counter with labels.
#[derive(Clone, Debug)]
pub struct CounterVec(Metric);

impl CounterVec {
    /// The counter for these label values (keep it: looking it up costs a hash).
    pub fn with_labels<S: AsRef<str>>(&self, values: &[S]) -> Result<Counter> {
        Ok(Counter(self.0.series(values)?))
    }
}

/// A gauge without labels.
#[derive(Clone, Debug)]
pub struct Gauge(SeriesRef);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: f64) {
        self.0.series.cells.cell(0).set(v);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.0.series.cells.cell(0).add(1.0);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.0.series.cells.cell(0).add(-1.0);
    }

    /// Adds `v` (may be negative).
    pub fn add(&self, v: f64) {
        if !v.is_nan() {
            self.0.series.cells.cell(0).add(v);
        }
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        self.0.value()
    }
}

/// A gauge with labels.
#[derive(Clone, Debug)]
pub struct GaugeVec(Metric);

impl GaugeVec {
    /// The gauge for these label values.
    pub fn with_labels<S: AsRef<str>>(&self, values: &[S]) -> Result<Gauge> {
        Ok(Gauge(self.0.series(values)?))
    }
}

/// A histogram without labels.
#[derive(Clone, Debug)]
pub struct Histogram(SeriesRef);

impl Histogram {
    /// Records an observation (NaN is ignored).
    #[inline]
    pub fn observe(&self, v: f64) {
        if !v.is_nan() {
            observe(&self.0.family, &self.0.series, v);
        }
    }

    /// Observations so far.
    pub fn count(&self) -> f64 {
        self.0.count_and_sum().0
    }

    /// Sum of observations so far.
    pub fn sum(&self) -> f64 {
        self.0.count_and_sum().1
    }
}

/// A histogram with labels.
#[derive(Clone, Debug)]
pub struct HistogramVec(Metric);

impl HistogramVec {
    /// The histogram for these label values.
    pub fn with_labels<S: AsRef<str>>(&self, values: &[S]) -> Result<Histogram> {
        Ok(Histogram(self.0.series(values)?))
    }
}
