//! The scheduler over the embedded store, in real time: firings run by real workers, three
//! instances on one file (three store handles, as three processes would hold), missed-run
//! policies, handover, bad schedules. The cases go through `Store` so that the Redis store can
//! run the same ones.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use omnitron::error::ErrorCode;
use omnitron::queue::{Queue, QueueOptions, SqliteStore, Store, Worker, WorkerOptions};
use omnitron::scheduler::{
    MAX_CATCH_UP, Missed, Schedule, ScheduleSpec, Scheduler, SchedulerOptions, slot_of,
};
use parking_lot::Mutex;
use serde_json::json;

fn now_ms() -> u64 {
    omnitron::time::now_ms()
}

fn sqlite(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dir.path().join("q.db")).unwrap())
}

fn fast_worker() -> WorkerOptions {
    WorkerOptions { poll_interval: Duration::from_millis(20), ..Default::default() }
}

fn options(name: &str, holder: &str) -> SchedulerOptions {
    SchedulerOptions { name: Some(name.into()), holder: Some(holder.into()), ..Default::default() }
}

async fn until<F: Fn() -> bool>(what: &str, f: F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs the jobs of `queue` and counts each id's runs (with its name and data).
type Runs = Arc<Mutex<HashMap<String, (u32, String, serde_json::Value)>>>;

async fn run_jobs(store: Arc<dyn Store>, queue: &str) -> (Worker, Runs) {
    let q = Queue::open(store, queue, QueueOptions::default()).await.unwrap();
    let runs: Runs = Arc::default();
    let r = runs.clone();
    let worker = Worker::start(&q, fast_worker(), move |job| {
        let r = r.clone();
        async move {
            let data: serde_json::Value = job.data()?;
            let mut runs = r.lock();
            let e = runs.entry(job.id().to_string()).or_insert((0, job.name().to_string(), data));
            e.0 += 1;
            Ok(())
        }
    })
    .unwrap();
    (worker, runs)
}

#[tokio::test]
async fn a_firing_is_a_job_that_a_worker_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir);
    let tick = Schedule::every("tick", Duration::from_secs(1)).unwrap();
    let report = Schedule::cron("report", "*/1 * * * * *")
        .unwrap()
        .timezone("Europe/Paris")
        .unwrap()
        .queue("reports")
        .data(&json!({ "kind": "daily" }))
        .unwrap();
    let scheduler = Scheduler::start(store.clone(), [tick, report], SchedulerOptions::default()).unwrap();
    let (cron_worker, cron_runs) = run_jobs(store.clone(), "cron").await;
    let (report_worker, report_runs) = run_jobs(store.clone(), "reports").await;
    until("two firings of each schedule run", || {
        cron_runs.lock().len() >= 2 && report_runs.lock().len() >= 2
    })
    .await;
    scheduler.close().await;
    cron_worker.close(Duration::from_secs(5)).await;
    report_worker.close(Duration::from_secs(5)).await;

    for (runs, name, data) in
        [(&cron_runs, "tick", json!(null)), (&report_runs, "report", json!({ "kind": "daily" }))]
    {
        for (id, (count, job_name, job_data)) in runs.lock().iter() {
            let slot = slot_of(id).expect("a firing's id holds its slot");
            assert_eq!(id, &format!("cron:{name}:{slot}"));
            assert_eq!(slot % 1000, 0, "slots are whole seconds: {id}");
            assert_eq!((*count, job_name.as_str(), job_data), (1, name, &data), "{id}");
        }
    }
}

/// Slots of `runs`, checked to be run once each and consecutive seconds.
fn consecutive_slots(runs: &Runs) -> Vec<u64> {
    let runs = runs.lock();
    let mut slots: Vec<u64> = runs.keys().map(|id| slot_of(id).unwrap()).collect();
    slots.sort_unstable();
    for (id, (count, _, _)) in runs.iter() {
        assert_eq!(*count, 1, "{id} ran {count} times");
    }
    for w in slots.windows(2) {
        assert_eq!(w[1] - w[0], 1000, "a slot was skipped or doubled: {slots:?}");
    }
    slots
}

