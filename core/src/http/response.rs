//! What a handler answers: a status, headers and a body held in memory.

use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{HeaderMap, StatusCode};
use serde::Serialize;

use super::problem::HttpError;

/// A response: status, headers, body bytes.
#[derive(Debug, Clone)]
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// A problem the server renders with the request's path and id (a value that would not
    /// serialize).
    pub(crate) problem: Option<Box<HttpError>>,
}

impl Response {
    /// `value` as JSON (`application/json`) with `status`. A value that cannot be serialized
    /// gives a 500 problem instead (its detail says why).
    pub fn json(status: u16, value: &impl Serialize) -> Response {
        match serde_json::to_vec(value) {
            Ok(body) => Response::bytes(status, "application/json", body),
            Err(e) => {
                let mut r = Response::empty(500);
                r.problem =
                    Some(Box::new(HttpError::internal(format!("the response could not be serialized: {e}"))));
                r
            }
        }
    }

    /// `text` as `text/plain; charset=utf-8` with `status`.
    pub fn text(status: u16, text: impl Into<String>) -> Response {
        Response::bytes(status, "text/plain; charset=utf-8", text.into())
    }

    /// No body, with `status` (204, 201, ...).
    pub fn empty(status: u16) -> Response {
        Response { status: status_of(status), headers: HeaderMap::new(), body: Bytes::new(), problem: None }
    }

    /// `body` with a content type and `status`.
    pub fn bytes(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(content_type) {
            headers.insert(CONTENT_TYPE, v);
        }
        Response { status: status_of(status), headers, body: body.into(), problem: None }
    }

    /// Adds a header; a name or value HTTP does not allow is refused (E001).
    pub fn with_header(mut self, name: &str, value: &str) -> crate::Result<Response> {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| crate::Error::invalid_argument(format!("'{name}' is not a valid header name")))?;
        let v = HeaderValue::from_str(value).map_err(|_| {
            crate::Error::invalid_argument(format!("the value of header '{name}' is not valid"))
        })?;
        self.headers.append(n, v);
        Ok(self)
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

/// A status HTTP knows (100..=999), else 500.
fn status_of(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_status_type_and_body() {
        let r = Response::json(201, &serde_json::json!({"a": 1}));
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(&r.body()[..], br#"{"a":1}"#);
        assert_eq!(Response::text(200, "hi").body().as_ref(), b"hi");
        assert_eq!(Response::empty(7).status(), 500);
        assert!(Response::empty(204).with_header("bad name", "x").is_err());
        let mut bad = std::collections::HashMap::new();
        bad.insert((1, 2), "tuple keys are not JSON");
        let r = Response::json(200, &bad);
        assert_eq!(r.status(), 500);
        assert!(r.problem.is_some());
    }
}
