//! HTTP through the C ABI: an app of routes declared with JSON (RouteSpec's keys), each answered
//! by a C callback; served on a port, or answered in-process (omnitron_http_app_inject) for tests.
//!
//! Threads: route handlers and health checks run on the engine's blocking pool (a slow callback
//! holds one of its threads, not the server), several at once on several threads.
//!
//! This file holds the app handle (new, route, health check, listen, close, free) and reading
//! JSON options; [`handler`] the request and response a route's callback works with; [`input`]
//! what the route's pipeline read for the callback (claims, body fields, uploaded files, the
//! page); [`inject`] requests made in-process and their answers.

// cbindgen writes a module's functions before its submodules', in the order they are declared:
// keep the declarations apart so rustfmt does not sort them.
pub mod handler;

pub mod input;

pub mod inject;

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use omnitron::dialect::Dialect;
use omnitron::http::{
    AppOptions, HealthCheck, HealthReport, HttpApp, HttpServer, HttpService, RouteSpec, app_options,
    route_options,
};
use omnitron::options::{RawOptions, Value};
use omnitron::{Error, ErrorCode, runtime};
use parking_lot::Mutex;

use crate::boundary::{OmnitronFreeFn, Table, UserData, check_out, guard, guard_out, guard_void, str_arg};
use crate::error::{CallbackStatus, OmnitronStatus, callback_error, clear_callback_message};
use crate::options::json_object;

pub use handler::OmnitronHttpHandlerFn;

/// An HTTP app: routes with their declarations and callbacks, served on a port
/// (omnitron_http_app_listen) or answered in-process (omnitron_http_app_inject). Thread-safe. Routes
/// and health checks are added before the app first listens or answers an inject. Do not close or
/// free it from inside one of its own callbacks (closing waits for them).
#[derive(Debug)]
pub struct OmnitronHttpApp {
    _private: [u8; 0],
}

/// A health check: returns OMNITRON_STATUS_OK when up; any other status is down, with the message
/// given to omnitron_callback_error (or the status's id). Runs on an engine thread of the blocking
/// pool, several at once; a check that does not answer within the app's `health_timeout_ms` counts
/// as down.
pub type OmnitronHttpHealthFn = Option<unsafe extern "C" fn(user_data: *mut c_void) -> CallbackStatus>;

/// An app, before and after it is built: routes are added to `building`; the first listen or
/// inject builds the service.
struct CApp {
    phase: Mutex<Phase>,
}

#[derive(Default)]
struct Phase {
    building: Option<HttpApp>,
    service: Option<HttpService>,
    server: Option<HttpServer>,
    /// Why the app could not be built (given again to every later listen or inject).
    failed: Option<Error>,
}

static APPS: Table<CApp> = Table::new("http app");

impl CApp {
    /// Adds to the app while it is still being built.
    fn add(&self, f: impl FnOnce(&mut HttpApp)) -> Result<(), Error> {
        let mut p = self.phase.lock();
        let app = p.building.as_mut().ok_or_else(|| {
            Error::invalid_argument(
                "routes and health checks are added before the app first listens or answers an inject",
            )
        })?;
        f(app);
        Ok(())
    }

