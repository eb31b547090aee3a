//! The status page's HTTP server: `GET /` the page, `/status.js` its script, `/api/status` the
//! application's state as JSON (what the script draws every two seconds).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::procfs::CpuMeter;
use super::report::{REPORT_METHOD, STATUS_SERVICE, report};
use crate::error::Result;
use crate::process::{ChildInfo, ChildProcess, Supervisor, SupervisorState};
use crate::rpc::CallOptions;

const PAGE: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/status.js");

/// Where the page is served and how long it waits for a process's report.
#[derive(Debug, Clone)]
pub struct StatusOptions {
    /// The application's name (the page's title).
    pub app: String,
    /// `host:port` to listen on (port 0: a free one). Loopback by default: the page shows the
    /// application's internals and has no login of its own.
    pub listen: String,
    /// How long the page waits for one process's report before showing it without one.
    pub report_timeout: Duration,
}

impl StatusOptions {
    /// `app`'s page on a free loopback port.
    pub fn new(app: impl Into<String>) -> StatusOptions {
        StatusOptions {
            app: app.into(),
            listen: "127.0.0.1:0".into(),
            report_timeout: Duration::from_secs(1),
        }
    }

    /// On this address.
    pub fn listen(mut self, addr: impl Into<String>) -> StatusOptions {
        self.listen = addr.into();
        self
    }
}

