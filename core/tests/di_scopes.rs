//! Scopes: singleton, transient, scoped, request context, and scope rules.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use omnitron::ErrorCode;
use omnitron::di::{Container, Provider, Scope, Token, TokenKey, TokenRef};

fn counter() -> (Arc<AtomicUsize>, impl Fn(()) -> Result<usize, omnitron::BoxError> + Send + Sync + 'static) {
    let n = Arc::new(AtomicUsize::new(0));
    let k = n.clone();
    (n, move |()| Ok(k.fetch_add(1, Ordering::SeqCst) + 1))
}

#[test]
fn scoped_providers_get_one_instance_per_scope() {
    let t = Token::<usize>::new("PerRequest");
    let c = Container::new();
    let (_, f) = counter();
    c.register(Provider::factory(&t, (), f).scoped()).unwrap();
    let s1 = c.create_scope().unwrap();
    let s2 = c.create_scope().unwrap();
    assert_eq!(*s1.resolve(&t).unwrap(), 1);
    assert_eq!(*s1.resolve(&t).unwrap(), 1);
    assert_eq!(*s2.resolve(&t).unwrap(), 2);
}

#[test]
fn scoped_outside_a_scope_is_an_error() {
    let t = Token::<usize>::new("RequestContext");
    let helper = Token::<usize>::new("Helper");
    let c = Container::new();
    let (_, f) = counter();
    c.register(Provider::factory(&t, (), f).scoped()).unwrap();
    c.register(Provider::factory(&helper, (&t,), |(x,)| Ok(*x)).transient()).unwrap();
    let e = c.resolve(&t).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ScopeRequired);
    assert!(e.message().contains("container.create_scope()"), "{e}");
    let e = c.resolve(&helper).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ScopeRequired);
    assert!(e.message().contains("Helper -> RequestContext"), "{e}");
    // The transient works inside a scope.
    assert_eq!(*c.create_scope().unwrap().resolve(&helper).unwrap(), 1);
}

#[test]
fn singleton_depending_on_scoped_is_refused_with_the_path() {
    let req = Token::<usize>::new("RequestContext");
    let mid = Token::<usize>::new("Formatter");
    let svc = Token::<usize>::new("UserService");
    let c = Container::new();
    let (_, f) = counter();
    c.register(Provider::factory(&req, (), f).scoped()).unwrap();
    c.register(Provider::factory(&mid, (&req,), |(x,)| Ok(*x)).transient()).unwrap();
    c.register(Provider::factory(&svc, (&mid,), |(x,)| Ok(*x))).unwrap();
    let scope = c.create_scope().unwrap();
    let e = scope.resolve(&svc).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ScopeViolation);
    assert!(e.message().contains("UserService -> Formatter -> RequestContext"), "{e}");
    assert!(e.message().contains("singleton 'UserService'"), "{e}");
}

#[test]
fn singletons_resolved_in_a_scope_are_the_containers() {
    let t = Token::<usize>::new("Shared");
    let c = Container::new();
    let (_, f) = counter();
    c.register(Provider::factory(&t, (), f)).unwrap();
    let a = c.create_scope().unwrap().resolve(&t).unwrap();
    let b = c.create_scope().unwrap().resolve(&t).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert!(Arc::ptr_eq(&a, &c.resolve(&t).unwrap()));
}

#[test]
fn transient_is_new_every_time() {
    let t = Token::<usize>::new("Fresh");
    let c = Container::new();
    let (n, f) = counter();
    c.register(Provider::factory(&t, (), f).scope(Scope::Transient)).unwrap();
    for _ in 0..3 {
        c.resolve(&t).unwrap();
    }
    assert_eq!(n.load(Ordering::SeqCst), 3);
}

#[derive(Debug, PartialEq)]
struct Request {
    user: &'static str,
}

#[test]
fn the_scope_context_is_injectable() {
    assert_eq!(TokenRef::context().key, TokenKey::CONTEXT);
    let context = Token::<Request>::context();
    let greeting = Token::<String>::new("Greeting");
    let c = Container::with_context(Request { user: "root" });
    c.register(
        Provider::factory(&greeting, (&context,), |(req,)| Ok(format!("hello {}", req.user))).scoped(),
    )
    .unwrap();
    let scope = c.create_scope_with(Request { user: "ada" }).unwrap();
    assert_eq!(*scope.resolve(&greeting).unwrap(), "hello ada");
    assert_eq!(scope.context::<Request>().unwrap().user, "ada");
    // Outside a scope, CONTEXT is the container's own context.
    assert_eq!(c.resolve(&context).unwrap().user, "root");
}

#[test]
fn a_singleton_cannot_capture_the_scope_context() {
    let context = Token::<Request>::context();
    let svc = Token::<String>::new("Greeter");
    let c = Container::new();
    c.register(Provider::factory(&svc, (&context,), |(req,)| Ok(req.user.to_string()))).unwrap();
    let e = c.create_scope_with(Request { user: "x" }).unwrap().resolve(&svc).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ScopeViolation);
}
