//! HTTP controllers for Python: core's `HttpApp` (the server, the router, the pipeline of every
//! declared route) with the handlers in Python, wrapped by `omnitron/http/`.
//!
//! A route's handler, on an engine thread, queues the request's envelope in the app's inbox
//! ([`inbox`]) and waits for its outcome; the asyncio loop the app is bound to takes every queued
//! request in one pass (`drain`) and hands them to Python as one batch. Python answers by request
//! id, many answers per call (`answer_many`), or fails one (`fail`: a problem document). Health
//! checks and the settling of `listen` / `inject` / `close` futures go through the same inbox.

mod inbox;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use omnitron::dialect::Dialect;
use omnitron::http::router::HandlerFuture;
use omnitron::http::{
    AuditRecord, DoorAnswer, HealthCheck, HealthReport, HttpApp, HttpError, HttpServer, HttpService,
    InjectRequest, Method, PROBLEM_JSON, Request, RouteSpec, route_options,
};
use omnitron::{ErrorCode, runtime};
use parking_lot::Mutex;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use tokio::sync::oneshot::error::RecvError;

use crate::error::{ToPy, invalid_argument, to_py};
use inbox::{Inbox, Outcome, body_of};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeHttpApp>()
}

/// What the Python layer set once it bound the app to its loop.
struct Hooks {
    /// `dispatch(batch: bytes)`: a JSON array of `[id, handler, envelope]`.
    dispatch: Py<PyAny>,
    /// `settle(future, value, error)`.
    settle: Py<PyAny>,
    /// `health(id, index)`: runs health check `index`, answered with `health_answer(id, ...)`.
    health: Py<PyAny>,
}

/// An HTTP app whose handlers are Python callables, by index.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeHttpApp {
    /// Until `build`.
    app: Mutex<Option<HttpApp>>,
    service: OnceLock<HttpService>,
    server: Arc<Mutex<Option<HttpServer>>>,
    inbox: Arc<Inbox>,
    hooks: Arc<OnceLock<Hooks>>,
    /// The health checks (core keeps its own copies), for `check_health`, and their default
    /// timeout.
    checks: Mutex<Vec<HealthCheck>>,
    health_timeout: Duration,
}

impl NativeHttpApp {
    fn service(&self) -> PyResult<&HttpService> {
        self.service.get().ok_or_else(|| PyRuntimeError::new_err("the HTTP app is not built yet"))
    }

    fn adding(&self) -> PyResult<parking_lot::MappedMutexGuard<'_, HttpApp>> {
        parking_lot::MutexGuard::try_map(self.app.lock(), Option::as_mut)
            .map_err(|_| PyRuntimeError::new_err("the HTTP app is built: it takes no more routes"))
    }
}

/// What a future is settled with.
enum SettleValue {
    None,
    Port(u16),
    /// An injected request's answer: status, headers, body.
    Answer(u16, Vec<(String, String)>, Bytes),
    /// Health reports: name, up, message, details (JSON text).
    Health(Vec<(String, bool, Option<String>, Option<String>)>),
}

impl SettleValue {
    fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self {
            SettleValue::None => py.None(),
            SettleValue::Port(p) => p.into_pyobject(py)?.into_any().unbind(),
            SettleValue::Answer(status, headers, body) => {
                (status, headers, PyBytes::new(py, &body)).into_pyobject(py)?.into_any().unbind()
            }
            SettleValue::Health(reports) => reports.into_pyobject(py)?.into_any().unbind(),
        })
    }
}

