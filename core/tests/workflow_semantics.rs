//! Workflow semantics: data flow, parallelism, retries, timeouts, compensation order, failed
//! compensations, idempotent start, cancel, queries. Every engine here writes a real SQLite file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use omnitron::ErrorCode;
use omnitron::metrics::Registry;
use omnitron::resilience::{Backoff, RetryOptions};
use omnitron::workflow::{
    Engine, RunFilter, RunState, SqliteJournal, Stage, StageState, Workflow, compensate_fn,
};
use parking_lot::Mutex;
use serde_json::{Value, json};

type Res<T = Value> = Result<T, String>;

fn engine(dir: &tempfile::TempDir) -> (Engine, Registry) {
    let reg = Registry::new();
    let j = SqliteJournal::open(dir.path().join("journal.db")).unwrap();
    (Engine::with_registry(Arc::new(j), &reg), reg)
}

fn fast(n: u32) -> RetryOptions {
    RetryOptions { backoff: Backoff::Fixed(Duration::from_millis(5)), ..RetryOptions::new(n) }
}

/// A shared log of what ran, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);
impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().push(s.into());
    }
    fn get(&self) -> Vec<String> {
        self.0.lock().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linear_chain_passes_data_along() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(&dir);
    let wf = Workflow::builder("chain")
        .stage(Stage::new("a", |i: Value, _| async move { Res::Ok(json!(i["n"].as_i64().unwrap() + 1)) }))
        .stage(
            Stage::new("b", |i: Value, _| async move { Res::Ok(json!(i.as_i64().unwrap() * 10)) })
                .depends_on("a"),
        )
        .stage(Stage::new("c", |i: Value, _| async move { Res::Ok(json!(format!("={i}"))) }).depends_on("b"))
        .build()
        .unwrap();
    e.register(wf).unwrap();
    let out = e.run("chain", json!({ "n": 1 })).await.unwrap();
    assert_eq!(Value::Object(out), json!({ "a": 2, "b": 20, "c": "=20" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_dependencies_get_a_map_and_parallel_stages_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(&dir);
    let sleep = |ms: u64, v: i64| {
        Stage::new(format!("s{v}"), move |_: Value, _| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Res::Ok(json!(v))
        })
    };
    let wf = Workflow::builder("fan")
        .stage(sleep(300, 1))
        .stage(sleep(300, 2))
        .stage(sleep(300, 3))
        .stage(Stage::new("join", |i: Value, _| async move { Res::Ok(i) }).depends_on(["s1", "s2", "s3"]))
        .build()
        .unwrap();
    e.register(wf).unwrap();
    let t0 = Instant::now();
    let out = e.run("fan", Value::Null).await.unwrap();
    let took = t0.elapsed();
    assert_eq!(out["join"], json!({ "s1": 1, "s2": 2, "s3": 3 }));
    // Run one after another they would take 900 ms; together about 300 ms.
    assert!(took < Duration::from_millis(850), "parallel stages took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_payment_compensates_the_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let (e, reg) = engine(&dir);
    let log = Log::default();
    let (l1, l2) = (log.clone(), log.clone());
    let wf = Workflow::builder("order")
        .stage(
            Stage::new("reserve", move |i: Value, _| {
                let l = l1.clone();
                async move {
                    l.push("reserve");
                    Res::Ok(json!({ "reservation": i["item"] }))
                }
            })
            .compensate(move |out: Value, ctx| {
                let l = l2.clone();
                async move {
                    assert_eq!(ctx.workflow_input(), &json!({ "item": "book" }));
                    assert!(ctx.is_compensation());
                    l.push(format!("release {}", out["reservation"].as_str().unwrap()));
                    Ok::<_, String>(())
                }
            }),
        )
        .stage(
            Stage::new("pay", |_: Value, _| async move { Res::<Value>::Err("card declined".into()) })
                .depends_on("reserve"),
        )
        .build()
        .unwrap();
    e.register(wf).unwrap();
    let h = e.start("order", json!({ "item": "book" }), Some("order-1")).await.unwrap();
    let err = h.wait().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::StageFailed);
    assert!(err.message().contains("stage 'pay'") && err.message().contains("card declined"), "{err}");
    assert!(err.message().contains("compensated 'reserve'"), "{err}");
    assert_eq!(log.get(), ["reserve", "release book"]);
    let info = e.get("order-1").await.unwrap();
    assert_eq!(info.state, RunState::Compensated);
    assert_eq!(info.stage("reserve").unwrap().state, StageState::Compensated);
    assert_eq!(info.stage("pay").unwrap().state, StageState::Failed);
    assert_eq!(info.stage("pay").unwrap().errors[0].error.message, "card declined");
    let text = reg.gather_text();
    assert!(
        text.contains("omnitron_workflow_runs_total{workflow=\"order\",state=\"compensated\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "omnitron_workflow_compensations_total{workflow=\"order\",stage=\"reserve\",outcome=\"ok\"} 1"
        ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_stage_failing_compensates_second_then_first() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(&dir);
    let log = Log::default();
    let step = |name: &'static str, dep: Option<&'static str>, fail: bool| {
        let (l1, l2) = (log.clone(), log.clone());
        let s = Stage::new(name, move |_: Value, _| {
            let l = l1.clone();
            async move {
                l.push(name);
                if fail { Res::Err(format!("{name} broke")) } else { Res::Ok(json!(name)) }
            }
        })
        .compensate(move |out: Value, _| {
            let l = l2.clone();
            async move {
                l.push(format!("undo {}", out.as_str().unwrap()));
                Ok::<_, String>(())
            }
        });
        match dep {
            Some(d) => s.depends_on(d),
            None => s,
        }
    };
    let wf = Workflow::builder("three")
        .stage(step("one", None, false))
        .stage(step("two", Some("one"), false))
        .stage(step("three", Some("two"), true))
        .build()
        .unwrap();
    e.register(wf).unwrap();
    let err = e.run("three", Value::Null).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::StageFailed);
    assert_eq!(log.get(), ["one", "two", "three", "undo two", "undo one"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_succeeds_on_its_second_attempt_with_a_stable_key() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(&dir);
    let seen = Log::default();
    let s = seen.clone();
    let wf = Workflow::builder("flaky")
        .stage(
            Stage::new("call", move |_: Value, ctx| {
                let s = s.clone();
                async move {
                    s.push(format!("{}#{}", ctx.idempotency_key(), ctx.attempt()));
                    if ctx.attempt() == 1 { Res::Err("503".into()) } else { Res::Ok(json!("ok")) }
                }
            })
            .retries(fast(3)),
        )
        .build()
        .unwrap();
    e.register(wf).unwrap();
    let h = e.start("flaky", Value::Null, Some("r1")).await.unwrap();
    assert_eq!(h.wait().await.unwrap()["call"], "ok");
    assert_eq!(seen.get(), ["r1:call#1", "r1:call#2"]);
    let info = e.get("r1").await.unwrap();
    let st = info.stage("call").unwrap();
    assert_eq!((st.state, st.attempts, st.errors.len()), (StageState::Completed, 2, 1));
    assert!(st.duration_ms().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_timeout_fails_the_stage() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(&dir);
    let wf = Workflow::builder("slow")
        .stage(
            Stage::new("sleepy", |_: Value, _| async move {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Res::Ok(Value::Null)
            })
            .timeout(Duration::from_millis(50))
            .retries(fast(2)),
        )
        .build()
        .unwrap();
    e.register(wf).unwrap();
    let h = e.start("slow", Value::Null, Some("t1")).await.unwrap();
    let err = h.wait().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::StageTimeout, "{err}");
    assert!(err.message().contains("after 2 attempt(s)"), "{err}");
    let info = h.info();
    assert_eq!(info.state, RunState::Compensated);
    assert_eq!(info.stage("sleepy").unwrap().errors.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_timeout_abandons_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(&dir);
    let wf = Workflow::builder("wslow")
        .timeout(Duration::from_millis(50))
        .stage(Stage::new("sleepy", |_: Value, _| async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Res::Ok(Value::Null)
        }))
        .build()
        .unwrap();
    e.register(wf).unwrap();
    let err = e.run("wslow", Value::Null).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::WorkflowTimeout, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_retries_rerun_only_failed_stages() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(&dir);
    let log = Log::default();
    let (l1, l2) = (log.clone(), log.clone());
    let wf = Workflow::builder("again")
        .retries(fast(2))
        .stage(Stage::new("first", move |_: Value, _| {
            let l = l1.clone();
            async move {
                l.push("first");
                Res::Ok(json!(1))
            }
        }))
        .stage(
            Stage::new("second", move |_: Value, ctx| {
                let l = l2.clone();
                async move {
                    l.push(format!("second#{}", ctx.attempt()));
                    if ctx.attempt() == 1 { Res::Err("not yet".into()) } else { Res::Ok(json!(2)) }
                }
            })
            .depends_on("first"),
        )
        .build()
        .unwrap();
    e.register(wf).unwrap();
    let h = e.start("again", Value::Null, Some("w1")).await.unwrap();
    assert_eq!(Value::Object(h.wait().await.unwrap()), json!({ "first": 1, "second": 2 }));
    assert_eq!(log.get(), ["first", "second#1", "second#2"]);
    assert_eq!(h.info().attempts, 2);
}

#[test]
fn a_three_stage_cycle_is_refused_with_its_path() {
    let s = |n: &str| Stage::new(n, |_: Value, _| async move { Res::Ok(Value::Null) });
    let err = Workflow::builder("loop")
        .stage(s("a").depends_on("b"))
        .stage(s("b").depends_on("c"))
        .stage(s("c").depends_on("a"))
        .build()
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::WorkflowCycle);
    assert!(err.message().contains("a -> b -> c -> a"), "{err}");
}

#[test]
fn unknown_dependency_and_duplicate_stage_are_refused() {
    let s = |n: &str| Stage::new(n, |_: Value, _| async move { Res::Ok(Value::Null) });
    let err = Workflow::builder("w").stage(s("pay")).stage(s("ship").depends_on("pya")).build().unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownDependency);
    assert!(err.message().contains("'pya'") && err.message().contains("did you mean 'pay'"), "{err}");
    let err = Workflow::builder("w").stage(s("a")).stage(s("a")).build().unwrap_err();
    assert_eq!(err.code(), ErrorCode::DuplicateStage);
    let err = Workflow::builder("").build().unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidWorkflow);
    let noop = compensate_fn(|_: Value, _| async move { Ok::<_, String>(()) });
    let err = Workflow::builder("w").stage(s("a")).compensate("b", noop, None).build().unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidWorkflow);
    let err = Workflow::builder("w").stage(s("a").retries(RetryOptions::new(0))).build().unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidWorkflow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_workflow_and_stage_returning_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(&dir);
    e.register(Workflow::builder("empty").build().unwrap()).unwrap();
    assert!(e.run("empty", json!(1)).await.unwrap().is_empty());
    e.register(
        Workflow::builder("unit")
            .stage(Stage::new("nothing", |_: Value, _| async move { Res::<()>::Ok(()) }))
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(Value::Object(e.run("unit", Value::Null).await.unwrap()), json!({ "nothing": null }));
    let err = e.run("nope", Value::Null).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::WorkflowNotFound);
    let err = e.register(Workflow::builder("empty").build().unwrap()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DuplicateWorkflow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_compensation_ends_in_compensation_failed_with_both_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (e, reg) = engine(&dir);
    let wf = Workflow::builder("bad-undo")
        .stage(
            Stage::new("reserve", |_: Value, _| async move { Res::Ok(json!("r")) })
                .compensate(|_: Value, _| async move { Err::<(), _>("warehouse offline".to_string()) })
                .compensation_retries(fast(2)),
        )
        .stage(
            Stage::new("pay", |_: Value, _| async move { Res::<Value>::Err("card declined".into()) })
                .depends_on("reserve"),
        )
        .build()
        .unwrap();
    e.register(wf).unwrap();
    let h = e.start("bad-undo", Value::Null, Some("cf")).await.unwrap();
    let err = h.wait().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::CompensationFailed);
    assert!(err.message().contains("card declined") && err.message().contains("warehouse offline"), "{err}");
    let related: Vec<_> = err.related().iter().map(|r| (r.code(), r.message().to_string())).collect();
    assert_eq!(related.len(), 2, "{related:?}");
    assert_eq!(related[0].0, ErrorCode::StageFailed);
    assert!(related[1].1.contains("warehouse offline"));
    let info = e.get("cf").await.unwrap();
    assert_eq!(info.state, RunState::CompensationFailed);
    let st = info.stage("reserve").unwrap();
    assert_eq!(
        (st.state, st.compensation_attempts, st.compensation_errors.len()),
        (StageState::CompensationFailed, 2, 2)
    );
    let text = reg.gather_text();
    assert!(
        text.contains("omnitron_workflow_runs_total{workflow=\"bad-undo\",state=\"compensation_failed\"} 1"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_an_existing_id_returns_that_run() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(&dir);
    let calls = Log::default();
    let c = calls.clone();
    e.register(
        Workflow::builder("once")
            .stage(Stage::new("s", move |i: Value, _| {
                let c = c.clone();
                async move {
                    c.push("s");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Res::Ok(i)
                }
            }))
            .build()
            .unwrap(),
    )
    .unwrap();
    e.register(Workflow::builder("other").build().unwrap()).unwrap();
    let a = e.start("once", json!(1), Some("same")).await.unwrap();
    let b = e.start("once", json!(2), Some("same")).await.unwrap();
    assert_eq!(a.wait().await.unwrap()["s"], 1);
    assert_eq!(b.wait().await.unwrap()["s"], 1);
    // Finished: still the same run, from the journal.
    let c2 = e.start("once", json!(3), Some("same")).await.unwrap();
    assert_eq!(c2.wait().await.unwrap()["s"], 1);
    assert_eq!(calls.get().len(), 1);
    let err = e.start("other", Value::Null, Some("same")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::RunIdConflict);
    let err = e.start("once", Value::Null, Some("")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_compensates_completed_stages() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(&dir);
    let log = Log::default();
    let (l1, l2) = (log.clone(), log.clone());
    let wf = Workflow::builder("cancelme")
        .stage(
            Stage::new("book", move |_: Value, _| {
                let l = l1.clone();
                async move {
                    l.push("book");
                    Res::Ok(json!("b1"))
                }
            })
            .compensate(move |o: Value, _| {
                let l = l2.clone();
                async move {
                    l.push(format!("unbook {}", o.as_str().unwrap()));
                    Ok::<_, String>(())
                }
            }),
        )
        .stage(
            Stage::new("wait", |_: Value, _| async move {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Res::Ok(Value::Null)
            })
            .depends_on("book"),
        )
        .build()
        .unwrap();
    e.register(wf).unwrap();
    let h = e.start("cancelme", Value::Null, Some("c1")).await.unwrap();
    while h.info().stage("wait").unwrap().state != StageState::Running {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let info = e.cancel("c1").await.unwrap();
    assert_eq!(info.state, RunState::Cancelled);
    assert_eq!(info.stage("wait").unwrap().state, StageState::Failed);
    assert_eq!(log.get(), ["book", "unbook b1"]);
    assert_eq!(h.wait().await.unwrap_err().code(), ErrorCode::RunCancelled);
    // Cancelling a finished run changes nothing.
    assert_eq!(e.cancel("c1").await.unwrap().state, RunState::Cancelled);
    assert_eq!(e.cancel("nope").await.unwrap_err().code(), ErrorCode::RunNotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_can_be_listed_and_queried() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(&dir);
    e.register(
        Workflow::builder("ok")
            .stage(Stage::new("s", |_: Value, _| async move { Res::Ok(json!(1)) }))
            .build()
            .unwrap(),
    )
    .unwrap();
    e.register(
        Workflow::builder("ko")
            .stage(Stage::new("s", |_: Value, _| async move { Res::<Value>::Err("no".into()) }))
            .build()
            .unwrap(),
    )
    .unwrap();
    for i in 0..3 {
        e.start("ok", json!(i), Some(&format!("ok-{i}"))).await.unwrap().wait().await.unwrap();
    }
    e.start("ko", Value::Null, Some("ko-0")).await.unwrap().wait().await.unwrap_err();
    let all = e.list(&RunFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["ok-0", "ok-1", "ok-2", "ko-0"]);
    let ok = e
        .list(&RunFilter { workflow: Some("ok".into()), limit: Some(2), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(ok.len(), 2);
    let failed =
        e.list(&RunFilter { state: Some(RunState::Compensated), ..Default::default() }).await.unwrap();
    assert_eq!(failed.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["ko-0"]);
    let info = e.get("ok-1").await.unwrap();
    assert_eq!((info.state, info.input.clone()), (RunState::Completed, json!(1)));
    assert!(info.finished_at_ms.is_some());
    assert_eq!(info.stage("s").unwrap().attempts, 1);
    assert_eq!(e.get("missing").await.unwrap_err().code(), ErrorCode::RunNotFound);
    // A new engine on the same file sees the same runs.
    drop(e);
    let (e2, _) = engine(&dir);
    assert_eq!(e2.list(&RunFilter::default()).await.unwrap().len(), 4);
    assert_eq!(e2.get("ko-0").await.unwrap().state, RunState::Compensated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_in_stages_and_compensations_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = engine(&dir);
    let wf = Workflow::builder("panicky")
        .stage(Stage::new("a", |_: Value, _| async move { Res::Ok(json!(1)) }).compensate(
            |_: Value, _| async move {
                if true {
                    panic!("undo exploded");
                }
                Ok::<_, String>(())
            },
        ))
        .stage(
            Stage::new("b", |_: Value, _| async move {
                if true {
                    panic!("stage exploded");
                }
                Res::Ok(Value::Null)
            })
            .depends_on("a"),
        )
        .build()
        .unwrap();
    e.register(wf).unwrap();
    let err = e.run("panicky", Value::Null).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::CompensationFailed, "{err}");
    assert!(err.message().contains("panicked"), "{err}");
    assert_eq!(e.active_runs(), 0);
}
