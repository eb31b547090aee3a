//! Metrics: registries, metrics (counter, gauge, histogram), series, exposition and the exporter.

use std::cell::RefCell;
use std::ffi::c_char;

use omnitron::Error;
use omnitron::metrics::{Exporter, Metric, MetricKind, MetricOptions, Registry, SeriesRef};
use parking_lot::Mutex;

use crate::boundary::{
    HandleCache, Table, check_out, give_string, guard, guard_out, guard_void, reported, str_arg, write_out,
};
use crate::error::OmnitronStatus;

/// A metrics registry: the global one (omnitron_registry_global) or a separate one. Thread-safe, as
/// are metrics, series and exporters: record from any number of threads at once.
#[derive(Debug)]
pub struct OmnitronRegistry {
    _private: [u8; 0],
}

/// A metric (all its label sets) declared in a registry. Thread-safe: record from any thread.
#[derive(Debug)]
pub struct OmnitronMetric {
    _private: [u8; 0],
}

/// One series of a metric: fixed label values, for recording without a label lookup per call.
/// Thread-safe: record from any thread (updates are atomic).
#[derive(Debug)]
pub struct OmnitronSeries {
    _private: [u8; 0],
}

/// A running `/metrics` HTTP server, served from engine threads. Thread-safe.
#[derive(Debug)]
pub struct OmnitronExporter {
    _private: [u8; 0],
}

/// Exposition format: Prometheus text (version 0.0.4).
pub const OMNITRON_METRICS_TEXT: u32 = 0;
/// Exposition format: OpenMetrics text (1.0.0).
pub const OMNITRON_METRICS_OPENMETRICS: u32 = 1;
/// Exposition format: a JSON snapshot (an array of families with their series).
pub const OMNITRON_METRICS_JSON: u32 = 2;

static REGISTRIES: Table<Registry> = Table::new("registry");
static METRICS: Table<Metric> = Table::new("metric");
static SERIES: Table<SeriesRef> = Table::new("series");

thread_local! {
    /// The series this thread records on, so recording takes no lock (see Table::with_cached).
    static SERIES_CACHE: RefCell<HandleCache<SeriesRef>> = const { RefCell::new(HandleCache::new()) };
}
static EXPORTERS: Table<Mutex<Option<Exporter>>> = Table::new("exporter");

/// The registry behind a handle; NULL means the global registry (for breakers and other engine parts
/// that take an optional registry).
pub(crate) fn registry_or_global(registry: *const OmnitronRegistry) -> Result<Registry, Error> {
    if registry.is_null() { Ok(Registry::global().clone()) } else { Ok((*REGISTRIES.get(registry)?).clone()) }
}

/// Creates an empty registry, separate from the global one. Free it with omnitron_registry_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_registry_new(out: *mut *mut OmnitronRegistry) -> OmnitronStatus {
    guard_out(out, || REGISTRIES.insert_out(out, Registry::new()))
}

/// A handle to the process-wide registry the engine instruments itself into (breaker states and
/// call outcomes, later RPC, pools and workflows). Free the handle with omnitron_registry_free; the
/// registry itself lives on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_registry_global(out: *mut *mut OmnitronRegistry) -> OmnitronStatus {
    guard_out(out, || REGISTRIES.insert_out(out, Registry::global().clone()))
}

/// Frees a registry handle. Metrics and series handles taken from it stay valid. NULL and freed
/// handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_registry_free(registry: *mut OmnitronRegistry) {
    guard_void(|| {
        REGISTRIES.remove(registry);
        Ok(())
    })
}

/// `count` NUL-terminated strings at `p` (which may be NULL when `count` is 0).
fn str_array(p: *const *const c_char, count: usize, what: &str) -> Result<Vec<String>, Error> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL but its count is {count}")));
    }
    (0..count)
        .map(|i| {
            // SAFETY: the caller promises `count` readable pointers at `p`.
            let s = unsafe { *p.add(i) };
            str_arg(s, &format!("{what}[{i}]")).map(str::to_string)
        })
        .collect()
}

#[allow(clippy::too_many_arguments)] // The C signature, one to one.
fn declare(
    registry: *mut OmnitronRegistry,
    kind: MetricKind,
    name: *const c_char,
    help: *const c_char,
    label_names: *const *const c_char,
    label_count: usize,
    buckets: Option<Vec<f64>>,
    out: *mut *mut OmnitronMetric,
) -> Result<(), Error> {
    check_out(out, "out")?;
    let r = REGISTRIES.get(registry)?;
    let mut opts = MetricOptions::new(str_arg(name, "name")?, str_arg(help, "help")?).labels(str_array(
        label_names,
        label_count,
        "label_names",
    )?);
    if let Some(b) = buckets {
        opts = opts.buckets(b);
    }
    let m = r.metric(kind, opts)?;
    METRICS.insert_out(out, m)
}

