//! Mesh building blocks with normals and UVs: boxes, general hexahedra, lathes (cylinders, cones,
//! spheres, vessels), swept tubes (handles, bent rods, tori) and extrusions of star-shaped outlines.
//!
//! Conventions: Y is up. Every primitive is built in a local frame and placed with
//! [`Mesh::transform`]. UVs stay inside [0, 1] so that any sampler (clamp or repeat) shows the
//! texture. Triangle winding is made counter-clockwise seen from outside by [`Mesh::orient`],
//! which trusts the vertex normals, so builders only need correct normals.

use std::f32::consts::TAU;

use glam::{Mat3, Mat4, Quat, Vec2, Vec3};

/// An indexed triangle mesh; every vertex has its own position, normal and UV.
#[derive(Clone, Debug, Default)]
pub struct Mesh {
    pub positions: Vec<Vec3>,
    pub normals: Vec<Vec3>,
    pub uvs: Vec<Vec2>,
    pub triangles: Vec<[u32; 3]>,
}

impl Mesh {
    fn vertex(&mut self, p: Vec3, n: Vec3, uv: Vec2) -> u32 {
        self.positions.push(p);
        self.normals.push(n.normalize_or_zero());
        self.uvs.push(uv);
        (self.positions.len() - 1) as u32
    }

    fn quad(&mut self, a: u32, b: u32, c: u32, d: u32) {
        self.triangles.push([a, b, c]);
        self.triangles.push([a, c, d]);
    }

    /// Appends another mesh.
    pub fn append(&mut self, other: &Mesh) {
        let base = self.positions.len() as u32;
        self.positions.extend_from_slice(&other.positions);
        self.normals.extend_from_slice(&other.normals);
        self.uvs.extend_from_slice(&other.uvs);
        self.triangles.extend(other.triangles.iter().map(|t| t.map(|i| i + base)));
    }

    /// Applies an affine transform (normals by the inverse transpose).
    pub fn transform(mut self, m: Mat4) -> Self {
        let normal_m = Mat3::from_mat4(m).inverse().transpose();
        for p in &mut self.positions {
            *p = m.transform_point3(*p);
        }
        for n in &mut self.normals {
            *n = (normal_m * *n).normalize_or_zero();
        }
        if m.determinant() < 0.0 {
            for t in &mut self.triangles {
                t.swap(1, 2);
            }
        }
        self
    }

    pub fn translate(self, t: Vec3) -> Self {
        self.transform(Mat4::from_translation(t))
    }

    pub fn rotate(self, q: Quat) -> Self {
        self.transform(Mat4::from_quat(q))
    }

    pub fn scale(self, s: Vec3) -> Self {
        self.transform(Mat4::from_scale(s))
    }

    /// Drops degenerate triangles and winds the rest counter-clockwise seen along their normals.
    pub fn orient(&mut self) {
        let pos = &self.positions;
        let nor = &self.normals;
        self.triangles.retain(|t| {
            let [a, b, c] = t.map(|i| pos[i as usize]);
            (b - a).cross(c - a).length() > 1e-9
        });
        for t in &mut self.triangles {
            let [a, b, c] = t.map(|i| pos[i as usize]);
            let face = (b - a).cross(c - a);
            let vn: Vec3 = t.iter().map(|&i| nor[i as usize]).sum();
            if face.dot(vn) < 0.0 {
                t.swap(1, 2);
            }
        }
    }
}

/// A box centred at the origin.
pub fn cuboid(size: Vec3) -> Mesh {
    let h = size * 0.5;
    hexahedron(std::array::from_fn(|i| {
        Vec3::new(
            if i & 1 == 0 { -h.x } else { h.x },
            if i & 2 == 0 { -h.y } else { h.y },
            if i & 4 == 0 { -h.z } else { h.z },
        )
    }))
}

/// A box spanning two corners.
pub fn cuboid_between(lo: Vec3, hi: Vec3) -> Mesh {
    cuboid(hi - lo).translate((lo + hi) * 0.5)
}

