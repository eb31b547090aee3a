//! The protocol's messages (docs/PROTOCOL.md) and their encoding. Payloads stay raw MessagePack
//! (`Bytes` slices of the frame), so a router forwards them without decoding.

use bytes::Bytes;

use super::msgpack::{Reader, write_array_len, write_bool, write_map_len, write_nil, write_str, write_uint};
use crate::error::{Error, ErrorCode, Result};

/// The protocol version this engine speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Who is at the other end of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerInfo {
    /// A name for logs and errors (a process or service name).
    pub name: String,
    /// The language of the peer: `rust`, `c`, `node`, `python`, ...
    pub lang: String,
    /// Its process id.
    pub pid: u64,
    /// It reads a PUBLISH with a trace (a fourth field): announced as `trace_events` in its
    /// HELLO or WELCOME. A peer that did not announce it is sent events without their trace.
    pub trace_events: bool,
}

impl PeerInfo {
    /// This process, speaking for `lang`.
    pub fn this_process(name: impl Into<String>, lang: impl Into<String>) -> Self {
        PeerInfo {
            name: name.into(),
            lang: lang.into(),
            pid: u64::from(std::process::id()),
            trace_events: true,
        }
    }
}

/// An error as it crosses the wire: a stable code, a message, and optional data (raw MessagePack).
#[derive(Debug, Clone, PartialEq)]
pub struct WireError {
    /// The code's string id (`RPC001`, `E006`, or an application's own).
    pub code: String,
    /// What happened.
    pub message: String,
    /// Extra data, raw MessagePack.
    pub data: Option<Bytes>,
}

impl WireError {
    /// The wire form of an engine error.
    pub fn from_error(e: &Error) -> Self {
        WireError { code: e.code().as_str().to_string(), message: e.message().to_string(), data: None }
    }

    /// The engine error for a wire error. Codes this engine does not know become `HandlerFailed`
    /// with the original code kept in the message.
    pub fn to_error(&self) -> Error {
        match ErrorCode::from_id(&self.code) {
            Some(code) => Error::new(code, self.message.clone()),
            None => Error::new(ErrorCode::HandlerFailed, format!("[{}] {}", self.code, self.message)),
        }
    }
}

/// A call.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Unique among the sender's calls in flight on the connection.
    pub id: u64,
    /// `name`, `name@version` or `name@range`.
    pub target: String,
    /// The method.
    pub method: String,
    /// The arguments: a raw MessagePack array.
    pub args: Bytes,
    /// Milliseconds the caller will wait (0: the callee's default).
    pub deadline_ms: u32,
    /// Trace context, a raw MessagePack map.
    pub trace: Option<Bytes>,
    /// Whether the answer is a stream.
    pub stream: bool,
}

impl Request {
    /// Encodes a request from borrowed parts (the hot path: no owned strings per call).
    #[allow(clippy::too_many_arguments)]
    pub fn encode_body(
        out: &mut Vec<u8>,
        id: u64,
        target: &str,
        method: &str,
        args: &[u8],
        deadline_ms: u32,
        trace: Option<&Bytes>,
        stream: bool,
    ) {
        write_array_len(out, 8);
        write_uint(out, 2);
        write_uint(out, id);
        write_str(out, target);
        write_str(out, method);
        out.extend_from_slice(args);
        write_uint(out, u64::from(deadline_ms));
        match trace {
            Some(t) => out.extend_from_slice(t),
            None => write_nil(out),
        }
        write_bool(out, stream);
    }

    /// [`Request::encode_body`] as a whole frame.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_frame(
        out: &mut Vec<u8>,
        id: u64,
        target: &str,
        method: &str,
        args: &[u8],
        deadline_ms: u32,
        trace: Option<&Bytes>,
        stream: bool,
    ) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        Request::encode_body(out, id, target, method, args, deadline_ms, trace, stream);
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }
}

