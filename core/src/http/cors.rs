//! CORS, by the Fetch standard's rules and as the `cors` npm package applies them.
//!
//! - A **preflight** (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an
//!   allowed origin is answered 204 before routing, with `Access-Control-Allow-Origin`,
//!   `-Allow-Methods`, `-Allow-Headers` (the configured list, or the headers the preflight asks
//!   for), `-Max-Age` and `-Allow-Credentials`. A preflight from any other origin is not answered
//!   as CORS: it is routed like any request (a 404, or a 405 where the path has no `OPTIONS`),
//!   and the browser, seeing no `Access-Control-Allow-Origin`, blocks the call.
//! - An **actual** response to an allowed origin gets `Access-Control-Allow-Origin`,
//!   `-Allow-Credentials` and `-Expose-Headers`.
//! - `Access-Control-Allow-Origin` is `*` only when any origin is allowed without credentials;
//!   otherwise it echoes the request's origin, and `Vary: Origin` tells caches so. With
//!   credentials it is never `*` (browsers refuse that): `*` with credentials echoes any origin.

use hyper::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, HeaderValue, ORIGIN, VARY,
};
use hyper::{HeaderMap, Method};

use super::app::CorsOptions;
use super::response::Response;
use crate::error::{Error, ErrorCode, Result};

/// A CORS policy, made once from [`CorsOptions`].
#[derive(Debug)]
pub(crate) struct Cors {
    /// `*` is among the origins.
    any: bool,
    origins: Vec<Pattern>,
    credentials: bool,
    methods: HeaderValue,
    /// None: reflect the preflight's `Access-Control-Request-Headers`.
    allowed_headers: Option<HeaderValue>,
    exposed_headers: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

/// An allowed origin: exact (`https://app.example`), or any subdomain
/// (`https://*.example.com`, which does not match `https://example.com` itself).
#[derive(Debug)]
enum Pattern {
    Exact(String),
    Subdomains { scheme: String, suffix: String },
}

impl Pattern {
    fn matches(&self, origin: &str) -> bool {
        match self {
            Pattern::Exact(o) => o.eq_ignore_ascii_case(origin),
            Pattern::Subdomains { scheme, suffix } => {
                let Some(host) = strip_prefix_ignore_case(origin, scheme) else { return false };
                host.len() > suffix.len()
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                    && !host[..host.len() - suffix.len()].contains(['/', '@'])
            }
        }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &s[prefix.len()..])
}

fn invalid(why: String) -> Error {
    Error::new(ErrorCode::InvalidArgument, format!("cors: {why}"))
}

/// `a, b` as a header value.
fn list(items: &[String], what: &str) -> Result<Option<HeaderValue>> {
    if items.is_empty() {
        return Ok(None);
    }
    HeaderValue::from_str(&items.join(","))
        .map(Some)
        .map_err(|_| invalid(format!("{what} must be header tokens, not {items:?}")))
}

impl Cors {
    /// The policy; an origin that is not `*`, `null` or `scheme://host[:port]` is refused
    /// (`E001`), and so is a method or header name HTTP does not allow.
    pub(crate) fn new(o: &CorsOptions) -> Result<Cors> {
        let mut any = false;
        let mut origins = Vec::new();
        for raw in &o.origins {
            // `https://app.example/` is a common way to write an origin: take it.
            let origin = raw.trim().trim_end_matches('/');
            if origin == "*" {
                any = true;
                continue;
            }
            if origin == "null" {
                origins.push(Pattern::Exact(origin.to_string()));
                continue;
            }
            let Some((scheme, host)) = origin.split_once("://") else {
                return Err(invalid(format!("'{raw}' is not an origin (scheme://host[:port], or '*')")));
            };
            if scheme.is_empty() || host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
                return Err(invalid(format!("'{raw}' is not an origin (scheme://host[:port], or '*')")));
            }
            match host.strip_prefix("*.") {
                Some(rest) if !rest.is_empty() && !rest.contains('*') => origins
                    .push(Pattern::Subdomains { scheme: format!("{scheme}://"), suffix: format!(".{rest}") }),
                Some(_) => return Err(invalid(format!("'{raw}': a wildcard is '*.domain' only"))),
                None if host.contains('*') => {
                    return Err(invalid(format!("'{raw}': a wildcard is '*.domain' only")));
                }
                None => origins.push(Pattern::Exact(origin.to_string())),
            }
        }
        if any && o.credentials {
            tracing::warn!(
                "cors: any origin with credentials echoes every caller's origin; list the origins you trust"
            );
        }
        for m in &o.methods {
            Method::from_bytes(m.as_bytes()).map_err(|_| invalid(format!("'{m}' is not an HTTP method")))?;
        }
        let methods = list(&o.methods, "methods")?.unwrap_or(HeaderValue::from_static("GET,HEAD"));
        let max_age = o.max_age.map(|d| HeaderValue::from(d.as_secs()));
        Ok(Cors {
            any,
            origins,
            credentials: o.credentials,
            methods,
            allowed_headers: list(&o.allowed_headers, "allowed_headers")?,
            exposed_headers: list(&o.exposed_headers, "exposed_headers")?,
            max_age,
        })
    }

