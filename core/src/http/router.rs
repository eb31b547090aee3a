//! Routes by method and path pattern, matched through a trie of path segments.
//!
//! A pattern is a `/`-separated list of segments: a literal (`users`), a parameter (`:id`, one
//! whole segment) or, last only, a catch-all (`*rest`, one or more segments, joined by `/`).
//! Parameters are percent-decoded.
//!
//! **Matching.** Per segment, a literal beats a parameter, which beats a catch-all; the trie
//! backtracks when a more specific branch leads nowhere, so `/users/me` and `/users/:id` both
//! work. One pattern per shape: `/users/:id` and `/users/:name` clash (`H006`).
//!
//! **Trailing slash and empty segments.** Empty segments are ignored, in patterns and in request
//! paths: `/users/` and `/users` are the same route, and so are `/users//1` and `/users/1`. No
//! redirect is sent.
//!
//! **Answers the router makes.** No pattern matches the path: 404 (`H002`). A pattern matches
//! but has no handler for the method: 405 (`H003`) with an `Allow` header listing the methods it
//! has. HEAD is answered by the GET handler (without the body) unless the route has its own HEAD.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use hyper::Method;

use super::problem::HttpError;
use super::request::{Request, decode};
use super::response::Response;
use crate::error::{Error, ErrorCode, Result};

/// A handler's future, boxed.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, HttpError>> + Send>>;

/// A route's handler: an async function from a [`Request`] to a [`Response`] or an [`HttpError`].
pub(crate) type Handler = Arc<dyn Fn(Request) -> HandlerFuture + Send + Sync>;

/// What an app knows a route by (its place in the app's route table), so the server can find the
/// route's body limit and metrics before reading the body. Routes of a bare router have id 0.
pub(crate) type RouteId = usize;

/// A method's handler at a node of the trie, with its route's id.
type Routed = (Method, Handler, RouteId);

/// Routes, built with `Router::new().get(...).post(...)` and handed to the server.
#[derive(Default, Clone)]
pub struct Router {
    root: Node,
    /// The first malformed or clashing route, reported when the server starts.
    error: Option<Error>,
}

#[derive(Default, Clone)]
struct Node {
    literals: HashMap<String, Node>,
    param: Option<(String, Box<Node>)>,
    /// The catch-all's name and its handlers.
    rest: Option<(String, Vec<Routed>)>,
    handlers: Vec<Routed>,
}

/// What a path matched.
pub(crate) enum Match {
    /// A handler, the path's parameters and the route's id.
    Found(Handler, Vec<(String, String)>, RouteId),
    /// The path matched; the methods it has.
    MethodNotAllowed(Vec<Method>),
    NotFound,
}

impl Router {
    /// No routes.
    pub fn new() -> Router {
        Router::default()
    }

    /// Adds a GET route.
    pub fn get<F, Fut>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, HttpError>> + Send + 'static,
    {
        self.route(Method::GET, pattern, handler)
    }

    /// Adds a POST route.
    pub fn post<F, Fut>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, HttpError>> + Send + 'static,
    {
        self.route(Method::POST, pattern, handler)
    }

    /// Adds a PUT route.
    pub fn put<F, Fut>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, HttpError>> + Send + 'static,
    {
        self.route(Method::PUT, pattern, handler)
    }

    /// Adds a PATCH route.
    pub fn patch<F, Fut>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, HttpError>> + Send + 'static,
    {
        self.route(Method::PATCH, pattern, handler)
    }

    /// Adds a DELETE route.
    pub fn delete<F, Fut>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, HttpError>> + Send + 'static,
    {
        self.route(Method::DELETE, pattern, handler)
    }

    /// Adds a route for any method. A malformed pattern, or a method already routed for the same
    /// pattern, is kept as the router's error ([`Router::check`]; the server refuses to start).
    pub fn route<F, Fut>(mut self, method: Method, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, HttpError>> + Send + 'static,
    {
        let h: Handler = Arc::new(move |req| Box::pin(handler(req)) as HandlerFuture);
        if let Err(e) = self.insert(method, pattern, h, 0) {
            self.error.get_or_insert(e);
        }
        self
    }

    /// Adds a route whose handler is already boxed, known to its app as `id`.
    pub(crate) fn route_handler(mut self, method: Method, pattern: &str, h: Handler, id: RouteId) -> Router {
        if let Err(e) = self.insert(method, pattern, h, id) {
            self.error.get_or_insert(e);
        }
        self
    }

    /// The first route that could not be added (`H006`), if any.
    pub fn check(&self) -> Result<()> {
        self.error.clone().map_or(Ok(()), Err)
    }

    fn insert(&mut self, method: Method, pattern: &str, h: Handler, id: RouteId) -> Result<()> {
        let label = format!("route {method} {pattern}");
        let bad = |why: &str| Error::new(ErrorCode::InvalidRoute, format!("{label}: {why}"));
        if !pattern.starts_with('/') {
            return Err(bad("a pattern starts with '/'"));
        }
        let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
        let mut node = &mut self.root;
        for (i, seg) in segments.iter().enumerate() {
            if let Some(name) = seg.strip_prefix('*') {
                if i + 1 != segments.len() {
                    return Err(bad("a catch-all (*name) must be the last segment"));
                }
                check_name(name).map_err(|w| bad(&w))?;
                let (have, handlers) = node.rest.get_or_insert_with(|| (name.to_string(), Vec::new()));
                if have != name {
                    return Err(bad(&format!("clashes with the catch-all *{have} of another route")));
                }
                return add(handlers, method, h, id).map_err(|w| bad(&w));
            }
            // `:id` and `{id}` (as OpenAPI and FastAPI write it) are the same parameter.
            let param =
                seg.strip_prefix(':').or_else(|| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')));
            if let Some(name) = param {
                check_name(name).map_err(|w| bad(&w))?;
                let (have, next) = node.param.get_or_insert_with(|| (name.to_string(), Box::default()));
                if have != name {
                    return Err(bad(&format!("clashes with the parameter :{have} of another route")));
                }
                node = next;
            } else {
                node = node.literals.entry(seg.to_string()).or_default();
            }
        }
        add(&mut node.handlers, method, h, id).map_err(|w| bad(&w))
    }

    /// Finds the handler for `method` and `path`.
    pub(crate) fn find(&self, method: &Method, path: &str) -> Match {
        let mut params = Vec::new();
        match find(&self.root, path, &mut params) {
            None => Match::NotFound,
            Some(handlers) => {
                let pick = |m: &Method| {
                    handlers.iter().find(|(hm, _, _)| hm == m).map(|(_, h, id)| (h.clone(), *id))
                };
                let found =
                    pick(method).or_else(|| (*method == Method::HEAD).then(|| pick(&Method::GET)).flatten());
                match found {
                    Some((h, id)) => Match::Found(h, params, id),
                    None => Match::MethodNotAllowed(allowed(handlers)),
                }
            }
        }
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("error", &self.error).finish_non_exhaustive()
    }
}

fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("parameter name '{name}' must be letters, digits and '_'"));
    }
    Ok(())
}

