//! What a handler receives: method, path, path parameters, query, headers, the whole body, and the
//! request's id; with the query-string and percent-decoding rules and the request-id rule.
//!
//! **Request ids.** A request's id is its `x-request-id` header when that is sane (1 to 128
//! visible ASCII characters, `!` to `~`); otherwise the server makes one (32 hex digits). The id is
//! echoed in the response's `x-request-id` header and in every problem document.

use std::collections::HashMap;

use bytes::Bytes;
use hyper::{HeaderMap, Method};
use serde::de::DeserializeOwned;

use super::problem::HttpError;
use crate::error::ErrorCode;

/// The header that carries a request's id, both ways.
pub(crate) const X_REQUEST_ID: hyper::header::HeaderName =
    hyper::header::HeaderName::from_static("x-request-id");

/// The longest `x-request-id` the server takes from a client.
pub const MAX_REQUEST_ID: usize = 128;

/// A request as a handler sees it (the body is read in full, within the server's limit).
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) query: HashMap<String, String>,
    /// Every query pair in order, repeated keys included (array-typed query properties).
    pub(crate) query_pairs: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) request_id: String,
    /// The client's address (none for a request injected in-process).
    pub(crate) remote: Option<std::net::SocketAddr>,
    /// What the app's pipeline made of the request (a route served by an [`HttpApp`]).
    ///
    /// [`HttpApp`]: super::HttpApp
    pub(crate) input: Option<Box<Input>>,
    /// What the route's first stages decided before the body was read (an app's route).
    pub(crate) admitted: Admission,
    /// The request's trace context (its server span's, or the client's `traceparent` when this
    /// process does not trace): what its handler runs in.
    pub(crate) trace: Option<crate::telemetry::TraceContext>,
}

/// [`Request::admitted`]. A clone of a request carries none: only the request the server admitted
/// may finish its audit record.
#[derive(Default)]
pub(crate) struct Admission(pub(crate) Option<Box<super::app::Admitted>>);

impl Clone for Admission {
    fn clone(&self) -> Admission {
        Admission(None)
    }
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Admitted" } else { "NotAdmitted" })
    }
}

/// A request's input once the route's pipeline has read it: params, query and body as JSON
/// (coerced to their schemas' types and checked), and the authenticated user's claims.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    /// The path parameters, an object.
    pub params: serde_json::Value,
    /// The query, an object.
    pub query: serde_json::Value,
    /// The body as JSON (null when there is none or it is not JSON).
    pub body: serde_json::Value,
    /// The verified token's claims (`@CurrentUser()`), when the route requires auth.
    pub user: Option<serde_json::Value>,
    /// Files of a `multipart/form-data` body (`@Upload` routes).
    pub files: Vec<UploadedFile>,
    /// The page asked for (`@Paginated` routes).
    pub page: Option<Page>,
}

/// One file of a `multipart/form-data` body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadedFile {
    /// The form field.
    pub field: String,
    /// The file name the client gave.
    pub filename: Option<String>,
    /// Its media type.
    pub content_type: String,
    /// Its bytes.
    pub data: Bytes,
}

/// A page of a `@Paginated` route: 1-based `page`, `limit` items, `offset` = (page - 1) * limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    /// The page number, from 1.
    pub page: u64,
    /// Items per page.
    pub limit: u64,
    /// Items before this page.
    pub offset: u64,
}

impl Request {
    /// The method (a HEAD served by a GET handler shows `HEAD`).
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path as sent, without the query string.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The request's trace context: its server span's when this process traces, else the client's
    /// `traceparent` (none without either).
    pub fn trace_context(&self) -> Option<&crate::telemetry::TraceContext> {
        self.trace.as_ref()
    }

    /// A path parameter (`:id` or `*rest` in the route), percent-decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every path parameter, in the route's order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// A query parameter, decoded (`+` is a space); when a key repeats, the first value.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// The query string as a map.
    pub fn query_map(&self) -> &HashMap<String, String> {
        &self.query
    }

