//! Events and subscriptions over real sockets: a subscription is active when `subscribe` returns
//! (checked against events another process publishes at once), what subscribing does while the
//! peer reconnects, a SUBSCRIBE that reuses an id, and services without methods or versions.

mod support;
use support::wait_for;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use omnitron::ErrorCode;
use omnitron::metrics::Registry;
use omnitron::rpc::{DEFAULT_VERSION, Message, Peer, PeerInfo, PeerOptions, Service, ServiceInfo, parse_id};
use omnitron::transport::Address;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROLE: &str = "OMNITRON_EVENTS_ROLE";

fn opts(name: &str) -> PeerOptions {
    let mut o = PeerOptions::new(name).token("s3cret");
    o.registry = Registry::new();
    o
}

/// The child side of `a_subscription_is_active_when_subscribe_returns`: a hub listening at the
/// address in argv's last word, which publishes each topic read from stdin (payload: the line
/// number) and says `ready` first.
#[test]
fn role() {
    if std::env::var(ROLE).as_deref() != Ok("hub") {
        return;
    }
    let addr: Address = std::env::var("OMNITRON_EVENTS_ADDR").unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let hub = rt.block_on(Peer::listen(&addr, opts("hub"))).unwrap();
    println!("ready");
    for (n, topic) in std::io::stdin().lock().lines().enumerate() {
        let topic = topic.unwrap();
        rt.block_on(hub.publish(topic.trim(), &(n as u32))).unwrap();
    }
    std::process::exit(0);
}

/// A hub in another process, publishing what it is told on stdin.
struct Hub {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    addr: Address,
    _dir: tempfile::TempDir,
}