/// A handler's outcome as the response core sends.
fn respond(
    req: &Request,
    spec: &RouteSpec,
    outcome: Result<Outcome, RecvError>,
) -> Result<omnitron::http::Response, HttpError> {
    match outcome {
        Ok(Outcome::Answer(a)) => Ok(a.into_response(Some(spec))),
        Ok(Outcome::Fail(e, headers)) if headers.is_empty() => Err(e),
        Ok(Outcome::Fail(e, headers)) => {
            // Rendered here (the problem document needs the path and id) so the headers can be added.
            let body = serde_json::to_vec(&e.to_problem(req.path(), req.request_id())).unwrap_or_default();
            let a = DoorAnswer {
                status: Some(e.status()),
                headers,
                body: Some(body.into()),
                content_type: Some(PROBLEM_JSON.into()),
            };
            Ok(a.into_response(Some(spec)))
        }
        Ok(Outcome::Health(_)) | Err(_) => Err(HttpError::internal("the Python handler never answered")),
    }
}

/// Headers as Python gives them: `[(name, value), ...]`.
type Headers = Vec<(String, String)>;

/// An answer tuple from Python: `(id, status, headers, body, content_type)`.
type AnswerTuple<'py> = (u64, Option<u16>, Option<Headers>, Option<Bound<'py, PyAny>>, Option<String>);

/// An answer tuple from Python as the id and its outcome.
fn answer_of(t: &Bound<'_, PyAny>) -> PyResult<(u64, Outcome)> {
    let (id, status, headers, body, content_type): AnswerTuple<'_> = t.extract()?;
    let body = match body {
        Some(b) if !b.is_none() => Some(body_of(&b)?),
        _ => None,
    };
    Ok((id, Outcome::Answer(DoorAnswer { status, headers: headers.unwrap_or_default(), body, content_type })))
}