fn add(
    handlers: &mut Vec<Routed>,
    method: Method,
    h: Handler,
    id: RouteId,
) -> std::result::Result<(), String> {
    if handlers.iter().any(|(m, _, _)| *m == method) {
        return Err("this method is already routed for this pattern".into());
    }
    handlers.push((method, h, id));
    Ok(())
}

/// The methods of a matched path for `Allow` (HEAD added where GET is).
fn allowed(handlers: &[Routed]) -> Vec<Method> {
    let mut out: Vec<Method> = handlers.iter().map(|(m, _, _)| m.clone()).collect();
    if out.contains(&Method::GET) && !out.contains(&Method::HEAD) {
        out.push(Method::HEAD);
    }
    out
}

/// The first non-empty segment of `path` and what follows it (no allocation: this runs per request).
fn split_segment(path: &str) -> Option<(&str, &str)> {
    let path = path.trim_start_matches('/');
    if path.is_empty() {
        return None;
    }
    Some(path.split_once('/').unwrap_or((path, "")))
}

/// Depth-first over `path`'s segments (empty ones skipped): literal, then parameter, then
/// catch-all; `params` holds the matched ones.
fn find<'a>(node: &'a Node, path: &str, params: &mut Vec<(String, String)>) -> Option<&'a [Routed]> {
    let Some((first, rest)) = split_segment(path) else {
        return (!node.handlers.is_empty()).then_some(&node.handlers[..]);
    };
    if let Some(next) = node.literals.get(first)
        && let Some(found) = find(next, rest, params)
    {
        return Some(found);
    }
    if let Some((name, next)) = &node.param {
        params.push((name.clone(), decode(first, false)));
        if let Some(found) = find(next, rest, params) {
            return Some(found);
        }
        params.pop();
    }
    if let Some((name, handlers)) = &node.rest {
        let joined: Vec<String> =
            path.split('/').filter(|s| !s.is_empty()).map(|s| decode(s, false)).collect();
        params.push((name.clone(), joined.join("/")));
        return Some(&handlers[..]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ok(_: Request) -> Result<Response, HttpError> {
        Ok(Response::empty(204))
    }

    fn params(r: &Router, m: Method, path: &str) -> Option<Vec<(String, String)>> {
        match r.find(&m, path) {
            Match::Found(_, p, _) => Some(p),
            _ => None,
        }
    }

    #[test]
    fn literals_beat_parameters_and_catch_alls_take_the_rest() {
        let r = Router::new()
            .get("/users/me", ok)
            .get("/users/:id", ok)
            .get("/users/:id/posts/:post", ok)
            .get("/files/*rest", ok)
            .get("/", ok);
        assert_eq!(params(&r, Method::GET, "/users/me"), Some(vec![]));
        assert_eq!(params(&r, Method::GET, "/users/42/"), Some(vec![("id".into(), "42".into())]));
        assert_eq!(params(&r, Method::GET, "/users/a%20b/posts/7").unwrap()[1], ("post".into(), "7".into()));
        assert_eq!(params(&r, Method::GET, "/files/a/b.txt"), Some(vec![("rest".into(), "a/b.txt".into())]));
        assert_eq!(params(&r, Method::GET, "//"), Some(vec![]));
        assert!(matches!(r.find(&Method::GET, "/files"), Match::NotFound));
        assert!(matches!(r.find(&Method::GET, "/nope"), Match::NotFound));
        assert!(params(&r, Method::HEAD, "/users/1").is_some());
        match r.find(&Method::POST, "/users/1") {
            Match::MethodNotAllowed(m) => assert_eq!(m, vec![Method::GET, Method::HEAD]),
            _ => panic!("expected 405"),
        }
    }

    #[test]
    fn bad_and_clashing_patterns_are_refused() {
        assert!(Router::new().get("/a/:id", ok).get("/a/:name", ok).check().is_err());
        assert!(Router::new().get("/a/:id", ok).get("/a/:id", ok).check().is_err());
        assert!(Router::new().get("/a/*r/b", ok).check().is_err());
        assert!(Router::new().get("nope", ok).check().is_err());
        assert!(Router::new().get("/a/:", ok).check().is_err());
        let e = Router::new().get("/a/:id", ok).post("/a/:id", ok).check();
        assert!(e.is_ok());
    }
}
