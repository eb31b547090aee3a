//! Events as a peer's user sees them: [`Peer::publish`] and [`Peer::subscribe`]. The subscriptions
//! are kept in `state.rs`; delivering an event, here and to connected peers, is in `route.rs`.
//!
//! A listening peer's subscriptions are active as soon as they are recorded. A connected peer's
//! are active once its server has recorded them: [`Peer::subscribe_raw`] sends SUBSCRIBE and then
//! PING on the upstream connection and returns at the PONG. A server handles a connection's frames
//! in order (docs/PROTOCOL.md), so the PONG proves the subscription is in place: an event published
//! anywhere after that reaches it. While the peer is reconnecting, subscribing waits for the
//! connection up to the peer's default deadline; if none comes (or the server does not answer),
//! the subscription is withdrawn and the error says why.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::codec::Message;
use super::conn::Conn;
use super::pattern::{Pattern, check_topic};
use super::peer::Peer;
use super::route::{deliver, upstream_conn};
use super::service::{decode, encode};
use super::state::Inner;
use crate::error::{Error, ErrorCode, Result};

impl Peer {
    /// Publishes an event (a raw MessagePack payload) to every subscriber in every connected process,
    /// carrying the current trace context: subscribers' handlers run in it.
    pub async fn publish_raw(&self, topic: &str, payload: Bytes) -> Result<()> {
        let trace = crate::telemetry::current_wire_if_any();
        self.publish_raw_traced(topic, payload, trace).await
    }

    /// [`Peer::publish_raw`] with the trace context given (a raw `trace` map, as `to_wire` makes
    /// it): for the bindings, whose current context is their own.
    pub async fn publish_raw_traced(&self, topic: &str, payload: Bytes, trace: Option<Bytes>) -> Result<()> {
        check_topic(topic)?;
        let inner = &self.inner;
        if let Some(c) = &inner.events.published {
            c.inc();
        }
        let up = inner.upstream.borrow().clone();
        match (up, &inner.upstream_address) {
            (Some(conn), _) => conn
                .outbox
                .send(&Message::Publish { topic: topic.to_string(), payload, trace }.publish_for(&conn.peer))
                .await
                .map_err(|_| {
                    Error::new(ErrorCode::NotConnected, "not connected: the event was not published")
                }),
            (None, Some(addr)) => Err(Error::new(
                ErrorCode::NotConnected,
                format!("not connected to {addr} (reconnecting): the event was not published"),
            )),
            (None, None) => {
                deliver(inner, topic, &payload, trace.as_ref()).await;
                Ok(())
            }
        }
    }

    /// Publishes a typed event.
    pub async fn publish<T: Serialize + ?Sized>(&self, topic: &str, payload: &T) -> Result<()> {
        self.publish_raw(topic, encode(payload)?).await
    }

    /// Calls `handler(topic, raw payload)` for every event matching `pattern` (`order.*`,
    /// `order.#`), from any connected process. The handler runs on an engine thread and must not
    /// block. Returns the subscription's id for [`Peer::unsubscribe`] once the subscription is
    /// active: an event published anywhere after that reaches the handler.
    ///
    /// A connected peer's subscription is active when its server has recorded it (see the module
    /// docs). If the peer is reconnecting, this waits for the connection up to the peer's default
    /// deadline; failing that (`RPC009`, or `E006` if the server never confirms) the subscription
    /// is withdrawn.
    pub async fn subscribe_raw(
        &self,
        pattern: &str,
        handler: impl Fn(&str, &Bytes) + Send + Sync + 'static,
    ) -> Result<u64> {
        let pattern = Pattern::new(pattern)?;
        let inner = &self.inner;
        let id = inner.subs.add(pattern.clone(), Arc::new(handler));
        activate_or_withdraw(inner.clone(), id, pattern).await?;
        Ok(id)
    }

