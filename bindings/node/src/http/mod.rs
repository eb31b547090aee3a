//! HTTP for Node: core's `HttpApp` with routes whose handlers are JavaScript methods
//! (`lib/http/`). Options and route declarations arrive as the user wrote them and are checked by
//! core (`AppOptions::from_raw`, `RouteSpec::from_raw`), in the TypeScript dialect.
//!
//! The crossing per request is batched as RPC's is (`batch`): a route's handler, on an engine
//! thread, parks a oneshot under a fresh id and queues (id, the route's handler number, the
//! request's JSON envelope); the first item queued after a drain wakes JavaScript once, which takes
//! every queued item into one buffer it owns, runs the handlers, and hands the answers back
//! together (`respond`, one call for all the answers of a turn). Health checks cross the same way;
//! listen, close and in-process requests report their outcome through the same queue.
//!
//! A handler that never answers does not leak: its entry goes when the request is dropped (the
//! client left), and when the app closes every request still waiting gets a 503.

mod answer;
mod inbox;
mod pending;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use napi::bindgen_prelude::Uint8ArraySlice;
use napi_derive::napi;
use omnitron::dialect::Dialect;
use omnitron::http::router::HandlerFuture;
use omnitron::http::{
    AppOptions, AuditRecord, HealthCheck, HealthCheckFn, HealthReport, HttpApp, HttpError, HttpServer,
    HttpService, InjectRequest, Method, Request, RouteSpec, app_options, route_options,
};
use omnitron::options::RawOptions;
use omnitron::{Error, ErrorCode, runtime};
use parking_lot::Mutex;

use crate::batch::{Queue, WakeFn};
use crate::error::ToJs;
use crate::options::{JsRawOption, entries};
use inbox::Item;
use pending::Pending;

/// An HTTP app whose handlers are JavaScript functions.
#[napi]
pub struct NativeHttpApp {
    /// The app while routes are added; taken by `build`.
    app: Mutex<Option<HttpApp>>,
    service: Mutex<Option<HttpService>>,
    /// The server once listening; taken by `close`.
    server: Arc<tokio::sync::Mutex<Option<HttpServer>>>,
    pending: Arc<Pending>,
    queue: Arc<Queue<Item>>,
    /// How long `close` waits for requests in flight (the app's `shutdownTimeout`).
    grace: Duration,
}

fn closed() -> HttpError {
    HttpError::new(503).with_detail("the application is shutting down").with_code(ErrorCode::NotReady)
}

/// `options` set on `raw` (empty options saying who reads them).
fn with_options(mut raw: RawOptions, options: Vec<JsRawOption>) -> RawOptions {
    for (k, v) in entries(options) {
        raw.set(&k, v);
    }
    raw
}

#[napi]
impl NativeHttpApp {
    /// Checks `options` (an app's, as `AppOptions::from_raw` reads them); `wake` is called when
    /// requests, health checks or finished operations wait for `drain`. With `audit`, audit records
    /// are handed to JavaScript too (kind 2) instead of the log.
    #[napi(constructor)]
    pub fn new(
        options: Vec<JsRawOption>,
        #[napi(ts_arg_type = "() => void")] wake: WakeFn,
        audit: bool,
    ) -> napi::Result<Self, String> {
        let opts = AppOptions::from_raw(&with_options(app_options(Dialect::TypeScript), options)).js()?;
        let queue = Queue::new(wake, None);
        let grace = opts.server.shutdown_timeout;
        let mut app = HttpApp::new(opts);
        if audit {
            let q = queue.clone();
            app.on_audit(Arc::new(move |r: &AuditRecord| q.push(Item::Audit(inbox::audit_json(r)))));
        }
        Ok(NativeHttpApp {
            app: Mutex::new(Some(app)),
            service: Mutex::new(None),
            server: Arc::new(tokio::sync::Mutex::new(None)),
            pending: Arc::new(Pending::default()),
            queue,
            grace,
        })
    }

