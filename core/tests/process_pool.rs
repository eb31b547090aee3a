//! Pools of real worker processes: dispatch, queueing, timeouts, workers killed under load,
//! recycling, autoscaling, start failures, output forwarding, and no orphans.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use omnitron::ErrorCode;
use omnitron::metrics::Registry;
use omnitron::process::{
    MapOptions, OutputLine, Pool, PoolOptions, PoolSize, PoolStrategy, ProcessHost, Stream,
};
use parking_lot::Mutex;
use support::{MODE, alive, eventually, worker};

#[test]
fn role() {
    support::run_role();
}

fn opts(name: &str, size: usize) -> PoolOptions {
    let mut o = PoolOptions::new(worker(name));
    o.size = PoolSize::Fixed(size);
    o.registry = Registry::new();
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_spread_over_the_workers_and_map_keeps_order() {
    let pool = Pool::start(opts("spread", 2)).await.unwrap();
    let status = pool.status();
    assert_eq!(status.workers, 2);
    let mut pids = HashSet::new();
    for _ in 0..10 {
        let pid: u32 = pool.exec("pid", &()).await.unwrap();
        pids.insert(pid);
    }
    assert_eq!(pids, status.pids.iter().copied().collect::<HashSet<_>>(), "round-robin reaches both workers");
    let items: Vec<String> = (0..100).map(|i| format!("item-{i}")).collect();
    let out: Vec<String> = pool.map("echo", &items).await.unwrap();
    assert_eq!(out, items);
    // The callback form (what the bindings use): no task per item, answers feed the next items.
    let raw: Vec<bytes::Bytes> = (0..1000u32).map(|i| omnitron::rpc::encode_args(&(i,)).unwrap()).collect();
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.map_raw_with("echo_n", raw, move |r| {
        let _ = tx.send(r);
    });
    let results = rx.await.unwrap();
    assert_eq!(results.len(), 1000);
    for (i, r) in results.into_iter().enumerate() {
        let n: u32 = omnitron::rpc::decode(&r.unwrap()).unwrap();
        assert_eq!(n as usize, i);
    }
    // An application error comes back as it was raised, and the pool goes on.
    let err = pool.exec::<_, ()>("fail", &("bad input",)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.message().contains("bad input"));
    let unknown = pool.exec::<_, ()>("nope", &()).await.unwrap_err();
    assert_eq!(unknown.code(), ErrorCode::MethodNotFound);
    pool.stop().await;
    for pid in status.pids {
        assert!(eventually(5, || !alive(pid)).await, "worker {pid} stopped");
    }
    let after = pool.exec::<_, u32>("pid", &()).await.unwrap_err();
    assert_eq!(after.code(), ErrorCode::NotRunning);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_loaded_and_power_of_two_avoid_the_busy_worker() {
    for strategy in [PoolStrategy::LeastLoaded, PoolStrategy::PowerOfTwo] {
        let mut o = opts("least", 2);
        o.strategy = strategy;
        let pool = Pool::start(o).await.unwrap();
        let p = pool.clone();
        let busy = tokio::spawn(async move { p.exec::<_, u32>("sleep", &(1500u64,)).await.unwrap() });
        assert!(eventually(5, || pool.status().in_flight == 1).await);
        let busy_pid = pool.workers().into_iter().find(|w| w.in_flight() == 1).unwrap().pid;
        for _ in 0..8 {
            let pid: u32 = pool.exec("pid", &()).await.unwrap();
            assert_ne!(pid, busy_pid, "{strategy:?} sent a task to the busy worker");
        }
        assert_eq!(busy.await.unwrap(), busy_pid);
        pool.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_with_a_clear_error_and_a_slow_task_times_out() {
    let mut o = opts("queue", 1);
    o.concurrency = 1;
    o.queue_limit = 2;
    o.task_timeout = Duration::from_secs(3);
    let pool = Pool::start(o).await.unwrap();
    let mut running = Vec::new();
    for _ in 0..3 {
        let p = pool.clone();
        running.push(tokio::spawn(async move { p.exec::<_, u32>("sleep", &(300u64,)).await }));
    }
    assert!(eventually(5, || pool.status().queued == 2).await);
    let err = pool.exec::<_, u32>("pid", &()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::QueueFull);
    assert!(err.message().contains("queue limit 2"), "{err}");
    for r in running {
        r.await.unwrap().unwrap();
    }
    pool.stop().await;

    let mut o = opts("timeout", 1);
    o.task_timeout = Duration::from_millis(200);
    let pool = Pool::start(o).await.unwrap();
    let err = pool.exec::<_, u32>("sleep", &(3000u64,)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout);
    // The worker is still usable.
    let _: u32 = pool.exec("pid", &()).await.unwrap();
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_under_load_lose_no_task() {
    let registry = Registry::new();
    let mut o = opts("killed", 2);
    o.registry = registry.clone();
    o.task_retries = 2;
    let pool = Pool::start(o).await.unwrap();
    let total = 300;
    let mut tasks = Vec::new();
    for i in 0..total {
        let p = pool.clone();
        tasks.push(tokio::spawn(async move {
            let r: omnitron::Result<u32> = p.exec("sleep", &((i % 7) as u64 * 3,)).await;
            r
        }));
    }
    // Kill workers twice while the tasks run.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        if let Some(w) = pool.workers().first() {
            w.signal(libc::SIGKILL);
        }
    }
    let (mut ok, mut lost) = (0, 0);
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(30), t).await.expect("no task hangs").unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::WorkerLost, "only a lost worker may fail a task: {e}");
                lost += 1;
            }
        }
    }
    assert_eq!(ok + lost, total, "every task completed or was reported failed");
    assert!(ok > 0);
    // The pool replaced what was killed.
    pool.wait_for_workers(2, Duration::from_secs(20)).await.unwrap();
    let _: u32 = pool.exec("pid", &()).await.unwrap();
    let text = registry.gather_text();
    assert!(text.contains("omnitron_pool_restarts_total{pool=\"killed\"}"), "{text}");
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_are_recycled_after_their_task_limit() {
    let mut o = opts("recycle", 1);
    o.recycle_after = Some(5);
    let pool = Pool::start(o).await.unwrap();
    let mut pids = Vec::new();
    for _ in 0..16 {
        pids.push(pool.exec::<_, u32>("pid", &()).await.unwrap());
    }
    let distinct: HashSet<u32> = pids.iter().copied().collect();
    assert!(distinct.len() >= 3, "16 tasks at 5 per worker use at least 3 workers: {pids:?}");
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_grows_on_queue_depth_and_shrinks_when_idle() {
    let mut o = opts("scale", 1);
    o.min = Some(1);
    o.max = Some(3);
    o.concurrency = 1;
    o.idle_timeout = Duration::from_millis(300);
    let pool = Pool::start(o).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let p = pool.clone();
        tasks.push(tokio::spawn(async move { p.exec::<_, u32>("sleep", &(250u64,)).await }));
    }
    pool.wait_for_workers(3, Duration::from_secs(20)).await.unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(eventually(20, || pool.status().workers == 1).await, "scaled back to min: {:?}", pool.status());
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_failures_say_why() {
    let missing = PoolOptions::new(omnitron::process::ChildSpec::new("ghost", "/nonexistent/worker"));
    let err = Pool::start(missing).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SpawnFailed);
    assert!(err.message().contains("/nonexistent/worker"), "{err}");

    let mut o = opts("crashy", 1);
    o.spec = o.spec.env(MODE, "fail");
    let err = Pool::start(o).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ChildNotReady);
    assert!(err.message().contains("exited with code 3"), "{err}");
    assert!(err.message().contains("cannot open the database"), "the child's stderr is in the error: {err}");

    let mut o = opts("silent", 1);
    o.spec = o.spec.env(MODE, "silent").ready_timeout(Duration::from_millis(800));
    let err = Pool::start(o).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ChildNotReady);
    assert!(err.message().contains("did not report ready"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_get_their_environment_and_their_output_is_forwarded() {
    let host = ProcessHost::start().await.unwrap();
    let lines: Arc<Mutex<Vec<OutputLine>>> = Arc::default();
    let l = lines.clone();
    host.set_output_sink(Some(Arc::new(move |line: &OutputLine| l.lock().push(line.clone()))));
    let mut o = opts("envy", 1);
    o.spec = o.spec.env("GREETING", "hello from the parent");
    o.host = Some(host.clone());
    let pool = Pool::start(o).await.unwrap();
    let pid = pool.status().pids[0];
    let v: Option<String> = pool.exec("env", &("GREETING",)).await.unwrap();
    assert_eq!(v.as_deref(), Some("hello from the parent"));
    let name: Option<String> = pool.exec("env", &("OMNITRON_CHILD_NAME",)).await.unwrap();
    assert_eq!(name.as_deref(), Some("envy"));
    assert!(
        eventually(5, || lines.lock().iter().any(|l| l.line == "worker started"
            && l.pid == pid
            && l.stream == Stream::Stdout
            && l.name == "envy"))
        .await,
        "stdout line forwarded with name and pid"
    );
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_killed_with_sigkill_leaves_no_orphans() {
    use tokio::io::AsyncBufReadExt;
    let mut parent = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["role", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(support::ROLE, "parent")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(parent.stdout.take().unwrap()).lines();
    let pids: Vec<u32> = loop {
        let line =
            tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await.unwrap().unwrap().unwrap();
        if let Some(rest) = line.strip_prefix("PIDS ") {
            break rest.split_whitespace().map(|p| p.parse().unwrap()).collect();
        }
    };
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|p| alive(*p)));
    parent.kill().await.unwrap(); // SIGKILL
    for pid in pids {
        assert!(eventually(10, || !alive(pid)).await, "child {pid} outlived its parent");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_are_replaced_after_their_lifetime() {
    let mut o = opts("lifetime", 1);
    o.max_lifetime = Some(Duration::from_millis(400));
    let pool = Pool::start(o).await.unwrap();
    let first: u32 = pool.exec("pid", &()).await.unwrap();
    let mut replaced = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(pid) = pool.exec::<_, u32>("pid", &()).await
            && pid != first
        {
            replaced = true;
            break;
        }
    }
    assert!(replaced, "the worker outlived its max lifetime");
    assert!(eventually(10, || !alive(first)).await, "the old worker was stopped");
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impossible_options_are_refused_before_anything_starts() {
    type Break = fn(&mut PoolOptions);
    let cases: [(&str, Break); 4] = [
        ("at least one worker", |o| {
            o.size = PoolSize::Fixed(0);
            o.max = Some(0);
        }),
        ("does not hold", |o| {
            o.min = Some(3);
            o.max = Some(2);
        }),
        ("concurrency", |o| o.concurrency = 0),
        ("task timeout", |o| o.task_timeout = Duration::ZERO),
    ];
    for (why, break_it) in cases {
        let mut o = opts("invalid", 1);
        break_it(&mut o);
        let e = Pool::start(o).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert!(e.message().contains(why), "{why}: {e}");
    }
    // Arguments that are not an array never reach a worker (the protocol requires one).
    let pool = Pool::start(opts("args", 1)).await.unwrap();
    let e = pool.exec_raw("pid", omnitron::rpc::encode(&42u32).unwrap()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument.as_str());
    let _: u32 = pool.exec("pid", &()).await.unwrap();
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_caller_gives_up_frees_its_worker() {
    // One worker taking one task at a time: a task dropped by its caller (here a timeout around
    // `exec`) must give the slot back, or the next task waits for a worker that never frees.
    let mut o = opts("give-up", 1);
    o.concurrency = 1;
    o.task_timeout = Duration::from_secs(3);
    let pool = Pool::start(o).await.unwrap();
    let gave_up =
        tokio::time::timeout(Duration::from_millis(150), pool.exec::<_, u32>("sleep", &(2_000u64,))).await;
    assert!(gave_up.is_err(), "the caller gave up first");
    // Leaked, this would wait for the slot until the task timeout (3 s) and fail.
    let _: u32 = pool.exec("pid", &()).await.unwrap();
    pool.stop().await;
}

fn batch_opts(name: &str, size: usize) -> PoolOptions {
    let mut o = opts(name, size);
    o.spec = o.spec.env(MODE, "batch");
    o
}

type Chunked = (u64, u32, usize);

async fn raw_map(
    pool: &Pool,
    method: &str,
    items: Vec<bytes::Bytes>,
    chunksize: Option<usize>,
) -> Vec<Result<bytes::Bytes, omnitron::rpc::WireError>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.map_raw_with_options(method, items, MapOptions { chunksize }, move |r| {
        let _ = tx.send(r.into_vec());
    })
    .unwrap();
    rx.await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_sends_chunks_to_workers_that_take_them() {
    let pool = Pool::start(batch_opts("chunks", 2)).await.unwrap();
    let items: Vec<u64> = (0..100).collect();
    // multiprocessing's size: divmod(100, 2 * 4) = (12, 4), so 13 a chunk (the last one 9).
    let out: Vec<Chunked> = pool.map("chunk", &items).await.unwrap();
    assert_eq!(out.iter().map(|c| c.0).collect::<Vec<_>>(), items, "in the items' order");
    let sizes: HashSet<usize> = out.iter().map(|c| c.2).collect();
    assert_eq!(sizes, HashSet::from([13, 9]), "{out:?}");
    let pids: HashSet<u32> = out.iter().map(|c| c.1).collect();
    assert_eq!(pids.len(), 2, "chunks went to both workers");
    // A chunk size of the caller's.
    let out: Vec<Chunked> = pool.map_with("chunk", &items, MapOptions { chunksize: Some(40) }).await.unwrap();
    assert_eq!(out.iter().map(|c| c.2).collect::<Vec<_>>(), [vec![40; 80], vec![20; 20]].concat());
    assert_eq!(out.iter().map(|c| c.0).collect::<Vec<_>>(), items);
    // 1: one call per item, as before.
    let out: Vec<Chunked> = pool.map_with("chunk", &items, MapOptions { chunksize: Some(1) }).await.unwrap();
    assert!(out.iter().all(|c| c.2 == 1), "{out:?}");
    // The callback form (what the bindings use), over many items.
    let raw: Vec<bytes::Bytes> = (0..5000u32).map(|i| omnitron::rpc::encode_args(&(i,)).unwrap()).collect();
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.map_raw_with("echo_n", raw, move |r| {
        let _ = tx.send(r);
    });
    let results = rx.await.unwrap();
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(omnitron::rpc::decode::<u32>(&r.unwrap()).unwrap() as usize, i);
    }
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_has_the_time_its_items_would_have_had_one_by_one() {
    let mut o = batch_opts("chunk-time", 1);
    o.task_timeout = Duration::from_millis(400);
    let pool = Pool::start(o).await.unwrap();
    // Six items of 150 ms in one chunk take 900 ms: more than one task's 400 ms, well within the
    // chunk's 6 x 400 ms.
    let out: Vec<u32> =
        pool.map_with("sleep", &[150u64; 6], MapOptions { chunksize: Some(6) }).await.unwrap();
    assert_eq!(out.len(), 6);
    // One task alone still has its own 400 ms.
    let e = pool.exec::<_, u32>("sleep", &(2_000u64,)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout, "{e}");
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_item_of_a_chunk_keeps_its_own_error() {
    let pool = Pool::start(batch_opts("item-errors", 2)).await.unwrap();
    for chunksize in [None, Some(1), Some(7)] {
        let raw: Vec<bytes::Bytes> = (0..60u64).map(|i| omnitron::rpc::encode_args(&(i,)).unwrap()).collect();
        let results = raw_map(&pool, "maybe_fail", raw, chunksize).await;
        assert_eq!(results.len(), 60);
        for (i, r) in results.into_iter().enumerate() {
            if i % 7 == 3 {
                let e = r.unwrap_err();
                assert_eq!(e.code, "E001", "{chunksize:?} {i}");
                assert_eq!(e.message, format!("item {i} is bad"));
            } else {
                assert_eq!(omnitron::rpc::decode::<u64>(&r.unwrap()).unwrap(), 2 * i as u64);
            }
        }
    }
    // Typed: the first failing item (in order) fails the map.
    let e = pool.map::<_, u64>("maybe_fail", &(0..20u64).collect::<Vec<_>>()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert_eq!(e.message(), "item 3 is bad");
    // An unknown method: every item says so.
    let e = pool.map::<_, u64>("nope", &[1u64, 2, 3, 4, 5, 6, 7, 8, 9]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::MethodNotFound, "{e}");
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_whose_worker_dies_is_retried_on_another() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("died").to_string_lossy().into_owned();
    let mut o = batch_opts("chunk-retry", 2);
    o.task_retries = 1;
    let pool = Pool::start(o).await.unwrap();
    let pids = pool.status().pids;
    // Two arguments per item: `die_once(n, marker)`.
    let raw: Vec<bytes::Bytes> =
        (0..100u64).map(|i| omnitron::rpc::encode_args(&(i, &marker)).unwrap()).collect();
    let results = raw_map(&pool, "die_once", raw.clone(), Some(10)).await;
    let out: Vec<u64> = results.into_iter().map(|r| omnitron::rpc::decode(&r.unwrap()).unwrap()).collect();
    assert_eq!(out, (0..100).collect::<Vec<_>>(), "every item answered, in order");
    assert!(std::path::Path::new(&marker).exists(), "a worker died on item 50");
    assert!(eventually(10, || pids.iter().any(|p| !alive(*p))).await, "one of {pids:?} is gone");

    // With no retries left, the chunk's items fail with WorkerLost, the others are answered.
    std::fs::remove_file(&marker).unwrap();
    pool.wait_for_workers(2, Duration::from_secs(20)).await.unwrap();
    let mut o = batch_opts("chunk-lost", 2);
    o.task_retries = 0;
    let lossy = Pool::start(o).await.unwrap();
    let results = raw_map(&lossy, "die_once", raw, Some(10)).await;
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(b) => assert_eq!(omnitron::rpc::decode::<u64>(b).unwrap(), i as u64),
            // Item 50's chunk, and any other chunk the dying worker had taken.
            Err(e) => assert_eq!(e.code, ErrorCode::WorkerLost.as_str(), "item {i}: {e:?}"),
        }
    }
    assert!(results[50..60].iter().all(Result::is_err), "the dead worker's chunk was not retried");
    lossy.stop().await;
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_without_batches_get_one_call_per_item() {
    // A Rust worker that does not register `$batch`: every item goes on its own.
    let pool = Pool::start(opts("no-batch", 2)).await.unwrap();
    let items: Vec<u64> = (0..50).collect();
    let out: Vec<Chunked> = pool.map_with("chunk", &items, MapOptions { chunksize: Some(10) }).await.unwrap();
    assert_eq!(out.iter().map(|c| c.0).collect::<Vec<_>>(), items);
    assert!(out.iter().all(|c| c.2 == 1), "{out:?}");
    pool.stop().await;
    // No worker ready yet when the map starts (no warmup): chunks are tried, refused with RPC002
    // by a worker without `$batch`, and their items sent one by one.
    let mut o = opts("no-batch-cold", 2);
    o.warmup = false;
    let pool = Pool::start(o).await.unwrap();
    let out: Vec<Chunked> = pool.map_with("chunk", &items, MapOptions { chunksize: Some(10) }).await.unwrap();
    assert_eq!(out.iter().map(|c| c.0).collect::<Vec<_>>(), items);
    assert!(out.iter().all(|c| c.2 == 1), "{out:?}");
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_map_input_is_refused_before_anything_is_sent() {
    let pool = Pool::start(batch_opts("bad-map", 1)).await.unwrap();
    let e = pool.map_with::<_, u64>("echo_n", &[1u64], MapOptions { chunksize: Some(0) }).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(e.message().contains("chunksize"), "{e}");
    let items = vec![omnitron::rpc::encode_args(&(1u32,)).unwrap(), omnitron::rpc::encode(&7u32).unwrap()];
    let e =
        pool.map_raw_with_options("echo_n", items.clone(), MapOptions::default(), |_| panic!("not called"));
    let e = e.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(e.message().contains("item 1"), "{e}");
    // The callback form reports it for every item.
    let results = pool.map_raw("echo_n", items).await;
    assert!(results.iter().all(|r| r.as_ref().unwrap_err().code == "E001"));
    let empty: Vec<u64> = pool.map("echo_n", &Vec::<u64>::new()).await.unwrap();
    assert!(empty.is_empty());
    pool.stop().await;
}

type Outcome = Result<bytes::Bytes, omnitron::rpc::WireError>;

/// `exec_raw_with`, its result sent to the returned channel.
fn exec_cb(
    pool: &Pool,
    method: &str,
    args: bytes::Bytes,
) -> (omnitron::process::PoolTask, tokio::sync::oneshot::Receiver<Outcome>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = pool.exec_raw_with(method, args, move |r| {
        let _ = tx.send(r);
    });
    (task, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_queued_with_a_callback_are_sent_by_whoever_frees_a_slot() {
    let args = |ms: u64| omnitron::rpc::encode_args(&(ms,)).unwrap();
    let mut o = opts("queued-callbacks", 1);
    o.concurrency = 1;
    o.queue_limit = 3;
    o.task_timeout = Duration::from_secs(2);
    let pool = Pool::start(o).await.unwrap();
    let pid = pool.status().pids[0];
    // One running, three waiting: they run in turn, in order.
    let (_busy, busy) = exec_cb(&pool, "sleep", args(300));
    let waiting: Vec<_> = (0..3).map(|_| exec_cb(&pool, "sleep", args(10))).collect();
    assert!(eventually(5, || pool.status().queued == 3).await, "{:?}", pool.status());
    // A fourth finds the queue full at once.
    let (_, full) = exec_cb(&pool, "pid", omnitron::rpc::EMPTY_ARRAY.into());
    let e = full.await.unwrap().unwrap_err();
    assert_eq!(e.code, ErrorCode::QueueFull.as_str(), "{e:?}");
    // One of them is cancelled while it waits: it never answers, and leaves the queue.
    let mut waiting = waiting.into_iter();
    let (cancelled, cancelled_rx) = waiting.next().unwrap();
    cancelled.cancel();
    assert_eq!(pool.status().queued, 2);
    assert_eq!(omnitron::rpc::decode::<u32>(&busy.await.unwrap().unwrap()).unwrap(), pid);
    for (_, rx) in waiting {
        assert_eq!(omnitron::rpc::decode::<u32>(&rx.await.unwrap().unwrap()).unwrap(), pid);
    }
    assert!(cancelled_rx.await.is_err(), "a cancelled task's callback is dropped, not called");

    // Stopping the pool fails what still waits.
    let (_busy, _) = exec_cb(&pool, "sleep", args(500));
    let (_waits, waits) = exec_cb(&pool, "pid", omnitron::rpc::EMPTY_ARRAY.into());
    assert!(eventually(5, || pool.status().queued == 1).await);
    pool.stop().await;
    assert_eq!(waits.await.unwrap().unwrap_err().code, ErrorCode::NotRunning.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_callback_waiting_past_its_task_timeout_fails_and_the_pool_goes_on() {
    // The only slot is held by a chunk (three 600 ms items: 1.8 s, within its 3 x 1 s), so no
    // running task's timeout frees it before the queued task's own 1 s runs out.
    let mut o = batch_opts("queued-timeout", 1);
    o.concurrency = 1;
    o.task_timeout = Duration::from_millis(1_000);
    let pool = Pool::start(o).await.unwrap();
    let pid = pool.status().pids[0];
    let p = pool.clone();
    let chunk = tokio::spawn(async move {
        p.map_with::<_, u32>("sleep", &[600u64; 3], MapOptions { chunksize: Some(3) }).await
    });
    assert!(eventually(5, || pool.status().in_flight == 1).await, "{:?}", pool.status());
    let (_late, late) = exec_cb(&pool, "pid", omnitron::rpc::EMPTY_ARRAY.into());
    let e = late.await.unwrap().unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout.as_str(), "{e:?}");
    assert!(e.message.contains("no worker was free"), "{e:?}");
    assert_eq!(chunk.await.unwrap().unwrap().len(), 3, "the chunk ran on");
    let (_, after) = exec_cb(&pool, "pid", omnitron::rpc::EMPTY_ARRAY.into());
    assert_eq!(omnitron::rpc::decode::<u32>(&after.await.unwrap().unwrap()).unwrap(), pid);
    pool.stop().await;
}
