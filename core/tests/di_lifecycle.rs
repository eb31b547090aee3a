//! Lifecycle: resolving never runs `on_init`; `initialize()` builds and initialises singletons in
//! dependency order (again for what is new); dispose in reverse, failures reported together.

use std::sync::Arc;

use omnitron::ErrorCode;
use omnitron::di::{Container, Module, Provider, Token};
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
async fn resolving_never_runs_on_init_and_an_async_hook_does_not_make_a_provider_async() {
    let log = Log::default();
    let (c, db, _repo, svc) = chain(&log);
    // Async hooks, resolved synchronously: the instances are built, their hooks not run.
    assert_eq!(c.resolve(&svc).unwrap().0, "Service");
    assert_eq!(c.resolve_async(&db).await.unwrap().0, "Database");
    assert!(log.take().is_empty(), "resolve and resolve_async run no hook");
    assert!(!c.is_initialized());
    // initialize() runs them, dependencies first, on the instances already built.
    c.initialize().await.unwrap();
    assert_eq!(log.take(), ["init Database", "init Repository", "init Service"]);
    assert!(c.is_initialized());
}

#[tokio::test]
async fn initialize_again_does_only_what_was_registered_or_built_since() {
    let log = Log::default();
    let (c, _db, repo, _svc) = chain(&log);
    c.initialize().await.unwrap();
    log.take();

    // Registered after initialize(), then resolved: built, not initialised until the next call.
    let cache = Token::<Named>::new("Cache");
    let l = log.clone();
    c.register(Provider::factory(&cache, (&repo,), |_| Ok(Named("Cache"))).on_init(move |n: &Named| {
        l.push(format!("init {}", n.0));
        Ok(())
    }))
    .unwrap();
    let late = Token::<Named>::new("Late");
    let l = log.clone();
    c.register(Provider::factory(&late, (), |_| Ok(Named("Late"))).on_init(move |n: &Named| {
        l.push(format!("init {}", n.0));
        Ok(())
    }))
    .unwrap();
    let first = c.resolve(&cache).unwrap();
    assert!(log.take().is_empty());
    assert!(!c.is_initialized(), "a singleton is left to initialise");

    c.initialize().await.unwrap();
    assert_eq!(log.take(), ["init Cache", "init Late"], "only the new ones, each once");
    assert!(
        Arc::ptr_eq(&first, &c.resolve(&cache).unwrap()),
        "the instance built before is the one initialised"
    );
    c.initialize().await.unwrap();
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn concurrent_initialize_runs_each_hook_once() {
    let log = Log::default();
    let (c, _, _, _) = chain(&log);
    let (x, y) = tokio::join!(c.initialize(), c.initialize());
    x.unwrap();
    y.unwrap();
    assert_eq!(log.take(), ["init Database", "init Repository", "init Service"]);
}

#[tokio::test]
async fn module_private_singletons_are_initialised_too() {
    let log = Log::default();
    let hidden = Token::<Named>::new("Hidden");
    let l = log.clone();
    let inner = Module::builder("InnerModule")
        .provider(Provider::factory(&hidden, (), |_| Ok(Named("Hidden"))).on_init(move |n: &Named| {
            l.push(format!("init {}", n.0));
            Ok(())
        }))
        .export_nothing()
        .build();
    let app = Module::builder("AppModule").import(&inner).build();
    let c = Container::from_module(&app).unwrap();
    c.initialize().await.unwrap();
    assert_eq!(log.take(), ["init Hidden"]);
}

#[tokio::test]
async fn an_on_init_hook_on_a_transient_or_scoped_provider_is_refused() {
    let t = Token::<u8>::new("PerCall");
    let c = Container::new();
    for p in [
        Provider::factory(&t, (), |_| Ok(1)).transient().on_init(|_| Ok(())),
        Provider::factory(&t, (), |_| Ok(1)).scoped().on_init_async(|_| async { Ok(()) }),
    ] {
        let e = c.register(p).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidProvider);
        assert!(e.message().contains("'PerCall'") && e.message().contains("would never run"), "{e}");
    }
    assert!(!c.has(&t), "a refused registration changes nothing");
    // In a module too, before anything loads.
    let m = Module::builder("M")
        .provider(Provider::factory(&t, (), |_| Ok(1)).transient().on_init(|_| Ok(())))
        .build();
    let e = c.load_module(&m).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidProvider);
    assert!(e.message().contains("in module 'M'"), "{e}");
}

#[tokio::test]
async fn a_failing_hook_fails_initialize_and_runs_again_next_time() {
    let tries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = Token::<u8>::new("Flaky");
    let c = Container::new();
    let k = tries.clone();
    c.register(Provider::factory(&t, (), |_| Ok(1)).on_init(move |_| {
        if k.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Err("not ready".into())
        } else {
            Ok(())
        }
    }))
    .unwrap();
    let e = c.initialize().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::LifecycleFailed);
    assert!(e.message().contains("on_init of 'Flaky' failed: not ready"), "{e}");
    assert!(!c.is_initialized());
    c.initialize().await.unwrap();
    assert_eq!(tries.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(c.is_initialized());
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