/// Three instances of an app, each with its own store handle on one file, fire a schedule every
/// second for about 3.5 s: `share_lease` makes them elect one leader; without it all three lead at
/// once, and only the store's watermark keeps each slot to one firing.
async fn three_instances(share_lease: bool) {
    let dir = tempfile::tempdir().unwrap();
    let schedulers: Vec<Scheduler> = (0..3)
        .map(|i| {
            let name = if share_lease { "app".to_string() } else { format!("app-{i}") };
            let tick = Schedule::every("tick", Duration::from_secs(1)).unwrap();
            Scheduler::start(sqlite(&dir), [tick], options(&name, &format!("instance-{i}"))).unwrap()
        })
        .collect();
    let (worker, runs) = run_jobs(sqlite(&dir), "cron").await;
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let leaders = schedulers.iter().filter(|s| s.leader().is_some()).count();
    let mut stats = Vec::new();
    for s in schedulers {
        stats.push(s.close().await);
    }
    let fired: u64 = stats.iter().map(|s| s.fired).sum();
    until("every firing runs", || runs.lock().len() as u64 >= fired).await;
    worker.close(Duration::from_secs(5)).await;

    let slots = consecutive_slots(&runs);
    assert!(slots.len() >= 2, "about 3 firings in 3.5 s, got {slots:?}");
    // Each slot was added by exactly one instance.
    assert_eq!(fired, slots.len() as u64, "{stats:?}");
    if share_lease {
        assert_eq!(leaders, 1, "one leader: {stats:?}");
        assert_eq!(stats.iter().filter(|s| s.fired > 0).count(), 1, "{stats:?}");
    } else {
        assert_eq!(leaders, 3);
    }
}

#[tokio::test]
async fn three_instances_fire_each_slot_once() {
    three_instances(true).await;
}

#[tokio::test]
async fn three_leaders_at_once_still_fire_each_slot_once() {
    three_instances(false).await;
}

#[tokio::test]
async fn when_the_leader_stops_another_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let quick =
        |holder: &str| SchedulerOptions { lease: Duration::from_millis(900), ..options("app", holder) };
    let tick = || Schedule::every("tick", Duration::from_secs(1)).unwrap();
    let a = Scheduler::start(sqlite(&dir), [tick()], quick("a")).unwrap();
    until("a leads", || a.leader().is_some()).await;
    let b = Scheduler::start(sqlite(&dir), [tick()], quick("b")).unwrap();
    let (worker, runs) = run_jobs(sqlite(&dir), "cron").await;
    until("a fires", || a.stats().fired >= 1).await;
    let token = a.leader().unwrap();
    assert_eq!(b.leader(), None);
    let a_fired = a.close().await.fired;
    until("b leads", || b.leader().is_some()).await;
    assert!(b.leader().unwrap() > token, "the token grows as the lease changes hands");
    until("b fires", || b.stats().fired >= 1).await;
    let fired = a_fired + b.close().await.fired;
    until("every firing runs", || runs.lock().len() as u64 >= fired).await;
    worker.close(Duration::from_secs(5)).await;
    let runs = runs.lock();
    assert_eq!(runs.len() as u64, fired);
    assert!(runs.values().all(|(n, _, _)| *n == 1), "{runs:?}");
}

// The lease's rules (one holder, the token growing as it changes hands) are tested on both stores
// in `tests/queue/store.rs` (`the_scheduler_lease_and_watermark_hold_across_handles`).

