//! `@Cached({ ttl })`: successful GET answers kept in memory, with a strong `ETag` and
//! `If-None-Match` answered by 304.
//!
//! **What is kept.** A 200 answer to a GET of a route with `cache_ttl`, for that long, keyed by
//! the route, the path as sent and the query as the handler sees it (every pair, sorted by key,
//! the values of a repeated key in their order). On a route that requires auth the key also holds the request's
//! `Authorization` and `Cookie` headers, so one user's answer is never served to another; such a
//! request without either is not cached. An answer is not kept when it sets a cookie, when the
//! handler's own `Cache-Control` says `no-store`, or when it is larger than
//! [`MAX_ENTRY_BYTES`].
//!
//! **Bounds.** One store per app holds at most [`MAX_ENTRIES`] answers and [`MAX_BYTES`] bytes;
//! beyond either, the oldest answers go first (expired ones are dropped as they are met).
//!
//! **Headers.** Every 200 answer of a cached route (fresh or kept) carries `ETag` (the handler's
//! own, else a strong tag from the body's length and 64-bit hash) and `Cache-Control: public,
//! max-age=<seconds left>` (`private` on routes that require auth, which also get `Vary:
//! Authorization, Cookie`), unless the handler set its own `Cache-Control`. A request whose
//! `If-None-Match` matches (`*`, or a list, compared weakly as RFC 9110 13.1.2 says) gets 304
//! with those headers and no body.

use std::collections::{HashMap, VecDeque};
use std::hash::Hasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{
    AUTHORIZATION, CACHE_CONTROL, COOKIE, ETAG, HeaderMap, HeaderValue, IF_NONE_MATCH, SET_COOKIE, VARY,
};
use hyper::{Method, StatusCode};
use parking_lot::Mutex;

use super::request::Request;
use super::response::Response;
use super::router::RouteId;

/// The most answers one app keeps.
pub(crate) const MAX_ENTRIES: usize = 10_000;
/// The most bytes (bodies, headers and keys, roughly) one app keeps.
pub(crate) const MAX_BYTES: usize = 64 * 1024 * 1024;
/// A larger answer is not kept (it still gets its ETag and 304).
pub(crate) const MAX_ENTRY_BYTES: usize = 1024 * 1024;

/// What identifies a kept answer.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    route: RouteId,
    path: String,
    query: Vec<(String, String)>,
    /// `Authorization` and `Cookie` on routes that require auth.
    credential: Option<(Bytes, Bytes)>,
}

impl Key {
    fn size(&self) -> usize {
        let q: usize = self.query.iter().map(|(k, v)| k.len() + v.len()).sum();
        let c = self.credential.as_ref().map_or(0, |(a, b)| a.len() + b.len());
        self.path.len() + q + c + 64
    }
}

struct Entry {
    response: Response,
    etag: HeaderValue,
    stored: Instant,
    expires: Instant,
    size: usize,
    /// Which insertion this is, to tell a current entry from a replaced one in `order`.
    generation: u64,
}

#[derive(Default)]
struct Store {
    map: HashMap<Arc<Key>, Entry>,
    /// Insertion order, oldest first; entries replaced or removed since are skipped.
    order: VecDeque<(Arc<Key>, u64)>,
    bytes: usize,
    generation: u64,
}

/// The answers an app keeps, shared by its cached routes.
pub(crate) struct ResponseCache {
    store: Mutex<Store>,
    max_entries: usize,
    max_bytes: usize,
    max_entry_bytes: usize,
}

impl Default for ResponseCache {
    fn default() -> Self {
        ResponseCache::with_limits(MAX_ENTRIES, MAX_BYTES, MAX_ENTRY_BYTES)
    }
}

/// What stage 3 found: a kept answer (or its 304), or what stage 6 needs to keep a new one.
pub(crate) enum Lookup {
    Hit(Response),
    Miss(Pending),
}

/// What stage 3 found out about a request to a cached route, for stage 6.
pub(crate) struct Pending {
    /// None when this request's answer must not be kept (a HEAD, or an auth route without a
    /// credential).
    key: Option<Key>,
    if_none_match: Option<Vec<u8>>,
    ttl: Duration,
    private: bool,
}

impl ResponseCache {
    pub(crate) fn with_limits(max_entries: usize, max_bytes: usize, max_entry_bytes: usize) -> ResponseCache {
        ResponseCache { store: Mutex::new(Store::default()), max_entries, max_bytes, max_entry_bytes }
    }