/// Declares a counter with `label_count` label names (NULL and 0 for none). Declaring the same
/// metric again gives another handle to it; a different declaration under the same name is
/// OMNITRON_STATUS_METRIC_CONFLICT. Free the handle with omnitron_metric_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_metric_counter(
    registry: *mut OmnitronRegistry,
    name: *const c_char,
    help: *const c_char,
    label_names: *const *const c_char,
    label_count: usize,
    out: *mut *mut OmnitronMetric,
) -> OmnitronStatus {
    guard_out(out, || declare(registry, MetricKind::Counter, name, help, label_names, label_count, None, out))
}

/// Declares a gauge; as omnitron_metric_counter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_metric_gauge(
    registry: *mut OmnitronRegistry,
    name: *const c_char,
    help: *const c_char,
    label_names: *const *const c_char,
    label_count: usize,
    out: *mut *mut OmnitronMetric,
) -> OmnitronStatus {
    guard_out(out, || declare(registry, MetricKind::Gauge, name, help, label_names, label_count, None, out))
}

/// Declares a histogram with `bucket_count` upper bounds (finite, strictly increasing; `+Inf` is
/// implied; every bound above 0). NULL and 0 give the default buckets (5 ms to 10 s, in seconds).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_metric_histogram(
    registry: *mut OmnitronRegistry,
    name: *const c_char,
    help: *const c_char,
    label_names: *const *const c_char,
    label_count: usize,
    buckets: *const f64,
    bucket_count: usize,
    out: *mut *mut OmnitronMetric,
) -> OmnitronStatus {
    guard_out(out, || {
        let b = if bucket_count == 0 {
            None
        } else if buckets.is_null() {
            return Err(Error::invalid_argument(format!(
                "buckets is NULL but bucket_count is {bucket_count}"
            )));
        } else {
            // SAFETY: the caller promises `bucket_count` readable doubles at `buckets`.
            Some(unsafe { std::slice::from_raw_parts(buckets, bucket_count) }.to_vec())
        };
        declare(registry, MetricKind::Histogram, name, help, label_names, label_count, b, out)
    })
}

/// Frees a metric handle (the metric stays in its registry). NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_metric_free(metric: *mut OmnitronMetric) {
    guard_void(|| {
        METRICS.remove(metric);
        Ok(())
    })
}

fn series_of(
    metric: *const OmnitronMetric,
    values: *const *const c_char,
    count: usize,
) -> Result<SeriesRef, Error> {
    let m = METRICS.get(metric)?;
    m.series(&str_array(values, count, "label_values")?)
}

/// Adds `value` to the series with these label values (in the order of the label names; NULL and 0
/// for an unlabeled metric): a counter refuses negative values, a gauge takes any finite value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_metric_add(
    metric: *mut OmnitronMetric,
    label_values: *const *const c_char,
    label_count: usize,
    value: f64,
) -> OmnitronStatus {
    guard(|| series_of(metric, label_values, label_count)?.add(value))
}

/// Sets a gauge's series to `value`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_metric_set(
    metric: *mut OmnitronMetric,
    label_values: *const *const c_char,
    label_count: usize,
    value: f64,
) -> OmnitronStatus {
    guard(|| series_of(metric, label_values, label_count)?.set(value))
}

/// Records `value` in a histogram's series.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_metric_observe(
    metric: *mut OmnitronMetric,
    label_values: *const *const c_char,
    label_count: usize,
    value: f64,
) -> OmnitronStatus {
    guard(|| series_of(metric, label_values, label_count)?.observe(value))
}

/// The current value of a counter or gauge series, or the number of observations of a histogram
/// series.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_metric_value(
    metric: *mut OmnitronMetric,
    label_values: *const *const c_char,
    label_count: usize,
    out: *mut f64,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let s = series_of(metric, label_values, label_count)?;
        let v = if s.kind() == MetricKind::Histogram { s.count_and_sum().0 } else { s.value() };
        write_out(out, v, "out")
    })
}

/// A handle to one series (creating it if new), for recording without naming the labels each time.
/// Free it with omnitron_series_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_metric_series(
    metric: *mut OmnitronMetric,
    label_values: *const *const c_char,
    label_count: usize,
    out: *mut *mut OmnitronSeries,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let s = series_of(metric, label_values, label_count)?;
        SERIES.insert_out(out, s)
    })
}

/// Adds to a counter or gauge series (see omnitron_metric_add).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_series_add(series: *mut OmnitronSeries, value: f64) -> OmnitronStatus {
    guard(|| SERIES.with_cached(&SERIES_CACHE, series, |s| s.add(value))?)
}

/// Sets a gauge series.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_series_set(series: *mut OmnitronSeries, value: f64) -> OmnitronStatus {
    guard(|| SERIES.with_cached(&SERIES_CACHE, series, |s| s.set(value))?)
}

