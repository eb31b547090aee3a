//! Lifecycle: initialize in dependency order, dispose in reverse, failures reported together.

use std::sync::Arc;

use omnitron::ErrorCode;
use omnitron::di::{Container, Provider, Token};
use std::sync::Mutex;

/// A shared, ordered record of what ran.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[derive(Debug)]
struct Named(&'static str);

fn chain(log: &Log) -> (Container, Token<Named>, Token<Named>, Token<Named>) {
    let db = Token::<Named>::new("Database");
    let repo = Token::<Named>::new("Repository");
    let svc = Token::<Named>::new("Service");
    let c = Container::new();
    let hooks = |p: Provider<Named>, log: &Log| {
        let (l1, l2) = (log.clone(), log.clone());
        p.on_init_async(move |n: Arc<Named>| {
            let l = l1.clone();
            async move {
                tokio::task::yield_now().await;
                l.push(format!("init {}", n.0));
                Ok(())
            }
        })
        .on_destroy(move |n: Arc<Named>| {
            let l = l2.clone();
            async move {
                l.push(format!("destroy {}", n.0));
                Ok(())
            }
        })
    };
    // Registered in the opposite order of their dependencies on purpose.
    c.register(hooks(Provider::factory(&svc, (&repo,), |_| Ok(Named("Service"))), log)).unwrap();
    c.register(hooks(Provider::factory(&repo, (&db,), |_| Ok(Named("Repository"))), log)).unwrap();
    c.register(hooks(Provider::factory(&db, (), |_| Ok(Named("Database"))), log)).unwrap();
    (c, db, repo, svc)
}

#[tokio::test]
async fn initialize_runs_hooks_in_dependency_order_and_dispose_in_reverse() {
    let log = Log::default();
    let (c, _db, _repo, svc) = chain(&log);
    c.initialize().await.unwrap();
    assert_eq!(log.take(), ["init Database", "init Repository", "init Service"]);
    assert!(c.is_initialized());
    // After initialize, async-hooked singletons resolve synchronously.
    assert_eq!(c.resolve(&svc).unwrap().0, "Service");
    c.initialize().await.unwrap();
    assert!(log.take().is_empty(), "initialize twice runs nothing twice");

    c.dispose().await.unwrap();
    assert_eq!(log.take(), ["destroy Service", "destroy Repository", "destroy Database"]);
}

#[tokio::test]
async fn async_init_hooks_make_a_provider_async_until_built() {
    let log = Log::default();
    let (c, db, _, _) = chain(&log);
    let e = c.resolve(&db).unwrap_err();
    assert_eq!(e.code(), ErrorCode::AsyncProviderResolvedSync);
    assert!(e.message().contains("async onInit hook"), "{e}");
    c.resolve_async(&db).await.unwrap();
    assert_eq!(log.take(), ["init Database"]);
}

#[tokio::test]
async fn dispose_keeps_going_and_reports_every_failure() {
    let log = Log::default();
    let a = Token::<u8>::new("A");
    let b = Token::<u8>::new("B");
    let d = Token::<u8>::new("D");
    let c = Container::new();
    let l = log.clone();
    c.register(Provider::factory(&a, (), |_| Ok(1)).on_destroy(move |_| {
        let l = l.clone();
        async move {
            l.push("A");
            Err("A broke".into())
        }
    }))
    .unwrap();
    let l = log.clone();
    c.register(Provider::factory(&b, (&a,), |_| Ok(2)).on_destroy(move |_| {
        let l = l.clone();
        async move {
            l.push("B");
            Ok(())
        }
    }))
    .unwrap();
    let l = log.clone();
    c.register(Provider::factory(&d, (&b,), |_| Ok(3)).on_destroy(move |_| {
        let l = l.clone();
        async move {
            l.push("D");
            Err("D broke".into())
        }
    }))
    .unwrap();
    c.resolve(&d).unwrap();

    let e = c.dispose().await.unwrap_err();
    assert_eq!(log.take(), ["D", "B", "A"], "every hook ran, dependents first");
    assert_eq!(e.code(), ErrorCode::LifecycleFailed);
    assert_eq!(e.related().len(), 2);
    assert!(e.message().contains("D broke") && e.message().contains("A broke"), "{e}");
    assert!(e.message().contains("2 of 3"), "{e}");

    // Idempotent: the second call reports the same outcome and runs nothing.
    let again = c.dispose().await.unwrap_err();
    assert_eq!(again.code(), ErrorCode::LifecycleFailed);
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn after_dispose_everything_fails_with_container_disposed() {
    let t = Token::<u8>::new("T");
    let c = Container::new();
    c.register(Provider::value(&t, 1)).unwrap();
    c.dispose().await.unwrap();
    assert!(c.is_disposed());
    assert_eq!(c.resolve(&t).unwrap_err().code(), ErrorCode::ContainerDisposed);
    assert_eq!(c.resolve_async(&t).await.unwrap_err().code(), ErrorCode::ContainerDisposed);
    assert_eq!(
        c.register(Provider::value(&Token::<u8>::new("U"), 2)).unwrap_err().code(),
        ErrorCode::ContainerDisposed
    );
    assert_eq!(c.create_scope().unwrap_err().code(), ErrorCode::ContainerDisposed);
    assert_eq!(c.initialize().await.unwrap_err().code(), ErrorCode::ContainerDisposed);
    let e = c.resolve(&t).unwrap_err();
    assert!(e.message().contains("disposed"), "{e}");
}

#[tokio::test]
async fn concurrent_dispose_runs_hooks_once() {
    let log = Log::default();
    let t = Token::<u8>::new("T");
    let c = Container::new();
    let l = log.clone();
    c.register(Provider::factory(&t, (), |_| Ok(1)).on_destroy(move |_| {
        let l = l.clone();
        async move {
            tokio::task::yield_now().await;
            l.push("destroyed");
            Ok(())
        }
    }))
    .unwrap();
    c.resolve(&t).unwrap();
    let (x, y) = tokio::join!(c.dispose(), c.dispose());
    assert!(x.is_ok() && y.is_ok());
    assert_eq!(log.take(), ["destroyed"]);
}

#[tokio::test]
async fn scopes_dispose_their_own_instances() {
    let log = Log::default();
    let t = Token::<u8>::new("PerScope");
    let c = Container::new();
    let l = log.clone();
    c.register(Provider::factory(&t, (), |_| Ok(1)).scoped().on_destroy(move |_| {
        let l = l.clone();
        async move {
            l.push("scope instance destroyed");
            Ok(())
        }
    }))
    .unwrap();
    let s = c.create_scope().unwrap();
    s.resolve(&t).unwrap();
    s.dispose().await.unwrap();
    assert_eq!(log.take(), ["scope instance destroyed"]);
    assert_eq!(s.resolve(&t).unwrap_err().code(), ErrorCode::ContainerDisposed);
    c.dispose().await.unwrap();
    assert!(log.take().is_empty(), "the container does not dispose a scope's instances twice");
}

#[tokio::test]
async fn only_created_instances_are_disposed() {
    let log = Log::default();
    let t = Token::<u8>::new("NeverUsed");
    let c = Container::new();
    let l = log.clone();
    c.register(Provider::factory(&t, (), |_| Ok(1)).on_destroy(move |_| {
        let l = l.clone();
        async move {
            l.push("x");
            Ok(())
        }
    }))
    .unwrap();
    c.dispose().await.unwrap();
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn a_failing_on_init_fails_initialize() {
    let t = Token::<u8>::new("Flaky");
    let c = Container::new();
    c.register(Provider::factory(&t, (), |_| Ok(1)).on_init(|_| Err("not ready".into()))).unwrap();
    let e = c.initialize().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::LifecycleFailed);
    assert!(e.message().contains("Flaky") && e.message().contains("not ready"), "{e}");
    assert!(!c.is_initialized());
}
