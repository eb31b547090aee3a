//! The order gateway: a child of the `omnitron` supervisor that serves `POST /orders`,
//! `GET /orders/:id`, `GET /orders`, `GET /stats/payment`, `/metrics` and `/health/{live,ready}` over
//! HTTP, and runs each
//! order as a durable saga (SQLite journal) whose stages call `inventory@1`, `payment@1` and
//! `shipping@1` in other processes, in other languages, through the supervisor.
//!
//! Environment: `GATEWAY_ADDR` (default 127.0.0.1:8080), `ORDERS_JOURNAL` (default ./orders.db).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use omnitron::metrics::Registry;
use omnitron::process::worker::{ParentLink, report_ready, wait_for_stop_signal};
use omnitron::resilience::{Backoff, RetryOptions};
use omnitron::rpc::{CallOptions, Peer};
use omnitron::workflow::{Engine, RunFilter, Stage, StageContext, Workflow};
use serde_json::{Value, json};

type Res = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: Value) -> Res {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", "application/json".parse().expect("a valid header"));
    r
}

/// Calls `method` of a service through the supervisor, with the stage's idempotency key first.
async fn call(
    peer: &Peer,
    target: &str,
    method: &str,
    ctx: &StageContext,
    args: Value,
) -> Result<Value, omnitron::Error> {
    let mut a = vec![json!(ctx.idempotency_key())];
    if let Value::Array(more) = args {
        a.extend(more);
    }
    let opts = CallOptions { deadline: Some(Duration::from_secs(5)), trace: None };
    peer.call_with::<Vec<Value>, Value>(target, method, &a, opts).await
}

fn retries() -> RetryOptions {
    let mut r = RetryOptions::new(6);
    r.backoff = Backoff::Exponential { initial: Duration::from_millis(50), factor: 2.0 };
    r.max_delay = Some(Duration::from_secs(1));
    r
}

fn order_workflow(peer: Peer) -> omnitron::Result<Workflow> {
    let (p1, p2, p3, p4, p5) = (peer.clone(), peer.clone(), peer.clone(), peer.clone(), peer);
    Workflow::builder("order")
        .stage(Stage::new("validate", |order: Value, _ctx| async move {
            let qty = order["qty"].as_u64().unwrap_or(0);
            let amount = order["amount"].as_f64().unwrap_or(0.0);
            if qty == 0 || amount <= 0.0 || order["sku"].as_str().is_none() {
                return Err(omnitron::Error::invalid_argument(format!("invalid order: {order}")));
            }
            Ok(order)
        }))
        .stage(
            Stage::new("reserve", move |order: Value, ctx| {
                let peer = p1.clone();
                async move { call(&peer, "inventory@^1", "reserve", &ctx, json!([order["sku"], order["qty"]])).await }
            })
            .depends_on("validate")
            .retries(retries())
            .compensate(move |reservation: Value, ctx| {
                let peer = p2.clone();
                async move { call(&peer, "inventory@^1", "release", &ctx, json!([reservation])).await.map(|_| ()) }
            }),
        )
        .stage(
            Stage::new("payment", move |_reservation: Value, ctx| {
                let peer = p3.clone();
                async move {
                    let order = ctx.workflow_input().clone();
                    call(&peer, "payment@^1", "charge", &ctx, json!([order["id"], order["amount"]])).await
                }
            })
            .depends_on("reserve")
            .retries(retries())
            .compensate(move |charge: Value, ctx| {
                let peer = p4.clone();
                async move { call(&peer, "payment@^1", "refund", &ctx, json!([charge])).await.map(|_| ()) }
            }),
        )
        .stage(
            Stage::new("shipping", move |_charge: Value, ctx| {
                let peer = p5.clone();
                async move {
                    let order = ctx.workflow_input().clone();
                    call(&peer, "shipping@^1", "create", &ctx, json!([order["id"], order["address"]])).await
                }
            })
            .depends_on("payment")
            .retries(retries()),
        )
        .timeout(Duration::from_secs(60))
        .build()
}

struct App {
    engine: Engine,
    peer: Peer,
    registry: Registry,
}

