//! `Graph::override_provider`: what a testing module's `overrideProvider(X)` does in every door
//! (TypeScript `Test.createTestingModule`, Python `create_testing_module`).

use omnitron::ErrorCode;
use omnitron::di::{Dependency, Graph, ModuleSpec, ProviderKind, ProviderSpec, TokenKey, TokenRef};

fn token(name: &str) -> TokenRef {
    TokenRef::new(TokenKey::fresh(), name)
}

#[test]
fn every_provider_of_the_token_is_replaced_where_it_stands() {
    let (repo, db, svc) = (token("Repo"), token("Db"), token("Service"));
    let mut g = Graph::new();
    // Two modules provide Repo privately (each sees its own); the root registers a Service using one.
    let mut a = ModuleSpec::new("A");
    a.providers.push(ProviderSpec::new(repo.clone(), ProviderKind::Class));
    let mut b = ModuleSpec::new("B");
    b.providers.push(ProviderSpec::new(repo.clone(), ProviderKind::Class));
    b.imports.push(a.key);
    let ids = g.load_modules(b.key, &[a.clone(), b.clone()], true).unwrap();
    let (in_a, in_b) = (ids[0][0], ids[1][0]);
    let mut service = ProviderSpec::new(svc, ProviderKind::Factory);
    service.deps.push(Dependency::required(repo.clone()));
    g.register(service).unwrap();

    let mut fake = ProviderSpec::new(repo.clone(), ProviderKind::Factory);
    fake.deps.push(Dependency::optional(db.clone()));
    let replaced = g.override_provider(fake).unwrap();
    assert_eq!(replaced, vec![in_a, in_b], "each keeps its id (and so its module and exports)");
    for id in replaced {
        let spec = g.spec(id).unwrap();
        assert_eq!(spec.kind, ProviderKind::Factory);
        assert_eq!(spec.deps[0].token.key, db.key);
    }
    assert_eq!(g.token_name(db.key), Some("Db"), "the replacement's dependencies are named in messages");
    assert_eq!(g.provider_count(), 4, "nothing was added: CONTEXT, two Repos, Service");
}

#[test]
fn a_multi_token_keeps_its_entries_and_a_token_nobody_provides_replaces_nothing() {
    let (plugin, other) = (token("Plugin"), token("Other"));
    let mut g = Graph::new();
    for _ in 0..2 {
        let mut p = ProviderSpec::new(plugin.clone(), ProviderKind::Value);
        p.multi = true;
        g.register(p).unwrap();
    }
    let replaced = g.override_provider(ProviderSpec::new(plugin.clone(), ProviderKind::Factory)).unwrap();
    assert_eq!(replaced.len(), 2);
    assert!(
        replaced
            .iter()
            .all(|id| g.spec(*id).unwrap().multi && g.spec(*id).unwrap().kind == ProviderKind::Factory)
    );
    assert!(g.override_provider(ProviderSpec::new(other, ProviderKind::Value)).unwrap().is_empty());
}

#[test]
fn bad_overrides_are_refused_and_change_nothing() {
    let t = token("T");
    let mut g = Graph::new();
    let id = g.register(ProviderSpec::new(t.clone(), ProviderKind::Class)).unwrap();
    // A value cannot have dependencies (the same check as registering).
    let mut bad = ProviderSpec::new(t.clone(), ProviderKind::Value);
    bad.deps.push(Dependency::required(token("X")));
    assert_eq!(g.override_provider(bad).unwrap_err().code(), ErrorCode::InvalidProvider);
    assert_eq!(g.spec(id).unwrap().kind, ProviderKind::Class);
    let e = g.override_provider(ProviderSpec::new(TokenRef::context(), ProviderKind::Value)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidProvider);
    g.mark_disposed();
    let e = g.override_provider(ProviderSpec::new(t, ProviderKind::Value)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ContainerDisposed);
}
