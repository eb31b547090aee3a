//! The queue engine against every store: each case is a function of the store it runs on
//! (`backend.rs`), and `cases!` makes one test per case and store, named `sqlite::<case>` and
//! `redis::<case>`. The Redis cases need a Redis server (`OMNITRON_TEST_REDIS_URL`, default
//! 127.0.0.1:6379); each uses its own key prefix and deletes its keys at the end.
//!
//! - `engine.rs`: workers, retries, the dead-letter queue, rate limits, pause, close, kill -9;
//! - `store.rs`: the store's own rules, called directly (fencing, order, removal, keep);
//! - `events.rs`: events heard in another process;
//! - `wake.rs`: idle workers woken by new work;
//! - `redis_restart.rs`: a Redis server of the test's own, restarted mid-run.

#![cfg(feature = "queue")]

mod backend;
mod engine;
mod events;
#[cfg(feature = "redis")]
mod redis_restart;
mod store;
mod wake;

use std::time::{Duration, Instant};

use omnitron::queue::{Backoff, Queue, QueueEvent, QueueOptions, Worker, WorkerOptions};

use backend::Backend;

/// One `#[tokio::test]` per case and store.
macro_rules! cases {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let b = crate::Backend::sqlite();
                    crate::$module::$case(&b).await;
                }
            )*
        }

        #[cfg(feature = "redis")]
        mod redis {
            $(
                #[tokio::test]
                async fn $case() {
                    let b = crate::Backend::redis();
                    crate::$module::$case(&b).await;
                }
            )*
        }
    };
}

cases! {
    engine::a_job_runs_once_and_its_result_is_kept,
    engine::a_job_carries_the_trace_it_was_added_in_to_its_handler,
    engine::lower_priority_values_run_first_then_oldest_first,
    engine::a_delayed_job_does_not_run_before_its_time,
    engine::a_poison_job_reaches_the_dead_letter_queue_with_every_error_and_can_be_retried,
    engine::an_attempt_past_its_timeout_fails_with_q006,
    engine::a_rate_limit_holds_across_two_workers_on_two_store_handles,
    engine::pause_stops_handing_jobs_out_and_resume_wakes_the_workers,
    engine::close_lets_running_jobs_finish_and_hands_back_those_past_the_grace,
    engine::bad_input_is_refused_with_the_rule,
    engine::a_job_whose_worker_is_killed_runs_again_and_completes_once,
    engine::a_worker_with_a_concurrency_of_ten_runs_ten_at_once,
    engine::queue_wide_concurrency_holds_across_two_workers,
    engine::the_metrics_count_jobs_by_outcome_and_state,
    engine::jobs_held_ahead_by_a_busy_worker_go_to_an_idle_one,
    engine::close_hands_held_jobs_back_at_once_with_their_attempt,
    store::a_stale_token_is_refused_on_finish_renew_and_progress,
    store::a_released_job_keeps_its_place_and_its_attempt,
    store::remove_refuses_a_running_job_and_removes_the_others,
    store::dead_jobs_are_listed_oldest_first_and_retried_by_id,
    store::completed_jobs_are_kept_for_their_keep_then_purged,
    store::a_lost_worker_past_max_stalls_sends_the_job_to_the_dead_letter_queue,
    store::the_scheduler_lease_and_watermark_hold_across_handles,
    events::events_reach_listeners_of_another_process_once,
    events::a_process_that_listens_hears_nothing_it_published_before,
    wake::an_idle_worker_is_woken_by_a_job_added_elsewhere,
    wake::jobs_added_at_once_wake_every_idle_worker_they_need,
}

pub(crate) fn fast() -> WorkerOptions {
    WorkerOptions {
        lease: Duration::from_millis(600),
        poll_interval: Duration::from_millis(20),
        ..Default::default()
    }
}

pub(crate) fn retries(n: u32, delay_ms: u64) -> QueueOptions {
    QueueOptions::default().retries(n).backoff(Backoff::Fixed { delay_ms })
}

pub(crate) async fn until<F: Fn() -> bool>(what: &str, f: F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) async fn next_of(rx: &mut tokio::sync::broadcast::Receiver<QueueEvent>, kind: &str) -> QueueEvent {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = tokio::time::timeout(left, rx.recv())
            .await
            .expect("an event in time")
            .expect("the stream is open");
        if e.kind() == kind {
            return e;
        }
    }
}

/// Run by `a_job_whose_worker_is_killed_runs_again_and_completes_once` in a child process, on its
/// parent's store: a worker that takes the job and hangs, until it is killed.
#[tokio::test]
async fn child_worker_that_hangs() {
    let Some(b) = Backend::from_env() else { return };
    let q = Queue::open(b.store().await, "kill9", QueueOptions::default()).await.unwrap();
    let _w = Worker::start(&q, WorkerOptions { lease: Duration::from_millis(800), ..fast() }, |_| async {
        std::future::pending::<()>().await;
        Ok(())
    })
    .unwrap();
    std::future::pending::<()>().await;
}
