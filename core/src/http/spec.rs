//! What a route declares besides its handler, read once in core from what every door gives:
//! schemas for its params, query and body, the status it answers, authentication and roles, a
//! rate limit, caching, uploads, pagination, an audit action and its OpenAPI description.
//!
//! A door turns its decorators (`@Validate(Dto)`, `@RequireRoles('admin')`, `@Cached({ ttl: 60 })`
//! ...) into one options object per route, with keys in its own spelling, and core reads it here
//! with [`RouteSpec::from_raw`]; an unknown key is refused with the nearest known one. Rust users
//! build a [`RouteSpec`] with its builder methods.

use std::time::Duration;

use hyper::Method;
use serde_json::Value as Json;

use crate::dialect::Dialect;
use crate::error::{ErrorCode, Result};
use crate::options::{RawOptions, Value};

/// One route's declaration: where it is, what it takes and answers, who may call it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RouteSpec {
    /// The method.
    pub method: Method,
    /// The path pattern (`/users/:id`, or `/users/{id}`).
    pub path: String,
    /// The status of a successful answer: 201 for POST, 200 otherwise, unless set
    /// (`@ResponseStatus`). A handler that answers nothing (`undefined`, `None`) gets 204 when
    /// this was not set.
    pub status: Option<u16>,
    /// JSON Schema of the path parameters (an object schema); values are coerced to the types
    /// it names (`"42"` to 42 for an integer) before they are checked.
    pub params_schema: Option<Json>,
    /// JSON Schema of the query (an object schema), coerced as the params are.
    pub query_schema: Option<Json>,
    /// JSON Schema of the body, which must then be JSON.
    pub body_schema: Option<Json>,
    /// JSON Schema of a successful answer (for OpenAPI only; answers are not checked).
    pub response_schema: Option<Json>,
    /// A valid bearer token is required (`@RequireAuth`): 401 without one.
    pub auth: bool,
    /// Every one of these roles is required (403 without); implies `auth`.
    pub roles: Vec<String>,
    /// Every one of these permissions is required (403 without); implies `auth`.
    pub permissions: Vec<String>,
    /// A rate limit for this route.
    pub rate_limit: Option<RateLimitSpec>,
    /// GET answers kept in memory this long, with an ETag (`@Cached({ ttl })`).
    pub cache_ttl: Option<Duration>,
    /// The route takes `multipart/form-data` uploads (`@Upload`).
    pub upload: Option<UploadSpec>,
    /// The answer is a page (`@Paginated`): `page` and `limit` query parameters, see docs.
    pub paginated: Option<PaginationSpec>,
    /// An audit record is written for every call (`@AuditLog({ action })`).
    pub audit: Option<String>,
    /// OpenAPI tags (`@ApiTag`).
    pub tags: Vec<String>,
    /// OpenAPI summary (`@ApiOperation({ summary })`).
    pub summary: Option<String>,
    /// OpenAPI description.
    pub description: Option<String>,
    /// OpenAPI operationId (by default `Controller.method` as the door names it).
    pub operation_id: Option<String>,
    /// OpenAPI deprecated flag.
    pub deprecated: bool,
}

/// A rate limit: at most `max` requests per `window`, counted per client or for the route.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitSpec {
    /// Requests allowed per window.
    pub max: u32,
    /// The window.
    pub window: Duration,
    /// Counted per client address (the default) or for everyone together.
    pub per_client: bool,
}

/// What an upload route takes.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadSpec {
    /// The largest file, in bytes (413 beyond).
    pub max_size: u64,
    /// Media types taken (`image/*` matches any image); empty takes any (415 otherwise).
    pub mime_types: Vec<String>,
    /// The form field of the file (default `file`).
    pub field: String,
}

/// A paginated route's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct PaginationSpec {
    /// `limit` when the query has none (default 20).
    pub default_limit: u32,
    /// The largest `limit` taken (default 100; 400 above).
    pub max_limit: u32,
}

impl Default for PaginationSpec {
    fn default() -> Self {
        PaginationSpec { default_limit: 20, max_limit: 100 }
    }
}

/// Empty options for a route, read by a user of `dialect`; a wrong value is `H006`.
pub fn route_options(dialect: Dialect, what: &str) -> RawOptions {
    RawOptions::new(dialect, format!("route {what}"), ErrorCode::InvalidRoute)
}

impl RouteSpec {
    /// A route for `method` and `path`, nothing else declared.
    pub fn new(method: Method, path: impl Into<String>) -> RouteSpec {
        RouteSpec {
            method,
            path: path.into(),
            status: None,
            params_schema: None,
            query_schema: None,
            body_schema: None,
            response_schema: None,
            auth: false,
            roles: Vec::new(),
            permissions: Vec::new(),
            rate_limit: None,
            cache_ttl: None,
            upload: None,
            paginated: None,
            audit: None,
            tags: Vec::new(),
            summary: None,
            description: None,
            operation_id: None,
            deprecated: false,
        }
    }