/// A box with rounded edges and corners (radius `r`, `steps` facets per rounded edge), centred at
/// the origin: the Minkowski sum of a smaller box and a sphere, built face by face on a grid whose
/// knots put `steps` rows into each rounded band.
pub fn rounded_box(size: Vec3, r: f32, steps: usize) -> Mesh {
    let half = size * 0.5;
    let r = r.min(half.min_element() * 0.999).max(1e-4);
    let inner = half - Vec3::splat(r);
    // Knots along one axis as fractions of the half size: the band, the flat span, the band.
    let knots = |h: f32| -> Vec<f32> {
        let flat = (h - r) / h;
        let mut k: Vec<f32> = (0..steps).map(|i| -1.0 + (1.0 - flat) * i as f32 / steps as f32).collect();
        k.push(-flat);
        k.push(flat);
        k.extend((1..=steps).map(|i| flat + (1.0 - flat) * i as f32 / steps as f32));
        k.dedup();
        k
    };
    let mut m = Mesh::default();
    for axis in 0..3 {
        let (u_axis, v_axis) = ((axis + 1) % 3, (axis + 2) % 3);
        let (ku, kv) = (knots(half[u_axis]), knots(half[v_axis]));
        for sign in [-1.0f32, 1.0] {
            let mut ids = Vec::with_capacity(ku.len() * kv.len());
            for (j, &b) in kv.iter().enumerate() {
                for (i, &a) in ku.iter().enumerate() {
                    let mut q = Vec3::ZERO;
                    q[axis] = sign;
                    q[u_axis] = a;
                    q[v_axis] = b;
                    let surface = q * half;
                    let core = surface.clamp(-inner, inner);
                    let n = (surface - core).normalize();
                    let uv = Vec2::new(i as f32 / (ku.len() - 1) as f32, j as f32 / (kv.len() - 1) as f32);
                    ids.push(m.vertex(core + n * r, n, uv));
                }
            }
            let w = ku.len();
            for j in 0..kv.len() - 1 {
                for i in 0..w - 1 {
                    let a = ids[j * w + i];
                    m.quad(a, ids[j * w + i + 1], ids[(j + 1) * w + i + 1], ids[(j + 1) * w + i]);
                }
            }
        }
    }
    m.orient();
    m
}

/// A rounded box spanning two corners.
pub fn rounded_between(lo: Vec3, hi: Vec3, r: f32, steps: usize) -> Mesh {
    rounded_box(hi - lo, r, steps).translate((lo + hi) * 0.5)
}

/// A flat-shaded hexahedron; corner `i` is at the (x, y, z) side given by bits (1, 2, 4) of `i`.
/// Tapered wings, slanted car bodies and wedges are hexahedra.
pub fn hexahedron(c: [Vec3; 8]) -> Mesh {
    const FACES: [[usize; 4]; 6] =
        [[0, 2, 6, 4], [1, 3, 7, 5], [0, 1, 5, 4], [2, 3, 7, 6], [0, 1, 3, 2], [4, 5, 7, 6]];
    let centre: Vec3 = c.iter().copied().sum::<Vec3>() / 8.0;
    let mut m = Mesh::default();
    for f in FACES {
        let q = f.map(|i| c[i]);
        let mut n = (q[2] - q[0]).cross(q[3] - q[1]).normalize_or_zero();
        let face_centre = (q[0] + q[1] + q[2] + q[3]) * 0.25;
        if n.dot(face_centre - centre) < 0.0 {
            n = -n;
        }
        let uv = [Vec2::new(0.0, 0.0), Vec2::new(1.0, 0.0), Vec2::new(1.0, 1.0), Vec2::new(0.0, 1.0)];
        let ids: Vec<u32> = (0..4).map(|k| m.vertex(q[k], n, uv[k])).collect();
        m.quad(ids[0], ids[1], ids[2], ids[3]);
    }
    m.orient();
    m
}