    /// The service, built on first use (a bad or clashing route is refused here: H006).
    fn service(&self) -> Result<HttpService, Error> {
        let mut p = self.phase.lock();
        if let Some(s) = &p.service {
            return Ok(s.clone());
        }
        if let Some(e) = &p.failed {
            return Err(e.clone());
        }
        let app = p.building.take().ok_or_else(|| Error::new(ErrorCode::Internal, "the app is gone"))?;
        match app.build() {
            Ok(s) => {
                p.service = Some(s.clone());
                Ok(s)
            }
            Err(e) => {
                p.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Stops serving: not ready at once, then requests in flight drained (up to the shutdown
    /// timeout).
    fn close(&self) {
        let (server, service) = {
            let mut p = self.phase.lock();
            (p.server.take(), p.service.clone())
        };
        if let Some(server) = server {
            if let Some(s) = service {
                s.set_ready(false);
            }
            runtime::block_on(server.shutdown());
        }
    }
}

/// App options from JSON (NULL: the defaults).
fn app_options_json(options_json: *const c_char) -> Result<AppOptions, Error> {
    if options_json.is_null() {
        return Ok(AppOptions::default());
    }
    let map = json_object(str_arg(options_json, "options_json")?, "options_json")?;
    let mut raw = app_options(Dialect::C);
    for (k, v) in &map {
        raw.set(k, omnitron::options::Value::from_json(v));
    }
    AppOptions::from_raw(&raw)
}

/// A route's spec from JSON: RouteSpec's keys; schemas as objects or JSON text (an object is passed
/// on as its text, so its numbers stay exact).
pub(crate) fn route_spec_json(text: &str) -> Result<RouteSpec, Error> {
    let map = json_object(text, "spec_json")?;
    let name = |k: &str| map.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
    let mut raw: RawOptions = route_options(Dialect::C, &format!("{} {}", name("method"), name("path")));
    for (k, v) in &map {
        let value = match (k.as_str(), v) {
            ("params" | "query" | "body" | "response", serde_json::Value::Object(_)) => {
                Value::Text(v.to_string())
            }
            _ => omnitron::options::Value::from_json(v),
        };
        raw.set(k, value);
    }
    RouteSpec::from_raw(&raw)
}

/// Makes an app from `options_json` (NULL: the defaults; the keys are docs/HTTP.md's, C spelling:
/// durations end in `_ms`, for example `{"body_limit": 65536, "shutdown_timeout_ms": 5000,
/// "cors": {"origin": "*"}}`). Unknown keys are refused naming the nearest one. Free it with
/// omnitron_http_app_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_app_new(
    options_json: *const c_char,
    out: *mut *mut OmnitronHttpApp,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let options = app_options_json(options_json)?;
        let app =
            CApp { phase: Mutex::new(Phase { building: Some(HttpApp::new(options)), ..Phase::default() }) };
        APPS.insert_out(out, app)
    })
}

/// Adds a route declared by `spec_json` (RouteSpec's keys: `method` and `path` (`/users/:id` or
/// `/users/{id}`) required; `status`, `params`, `query`, `body`, `response` (JSON Schemas, as
/// objects or JSON text), `auth`, `roles`, `permissions`, `rate_limit` ({`max`, `window_ms`,
/// `per`}), `cache_ttl` (seconds), `upload` ({`max_size` (bytes, or text such as "5MB"),
/// `mime_types`, `field`}: omnitron_http_request_file), `paginated` (true, or {`default_limit`,
/// `max_limit`}: omnitron_http_request_page), `audit`, `tags`, `summary`, `description`,
/// `operation_id`, `deprecated`), answered by `handler` (see OmnitronHttpHandlerFn). A bad spec is OMNITRON_STATUS_INVALID_ROUTE naming the key; a pattern
/// that clashes with another route's is refused when the app is built (its first listen or
/// inject). `free_user_data(user_data)` (NULL: nothing) runs once the app is freed and its last
/// callback has returned, or before this function returns if it fails.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_app_route(
    app: *mut OmnitronHttpApp,
    spec_json: *const c_char,
    handler: OmnitronHttpHandlerFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let a = APPS.get(app)?;
        let handler = handler.ok_or_else(|| Error::invalid_argument("handler is NULL"))?;
        let spec = route_spec_json(str_arg(spec_json, "spec_json")?)?;
        let h = handler::boxed(handler, Arc::new(spec.clone()), ud);
        a.add(move |app| app.route_boxed(spec, h))
    })
}

