//! Damaged copies of valid files, for the fuzz-style tests of every crate that reads user files
//! (deterministic, so a failure reproduces).

/// Pseudo-random bytes (xorshift64: test noise only, where the keyed stream of [`crate::factors`]
/// would add nothing but cost; a failing case reproduces from its seed either way).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}

/// About 40 prefixes of `valid`, 8 copies with scattered bytes flipped, and 8 runs of noise.
pub fn damaged(valid: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> =
        (0..valid.len()).step_by((valid.len() / 40).max(1)).map(|n| valid[..n].to_vec()).collect();
    for seed in 0..8u64 {
        let mut v = valid.to_vec();
        for (k, b) in noise(seed, 16).into_iter().enumerate() {
            let at = (seed as usize * 131 + k * 977) % v.len().max(1);
            if let Some(x) = v.get_mut(at) {
                *x ^= b | 1;
            }
        }
        out.push(v);
        out.push(noise(seed + 100, 64 + seed as usize * 50));
    }
    out
}
