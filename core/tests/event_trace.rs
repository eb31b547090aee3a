//! An event carries its publisher's trace context across processes' connections: a subscriber's
//! handler, behind a routing server, runs in it; an event published outside any trace carries none.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use omnitron::rpc::{Peer, PeerOptions};
use omnitron::telemetry::{self, TraceContext};
use omnitron::transport::Address;

/// What each subscriber saw: who and which topic, and the traceparent its handler ran in.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_runs_in_the_publishers_trace() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let hub = Peer::listen(&addr, PeerOptions::new("hub")).await.unwrap();
    let subscriber = Peer::connect(&addr, PeerOptions::new("subscriber")).await.unwrap();
    let publisher = Peer::connect(&addr, PeerOptions::new("publisher")).await.unwrap();
    let seen: Seen = Arc::default();
    for (peer, name) in [(&subscriber, "remote"), (&hub, "server")] {
        let s = seen.clone();
        peer.subscribe_raw("order.*", move |topic, _| {
            s.lock()
                .unwrap()
                .push((format!("{name} {topic}"), telemetry::current().map(|c| c.traceparent())));
        })
        .await
        .unwrap();
    }
    let t = TraceContext::root(true);
    telemetry::in_context(t.clone(), publisher.publish("order.placed", &42)).await.unwrap();
    publisher.publish("order.cancelled", &43).await.unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().len() < 4 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("remote order.cancelled".to_string(), None),
            ("remote order.placed".to_string(), Some(t.traceparent())),
            ("server order.cancelled".to_string(), None),
            ("server order.placed".to_string(), Some(t.traceparent())),
        ]
    );
    for p in [publisher, subscriber, hub] {
        p.shutdown().await;
    }
}
