//! A tiny deterministic RNG (SplitMix64) for probe initialisation, shuffling and pair drawing, so
//! that evaluation results depend only on the seed.
//!
//! Not the project's keyed BLAKE3 stream (`dataset::factors::stream`, what datasets and objects
//! are drawn from): a probe draws millions of values in sequence (initial weights, a permutation
//! per epoch), where a sequential generator is the natural fit, and every recorded evaluation
//! number was drawn from this sequence; the redesign that moved this file kept results identical.

#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x005E_ED0F_E7A1_u64)
    }

    /// Stream for one purpose (e.g. one epoch), independent of the others.
    pub fn derive(seed: u64, purpose: u64) -> Self {
        let mut r = Self::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ purpose);
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_f64() * n as f64) as usize % n.max(1)
    }

    /// A uniformly random permutation of 0..n (Fisher-Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            p.swap(i, self.below(i + 1));
        }
        p
    }
}
