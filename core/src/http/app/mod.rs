//! An HTTP application: routes declared with a [`RouteSpec`] each, served through one pipeline
//! written once in core, whatever door the handler lives in.
//!
//! A request to a declared route goes through, in order:
//! 1. the rate limits (the app's, then the route's): 429 with `Retry-After`;
//! 2. authentication and authorization (JWT; roles, permissions): 401, then 403;
//!
//!    (these two need only the head: the server runs them, `RouteCtx::admit`, before it reads
//!    the body, so a refused client costs no body read);
//! 3. a cached answer for a GET (`If-None-Match`: 304);
//! 4. the input: params, query and body coerced to their schemas and checked (400 listing every
//!    failing field), uploads (413, 415), pagination;
//! 5. the handler;
//! 6. the status (`@ResponseStatus`, 201 for POST, 204 for nothing), the cache, the audit record.
//!
//! Around every request (declared routes, 404s and the built-in routes alike): CORS (preflights
//! answered before routing), security headers, per-route metrics. The built-in routes are
//! `/health`, `/health/live`, `/health/ready`, the OpenAPI document and, when asked, `/metrics`.

mod builtin;
pub mod options;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use hyper::Method;
use serde_json::Value as Json;

pub use options::{AppOptions, CorsOptions, JwtOptions, OpenApiOptions, TlsOptions, app_options};

use super::audit::Audit;
use super::auth::{RouteAuth, Verifier};
use super::cache::{Lookup, ResponseCache};
use super::cors::Cors;
use super::limit::{Limit, Standing};
use super::problem::HttpError;
use super::request::{Input, Request};
use super::response::Response;
use super::route_metrics::HttpMetrics;
use super::router::{Handler, HandlerFuture, RouteId, Router};
use super::server::HttpServer;
use super::service::{CatchUnwind, Shared, answer_any};
use super::spec::RouteSpec;
use super::validate::InputCheck;
use super::{paginate, upload};
use crate::error::{Error, ErrorCode, Result};
use crate::metrics::Registry;

/// Routes with their declarations, and the app's options; [`HttpApp::build`] makes the service.
pub struct HttpApp {
    options: AppOptions,
    routes: Vec<(Arc<RouteSpec>, Handler)>,
    health: Vec<HealthCheck>,
    audit: Option<AuditSink>,
    registry: Registry,
}

/// The outcome of one health check (spec 7.2: `{ status: 'up' | 'down', message }`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthReport {
    /// Up or down.
    pub up: bool,
    /// A message for people.
    pub message: Option<String>,
    /// Anything else the check reports.
    pub details: Option<Json>,
}

/// A health check: an async function answering a [`HealthReport`].
pub type HealthCheckFn = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = HealthReport> + Send>> + Send + Sync>;

/// A named health check with its own timeout (the app's `health_timeout` when none).
#[derive(Clone)]
pub struct HealthCheck {
    /// The check's name (`database`).
    pub name: String,
    /// The check.
    pub check: HealthCheckFn,
    /// Its timeout.
    pub timeout: Option<std::time::Duration>,
}

/// One audit record (`@AuditLog({ action })`): who did what, when, and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// The route's action (`DELETE_USER`).
    pub action: String,
    /// The user's subject (`sub` claim), when authenticated.
    pub actor: Option<String>,
    /// The method.
    pub method: String,
    /// The path as requested.
    pub path: String,
    /// The route's pattern.
    pub route: String,
    /// The path parameters.
    pub params: Json,
    /// The answer's status.
    pub status: u16,
    /// `success` (status below 400) or `failure`.
    pub outcome: &'static str,
    /// When the request arrived.
    pub time: std::time::SystemTime,
    /// The request's id.
    pub request_id: String,
    /// The client's address.
    pub remote: Option<std::net::SocketAddr>,
}

