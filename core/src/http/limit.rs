//! Rate limits of an app: `AppOptions.rate_limit` on every declared route, `RouteSpec.rate_limit`
//! on one, counted per client address or for everyone together.
//!
//! **Algorithm.** The engine's one limiter ([`RateLimiter`], a token bucket): `max` requests at
//! once, refilled continuously at `max` per `window`, so a client that spent its `max` gets one
//! more request every `window / max`, and its whole allowance back `window` after its last
//! request.
//!
//! **Per client.** One bucket per client address (IPv4 address; IPv6 /56 prefix, as
//! express-rate-limit keys them, since one host usually holds a whole prefix; requests injected
//! in-process share one bucket). A client idle for a whole `window` has a full bucket again, so
//! its bucket is forgotten then without changing anything; the map is swept when it has doubled,
//! and holds at most [`MAX_CLIENTS`] buckets: past that the least recently seen are forgotten
//! (they start again with a full bucket).
//!
//! **Answers.** Over the limit: 429 with code `H012`, `Retry-After` (seconds until one request is
//! allowed, rounded up). Every answer of a limited route carries the IETF draft's
//! `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the allowance is
//! whole again) and `RateLimit-Policy` (`max;w=window`), as express-rate-limit's
//! `standardHeaders` sends them; with two limits (the app's and the route's), the one with the
//! fewest requests left.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue, RETRY_AFTER};
use parking_lot::Mutex;
use tokio::time::Instant;

use super::problem::HttpError;
use super::spec::RateLimitSpec;
use crate::error::{ErrorCode, Result};
use crate::resilience::{RateLimitKind, RateLimiter};

/// The most client buckets one limit keeps.
pub(crate) const MAX_CLIENTS: usize = 100_000;

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// One rate limit, ready to count.
#[derive(Debug)]
pub(crate) struct Limit {
    spec: RateLimitSpec,
    /// What the 429's detail names (`the app`, `route GET /x`).
    what: String,
    scope: Scope,
}

#[derive(Debug)]
enum Scope {
    Everyone(RateLimiter),
    Clients(Mutex<Clients>),
}

#[derive(Debug, Default)]
struct Clients {
    map: HashMap<ClientKey, Bucket>,
    /// The map's size that triggers the next sweep.
    next_sweep: usize,
    /// Counts uses, to order buckets by their last one.
    uses: u64,
}

#[derive(Debug)]
struct Bucket {
    limiter: Arc<RateLimiter>,
    /// When it was last used, and as what use.
    last: Instant,
    use_no: u64,
}

/// A client: an IPv4 address, an IPv6 /56 prefix, or none (in-process requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientKey {
    V4(u32),
    V6(u64),
    Local,
}

impl ClientKey {
    fn of(remote: Option<SocketAddr>) -> ClientKey {
        match remote.map(|a| a.ip().to_canonical()) {
            Some(IpAddr::V4(ip)) => ClientKey::V4(u32::from(ip)),
            Some(IpAddr::V6(ip)) => ClientKey::V6((u128::from(ip) >> 72) as u64),
            None => ClientKey::Local,
        }
    }
}

/// Where a request stands against one limit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Standing {
    max: u32,
    window: Duration,
    remaining: u32,
    /// Until the allowance is whole again.
    reset: Duration,
    /// Refused: until one request is allowed.
    retry_in: Option<Duration>,
}

impl Limit {
    /// A limit named `what`; a `max` of 0 or a zero window is refused (`H006`).
    pub(crate) fn new(spec: &RateLimitSpec, what: impl Into<String>) -> Result<Limit> {
        let what = what.into();
        // Checked here so the error names the route; the limiter checks the same.
        if spec.max == 0 || spec.window.is_zero() {
            return Err(crate::Error::new(
                ErrorCode::InvalidRoute,
                format!("{what}: a rate limit needs max of at least 1 and a window longer than 0"),
            ));
        }
        let scope = if spec.per_client {
            Scope::Clients(Mutex::new(Clients::default()))
        } else {
            Scope::Everyone(bucket(spec)?)
        };
        Ok(Limit { spec: spec.clone(), what, scope })
    }

