//! The store's own rules, called through `Store` as a worker calls it: fencing tokens, a handed
//! back job's place, removal, the dead-letter queue, keeping and purging completed jobs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use omnitron::error::ErrorCode;
use omnitron::queue::store::{Claim, Claimed, DeadSelection};
use omnitron::queue::{
    Added, AttemptError, Finish, FinishAck, JobOptions, JobState, Leased, NewJob, Outcome, Store,
};

use crate::backend::Backend;

fn job(id: &str) -> NewJob {
    NewJob {
        id: id.into(),
        name: "n".into(),
        data: Bytes::from_static(&[0xc0]),
        priority: 0,
        run_at_ms: 0,
        opts: JobOptions::default(),
    }
}

async fn claim(s: &Arc<dyn Store>, q: &str, max: u32, lease: Duration) -> Claimed {
    s.claim(q, Claim { worker: "test".into(), max, lease }).await.unwrap()
}

fn ids(jobs: &[Leased]) -> Vec<&str> {
    jobs.iter().map(|j| j.id.as_str()).collect()
}

async fn finish(s: &Arc<dyn Store>, q: &str, j: &Leased, outcome: Outcome) -> FinishAck {
    let f = Finish { id: j.id.clone(), token: j.token, outcome };
    s.finish(q, vec![f]).await.unwrap()[0]
}

fn error(attempt: u32, message: &str) -> AttemptError {
    AttemptError { attempt, at_ms: 0, code: "Q005".into(), message: message.into() }
}

fn done() -> Outcome {
    Outcome::Completed(Bytes::from_static(&[0xc3]))
}

pub(crate) async fn a_stale_token_is_refused_on_finish_renew_and_progress(b: &Backend) {
    let s = b.store().await;
    let q = "fence";
    assert_eq!(s.add(q, vec![job("j")]).await.unwrap(), [Added::New]);
    let first = claim(&s, q, 1, Duration::from_millis(100)).await.jobs.remove(0);
    assert_eq!(first.attempt, 1);
    // The lease expires: the job goes back (its worker taken for lost), not charged an attempt.
    let deadline = Instant::now() + Duration::from_secs(20);
    let stalled = loop {
        let s = s.reap(q, 1).await.unwrap();
        if !s.is_empty() {
            break s;
        }
        assert!(Instant::now() < deadline, "the lease never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!((stalled[0].id.as_str(), stalled[0].requeued), ("j", true));
    let second = claim(&s, q, 1, Duration::from_secs(30)).await.jobs.remove(0);
    assert_eq!(second.attempt, 1);
    assert!(second.token > first.token);
    // The first holder's token is refused everywhere; the second's is honoured.
    assert_eq!(finish(&s, q, &first, done()).await, FinishAck::LeaseLost);
    assert_eq!(s.renew(q, vec![("j".into(), first.token)], Duration::from_secs(30)).await.unwrap(), ["j"]);
    assert!(!s.progress(q, "j", first.token, Bytes::from_static(&[1])).await.unwrap());
    assert!(s.progress(q, "j", second.token, Bytes::from_static(&[2])).await.unwrap());
    assert!(s.renew(q, vec![("j".into(), second.token)], Duration::from_secs(30)).await.unwrap().is_empty());
    assert_eq!(finish(&s, q, &second, done()).await, FinishAck::Done);
    // Recorded once: the same outcome again is refused.
    assert_eq!(finish(&s, q, &second, done()).await, FinishAck::LeaseLost);
    let info = s.get(q, "j").await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (JobState::Completed, 1));
    assert_eq!(info.progress.as_deref(), Some(&[2u8][..]));
    assert_eq!(info.result.as_deref(), Some(&[0xc3u8][..]));
}

pub(crate) async fn a_released_job_keeps_its_place_and_its_attempt(b: &Backend) {
    let s = b.store().await;
    let q = "place";
    s.add(q, vec![job("a"), job("b"), job("c")]).await.unwrap();
    let a = claim(&s, q, 1, Duration::from_secs(30)).await.jobs.remove(0);
    assert_eq!(a.id, "a");
    s.add(q, vec![job("d")]).await.unwrap();
    assert_eq!(finish(&s, q, &a, Outcome::Release).await, FinishAck::Done);
    let info = s.get(q, "a").await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (JobState::Waiting, 0));
    // Back at its place, before the jobs added after it; its attempt not counted.
    let all = claim(&s, q, 10, Duration::from_secs(30)).await.jobs;
    assert_eq!(ids(&all), ["a", "b", "c", "d"]);
    assert_eq!(all[0].attempt, 1);
    let counts = s.counts(q).await.unwrap();
    assert_eq!((counts.waiting, counts.active), (0, 4));
}

