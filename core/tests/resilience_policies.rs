//! Retry, timeout, rate limiter, bulkhead and the policy pipeline, on tokio's paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use omnitron::ErrorCode;
use omnitron::metrics::Registry;
use omnitron::resilience::{
    Admission, Backoff, BreakerOptions, Bulkhead, CircuitBreaker, Jitter, Policy, PolicyError, RateLimitKind,
    RateLimiter, RetryOptions, retry, retry_blocking, timeout,
};
use tokio::time::Instant;

#[test]
fn backoff_schedules() {
    let mut r = RetryOptions::new(5);
    r.backoff = Backoff::Fixed(Duration::from_millis(50));
    assert_eq!(r.base_delay(1), Duration::from_millis(50));
    assert_eq!(r.base_delay(4), Duration::from_millis(50));
    r.backoff = Backoff::Linear { initial: Duration::from_millis(100), step: Duration::from_millis(50) };
    assert_eq!(r.base_delay(1), Duration::from_millis(100));
    assert_eq!(r.base_delay(3), Duration::from_millis(200));
    r.backoff = Backoff::Exponential { initial: Duration::from_millis(100), factor: 2.0 };
    assert_eq!(r.base_delay(1), Duration::from_millis(100));
    assert_eq!(r.base_delay(4), Duration::from_millis(800));
    r.max_delay = Some(Duration::from_millis(300));
    assert_eq!(r.base_delay(4), Duration::from_millis(300), "capped");
    assert_eq!(r.base_delay(10_000), Duration::from_millis(300), "no overflow");
    r.jitter = Jitter::Full;
    for n in 1..50 {
        assert!(r.delay(n) <= Duration::from_millis(300));
    }
    r.jitter = Jitter::Equal;
    for n in 3..50 {
        let d = r.delay(n);
        assert!(d >= Duration::from_millis(150) && d <= Duration::from_millis(300), "{d:?}");
    }
    assert_eq!(RetryOptions::new(0).validate().unwrap_err().code(), ErrorCode::InvalidPolicy);
    let mut bad = RetryOptions::new(3);
    bad.backoff = Backoff::Exponential { initial: Duration::from_millis(1), factor: 0.5 };
    assert_eq!(bad.validate().unwrap_err().code(), ErrorCode::InvalidPolicy);
}

#[tokio::test(start_paused = true)]
async fn retry_succeeds_on_a_later_attempt_with_the_backoff_between() {
    let mut r = RetryOptions::new(4);
    r.backoff = Backoff::Exponential { initial: Duration::from_millis(100), factor: 2.0 };
    let start = Instant::now();
    let seen = AtomicU32::new(0);
    let v = retry(
        &r,
        |_: &&str| true,
        |attempt| {
            seen.store(attempt, Ordering::SeqCst);
            async move { if attempt < 3 { Err("flaky") } else { Ok(attempt) } }
        },
    )
    .await
    .unwrap();
    assert_eq!(v, 3);
    assert_eq!(start.elapsed(), Duration::from_millis(300), "100 ms then 200 ms");
}

#[tokio::test(start_paused = true)]
async fn retry_keeps_the_last_error_and_the_attempt_count_and_honours_the_predicate() {
    let r = RetryOptions::new(3);
    let e =
        retry(&r, |_: &String| true, |n| async move { Err::<(), _>(format!("fail {n}")) }).await.unwrap_err();
    assert_eq!(e.attempts, 3);
    assert_eq!(e.last, "fail 3");
    assert!(e.to_string().contains("after 3 attempt(s): fail 3"));
    let e = retry(&r, |e: &&str| *e != "fatal", |_| async { Err::<(), _>("fatal") }).await.unwrap_err();
    assert_eq!(e.attempts, 1, "a non-retryable error stops at once");
}

#[tokio::test(start_paused = true)]
async fn timeout_cuts_slow_work() {
    let e =
        timeout(Duration::from_millis(250), tokio::time::sleep(Duration::from_secs(1))).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout);
    assert!(e.message().contains("250 ms"));
    assert_eq!(timeout(Duration::from_millis(250), async { 5 }).await.unwrap(), 5);
    assert_eq!(timeout(Duration::ZERO, async { 5 }).await.unwrap_err().code(), ErrorCode::InvalidPolicy);
}

