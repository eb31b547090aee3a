//! Tracing through real peers over real sockets, exported to a real OTLP/HTTP receiver: one trace
//! across hops with the right parents, errors on spans, sampling, and collectors that are dead,
//! silent or refusing (each in a child process of its own: a process installs tracing once).

#[path = "telemetry/receiver.rs"]
mod receiver;

use std::process::Command;
use std::time::{Duration, Instant};

use omnitron::http::{HttpError, HttpOptions, HttpServer, Response, Router};
use omnitron::rpc::{Peer, PeerOptions, Service};
use omnitron::telemetry::{self, TraceConfig, TraceContext};
use omnitron::transport::Address;
use receiver::{Receiver, SpanSeen};

const CHILD: &str = "OMNITRON_TELEMETRY_CHILD";

/// Four peers: a server that routes, `inventory` and `pricing` hosted by two connected peers, and
/// a client. `inventory.reserve` calls `pricing.quote`.
struct App {
    _dir: tempfile::TempDir,
    server: Peer,
    client: Peer,
    inventory: Peer,
    pricing: Peer,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Local(dir.path().join("private/rpc.sock"));
    let server = Peer::listen(&addr, PeerOptions::new("server")).await.unwrap();
    let pricing = Peer::connect(&addr, PeerOptions::new("pricing")).await.unwrap();
    let svc = Service::builder("pricing", "1.0.0")
        .unwrap()
        .method("quote", |(sku,): (String,)| async move { Ok(sku.len() as i64 * 10) })
        .method("fail", |(): ()| async move {
            Err::<i64, _>(omnitron::Error::new(omnitron::ErrorCode::InvalidArgument, "no such sku"))
        })
        .stream("count", |(n,): (u32,), sink| async move {
            for i in 0..n {
                sink.send(&i).await?;
            }
            Ok(())
        })
        // What the handler sees as its current context, as a traceparent.
        .method("context", |(): ()| async move {
            Ok(telemetry::current().map(|c| c.traceparent()).unwrap_or_default())
        })
        .build()
        .unwrap();
    pricing.expose(svc).await.unwrap();
    let inventory = Peer::connect(&addr, PeerOptions::new("inventory")).await.unwrap();
    let caller = inventory.clone();
    let svc = Service::builder("inventory", "1.0.0")
        .unwrap()
        .method("reserve", move |(sku,): (String,)| {
            let caller = caller.clone();
            async move {
                let price: i64 = caller.call("pricing@^1", "quote", &(sku,)).await?;
                Ok(price)
            }
        })
        .build()
        .unwrap();
    inventory.expose(svc).await.unwrap();
    let client = Peer::connect(&addr, PeerOptions::new("client")).await.unwrap();
    // Registrations reach the server on their own connections: wait until it routes both.
    for _ in 0..500 {
        let names: Vec<String> = server.services().into_iter().map(|s| s.name).collect();
        if names.iter().any(|n| n == "pricing") && names.iter().any(|n| n == "inventory") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    App { _dir: dir, server, client, inventory, pricing }
}

impl App {
    async fn stop(self) {
        for p in [self.client, self.inventory, self.pricing, self.server] {
            p.shutdown().await;
        }
    }
}

fn wait_spans(r: &Receiver, n: usize) -> Vec<SpanSeen> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        telemetry::flush(Duration::from_secs(5));
        let spans = r.spans();
        if spans.len() >= n || Instant::now() > until {
            return spans;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_call_through_four_peers_is_one_trace_with_its_parents() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let r = Receiver::start(200);
    let cfg = TraceConfig::otlp("rust-test", &r.endpoint()).unwrap();
    telemetry::install(cfg.clone(), "rust").unwrap();
    // Once per process.
    assert!(telemetry::install(cfg, "rust").is_err());
    omnitron::runtime::block_on(async {
        let app = app().await;
        let price: i64 = telemetry::trace("checkout", app.client.call("inventory@^1", "reserve", &("abc",)))
            .await
            .unwrap();
        assert_eq!(price, 30);
        let mut items = app.client.call_stream("pricing", "count", &(3u32,)).await.unwrap();
        let mut got = Vec::new();
        while let Some(i) = items.next::<u32>().await {
            got.push(i.unwrap());
        }
        assert_eq!(got, [0, 1, 2]);
        let err = app.client.call::<_, i64>("pricing", "fail", &()).await.unwrap_err();
        assert_eq!(err.code(), omnitron::ErrorCode::InvalidArgument);

        // HTTP: the request's span is a child of the client's traceparent; the handler's calls are
        // children of the request's span.
        let caller = app.inventory.clone();
        let router = Router::new()
            .get("/orders/:id", move |req: omnitron::http::Request| {
                let caller = caller.clone();
                async move {
                    let sku = req.param("id").unwrap_or_default().to_string();
                    let p: i64 = caller
                        .call("pricing@^1", "quote", &(sku,))
                        .await
                        .map_err(|e| HttpError::internal(e.to_string()))?;
                    Ok(Response::text(200, p.to_string()))
                }
            })
            .get("/broken", |_req| async { Err(HttpError::internal("it broke")) });
        let server = HttpServer::bind("127.0.0.1:0", router, HttpOptions::default()).await.unwrap();
        let addr = server.local_addr();
        let got = http_get(addr, "/orders/abcd", Some(HTTP_PARENT)).await;
        assert!(got.starts_with("HTTP/1.1 200") && got.ends_with("40"), "{got}");
        let got = http_get(addr, "/broken", None).await;
        assert!(got.starts_with("HTTP/1.1 500"), "{got}");
        server.shutdown().await;
        app.stop().await;
    });
    let spans = wait_spans(&r, 13);
    let checkout: Vec<&SpanSeen> = spans.iter().filter(|s| s.name == "checkout" && s.kind == 1).collect();
    assert_eq!(checkout.len(), 1, "{spans:#?}");
    // The spans of the checkout's trace (the HTTP request below makes one of its own).
    let by = |name: &str, kind: u64| -> Vec<&SpanSeen> {
        spans
            .iter()
            .filter(|s| s.name == name && s.kind == kind && s.trace_id == checkout[0].trace_id)
            .collect()
    };
    let client_reserve = by("inventory/reserve", 3);
    let server_reserve = by("inventory/reserve", 2);
    let client_quote = by("pricing/quote", 3);
    let server_quote = by("pricing/quote", 2);
    assert_eq!(
        (checkout.len(), client_reserve.len(), server_reserve.len(), client_quote.len(), server_quote.len()),
        (1, 1, 1, 1, 1),
        "{spans:#?}"
    );
    let chain = [checkout[0], client_reserve[0], server_reserve[0], client_quote[0], server_quote[0]];
    for pair in chain.windows(2) {
        assert_eq!(pair[1].trace_id, pair[0].trace_id, "one trace: {pair:#?}");
        assert_eq!(
            pair[1].parent_span_id, pair[0].span_id,
            "{} is the parent of {}",
            pair[0].name, pair[1].name
        );
        assert!(pair[1].start >= pair[0].start && pair[1].end <= pair[0].end + 1_000_000, "{pair:#?}");
    }
    assert!(checkout[0].parent_span_id.is_empty(), "the root has no parent");
    assert_eq!(checkout[0].trace_id.len(), 16);
    assert_eq!(server_quote[0].span_id.len(), 8);
    assert_eq!(server_quote[0].service, "rust-test");
    for s in &chain[1..] {
        let attr = |k: &str| s.attributes.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(attr("rpc.system"), Some("omnitron"));
        assert_eq!(attr("rpc.method"), Some(s.name.split('/').nth(1).unwrap()));
        assert_eq!(s.status.0, 0, "success leaves the status unset");
    }
    // A failed call: both of its spans say so, with the engine's code.
    let failed: Vec<&SpanSeen> = spans.iter().filter(|s| s.name == "pricing/fail").collect();
    assert_eq!(failed.len(), 2, "{spans:#?}");
    for s in failed {
        assert_eq!(s.status, (2, "no such sku".to_string()));
        assert!(s.attributes.contains(&("error.type".into(), "E001".into())), "{s:#?}");
    }
    // A stream: the caller's span is the parent of the callee's, and covers it.
    let count: Vec<&SpanSeen> = spans.iter().filter(|s| s.name == "pricing/count").collect();
    assert_eq!(count.len(), 2, "{spans:#?}");
    let (c, s) = if count[0].kind == 3 { (count[0], count[1]) } else { (count[1], count[0]) };
    assert_eq!((c.kind, s.kind), (3, 2));
    assert_eq!(s.parent_span_id, c.span_id);
    assert!(c.start <= s.start && s.end <= c.end + 1_000_000);
    // HTTP: the request's span under the client's, the RPC call's under it.
    let http: Vec<&SpanSeen> = spans.iter().filter(|s| s.kind == 2 && s.name == "GET").collect();
    assert_eq!(http.len(), 2, "{spans:#?}");
    let attr = |s: &SpanSeen, k: &str| s.attributes.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let order = http.iter().find(|s| attr(s, "url.path").as_deref() == Some("/orders/abcd")).unwrap();
    assert_eq!(hex(&order.trace_id), HTTP_PARENT[3..35]);
    assert_eq!(hex(&order.parent_span_id), HTTP_PARENT[36..52]);
    assert_eq!(attr(order, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(attr(order, "http.response.status_code").as_deref(), Some("200"));
    assert_eq!(order.status.0, 0);
    let quote = spans.iter().find(|s| s.kind == 3 && s.parent_span_id == order.span_id).unwrap();
    assert_eq!(quote.name, "pricing/quote");
    let broken = http.iter().find(|s| attr(s, "url.path").as_deref() == Some("/broken")).unwrap();
    assert!(broken.parent_span_id.is_empty(), "no traceparent: a root");
    assert_eq!((broken.status.0, attr(broken, "http.response.status_code").as_deref()), (2, Some("500")));
    let counts = telemetry::span_counts();
    assert!(counts.exported >= 13 && counts.dropped == 0, "{counts:?}");
    let text = omnitron::metrics::Registry::global().gather_text();
    assert!(text.contains("omnitron_trace_spans_exported_total"), "{text}");
}

const HTTP_PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A GET over a plain socket, with a `traceparent` header if given: the whole answer.
async fn http_get(addr: std::net::SocketAddr, path: &str, traceparent: Option<&str>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tp = traceparent.map(|t| format!("traceparent: {t}\r\n")).unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n{tp}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs this test binary as a child with `vars`; its `RESULT` lines.
fn child(mode: &str, vars: &[(&str, String)]) -> Vec<String> {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child_role", "--exact", "--nocapture", "--test-threads=1", "-q"]).env(CHILD, mode);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "child {mode} failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().filter_map(|l| l.strip_prefix("RESULT ")).map(str::to_string).collect()
}

fn result<'a>(lines: &'a [String], key: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} in {lines:?}"))
}

/// What a child does: calls through the app with tracing from the `OTEL_*` variables.
#[test]
fn child_role() {
    let Ok(mode) = std::env::var(CHILD) else { return };
    omnitron::runtime::block_on(async {
        let app = app().await;
        let calls = 2_000;
        for i in 0..calls {
            let _: i64 = app.client.call("inventory", "reserve", &(format!("sku{i}"),)).await.unwrap();
        }
        println!("RESULT calls={calls}");
        // The callee's current context, for a call made under a known parent.
        let parent = TraceContext::root(mode != "unsampled");
        let seen: String =
            telemetry::in_context(parent.clone(), app.client.call("pricing", "context", &())).await.unwrap();
        let seen = TraceContext::from_traceparent(&seen).unwrap();
        println!("RESULT same_trace={}", seen.trace_id == parent.trace_id);
        println!("RESULT sampled={}", seen.sampled);
        app.stop().await;
    });
    let started = Instant::now();
    let flushed = telemetry::flush(Duration::from_secs(3));
    println!("RESULT flushed={flushed}");
    println!("RESULT flush_ms={}", started.elapsed().as_millis());
    let c = telemetry::span_counts();
    println!("RESULT exported={}", c.exported);
    println!("RESULT dropped={}", c.dropped);
}

#[test]
fn a_dead_collector_drops_spans_and_calls_go_on() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    // Nothing listens on the port of a listener just closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let lines = child("dead", &[("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{port}"))]);
    assert_eq!(result(&lines, "exported"), "0");
    // 2,000 calls of 4 spans each: far past the queue of 2,048, so most were dropped, and
    // counted; the calls all succeeded (the child unwraps each).
    let dropped: u64 = result(&lines, "dropped").parse().unwrap();
    assert!(dropped >= 2_000, "{lines:?}");
    assert_eq!(result(&lines, "same_trace"), "true");
}

#[test]
fn a_silent_collector_is_given_up_at_the_export_timeout() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    // Accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held =
        std::thread::spawn(move || silent.incoming().take(64).filter_map(Result::ok).collect::<Vec<_>>());
    let lines = child(
        "silent",
        &[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", format!("http://127.0.0.1:{port}/v1/traces")),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "200".into()),
        ],
    );
    assert_eq!(result(&lines, "exported"), "0");
    assert!(result(&lines, "dropped").parse::<u64>().unwrap() > 0, "{lines:?}");
    drop(held);
}

