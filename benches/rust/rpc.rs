//! RPC over a local socket between two processes, next to a raw length-prefixed ping-pong over a plain
//! Unix socket in the same run: calls/s and p50/p99 with one call in flight and with 64.
//!
//! `cargo bench -p omnitron-benches --bench rpc`. The bench re-runs itself as the server process.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use omnitron::rpc::{CallOptions, Peer, PeerOptions, Service};
use omnitron::transport::Address;

const TOKEN: &str = "bench-token";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-raw") {
        return serve_raw(PathBuf::from(&args[i + 1]));
    }
    if let Some(i) = args.iter().position(|a| a == "--serve-rpc") {
        return serve_rpc(PathBuf::from(&args[i + 1]));
    }
    if let Some(i) = args.iter().position(|a| a == "--client-rpc") {
        // Profiling aid: only the 64-in-flight client against a running --serve-rpc.
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let r = rt.block_on(rpc_client(Path::new(&args[i + 1]), 64, 1_000_000));
        report("omnitron call, 64 in flight", &r);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return; // cargo bench probing for names
    }
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();

    println!("RPC over a local socket, two processes ({} rounds each, median kept)", ROUNDS);
    println!("{:<34}{:>14}{:>10}{:>10}", "case", "calls/s", "p50 us", "p99 us");
    let raw_path = private.join("raw.sock");
    let mut raw = spawn(&["--serve-raw", raw_path.to_str().unwrap()], &raw_path);
    let raw1 = best(|| raw_client(&raw_path, 1, 50_000));
    let raw64 = best(|| raw_client(&raw_path, 64, 500_000));
    let _ = raw.kill();
    let _ = raw.wait();

    let rpc_path = private.join("rpc.sock");
    let mut server = spawn(&["--serve-rpc", rpc_path.to_str().unwrap()], &rpc_path);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let rpc1 = best(|| rt.block_on(rpc_client(&rpc_path, 1, 20_000)));
    let rpc64 = best(|| rt.block_on(rpc_client(&rpc_path, 64, 200_000)));
    let events = rt.block_on(events(&rpc_path, 1_000_000));
    let (rss_before, rss_after) = rt.block_on(idle_connections(&rpc_path, server.id(), 1000));
    let _ = server.kill();
    let _ = server.wait();

    report("raw ping-pong, 1 in flight", &raw1);
    report("omnitron call, 1 in flight", &rpc1);
    report("raw ping-pong, 64 in flight", &raw64);
    report("omnitron call, 64 in flight", &rpc64);
    println!(
        "\nevents from Rust to a subscriber in another process: {events:.0} events/s (goal >= 1,000,000)"
    );
    println!(
        "server resident memory: {:.1} MiB before, {:.1} MiB with 1,000 idle connections (goal < 100 MiB)",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    println!(
        "omnitron / raw: {:.0}% with 1 in flight (goal >= 60%), {:.2}x with 64 ({:.0} calls/s; goal >= 1,000,000)",
        100.0 * rpc1.rate / raw1.rate,
        rpc64.rate / raw64.rate,
        rpc64.rate
    );
}

const ROUNDS: usize = 3;

struct Run {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

fn best(mut f: impl FnMut() -> Run) -> Run {
    let mut runs: Vec<Run> = (0..ROUNDS).map(|_| f()).collect();
    runs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    runs.swap_remove(ROUNDS / 2)
}

fn report(name: &str, r: &Run) {
    println!(
        "{name:<34}{:>14.0}{:>10.1}{:>10.1}",
        r.rate,
        r.p50.as_secs_f64() * 1e6,
        r.p99.as_secs_f64() * 1e6
    );
}

fn summarize(total: usize, elapsed: Duration, mut lat: Vec<Duration>) -> Run {
    lat.sort();
    let at = |q: f64| lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1))).copied();
    Run {
        rate: total as f64 / elapsed.as_secs_f64(),
        p50: at(0.5).unwrap_or_default(),
        p99: at(0.99).unwrap_or_default(),
    }
}

fn spawn(args: &[&str], path: &Path) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap()).args(args).spawn().unwrap();
    for _ in 0..500 {
        if path.exists() {
            std::thread::sleep(Duration::from_millis(50));
            return child;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start");
}

// ---- the raw baseline: 4-byte length + 8-byte payload, echoed ---------------------------------

fn serve_raw(path: PathBuf) {
    let l = UnixListener::bind(&path).unwrap();
    for s in l.incoming() {
        let mut s = s.unwrap();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            let mut pending = Vec::new();
            loop {
                let n = match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                pending.extend_from_slice(&buf[..n]);
                let whole = pending.len() / 12 * 12;
                if whole > 0 {
                    // Echo every complete frame in one write.
                    if s.write_all(&pending[..whole]).is_err() {
                        return;
                    }
                    pending.drain(..whole);
                }
            }
        });
    }
}