/// Revolves a profile of (radius, height) points about the Y axis over the angles [a0, a1].
///
/// Trace the profile so that the material is on its right (e.g. from the axis at the bottom,
/// outwards, up the outside, then down the inside): normals then point out of the material.
/// Joins sharper than ~35 degrees get a crease. Points on the axis (radius 0) close the surface.
pub fn lathe_arc(profile: &[Vec2], segments: usize, a0: f32, a1: f32) -> Mesh {
    let mut m = Mesh::default();
    let seg_normal = |i: usize| {
        let d = profile[i + 1] - profile[i];
        Vec2::new(d.y, -d.x).normalize_or_zero()
    };
    let lengths: Vec<f32> = profile.windows(2).map(|w| (w[1] - w[0]).length()).collect();
    let total: f32 = lengths.iter().sum::<f32>().max(1e-9);
    let mut travelled = 0.0;
    for i in 0..profile.len() - 1 {
        let n = seg_normal(i);
        // Smooth the normal with a neighbour segment when the join is gentle.
        let end_normal = |j: Option<usize>| match j {
            Some(j) if seg_normal(j).dot(n) > 0.82 => (seg_normal(j) + n).normalize_or_zero(),
            _ => n,
        };
        let n0 = end_normal(i.checked_sub(1));
        let n1 = end_normal(if i + 2 < profile.len() { Some(i + 1) } else { None });
        let v0 = travelled / total;
        travelled += lengths[i];
        let v1 = travelled / total;
        let mut rings = [Vec::new(), Vec::new()];
        for (ring, (p, pn, v)) in rings.iter_mut().zip([(profile[i], n0, v0), (profile[i + 1], n1, v1)]) {
            for s in 0..=segments {
                let f = s as f32 / segments as f32;
                let a = a0 + (a1 - a0) * f;
                let (sin, cos) = a.sin_cos();
                let pos = Vec3::new(p.x * cos, p.y, p.x * sin);
                let nor = Vec3::new(pn.x * cos, pn.y, pn.x * sin);
                ring.push(m.vertex(pos, nor, Vec2::new(f, v)));
            }
        }
        let on_axis = [profile[i].x.abs() < 1e-7, profile[i + 1].x.abs() < 1e-7];
        for s in 0..segments {
            let (a, b, c, d) = (rings[0][s], rings[0][s + 1], rings[1][s + 1], rings[1][s]);
            match on_axis {
                [true, true] => {}
                [true, false] => m.triangles.push([a, c, d]),
                [false, true] => m.triangles.push([a, b, c]),
                [false, false] => m.quad(a, b, c, d),
            }
        }
    }
    m.orient();
    m
}

/// A full revolution of a profile about Y.
pub fn lathe(profile: &[Vec2], segments: usize) -> Mesh {
    lathe_arc(profile, segments, 0.0, TAU)
}

/// A closed frustum along Y from `y0` (radius `r0`) to `y1` (radius `r1`); a cone when a radius is 0.
pub fn frustum(r0: f32, r1: f32, y0: f32, y1: f32, segments: usize) -> Mesh {
    let p = |x, y| Vec2::new(x, y);
    lathe(&[p(0.0, y0), p(r0, y0), p(r1, y1), p(0.0, y1)], segments)
}

/// A closed cylinder of height `h` along Y, centred at the origin.
pub fn cylinder(r: f32, h: f32, segments: usize) -> Mesh {
    frustum(r, r, -h * 0.5, h * 0.5, segments)
}

/// A closed cylinder (or frustum) from point `a` (radius `ra`) to point `b` (radius `rb`).
pub fn rod(a: Vec3, b: Vec3, ra: f32, rb: f32, segments: usize) -> Mesh {
    let d = b - a;
    let len = d.length();
    frustum(ra, rb, 0.0, len, segments).rotate(Quat::from_rotation_arc(Vec3::Y, d / len)).translate(a)
}

/// A UV sphere (or ellipsoid after scaling) centred at the origin.
pub fn sphere(r: f32, segments: usize) -> Mesh {
    let rings = (segments / 2).max(3);
    let profile: Vec<Vec2> = (0..=rings)
        .map(|i| {
            let t = std::f32::consts::PI * (i as f32 / rings as f32 - 0.5);
            let (s, c) = t.sin_cos();
            Vec2::new(if i == 0 || i == rings { 0.0 } else { r * c }, r * s)
        })
        .collect();
    lathe(&profile, segments)
}