/// Records a value in a histogram series.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_series_observe(series: *mut OmnitronSeries, value: f64) -> OmnitronStatus {
    guard(|| SERIES.with_cached(&SERIES_CACHE, series, |s| s.observe(value))?)
}

/// A counter or gauge series' value; for a histogram series, `*out` is its count and `*sum` (if not
/// NULL) its sum.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_series_value(
    series: *mut OmnitronSeries,
    out: *mut f64,
    sum: *mut f64,
) -> OmnitronStatus {
    guard_out((out, sum), || {
        check_out(out, "out")?;
        let s = SERIES.get(series)?;
        let (value, total) =
            if s.kind() == MetricKind::Histogram { s.count_and_sum() } else { (s.value(), s.value()) };
        if !sum.is_null() {
            write_out(sum, total, "sum")?;
        }
        write_out(out, value, "out")
    })
}

/// Frees a series handle (the series stays in its metric). NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_series_free(series: *mut OmnitronSeries) {
    guard_void(|| {
        SERIES.remove(series);
        Ok(())
    })
}

fn exposition(registry: *const OmnitronRegistry, format: u32) -> Result<String, Error> {
    let r = REGISTRIES.get(registry)?;
    match format {
        OMNITRON_METRICS_TEXT => Ok(r.gather_text()),
        OMNITRON_METRICS_OPENMETRICS => Ok(r.gather_openmetrics()),
        OMNITRON_METRICS_JSON => Ok(r.snapshot_json()),
        other => Err(Error::invalid_argument(format!(
            "unknown metrics format {other} (expected OMNITRON_METRICS_TEXT, _OPENMETRICS or _JSON)"
        ))),
    }
}

/// Writes the registry's exposition into the caller's buffer `buf` of `capacity` bytes, NUL
/// terminated, and its length (without the NUL) to `*len`. When it does not fit, nothing is
/// written to `buf`, `*len` is the length needed (0 after other failures) and the status is
/// OMNITRON_STATUS_BUFFER_TOO_SMALL:
/// call again with at least `*len + 1` bytes. `buf` may be NULL when `capacity` is 0 (to ask the
/// size).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_registry_gather(
    registry: *mut OmnitronRegistry,
    format: u32,
    buf: *mut c_char,
    capacity: usize,
    len: *mut usize,
) -> OmnitronStatus {
    guard_out(reported(len), || {
        check_out(len, "len")?;
        if capacity > 0 && buf.is_null() {
            return Err(Error::invalid_argument(format!("buf is NULL but capacity is {capacity}")));
        }
        let text = exposition(registry, format)?;
        write_out(len, text.len(), "len")?;
        if text.len() + 1 > capacity {
            return Err(Error::new(
                omnitron::ErrorCode::BufferTooSmall,
                format!(
                    "the exposition needs {} bytes with its NUL; the buffer has {capacity}",
                    text.len() + 1
                ),
            ));
        }
        // SAFETY: buf has `capacity` writable bytes by contract, and text.len() + 1 <= capacity.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
            buf.add(text.len()).write(0);
        }
        Ok(())
    })
}

/// Like omnitron_registry_gather, into a string the library allocates: free it with
/// omnitron_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_registry_gather_string(
    registry: *mut OmnitronRegistry,
    format: u32,
    out: *mut *mut c_char,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let text = exposition(registry, format)?;
        write_out(out, give_string(&text)?, "out")
    })
}

/// Starts an HTTP server answering `GET /metrics` for `registry` on `address` ("host:port"; port 0
/// picks a free one; see omnitron_exporter_port). It runs on the engine's threads until
/// omnitron_exporter_stop.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_exporter_start(
    registry: *mut OmnitronRegistry,
    address: *const c_char,
    out: *mut *mut OmnitronExporter,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let r = REGISTRIES.get(registry)?;
        let addr = str_arg(address, "address")?;
        let e = Exporter::start((*r).clone(), addr)?;
        EXPORTERS.insert_out(out, Mutex::new(Some(e)))
    })
}

/// The port the exporter listens on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_exporter_port(
    exporter: *mut OmnitronExporter,
    out: *mut u16,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let e = EXPORTERS.get(exporter)?;
        let port = e
            .lock()
            .as_ref()
            .map(|e| e.local_addr().port())
            .ok_or_else(|| Error::invalid_argument("the exporter was stopped"))?;
        write_out(out, port, "out")
    })
}

/// Stops the exporter (waiting until its server is down) and frees the handle. NULL and freed
/// handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_exporter_stop(exporter: *mut OmnitronExporter) {
    guard_void(|| {
        if let Some(e) = EXPORTERS.remove(exporter)
            && let Some(e) = e.lock().take()
        {
            e.stop_blocking();
        }
        Ok(())
    })
}
