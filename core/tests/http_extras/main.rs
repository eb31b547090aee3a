//! The app's extras over real sockets (hyper's client) and in-process: `@Cached` (ETag, 304,
//! answers kept per user), `@Upload` (multipart, 413, 415, 400), `@Paginated`, the health
//! routes, per-route metrics and `/metrics`.

mod cache;
mod health;
mod metrics;
mod paginate;
mod upload;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use omnitron::http::Method;
use serde_json::Value;

/// An answer read in full.
#[derive(Debug)]
pub(crate) struct Got {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Got {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or_else(|| panic!("no {name} header"))
    }
}

/// Sends one request over a socket (HTTP/1.1) and reads the answer.
pub(crate) async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Got {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut b = hyper::Request::builder().method(method).uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Full::new(body.into())).unwrap();
    let res = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("the server answers")
        .expect("the request goes through");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Got { status, headers, body }
}

/// GET with no headers.
pub(crate) async fn get(addr: SocketAddr, path: &str) -> Got {
    send(addr, Method::GET, path, &[], Bytes::new()).await
}

/// Without the `http-tls` feature, `tls` options are refused at listen rather than ignored.
#[cfg(not(feature = "http-tls"))]
#[tokio::test]
async fn tls_options_without_the_feature_are_refused() {
    let mut o = omnitron::http::AppOptions::default();
    o.tls = Some(omnitron::http::app::TlsOptions { cert: "c.pem".into(), key: "k.pem".into() });
    let e = omnitron::http::HttpApp::new(o).build().unwrap().listen("127.0.0.1:0").await.unwrap_err();
    assert_eq!(e.code(), omnitron::ErrorCode::HttpServerFailed);
    assert!(e.message().contains("http-tls"), "{}", e.message());
}
