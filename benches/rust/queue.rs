//! The queue benchmark's Rust runner (benches/queue/run.py): Omnitron's queues driven from Rust, on
//! the embedded store or on Redis, one case per process.
//!
//! `queue-runner <case> --store <url> [--n N] [--concurrency C] [--seconds S] [--full-sync]` prints
//! one JSON line:
//! - `add-bulk`: N jobs in one `add_many_raw`; jobs/s.
//! - `add-one`: N jobs added one after another, each awaited; jobs/s.
//! - `process`: N jobs added first (not timed), then a worker of concurrency C; jobs/s from the
//!   worker's start to the Nth `completed` event (sent once the store has recorded the outcome).
//! - `pickup`: a worker idle in a child process (`pickup-worker`); N jobs, each carrying the
//!   CLOCK_MONOTONIC time of its add, each added a few ms after the previous one started; p50 and
//!   p99 of add-to-handler, in microseconds.
//! - `lease`: C jobs held by handlers that never end, a lease of 3 s (renewed every second); this
//!   process's CPU (its threads' `/proc/self/task/*/schedstat`) over S seconds, less the process's own before
//!   the worker started.
//!
//! `--full-sync` opens a `sqlite:` store with `full_sync` (every commit synced to disk).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use omnitron::queue::{
    AddOptions, Job, Queue, QueueEvent, QueueOptions, SqliteStore, SqliteStoreOptions, Store, Worker,
    WorkerOptions, connect,
};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::broadcast::error::RecvError;

const QUEUE: &str = "bench";
/// The spacing between two pickup samples.
const PICKUP_GAP: Duration = Duration::from_millis(5);
/// Samples taken before the pickup's are kept (connections warmed, scripts loaded).
const PICKUP_WARMUP: usize = 20;

struct Args {
    case: String,
    store: String,
    n: usize,
    concurrency: u32,
    seconds: f64,
    full_sync: bool,
}

fn args() -> Args {
    let mut it = std::env::args().skip(1);
    let case = it.next().unwrap_or_else(|| usage("no case"));
    let mut a =
        Args { case, store: String::new(), n: 10_000, concurrency: 1, seconds: 6.0, full_sync: false };
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage(&format!("{flag} takes a value")));
        match flag.as_str() {
            "--store" => a.store = value(),
            "--n" => a.n = value().parse().unwrap_or_else(|_| usage("--n takes a count")),
            "--concurrency" => {
                a.concurrency = value().parse().unwrap_or_else(|_| usage("--concurrency takes a count"))
            }
            "--seconds" => a.seconds = value().parse().unwrap_or_else(|_| usage("--seconds takes a number")),
            "--full-sync" => a.full_sync = true,
            other => usage(&format!("unknown option {other}")),
        }
    }
    if a.store.is_empty() {
        usage("--store is required");
    }
    a
}

fn usage(why: &str) -> ! {
    eprintln!(
        "queue-runner: {why}\nusage: queue-runner <add-bulk|add-one|process|pickup|lease> --store <url> [--n N] [--concurrency C] [--seconds S] [--full-sync]"
    );
    std::process::exit(2)
}

fn fail(e: omnitron::Error) -> ! {
    eprintln!("queue-runner: {e}");
    std::process::exit(1)
}

/// CLOCK_MONOTONIC in nanoseconds: the clock Node's `process.hrtime` and Python's
/// `time.monotonic_ns` read, one clock for every process of the machine.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// This process's CPU time, in milliseconds: the time on CPU of each of its threads, in
/// nanoseconds, from `/proc/self/task/<tid>/schedstat` (`/proc/self/stat` counts 10 ms ticks, too
/// coarse for a few seconds).
fn cpu_ms() -> f64 {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    let ns: u64 = tasks
        .flatten()
        // A thread that ended meanwhile has no file left: it counts for nothing.
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split(' ').next().and_then(|n| n.parse::<u64>().ok()))
        .sum();
    ns as f64 / 1e6
}

async fn store(a: &Args) -> Arc<dyn Store> {
    if a.full_sync {
        let path = a.store.strip_prefix("sqlite:").unwrap_or(&a.store);
        let opts = SqliteStoreOptions { full_sync: true, ..SqliteStoreOptions::new(path) };
        return Arc::new(SqliteStore::open_with(opts).unwrap_or_else(|e| fail(e)));
    }
    connect(&a.store).await.unwrap_or_else(|e| fail(e))
}

/// A trivial job's payload, `{"i": i}` in MessagePack.
fn payload(i: usize) -> Bytes {
    Bytes::from(rmp_serde::to_vec_named(&json!({ "i": i })).expect("a payload"))
}

async fn add_all(queue: &Queue, n: usize) {
    let jobs = (0..n).map(|i| ("noop".to_string(), payload(i), AddOptions::default())).collect();
    queue.add_many_raw(jobs).await.unwrap_or_else(|e| fail(e));
}

async fn add_bulk(queue: &Queue, n: usize) -> serde_json::Value {
    let t0 = Instant::now();
    add_all(queue, n).await;
    json!({ "rate": n as f64 / t0.elapsed().as_secs_f64() })
}