#[tokio::test]
async fn fire_adds_a_slot_once_across_store_handles() {
    let dir = tempfile::tempdir().unwrap();
    let stores = [sqlite(&dir), sqlite(&dir), sqlite(&dir)];
    let job = Schedule::every("s", Duration::from_secs(1)).unwrap().job_id(5_000);
    let new_job = |id: &str| omnitron::queue::NewJob {
        id: id.into(),
        name: "s".into(),
        data: bytes::Bytes::from_static(&[0xc0]),
        priority: 0,
        run_at_ms: 0,
        opts: Default::default(),
    };
    assert_eq!(stores[0].watermark("s").await.unwrap(), None);
    let tries = stores.iter().map(|s| s.fire("s", 5_000, "cron", Some(new_job(&job))));
    let moved = futures_join(tries).await;
    assert_eq!(moved.iter().filter(|m| **m).count(), 1, "{moved:?}");
    assert_eq!(stores[1].watermark("s").await.unwrap(), Some(5_000));
    // An earlier slot, or the same, changes nothing; passing over a slot adds no job.
    assert!(!stores[2].fire("s", 4_000, "cron", Some(new_job("cron:s:4000"))).await.unwrap());
    assert!(stores[2].fire("s", 6_000, "cron", None).await.unwrap());
    let q = Queue::open(stores[0].clone(), "cron", QueueOptions::default()).await.unwrap();
    assert!(q.get(&job).await.unwrap().is_some());
    assert!(q.get("cron:s:4000").await.unwrap().is_none());
    assert_eq!(q.counts().await.unwrap().waiting, 1);
}

async fn futures_join<F: std::future::Future<Output = omnitron::Result<bool>> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<bool> {
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap().unwrap());
    }
    out
}

/// A schedule at minute `m` of every hour, `m` half an hour from now, so that no slot falls due
/// while a test runs: its slots are exactly the ones the test puts in the past.
fn hourly_far_from_now(name: &str, missed: Missed) -> (Schedule, u64) {
    let minute = (now_ms() / 60_000 + 30) % 60;
    let s = Schedule::cron(name, &format!("0 {minute} * * * *")).unwrap().missed(missed);
    // The latest slot at or before now.
    let mut last = s.next_after(now_ms() - 3_600_000).unwrap();
    while let Some(next) = s.next_after(last).filter(|n| *n <= now_ms()) {
        last = next;
    }
    (s, last)
}

/// Starts a scheduler on `schedule` whose watermark is `hours_missed` slots behind; answers
/// which of the missed slots got a job, oldest first, and the scheduler's stats.
async fn after_a_gap(missed: Missed, hours_missed: u64) -> (Vec<bool>, omnitron::scheduler::SchedulerStats) {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir);
    let (schedule, latest) = hourly_far_from_now("hourly", missed);
    let slots: Vec<u64> = (0..hours_missed).rev().map(|h| latest - h * 3_600_000).collect();
    assert!(store.fire("hourly", slots[0] - 3_600_000, "cron", None).await.unwrap());
    let scheduler = Scheduler::start(store.clone(), [schedule.clone()], SchedulerOptions::default()).unwrap();
    until("the catch-up", || scheduler.leader().is_some()).await;
    until_watermark(&store, "hourly", |m| m == Some(latest)).await;
    let stats = scheduler.close().await;
    let q = Queue::open(store, "cron", QueueOptions::default()).await.unwrap();
    let mut have = Vec::new();
    for slot in &slots {
        have.push(q.get(&schedule.job_id(*slot)).await.unwrap().is_some());
    }
    assert_eq!(q.counts().await.unwrap().waiting, have.iter().filter(|h| **h).count() as u64);
    (have, stats)
}