/// One protocol message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// First frame of the connecting side.
    Hello {
        /// Protocol version.
        version: u32,
        /// Who connects.
        peer: PeerInfo,
        /// The auth token.
        token: Option<String>,
    },
    /// The accepting side's answer.
    Welcome {
        /// Protocol version.
        version: u32,
        /// Who accepted.
        peer: PeerInfo,
    },
    /// A call.
    Request(Request),
    /// A call's value (raw MessagePack).
    Result {
        /// The call.
        id: u64,
        /// The value.
        value: Bytes,
    },
    /// A call's failure (id 0: the connection is being closed).
    Error {
        /// The call.
        id: u64,
        /// Why.
        error: WireError,
    },
    /// Stop a call.
    Cancel {
        /// The call.
        id: u64,
    },
    /// One item of a streaming answer.
    StreamItem {
        /// The call.
        id: u64,
        /// The item (raw MessagePack).
        value: Bytes,
    },
    /// The end of a streaming answer.
    StreamEnd {
        /// The call.
        id: u64,
    },
    /// More items the caller can take.
    StreamCredit {
        /// The call.
        id: u64,
        /// How many.
        n: u32,
    },
    /// Deliver events matching `pattern`.
    Subscribe {
        /// The subscriber's id for it.
        sub: u64,
        /// The pattern.
        pattern: String,
    },
    /// Stop delivering.
    Unsubscribe {
        /// The subscriber's id.
        sub: u64,
    },
    /// An event.
    Publish {
        /// Its topic.
        topic: String,
        /// Its payload (raw MessagePack).
        payload: Bytes,
        /// The publisher's trace context (a raw MessagePack map, as a REQUEST's), when it had one:
        /// subscribers' handlers run in it.
        trace: Option<Bytes>,
    },
    /// Are you there?
    Ping(u64),
    /// Yes.
    Pong(u64),
    /// The connecting side hosts a service.
    Register {
        /// Service name.
        name: String,
        /// Its version.
        version: String,
        /// Its public methods.
        methods: Vec<String>,
        /// Those of them that answer with a stream.
        streams: Vec<String>,
    },
    /// It no longer does.
    Unregister {
        /// Service name.
        name: String,
        /// Its version.
        version: String,
    },
}

impl Message {
    /// This PUBLISH as `to` can read it: without its trace for a peer that did not announce
    /// `trace_events` (an older one would refuse a four-field frame). Anything else as it is.
    pub(crate) fn publish_for(&self, to: &PeerInfo) -> std::borrow::Cow<'_, Message> {
        match self {
            Message::Publish { topic, payload, trace: Some(_) } if !to.trace_events => {
                std::borrow::Cow::Owned(Message::Publish {
                    topic: topic.clone(),
                    payload: payload.clone(),
                    trace: None,
                })
            }
            m => std::borrow::Cow::Borrowed(m),
        }
    }
}

fn write_peer(out: &mut Vec<u8>, p: &PeerInfo) {
    write_map_len(out, if p.trace_events { 4 } else { 3 });
    write_str(out, "name");
    write_str(out, &p.name);
    write_str(out, "lang");
    write_str(out, &p.lang);
    write_str(out, "pid");
    write_uint(out, p.pid);
    if p.trace_events {
        write_str(out, "trace_events");
        out.push(0xc3); // true
    }
}

fn read_peer(r: &mut Reader) -> Result<PeerInfo> {
    let n = r.map_len()?;
    let mut p = PeerInfo::default();
    for _ in 0..n {
        match r.str()?.as_str() {
            "name" => p.name = r.str()?,
            "lang" => p.lang = r.str()?,
            "pid" => p.pid = r.uint()?,
            "trace_events" => p.trace_events = r.bool()?,
            _ => r.skip_value()?,
        }
    }
    Ok(p)
}

fn write_error(out: &mut Vec<u8>, e: &WireError) {
    write_map_len(out, if e.data.is_some() { 3 } else { 2 });
    write_str(out, "code");
    write_str(out, &e.code);
    write_str(out, "message");
    write_str(out, &e.message);
    if let Some(d) = &e.data {
        write_str(out, "data");
        out.extend_from_slice(d);
    }
}