    /// A route from a door's options: `method`, `path` (required), `status`, `params`, `query`,
    /// `body` and `response` (JSON Schemas, as objects or JSON text), `auth`, `roles`,
    /// `permissions`, `rate_limit` ({`max`, `window` (a duration), `per`: `client` | `route`}),
    /// `cache_ttl` (seconds in every door, GET only), `upload` ({`max_size` (bytes or `'5MB'`),
    /// `mime_types`, `field`}), `paginated` (`true` or {`default_limit`, `max_limit`}), `audit`
    /// (the action), `tags`, `summary`, `description`, `operation_id`, `deprecated`.
    pub fn from_raw(raw: &RawOptions) -> Result<RouteSpec> {
        let method = match raw.text("method")? {
            Some(m) => {
                parse_method(m).ok_or_else(|| raw.wrong("method", "must be an HTTP method such as 'GET'"))?
            }
            None => return Err(raw.invalid(format!("needs a {}", raw.dialect().field("method")))),
        };
        let path = raw
            .text("path")?
            .ok_or_else(|| raw.invalid(format!("needs a {}", raw.dialect().field("path"))))?;
        let mut s = RouteSpec::new(method, path);
        if let Some(n) = raw.whole("status", 100)? {
            if n > 599 {
                return Err(raw.wrong("status", "must be an HTTP status from 100 to 599"));
            }
            s.status = Some(n as u16);
        }
        s.params_schema = schema(raw, "params")?;
        s.query_schema = schema(raw, "query")?;
        s.body_schema = schema(raw, "body")?;
        s.response_schema = schema(raw, "response")?;
        s.auth = raw.flag("auth")?.unwrap_or(false);
        s.roles = raw.strings("roles")?.unwrap_or_default();
        s.permissions = raw.strings("permissions")?.unwrap_or_default();
        s.auth |= !s.roles.is_empty() || !s.permissions.is_empty();
        if let Some(r) = raw.nested("rate_limit")? {
            s.rate_limit = Some(RateLimitSpec::from_raw(&r)?);
        }
        // Seconds in every door, as HTTP's max-age is (`@Cached({ ttl: 60 })` is a minute).
        s.cache_ttl = raw.seconds("cache_ttl")?;
        if s.cache_ttl.is_some() && s.method != Method::GET {
            return Err(raw.wrong("cache_ttl", "is for GET routes only"));
        }
        if let Some(u) = raw.nested("upload")? {
            s.upload = Some(UploadSpec::from_raw(&u)?);
        }
        s.paginated = match raw.get("paginated") {
            None => None,
            Some(Value::Bool(b)) => b.then(PaginationSpec::default),
            Some(_) => match raw.nested("paginated")? {
                Some(p) => Some(PaginationSpec::from_raw(&p)?),
                None => None,
            },
        };
        if s.paginated.is_some() {
            raw.mark_read("paginated");
        }
        s.audit = raw.text("audit")?.map(str::to_string);
        s.tags = raw.strings("tags")?.unwrap_or_default();
        s.summary = raw.text("summary")?.map(str::to_string);
        s.description = raw.text("description")?.map(str::to_string);
        s.operation_id = raw.text("operation_id")?.map(str::to_string);
        s.deprecated = raw.flag("deprecated")?.unwrap_or(false);
        raw.check_unknown()?;
        Ok(s)
    }

    /// Sets the success status.
    pub fn status(mut self, status: u16) -> RouteSpec {
        self.status = Some(status);
        self
    }

    /// Sets the path parameters' schema.
    pub fn params_schema(mut self, schema: Json) -> RouteSpec {
        self.params_schema = Some(schema);
        self
    }

    /// Sets the query's schema.
    pub fn query_schema(mut self, schema: Json) -> RouteSpec {
        self.query_schema = Some(schema);
        self
    }

    /// Sets the body's schema.
    pub fn body_schema(mut self, schema: Json) -> RouteSpec {
        self.body_schema = Some(schema);
        self
    }

    /// Sets the answer's schema (for OpenAPI).
    pub fn response_schema(mut self, schema: Json) -> RouteSpec {
        self.response_schema = Some(schema);
        self
    }

    /// Requires a valid bearer token.
    pub fn require_auth(mut self) -> RouteSpec {
        self.auth = true;
        self
    }

    /// Requires these roles (and a token).
    pub fn require_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> RouteSpec {
        self.roles.extend(roles.into_iter().map(Into::into));
        self.auth = true;
        self
    }