async fn route(app: Arc<App>, req: Request<Incoming>) -> Result<Res, Infallible> {
    let path = req.uri().path().to_string();
    let r = match (req.method(), path.as_str()) {
        (&Method::GET, "/health/live") => reply(StatusCode::OK, json!({"status": "live"})),
        (&Method::GET, "/health/ready") => {
            if app.peer.is_connected() {
                reply(StatusCode::OK, json!({"status": "ready"}))
            } else {
                reply(StatusCode::SERVICE_UNAVAILABLE, json!({"status": "not connected to the supervisor"}))
            }
        }
        (&Method::GET, "/stats/payment") => {
            let opts = CallOptions { deadline: Some(Duration::from_secs(5)), trace: None };
            match app.peer.call_with::<(), Value>("payment@^1", "stats", &(), opts).await {
                Ok(v) => reply(StatusCode::OK, v),
                Err(e) => {
                    reply(StatusCode::BAD_GATEWAY, json!({"error": e.to_string(), "code": e.code().as_str()}))
                }
            }
        }
        (&Method::GET, "/metrics") => {
            let mut r = Response::new(Full::new(Bytes::from(app.registry.gather_text())));
            r.headers_mut()
                .insert("content-type", "text/plain; version=0.0.4".parse().expect("a valid header"));
            r
        }
        (&Method::POST, "/orders") => {
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return Ok(reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()}))),
            };
            let mut order: Value = match serde_json::from_slice(&body) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    return Ok(reply(
                        StatusCode::BAD_REQUEST,
                        json!({"error": "the body must be a JSON object"}),
                    ));
                }
            };
            let id = order["id"].as_str().map(String::from).unwrap_or_else(|| format!("order-{}", fastid()));
            order["id"] = json!(id);
            match app.engine.start("order", order, Some(&id)).await {
                Ok(h) => reply(StatusCode::ACCEPTED, json!({"id": h.id()})),
                Err(e) => {
                    reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string(), "code": e.code().as_str()}))
                }
            }
        }
        (&Method::GET, "/orders") => match app.engine.list(&RunFilter::default()).await {
            Ok(runs) => {
                let mut by_state = serde_json::Map::new();
                for r in &runs {
                    let k = serde_json::to_value(r.state)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
                    let n = by_state.get(&k).and_then(Value::as_u64).unwrap_or(0);
                    by_state.insert(k, json!(n + 1));
                }
                reply(StatusCode::OK, json!({"total": runs.len(), "by_state": by_state}))
            }
            Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": e.to_string()})),
        },
        (&Method::GET, p) if p.starts_with("/orders/") => {
            match app.engine.get(&p["/orders/".len()..]).await {
                Ok(info) => reply(StatusCode::OK, serde_json::to_value(&info).unwrap_or(Value::Null)),
                Err(e) => {
                    reply(StatusCode::NOT_FOUND, json!({"error": e.to_string(), "code": e.code().as_str()}))
                }
            }
        }
        _ => reply(StatusCode::NOT_FOUND, json!({"error": format!("no route {} {path}", req.method())})),
    };
    Ok(r)
}

fn fastid() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    t * 1000 + N.fetch_add(1, Ordering::Relaxed) % 1000
}

#[tokio::main]
async fn main() -> omnitron::Result<()> {
    let link = ParentLink::require()?;
    let peer = link.connect("rust").await?;
    let registry = Registry::global().clone();
    let journal = std::env::var("ORDERS_JOURNAL").unwrap_or_else(|_| "orders.db".into());
    let engine =
        Engine::with_registry(Arc::new(omnitron::workflow::SqliteJournal::open(&journal)?), &registry);
    engine.register(order_workflow(peer.clone())?)?;
    let recovered = engine.recover().await?;
    if !recovered.resumed.is_empty() {
        println!("gateway: resumed {} unfinished orders from {journal}", recovered.resumed.len());
    }
    let addr = std::env::var("GATEWAY_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| omnitron::Error::invalid_argument(format!("cannot listen on {addr}: {e}")))?;
    println!("gateway: http://{addr} (journal {journal})");
    let app = Arc::new(App { engine, peer: peer.clone(), registry });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let app = app.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| route(app.clone(), req));
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    report_ready(&peer).await?;
    wait_for_stop_signal().await;
    peer.shutdown().await;
    Ok(())
}
