//! Metrics: declaring, recording, validation, cardinality, exposition parsed by a real parser.

use omnitron::ErrorCode;
use omnitron::metrics::{MetricKind, MetricOptions, Registry, SampleValue};

fn parse(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("the exposition parses")
}

fn sample<'a>(
    s: &'a prometheus_parse::Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> &'a prometheus_parse::Sample {
    s.samples
        .iter()
        .find(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
}

#[test]
fn counters_gauges_histograms_round_trip_through_the_text_format() {
    let r = Registry::new();
    let c = r.counter(MetricOptions::new("jobs_total", "Jobs done")).unwrap();
    c.inc();
    c.inc_by(2.5).unwrap();
    let g = r.gauge(MetricOptions::new("queue_depth", "Waiting jobs")).unwrap();
    g.set(7.0);
    g.dec();
    let h = r.histogram(MetricOptions::new("latency_seconds", "Latency").buckets(vec![0.1, 1.0])).unwrap();
    for v in [0.05, 0.5, 0.5, 5.0] {
        h.observe(v);
    }
    let orders =
        r.counter_vec(MetricOptions::new("orders_total", "Orders").labels(["status", "method"])).unwrap();
    orders.with_labels(&["paid", "card"]).unwrap().inc();
    orders.with_labels(&["paid", "card"]).unwrap().inc();
    orders.with_labels(&["failed", "quote\"and\\back\nslash"]).unwrap().inc();

    let s = parse(&r.gather_text());
    use prometheus_parse::Value;
    assert_eq!(sample(&s, "jobs_total", &[]).value, Value::Counter(3.5));
    assert_eq!(sample(&s, "queue_depth", &[]).value, Value::Gauge(6.0));
    assert_eq!(
        sample(&s, "orders_total", &[("status", "paid"), ("method", "card")]).value,
        Value::Counter(2.0)
    );
    match &sample(&s, "latency_seconds", &[]).value {
        Value::Histogram(buckets) => {
            let counts: Vec<(f64, f64)> = buckets.iter().map(|b| (b.less_than, b.count)).collect();
            assert_eq!(counts, vec![(0.1, 1.0), (1.0, 3.0), (f64::INFINITY, 4.0)]);
        }
        other => panic!("not a histogram: {other:?}"),
    }
    assert_eq!(h.count(), 4.0);
    assert_eq!(h.sum(), 6.05);
    let text = r.gather_text();
    assert!(text.contains("# HELP jobs_total Jobs done"));
    assert!(text.contains("# TYPE latency_seconds histogram"));
    assert!(text.contains(r#"method="quote\"and\\back\nslash""#), "{text}");
}

#[test]
fn openmetrics_names_counters_with_total_and_ends_with_eof() {
    let r = Registry::new();
    r.counter(MetricOptions::new("requests_total", "Requests")).unwrap().inc();
    let text = r.gather_openmetrics();
    assert!(text.contains("# TYPE requests counter"), "{text}");
    assert!(text.contains("requests_total 1"), "{text}");
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn snapshot_is_plain_data() {
    let r = Registry::new();
    r.gauge(MetricOptions::new("temp", "t")).unwrap().set(21.5);
    let snap = r.snapshot();
    assert_eq!(snap.len(), 1);
    assert_eq!(snap[0].kind, MetricKind::Gauge);
    assert_eq!(snap[0].series[0].value, SampleValue::Number(21.5));
    let json: serde_json::Value = serde_json::from_str(&r.snapshot_json()).unwrap();
    assert_eq!(json[0]["series"][0]["value"], 21.5);
    assert_eq!(json[0]["type"], "gauge");
}

#[test]
fn bad_names_labels_values_and_buckets_are_refused() {
    let r = Registry::new();
    let e = r.counter(MetricOptions::new("users.findOne", "")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidMetricName);
    assert!(e.message().contains("users_findOne"), "{e}");
    assert_eq!(r.counter(MetricOptions::new("", "")).unwrap_err().code(), ErrorCode::InvalidMetricName);
    let e = r.counter_vec(MetricOptions::new("x_total", "").labels(["ok", "__reserved"])).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidMetricName);
    let e = r.histogram_vec(MetricOptions::new("h", "").labels(["le"])).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidMetricName);
    let e = r.counter_vec(MetricOptions::new("dup_total", "").labels(["a", "a"])).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidMetricName);

    for bad in [vec![], vec![2.0, 1.0], vec![1.0, 1.0], vec![f64::NAN], vec![-1.0, 1.0], vec![0.0, 1.0]] {
        let e = r.histogram(MetricOptions::new("hb", "").buckets(bad)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidBuckets);
    }
    let e = r.histogram(MetricOptions::new("hb", "").buckets(vec![-10.0, 10.0])).unwrap_err();
    assert!(e.message().contains("above 0"), "{e}");

    let c = r.counter(MetricOptions::new("up_only_total", "")).unwrap();
    assert_eq!(c.inc_by(-1.0).unwrap_err().code(), ErrorCode::InvalidMetricValue);
    assert_eq!(c.inc_by(f64::NAN).unwrap_err().code(), ErrorCode::InvalidMetricValue);
    assert_eq!(c.get(), 0.0);

    let v = r.counter_vec(MetricOptions::new("labeled_total", "").labels(["a", "b"])).unwrap();
    let e = v.with_labels(&["only-one"]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidLabels);
    assert!(e.message().contains("[a, b]"), "{e}");
    let e = r.counter(MetricOptions::new("needs_vec_total", "").labels(["a"])).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidLabels);
}

