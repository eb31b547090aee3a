//! A Redis restart mid-run loses no job and the workers carry on. The test starts a Redis server
//! of its own (the shared one on 6379 keeps no data across a restart, and others use it): append
//! only, every write synced before it is answered. It kills that server with SIGKILL while two
//! workers on two connections run jobs, starts it again on the same port and directory, and
//! checks that every job completed exactly once, counting side effects by job id.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use omnitron::queue::{
    AddOptions, Queue, QueueOptions, RedisStore, RedisStoreOptions, Worker, WorkerOptions,
};
use parking_lot::Mutex;

/// `redis-server` on the PATH; the test fails, saying so, without it.
fn redis_server() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join("redis-server")).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("this test starts its own Redis server: redis-server is not on the PATH (install Redis, e.g. apt-get install redis-server)")
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A Redis server of the test's own, killed and its directory removed on drop.
struct Server {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Server {
    fn start() -> Server {
        let dir = std::env::temp_dir().join(format!(
            "omnitron-redis-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Server { port: free_port(), dir, child: None };
        s.launch();
        s
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        let child = Command::new(redis_server())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--appendonly", "yes"])
            .args(["--appendfsync", "always", "--save", "", "--dir"])
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        wait_ready(&self.url(), &self.dir);
    }

    /// SIGKILL: no shutdown of its own, only what it synced survives.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Until the server answers PING (it answers LOADING while it replays its log).
fn wait_ready(url: &str, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pong: redis::RedisResult<String> = redis::Client::open(url)
            .and_then(|c| c.get_connection())
            .and_then(|mut c| redis::cmd("PING").query(&mut c));
        if pong.is_ok() {
            return;
        }
        let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "redis-server did not start at {url}: {pong:?}\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn until(what: &str, secs: u64, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn jobs(from: usize, to: usize) -> Vec<(String, Bytes, AddOptions)> {
    (from..to)
        .map(|i| {
            (
                "job".to_string(),
                Bytes::from_static(&[0xc0]),
                AddOptions { id: Some(format!("job-{i}")), ..Default::default() },
            )
        })
        .collect()
}

#[tokio::test]
async fn a_redis_restart_mid_run_loses_no_job_and_the_workers_reconnect() {
    let mut server = Server::start();
    let connect = || RedisStore::connect_with(RedisStoreOptions::new(server.url()).prefix("restart"));
    let qa =
        Queue::open(Arc::new(connect().await.unwrap()), "restart", QueueOptions::default()).await.unwrap();
    let qb =
        Queue::open(Arc::new(connect().await.unwrap()), "restart", QueueOptions::default()).await.unwrap();
    qa.add_many_raw(jobs(0, 300)).await.unwrap();
    // Side effects by idempotency key. The lease outlasts the restart, so no lease expires while
    // its handler holds it: each job must run exactly once.
    let effects: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let options = WorkerOptions {
        concurrency: 4,
        lease: Duration::from_secs(10),
        poll_interval: Duration::from_millis(50),
        ..Default::default()
    };
    let mut workers = Vec::new();
    for q in [&qa, &qb] {
        let e = effects.clone();
        workers.push(
            Worker::start(q, options.clone(), move |job| {
                let e = e.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    *e.lock().entry(job.id().to_string()).or_default() += 1;
                    Ok(())
                }
            })
            .unwrap(),
        );
    }
    until("the first jobs", 20, || effects.lock().len() >= 60).await;
    server.kill();
    let during = effects.lock().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.launch();
    // Jobs added after the restart reach the same workers.
    qa.add_many_raw(jobs(300, 350)).await.unwrap();
    until("all 350 jobs after the restart", 90, || effects.lock().len() == 350).await;
    for w in workers {
        w.close(Duration::from_secs(5)).await;
    }
    assert!(during < 350, "every job ran before the restart: the test proved nothing");
    let twice: Vec<_> =
        effects.lock().iter().filter(|(_, n)| **n != 1).map(|(id, n)| format!("{id}: {n}")).collect();
    assert!(twice.is_empty(), "jobs run more than once: {twice:?}");
    let counts = qa.counts().await.unwrap();
    assert_eq!((counts.completed, counts.waiting, counts.active, counts.dead), (350, 0, 0, 0));
}

#[tokio::test]
async fn a_call_while_redis_is_down_fails_with_q002_and_works_once_it_is_back() {
    let mut server = Server::start();
    let store = RedisStore::connect_with(RedisStoreOptions::new(server.url()).prefix("down")).await.unwrap();
    let q = Queue::open(Arc::new(store), "down", QueueOptions::default()).await.unwrap();
    q.add_many_raw(jobs(0, 1)).await.unwrap();
    server.kill();
    let started = Instant::now();
    let e = q.add_many_raw(jobs(1, 2)).await.unwrap_err();
    assert_eq!(e.code(), omnitron::error::ErrorCode::QueueStoreFailed, "{e}");
    assert!(e.message().contains("check that Redis is running"), "{e}");
    // Retried a few times, not forever.
    assert!(started.elapsed() < Duration::from_secs(30), "failed after {:?}", started.elapsed());
    server.launch();
    q.add_many_raw(jobs(1, 2)).await.unwrap();
    assert_eq!(q.counts().await.unwrap().waiting, 2);
}