fn read_error(r: &mut Reader) -> Result<WireError> {
    let n = r.map_len()?;
    let mut e = WireError { code: String::new(), message: String::new(), data: None };
    for _ in 0..n {
        match r.str()?.as_str() {
            "code" => e.code = r.str()?,
            "message" => e.message = r.str()?,
            "data" => e.data = Some(r.raw()?),
            _ => r.skip_value()?,
        }
    }
    if e.code.is_empty() {
        return Err(Error::new(ErrorCode::ProtocolError, "malformed message: an error without a code"));
    }
    Ok(e)
}

impl Message {
    /// Appends this message as one frame (length prefix included) to `out`.
    pub fn encode_frame(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        self.encode_body(out);
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// The message's MessagePack encoding, without the length prefix.
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Message::Hello { version, peer, token } => {
                write_array_len(out, 4);
                write_uint(out, 0);
                write_uint(out, u64::from(*version));
                write_peer(out, peer);
                match token {
                    Some(t) => write_str(out, t),
                    None => write_nil(out),
                }
            }
            Message::Welcome { version, peer } => {
                write_array_len(out, 3);
                write_uint(out, 1);
                write_uint(out, u64::from(*version));
                write_peer(out, peer);
            }
            Message::Request(r) => Request::encode_body(
                out,
                r.id,
                &r.target,
                &r.method,
                &r.args,
                r.deadline_ms,
                r.trace.as_ref(),
                r.stream,
            ),
            Message::Result { id, value } => {
                write_array_len(out, 3);
                write_uint(out, 3);
                write_uint(out, *id);
                out.extend_from_slice(value);
            }
            Message::Error { id, error } => {
                write_array_len(out, 3);
                write_uint(out, 4);
                write_uint(out, *id);
                write_error(out, error);
            }
            Message::Cancel { id } => {
                write_array_len(out, 2);
                write_uint(out, 5);
                write_uint(out, *id);
            }
            Message::StreamItem { id, value } => {
                write_array_len(out, 3);
                write_uint(out, 6);
                write_uint(out, *id);
                out.extend_from_slice(value);
            }
            Message::StreamEnd { id } => {
                write_array_len(out, 2);
                write_uint(out, 7);
                write_uint(out, *id);
            }
            Message::StreamCredit { id, n } => {
                write_array_len(out, 3);
                write_uint(out, 8);
                write_uint(out, *id);
                write_uint(out, u64::from(*n));
            }
            Message::Subscribe { sub, pattern } => {
                write_array_len(out, 3);
                write_uint(out, 9);
                write_uint(out, *sub);
                write_str(out, pattern);
            }
            Message::Unsubscribe { sub } => {
                write_array_len(out, 2);
                write_uint(out, 10);
                write_uint(out, *sub);
            }
            Message::Publish { topic, payload, trace } => {
                // The trace is a fourth field only when there is one: an untraced event is the
                // three-field frame every version reads.
                write_array_len(out, if trace.is_some() { 4 } else { 3 });
                write_uint(out, 11);
                write_str(out, topic);
                out.extend_from_slice(payload);
                if let Some(t) = trace {
                    out.extend_from_slice(t);
                }
            }
            Message::Ping(n) | Message::Pong(n) => {
                write_array_len(out, 2);
                write_uint(out, if matches!(self, Message::Ping(_)) { 12 } else { 13 });
                write_uint(out, *n);
            }
            Message::Register { name, version, methods, streams } => {
                write_array_len(out, 5);
                write_uint(out, 14);
                write_str(out, name);
                write_str(out, version);
                for list in [methods, streams] {
                    write_array_len(out, list.len());
                    for m in list {
                        write_str(out, m);
                    }
                }
            }
            Message::Unregister { name, version } => {
                write_array_len(out, 3);
                write_uint(out, 15);
                write_str(out, name);
                write_str(out, version);
            }
        }
    }

    /// Decodes one frame body. Anything but exactly one well-formed message is a `ProtocolError`.
    /// Whether a frame's body is a REQUEST, from its first bytes (without decoding it).
    pub(crate) fn is_request(body: &[u8]) -> bool {
        let kind_at = match body.first() {
            Some(0x90..=0x9f) => 1,
            Some(0xdc) => 3,
            Some(0xdd) => 5,
            _ => return false,
        };
        body.get(kind_at) == Some(&2)
    }

    pub fn decode(body: Bytes) -> Result<Message> {
        let mut r = Reader::new(body);
        let n = r.array_len()?;
        let kind = r.uint()?;
        let expect = |want: usize| -> Result<()> {
            if n == want {
                Ok(())
            } else {
                Err(Error::new(
                    ErrorCode::ProtocolError,
                    format!("malformed message: kind {kind} has {} field(s), expected {}", n, want),
                ))
            }
        };
        let m = match kind {
            0 => {
                expect(4)?;
                let version = r.u32()?;
                let peer = read_peer(&mut r)?;
                let token = if r.nil() { None } else { Some(r.str()?) };
                Message::Hello { version, peer, token }
            }
            1 => {
                expect(3)?;
                Message::Welcome { version: r.u32()?, peer: read_peer(&mut r)? }
            }
            2 => {
                expect(8)?;
                let id = r.uint()?;
                let target = r.str()?;
                let method = r.str()?;
                let args = r.raw_array()?;
                let deadline_ms = r.u32()?;
                let trace = if r.nil() { None } else { Some(r.raw()?) };
                let stream = r.bool()?;
                Message::Request(Request { id, target, method, args, deadline_ms, trace, stream })
            }
            3 => {
                expect(3)?;
                Message::Result { id: r.uint()?, value: r.raw()? }
            }
            4 => {
                expect(3)?;
                Message::Error { id: r.uint()?, error: read_error(&mut r)? }
            }
            5 => {
                expect(2)?;
                Message::Cancel { id: r.uint()? }
            }
            6 => {
                expect(3)?;
                Message::StreamItem { id: r.uint()?, value: r.raw()? }
            }
            7 => {
                expect(2)?;
                Message::StreamEnd { id: r.uint()? }
            }
            8 => {
                expect(3)?;
                Message::StreamCredit { id: r.uint()?, n: r.u32()? }
            }
            9 => {
                expect(3)?;
                Message::Subscribe { sub: r.uint()?, pattern: r.str()? }
            }
            10 => {
                expect(2)?;
                Message::Unsubscribe { sub: r.uint()? }
            }
            11 => {
                if n != 4 {
                    expect(3)?;
                }
                let (topic, payload) = (r.str()?, r.raw()?);
                let trace = if n == 4 && !r.nil() { Some(r.raw()?) } else { None };
                Message::Publish { topic, payload, trace }
            }
            12 => {
                expect(2)?;
                Message::Ping(r.uint()?)
            }
            13 => {
                expect(2)?;
                Message::Pong(r.uint()?)
            }
            14 => {
                expect(5)?;
                let name = r.str()?;
                let version = r.str()?;
                let mut lists = [Vec::new(), Vec::new()];
                for list in &mut lists {
                    let count = r.array_len()?;
                    list.reserve(count.min(1024));
                    for _ in 0..count {
                        list.push(r.str()?);
                    }
                }
                let [methods, streams] = lists;
                Message::Register { name, version, methods, streams }
            }
            15 => {
                expect(3)?;
                Message::Unregister { name: r.str()?, version: r.str()? }
            }
            other => {
                return Err(Error::new(ErrorCode::ProtocolError, format!("unknown message kind {other}")));
            }
        };
        if !r.at_end() {
            return Err(Error::new(ErrorCode::ProtocolError, "malformed message: bytes after the message"));
        }
        Ok(m)
    }
}

