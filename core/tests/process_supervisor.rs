//! Supervision trees over real processes: strategies, budgets, hooks, health pings (SIGSTOP), nested
//! supervisors, concurrent start and crash-during-stop.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use omnitron::ErrorCode;
use omnitron::metrics::Registry;
use omnitron::process::{
    ChildInfo, ChildOptions, ChildState, CrashDecision, HealthCheck, LostReason, RestartBackoff,
    RestartPolicy, Strategy, Supervisor, SupervisorOptions, SupervisorState,
};
use parking_lot::Mutex;
use support::{alive, eventually, worker};

#[test]
fn role() {
    support::run_role();
}

fn sup(name: &str, strategy: Strategy) -> Supervisor {
    let mut o = SupervisorOptions::new(name).strategy(strategy).budget(5, Duration::from_secs(30));
    o.backoff =
        RestartBackoff { initial: Duration::from_millis(10), max: Duration::from_millis(50), factor: 2.0 };
    o.registry = Registry::new();
    Supervisor::new(o)
}

async fn pids(s: &Supervisor) -> Vec<Option<u32>> {
    s.children().await.iter().map(|c| c.pid).collect()
}

async fn kill(s: &Supervisor, index: usize) -> u32 {
    let pid = pids(s).await[index].expect("running");
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    pid
}

