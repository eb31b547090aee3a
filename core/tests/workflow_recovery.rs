//! Crash recovery for real: a child process (this test binary, run again with an env var) starts a
//! run and is killed with SIGKILL in the middle of a stage; a new engine on the same journal file
//! recovers the run. Side effects are counted in a SQLite table keyed by idempotency key.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use omnitron::ErrorCode;
use omnitron::metrics::Registry;
use omnitron::workflow::{
    Engine, Event, Journal, MemoryJournal, RecoveryPolicy, RunState, SqliteJournal, Stage, StageState,
    Workflow,
};
use serde_json::{Value, json};

const CHILD: &str = "OMNITRON_WF_CRASH_CHILD";
const RUN: &str = "crash-run";

fn effects_db(dir: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(dir.join("effects.db")).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS invocations (stage TEXT, key TEXT, attempt INTEGER, pid INTEGER);
         CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, stage TEXT);
         CREATE TABLE IF NOT EXISTS compensations (key TEXT, stage TEXT);",
    )
    .unwrap();
    c
}

/// s1 -> s2 -> s3. Each stage applies its side effect once per idempotency key. In the child, s2
/// writes a marker after its effect and sleeps until killed.
fn workflow(dir: &Path, policy: RecoveryPolicy, child: bool) -> Workflow {
    let stage = |name: &'static str| {
        let dir = dir.to_path_buf();
        let dir2 = dir.clone();
        Stage::new(name, move |input: Value, ctx| {
            let dir = dir.clone();
            async move {
                {
                    let db = effects_db(&dir);
                    db.execute(
                        "INSERT INTO invocations VALUES (?1, ?2, ?3, ?4)",
                        rusqlite::params![name, ctx.idempotency_key(), ctx.attempt(), std::process::id()],
                    )
                    .unwrap();
                    db.execute(
                        "INSERT OR IGNORE INTO effects VALUES (?1, ?2)",
                        rusqlite::params![ctx.idempotency_key(), name],
                    )
                    .unwrap();
                }
                if child && name == "s2" {
                    std::fs::write(dir.join("in_s2"), b"x").unwrap();
                    tokio::time::sleep(Duration::from_secs(120)).await;
                }
                Ok::<_, String>(json!({ "stage": name, "after": input }))
            }
        })
        .compensate(move |_: Value, ctx| {
            let dir = dir2.clone();
            async move {
                effects_db(&dir)
                    .execute(
                        "INSERT INTO compensations VALUES (?1, ?2)",
                        rusqlite::params![ctx.idempotency_key(), name],
                    )
                    .unwrap();
                Ok::<_, String>(())
            }
        })
    };
    Workflow::builder("crashy")
        .recovery(policy)
        .stage(stage("s1"))
        .stage(stage("s2").depends_on("s1"))
        .stage(stage("s3").depends_on("s2"))
        .build()
        .unwrap()
}

/// The child's body: does nothing unless started by `crash_and_recover`.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD) else { return };
    let dir = PathBuf::from(dir);
    let policy = std::env::var("OMNITRON_WF_POLICY").unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let e = Engine::with_registry(
            Arc::new(SqliteJournal::open(dir.join("journal.db")).unwrap()),
            &Registry::new(),
        );
        e.register(workflow(&dir, policy, true)).unwrap();
        let h = e.start("crashy", json!({ "order": 7 }), Some(RUN)).await.unwrap();
        let _ = h.wait().await;
        panic!("the child should have been killed in stage s2");
    });
}

fn crash_and_recover(policy: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    effects_db(dir.path());
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, dir.path())
        .env("OMNITRON_WF_POLICY", policy)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !dir.path().join("in_s2").exists() {
        assert!(t0.elapsed() < Duration::from_secs(60), "the child never reached stage s2");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    dir
}