/// Where audit records go (by default, a `tracing` event at target `omnitron::audit`).
pub type AuditSink = Arc<dyn Fn(&AuditRecord) + Send + Sync>;

impl std::fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthCheck").field("name", &self.name).field("timeout", &self.timeout).finish()
    }
}

impl std::fmt::Debug for HttpApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let routes: Vec<String> =
            self.routes.iter().map(|(s, _)| format!("{} {}", s.method, s.path)).collect();
        f.debug_struct("HttpApp").field("options", &self.options).field("routes", &routes).finish()
    }
}

impl HttpApp {
    /// An app with `options` and no routes.
    pub fn new(options: AppOptions) -> HttpApp {
        HttpApp {
            options,
            routes: Vec::new(),
            health: Vec::new(),
            audit: None,
            registry: Registry::global().clone(),
        }
    }

    /// Counts requests in `registry` (and serves it at `/metrics` when the `metrics` option is
    /// on) instead of the global registry.
    pub fn metrics_registry(mut self, registry: Registry) -> HttpApp {
        self.registry = registry;
        self
    }

    /// [`HttpApp::metrics_registry`] for a door holding the app by reference.
    pub fn set_metrics_registry(&mut self, registry: Registry) {
        self.registry = registry;
    }

    /// Adds a route declared by `spec` and answered by `handler`.
    pub fn route<F, Fut>(mut self, spec: RouteSpec, handler: F) -> HttpApp
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Response, HttpError>> + Send + 'static,
    {
        let h: Handler = Arc::new(move |req| Box::pin(handler(req)) as HandlerFuture);
        self.routes.push((Arc::new(spec), h));
        self
    }

    /// Adds a route whose handler is already boxed (what the doors register).
    pub fn route_boxed(&mut self, spec: RouteSpec, handler: Handler) {
        self.routes.push((Arc::new(spec), handler));
    }

    /// Adds a route whose spec is already shared (typed handlers keep it to make their answers).
    pub(crate) fn push_route(&mut self, spec: Arc<RouteSpec>, handler: Handler) {
        self.routes.push((spec, handler));
    }

    /// Adds a health check (shown by `/health`; `/health/ready` is down while one is down).
    pub fn health_check<F, Fut>(mut self, name: impl Into<String>, check: F) -> HttpApp
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HealthReport> + Send + 'static,
    {
        let f: HealthCheckFn = Arc::new(move || Box::pin(check()));
        self.health.push(HealthCheck { name: name.into(), check: f, timeout: None });
        self
    }

    /// Adds a health check already boxed (what the doors register).
    pub fn add_health_check(&mut self, check: HealthCheck) {
        self.health.push(check);
    }

    /// Sends audit records to `sink` instead of the log.
    pub fn on_audit(&mut self, sink: AuditSink) {
        self.audit = Some(sink);
    }

    /// The routes declared so far.
    pub fn specs(&self) -> impl Iterator<Item = &RouteSpec> {
        self.routes.iter().map(|(s, _)| &**s)
    }

    /// The options.
    pub fn options(&self) -> &AppOptions {
        &self.options
    }