#[test]
fn a_ratio_of_zero_exports_nothing_and_still_passes_the_context_on() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let r = Receiver::start(200);
    let lines = child(
        "unsampled",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", r.endpoint()),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".into()),
            ("OTEL_TRACES_SAMPLER_ARG", "0".into()),
        ],
    );
    assert_eq!(result(&lines, "exported"), "0");
    assert_eq!(result(&lines, "dropped"), "0");
    assert_eq!(result(&lines, "flushed"), "true");
    // The callee saw the caller's trace, not sampled.
    assert_eq!(result(&lines, "same_trace"), "true");
    assert_eq!(result(&lines, "sampled"), "false");
    assert!(r.spans().is_empty());
}

#[test]
fn a_sampled_parent_from_the_variables_traces_every_call() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let r = Receiver::start(200);
    let lines = child(
        "sampled",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", r.endpoint()),
            ("OTEL_SERVICE_NAME", "orders".into()),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100000".into()),
        ],
    );
    assert_eq!(result(&lines, "dropped"), "0", "{lines:?}");
    assert_eq!(result(&lines, "sampled"), "true");
    let spans = r.spans();
    // 2,000 calls of 4 spans, and the context call's 2.
    assert_eq!(spans.len(), 8_002);
    assert!(spans.iter().all(|s| s.service == "orders"));
}

#[test]
fn bad_variables_fail_the_peer_with_the_variable_named() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child_role", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(CHILD, "bad")
        .env("OTEL_TRACES_EXPORTER", "zipkin")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("OTEL_TRACES_EXPORTER: 'zipkin' is not an exporter"), "{text}");
}
