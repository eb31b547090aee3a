//! The cost of the engine's hot paths next to the `prometheus` crate: a circuit breaker's success
//! path, counter increments (plain and labeled) and histogram observations.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use omnitron::metrics::{MetricOptions, Registry};
use omnitron::resilience::{BreakerOptions, CircuitBreaker, Outcome};

fn breaker(c: &mut Criterion) {
    let reg = Registry::new();
    let b = CircuitBreaker::with_registry(BreakerOptions::new("bench"), &reg).unwrap();
    c.bench_function("breaker/baseline_call", |x| x.iter(|| black_box(Ok::<u64, ()>(black_box(1)))));
    c.bench_function("breaker/call_blocking_success", |x| {
        x.iter(|| black_box(b.call_blocking(|_: &()| true, || Ok::<u64, ()>(black_box(1)))))
    });
    c.bench_function("breaker/acquire_record", |x| {
        x.iter(|| {
            let p = b.acquire().0.unwrap();
            b.record(p, Outcome::Success)
        })
    });
}

fn counters(c: &mut Criterion) {
    let reg = Registry::new();
    let ours = reg.counter(MetricOptions::new("bench_total", "bench")).unwrap();
    let ours_vec =
        reg.counter_vec(MetricOptions::new("bench_vec_total", "bench").labels(["method"])).unwrap();
    let ours_series = ours_vec.with_labels(&["GET"]).unwrap();
    let ours_hist = reg.histogram(MetricOptions::new("bench_seconds", "bench")).unwrap();

    let prom = prometheus::Counter::new("bench_total", "bench").unwrap();
    let prom_vec =
        prometheus::CounterVec::new(prometheus::Opts::new("bench_vec_total", "bench"), &["method"]).unwrap();
    let prom_series = prom_vec.with_label_values(&["GET"]);
    let prom_hist =
        prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("bench_seconds", "bench")).unwrap();

    c.bench_function("counter/inc/omnitron", |x| x.iter(|| black_box(&ours).inc()));
    c.bench_function("counter/inc/prometheus", |x| x.iter(|| black_box(&prom).inc()));
    c.bench_function("counter/labeled_lookup_inc/omnitron", |x| {
        x.iter(|| black_box(&ours_vec).with_labels(&["GET"]).unwrap().inc())
    });
    c.bench_function("counter/labeled_lookup_inc/prometheus", |x| {
        x.iter(|| black_box(&prom_vec).with_label_values(&["GET"]).inc())
    });
    c.bench_function("counter/labeled_cached_inc/omnitron", |x| x.iter(|| black_box(&ours_series).inc()));
    c.bench_function("counter/labeled_cached_inc/prometheus", |x| x.iter(|| black_box(&prom_series).inc()));
    c.bench_function("histogram/observe/omnitron", |x| {
        x.iter(|| black_box(&ours_hist).observe(black_box(0.042)))
    });
    c.bench_function("histogram/observe/prometheus", |x| {
        x.iter(|| black_box(&prom_hist).observe(black_box(0.042)))
    });
}

criterion_group!(benches, breaker, counters);
criterion_main!(benches);
