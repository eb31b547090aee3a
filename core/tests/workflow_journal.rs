//! The SQLite journal: schema versions, files that are not journals, options, `:memory:`.

use std::sync::Arc;

use omnitron::ErrorCode;
use omnitron::metrics::Registry;
use omnitron::workflow::journal::SCHEMA_VERSION;
use omnitron::workflow::{Engine, RunFilter, SqliteJournal, SqliteOptions, Stage, Synchronous, Workflow};
use serde_json::{Value, json};

#[test]
fn a_journal_of_another_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    drop(SqliteJournal::open(&path).unwrap());
    let db = rusqlite::Connection::open(&path).unwrap();
    let v: String =
        db.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0)).unwrap();
    assert_eq!(v, SCHEMA_VERSION.to_string());
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", []).unwrap();
    drop(db);
    let err = SqliteJournal::open(&path).unwrap_err();
    assert_eq!(err.code(), ErrorCode::JournalVersion);
    assert!(
        err.message().contains("schema version 99") && err.message().contains("reads version 1"),
        "{err}"
    );

    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute("UPDATE meta SET value = 'x' WHERE key = 'schema_version'", []).unwrap();
    drop(db);
    assert_eq!(SqliteJournal::open(&path).unwrap_err().code(), ErrorCode::JournalVersion);

    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'", []).unwrap();
    drop(db);
    SqliteJournal::open(&path).unwrap();
}

#[test]
fn a_database_that_is_not_a_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch("CREATE TABLE users (id INTEGER)").unwrap();
    drop(db);
    let err = SqliteJournal::open(&path).unwrap_err();
    assert_eq!(err.code(), ErrorCode::JournalError);
    assert!(err.message().contains("not an Omnitron workflow journal"), "{err}");

    let path = dir.path().join("text.db");
    std::fs::write(&path, b"this is not a database at all, just some text that is long enough").unwrap();
    assert_eq!(SqliteJournal::open(&path).unwrap_err().code(), ErrorCode::JournalError);

    let missing_dir = dir.path().join("no/such/dir/j.db");
    assert_eq!(SqliteJournal::open(&missing_dir).unwrap_err().code(), ErrorCode::JournalError);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_sqlite_and_full_sync_work() {
    let wf = || {
        Workflow::builder("w")
            .stage(Stage::new("s", |i: Value, _| async move { Ok::<_, String>(i) }))
            .build()
            .unwrap()
    };
    let e = Engine::with_registry(Arc::new(SqliteJournal::in_memory().unwrap()), &Registry::new());
    e.register(wf()).unwrap();
    assert_eq!(e.run("w", json!(3)).await.unwrap()["s"], 3);
    assert_eq!(e.list(&RunFilter::default()).await.unwrap().len(), 1);

    let dir = tempfile::tempdir().unwrap();
    let opts =
        SqliteOptions { synchronous: Synchronous::Full, ..SqliteOptions::new(dir.path().join("f.db")) };
    let e = Engine::with_registry(Arc::new(SqliteJournal::open_with(opts).unwrap()), &Registry::new());
    e.register(wf()).unwrap();
    assert_eq!(e.run("w", json!("x")).await.unwrap()["s"], "x");
    let mode: String = rusqlite::Connection::open(dir.path().join("f.db"))
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_runs_share_group_commits() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::with_registry(
        Arc::new(SqliteJournal::open(dir.path().join("j.db")).unwrap()),
        &Registry::new(),
    );
    e.register(
        Workflow::builder("w")
            .stage(Stage::new("a", |i: Value, _| async move { Ok::<_, String>(i) }))
            .stage(Stage::new("b", |i: Value, _| async move { Ok::<_, String>(i) }).depends_on("a"))
            .build()
            .unwrap(),
    )
    .unwrap();
    let mut handles = Vec::new();
    for i in 0..200 {
        handles.push(e.start("w", json!(i), None).await.unwrap());
    }
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.wait().await.unwrap()["b"], json!(i));
    }
    assert_eq!(e.list(&RunFilter::default()).await.unwrap().len(), 200);
    assert_eq!(e.active_runs(), 0);
}
