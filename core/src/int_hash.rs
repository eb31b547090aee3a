//! Hashing for maps keyed by small integers this process hands out itself (DI token keys, a
//! connection's own call ids): one multiply instead of SipHash, on paths where the map is touched
//! on every resolve or call. Not for keys another process chooses: those could be picked to
//! collide.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes small integers with one multiply.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by integers this process picks.
pub(crate) type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;
