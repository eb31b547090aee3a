//! Typed handlers for Rust: async functions whose arguments are extractors ([`Path`], [`Query`],
//! [`Json`], [`Headers`], [`CurrentUser`], the raw [`Request`]) and whose answer is anything
//! [`IntoResponse`], registered on an [`HttpApp`] with [`HttpApp::get`], [`HttpApp::post`], ... or
//! [`HttpApp::route_typed`].
//!
//! ```
//! use omnitron::http::{AppOptions, HttpApp, HttpError, Json, Path, Query};
//!
//! #[derive(serde::Deserialize)]
//! struct Paging { limit: Option<u32> }
//! #[derive(serde::Deserialize, serde::Serialize)]
//! struct NewUser { name: String }
//!
//! async fn user(Path(id): Path<u64>, Query(p): Query<Paging>) -> Result<Json<serde_json::Value>, HttpError> {
//!     Ok(Json(serde_json::json!({ "id": id, "limit": p.limit })))
//! }
//!
//! async fn create(Json(user): Json<NewUser>) -> Result<Json<NewUser>, HttpError> {
//!     Ok(Json(user)) // 201: the route is a POST
//! }
//!
//! let app = HttpApp::new(AppOptions::default()).get("/users/:id", user).post("/users", create);
//! # let _ = app;
//! ```
//!
//! **Where values come from.** On a route of an app the pipeline has read the input (params, query
//! and body coerced to the route's schemas and checked): extractors read that. Values that are
//! still text (a parameter without a schema) are parsed into the type asked for (`"42"` into a
//! `u32`, `"true"` into a `bool`, `"asc"` into a unit enum variant).
//!
//! **When extraction fails** the handler does not run: a parameter or query that does not
//! deserialize is a 400 problem with code `H009`, a body `H001`; the detail names the field and
//! says why (serde's message, `id: 'abc' is not a valid u32`).

mod params;

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

use hyper::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as JsonValue;

use super::app::HttpApp;
use super::problem::HttpError;
use super::request::Request;
use super::response::Response;
use super::router::{Handler, HandlerFuture};
use super::spec::RouteSpec;
use crate::error::ErrorCode;

/// Something a handler takes as an argument, made from the request before the handler runs. Write
/// your own by implementing it; an `Err` is answered at once (the handler does not run).
pub trait FromRequest: Sized + Send + 'static {
    /// Makes the value from `req`.
    fn from_request(req: &Request) -> Result<Self, HttpError>;
}

/// What a handler answers, made into a response for its route (which knows the success status:
/// 201 for a POST, 200 otherwise, or the route's `status`).
pub trait IntoResponse: Send + 'static {
    /// The response for a route declared by `spec`.
    fn into_response(self, spec: &RouteSpec) -> Response;
}

/// The path parameters, deserialized: a struct or map by name, a tuple in the route's order, or
/// one value when the route has one parameter (`Path<u64>` for `/users/:id`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Path<T>(pub T);

/// The query, deserialized: a struct or a map (`Option` fields for keys that may be absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

/// A JSON body, deserialized (an argument); or a value answered as JSON (a result), with the
/// route's success status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

/// The request's headers.
#[derive(Debug, Clone, Default)]
pub struct Headers(pub HeaderMap);

/// The authenticated user's claims (the verified token's), deserialized; a route without an
/// authenticated user answers 401 (`H010`). Take `Option<CurrentUser<T>>` on a route where auth
/// is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurrentUser<T>(pub T);

impl<T> Deref for Path<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Deref for CurrentUser<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl Headers {
    /// A header's value, when it is visible ASCII (the first of repeated ones).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Deref for Headers {
    type Target = HeaderMap;
    fn deref(&self) -> &HeaderMap {
        &self.0
    }
}