pub(crate) async fn remove_refuses_a_running_job_and_removes_the_others(b: &Backend) {
    let s = b.store().await;
    let q = "removal";
    let later = NewJob { run_at_ms: omnitron::time::now_ms() + 3_600_000, ..job("later") };
    s.add(q, vec![job("run"), job("wait"), later]).await.unwrap();
    assert_eq!(s.counts(q).await.unwrap().delayed, 1);
    let run = claim(&s, q, 1, Duration::from_secs(30)).await.jobs.remove(0);
    assert_eq!(run.id, "run");
    let e = s.remove(q, "run").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::JobActive);
    assert!(e.message().contains("'run'"), "{e}");
    assert!(s.remove(q, "wait").await.unwrap());
    assert!(s.remove(q, "later").await.unwrap());
    assert!(!s.remove(q, "later").await.unwrap());
    assert!(s.get(q, "wait").await.unwrap().is_none());
    assert_eq!(finish(&s, q, &run, done()).await, FinishAck::Done);
    assert!(s.remove(q, "run").await.unwrap());
    let counts = s.counts(q).await.unwrap();
    assert_eq!((counts.waiting, counts.delayed, counts.active, counts.completed), (0, 0, 0, 0));
    // Gone, so no longer a duplicate; and nothing left in the queue's order.
    assert_eq!(s.add(q, vec![job("wait")]).await.unwrap(), [Added::New]);
    assert_eq!(ids(&claim(&s, q, 10, Duration::from_secs(30)).await.jobs), ["wait"]);
}

pub(crate) async fn dead_jobs_are_listed_oldest_first_and_retried_by_id(b: &Backend) {
    let s = b.store().await;
    let q = "dlq";
    s.add(q, vec![job("x"), job("y"), job("z")]).await.unwrap();
    for j in claim(&s, q, 3, Duration::from_secs(30)).await.jobs {
        let e = error(1, &format!("{} failed", j.id));
        assert_eq!(finish(&s, q, &j, Outcome::Dead(e)).await, FinishAck::Done);
    }
    let dead = s.dead(q, 0, 10).await.unwrap();
    assert_eq!(dead.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), ["x", "y", "z"]);
    assert!(dead.iter().all(|j| j.state == JobState::Dead && j.finished_ms.is_some()));
    assert_eq!(dead[1].errors[0].message, "y failed");
    assert_eq!(s.dead(q, 1, 1).await.unwrap()[0].id, "y");
    assert!(s.dead(q, 5, 10).await.unwrap().is_empty());
    // Dead jobs still hold their ids.
    assert_eq!(s.add(q, vec![job("y")]).await.unwrap(), [Added::Duplicate]);
    assert_eq!(s.retry_dead(q, DeadSelection::Ids(&[])).await.unwrap(), 0);
    let pick = ["y".to_string(), "nope".to_string()];
    assert_eq!(s.retry_dead(q, DeadSelection::Ids(&pick)).await.unwrap(), 1);
    let counts = s.counts(q).await.unwrap();
    assert_eq!((counts.waiting, counts.dead), (1, 2));
    // Fresh attempts, old errors kept.
    let y = claim(&s, q, 10, Duration::from_secs(30)).await.jobs.remove(0);
    assert_eq!((y.id.as_str(), y.attempt), ("y", 1));
    let e = error(1, "y failed again");
    assert_eq!(finish(&s, q, &y, Outcome::Retry(e, 0)).await, FinishAck::Done);
    let info = s.get(q, "y").await.unwrap().unwrap();
    assert_eq!(
        info.errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["y failed", "y failed again"]
    );
    // A retry due now is waiting, not delayed.
    assert_eq!(info.state, JobState::Waiting);
    assert_eq!(s.retry_dead(q, DeadSelection::All).await.unwrap(), 2);
    assert_eq!(s.counts(q).await.unwrap().dead, 0);
}