fn count(db: &rusqlite::Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stage_then_resume() {
    let dir = crash_and_recover("resume");
    let e = Engine::with_registry(
        Arc::new(SqliteJournal::open(dir.path().join("journal.db")).unwrap()),
        &Registry::new(),
    );
    let before = e.get(RUN).await.unwrap();
    assert_eq!(before.state, RunState::Running);
    assert_eq!(before.stage("s1").unwrap().state, StageState::Completed);
    assert_eq!(before.stage("s2").unwrap().state, StageState::Running);

    e.register(workflow(dir.path(), RecoveryPolicy::Resume, false)).unwrap();
    let rec = e.recover().await.unwrap();
    assert_eq!(rec.resumed, [RUN]);
    assert!(rec.compensating.is_empty() && rec.unrecovered.is_empty());
    let out = e.wait(RUN).await.unwrap();
    assert_eq!(out["s3"]["after"]["stage"], "s2");
    assert_eq!(out["s1"]["after"], json!({ "order": 7 }));

    let db = effects_db(dir.path());
    // s1 ran once (before the crash), s2 twice with the same key, s3 once.
    assert_eq!(count(&db, "SELECT count(*) FROM invocations WHERE stage = 's1'"), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM invocations WHERE stage = 's2'"), 2);
    assert_eq!(count(&db, "SELECT count(DISTINCT key) FROM invocations WHERE stage = 's2'"), 1);
    assert_eq!(count(&db, "SELECT count(DISTINCT pid) FROM invocations WHERE stage = 's2'"), 2);
    assert_eq!(count(&db, "SELECT count(*) FROM invocations WHERE stage = 's3'"), 1);
    // No side effect applied twice.
    assert_eq!(count(&db, "SELECT count(*) FROM effects"), 3);
    assert_eq!(count(&db, "SELECT count(*) FROM compensations"), 0);
    let key: String = db.query_row("SELECT key FROM effects WHERE stage = 's2'", [], |r| r.get(0)).unwrap();
    assert_eq!(key, "crash-run:s2");
    let info = e.get(RUN).await.unwrap();
    assert_eq!(info.state, RunState::Completed);
    assert_eq!(info.stage("s2").unwrap().attempts, 2);
    // Nothing left to recover.
    assert_eq!(e.recover().await.unwrap().run_ids().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stage_then_compensate() {
    let dir = crash_and_recover("compensate");
    let e = Engine::with_registry(
        Arc::new(SqliteJournal::open(dir.path().join("journal.db")).unwrap()),
        &Registry::new(),
    );
    e.register(workflow(dir.path(), RecoveryPolicy::Compensate, false)).unwrap();
    let rec = e.recover().await.unwrap();
    assert_eq!(rec.compensating, [RUN]);
    let err = e.wait(RUN).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::RunInterrupted, "{err}");
    assert!(
        err.message().contains("during stage(s) s2") && err.message().contains("compensated 's1'"),
        "{err}"
    );
    let info = e.get(RUN).await.unwrap();
    assert_eq!(info.state, RunState::Compensated);
    assert_eq!(info.stage("s1").unwrap().state, StageState::Compensated);
    let db = effects_db(dir.path());
    assert_eq!(count(&db, "SELECT count(*) FROM invocations WHERE stage = 's1'"), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM invocations WHERE stage = 's3'"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM compensations WHERE key = 'crash-run:s1:compensate'"), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM compensations"), 1);
}

/// A crash by hand in a shared in-memory journal: the entries an engine would have written before
/// dying in stage `b`. Also: runs of unknown workflows are reported, not dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_journal_recovery_and_unknown_workflows() {
    let journal = Arc::new(MemoryJournal::new());
    let id: Arc<str> = "m1".into();
    let ev = |seq, event| omnitron::workflow::journal::Entry { run_id: id.clone(), seq, at_ms: 1, event };
    let entries = vec![
        ev(
            1,
            Event::RunCreated {
                workflow: "mem".into(),
                input: json!(5),
                stages: vec!["a".into(), "b".into()],
                trace: None,
            },
        ),
        ev(2, Event::RunState { state: RunState::Running, error: None }),
        ev(3, Event::StageStarted { stage: "a".into(), attempt: 1 }),
        ev(4, Event::StageCompleted { stage: "a".into(), attempt: 1, output: json!(6) }),
        ev(5, Event::StageStarted { stage: "b".into(), attempt: 1 }),
    ];
    journal.append(entries.into()).await.unwrap();

    let e = Engine::with_registry(journal.clone(), &Registry::new());
    let rec = e.recover().await.unwrap();
    assert_eq!(rec.unrecovered.len(), 1);
    assert_eq!((rec.unrecovered[0].run_id.as_str(), rec.unrecovered[0].workflow.as_str()), ("m1", "mem"));
    assert!(rec.unrecovered[0].reason.contains("no workflow named 'mem'"), "{:?}", rec.unrecovered);
    assert_eq!(e.wait("m1").await.unwrap_err().code(), ErrorCode::InvalidArgument);

    let e = Engine::with_registry(journal.clone(), &Registry::new());
    let wf = Workflow::builder("mem")
        .stage(Stage::new("a", |_: Value, _| async move { Err::<Value, _>("a must not run again") }))
        .stage(
            Stage::new("b", |i: Value, ctx| async move {
                assert_eq!((ctx.attempt(), ctx.idempotency_key()), (2, "m1:b"));
                Ok::<_, String>(json!(i.as_i64().unwrap() * 2))
            })
            .depends_on("a"),
        )
        .build()
        .unwrap();
    e.register(wf).unwrap();
    assert_eq!(e.recover().await.unwrap().resumed, ["m1"]);
    assert_eq!(Value::Object(e.wait("m1").await.unwrap()), json!({ "a": 6, "b": 12 }));
}
