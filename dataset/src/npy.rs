//! Writing `.npy` files byte-identical to NumPy's `np.save` (format 1.0).
//!
//! Reading goes through `npyz`. Writing builds the header here because npyz spells a 1-d shape
//! `(7, )` where NumPy writes `(7,)`: matching NumPy byte for byte lets our manifests and latents be
//! compared with the official release's files directly.

/// A complete `.npy` file for a C-ordered array with NumPy dtype `descr` and raw little-endian `body`.
pub fn npy_bytes(descr: &str, shape: &[usize], body: &[u8]) -> Vec<u8> {
    let shape_s = match shape {
        [n] => format!("({n},)"),
        dims => format!("({})", dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is padded with spaces to a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + body.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

/// `<f8` array bytes.
pub fn f64_npy(values: &[f64]) -> Vec<u8> {
    let body: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy_bytes("<f8", &[values.len()], &body)
}

/// `<i8` array bytes.
pub fn i64_npy(values: &[i64]) -> Vec<u8> {
    let body: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy_bytes("<i8", &[values.len()], &body)
}

/// `<U{width}` array bytes, `width` = the longest string (in code points), zero-padded UTF-32.
pub fn unicode_npy(values: &[String]) -> Vec<u8> {
    let width = values.iter().map(|v| v.chars().count()).max().unwrap_or(1).max(1);
    let mut body = Vec::with_capacity(values.len() * width * 4);
    for v in values {
        let n = v.chars().count();
        body.extend(v.chars().flat_map(|c| (c as u32).to_le_bytes()));
        body.extend(std::iter::repeat_n(0u8, (width - n) * 4));
    }
    npy_bytes(&format!("<U{width}"), &[values.len()], &body)
}
