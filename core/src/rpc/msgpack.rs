//! The few MessagePack pieces the envelope needs: a bounds-checked reader that never panics and never
//! recurses (so hostile input can neither crash nor overflow the stack), and writers over `Vec<u8>`.
//! Payloads (arguments, results, event data) are not decoded here: they are kept as raw slices.

use bytes::Bytes;

use crate::error::{Error, ErrorCode, Result};

fn malformed(what: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::ProtocolError, format!("malformed message: {what}"))
}

/// A cursor over one frame body.
#[derive(Debug)]
pub(crate) struct Reader {
    data: Bytes,
    pos: usize,
}

impl Reader {
    pub(crate) fn new(data: Bytes) -> Self {
        Reader { data, pos: 0 }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.data.len()
    }

    /// How far it has read.
    #[cfg(feature = "process")]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self.data.get(self.pos).ok_or_else(|| malformed("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| malformed("truncated"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// An unsigned integer (negative or non-integer values are refused).
    pub(crate) fn uint(&mut self) -> Result<u64> {
        match self.byte()? {
            m @ 0x00..=0x7f => Ok(u64::from(m)),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            // Signed encodings of non-negative values are accepted: some encoders use them.
            0xd0 => self.signed(1),
            0xd1 => self.signed(2),
            0xd2 => self.signed(4),
            0xd3 => self.signed(8),
            m => Err(malformed(format_args!("expected an unsigned integer, got marker {m:#04x}"))),
        }
    }

    fn signed(&mut self, n: usize) -> Result<u64> {
        let raw = self.be(n)?;
        let shift = 64 - 8 * n as u32;
        let v = ((raw << shift) as i64) >> shift;
        u64::try_from(v).map_err(|_| malformed("expected an unsigned integer, got a negative one"))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        u32::try_from(self.uint()?).map_err(|_| malformed("integer out of range"))
    }

    pub(crate) fn bool(&mut self) -> Result<bool> {
        match self.byte()? {
            0xc2 => Ok(false),
            0xc3 => Ok(true),
            m => Err(malformed(format_args!("expected a boolean, got marker {m:#04x}"))),
        }
    }

    /// True (and consumed) if the next value is nil.
    pub(crate) fn nil(&mut self) -> bool {
        if self.data.get(self.pos) == Some(&0xc0) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn str(&mut self) -> Result<String> {
        let n = match self.byte()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            m => return Err(malformed(format_args!("expected a string, got marker {m:#04x}"))),
        };
        let s = self.take(n)?;
        std::str::from_utf8(s).map(str::to_string).map_err(|_| malformed("a string is not valid UTF-8"))
    }

    pub(crate) fn array_len(&mut self) -> Result<usize> {
        match self.byte()? {
            m @ 0x90..=0x9f => Ok(usize::from(m & 0x0f)),
            0xdc => Ok(self.be(2)? as usize),
            0xdd => Ok(self.be(4)? as usize),
            m => Err(malformed(format_args!("expected an array, got marker {m:#04x}"))),
        }
    }

    pub(crate) fn map_len(&mut self) -> Result<usize> {
        match self.byte()? {
            m @ 0x80..=0x8f => Ok(usize::from(m & 0x0f)),
            0xde => Ok(self.be(2)? as usize),
            0xdf => Ok(self.be(4)? as usize),
            m => Err(malformed(format_args!("expected a map, got marker {m:#04x}"))),
        }
    }

    /// The next value, whatever it is, as its raw bytes (a zero-copy slice of the frame).
    pub(crate) fn raw(&mut self) -> Result<Bytes> {
        let start = self.pos;
        self.skip_value()?;
        Ok(self.data.slice(start..self.pos))
    }

    /// The next value, if it is an array, as raw bytes.
    pub(crate) fn raw_array(&mut self) -> Result<Bytes> {
        match self.data.get(self.pos) {
            Some(0x90..=0x9f | 0xdc | 0xdd) => self.raw(),
            _ => Err(malformed("expected an array of arguments")),
        }
    }

