//! The same `calc@1.0.0` as a supervised child: started by a pool, a supervisor or
//! `omnitron start`, it connects back to its parent by itself. The one-line Rust worker.

use omnitron::rpc::Service;

#[tokio::main]
async fn main() -> omnitron::Result<()> {
    let calc = Service::builder("calc", "1.0.0")?
        .method("add", |(a, b): (i64, i64)| async move { Ok(a + b) })
        .method("whoami", |(): ()| async move { Ok("rust") })
        .build()?;
    omnitron::process::worker::serve(vec![calc]).await
}
