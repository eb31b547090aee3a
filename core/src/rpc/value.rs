//! A MessagePack value tree: what the bindings convert their languages' values to and from, so the
//! decoding rules (and their limits) are written once.

use bytes::Bytes;

use super::msgpack::{
    write_array_len, write_bin, write_bool, write_f64, write_int, write_map_len, write_nil, write_str,
    write_uint,
};
use crate::error::{Error, ErrorCode, Result};

/// Deepest nesting accepted when decoding (deeper payloads are refused, not a stack overflow).
pub const MAX_DEPTH: usize = 64;

/// One MessagePack value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// nil.
    Nil,
    /// true / false.
    Bool(bool),
    /// A negative integer.
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// A float (32-bit floats are widened).
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// Raw bytes.
    Bin(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
    /// A map, in wire order.
    Map(Vec<(Value, Value)>),
    /// An extension type (kept as is).
    Ext(i8, Vec<u8>),
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::InvalidArgument, format!("cannot decode the MessagePack value: {what}"))
}

impl Value {
    /// Appends the encoding of this value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Nil => write_nil(out),
            Value::Bool(b) => write_bool(out, *b),
            Value::UInt(v) => write_uint(out, *v),
            Value::Int(v) => write_int(out, *v),
            Value::Float(f) => write_f64(out, *f),
            Value::Str(s) => write_str(out, s),
            Value::Bin(b) => write_bin(out, b),
            Value::Array(items) => {
                write_array_len(out, items.len());
                for i in items {
                    i.encode(out);
                }
            }
            Value::Map(entries) => {
                write_map_len(out, entries.len());
                for (k, v) in entries {
                    k.encode(out);
                    v.encode(out);
                }
            }
            Value::Ext(t, data) => {
                let n = data.len();
                match n {
                    1 => out.push(0xd4),
                    2 => out.push(0xd5),
                    4 => out.push(0xd6),
                    8 => out.push(0xd7),
                    16 => out.push(0xd8),
                    _ if n <= usize::from(u8::MAX) => out.extend_from_slice(&[0xc7, n as u8]),
                    _ if n <= usize::from(u16::MAX) => {
                        out.push(0xc8);
                        out.extend_from_slice(&(n as u16).to_be_bytes());
                    }
                    _ => {
                        out.push(0xc9);
                        out.extend_from_slice(&(n as u32).to_be_bytes());
                    }
                }
                out.push(*t as u8);
                out.extend_from_slice(data);
            }
        }
    }

    /// The encoding as bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.encode(&mut out);
        Bytes::from(out)
    }

    /// Decodes exactly one value from `b`.
    pub fn decode(b: &[u8]) -> Result<Value> {
        let mut pos = 0;
        let v = decode_at(b, &mut pos, 0)?;
        if pos != b.len() {
            return Err(bad("bytes after the value"));
        }
        Ok(v)
    }
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8]> {
    let end = pos.checked_add(n).filter(|e| *e <= b.len()).ok_or_else(|| bad("truncated"))?;
    let s = &b[*pos..end];
    *pos = end;
    Ok(s)
}

fn be(b: &[u8], pos: &mut usize, n: usize) -> Result<u64> {
    Ok(take(b, pos, n)?.iter().fold(0u64, |a, x| (a << 8) | u64::from(*x)))
}