/// "id: 'abc' is not a valid u32", or the bare message when the failure is the whole value's.
fn with_path<E: std::fmt::Display>(e: &serde_path_to_error::Error<E>) -> String {
    let path = e.path().to_string();
    if path == "." { e.inner().to_string() } else { format!("{path}: {}", e.inner()) }
}

fn invalid(what: &str, why: String) -> HttpError {
    HttpError::bad_request(format!("{what}: {why}")).with_code(ErrorCode::ValidationFailed)
}

impl<T: DeserializeOwned + Send + 'static> FromRequest for Path<T> {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        let input = req.input().and_then(|i| i.params.as_object());
        // The route's order (for tuples), the pipeline's values when it has them.
        let owned: Vec<(&str, JsonValue)> = req
            .params()
            .iter()
            .map(|(k, v)| {
                let value =
                    input.and_then(|m| m.get(k)).cloned().unwrap_or_else(|| JsonValue::from(v.as_str()));
                (k.as_str(), value)
            })
            .collect();
        let pairs = params::Pairs(owned.iter().map(|(k, v)| (*k, v)).collect());
        serde_path_to_error::deserialize(pairs)
            .map(Path)
            .map_err(|e| invalid("the path parameters are not valid", with_path(&e)))
    }
}

impl<T: DeserializeOwned + Send + 'static> FromRequest for Query<T> {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        let raw;
        let map = match req.input().and_then(|i| i.query.as_object()) {
            Some(m) => m,
            None => {
                raw = req
                    .query_map()
                    .iter()
                    .map(|(k, v)| (k.clone(), JsonValue::from(v.as_str())))
                    .collect::<serde_json::Map<_, _>>();
                &raw
            }
        };
        let pairs = params::Pairs(map.iter().map(|(k, v)| (k.as_str(), v)).collect());
        serde_path_to_error::deserialize(pairs)
            .map(Query)
            .map_err(|e| invalid("the query is not valid", with_path(&e)))
    }
}

impl<T: DeserializeOwned + Send + 'static> FromRequest for Json<T> {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        let bad = |why: String| {
            HttpError::bad_request(format!("the body is not valid JSON for this route: {why}"))
                .with_code(ErrorCode::InvalidBody)
        };
        // The pipeline's body when it read one as JSON (a route with a body schema has it coerced
        // and checked); otherwise the bytes, so serde says where a malformed body breaks.
        match req.input().map(|i| &i.body) {
            Some(
                v @ (JsonValue::Object(_) | JsonValue::Array(_) | JsonValue::Number(_) | JsonValue::Bool(_)),
            ) => serde_path_to_error::deserialize(v).map(Json).map_err(|e| bad(with_path(&e))),
            _ if req.body().is_empty() => Err(bad("the body is empty".into())),
            _ => {
                let mut de = serde_json::Deserializer::from_slice(req.body());
                let v = serde_path_to_error::deserialize(&mut de).map_err(|e| bad(with_path(&e)))?;
                de.end().map_err(|e| bad(e.to_string()))?;
                Ok(Json(v))
            }
        }
    }
}

impl FromRequest for Headers {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        Ok(Headers(req.headers().clone()))
    }
}

impl FromRequest for Request {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        Ok(req.clone())
    }
}

impl FromRequest for Method {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        Ok(req.method().clone())
    }
}

fn user_claims<T: DeserializeOwned>(claims: &JsonValue) -> Result<T, HttpError> {
    serde_path_to_error::deserialize(claims).map_err(|e| {
        HttpError::new(401)
            .with_detail(format!("the token's claims are not what this route needs: {}", with_path(&e)))
            .with_code(ErrorCode::Unauthorized)
    })
}

impl<T: DeserializeOwned + Send + 'static> FromRequest for CurrentUser<T> {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        match req.user() {
            Some(claims) => user_claims(claims).map(CurrentUser),
            None => Err(HttpError::new(401)
                .with_detail("this route needs an authenticated user")
                .with_code(ErrorCode::Unauthorized)),
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> FromRequest for Option<CurrentUser<T>> {
    fn from_request(req: &Request) -> Result<Self, HttpError> {
        req.user().map(|claims| user_claims(claims).map(CurrentUser)).transpose()
    }
}