    /// Checks every route and makes the service: a malformed or clashing route (a declared
    /// route clashing with a built-in one included), a schema that is not a valid JSON Schema,
    /// a route requiring auth without JWT options, or two health checks with one name, is
    /// refused (`H006`).
    pub fn build(self) -> Result<HttpService> {
        builtin::check_health_names(&self.health)?;
        // Route ids: the declared routes in order, the built-in ones, then the OpenAPI document.
        let builtins = builtin::paths(&self.options);
        let openapi_id = self.routes.len() + builtins.len();
        let table: Vec<(Method, String)> = self
            .routes
            .iter()
            .map(|(s, _)| (s.method.clone(), s.path.clone()))
            .chain(builtins.iter().map(|p| (Method::GET, p.to_string())))
            .chain(self.options.openapi.iter().map(|o| (Method::GET, o.path.clone())))
            .collect();
        let body_limits = self.routes.iter().map(|(s, _)| body_limit(&self.options, s)).collect();
        let o = &self.options;
        let shared = Arc::new(AppShared {
            options: self.options.clone(),
            ready: AtomicBool::new(false),
            health: self.health.clone(),
            audit: self.audit.clone(),
            security_headers: o.security_headers.then(super::security::security_headers),
            cors: o.cors.as_ref().map(Cors::new).transpose()?,
            rate_limit: o.rate_limit.as_ref().map(|r| Limit::new(r, "the app")).transpose()?,
            jwt: o.jwt.as_ref().map(Verifier::new).transpose()?.map(Arc::new),
            metrics: HttpMetrics::new(&self.registry, &table),
            registry: self.registry.clone(),
            cache: ResponseCache::default(),
            body_limits,
        });
        let mut router = Router::new();
        let mut gates = Vec::with_capacity(self.routes.len());
        for (id, (spec, handler)) in self.routes.iter().enumerate() {
            let route = Arc::new(RouteCtx::new(spec.clone(), handler.clone(), &shared, id)?);
            gates.push(route.clone());
            let h: Handler = Arc::new(move |req| {
                let route = route.clone();
                Box::pin(async move { route.run(req).await }) as HandlerFuture
            });
            router = router.route_handler(spec.method.clone(), &spec.path, h, id);
        }
        // The OpenAPI document, made once from the declared routes, served as it is.
        let mut openapi = None;
        if let Some(o) = &shared.options.openapi {
            let doc = super::openapi::document(&shared.options, o, &specs_of(&self.routes));
            let bytes = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
            let h: Handler = Arc::new(move |_req| {
                let bytes = bytes.clone();
                Box::pin(async move { Ok(Response::bytes(200, "application/json", bytes)) }) as HandlerFuture
            });
            router = router.route_handler(Method::GET, &o.path, h, openapi_id);
            openapi = Some(Arc::new(doc));
        }
        router.check()?;
        let router = builtin::add(router, &builtins, &shared, self.routes.len())?;
        let serving = Arc::new(Shared {
            router,
            options: shared.options.server.clone(),
            app: Some(shared.clone()),
            gates,
        });
        let specs = self.routes.into_iter().map(|(s, _)| s).collect();
        Ok(HttpService { inner: Arc::new(ServiceInner { serving, shared, specs, openapi }) })
    }
}

fn specs_of(routes: &[(Arc<RouteSpec>, Handler)]) -> Vec<Arc<RouteSpec>> {
    routes.iter().map(|(s, _)| s.clone()).collect()
}

/// What every route of an app shares.
pub(crate) struct AppShared {
    pub(crate) options: AppOptions,
    /// `/health/ready`: set once the app is serving, cleared when it shuts down.
    pub(crate) ready: AtomicBool,
    pub(crate) health: Vec<HealthCheck>,
    pub(crate) audit: Option<AuditSink>,
    /// The security headers, made once (none when `security_headers` is off).
    pub(crate) security_headers: Option<hyper::HeaderMap>,
    pub(crate) cors: Option<Cors>,
    /// The app-wide rate limit.
    pub(crate) rate_limit: Option<Limit>,
    pub(crate) jwt: Option<Arc<Verifier>>,
    /// Per-route series, counted around every request.
    pub(crate) metrics: HttpMetrics,
    /// Where the metrics go (served at `/metrics`).
    pub(crate) registry: Registry,
    /// The answers of `@Cached` routes.
    pub(crate) cache: ResponseCache,
    /// The body limit of each declared route, by id (built-in routes take the server's).
    body_limits: Vec<usize>,
}

impl std::fmt::Debug for AppShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppShared").field("ready", &self.ready).finish_non_exhaustive()
    }
}

