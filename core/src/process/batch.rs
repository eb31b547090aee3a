//! The wire form of a chunk of map items (docs/PROTOCOL.md, "Batches"): one REQUEST to the reserved
//! method `$batch` with arguments `[method, [args, args, ...]]` (each `args` an item's own
//! arguments array), answered by one RESULT `[values, errors]`: `values` has one entry per item (nil
//! where the item failed), `errors` is nil when every item succeeded (the usual case, so the answer
//! costs nothing for the errors) or an array of `[index, {code, message, data}]`.
//!
//! A worker takes batches when its service registers `$batch` among its methods (the Python and
//! Node workers do; C and Rust workers, and any other program, are sent one call per item).

use bytes::Bytes;

use crate::error::{Error, ErrorCode, Result};
use crate::rpc::{Reader, WireError, write_array_len, write_str};

/// The reserved method a worker takes a chunk of items through.
pub const BATCH_METHOD: &str = "$batch";

/// A chunk is cut before its arguments pass this many bytes (unless it holds one item), so that a
/// chunk of large items stays far below the frame limit (16 MiB by default).
pub(crate) const CHUNK_MAX_BYTES: usize = 1 << 20;

/// The chunk size multiprocessing's `Pool.map` picks: the items spread over four chunks per worker,
/// rounded up (at least 1).
pub fn auto_chunksize(items: usize, workers: usize) -> usize {
    let per = workers.max(1) * 4;
    let (size, extra) = (items / per, items % per);
    (size + usize::from(extra > 0)).max(1)
}

/// The chunks of `items` as index ranges: `chunksize` items each, cut earlier when the arguments
/// pass [`CHUNK_MAX_BYTES`].
pub(crate) fn chunks(items: &[Bytes], chunksize: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::with_capacity(items.len() / chunksize.max(1) + 1);
    let mut start = 0;
    let mut bytes = 0;
    for (i, item) in items.iter().enumerate() {
        let n = i - start;
        if n > 0 && (n >= chunksize || bytes + item.len() > CHUNK_MAX_BYTES) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += item.len();
    }
    if start < items.len() {
        out.push(start..items.len());
    }
    out
}

/// The arguments of a `$batch` request: `[method, [items...]]` (each item already an array).
pub(crate) fn request(method: &str, items: &[Bytes]) -> Bytes {
    let size: usize = items.iter().map(Bytes::len).sum();
    let mut out = Vec::with_capacity(size + method.len() + 16);
    write_array_len(&mut out, 2);
    write_str(&mut out, method);
    write_array_len(&mut out, items.len());
    for i in items {
        out.extend_from_slice(i);
    }
    Bytes::from(out)
}

fn malformed(why: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::ProtocolError, format!("the worker's answer to {BATCH_METHOD} is malformed: {why}"))
}

/// Splits the answer to a `$batch` of `n` items into each item's result (values are zero-copy
/// slices of `answer`).
pub(crate) fn split(answer: &Bytes, n: usize) -> Result<Vec<std::result::Result<Bytes, WireError>>> {
    let mut r = Reader::new(answer.clone());
    if r.array_len()? != 2 {
        return Err(malformed("expected [values, errors]"));
    }
    let got = r.array_len()?;
    if got != n {
        return Err(malformed(format_args!("{got} values for {n} items")));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(Ok(r.raw()?));
    }
    if !r.nil() {
        for _ in 0..r.array_len()? {
            if r.array_len()? != 2 {
                return Err(malformed("an error entry is not [index, error]"));
            }
            let i = usize::try_from(r.uint()?).unwrap_or(usize::MAX);
            let e = error(&mut r)?;
            *out.get_mut(i).ok_or_else(|| malformed(format_args!("error for item {i} of {n}")))? = Err(e);
        }
    }
    if !r.at_end() {
        return Err(malformed("trailing bytes"));
    }
    Ok(out)
}

