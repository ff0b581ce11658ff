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

/// Extrinsic x-y-z Euler angles of a unit quaternion, in SciPy's `as_euler("xyz")` ranges:
/// a, c in (-pi, pi], b in [-pi/2, pi/2].
pub fn euler_xyz_from_quat(q: [f64; 4]) -> [f64; 3] {
    let m = matrix_from_quat(q);
    // R = Rz(c) Ry(b) Rx(a): R20 = -sin b, R21 = cos b sin a, R22 = cos b cos a, R10 = sin c cos b.
    // atan2 rather than asin(-R20): well conditioned near b = +-pi/2.
    let b = (-m[2][0]).atan2(m[0][0].hypot(m[1][0]));
    if m[2][0].abs() < 1.0 - 1e-12 {
        [m[2][1].atan2(m[2][2]), b, m[1][0].atan2(m[0][0])]
    } else {
        // Gimbal lock (b = +-pi/2, R = Ry(b) Rx(a) with c = 0): only a -+ c is defined; put it in a.
        [(-m[2][0] * m[0][1]).atan2(m[1][1]), b, 0.0]
    }
}

/// The rotation matrix (row-major) of a unit (x, y, z, w) quaternion.
pub fn matrix_from_quat(q: [f64; 4]) -> [[f64; 3]; 3] {
    let [x, y, z, w] = q;
    [
        [1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - z * w), 2.0 * (x * z + y * w)],
        [2.0 * (x * y + z * w), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - x * w)],
        [2.0 * (x * z - y * w), 2.0 * (y * z + x * w), 1.0 - 2.0 * (x * x + y * y)],
    ]
}

/// A quaternion uniform over SO(3) (Haar measure) from three uniforms in [0, 1) (Shoemake 1992).
pub fn uniform_quat(u: [f64; 3]) -> [f64; 4] {
    let tau = 2.0 * std::f64::consts::PI;
    let (a, b) = ((1.0 - u[0]).sqrt(), u[0].sqrt());
    let (s1, c1) = (tau * u[1]).sin_cos();
    let (s2, c2) = (tau * u[2]).sin_cos();
    [a * s1, a * c1, b * s2, b * c2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euler_from_quat_inverts_quat_from_euler() {
        for e in [
            [0.3, -0.2, 0.9],
            [-2.5, 1.2, 3.0],
            [3.0, -1.5, -2.9],
            [0.0, 0.0, 0.0],
            [0.7, std::f64::consts::FRAC_PI_2, 0.0],
            [-0.4, -std::f64::consts::FRAC_PI_2, 0.0],
        ] {
            let back = euler_xyz_from_quat(quat_from_euler_xyz(e));
            for i in 0..3 {
                assert!((back[i] - e[i]).abs() < 1e-9, "{e:?} -> {back:?}");
            }
        }
    }

    #[test]
    fn uniform_quat_is_haar_distributed() {
        // Under the Haar measure E[trace R] = 0 and the rotation axis is isotropic.
        let n = 20_000;
        let (mut trace, mut axis_z) = (0.0, 0.0);
        for i in 0..n {
            let u = [
                (i as f64 + 0.5) / n as f64,
                ((i * 7919) % n) as f64 / n as f64,
                ((i * 104_729) % n) as f64 / n as f64,
            ];
            let q = uniform_quat(u);
            assert!((q.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-12);
            let m = matrix_from_quat(q);
            trace += m[0][0] + m[1][1] + m[2][2];
            axis_z += q[2] * q[2] / (1.0 - q[3] * q[3]).max(1e-12);
        }
        assert!((trace / n as f64).abs() < 0.02, "mean trace {}", trace / n as f64);
        assert!((axis_z / n as f64 - 1.0 / 3.0).abs() < 0.02, "mean axis z^2 {}", axis_z / n as f64);
    }

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
