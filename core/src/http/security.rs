//! What the app adds around every response (declared routes, 404s, problems, preflights and the
//! built-in routes alike): the security headers helmet 8 sets by default, and CORS
//! ([`super::cors`]).
//!
//! The headers are made once, when the app is built; a header the handler already set is kept.

use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue};

use super::app::AppShared;
use super::response::Response;

/// helmet 8's default headers, with its default values (`X-Powered-By` is never sent here, so
/// helmet's removal of it has nothing to do).
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';\
         frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';\
         script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
    ("referrer-policy", "no-referrer"),
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-download-options", "noopen"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
];

/// [`SECURITY_HEADERS`] as a header map, made once per app.
pub(crate) fn security_headers() -> HeaderMap {
    let mut map = HeaderMap::with_capacity(SECURITY_HEADERS.len());
    for (name, value) in SECURITY_HEADERS {
        map.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    map
}

/// Adds each of `defaults` that `headers` does not have yet.
pub(crate) fn add_missing(headers: &mut HeaderMap, defaults: &HeaderMap) {
    for (name, value) in defaults {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
}

impl AppShared {
    /// A CORS preflight from an allowed origin, answered before routing (none for anything
    /// else, which is then routed as usual).
    pub(crate) fn preflight(&self, parts: &hyper::http::request::Parts) -> Option<Response> {
        let cors = self.cors.as_ref()?;
        let mut r = cors.preflight(parts)?;
        if let Some(h) = &self.security_headers {
            add_missing(&mut r.headers, h);
        }
        Some(r)
    }

    /// What every answer gets: the CORS headers for the request's `origin`, and the security
    /// headers.
    pub(crate) fn decorate(&self, r: &mut Response, origin: Option<&HeaderValue>) {
        if let Some(cors) = &self.cors {
            cors.actual(&mut r.headers, origin);
        }
        if let Some(h) = &self.security_headers {
            add_missing(&mut r.headers, h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headers_parse_and_a_handler_s_own_value_is_kept() {
        let defaults = security_headers();
        assert_eq!(defaults.len(), SECURITY_HEADERS.len());
        let mut h = HeaderMap::new();
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
        add_missing(&mut h, &defaults);
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h.len(), SECURITY_HEADERS.len());
    }
}
