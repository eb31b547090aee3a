//! TLS (`AppOptions::tls`): a self-signed certificate made in the test (rcgen), a real TLS client
//! (tokio-rustls) under hyper's client, HTTP/1.1 and h2 chosen by ALPN; unreadable files refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use omnitron::ErrorCode;
use omnitron::http::app::TlsOptions;
use omnitron::http::{AppOptions, HttpApp, HttpService, Method, Request, Response, RouteSpec};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

struct Cert {
    _dir: tempfile::TempDir,
    options: TlsOptions,
    der: CertificateDer<'static>,
}

fn self_signed() -> Cert {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let options =
        TlsOptions { cert: cert.to_string_lossy().into_owned(), key: key.to_string_lossy().into_owned() };
    Cert { _dir: dir, options, der: ck.cert.der().clone() }
}

fn app(tls: TlsOptions) -> HttpService {
    let mut o = AppOptions::default();
    o.tls = Some(tls);
    HttpApp::new(o)
        .route(RouteSpec::new(Method::GET, "/hello/:name"), |req: Request| async move {
            Ok(Response::json(200, &serde_json::json!({ "hello": req.param("name") })))
        })
        .build()
        .unwrap()
}

/// A TLS connection to `addr` trusting `root`, offering `alpn`; the protocol the server chose.
async fn connect(
    addr: SocketAddr,
    root: &CertificateDer<'static>,
    alpn: &[u8],
) -> (tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    #[allow(deprecated)] // the server's provider; see core/src/http/tls.rs
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("the TLS handshake succeeds");
    let chosen = tls.get_ref().1.alpn_protocol().unwrap_or_default().to_vec();
    (tls, chosen)
}

fn request(addr: SocketAddr, path: &str) -> hyper::Request<Empty<Bytes>> {
    hyper::Request::builder()
        .uri(format!("https://localhost:{}{path}", addr.port()))
        .body(Empty::new())
        .unwrap()
}

/// `f`, or a failed test after 30 s (never a hang).
async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f).await.expect("an answer within 30 s")
}

#[tokio::test]
async fn http1_and_h2_over_tls() {
    let cert = self_signed();
    let svc = app(cert.options.clone());
    let server = svc.listen("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();

    let (tls, alpn) = within(connect(addr, &cert.der, b"http/1.1")).await;
    assert_eq!(alpn, b"http/1.1");
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let res = within(send.send_request(request(addr, "/hello/h1"))).await.unwrap();
    assert_eq!((res.status().as_u16(), res.version()), (200, hyper::Version::HTTP_11));
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#"{"hello":"h1"}"#);

    let (tls, alpn) = within(connect(addr, &cert.der, b"h2")).await;
    assert_eq!(alpn, b"h2");
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    for name in ["a", "b"] {
        let res = within(send.send_request(request(addr, &format!("/hello/{name}")))).await.unwrap();
        assert_eq!((res.status().as_u16(), res.version()), (200, hyper::Version::HTTP_2));
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, format!(r#"{{"hello":"{name}"}}"#));
    }
    // The ready probe works over TLS like any route.
    let res = within(send.send_request(request(addr, "/health/ready"))).await.unwrap();
    assert_eq!(res.status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn a_cleartext_client_gets_no_answer_and_the_server_keeps_serving() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cert = self_signed();
    let server = app(cert.options.clone()).listen("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /hello/x HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), tcp.read_to_end(&mut buf)).await.unwrap();
    assert!(!buf.starts_with(b"HTTP/1.1 200"), "no cleartext answer on a TLS port");
    let (_tls, alpn) = connect(addr, &cert.der, b"h2").await;
    assert_eq!(alpn, b"h2");
    server.shutdown().await;
}

#[tokio::test]
async fn certificates_that_cannot_be_used_are_refused_at_listen() {
    let cert = self_signed();
    let missing = TlsOptions { cert: "/nonexistent/cert.pem".into(), key: cert.options.key.clone() };
    let e = app(missing).listen("127.0.0.1:0").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::HttpServerFailed);
    assert!(e.message().contains("/nonexistent/cert.pem"), "{}", e.message());

    // A key that is not the certificate's.
    let other = self_signed();
    let mismatched = TlsOptions { cert: cert.options.cert.clone(), key: other.options.key.clone() };
    let e = app(mismatched).listen("127.0.0.1:0").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::HttpServerFailed);
    assert!(e.message().contains("does not fit"), "{}", e.message());

    // A file that is not PEM.
    let garbage = cert._dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let e = app(TlsOptions { cert: garbage.to_string_lossy().into_owned(), key: cert.options.key.clone() })
        .listen("127.0.0.1:0")
        .await
        .unwrap_err();
    assert!(e.message().contains("no PEM certificate"), "{}", e.message());
}
