//! RPC over real sockets (Unix domain sockets in a private temporary directory, and TCP): calls,
//! versions, auth, deadlines, cancellation, disconnects, reconnection, routing to connected peers,
//! streams with backpressure, events, bad frames and metrics.

mod support;
use support::wait_for;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use omnitron::ErrorCode;
use omnitron::metrics::Registry;
use omnitron::rpc::{CallOptions, Peer, PeerOptions, Service};
use omnitron::transport::Address;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn opts(name: &str, reg: &Registry) -> PeerOptions {
    let mut o = PeerOptions::new(name).token("s3cret");
    o.registry = reg.clone();
    o
}

struct Net {
    _dir: tempfile::TempDir,
    addr: Address,
    reg: Registry,
    server: Peer,
}

async fn net() -> Net {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let reg = Registry::new();
    let server = Peer::listen(&addr, opts("server", &reg)).await.unwrap();
    Net { _dir: dir, addr, reg, server }
}

fn payment(version: &str) -> Service {
    let v = version.to_string();
    Service::builder("payment", version)
        .unwrap()
        .method("charge", move |(amount,): (f64,)| {
            let v = v.clone();
            async move { Ok(format!("charged {amount} by {v}")) }
        })
        .method("fail", |(): ()| async move {
            Err::<(), _>(omnitron::Error::new(ErrorCode::InvalidArgument, "card declined"))
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn calls_pick_versions_by_exact_range_and_latest() {
    let n = net().await;
    n.server.expose(payment("1.0.0")).await.unwrap();
    n.server.expose(payment("1.2.0")).await.unwrap();
    n.server.expose(payment("2.0.0")).await.unwrap();
    let c = Peer::connect(&n.addr, opts("client", &n.reg)).await.unwrap();

    let r: String = c.call("payment@1.0.0", "charge", &(5.0,)).await.unwrap();
    assert_eq!(r, "charged 5 by 1.0.0");
    let r: String = c.call("payment@^1", "charge", &(5.0,)).await.unwrap();
    assert_eq!(r, "charged 5 by 1.2.0");
    let r: String = c.call("payment", "charge", &(5.0,)).await.unwrap();
    assert_eq!(r, "charged 5 by 2.0.0");

    let e = c.call::<_, String>("payment@^3", "charge", &(5.0,)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServiceNotFound);
    assert!(e.message().contains("1.0.0, 1.2.0, 2.0.0"), "{e}");
    let e = c.call::<_, String>("billing", "charge", &(5.0,)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServiceNotFound);
    assert!(e.message().contains("payment"), "{e}");
    let e = c.call::<_, String>("payment", "refund", &(5.0,)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::MethodNotFound);
    assert!(e.message().contains("charge, fail"), "{e}");
    let e = c.call::<_, ()>("payment", "fail", &()).await.unwrap_err();
    assert_eq!((e.code(), e.message()), (ErrorCode::InvalidArgument, "card declined"));
    let e = c.call::<_, String>("payment", "charge", &("not a number",)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    let e = c.call::<_, String>("payment@not-a-range!", "charge", &(1.0,)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidService);

    // Twice is an error; unexposing works.
    let e = n.server.expose(payment("1.0.0")).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::DuplicateService);
    assert!(n.server.unexpose("payment", "2.0.0").await.unwrap());
    let r: String = c.call("payment", "charge", &(1.0,)).await.unwrap();
    assert_eq!(r, "charged 1 by 1.2.0");

    // The interface, here and through the server.
    let info = c.describe("payment@^1").await.unwrap();
    assert_eq!(
        (info.version.as_str(), info.methods),
        ("1.2.0", vec!["charge".to_string(), "fail".to_string()])
    );
    assert_eq!(n.server.services().len(), 2);

    // Served calls are counted.
    let text = n.reg.gather_text();
    assert!(
        text.contains("omnitron_rpc_requests_total{service=\"payment@1.2.0\",method=\"charge\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("omnitron_rpc_errors_total{service=\"payment@2.0.0\",method=\"fail\",code=\"E001\"} 1")
    );
    n.server.shutdown().await;
}

#[tokio::test]
async fn auth_is_enforced_on_every_transport() {
    let n = net().await;
    for token in [Some("wrong"), None] {
        let mut o = PeerOptions::new("intruder");
        o.token = token.map(str::to_string);
        let e = Peer::connect(&n.addr, o).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::AuthFailed, "{e}");
    }
    // TCP needs a token to listen at all, and enforces it the same way.
    let e = Peer::listen(&"tcp://127.0.0.1:0".parse().unwrap(), PeerOptions::new("open")).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed);
    let tcp = Peer::listen(&"tcp://127.0.0.1:0".parse().unwrap(), opts("tcp", &n.reg)).await.unwrap();
    tcp.expose(payment("1.0.0")).await.unwrap();
    let addr = tcp.address().unwrap();
    let e = Peer::connect(&addr, PeerOptions::new("intruder").token("nope")).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed);
    let c = Peer::connect(&addr, opts("client", &n.reg)).await.unwrap();
    let r: String = c.call("payment", "charge", &(2.0,)).await.unwrap();
    assert_eq!(r, "charged 2 by 1.0.0");
    tcp.shutdown().await;
}

#[tokio::test]
async fn a_socket_directory_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let e =
        Peer::listen(&Address::Local(dir.path().join("x.sock")), PeerOptions::new("s")).await.unwrap_err();
    assert!(e.message().contains("open to other users"), "{e}");
    // A directory that does not exist is created private.
    let inner = dir.path().join("private");
    let p = Peer::listen(&Address::Local(inner.join("x.sock")), PeerOptions::new("s")).await.unwrap();
    assert_eq!(std::fs::metadata(&inner).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(inner.join("x.sock")).unwrap().permissions().mode() & 0o777, 0o600);
    p.shutdown().await;
}

