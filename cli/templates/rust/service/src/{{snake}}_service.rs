//! `{{kebab}}@1.0.0`: an RPC service. [`{{pascal}}Service`] holds the state and logic as a plain type
//! (test it directly, inject it with DI); [`service`] exposes its methods to other processes, in
//! any language: `peer.call("{{kebab}}", "record", &("order-1", 250))`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use omnitron::rpc::Service;
use omnitron::{Error, ErrorCode};

/// The service's state: a running total per account.
#[derive(Debug, Default)]
pub struct {{pascal}}Service {
    totals: Mutex<HashMap<String, i64>>,
}

impl {{pascal}}Service {
    /// An empty service.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `amount` (positive) to `account`; the account's new total.
    pub fn record(&self, account: &str, amount: i64) -> omnitron::Result<i64> {
        if amount <= 0 {
            // The code and message reach the caller, whatever its language.
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("amount must be positive, not {amount}"),
            ));
        }
        let mut totals = self.totals.lock().expect("not poisoned");
        let total = totals.entry(account.to_string()).or_default();
        *total += amount;
        Ok(*total)
    }

    /// The account's total (0 for an account never seen).
    pub fn total(&self, account: &str) -> i64 {
        self.totals
            .lock()
            .expect("not poisoned")
            .get(account)
            .copied()
            .unwrap_or(0)
    }
}

/// `{{kebab}}@1.0.0`: `record(account, amount) -> total` and `total(account) -> total`.
/// Host it with `worker::serve(vec![..., {{snake}}_service::service(Default::default())?])`.
pub fn service(svc: Arc<{{pascal}}Service>) -> omnitron::Result<Service> {
    let s = svc.clone();
    Service::builder("{{kebab}}", "1.0.0")?
        .method("record", move |(account, amount): (String, i64)| {
            let s = s.clone();
            async move { s.record(&account, amount) }
        })
        .method("total", move |(account,): (String,)| {
            let s = svc.clone();
            async move { Ok(s.total(&account)) }
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnitron::rpc::{Peer, PeerOptions};
    use omnitron::transport::Address;

    #[test]
    fn records_add_up_per_account() {
        let s = {{pascal}}Service::new();
        assert_eq!(s.record("a", 2).unwrap(), 2);
        assert_eq!(s.record("a", 3).unwrap(), 5);
        assert_eq!(s.total("b"), 0);
        assert_eq!(
            s.record("a", 0).unwrap_err().code(),
            ErrorCode::InvalidArgument
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn its_methods_answer_over_rpc() {
        let dir = tempfile::tempdir().unwrap();
        // Sockets live in a directory only their owner can enter: one that does not exist yet is
        // created so.
        let address = Address::Local(dir.path().join("private/rpc.sock"));
        let server = Peer::listen(&address, PeerOptions::new("server").token("secret"))
            .await
            .unwrap();
        server
            .expose(service(Arc::new({{pascal}}Service::new())).unwrap())
            .await
            .unwrap();
        let client = Peer::connect(&address, PeerOptions::new("client").token("secret"))
            .await
            .unwrap();

        let total: i64 = client
            .call("{{kebab}}@^1", "record", &("order-1", 250))
            .await
            .unwrap();
        assert_eq!(total, 250);
        let total: i64 = client
            .call("{{kebab}}", "total", &("order-1",))
            .await
            .unwrap();
        assert_eq!(total, 250);
        // Errors come back with their code.
        let e = client
            .call::<_, i64>("{{kebab}}", "record", &("order-1", -5))
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert!(e.message().contains("must be positive"), "{e}");

        client.shutdown().await;
        server.shutdown().await;
    }
}