    /// Requires these permissions (and a token).
    pub fn require_permissions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, perms: I) -> RouteSpec {
        self.permissions.extend(perms.into_iter().map(Into::into));
        self.auth = true;
        self
    }

    /// Limits the route to `max` requests per `window` per client.
    pub fn rate_limit(mut self, max: u32, window: Duration) -> RouteSpec {
        self.rate_limit = Some(RateLimitSpec { max, window, per_client: true });
        self
    }

    /// Caches GET answers for `ttl` (a route of another method is refused when the app is built).
    pub fn cached(mut self, ttl: Duration) -> RouteSpec {
        self.cache_ttl = Some(ttl);
        self
    }

    /// Takes uploads.
    pub fn upload(mut self, upload: UploadSpec) -> RouteSpec {
        self.upload = Some(upload);
        self
    }

    /// Answers pages.
    pub fn paginated(mut self, p: PaginationSpec) -> RouteSpec {
        self.paginated = Some(p);
        self
    }

    /// Writes an audit record with `action` for every call.
    pub fn audit(mut self, action: impl Into<String>) -> RouteSpec {
        self.audit = Some(action.into());
        self
    }

    /// Adds an OpenAPI tag.
    pub fn tag(mut self, tag: impl Into<String>) -> RouteSpec {
        self.tags.push(tag.into());
        self
    }

    /// Sets the OpenAPI summary.
    pub fn summary(mut self, s: impl Into<String>) -> RouteSpec {
        self.summary = Some(s.into());
        self
    }

    /// Sets the OpenAPI description.
    pub fn description(mut self, s: impl Into<String>) -> RouteSpec {
        self.description = Some(s.into());
        self
    }

    /// Marks the route deprecated in the OpenAPI document.
    pub fn deprecated(mut self) -> RouteSpec {
        self.deprecated = true;
        self
    }

    /// Sets the OpenAPI operationId.
    pub fn operation_id(mut self, s: impl Into<String>) -> RouteSpec {
        self.operation_id = Some(s.into());
        self
    }

    /// The status a successful answer with a body gets.
    pub fn success_status(&self) -> u16 {
        self.status.unwrap_or(if self.method == Method::POST { 201 } else { 200 })
    }
}

impl RateLimitSpec {
    /// From `max` (at least 1), `window` (a duration in the door's unit) and `per` (`client`, the
    /// default, or `route`).
    pub fn from_raw(raw: &RawOptions) -> Result<RateLimitSpec> {
        let max = raw
            .count("max", 1)?
            .ok_or_else(|| raw.invalid(format!("needs {}", raw.dialect().field("max"))))?;
        let window = raw.duration("window")?.unwrap_or(Duration::from_secs(60));
        let per_client = raw.choice("per", &["client", "route"])?.unwrap_or("client") == "client";
        raw.check_unknown()?;
        Ok(RateLimitSpec { max, window, per_client })
    }
}

impl UploadSpec {
    /// From `max_size` (bytes, or a size such as `'5MB'`; default 10 MB), `mime_types` and
    /// `field`.
    pub fn from_raw(raw: &RawOptions) -> Result<UploadSpec> {
        let max_size = match raw.get("max_size") {
            None => 10 * 1024 * 1024,
            Some(Value::Text(t)) => {
                let t = t.clone();
                raw.mark_read("max_size");
                parse_size(&t).ok_or_else(|| {
                    raw.wrong("max_size", "must be a number of bytes or a size such as '5MB'")
                })?
            }
            Some(_) => raw.whole("max_size", 1)?.unwrap_or(1),
        };
        let mime_types = raw.strings("mime_types")?.unwrap_or_default();
        let field = raw.text("field")?.unwrap_or("file").to_string();
        raw.check_unknown()?;
        Ok(UploadSpec { max_size, mime_types, field })
    }
}

impl PaginationSpec {
    /// From `default_limit` and `max_limit` (at least 1).
    pub fn from_raw(raw: &RawOptions) -> Result<PaginationSpec> {
        let d = PaginationSpec::default();
        let max_limit = raw.count("max_limit", 1)?.unwrap_or(d.max_limit);
        let default_limit = raw.count("default_limit", 1)?.unwrap_or(d.default_limit.min(max_limit));
        if default_limit > max_limit {
            return Err(raw.wrong("default_limit", "must not be above max_limit"));
        }
        raw.check_unknown()?;
        Ok(PaginationSpec { default_limit, max_limit })
    }
}

/// A schema option: an object (a map from the door), or JSON text.
fn schema(raw: &RawOptions, name: &str) -> Result<Option<Json>> {
    match raw.get(name) {
        None => Ok(None),
        Some(Value::Text(t)) => {
            let t = t.clone();
            raw.mark_read(name);
            let v: Json = serde_json::from_str(&t).map_err(|e| {
                raw.wrong(name, &format!("must be a JSON Schema (the text is not JSON: {e})"))
            })?;
            check_schema_shape(raw, name, v)
        }
        Some(v @ Value::Map(_)) | Some(v @ Value::Bool(_)) => {
            let v = to_json(v);
            raw.mark_read(name);
            check_schema_shape(raw, name, v)
        }
        Some(_) => Err(raw.wrong(name, "must be a JSON Schema (an object, or its JSON text)")),
    }
}

