//! Reading the answers JavaScript hands back in one `respond` call (`lib/http/answers.ts` writes
//! them). Per answer, little-endian: id u32, status u16 (0: the route's), kind u8 (0 nothing, 1 a
//! body, 2 an error), a spare byte, content-type length u16, header count u16, body length u32;
//! then the content type, each header (name length u16, name, value length u32, value), the body.
//!
//! An error's body is JSON: `detail`, and optionally `title`, `type`, `code` (an engine code such
//! as `R002`: its status is core's, as for Rust handlers), `extensions` (an object), `route` (the
//! handler's name) and `log` (what the thrown error said, for the log only: a 500's problem
//! document says only that the route failed).

use bytes::Bytes;
use omnitron::ErrorCode;
use omnitron::http::{DoorAnswer, HttpError};
use serde::Deserialize;

use super::pending::Answer;

const HEAD: usize = 16;

#[derive(Deserialize, Default)]
struct Thrown {
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    log: Option<String>,
    #[serde(default)]
    route: Option<String>,
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as usize)
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every whole answer in `b` (a malformed tail is ignored).
pub(super) fn read(b: &[u8]) -> Vec<(u32, Answer)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((id, answer, next)) = one(b, at) {
        out.push((id, answer));
        at = next;
    }
    out
}

fn one(b: &[u8], at: usize) -> Option<(u32, Answer, usize)> {
    let id = u32_at(b, at)? as u32;
    let status = u16_at(b, at + 4)? as u16;
    let kind = *b.get(at + 6)?;
    let ctype_len = u16_at(b, at + 8)?;
    let header_count = u16_at(b, at + 10)?;
    let body_len = u32_at(b, at + 12)?;
    let mut p = at + HEAD;
    let ctype = b.get(p..p + ctype_len)?;
    p += ctype_len;
    let mut headers = Vec::with_capacity(header_count);
    for _ in 0..header_count {
        let n = u16_at(b, p)?;
        let name = b.get(p + 2..p + 2 + n)?;
        p += 2 + n;
        let v = u32_at(b, p)?;
        let value = b.get(p + 4..p + 4 + v)?;
        p += 4 + v;
        headers.push((text(name), text(value)));
    }
    let body = b.get(p..p + body_len)?;
    p += body_len;
    let answer = match kind {
        2 => Err(thrown(status, body)),
        _ => Ok(DoorAnswer {
            status: (status != 0).then_some(status),
            headers,
            body: (kind == 1).then(|| Bytes::copy_from_slice(body)),
            content_type: (ctype_len > 0).then(|| text(ctype)),
        }),
    };
    Some((id, answer, p))
}

/// A handler's error as a problem: an engine code gets core's status for it (`R002` is a 429);
/// otherwise `status` (an `HttpException`'s), else a 500 (`H005`). A 500 never shows what the
/// error said (that goes to the log).
fn thrown(status: u16, body: &[u8]) -> HttpError {
    let t: Thrown = serde_json::from_slice(body).unwrap_or_default();
    let detail = t.detail.unwrap_or_default();
    let engine = t.code.as_deref().and_then(ErrorCode::from_id);
    let mut e = match engine {
        Some(code) if status == 0 => HttpError::from(omnitron::Error::new(code, detail.clone())),
        _ if (400..=599).contains(&status) => HttpError::new(status).with_detail(detail.clone()),
        _ => HttpError::new(500),
    };
    if e.status() == 500 {
        let route = t.route.as_deref().unwrap_or("?");
        tracing::warn!(
            route,
            error = t.log.as_deref().unwrap_or(&detail),
            "a JavaScript HTTP handler failed"
        );
        return HttpError::internal(match &t.route {
            Some(r) => format!("{r} failed"),
            None => "the handler failed".into(),
        });
    }
    if let Some(title) = t.title {
        e = e.with_title(title);
    }
    if let Some(kind) = t.kind {
        e = e.with_type(kind);
    }
    if let Some(code) = engine {
        e = e.with_code(code);
    }
    for (k, v) in t.extensions.unwrap_or_default() {
        e = e.with_extension(k, v);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u32, status: u16, kind: u8, ctype: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(id.to_le_bytes());
        b.extend(status.to_le_bytes());
        b.push(kind);
        b.push(0);
        b.extend((ctype.len() as u16).to_le_bytes());
        b.extend((headers.len() as u16).to_le_bytes());
        b.extend((body.len() as u32).to_le_bytes());
        b.extend(ctype.as_bytes());
        for (k, v) in headers {
            b.extend((k.len() as u16).to_le_bytes());
            b.extend(k.as_bytes());
            b.extend((v.len() as u32).to_le_bytes());
            b.extend(v.as_bytes());
        }
        b.extend(body);
        b
    }

    #[test]
    fn answers_are_read_in_order_and_a_torn_tail_is_ignored() {
        let mut b = record(7, 0, 1, "", &[("location", "/users/1")], br#"{"id":1}"#);
        b.extend(record(8, 202, 0, "", &[], b""));
        b.extend(record(9, 0, 1, "text/plain", &[], b"hi"));
        let torn = record(10, 0, 1, "", &[], b"abc");
        b.extend(&torn[..torn.len() - 1]);
        let got = read(&b);
        assert_eq!(got.len(), 3);
        let a = got[0].1.as_ref().unwrap();
        assert_eq!((got[0].0, a.status, a.headers.len()), (7, None, 1));
        assert_eq!(a.body.as_deref(), Some(&br#"{"id":1}"#[..]));
        let a = got[1].1.as_ref().unwrap();
        assert_eq!((a.status, a.body.is_none()), (Some(202), true));
        assert_eq!(got[2].1.as_ref().unwrap().content_type.as_deref(), Some("text/plain"));
    }

    #[test]
    fn errors_keep_their_status_or_become_500s_that_say_nothing() {
        let e = |status, json: &str| {
            read(&record(1, status, 2, "", &[], json.as_bytes())).remove(0).1.unwrap_err()
        };
        let nf = e(404, r#"{"detail":"no user 7","extensions":{"userId":7}}"#);
        assert_eq!((nf.status(), nf.detail()), (404, Some("no user 7")));
        let boom = e(500, r#"{"detail":"secret","log":"secret","route":"UsersController.find"}"#);
        assert_eq!((boom.status(), boom.code()), (500, Some(ErrorCode::HttpHandlerFailed)));
        assert_eq!(boom.detail(), Some("UsersController.find failed"));
        let di = e(0, r#"{"detail":"secret","code":"DI001"}"#);
        assert_eq!((di.status(), di.detail()), (500, Some("the handler failed")));
        let limited = e(0, r#"{"detail":"slow down","code":"R002"}"#);
        assert_eq!(limited.status(), 429);
        let junk = e(0, "not json");
        assert_eq!(junk.status(), 500);
    }
}