    /// Declares a route (`what` names it in messages: `UsersController.findOne`) whose requests
    /// reach JavaScript as handler number `handler`.
    #[napi]
    pub fn route(&self, what: String, spec: Vec<JsRawOption>, handler: u32) -> napi::Result<(), String> {
        let spec =
            RouteSpec::from_raw(&with_options(route_options(Dialect::TypeScript, &what), spec)).js()?;
        let mut guard = self.app.lock();
        let app = guard.as_mut().ok_or_else(built).js()?;
        let spec = Arc::new(spec);
        let (pending, queue, for_answer) = (self.pending.clone(), self.queue.clone(), spec.clone());
        let h: Arc<dyn Fn(Request) -> HandlerFuture + Send + Sync> = Arc::new(move |req: Request| {
            let envelope = req.door_json();
            let waiting = pending.request();
            let spec = for_answer.clone();
            if let Some(w) = &waiting {
                queue.push(Item::Request { id: w.id(), handler, envelope });
            }
            Box::pin(async move {
                let Some(w) = waiting else { return Err(closed()) };
                match w.await {
                    Some(Ok(a)) => Ok(a.into_response(Some(&spec))),
                    Some(Err(e)) => Err(e),
                    None => Err(closed()),
                }
            }) as HandlerFuture
        });
        app.route_boxed((*spec).clone(), h);
        Ok(())
    }

    /// Adds health check `name`, run by JavaScript as check number `index` (`healthAnswer`), with
    /// its own timeout in ms (none: the app's `healthTimeout`).
    #[napi]
    pub fn health_check(
        &self,
        name: String,
        index: u32,
        timeout_ms: Option<f64>,
    ) -> napi::Result<(), String> {
        let timeout = match timeout_ms {
            None => None,
            Some(ms) if ms.is_finite() && ms > 0.0 => Some(Duration::from_secs_f64(ms / 1000.0)),
            Some(ms) => {
                return Err(Error::invalid_argument(format!(
                    "health check '{name}': timeout must be a number of milliseconds above 0, got {ms}"
                )))
                .js();
            }
        };
        let mut guard = self.app.lock();
        let app = guard.as_mut().ok_or_else(built).js()?;
        let (pending, queue) = (self.pending.clone(), self.queue.clone());
        let check: HealthCheckFn = Arc::new(move || {
            let waiting = pending.health();
            if let Some(w) = &waiting {
                queue.push(Item::Health { id: w.id(), check: index });
            }
            Box::pin(async move {
                let down = |m: &str| HealthReport { up: false, message: Some(m.into()), details: None };
                match waiting {
                    None => down("the application is shutting down"),
                    Some(w) => w.await.unwrap_or_else(|| down("the check was not answered")),
                }
            })
        });
        app.add_health_check(HealthCheck { name, check, timeout });
        Ok(())
    }

    /// Checks every route and makes the service (`H006` for a bad or clashing route).
    #[napi]
    pub fn build(&self) -> napi::Result<(), String> {
        let app = self.app.lock().take().ok_or_else(built).js()?;
        *self.service.lock() = Some(app.build().js()?);
        Ok(())
    }

    /// Every request, health check, audit record and finished operation queued since the last
    /// call, written into `buffer` (see `inbox` for the kinds).
    #[napi]
    pub fn drain(&self, mut buffer: Uint8ArraySlice) -> i64 {
        // SAFETY: JavaScript is blocked in this call; nothing else touches the buffer meanwhile.
        self.queue.drain_into(unsafe { buffer.as_mut() }, inbox::parts)
    }

    /// The answers of JavaScript handlers, `batch[..len]` as `lib/http/answers.ts` writes them.
    /// Returns how many requests were still waiting (a client that left is not).
    #[napi]
    pub fn respond(&self, batch: Uint8ArraySlice, len: u32) -> u32 {
        let b = &batch[..(len as usize).min(batch.len())];
        let answers = answer::read(b);
        self.pending.answer_requests(answers)
    }