#[tokio::test(start_paused = true)]
async fn token_bucket_refills_continuously_without_losing_fractions() {
    // 3 points per second: one every 333.33 ms.
    let l = RateLimiter::new("api", 3, Duration::from_secs(1), RateLimitKind::TokenBucket).unwrap();
    for _ in 0..3 {
        l.try_acquire(1).unwrap();
    }
    let wait = l.try_acquire(1).unwrap_err();
    assert_eq!(wait, Duration::from_nanos(333_333_334));
    let e = l.check(1).unwrap_err();
    assert_eq!(e.code(), ErrorCode::RateLimited);
    assert!(e.message().contains("'api'"));
    // After exactly one second all three points are back, none lost to rounding.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(l.available(), 3.0);
    for _ in 0..3 {
        l.try_acquire(1).unwrap();
    }
    assert!(l.try_acquire(1).is_err());
    // Three thirds of a second give back exactly one token each.
    for _ in 0..3 {
        tokio::time::advance(Duration::from_nanos(333_333_334)).await;
        l.try_acquire(1).unwrap();
    }
    assert!(l.try_acquire(1).is_err());
}

#[tokio::test(start_paused = true)]
async fn waiting_for_a_token() {
    let l = RateLimiter::new("waits", 2, Duration::from_secs(1), RateLimitKind::TokenBucket).unwrap();
    let start = Instant::now();
    for _ in 0..4 {
        l.acquire(1).await.unwrap();
    }
    assert_eq!(start.elapsed(), Duration::from_secs(1), "2 at once, then one every 500 ms");
    assert_eq!(l.acquire(3).await.unwrap_err().code(), ErrorCode::InvalidPolicy);
}

#[tokio::test(start_paused = true)]
async fn sliding_window_counts_the_last_duration() {
    let l = RateLimiter::new("win", 2, Duration::from_secs(10), RateLimitKind::SlidingWindow).unwrap();
    l.try_acquire(1).unwrap();
    tokio::time::advance(Duration::from_secs(4)).await;
    l.try_acquire(1).unwrap();
    assert_eq!(l.try_acquire(1).unwrap_err(), Duration::from_secs(6));
    tokio::time::advance(Duration::from_secs(6)).await;
    l.try_acquire(1).unwrap();
    assert!(l.try_acquire(1).is_err());
}

#[test]
fn rate_limiter_options_are_checked() {
    assert_eq!(
        RateLimiter::new("x", 0, Duration::from_secs(1), RateLimitKind::TokenBucket).unwrap_err().code(),
        ErrorCode::InvalidPolicy
    );
    assert_eq!(
        RateLimiter::new("x", 1, Duration::ZERO, RateLimitKind::TokenBucket).unwrap_err().code(),
        ErrorCode::InvalidPolicy
    );
    assert!("leaky".parse::<RateLimitKind>().is_err());
}

