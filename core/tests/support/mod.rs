//! Test children: the test binary re-runs itself as a worker (or as a parent) when
//! `OMNITRON_TEST_ROLE` is set, through its `role` test. No separate program to build.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use omnitron::process::{ChildSpec, Pool, PoolOptions, PoolSize};
use omnitron::rpc::Service;

pub const ROLE: &str = "OMNITRON_TEST_ROLE";
pub const MODE: &str = "OMNITRON_TEST_MODE";

/// A child running this test binary as an `echo@1.0.0` worker.
pub fn worker(name: &str) -> ChildSpec {
    ChildSpec::new(name, std::env::current_exe().expect("test binary path"))
        .args(["role", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(ROLE, "worker")
        .shutdown_timeout(Duration::from_secs(2))
}

/// Called by each test binary's `role` test: does nothing unless this process is a child.
pub fn run_role() {
    match std::env::var(ROLE).as_deref() {
        Ok("worker") => run_worker(),
        Ok("parent") => run_parent(),
        _ => {}
    }
}

/// `[item, pid, chunk length]`: how an item reached this worker (1: on its own).
fn chunk_answer(n: u64, chunk: usize) -> (u64, u32, usize) {
    (n, std::process::id(), chunk)
}

/// Fails items whose number is 3 modulo 7.
fn maybe_fail(n: u64) -> omnitron::Result<u64> {
    if n % 7 == 3 {
        return Err(omnitron::Error::new(omnitron::ErrorCode::InvalidArgument, format!("item {n} is bad")));
    }
    Ok(n * 2)
}

/// Exits this worker (as a crash would) the first time item 50 reaches any worker of the test:
/// the file `marker` records that it happened.
fn die_once(n: u64, marker: &str) -> u64 {
    if n == 50 && std::fs::OpenOptions::new().write(true).create_new(true).open(marker).is_ok() {
        std::process::exit(9);
    }
    n
}

fn echo_service() -> Service {
    let batch = std::env::var(MODE).as_deref() == Ok("batch");
    let b = Service::builder("echo", "1.0.0").unwrap();
    let b = if batch { b.raw("$batch", |args, _ctx| Box::pin(async move { batch_of(&args) })) } else { b };
    b.method("chunk", |(n,): (u64,)| async move { Ok(chunk_answer(n, 1)) })
        .method("maybe_fail", |(n,): (u64,)| async move { maybe_fail(n) })
        .method("die_once", |(n, marker): (u64, String)| async move { Ok(die_once(n, &marker)) })
        .method("echo", |(s,): (String,)| async move { Ok(s) })
        .method("echo_n", |(n,): (u32,)| async move { Ok(n) })
        .method("pid", |()| async move { Ok(std::process::id()) })
        .method("sleep", |(ms,): (u64,)| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(std::process::id())
        })
        .method("env", |(k,): (String,)| async move { Ok(std::env::var(k).ok()) })
        .method("fail", |(msg,): (String,)| async move {
            Err::<(), _>(omnitron::Error::new(omnitron::ErrorCode::InvalidArgument, msg))
        })
        .build()
        .unwrap()
}

/// The worker's side of `$batch` (docs/PROTOCOL.md, "Batches") for the methods above: what the
/// Python and Node workers do in their languages, written here so core's chunking is tested
/// against a real worker process.
fn batch_of(args: &[u8]) -> Result<bytes::Bytes, omnitron::rpc::WireError> {
    use omnitron::rpc::{Value, WireError};
    let bad = |m: &str| WireError { code: "E001".into(), message: m.into(), data: None };
    let Ok(Value::Array(parts)) = Value::decode(args) else { return Err(bad("not an array")) };
    // `[method, [args, ...]]`, or `[method, [arg, ...], 1]` when each item has one argument.
    let (method, items) = match parts.as_slice() {
        [Value::Str(m), Value::Array(items)] => (m, items.clone()),
        [Value::Str(m), Value::Array(items), Value::UInt(1)] => {
            (m, items.iter().map(|a| Value::Array(vec![a.clone()])).collect())
        }
        _ => return Err(bad("not [method, items]")),
    };
    let n = items.len();
    let uint = |v: &Value| match v {
        Value::Array(a) => match a.first() {
            Some(Value::UInt(x)) => *x,
            _ => 0,
        },
        _ => 0,
    };
    let mut values = Vec::with_capacity(n);
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let value = match method.as_str() {
            "chunk" => {
                let (a, b, c) = chunk_answer(uint(item), n);
                Ok(Value::Array(vec![Value::UInt(a), Value::UInt(u64::from(b)), Value::UInt(c as u64)]))
            }
            "maybe_fail" => maybe_fail(uint(item)).map(Value::UInt),
            "die_once" => {
                let marker = match item {
                    Value::Array(a) => match a.get(1) {
                        Some(Value::Str(s)) => s.clone(),
                        _ => String::new(),
                    },
                    _ => String::new(),
                };
                Ok(Value::UInt(die_once(uint(item), &marker)))
            }
            "echo_n" => Ok(Value::UInt(uint(item))),
            "sleep" => {
                // The items of a chunk one after the other, as a worker's loop runs them.
                std::thread::sleep(Duration::from_millis(uint(item)));
                Ok(Value::UInt(u64::from(std::process::id())))
            }
            other => Err(omnitron::Error::new(
                omnitron::ErrorCode::MethodNotFound,
                format!("no public method '{other}'"),
            )),
        };
        match value {
            Ok(v) => values.push(v),
            Err(e) => {
                values.push(Value::Nil);
                let s = |x: &str| Value::Str(x.to_string());
                errors.push(Value::Array(vec![
                    Value::UInt(i as u64),
                    Value::Map(vec![(s("code"), s(e.code().as_str())), (s("message"), s(e.message()))]),
                ]));
            }
        }
    }
    let errors = if errors.is_empty() { Value::Nil } else { Value::Array(errors) };
    Ok(Value::Array(vec![Value::Array(values), errors]).to_bytes())
}

fn run_worker() {
    let mode = std::env::var(MODE).unwrap_or_default();
    if mode == "fail" {
        eprintln!("worker: cannot open the database (test failure)");
        std::process::exit(3);
    }
    println!("worker started");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        if mode == "silent" {
            // Connects but never reports ready.
            let link = omnitron::process::worker::ParentLink::require().unwrap();
            let _peer = link.connect("rust").await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        omnitron::process::worker::serve(vec![echo_service()]).await.unwrap();
    });
    std::process::exit(0);
}

/// A parent that starts a pool of 2 workers, prints their pids, and waits to be killed.
fn run_parent() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let mut opts = PoolOptions::new(worker("orphan-check"));
        opts.size = PoolSize::Fixed(2);
        let pool = Pool::start(opts).await.unwrap();
        let pids: Vec<String> = pool.status().pids.iter().map(u32::to_string).collect();
        println!("PIDS {}", pids.join(" "));
        tokio::time::sleep(Duration::from_secs(120)).await;
    });
    std::process::exit(0);
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// Waits until `f` holds, at most `secs` seconds.
pub async fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// Waits up to 5 s, checking every 10 ms, for `f` to hold; panics if it never does.
pub async fn wait_for(mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 5 s");
}
