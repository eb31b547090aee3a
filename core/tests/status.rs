//! The status page over real processes and real HTTP: each child's `$status` report (metrics,
//! latest spans) reaches `/api/status` with the supervisor's view of it; the supervisor's own
//! process reports its workflow runs, stage by stage, and their trace; a child that does not
//! answer costs the page one timeout, not an answer.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use omnitron::metrics::Registry;
use omnitron::process::{ChildOptions, Strategy, Supervisor, SupervisorOptions};
use omnitron::rpc::CallOptions;
use omnitron::status::{StatusOptions, StatusServer};
use omnitron::telemetry::{self, Exporter, Span, SpanKind, TraceConfig};
use omnitron::workflow::{Engine, Stage, Workflow};
use serde_json::{Value, json};
use support::worker;

#[test]
fn role() {
    support::run_role();
}

/// Tracing kept for the page only: no collector, the latest 256 spans.
fn tracing_on() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut cfg = TraceConfig::propagate_only("status-test");
        cfg.exporter = Exporter::None;
        cfg.keep_recent = 256;
        telemetry::install(cfg, "rust").unwrap();
    });
}

fn get(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (head, body) =
        out.split_once("\r\n\r\n").map(|(h, b)| (h.to_string(), b.to_string())).unwrap_or_default();
    (status, head.to_ascii_lowercase(), body)
}

