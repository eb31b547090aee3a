//! What tracing and the automatic instrumentation cost an RPC call between two processes: tracing
//! off, on with a sampling ratio of 0 (context made and carried, nothing recorded), on with every
//! call sampled and exported over OTLP/HTTP to a collector in this process (a sink that reads and
//! acknowledges each POST); and, tracing off, the debug line each served call writes (JSON, to
//! /dev/null) and the events each served call publishes (spec 7.1).
//! One call in flight and 64; the modes interleaved round by round, the median kept.
//!
//! `cargo bench -p omnitron-benches --bench tracing`. The bench re-runs itself as the server and
//! the client of each mode (a process installs tracing once, from its OTEL_* variables).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use omnitron::rpc::{CallOptions, Peer, PeerOptions, Service};
use omnitron::transport::Address;

const TOKEN: &str = "bench-token";
const ROUNDS: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        return serve(PathBuf::from(&args[i + 1]));
    }
    if let Some(i) = args.iter().position(|a| a == "--client") {
        let (in_flight, total) = (args[i + 2].parse().unwrap(), args[i + 3].parse().unwrap());
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let (rate, p50) = rt.block_on(client(Path::new(&args[i + 1]), in_flight, total));
        omnitron::telemetry::flush(Duration::from_secs(10));
        let c = omnitron::telemetry::span_counts();
        println!("{rate} {p50} {} {}", c.exported, c.dropped);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let exported = Arc::new(AtomicU64::new(0));
    let port = sink(exported.clone());
    let endpoint = format!("http://127.0.0.1:{port}");
    let modes: [(&str, Vec<(&str, String)>); 5] = [
        ("tracing off", vec![]),
        (
            "on, ratio 0",
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".into()),
                ("OTEL_TRACES_SAMPLER_ARG", "0".into()),
            ],
        ),
        (
            "on, every call exported",
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
                ("OTEL_BSP_MAX_QUEUE_SIZE", "65536".into()),
            ],
        ),
        (
            "a log line per call",
            vec![("OMNITRON_LOG", "info,omnitron.rpc=debug".into()), ("OMNITRON_LOG_FORMAT", "json".into())],
        ),
        ("events per call", vec![("OMNITRON_CALL_EVENTS", "1".into())]),
    ];
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    println!("Tracing's cost on RPC calls between two processes ({ROUNDS} rounds, interleaved, median)");
    println!(
        "{:<26}{:>10}{:>14}{:>10}{:>14}{:>12}",
        "mode", "in flight", "calls/s", "p50 us", "vs off", "spans lost"
    );
    for (in_flight, total) in [(1usize, 20_000usize), (64, 200_000)] {
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        let mut p50s: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        let mut lost = vec![0u64; modes.len()];
        for _ in 0..ROUNDS {
            for (m, (_, env)) in modes.iter().enumerate() {
                let path = private.join(format!("m{m}.sock"));
                let _ = std::fs::remove_file(&path);
                let mut server = spawn(&["--serve", path.to_str().unwrap()], env, &path);
                let out = Command::new(std::env::current_exe().unwrap())
                    .args(["--client", path.to_str().unwrap(), &in_flight.to_string(), &total.to_string()])
                    .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                    .output()
                    .unwrap();
                let _ = server.kill();
                let _ = server.wait();
                let line = String::from_utf8_lossy(&out.stdout);
                let f: Vec<f64> = line.split_whitespace().map(|x| x.parse().unwrap()).collect();
                rates[m].push(f[0]);
                p50s[m].push(f[1]);
                lost[m] += f[3] as u64;
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let off = median(&mut rates[0].clone());
        for (m, (name, _)) in modes.iter().enumerate() {
            let r = median(&mut rates[m]);
            println!(
                "{name:<26}{in_flight:>10}{r:>14.0}{:>10.1}{:>13.1}%{:>12}",
                median(&mut p50s[m]),
                100.0 * (r / off - 1.0),
                lost[m]
            );
        }
    }
    println!("spans the collector accepted: {}", exported.load(Ordering::Relaxed));
}

/// A collector that reads each POST and answers 200; counts the requests.
fn sink(count: Arc<AtomicU64>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let count = count.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut buf = [0u8; 65536];
                loop {
                    let n = s.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&got[..at]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if got.len() >= at + 4 + len {
                        count.fetch_add(1, Ordering::Relaxed);
                        let _ =
                            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    }
                }
            });
        }
    });
    port
}

fn spawn(args: &[&str], env: &[(&str, String)], path: &Path) -> Child {
    // Its log lines (the per-call mode) are written, to nowhere.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
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

fn serve(path: PathBuf) {
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
        std::future::pending::<()>().await;
    });
}

/// Calls/s and the p50 in microseconds.
async fn client(path: &Path, in_flight: usize, total: usize) -> (f64, f64) {
    let peer =
        Peer::connect(&Address::Local(path.to_path_buf()), PeerOptions::new("bench-client").token(TOKEN))
            .await
            .unwrap();
    let args = Bytes::from_static(&[0x91, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1]);
    // Warm up the connection and the route.
    for _ in 0..1000 {
        peer.call_raw("echo@1.0.0", "echo", args.clone(), CallOptions::default()).await.unwrap();
    }
    let per_task = total / in_flight;
    let started = Instant::now();
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| {
            let (peer, args) = (peer.clone(), args.clone());
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
    let rate = (per_task * in_flight) as f64 / started.elapsed().as_secs_f64();
    lat.sort();
    let p50 = lat[lat.len() / 2].as_secs_f64() * 1e6;
    peer.shutdown().await;
    (rate, p50)
}
