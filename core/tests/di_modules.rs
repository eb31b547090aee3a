//! Modules: imports, exports, global modules, dynamic modules, circular imports.

use omnitron::ErrorCode;
use omnitron::di::{Container, Module, Provider, Token};

struct DbOptions {
    url: String,
}

/// A dynamic module: a function of its options, as `DatabaseModule.forRoot(...)` is in TypeScript.
fn database_module(url: &str, conn: &Token<String>, secret: &Token<u32>) -> Module {
    let options = Token::<DbOptions>::new("DbOptions");
    Module::builder("DatabaseModule")
        .provider(Provider::value(&options, DbOptions { url: url.to_string() }))
        .provider(Provider::factory(conn, (&options,), |(o,)| Ok(format!("conn:{}", o.url))))
        .provider(Provider::value(secret, 42))
        .export(conn)
        .build()
}

#[test]
fn exported_providers_are_visible_to_importers_only() {
    let conn = Token::<String>::new("Connection");
    let secret = Token::<u32>::new("Secret");
    let repo = Token::<String>::new("UserRepository");
    let db = database_module("pg://a", &conn, &secret);
    let users = Module::builder("UsersModule")
        .import(&db)
        .provider(Provider::factory(&repo, (&conn,), |(c,)| Ok(format!("repo on {c}"))))
        .export(&repo)
        .build();
    let app = Module::builder("AppModule").import(&users).build();
    let c = Container::from_module(&app).unwrap();
    assert_eq!(*c.resolve(&repo).unwrap(), "repo on conn:pg://a");

    // Connection is exported by DatabaseModule, but AppModule does not import it.
    let e = c.resolve(&conn).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotExported);
    assert!(e.message().contains("DatabaseModule") && e.message().contains("Import module"), "{e}");

    // Secret is not exported at all.
    let e = c.resolve(&secret).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotExported);
    assert!(e.message().contains("Add 'Secret' to the exports of module 'DatabaseModule'"), "{e}");
}

#[test]
fn a_dependency_on_an_unexported_provider_names_the_fix() {
    let conn = Token::<String>::new("Connection");
    let secret = Token::<u32>::new("Secret");
    let consumer = Token::<u32>::new("Consumer");
    let db = database_module("pg://b", &conn, &secret);
    let app = Module::builder("AppModule")
        .import(&db)
        .provider(Provider::factory(&consumer, (&secret,), |(s,)| Ok(*s)))
        .build();
    let c = Container::from_module(&app).unwrap();
    let e = c.resolve(&consumer).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotExported);
    assert!(e.message().contains("Consumer -> Secret"), "{e}");
}

#[test]
fn omitted_exports_export_everything_and_empty_exports_nothing() {
    let a = Token::<u8>::new("A");
    let b = Token::<u8>::new("B");
    let open = Module::builder("Open").provider(Provider::value(&a, 1)).build();
    let closed = Module::builder("Closed").provider(Provider::value(&b, 2)).export_nothing().build();
    let app = Module::builder("App").import(&open).import(&closed).build();
    let c = Container::from_module(&app).unwrap();
    assert_eq!(*c.resolve(&a).unwrap(), 1);
    assert_eq!(c.resolve(&b).unwrap_err().code(), ErrorCode::NotExported);
}

#[test]
fn global_modules_need_no_import() {
    let logger = Token::<String>::new("Logger");
    let svc = Token::<String>::new("Service");
    let global = Module::builder("LoggingModule")
        .provider(Provider::value(&logger, "log".to_string()))
        .global()
        .build();
    let feature = Module::builder("FeatureModule")
        .provider(Provider::factory(&svc, (&logger,), |(l,)| Ok(format!("svc+{l}"))))
        .build();
    let app = Module::builder("App").import(&global).import(&feature).build();
    let c = Container::from_module(&app).unwrap();
    assert_eq!(*c.resolve(&svc).unwrap(), "svc+log");
}

#[test]
fn re_exported_modules_pass_their_exports_on() {
    let t = Token::<u8>::new("Shared");
    let core = Module::builder("CoreModule").provider(Provider::value(&t, 9)).build();
    let common = Module::builder("CommonModule").import(&core).export_module(&core).build();
    let app = Module::builder("App").import(&common).build();
    let c = Container::from_module(&app).unwrap();
    assert_eq!(*c.resolve(&t).unwrap(), 9);
}

#[test]
fn exporting_what_a_module_does_not_have_is_refused() {
    let t = Token::<u8>::new("Ghost");
    let m = Module::builder("Liar").export(&t).build();
    let e = Container::from_module(&m).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidModule);
    assert!(e.message().contains("'Liar' exports 'Ghost'"), "{e}");
}

#[test]
fn a_module_imported_twice_is_loaded_once() {
    let t = Token::<u8>::new("Once");
    let shared = Module::builder("Shared").provider(Provider::value(&t, 1)).build();
    let a = Module::builder("A").import(&shared).build();
    let b = Module::builder("B").import(&shared).build();
    let app = Module::builder("App").import(&a).import(&b).import(&shared).build();
    let c = Container::from_module(&app).unwrap();
    assert_eq!(*c.resolve(&t).unwrap(), 1);
    // Loading it again into the same container is a no-op, not a duplicate.
    c.load_module(&shared).unwrap();
}

#[test]
fn duplicate_tokens_inside_one_module_are_refused() {
    let t = Token::<u8>::new("Twice");
    let m = Module::builder("M").provider(Provider::value(&t, 1)).provider(Provider::value(&t, 2)).build();
    let e = Container::from_module(&m).unwrap_err();
    assert_eq!(e.code(), ErrorCode::DuplicateProvider);
    assert!(e.message().contains("module 'M'"), "{e}");
}

#[test]
fn the_same_token_in_two_modules_stays_private_to_each() {
    let name = Token::<&'static str>::new("Name");
    let a_out = Token::<String>::new("AOut");
    let b_out = Token::<String>::new("BOut");
    let a = Module::builder("A")
        .provider(Provider::value(&name, "a"))
        .provider(Provider::factory(&a_out, (&name,), |(n,)| Ok(n.to_string())))
        .export(&a_out)
        .build();
    let b = Module::builder("B")
        .provider(Provider::value(&name, "b"))
        .provider(Provider::factory(&b_out, (&name,), |(n,)| Ok(n.to_string())))
        .export(&b_out)
        .build();
    let app = Module::builder("App").import(&a).import(&b).build();
    let c = Container::from_module(&app).unwrap();
    assert_eq!(*c.resolve(&a_out).unwrap(), "a");
    assert_eq!(*c.resolve(&b_out).unwrap(), "b");
}
