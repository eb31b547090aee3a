//! The scheduler (spec 3.1 `cronJobs:`, `@Cron` / `@Interval`): cron patterns, 5 fields or 6
//! with seconds first, read in an IANA time zone (UTC unless a schedule names one), and fixed
//! intervals whose slots are multiples of the interval since the Unix epoch.
//!
//! A firing is a job on a queue (`cron` unless the schedule names one), named after its schedule,
//! with the id `cron:<schedule>:<slot_ms>`: it gets the queue's retries, leases and dead-letter
//! queue, and is run by the queue's workers (a `@Cron` handler is a processor of the queue, by job
//! name). With several instances of an application, each firing happens once: the instances share
//! a leader lease in the queue store, and the store adds a slot's job only if the slot is later
//! than the schedule's watermark. Runs missed while nothing was running follow the schedule's
//! [`Missed`] policy: `once` by default. See `docs/SCHEDULER.md`.
//!
//! ```
//! # fn main() -> omnitron::Result<()> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use omnitron::queue::{Queue, QueueOptions, SqliteStore, Worker, WorkerOptions};
//! use omnitron::scheduler::{Schedule, Scheduler, SchedulerOptions};
//!
//! omnitron::runtime::block_on(async {
//!     let store = Arc::new(SqliteStore::in_memory()?);
//!     let tick = Schedule::every("tick", Duration::from_secs(1))?;
//!     let scheduler = Scheduler::start(store.clone(), [tick], SchedulerOptions::default())?;
//!     let cron = Queue::open(store, "cron", QueueOptions::default()).await?;
//!     let mut events = cron.events();
//!     let worker = Worker::start(&cron, WorkerOptions::default(), |job| async move {
//!         Ok(format!("{} ran for slot {:?}", job.name(), omnitron::scheduler::slot_of(job.id())))
//!     })?;
//!     let done = events.recv().await.expect("a firing");
//!     assert_eq!(done.kind(), "completed");
//!     worker.close(Duration::from_secs(5)).await;
//!     scheduler.close().await;
//!     Ok(())
//! })
//! # }
//! ```

mod cron;
mod leader;
mod schedule;
mod timing;

pub use leader::{Scheduler, SchedulerOptions, SchedulerStats};
pub use schedule::{DEFAULT_QUEUE, MAX_CATCH_UP, Missed, Schedule, ScheduleSpec, slot_of};