    /// Counts one request from `remote`.
    pub(crate) fn take(&self, remote: Option<SocketAddr>) -> Standing {
        match &self.scope {
            Scope::Everyone(l) => self.standing(l),
            Scope::Clients(clients) => {
                let limiter = clients.lock().bucket(ClientKey::of(remote), &self.spec);
                match limiter {
                    Some(l) => self.standing(&l),
                    // Cannot happen (the spec was checked); count nothing rather than fail.
                    None => Standing {
                        max: self.spec.max,
                        window: self.spec.window,
                        remaining: self.spec.max,
                        reset: Duration::ZERO,
                        retry_in: None,
                    },
                }
            }
        }
    }

    fn standing(&self, l: &RateLimiter) -> Standing {
        let retry_in = l.try_acquire(1).err();
        let available = l.available().clamp(0.0, f64::from(self.spec.max));
        let missing = f64::from(self.spec.max) - available;
        let reset = self.spec.window.mul_f64(missing / f64::from(self.spec.max));
        Standing {
            max: self.spec.max,
            window: self.spec.window,
            remaining: available.floor() as u32,
            reset,
            retry_in,
        }
    }

    /// The 429 for a refused request.
    pub(crate) fn refused(&self, s: &Standing) -> HttpError {
        let retry = secs(s.retry_in.unwrap_or(s.window));
        let per = if self.spec.per_client { " for each client" } else { "" };
        let mut e = HttpError::new(429)
            .with_detail(format!(
                "too many requests to {}: at most {} per {:?}{per}; retry in {retry} s",
                self.what, self.spec.max, self.spec.window
            ))
            .with_code(ErrorCode::TooManyRequests)
            .with_header(RETRY_AFTER, HeaderValue::from(retry));
        for (k, v) in s.headers() {
            e = e.with_header(k, v);
        }
        e
    }
}

impl Standing {
    /// Refused.
    pub(crate) fn refused(&self) -> bool {
        self.retry_in.is_some()
    }

    /// Fewer requests left than `other` (the one whose headers are sent).
    pub(crate) fn tighter_than(&self, other: &Standing) -> bool {
        self.remaining < other.remaining
    }

    /// The `RateLimit-*` headers.
    pub(crate) fn headers(&self) -> [(HeaderName, HeaderValue); 4] {
        let policy = format!("{};w={}", self.max, secs(self.window));
        [
            (LIMIT, HeaderValue::from(self.max)),
            (REMAINING, HeaderValue::from(if self.refused() { 0 } else { self.remaining })),
            (RESET, HeaderValue::from(secs(self.reset))),
            (POLICY, HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("0"))),
        ]
    }

    /// Adds the `RateLimit-*` headers where `h` has none.
    pub(crate) fn add_to(&self, h: &mut HeaderMap) {
        for (k, v) in self.headers() {
            h.entry(k).or_insert(v);
        }
    }
}

/// Whole seconds, rounded up (at least 1 for a non-zero duration).
fn secs(d: Duration) -> u64 {
    d.as_nanos().div_ceil(1_000_000_000) as u64
}

fn bucket(spec: &RateLimitSpec) -> Result<RateLimiter> {
    RateLimiter::new("", spec.max, spec.window, RateLimitKind::TokenBucket)
}

impl Clients {
    /// The bucket of `key`, made when new.
    fn bucket(&mut self, key: ClientKey, spec: &RateLimitSpec) -> Option<Arc<RateLimiter>> {
        let now = Instant::now();
        self.uses += 1;
        if let Some(b) = self.map.get_mut(&key) {
            b.last = now;
            b.use_no = self.uses;
            return Some(b.limiter.clone());
        }
        if self.map.len() >= self.next_sweep.clamp(1024, MAX_CLIENTS) {
            self.sweep(now, spec.window);
        }
        let limiter = Arc::new(bucket(spec).ok()?);
        self.map.insert(key, Bucket { limiter: limiter.clone(), last: now, use_no: self.uses });
        Some(limiter)
    }

