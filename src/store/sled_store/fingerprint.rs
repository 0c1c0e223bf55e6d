//! A keyed fingerprint of a line's body for `verify`'s copy check: NH, the hash at the core of
//! UMAC (Black, Halevi, Krawczyk, Krovetz, Rogaway, 1999), over 64-bit words with 128-bit
//! products.
//!
//! The log's lines are checked by SHA-256 (the chain). A copy line only has to be shown to be
//! the log's line at its seq, and hashing it with SHA-256 a second time was the largest single
//! cost left in `verify`. Instead both sides are fingerprinted with a key drawn from the
//! system's randomness for each run: for two different bodies, the chance that their
//! fingerprints agree is at most 2^-64 over the key, which nobody who could change the stored
//! data before the run knows. NH is a sum of independent products (no chain from one word to
//! the next), so it runs several times faster than SHA-256 with the SHA extensions.
//!
//! The body's length is the last word, so bodies of different lengths never agree word for
//! word; the last word of the body is padded with zeros, and an odd count of words with a zero
//! word.

use sha2::{Digest, Sha256};

use super::MAX_UNPACKED_BYTES;

/// Key words: one per word of the longest body a block can hold, its length word and padding.
const KEY_WORDS: usize = MAX_UNPACKED_BYTES / 8 + 4;
/// Key words made at once: enough for bodies of 4 KiB (stored lines are mostly under 1 KiB);
/// a longer body extends the key as far as it needs.
const FIRST_KEY_WORDS: usize = 512;

pub(super) struct Fingerprint {
    seed: [u8; 32],
    /// The key's words made so far, from the start (SHA-256 in counter mode: the same seed
    /// gives the same words on every thread).
    key: Vec<u64>,
    /// The body being fingerprinted, gathered from its pieces.
    buffer: Vec<u8>,
}

impl Fingerprint {
    /// A fingerprint keyed from `seed`, its words expanded by SHA-256 in counter mode.
    pub(super) fn with_seed(seed: [u8; 32]) -> Fingerprint {
        let mut f = Fingerprint {
            seed,
            key: Vec::new(),
            buffer: Vec::new(),
        };
        f.extend_key(FIRST_KEY_WORDS);
        f
    }

    /// Makes the key at least `words` long (at most [`KEY_WORDS`]).
    fn extend_key(&mut self, words: usize) {
        let words = words.min(KEY_WORDS);
        while self.key.len() < words {
            // Four words a block: the key's length is a multiple of 4 until it is cut to size.
            let counter = (self.key.len() / 4) as u64;
            let block: [u8; 32] = Sha256::new()
                .chain_update(self.seed)
                .chain_update(counter.to_le_bytes())
                .finalize()
                .into();
            self.key.extend(block.chunks_exact(8).map(|w| {
                let mut word = [0; 8];
                word.copy_from_slice(w);
                u64::from_le_bytes(word)
            }));
        }
    }

    /// Keyed from the system's randomness (two version-4 uuids: 244 random bits).
    pub(super) fn random() -> Fingerprint {
        let mut seed = [0; 32];
        seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Fingerprint::with_seed(seed)
    }

    /// One with the same key and its own buffer (one per thread).
    pub(super) fn share(&self) -> Fingerprint {
        Fingerprint::with_seed(self.seed)
    }

    /// The fingerprint of the concatenation of `parts`; None if it is longer than the key
    /// covers (no block holds such a body).
    pub(super) fn of(&mut self, parts: &[&[u8]]) -> Option<u128> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        self.extend_key(key_words(len));
        let mut non_empty = parts.iter().filter(|p| !p.is_empty());
        match (non_empty.next(), non_empty.next()) {
            // One piece (a copy line is its whole body): read where it lies.
            (None, _) => nh(&self.key, &[]),
            (Some(whole), None) => nh(&self.key, whole),
            _ => {
                self.buffer.clear();
                for part in parts {
                    self.buffer.extend_from_slice(part);
                }
                nh(&self.key, &self.buffer)
            }
        }
    }
}

/// The key words NH takes for a body of `len` bytes.
fn key_words(len: usize) -> usize {
    (len.div_ceil(8) + 1).div_ceil(2) * 2
}