/// A wire error with `code` and `message`.
pub(crate) fn wire(code: ErrorCode, message: impl Into<String>) -> WireError {
    WireError { code: code.as_str().to_string(), message: message.into(), data: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(m: Message) {
        let mut out = Vec::new();
        m.encode_frame(&mut out);
        let len = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        assert_eq!(len, out.len() - 4);
        assert_eq!(Message::decode(Bytes::copy_from_slice(&out[4..])).unwrap(), m);
    }

    #[test]
    fn an_older_peer_is_sent_events_without_their_trace() {
        let traced = Message::Publish {
            topic: "order.placed".into(),
            payload: Bytes::from_static(&[0x01]),
            trace: Some(Bytes::from_static(&[0x80])),
        };
        let old = PeerInfo { trace_events: false, ..PeerInfo::default() };
        let new = PeerInfo::this_process("p", "rust");
        assert!(matches!(&*traced.publish_for(&old), Message::Publish { trace: None, .. }));
        assert_eq!(&*traced.publish_for(&new), &traced);
        // What an older peer reads: three fields, as before.
        let mut out = Vec::new();
        traced.publish_for(&old).encode_frame(&mut out);
        assert_eq!(out[4], 0x93);
    }

    #[test]
    fn every_message_round_trips() {
        let peer = PeerInfo { name: "p".into(), lang: "rust".into(), pid: 42, trace_events: true };
        let old = PeerInfo { name: "p".into(), lang: "rust".into(), pid: 42, trace_events: false };
        let raw = |b: &[u8]| Bytes::copy_from_slice(b);
        for m in [
            Message::Hello { version: 1, peer: peer.clone(), token: Some("t".into()) },
            Message::Hello { version: 1, peer: peer.clone(), token: None },
            Message::Hello { version: 1, peer: old, token: None },
            Message::Welcome { version: 1, peer },
            Message::Request(Request {
                id: 1 << 40,
                target: "payment@^1".into(),
                method: "charge".into(),
                args: raw(&[0x92, 0x01, 0xa1, b'x']),
                deadline_ms: 5000,
                trace: Some(raw(&[0x80])),
                stream: true,
            }),
            Message::Result { id: 3, value: raw(&[0xc0]) },
            Message::Error {
                id: 3,
                error: WireError { code: "RPC001".into(), message: "no".into(), data: Some(raw(&[0x01])) },
            },
            Message::Cancel { id: 9 },
            Message::StreamItem { id: 9, value: raw(&[0x05]) },
            Message::StreamEnd { id: 9 },
            Message::StreamCredit { id: 9, n: 16 },
            Message::Subscribe { sub: 1, pattern: "order.*".into() },
            Message::Unsubscribe { sub: 1 },
            Message::Publish {
                topic: "order.created".into(),
                payload: raw(&[0x81, 0xa1, b'a', 0x01]),
                trace: None,
            },
            Message::Publish {
                topic: "order.created".into(),
                payload: raw(&[0x01]),
                trace: Some(raw(&[
                    0x81, 0xab, b't', b'r', b'a', b'c', b'e', b'p', b'a', b'r', b'e', b'n', b't', 0xa1, b'x',
                ])),
            },
            Message::Ping(7),
            Message::Pong(7),
            Message::Register {
                name: "s".into(),
                version: "1.0.0".into(),
                methods: vec!["a".into(), "b".into()],
                streams: vec!["b".into()],
            },
            Message::Unregister { name: "s".into(), version: "1.0.0".into() },
        ] {
            round_trip(m);
        }
    }

    #[test]
    fn malformed_messages_are_protocol_errors() {
        for bad in [&[0x91, 0x63][..], &[0x92, 0x05], &[0x92, 0x05, 0x01, 0x01], &[0xc0], &[0x93, 0x03, 0x01]]
        {
            let e = Message::decode(Bytes::copy_from_slice(bad)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::ProtocolError, "{bad:?}");
        }
    }
}
