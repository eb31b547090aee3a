//! What the engine's suite (`core/tests/queue/`) cannot reach from outside: a call repeated after
//! its answer was lost answers as the first did, and connecting refuses what it must. Against the
//! Redis at `OMNITRON_TEST_REDIS_URL` (default 127.0.0.1:6379), under a prefix of its own, deleted
//! at the end.

use std::time::Duration;

use bytes::Bytes;

use super::{RedisStore, RedisStoreOptions};
use crate::error::ErrorCode;
use crate::queue::job::{Added, Finish, FinishAck, JobOptions, JobState, NewJob, Outcome};
use crate::queue::store::Claim;

fn url() -> String {
    std::env::var("OMNITRON_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A store under a fresh prefix; its keys are deleted on drop.
struct Scratch {
    store: RedisStore,
}

impl Scratch {
    async fn new() -> Scratch {
        let prefix = format!("omni-test-{}-{:08x}", std::process::id(), fastrand::u32(..));
        let store = RedisStore::connect_with(RedisStoreOptions::new(url()).prefix(prefix)).await.unwrap();
        Scratch { store }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let Ok(mut conn) = ::redis::Client::open(url()).and_then(|c| c.get_connection()) else { return };
        let pattern = format!("{}:*", self.store.prefix());
        let mut cursor = 0u64;
        loop {
            let Ok((next, keys)): ::redis::RedisResult<(u64, Vec<String>)> = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut conn)
            else {
                return;
            };
            if !keys.is_empty() {
                let _: ::redis::RedisResult<()> = ::redis::cmd("DEL").arg(keys).query(&mut conn);
            }
            if next == 0 {
                return;
            }
            cursor = next;
        }
    }
}

fn job(id: &str) -> NewJob {
    NewJob {
        id: id.into(),
        name: "n".into(),
        data: Bytes::from_static(&[0xc0]),
        priority: 0,
        run_at_ms: 0,
        opts: JobOptions::default(),
    }
}

#[tokio::test]
async fn a_call_repeated_after_a_lost_answer_answers_as_the_first() {
    let s = Scratch::new().await;
    let (inner, q) = (&s.store.inner, "again");
    // add: the repeat still says New; another call with the same id says Duplicate.
    let jobs = [job("a"), job("b")];
    assert_eq!(inner.add(q, "n1", &jobs).await.unwrap(), [Added::New, Added::New]);
    assert_eq!(inner.add(q, "n1", &jobs).await.unwrap(), [Added::New, Added::New]);
    assert_eq!(inner.add(q, "n2", &jobs[..1]).await.unwrap(), [Added::Duplicate]);
    // claim: the repeat hands out the same leases, and leases nothing more.
    let claim = Claim { worker: "w".into(), max: 1, lease: Duration::from_secs(30) };
    let first = inner.claim(q, "c1", &claim).await.unwrap();
    let again = inner.claim(q, "c1", &claim).await.unwrap();
    assert_eq!(first.jobs.len(), 1);
    assert_eq!(
        (again.jobs[0].id.as_str(), again.jobs[0].token, again.jobs[0].attempt),
        (first.jobs[0].id.as_str(), first.jobs[0].token, 1)
    );
    let counts = inner.counts(q).await.unwrap();
    assert_eq!((counts.waiting, counts.active), (1, 1));
    // finish: the repeat says Done; another call with the same outcome says LeaseLost.
    let j = &first.jobs[0];
    let done =
        || vec![Finish { id: j.id.clone(), token: j.token, outcome: Outcome::Completed(Bytes::new()) }];
    assert_eq!(inner.finish(q, "f1", done()).await.unwrap(), [FinishAck::Done]);
    assert_eq!(inner.finish(q, "f1", done()).await.unwrap(), [FinishAck::Done]);
    assert_eq!(inner.finish(q, "f2", done()).await.unwrap(), [FinishAck::LeaseLost]);
    assert_eq!(inner.get(q, &j.id).await.unwrap().unwrap().state, JobState::Completed);
}

#[tokio::test]
async fn connecting_refuses_a_bad_prefix_url_or_layout_and_an_unreachable_server() {
    let e = RedisStore::connect_with(RedisStoreOptions::new(url()).prefix("a{b}")).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidQueue);
    assert!(e.message().contains("prefix 'a{b}'"), "{e}");
    let e = RedisStore::connect("rediss://:secret@example.com").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidQueue);
    assert!(!e.message().contains("secret"), "{e}");
    let e = RedisStore::connect("http://x").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidQueue);
    // Keys under the prefix in another layout.
    let s = Scratch::new().await;
    let mut conn = ::redis::Client::open(url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let layout = format!("{}:layout", s.store.prefix());
    let _: () = ::redis::cmd("SET").arg(&layout).arg("99").query_async(&mut conn).await.unwrap();
    let opts = RedisStoreOptions::new(url()).prefix(s.store.prefix());
    let e = RedisStore::connect_with(opts).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::QueueStoreVersion);
    assert!(e.message().contains("layout 99"), "{e}");
    // Nothing listens on this port: Q002, within seconds.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let e = RedisStore::connect(&format!("redis://127.0.0.1:{port}")).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::QueueStoreFailed);
    assert!(e.message().contains("check that Redis is running"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}