/// NH over the body's 8-byte little-endian words (the last padded with zeros) followed by its
/// length, in pairs (the last padded with a zero word): the sum of (a + k) * (b + k') over the
/// pairs, with wrapping 64-bit additions and 128-bit products. None if the key is too short.
fn nh(key: &[u64], body: &[u8]) -> Option<u128> {
    let len = u64::try_from(body.len()).ok()?;
    if key_words(body.len()) > key.len() {
        return None;
    }
    fn word(bytes: &[u8]) -> u64 {
        let mut w = [0; 8];
        w[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(w)
    }
    fn product(a: u64, b: u64, k: &[u64]) -> u128 {
        u128::from(a.wrapping_add(k[0])) * u128::from(b.wrapping_add(k[1]))
    }
    let mut keys = key.chunks_exact(2);
    let pairs = body.chunks_exact(16);
    let tail = pairs.remainder();
    let mut sum = 0u128;
    for (pair, k) in pairs.zip(&mut keys) {
        let (a, b) = pair.split_at(8);
        sum = sum.wrapping_add(product(word(a), word(b), k));
    }
    // The tail's words (none, one or two), then the length.
    let (a, b) = tail.split_at(tail.len().min(8));
    let mut rest = [0u64; 3];
    let mut n = 0;
    for w in [a, b].into_iter().filter(|w| !w.is_empty()) {
        rest[n] = word(w);
        n += 1;
    }
    rest[n] = len;
    for pair in rest[..=n].chunks(2) {
        let b = pair.get(1).copied().unwrap_or(0);
        sum = sum.wrapping_add(product(pair[0], b, keys.next()?));
    }
    Some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(seed: u8, body: &[u8]) -> u128 {
        Fingerprint::with_seed([seed; 32]).of(&[body]).unwrap()
    }

    #[test]
    fn equal_bodies_agree_however_they_are_split_and_with_a_shared_key() {
        let body = b"{\"account\":\"contoso\",\"data\":{},\"date\":\"2024-01-01\"}";
        let mut f = Fingerprint::with_seed([3; 32]);
        let whole = f.of(&[body]).unwrap();
        for at in 0..body.len() {
            let (a, b) = body.split_at(at);
            assert_eq!(f.of(&[a, b]).unwrap(), whole);
            assert_eq!(f.share().of(&[a, &[][..], b]).unwrap(), whole);
        }
    }

    #[test]
    fn a_changed_byte_an_added_zero_or_another_length_changes_the_fingerprint() {
        let body = b"{\"account\":\"contoso\",\"data\":{\"score\":82},\"seq\":17}".to_vec();
        let base = fp(5, &body);
        for at in 0..body.len() {
            for bit in 0..8 {
                let mut changed = body.clone();
                changed[at] ^= 1 << bit;
                assert_ne!(fp(5, &changed), base, "byte {at} bit {bit}");
            }
        }
        // Zero padding must not hide a trailing zero byte or a shorter body.
        for n in 0..=body.len() + 16 {
            let mut other = body.clone();
            other.resize(n, 0);
            if other != body {
                assert_ne!(fp(5, &other), base, "length {n}");
            }
        }
        assert_ne!(fp(5, b""), fp(5, b"\0"));
        assert_ne!(fp(5, b"\0"), fp(5, b"\0\0\0\0\0\0\0\0\0"));
    }

    #[test]
    fn the_key_decides_the_fingerprint() {
        let body = b"the same body";
        assert_eq!(fp(1, body), fp(1, body));
        assert_ne!(fp(1, body), fp(2, body));
        assert_ne!(
            Fingerprint::random().of(&[body]),
            Fingerprint::random().of(&[body])
        );
    }

    #[test]
    fn a_key_extended_for_a_long_body_is_the_key_made_at_once() {
        let long = vec![5u8; 9_000];
        let mut lazy = Fingerprint::with_seed([4; 32]);
        let short = lazy.of(&[b"short"]).unwrap();
        let first = lazy.of(&[&long]).unwrap();
        let mut eager = Fingerprint::with_seed([4; 32]);
        eager.extend_key(KEY_WORDS);
        assert_eq!(eager.of(&[&long]).unwrap(), first);
        assert_eq!(eager.of(&[b"short"]).unwrap(), short);
        assert_eq!(lazy.share().of(&[&long]).unwrap(), first);
    }

    #[test]
    fn the_longest_body_a_block_holds_is_covered() {
        let mut f = Fingerprint::with_seed([9; 32]);
        assert!(f.of(&[&vec![7; MAX_UNPACKED_BYTES]]).is_some());
        assert!(f.of(&[&vec![7; MAX_UNPACKED_BYTES + 64]]).is_none());
    }
}