async fn add_one(queue: &Queue, n: usize) -> serde_json::Value {
    let t0 = Instant::now();
    for i in 0..n {
        queue.add_raw("noop", payload(i), &AddOptions::default()).await.unwrap_or_else(|e| fail(e));
    }
    json!({ "rate": n as f64 / t0.elapsed().as_secs_f64() })
}

async fn process(queue: &Queue, n: usize, concurrency: u32) -> serde_json::Value {
    add_all(queue, n).await;
    // `completed` events are sent once the store has recorded the outcomes: counting them finds
    // the last one without asking the store (which would compete with the worker for it).
    let mut events = queue.events();
    let t0 = Instant::now();
    let worker =
        Worker::start(queue, WorkerOptions { concurrency, ..WorkerOptions::default() }, |_job: Job| async {
            Ok(())
        })
        .unwrap_or_else(|e| fail(e));
    let mut completed = 0;
    while completed < n {
        match events.recv().await {
            Ok(QueueEvent::Completed { .. }) => completed += 1,
            Ok(_) => {}
            // Events this receiver fell behind on were sent all the same: completions, here.
            Err(RecvError::Lagged(missed)) => completed += missed as usize,
            Err(RecvError::Closed) => {
                fail(omnitron::Error::new(omnitron::ErrorCode::QueueStoreFailed, "events closed"))
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    worker.close(Duration::from_secs(5)).await;
    json!({ "rate": n as f64 / secs })
}

async fn pickup(queue: &Queue, a: &Args) -> serde_json::Value {
    let exe = std::env::current_exe().expect("this program's path");
    let mut child = tokio::process::Command::new(exe)
        .args(["pickup-worker", "--store", &a.store])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the pickup worker starts");
    let mut lines = BufReader::new(child.stdout.take().expect("a pipe")).lines();
    let ready = lines.next_line().await.expect("the pickup worker's output");
    assert_eq!(ready.as_deref(), Some("ready"), "the pickup worker did not start");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut samples = Vec::with_capacity(a.n);
    for i in 0..a.n + PICKUP_WARMUP {
        let t0 = monotonic_ns();
        let data = json!({ "t0": t0.to_string() });
        queue.add("stamp", &data, &AddOptions::default()).await.unwrap_or_else(|e| fail(e));
        let line = lines.next_line().await.expect("a sample").expect("the pickup worker ended");
        if i >= PICKUP_WARMUP {
            samples.push(line.parse::<f64>().expect("nanoseconds") / 1_000.0);
        }
        tokio::time::sleep(PICKUP_GAP).await;
    }
    let _ = child.kill().await;
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    json!({ "p50_us": pct(0.50), "p99_us": pct(0.99), "samples": samples.len() })
}

async fn pickup_worker(queue: &Queue) {
    let worker = Worker::start(queue, WorkerOptions::default(), |job: Job| async move {
        let now = monotonic_ns();
        let data: serde_json::Value = job.data()?;
        let t0: u64 = data["t0"].as_str().and_then(|s| s.parse().ok()).unwrap_or(now);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", now.saturating_sub(t0));
        let _ = out.flush();
        Ok(())
    })
    .unwrap_or_else(|e| fail(e));
    println!("ready");
    std::future::pending::<()>().await;
    drop(worker);
}

async fn lease(queue: &Queue, a: &Args) -> serde_json::Value {
    let window = Duration::from_secs_f64(a.seconds);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = measure_cpu(window / 2).await;
    let held = Arc::new(AtomicUsize::new(0));
    let h = held.clone();
    let options = WorkerOptions {
        concurrency: a.concurrency,
        lease: Duration::from_secs(3),
        ..WorkerOptions::default()
    };
    let _worker = Worker::start(queue, options, move |_job: Job| {
        h.fetch_add(1, Ordering::Relaxed);
        std::future::pending::<omnitron::Result<()>>()
    })
    .unwrap_or_else(|e| fail(e));
    add_all(queue, a.concurrency as usize).await;
    while held.load(Ordering::Relaxed) < a.concurrency as usize {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let busy = measure_cpu(window).await;
    json!({ "cpu_ms_per_s": busy - base, "base_ms_per_s": base, "jobs": a.concurrency })
}

/// CPU milliseconds per second of this process over `window`.
async fn measure_cpu(window: Duration) -> f64 {
    let c0 = cpu_ms();
    tokio::time::sleep(window).await;
    (cpu_ms() - c0) / window.as_secs_f64()
}

fn main() {
    let a = args();
    let out = omnitron::runtime::get().block_on(async {
        let queue =
            Queue::open(store(&a).await, QUEUE, QueueOptions::default()).await.unwrap_or_else(|e| fail(e));
        match a.case.as_str() {
            "add-bulk" => add_bulk(&queue, a.n).await,
            "add-one" => add_one(&queue, a.n).await,
            "process" => process(&queue, a.n, a.concurrency).await,
            "pickup" => pickup(&queue, &a).await,
            "pickup-worker" => {
                pickup_worker(&queue).await;
                unreachable!()
            }
            "lease" => lease(&queue, &a).await,
            other => usage(&format!("unknown case {other}")),
        }
    });
    println!("{out}");
    // Held handlers (the lease case) never end: leave without waiting for them.
    std::process::exit(0)
}
