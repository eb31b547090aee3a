//! The circuit breaker on tokio's paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use omnitron::ErrorCode;
use omnitron::metrics::Registry;
use omnitron::resilience::{BreakerError, BreakerOptions, BreakerState, CircuitBreaker, Outcome};

fn breaker(opts: BreakerOptions) -> (CircuitBreaker, Registry) {
    let r = Registry::new();
    (CircuitBreaker::with_registry(opts, &r).unwrap(), r)
}

async fn fail(b: &CircuitBreaker) -> Result<(), BreakerError<&'static str>> {
    b.call(|| async { Err::<(), _>("boom") }).await
}

async fn succeed(b: &CircuitBreaker) -> Result<u32, BreakerError<&'static str>> {
    b.call(|| async { Ok::<_, &str>(7) }).await
}

#[tokio::test(start_paused = true)]
async fn opens_after_threshold_consecutive_failures_and_fails_fast() {
    let mut o = BreakerOptions::new("payments");
    o.threshold = Some(3);
    o.timeout = Duration::from_secs(30);
    let (b, _) = breaker(o);
    fail(&b).await.unwrap_err();
    fail(&b).await.unwrap_err();
    succeed(&b).await.unwrap(); // a success resets the consecutive count
    fail(&b).await.unwrap_err();
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Closed);
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Open);

    let calls = AtomicUsize::new(0);
    let r = b
        .call(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, &str>(1)
        })
        .await;
    match r {
        Err(BreakerError::Open(e)) => {
            assert_eq!(e.code(), ErrorCode::CircuitOpen);
            assert!(e.message().contains("'payments'"), "{e}");
        }
        other => panic!("expected fail-fast, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "an open breaker does not call");
}

#[tokio::test(start_paused = true)]
async fn half_open_after_timeout_then_closes_after_m_successes_or_reopens() {
    let mut o = BreakerOptions::new("inventory");
    o.threshold = Some(1);
    o.timeout = Duration::from_secs(10);
    o.success_threshold = 2;
    o.half_open_max_calls = 2;
    let (b, _) = breaker(o);
    let changes = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let c = changes.clone();
    b.on_state_change(move |ch| c.lock().push((ch.from, ch.to)));

    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Open);
    tokio::time::advance(Duration::from_secs(9)).await;
    assert!(matches!(succeed(&b).await, Err(BreakerError::Open(_))));
    tokio::time::advance(Duration::from_secs(1)).await;
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), BreakerState::HalfOpen, "one success of two");
    succeed(&b).await.unwrap();
    assert_eq!(b.state(), BreakerState::Closed);

    fail(&b).await.unwrap_err();
    tokio::time::advance(Duration::from_secs(10)).await;
    fail(&b).await.unwrap_err(); // the trial fails
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(
        *changes.lock(),
        vec![
            (BreakerState::Closed, BreakerState::Open),
            (BreakerState::Open, BreakerState::HalfOpen),
            (BreakerState::HalfOpen, BreakerState::Closed),
            (BreakerState::Closed, BreakerState::Open),
            (BreakerState::Open, BreakerState::HalfOpen),
            (BreakerState::HalfOpen, BreakerState::Open),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_only_the_configured_trials() {
    let mut o = BreakerOptions::new("trials");
    o.threshold = Some(1);
    o.timeout = Duration::from_secs(1);
    o.half_open_max_calls = 1;
    let (b, _) = breaker(o);
    fail(&b).await.unwrap_err();
    tokio::time::advance(Duration::from_secs(1)).await;
    let (first, change) = b.acquire();
    let first = first.unwrap();
    assert_eq!(change.unwrap().to, BreakerState::HalfOpen);
    let (second, _) = b.acquire();
    assert_eq!(second.unwrap_err().code(), ErrorCode::CircuitOpen);
    b.record(first, Outcome::Success);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn opens_on_failure_rate_over_the_window_once_min_calls_seen() {
    let mut o = BreakerOptions::new("rate");
    o.threshold = None;
    o.failure_rate = Some(0.5);
    o.min_calls = 10;
    o.window = Duration::from_secs(10);
    let (b, _) = breaker(o);
    // 4 failures, 4 successes: 50% but only 8 calls.
    for _ in 0..4 {
        fail(&b).await.unwrap_err();
        succeed(&b).await.unwrap();
    }
    assert_eq!(b.state(), BreakerState::Closed);
    // Old calls slide out of the window.
    tokio::time::advance(Duration::from_secs(11)).await;
    for _ in 0..6 {
        succeed(&b).await.unwrap();
    }
    for _ in 0..4 {
        fail(&b).await.unwrap_err();
    }
    assert_eq!(b.state(), BreakerState::Closed, "4 of 10 in the window: 40%");
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Closed, "5 of 11: under 50%");
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Open, "6 of 12: 50%");
}

#[tokio::test(start_paused = true)]
async fn the_predicate_decides_what_counts() {
    let mut o = BreakerOptions::new("pred");
    o.threshold = Some(1);
    let (b, _) = breaker(o);
    let r = b.call_with(|e: &&str| *e != "not found", || async { Err::<(), _>("not found") }).await;
    assert!(matches!(r, Err(BreakerError::Failed("not found"))));
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn the_call_timeout_counts_as_a_failure() {
    let mut o = BreakerOptions::new("slow");
    o.threshold = Some(1);
    o.call_timeout = Some(Duration::from_millis(100));
    let (b, _) = breaker(o);
    let r = b
        .call(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, &str>(())
        })
        .await;
    match r {
        Err(BreakerError::Timeout(e)) => assert_eq!(e.code(), ErrorCode::Timeout),
        other => panic!("{other:?}"),
    }
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn counts_stay_exact_with_thousands_of_concurrent_calls_and_go_to_metrics() {
    let mut o = BreakerOptions::new("busy");
    o.threshold = Some(1_000_000);
    let (b, registry) = breaker(o);
    let b = Arc::new(b);
    let mut tasks = Vec::new();
    for i in 0..5_000u32 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            b.call(|| async move {
                tokio::task::yield_now().await;
                if i % 5 == 0 { Err("x") } else { Ok(()) }
            })
            .await
        }));
    }
    for t in tasks {
        let _ = t.await.unwrap();
    }
    let text = registry.gather_text();
    assert!(
        text.contains(r#"omnitron_circuit_breaker_calls_total{breaker="busy",outcome="success"} 4000"#),
        "{text}"
    );
    assert!(
        text.contains(r#"omnitron_circuit_breaker_calls_total{breaker="busy",outcome="failure"} 1000"#),
        "{text}"
    );
    assert!(text.contains(r#"omnitron_circuit_breaker_state{breaker="busy"} 0"#), "{text}");
}

#[tokio::test(start_paused = true)]
async fn transitions_are_counted_in_metrics_and_batched_successes_reset_failures() {
    let mut o = BreakerOptions::new("metered");
    o.threshold = Some(2);
    let (b, registry) = breaker(o);
    fail(&b).await.unwrap_err();
    b.record_successes(10);
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Closed, "the batched successes reset the consecutive count");
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), BreakerState::Open);
    let text = registry.gather_text();
    assert!(text.contains(
        r#"omnitron_circuit_breaker_transitions_total{breaker="metered",from="closed",to="open"} 1"#
    ));
    assert!(text.contains(r#"omnitron_circuit_breaker_state{breaker="metered"} 1"#));
    assert!(text.contains(r#"outcome="success"} 10"#));
    assert!(text.contains(r#"outcome="rejected"} 0"#) || !text.contains(r#"outcome="rejected"} 1"#));
}

#[test]
fn bad_options_are_refused_at_construction() {
    let check = |f: &dyn Fn(&mut BreakerOptions)| {
        let mut o = BreakerOptions::new("x");
        f(&mut o);
        CircuitBreaker::with_registry(o, &Registry::new()).unwrap_err().code()
    };
    assert_eq!(check(&|o| o.threshold = Some(0)), ErrorCode::InvalidPolicy);
    assert_eq!(check(&|o| o.timeout = Duration::ZERO), ErrorCode::InvalidPolicy);
    assert_eq!(check(&|o| o.failure_rate = Some(0.0)), ErrorCode::InvalidPolicy);
    assert_eq!(check(&|o| o.failure_rate = Some(1.5)), ErrorCode::InvalidPolicy);
    assert_eq!(check(&|o| o.window = Duration::ZERO), ErrorCode::InvalidPolicy);
    assert_eq!(check(&|o| o.half_open_max_calls = 0), ErrorCode::InvalidPolicy);
    assert_eq!(check(&|o| o.success_threshold = 0), ErrorCode::InvalidPolicy);
    assert_eq!(check(&|o| o.min_calls = 0), ErrorCode::InvalidPolicy);
    assert_eq!(check(&|o| o.call_timeout = Some(Duration::ZERO)), ErrorCode::InvalidPolicy);
    assert_eq!(
        check(&|o| {
            o.threshold = None;
            o.failure_rate = None
        }),
        ErrorCode::InvalidPolicy
    );
    assert_eq!(check(&|o| o.name = " ".into()), ErrorCode::InvalidPolicy);
}