impl IntoResponse for Response {
    fn into_response(self, _spec: &RouteSpec) -> Response {
        self
    }
}

impl<T: Serialize + Send + 'static> IntoResponse for Json<T> {
    fn into_response(self, spec: &RouteSpec) -> Response {
        Response::json(spec.success_status(), &self.0)
    }
}

/// Nothing: 204, or the route's `status` when it declares one.
impl IntoResponse for () {
    fn into_response(self, spec: &RouteSpec) -> Response {
        Response::empty(spec.status.unwrap_or(204))
    }
}

impl IntoResponse for String {
    fn into_response(self, spec: &RouteSpec) -> Response {
        Response::text(spec.success_status(), self)
    }
}

impl IntoResponse for &'static str {
    fn into_response(self, spec: &RouteSpec) -> Response {
        Response::text(spec.success_status(), self)
    }
}

/// An answer with this status instead of the route's (`(202, Json(job))`, `(404, ())`).
impl<R: IntoResponse> IntoResponse for (u16, R) {
    fn into_response(self, spec: &RouteSpec) -> Response {
        let mut r = self.1.into_response(spec);
        if r.problem.is_none() {
            r.status = StatusCode::from_u16(self.0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        }
        r
    }
}

/// An async function of extractors answering `Result<impl IntoResponse, HttpError>`, for
/// `Args` the tuple of its argument types (up to six). Implemented for every such function and
/// closure; not to be implemented by hand.
pub trait TypedHandler<Args>: Send + Sync + 'static {
    /// Extracts the arguments from `req`, runs the function, and makes its answer a response
    /// for the route `spec`.
    fn call(&self, req: Request, spec: Arc<RouteSpec>) -> HandlerFuture;
}

macro_rules! typed_handler {
    ($($T:ident),*) => {
        impl<F, Fut, R, $($T,)*> TypedHandler<($($T,)*)> for F
        where
            F: Fn($($T),*) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = Result<R, HttpError>> + Send + 'static,
            R: IntoResponse,
            $($T: FromRequest,)*
        {
            #[allow(non_snake_case, unused_variables)]
            fn call(&self, req: Request, spec: Arc<RouteSpec>) -> HandlerFuture {
                $(
                    let $T = match $T::from_request(&req) {
                        Ok(v) => v,
                        Err(e) => return Box::pin(std::future::ready(Err(e))),
                    };
                )*
                let fut = (self)($($T),*);
                Box::pin(async move { fut.await.map(|r| r.into_response(&spec)) })
            }
        }
    };
}

typed_handler!();
typed_handler!(A);
typed_handler!(A, B);
typed_handler!(A, B, C);
typed_handler!(A, B, C, D);
typed_handler!(A, B, C, D, E);
typed_handler!(A, B, C, D, E, G);

/// Where a typed route goes: a path (`"/users/:id"`), or a [`RouteSpec`] with more declared
/// (its method is set by the method you register it with).
pub trait IntoRouteSpec {
    /// The spec for a route answering `method`.
    fn into_route_spec(self, method: Method) -> RouteSpec;
}

impl IntoRouteSpec for &str {
    fn into_route_spec(self, method: Method) -> RouteSpec {
        RouteSpec::new(method, self)
    }
}

impl IntoRouteSpec for String {
    fn into_route_spec(self, method: Method) -> RouteSpec {
        RouteSpec::new(method, self)
    }
}

impl IntoRouteSpec for RouteSpec {
    fn into_route_spec(mut self, method: Method) -> RouteSpec {
        self.method = method;
        self
    }
}

