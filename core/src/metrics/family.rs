//! A metric family (one name, one type, fixed label names) and its series (one per label set).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::atomic::Cells;
use super::names::{check_label_name, check_metric_name};
use crate::error::{Error, ErrorCode, Result};

/// The three metric types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// Only goes up (resets on restart).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Counts observations into buckets, with their sum and count.
    Histogram,
}

impl MetricKind {
    /// `counter`, `gauge` or `histogram`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

impl std::str::FromStr for MetricKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "counter" => Ok(MetricKind::Counter),
            "gauge" => Ok(MetricKind::Gauge),
            "histogram" => Ok(MetricKind::Histogram),
            other => Err(Error::invalid_argument(format!(
                "unknown metric type '{other}': expected 'counter', 'gauge' or 'histogram'"
            ))),
        }
    }
}

/// The default histogram buckets (seconds): from 5 ms to 10 s, as in the Prometheus clients.
pub const DEFAULT_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The default cap on label sets per metric.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 10_000;

/// What a metric is declared with.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricOptions {
    /// Prometheus name.
    pub name: String,
    /// One line of help text.
    pub help: String,
    /// Label names, in the order values are given.
    pub label_names: Vec<String>,
    /// Histogram bucket upper bounds (ascending, finite); `None` for the defaults.
    pub buckets: Option<Vec<f64>>,
    /// Cap on label sets; `None` for the registry's default.
    pub cardinality_limit: Option<usize>,
}

impl MetricOptions {
    /// Options with a name and help, no labels.
    pub fn new(name: impl Into<String>, help: impl Into<String>) -> Self {
        MetricOptions {
            name: name.into(),
            help: help.into(),
            label_names: Vec::new(),
            buckets: None,
            cardinality_limit: None,
        }
    }

    /// Adds label names.
    pub fn labels<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.label_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets histogram buckets.
    pub fn buckets(mut self, buckets: impl Into<Vec<f64>>) -> Self {
        self.buckets = Some(buckets.into());
        self
    }

    /// Sets the cap on label sets.
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit = Some(limit);
        self
    }
}

/// One label set's values. Writers are the engine (atomic adds into `cells`) and bindings that write
/// from their own thread into a [`Shard`] of their own (summed in when the value is read).
#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) labels: Vec<String>,
    pub(crate) cells: Cells,
    shards: Mutex<Vec<Arc<Cells>>>,
}

/// Cells a binding writes into directly (a JavaScript `Float64Array` over them), with the same layout
/// as the series' own cells. Only the binding's thread writes; the engine reads.
#[derive(Debug, Clone)]
pub struct Shard(pub(crate) Arc<Cells>);

impl Shard {
    /// Start of the `f64` cells.
    pub fn as_mut_ptr(&self) -> *mut f64 {
        self.0.as_mut_ptr()
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a shard has at least one cell.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }
}

impl Series {
    fn new(labels: Vec<String>, width: usize) -> Self {
        Series { labels, cells: Cells::new(width), shards: Mutex::new(Vec::new()) }
    }

    /// Cell `i` including every shard.
    pub(crate) fn total(&self, i: usize) -> f64 {
        let own = self.cells.get(i);
        let shards = self.shards.lock();
        own + shards.iter().map(|s| s.get(i)).sum::<f64>()
    }

    pub(crate) fn new_shard(&self) -> Shard {
        let s = Arc::new(Cells::new(self.cells.len()));
        self.shards.lock().push(s.clone());
        Shard(s)
    }
}

/// A metric family.
#[derive(Debug)]
pub(crate) struct Family {
    pub(crate) name: String,
    pub(crate) help: String,
    pub(crate) kind: MetricKind,
    pub(crate) label_names: Vec<String>,
    /// Histogram upper bounds, without +Inf.
    pub(crate) buckets: Vec<f64>,
    limit: usize,
    /// Series by a hash of their label values (collisions share a list).
    series: RwLock<SeriesMap>,
}

#[derive(Debug, Default)]
struct SeriesMap {
    by_hash: HashMap<u64, Vec<Arc<Series>>>,
    count: usize,
}

fn hash_values<S: AsRef<str>>(values: &[S]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for v in values {
        v.as_ref().hash(&mut h);
    }
    h.finish()
}

fn find<S: AsRef<str>>(list: Option<&Vec<Arc<Series>>>, values: &[S]) -> Option<Arc<Series>> {
    list?.iter().find(|s| s.labels.iter().map(String::as_str).eq(values.iter().map(AsRef::as_ref))).cloned()
}

impl Family {
    pub(crate) fn new(kind: MetricKind, opts: MetricOptions, default_limit: usize) -> Result<Self> {
        check_metric_name(&opts.name)?;
        for (i, l) in opts.label_names.iter().enumerate() {
            check_label_name(&opts.name, l, kind == MetricKind::Histogram)?;
            if opts.label_names[..i].contains(l) {
                return Err(Error::new(
                    ErrorCode::InvalidMetricName,
                    format!("metric '{}' declares label '{l}' twice", opts.name),
                ));
            }
        }
        let buckets = match (kind, opts.buckets) {
            (MetricKind::Histogram, Some(b)) => check_buckets(&opts.name, b)?,
            (MetricKind::Histogram, None) => DEFAULT_BUCKETS.to_vec(),
            (_, Some(_)) => {
                return Err(Error::new(
                    ErrorCode::InvalidBuckets,
                    format!("metric '{}' is a {}: only histograms have buckets", opts.name, kind.as_str()),
                ));
            }
            (_, None) => Vec::new(),
        };
        let limit = opts.cardinality_limit.unwrap_or(default_limit);
        if limit == 0 {
            return Err(Error::invalid_argument(format!(
                "metric '{}': the cardinality limit must be at least 1",
                opts.name
            )));
        }
        Ok(Family {
            name: opts.name,
            help: opts.help,
            kind,
            label_names: opts.label_names,
            buckets,
            limit,
            series: RwLock::new(SeriesMap::default()),
        })
    }

