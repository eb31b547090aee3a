//! # Omnitron
//!
//! The engine behind Omnitron: dependency injection, and (as later modules land) resilience, metrics,
//! RPC between processes in any language, supervised process pools and durable workflows.
//!
//! The same engine is used from Rust (this crate), from C (`libomnitron`), from Node.js
//! (`@omnitron-dev/native`) and from Python (`omnitron`). Everything that decides behaviour lives here;
//! the bindings only translate.
//!
//! ```
//! use omnitron::di::{Container, Provider, Token};
//!
//! struct Config { url: String }
//! struct Repo { url: String }
//!
//! let config = Token::<Config>::new("Config");
//! let repo = Token::<Repo>::new("Repo");
//!
//! let container = Container::new();
//! container.register(Provider::value(&config, Config { url: "db://local".into() })).unwrap();
//! container
//!     .register(Provider::factory(&repo, (&config,), |(cfg,)| Ok(Repo { url: cfg.url.clone() })))
//!     .unwrap();
//! assert_eq!(container.resolve(&repo).unwrap().url, "db://local");
//! ```
//!
//! Dependency injection is always built; the other capabilities are cargo features, all on by
//! default: `metrics`, `exporter` (the `/metrics` HTTP exporter, hyper), `resilience`, `rpc` (with
//! `transport`: local sockets, interprocess), `process` (pools and supervisors), `config`
//! (`omnitron.yaml` and the `omnitron` command), `workflow`, `sqlite` (the SQLite workflow
//! journal, rusqlite).

#[cfg(feature = "config")]
pub mod config;
pub mod di;
pub mod dialect;
pub mod error;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod options;
#[cfg(feature = "process")]
pub mod process;
#[cfg(feature = "resilience")]
pub mod resilience;
#[cfg(feature = "rpc")]
pub mod rpc;
pub mod runtime;
#[cfg(feature = "rpc")]
pub mod transport;
#[cfg(feature = "workflow")]
pub mod workflow;

mod int_hash;

pub use error::{BoxError, Error, ErrorCode, Result};

/// The engine's version (the crate version), as `omnitron_version()` returns it to C.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