fn status_json(addr: std::net::SocketAddr) -> Value {
    let (code, head, body) = get(addr, "GET", "/api/status");
    assert_eq!(code, 200, "{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    serde_json::from_str(&body).unwrap()
}

/// A workflow whose second stage fails, so that the first is compensated.
fn order_workflow() -> Workflow {
    Workflow::builder("order")
        .stage(
            Stage::new("reserve", |_: Value, ctx| async move {
                // A Rust stage's future runs in its attempt's span.
                let cur = telemetry::current().map(|c| c.span_id);
                assert_eq!(cur, ctx.trace().map(|c| c.span_id));
                Ok::<_, String>(json!({ "held": true }))
            })
            .compensate(|_: Value, _| async move { Ok::<_, String>(()) }),
        )
        .stage(
            Stage::new("charge", |_: Value, _| async move { Err::<Value, _>("card declined") })
                .depends_on("reserve"),
        )
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_children_reports_workflow_runs_and_traces() {
    tracing_on();

    let mut o = SupervisorOptions::new("status-demo").strategy(Strategy::OneForOne);
    o.registry = Registry::new();
    let sup = Supervisor::new(o);
    let spec = worker("echo").env("OTEL_TRACES_EXPORTER", "none").env("OMNITRON_TRACE_RECENT", "32");
    sup.add_child(ChildOptions::new(spec).instances(2)).unwrap();
    sup.start().await.unwrap();
    let page = StatusServer::start(sup.clone(), StatusOptions::new("status-demo")).unwrap();
    let addr = page.local_addr();
    assert!(page.url().starts_with("http://127.0.0.1:"));

    // A traced call to the first child: its server span lands in that child's report.
    let procs = sup.processes().await;
    let child = procs[0].1.clone().unwrap();
    let root = Span::start("test-root", SpanKind::Internal, None);
    let trace_id = root.context().trace_id_hex();
    let opts = CallOptions {
        deadline: Some(Duration::from_secs(5)),
        trace: Some(telemetry::to_wire(root.context())),
    };
    let args = omnitron::rpc::encode_args(&("hi",)).unwrap();
    child.call_raw("echo@1.0.0", "echo", args, opts).await.unwrap();
    root.end();

    // A workflow run in this process, compensated.
    let engine = Engine::with_registry(
        std::sync::Arc::new(omnitron::workflow::MemoryJournal::new()),
        &Registry::new(),
    );
    engine.register(order_workflow()).unwrap();
    assert!(engine.run("order", json!({ "sku": "x" })).await.is_err());
    assert!(telemetry::flush(Duration::from_secs(5)));

    let mut s = Value::Null;
    // The child exports its spans each second: ask until its span is there.
    for _ in 0..100 {
        s = status_json(addr);
        let spans = s["processes"][0]["report"]["spans"].as_array().cloned().unwrap_or_default();
        if spans.iter().any(|x| x["trace_id"] == trace_id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s["app"], "status-demo");
    let procs = s["processes"].as_array().unwrap();
    assert_eq!(procs.len(), 2);
    for (i, p) in procs.iter().enumerate() {
        assert_eq!(p["name"], "echo");
        assert_eq!(p["index"], i);
        assert_eq!(p["state"], "running");
        assert_eq!(p["report"]["pid"], p["pid"], "each report comes from its own process");
        assert_eq!(p["services"][0]["id"], "echo@1.0.0");
        assert!(p["services"][0]["methods"].as_array().unwrap().iter().any(|m| m == "echo"));
        assert!(p["rss_bytes"].as_u64().unwrap() > 1_000_000, "{p}");
        assert!(
            p["report"]["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "omnitron_rpc_requests_total")
        );
    }
    let served = procs[0]["report"]["spans"].as_array().unwrap();
    let span =
        served.iter().find(|x| x["trace_id"] == trace_id).expect("the child's span of the traced call");
    assert_eq!(span["kind"], "server");
    assert_eq!(span["name"], "echo/echo");

    // The supervisor's process: its workflow run, stage by stage, and the run's trace.
    let own = &s["supervisor"]["report"];
    let wf = &own["workflows"][0];
    assert_eq!(wf["workflows"], json!(["order"]));
    assert_eq!(wf["states"]["compensated"], 1);
    let run = &wf["runs"][0];
    assert_eq!(run["state"], "compensated");
    assert_eq!(run["input"], Value::Null, "the page is not given the run's data");
    let stages: Vec<(&str, &str, u64)> = run["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            (
                st["name"].as_str().unwrap(),
                st["state"].as_str().unwrap(),
                st["compensation_attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(stages, [("reserve", "compensated", 1), ("charge", "failed", 0)]);
    let spans = own["spans"].as_array().unwrap();
    let named = |n: &str| {
        spans.iter().find(|x| x["name"] == n).unwrap_or_else(|| panic!("no span '{n}' in {spans:?}"))
    };
    let run_span = named("workflow order");
    assert_eq!(run_span["status"], "error");
    for (name, status) in
        [("stage reserve", "unset"), ("stage charge", "error"), ("compensate reserve", "unset")]
    {
        let st = named(name);
        assert_eq!(st["status"], status, "{name}");
        assert_eq!(st["trace_id"], run_span["trace_id"], "{name} is in the run's trace");
        assert_eq!(st["parent_span_id"], run_span["span_id"], "{name} is the run's child");
    }

    // The page and its script, and what it refuses.
    let (code, head, body) = get(addr, "GET", "/");
    assert_eq!(code, 200);
    assert!(head.contains("text/html") && head.contains("content-security-policy"), "{head}");
    assert!(body.contains("<script src=\"/status.js\"></script>"));
    let (code, head, body) = get(addr, "GET", "/status.js");
    assert_eq!(code, 200);
    assert!(head.contains("text/javascript") && body.contains("/api/status"));
    assert_eq!(get(addr, "GET", "/nope").0, 404);
    assert_eq!(get(addr, "POST", "/api/status").0, 405);

    // A stopped child does not answer its report: the page answers anyway, saying so.
    let pid = procs[1]["pid"].as_u64().unwrap() as i32;
    // SAFETY: signals to our own child.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    // Stopped once every thread has stopped (the state letter in /proc turns to T).
    let stopped = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('T')))
    };
    for _ in 0..500 {
        if stopped() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(stopped());
    let t0 = std::time::Instant::now();
    let s = status_json(addr);
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(s["processes"][1]["report"], Value::Null);
    assert!(s["processes"][1]["report_error"].is_string(), "{}", s["processes"][1]);
    assert!(s["processes"][0]["report"]["pid"].is_u64(), "the other child still reports");

    page.stop().await;
    sup.stop().await;
}

/// A run taken up from the journal (after a crash, here written by hand) starts a trace of its
/// own, linked to the one the run started in; the ring of latest spans stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_links_to_its_first_trace() {
    use omnitron::workflow::journal::{Entry, Event, Journal};
    use omnitron::workflow::{MemoryJournal, RunState};
    tracing_on();
    let first = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let journal = std::sync::Arc::new(MemoryJournal::new());
    let id: std::sync::Arc<str> = "resumed-1".into();
    let ev = |seq, event| Entry { run_id: id.clone(), seq, at_ms: 1, event };
    let entries = vec![
        ev(
            1,
            Event::RunCreated {
                workflow: "mem".into(),
                input: json!(1),
                stages: vec!["a".into()],
                trace: Some(first.into()),
            },
        ),
        ev(2, Event::RunState { state: RunState::Running, error: None }),
        ev(3, Event::StageStarted { stage: "a".into(), attempt: 1 }),
    ];
    journal.append(entries.into()).await.unwrap();
    let e = Engine::with_registry(journal, &Registry::new());
    let wf = Workflow::builder("mem")
        .stage(Stage::new("a", |i: Value, _| async move { Ok::<_, String>(i) }))
        .build()
        .unwrap();
    e.register(wf).unwrap();
    assert_eq!(e.recover().await.unwrap().resumed, ["resumed-1"]);
    e.wait("resumed-1").await.unwrap();
    assert!(telemetry::flush(Duration::from_secs(5)));
    let spans = telemetry::recent_spans();
    let run = spans
        .iter()
        .find(|s| {
            s.name == "workflow mem (resumed)"
                && s.attributes.iter().any(|(k, v)| k == "workflow.run_id" && v == "resumed-1")
        })
        .expect("the resumed run's span");
    assert_eq!(run.links, [first]);
    assert_ne!(run.trace_id, "0af7651916cd43dd8448eb211c80319c", "a trace of its own");
    assert!(run.parent_span_id.is_empty());
    let stage = spans.iter().find(|s| s.name == "stage a" && s.trace_id == run.trace_id).expect("its stage");
    assert_eq!(stage.parent_span_id, run.span_id);
    assert!(spans.len() <= 256, "the ring keeps at most what it was asked to");
}

/// A restart is a span of the supervisor's, with the child's start inside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_is_a_span_with_the_start_inside() {
    tracing_on();
    let mut o = SupervisorOptions::new("restart-demo").strategy(Strategy::OneForOne);
    o.registry = Registry::new();
    o.backoff.initial = Duration::from_millis(10);
    let sup = Supervisor::new(o);
    sup.add_child(ChildOptions::new(worker("victim"))).unwrap();
    sup.start().await.unwrap();
    let pid = sup.children().await[0].pid.unwrap();
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let mut restarted = false;
    for _ in 0..500 {
        let c = &sup.children().await[0];
        if c.restarts == 1 && c.pid.is_some_and(|p| p != pid) {
            restarted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(restarted);
    assert!(telemetry::flush(Duration::from_secs(5)));
    let spans = telemetry::recent_spans();
    let restart = spans.iter().find(|s| s.name == "restart victim").expect("the restart's span");
    let attr = |s: &telemetry::RecentSpan, k: &str| {
        s.attributes.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    assert_eq!(attr(restart, "omnitron.restart.attempt").as_deref(), Some("1"));
    assert!(attr(restart, "omnitron.restart.reason").unwrap().contains("signal 9"), "{restart:?}");
    assert_eq!(restart.status, "unset");
    let start = spans.iter().find(|s| s.name == "start victim[0]").expect("the start inside it");
    assert_eq!(start.parent_span_id, restart.span_id);
    let new_pid = sup.children().await[0].pid.unwrap();
    assert_eq!(attr(start, "process.pid"), Some(new_pid.to_string()));
    sup.stop().await;
}

/// Adding a job is a PRODUCER span under the caller's; each attempt a CONSUMER span under it,
/// current while the handler runs; a failed attempt's span says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_a_publish_span_and_each_attempt_a_process_span() {
    use omnitron::queue::{AddOptions, Queue, QueueOptions, SqliteStore, Worker, WorkerOptions};
    tracing_on();
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(dir.path().join("q.db")).unwrap());
    let q = Queue::open(store, "mail", QueueOptions::default()).await.unwrap();
    let checkout = Span::start("checkout", SpanKind::Internal, None);
    let ctx = checkout.context().clone();
    let opts = AddOptions {
        attempts: Some(2),
        backoff: Some(omnitron::queue::Backoff::Fixed { delay_ms: 10 }),
        ..Default::default()
    };
    telemetry::in_context(ctx.clone(), q.add("welcome", &json!({ "to": "ada" }), &opts)).await.unwrap();
    checkout.end();
    let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let s = seen.clone();
    let o = WorkerOptions { poll_interval: Duration::from_millis(10), ..Default::default() };
    let w = Worker::start(&q, o, move |job| {
        let s = s.clone();
        async move {
            s.lock().push((job.attempt(), telemetry::current().map(|c| c.span_id), job.traceparent()));
            if job.attempt() == 1 {
                Err(omnitron::Error::new(omnitron::ErrorCode::JobFailed, "smtp down"))
            } else {
                Ok(())
            }
        }
    })
    .unwrap();
    for _ in 0..500 {
        if seen.lock().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    w.close(Duration::from_secs(5)).await;
    assert!(telemetry::flush(Duration::from_secs(5)));
    let spans = telemetry::recent_spans();
    let in_trace: Vec<_> = spans.iter().filter(|s| s.trace_id == ctx.trace_id_hex()).collect();
    let publish = in_trace.iter().find(|s| s.name == "mail publish").expect("the add's span");
    assert_eq!(
        (publish.kind.as_str(), publish.parent_span_id.as_str()),
        ("producer", format!("{:016x}", ctx.span_id).as_str())
    );
    let process: Vec<_> = in_trace.iter().filter(|s| s.name == "mail process").collect();
    assert_eq!(process.len(), 2, "one span per attempt: {in_trace:?}");
    for p in &process {
        assert_eq!((p.kind.as_str(), p.parent_span_id.as_str()), ("consumer", publish.span_id.as_str()));
    }
    let attempt = |n: &str| {
        process
            .iter()
            .find(|p| p.attributes.iter().any(|(k, v)| k == "omnitron.job.attempt" && v == n))
            .unwrap()
    };
    assert_eq!(attempt("1").status, "error");
    assert_eq!(attempt("1").error.as_deref(), Some("smtp down"));
    assert_eq!(attempt("2").status, "unset");
    let seen = seen.lock();
    assert_eq!(seen.len(), 2);
    for (n, current, tp) in seen.iter() {
        let span = attempt(&n.to_string());
        assert_eq!(
            current.map(|id| format!("{id:016x}")).as_deref(),
            Some(span.span_id.as_str()),
            "the handler runs in its attempt's span"
        );
        assert!(tp.as_deref().is_some_and(|t| t.contains(&span.span_id)));
    }
}