impl HttpApp {
    /// Adds a route declared by `spec` (its method and path, schemas, auth ...) answered by a
    /// typed handler (see [`TypedHandler`]).
    pub fn route_typed<H, Args>(mut self, spec: RouteSpec, handler: H) -> HttpApp
    where
        H: TypedHandler<Args>,
    {
        let spec = Arc::new(spec);
        let answers = spec.clone();
        let handler = Arc::new(handler);
        let h: Handler = Arc::new(move |req| handler.call(req, answers.clone()));
        self.push_route(spec, h);
        self
    }

    /// Adds a GET route answered by a typed handler.
    pub fn get<H: TypedHandler<Args>, Args>(self, route: impl IntoRouteSpec, handler: H) -> HttpApp {
        self.route_typed(route.into_route_spec(Method::GET), handler)
    }

    /// Adds a POST route answered by a typed handler (a JSON answer is a 201).
    pub fn post<H: TypedHandler<Args>, Args>(self, route: impl IntoRouteSpec, handler: H) -> HttpApp {
        self.route_typed(route.into_route_spec(Method::POST), handler)
    }

    /// Adds a PUT route answered by a typed handler.
    pub fn put<H: TypedHandler<Args>, Args>(self, route: impl IntoRouteSpec, handler: H) -> HttpApp {
        self.route_typed(route.into_route_spec(Method::PUT), handler)
    }

    /// Adds a PATCH route answered by a typed handler.
    pub fn patch<H: TypedHandler<Args>, Args>(self, route: impl IntoRouteSpec, handler: H) -> HttpApp {
        self.route_typed(route.into_route_spec(Method::PATCH), handler)
    }

    /// Adds a DELETE route answered by a typed handler.
    pub fn delete<H: TypedHandler<Args>, Args>(self, route: impl IntoRouteSpec, handler: H) -> HttpApp {
        self.route_typed(route.into_route_spec(Method::DELETE), handler)
    }
}

/// JSON Schemas derived from Rust types (cargo feature `schemars`, off by default): the route's
/// input is then checked by the pipeline (a 400 listing every failing field) and described in the
/// OpenAPI document. The types derive `schemars::JsonSchema` (add `schemars = "1"` to your
/// dependencies) beside serde's traits.
#[cfg(feature = "schemars")]
impl RouteSpec {
    /// Sets the body's schema from `T`.
    pub fn body_type<T: schemars::JsonSchema>(self) -> RouteSpec {
        self.body_schema(schema_of::<T>())
    }

    /// Sets the path parameters' schema from `T` (a struct of the parameters).
    pub fn params_type<T: schemars::JsonSchema>(self) -> RouteSpec {
        self.params_schema(schema_of::<T>())
    }

    /// Sets the query's schema from `T` (a struct of the query's keys).
    pub fn query_type<T: schemars::JsonSchema>(self) -> RouteSpec {
        self.query_schema(schema_of::<T>())
    }

    /// Sets the answer's schema from `T` (for OpenAPI).
    pub fn response_type<T: schemars::JsonSchema>(self) -> RouteSpec {
        self.response_schema(schema_of::<T>())
    }
}

/// `T`'s JSON Schema (draft 2020-12).
#[cfg(feature = "schemars")]
fn schema_of<T: schemars::JsonSchema>() -> JsonValue {
    schemars::schema_for!(T).to_value()
}

#[cfg(all(test, feature = "schemars"))]
mod schema_tests {
    use super::*;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct NewUser {
        name: String,
        age: Option<u8>,
    }

    #[test]
    fn schemas_come_from_types() {
        let spec = RouteSpec::new(Method::POST, "/users").body_type::<NewUser>().response_type::<Vec<u64>>();
        let body = spec.body_schema.unwrap();
        assert_eq!(body["type"], "object");
        assert_eq!(body["required"], serde_json::json!(["name"]));
        assert_eq!(body["properties"]["name"]["type"], "string");
        assert_eq!(spec.response_schema.unwrap()["type"], "array");
    }
}
