//! Errors as RFC 9457 problem details.
//!
//! Every error the server answers (a handler's [`HttpError`], a 404, a 405, a 413, a panic) is a
//! JSON document of type `application/problem+json`:
//!
//! ```json
//! { "type": "about:blank", "title": "Not Found", "status": 404,
//!   "detail": "no route for GET /nope", "instance": "/nope",
//!   "code": "H002", "requestId": "5f0c..." }
//! ```
//!
//! `type` is `about:blank` (the title is then the status's reason phrase) unless the handler set
//! one; `code` is the engine's stable error code ([`ErrorCode`]) when one applies; `requestId` is
//! the request's id, the same as the response's `x-request-id` header.

use std::fmt;

use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value};

use super::response::Response;
use crate::error::{Error, ErrorCode};

/// The media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error a handler returns (or the server makes): a status, a title and detail, and the
/// engine's code when one applies. The server turns it into a problem document.
#[derive(Debug, Clone)]
pub struct HttpError {
    status: StatusCode,
    kind: Option<String>,
    title: Option<String>,
    detail: Option<String>,
    code: Option<ErrorCode>,
    extensions: Map<String, Value>,
    /// Headers the problem's response carries (`WWW-Authenticate`, `Retry-After`); boxed, as
    /// few problems have any.
    headers: Option<Box<HeaderMap>>,
}

impl HttpError {
    /// An error with `status` (an invalid status, below 400 or above 599, becomes 500).
    pub fn new(status: u16) -> HttpError {
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        HttpError {
            status,
            kind: None,
            title: None,
            detail: None,
            code: None,
            extensions: Map::new(),
            headers: None,
        }
    }

    /// 400 Bad Request with `detail`.
    pub fn bad_request(detail: impl Into<String>) -> HttpError {
        HttpError::new(400).with_detail(detail)
    }

    /// 404 Not Found with `detail`.
    pub fn not_found(detail: impl Into<String>) -> HttpError {
        HttpError::new(404).with_detail(detail)
    }

    /// 500 Internal Server Error with `detail` (code `H005`).
    pub fn internal(detail: impl Into<String>) -> HttpError {
        HttpError::new(500).with_detail(detail).with_code(ErrorCode::HttpHandlerFailed)
    }

    /// Sets the problem's `detail`.
    pub fn with_detail(mut self, detail: impl Into<String>) -> HttpError {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the problem's `title` (by default the status's reason phrase).
    pub fn with_title(mut self, title: impl Into<String>) -> HttpError {
        self.title = Some(title.into());
        self
    }

    /// Sets the problem's `type` URI (by default `about:blank`).
    pub fn with_type(mut self, uri: impl Into<String>) -> HttpError {
        self.kind = Some(uri.into());
        self
    }

    /// Sets the engine's stable code the problem carries as `code`.
    pub fn with_code(mut self, code: ErrorCode) -> HttpError {
        self.code = Some(code);
        self
    }

    /// Adds an extension member (a reserved member name such as `status` is ignored).
    pub fn with_extension(mut self, name: impl Into<String>, value: impl Serialize) -> HttpError {
        let name = name.into();
        if !RESERVED.contains(&name.as_str()) {
            self.extensions.insert(name, serde_json::to_value(value).unwrap_or(Value::Null));
        }
        self
    }

    /// Adds a header to the problem's response (`WWW-Authenticate` on a 401, `Retry-After` on a
    /// 429 or 503); its media type stays `application/problem+json`.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> HttpError {
        self.headers_mut().append(name, value);
        self
    }

    /// A header the problem's response carries.
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers.as_ref()?.get(name)
    }

    /// Every header the problem's response carries.
    pub fn headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.headers.iter().flat_map(|h| h.iter())
    }

    /// The headers, to add more.
    pub(crate) fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers.get_or_insert_default()
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// The engine's code, if one applies.
    pub fn code(&self) -> Option<ErrorCode> {
        self.code
    }

    /// The detail, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The problem document for a request to `instance` with id `request_id`.
    pub fn to_problem(&self, instance: &str, request_id: &str) -> Value {
        let mut doc = Map::new();
        doc.insert("type".into(), Value::from(self.kind.as_deref().unwrap_or("about:blank")));
        let title = self.title.as_deref().or(self.status.canonical_reason()).unwrap_or("Error");
        doc.insert("title".into(), Value::from(title));
        doc.insert("status".into(), Value::from(self.status.as_u16()));
        if let Some(d) = &self.detail {
            doc.insert("detail".into(), Value::from(d.as_str()));
        }
        doc.insert("instance".into(), Value::from(instance));
        if let Some(c) = self.code {
            doc.insert("code".into(), Value::from(c.as_str()));
        }
        doc.insert("requestId".into(), Value::from(request_id));
        for (k, v) in &self.extensions {
            doc.insert(k.clone(), v.clone());
        }
        Value::Object(doc)
    }

    /// The problem document as a response (`application/problem+json`).
    pub fn into_response(self, instance: &str, request_id: &str) -> Response {
        let body = serde_json::to_vec(&self.to_problem(instance, request_id)).unwrap_or_default();
        let mut r = Response::bytes(self.status.as_u16(), PROBLEM_JSON, body);
        for (name, value) in self.headers() {
            if name != hyper::header::CONTENT_TYPE {
                r.headers.append(name.clone(), value.clone());
            }
        }
        r
    }
}

const RESERVED: &[&str] = &["type", "title", "status", "detail", "instance", "code", "requestId"];

/// Maps an engine error to a status: argument errors are 400, a missing thing 404, a timeout 504,
/// a limit 429 or 503, anything else 500; the code is kept.
impl From<Error> for HttpError {
    fn from(e: Error) -> HttpError {
        let status = match e.code() {
            ErrorCode::InvalidArgument | ErrorCode::InvalidBody | ErrorCode::ValidationFailed => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::RouteNotFound | ErrorCode::ServiceNotFound | ErrorCode::MethodNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::BodyTimeout => 408,
            ErrorCode::BodyTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::RateLimited | ErrorCode::TooManyRequests => 429,
            ErrorCode::CircuitOpen | ErrorCode::BulkheadFull | ErrorCode::QueueFull | ErrorCode::NotReady => {
                503
            }
            ErrorCode::Timeout => 504,
            _ => 500,
        };
        HttpError::new(status).with_detail(e.message()).with_code(e.code())
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_has_the_rfc_9457_members_and_ours() {
        let e = HttpError::not_found("no route").with_code(ErrorCode::RouteNotFound).with_extension("x", 1);
        let doc = e.to_problem("/nope", "rid");
        assert_eq!(doc["type"], "about:blank");
        assert_eq!(doc["title"], "Not Found");
        assert_eq!(doc["status"], 404);
        assert_eq!(doc["detail"], "no route");
        assert_eq!(doc["instance"], "/nope");
        assert_eq!(doc["code"], "H002");
        assert_eq!(doc["requestId"], "rid");
        assert_eq!(doc["x"], 1);
    }

    #[test]
    fn statuses_outside_errors_become_500_and_engine_errors_keep_their_code() {
        assert_eq!(HttpError::new(200).status(), 500);
        let e: HttpError = Error::invalid_argument("bad").into();
        assert_eq!((e.status(), e.code()), (400, Some(ErrorCode::InvalidArgument)));
        let e = HttpError::new(400).with_extension("status", 1).to_problem("/", "r");
        assert_eq!(e["status"], 400);
    }
}
