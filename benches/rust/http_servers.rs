//! The benchmark's Rust HTTP servers (benches/http/run.py): `http-servers <hyper|hyper-timeouts|omnitron> <port>`.
//!
//! Both answer `GET /users/:id` with `{"id": "<id>", "name": "Ada Lovelace", "active": true}` and
//! `POST /users` with the body `{name, email, age}` checked (name 1..100 chars, an email, age an
//! integer 0..150) and answered 201 with an id added (400 when it is not valid).
//! `hyper` is bare hyper 1 with hand-written routing and checks: the limit of this machine;
//! `hyper-timeouts` the same with hyper's header read timeout on, as a server facing clients sets.
//! `omnitron` is an `HttpApp` whose POST declares a JSON Schema that core checks.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use omnitron::http::{AppOptions, HttpApp, HttpError, RouteSpec};
use serde_json::{Value, json};

fn user(id: &str) -> Value {
    json!({ "id": id, "name": "Ada Lovelace", "active": true })
}

fn valid(v: &Value) -> bool {
    let name = v["name"].as_str().map(|s| (1..=100).contains(&s.chars().count()));
    let email =
        v["email"].as_str().map(|e| e.split_once('@').is_some_and(|(a, d)| !a.is_empty() && d.contains('.')));
    let age = v["age"].as_u64().map(|a| a <= 150);
    name == Some(true) && email == Some(true) && age == Some(true)
}

fn reply(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", "application/json".parse().unwrap());
    r
}

async fn bare(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    if req.method() == Method::GET
        && let Some(id) = path.strip_prefix("/users/")
    {
        return Ok(reply(StatusCode::OK, serde_json::to_vec(&user(id)).unwrap()));
    }
    if req.method() == Method::POST && path == "/users" {
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return Ok(reply(StatusCode::BAD_REQUEST, Vec::new())),
        };
        return Ok(match serde_json::from_slice::<Value>(&body) {
            Ok(mut v) if valid(&v) => {
                v["id"] = json!(1);
                reply(StatusCode::CREATED, serde_json::to_vec(&v).unwrap())
            }
            _ => reply(StatusCode::BAD_REQUEST, Vec::new()),
        });
    }
    Ok(reply(StatusCode::NOT_FOUND, Vec::new()))
}

/// `timeouts`: hyper's own header read timeout (10 s, as Omnitron's server sets it against
/// slow-loris clients), which arms a timer for every request.
async fn serve_bare(port: u16, timeouts: bool) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if timeouts {
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(std::time::Duration::from_secs(10));
    }
    let builder = std::sync::Arc::new(builder);
    loop {
        let (stream, _) = listener.accept().await.expect("accept");
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        tokio::spawn(async move {
            let _ = builder.serve_connection(TokioIo::new(stream), hyper::service::service_fn(bare)).await;
        });
    }
}

async fn serve_omnitron(port: u16) {
    let schema = json!({
        "type": "object",
        "required": ["name", "email", "age"],
        "properties": {
            "name": { "type": "string", "minLength": 1, "maxLength": 100 },
            "email": { "type": "string", "format": "email" },
            "age": { "type": "integer", "minimum": 0, "maximum": 150 }
        }
    });
    // As the peers run: no security headers (none of them sets any), the rest as defaults.
    let mut options = AppOptions::default();
    options.security_headers = false;
    let app = HttpApp::new(options)
        .route(RouteSpec::new(Method::GET, "/users/:id"), |req: omnitron::http::Request| async move {
            Ok::<_, HttpError>(omnitron::http::Response::json(
                200,
                &user(req.param("id").unwrap_or_default()),
            ))
        })
        .route(
            RouteSpec::new(Method::POST, "/users").body_schema(schema),
            |req: omnitron::http::Request| async move {
                let mut v = req.input().map(|i| i.body.clone()).unwrap_or_default();
                v["id"] = json!(1);
                Ok::<_, HttpError>(omnitron::http::Response::json(201, &v))
            },
        );
    let service = app.build().expect("the app builds");
    let _server = service.listen(("127.0.0.1", port)).await.expect("listen");
    std::future::pending::<()>().await;
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (kind, port) = match (args.get(1), args.get(2).and_then(|p| p.parse::<u16>().ok())) {
        (Some(k), Some(p)) => (k.clone(), p),
        _ => {
            eprintln!("usage: http-servers <hyper|hyper-timeouts|omnitron> <port>");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    match kind.as_str() {
        "hyper" => rt.block_on(serve_bare(port, false)),
        "hyper-timeouts" => rt.block_on(serve_bare(port, true)),
        "omnitron" => rt.block_on(serve_omnitron(port)),
        _ => {
            eprintln!("unknown server '{kind}'");
            std::process::exit(2);
        }
    }
}