#[tokio::test(start_paused = true)]
async fn bulkhead_limits_concurrency_queues_and_rejects() {
    let b = Arc::new(Bulkhead::new("db", 2, 1).unwrap());
    assert_eq!(b.try_enter(), Admission::Granted);
    assert_eq!(b.try_enter(), Admission::Granted);
    let Admission::Queued(w) = b.try_enter() else { panic!("should queue") };
    assert_eq!(b.try_enter(), Admission::Rejected);
    assert_eq!(b.full_error().code(), ErrorCode::BulkheadFull);
    assert_eq!(b.leave(), Some(w), "the slot passes to the waiter");
    assert_eq!(b.active(), 2);
    b.leave();
    b.leave();
    assert_eq!(b.active(), 0);

    // The async form: 5 tasks, 2 at a time, 3 queued, one rejected.
    let b = Arc::new(Bulkhead::new("api", 2, 2).unwrap());
    let running = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (b, running, peak) = (b.clone(), running.clone(), peak.clone());
        tasks.push(tokio::spawn(async move {
            b.run(async {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                running.fetch_sub(1, Ordering::SeqCst);
            })
            .await
        }));
    }
    let mut rejected = 0;
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            assert_eq!(e.code(), ErrorCode::BulkheadFull);
            rejected += 1;
        }
    }
    assert_eq!(rejected, 1);
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    assert_eq!(b.active(), 0);
    assert_eq!(Bulkhead::new("x", 0, 1).unwrap_err().code(), ErrorCode::InvalidPolicy);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_leaves_the_queue() {
    let b = Arc::new(Bulkhead::new("drop", 1, 1).unwrap());
    assert_eq!(b.try_enter(), Admission::Granted);
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move { b.run(async { 1 }).await })
    };
    tokio::task::yield_now().await;
    assert_eq!(b.queued(), 1);
    waiter.abort();
    let _ = waiter.await;
    assert_eq!(b.queued(), 0);
    b.leave();
    assert_eq!(b.active(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_pipeline_applies_policies_in_the_documented_order() {
    let breaker = Arc::new({
        let mut o = BreakerOptions::new("pipeline");
        o.threshold = Some(10);
        CircuitBreaker::with_registry(o, &Registry::new()).unwrap()
    });
    let mut r = RetryOptions::new(3);
    r.backoff = Backoff::Fixed(Duration::from_millis(10));
    let policy = Policy::new()
        .rate_limit(
            Arc::new(
                RateLimiter::new("rl", 100, Duration::from_secs(1), RateLimitKind::TokenBucket).unwrap(),
            ),
            false,
        )
        .bulkhead(Arc::new(Bulkhead::new("bh", 4, 0).unwrap()))
        .retry(r)
        .unwrap()
        .circuit_breaker(breaker.clone())
        .timeout(Duration::from_millis(50))
        .unwrap();

    // Retries happen under the breaker: each failed attempt is one breaker failure.
    let attempts = AtomicU32::new(0);
    let v = policy
        .call(
            |_: &&str| true,
            || {
                let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                async move { if n < 3 { Err("flaky") } else { Ok(n) } }
            },
        )
        .await
        .unwrap();
    assert_eq!(v, 3);

    // A slow attempt is cut by the per-attempt timeout, and timeouts are not retried by default.
    let e = policy
        .call(
            |_: &&str| true,
            || async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok::<_, &str>(0)
            },
        )
        .await
        .unwrap_err();
    match e {
        PolicyError::Rejected(e) => assert_eq!(e.code(), ErrorCode::Timeout),
        other => panic!("{other:?}"),
    }

    // Exhausted retries report the last error and the attempts.
    match policy.call(|_: &&str| true, || async { Err::<(), _>("down") }).await.unwrap_err() {
        PolicyError::Failed { error, attempts } => assert_eq!((error, attempts), ("down", 3)),
        other => panic!("{other:?}"),
    }
    assert_eq!(Policy::new().timeout(Duration::ZERO).unwrap_err().code(), ErrorCode::InvalidPolicy);
}

/// The synchronous forms (what the C door calls) share the async ones' decisions. They block real
/// threads, so these use delays of zero and limits that decide without waiting.
#[test]
fn blocking_forms_decide_like_the_async_ones() {
    let mut opts = RetryOptions::new(3);
    opts.backoff = Backoff::Fixed(Duration::ZERO);
    let mut calls = 0;
    let r: Result<(), _> = retry_blocking(
        &opts,
        |_: &&str, _| true,
        |_| {
            calls += 1;
            Err("no")
        },
    );
    let e = r.unwrap_err();
    assert_eq!((e.attempts, e.last, calls), (3, "no", 3));
    let r = retry_blocking(&opts, |e: &&str, _| *e != "final", |_| Err::<(), _>("final"));
    assert_eq!(r.unwrap_err().attempts, 1);

    let l = RateLimiter::new("sync", 1, Duration::from_secs(60), RateLimitKind::TokenBucket).unwrap();
    l.acquire_blocking(1, None).unwrap();
    let e = l.acquire_blocking(1, Some(Duration::from_millis(1))).unwrap_err();
    assert_eq!(e.code(), ErrorCode::RateLimited);
    assert_eq!(l.acquire_blocking(2, None).unwrap_err().code(), ErrorCode::InvalidPolicy);

    let b = Bulkhead::new("sync", 1, 0).unwrap();
    assert_eq!(b.run_blocking(|| 7).unwrap(), 7);
    assert_eq!(b.active(), 0);

    let reg = Registry::new();
    let mut o = BreakerOptions::new("sync");
    o.threshold = Some(1);
    o.call_timeout = Some(Duration::from_nanos(1));
    let br = CircuitBreaker::with_registry(o, &reg).unwrap();
    let r = br.call_blocking(
        |_: &()| true,
        || {
            std::thread::sleep(Duration::from_millis(2));
            Ok::<_, ()>(1)
        },
    );
    assert!(matches!(r, Err(omnitron::resilience::BreakerError::Timeout(_))));
    let r = br.call_blocking(|_: &()| true, || Ok::<_, ()>(1));
    assert!(matches!(r, Err(omnitron::resilience::BreakerError::Open(_))));
}