/// `{code, message, data}`.
fn error(r: &mut Reader) -> Result<WireError> {
    let mut e = WireError { code: String::new(), message: String::new(), data: None };
    for _ in 0..r.map_len()? {
        match r.str()?.as_str() {
            "code" => e.code = r.str()?,
            "message" => e.message = r.str()?,
            "data" if r.nil() => {}
            "data" => e.data = Some(r.raw()?),
            _ => r.skip_value()?,
        }
    }
    if e.code.is_empty() {
        return Err(malformed("an error without a code"));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::{Value, encode_args};

    #[test]
    fn chunk_sizes_follow_multiprocessing() {
        assert_eq!(auto_chunksize(20_000, 2), 2500);
        assert_eq!(auto_chunksize(10, 2), 2); // divmod(10, 8) = (1, 2): 2
        assert_eq!(auto_chunksize(8, 2), 1);
        assert_eq!(auto_chunksize(3, 4), 1);
        assert_eq!(auto_chunksize(0, 0), 1);
        let items: Vec<Bytes> = (0..10u32).map(|i| encode_args(&(i,)).unwrap()).collect();
        assert_eq!(chunks(&items, 4), vec![0..4, 4..8, 8..10]);
        assert_eq!(chunks(&items, 100), vec![0..10]);
        assert_eq!(chunks(&items[..0], 3), Vec::<std::ops::Range<usize>>::new());
        // Large items: cut by bytes, one item alone whatever its size.
        let big = Bytes::from(vec![0x91; CHUNK_MAX_BYTES / 2 + 1]);
        assert_eq!(chunks(&[big.clone(), big.clone(), big], 10), vec![0..1, 1..2, 2..3]);
    }

    #[test]
    fn requests_and_answers_round_trip() {
        let items: Vec<Bytes> = (0..3u32).map(|i| encode_args(&(i,)).unwrap()).collect();
        let req = request("double", &items);
        let v = Value::decode(&req).unwrap();
        let Value::Array(parts) = v else { panic!() };
        assert_eq!(parts[0], Value::Str("double".into()));
        assert_eq!(parts[1], Value::Array((0..3).map(|i| Value::Array(vec![Value::UInt(i)])).collect()));

        let ok = Value::Array(vec![
            Value::Array(vec![Value::UInt(0), Value::UInt(2), Value::UInt(4)]),
            Value::Nil,
        ]);
        let out = split(&ok.to_bytes(), 3).unwrap();
        let got: Vec<u64> =
            out.into_iter().map(|r| crate::rpc::decode::<u64>(&r.unwrap()).unwrap()).collect();
        assert_eq!(got, [0, 2, 4]);

        let err = |code: &str| {
            Value::Map(vec![
                (Value::Str("code".into()), Value::Str(code.into())),
                (Value::Str("message".into()), Value::Str("no".into())),
                (Value::Str("data".into()), Value::Nil),
            ])
        };
        let mixed = Value::Array(vec![
            Value::Array(vec![Value::UInt(0), Value::Nil, Value::UInt(4)]),
            Value::Array(vec![Value::Array(vec![Value::UInt(1), err("E001")])]),
        ]);
        let out = split(&mixed.to_bytes(), 3).unwrap();
        assert!(out[0].is_ok() && out[2].is_ok());
        let e = out[1].as_ref().unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str(), e.data.is_none()), ("E001", "no", true));

        for bad in [
            Value::Array(vec![Value::Array(vec![Value::UInt(0)]), Value::Nil]), // too few values
            Value::Array(vec![Value::UInt(1)]),                                 // not [values, errors]
            Value::Array(vec![
                Value::Array(vec![Value::Nil, Value::Nil, Value::Nil]),
                Value::Array(vec![Value::Array(vec![Value::UInt(7), err("E001")])]), // index out of range
            ]),
            Value::Array(vec![
                Value::Array(vec![Value::Nil, Value::Nil, Value::Nil]),
                Value::Array(vec![Value::Array(vec![Value::UInt(0), Value::Map(vec![])])]), // no code
            ]),
        ] {
            let e = split(&bad.to_bytes(), 3).unwrap_err();
            assert_eq!(e.code(), ErrorCode::ProtocolError, "{e}");
        }
        assert!(split(&Bytes::from_static(&[0x92, 0x93]), 3).is_err(), "truncated");
    }
}
