//! The HTTP server over real sockets: hyper's client for well-formed requests (HTTP/1.1 and
//! HTTP/2 with prior knowledge), raw TCP writes for pipelining and slow clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use omnitron::http::{HttpError, HttpOptions, HttpServer, Request, Response, Router};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Set when the `/slow` handler has started (only the shutdown test calls it).
static SLOW_STARTED: AtomicBool = AtomicBool::new(false);

/// Generous: the machine is shared and noisy.
const PATIENCE: Duration = Duration::from_secs(30);

async fn user(req: Request) -> Result<Response, HttpError> {
    Ok(Response::json(
        200,
        &json!({
            "id": req.param("id"),
            "q": req.query("q"),
            "page": req.query("page"),
            "requestId": req.request_id(),
        }),
    ))
}

async fn echo(req: Request) -> Result<Response, HttpError> {
    let v: Value = req.json()?;
    Ok(Response::json(201, &v))
}

async fn path(req: Request) -> Result<Response, HttpError> {
    Ok(Response::text(200, req.path().to_string()))
}

fn router() -> Router {
    let panicking = Arc::new(AtomicBool::new(true));
    Router::new()
        .get("/users/:id", user)
        .post("/echo", echo)
        .get("/users", |_req| async { Ok(Response::text(200, "all users")) })
        .get("/files/*rest", |req: Request| async move {
            Ok(Response::text(200, req.param("rest").unwrap_or_default().to_string()))
        })
        .get("/p/:x", path)
        .delete("/users/:id", |_req| async { Ok(Response::empty(204)) })
        .get("/boom", move |_req| {
            let first = panicking.swap(false, Ordering::SeqCst);
            async move {
                if first {
                    panic!("handler exploded");
                }
                Ok(Response::text(200, "fine now"))
            }
        })
        .get("/fail", |_req| async { Err(HttpError::internal("it broke")) })
        .get("/slow", |_req| async {
            SLOW_STARTED.store(true, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Ok(Response::text(200, "slow done"))
        })
}

async fn start(options: HttpOptions) -> HttpServer {
    HttpServer::bind("127.0.0.1:0", router(), options).await.unwrap()
}

struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    body: Bytes,
    version: hyper::Version,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
}

async fn send_with(
    http2: bool,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut b = Client::builder(TokioExecutor::new());
    b.http2_only(http2);
    let client: Client<_, Full<Bytes>> = b.build_http();
    let mut req = hyper::Request::builder().method(method).uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
    let res = tokio::time::timeout(PATIENCE, client.request(req)).await.unwrap().unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer { status: parts.status.as_u16(), headers: parts.headers, body, version: parts.version }
}

