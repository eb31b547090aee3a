//! An HTTP server in core: hyper 1, HTTP/1.1 and HTTP/2 cleartext, a segment-trie router, errors
//! as RFC 9457 problem details carrying the engine's codes, and a request id per request
//! ([docs/HTTP.md](https://github.com/omnitron-dev/omnitron-native/blob/main/docs/HTTP.md)).
//!
//! ```
//! use omnitron::http::{HttpError, HttpOptions, HttpServer, Request, Response, Router};
//!
//! async fn user(req: Request) -> Result<Response, HttpError> {
//!     let id = req.param("id").unwrap_or_default();
//!     Ok(Response::json(200, &serde_json::json!({ "id": id })))
//! }
//!
//! omnitron::runtime::block_on(async {
//!     let router = Router::new().get("/users/:id", user);
//!     let server = HttpServer::bind("127.0.0.1:0", router, HttpOptions::default()).await?;
//!     println!("listening on {}", server.local_addr());
//!     server.shutdown().await;
//!     Ok::<_, omnitron::Error>(())
//! })?;
//! # Ok::<_, omnitron::Error>(())
//! ```
//!
//! - [`server`]: the listener, connections, limits and graceful shutdown;
//! - [`router`]: routes, path parameters, the trailing-slash rule, 404 and 405;
//! - [`problem`]: [`HttpError`] and problem documents;
//! - [`request`] and [`response`]: what a handler receives and answers.

pub mod app;
mod audit;
mod auth;
mod cache;
mod cors;
mod door;
pub mod extract;
mod health;
mod limit;
mod openapi;
pub mod options;
mod paginate;
pub mod problem;
pub mod request;
pub mod response;
mod route_metrics;
pub mod router;
mod security;
pub mod server;
mod service;
pub mod spec;
#[cfg(feature = "http-tls")]
mod tls;
mod upload;
mod validate;

pub use app::{
    AppOptions, AuditRecord, AuditSink, HealthCheck, HealthCheckFn, HealthReport, HttpApp, HttpService,
    InjectRequest, app_options,
};
pub use door::DoorAnswer;
pub use extract::{
    CurrentUser, FromRequest, Headers, IntoResponse, IntoRouteSpec, Json, Path, Query, TypedHandler,
};
pub use hyper::Method;
pub use options::{HttpOptions, http_options};
pub use problem::{HttpError, PROBLEM_JSON};
pub use request::{Input, Page, Request, UploadedFile};
pub use response::Response;
pub use router::Router;
pub use security::SECURITY_HEADERS;
pub use server::HttpServer;
pub use spec::{PaginationSpec, RateLimitSpec, RouteSpec, UploadSpec, route_options};
