//! Rotation conventions of 3DIEBench and SIE (SPEC section 2).
//!
//! Euler angles are extrinsic x-y-z (SciPy `from_euler("xyz", ...)`): R = Rz(c) Ry(b) Rx(a).
//! Quaternions are scalar-last, (x, y, z, w), as SciPy's `as_quat()`. No sign is canonicalised:
//! the quaternion of a composition is the Hamilton product of its factors, exactly as SciPy
//! computes it, so `w` may come out negative.

/// Hamilton product `p * q` of (x, y, z, w) quaternions: rotation `q` first, then `p`.
pub fn quat_mul(p: [f64; 4], q: [f64; 4]) -> [f64; 4] {
    let [px, py, pz, pw] = p;
    let [qx, qy, qz, qw] = q;
    [
        pw * qx + px * qw + py * qz - pz * qy,
        pw * qy - px * qz + py * qw + pz * qx,
        pw * qz + px * qy - py * qx + pz * qw,
        pw * qw - px * qx - py * qy - pz * qz,
    ]
}

/// Inverse of a unit quaternion (SciPy's `inv()`: the vector part negated).
pub fn quat_inv(q: [f64; 4]) -> [f64; 4] {
    [-q[0], -q[1], -q[2], q[3]]
}

/// SciPy `Rotation.from_euler("xyz", [a, b, c]).as_quat()`.
pub fn quat_from_euler_xyz(euler: [f64; 3]) -> [f64; 4] {
    let half = |t: f64| (t * 0.5).sin_cos();
    let (sa, ca) = half(euler[0]);
    let (sb, cb) = half(euler[1]);
    let (sc, cc) = half(euler[2]);
    let qx = [sa, 0.0, 0.0, ca];
    let qy = [0.0, sb, 0.0, cb];
    let qz = [0.0, 0.0, sc, cc];
    // Extrinsic: each later elementary rotation is applied on the left.
    quat_mul(qz, quat_mul(qy, qx))
}

/// The SIE transformation latent of a pair of views: `r1.inv() * r2` as (x, y, z, w).
pub fn relative_quat(euler_1: [f64; 3], euler_2: [f64; 3]) -> [f64; 4] {
    quat_mul(quat_inv(quat_from_euler_xyz(euler_1)), quat_from_euler_xyz(euler_2))
}

/// The rotation matrix (row-major) of extrinsic x-y-z Euler angles, R = Rz(c) Ry(b) Rx(a).
pub fn matrix_from_euler_xyz(euler: [f64; 3]) -> [[f64; 3]; 3] {
    let (sa, ca) = euler[0].sin_cos();
    let (sb, cb) = euler[1].sin_cos();
    let (sc, cc) = euler[2].sin_cos();
    [
        [cc * cb, cc * sb * sa - sc * ca, cc * sb * ca + sc * sa],
        [sc * cb, sc * sb * sa + cc * ca, sc * sb * ca - cc * sa],
        [-sb, cb * sa, cb * ca],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Row {
        euler_1: [f64; 3],
        euler_2: [f64; 3],
        quat_1_xyzw: [f64; 4],
        quat_2_xyzw: [f64; 4],
        relative_quat_xyzw: [f64; 4],
        matrix_1: [[f64; 3]; 3],
    }

    #[derive(serde::Deserialize)]
    struct Reference {
        rows: Vec<Row>,
    }

    fn reference() -> Reference {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/rotations.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn assert_close<const N: usize>(a: [f64; N], b: [f64; N], what: &str) {
        for i in 0..N {
            assert!((a[i] - b[i]).abs() < 1e-12, "{what}: {a:?} vs {b:?}");
        }
    }

    #[test]
    fn euler_to_quaternion_matches_scipy_sign_included() {
        let r = reference();
        assert!(!r.rows.is_empty());
        for row in &r.rows {
            assert_close(quat_from_euler_xyz(row.euler_1), row.quat_1_xyzw, "quat_1");
            assert_close(quat_from_euler_xyz(row.euler_2), row.quat_2_xyzw, "quat_2");
        }
    }

    #[test]
    fn relative_quaternion_matches_scipy_sign_included() {
        for row in &reference().rows {
            assert_close(relative_quat(row.euler_1, row.euler_2), row.relative_quat_xyzw, "relative");
        }
    }

    #[test]
    fn matrix_matches_scipy() {
        for row in &reference().rows {
            let m = matrix_from_euler_xyz(row.euler_1);
            for (got, want) in m.iter().zip(row.matrix_1) {
                assert_close(*got, want, "matrix");
            }
        }
    }
}