    /// A health check's outcome: `details` is JSON text.
    #[napi]
    pub fn health_answer(&self, id: u32, up: bool, message: Option<String>, details: Option<String>) -> bool {
        let details = details.and_then(|d| serde_json::from_str(&d).ok());
        self.pending.answer_health(id, HealthReport { up, message, details })
    }

    /// Serves on `host:port` (0 picks a port); `op` reports the port.
    #[napi]
    pub fn listen(&self, op: u32, host: String, port: u32) {
        let Some(svc) = self.service.lock().clone() else { return self.fail(op, not_built()) };
        let (slot, queue) = (self.server.clone(), self.queue.clone());
        runtime::handle().spawn(async move {
            let mut slot = slot.lock().await;
            if slot.is_some() {
                let e = Error::invalid_argument("the application is already listening");
                return queue.push(Item::failed(op, &e));
            }
            let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
            match svc.listen(addr.as_str()).await {
                Ok(server) => {
                    let port = u32::from(server.local_addr().port());
                    *slot = Some(server);
                    queue.push(Item::Done { op, aux: port, bytes: Bytes::new(), text: None });
                }
                Err(e) => queue.push(Item::failed(op, &e)),
            }
        });
    }

    /// Answers a request in-process, through the same pipeline; `op` reports the status (aux), the
    /// body and the headers (JSON `[[name, value], ...]`). `headers` is name, value, name, value...
    #[napi]
    pub fn inject(
        &self,
        op: u32,
        method: String,
        uri: String,
        headers: Vec<String>,
        body: Option<Uint8ArraySlice>,
    ) {
        let Some(svc) = self.service.lock().clone() else { return self.fail(op, not_built()) };
        let Some(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok() else {
            return self.fail(op, Error::invalid_argument(format!("'{method}' is not an HTTP method")));
        };
        let mut req = InjectRequest::new(method, uri);
        for pair in headers.chunks(2) {
            if let [k, v] = pair {
                req = req.header(k.as_str(), v.as_str());
            }
        }
        if let Some(b) = body {
            req = req.body(Bytes::copy_from_slice(&b));
        }
        let queue = self.queue.clone();
        runtime::handle().spawn(async move {
            match svc.inject(req).await {
                Ok(r) => {
                    let headers: Vec<(&str, String)> = r
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                        .collect();
                    let text = serde_json::to_string(&headers).unwrap_or_default();
                    queue.push(Item::Done {
                        op,
                        aux: u32::from(r.status()),
                        bytes: r.body().clone(),
                        text: Some(text),
                    });
                }
                Err(e) => queue.push(Item::failed(op, &e)),
            }
        });
    }

    /// Stops accepting and lets requests in flight finish; those still waiting for JavaScript
    /// near the end of the shutdown timeout (at 90% of it) get a 503, written before the server
    /// closes what is left. `op` reports when it is done.
    #[napi]
    pub fn close(&self, op: u32) {
        if let Some(svc) = self.service.lock().as_ref() {
            svc.set_ready(false);
        }
        let (slot, queue, pending) = (self.server.clone(), self.queue.clone(), self.pending.clone());
        let patience = self.grace.mul_f64(0.9);
        runtime::handle().spawn(async move {
            let server = slot.lock().await.take();
            let stopping = server.map(|s| runtime::handle().spawn(s.shutdown()));
            let _ = tokio::time::timeout(patience, pending.idle()).await;
            pending.close();
            if let Some(s) = stopping {
                let _ = s.await;
            }
            queue.push(Item::Done { op, aux: 0, bytes: Bytes::new(), text: None });
        });
    }

    /// Whether the app is ready (`/health/ready`).
    #[napi]
    pub fn is_ready(&self) -> bool {
        self.service.lock().as_ref().is_some_and(HttpService::is_ready)
    }

    fn fail(&self, op: u32, e: Error) {
        self.queue.push(Item::failed(op, &e));
    }
}

fn built() -> Error {
    Error::invalid_argument("the application's routes are already built")
}

fn not_built() -> Error {
    Error::invalid_argument("the application's routes are not built yet")
}
