//! The wire form of a chunk of map items (docs/PROTOCOL.md, "Batches"): one REQUEST to the reserved
//! method `$batch` with arguments `[method, [args, args, ...]]` (each `args` an item's own
//! arguments array), or `[method, [arg, arg, ...], 1]` when each item has one argument, answered by
//! one RESULT `[values, errors]`: `values` has one entry per item (nil where the item failed),
//! `errors` is nil when every item succeeded (the usual case, so the answer costs nothing for the
//! errors) or an array of `[index, {code, message, data}]`.
//!
//! A worker takes batches when its service registers `$batch` among its methods (the Python and
//! Node workers do; C and Rust workers, and any other program, are sent one call per item).

use std::ops::Range;

use bytes::Bytes;

use super::pool::MapItems;
use crate::error::{Error, ErrorCode, Result};
use crate::rpc::{Reader, WireError, write_array_len, write_str};

/// The reserved method a worker takes a chunk of items through (defined with the protocol, in `rpc`).
pub use crate::rpc::BATCH_METHOD;

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
pub(crate) fn chunks(items: &MapItems, chunksize: usize) -> Vec<Range<usize>> {
    let n = items.len();
    let mut out = Vec::with_capacity(n / chunksize.max(1) + 1);
    let mut start = 0;
    let mut bytes = 0;
    for i in 0..n {
        let size = items.size(i);
        if i > start && (i - start >= chunksize || bytes + size > CHUNK_MAX_BYTES) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < n {
        out.push(start..n);
    }
    out
}

/// The arguments of a `$batch` request for `items[range]`: `[method, [args, ...]]`, or
/// `[method, [arg, ...], 1]` when every item has exactly one argument (the usual map): the worker
/// then loops over the arguments themselves, with no arguments array to make per item.
pub(crate) fn request(method: &str, items: &MapItems, range: Range<usize>) -> Bytes {
    let n = range.len();
    match items {
        MapItems::Values { values, ends } => {
            let (from, to) = (if range.start == 0 { 0 } else { ends[range.start - 1] }, ends[range.end - 1]);
            let mut out = Vec::with_capacity(to - from + method.len() + 16);
            write_array_len(&mut out, 3);
            write_str(&mut out, method);
            write_array_len(&mut out, n);
            out.extend_from_slice(&values[from..to]);
            out.push(1);
            Bytes::from(out)
        }
        MapItems::Args(args) => {
            let args = &args[range];
            let single = args.iter().all(|i| i.first() == Some(&0x91));
            let size: usize = args.iter().map(Bytes::len).sum();
            let mut out = Vec::with_capacity(size + method.len() + 16);
            write_array_len(&mut out, if single { 3 } else { 2 });
            write_str(&mut out, method);
            write_array_len(&mut out, n);
            for i in args {
                out.extend_from_slice(if single { &i[1..] } else { i });
            }
            if single {
                out.push(1);
            }
            Bytes::from(out)
        }
    }
}

fn malformed(why: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::ProtocolError, format!("the worker's answer to {BATCH_METHOD} is malformed: {why}"))
}

