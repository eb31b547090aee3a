//! The structured logger as a program sees it: JSON lines with the process, the module, the call
//! and its trace; the filter per module, changed in code and through the watched control file;
//! the engine's own `tracing` events; the line each served call writes at debug, over a real
//! socket between two peers. One test: the logger is one per process.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use omnitron::log::{self, Format, Level, Record};
use omnitron::rpc::{Peer, PeerOptions, Service};
use omnitron::telemetry::{self, TraceContext};
use omnitron::transport::Address;
use serde_json::Value;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    /// The lines written since the last look, parsed.
    fn take(&self) -> Vec<Value> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logger_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("level");
    std::fs::write(&control, "warn\n").unwrap();
    // SAFETY: set before any thread of this test reads the environment.
    unsafe {
        std::env::set_var("OMNITRON_LOG_CONTROL", &control);
        std::env::set_var("OMNITRON_CHILD_NAME", "orders");
        std::env::set_var("OMNITRON_LOG", "debug");
    }
    let buf = Buf::default();
    log::set_writer(Box::new(buf.clone()));
    log::set_format(Format::Json);
    log::init_from_env("ignored").unwrap();
    // The control file, read at start, wins over OMNITRON_LOG.
    assert_eq!(log::filter(), "warn");

    // Records: pino's shape, fields before the message, the current trace's ids.
    let t =
        TraceContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    telemetry::with_context(Some(t.clone()), || {
        let mut r = Record::new(Level::Error, "orders.payment", "card declined");
        r.fields = Some(r#"{"orderId":42}"#);
        log::write(&r);
        log::write(&Record::new(Level::Info, "orders.payment", "not written at warn"));
    });
    let lines = buf.take();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let l = &lines[0];
    assert_eq!(l["level"], 50);
    assert_eq!(l["name"], "orders");
    assert_eq!(l["pid"], std::process::id());
    assert_eq!(l["module"], "orders.payment");
    assert_eq!(l["orderId"], 42);
    assert_eq!(l["msg"], "card declined");
    assert_eq!(l["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(l["span_id"], "00f067aa0ba902b7");
    assert!(l["time"].as_u64().unwrap() > 1_700_000_000_000);

    // Fields a door hands over must be one object.
    let mut bad = Record::new(Level::Error, "x", "m");
    bad.fields = Some("[1]");
    assert!(log::write_checked(&bad).is_err());
    bad.fields = Some("{\"a\":");
    assert!(log::write_checked(&bad).is_err());
    assert!(buf.take().is_empty());

    // Per module, in code, without touching the rest.
    log::set_level("orders", "debug").unwrap();
    assert!(log::enabled(Level::Debug, "orders.payment"));
    assert!(!log::enabled(Level::Info, "rpc"));
    assert!(log::set_level("orders", "loud").is_err());
    for bad in ["a,b", "a=b", "a b", "::x", "a..b", "x."] {
        let e = log::set_level(bad, "debug").unwrap_err();
        assert!(e.message().contains("is not a module name"), "{bad}: {e}");
    }
    assert!(log::set_filter("info,=x").is_err());
    assert_eq!(log::filter(), "warn,orders=debug", "a bad filter changes nothing");

    // From outside: the control file is watched.
    let before = log::generation();
    std::fs::write(&control, "info,omnitron.rpc=debug").unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while log::generation() == before && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(log::filter(), "info,omnitron.rpc=debug");
    // A bad one is reported, and the filter kept.
    std::fs::write(&control, "info,rpc=shouting").unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    let mut report = Vec::new();
    while report.is_empty() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
        report = buf.take();
    }
    assert_eq!(report[0]["level"], 50);
    assert!(report[0]["msg"].as_str().unwrap().contains("'shouting' is not a level"), "{report:?}");
    assert_eq!(log::filter(), "info,omnitron.rpc=debug");

    // The engine's own `tracing` events.
    assert!(log::install_bridge());
    tracing::warn!(target: "omnitron::process::child", pid = 7_u64, name = "inventory", "restarting");
    tracing::debug!(target: "omnitron::process::child", "not written at info");
    let lines = buf.take();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["module"], "omnitron.process.child");
    assert_eq!(lines[0]["msg"], "restarting");
    assert_eq!(lines[0]["pid"], 7, "the event's own fields follow the standard ones");
    assert_eq!(lines[0]["name"], "inventory");

    // Each served call writes a line at debug with its service, method, outcome and trace; a
    // handler's own records name its call.
    let sock = dir.path().join("private/rpc.sock");
    let server = Peer::listen(&Address::Local(sock.clone()), PeerOptions::new("server")).await.unwrap();
    let svc = Service::builder("inventory", "1.0.0")
        .unwrap()
        .method("reserve", |(sku,): (String,)| async move {
            log::write(&Record::new(Level::Warn, "inventory", &format!("reserving {sku}")));
            if sku.is_empty() {
                return Err(omnitron::Error::invalid_argument("no sku"));
            }
            Ok(sku.len())
        })
        .build()
        .unwrap();
    server.expose(svc).await.unwrap();
    let client = Peer::connect(&Address::Local(sock), PeerOptions::new("client")).await.unwrap();
    let caller = TraceContext::root(true);
    let n: usize =
        telemetry::in_context(caller.clone(), client.call("inventory@1.0.0", "reserve", &("a-1",)))
            .await
            .unwrap();
    assert_eq!(n, 3);
    let failed = client.call::<_, usize>("inventory@1.0.0", "reserve", &("",)).await;
    assert!(failed.is_err());
    let lines = buf.take();
    let mine: Vec<&Value> = lines.iter().filter(|l| l["module"] == "inventory").collect();
    assert_eq!(mine.len(), 2, "{lines:?}");
    assert_eq!(mine[0]["service"], "inventory");
    assert_eq!(mine[0]["method"], "reserve");
    assert_eq!(mine[0]["trace_id"], format!("{:032x}", caller.trace_id));
    let calls: Vec<&Value> = lines.iter().filter(|l| l["module"] == "omnitron.rpc").collect();
    assert_eq!(calls.len(), 2, "{lines:?}");
    assert_eq!(calls[0]["level"], 20);
    assert_eq!(calls[0]["outcome"], "completed");
    assert_eq!(calls[0]["service"], "inventory");
    assert_eq!(
        calls[0]["trace_id"],
        format!("{:032x}", caller.trace_id),
        "the caller's trace is the correlation id"
    );
    assert!(calls[0]["duration_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(calls[1]["outcome"], "failed");
    assert_eq!(calls[1]["error"]["code"], "E001");
    assert!(calls[1]["msg"].as_str().unwrap().starts_with("inventory/reserve failed in "));

    // Off for a module: nothing from it, not even the per-call line.
    log::set_filter("info").unwrap();
    let _: usize = client.call("inventory@1.0.0", "reserve", &("b",)).await.unwrap();
    assert!(buf.take().iter().all(|l| l["module"] != "omnitron.rpc"));
    client.shutdown().await;
    server.shutdown().await;
}
