//! A Rust service in a polyglot application: connects to the peer at `argv[1]` with the token
//! `argv[2]`, hosts `calc@1.0.0`, and answers `interop.hello` events with `interop.ack.rust`.
//!
//! `calc-service unix:/run/app/rpc.sock TOKEN`

use std::time::Duration;

use omnitron::rpc::{Peer, PeerOptions, Service};
use omnitron::transport::Address;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(address), Some(token)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: calc-service ADDRESS TOKEN");
        std::process::exit(2);
    };
    let address: Address = address.parse()?;
    let peer = Peer::connect(&address, PeerOptions::new("calc-service").token(token.clone())).await?;
    let calc = Service::builder("calc", "1.0.0")?
        .method("add", |(a, b): (i64, i64)| async move { Ok(a + b) })
        .method("whoami", |(): ()| async move { Ok("rust") })
        .build()?;
    peer.expose(calc).await?;
    let acks = peer.clone();
    peer.subscribe("interop.hello", move |_topic, _hello: String| {
        let acks = acks.clone();
        tokio::spawn(async move {
            let _ = acks.publish("interop.ack.rust", "rust").await;
        });
    })
    .await?;
    println!("ready");
    // Serve until the parent goes away (the connection closes for good) or 60 s pass.
    tokio::time::sleep(Duration::from_secs(60)).await;
    Ok(())
}