pub(crate) async fn completed_jobs_are_kept_for_their_keep_then_purged(b: &Backend) {
    let s = b.store().await;
    let q = "keep";
    let keep = |id: &str, ms: u64| NewJob {
        opts: JobOptions { keep_completed_ms: ms, ..Default::default() },
        ..job(id)
    };
    s.add(q, vec![keep("gone", 0), keep("brief", 150)]).await.unwrap();
    for j in claim(&s, q, 2, Duration::from_secs(30)).await.jobs {
        assert_eq!(finish(&s, q, &j, done()).await, FinishAck::Done);
    }
    // A keep of 0: removed when it completes, so its id is free again.
    assert!(s.get(q, "gone").await.unwrap().is_none());
    assert_eq!(s.add(q, vec![keep("gone", 0)]).await.unwrap(), [Added::New]);
    assert_eq!(s.get(q, "brief").await.unwrap().unwrap().state, JobState::Completed);
    assert_eq!(s.add(q, vec![keep("brief", 150)]).await.unwrap(), [Added::Duplicate]);
    // Past its keep, the next outcome recorded purges it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let gone = claim(&s, q, 1, Duration::from_secs(30)).await.jobs.remove(0);
    assert_eq!(finish(&s, q, &gone, done()).await, FinishAck::Done);
    assert!(s.get(q, "brief").await.unwrap().is_none());
    assert_eq!(s.counts(q).await.unwrap().completed, 0);
    assert_eq!(s.add(q, vec![keep("brief", 150)]).await.unwrap(), [Added::New]);
}

pub(crate) async fn a_lost_worker_past_max_stalls_sends_the_job_to_the_dead_letter_queue(b: &Backend) {
    let s = b.store().await;
    let q = "stalls";
    s.add(q, vec![job("s")]).await.unwrap();
    let lease = Duration::from_millis(50);
    let mut requeued = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    // max_stalls 1: the first loss requeues it, the second kills it.
    while requeued.len() < 2 {
        assert!(Instant::now() < deadline, "the leases never expired");
        if !claim(&s, q, 1, lease).await.jobs.is_empty() {
            tokio::time::sleep(Duration::from_millis(80)).await;
        }
        requeued.extend(s.reap(q, 1).await.unwrap().into_iter().map(|s| s.requeued));
    }
    assert_eq!(requeued, [true, false]);
    let info = s.get(q, "s").await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (JobState::Dead, 1));
    assert_eq!(info.errors.len(), 1);
    assert_eq!(info.errors[0].code, "Q007");
    assert!(info.errors[0].message.contains("2 times"), "{:?}", info.errors);
}

/// The scheduler's records: one lease holder at a time, its fencing token growing as it changes
/// hands; a firing's slot taken once across handles, with its job; an earlier slot ignored.
pub(crate) async fn the_scheduler_lease_and_watermark_hold_across_handles(b: &Backend) {
    let (a, x, c) = (b.store().await, b.store().await, b.store().await);
    let ttl = Duration::from_millis(300);
    assert_eq!(a.lease("l", "a", ttl).await.unwrap(), Some(1));
    assert_eq!(x.lease("l", "x", ttl).await.unwrap(), None);
    assert_eq!(a.lease("l", "a", ttl).await.unwrap(), Some(1), "renewing keeps the token");
    assert!(!x.release_lease("l", "x").await.unwrap(), "only the holder releases");
    assert!(a.release_lease("l", "a").await.unwrap());
    assert_eq!(x.lease("l", "x", ttl).await.unwrap(), Some(2));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(token) = c.lease("l", "c", ttl).await.unwrap() {
            assert_eq!(token, 3);
            break;
        }
        assert!(Instant::now() < deadline, "the lease never ran out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(a.watermark("s").await.unwrap(), None);
    let fires = [&a, &x, &c].map(|s| {
        let s = Arc::clone(s);
        tokio::spawn(async move { s.fire("s", 5_000, "cron", Some(job("cron:s:5000"))).await.unwrap() })
    });
    let mut moved = 0;
    for f in fires {
        moved += u32::from(f.await.unwrap());
    }
    assert_eq!(moved, 1);
    assert_eq!(x.watermark("s").await.unwrap(), Some(5_000));
    assert!(!c.fire("s", 4_000, "cron", Some(job("cron:s:4000"))).await.unwrap());
    assert!(c.fire("s", 6_000, "cron", None).await.unwrap());
    assert_eq!(a.watermark("s").await.unwrap(), Some(6_000));
    assert!(a.get("cron", "cron:s:5000").await.unwrap().is_some());
    assert!(a.get("cron", "cron:s:4000").await.unwrap().is_none());
    assert_eq!(a.counts("cron").await.unwrap().waiting, 1);
}
