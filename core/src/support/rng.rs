//! Random numbers for the core without a random source: a ChaCha20
//! keystream (RFC 8439's block function) keyed once with 32 bytes the
//! platform provides (`crypto.getRandomValues` in the browser).
//!
//! Why a stream cipher and not a simple generator: the anonymous id and
//! the message ids come from it, and an anonymous id must not be guessable
//! from another (the collector's visitor view treats it as a capability).
//! Why not a call to the browser per id: the core would not be pure, and
//! each call costs a few microseconds of boundary crossing.

/// A ChaCha20 keystream. See the module docs.
#[derive(Clone)]
pub struct Rng {
    key: [u32; 8],
    counter: u64,
    block: [u8; 64],
    used: usize,
}

impl core::fmt::Debug for Rng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Rng")
    }
}

fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// The ChaCha20 block function: 64 bytes of keystream for `key`, a 64-bit
/// block counter and a zero nonce.
pub fn chacha20_block(key: &[u32; 8], counter: u64) -> [u8; 64] {
    let mut s = [0u32; 16];
    s[0] = 0x6170_7865;
    s[1] = 0x3320_646e;
    s[2] = 0x7962_2d32;
    s[3] = 0x6b20_6574;
    for (d, k) in s.iter_mut().skip(4).zip(key) {
        *d = *k;
    }
    s[12] = counter as u32;
    s[13] = (counter >> 32) as u32;
    let init = s;
    for _ in 0..10 {
        quarter(&mut s, 0, 4, 8, 12);
        quarter(&mut s, 1, 5, 9, 13);
        quarter(&mut s, 2, 6, 10, 14);
        quarter(&mut s, 3, 7, 11, 15);
        quarter(&mut s, 0, 5, 10, 15);
        quarter(&mut s, 1, 6, 11, 12);
        quarter(&mut s, 2, 7, 8, 13);
        quarter(&mut s, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for (chunk, (w, x)) in out.chunks_exact_mut(4).zip(s.iter().zip(init.iter())) {
        chunk.copy_from_slice(&w.wrapping_add(*x).to_le_bytes());
    }
    out
}

impl Rng {
    /// A stream keyed with `seed`.
    pub fn new(seed: [u8; 32]) -> Rng {
        let mut key = [0u32; 8];
        for (k, c) in key.iter_mut().zip(seed.chunks_exact(4)) {
            *k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Rng {
            key,
            counter: 0,
            block: [0; 64],
            used: 64,
        }
    }

    /// Fills `out` with the next bytes of the stream.
    pub fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            if self.used == 64 {
                self.block = chacha20_block(&self.key, self.counter);
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *b = self.block[self.used];
            self.used += 1;
        }
    }

    /// The next 16 bytes (a UUID's worth).
    pub fn bytes16(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        b
    }

    /// A number in `[0, 1)` (53 random bits).
    pub fn unit(&mut self) -> f64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8439, appendix A.1, test vectors #1 and #2 (key and nonce all
    /// zeros; block counter 0, then 1).
    #[test]
    fn the_block_function_matches_rfc_8439() {
        let first = chacha20_block(&[0; 8], 0);
        assert_eq!(
            first[..16],
            [
                0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90, 0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86,
                0xbd, 0x28
            ]
        );
        assert_eq!(first[48..52], [0x6a, 0x43, 0xb8, 0xf4]);
        assert_eq!(first[60..], [0xb2, 0xee, 0x65, 0x86]);
        let second = chacha20_block(&[0; 8], 1);
        assert_eq!(
            second[..8],
            [0x9f, 0x07, 0xe7, 0xbe, 0x55, 0x51, 0x38, 0x7a]
        );
    }

    #[test]
    fn the_stream_is_the_blocks_in_order_and_seeded() {
        let mut r = Rng::new([0; 32]);
        let mut out = [0u8; 80];
        r.fill(&mut out);
        assert_eq!(out[..64], chacha20_block(&[0; 8], 0));
        assert_eq!(out[64..], chacha20_block(&[0; 8], 1)[..16]);
        let (mut a, mut b) = (Rng::new([1; 32]), Rng::new([2; 32]));
        assert_ne!(a.bytes16(), b.bytes16());
        let u = Rng::new([3; 32]).unit();
        assert!((0.0..1.0).contains(&u));
    }
}
