//! An OTLP/HTTP receiver for the tests: a real listening socket taking real POSTs, and a protobuf
//! reader for what arrives (the wire format, field by field: nothing generated, nothing trusted
//! from the encoder under test).

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// Collects the bodies POSTed to it.
pub struct Receiver {
    pub port: u16,
    pub bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Receiver {
    /// Answers every request with `status` (200: accepted).
    pub fn start(status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let keep = bodies.clone();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { continue };
                let mut got = Vec::new();
                let mut buf = [0u8; 8192];
                let body_at = loop {
                    let n = s.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(i + 4);
                    }
                };
                let Some(at) = body_at else { continue };
                let head = String::from_utf8_lossy(&got[..at]).to_ascii_lowercase();
                assert!(head.starts_with("post /v1/traces http/1.1"), "{head}");
                assert!(head.contains("content-type: application/x-protobuf"), "{head}");
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap();
                while got.len() < at + len {
                    let n = s.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                keep.lock().unwrap().push(got[at..at + len].to_vec());
                let _ = write!(s, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        Receiver { port, bodies }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<SpanSeen> {
        let bodies = self.bodies.lock().unwrap().clone();
        bodies.iter().flat_map(|b| decode_request(b)).collect()
    }
}

/// A protobuf field's value.
#[derive(Debug, Clone)]
pub enum Field {
    Varint(u64),
    Fixed64(u64),
    Bytes(Vec<u8>),
    Fixed32(u32),
}

/// A message's fields, in order.
pub fn fields(mut b: &[u8]) -> Vec<(u32, Field)> {
    fn varint(b: &mut &[u8]) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = b[0];
            *b = &b[1..];
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b);
        let (field, wire) = ((key >> 3) as u32, key & 7);
        let v = match wire {
            0 => Field::Varint(varint(&mut b)),
            1 => {
                let v = u64::from_le_bytes(b[..8].try_into().unwrap());
                b = &b[8..];
                Field::Fixed64(v)
            }
            2 => {
                let n = varint(&mut b) as usize;
                let v = b[..n].to_vec();
                b = &b[n..];
                Field::Bytes(v)
            }
            5 => {
                let v = u32::from_le_bytes(b[..4].try_into().unwrap());
                b = &b[4..];
                Field::Fixed32(v)
            }
            w => panic!("wire type {w}"),
        };
        out.push((field, v));
    }
    out
}

fn bytes_of(fs: &[(u32, Field)], n: u32) -> Vec<&[u8]> {
    fs.iter()
        .filter_map(|(f, v)| match v {
            Field::Bytes(b) if *f == n => Some(b.as_slice()),
            _ => None,
        })
        .collect()
}

/// A span as received.
#[derive(Debug, Clone)]
pub struct SpanSeen {
    pub service: String,
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
    pub parent_span_id: Vec<u8>,
    pub name: String,
    pub kind: u64,
    pub start: u64,
    pub end: u64,
    pub attributes: Vec<(String, String)>,
    /// Status code (0 unset, 1 ok, 2 error) and message.
    pub status: (u64, String),
}

fn key_values(fs: &[(u32, Field)], n: u32) -> Vec<(String, String)> {
    bytes_of(fs, n)
        .into_iter()
        .map(|kv| {
            let kv = fields(kv);
            let key = String::from_utf8(bytes_of(&kv, 1)[0].to_vec()).unwrap();
            let any = fields(bytes_of(&kv, 2)[0]);
            let value = match &any[0] {
                (1, Field::Bytes(s)) => String::from_utf8(s.clone()).unwrap(),
                (3, Field::Varint(i)) => (*i as i64).to_string(),
                (2, Field::Varint(b)) => (*b == 1).to_string(),
                other => format!("{other:?}"),
            };
            (key, value)
        })
        .collect()
}

/// The spans of one `ExportTraceServiceRequest`.
pub fn decode_request(b: &[u8]) -> Vec<SpanSeen> {
    let mut out = Vec::new();
    for rs in bytes_of(&fields(b), 1) {
        let rs = fields(rs);
        let resource = fields(bytes_of(&rs, 1)[0]);
        let res_attrs = key_values(&resource, 1);
        let service = res_attrs.iter().find(|(k, _)| k == "service.name").map(|(_, v)| v.clone()).unwrap();
        for ss in bytes_of(&rs, 2) {
            for span in bytes_of(&fields(ss), 2) {
                let s = fields(span);
                let one = |n: u32| bytes_of(&s, n).first().map(|b| b.to_vec()).unwrap_or_default();
                let fixed = |n: u32| {
                    s.iter()
                        .find_map(|(f, v)| match v {
                            Field::Fixed64(x) if *f == n => Some(*x),
                            _ => None,
                        })
                        .unwrap()
                };
                let kind = s
                    .iter()
                    .find_map(|(f, v)| match v {
                        Field::Varint(k) if *f == 6 => Some(*k),
                        _ => None,
                    })
                    .unwrap_or(0);
                let status = match bytes_of(&s, 15).first() {
                    Some(st) => {
                        let st = fields(st);
                        let code = st
                            .iter()
                            .find_map(|(f, v)| match v {
                                Field::Varint(c) if *f == 3 => Some(*c),
                                _ => None,
                            })
                            .unwrap_or(0);
                        let msg = bytes_of(&st, 2).first().map(|m| String::from_utf8(m.to_vec()).unwrap());
                        (code, msg.unwrap_or_default())
                    }
                    None => (0, String::new()),
                };
                out.push(SpanSeen {
                    service: service.clone(),
                    trace_id: one(1),
                    span_id: one(2),
                    parent_span_id: one(4),
                    name: String::from_utf8(one(5)).unwrap(),
                    kind,
                    start: fixed(7),
                    end: fixed(8),
                    attributes: key_values(&s, 9),
                    status,
                });
            }
        }
    }
    out
}
