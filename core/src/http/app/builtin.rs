//! The routes every app has unless its options turn them off: `/health`, `/health/live`,
//! `/health/ready` (option `health`, default on) and `/metrics` (option `metrics`, default off).
//! They run outside the declared routes' pipeline (no rate limit, auth or cache) but inside
//! what wraps every request (security headers, CORS, metrics).

use std::collections::HashSet;
use std::sync::Arc;

use hyper::Method;
use hyper::header::ACCEPT;

use super::{AppOptions, AppShared, HealthCheck};
use crate::error::{Error, ErrorCode, Result};
use crate::http::health;
use crate::http::request::Request;
use crate::http::route_metrics::exposition;
use crate::http::router::{Handler, HandlerFuture, RouteId, Router};

const METRICS: &str = "/metrics";

/// The built-in paths `o` turns on, all answered to GET (and HEAD).
pub(super) fn paths(o: &AppOptions) -> Vec<&'static str> {
    let mut out = Vec::new();
    if o.health {
        out.extend(health::PATHS);
    }
    if o.metrics {
        out.push(METRICS);
    }
    out
}

/// Two checks with one name would hide one another in `/health`.
pub(super) fn check_health_names(checks: &[HealthCheck]) -> Result<()> {
    let mut seen = HashSet::new();
    for c in checks {
        if !seen.insert(c.name.as_str()) {
            return Err(Error::new(
                ErrorCode::InvalidRoute,
                format!("two health checks are named '{}'", c.name),
            ));
        }
    }
    Ok(())
}

/// Adds `paths` to `router` (which holds the declared routes, checked), with ids from `first`.
pub(super) fn add(
    mut router: Router,
    paths: &[&'static str],
    app: &Arc<AppShared>,
    first: RouteId,
) -> Result<Router> {
    for (i, &path) in paths.iter().enumerate() {
        let app = app.clone();
        let h: Handler = if path == METRICS {
            Arc::new(move |req: Request| {
                let r = exposition(&app.registry, req.headers().get(ACCEPT));
                Box::pin(async move { Ok(r) }) as HandlerFuture
            })
        } else {
            Arc::new(move |_req: Request| {
                let app = app.clone();
                Box::pin(async move { health::answer(path, &app).await }) as HandlerFuture
            })
        };
        router = router.route_handler(Method::GET, path, h, first + i);
        // The declared routes were checked: an error now is this route's.
        if let Err(e) = router.check() {
            let option = if path == METRICS { "metrics" } else { "health" };
            return Err(Error::new(
                ErrorCode::InvalidRoute,
                format!(
                    "a declared route clashes with the built-in GET {path} ({}); turn the built-in off \
                     with the '{option}' option to declare your own",
                    e.message()
                ),
            ));
        }
    }
    Ok(router)
}