    /// Cells per series: 1 for counters and gauges; buckets + 1 (+Inf) + sum + count for histograms.
    pub(crate) fn width(&self) -> usize {
        match self.kind {
            MetricKind::Histogram => self.buckets.len() + 3,
            _ => 1,
        }
    }

    /// The same declaration (what makes a second registration of a name the same metric).
    pub(crate) fn same_as(&self, kind: MetricKind, opts: &MetricOptions) -> bool {
        let buckets = match kind {
            MetricKind::Histogram => opts.buckets.clone().unwrap_or_else(|| DEFAULT_BUCKETS.to_vec()),
            _ => Vec::new(),
        };
        self.kind == kind
            && self.help == opts.help
            && self.label_names == opts.label_names
            && self.buckets == buckets
    }

    /// The series for these label values, created on first use.
    pub(crate) fn series<S: AsRef<str>>(&self, values: &[S]) -> Result<Arc<Series>> {
        if values.len() != self.label_names.len() {
            return Err(Error::new(
                ErrorCode::InvalidLabels,
                format!(
                    "metric '{}' has labels [{}] but got {} value(s): [{}]",
                    self.name,
                    self.label_names.join(", "),
                    values.len(),
                    values.iter().map(|v| format!("'{}'", v.as_ref())).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let h = hash_values(values);
        if let Some(s) = find(self.series.read().by_hash.get(&h), values) {
            return Ok(s);
        }
        let mut map = self.series.write();
        if let Some(s) = find(map.by_hash.get(&h), values) {
            return Ok(s);
        }
        let key: Vec<String> = values.iter().map(|v| v.as_ref().to_string()).collect();
        if map.count >= self.limit {
            return Err(Error::new(
                ErrorCode::CardinalityExceeded,
                format!(
                    "metric '{}' already has {} label sets, its limit; refusing [{}]. Labels should take few values (a status, a method), not ids; raise the metric's cardinality limit if this is intended",
                    self.name,
                    self.limit,
                    key.join(", ")
                ),
            ));
        }
        let s = Arc::new(Series::new(key, self.width()));
        map.by_hash.entry(h).or_default().push(s.clone());
        map.count += 1;
        Ok(s)
    }

    /// Every series, sorted by label values.
    pub(crate) fn all_series(&self) -> Vec<Arc<Series>> {
        let mut v: Vec<Arc<Series>> = self.series.read().by_hash.values().flatten().cloned().collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// Index of the bucket an observation falls in (`buckets.len()` for +Inf).
    pub(crate) fn bucket_of(&self, v: f64) -> usize {
        self.buckets.partition_point(|b| *b < v)
    }
}

fn check_buckets(name: &str, mut b: Vec<f64>) -> Result<Vec<f64>> {
    let bad = |why: &str| Err(Error::new(ErrorCode::InvalidBuckets, format!("histogram '{name}': {why}")));
    if b.is_empty() {
        return bad("needs at least one bucket");
    }
    if b.iter().any(|x| !x.is_finite()) {
        return bad("bucket bounds must be finite numbers (+Inf is added for you)");
    }
    // The rule, and what histograms here are for (durations, sizes): a bound must be above 0.
    if let Some(x) = b.iter().find(|x| **x <= 0.0) {
        return bad(&format!("bucket bounds must be above 0, got {x}"));
    }
    if b.windows(2).any(|w| w[0] >= w[1]) {
        return bad(&format!("bucket bounds must be strictly increasing, got {b:?}"));
    }
    if b.last() == Some(&f64::INFINITY) {
        b.pop();
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_checked() {
        let h = |b: Vec<f64>| Family::new(MetricKind::Histogram, MetricOptions::new("h", "").buckets(b), 10);
        assert!(h(vec![0.1, 1.0]).is_ok());
        for bad in [vec![], vec![1.0, 0.5], vec![1.0, 1.0], vec![f64::NAN], vec![0.0, f64::INFINITY]] {
            assert_eq!(h(bad.clone()).unwrap_err().code(), ErrorCode::InvalidBuckets, "{bad:?}");
        }
        let c = Family::new(MetricKind::Counter, MetricOptions::new("c", "").buckets(vec![1.0]), 10);
        assert_eq!(c.unwrap_err().code(), ErrorCode::InvalidBuckets);
    }

    #[test]
    fn bucket_index() {
        let f = Family::new(MetricKind::Histogram, MetricOptions::new("h", "").buckets(vec![1.0, 2.0]), 10)
            .unwrap();
        assert_eq!(f.bucket_of(0.5), 0);
        assert_eq!(f.bucket_of(1.0), 0, "bounds are inclusive (le)");
        assert_eq!(f.bucket_of(1.5), 1);
        assert_eq!(f.bucket_of(3.0), 2);
    }
}