    /// Stage 3: a kept answer for `req` (or its 304), or what stage 6 needs.
    pub(crate) fn lookup(&self, route: RouteId, ttl: Duration, private: bool, req: &Request) -> Lookup {
        let if_none_match = if_none_match(req.headers());
        let key = key(route, private, req);
        let mut pending = Pending { key: None, if_none_match, ttl, private };
        let Some(key) = key else { return Lookup::Miss(pending) };
        let now = Instant::now();
        {
            let mut store = self.store.lock();
            match store.map.get(&key) {
                Some(e) if e.expires > now => {
                    let left = e.expires.saturating_duration_since(now);
                    let mut r = if pending.if_none_match.as_deref().is_some_and(|h| none_match(h, &e.etag)) {
                        not_modified(&e.response)
                    } else {
                        e.response.clone()
                    };
                    decorate(&mut r, &e.etag, left, private);
                    tracing::trace!(path = req.path(), age = ?now - e.stored, "http cache hit");
                    return Lookup::Hit(r);
                }
                Some(_) => store.remove(&key),
                None => {}
            }
        }
        // A HEAD is answered from what a GET kept, but its own answer is not kept: a handler
        // may leave the body out of a HEAD.
        if req.method() == Method::GET {
            pending.key = Some(key);
        }
        Lookup::Miss(pending)
    }

    /// Stage 6: adds the ETag and `Cache-Control` to a 200 answer, keeps it when it may be kept,
    /// and answers 304 when the request's `If-None-Match` matches.
    pub(crate) fn store(&self, pending: Pending, mut r: Response) -> Response {
        if r.status != StatusCode::OK || r.problem.is_some() {
            return r;
        }
        let etag = match r.headers.get(ETAG) {
            Some(v) => v.clone(),
            None => etag_of(&r.body),
        };
        let no_store = r
            .headers
            .get_all(CACHE_CONTROL)
            .iter()
            .any(|v| v.to_str().is_ok_and(|s| s.to_ascii_lowercase().contains("no-store")));
        let keep = !no_store && !r.headers.contains_key(SET_COOKIE) && r.body.len() <= self.max_entry_bytes;
        // Kept as the handler answered it: each answer from the cache gets its own max-age.
        if keep && let Some(key) = pending.key {
            self.insert(key, r.clone(), etag.clone(), pending.ttl);
        }
        decorate(&mut r, &etag, pending.ttl, pending.private);
        match pending.if_none_match {
            Some(h) if none_match(&h, &etag) => not_modified(&r),
            _ => r,
        }
    }

    fn insert(&self, key: Key, response: Response, etag: HeaderValue, ttl: Duration) {
        let size = key.size() + response.body.len() + header_bytes(&response.headers);
        if size > self.max_bytes {
            return;
        }
        let now = Instant::now();
        let mut store = self.store.lock();
        let key = Arc::new(key);
        store.remove(&key);
        store.generation += 1;
        let generation = store.generation;
        store.order.push_back((key.clone(), generation));
        store.bytes += size;
        store.map.insert(key, Entry { response, etag, stored: now, expires: now + ttl, size, generation });
        while store.map.len() > self.max_entries || store.bytes > self.max_bytes {
            let Some((oldest, generation)) = store.order.pop_front() else { break };
            if store.map.get(&oldest).is_some_and(|e| e.generation == generation) {
                store.remove(&oldest);
            }
        }
        // Entries replaced or removed leave stale places in `order`; drop them once they are
        // most of it, so it stays proportional to the map.
        if store.order.len() > 2 * store.map.len() + 64 {
            let Store { map, order, .. } = &mut *store;
            order.retain(|(k, g)| map.get(k).is_some_and(|e| e.generation == *g));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.store.lock().map.len()
    }
}

impl Store {
    fn remove(&mut self, key: &Key) {
        if let Some(e) = self.map.remove(key) {
            self.bytes -= e.size;
        }
    }
}

/// The key for `req`, or none when it must not be cached (an auth route without credentials).
fn key(route: RouteId, private: bool, req: &Request) -> Option<Key> {
    let credential = if private {
        let h = |name| req.headers().get(name).map(|v: &HeaderValue| Bytes::copy_from_slice(v.as_bytes()));
        let (auth, cookie) = (h(AUTHORIZATION), h(COOKIE));
        if auth.is_none() && cookie.is_none() {
            return None;
        }
        Some((auth.unwrap_or_default(), cookie.unwrap_or_default()))
    } else {
        None
    };
    // Sorted by key only: the order of a repeated key's values is the handler's to see.
    let mut query = req.query_pairs().to_vec();
    query.sort_by(|a, b| a.0.cmp(&b.0));
    Some(Key { route, path: req.path().to_string(), query, credential })
}

fn header_bytes(h: &HeaderMap) -> usize {
    h.iter().map(|(k, v)| k.as_str().len() + v.len() + 8).sum()
}

/// Sets `ETag`, and `Cache-Control` (unless the handler set one) with `max_age` left.
fn decorate(r: &mut Response, etag: &HeaderValue, max_age: Duration, private: bool) {
    r.headers.insert(ETAG, etag.clone());
    if !r.headers.contains_key(CACHE_CONTROL) {
        let scope = if private { "private" } else { "public" };
        if let Ok(v) = HeaderValue::from_str(&format!("{scope}, max-age={}", max_age.as_secs())) {
            r.headers.insert(CACHE_CONTROL, v);
        }
    }
    // The answer depends on who asks: say so, beside what the handler's own `Vary` names.
    let said = r
        .headers
        .get_all(VARY)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.to_ascii_lowercase().contains("authorization")));
    if private && !said {
        r.headers.append(VARY, HeaderValue::from_static("Authorization, Cookie"));
    }
}

