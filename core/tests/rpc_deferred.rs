//! Deferred handlers (`ServiceBuilder::deferred`): answered later from another thread through a
//! `Reply`, over real sockets. Every way a call stops waiting (its caller cancels, the service's
//! deadline, the caller disconnects, a reused request id) tells the handler, and a late answer
//! is refused; local calls work too; served calls are counted.

mod support;
use support::wait_for;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use omnitron::ErrorCode;
use omnitron::metrics::Registry;
use omnitron::rpc::{CallOptions, Message, Peer, PeerOptions, Reply, Request, Service};
use omnitron::transport::Address;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn opts(name: &str, reg: &Registry) -> PeerOptions {
    let mut o = PeerOptions::new(name).token("s3cret");
    o.registry = reg.clone();
    o
}

/// A service whose `hold` calls wait in `held` until the test answers them, whose `echo` calls a
/// thread answers, and whose cancelled keys are recorded.
struct Deferred {
    held: Arc<Mutex<Vec<(Bytes, Reply)>>>,
    cancelled: Arc<Mutex<Vec<u64>>>,
}

fn deferred(deadline: Option<Duration>) -> (Service, Deferred) {
    let held = Arc::new(Mutex::new(Vec::new()));
    let cancelled = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel::<(Bytes, Reply)>();
    // The answering thread: not the thread that read the request.
    std::thread::spawn(move || {
        for (args, reply) in rx {
            reply.send(Ok(args));
        }
    });
    let tx = Mutex::new(tx);
    let (h, c1, c2) = (held.clone(), cancelled.clone(), cancelled.clone());
    let mut b = Service::builder("later", "1.0.0")
        .unwrap()
        .deferred(
            "echo",
            move |args, reply| tx.lock().send((args, reply)).unwrap(),
            move |key| c1.lock().push(key),
        )
        .deferred("hold", move |args, reply| h.lock().push((args, reply)), move |key| c2.lock().push(key));
    if let Some(d) = deadline {
        b = b.deadline(d);
    }
    (b.build().unwrap(), Deferred { held, cancelled })
}

struct Net {
    _dir: tempfile::TempDir,
    addr: Address,
    reg: Registry,
    server: Peer,
}

