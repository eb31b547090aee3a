//! {{name}}'s process. Started by `omnitron dev` / `omnitron start` (omnitron.yaml), a pool or a
//! supervisor, it connects back to its parent and serves `greeter@1.0.0` until SIGTERM. Run on its
//! own (`cargo run -- Ada`), it greets once.

use omnitron::di::{Container, Token};
use omnitron::process::worker::{self, ParentLink};

use {{snake}}::greeter::{self, Greeter, GreeterConfig};

#[tokio::main]
async fn main() -> omnitron::Result<()> {
    let greeting = std::env::var("GREETING").unwrap_or_else(|_| "Hello".into());
    let container = Container::from_module(&greeter::module(GreeterConfig { greeting }))?;
    let greeter = container.resolve(&Token::<Greeter>::of())?;

    if ParentLink::from_env().is_none() {
        let name = std::env::args().nth(1).unwrap_or_else(|| "world".into());
        println!("{}", greeter.greet(&name));
        eprintln!("(run it as a service with `omnitron dev`: see omnitron.yaml)");
        return Ok(());
    }
    // Every service this process hosts; add yours here.
    worker::serve(vec![greeter::service(greeter)?]).await
}