impl Hub {
    fn start() -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let addr = Address::Local(dir.path().join("private/rpc.sock"));
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["role", "--exact", "--nocapture", "--test-threads=1", "-q"])
            .env(ROLE, "hub")
            .env("OMNITRON_EVENTS_ADDR", addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while line.trim() != "ready" {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "the hub exited before it was ready");
        }
        let stdin = child.stdin.take().unwrap();
        Hub { child, stdin, addr, _dir: dir }
    }

    fn publish(&mut self, topic: &str) {
        writeln!(self.stdin, "{topic}").unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_is_active_when_subscribe_returns() {
    // The publisher is told through a pipe, not through this peer's connection: nothing but
    // `subscribe` itself can have put the subscription in place before the event.
    let mut hub = Hub::start();
    let peer = Peer::connect(&hub.addr, opts("subscriber")).await.unwrap();
    let got = Arc::new(Mutex::new(Vec::<String>::new()));
    for i in 0..200 {
        let topic = format!("race.{i}");
        let g = got.clone();
        let id = peer.subscribe("race.*", move |t, _n: u32| g.lock().push(t.to_string())).await.unwrap();
        hub.publish(&topic);
        let seen = || got.lock().contains(&topic);
        for _ in 0..500 {
            if seen() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(seen(), "round {i}: the event published right after subscribe returned was lost");
        assert!(peer.unsubscribe(id).await);
    }
    peer.shutdown().await;
}

#[tokio::test]
async fn subscribing_while_reconnecting_waits_for_the_connection_or_fails_and_withdraws() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let server = Peer::listen(&addr, opts("server")).await.unwrap();
    let mut o = opts("client");
    o.default_deadline = Duration::from_millis(400);
    let client = Peer::connect(&addr, o).await.unwrap();
    server.shutdown().await;
    wait_for(|| !client.is_connected()).await;

    // No server within the deadline: refused, and the subscription is not kept.
    let got = Arc::new(Mutex::new(Vec::<u32>::new()));
    let g = got.clone();
    let e = client.subscribe("late.*", move |_, n: u32| g.lock().push(n)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotConnected, "{e}");
    assert!(e.message().contains("late.*"), "{e}");

    // The server comes back while a subscription waits: it returns once the new server has it.
    let _ = std::fs::remove_file(dir.path().join("private/rpc.sock"));
    let waiting = tokio::spawn({
        let client = client.clone();
        let g = got.clone();
        async move { client.subscribe("back.*", move |_, n: u32| g.lock().push(n)).await }
    });
    let server = Peer::listen(&addr, opts("server")).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap();
    r.unwrap();
    server.publish("late.x", &1u32).await.unwrap();
    server.publish("back.x", &2u32).await.unwrap();
    wait_for(|| !got.lock().is_empty()).await;
    // The withdrawn subscription was not announced to the new server.
    client.call::<_, Vec<ServiceInfo>>("$registry", "list", &()).await.unwrap();
    assert_eq!(*got.lock(), vec![2]);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_listening_peer_subscribes_at_once_and_bad_patterns_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let server = Peer::listen(&addr, opts("server")).await.unwrap();
    let got = Arc::new(Mutex::new(Vec::<u32>::new()));
    let g = got.clone();
    server.subscribe("a.#", move |_, n: u32| g.lock().push(n)).await.unwrap();
    server.publish("a.b", &7u32).await.unwrap();
    assert_eq!(*got.lock(), vec![7], "delivered before publish returned");
    for bad in ["", "a..b", ".a"] {
        let e = server.subscribe_raw(bad, |_, _| {}).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{bad}: {e}");
    }
    let client = Peer::connect(&addr, opts("client")).await.unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let e = client.subscribe_raw_with("x..y", |_, _| {}, move |_| tx.send(()).unwrap()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(rx.try_recv().is_err(), "no activation reported for a refused pattern");
    let (tx, rx) = tokio::sync::oneshot::channel();
    client.subscribe_raw_with("x.y", |_, _| {}, move |r| tx.send(r).unwrap()).unwrap();
    rx.await.unwrap().unwrap();
    client.shutdown().await;
    server.shutdown().await;
}

/// A raw connection past the handshake.
async fn raw_client(addr: &Address) -> tokio::net::UnixStream {
    let Address::Local(path) = addr else { unreachable!() };
    let mut s = tokio::net::UnixStream::connect(path).await.unwrap();
    send(
        &mut s,
        &Message::Hello {
            version: 1,
            peer: PeerInfo::this_process("raw", "rust"),
            token: Some("s3cret".into()),
        },
    )
    .await;
    read_frame(&mut s).await;
    s
}

async fn send(s: &mut tokio::net::UnixStream, m: &Message) {
    let mut b = Vec::new();
    m.encode_frame(&mut b);
    s.write_all(&b).await.unwrap();
}

async fn read_frame(s: &mut tokio::net::UnixStream) -> Message {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut body = vec![0; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await.unwrap();
    Message::decode(body.into()).unwrap()
}

#[tokio::test]
async fn a_subscribe_that_reuses_an_id_replaces_that_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let server = Peer::listen(&addr, opts("server")).await.unwrap();
    let mut s = raw_client(&addr).await;
    send(&mut s, &Message::Subscribe { sub: 1, pattern: "a.*".into() }).await;
    send(&mut s, &Message::Subscribe { sub: 1, pattern: "b.*".into() }).await;
    send(&mut s, &Message::Ping(9)).await;
    assert!(matches!(read_frame(&mut s).await, Message::Pong(9)));
    server.publish("a.x", &1u32).await.unwrap();
    server.publish("b.x", &2u32).await.unwrap();
    match read_frame(&mut s).await {
        Message::Publish { topic, .. } => assert_eq!(topic, "b.x", "the first pattern was replaced"),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
    // Once only, whatever number of subscriptions match.
    send(&mut s, &Message::Subscribe { sub: 2, pattern: "#".into() }).await;
    send(&mut s, &Message::Ping(10)).await;
    assert!(matches!(read_frame(&mut s).await, Message::Pong(10)));
    server.publish("b.y", &3u32).await.unwrap();
    server.publish("c.y", &4u32).await.unwrap();
    let topics: Vec<String> = [read_frame(&mut s).await, read_frame(&mut s).await]
        .into_iter()
        .map(|m| match m {
            Message::Publish { topic, .. } => topic,
            other => panic!("expected PUBLISH, got {other:?}"),
        })
        .collect();
    assert_eq!(topics, ["b.y", "c.y"]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_service_without_methods_or_version_is_exposed_listed_and_reached() {
    assert_eq!(
        parse_id("notifications").unwrap(),
        ("notifications".to_string(), semver::Version::new(1, 0, 0))
    );
    assert_eq!(DEFAULT_VERSION, "1.0.0");
    assert_eq!(parse_id("payment@2.1.0").unwrap().1, semver::Version::new(2, 1, 0));
    for bad in ["", "@1.0.0", "x@", "x@1", "$registry", "a b"] {
        assert_eq!(parse_id(bad).unwrap_err().code(), ErrorCode::InvalidService, "{bad}");
    }

    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let server = Peer::listen(&addr, opts("server")).await.unwrap();
    let (name, version) = parse_id("notifications").unwrap();
    server.expose(Service::builder(&name, &version.to_string()).unwrap().build().unwrap()).await.unwrap();
    let client = Peer::connect(&addr, opts("client")).await.unwrap();
    // A connected peer registers one too.
    client.expose(Service::builder("audit", DEFAULT_VERSION).unwrap().build().unwrap()).await.unwrap();
    for target in ["notifications", "notifications@1.0.0", "notifications@^1"] {
        let info = client.describe(target).await.unwrap();
        assert_eq!((info.name.as_str(), info.version.as_str()), ("notifications", "1.0.0"));
        assert!(info.methods.is_empty());
        let e = client.call::<_, ()>(target, "send", &()).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::MethodNotFound, "{e}");
        assert!(e.message().contains("it has none"), "{e}");
    }
    assert_eq!(client.describe("notifications@^2").await.unwrap_err().code(), ErrorCode::ServiceNotFound);
    wait_for(|| server.services().iter().any(|s| s.name == "audit")).await;
    let e = server.call::<_, ()>("audit@^1", "x", &()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::MethodNotFound, "{e}");
    client.shutdown().await;
    server.shutdown().await;
}
