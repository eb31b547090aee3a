//! Durable job queues (spec 1.3 and 3.1): jobs added by any process in any language, run by
//! workers under leases, with retries and backoff, a dead-letter queue, rate limits and
//! concurrency held across every worker, pause and resume, and events.
//!
//! Delivery is at least once: a worker holds a lease on each job it runs and renews it; a job
//! whose worker died is handed out again once the lease expires. Handlers that have side effects
//! make them idempotent with the job's id. See `docs/QUEUES.md` for the whole contract.
//!
//! ```
//! # fn main() -> omnitron::Result<()> {
//! use std::sync::Arc;
//! use omnitron::queue::{AddOptions, Queue, QueueOptions, SqliteStore, Worker, WorkerOptions};
//!
//! omnitron::runtime::block_on(async {
//!     let store = Arc::new(SqliteStore::in_memory()?);
//!     let emails = Queue::open(store, "emails", QueueOptions::default()).await?;
//!     let mut events = emails.events();
//!     emails.add("welcome", &serde_json::json!({ "to": "ada@example.com" }), &AddOptions::default()).await?;
//!     let worker = Worker::start(&emails, WorkerOptions::default(), |job| async move {
//!         let data: serde_json::Value = job.data()?;
//!         Ok(format!("sent to {}", data["to"].as_str().unwrap_or("?")))
//!     })?;
//!     let done = events.recv().await.expect("an event");
//!     assert_eq!(done.kind(), "completed");
//!     worker.close(std::time::Duration::from_secs(5)).await;
//!     Ok(())
//! })
//! # }
//! ```

mod deployed;
pub mod door;
mod events;
mod handle;
mod job;
mod metrics;
mod options;
pub mod store;
mod trace;
mod worker;

pub use deployed::{CronJob, Deployed, ENV as DEPLOYED_ENV, QueueEntry};
pub use handle::{Queue, QueueEvent};
// Used by the scheduler only.
#[cfg(feature = "scheduler")]
pub(crate) use handle::{check_name, encode};
pub use job::{
    Added, AttemptError, Backoff, Counts, Finish, FinishAck, JobInfo, JobOptions, JobState, Leased, NewJob,
    Outcome, Stalled, new_job_id,
};
#[cfg(feature = "scheduler")]
pub(crate) use options::parse_duration;
pub use options::{AddOptions, QueueOptions, Rate, WorkerOptions};
#[cfg(feature = "redis")]
pub use store::{RedisStore, RedisStoreOptions};
pub use store::{SqliteStore, SqliteStoreOptions, Store, connect};
pub use worker::{Handler, Job, Worker};
