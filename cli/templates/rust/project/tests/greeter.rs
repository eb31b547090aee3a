//! The greeter end to end: resolved through DI, called over RPC between two peers in this test,
//! and served by this project's own binary as a pool worker (as `omnitron start` runs it).

use std::time::Duration;

use omnitron::di::{Container, Token};
use omnitron::process::{ChildSpec, Pool, PoolOptions, PoolSize};
use omnitron::rpc::{Peer, PeerOptions};
use omnitron::transport::Address;

use {{snake}}::greeter::{self, Greeter, GreeterConfig};

fn greeter_from(greeting: &str) -> std::sync::Arc<Greeter> {
    let container = Container::from_module(&greeter::module(GreeterConfig {
        greeting: greeting.into(),
    }))
    .unwrap();
    container.resolve(&Token::<Greeter>::of()).unwrap()
}

#[test]
fn di_builds_the_greeter_from_its_config() {
    assert_eq!(greeter_from("Hello").greet("Ada"), "Hello, Ada!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_answers_over_rpc() {
    let dir = tempfile::tempdir().unwrap();
    // Sockets live in a directory only their owner can enter: one that does not exist yet is
    // created so.
    let address = Address::Local(dir.path().join("private/rpc.sock"));
    let server = Peer::listen(&address, PeerOptions::new("server").token("secret"))
        .await
        .unwrap();
    server
        .expose(greeter::service(greeter_from("Hi")).unwrap())
        .await
        .unwrap();

    let client = Peer::connect(&address, PeerOptions::new("client").token("secret"))
        .await
        .unwrap();
    let answer: String = client
        .call("greeter@^1", "greet", &("Grace",))
        .await
        .unwrap();
    assert_eq!(answer, "Hi, Grace!");
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_greeter_as_a_worker() {
    let worker = ChildSpec::new("greeter", env!("CARGO_BIN_EXE_{{kebab}}"))
        .env("GREETING", "Welcome")
        .shutdown_timeout(Duration::from_secs(2));
    let mut options = PoolOptions::new(worker);
    options.size = PoolSize::Fixed(1);
    let pool = Pool::start(options).await.unwrap();
    let answer: String = pool.exec("greet", &("Linus",)).await.unwrap();
    assert_eq!(answer, "Welcome, Linus!");
    pool.stop().await;
}