async fn send(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Answer {
    send_with(false, addr, method, path, &[], body).await
}

fn assert_problem(a: &Answer, status: u16, code: &str) -> Value {
    assert_eq!(a.status, status, "{:?}", a.body);
    assert_eq!(a.header("content-type"), "application/problem+json");
    let doc = a.json();
    assert_eq!(doc["status"], status);
    assert_eq!(doc["code"], code);
    assert_eq!(doc["type"], "about:blank");
    assert!(doc["title"].is_string());
    assert_eq!(doc["requestId"], a.header("x-request-id"));
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_params_query_json_and_problems() {
    let server = start(HttpOptions::default()).await;
    let addr = server.local_addr();

    let a = send(addr, "GET", "/users/42?q=hello+world&page=2", b"").await;
    assert_eq!(a.status, 200);
    let doc = a.json();
    assert_eq!(
        (doc["id"].as_str(), doc["q"].as_str(), doc["page"].as_str()),
        (Some("42"), Some("hello world"), Some("2"))
    );
    assert_eq!(a.header("content-type"), "application/json");

    let a = send(addr, "GET", "/files/a/b%20c.txt", b"").await;
    assert_eq!(&a.body[..], b"a/b c.txt");

    let a = send(addr, "POST", "/echo", br#"{"name":"ada","tags":[1,2]}"#).await;
    assert_eq!(a.status, 201);
    assert_eq!(a.json(), json!({"name": "ada", "tags": [1, 2]}));

    let a = send(addr, "POST", "/echo", b"{not json").await;
    let doc = assert_problem(&a, 400, "H001");
    assert_eq!(doc["instance"], "/echo");

    let a = send(addr, "GET", "/nope", b"").await;
    let doc = assert_problem(&a, 404, "H002");
    assert_eq!(doc["instance"], "/nope");

    let a = send(addr, "PUT", "/users/1", b"").await;
    assert_problem(&a, 405, "H003");
    assert_eq!(a.header("allow"), "GET, DELETE, HEAD");

    let a = send(addr, "GET", "/fail", b"").await;
    assert_problem(&a, 500, "H005");

    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_head_trailing_slash_and_request_ids() {
    let server = start(HttpOptions::default().body_limit(1024)).await;
    let addr = server.local_addr();

    let a = send(addr, "POST", "/echo", &vec![b' '; 4096]).await;
    assert_problem(&a, 413, "H004");
    // A chunked body with no declared length is cut off at the limit too.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let chunk = "x".repeat(512);
    let mut req = String::from(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    for _ in 0..3 {
        req.push_str(&format!("200\r\n{chunk}\r\n"));
    }
    req.push_str("0\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let out = read_until_closed(&mut s).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("\"code\":\"H004\""), "{text}");
    // Under the limit still works.
    let a = send(addr, "POST", "/echo", b"[1]").await;
    assert_eq!(a.status, 201);

    let get = send(addr, "GET", "/users/7", b"").await;
    let head = send(addr, "HEAD", "/users/7", b"").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), get.body.len().to_string());

    for p in ["/users", "/users/", "//users//"] {
        let a = send(addr, "GET", p, b"").await;
        assert_eq!((a.status, &a.body[..]), (200, &b"all users"[..]), "{p}");
    }
    let a = send(addr, "GET", "/users/9/", b"").await;
    assert_eq!(a.json()["id"], "9");

    let a = send_with(false, addr, "GET", "/users/1", &[("x-request-id", "trace-abc-123")], b"").await;
    assert_eq!(a.header("x-request-id"), "trace-abc-123");
    assert_eq!(a.json()["requestId"], "trace-abc-123");
    let a = send_with(false, addr, "GET", "/nope", &[("x-request-id", "trace-404")], b"").await;
    assert_eq!(a.json()["requestId"], "trace-404");
    let long = "x".repeat(200);
    let a = send_with(false, addr, "GET", "/users/1", &[("x-request-id", &long)], b"").await;
    let made = a.header("x-request-id").to_string();
    assert_eq!(made.len(), 32);
    assert!(made.bytes().all(|b| b.is_ascii_hexdigit()));
    let b = send(addr, "GET", "/users/1", b"").await;
    assert_ne!(b.header("x-request-id"), made);

    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_a_500_and_the_server_keeps_serving() {
    let server = start(HttpOptions::default()).await;
    let addr = server.local_addr();
    let a = send(addr, "GET", "/boom", b"").await;
    let doc = assert_problem(&a, 500, "H005");
    assert_eq!(doc["instance"], "/boom");
    let a = send(addr, "GET", "/boom", b"").await;
    assert_eq!((a.status, &a.body[..]), (200, &b"fine now"[..]));
    let a = send(addr, "GET", "/users/1", b"").await;
    assert_eq!(a.status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_with_prior_knowledge() {
    let server = start(HttpOptions::default()).await;
    let a = send_with(true, server.local_addr(), "GET", "/users/5?q=h2", &[], b"").await;
    assert_eq!(a.version, hyper::Version::HTTP_2);
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["q"], "h2");
    let a = send_with(true, server.local_addr(), "GET", "/nope", &[], b"").await;
    assert_problem(&a, 404, "H002");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let server = start(HttpOptions::default()).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut reqs = String::new();
    for i in 0..5 {
        reqs.push_str(&format!("GET /p/r{i} HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
    reqs.push_str("GET /p/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(reqs.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut out)).await.unwrap().unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 6, "{text}");
    let mut at = 0;
    for p in ["/p/r0", "/p/r1", "/p/r2", "/p/r3", "/p/r4", "/p/last"] {
        let found =
            text[at..].find(&format!("\r\n\r\n{p}")).unwrap_or_else(|| panic!("{p} out of order: {text}"));
        at += found + p.len();
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_client_is_cut_off_while_others_are_served() {
    let server = start(HttpOptions::default().header_read_timeout(Duration::from_secs(2))).await;
    let addr = server.local_addr();
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let loris = tokio::spawn(async move {
        // One byte a second, never finishing the headers.
        let headers = b"GET /users/1 HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for b in headers {
            if wr.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    // Another client is served meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let a = send(addr, "GET", "/users/2", b"").await;
    assert_eq!(a.status, 200);
    // The slow one is closed well before its headers would end (~70 s).
    let mut out = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, rd.read_to_end(&mut out)).await;
    assert!(closed.is_ok(), "the slow client was not cut off");
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("200 OK"), "{text}");
    loris.abort();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_a_request_in_flight() {
    let server = start(HttpOptions::default()).await;
    let addr = server.local_addr();
    let in_flight = tokio::spawn(async move { send(addr, "GET", "/slow", b"").await });
    // Let the request reach its handler.
    tokio::time::timeout(PATIENCE, async {
        while !SLOW_STARTED.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    tokio::time::timeout(PATIENCE, server.shutdown()).await.unwrap();
    let a = in_flight.await.unwrap();
    assert_eq!((a.status, &a.body[..]), (200, &b"slow done"[..]));
    // Nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_closed_at_once() {
    let server = start(HttpOptions::default().max_connections(1)).await;
    let addr = server.local_addr();
    let _held = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let _ = extra.write_all(b"GET /users/1 HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut out = Vec::new();
    let r = tokio::time::timeout(PATIENCE, extra.read_to_end(&mut out)).await.unwrap();
    assert!(r.is_err() || out.is_empty(), "{:?}", String::from_utf8_lossy(&out));
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_route_is_refused_at_bind() {
    let ok = |_req: Request| async { Ok(Response::empty(204)) };
    let e = HttpServer::bind(
        "127.0.0.1:0",
        Router::new().get("/a/:x", ok).get("/a/:y", ok),
        HttpOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), omnitron::ErrorCode::InvalidRoute);
}

/// What the server sent before it closed the connection (a reset ends it too).
async fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, s.read(&mut buf)).await.expect("the server did not close") {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_is_a_408_and_one_sent_in_parts_is_read_whole() {
    let server = start(HttpOptions::default().body_read_timeout(Duration::from_millis(500))).await;
    let addr = server.local_addr();

    // Part of the body, then nothing: 408 (H008) once the body read timeout has passed.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"a\":")
        .await
        .unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).await.unwrap_or(0);
            out.extend_from_slice(&buf[..n]);
            if n == 0 || String::from_utf8_lossy(&out).contains("H008") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the stalled body got no answer");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("H008"), "{text}");

    // The head, then the body in two parts well within the timeout: read whole.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"a\":")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.write_all(b"\"hello\"}").await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut out)).await.expect("an answer").unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    assert!(text.ends_with("{\"a\":\"hello\"}"), "{text}");
    server.shutdown().await;
}