/// Waits until every child runs and child `index` has a pid other than `old`.
async fn restarted(s: &Supervisor, index: usize, old: u32) -> Vec<u32> {
    for _ in 0..500 {
        let c = s.children().await;
        if c.iter().all(|c| c.state == ChildState::Running && c.pid.is_some()) && c[index].pid != Some(old) {
            return c.iter().map(|c| c.pid.unwrap()).collect();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("child {index} was not restarted: {:?}", s.children().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategies_restart_the_right_children() {
    // one-for-one: only the crashed child.
    let s = sup("o4o", Strategy::OneForOne);
    s.add_child(ChildOptions::new(worker("a"))).unwrap();
    s.add_child(ChildOptions::new(worker("b"))).unwrap();
    s.start().await.unwrap();
    let before: Vec<u32> = pids(&s).await.into_iter().flatten().collect();
    let old = kill(&s, 0).await;
    let after = restarted(&s, 0, old).await;
    assert_ne!(after[0], before[0]);
    assert_eq!(after[1], before[1], "one-for-one leaves the others alone");
    assert_eq!(s.children().await[0].restarts, 1);
    s.stop().await;
    assert!(after.iter().all(|p| !alive(*p)));

    // one-for-all: every child.
    let s = sup("o4a", Strategy::OneForAll);
    s.add_child(ChildOptions::new(worker("a"))).unwrap();
    s.add_child(ChildOptions::new(worker("b"))).unwrap();
    s.start().await.unwrap();
    let before: Vec<u32> = pids(&s).await.into_iter().flatten().collect();
    let old = kill(&s, 0).await;
    let after = restarted(&s, 0, old).await;
    assert!(eventually(10, || !alive(before[1])).await);
    let after = if after[1] == before[1] { restarted(&s, 1, before[1]).await } else { after };
    assert_ne!(after[1], before[1], "one-for-all restarts the others too");
    s.stop().await;

    // rest-for-one: the crashed child and those after it.
    let s = sup("r4o", Strategy::RestForOne);
    for n in ["a", "b", "c"] {
        s.add_child(ChildOptions::new(worker(n))).unwrap();
    }
    s.start().await.unwrap();
    let before: Vec<u32> = pids(&s).await.into_iter().flatten().collect();
    let old = kill(&s, 1).await;
    let mut after = restarted(&s, 1, old).await;
    if after[2] == before[2] {
        after = restarted(&s, 2, before[2]).await;
    }
    assert_eq!(after[0], before[0], "rest-for-one leaves earlier children alone");
    assert_ne!(after[2], before[2], "rest-for-one restarts later children");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_budget_leaves_a_child_down_or_escalates_if_critical() {
    let mut o = SupervisorOptions::new("budget").budget(2, Duration::from_secs(60));
    o.backoff =
        RestartBackoff { initial: Duration::from_millis(5), max: Duration::from_millis(5), factor: 1.0 };
    o.registry = Registry::new();
    let s = Supervisor::new(o.clone());
    s.add_child(ChildOptions::new(worker("flaky"))).unwrap();
    s.add_child(ChildOptions::new(worker("steady"))).unwrap();
    s.start().await.unwrap();
    for _ in 0..2 {
        let old = kill(&s, 0).await;
        restarted(&s, 0, old).await;
    }
    kill(&s, 0).await;
    let mut failed = false;
    for _ in 0..250 {
        if s.children().await[0].state == ChildState::Failed {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(failed, "{:?}", s.children().await);
    assert_eq!(s.state(), SupervisorState::Running, "a non-critical child's failure does not stop the rest");
    assert_eq!(s.children().await[1].state, ChildState::Running);
    s.stop().await;

    let s = Supervisor::new(o);
    s.add_child(ChildOptions::new(worker("vital")).critical(true)).unwrap();
    s.start().await.unwrap();
    for _ in 0..2 {
        let old = kill(&s, 0).await;
        restarted(&s, 0, old).await;
    }
    kill(&s, 0).await;
    let err = tokio::time::timeout(Duration::from_secs(10), s.wait()).await.unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::RestartLimit);
    assert!(err.message().contains("vital"), "{err}");
    assert!(matches!(s.state(), SupervisorState::Failed(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_restarts_count_against_the_budget() {
    let mut o = SupervisorOptions::new("manual").budget(1, Duration::from_secs(60));
    o.registry = Registry::new();
    let s = Supervisor::new(o);
    s.add_child(ChildOptions::new(worker("m"))).unwrap();
    s.start().await.unwrap();
    let before = pids(&s).await[0].unwrap();
    s.restart_child("m").await.unwrap();
    let after = pids(&s).await[0].unwrap();
    assert_ne!(before, after);
    let err = s.restart_child("m").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::RestartLimit);
    assert_eq!(pids(&s).await[0], Some(after), "a refused restart leaves the child alone");
    let err = s.restart_child("nobody").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ChildNotFound);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_decide_and_are_told_the_attempt() {
    let s = sup("hooks", Strategy::OneForOne);
    s.add_child(ChildOptions::new(worker("h"))).unwrap();
    s.add_child(ChildOptions::new(worker("ignored"))).unwrap();
    let crashes: Arc<Mutex<Vec<(String, LostReason)>>> = Arc::default();
    let attempts: Arc<Mutex<Vec<u32>>> = Arc::default();
    let (c, a) = (crashes.clone(), attempts.clone());
    s.on_crash(move |info: ChildInfo, reason| {
        c.lock().push((info.name.clone(), reason));
        async move { if info.name == "ignored" { CrashDecision::Ignore } else { CrashDecision::Restart } }
    });
    s.on_restart(move |_info, attempt| {
        a.lock().push(attempt);
        async {}
    });
    s.start().await.unwrap();
    for _ in 0..2 {
        let old = kill(&s, 0).await;
        restarted(&s, 0, old).await;
    }
    assert_eq!(*attempts.lock(), vec![1, 2]);
    kill(&s, 1).await;
    assert!(eventually(10, || crashes.lock().iter().any(|(n, _)| n == "ignored")).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ignored = &s.children().await[1];
    assert_eq!(ignored.state, ChildState::Stopped);
    assert!(ignored.pid.is_none());
    assert!(
        crashes
            .lock()
            .iter()
            .all(|(_, r)| *r == LostReason::Exited(omnitron::process::Exit::Signal(libc::SIGKILL)))
    );
    s.stop().await;

    // Shutdown from the hook stops everything cleanly.
    let s = sup("hook-shutdown", Strategy::OneForOne);
    s.add_child(ChildOptions::new(worker("x"))).unwrap();
    s.add_child(ChildOptions::new(worker("y"))).unwrap();
    s.on_crash(|_, _| async { CrashDecision::Shutdown });
    s.start().await.unwrap();
    let other = pids(&s).await[1].unwrap();
    kill(&s, 0).await;
    tokio::time::timeout(Duration::from_secs(10), s.wait()).await.unwrap().unwrap();
    assert_eq!(s.state(), SupervisorState::Stopped);
    assert!(eventually(5, || !alive(other)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wedged_child_is_found_by_its_missed_pings_and_restarted() {
    let s = sup("health", Strategy::OneForOne);
    let health = HealthCheck {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(150),
        max_missed: 3,
    };
    s.add_child(ChildOptions::new(worker("wedge").health(health))).unwrap();
    let reasons: Arc<Mutex<Vec<LostReason>>> = Arc::default();
    let r = reasons.clone();
    s.on_crash(move |_, reason| {
        r.lock().push(reason);
        async { CrashDecision::Restart }
    });
    s.start().await.unwrap();
    let pid = pids(&s).await[0].unwrap();
    // SAFETY: stopping our own child.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    restarted(&s, 0, pid).await;
    assert!(!alive(pid), "the wedged process was killed");
    assert!(matches!(reasons.lock()[0], LostReason::Unresponsive { missed: 3 }), "{:?}", reasons.lock());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_join_and_a_crash_during_stop_restarts_nothing() {
    let s = sup("life", Strategy::OneForOne);
    s.add_child(ChildOptions::new(worker("l")).instances(2)).unwrap();
    let restarts = Arc::new(AtomicU32::new(0));
    let r = restarts.clone();
    s.on_restart(move |_, _| {
        r.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    let (a, b, c) = tokio::join!(s.start(), s.start(), s.start());
    a.unwrap();
    b.unwrap();
    c.unwrap();
    let p = pids(&s).await;
    assert_eq!(p.len(), 2, "three starts, one set of children");
    let p: Vec<u32> = p.into_iter().flatten().collect();
    // Kill one as the stop begins.
    let s2 = s.clone();
    let stopping = tokio::spawn(async move { s2.stop().await });
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(p[0] as i32, libc::SIGKILL) };
    tokio::time::timeout(Duration::from_secs(15), stopping).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(restarts.load(Ordering::SeqCst), 0);
    assert!(p.iter().all(|p| !alive(*p)));
    assert_eq!(s.state(), SupervisorState::Stopped);
    // Stopped supervisors start again.
    s.start().await.unwrap();
    assert_eq!(pids(&s).await.iter().flatten().count(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_backoff_is_cut_short_by_stop() {
    let mut o = SupervisorOptions::new("slow-backoff");
    o.backoff =
        RestartBackoff { initial: Duration::from_secs(30), max: Duration::from_secs(30), factor: 1.0 };
    o.registry = Registry::new();
    let s = Supervisor::new(o);
    s.add_child(ChildOptions::new(worker("b"))).unwrap();
    s.start().await.unwrap();
    kill(&s, 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::time::timeout(Duration::from_secs(10), s.stop()).await.expect("stop does not wait out a backoff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_nested_supervisor_is_restarted_by_its_parent() {
    let mut inner_opts = SupervisorOptions::new("inner").budget(0, Duration::from_secs(60));
    inner_opts.registry = Registry::new();
    let inner = Supervisor::new(inner_opts);
    inner.add_child(ChildOptions::new(worker("leaf")).critical(true)).unwrap();
    let outer = sup("outer", Strategy::OneForOne);
    outer.add_supervisor(inner.clone(), false).unwrap();
    outer.add_child(ChildOptions::new(worker("sibling"))).unwrap();
    outer.start().await.unwrap();
    let leaf = inner.children().await[0].pid.unwrap();
    let sibling = outer.children().await[1].pid.unwrap();
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(leaf as i32, libc::SIGKILL) };
    let mut new_leaf = None;
    for _ in 0..500 {
        if let Some(c) = inner.children().await.first()
            && let Some(p) = c.pid
            && p != leaf
            && c.state == ChildState::Running
        {
            new_leaf = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(new_leaf.is_some(), "the parent restarted the failed nested supervisor");
    assert_eq!(outer.children().await[1].pid, Some(sibling));
    assert_eq!(outer.children().await[0].restarts, 1);
    outer.stop().await;
    assert!(!alive(new_leaf.unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_one_for_one_adds_instances_and_transient_children_may_exit() {
    let s = sup("dynamic", Strategy::SimpleOneForOne);
    s.add_child(ChildOptions::new(worker("job")).instances(0).restart(RestartPolicy::OnFailure)).unwrap();
    assert!(s.add_child(ChildOptions::new(worker("second"))).is_err());
    s.start().await.unwrap();
    assert!(s.children().await.is_empty());
    let i = s.start_child(vec![]).await.unwrap();
    let j = s.start_child(vec![]).await.unwrap();
    assert_eq!((i, j), (0, 1));
    let old = kill(&s, 1).await;
    restarted(&s, 1, old).await;
    s.stop().await;
    let plain = sup("plain", Strategy::OneForOne);
    assert_eq!(plain.start_child(vec![]).await.unwrap_err().code(), ErrorCode::InvalidArgument);
}

#[test]
fn bad_supervisor_definitions_are_refused() {
    let s = sup("defs", Strategy::OneForOne);
    s.add_child(ChildOptions::new(worker("twice"))).unwrap();
    let e = s.add_child(ChildOptions::new(worker("twice"))).unwrap_err();
    assert!(e.message().contains("already has a child named 'twice'"), "{e}");
    assert!(s.add_supervisor(s.clone(), false).is_err(), "a supervisor cannot supervise itself");
    assert!("all-for-none".parse::<Strategy>().is_err());
    assert!("sometimes".parse::<RestartPolicy>().is_err());
    assert!("maybe".parse::<CrashDecision>().is_err());
}