/// A tube of radius `r` swept along a polyline, with capped ends unless `closed` (a loop).
/// Frames are parallel-transported so the tube does not twist.
pub fn sweep(path: &[Vec3], r: f32, segments: usize, closed: bool) -> Mesh {
    let n = path.len();
    let tangent = |i: usize| {
        let (prev, next) = if closed {
            (path[(i + n - 1) % n], path[(i + 1) % n])
        } else {
            (path[i.saturating_sub(1)], path[(i + 1).min(n - 1)])
        };
        (next - prev).normalize_or_zero()
    };
    let t0 = tangent(0);
    let helper = if t0.x.abs() < 0.9 { Vec3::X } else { Vec3::Y };
    let mut normal = t0.cross(helper).normalize();
    let mut m = Mesh::default();
    let mut rings: Vec<Vec<u32>> = Vec::new();
    let count = if closed { n + 1 } else { n };
    let mut prev_t = t0;
    for k in 0..count {
        let i = k % n;
        let t = tangent(i);
        normal = Quat::from_rotation_arc(prev_t, t) * normal;
        normal = (normal - t * normal.dot(t)).normalize();
        prev_t = t;
        let binormal = t.cross(normal);
        let v = k as f32 / (count - 1) as f32;
        let ring = (0..=segments)
            .map(|s| {
                let f = s as f32 / segments as f32;
                let (sin, cos) = (f * TAU).sin_cos();
                let dir = normal * cos + binormal * sin;
                m.vertex(path[i] + dir * r, dir, Vec2::new(f, v))
            })
            .collect();
        rings.push(ring);
    }
    for w in rings.windows(2) {
        for s in 0..segments {
            m.quad(w[0][s], w[0][s + 1], w[1][s + 1], w[1][s]);
        }
    }
    if !closed {
        for (end, dir) in [(0, -tangent(0)), (n - 1, tangent(n - 1))] {
            let centre = m.vertex(path[end], dir, Vec2::splat(0.5));
            let ring: Vec<u32> = rings[if end == 0 { 0 } else { rings.len() - 1 }].clone();
            for s in 0..segments {
                let (a, b) = (ring[s], ring[s + 1]);
                let (pa, pb) = (m.positions[a as usize], m.positions[b as usize]);
                let ua = m.uvs[a as usize].x * TAU;
                let ub = m.uvs[b as usize].x * TAU;
                let a2 = m.vertex(pa, dir, Vec2::new(0.5 + 0.5 * ua.cos(), 0.5 + 0.5 * ua.sin()));
                let b2 = m.vertex(pb, dir, Vec2::new(0.5 + 0.5 * ub.cos(), 0.5 + 0.5 * ub.sin()));
                m.triangles.push([centre, a2, b2]);
            }
        }
    }
    m.orient();
    m
}

/// Points on a circular arc of radius `radius` in the XY plane, angles in radians.
pub fn arc_points(radius: f32, a0: f32, a1: f32, steps: usize) -> Vec<Vec3> {
    (0..=steps)
        .map(|i| {
            let a = a0 + (a1 - a0) * i as f32 / steps as f32;
            Vec3::new(radius * a.cos(), radius * a.sin(), 0.0)
        })
        .collect()
}

