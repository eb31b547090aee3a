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

fn echo_service() -> Service {
    Service::builder("echo", "1.0.0")
        .unwrap()
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