#[test]
fn the_same_declaration_twice_is_the_same_metric_a_different_one_a_conflict() {
    let r = Registry::new();
    let a = r.counter(MetricOptions::new("twice_total", "x")).unwrap();
    let b = r.counter(MetricOptions::new("twice_total", "x")).unwrap();
    a.inc();
    assert_eq!(b.get(), 1.0);
    let e = r.gauge(MetricOptions::new("twice_total", "x")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::MetricConflict);
    let e = r.counter_vec(MetricOptions::new("twice_total", "x").labels(["l"])).unwrap_err();
    assert_eq!(e.code(), ErrorCode::MetricConflict);
}

#[test]
fn cardinality_is_capped_with_a_clear_error() {
    let r = Registry::new();
    let v = r
        .counter_vec(MetricOptions::new("per_user_total", "").labels(["user"]).cardinality_limit(3))
        .unwrap();
    for u in ["a", "b", "c"] {
        v.with_labels(&[u]).unwrap().inc();
    }
    v.with_labels(&["a"]).unwrap().inc(); // existing sets stay usable
    let e = v.with_labels(&["d"]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CardinalityExceeded);
    assert!(e.message().contains("per_user_total") && e.message().contains("3"), "{e}");

    r.set_default_cardinality_limit(1).unwrap();
    let w = r.counter_vec(MetricOptions::new("tiny_total", "").labels(["x"])).unwrap();
    w.with_labels(&["1"]).unwrap();
    assert_eq!(w.with_labels(&["2"]).unwrap_err().code(), ErrorCode::CardinalityExceeded);
    assert_eq!(r.set_default_cardinality_limit(0).unwrap_err().code(), ErrorCode::InvalidArgument);
}

#[test]
fn counts_stay_exact_under_concurrency() {
    let r = Registry::new();
    let c = r.counter(MetricOptions::new("racy_total", "")).unwrap();
    let h = r.histogram(MetricOptions::new("racy_seconds", "")).unwrap();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..10_000 {
                    c.inc();
                    h.observe(0.2);
                }
            });
        }
    });
    assert_eq!(c.get(), 80_000.0);
    assert_eq!(h.count(), 80_000.0);
}

#[test]
fn shards_written_by_a_binding_are_summed_in() {
    let r = Registry::new();
    let m = r.metric(MetricKind::Counter, MetricOptions::new("sharded_total", "")).unwrap();
    let series = m.series(&[] as &[&str]).unwrap();
    series.add(1.0).unwrap();
    let shard = series.shard().unwrap();
    // A binding writes plain f64s into its shard from its own thread.
    // SAFETY: the shard has one cell and only this thread writes it.
    unsafe { *shard.as_mut_ptr() += 41.0 };
    assert_eq!(series.value(), 42.0);
    assert!(r.gather_text().contains("sharded_total 42"));
    let g = r.metric(MetricKind::Gauge, MetricOptions::new("g", "")).unwrap();
    assert!(g.series(&[] as &[&str]).unwrap().shard().is_err(), "gauges have no shards");
}

#[test]
fn unregister_and_the_global_registry() {
    let r = Registry::new();
    r.counter(MetricOptions::new("gone_total", "")).unwrap();
    assert!(r.unregister("gone_total"));
    assert!(!r.unregister("gone_total"));
    assert!(r.get("gone_total").is_none());
    assert!(Registry::global().same(Registry::global()));
    assert!(!Registry::global().same(&r));
}
