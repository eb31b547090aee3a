//! A factory, constructor or hook that fails: the error names the provider, the providers being built
//! and the chain of modules that provides it, and keeps the callback's own error as its source. DI
//! errors raised inside a factory (a nested resolve) pass through unchanged.

use omnitron::di::{Container, Injectable, Module, Provider, Token};
use omnitron::{BoxError, Error, ErrorCode};

#[derive(Debug)]
struct ConnectionRefused(u16);

impl std::fmt::Display for ConnectionRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connection refused on port {}", self.0)
    }
}

impl std::error::Error for ConnectionRefused {}

#[derive(Debug)]
struct Db;
struct Repo;
#[derive(Debug)]
struct Users;

/// AppModule -> UsersModule -> DatabaseModule, with Users -> Repo -> Db and Db's factory failing.
fn app(db_provider: impl FnOnce(&Token<Db>) -> Provider<Db>) -> (Container, Token<Users>) {
    let db = Token::<Db>::new("Database");
    let db_factory = db_provider(&db);
    let repo = Token::<Repo>::new("UserRepository");
    let users = Token::<Users>::new("UserService");
    let database = Module::builder("DatabaseModule").provider(db_factory).export(&db).build();
    let users_module = Module::builder("UsersModule")
        .import(&database)
        .provider(Provider::factory(&repo, (&db,), |_| Ok(Repo)))
        .provider(Provider::factory(&users, (&repo,), |_| Ok(Users)))
        .export(&users)
        .build();
    let root = Module::builder("AppModule").import(&users_module).build();
    (Container::from_module(&root).unwrap(), users)
}

#[test]
fn a_failing_factory_names_the_token_the_resolution_path_and_the_module_path() {
    let (c, users) =
        app(|db| Provider::factory(db, (), |()| Err(Box::new(ConnectionRefused(5432)) as BoxError)));
    let e = c.resolve(&users).unwrap_err();
    assert_eq!(e.code(), ErrorCode::FactoryFailed);
    let m = e.message();
    assert!(m.contains("the factory of 'Database' failed: connection refused on port 5432"), "{m}");
    assert!(m.contains("Resolution path: UserService -> UserRepository -> Database"), "{m}");
    assert!(m.contains("Module path: AppModule -> UsersModule -> DatabaseModule"), "{m}");
    // The factory's own error, with its type, is the source.
    let source = std::error::Error::source(&e).expect("a source");
    assert_eq!(source.downcast_ref::<ConnectionRefused>().map(|c| c.0), Some(5432));
}

#[tokio::test]
async fn an_async_factory_failing_during_initialize_says_the_same() {
    let (c, users) = app(|db| {
        Provider::factory_async(db, (), |()| async {
            tokio::task::yield_now().await;
            Err::<Db, BoxError>(Box::new(ConnectionRefused(6379)))
        })
    });
    let e = c.resolve_async(&users).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::FactoryFailed);
    assert!(e.message().contains("UserService -> UserRepository -> Database"), "{e}");
    let e = c.initialize().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::FactoryFailed);
    assert!(e.message().contains("Module path: AppModule -> UsersModule -> DatabaseModule"), "{e}");
    assert!(std::error::Error::source(&e).unwrap().downcast_ref::<ConnectionRefused>().is_some());
}

#[test]
fn a_provider_registered_in_the_container_says_so() {
    let t = Token::<u8>::new("Broken");
    let c = Container::new();
    c.register(Provider::factory(&t, (), |()| Err("disk on fire".into()))).unwrap();
    let e = c.resolve(&t).unwrap_err();
    assert_eq!(e.code(), ErrorCode::FactoryFailed);
    assert!(e.message().starts_with("the factory of 'Broken' failed: disk on fire"), "{e}");
    assert!(e.message().contains("Registered in the container itself"), "{e}");
    assert!(!e.message().contains("Resolution path"), "one provider is no path: {e}");
}

#[derive(Debug)]
struct Strict;

impl Injectable for Strict {
    type Deps = ();
    fn deps() -> Self::Deps {}
    fn create(_: ()) -> Result<Self, BoxError> {
        Err("refuses to start".into())
    }
}

#[test]
fn a_failing_constructor_is_reported_as_constructing() {
    let c = Container::new();
    c.register(Provider::<Strict>::class()).unwrap();
    let e = c.resolve(&Token::<Strict>::of()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::FactoryFailed);
    assert!(e.message().contains("constructing '") && e.message().contains("refuses to start"), "{e}");
}

#[test]
fn a_di_error_from_inside_a_factory_passes_through_unchanged() {
    let missing = Token::<u8>::new("NotRegistered");
    let outer = Token::<u8>::new("Outer");
    let c = Container::new();
    let (c2, m2) = (c.clone(), missing.clone());
    c.register(Provider::factory(&outer, (), move |()| Ok(*c2.resolve(&m2)?))).unwrap();
    let e = c.resolve(&outer).unwrap_err();
    assert_eq!(e.code(), ErrorCode::MissingProvider, "{e}");
    assert!(e.message().contains("no provider for 'NotRegistered'"), "{e}");
}

#[test]
fn another_engine_error_from_inside_a_factory_is_wrapped_and_kept() {
    let t = Token::<u8>::new("Remote");
    let c = Container::new();
    c.register(Provider::factory(&t, (), |()| Err(Error::new(ErrorCode::Timeout, "no answer in 5s").into())))
        .unwrap();
    let e = c.resolve(&t).unwrap_err();
    assert_eq!(e.code(), ErrorCode::FactoryFailed);
    assert!(e.message().contains("[E006] no answer in 5s"), "{e}");
    let inner = std::error::Error::source(&e).unwrap().downcast_ref::<Error>().unwrap();
    assert_eq!(inner.code(), ErrorCode::Timeout);
}

#[test]
fn a_factory_failing_inside_another_factory_shows_the_whole_build() {
    // Outer's factory resolves Inner by hand; Inner's factory fails: the path has both.
    let inner = Token::<u8>::new("Inner");
    let outer = Token::<u8>::new("Outer");
    let c = Container::new();
    c.register(Provider::factory(&inner, (), |()| Err("inner broke".into()))).unwrap();
    let (c2, i2) = (c.clone(), inner.clone());
    c.register(Provider::factory(&outer, (), move |()| Ok(*c2.resolve(&i2)?))).unwrap();
    let e = c.resolve(&outer).unwrap_err();
    assert_eq!(e.code(), ErrorCode::FactoryFailed);
    assert!(e.message().contains("the factory of 'Inner' failed: inner broke"), "{e}");
    assert!(e.message().contains("Resolution path: Outer -> Inner"), "{e}");
}

#[tokio::test]
async fn a_failing_on_init_names_the_module_path_and_keeps_the_cause() {
    let (c, _users) = app(|db| {
        Provider::factory(db, (), |()| Ok(Db))
            .on_init_async(|_| async { Err::<(), BoxError>(Box::new(ConnectionRefused(1))) })
    });
    let e = c.initialize().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::LifecycleFailed);
    assert!(e.message().contains("on_init of 'Database' failed: connection refused on port 1"), "{e}");
    assert!(e.message().contains("Module path: AppModule -> UsersModule -> DatabaseModule"), "{e}");
    assert!(std::error::Error::source(&e).unwrap().downcast_ref::<ConnectionRefused>().is_some());
}
