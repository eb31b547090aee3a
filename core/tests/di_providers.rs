//! Providers: class, value, factory (sync and async), alias, multi, optional, override.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use omnitron::di::{Container, Injectable, Optional, Provider, Scope, Token, all, optional};
use omnitron::{BoxError, ErrorCode};

#[derive(Debug)]
struct Config {
    url: String,
}

struct Repo {
    config: Arc<Config>,
}

struct Service {
    config: Arc<Config>,
    repo: Arc<Repo>,
}

impl Injectable for Repo {
    type Deps = (Token<Config>,);
    fn deps() -> Self::Deps {
        (Token::of(),)
    }
    fn create((config,): (Arc<Config>,)) -> Result<Self, BoxError> {
        Ok(Repo { config })
    }
}

impl Injectable for Service {
    type Deps = (Token<Config>, Token<Repo>);
    fn deps() -> Self::Deps {
        (Token::of(), Token::of())
    }
    fn create((config, repo): (Arc<Config>, Arc<Repo>)) -> Result<Self, BoxError> {
        Ok(Service { config, repo })
    }
    fn scope() -> Scope {
        Scope::Transient
    }
}

#[test]
fn class_providers_get_their_dependencies() {
    let c = Container::new();
    c.register(Provider::value(&Token::<Config>::of(), Config { url: "db://x".into() })).unwrap();
    c.register(Provider::<Repo>::class()).unwrap();
    c.register(Provider::<Service>::class()).unwrap();
    let s = c.resolve(&Token::<Service>::of()).unwrap();
    assert_eq!(s.config.url, "db://x");
    assert!(Arc::ptr_eq(&s.config, &s.repo.config), "the value is shared");
    let s2 = c.resolve(&Token::<Service>::of()).unwrap();
    assert!(!Arc::ptr_eq(&s, &s2), "transient gives a new instance");
    assert!(Arc::ptr_eq(&s.repo, &s2.repo), "singleton repo is shared");
}

#[test]
fn factory_is_called_once_for_a_singleton() {
    let calls = Arc::new(AtomicUsize::new(0));
    let t = Token::<usize>::new("Counter");
    let c = Container::new();
    let k = calls.clone();
    c.register(Provider::factory(&t, (), move |()| Ok(k.fetch_add(1, Ordering::SeqCst) + 1))).unwrap();
    assert_eq!(*c.resolve(&t).unwrap(), 1);
    assert_eq!(*c.resolve(&t).unwrap(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn singleton_is_built_once_under_concurrency() {
    let calls = Arc::new(AtomicUsize::new(0));
    let t = Token::<usize>::new("Slow");
    let c = Container::new();
    let k = calls.clone();
    c.register(Provider::factory(&t, (), move |()| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        Ok(k.fetch_add(1, Ordering::SeqCst))
    }))
    .unwrap();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            let t = t.clone();
            std::thread::spawn(move || c.resolve(&t).unwrap())
        })
        .collect();
    let firsts: Vec<Arc<usize>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(firsts.iter().all(|v| Arc::ptr_eq(v, &firsts[0])));
}

#[test]
fn alias_gives_the_same_instance() {
    let real = Token::<String>::new("Real");
    let alias = Token::<String>::new("Alias");
    let alias2 = Token::<String>::new("Alias2");
    let c = Container::new();
    c.register(Provider::factory(&real, (), |()| Ok("x".to_string()))).unwrap();
    c.register(Provider::alias(&alias, &real)).unwrap();
    c.register(Provider::alias(&alias2, &alias)).unwrap();
    let a = c.resolve(&real).unwrap();
    assert!(Arc::ptr_eq(&a, &c.resolve(&alias).unwrap()));
    assert!(Arc::ptr_eq(&a, &c.resolve(&alias2).unwrap()), "alias chains are followed");
}

#[test]
fn alias_to_nothing_is_a_missing_provider() {
    let alias = Token::<String>::new("Alias");
    let c = Container::new();
    c.register(Provider::alias(&alias, &Token::new("Nowhere"))).unwrap();
    let e = c.resolve(&alias).unwrap_err();
    assert_eq!(e.code(), ErrorCode::MissingProvider);
    assert!(e.message().contains("Nowhere"), "{e}");
}

#[test]
fn multi_providers_resolve_in_registration_order() {
    let plugins = Token::<&'static str>::new("Plugins");
    let c = Container::new();
    for name in ["first", "second", "third"] {
        c.register(Provider::value(&plugins, name).multi()).unwrap();
    }
    let all_: Vec<&str> = c.resolve_all(&plugins).unwrap().iter().map(|s| **s).collect();
    assert_eq!(all_, ["first", "second", "third"]);
    assert_eq!(*c.resolve(&plugins).unwrap(), "first", "resolving one gives the first");

    // Injected as a list.
    let host = Token::<Vec<String>>::new("Host");
    c.register(Provider::factory(&host, (all(&plugins),), |(ps,)| {
        Ok(ps.iter().map(|s| s.to_string()).collect())
    }))
    .unwrap();
    assert_eq!(*c.resolve(&host).unwrap(), vec!["first", "second", "third"]);

    let none = Token::<u8>::new("NoPlugins");
    assert!(c.resolve_all(&none).unwrap().is_empty());
}