impl AppShared {
    /// The body limit of route `id`.
    pub(crate) fn body_limit(&self, id: RouteId) -> usize {
        self.body_limits.get(id).copied().unwrap_or(self.options.server.body_limit)
    }
}

/// A route's body limit: the server's, and for an upload route room for its largest file too.
fn body_limit(options: &AppOptions, spec: &RouteSpec) -> usize {
    let limit = options.server.body_limit;
    match &spec.upload {
        Some(u) => usize::try_from(u.max_size).unwrap_or(usize::MAX).saturating_add(limit),
        None => limit,
    }
}

/// One declared route, ready to run: its spec, its handler and what its stages prepared.
pub(crate) struct RouteCtx {
    pub(crate) spec: Arc<RouteSpec>,
    handler: Handler,
    app: Arc<AppShared>,
    /// The route's own rate limit.
    rate_limit: Option<Limit>,
    /// What the route requires of a bearer token.
    auth: Option<RouteAuth>,
    /// The params, query and body schemas, compiled.
    check: InputCheck,
    /// The route's place in the app's route table (its cache entries are keyed by it).
    id: RouteId,
}

impl RouteCtx {
    fn new(spec: Arc<RouteSpec>, handler: Handler, app: &Arc<AppShared>, id: RouteId) -> Result<RouteCtx> {
        let label = format!("route {} {}", spec.method, spec.path);
        if spec.cache_ttl.is_some() && spec.method != Method::GET {
            // As `RouteSpec::from_raw` refuses it: a cached POST would answer 304 to a write.
            return Err(Error::new(
                ErrorCode::InvalidRoute,
                format!("{label} is cached, but only GET answers are"),
            ));
        }
        let rate_limit = spec.rate_limit.as_ref().map(|r| Limit::new(r, label.clone())).transpose()?;
        // Roles or permissions imply auth, however the spec was made.
        let needs_auth = spec.auth || !spec.roles.is_empty() || !spec.permissions.is_empty();
        let auth = match (needs_auth, &app.jwt) {
            (false, _) => None,
            (true, Some(verifier)) => Some(RouteAuth {
                verifier: verifier.clone(),
                roles: spec.roles.clone(),
                permissions: spec.permissions.clone(),
            }),
            (true, None) => {
                return Err(Error::new(
                    ErrorCode::InvalidRoute,
                    format!("{label} requires auth, but the app has no jwt options to verify tokens with"),
                ));
            }
        };
        let check = InputCheck::new(&spec)?;
        Ok(RouteCtx { spec, handler, app: app.clone(), rate_limit, auth, check, id })
    }

    /// Stages 1 and 2 (rate limits, then authentication and authorization), which need only the
    /// request's head: the server runs them before it reads the body. A refusal carries the
    /// limit's headers and is audited.
    pub(crate) fn admit(&self, req: &Request) -> std::result::Result<Admitted, HttpError> {
        let audit =
            self.spec.audit.as_deref().map(|a| Audit::begin(a, &self.spec, req, self.app.audit.clone()));
        let mut admitted = Admitted { limit: None, user: None, audit };
        match self.gate(req, &mut admitted) {
            Ok(()) => Ok(admitted),
            Err(mut e) => {
                admitted.refuse(&mut e);
                Err(e)
            }
        }
    }

    /// Nothing to decide before the body is read (no rate limit, no auth, no audit): the server
    /// skips [`Self::admit`] and [`Self::run`] makes the empty decision itself.
    pub(crate) fn admits_freely(&self) -> bool {
        self.app.rate_limit.is_none()
            && self.rate_limit.is_none()
            && self.auth.is_none()
            && self.spec.audit.is_none()
    }