/// Adds a health check named `name` (shown by `/health`; `/health/ready` is down while one is
/// down), answered by `check` (see OmnitronHttpHealthFn). `free_user_data` as for
/// omnitron_http_app_route.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_app_health_check(
    app: *mut OmnitronHttpApp,
    name: *const c_char,
    check: OmnitronHttpHealthFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let a = APPS.get(app)?;
        let check = check.ok_or_else(|| Error::invalid_argument("check is NULL"))?;
        let name = str_arg(name, "name")?.to_string();
        let label = name.clone();
        let f: omnitron::http::HealthCheckFn = Arc::new(move || {
            let (ud, label) = (ud.clone(), label.clone());
            Box::pin(async move {
                tokio::task::spawn_blocking(move || run_health(check, &label, &ud)).await.unwrap_or_else(
                    |e| HealthReport {
                        up: false,
                        message: Some(format!("the check failed: {e}")),
                        details: None,
                    },
                )
            })
        });
        a.add(move |app| app.add_health_check(HealthCheck { name, check: f, timeout: None }))
    })
}

type RawHealth = unsafe extern "C" fn(*mut c_void) -> CallbackStatus;

fn run_health(check: RawHealth, name: &str, ud: &UserData) -> HealthReport {
    clear_callback_message();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the check's contract (header); user_data is the caller's.
        unsafe { check(ud.get()) }
    }));
    match caught {
        Ok(0) => HealthReport { up: true, message: None, details: None },
        Ok(status) => {
            let e = callback_error(ErrorCode::CallbackFailed, format!("health check '{name}'"), status);
            HealthReport { up: false, message: Some(e.message().to_string()), details: None }
        }
        Err(_) => HealthReport { up: false, message: Some("the check panicked".into()), details: None },
    }
}

/// Serves the app on `address` (`"127.0.0.1:8080"`; port 0 picks a free one) and marks it ready;
/// `*port_out` (may be NULL) gets the port. Returns once the server is listening; requests are
/// served on engine threads until omnitron_http_app_close or _free. An app serves one address at a
/// time (a second listen before close is OMNITRON_STATUS_INVALID_ARGUMENT). An address that cannot
/// be bound is OMNITRON_STATUS_HTTP_SERVER_FAILED; a bad or clashing route
/// OMNITRON_STATUS_INVALID_ROUTE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_app_listen(
    app: *mut OmnitronHttpApp,
    address: *const c_char,
    port_out: *mut u16,
) -> OmnitronStatus {
    guard_out(port_out, || {
        let a = APPS.get(app)?;
        let address = str_arg(address, "address")?.to_string();
        let service = a.service()?;
        if a.phase.lock().server.is_some() {
            return Err(Error::invalid_argument("the app is already listening (close it first)"));
        }
        let server = runtime::block_on(async move { service.listen(address).await })?;
        let port = server.local_addr().port();
        {
            let mut p = a.phase.lock();
            if p.server.is_some() {
                drop(p);
                runtime::block_on(server.shutdown());
                return Err(Error::invalid_argument("the app is already listening (close it first)"));
            }
            p.server = Some(server);
        }
        if !port_out.is_null() {
            // SAFETY: non-null, and the caller promises it points to a writable uint16_t.
            unsafe { port_out.write(port) };
        }
        Ok(())
    })
}

/// Stops serving, gracefully: `/health/ready` answers not ready at once, no new connection is
/// accepted, requests in flight finish (up to the app's `shutdown_timeout_ms`), then it returns.
/// The app can listen again, and inject still answers. An app that is not listening is left as
/// it is.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_app_close(app: *mut OmnitronHttpApp) -> OmnitronStatus {
    guard(|| {
        APPS.get(app)?.close();
        Ok(())
    })
}

/// Closes the app as omnitron_http_app_close does (requests in flight finish first) and frees
/// the handle; each route's and check's free_user_data runs once its last callback has returned
/// (normally before this returns, on this thread). NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_http_app_free(app: *mut OmnitronHttpApp) {
    guard_void(|| {
        if let Some(a) = APPS.remove(app) {
            a.close();
        }
        Ok(())
    })
}
