//! OBJ-to-world axes, centring and unit-diagonal scaling (SPEC section 3).

use anyhow::bail;

use super::Vertex;

/// A mesh whose bounding-box diagonal is within this of 1 is taken as already normalised
/// (ShapeNetCore v2 meshes are) and is not rescaled.
pub const UNIT_DIAGONAL_TOLERANCE: f32 = 1e-3;

/// Blender's OBJ import: OBJ (x, y, z), Y up, to world (x, -z, y), Z up. A proper rotation
/// (+90 degrees about X), so triangle winding is kept.
pub fn obj_to_world([x, y, z]: [f32; 3]) -> [f32; 3] {
    [x, -z, y]
}

pub fn bounds(points: impl Iterator<Item = [f32; 3]>) -> ([f32; 3], [f32; 3]) {
    let mut lo = [f32::INFINITY; 3];
    let mut hi = [f32::NEG_INFINITY; 3];
    for p in points {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    (lo, hi)
}

/// Moves the bounding-box centre to the origin, then scales to a unit diagonal unless the
/// diagonal is already 1 (within [`UNIT_DIAGONAL_TOLERANCE`]). Returns the diagonal it found
/// when it rescaled (the reference never rescales ShapeNet meshes, so the caller warns).
pub fn normalise(vertices: &mut [Vertex]) -> anyhow::Result<Option<f32>> {
    let (lo, hi) = bounds(vertices.iter().map(|v| v.position));
    let centre = [0, 1, 2].map(|k| 0.5 * (lo[k] + hi[k]));
    let diagonal = (0..3).map(|k| (hi[k] - lo[k]).powi(2)).sum::<f32>().sqrt();
    if !(diagonal > 1e-9 && diagonal.is_finite()) {
        bail!("degenerate bounding box (diagonal {diagonal})");
    }
    let unit = (diagonal - 1.0).abs() <= UNIT_DIAGONAL_TOLERANCE;
    let scale = if unit { 1.0 } else { 1.0 / diagonal };
    for v in vertices {
        v.position = [0, 1, 2].map(|k| (v.position[k] - centre[k]) * scale);
    }
    Ok((!unit).then_some(diagonal))
}

pub fn unit(v: [f32; 3]) -> [f32; 3] {
    let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if len > 0.0 && len.is_finite() {
        v.map(|c| c / len)
    } else {
        [0.0, 0.0, 1.0]
    }
}

/// Unit normal of a counter-clockwise triangle (shading is two-sided, so only the line matters).
pub fn face_normal([a, b, c]: [[f32; 3]; 3]) -> [f32; 3] {
    let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
    unit([u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vertex(p: [f32; 3]) -> Vertex {
        Vertex { position: p, normal: [0.0, 0.0, 1.0], uv: [0.0; 2] }
    }

    #[test]
    fn obj_y_up_becomes_world_z_up() {
        assert_eq!(obj_to_world([0.0, 1.0, 0.0]), [0.0, 0.0, 1.0]);
        assert_eq!(obj_to_world([0.0, 0.0, 1.0]), [0.0, -1.0, 0.0]);
    }

    #[test]
    fn centres_and_scales_to_unit_diagonal() {
        let mut v = vec![vertex([1.0, 1.0, 1.0]), vertex([3.0, 5.0, 1.0])];
        assert_eq!(normalise(&mut v).unwrap(), Some(20f32.sqrt()), "rescaled: the caller warns");
        let (lo, hi) = bounds(v.iter().map(|v| v.position));
        let diag = (0..3).map(|k| (hi[k] - lo[k]).powi(2)).sum::<f32>().sqrt();
        assert!((diag - 1.0).abs() < 1e-6);
        assert!((0..3).all(|k| (lo[k] + hi[k]).abs() < 1e-6));
    }

    #[test]
    fn keeps_scale_of_nearly_unit_meshes() {
        let s = 1.0005 / 3f32.sqrt();
        let mut v = vec![vertex([0.0; 3]), vertex([s; 3])];
        assert_eq!(normalise(&mut v).unwrap(), None);
        assert!((v[1].position[0] - s / 2.0).abs() < 1e-7);
    }

    #[test]
    fn rejects_degenerate_bounds() {
        assert!(normalise(&mut [vertex([1.0; 3]), vertex([1.0; 3])]).is_err());
    }
}