async fn until_watermark(store: &Arc<dyn Store>, schedule: &str, want: impl Fn(Option<u64>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !want(store.watermark(schedule).await.unwrap()) {
        assert!(Instant::now() < deadline, "timed out waiting for the watermark of {schedule}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn missed_runs_skip_passes_them_over() {
    let (have, stats) = after_a_gap(Missed::Skip, 10).await;
    assert_eq!(have, [false; 10]);
    assert_eq!(stats.fired, 0);
}

#[tokio::test]
async fn missed_runs_once_runs_the_latest() {
    let (have, stats) = after_a_gap(Missed::Once, 10).await;
    let mut want = [false; 10];
    want[9] = true;
    assert_eq!(have, want);
    assert_eq!(stats.fired, 1);
}

#[tokio::test]
async fn missed_runs_all_runs_each() {
    let (have, stats) = after_a_gap(Missed::All, 10).await;
    assert_eq!(have, [true; 10]);
    assert_eq!((stats.fired, stats.capped), (10, 0));
}

#[tokio::test]
async fn missed_runs_all_runs_at_most_the_latest_thousand() {
    let (have, stats) = after_a_gap(Missed::All, MAX_CATCH_UP as u64 + 100).await;
    assert!(have[..100].iter().all(|h| !h), "the oldest 100 are passed over");
    assert!(have[100..].iter().all(|h| *h), "the latest 1000 run");
    assert_eq!((stats.fired, stats.capped), (MAX_CATCH_UP as u64, 1));
}

#[tokio::test]
async fn a_new_schedule_starts_now_with_nothing_missed() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(&dir);
    let (schedule, _) = hourly_far_from_now("fresh", Missed::All);
    let before = now_ms();
    let scheduler = Scheduler::start(store.clone(), [schedule], SchedulerOptions::default()).unwrap();
    until("it leads", || scheduler.leader().is_some()).await;
    until_watermark(&store, "fresh", |m| m.is_some()).await;
    scheduler.close().await;
    let mark = store.watermark("fresh").await.unwrap().unwrap();
    assert!(
        mark + 1_000 >= before && mark <= now_ms(),
        "the watermark is now less the grace: {mark} vs {before}"
    );
    assert_eq!(scheduler_jobs(&store).await, 0);
}

async fn scheduler_jobs(store: &Arc<dyn Store>) -> u64 {
    let q = Queue::open(store.clone(), "cron", QueueOptions::default()).await.unwrap();
    q.counts().await.unwrap().waiting
}

#[tokio::test]
async fn invalid_schedules_are_refused_with_the_field_and_the_rule() {
    let e = Schedule::cron("cleanup", "0 0 * * * * *").unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidSchedule);
    assert!(
        e.message().starts_with("schedule 'cleanup' pattern: '0 0 * * * * *' is not a cron pattern"),
        "{e}"
    );
    assert!(e.message().contains("write 5 fields (minute hour day-of-month month day-of-week) or 6"), "{e}");
    let e = Schedule::cron("cleanup", "0 24 * * *").unwrap_err();
    assert!(e.message().contains("hour '24': 24 is out of range 0-23"), "{e}");
    let e = Schedule::cron("cleanup", "0 3 * * *").unwrap().timezone("Europe/Pari").unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidSchedule);
    assert!(
        e.message().contains("schedule 'cleanup' timezone: 'Europe/Pari' is not an IANA time zone"),
        "{e}"
    );
    let e = Schedule::every("fast", Duration::from_millis(10)).unwrap_err();
    assert!(
        e.message().contains("schedule 'fast' every: 10ms is not an interval; it must be at least 1s"),
        "{e}"
    );

    let spec: ScheduleSpec = serde_json::from_value(json!({
        "pattern": "61 * * * *", "handler": "jobs/hourly-cleanup"
    }))
    .unwrap();
    let e = spec.schedule("cronJobs[1]").unwrap_err();
    assert!(
        e.message().starts_with("cronJobs[1].pattern: '61 * * * *' is not a cron pattern (minute '61'"),
        "{e}"
    );
    let e =
        serde_json::from_value::<ScheduleSpec>(json!({ "pattern": "* * * * *", "tz": "UTC" })).unwrap_err();
    assert!(e.to_string().contains("unknown field `tz`"), "{e}");

    // What only the scheduler can check: names unique, queue names valid.
    let dir = tempfile::tempdir().unwrap();
    let twice = [
        Schedule::every("a", Duration::from_secs(1)).unwrap(),
        Schedule::every("a", Duration::from_secs(2)).unwrap(),
    ];
    let e = Scheduler::start(sqlite(&dir), twice, SchedulerOptions::default()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidSchedule);
    assert!(e.message().contains("two are named 'a'"), "{e}");
    let bad_queue = Schedule::every("a", Duration::from_secs(1)).unwrap().queue("no spaces");
    let e = Scheduler::start(sqlite(&dir), [bad_queue], SchedulerOptions::default()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidQueue);
}