    /// Whether only `*` is answered (no origin to echo, no `Vary: Origin`).
    fn wildcard(&self) -> bool {
        self.any && !self.credentials
    }

    /// The `Access-Control-Allow-Origin` for `origin`, when it is allowed.
    fn allow(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        if self.wildcard() {
            return Some(HeaderValue::from_static("*"));
        }
        let text = origin.to_str().ok()?;
        (self.any || self.origins.iter().any(|p| p.matches(text))).then(|| origin.clone())
    }

    /// The answer to a preflight from an allowed origin; none for any other request.
    pub(crate) fn preflight(&self, parts: &hyper::http::request::Parts) -> Option<Response> {
        if parts.method != Method::OPTIONS || !parts.headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
            return None;
        }
        let allow = self.allow(parts.headers.get(ORIGIN)?)?;
        let mut r = Response::empty(204);
        let h = &mut r.headers;
        if !self.wildcard() {
            add_vary(h, "Origin");
        }
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        if self.credentials {
            h.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, self.methods.clone());
        match &self.allowed_headers {
            Some(v) => {
                h.insert(ACCESS_CONTROL_ALLOW_HEADERS, v.clone());
            }
            None => {
                // Reflected, so the answer depends on what was asked.
                add_vary(h, "Access-Control-Request-Headers");
                if let Some(asked) = parts.headers.get(ACCESS_CONTROL_REQUEST_HEADERS) {
                    h.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
                }
            }
        }
        if let Some(v) = &self.max_age {
            h.insert(ACCESS_CONTROL_MAX_AGE, v.clone());
        }
        Some(r)
    }

    /// The headers of an actual response to a request from `origin` (kept where the handler set
    /// them).
    pub(crate) fn actual(&self, h: &mut HeaderMap, origin: Option<&HeaderValue>) {
        if !self.wildcard() {
            // The answer differs by origin, even when this one is refused.
            add_vary(h, "Origin");
        }
        let Some(allow) = origin.and_then(|o| self.allow(o)) else { return };
        if h.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
            return;
        }
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        if self.credentials {
            h.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if let Some(v) = &self.exposed_headers {
            h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v.clone());
        }
    }
}

/// Adds `name` to `Vary` unless it (or `*`) is there already.
fn add_vary(h: &mut HeaderMap, name: &'static str) {
    let present = h.get_all(VARY).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').map(str::trim).any(|n| n == "*" || n.eq_ignore_ascii_case(name)))
            .unwrap_or(false)
    });
    if !present {
        h.append(VARY, HeaderValue::from_static(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(origins: &[&str], credentials: bool) -> Cors {
        let o = CorsOptions {
            origins: origins.iter().map(|s| s.to_string()).collect(),
            credentials,
            ..CorsOptions::default()
        };
        Cors::new(&o).unwrap()
    }

    fn v(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    #[test]
    fn origins_are_matched_exactly_or_by_subdomain() {
        let c = cors(&["https://app.example/", "https://*.example.com"], false);
        assert!(c.allow(&v("https://app.example")).is_some());
        assert!(c.allow(&v("https://APP.example")).is_some());
        assert!(c.allow(&v("http://app.example")).is_none());
        assert!(c.allow(&v("https://app.example.evil")).is_none());
        assert!(c.allow(&v("https://a.b.example.com")).is_some());
        assert!(c.allow(&v("https://example.com")).is_none());
        assert!(c.allow(&v("https://evilexample.com")).is_none());
        assert!(c.allow(&v("null")).is_none());
        for bad in ["app.example", "https://a/b", "https://*", "https://a.*.com", "https://"] {
            let o = CorsOptions { origins: vec![bad.into()], ..CorsOptions::default() };
            assert!(Cors::new(&o).is_err(), "{bad}");
        }
    }

    #[test]
    fn star_is_never_sent_with_credentials() {
        let c = cors(&["*"], false);
        assert_eq!(c.allow(&v("https://x.example")).unwrap(), "*");
        let c = cors(&["*"], true);
        assert_eq!(c.allow(&v("https://x.example")).unwrap(), "https://x.example");
        let mut h = HeaderMap::new();
        c.actual(&mut h, Some(&v("https://x.example")));
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://x.example");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(h[VARY], "Origin");
    }

    #[test]
    fn vary_is_merged() {
        let mut h = HeaderMap::new();
        h.insert(VARY, v("Accept-Encoding, origin"));
        add_vary(&mut h, "Origin");
        assert_eq!(h.get_all(VARY).iter().count(), 1);
        add_vary(&mut h, "Access-Control-Request-Headers");
        assert_eq!(h.get_all(VARY).iter().count(), 2);
    }
}
