//! Connections read by a host's event loop (`PeerOptions::host_loop`), as the Node and Python
//! bindings do: here the "host" is a plain thread running poll(2) over the readers' descriptors,
//! like libuv or asyncio would. Calls, events, bad frames, and both sides closing, over real
//! sockets.

mod support;
use support::wait_for;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use omnitron::ErrorCode;
use omnitron::metrics::Registry;
use omnitron::rpc::{ConnectionEvent, HostLoop, HostReader, Peer, PeerOptions, Service};
use omnitron::transport::Address;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A host loop on its own thread: adopts readers, polls their descriptors, calls `on_readable`,
/// drops a reader once it says to stop watching (the connection is over, or paused while its
/// outbox is full: the engine then hands over a new reader). Counts the readers it dropped and
/// those it watches.
struct Host {
    adopt: mpsc::Sender<HostReader>,
    ended: Arc<std::sync::atomic::AtomicUsize>,
    watching: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Host {
    fn start() -> Host {
        let (tx, rx) = mpsc::channel::<HostReader>();
        let ended = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let watching = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (e, w, s) = (ended.clone(), watching.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut readers: Vec<HostReader> = Vec::new();
            while !s.load(Ordering::Relaxed) {
                readers.extend(rx.try_iter());
                w.store(readers.len(), Ordering::SeqCst);
                let mut fds: Vec<libc::pollfd> = readers
                    .iter()
                    .map(|r| libc::pollfd { fd: r.fd(), events: libc::POLLIN, revents: 0 })
                    .collect();
                // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
                let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 5) };
                if n <= 0 {
                    continue;
                }
                let mut keep = Vec::with_capacity(readers.len());
                for (mut r, p) in readers.drain(..).zip(fds) {
                    if p.revents != 0 && !r.on_readable() {
                        e.fetch_add(1, Ordering::SeqCst);
                        continue; // Stopped watching, then dropped.
                    }
                    keep.push(r);
                }
                readers = keep;
                readers.extend(rx.try_iter());
                w.store(readers.len(), Ordering::SeqCst);
            }
        });
        Host { adopt: tx, ended, watching, stop }
    }

    fn host_loop(&self) -> HostLoop {
        let tx = self.adopt.clone();
        HostLoop(Arc::new(move |r| {
            let _ = tx.send(r);
        }))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn opts(name: &str, reg: &Registry, host: &Host) -> PeerOptions {
    let mut o = PeerOptions::new(name).token("s3cret");
    o.registry = reg.clone();
    o.host_loop = Some(host.host_loop());
    o
}

fn echo() -> Service {
    Service::builder("echo", "1.0.0")
        .unwrap()
        .method("say", |(s,): (String,)| async move { Ok(s) })
        .method("big", |(n,): (usize,)| async move { Ok("x".repeat(n)) })
        .method("slow", |(ms,): (u64,)| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(ms)
        })
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_events_through_host_read_connections() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let reg = Registry::new();
    let (server_host, client_host) = (Host::start(), Host::start());
    let server = Peer::listen(&addr, opts("server", &reg, &server_host)).await.unwrap();
    server.expose(echo()).await.unwrap();
    let client = Peer::connect(&addr, opts("client", &reg, &client_host)).await.unwrap();

    // Many in flight, answered out of order (the slow ones wait on the server's timers, started
    // from the host thread).
    let calls = (0..200u64).map(|i| {
        let c = client.clone();
        async move {
            if i % 10 == 0 {
                let ms: u64 = c.call("echo", "slow", &(20 - i / 10,)).await.unwrap();
                assert_eq!(ms, 20 - i / 10);
            } else {
                let s: String = c.call("echo", "say", &(format!("m{i}"),)).await.unwrap();
                assert_eq!(s, format!("m{i}"));
            }
        }
    });
    let handles: Vec<_> = calls.map(tokio::spawn).collect();
    for h in handles {
        h.await.unwrap();
    }

    // Frames far bigger than a socket's buffer, both ways at once: writes wait for room and the
    // host's reads grow their buffer.
    let bigs: Vec<_> = (0..4)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move {
                let n = 3 * 1024 * 1024 + i;
                let s: String = c.call("echo", "say", &("y".repeat(n),)).await.unwrap();
                assert_eq!(s.len(), n);
                let s: String = c.call("echo", "big", &(n,)).await.unwrap();
                assert_eq!(s.len(), n);
            })
        })
        .collect();
    for h in bigs {
        h.await.unwrap();
    }

    // The callback way in (what the bindings use), completed on the client's host thread.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let args = omnitron::rpc::encode_args(&("cb",)).unwrap();
    client.call_raw_with("echo", "say", args, Default::default(), move |r| {
        let _ = tx.send(r);
    });
    let v = rx.await.unwrap().unwrap();
    assert_eq!(omnitron::rpc::decode::<String>(&v).unwrap(), "cb");

    // Events both ways.
    let got = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let g = got.clone();
    let _sub = server
        .subscribe::<u32>("order.*", move |_, _| {
            g.fetch_add(1, Ordering::SeqCst);
        })
        .await
        .unwrap();
    for i in 0..50u32 {
        client.publish("order.created", &i).await.unwrap();
    }
    wait_for(|| got.load(Ordering::SeqCst) == 50).await;

    // The client goes: the server's reader ends (and says so), its services stay. (The big frames
    // may have paused a reader, which then came back as a new one: count what is still watched.)
    let gone = Arc::new(AtomicBool::new(false));
    let g = gone.clone();
    server.watch_connections(move |ev| {
        if matches!(ev, ConnectionEvent::Disconnected { .. }) {
            g.store(true, Ordering::SeqCst);
        }
    });
    client.shutdown().await;
    wait_for(|| gone.load(Ordering::SeqCst)).await;
    wait_for(|| {
        server_host.watching.load(Ordering::SeqCst) == 0 && client_host.watching.load(Ordering::SeqCst) == 0
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_gone_fails_host_read_calls_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let reg = Registry::new();
    let client_host = Host::start();
    let server = Peer::listen(&addr, PeerOptions::new("server").token("s3cret")).await.unwrap();
    server.expose(echo()).await.unwrap();
    let client = Peer::connect(&addr, opts("client", &reg, &client_host)).await.unwrap();
    let call = tokio::spawn({
        let c = client.clone();
        async move { c.call::<_, u64>("echo", "slow", &(60_000u64,)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    server.shutdown().await;
    let e = call.await.unwrap().unwrap_err();
    assert_eq!(e.code(), ErrorCode::PeerDisconnected, "{e}");
    assert!(started.elapsed() < Duration::from_secs(3), "failed at once, not at the deadline");
    wait_for(|| client_host.ended.load(Ordering::SeqCst) >= 1).await;
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_on_a_host_read_connection_close_it_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let reg = Registry::new();
    let host = Host::start();
    let server = Peer::listen(&addr, opts("server", &reg, &host)).await.unwrap();
    server.expose(echo()).await.unwrap();
    let good = Peer::connect(&addr, PeerOptions::new("good").token("s3cret")).await.unwrap();

    // Garbage, and a length prefix over the limit: sent with the HELLO (read with the handshake,
    // before the host has the connection), and after the WELCOME (read by the host).
    for garbage in [vec![0, 0, 0, 3, 0xc1, 0xc1, 0xc1], u32::MAX.to_be_bytes().to_vec()] {
        for with_hello in [true, false] {
            let Address::Local(path) = &addr else { unreachable!() };
            let mut s = tokio::net::UnixStream::connect(path).await.unwrap();
            let mut hello = Vec::new();
            omnitron::rpc::Message::Hello {
                version: 1,
                peer: omnitron::rpc::PeerInfo::this_process("raw", "rust"),
                token: Some("s3cret".into()),
            }
            .encode_frame(&mut hello);
            if with_hello {
                hello.extend_from_slice(&garbage);
                s.write_all(&hello).await.unwrap();
            } else {
                s.write_all(&hello).await.unwrap();
                let mut len = [0u8; 4];
                s.read_exact(&mut len).await.unwrap();
                let mut welcome = vec![0; u32::from_be_bytes(len) as usize];
                s.read_exact(&mut welcome).await.unwrap();
                s.write_all(&garbage).await.unwrap();
            }
            let mut out = Vec::new();
            tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await.unwrap().unwrap();
            let text = String::from_utf8_lossy(&out);
            assert!(text.contains("RPC005") || text.contains("RPC006"), "{text}");
        }
    }
    wait_for(|| host.ended.load(Ordering::SeqCst) == 2).await;
    let s: String = good.call("echo", "say", &("still here",)).await.unwrap();
    assert_eq!(s, "still here");
    good.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_read_connections_over_tcp_carry_calls_both_ways() {
    // A host-read connection gets a new writing half when its socket leaves the engine's reactor:
    // over TCP, dropping the old one must not shut the stream's sending side down.
    let reg = Registry::new();
    let (server_host, client_host) = (Host::start(), Host::start());
    let server = Peer::listen(&"tcp://127.0.0.1:0".parse().unwrap(), opts("server", &reg, &server_host))
        .await
        .unwrap();
    server.expose(echo()).await.unwrap();
    let addr = server.address().unwrap();
    let client = Peer::connect(&addr, opts("client", &reg, &client_host)).await.unwrap();
    for i in 0..50u64 {
        let s: String = client.call("echo", "say", &(format!("t{i}"),)).await.unwrap();
        assert_eq!(s, format!("t{i}"));
    }
    let n = 2 * 1024 * 1024;
    let s: String = client.call("echo", "big", &(n,)).await.unwrap();
    assert_eq!(s.len(), n);
    let calls: Vec<_> = (0..64u64)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(
                async move { c.call::<_, String>("echo", "say", &(format!("p{i}"),)).await.unwrap() },
            )
        })
        .collect();
    for (i, h) in calls.into_iter().enumerate() {
        assert_eq!(h.await.unwrap(), format!("p{i}"));
    }
    client.shutdown().await;
    server.shutdown().await;
}
