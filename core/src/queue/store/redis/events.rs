//! How a queue's events cross processes on Redis: each publication goes out with `PUBLISH` on the
//! queue's channel `p:{q}:events`, and a process that listens to the queue holds one pub/sub
//! connection per store, subscribed to the channels of the queues it listens to.
//!
//! Pub/sub keeps nothing: a process hears what is published while it is subscribed. After a lost
//! connection the listener connects again and subscribes again; what was published meanwhile is
//! not heard (events are at most once, `docs/QUEUES.md`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::redis::Client;
use futures_core::Stream;
use tokio::sync::mpsc;

use crate::queue::events::EventHub;

/// The channel a queue's events are published on, under the queue's key prefix `p:{q}`.
pub(super) fn channel(queue_prefix: &str) -> String {
    format!("{queue_prefix}:events")
}

/// Starts the task that carries other processes' events of the queues it is told of to `hub`;
/// it ends when the returned sender is dropped (with the store).
pub(super) fn start(
    client: Client,
    channels: impl Fn(&str) -> String + Send + 'static,
    hub: Arc<EventHub>,
    connection_timeout: Duration,
) -> Option<mpsc::UnboundedSender<String>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let (tx, rx) = mpsc::unbounded_channel();
    runtime.spawn(listen(client, channels, hub, connection_timeout, rx));
    Some(tx)
}

async fn listen(
    client: Client,
    channels: impl Fn(&str) -> String,
    hub: Arc<EventHub>,
    connection_timeout: Duration,
    mut asked: mpsc::UnboundedReceiver<String>,
) {
    let mut delay = Duration::from_millis(100);
    loop {
        let pubsub = match tokio::time::timeout(connection_timeout, client.get_async_pubsub()).await {
            Ok(Ok(p)) => p,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".into(),
                };
                tracing::debug!(error = why, "queue events: cannot open the pub/sub connection; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    // Dropped with the store: stop. A queue asked for meanwhile is in the hub.
                    q = asked.recv() => if q.is_none() { return },
                }
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        delay = Duration::from_millis(100);
        let (mut sink, mut stream) = pubsub.split();
        // Channel name to queue; every queue listened to so far is subscribed again.
        let mut queues: HashMap<String, String> = HashMap::new();
        let mut ok = true;
        for q in hub.queues() {
            let ch = channels(&q);
            if sink.subscribe(&ch).await.is_err() {
                ok = false;
                break;
            }
            queues.insert(ch, q.clone());
            hub.set_ready(&q, true);
        }
        while ok {
            tokio::select! {
                msg = std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)) => match msg {
                    Some(m) => {
                        if let Some(q) = queues.get(m.get_channel_name()) {
                            hub.deliver_published(q, m.get_payload_bytes());
                        }
                    }
                    None => ok = false,
                },
                q = asked.recv() => match q {
                    None => return,
                    Some(q) => {
                        let ch = channels(&q);
                        if queues.contains_key(&ch) {
                            continue;
                        }
                        if sink.subscribe(&ch).await.is_err() {
                            ok = false;
                        } else {
                            queues.insert(ch, q.clone());
                            hub.set_ready(&q, true);
                        }
                    }
                },
            }
        }
        tracing::debug!("queue events: the pub/sub connection was lost; connecting again");
        for q in queues.values() {
            hub.set_ready(q, false);
        }
    }
}
