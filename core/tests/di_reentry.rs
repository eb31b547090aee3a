//! A container calling into itself: errors, never a hang or a stack overflow.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use omnitron::ErrorCode;
use omnitron::di::{
    Container, Dependency, Graph, MAX_DEPTH, Provider, ProviderKind, ProviderSpec, Token, TokenKey, TokenRef,
};

#[test]
fn a_factory_resolving_its_own_token_is_a_loop_error() {
    let a = Token::<u32>::new("A");
    let c = Container::new();
    let (c2, a2) = (c.clone(), a.clone());
    c.register(Provider::factory(&a, (), move |()| Ok(*c2.resolve(&a2)? + 1))).unwrap();
    let e = c.resolve(&a).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CircularDependency);
    assert!(e.message().contains("at run time") && e.message().contains("A -> A"), "{e}");
}

#[test]
fn a_loop_through_factories_names_the_path_and_transients_do_not_overflow() {
    let a = Token::<u32>::new("A");
    let b = Token::<u32>::new("B");
    let c = Container::new();
    let (ca, bb) = (c.clone(), b.clone());
    c.register(Provider::factory(&a, (), move |()| Ok(*ca.resolve(&bb)?)).transient()).unwrap();
    let (cb, aa) = (c.clone(), a.clone());
    c.register(Provider::factory(&b, (), move |()| Ok(*cb.resolve(&aa)?)).transient()).unwrap();
    let e = c.resolve(&a).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CircularDependency);
    assert!(e.message().contains("A -> B -> A"), "{e}");
}

#[tokio::test]
async fn an_async_factory_awaiting_itself_is_a_loop_error() {
    let a = Token::<u32>::new("Self");
    let c = Container::new();
    let (c2, a2) = (c.clone(), a.clone());
    c.register(Provider::factory_async(&a, (), move |()| {
        let (c2, a2) = (c2.clone(), a2.clone());
        async move { Ok(*c2.resolve_async(&a2).await? + 1) }
    }))
    .unwrap();
    let e = c.resolve_async(&a).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::CircularDependency, "{e}");
}

#[tokio::test]
async fn initialize_from_on_init_and_dispose_from_on_destroy_are_errors() {
    let t = Token::<u8>::new("Hooked");
    let c = Container::new();
    let c2 = c.clone();
    c.register(Provider::factory(&t, (), |()| Ok(1)).on_init(move |_| {
        let e = omnitron::runtime::block_on_here(c2.initialize()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::LifecycleFailed);
        Err(e.into())
    }))
    .unwrap();
    let e = c.initialize().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::LifecycleFailed);
    assert!(e.message().contains("initialize() was called from inside initialize()"), "{e}");

    let d = Token::<u8>::new("Destroyer");
    let c = Container::new();
    let c2 = c.clone();
    c.register(Provider::factory(&d, (), |()| Ok(1)).on_destroy(move |_| {
        let c2 = c2.clone();
        async move { c2.dispose().await.map_err(Into::into) }
    }))
    .unwrap();
    c.resolve(&d).unwrap();
    let e = c.dispose().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::LifecycleFailed);
    assert!(e.message().contains("onDestroy hook of the same container"), "{e}");
}

#[tokio::test]
async fn an_instance_finished_after_dispose_is_destroyed_and_reported() {
    let destroyed = Arc::new(AtomicUsize::new(0));
    let t = Token::<u8>::new("Late");
    let c = Container::new();
    let c2 = c.clone();
    let d = destroyed.clone();
    c.register(
        Provider::factory(&t, (), move |()| {
            // Disposal happens while this instance is being built.
            omnitron::runtime::block_on_here(c2.dispose()).unwrap();
            Ok(1)
        })
        .on_destroy(move |_| {
            let d = d.clone();
            async move {
                d.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }),
    )
    .unwrap();
    let e = c.initialize().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ContainerDisposed);
    assert_eq!(destroyed.load(Ordering::SeqCst), 1, "the late instance was destroyed, not leaked");
}

#[test]
fn chains_deeper_than_the_limit_are_refused_not_overflowed() {
    let n = (MAX_DEPTH as usize) + 10;
    let tokens: Vec<Token<u32>> = (0..n).map(|i| Token::new(format!("T{i}"))).collect();
    let c = Container::new();
    c.register(Provider::factory(&tokens[n - 1], (), |()| Ok(0))).unwrap();
    for i in (0..n - 1).rev() {
        c.register(Provider::factory(&tokens[i], (&tokens[i + 1],), |(x,)| Ok(*x + 1))).unwrap();
    }
    let e = c.resolve(&tokens[0]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::DependencyTooDeep);
    assert!(e.message().contains(&format!("limit of {MAX_DEPTH}")), "{e}");
    // A chain exactly at the limit works.
    assert_eq!(*c.resolve(&tokens[n - MAX_DEPTH as usize]).unwrap(), MAX_DEPTH - 1);
}

#[test]
fn values_cannot_have_scopes_or_init_hooks() {
    let mut g = Graph::new();
    let t = TokenRef::new(TokenKey::fresh(), "V");
    let mut spec = ProviderSpec::new(t.clone(), ProviderKind::Value);
    spec.scope = omnitron::di::Scope::Transient;
    assert_eq!(g.register(spec).unwrap_err().code(), ErrorCode::InvalidProvider);
    let mut spec = ProviderSpec::new(t, ProviderKind::Value);
    spec.init = omnitron::di::InitHook::Sync;
    assert_eq!(g.register(spec).unwrap_err().code(), ErrorCode::InvalidProvider);
    let _ = Dependency::required(TokenRef::context());
}

#[test]
fn a_same_named_token_gets_a_hint() {
    let registered = Token::<u8>::new("Config");
    let other = Token::<u8>::new("Config");
    let c = Container::new();
    c.register(Provider::value(&registered, 1)).unwrap();
    let e = c.resolve(&other).unwrap_err();
    assert_eq!(e.code(), ErrorCode::MissingProvider);
    assert!(e.message().contains("A different token named 'Config' is registered"), "{e}");
}

#[test]
fn messages_speak_the_readers_api() {
    let t = Token::<u8>::new("Async");
    let c = Container::new();
    c.register(Provider::factory_async(&t, (), |()| async { Ok(1) })).unwrap();
    let e = c.resolve(&t).unwrap_err();
    assert!(e.message().contains("resolve_async(&Async).await"), "{e}");
    let c = Container::with_dialect(omnitron::di::Dialect::C);
    let s = Token::<u8>::new("Scoped");
    c.register(Provider::factory(&s, (), |()| Ok(1)).scoped()).unwrap();
    let e = c.resolve(&s).unwrap_err();
    assert!(e.message().contains("omnitron_container_create_scope()"), "{e}");
}