    fn gate(&self, req: &Request, admitted: &mut Admitted) -> std::result::Result<(), HttpError> {
        // 1. Rate limits: the app's, then the route's.
        for l in [&self.app.rate_limit, &self.rate_limit].into_iter().flatten() {
            let s = l.take(req.remote_addr());
            if s.refused() {
                return Err(l.refused(&s));
            }
            if admitted.limit.is_none_or(|have| s.tighter_than(&have)) {
                admitted.limit = Some(s);
            }
        }
        // 2. Authentication and authorization.
        if let Some(auth) = &self.auth {
            let claims = auth.authenticate(req.headers())?;
            if let Some(a) = admitted.audit.as_mut() {
                a.set_actor(&claims);
            }
            auth.authorize(&claims)?;
            admitted.user = Some(Json::Object(claims));
        }
        Ok(())
    }

    /// The pipeline (see the module's documentation for the order); the audit record sees the
    /// answer of whichever stage gave it.
    async fn run(&self, mut req: Request) -> std::result::Result<Response, HttpError> {
        let admitted = match req.admitted.0.take() {
            Some(a) => *a,
            None => self.admit(&req)?,
        };
        let Admitted { limit, user, mut audit } = admitted;
        let result = self.stages(req, user, &mut audit).await;
        // Every answer of a limited route tells the client where it stands.
        let result = match (result, limit) {
            (Ok(mut r), Some(s)) => {
                s.add_to(&mut r.headers);
                Ok(r)
            }
            (Err(mut e), Some(s)) => {
                s.add_to(e.headers_mut());
                Err(e)
            }
            (result, None) => result,
        };
        if let Some(a) = audit {
            a.finish(match &result {
                Ok(r) => r.problem.as_ref().map_or(r.status(), |p| p.status()),
                Err(e) => e.status(),
            });
        }
        result
    }

    /// Stages 3 to 6, once [`Self::admit`] let the request in and its body was read.
    async fn stages(
        &self,
        mut req: Request,
        user: Option<Json>,
        audit: &mut Option<Audit>,
    ) -> std::result::Result<Response, HttpError> {
        // 3. A cached answer (or its 304); kept per credential on routes that require auth.
        let cached = match self.spec.cache_ttl {
            Some(ttl) => match self.app.cache.lookup(self.id, ttl, self.auth.is_some(), &req) {
                Lookup::Hit(r) => return Ok(r),
                Lookup::Miss(pending) => Some(pending),
            },
            None => None,
        };
        // 4. The input: params, query, body; uploads; the page.
        let mut input = self.read_input(&req)?;
        input.user = user;
        if let Some(u) = &self.spec.upload {
            upload::read(u, &req, &mut input)?;
        }
        let page = match &self.spec.paginated {
            Some(p) => {
                let page = paginate::page(p, &req.query)?;
                input.page = Some(page);
                Some((page, req.path.clone(), req.query_pairs.clone()))
            }
            None => None,
        };
        req.input = Some(Box::new(input));
        // 5. The handler; a panic is audited (500) and goes on to the server, which answers it.
        let outcome = match catch_unwind(AssertUnwindSafe(|| (self.handler)(req))) {
            Ok(fut) => CatchUnwind(fut).await,
            Err(panic) => Err(panic),
        };
        let mut r = match outcome {
            Ok(r) => r?,
            Err(panic) => {
                if let Some(a) = audit.take() {
                    a.finish(500);
                }
                std::panic::resume_unwind(panic)
            }
        };
        // 6. The page, the cache (ETag, 304); the audit record is written by `run`.
        if let Some((page, path, query)) = page {
            r = paginate::wrap(r, page, &path, &query);
        }
        if let Some(pending) = cached {
            r = self.app.cache.store(pending, r);
        }
        Ok(r)
    }

    /// Params, query and body as JSON, coerced to their schemas and checked (`validate`).
    fn read_input(&self, req: &Request) -> std::result::Result<Input, HttpError> {
        let (params, query, body) = self.check.read(&self.spec, req)?;
        Ok(Input { params, query, body, ..Input::default() })
    }
}

