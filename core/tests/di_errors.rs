//! Error messages: cycles with the whole path, missing providers with suggestions and fixes.

use omnitron::ErrorCode;
use omnitron::di::{
    Container, Dependency, Graph, ModuleKey, ModuleSpec, Provider, ProviderKind, ProviderSpec, Token,
    TokenKey, TokenRef,
};

#[test]
fn a_cycle_names_the_whole_path() {
    let a = Token::<u8>::new("A");
    let b = Token::<u8>::new("B");
    let c_ = Token::<u8>::new("C");
    let c = Container::new();
    c.register(Provider::factory(&a, (&b,), |_| Ok(1))).unwrap();
    c.register(Provider::factory(&b, (&c_,), |_| Ok(1))).unwrap();
    c.register(Provider::factory(&c_, (&a,), |_| Ok(1))).unwrap();
    let e = c.resolve(&a).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CircularDependency);
    assert!(e.message().contains("A -> B -> C -> A"), "{e}");
    let e = c.resolve(&b).unwrap_err();
    assert!(e.message().contains("B -> C -> A -> B"), "{e}");
}

#[test]
fn a_two_cycle_and_a_self_dependency() {
    let a = Token::<u8>::new("A");
    let b = Token::<u8>::new("B");
    let s = Token::<u8>::new("Selfish");
    let c = Container::new();
    c.register(Provider::factory(&a, (&b,), |_| Ok(1))).unwrap();
    c.register(Provider::factory(&b, (&a,), |_| Ok(1))).unwrap();
    c.register(Provider::factory(&s, (&s,), |_| Ok(1))).unwrap();
    assert!(c.resolve(&a).unwrap_err().message().contains("A -> B -> A"));
    assert!(c.resolve(&s).unwrap_err().message().contains("Selfish -> Selfish"));
}

#[test]
fn something_depending_on_a_cycle_shows_how_it_got_there() {
    let x = Token::<u8>::new("X");
    let a = Token::<u8>::new("A");
    let b = Token::<u8>::new("B");
    let c = Container::new();
    c.register(Provider::factory(&x, (&a,), |_| Ok(1))).unwrap();
    c.register(Provider::factory(&a, (&b,), |_| Ok(1))).unwrap();
    c.register(Provider::factory(&b, (&a,), |_| Ok(1))).unwrap();
    let e = c.resolve(&x).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CircularDependency);
    assert!(e.message().contains("X -> A -> B -> A"), "{e}");
}

#[test]
fn a_missing_provider_names_token_dependent_chain_and_fixes() {
    let svc = Token::<u8>::new("UserService");
    let repo = Token::<u8>::new("UserRepository");
    let db = Token::<u8>::new("Database");
    let typo = Token::<u8>::new("Databse");
    let c = Container::new();
    c.register(Provider::factory(&svc, (&repo,), |_| Ok(1))).unwrap();
    c.register(Provider::factory(&repo, (&typo,), |_| Ok(1))).unwrap();
    c.register(Provider::value(&db, 1)).unwrap();
    let e = c.resolve(&svc).unwrap_err();
    assert_eq!(e.code(), ErrorCode::MissingProvider);
    let m = e.message();
    assert!(m.contains("no provider for 'Databse' (required by 'UserRepository')"), "{m}");
    assert!(m.contains("UserService -> UserRepository -> Databse"), "{m}");
    assert!(m.contains("Did you mean 'Database'?"), "{m}");
    assert!(m.contains("Add 'Databse' to the providers"), "{m}");
    assert!(m.contains("Import a module that exports"), "{m}");
    assert!(m.contains("Provider::class"), "{m}");
}

#[test]
fn resolving_an_unknown_token_suggests_close_names() {
    let logger = Token::<u8>::new("Logger");
    let c = Container::new();
    c.register(Provider::value(&logger, 1)).unwrap();
    let e = c.resolve(&Token::<u8>::new("logger")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::MissingProvider);
    assert!(e.message().contains("Did you mean 'Logger'?"), "{e}");
    let e = c.resolve(&Token::<u8>::new("Completely")).unwrap_err();
    assert!(!e.message().contains("Did you mean"), "{e}");
}

#[test]
fn circular_module_imports_name_the_loop() {
    let mut g = Graph::new();
    let mut a = ModuleSpec::new("ModuleA");
    let mut b = ModuleSpec::new("ModuleB");
    let mut cm = ModuleSpec::new("ModuleC");
    a.imports.push(b.key);
    b.imports.push(cm.key);
    cm.imports.push(a.key);
    let e = g.load_modules(a.key, &[a.clone(), b.clone(), cm.clone()], true).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CircularModuleImport);
    assert!(e.message().contains("ModuleA -> ModuleB -> ModuleC -> ModuleA"), "{e}");
    // Nothing was loaded.
    assert!(!g.has_module(a.key));
}

#[test]
fn an_unknown_import_is_refused() {
    let mut g = Graph::new();
    let mut a = ModuleSpec::new("A");
    a.imports.push(ModuleKey::fresh());
    let e = g.load_modules(a.key, &[a.clone()], true).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidModule);
}

#[test]
fn invalid_provider_specs_are_refused() {
    let mut g = Graph::new();
    let t = TokenRef::new(TokenKey::fresh(), "V");
    let mut value_with_deps = ProviderSpec::new(t.clone(), ProviderKind::Value);
    value_with_deps.deps.push(Dependency::required(TokenRef::new(TokenKey::fresh(), "X")));
    assert_eq!(g.register(value_with_deps).unwrap_err().code(), ErrorCode::InvalidProvider);
    let self_alias = ProviderSpec::new(t.clone(), ProviderKind::Alias(t.clone()));
    assert_eq!(g.register(self_alias).unwrap_err().code(), ErrorCode::InvalidProvider);
    let builtin = ProviderSpec::new(TokenRef::context(), ProviderKind::Value);
    assert_eq!(g.register(builtin).unwrap_err().code(), ErrorCode::InvalidProvider);
}

#[test]
fn a_deep_chain_compiles_without_overflowing_and_is_refused_past_the_limit() {
    let mut g = Graph::new();
    let tokens: Vec<TokenRef> =
        (0..20_000).map(|i| TokenRef::new(TokenKey::fresh(), format!("T{i}"))).collect();
    for i in 0..tokens.len() {
        let mut p = ProviderSpec::new(tokens[i].clone(), ProviderKind::Factory);
        if i + 1 < tokens.len() {
            p.deps.push(Dependency::required(tokens[i + 1].clone()));
        }
        g.register(p).unwrap();
    }
    let plan = g.plan();
    assert_eq!(plan.init_order().len(), 20_000);
    let failed = plan.providers().iter().filter(|p| p.failed).count();
    assert_eq!(failed, 20_000 - omnitron::di::MAX_DEPTH as usize);
}

#[test]
fn export_graph_as_json_and_mermaid() {
    let a = Token::<u8>::new("A");
    let b = Token::<u8>::new("B");
    let c = Container::new();
    c.register(Provider::factory(&a, (&b, omnitron::di::optional(&Token::<u8>::new("Maybe"))), |_| Ok(1)))
        .unwrap();
    c.register(Provider::value(&b, 2)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&c.export_graph_json().unwrap()).unwrap();
    let nodes = json["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(json["edges"].as_array().unwrap().len(), 2);
    let mermaid = c.export_graph_mermaid().unwrap();
    assert!(mermaid.starts_with("graph TD"));
    assert!(mermaid.contains("-->") && mermaid.contains("-.->"), "{mermaid}");
}