/// 304: the validators and caching headers of `r` (RFC 9110 15.4.5), no body.
fn not_modified(r: &Response) -> Response {
    let mut out = Response::empty(304);
    for name in [ETAG, CACHE_CONTROL, VARY, hyper::header::EXPIRES, hyper::header::CONTENT_LOCATION] {
        for v in r.headers.get_all(&name) {
            out.headers.append(name.clone(), v.clone());
        }
    }
    out
}

/// A strong entity tag for `body`: its length and a 64-bit hash, both in hex (`"1a-9f...e2"`).
/// The hash is SipHash with fixed keys, so every process of one build tags a body alike.
pub(crate) fn etag_of(body: &[u8]) -> HeaderValue {
    #[allow(deprecated)] // SipHasher's fixed keys are the point: the tag must not vary by process.
    let mut h = std::hash::SipHasher::new();
    h.write(body);
    let tag = format!("\"{:x}-{:016x}\"", body.len(), h.finish());
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// Every `If-None-Match` line, joined (a request may send several).
fn if_none_match(headers: &HeaderMap) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    for v in headers.get_all(IF_NONE_MATCH) {
        let o = out.get_or_insert_with(Vec::new);
        if !o.is_empty() {
            o.push(b',');
        }
        o.extend_from_slice(v.as_bytes());
    }
    out
}

/// Whether an `If-None-Match` value matches `etag`: `*` matches any current answer; otherwise a
/// comma-separated list of entity tags, compared weakly (`W/"a"` matches `"a"`). A malformed
/// list matches only through the tags read before the fault.
pub(crate) fn none_match(header: &[u8], etag: &HeaderValue) -> bool {
    let Some(ours) = opaque(etag.as_bytes()) else { return false };
    let trimmed = header.trim_ascii();
    if trimmed == b"*" {
        return true;
    }
    let mut rest = trimmed;
    loop {
        rest = rest.trim_ascii_start();
        while let Some(r) = rest.strip_prefix(b",") {
            rest = r.trim_ascii_start();
        }
        if rest.is_empty() {
            return false;
        }
        let tag = rest.strip_prefix(b"W/").unwrap_or(rest);
        let Some(body) = tag.strip_prefix(b"\"") else { return false };
        let Some(end) = body.iter().position(|&b| b == b'"') else { return false };
        if &body[..end] == ours {
            return true;
        }
        rest = &body[end + 1..];
    }
}