#[tokio::test]
async fn many_calls_in_flight_answer_out_of_order() {
    let n = net().await;
    let svc = Service::builder("sleepy", "1.0.0")
        .unwrap()
        .method("nap", |(ms, tag): (u64, u32)| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(tag)
        })
        .build()
        .unwrap();
    n.server.expose(svc).await.unwrap();
    let c = Peer::connect(&n.addr, opts("client", &n.reg)).await.unwrap();
    let calls = (0..64u32).map(|i| {
        let c = c.clone();
        async move { c.call::<_, u32>("sleepy", "nap", &(u64::from(64 - i), i)).await.unwrap() }
    });
    let got: Vec<u32> = futures_join_all(calls).await;
    assert_eq!(got, (0..64).collect::<Vec<_>>());
}

async fn futures_join_all<F>(fs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn deadlines_and_cancellation_reach_the_handler() {
    let n = net().await;
    let cancelled = Arc::new(AtomicU32::new(0));
    let seen = cancelled.clone();
    let svc = Service::builder("slow", "1.0.0")
        .unwrap()
        .method_ctx("wait", move |(): (), ctx| {
            // A Rust handler is stopped by being dropped, with its token cancelled first (the
            // bindings hand that token to JavaScript and Python handlers as their signal).
            struct Stopped(Arc<AtomicU32>, omnitron::rpc::CallContext);
            impl Drop for Stopped {
                fn drop(&mut self) {
                    if self.1.cancel.is_cancelled() {
                        self.0.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            let guard = Stopped(seen.clone(), ctx);
            async move {
                let _guard = guard;
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            }
        })
        .build()
        .unwrap();
    n.server.expose(svc).await.unwrap();
    let c = Peer::connect(&n.addr, opts("client", &n.reg)).await.unwrap();

    let started = std::time::Instant::now();
    let o = CallOptions { deadline: Some(Duration::from_millis(100)), trace: None };
    let e = c.call_with::<_, ()>("slow", "wait", &(), o).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout);
    assert!(started.elapsed() < Duration::from_secs(10));
    wait_for(|| cancelled.load(Ordering::SeqCst) == 1).await;

    // A dropped call sends CANCEL.
    let call = tokio::spawn({
        let c = c.clone();
        async move { c.call::<_, ()>("slow", "wait", &()).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    call.abort();
    wait_for(|| cancelled.load(Ordering::SeqCst) == 2).await;
}

#[tokio::test]
async fn a_disconnect_fails_calls_at_once_and_clients_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let reg = Registry::new();
    let server = Peer::listen(&addr, opts("server", &reg)).await.unwrap();
    let svc = || {
        Service::builder("hang", "1.0.0")
            .unwrap()
            .method("forever", |(): ()| async move {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            })
            .method("ping", |(): ()| async move { Ok("pong") })
            .build()
            .unwrap()
    };
    server.expose(svc()).await.unwrap();
    let c = Peer::connect(&addr, opts("client", &reg)).await.unwrap();
    // The client hosts a service too: it must be registered again after the reconnect.
    let echo = Service::builder("echo", "1.0.0")
        .unwrap()
        .method("say", |(s,): (String,)| async move { Ok(s) })
        .build()
        .unwrap();
    c.expose(echo).await.unwrap();
    wait_for(|| server.services().len() == 2).await;

    let started = std::time::Instant::now();
    let call = tokio::spawn({
        let c = c.clone();
        async move { c.call::<_, ()>("hang", "forever", &()).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.shutdown().await;
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.code(), ErrorCode::PeerDisconnected, "{e}");
    assert!(started.elapsed() < Duration::from_secs(4), "failed at once, not at the 5 s deadline");

    // A new server on the same path: the client comes back by itself and re-registers.
    let server2 = Peer::listen(&addr, opts("server2", &reg)).await.unwrap();
    server2.expose(svc()).await.unwrap();
    let r: String = c
        .call_with("hang", "ping", &(), CallOptions { deadline: Some(Duration::from_secs(10)), trace: None })
        .await
        .unwrap();
    assert_eq!(r, "pong");
    wait_for(|| server2.services().iter().any(|s| s.name == "echo")).await;
    let r: String = server2.call("echo", "say", &("hi",)).await.unwrap();
    assert_eq!(r, "hi");
    server2.shutdown().await;
}

#[tokio::test]
async fn services_hosted_by_connected_peers_are_routed_and_go_when_they_go() {
    let n = net().await;
    let worker = Peer::connect(&n.addr, opts("worker", &n.reg)).await.unwrap();
    worker
        .expose(
            Service::builder("inventory", "1.0.0")
                .unwrap()
                .method_ctx("reserve", |(sku,): (String,), ctx| async move {
                    Ok(format!("{sku} reserved for {}", ctx.peer.name))
                })
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let caller = Peer::connect(&n.addr, opts("caller", &n.reg)).await.unwrap();
    wait_for(|| n.server.services().len() == 1).await;
    let r: String = caller.call("inventory@^1", "reserve", &("sku-1",)).await.unwrap();
    assert_eq!(r, "sku-1 reserved for server");
    let r: String = n.server.call("inventory", "reserve", &("sku-2",)).await.unwrap();
    assert_eq!(r, "sku-2 reserved for server");
    let e = caller.call::<_, String>("inventory", "nope", &()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::MethodNotFound);

    worker.shutdown().await;
    wait_for(|| n.server.services().is_empty()).await;
    let e = caller.call::<_, String>("inventory", "reserve", &("x",)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServiceNotFound);
}

#[tokio::test]
async fn streams_deliver_in_order_with_backpressure() {
    let n = net().await;
    let produced = Arc::new(AtomicU32::new(0));
    let p = produced.clone();
    let svc = Service::builder("ticker", "1.0.0")
        .unwrap()
        .stream("count", move |(to,): (u32,), sink| {
            let p = p.clone();
            async move {
                for i in 0..to {
                    sink.send(&i).await?;
                    p.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            }
        })
        .stream("broken", |(): (), sink| async move {
            sink.send(&1u32).await?;
            Err(omnitron::Error::new(ErrorCode::InvalidArgument, "ran dry"))
        })
        .build()
        .unwrap();
    n.server.expose(svc).await.unwrap();
    let c = Peer::connect(&n.addr, opts("client", &n.reg)).await.unwrap();

    let mut s = c.call_stream("ticker", "count", &(1000u32,)).await.unwrap();
    let first: u32 = s.next().await.unwrap().unwrap();
    assert_eq!(first, 0);
    // The consumer stops reading: the producer stops at the credit window, not at 1000.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ahead = produced.load(Ordering::SeqCst);
    assert!(ahead < 100, "producer ran {ahead} items ahead of a stalled consumer");
    let mut expected = 1;
    while let Some(v) = s.next::<u32>().await {
        assert_eq!(v.unwrap(), expected);
        expected += 1;
    }
    assert_eq!(expected, 1000);

    let mut s = c.call_stream("ticker", "broken", &()).await.unwrap();
    assert_eq!(s.next::<u32>().await.unwrap().unwrap(), 1);
    let e = s.next::<u32>().await.unwrap().unwrap_err();
    assert_eq!((e.code(), e.message()), (ErrorCode::InvalidArgument, "ran dry"));
    assert!(s.next::<u32>().await.is_none());

    // The same stream hosted here, called locally.
    let mut s = n.server.call_stream("ticker", "count", &(3u32,)).await.unwrap();
    let mut got = vec![];
    while let Some(v) = s.next::<u32>().await {
        got.push(v.unwrap());
    }
    assert_eq!(got, vec![0, 1, 2]);
    let text = n.reg.gather_text();
    assert!(text.contains("omnitron_rpc_stream_items_total{service=\"ticker@1.0.0\",method=\"count\"}"));
}

#[tokio::test]
async fn events_reach_every_matching_subscriber_in_every_process() {
    let n = net().await;
    let a = Peer::connect(&n.addr, opts("a", &n.reg)).await.unwrap();
    let b = Peer::connect(&n.addr, opts("b", &n.reg)).await.unwrap();
    let got = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
    let g = got.clone();
    a.subscribe("order.*", move |topic, v: u32| g.lock().push(format!("a {topic} {v}"))).await.unwrap();
    let g = got.clone();
    b.subscribe("order.#", move |topic, v: u32| g.lock().push(format!("b {topic} {v}"))).await.unwrap();
    let g = got.clone();
    n.server.subscribe("#", move |topic, v: u32| g.lock().push(format!("s {topic} {v}"))).await.unwrap();
    // Each subscription is in place once `subscribe` returns.
    a.publish("order.created", &1u32).await.unwrap();
    b.publish("order.item.added", &2u32).await.unwrap();
    n.server.publish("user.created", &3u32).await.unwrap();
    wait_for(|| got.lock().len() == 6).await;
    let mut seen = got.lock().clone();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            "a order.created 1",
            "b order.created 1",
            "b order.item.added 2",
            "s order.created 1",
            "s order.item.added 2",
            "s user.created 3"
        ]
    );
    assert!(a.publish("order.*", &1u32).await.is_err(), "wildcards are for patterns");
    assert!(a.subscribe_raw("order..x", |_, _| {}).await.is_err());
}

/// A raw connection that speaks the handshake, for sending bad frames.
async fn raw_client(addr: &Address) -> tokio::net::UnixStream {
    let Address::Local(path) = addr else { unreachable!() };
    let mut s = tokio::net::UnixStream::connect(path).await.unwrap();
    let mut hello = Vec::new();
    omnitron::rpc::Message::Hello {
        version: 1,
        peer: omnitron::rpc::PeerInfo::this_process("raw", "rust"),
        token: Some("s3cret".into()),
    }
    .encode_frame(&mut hello);
    s.write_all(&hello).await.unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut body = vec![0; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await.unwrap();
    s
}

async fn read_to_end(mut s: tokio::net::UnixStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await.unwrap().unwrap();
    out
}

#[tokio::test]
async fn bad_frames_close_that_connection_and_the_server_goes_on() {
    let n = net().await;
    n.server.expose(payment("1.0.0")).await.unwrap();
    let good = Peer::connect(&n.addr, opts("good", &n.reg)).await.unwrap();

    // Garbage: a frame that is not a message.
    let mut s = raw_client(&n.addr).await;
    s.write_all(&[0, 0, 0, 3, 0xc1, 0xc1, 0xc1]).await.unwrap();
    let answer = read_to_end(s).await;
    assert!(String::from_utf8_lossy(&answer).contains("RPC005"));

    // A length prefix over the maximum: refused from the prefix alone.
    let mut s = raw_client(&n.addr).await;
    s.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    let answer = read_to_end(s).await;
    assert!(String::from_utf8_lossy(&answer).contains("RPC006"));

    // A frame cut short by the peer going away.
    let mut s = raw_client(&n.addr).await;
    s.write_all(&[0, 0, 0, 100, 0x93]).await.unwrap();
    drop(s);

    // A connection that never says HELLO is refused.
    let Address::Local(path) = &n.addr else { unreachable!() };
    let mut s = tokio::net::UnixStream::connect(path).await.unwrap();
    s.write_all(&[0, 0, 0, 3, 0x92, 0x05, 0x01]).await.unwrap();
    let answer = read_to_end(s).await;
    assert!(String::from_utf8_lossy(&answer).contains("HELLO"));

    let r: String = good.call("payment", "charge", &(1.0,)).await.unwrap();
    assert_eq!(r, "charged 1 by 1.0.0");
}

#[tokio::test]
async fn a_peer_frame_limit_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/small.sock"));
    let reg = Registry::new();
    let mut o = opts("server", &reg);
    o.max_frame = 1024;
    let server = Peer::listen(&addr, o).await.unwrap();
    server
        .expose(
            Service::builder("echo", "1.0.0")
                .unwrap()
                .method("say", |(s,): (String,)| async move { Ok(s.len()) })
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let c = Peer::connect(&addr, opts("client", &reg)).await.unwrap();
    let n: usize = c.call("echo", "say", &("x".repeat(100),)).await.unwrap();
    assert_eq!(n, 100);
    let e = c.call::<_, usize>("echo", "say", &("x".repeat(5000),)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::PeerDisconnected, "{e}");
}

#[tokio::test]
async fn a_caller_that_does_not_read_its_answers_is_held_back_and_loses_none() {
    let n = net().await;
    // Each answer is 1 MiB: 24 of them are six times the connection's 4 MiB outgoing limit.
    let big = Service::builder("big", "1.0.0")
        .unwrap()
        .raw("get", |_args: bytes::Bytes, _ctx| {
            Box::pin(async move {
                let mut v = vec![0xc6, 0, 0x10, 0, 0]; // bin32 of 1 MiB
                v.resize(5 + (1 << 20), 7);
                Ok(bytes::Bytes::from(v))
            })
        })
        .build()
        .unwrap();
    n.server.expose(big).await.unwrap();
    n.server.expose(payment("1.0.0")).await.unwrap();
    let mut s = raw_client(&n.addr).await;
    let mut out = Vec::new();
    for id in 1..=24u64 {
        omnitron::rpc::Request::encode_frame(&mut out, id, "big@1.0.0", "get", &[0x90], 5000, None, false);
    }
    s.write_all(&out).await.unwrap();
    // While that caller reads nothing, the server serves the others.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let good = Peer::connect(&n.addr, opts("good", &n.reg)).await.unwrap();
    let r: String = good.call("payment", "charge", &(2.0,)).await.unwrap();
    assert_eq!(r, "charged 2 by 1.0.0");
    // Then it reads: every answer arrives, whole.
    let mut ids = Vec::new();
    while ids.len() < 24 {
        let mut len = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut len)).await.unwrap().unwrap();
        let mut body = vec![0; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).await.unwrap();
        match omnitron::rpc::Message::decode(bytes::Bytes::from(body)).unwrap() {
            omnitron::rpc::Message::Result { id, value } => {
                assert_eq!(value.len(), 5 + (1 << 20));
                ids.push(id);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    ids.sort();
    assert_eq!(ids, (1..=24).collect::<Vec<u64>>());
}

#[test]
fn method_names_starting_with_a_dollar_are_the_protocols() {
    let ok = |_: (), _| async { Ok(1u32) };
    let e = Service::builder("svc", "1.0.0").unwrap().method_ctx("$info", ok).build().unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(e.message().contains("'$info' is reserved"), "{}", e.message());
    let e = Service::builder("svc", "1.0.0").unwrap().method_ctx("", ok).build().unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    // The protocol's own `$batch` (a pool's map) may be registered.
    assert!(Service::builder("svc", "1.0.0").unwrap().method_ctx("$batch", ok).build().is_ok());
}