fn decode_at(b: &[u8], pos: &mut usize, depth: usize) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(bad(format_args!("nested deeper than {MAX_DEPTH} levels")));
    }
    let m = take(b, pos, 1)?[0];
    let string = |b: &[u8], pos: &mut usize, n: usize| -> Result<Value> {
        let s = take(b, pos, n)?;
        std::str::from_utf8(s).map(|s| Value::Str(s.to_string())).map_err(|_| bad("a string is not UTF-8"))
    };
    // Each element needs at least one byte: a count larger than what is left is malformed (and
    // refusing it here keeps a hostile count from reserving memory).
    let count = |n: u64, per: u64, pos: usize| -> Result<usize> {
        if n.saturating_mul(per) > (b.len() - pos) as u64 { Err(bad("truncated")) } else { Ok(n as usize) }
    };
    let array = |n: usize, pos: &mut usize| -> Result<Value> {
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(decode_at(b, pos, depth + 1)?);
        }
        Ok(Value::Array(items))
    };
    let map = |n: usize, pos: &mut usize| -> Result<Value> {
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let k = decode_at(b, pos, depth + 1)?;
            let v = decode_at(b, pos, depth + 1)?;
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    };
    let ext = |n: usize, pos: &mut usize| -> Result<Value> {
        let t = take(b, pos, 1)?[0] as i8;
        Ok(Value::Ext(t, take(b, pos, n)?.to_vec()))
    };
    Ok(match m {
        0x00..=0x7f => Value::UInt(u64::from(m)),
        0xe0..=0xff => Value::Int(i64::from(m as i8)),
        0x80..=0x8f => {
            let n = count(u64::from(m & 0x0f), 2, *pos)?;
            map(n, pos)?
        }
        0x90..=0x9f => {
            let n = count(u64::from(m & 0x0f), 1, *pos)?;
            array(n, pos)?
        }
        0xa0..=0xbf => string(b, pos, usize::from(m & 0x1f))?,
        0xc0 => Value::Nil,
        0xc2 => Value::Bool(false),
        0xc3 => Value::Bool(true),
        0xc4..=0xc6 => {
            let n = be(b, pos, 1 << (m - 0xc4))? as usize;
            Value::Bin(take(b, pos, n)?.to_vec())
        }
        0xc7..=0xc9 => {
            let n = be(b, pos, 1 << (m - 0xc7))? as usize;
            ext(n, pos)?
        }
        0xca => Value::Float(f64::from(f32::from_bits(be(b, pos, 4)? as u32))),
        0xcb => Value::Float(f64::from_bits(be(b, pos, 8)?)),
        0xcc..=0xcf => Value::UInt(be(b, pos, 1 << (m - 0xcc))?),
        0xd0 => Value::Int(i64::from(be(b, pos, 1)? as u8 as i8)),
        0xd1 => Value::Int(i64::from(be(b, pos, 2)? as u16 as i16)),
        0xd2 => Value::Int(i64::from(be(b, pos, 4)? as u32 as i32)),
        0xd3 => Value::Int(be(b, pos, 8)? as i64),
        0xd4..=0xd8 => ext(1 << (m - 0xd4), pos)?,
        0xd9..=0xdb => {
            let n = be(b, pos, 1 << (m - 0xd9))? as usize;
            string(b, pos, n)?
        }
        0xdc | 0xdd => {
            let n = be(b, pos, if m == 0xdc { 2 } else { 4 })?;
            let n = count(n, 1, *pos)?;
            array(n, pos)?
        }
        0xde | 0xdf => {
            let n = be(b, pos, if m == 0xde { 2 } else { 4 })?;
            let n = count(n, 2, *pos)?;
            map(n, pos)?
        }
        0xc1 => return Err(bad("marker 0xc1 is never used")),
    })
}

impl Value {
    /// The value of a JSON document (for C callers that speak JSON).
    pub fn from_json(j: &serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::Array(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(o.iter().map(|(k, v)| (Value::Str(k.clone()), Value::from_json(v))).collect())
            }
        }
    }

    /// The value as JSON: binary becomes an array of numbers, non-string map keys their JSON text,
    /// non-finite floats null.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::UInt(u) => J::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Bin(b) | Value::Ext(_, b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
            Value::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Value::Str(s) => s.clone(),
                            other => other.to_json().to_string(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let v = Value::Map(vec![
            (
                Value::Str("a".into()),
                Value::Array(vec![Value::Int(-1), Value::Int(-200), Value::Int(-70_000)]),
            ),
            (Value::Str("b".into()), Value::Float(1.5)),
            (Value::UInt(1), Value::Bin(vec![1, 2, 3])),
            (Value::Nil, Value::Bool(true)),
            (Value::Str("e".into()), Value::Ext(5, vec![1, 2, 3])),
            (Value::Int(i64::MIN), Value::UInt(u64::MAX)),
        ]);
        assert_eq!(Value::decode(&v.to_bytes()).unwrap(), v);
    }

    #[test]
    fn hostile_payloads_fail_cleanly() {
        let deep: Vec<u8> = std::iter::repeat_n(0x91, 10_000).chain([0xc0]).collect();
        assert!(Value::decode(&deep).is_err());
        assert!(Value::decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(Value::decode(&[0xc6, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(Value::decode(&[0xc0, 0xc0]).is_err());
    }
}