    /// Forgets clients idle for a window (their buckets are full again), then, past
    /// [`MAX_CLIENTS`], the least recently seen down to three quarters of it.
    fn sweep(&mut self, now: Instant, window: Duration) {
        self.map.retain(|_, b| now.saturating_duration_since(b.last) < window);
        if self.map.len() >= MAX_CLIENTS {
            let keep = MAX_CLIENTS * 3 / 4;
            let mut uses: Vec<u64> = self.map.values().map(|b| b.use_no).collect();
            let cut = uses.len() - keep;
            let (_, oldest_kept, _) = uses.select_nth_unstable(cut);
            let oldest_kept = *oldest_kept;
            self.map.retain(|_, b| b.use_no >= oldest_kept);
        }
        // Amortized: the next sweep when the map has doubled.
        self.next_sweep = self.map.len().saturating_mul(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(max: u32, window: Duration, per_client: bool) -> RateLimitSpec {
        RateLimitSpec { max, window, per_client }
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_spends_its_allowance_then_gets_it_back() {
        let l = Limit::new(&spec(3, Duration::from_secs(3), true), "route GET /x").unwrap();
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:1000".parse().unwrap();
        let mut left = Vec::new();
        for _ in 0..3 {
            let s = l.take(Some(a));
            assert!(!s.refused());
            left.push(s.remaining);
        }
        assert_eq!(left, vec![2, 1, 0]);
        let s = l.take(Some(a));
        assert!(s.refused());
        assert_eq!(secs(s.retry_in.unwrap()), 1);
        assert_eq!(secs(s.reset), 3);
        let e = l.refused(&s);
        assert_eq!(e.status(), 429);
        assert_eq!(e.header("retry-after").unwrap(), "1");
        assert_eq!(e.header("ratelimit-policy").unwrap(), "3;w=3");
        // Another client has its own bucket.
        assert!(!l.take(Some(b)).refused());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!l.take(Some(a)).refused());
    }

    #[tokio::test(start_paused = true)]
    async fn ipv6_clients_are_keyed_by_prefix_and_mapped_v4_by_address() {
        let l = Limit::new(&spec(1, Duration::from_secs(60), true), "the app").unwrap();
        assert!(!l.take(Some("[2001:db8:0:1::1]:1".parse().unwrap())).refused());
        assert!(l.take(Some("[2001:db8:0:2::9]:1".parse().unwrap())).refused());
        assert!(!l.take(Some("[2001:db8:1::1]:1".parse().unwrap())).refused());
        assert!(!l.take(Some("1.2.3.4:1".parse().unwrap())).refused());
        assert!(l.take(Some("[::ffff:1.2.3.4]:1".parse().unwrap())).refused());
        let everyone = Limit::new(&spec(1, Duration::from_secs(60), false), "the app").unwrap();
        assert!(!everyone.take(Some("1.1.1.1:1".parse().unwrap())).refused());
        assert!(everyone.take(Some("2.2.2.2:1".parse().unwrap())).refused());
        assert!(Limit::new(&spec(0, Duration::from_secs(1), true), "x").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_clients_are_forgotten_and_the_map_is_bounded() {
        let s = spec(2, Duration::from_secs(10), true);
        let mut c = Clients::default();
        for i in 0..2000u32 {
            c.bucket(ClientKey::V4(i), &s).unwrap();
        }
        tokio::time::advance(Duration::from_secs(11)).await;
        for i in 0..2000u32 {
            c.bucket(ClientKey::V4(10_000 + i), &s).unwrap();
        }
        assert!(c.map.len() < 4000, "idle clients were swept: {}", c.map.len());
        let mut c = Clients::default();
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            c.bucket(ClientKey::V4(i), &s).unwrap();
        }
        assert!(c.map.len() <= MAX_CLIENTS);
        assert!(c.map.contains_key(&ClientKey::V4(MAX_CLIENTS as u32 + 9)));
    }
}