/// Extrudes an outline that is star-shaped about the origin (every point visible from it) along
/// Z, from `-depth/2` to `depth/2`. Caps are fans from the origin; sides are smooth-shaded.
pub fn extrude(outline: &[Vec2], depth: f32) -> Mesh {
    let n = outline.len();
    let (lo, hi) = outline
        .iter()
        .fold((Vec2::splat(f32::MAX), Vec2::splat(f32::MIN)), |(lo, hi), p| (lo.min(*p), hi.max(*p)));
    let planar = |p: Vec2| (p - lo) / (hi - lo).max(Vec2::splat(1e-9));
    let mut m = Mesh::default();
    let z = depth * 0.5;
    for (zc, nz) in [(z, 1.0), (-z, -1.0)] {
        let nor = Vec3::new(0.0, 0.0, nz);
        let c = m.vertex(Vec3::new(0.0, 0.0, zc), nor, planar(Vec2::ZERO));
        let ring: Vec<u32> = outline.iter().map(|p| m.vertex(p.extend(zc), nor, planar(*p))).collect();
        for i in 0..n {
            m.triangles.push([c, ring[i], ring[(i + 1) % n]]);
        }
    }
    let edge_normal = |i: usize| {
        let d = outline[(i + 1) % n] - outline[i];
        let e = Vec2::new(d.y, -d.x).normalize_or_zero();
        // Point away from the origin (outlines may be traced either way).
        if e.dot(outline[i] + d * 0.5) < 0.0 {
            -e
        } else {
            e
        }
    };
    let perimeter: f32 = (0..n).map(|i| (outline[(i + 1) % n] - outline[i]).length()).sum();
    let mut travelled = 0.0;
    let mut cols: Vec<[u32; 2]> = Vec::new();
    for i in 0..=n {
        let j = i % n;
        let nn = (edge_normal(j) + edge_normal((j + n - 1) % n)).normalize_or_zero().extend(0.0);
        let u = travelled / perimeter;
        travelled += (outline[(j + 1) % n] - outline[j]).length();
        let p = outline[j];
        cols.push([
            m.vertex(p.extend(-z), nn, Vec2::new(u, 0.0)),
            m.vertex(p.extend(z), nn, Vec2::new(u, 1.0)),
        ]);
    }
    for w in cols.windows(2) {
        m.quad(w[0][0], w[1][0], w[1][1], w[0][1]);
    }
    m.orient();
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signed volume by the divergence theorem: positive when faces wind outwards.
    fn volume(m: &Mesh) -> f32 {
        m.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|i| m.positions[i as usize]);
                a.dot(b.cross(c)) / 6.0
            })
            .sum()
    }

    #[test]
    fn closed_primitives_wind_outwards_with_right_volume() {
        let b = cuboid(Vec3::new(1.0, 2.0, 3.0));
        assert!((volume(&b) - 6.0).abs() < 1e-4);
        let c = cylinder(1.0, 2.0, 64);
        assert!((volume(&c) - 2.0 * std::f32::consts::PI).abs() < 0.02, "{}", volume(&c));
        let s = sphere(1.0, 48);
        assert!((volume(&s) - 4.0 / 3.0 * std::f32::consts::PI).abs() < 0.05, "{}", volume(&s));
        let r = rod(Vec3::ZERO, Vec3::new(0.0, 0.0, 3.0), 0.5, 0.5, 48);
        assert!((volume(&r) - 0.75 * std::f32::consts::PI).abs() < 0.02, "{}", volume(&r));
        let rb = rounded_box(Vec3::new(1.0, 2.0, 3.0), 0.2, 4);
        // Inner box + face slabs + edge quarter-cylinders + corner eighth-spheres.
        let (inner, r) = (Vec3::new(0.6, 1.6, 2.6), 0.2f32);
        let exact = inner.x * inner.y * inner.z
            + 2.0 * r * (inner.x * inner.y + inner.y * inner.z + inner.x * inner.z)
            + std::f32::consts::PI * r * r * (inner.x + inner.y + inner.z)
            + 4.0 / 3.0 * std::f32::consts::PI * r.powi(3);
        assert!((volume(&rb) - exact).abs() < 0.01, "{} vs {exact}", volume(&rb));
        let square: Vec<Vec2> =
            [(1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)].map(|(x, y)| Vec2::new(x, y)).to_vec();
        let e = extrude(&square, 0.5);
        assert!((volume(&e) - 2.0).abs() < 1e-4, "{}", volume(&e));
        let path: Vec<Vec3> = (0..=20).map(|i| Vec3::new(0.0, 0.0, i as f32 * 0.1)).collect();
        let t = sweep(&path, 0.1, 32, false);
        assert!((volume(&t) - 0.02 * std::f32::consts::PI).abs() < 1e-3, "{}", volume(&t));
    }

    #[test]
    fn mirrored_transform_keeps_outward_winding() {
        let b = cuboid(Vec3::ONE).scale(Vec3::new(-1.0, 1.0, 1.0));
        assert!(volume(&b) > 0.0);
    }

    #[test]
    fn uvs_stay_in_unit_square_and_normals_are_unit() {
        let meshes =
            [cylinder(1.0, 1.0, 16), sphere(1.0, 16), sweep(&arc_points(1.0, 0.0, 3.0, 10), 0.1, 8, false)];
        for m in meshes {
            assert!(m.uvs.iter().all(|uv| (0.0..=1.0).contains(&uv.x) && (0.0..=1.0).contains(&uv.y)));
            assert!(m.normals.iter().all(|n| (n.length() - 1.0).abs() < 1e-3));
        }
    }
}
