//! The /metrics exporter, scraped over real HTTP.

use std::io::{Read, Write};
use std::net::TcpStream;

use omnitron::ErrorCode;
use omnitron::metrics::{Exporter, MetricOptions, Registry};

fn get(addr: std::net::SocketAddr, path: &str, accept: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n{accept}Connection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[test]
fn serves_metrics_over_http_and_stops() {
    let r = Registry::new();
    let c = r.counter(MetricOptions::new("scraped_total", "Scrapes")).unwrap();
    c.inc_by(3.0).unwrap();
    let exporter = Exporter::start(r.clone(), "127.0.0.1:0").unwrap();
    let addr = exporter.local_addr();
    assert_ne!(addr.port(), 0);

    let (status, body) = get(addr, "/metrics", None);
    assert_eq!(status, 200);
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap();
    let s = scrape.samples.iter().find(|s| s.metric == "scraped_total").unwrap();
    assert_eq!(s.value, prometheus_parse::Value::Counter(3.0));

    let (status, body) = get(addr, "/metrics", Some("application/openmetrics-text; version=1.0.0"));
    assert_eq!(status, 200);
    assert!(body.ends_with("# EOF\n"), "{body}");

    assert_eq!(get(addr, "/nope", None).0, 404);

    exporter.stop_blocking();
    assert!(TcpStream::connect(addr).is_err() || get_fails(addr), "the exporter stopped listening");
}

fn get_fails(addr: std::net::SocketAddr) -> bool {
    std::panic::catch_unwind(|| get(addr, "/metrics", None)).is_err()
}

#[test]
fn a_busy_address_is_a_clear_error() {
    let first = Exporter::start(Registry::new(), "127.0.0.1:0").unwrap();
    let taken = first.local_addr().to_string();
    let e = Exporter::start(Registry::new(), &taken).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExporterFailed);
    assert!(e.message().contains(&taken), "{e}");
    let e = Exporter::start(Registry::new(), "not an address").unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExporterFailed);
}
