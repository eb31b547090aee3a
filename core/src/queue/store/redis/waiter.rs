//! How an idle worker hears of new work from any machine: it blocks in `BZPOPMIN` on the queue's
//! marker, a sorted set that every step making work ready writes to (`wake()` in
//! `lua/common.lua`).
//!
//! - Redis hands one marker to one blocked client, so one add wakes one worker, not all of them;
//!   a worker that leased as many jobs as it could while work is left writes the marker again
//!   (`claim.lua`), which wakes the next.
//! - Race-free without `seen`: a marker written while no worker is blocked stays until one pops
//!   it, so work made ready between a claim and the next wait wakes that wait at once. At worst a
//!   stale marker costs one claim that finds nothing.
//! - Each waiter has its own connection, with no response timeout: a blocking command would hold
//!   up every call queued behind it on the shared one, and the client's default timeout (500 ms)
//!   would cut the wait short. A connection that failed or was left mid-wait is dropped and made
//!   again at the next wait.

use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, Value};

use super::super::{BoxFuture, Waiter};

/// Shortest wait worth a round trip; `BZPOPMIN` with a timeout of 0 would block forever.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// How long a wait may run past its `max` before the connection is taken for dead.
const GRACE: Duration = Duration::from_secs(2);

pub(super) struct RedisWaiter {
    pub(super) client: Client,
    pub(super) marker: String,
    pub(super) connection_timeout: Duration,
    pub(super) conn: Option<MultiplexedConnection>,
}

impl RedisWaiter {
    async fn connection(&mut self) -> Option<MultiplexedConnection> {
        if let Some(c) = self.conn.take() {
            return Some(c);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connection_timeout))
            .set_response_timeout(None);
        match self.client.get_multiplexed_async_connection_with_config(&config).await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::debug!(error = %e, "queue worker: cannot open the connection it waits on");
                None
            }
        }
    }
}

impl Waiter for RedisWaiter {
    fn seen(&mut self) {}

    fn wait(&mut self, max: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if max < MIN_WAIT {
                return;
            }
            let started = tokio::time::Instant::now();
            // Taken out for the wait: if this future is dropped mid-wait, the connection goes
            // with it, and the server stops blocking for it (a marker is not popped for nobody).
            let Some(mut conn) = self.connection().await else {
                // Redis is unreachable: wait a little, then let the worker's claim report it.
                tokio::time::sleep(max.min(Duration::from_millis(200))).await;
                return;
            };
            let left = max.saturating_sub(started.elapsed()).max(MIN_WAIT);
            let mut bzpopmin = ::redis::cmd("BZPOPMIN");
            bzpopmin.arg(&self.marker).arg(format!("{:.3}", left.as_secs_f64()));
            let pop = bzpopmin.query_async::<Value>(&mut conn);
            match tokio::time::timeout(left + GRACE, pop).await {
                Ok(Ok(_)) => self.conn = Some(conn),
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "queue worker: waiting for work failed; reconnecting");
                    // Do not spin on a failing connection.
                    let rest = max.saturating_sub(started.elapsed());
                    tokio::time::sleep(rest.min(Duration::from_millis(100))).await;
                }
                Err(_) => tracing::debug!("queue worker: the wait for work got no answer; reconnecting"),
            }
        })
    }
}