    /// Every value of a query parameter, in order (`?tag=a&tag=b` gives `a`, `b`).
    pub fn query_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query_pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every query pair, decoded, in order, repeated keys included.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query_pairs
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value, when it is visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body read as JSON into `T`; a body that is not (malformed, wrong shape) is a 400
    /// problem with code `H001` whose detail says where.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            HttpError::bad_request(format!("the body is not valid JSON for this route: {e}"))
                .with_code(ErrorCode::InvalidBody)
        })
    }

    /// The request's id (from `x-request-id`, or made by the server).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The client's address (none for a request injected in-process).
    pub fn remote_addr(&self) -> Option<std::net::SocketAddr> {
        self.remote
    }

    /// What the app's pipeline read (params, query and body coerced and checked; the user), for
    /// a route served by an [`HttpApp`](super::HttpApp); none on a bare [`Router`](super::Router).
    pub fn input(&self) -> Option<&Input> {
        self.input.as_deref()
    }

    /// The authenticated user's claims, when the route required auth.
    pub fn user(&self) -> Option<&serde_json::Value> {
        self.input.as_ref().and_then(|i| i.user.as_ref())
    }
}

/// The id for a request: its `x-request-id` when sane, else a new one.
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    match headers.get(X_REQUEST_ID).map(|v| v.as_bytes()) {
        Some(v)
            if !v.is_empty() && v.len() <= MAX_REQUEST_ID && v.iter().all(|b| (0x21..=0x7e).contains(b)) =>
        {
            // Visible ASCII, so UTF-8.
            String::from_utf8_lossy(v).into_owned()
        }
        _ => new_request_id(),
    }
}

/// 128 random bits as 32 hex digits (no `format!`: this runs for every request).
fn new_request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = fastrand::u128(..);
    let mut out = String::with_capacity(32);
    for i in (0..32).rev() {
        out.push(HEX[((bits >> (i * 4)) & 0xf) as usize] as char);
    }
    out
}

/// A query string as a map (the first value of a repeated key wins).
#[cfg(test)]
pub(crate) fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    query_map(&parse_query_pairs(query))
}

/// A query string's pairs, decoded, in order.
pub(crate) fn parse_query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let query = query.unwrap_or("");
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((decode(k, true), decode(v, true)));
    }
    out
}

/// Query pairs as a map (the first value of a repeated key wins).
pub(crate) fn query_map(pairs: &[(String, String)]) -> HashMap<String, String> {
    let mut out = HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        out.entry(k.clone()).or_insert_with(|| v.clone());
    }
    out
}

/// Percent-decodes `s` (`+` as a space when `plus`); a bad escape is kept as written, and bytes
/// that are not UTF-8 are replaced.
pub(crate) fn decode(s: &str, plus: bool) -> String {
    if !s.bytes().any(|b| b == b'%' || (plus && b == b'+')) {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_percent_decoding() {
        let q = parse_query(Some("a=1&b=hello+world&c=%41%zz&a=2&flag&=x"));
        assert_eq!(q["a"], "1");
        assert_eq!(q["b"], "hello world");
        assert_eq!(q["c"], "A%zz");
        assert_eq!(q["flag"], "");
        let pairs = parse_query_pairs(Some("a=1&a=2&b"));
        assert_eq!(pairs, vec![("a".into(), "1".into()), ("a".into(), "2".into()), ("b".into(), "".into())]);
        assert_eq!(decode("a%2", false), "a%2");
        assert_eq!(decode("a%20b+c", false), "a b+c");
        assert_eq!(decode("%e2%82%ac", false), "€");
    }

    #[test]
    fn request_ids_are_taken_when_sane() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", "abc-123".parse().unwrap());
        assert_eq!(request_id(&h), "abc-123");
        h.insert("x-request-id", "has space".parse().unwrap());
        assert_eq!(request_id(&h).len(), 32);
        h.insert("x-request-id", "x".repeat(129).parse().unwrap());
        assert_eq!(request_id(&h).len(), 32);
        assert_ne!(request_id(&HeaderMap::new()), request_id(&HeaderMap::new()));
    }
}