#[test]
fn next_firings_follow_daylight_saving_time() {
    let ms = |h: u64, m: u64| (1_774_742_400 + h * 3600 + m * 60) * 1000; // 2026-03-29T00:00Z + h:m
    // Europe/Paris springs forward on 2026-03-29 at 01:00Z (02:00 CET becomes 03:00 CEST).
    let fixed = Schedule::cron("night", "30 2 * * *").unwrap().timezone("Europe/Paris").unwrap();
    assert_eq!(fixed.next_after(ms(0, 0)), Some(ms(1, 0)), "02:30 does not exist: it runs at 03:00 CEST");
    assert_eq!(fixed.next_after(ms(1, 0)), Some(ms(24, 30)), "then 02:30 CEST (00:30Z) the next day");
    let every = Schedule::cron("quarter", "*/30 * * * *").unwrap().timezone("Europe/Paris").unwrap();
    assert_eq!(every.next_after(ms(0, 30)), Some(ms(1, 0)), "01:30 CET, then 03:00 CEST: 02:xx is skipped");
}

/// Time zones work where the system has no tz database (a slim container): this test runs itself
/// again in a mount namespace where an empty tmpfs hides the system's zoneinfo directories, so
/// only the database compiled in remains. Where user namespaces are not allowed, it says so and
/// checks nothing.
#[test]
fn time_zones_work_without_the_system_database() {
    const DIRS: [&str; 3] = ["/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/etc/zoneinfo"];
    if std::env::var_os("OMNITRON_TEST_NO_TZDB").is_some() {
        for dir in DIRS {
            let hidden = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
            assert!(hidden, "{dir} is still visible");
        }
        let s = Schedule::cron("x", "0 9 * * *").unwrap().timezone("America/New_York").unwrap();
        // 2026-07-01T00:00Z: next is 09:00 EDT, 13:00Z.
        assert_eq!(s.next_after(1_782_864_000_000), Some(1_782_864_000_000 + 13 * 3_600_000));
        return;
    }
    let namespaces = std::process::Command::new("unshare").args(["-rm", "true"]).output();
    if !namespaces.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "time_zones_work_without_the_system_database: no user namespaces here (unshare -rm); not checked"
        );
        return;
    }
    let hide = "for d in /usr/share/zoneinfo /usr/share/lib/zoneinfo /etc/zoneinfo; do \
                  if [ -d $d ]; then mount -t tmpfs none $d || exit 97; fi; done; exec \"$@\"";
    let out = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", hide, "sh"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "time_zones_work_without_the_system_database", "--nocapture"])
        .env("OMNITRON_TEST_NO_TZDB", "1")
        .env_remove("TZDIR")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn applications_with_different_schedules_on_one_store_each_fire_theirs() {
    // Two processes of different applications (two store handles), each with its own schedule and
    // the default options: neither waits for a leader that never fires its schedules.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (sqlite(&dir), sqlite(&dir));
    let sa = Scheduler::start(
        a.clone(),
        [Schedule::every("app-a", Duration::from_secs(1)).unwrap().queue("qa")],
        SchedulerOptions::default(),
    )
    .unwrap();
    let sb = Scheduler::start(
        b.clone(),
        [Schedule::every("app-b", Duration::from_secs(1)).unwrap().queue("qb")],
        SchedulerOptions::default(),
    )
    .unwrap();
    let (wa, runs_a) = run_jobs(a, "qa").await;
    let (wb, runs_b) = run_jobs(b, "qb").await;
    until("both applications' schedules fire", || !runs_a.lock().is_empty() && !runs_b.lock().is_empty())
        .await;
    sa.close().await;
    sb.close().await;
    wa.close(Duration::from_secs(5)).await;
    wb.close(Duration::from_secs(5)).await;
}