fn raw_client(path: &Path, in_flight: usize, total: usize) -> Run {
    let mut s = UnixStream::connect(path).unwrap();
    let frame = |i: u64| {
        let mut f = [0u8; 12];
        f[..4].copy_from_slice(&8u32.to_be_bytes());
        f[4..].copy_from_slice(&i.to_be_bytes());
        f
    };
    let mut sent_at = vec![Instant::now(); total];
    let mut lat = Vec::with_capacity(total);
    let started = Instant::now();
    let mut sent = 0usize;
    let mut out = Vec::new();
    while sent < in_flight.min(total) {
        sent_at[sent] = Instant::now();
        out.extend_from_slice(&frame(sent as u64));
        sent += 1;
    }
    s.write_all(&out).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut pending = Vec::new();
    let mut done = 0usize;
    while done < total {
        let n = s.read(&mut buf).unwrap();
        pending.extend_from_slice(&buf[..n]);
        out.clear();
        let whole = pending.len() / 12 * 12;
        for f in pending[..whole].chunks(12) {
            let i = u64::from_be_bytes(f[4..12].try_into().unwrap()) as usize;
            lat.push(sent_at[i].elapsed());
            done += 1;
            if sent < total {
                sent_at[sent] = Instant::now();
                out.extend_from_slice(&frame(sent as u64));
                sent += 1;
            }
        }
        pending.drain(..whole);
        if !out.is_empty() {
            s.write_all(&out).unwrap();
        }
    }
    summarize(total, started.elapsed(), lat)
}

// ---- omnitron ---------------------------------------------------------------------------------

fn serve_rpc(path: PathBuf) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async move {
        let peer =
            Peer::listen(&Address::Local(path), PeerOptions::new("bench-server").token(TOKEN)).await.unwrap();
        let echo = Service::builder("echo", "1.0.0")
            .unwrap()
            .raw("echo", |args: Bytes, _ctx| Box::pin(async move { Ok(args) }))
            .build()
            .unwrap();
        peer.expose(echo).await.unwrap();
        // Count events; report the count when asked.
        let count = Arc::new(AtomicU64::new(0));
        let c = count.clone();
        peer.subscribe_raw("bench.#", move |_, _| {
            c.fetch_add(1, Ordering::Relaxed);
        })
        .await
        .unwrap();
        let reporter = peer.clone();
        peer.subscribe_raw("bench-done", move |_, _| {
            let n = count.swap(0, Ordering::Relaxed);
            let reporter = reporter.clone();
            tokio::spawn(async move { reporter.publish("bench-count", &n).await });
        })
        .await
        .unwrap();
        std::future::pending::<()>().await;
    });
}

async fn rpc_client(path: &Path, in_flight: usize, total: usize) -> Run {
    let peer =
        Peer::connect(&Address::Local(path.to_path_buf()), PeerOptions::new("bench-client").token(TOKEN))
            .await
            .unwrap();
    let args = Bytes::from_static(&[0x91, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1]);
    let per_task = total / in_flight;
    let started = Instant::now();
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| {
            let peer = peer.clone();
            let args = args.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let t = Instant::now();
                    peer.call_raw("echo@1.0.0", "echo", args.clone(), CallOptions::default()).await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::with_capacity(total);
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    peer.shutdown().await;
    summarize(per_task * in_flight, elapsed, lat)
}

/// Events/s from this process to a subscriber in the server process (counted there).
async fn events(path: &Path, n: u64) -> f64 {
    let peer =
        Peer::connect(&Address::Local(path.to_path_buf()), PeerOptions::new("bench-events").token(TOKEN))
            .await
            .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
    let tx = std::sync::Mutex::new(Some(tx));
    peer.subscribe("bench-count", move |_, c: u64| {
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(c);
        }
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let payload = Bytes::from_static(&[0x2a]);
    let started = Instant::now();
    for _ in 0..n {
        peer.publish_raw("bench.tick", payload.clone()).await.unwrap();
    }
    peer.publish("bench-done", &()).await.unwrap();
    let got = rx.await.unwrap();
    let rate = got as f64 / started.elapsed().as_secs_f64();
    peer.shutdown().await;
    rate
}

/// The server's resident memory (KiB) before and while `n` idle peers are connected to it.
async fn idle_connections(path: &Path, pid: u32, n: usize) -> (u64, u64) {
    let rss = || {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
            .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
            .unwrap_or(0)
    };
    let before = rss();
    let mut peers = Vec::with_capacity(n);
    for i in 0..n {
        let o = PeerOptions::new(format!("idle-{i}")).token(TOKEN);
        peers.push(Peer::connect(&Address::Local(path.to_path_buf()), o).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss();
    for p in peers {
        p.shutdown().await;
    }
    (before, after)
}