#[pymethods]
impl NativeHttpApp {
    /// An app with `options` (core's `AppOptions` keys, checked by core: an unknown key or a wrong
    /// value is `InvalidArgumentError`).
    #[new]
    #[pyo3(signature = (options=None))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let raw = crate::options::raw("http app".into(), ErrorCode::InvalidArgument, options)?;
        let options = omnitron::http::AppOptions::from_raw(&raw).py(py)?;
        let health_timeout = options.health_timeout;
        Ok(NativeHttpApp {
            checks: Mutex::new(Vec::new()),
            health_timeout,
            app: Mutex::new(Some(HttpApp::new(options))),
            service: OnceLock::new(),
            server: Arc::new(Mutex::new(None)),
            inbox: Arc::new(Inbox::new()?),
            hooks: Arc::new(OnceLock::new()),
        })
    }

    /// Declares a route: `spec` holds `RouteSpec`'s keys (schemas as JSON text), checked by core
    /// (`InvalidRouteError`, H006, names `what`, "UsersController.get_user"); `handler` is the
    /// index the batches name.
    fn route(&self, py: Python<'_>, spec: &Bound<'_, PyDict>, handler: u32, what: &str) -> PyResult<()> {
        let mut raw = route_options(Dialect::Python, what);
        for (k, v) in spec.iter() {
            raw.set(&k.extract::<String>()?, crate::options::value(&v));
        }
        let spec = RouteSpec::from_raw(&raw).py(py)?;
        let route = Arc::new(spec.clone());
        let inbox = self.inbox.clone();
        let h = Arc::new(move |req: Request| -> HandlerFuture {
            let rx = inbox.request(handler, &req.door_json());
            let route = route.clone();
            Box::pin(async move {
                let outcome = rx.await;
                respond(&req, &route, outcome)
            })
        });
        self.adding()?.route_boxed(spec, h);
        Ok(())
    }

    /// Declares a health check named `name`, run by the `health` hook with `index`; `timeout` in
    /// seconds (the app's `health_timeout` when None).
    #[pyo3(signature = (name, index, timeout=None))]
    fn health_check(&self, name: String, index: u32, timeout: Option<f64>) -> PyResult<()> {
        let timeout = match timeout {
            None => None,
            Some(t) => Some(Dialect::Python.duration(t).filter(|d| !d.is_zero()).ok_or_else(|| {
                invalid_argument(format!(
                    "health check '{name}': timeout is a number of seconds above 0, got {t}"
                ))
            })?),
        };
        let (inbox, hooks) = (self.inbox.clone(), self.hooks.clone());
        let check = Arc::new(move || {
            let (inbox, hooks) = (inbox.clone(), hooks.clone());
            Box::pin(async move {
                let (id, rx) = inbox.expect();
                let settle = inbox.clone();
                inbox.run(move |py| {
                    let started = match hooks.get() {
                        Some(h) => h.health.call1(py, (id, index)).map(drop),
                        None => Err(PyRuntimeError::new_err("the HTTP app is not bound to a loop")),
                    };
                    if let Err(e) = started {
                        let message = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                        settle.settle(id, Outcome::Health(down(message)));
                    }
                });
                match rx.await {
                    Ok(Outcome::Health(r)) => r,
                    _ => down("the check never answered".into()),
                }
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = HealthReport> + Send>>
        });
        let c = HealthCheck { name, check, timeout };
        self.adding()?.add_health_check(c.clone());
        self.checks.lock().push(c);
        Ok(())
    }

    /// Sends audit records (`@audit_log` routes) to `callback(record_json)` on the app's loop instead
    /// of the log.
    fn on_audit(&self, callback: Py<PyAny>) -> PyResult<()> {
        let callback = Arc::new(callback);
        let inbox = self.inbox.clone();
        let sink = Arc::new(move |r: &AuditRecord| {
            let record = audit_json(r);
            let callback = callback.clone();
            inbox.run(move |py| {
                if let Err(e) = callback.call1(py, (record,)) {
                    e.print(py);
                }
            });
        });
        self.adding()?.on_audit(sink);
        Ok(())
    }

    /// Checks every route (a clash, a bad schema: `InvalidRouteError`) and makes the service.
    fn build(&self, py: Python<'_>) -> PyResult<()> {
        let app =
            self.app.lock().take().ok_or_else(|| PyRuntimeError::new_err("the HTTP app is built already"))?;
        let svc = app.build().py(py)?;
        let _ = self.service.set(svc);
        Ok(())
    }

    /// The descriptor that becomes readable when work for Python is queued:
    /// `loop.add_reader(fd, app.drain)`.
    fn inbox_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.inbox.wake_rx.as_raw_fd()
    }

    /// Sets the loop's hooks (once): `dispatch(batch)`, `settle(future, value, error)`,
    /// `health(id, index)`.
    fn bind(&self, dispatch: Py<PyAny>, settle: Py<PyAny>, health: Py<PyAny>) -> PyResult<()> {
        self.hooks
            .set(Hooks { dispatch, settle, health })
            .map_err(|_| PyRuntimeError::new_err("the HTTP app is bound to a loop already"))
    }

    /// Runs what was queued: jobs, then every waiting request as one batch.
    fn drain(&self, py: Python<'_>) {
        let taken = self.inbox.take();
        for job in taken.jobs {
            job(py);
        }
        if taken.ids.is_empty() {
            return;
        }
        let Some(h) = self.hooks.get() else {
            return self.inbox.fail_all(&taken.ids, "the HTTP app is not bound to a loop");
        };
        if let Err(e) = h.dispatch.call1(py, (PyBytes::new(py, &taken.batch),)) {
            e.print(py);
            self.inbox.fail_all(&taken.ids, "the Python dispatcher failed");
        }
    }

    /// Answers many requests: `[(id, status, headers, body, content_type), ...]` (status None: the
    /// route's; body None: no body, 204 unless the route sets a status; body bytes or str).
    fn answer_many(&self, answers: &Bound<'_, PyList>) -> PyResult<()> {
        let mut out = Vec::with_capacity(answers.len());
        let mut bad = None;
        for t in answers.iter() {
            match answer_of(&t) {
                Ok(a) => out.push(a),
                Err(e) => {
                    // The request still gets an answer (a 500); the error goes to the caller.
                    if let Ok(id) = t.get_item(0).and_then(|i| i.extract::<u64>()) {
                        self.inbox.fail_all(&[id], "the handler's answer could not be sent");
                    }
                    bad.get_or_insert(e);
                }
            }
        }
        self.inbox.settle_many(out);
        bad.map_or(Ok(()), Err)
    }

    /// Answers one request (from a thread running a `def` handler). False when nobody waits.
    #[pyo3(signature = (id, status, headers, body, content_type))]
    fn answer(
        &self,
        id: u64,
        status: Option<u16>,
        headers: Option<Vec<(String, String)>>,
        body: Option<&Bound<'_, PyAny>>,
        content_type: Option<String>,
    ) -> PyResult<bool> {
        let body = match body {
            Some(b) if !b.is_none() => Some(match body_of(b) {
                Ok(b) => b,
                Err(e) => {
                    self.inbox.fail_all(&[id], "the handler's answer could not be sent");
                    return Err(e);
                }
            }),
            _ => None,
        };
        let a = DoorAnswer { status, headers: headers.unwrap_or_default(), body, content_type };
        Ok(self.inbox.settle(id, Outcome::Answer(a)))
    }

    /// Fails a request with a problem document: `status` (400 to 599, else 500), `detail`, the
    /// engine's `code` ("H005", ...) when one applies, and headers to add. Status 0 with a code:
    /// the status core gives that code (an `OmnitronError` the handler raised).
    #[pyo3(signature = (id, status, detail=None, code=None, headers=None))]
    fn fail(
        &self,
        id: u64,
        status: u16,
        detail: Option<String>,
        code: Option<&str>,
        headers: Option<Vec<(String, String)>>,
    ) -> bool {
        let code = code.and_then(ErrorCode::from_id);
        let e = match (status, code) {
            // An engine error raised by the handler: core's status for its code.
            (0, Some(c)) => HttpError::from(omnitron::Error::new(c, detail.unwrap_or_default())),
            _ => {
                let mut e = HttpError::new(status);
                if let Some(d) = detail {
                    e = e.with_detail(d);
                }
                if let Some(c) = code {
                    e = e.with_code(c);
                }
                e
            }
        };
        self.inbox.settle(id, Outcome::Fail(e, headers.unwrap_or_default()))
    }

    /// A health check's answer: up or down, a message, and details as JSON text.
    #[pyo3(signature = (id, up, message=None, details=None))]
    fn health_answer(&self, id: u64, up: bool, message: Option<String>, details: Option<&str>) -> bool {
        let details = details.and_then(|d| serde_json::from_str(d).ok());
        self.inbox.settle(id, Outcome::Health(HealthReport { up, message, details }))
    }

    /// Serves on `host:port` (0 picks a port); `future` is settled with the port.
    fn listen(&self, host: String, port: u16, future: Py<PyAny>) -> PyResult<()> {
        let svc = self.service()?.clone();
        if self.server.lock().is_some() {
            return Err(invalid_argument("the HTTP app is listening already"));
        }
        let slot = self.server.clone();
        let (inbox, hooks) = (self.inbox.clone(), self.hooks.clone());
        let me = Settler { inbox, hooks };
        runtime::handle().spawn(async move {
            let r = svc.listen((host.as_str(), port)).await.map(|server| {
                let port = server.local_addr().port();
                *slot.lock() = Some(server);
                SettleValue::Port(port)
            });
            me.settle(future, r);
        });
        Ok(())
    }

    /// Answers a request in-process (no socket), through the same pipeline; `future` is settled
    /// with `(status, headers, body)`.
    fn inject(
        &self,
        method: &str,
        uri: String,
        headers: Vec<(String, String)>,
        body: &Bound<'_, PyAny>,
        future: Py<PyAny>,
    ) -> PyResult<()> {
        let svc = self.service()?.clone();
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| invalid_argument(format!("'{method}' is not an HTTP method")))?;
        let body = if body.is_none() { Bytes::new() } else { body_of(body)? };
        let req = InjectRequest { method, uri, headers, body };
        let me = Settler { inbox: self.inbox.clone(), hooks: self.hooks.clone() };
        runtime::handle().spawn(async move {
            let r = svc.inject(req).await.map(|res| {
                let headers = res
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())
                    })
                    .collect();
                SettleValue::Answer(res.status(), headers, res.body().clone())
            });
            me.settle(future, r);
        });
        Ok(())
    }

    /// Stops serving: not ready at once, no new connections, requests in flight drained (up to the
    /// app's `shutdown_timeout`); `future` is settled once every connection is closed.
    fn close(&self, future: Py<PyAny>) {
        if let Some(svc) = self.service.get() {
            svc.set_ready(false);
        }
        let server = self.server.lock().take();
        let me = Settler { inbox: self.inbox.clone(), hooks: self.hooks.clone() };
        runtime::handle().spawn(async move {
            if let Some(s) = server {
                s.shutdown().await;
            }
            me.settle(future, Ok(SettleValue::None));
        });
    }

    /// Runs every health check now, each within its timeout; `future` is settled with `[(name, up,
    /// message, details as JSON text)]`.
    fn check_health(&self, future: Py<PyAny>) {
        let checks = self.checks.lock().clone();
        let default = self.health_timeout;
        let me = Settler { inbox: self.inbox.clone(), hooks: self.hooks.clone() };
        runtime::handle().spawn(async move {
            let running: Vec<_> = checks
                .into_iter()
                .map(|c| {
                    let limit = c.timeout.unwrap_or(default);
                    tokio::spawn(async move {
                        let r = tokio::time::timeout(limit, (c.check)()).await.unwrap_or_else(|_| {
                            down(format!("did not answer within {}", Dialect::Python.show_duration(limit)))
                        });
                        (c.name, r)
                    })
                })
                .collect();
            let mut reports = Vec::with_capacity(running.len());
            for r in running {
                if let Ok((name, r)) = r.await {
                    let details = r.details.map(|d| d.to_string());
                    reports.push((name, r.up, r.message, details));
                }
            }
            me.settle(future, Ok(SettleValue::Health(reports)));
        });
    }

    /// Whether `/health/ready` says ready (serving, not closing).
    fn is_ready(&self) -> bool {
        self.service.get().is_some_and(HttpService::is_ready)
    }

    /// The port it listens on, if it does.
    fn port(&self) -> Option<u16> {
        self.server.lock().as_ref().map(|s| s.local_addr().port())
    }
}