/// The answer to a `$batch` of `n` items: the items' values, their encodings one after the other
/// (a zero-copy slice of `answer`, nil where an item failed), and the failed items (index within
/// the chunk, error).
pub(crate) fn split(answer: &Bytes, n: usize) -> Result<(Bytes, Vec<(usize, WireError)>)> {
    let mut r = Reader::new(answer.clone());
    if r.array_len()? != 2 {
        return Err(malformed("expected [values, errors]"));
    }
    let got = r.array_len()?;
    if got != n {
        return Err(malformed(format_args!("{got} values for {n} items")));
    }
    let start = r.position();
    for _ in 0..n {
        r.skip_value()?;
    }
    let values = answer.slice(start..r.position());
    let mut errors = Vec::new();
    if !r.nil() {
        for _ in 0..r.array_len()? {
            if r.array_len()? != 2 {
                return Err(malformed("an error entry is not [index, error]"));
            }
            let i = usize::try_from(r.uint()?).unwrap_or(usize::MAX);
            if i >= n {
                return Err(malformed(format_args!("error for item {i} of {n}")));
            }
            // In item order, each once: the results are matched to the items by walking both.
            if errors.last().is_some_and(|(last, _)| *last >= i) {
                return Err(malformed(format_args!("the error for item {i} is out of order or repeated")));
            }
            errors.push((i, error(&mut r)?));
        }
    }
    if !r.at_end() {
        return Err(malformed("trailing bytes"));
    }
    Ok((values, errors))
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
        let items: MapItems = (0..10u32).map(|i| encode_args(&(i,)).unwrap()).collect::<Vec<_>>().into();
        assert_eq!(chunks(&items, 4), vec![0..4, 4..8, 8..10]);
        assert_eq!(chunks(&items, 100), vec![0..10]);
        assert_eq!(chunks(&MapItems::Args(Vec::new()), 3), Vec::<Range<usize>>::new());
        // Large items: cut by bytes, one item alone whatever its size.
        let big = Bytes::from(vec![0x91; CHUNK_MAX_BYTES / 2 + 1]);
        assert_eq!(chunks(&vec![big.clone(), big.clone(), big].into(), 10), vec![0..1, 1..2, 2..3]);
        let half = CHUNK_MAX_BYTES / 2 + 1;
        let values =
            MapItems::Values { values: Bytes::from(vec![0; 3 * half]), ends: vec![half, 2 * half, 3 * half] };
        assert_eq!(chunks(&values, 10), vec![0..1, 1..2, 2..3]);
    }

    #[test]
    fn requests_and_answers_round_trip() {
        let items: MapItems = (0..3u32).map(|i| encode_args(&(i,)).unwrap()).collect::<Vec<_>>().into();
        let req = request("double", &items, 0..3);
        let v = Value::decode(&req).unwrap();
        // One argument each: the arguments themselves, and 1.
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Str("double".into()),
                Value::Array((0..3).map(Value::UInt).collect()),
                Value::UInt(1)
            ])
        );
        // The same from values one after the other, for a range of them.
        let values = MapItems::Values { values: Bytes::from_static(&[0, 1, 0xcc, 200]), ends: vec![1, 2, 4] };
        let v = Value::decode(&request("double", &values, 1..3)).unwrap();
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Str("double".into()),
                Value::Array(vec![Value::UInt(1), Value::UInt(200)]),
                Value::UInt(1)
            ])
        );
        let two: MapItems = vec![encode_args(&(1u32, 2u32)).unwrap(), encode_args(&(3u32,)).unwrap()].into();
        let v = Value::decode(&request("add", &two, 0..2)).unwrap();
        let Value::Array(parts) = v else { panic!() };
        assert_eq!(parts.len(), 2, "arguments arrays as they are");
        assert_eq!(
            parts[1],
            Value::Array(vec![
                Value::Array(vec![Value::UInt(1), Value::UInt(2)]),
                Value::Array(vec![Value::UInt(3)])
            ])
        );

        let ok = Value::Array(vec![
            Value::Array(vec![Value::UInt(0), Value::UInt(2), Value::UInt(400)]),
            Value::Nil,
        ]);
        let (values, errors) = split(&ok.to_bytes(), 3).unwrap();
        assert!(errors.is_empty());
        assert_eq!(&values[..], &[0x00, 0x02, 0xcd, 0x01, 0x90]);

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
        let (values, errors) = split(&mixed.to_bytes(), 3).unwrap();
        assert_eq!(&values[..], &[0x00, 0xc0, 0x04]);
        assert_eq!(errors.len(), 1);
        let (i, e) = &errors[0];
        assert_eq!((*i, e.code.as_str(), e.message.as_str(), e.data.is_none()), (1, "E001", "no", true));

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
            Value::Array(vec![
                Value::Array(vec![Value::Nil, Value::Nil, Value::Nil]),
                Value::Array(vec![
                    Value::Array(vec![Value::UInt(1), err("E001")]),
                    Value::Array(vec![Value::UInt(1), err("E001")]), // the same item twice
                ]),
            ]),
            Value::Array(vec![
                Value::Array(vec![Value::Nil, Value::Nil, Value::Nil]),
                Value::Array(vec![
                    Value::Array(vec![Value::UInt(2), err("E001")]),
                    Value::Array(vec![Value::UInt(0), err("E001")]), // out of order
                ]),
            ]),
        ] {
            let e = split(&bad.to_bytes(), 3).unwrap_err();
            assert_eq!(e.code(), ErrorCode::ProtocolError, "{e}");
        }
        assert!(split(&Bytes::from_static(&[0x92, 0x93]), 3).is_err(), "truncated");
    }
}