    /// [`Peer::subscribe_raw`] for callers that cannot wait (the bindings): records the
    /// subscription and returns its id at once; `active` is called once, from an engine thread (or
    /// this one, for a listening peer), when it is active or with why it was withdrawn.
    pub fn subscribe_raw_with(
        &self,
        pattern: &str,
        handler: impl Fn(&str, &Bytes) + Send + Sync + 'static,
        active: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<u64> {
        let pattern = Pattern::new(pattern)?;
        let inner = &self.inner;
        let id = inner.subs.add(pattern.clone(), Arc::new(handler));
        if inner.upstream_address.is_none() {
            active(Ok(()));
        } else {
            let inner = inner.clone();
            inner
                .runtime
                .clone()
                .spawn(async move { active(activate_or_withdraw(inner, id, pattern).await) });
        }
        Ok(id)
    }

    /// Typed [`Peer::subscribe_raw`]: payloads that do not decode as `T` are skipped with a warning.
    pub async fn subscribe<T: DeserializeOwned + 'static>(
        &self,
        pattern: &str,
        handler: impl Fn(&str, T) + Send + Sync + 'static,
    ) -> Result<u64> {
        self.subscribe_raw(pattern, move |topic, payload| match decode::<T>(payload) {
            Ok(v) => handler(topic, v),
            Err(e) => tracing::warn!(topic, "event payload skipped: {e}"),
        })
        .await
    }

    /// Removes a subscription. False if it did not exist.
    pub async fn unsubscribe(&self, id: u64) -> bool {
        let inner = &self.inner;
        let removed = inner.subs.remove(id);
        let up = inner.upstream.borrow().clone();
        if removed && let Some(conn) = up {
            let _ = conn.outbox.send(&Message::Unsubscribe { sub: id }).await;
        }
        removed
    }
}

/// Waits until the server has recorded subscription `id`; withdraws it if that fails.
async fn activate_or_withdraw(inner: Arc<Inner>, id: u64, pattern: Pattern) -> Result<()> {
    if inner.upstream_address.is_none() {
        return Ok(());
    }
    let r = activate(&inner, id, &pattern).await;
    if r.is_err() && inner.subs.remove(id) {
        let up = inner.upstream.borrow().clone();
        if let Some(conn) = up {
            let _ = conn.outbox.send_now(&Message::Unsubscribe { sub: id });
            conn.outbox.flush_now();
        }
    }
    r
}

async fn activate(inner: &Arc<Inner>, id: u64, pattern: &Pattern) -> Result<()> {
    let wait = inner.opts.default_deadline;
    let deadline = Instant::now() + wait;
    let msg = Message::Subscribe { sub: id, pattern: pattern.as_str().to_string() };
    loop {
        let conn: Arc<Conn> = upstream_conn(inner, deadline).await.map_err(|e| {
            Error::new(
                ErrorCode::NotConnected,
                format!("{}: subscribing to '{}' failed", e.message, pattern.as_str()),
            )
        })?;
        if !inner.subs.contains(id) {
            return Ok(()); // Unsubscribed meanwhile: nothing left to wait for.
        }
        // Sent on this connection even if its handshake announced it (the subscription may have
        // been recorded while the connection was being made); a server replaces a subscription by
        // id. The PONG to the PING after it proves it is recorded.
        let pong = conn.outbox.send_now(&msg).and_then(|()| conn.ping());
        let answered = match pong {
            Ok(rx) => tokio::time::timeout_at(deadline, rx).await.map(|r| r.is_ok()),
            Err(_) => Ok(false),
        };
        match answered {
            Ok(true) => return Ok(()),
            Ok(false) => {
                // The connection went: the next one announces the subscription (and this loop
                // confirms it there).
                tokio::select! {
                    _ = conn.closed.cancelled() => {}
                    _ = tokio::time::sleep_until(deadline) => {}
                }
            }
            Err(_) => {
                return Err(Error::new(
                    ErrorCode::Timeout,
                    format!(
                        "'{}' did not confirm the subscription to '{}' within {} ms",
                        conn.peer.name,
                        pattern.as_str(),
                        wait.as_millis()
                    ),
                ));
            }
        }
    }
}
