//! DI resolve costs in Rust: a singleton, a transient with two dependencies, a 100-deep chain of
//! transients, and creating a scope (plus resolving one scoped provider in it).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use omnitron::di::{Container, Provider, Token};

struct Config {
    url: &'static str,
}
struct Repo {
    _config: Arc<Config>,
}
struct Service {
    _config: Arc<Config>,
    _repo: Arc<Repo>,
}

fn di(c: &mut Criterion) {
    let config = Token::<Config>::new("Config");
    let repo = Token::<Repo>::new("Repo");
    let service = Token::<Service>::new("Service");
    let container = Container::new();
    container.register(Provider::value(&config, Config { url: "db://bench" })).unwrap();
    container.register(Provider::factory(&repo, (&config,), |(c,)| Ok(Repo { _config: c }))).unwrap();
    container
        .register(
            Provider::factory(&service, (&config, &repo), |(c, r)| Ok(Service { _config: c, _repo: r }))
                .transient(),
        )
        .unwrap();
    assert_eq!(container.resolve(&config).unwrap().url, "db://bench");

    c.bench_function("di/singleton", |b| {
        b.iter(|| black_box(container.resolve(black_box(&config)).unwrap()))
    });
    c.bench_function("di/transient_2_deps", |b| {
        b.iter(|| black_box(container.resolve(black_box(&service)).unwrap()))
    });

    // A chain T0 -> T1 -> ... -> T99, all transient: one resolve builds 100 instances.
    let chain: Vec<Token<usize>> = (0..100).map(|i| Token::new(format!("T{i}"))).collect();
    let deep = Container::new();
    deep.register(Provider::factory(&chain[99], (), |()| Ok(0usize)).transient()).unwrap();
    for i in (0..99).rev() {
        deep.register(Provider::factory(&chain[i], (&chain[i + 1],), |(n,)| Ok(*n + 1)).transient()).unwrap();
    }
    assert_eq!(*deep.resolve(&chain[0]).unwrap(), 99);
    c.bench_function("di/chain_100_transient", |b| b.iter(|| black_box(deep.resolve(&chain[0]).unwrap())));

    let per_request = Token::<u64>::new("PerRequest");
    container.register(Provider::factory(&per_request, (), |()| Ok(7u64)).scoped()).unwrap();
    c.bench_function("di/create_scope", |b| b.iter(|| black_box(container.create_scope().unwrap())));
    c.bench_function("di/create_scope_and_resolve_scoped", |b| {
        b.iter(|| {
            let s = container.create_scope().unwrap();
            black_box(s.resolve(&per_request).unwrap())
        })
    });
}

criterion_group!(benches, di);
criterion_main!(benches);
