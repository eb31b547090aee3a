//! Health endpoints (spec 7.2), built into every app unless `health` is off:
//!
//! - `GET /health/live`: 200 `{"status": "up"}` while the server answers at all;
//! - `GET /health/ready`: 503 problem (`H014`) until the app is ready (`HttpService::listen`
//!   sets it) and again once `HttpServer::shutdown` starts; when ready, every check is run: 200
//!   with the document below when all are up, else a 503 problem (`H014`) whose `checks` member
//!   is that document's `checks`;
//! - `GET /health`: every check run, 200 when all are up, 503 otherwise, with
//!   `{"status": "up" | "down", "checks": {"database": {"status", "message"?, "details"?,
//!   "durationMs"}}}` (`message` and `details` only when the check gave them).
//!
//! Checks run concurrently, each within its own timeout (the check's, else the app's
//! `health_timeout`); one that times out or panics is down, with a message saying so. Health
//! answers carry `Cache-Control: no-store`.

use std::time::{Duration, Instant};

use hyper::header::{CACHE_CONTROL, HeaderValue};
use serde_json::{Map, Value as Json, json};

use super::app::{AppShared, HealthCheck, HealthReport};
use super::problem::HttpError;
use super::response::Response;
use crate::error::ErrorCode;

/// The paths, in the order they are routed.
pub(crate) const PATHS: [&str; 3] = ["/health", "/health/live", "/health/ready"];

/// The answer to one of [`PATHS`].
pub(crate) async fn answer(path: &str, app: &AppShared) -> Result<Response, HttpError> {
    let r = match path {
        "/health/live" => Response::json(200, &json!({ "status": "up" })),
        "/health/ready" => {
            if !app.ready.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(HttpError::new(503)
                    .with_detail("the app is not ready: it is starting or shutting down")
                    .with_code(ErrorCode::NotReady));
            }
            let (up, checks) = run(&app.health, app.options.health_timeout).await;
            if !up {
                let down: Vec<&String> =
                    checks.iter().filter(|(_, c)| c["status"] != "up").map(|(n, _)| n).collect();
                let names = down.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                return Err(HttpError::new(503)
                    .with_detail(format!("health checks are down: {names}"))
                    .with_code(ErrorCode::NotReady)
                    .with_extension("checks", Json::Object(checks)));
            }
            Response::json(200, &json!({ "status": "up", "checks": checks }))
        }
        _ => {
            let (up, checks) = run(&app.health, app.options.health_timeout).await;
            let status = if up { "up" } else { "down" };
            Response::json(if up { 200 } else { 503 }, &json!({ "status": status, "checks": checks }))
        }
    };
    Ok(no_store(r))
}

fn no_store(mut r: Response) -> Response {
    r.headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Runs every check at once, each within its timeout: whether all are up, and each one's
/// outcome by name.
pub(crate) async fn run(checks: &[HealthCheck], default_timeout: Duration) -> (bool, Map<String, Json>) {
    let started = Instant::now();
    // Spawned, so the checks run concurrently and a panic stays in its task.
    let running: Vec<_> = checks
        .iter()
        .map(|c| {
            let check = c.check.clone();
            let task = tokio::spawn(async move {
                let t = Instant::now();
                let report = check().await;
                (report, t.elapsed())
            });
            (c, task)
        })
        .collect();
    let mut all_up = true;
    let mut out = Map::new();
    for (c, mut task) in running {
        let timeout = c.timeout.unwrap_or(default_timeout);
        let (report, took) = match tokio::time::timeout_at((started + timeout).into(), &mut task).await {
            Ok(Ok((report, took))) => (report, took),
            Ok(Err(e)) => {
                let why = if e.is_panic() { panic_text(e.into_panic()) } else { "cancelled".into() };
                (down(format!("the check panicked: {why}")), started.elapsed())
            }
            Err(_) => {
                task.abort();
                (down(format!("the check did not answer within {}ms", timeout.as_millis())), timeout)
            }
        };
        all_up &= report.up;
        let mut doc = Map::new();
        doc.insert("status".into(), Json::from(if report.up { "up" } else { "down" }));
        if let Some(m) = report.message {
            doc.insert("message".into(), Json::from(m));
        }
        if let Some(d) = report.details {
            doc.insert("details".into(), d);
        }
        doc.insert("durationMs".into(), Json::from(took.as_millis() as u64));
        out.insert(c.name.clone(), Json::Object(doc));
    }
    (all_up, out)
}

fn down(message: String) -> HealthReport {
    HealthReport { up: false, message: Some(message), details: None }
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::http::app::HealthCheckFn;

    fn check(name: &str, timeout: Option<Duration>, f: HealthCheckFn) -> HealthCheck {
        HealthCheck { name: name.into(), check: f, timeout }
    }

    #[tokio::test]
    async fn checks_run_with_timeouts_and_panics_caught() {
        let up: HealthCheckFn = Arc::new(|| {
            Box::pin(async { HealthReport { up: true, message: None, details: Some(json!({"pool": 3})) } })
        });
        let slow: HealthCheckFn = Arc::new(|| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                HealthReport { up: true, ..HealthReport::default() }
            })
        });
        let boom: HealthCheckFn = Arc::new(|| Box::pin(async { panic!("no database") }));
        let checks = vec![
            check("db", None, up.clone()),
            check("slow", Some(Duration::from_millis(20)), slow),
            check("boom", None, boom),
        ];
        let (all, doc) = run(&checks, Duration::from_secs(60)).await;
        assert!(!all);
        assert_eq!(doc["db"]["status"], "up");
        assert_eq!(doc["db"]["details"], json!({"pool": 3}));
        assert!(doc["db"].get("message").is_none());
        assert_eq!(doc["slow"]["status"], "down");
        assert!(doc["slow"]["message"].as_str().unwrap().contains("did not answer"));
        assert_eq!(doc["boom"]["status"], "down");
        assert!(doc["boom"]["message"].as_str().unwrap().contains("no database"));
        let (all, _) = run(&[check("db", None, up)], Duration::from_secs(1)).await;
        assert!(all);
        assert!(run(&[], Duration::from_secs(1)).await.0);
    }
}
