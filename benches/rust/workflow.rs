//! Workflow runs per second: a four-stage saga (reserve -> pay -> ship -> notify, each with a
//! compensation) with in-process stages, through the engine with the in-memory journal and with the
//! SQLite file journal, next to the same four steps as a plain chain of async fns in the same run.
//! Runs are kept in flight by `CONCURRENCY` tasks; cases are timed in interleaved rounds and the
//! median round is kept.
//!
//! `cargo bench -p omnitron-benches --bench workflow`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use omnitron::metrics::Registry;
use omnitron::workflow::{Engine, MemoryJournal, SqliteJournal, SqliteOptions, Stage, Synchronous, Workflow};
use serde_json::{Value, json};

const ROUNDS: usize = 5;
const CONCURRENCY: usize = 256;
const RUNS_PER_ROUND: usize = 20_000;

async fn reserve(order: Value) -> Value {
    json!({ "reservation": format!("r-{}", order["id"]), "items": order["items"] })
}
async fn pay(res: Value) -> Value {
    json!({ "payment": "p-1", "reservation": res["reservation"] })
}
async fn ship(pay: Value) -> Value {
    json!({ "shipment": "s-1", "payment": pay["payment"] })
}
async fn notify(ship: Value) -> Value {
    json!({ "sent": true, "shipment": ship["shipment"] })
}

async fn plain(order: Value) -> Value {
    let r = reserve(order).await;
    let p = pay(r.clone()).await;
    let s = ship(p.clone()).await;
    let n = notify(s.clone()).await;
    json!({ "reserve": r, "pay": p, "ship": s, "notify": n })
}

fn saga() -> Workflow {
    let undo = |_: Value, _| async move { Ok::<_, String>(()) };
    Workflow::builder("saga")
        .stage(
            Stage::new("reserve", |i, _| async move { Ok::<_, String>(reserve(i).await) }).compensate(undo),
        )
        .stage(
            Stage::new("pay", |i, _| async move { Ok::<_, String>(pay(i).await) })
                .depends_on("reserve")
                .compensate(undo),
        )
        .stage(
            Stage::new("ship", |i, _| async move { Ok::<_, String>(ship(i).await) })
                .depends_on("pay")
                .compensate(undo),
        )
        .stage(
            Stage::new("notify", |i, _| async move { Ok::<_, String>(notify(i).await) }).depends_on("ship"),
        )
        .build()
        .unwrap()
}

fn engine(journal: Arc<dyn omnitron::workflow::Journal>) -> Engine {
    let e = Engine::with_registry(journal, &Registry::new());
    e.register(saga()).unwrap();
    e
}

/// Runs `total` runs with `CONCURRENCY` in flight; returns runs/s.
async fn measure(
    total: usize,
    concurrency: usize,
    run: impl Fn(usize) -> tokio::task::JoinHandle<()>,
) -> f64 {
    let t0 = Instant::now();
    let per = total / concurrency;
    let mut workers = Vec::new();
    for w in 0..concurrency {
        workers.push(run(w * per));
    }
    for w in workers {
        w.await.unwrap();
    }
    (per * concurrency) as f64 / t0.elapsed().as_secs_f64()
}

fn order(i: usize) -> Value {
    json!({ "id": i, "items": [{ "sku": "book", "qty": 1 }, { "sku": "pen", "qty": 3 }] })
}

async fn plain_case(total: usize, conc: usize) -> f64 {
    measure(total, conc, |start| {
        let per = total / conc;
        tokio::spawn(async move {
            for i in start..start + per {
                std::hint::black_box(plain(order(i)).await);
            }
        })
    })
    .await
}

async fn engine_case(e: &Engine, total: usize, conc: usize) -> f64 {
    measure(total, conc, |start| {
        let per = total / conc;
        let e = e.clone();
        tokio::spawn(async move {
            for i in start..start + per {
                let out = e.run("saga", order(i)).await.unwrap();
                std::hint::black_box(out);
            }
        })
    })
    .await
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let mem = engine(Arc::new(MemoryJournal::new()));
        let file = engine(Arc::new(SqliteJournal::open(dir.path().join("normal.db")).unwrap()));
        let full_opts = SqliteOptions {
            synchronous: Synchronous::Full,
            ..SqliteOptions::new(dir.path().join("full.db"))
        };
        let full = engine(Arc::new(SqliteJournal::open_with(full_opts).unwrap()));

        // Warm-up.
        plain_case(2_000, CONCURRENCY).await;
        for e in [&mem, &file, &full] {
            engine_case(e, 2_000, CONCURRENCY).await;
        }

        let cases = [
            "plain async fn chain",
            "engine, in-memory journal",
            "engine, SQLite file (sync NORMAL)",
            "engine, SQLite file (sync FULL)",
        ];
        let mut many: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
        let mut one: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
        for _ in 0..ROUNDS {
            many[0].push(plain_case(RUNS_PER_ROUND * 10, CONCURRENCY).await);
            many[1].push(engine_case(&mem, RUNS_PER_ROUND, CONCURRENCY).await);
            many[2].push(engine_case(&file, RUNS_PER_ROUND, CONCURRENCY).await);
            many[3].push(engine_case(&full, RUNS_PER_ROUND / 4, CONCURRENCY).await);
            one[0].push(plain_case(100_000, 1).await);
            one[1].push(engine_case(&mem, 5_000, 1).await);
            one[2].push(engine_case(&file, 1_000, 1).await);
            one[3].push(engine_case(&full, 200, 1).await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!(
            "Four-stage saga, in-process stages ({ROUNDS} interleaved rounds, median kept; machine: {} CPUs)",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
        );
        println!(
            "{:<36}{:>16}{:>12}{:>16}{:>12}",
            "case",
            format!("runs/s ({CONCURRENCY} fl.)"),
            "vs plain",
            "runs/s (1 fl.)",
            "us/run"
        );
        let base_many = median(many[0].clone());
        let base_one = median(one[0].clone());
        for (i, name) in cases.iter().enumerate() {
            let m = median(many[i].clone());
            let o = median(one[i].clone());
            println!("{name:<36}{m:>16.0}{:>11.1}x{o:>16.0}{:>12.1}", base_many / m, 1e6 / o);
        }
        let _ = base_one;
        println!("(\"vs plain\": how many times longer a run takes through the engine than the plain chain)");
    });
}