/// What [`RouteCtx::admit`] decided: where the client stands against the rate limits, the
/// verified user, and the audit record begun.
pub(crate) struct Admitted {
    limit: Option<Standing>,
    user: Option<Json>,
    audit: Option<Audit>,
}

impl Admitted {
    /// `e` ends the request (a refusal, or a body that could not be read): it gets the limit's
    /// headers and the audit record its status.
    pub(crate) fn refuse(self, e: &mut HttpError) {
        if let Some(s) = self.limit {
            s.add_to(e.headers_mut());
        }
        if let Some(a) = self.audit {
            a.finish(e.status());
        }
    }
}

/// A built app: serve it on a port ([`HttpService::listen`]) or answer requests in-process
/// ([`HttpService::inject`], for tests). Cheap to clone.
#[derive(Clone)]
pub struct HttpService {
    inner: Arc<ServiceInner>,
}

struct ServiceInner {
    serving: Arc<Shared>,
    shared: Arc<AppShared>,
    specs: Vec<Arc<RouteSpec>>,
    openapi: Option<Arc<Json>>,
}

impl std::fmt::Debug for HttpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpService").field("routes", &self.inner.specs.len()).finish_non_exhaustive()
    }
}

/// A request made in-process, without a socket.
#[derive(Debug, Clone)]
pub struct InjectRequest {
    /// The method.
    pub method: Method,
    /// The path with its query string (`/users?limit=5`).
    pub uri: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl InjectRequest {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: impl Into<String>) -> InjectRequest {
        InjectRequest { method, uri: uri.into(), headers: Vec::new(), body: Bytes::new() }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> InjectRequest {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets a JSON body (and `content-type: application/json`).
    pub fn json(mut self, body: &impl serde::Serialize) -> InjectRequest {
        self.body = serde_json::to_vec(body).unwrap_or_default().into();
        self.headers.push(("content-type".into(), "application/json".into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> InjectRequest {
        self.body = body.into();
        self
    }
}

impl HttpService {
    /// Serves on `addr` (port 0 picks one), over TLS when the options have `tls` (a certificate
    /// or key that cannot be used is `H007`), and marks the app ready; the server's
    /// [`HttpServer::shutdown`] marks it not ready again.
    pub async fn listen(&self, addr: impl tokio::net::ToSocketAddrs) -> Result<HttpServer> {
        let server = HttpServer::bind_shared(addr, self.inner.serving.clone()).await?;
        self.set_ready(true);
        Ok(server)
    }

    /// Answers `req` in-process, through the same pipeline a socket's request goes through (the
    /// response carries `x-request-id` as a socket's does).
    pub async fn inject(&self, req: InjectRequest) -> Result<Response> {
        let mut b = hyper::Request::builder().method(req.method).uri(req.uri);
        for (k, v) in &req.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let request = b
            .body(http_body_util::Full::new(req.body))
            .map_err(|e| crate::Error::invalid_argument(format!("not a valid request: {e}")))?;
        let (mut r, id) = answer_any(&self.inner.serving, request, None).await;
        // As a socket's response carries it (`into_hyper`).
        if let Ok(v) = hyper::header::HeaderValue::from_str(&id) {
            r.headers.insert(crate::http::request::X_REQUEST_ID, v);
        }
        Ok(r)
    }

    /// Marks the app ready (or not) for `/health/ready`.
    pub fn set_ready(&self, ready: bool) {
        self.inner.shared.ready.store(ready, Ordering::SeqCst);
    }

    /// Whether the app is ready.
    pub fn is_ready(&self) -> bool {
        self.inner.shared.ready.load(Ordering::SeqCst)
    }

    /// The declared routes.
    pub fn specs(&self) -> impl Iterator<Item = &RouteSpec> {
        self.inner.specs.iter().map(|s| &**s)
    }

    /// The OpenAPI 3.1 document served at the `openapi` path (none when it is off).
    pub fn openapi(&self) -> Option<&Json> {
        self.inner.openapi.as_deref()
    }
}