/// The opaque part of an entity tag (between the quotes), weak or strong.
fn opaque(tag: &[u8]) -> Option<&[u8]> {
    let tag = tag.trim_ascii();
    let tag = tag.strip_prefix(b"W/").unwrap_or(tag);
    tag.strip_prefix(b"\"")?.strip_suffix(b"\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Lookup {
        fn miss(self) -> Pending {
            match self {
                Lookup::Miss(p) => p,
                Lookup::Hit(_) => panic!("a hit"),
            }
        }

        fn is_miss(&self) -> bool {
            matches!(self, Lookup::Miss(_))
        }
    }

    fn tag(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    #[test]
    fn if_none_match_compares_weakly_and_reads_lists() {
        let t = tag("\"abc\"");
        assert!(none_match(b"\"abc\"", &t));
        assert!(none_match(b"W/\"abc\"", &t));
        assert!(none_match(b" * ", &t));
        assert!(none_match(b"\"x\", W/\"y\" ,\"abc\"", &t));
        assert!(none_match(b"\"a,b\", \"abc\"", &t));
        assert!(!none_match(b"\"abcd\"", &t));
        assert!(!none_match(b"abc", &t));
        assert!(!none_match(b"\"abc", &t));
        assert!(!none_match(b"", &t));
        assert!(!none_match(b",,,", &t));
        assert!(!none_match(b"*, \"x\"", &t));
        assert!(none_match(b"\"abc\"", &tag("W/\"abc\"")));
    }

    #[test]
    fn etags_are_stable_and_differ_by_body() {
        assert_eq!(etag_of(b"hello"), etag_of(b"hello"));
        assert_ne!(etag_of(b"hello"), etag_of(b"hellp"));
        let t = etag_of(b"");
        assert!(t.to_str().unwrap().starts_with("\"0-"));
    }

    fn request(path: &str) -> Request {
        Request {
            admitted: Default::default(),
            method: Method::GET,
            path: path.into(),
            params: Vec::new(),
            query: Default::default(),
            query_pairs: Vec::new(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            request_id: "t".into(),
            remote: None,
            input: None,
            trace: None,
        }
    }

    #[test]
    fn the_store_is_bounded_and_evicts_the_oldest() {
        let c = ResponseCache::with_limits(3, 10_000, 100);
        let ttl = Duration::from_secs(60);
        for i in 0..5 {
            let p = c.lookup(0, ttl, false, &request(&format!("/{i}"))).miss();
            c.store(p, Response::text(200, "x"));
        }
        assert_eq!(c.len(), 3);
        assert!(c.lookup(0, ttl, false, &request("/0")).is_miss());
        assert!(!c.lookup(0, ttl, false, &request("/4")).is_miss());
        // Too large to keep, still tagged.
        let p = c.lookup(0, ttl, false, &request("/big")).miss();
        let r = c.store(p, Response::text(200, "y".repeat(101)));
        assert!(r.headers().contains_key(ETAG));
        assert!(c.lookup(0, ttl, false, &request("/big")).is_miss());
        // Replacing one entry many times keeps `order` small.
        for _ in 0..1000 {
            let p = c.lookup(0, Duration::ZERO, false, &request("/same")).miss();
            c.store(p, Response::text(200, "z"));
        }
        assert!(c.store.lock().order.len() < 200);
        assert!(c.len() <= 3);
    }

    #[test]
    fn private_routes_need_a_credential_and_key_by_it() {
        let c = ResponseCache::default();
        let ttl = Duration::from_secs(60);
        let p = c.lookup(0, ttl, true, &request("/me")).miss();
        assert!(p.key.is_none());
        let mut a = request("/me");
        a.headers.insert(AUTHORIZATION, tag("Bearer a"));
        let mut b = request("/me");
        b.headers.insert(AUTHORIZATION, tag("Bearer b"));
        let p = c.lookup(0, ttl, true, &a).miss();
        let r = c.store(p, Response::text(200, "alice"));
        assert_eq!(r.headers()[CACHE_CONTROL], "private, max-age=60");
        assert!(c.lookup(0, ttl, true, &b).is_miss());
        let short = Duration::from_secs(3600);
        let p = c.lookup(1, short, false, &request("/left")).miss();
        c.store(p, Response::text(200, "x"));
        let Lookup::Hit(hit) = c.lookup(1, short, false, &request("/left")) else { panic!("kept") };
        let cc = hit.headers()[CACHE_CONTROL].to_str().unwrap();
        assert!(cc == "public, max-age=3600" || cc == "public, max-age=3599", "{cc}");
        assert_eq!(hit.headers().get_all(ETAG).iter().count(), 1);
        let Lookup::Hit(hit) = c.lookup(0, ttl, true, &a) else { panic!("alice's answer is kept") };
        assert_eq!(hit.body().as_ref(), b"alice");
    }
}