/// Settles futures on the app's loop (from an engine thread).
struct Settler {
    inbox: Arc<Inbox>,
    hooks: Arc<OnceLock<Hooks>>,
}

impl Settler {
    fn settle(self, future: Py<PyAny>, outcome: omnitron::Result<SettleValue>) {
        let hooks = self.hooks;
        self.inbox.run(move |py| {
            let Some(h) = hooks.get() else { return };
            let r = match outcome {
                Ok(v) => v.into_py(py).and_then(|v| h.settle.call1(py, (future, v, py.None()))),
                Err(e) => h.settle.call1(py, (future, py.None(), to_py(py, &e).into_value(py))),
            };
            if let Err(e) = r {
                e.print(py);
            }
        });
    }
}

/// An audit record as JSON text: `action`, `actor`, `method`, `path`, `route`, `params`,
/// `status`, `outcome`, `time` (seconds since the epoch), `request_id`, `remote`.
fn audit_json(r: &AuditRecord) -> String {
    let time = r.time.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    serde_json::json!({
        "action": r.action, "actor": r.actor, "method": r.method, "path": r.path, "route": r.route,
        "params": r.params, "status": r.status, "outcome": r.outcome, "time": time,
        "request_id": r.request_id, "remote": r.remote.map(|a| a.to_string()),
    })
    .to_string()
}

fn down(message: String) -> HealthReport {
    HealthReport { up: false, message: Some(message), details: None }
}