async fn net(svc: Service) -> Net {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let reg = Registry::new();
    let server = Peer::listen(&addr, opts("server", &reg)).await.unwrap();
    server.expose(svc).await.unwrap();
    Net { _dir: dir, addr, reg, server }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_handlers_answer_from_another_thread_and_are_counted() {
    let (svc, d) = deferred(None);
    let n = net(svc).await;
    let c = Peer::connect(&n.addr, opts("client", &n.reg)).await.unwrap();
    let calls: Vec<_> = (0..200u32)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.call::<_, Vec<u32>>("later@1", "echo", &(i,)).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        // `echo` answers with its arguments: the array `[i]`.
        assert_eq!(call.await.unwrap().unwrap(), vec![i as u32]);
    }
    assert_eq!(c.call::<_, Vec<u32>>("later@1", "echo", &(7u32,)).await.unwrap(), vec![7]);

    // Answered out of order, each to its own caller.
    let calls: Vec<_> = (0..8u32)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.call::<_, Vec<u32>>("later@1", "hold", &(i,)).await })
        })
        .collect();
    wait_for(|| d.held.lock().len() == 8).await;
    for (args, reply) in d.held.lock().drain(..).rev() {
        assert!(reply.send(Ok(args)));
    }
    let mut got = Vec::new();
    for call in calls {
        got.push(call.await.unwrap().unwrap()[0]);
    }
    assert_eq!(got, (0..8).collect::<Vec<_>>());
    assert!(d.cancelled.lock().is_empty());

    let text = n.reg.gather_text();
    assert!(
        text.contains("omnitron_rpc_requests_total{service=\"later@1.0.0\",method=\"echo\"} 201"),
        "{text}"
    );
    assert!(
        text.contains("omnitron_rpc_requests_total{service=\"later@1.0.0\",method=\"hold\"} 8"),
        "{text}"
    );
    assert!(
        text.contains(
            "omnitron_rpc_request_duration_seconds_count{service=\"later@1.0.0\",method=\"hold\"} 8"
        ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_call_that_stops_waiting_tells_its_handler_and_refuses_a_late_answer() {
    let (svc, d) = deferred(Some(Duration::from_millis(200)));
    let n = net(svc).await;
    let c = Peer::connect(&n.addr, opts("client", &n.reg)).await.unwrap();

    // The service's deadline: the server answers E006 itself and tells the handler.
    let e = c.call::<_, ()>("later", "hold", &(1u32,)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout);
    assert!(e.message().contains("passed its deadline of 200 ms"), "{}", e.message());
    let (_, late) = d.held.lock().pop().unwrap();
    wait_for(|| d.cancelled.lock().as_slice() == [late.key()]).await;
    assert!(!late.send(Ok(Bytes::from_static(&[0xc0]))), "an answer after the deadline is refused");
    let text = n.reg.gather_text();
    assert!(
        text.contains("omnitron_rpc_errors_total{service=\"later@1.0.0\",method=\"hold\",code=\"E006\"} 1"),
        "{text}"
    );

    // The caller gives up (CANCEL).
    let o = CallOptions { deadline: Some(Duration::from_secs(30)), trace: None };
    let call = tokio::spawn({
        let c = c.clone();
        async move { c.call_with::<_, ()>("later", "hold", &(2u32,), o).await }
    });
    wait_for(|| d.held.lock().len() == 1).await;
    call.abort();
    let (_, reply) = d.held.lock().pop().unwrap();
    wait_for(|| d.cancelled.lock().len() == 2).await;
    assert_eq!(d.cancelled.lock()[1], reply.key());
    assert!(!reply.send(Ok(Bytes::from_static(&[0xc0]))));

    // The caller goes away.
    let gone = Peer::connect(&n.addr, opts("gone", &n.reg)).await.unwrap();
    let call = tokio::spawn({
        let gone = gone.clone();
        async move { gone.call::<_, ()>("later", "hold", &(3u32,)).await }
    });
    wait_for(|| d.held.lock().len() == 1).await;
    gone.shutdown().await;
    let _ = call.await;
    let (_, reply) = d.held.lock().pop().unwrap();
    wait_for(|| d.cancelled.lock().len() == 3).await;
    assert_eq!(d.cancelled.lock()[2], reply.key());
    assert!(!reply.send(Ok(Bytes::from_static(&[0xc0]))));

    // A call made in this process: answered, and told when it stops waiting.
    let local = tokio::spawn({
        let s = n.server.clone();
        async move { s.call::<_, Vec<u32>>("later", "hold", &(4u32,)).await }
    });
    wait_for(|| d.held.lock().len() == 1).await;
    let (args, reply) = d.held.lock().pop().unwrap();
    assert!(reply.send(Ok(args)));
    assert_eq!(local.await.unwrap().unwrap(), vec![4]);
    let e = n.server.call::<_, ()>("later", "hold", &(5u32,)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout);
    wait_for(|| d.cancelled.lock().len() == 4).await;
    assert_eq!(d.cancelled.lock()[3], d.held.lock()[0].1.key());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_reused_while_served_cancels_the_first_call() {
    let (svc, d) = deferred(None);
    let n = net(svc).await;
    let Address::Local(path) = &n.addr else { unreachable!() };
    let mut s = tokio::net::UnixStream::connect(path).await.unwrap();
    let mut out = Vec::new();
    Message::Hello {
        version: 1,
        peer: omnitron::rpc::PeerInfo::this_process("raw", "rust"),
        token: Some("s3cret".into()),
    }
    .encode_frame(&mut out);
    for arg in [1u8, 2] {
        Request::encode_frame(&mut out, 9, "later", "hold", &[0x91, arg], 0, None, false);
    }
    s.write_all(&out).await.unwrap();
    wait_for(|| d.held.lock().len() == 2).await;
    wait_for(|| d.cancelled.lock().len() == 1).await;
    let (first, second) = {
        let mut held = d.held.lock();
        let second = held.pop().unwrap();
        (held.pop().unwrap(), second)
    };
    assert_eq!(d.cancelled.lock()[0], first.1.key());
    let text = |t: &str| {
        let mut b = vec![0xa0 | t.len() as u8];
        b.extend_from_slice(t.as_bytes());
        Bytes::from(b)
    };
    assert!(!first.1.send(Ok(text("first"))));
    assert!(second.1.send(Ok(text("second"))));
    // HELLO back, then the one answer for id 9: the second call's.
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("second") {
        let mut buf = [0u8; 256];
        let k = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.unwrap().unwrap();
        assert!(k > 0, "closed before the answer");
        got.extend_from_slice(&buf[..k]);
    }
    assert!(!String::from_utf8_lossy(&got).contains("first"));
}

/// A service whose start callback blocks until the test lets it go, recording the order of
/// starts and cancels.
struct Blocking {
    go: mpsc::Sender<()>,
    log: Arc<Mutex<Vec<String>>>,
    replies: Arc<Mutex<Vec<Reply>>>,
}

fn blocking(deadline: Option<Duration>) -> (Service, Blocking) {
    let (go, wait) = mpsc::channel::<()>();
    let wait = Mutex::new(wait);
    let log = Arc::new(Mutex::new(Vec::new()));
    let replies = Arc::new(Mutex::new(Vec::new()));
    let (l1, l2, r) = (log.clone(), log.clone(), replies.clone());
    let mut b = Service::builder("blocking", "1.0.0").unwrap().deferred(
        "call",
        move |_args, reply| {
            l1.lock().push("start".to_string());
            wait.lock().recv().unwrap();
            l1.lock().push("started".to_string());
            r.lock().push(reply);
        },
        move |_key| l2.lock().push("cancel".to_string()),
    );
    if let Some(d) = deadline {
        b = b.deadline(d);
    }
    (b.build().unwrap(), Blocking { go, log, replies })
}

/// A server with `svc`, and a call to it whose start callback has begun.
async fn start_blocking_call(
    svc: Service,
    log: &Mutex<Vec<String>>,
) -> (Net, tokio::task::JoinHandle<omnitron::Result<()>>) {
    let n = net(svc).await;
    let c = Peer::connect(&n.addr, opts("client", &n.reg)).await.unwrap();
    let call = tokio::spawn(async move { c.call::<_, ()>("blocking", "call", &()).await });
    // Polled with the thread's own sleep, not the runtime's timer: the start callback blocks a
    // runtime worker, and the timer must not be needed until it lets go.
    for _ in 0..500 {
        if log.lock().len() == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(log.lock().len(), 1, "the start callback did not begin");
    (n, call)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_handler_is_told_to_stop_only_after_it_started() {
    // Its deadline passes while its start callback still runs: E006 once it returns.
    let (svc, Blocking { go, log, replies }) = blocking(Some(Duration::from_millis(20)));
    let (_server, call) = start_blocking_call(svc, &log).await;
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(*log.lock(), ["start"], "no cancel before the start callback returns");
    go.send(()).unwrap();
    assert_eq!(call.await.unwrap().unwrap_err().code(), ErrorCode::Timeout);
    wait_for(|| log.lock().len() == 3).await;
    assert_eq!(*log.lock(), ["start", "started", "cancel"]);
    assert!(!replies.lock().pop().unwrap().send(Ok(Bytes::from_static(&[0xc0]))));

    // The server shuts down while a start callback runs: told to stop once it returns.
    let (svc, Blocking { go, log, replies }) = blocking(None);
    let (n, call) = start_blocking_call(svc, &log).await;
    let server = n.server.clone();
    let down = tokio::spawn(async move { server.shutdown().await });
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(*log.lock(), ["start"]);
    go.send(()).unwrap();
    down.await.unwrap();
    assert!(call.await.unwrap().is_err());
    wait_for(|| log.lock().len() == 3).await;
    assert_eq!(*log.lock(), ["start", "started", "cancel"]);
    assert!(!replies.lock().pop().unwrap().send(Ok(Bytes::from_static(&[0xc0]))));
}
