//! The application's status page (issue 21, docs/OBSERVABILITY.md "Open the status page").
//!
//! Two halves:
//! - every process answers the built-in RPC service `$status` (method `report`) with what it knows
//!   about itself: its metrics registry, its latest finished spans, and the runs of its workflow
//!   engines ([`report`]). Every door gets it from core, whatever language the process is in;
//! - `omnitron start` (or any Rust program holding a [`Supervisor`](crate::process::Supervisor))
//!   serves the page ([`StatusServer`]): it asks each running child for its report, adds what the
//!   supervisor knows (state, restarts, services, CPU and memory from `/proc`), and hands it all to
//!   a plain HTML page whose small script draws it and asks again every two seconds.

#[cfg(all(feature = "process", feature = "exporter"))]
mod procfs;
mod report;
#[cfg(all(feature = "process", feature = "exporter"))]
mod server;
#[cfg(all(feature = "process", feature = "exporter"))]
mod traces;

pub use report::{REPORT_METHOD, STATUS_SERVICE, report, report_json};
#[cfg(feature = "workflow")]
pub(crate) use report::{Source, add_source};
#[cfg(all(feature = "process", feature = "exporter"))]
pub use server::{StatusOptions, StatusServer};