fn check_schema_shape(raw: &RawOptions, name: &str, v: Json) -> Result<Option<Json>> {
    match v {
        Json::Object(_) | Json::Bool(_) => Ok(Some(v)),
        _ => Err(raw.wrong(name, "must be a JSON Schema (an object)")),
    }
}

/// A door's value as JSON (a whole number stays a whole number).
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Null | Value::Other(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Json::from(*n as i64),
        Value::Number(n) => serde_json::Number::from_f64(*n).map(Json::Number).unwrap_or(Json::Null),
        Value::Text(s) => Json::String(s.clone()),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(items) => Json::Object(items.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// `GET`, `post`, ... as a method.
pub fn parse_method(m: &str) -> Option<Method> {
    match m.to_ascii_uppercase().as_str() {
        "GET" => Some(Method::GET),
        "POST" => Some(Method::POST),
        "PUT" => Some(Method::PUT),
        "PATCH" => Some(Method::PATCH),
        "DELETE" => Some(Method::DELETE),
        "HEAD" => Some(Method::HEAD),
        "OPTIONS" => Some(Method::OPTIONS),
        _ => None,
    }
}

/// `'5MB'`, `'512kb'`, `'1.5 GB'`, `'100'` as bytes (K, M, G are 1024-based, as multer and
/// bytes.js read them).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1024.0,
        "mb" | "m" => 1024.0 * 1024.0,
        "gb" | "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = n * mult;
    (bytes >= 1.0 && bytes.is_finite()).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(d: Dialect) -> RawOptions {
        route_options(d, "UsersController.create")
    }

    #[test]
    fn a_route_is_read_in_the_door_s_words() {
        let r = raw(Dialect::TypeScript)
            .with("method", Value::Text("post".into()))
            .with("path", Value::Text("/users".into()))
            .with("body", Value::Text(r#"{"type":"object"}"#.into()))
            .with("roles", Value::List(vec![Value::Text("admin".into())]))
            .with(
                "rateLimit",
                Value::Map(vec![
                    ("max".into(), Value::Number(5.0)),
                    ("window".into(), Value::Number(1000.0)),
                ]),
            )
            .with("upload", Value::Map(vec![("maxSize".into(), Value::Text("5MB".into()))]))
            .with("paginated", Value::Bool(true));
        let s = RouteSpec::from_raw(&r).unwrap();
        assert_eq!(s.method, Method::POST);
        assert_eq!(s.success_status(), 201);
        assert!(s.auth);
        assert_eq!(s.body_schema, Some(serde_json::json!({"type": "object"})));
        assert_eq!(s.rate_limit.as_ref().unwrap().window, Duration::from_secs(1));
        assert_eq!(s.upload.as_ref().unwrap().max_size, 5 * 1024 * 1024);
        assert_eq!(s.paginated, Some(PaginationSpec::default()));
    }

    #[test]
    fn wrong_routes_are_refused_with_the_nearest_key() {
        let r = raw(Dialect::Python)
            .with("method", Value::Text("GET".into()))
            .with("path", Value::Text("/x".into()))
            .with("cache_tll", Value::Number(1.0));
        let e = RouteSpec::from_raw(&r).unwrap_err();
        assert!(e.message().contains("cache_ttl"), "{}", e.message());
        let r = raw(Dialect::Python)
            .with("method", Value::Text("FETCH".into()))
            .with("path", Value::Text("/".into()));
        assert_eq!(RouteSpec::from_raw(&r).unwrap_err().code(), ErrorCode::InvalidRoute);
        let r = raw(Dialect::Python)
            .with("method", Value::Text("GET".into()))
            .with("path", Value::Text("/".into()))
            .with("body", Value::Text("{not json".into()));
        assert!(RouteSpec::from_raw(&r).unwrap_err().message().contains("not JSON"));
        let r = raw(Dialect::Python)
            .with("method", Value::Text("POST".into()))
            .with("path", Value::Text("/".into()))
            .with("cache_ttl", Value::Number(1.0));
        assert!(RouteSpec::from_raw(&r).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("5MB"), Some(5 * 1024 * 1024));
        assert_eq!(parse_size("512kb"), Some(512 * 1024));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("1.5 GB"), Some(1024 * 1024 * 1536));
        assert_eq!(parse_size("5 parsecs"), None);
        assert_eq!(parse_size("0"), None);
    }
}
