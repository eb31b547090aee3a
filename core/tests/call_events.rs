//! The events each served call publishes when `OMNITRON_CALL_EVENTS` is on (spec 7.1), as a
//! subscriber in another peer sees them over a real socket: started, then completed or failed,
//! in order, with the duration, the error and the call's trace id. Its own process: the variable
//! is read once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use omnitron::rpc::{Peer, PeerOptions, Service};
use omnitron::telemetry::{self, TraceContext};
use omnitron::transport::Address;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_calls_publish_started_then_completed_or_failed() {
    // SAFETY: set before any thread of this test reads the environment.
    unsafe { std::env::set_var("OMNITRON_CALL_EVENTS", "1") };
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let hub = Peer::listen(&addr, PeerOptions::new("hub")).await.unwrap();
    let host = Peer::connect(&addr, PeerOptions::new("inventory")).await.unwrap();
    let svc = Service::builder("inventory", "1.0.0")
        .unwrap()
        .method("reserve", |(sku,): (String,)| async move {
            if sku.is_empty() {
                return Err(omnitron::Error::invalid_argument("no sku"));
            }
            Ok(sku.len())
        })
        .build()
        .unwrap();
    host.expose(svc).await.unwrap();
    let watcher = Peer::connect(&addr, PeerOptions::new("watcher")).await.unwrap();
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let s = seen.clone();
    watcher
        .subscribe_raw("inventory.#", move |topic, payload| {
            let v: Value = rmp_serde::from_slice(payload).unwrap();
            s.lock().unwrap().push((topic.to_string(), v));
        })
        .await
        .unwrap();
    let client = Peer::connect(&addr, PeerOptions::new("client")).await.unwrap();
    for _ in 0..500 {
        if hub.services().iter().any(|s| s.name == "inventory") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let caller = TraceContext::root(true);
    let n: usize = telemetry::in_context(caller.clone(), client.call("inventory@^1", "reserve", &("a-1",)))
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert!(client.call::<_, usize>("inventory@^1", "reserve", &("",)).await.is_err());

    let until = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().len() < 4 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = seen.lock().unwrap().clone();
    let topics: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        topics,
        [
            "inventory.reserve.started",
            "inventory.reserve.completed",
            "inventory.reserve.started",
            "inventory.reserve.failed"
        ]
    );
    let trace_id = format!("{:032x}", caller.trace_id);
    assert_eq!(seen[0].1["service"], "inventory");
    assert_eq!(seen[0].1["method"], "reserve");
    assert_eq!(seen[0].1["traceId"], trace_id.as_str());
    assert!(seen[1].1["durationMs"].as_f64().unwrap() >= 0.0);
    assert_eq!(seen[1].1["traceId"], trace_id.as_str());
    assert_eq!(seen[3].1["error"]["code"], "E001");
    assert_eq!(seen[3].1["error"]["message"], "no sku");
    for p in [client, watcher, host, hub] {
        p.shutdown().await;
    }
}
