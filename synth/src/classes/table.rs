//! Table: a rectangular wooden top on four legs or trestles, with a drawer on the front (+Z)
//! off-centre, or a desk pedestal of drawers under one end.

use glam::Vec3;

use super::{metal, paint, wood};
use crate::model::{MatId, Material, Model};
use crate::primitives::{cuboid_between, rod, rounded_between, sphere};
use crate::rng::Rng;

/// A drawer front with a knob, facing +Z, centred at `c`.
fn drawer(model: &mut Model, body: MatId, knob: MatId, c: Vec3, size: Vec3) {
    model.add(body, cuboid_between(c - size * 0.5, c + size * 0.5));
    let k = size.y.min(size.x) * 0.18;
    model.add(knob, sphere(k, 10).translate(c + Vec3::Z * (size.z * 0.5 + k * 0.6)));
}

pub fn build(rng: &mut Rng) -> Model {
    let mut model = Model::default();
    let top_mat = model.material(Material::textured("top", wood(rng)));
    let legs_mat =
        if rng.chance(0.5) { top_mat } else { model.material(Material::glossy("legs", metal(rng))) };
    let drawer_mat =
        if rng.chance(0.5) { top_mat } else { model.material(Material::matte("drawers", paint(rng))) };
    let knob = model.material(Material::glossy("knobs", metal(rng)));

    let w = rng.range(1.0, 1.9);
    let d = rng.range(0.55, 0.95);
    let h = rng.range(0.68, 0.8);
    let t = rng.range(0.03, 0.07);
    let over = rng.range(0.0, 0.08);
    let edge = t * rng.range(0.1, 0.45);
    model.add(
        top_mat,
        rounded_between(Vec3::new(-w / 2.0, h - t, -d / 2.0), Vec3::new(w / 2.0, h, d / 2.0), edge, 2),
    );

    let desk = rng.chance(0.4);
    let side = rng.sign();
    let leg = rng.range(0.025, 0.05);
    let (lx, lz) = (w / 2.0 - over - leg, d / 2.0 - over - leg);
    if rng.chance(0.25) && !desk {
        // Trestles: a slab at each end plus a stretcher.
        for sx in [-1.0, 1.0] {
            let x = sx * lx;
            model.add(
                legs_mat,
                cuboid_between(Vec3::new(x - leg, 0.0, -lz * 0.8), Vec3::new(x + leg, h - t, lz * 0.8)),
            );
            model.add(
                legs_mat,
                cuboid_between(Vec3::new(x - leg * 1.5, 0.0, -lz), Vec3::new(x + leg * 1.5, 0.05, lz)),
            );
        }
        model.add(
            legs_mat,
            cuboid_between(Vec3::new(-lx, h * 0.25, -leg), Vec3::new(lx, h * 0.25 + 0.06, leg)),
        );
    } else {
        let round = rng.chance(0.5);
        for sx in [-1.0, 1.0] {
            if desk && sx == side {
                continue;
            }
            for sz in [-1.0, 1.0] {
                let (x, z) = (sx * lx, sz * lz);
                if round {
                    model
                        .add(legs_mat, rod(Vec3::new(x, 0.0, z), Vec3::new(x, h - t, z), leg * 0.7, leg, 10));
                } else {
                    model.add(
                        legs_mat,
                        cuboid_between(Vec3::new(x - leg, 0.0, z - leg), Vec3::new(x + leg, h - t, z + leg)),
                    );
                }
            }
        }
    }

    if desk {
        // A pedestal of drawers under one end.
        let pw = rng.range(0.3, 0.45).min(w * 0.4);
        let x0 = side * (w / 2.0 - over - pw / 2.0);
        let pd = d - 2.0 * over;
        model.add(
            drawer_mat,
            cuboid_between(
                Vec3::new(x0 - pw / 2.0, 0.0, -pd / 2.0),
                Vec3::new(x0 + pw / 2.0, h - t, pd / 2.0),
            ),
        );
        let n = rng.int(2, 4);
        let dh = (h - t - 0.04) / n as f32;
        for k in 0..n {
            let c = Vec3::new(x0, 0.02 + dh * (k as f32 + 0.5), pd / 2.0 + 0.01);
            drawer(&mut model, drawer_mat, knob, c, Vec3::new(pw * 0.9, dh * 0.85, 0.02));
        }
    } else {
        // One drawer under the top, off-centre towards the front.
        let dw = rng.range(0.25, 0.4) * w;
        let x0 = side * rng.range(0.1, 0.25) * w;
        let dh = rng.range(0.08, 0.14);
        let c = Vec3::new(x0, h - t - dh / 2.0, lz - 0.02);
        model.add(
            drawer_mat,
            cuboid_between(
                Vec3::new(x0 - dw / 2.0, h - t - dh, -lz * 0.5),
                Vec3::new(x0 + dw / 2.0, h - t, lz - 0.03),
            ),
        );
        drawer(&mut model, drawer_mat, knob, c, Vec3::new(dw, dh, 0.02));
    }
    model
}
