//! Factor sampling: a counter-based generator keyed by (seed, synset, object id, view).
//!
//! Every view's factors are a pure function of its key, so a dataset's bytes do not depend on
//! sharding, object order, threads or resuming. The stream is BLAKE3 in keyed-hash XOF mode
//! (a keyed PRF, i.e. a counter-based generator), mapped to uniforms with 53-bit precision.

use crate::latent::{Latent, RANGES};
use crate::ObjectKey;

/// Domain-separated BLAKE3 stream for one key; `purpose` separates independent uses.
pub fn stream(seed: u64, purpose: &str, parts: &[&str]) -> blake3::OutputReader {
    let mut h = blake3::Hasher::new_derive_key("iebench-rs factors v1");
    h.update(&seed.to_le_bytes());
    h.update(purpose.as_bytes());
    for p in parts {
        // Length-prefixed so that ("ab", "c") and ("a", "bc") differ.
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize_xof()
}

/// Next uniform in [0, 1) from a stream (53 random bits).
pub fn next_unit(reader: &mut blake3::OutputReader) -> f64 {
    let mut b = [0u8; 8];
    reader.fill(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The factors of view `view` of `object`, drawn from the reference distributions.
pub fn sample_latent(seed: u64, object: &ObjectKey, view: usize) -> Latent {
    let view_s = view.to_string();
    let mut r = stream(seed, "latent", &[&object.synset, &object.object_id, &view_s]);
    let mut v = [0.0; 7];
    for (x, (lo, hi)) in v.iter_mut().zip(RANGES) {
        *x = lo + (hi - lo) * next_unit(&mut r);
    }
    Latent::from_array(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_key_dependent() {
        let a = ObjectKey::new("02691156", "abc").unwrap();
        let b = ObjectKey::new("02691156", "abd").unwrap();
        assert_eq!(sample_latent(0, &a, 3), sample_latent(0, &a, 3));
        assert_ne!(sample_latent(0, &a, 3), sample_latent(0, &a, 4));
        assert_ne!(sample_latent(0, &a, 3), sample_latent(1, &a, 3));
        assert_ne!(sample_latent(0, &a, 3), sample_latent(0, &b, 3));
    }

    #[test]
    fn stays_in_reference_ranges_and_covers_them() {
        let k = ObjectKey::new("s", "o").unwrap();
        let mut lo = [f64::MAX; 7];
        let mut hi = [f64::MIN; 7];
        for view in 0..5000 {
            let v = sample_latent(7, &k, view).to_array();
            for i in 0..7 {
                assert!(v[i] >= RANGES[i].0 && v[i] < RANGES[i].1);
                lo[i] = lo[i].min(v[i]);
                hi[i] = hi[i].max(v[i]);
            }
        }
        for i in 0..7 {
            let span = RANGES[i].1 - RANGES[i].0;
            assert!(lo[i] - RANGES[i].0 < 0.01 * span && RANGES[i].1 - hi[i] < 0.01 * span, "factor {i}");
        }
    }
}
