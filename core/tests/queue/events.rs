//! Events heard in every process sharing the store. Two store handles stand for two processes: on
//! one file, two writer threads and no shared memory; on Redis, two connections.

use std::time::Duration;

use omnitron::queue::{AddOptions, Queue, QueueEvent, QueueOptions, Worker};

use crate::backend::Backend;
use crate::{fast, next_of};

pub(crate) async fn events_reach_listeners_of_another_process_once(b: &Backend) {
    let opts = QueueOptions::default().retries(0);
    let worker_side = Queue::open(b.store().await, "heard", opts.clone()).await.unwrap();
    let listener_side = Queue::open(b.store().await, "heard", opts).await.unwrap();
    let mut there = listener_side.events();
    tokio::time::timeout(Duration::from_secs(10), listener_side.listening())
        .await
        .expect("listening in time")
        .unwrap();
    let mut here = worker_side.events();
    worker_side.add("ok", &1, &AddOptions { id: Some("a".into()), ..Default::default() }).await.unwrap();
    let w = Worker::start(&worker_side, fast(), |job| async move {
        job.progress(&"half").await?;
        if job.name() == "bad" {
            return Err(omnitron::Error::new(omnitron::error::ErrorCode::JobFailed, "no good"));
        }
        Ok(job.data::<i64>()? + 1)
    })
    .unwrap();
    match next_of(&mut there, "completed").await {
        QueueEvent::Completed { id, name, attempt, result } => {
            assert_eq!((id.as_str(), name.as_str(), attempt), ("a", "ok", 1));
            assert_eq!(rmp_serde::from_slice::<i64>(&result).unwrap(), 2);
        }
        e => panic!("{e:?}"),
    }
    worker_side.add("bad", &1, &AddOptions { id: Some("b".into()), ..Default::default() }).await.unwrap();
    match next_of(&mut there, "failed").await {
        QueueEvent::Failed { id, error, dead, .. } => {
            assert_eq!((id.as_str(), dead), ("b", true));
            assert!(error.contains("no good"), "{error}");
        }
        e => panic!("{e:?}"),
    }
    next_of(&mut there, "drained").await;
    w.close(Duration::from_secs(5)).await;
    // The worker's own process heard each event once: its own publications are not heard again.
    let mut mine = Vec::new();
    while let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(300), here.recv()).await {
        mine.push(e.kind());
    }
    let count = |k: &str| mine.iter().filter(|e| **e == k).count();
    assert_eq!((count("completed"), count("failed"), count("progress")), (1, 1, 2), "{mine:?}");
}

pub(crate) async fn a_process_that_listens_hears_nothing_it_published_before(b: &Backend) {
    // Events published while nobody listens are not kept for later listeners.
    let a = Queue::open(b.store().await, "news", QueueOptions::default()).await.unwrap();
    let w = Worker::start(&a, fast(), |_| async { Ok(()) }).unwrap();
    let mut local = a.events();
    a.add("j", &0, &AddOptions::default()).await.unwrap();
    next_of(&mut local, "completed").await;
    // The worker's last word on that job; then its publications are flushed: on SQLite they wait
    // in the writer's queue (a call through it comes back after them), on Redis in a task.
    next_of(&mut local, "drained").await;
    a.counts().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let other = Queue::open(b.store().await, "news", QueueOptions::default()).await.unwrap();
    let mut late = other.events();
    other.listening().await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(300), late.recv()).await.is_err());
    a.add("j", &1, &AddOptions::default()).await.unwrap();
    next_of(&mut late, "completed").await;
    w.close(Duration::from_secs(5)).await;
}