/// A running status page. Dropping it stops it.
#[derive(Debug)]
pub struct StatusServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The supervisors whose children the page shows (one for `omnitron start`; one per process
/// under `omnitron dev`, which replaces them as files change).
type Supervisors = Box<dyn Fn() -> Vec<Supervisor> + Send + Sync>;

struct State {
    sups: Supervisors,
    opts: StatusOptions,
    started: Instant,
    cpu: Mutex<CpuMeter>,
    /// The children as last seen: what the page shows while a supervisor is busy (a supervisor
    /// answers nothing while it restarts a child).
    last: Mutex<Vec<(ChildInfo, Option<Arc<ChildProcess>>)>>,
}

impl StatusServer {
    /// Serves the status page of `sup`'s application.
    pub fn start(sup: Supervisor, opts: StatusOptions) -> Result<StatusServer> {
        StatusServer::start_with(move || vec![sup.clone()], opts)
    }

    /// Serves the status page of the children of whichever supervisors `sups` gives each time the
    /// page asks.
    pub fn start_with(
        sups: impl Fn() -> Vec<Supervisor> + Send + Sync + 'static,
        opts: StatusOptions,
    ) -> Result<StatusServer> {
        let listen = opts.listen.clone();
        match listen.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => {}
            _ => {
                return Err(crate::Error::invalid_argument(format!(
                    "listen: '{listen}' is not host:port (127.0.0.1:9090, or port 0 for a free one)"
                )));
            }
        }
        let state = Arc::new(State {
            sups: Box::new(sups),
            opts,
            started: Instant::now(),
            cpu: Mutex::new(CpuMeter::default()),
            last: Mutex::new(Vec::new()),
        });
        let (addr, stop, task) =
            crate::metrics::spawn_http1(&listen, "the status page", move |req| serve(state.clone(), req))?;
        Ok(StatusServer { addr, stop, task: Some(task) })
    }

    /// The address it listens on (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address (`http://127.0.0.1:PORT/`).
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops serving and waits until the server is down.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn serve(
    state: Arc<State>,
    req: Request<Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, ctype: &str, body: Bytes| {
        let mut r = Response::new(Full::new(body));
        *r.status_mut() = status;
        let h = r.headers_mut();
        if let Ok(v) = ctype.parse() {
            h.insert(hyper::header::CONTENT_TYPE, v);
        }
        h.insert(hyper::header::CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-store"));
        h.insert(
            hyper::header::CONTENT_SECURITY_POLICY,
            hyper::header::HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'"),
        );
        h.insert("x-content-type-options", hyper::header::HeaderValue::from_static("nosniff"));
        Ok(r)
    };
    // A page on loopback answers only requests addressed to loopback: a web site's script, its
    // name rebound to 127.0.0.1, cannot read it (DNS rebinding).
    let host = req.headers().get(hyper::header::HOST).and_then(|h| h.to_str().ok());
    if !host_allowed(&state.opts.listen, host) {
        return reply(
            StatusCode::FORBIDDEN,
            "text/plain",
            Bytes::from_static(b"forbidden: not addressed to this host\n"),
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", Bytes::from_static(b"use GET\n"));
    }
    match req.uri().path() {
        "/" | "/index.html" => {
            reply(StatusCode::OK, "text/html; charset=utf-8", Bytes::from_static(PAGE.as_bytes()))
        }
        "/status.js" => {
            reply(StatusCode::OK, "text/javascript; charset=utf-8", Bytes::from_static(SCRIPT.as_bytes()))
        }
        "/api/status" => {
            let body = snapshot(&state).await.to_string();
            reply(StatusCode::OK, "application/json", Bytes::from(body))
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            Bytes::from_static(b"not found: the status page is at /, its data at /api/status\n"),
        ),
    }
}

/// The application now: the supervisor's view of each child, with each running child's own report.
async fn snapshot(state: &State) -> Value {
    let sups = (state.sups)();
    let timeout = state.opts.report_timeout;
    let asked = tokio::time::timeout(timeout, async {
        let mut all = Vec::new();
        for sup in &sups {
            all.extend(sup.processes().await);
        }
        all
    })
    .await;
    let processes = match asked {
        Ok(p) => {
            *state.last.lock() = p.clone();
            p
        }
        Err(_) => state.last.lock().clone(),
    };
    let args = crate::rpc::EMPTY_ARRAY.to_vec();
    // Every child is asked at once: one slow child costs the page one timeout, not one per child.
    let asks: Vec<_> = processes
        .iter()
        .map(|(_, p)| {
            p.clone().map(|child| {
                let args = Bytes::from(args.clone());
                tokio::spawn(async move {
                    let opts = CallOptions { deadline: Some(timeout), trace: None };
                    let answer = child.call_raw(STATUS_SERVICE, REPORT_METHOD, args, opts).await;
                    match answer {
                        Ok(b) => match crate::rpc::decode::<String>(&b) {
                            Ok(text) => serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()),
                            Err(e) => Err(e.to_string()),
                        },
                        Err(e) => Err(e.message),
                    }
                })
            })
        })
        .collect();
    let mut out = Vec::with_capacity(processes.len());
    let mut pids = Vec::new();
    for ((info, child), ask) in processes.into_iter().zip(asks) {
        let (report, report_error) = match ask {
            Some(task) => match task.await {
                Ok(Ok(v)) => (v, Value::Null),
                Ok(Err(e)) => (Value::Null, json!(e)),
                Err(e) => (Value::Null, json!(e.to_string())),
            },
            None => (Value::Null, Value::Null),
        };
        let (cpu, rss) = match info.pid {
            Some(pid) => {
                pids.push(pid);
                state.cpu.lock().sample(pid)
            }
            None => (None, None),
        };
        let services: Vec<Value> = child
            .as_ref()
            .map(|c| {
                c.services
                    .iter()
                    .map(|s| json!({ "id": s, "methods": c.methods(s).unwrap_or_default() }))
                    .collect()
            })
            .unwrap_or_default();
        out.push(json!({
            "name": info.name,
            "index": info.index,
            "pid": info.pid,
            "state": info.state.as_str(),
            "restarts": info.restarts,
            "last_exit": info.last_exit,
            "critical": info.critical,
            "uptime_seconds": child.as_ref().map(|c| c.uptime().as_secs_f64()),
            "cpu_percent": cpu,
            "rss_bytes": rss,
            "services": services,
            "report": report,
            "report_error": report_error,
        }));
    }
    let mut own = report().await;
    {
        let mut reports: Vec<&mut Value> = out.iter_mut().filter_map(|p| p.get_mut("report")).collect();
        reports.push(&mut own);
        super::traces::trim(&mut reports);
    }
    let me = std::process::id();
    pids.push(me);
    let (cpu, rss) = state.cpu.lock().sample(me);
    state.cpu.lock().retain(&pids);
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    json!({
        "app": state.opts.app,
        "time_ms": now_ms,
        "supervisor": {
            "pid": me,
            "state": supervisors_state(&sups),
            "uptime_seconds": state.started.elapsed().as_secs_f64(),
            "cpu_percent": cpu,
            "rss_bytes": rss,
            "report": own,
        },
        "processes": out,
    })
}

/// Whether a request whose `Host` is `host` may read a page listening on `listen`: anything when
/// it listens beyond loopback (a proxy in front decides), else only loopback names.
fn host_allowed(listen: &str, host: Option<&str>) -> bool {
    let name = |hostport: &str| -> String {
        let h = if let Some(rest) = hostport.strip_prefix('[') {
            rest.split(']').next().unwrap_or("")
        } else {
            hostport.rsplit_once(':').map_or(hostport, |(h, _)| h)
        };
        h.to_ascii_lowercase()
    };
    let loopback = |h: &str| matches!(h, "localhost" | "127.0.0.1" | "::1") || h.starts_with("127.");
    if !loopback(&name(listen)) {
        return true;
    }
    host.is_some_and(|h| loopback(&name(h)))
}

/// One word for the supervisors' state: the first failure, else running while any runs.
fn supervisors_state(sups: &[Supervisor]) -> String {
    let states: Vec<SupervisorState> = sups.iter().map(Supervisor::state).collect();
    if let Some(why) = states.iter().find_map(|s| match s {
        SupervisorState::Failed(why) => Some(why.clone()),
        _ => None,
    }) {
        return format!("failed: {why}");
    }
    if states.contains(&SupervisorState::Running) {
        "running".into()
    } else if states.contains(&SupervisorState::Stopped) {
        "stopped".into()
    } else {
        "idle".into()
    }
}

#[cfg(test)]
mod tests {
    use super::host_allowed;

    #[test]
    fn a_loopback_page_answers_loopback_names_only() {
        for ok in ["127.0.0.1:9090", "localhost:9090", "[::1]:9090", "LOCALHOST"] {
            assert!(host_allowed("127.0.0.1:9090", Some(ok)), "{ok}");
        }
        for bad in ["evil.example:9090", "10.0.0.1:9090"] {
            assert!(!host_allowed("127.0.0.1:9090", Some(bad)), "{bad}");
        }
        assert!(!host_allowed("127.0.0.1:0", None));
        assert!(host_allowed("0.0.0.0:9090", Some("status.example")), "beyond loopback a proxy decides");
    }
}