    /// Skips one value. Iterative: nesting depth costs a counter, not stack.
    pub(crate) fn skip_value(&mut self) -> Result<()> {
        let mut pending: u64 = 1;
        while pending > 0 {
            pending -= 1;
            let m = self.byte()?;
            let (skip, children): (usize, u64) = match m {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
                0x80..=0x8f => (0, 2 * u64::from(m & 0x0f)),
                0x90..=0x9f => (0, u64::from(m & 0x0f)),
                0xa0..=0xbf => (usize::from(m & 0x1f), 0),
                0xc4 | 0xd9 => (self.be(1)? as usize, 0),
                0xc5 | 0xda => (self.be(2)? as usize, 0),
                0xc6 | 0xdb => (self.be(4)? as usize, 0),
                0xc7 => (self.be(1)? as usize + 1, 0),
                0xc8 => (self.be(2)? as usize + 1, 0),
                0xc9 => (self.be(4)? as usize + 1, 0),
                0xca => (4, 0),
                0xcb => (8, 0),
                0xcc | 0xd0 => (1, 0),
                0xcd | 0xd1 => (2, 0),
                0xce | 0xd2 => (4, 0),
                0xcf | 0xd3 => (8, 0),
                0xd4 => (2, 0),
                0xd5 => (3, 0),
                0xd6 => (5, 0),
                0xd7 => (9, 0),
                0xd8 => (17, 0),
                0xdc => (0, self.be(2)?),
                0xdd => (0, self.be(4)?),
                0xde => (0, 2 * self.be(2)?),
                0xdf => (0, 2 * self.be(4)?),
                0xc1 => return Err(malformed("marker 0xc1 is never used")),
            };
            self.take(skip)?;
            // Each child needs at least one byte: more children than bytes left is malformed, and
            // checking here keeps the counter bounded by the frame size.
            pending = pending.checked_add(children).ok_or_else(|| malformed("too many elements"))?;
            if pending > (self.data.len() - self.pos) as u64 {
                return Err(malformed("truncated"));
            }
        }
        Ok(())
    }
}

// ---- writing -----------------------------------------------------------------------------------
//
// The MessagePack writers every encoder uses (`Value::encode`, the wire messages, the Python door's
// direct packer), each in its shortest form.

/// An unsigned integer.
pub fn write_uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
    } else if v <= u64::from(u8::MAX) {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= u64::from(u16::MAX) {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= u64::from(u32::MAX) {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// A signed integer (non-negative ones as unsigned, as MessagePack prefers).
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        write_uint(out, v as u64);
    } else if v >= -32 {
        out.push(v as i8 as u8);
    } else if v >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, v as i8 as u8]);
    } else if v >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(v as i16).to_be_bytes());
    } else if v >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(v as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// A 64-bit float.
pub fn write_f64(out: &mut Vec<u8>, f: f64) {
    out.push(0xcb);
    out.extend_from_slice(&f.to_be_bytes());
}

/// Binary data.
pub fn write_bin(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if n <= usize::from(u8::MAX) {
        out.extend_from_slice(&[0xc4, n as u8]);
    } else if n <= usize::from(u16::MAX) {
        out.push(0xc5);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

/// A string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= usize::from(u8::MAX) {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= usize::from(u16::MAX) {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// The header of an array of `n` items.
pub fn write_array_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n <= usize::from(u16::MAX) {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// The header of a map of `n` entries.
pub fn write_map_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x80 | n as u8);
    } else if n <= usize::from(u16::MAX) {
        out.push(0xde);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// A boolean.
pub fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.push(if b { 0xc3 } else { 0xc2 });
}

/// Nil.
pub fn write_nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

/// The MessagePack encoding of nil, the value of a call that returns nothing.
pub const NIL: &[u8] = &[0xc0];
/// An empty MessagePack array: a call without arguments.
pub const EMPTY_ARRAY: &[u8] = &[0x90];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_skips() {
        let mut out = Vec::new();
        write_array_len(&mut out, 4);
        write_uint(&mut out, 70_000);
        write_str(&mut out, "héllo");
        write_bool(&mut out, true);
        write_map_len(&mut out, 1);
        write_str(&mut out, "k");
        write_nil(&mut out);
        let mut r = Reader::new(Bytes::from(out));
        assert_eq!(r.array_len().unwrap(), 4);
        assert_eq!(r.uint().unwrap(), 70_000);
        assert_eq!(r.str().unwrap(), "héllo");
        assert!(r.bool().unwrap());
        let raw = r.raw().unwrap();
        assert_eq!(&raw[..], &[0x81, 0xa1, b'k', 0xc0]);
        assert!(r.at_end());
    }

    #[test]
    fn hostile_input_is_an_error_not_a_crash() {
        for bad in [&[0xdd, 0xff, 0xff, 0xff, 0xff][..], &[0xc1], &[0xdb, 0, 0, 0, 9, b'a'], &[0x91], &[]] {
            assert!(Reader::new(Bytes::copy_from_slice(bad)).skip_value().is_err(), "{bad:?}");
        }
        // Deep nesting costs no stack.
        let deep: Vec<u8> = std::iter::repeat_n(0x91, 1_000_000).chain([0xc0]).collect();
        Reader::new(Bytes::from(deep)).skip_value().unwrap();
    }
}
