//! Idle workers woken by new work, not by polling: the workers here poll once a minute, so a job
//! done within the cases' 20 s bound was a wake. On Redis the jobs are added through another
//! connection, as another machine would; the embedded store wakes the workers of its own handle
//! (other processes sharing its file poll, as `docs/QUEUES.md` says).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use omnitron::queue::{AddOptions, Queue, QueueOptions, Store, Worker, WorkerOptions};

use crate::backend::Backend;
use crate::{next_of, until};

fn idle() -> WorkerOptions {
    WorkerOptions { poll_interval: Duration::from_secs(60), ..Default::default() }
}

/// The handle jobs are added through: another connection on Redis, the workers' own otherwise.
async fn adder(b: &Backend, workers: &Arc<dyn Store>) -> Arc<dyn Store> {
    if b.is_redis() { b.store().await } else { workers.clone() }
}

pub(crate) async fn an_idle_worker_is_woken_by_a_job_added_elsewhere(b: &Backend) {
    let s = b.store().await;
    let q = Queue::open(s.clone(), "wake", QueueOptions::default()).await.unwrap();
    let elsewhere = Queue::open(adder(b, &s).await, "wake", QueueOptions::default()).await.unwrap();
    let mut events = q.events();
    let w = Worker::start(&q, idle(), |job| async move { Ok(job.name().to_string()) }).unwrap();
    // Let the worker find the queue empty and start waiting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    elsewhere.add("now", &1, &AddOptions::default()).await.unwrap();
    next_of(&mut events, "completed").await;
    // A delayed job wakes it too: the claim it makes learns when the job is due.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let later = AddOptions { delay: Some(Duration::from_millis(300)), ..Default::default() };
    elsewhere.add("later", &2, &later).await.unwrap();
    next_of(&mut events, "completed").await;
    w.close(Duration::from_secs(5)).await;
    assert_eq!(q.counts().await.unwrap().completed, 2);
}

pub(crate) async fn jobs_added_at_once_wake_every_idle_worker_they_need(b: &Backend) {
    let s = b.store().await;
    let q = Queue::open(s.clone(), "herd", QueueOptions::default()).await.unwrap();
    let elsewhere = Queue::open(adder(b, &s).await, "herd", QueueOptions::default()).await.unwrap();
    // Three workers of one slot each; every job waits until all three run at once, so the three
    // jobs complete only if the one add woke all three workers.
    let started = Arc::new(AtomicU32::new(0));
    let mut workers = Vec::new();
    for _ in 0..3 {
        let st = started.clone();
        workers.push(
            Worker::start(&q, idle(), move |_| {
                let st = st.clone();
                async move {
                    st.fetch_add(1, Ordering::SeqCst);
                    until("three jobs running at once", || st.load(Ordering::SeqCst) >= 3).await;
                    Ok(())
                }
            })
            .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let jobs =
        (0..3).map(|i| ("j".to_string(), rmp_serde::to_vec(&i).unwrap().into(), AddOptions::default()));
    elsewhere.add_many_raw(jobs.collect()).await.unwrap();
    let completed = || async { q.counts().await.unwrap().completed };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while completed().await < 3 {
        assert!(std::time::Instant::now() < deadline, "the three jobs never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for w in workers {
        w.close(Duration::from_secs(5)).await;
    }
}