#[test]
fn optional_dependencies_are_none_when_missing() {
    let cache = Token::<String>::new("Cache");
    let svc = Token::<Option<String>>::new("Svc");
    let c = Container::new();
    c.register(Provider::factory(&svc, (optional(&cache),), |(cache,)| Ok(cache.map(|c| c.to_string()))))
        .unwrap();
    assert_eq!(*c.resolve(&svc).unwrap(), None);

    let c2 = Container::new();
    c2.register(Provider::value(&cache, "redis".to_string())).unwrap();
    c2.register(Provider::factory(&svc, (Optional(cache.clone()),), |(cache,)| {
        Ok(cache.map(|c| c.to_string()))
    }))
    .unwrap();
    assert_eq!(*c2.resolve(&svc).unwrap(), Some("redis".to_string()));
    assert!(c2.resolve_optional(&Token::<u8>::new("Nope")).unwrap().is_none());
}

#[test]
fn duplicate_registration_needs_replace() {
    let t = Token::<u32>::new("Port");
    let c = Container::new();
    c.register(Provider::value(&t, 80)).unwrap();
    let e = c.register(Provider::value(&t, 81)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::DuplicateProvider);
    assert!(e.message().contains("Port") && e.message().contains(".replace()"), "{e}");
    assert_eq!(*c.resolve(&t).unwrap(), 80, "the failed registration changed nothing");
    c.register(Provider::value(&t, 8080).replace()).unwrap();
    assert_eq!(*c.resolve(&t).unwrap(), 8080);
}

#[test]
fn async_factories_need_async_resolution() {
    let t = Token::<String>::new("Conn");
    let dep = Token::<usize>::new("UsesConn");
    let c = Container::new();
    c.register(Provider::factory_async(&t, (), |()| async {
        tokio::task::yield_now().await;
        Ok("connected".to_string())
    }))
    .unwrap();
    c.register(Provider::factory(&dep, (&t,), |(conn,)| Ok(conn.len()))).unwrap();

    let e = c.resolve(&t).unwrap_err();
    assert_eq!(e.code(), ErrorCode::AsyncProviderResolvedSync);
    assert!(e.message().contains("resolve_async(&Conn).await"), "{e}");
    let e = c.resolve(&dep).unwrap_err();
    assert_eq!(e.code(), ErrorCode::AsyncProviderResolvedSync);
    assert!(e.message().contains("depends on async provider 'Conn'"), "{e}");

    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(*rt.block_on(c.resolve_async(&dep)).unwrap(), 9);
    // Once built, the async singleton is available synchronously.
    assert_eq!(*c.resolve(&t).unwrap(), "connected");
}

#[tokio::test]
async fn concurrent_async_resolution_runs_the_factory_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let t = Token::<usize>::new("Db");
    let c = Container::new();
    let k = calls.clone();
    c.register(Provider::factory_async(&t, (), move |()| {
        let k = k.clone();
        async move {
            tokio::task::yield_now().await;
            Ok(k.fetch_add(1, Ordering::SeqCst))
        }
    }))
    .unwrap();
    let (a, b, d) = tokio::join!(c.resolve_async(&t), c.resolve_async(&t), c.resolve_async(&t));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(Arc::ptr_eq(&a.unwrap(), &b.as_ref().unwrap().clone()));
    assert!(d.is_ok());
}

#[test]
fn factory_errors_keep_the_cause() {
    let t = Token::<u8>::new("Broken");
    let c = Container::new();
    c.register(Provider::factory(&t, (), |()| Err("disk on fire".into()))).unwrap();
    let e = c.resolve(&t).unwrap_err();
    assert_eq!(e.code(), ErrorCode::FactoryFailed);
    assert!(e.message().contains("Broken") && e.message().contains("disk on fire"), "{e}");
    assert_eq!(std::error::Error::source(&e).unwrap().to_string(), "disk on fire");
    // A failed singleton is not cached: the next resolve tries again.
    assert_eq!(c.resolve(&t).unwrap_err().code(), ErrorCode::FactoryFailed);
}

#[test]
fn empty_token_names_are_refused() {
    let c = Container::new();
    let e = c.register(Provider::value(&Token::<u8>::new(""), 1)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidProvider);
    let e = c.register(Provider::value(&Token::<u8>::new("   "), 1)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidProvider);
}

#[test]
fn resolving_with_the_wrong_type_is_an_error_not_a_panic() {
    // Two typed tokens can share a key only through the raw API; check the downcast guard there.
    let t = Token::<u8>::new("Byte");
    let c = Container::new();
    c.register(Provider::value(&t, 7u8)).unwrap();
    let raw = c.resolve_key(t.key(), t.name()).unwrap();
    assert_eq!(*raw.downcast::<u8>().unwrap(), 7);
}

#[test]
fn the_same_name_makes_different_tokens() {
    let a = Token::<u8>::new("Config");
    let b = Token::<u8>::new("Config");
    let c = Container::new();
    c.register(Provider::value(&a, 1)).unwrap();
    c.register(Provider::value(&b, 2)).unwrap();
    assert_eq!(*c.resolve(&a).unwrap(), 1);
    assert_eq!(*c.resolve(&b).unwrap(), 2);
}
