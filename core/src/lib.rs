//! # Omnitron
//!
//! A framework for distributed applications: dependency injection, services that call each other
//! across processes by `name@version`, supervised process pools, saga workflows, resilience and
//! metrics. A config value, a repository built from it, resolved from a container:
//!
//! ```
//! use omnitron::di::{Container, Provider, Token};
//!
//! struct Config { url: String }
//! struct Repo { url: String }
//!
//! fn main() -> omnitron::Result<()> {
//!     let config = Token::<Config>::new("Config");
//!     let repo = Token::<Repo>::new("Repo");
//!
//!     let c = Container::new();
//!     c.register(Provider::value(&config, Config { url: "postgres://demo".into() }))?;
//!     c.register(Provider::factory(&repo, (&config,), |(cfg,)| Ok(Repo { url: cfg.url.clone() })))?;
//!     let repo = c.resolve(&repo)?; // built once (a singleton), its dependency resolved first
//!     assert_eq!(repo.url, "postgres://demo");
//!     println!("repo: {}", repo.url);
//!     Ok(())
//! }
//! ```
//!
//! Two peers in one process, a service and a call to it over a local socket (the same protocol
//! links processes written in Rust, C, TypeScript and Python):
//!
//! ```
//! # #[cfg(feature = "rpc")]
//! # fn main() -> omnitron::Result<()> {
//! use omnitron::rpc::{Peer, PeerOptions, Service};
//! use omnitron::transport::Address;
//!
//! omnitron::runtime::block_on(async {
//!     let addr = Address::private_local("calc")?;
//!     let server = Peer::listen(&addr, PeerOptions::new("server")).await?;
//!     let calc = Service::builder("calc", "1.0.0")?
//!         .method("add", |(a, b): (i64, i64)| async move { Ok(a + b) })
//!         .build()?;
//!     server.expose(calc).await?;
//!
//!     let client = Peer::connect(&addr, PeerOptions::new("client")).await?;
//!     let sum: i64 = client.call("calc@^1", "add", &(2, 3)).await?;
//!     assert_eq!(sum, 5);
//!     client.shutdown().await;
//!     server.shutdown().await;
//!     Ok(())
//! })
//! # }
//! # #[cfg(not(feature = "rpc"))]
//! # fn main() {}
//! ```
//!
//! The same engine is used from Rust (this crate), from C (`libomnitron`), from Node.js
//! (`@omnitron-dev/native`) and from Python (`omnitron`). Everything that decides behaviour lives
//! here; the bindings only translate.
//!
//! Dependency injection ([`di`]) is always built; the other capabilities are cargo features, all on
//! by default: `metrics`, `exporter` (the `/metrics` HTTP exporter, hyper), `resilience`, `rpc`
//! (with `transport`: local sockets, interprocess), `process` (pools and supervisors), `config`
//! (`omnitron.yaml`, what the `omnitron` command runs), `workflow`, `sqlite` (the SQLite workflow
//! journal, rusqlite), `http` (the HTTP server, hyper), `http-tls` (TLS for it, rustls with
//! ring), `queue` (durable job queues, the embedded SQLite store), `redis` (the Redis queue store,
//! redis-rs), `scheduler` (cron patterns and intervals firing jobs on queues, once across
//! instances; jiff). For dependency injection alone:
//! `omnitron = { version = "0.2", default-features = false }`.

#[cfg(feature = "config")]
pub mod config;
pub mod di;
pub mod dialect;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "telemetry")]
pub mod log;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod options;
#[cfg(feature = "process")]
pub mod process;
#[cfg(feature = "queue")]
pub mod queue;
#[cfg(feature = "resilience")]
pub mod resilience;
#[cfg(feature = "rpc")]
pub mod rpc;
pub mod runtime;
#[cfg(feature = "scheduler")]
pub mod scheduler;
#[cfg(feature = "rpc")]
pub mod status;
#[cfg(feature = "telemetry")]
pub mod telemetry;
pub mod time;
#[cfg(feature = "rpc")]
pub mod transport;
#[cfg(feature = "workflow")]
pub mod workflow;

mod int_hash;

pub use error::{BoxError, Error, ErrorCode, Result};

/// The engine's version (the crate version), as `omnitron_version()` returns it to C.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
