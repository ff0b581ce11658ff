//! Chair: seat, legs (four straight or splayed, or an office pedestal with a star base), a back
//! (panel, vertical slats or ladder rails) at -Z, and zero, one or two armrests.

use glam::{Quat, Vec3};

use super::{fabric, metal, wood};
use crate::model::{Material, Model};
use crate::primitives::{cuboid, cuboid_between, cylinder, rod, rounded_between, sphere};
use crate::rng::Rng;

pub fn build(rng: &mut Rng) -> Model {
    let mut model = Model::default();
    let frame = if rng.chance(0.6) {
        model.material(Material::textured("frame", wood(rng)))
    } else {
        model.material(Material::glossy("frame", metal(rng)))
    };
    let seat_mat =
        if rng.chance(0.6) { model.material(Material::matte("cushion", fabric(rng))) } else { frame };

    let w = rng.range(0.4, 0.6);
    let d = rng.range(0.4, 0.55);
    let h = rng.range(0.38, 0.5);
    let t = rng.range(0.03, 0.08);
    model.add(
        seat_mat,
        rounded_between(Vec3::new(-w / 2.0, h, -d / 2.0), Vec3::new(w / 2.0, h + t, d / 2.0), t * 0.4, 2),
    );

    let office = rng.chance(0.25);
    let leg = rng.range(0.018, 0.035);
    if office {
        let column_top = h;
        model.add(
            frame,
            cylinder(0.03, column_top - 0.08, 12).translate(Vec3::new(0.0, (column_top + 0.08) / 2.0, 0.0)),
        );
        let spokes = 5;
        let phase = rng.range(0.0, 1.2);
        for k in 0..spokes {
            let a = phase + k as f32 * std::f32::consts::TAU / spokes as f32;
            let tip = Vec3::new(a.cos(), 0.0, a.sin()) * (w * 0.55) + Vec3::Y * 0.06;
            model.add(frame, rod(Vec3::Y * 0.08, tip, 0.02, 0.015, 8));
            model.add(frame, sphere(0.03, 10).translate(tip - Vec3::Y * 0.03));
        }
    } else {
        let splay = if rng.chance(0.4) { rng.range(0.02, 0.08) } else { 0.0 };
        let round = rng.chance(0.5);
        for (sx, sz) in [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)] {
            let top = Vec3::new(sx * (w / 2.0 - leg * 1.5), h, sz * (d / 2.0 - leg * 1.5));
            let foot = Vec3::new(top.x + sx * splay, 0.0, top.z + sz * splay);
            if round {
                model.add(frame, rod(foot, top, leg * 0.7, leg, 10));
            } else {
                let mid = (top + foot) * 0.5;
                let dir = (top - foot).normalize();
                model.add(
                    frame,
                    cuboid(Vec3::new(leg * 1.6, h, leg * 1.6))
                        .rotate(Quat::from_rotation_arc(Vec3::Y, dir))
                        .translate(mid),
                );
            }
        }
        if rng.chance(0.5) {
            // Stretchers between the legs.
            let y = h * rng.range(0.2, 0.4);
            let x = w / 2.0 - leg * 1.5 + splay * 0.7;
            let z = d / 2.0 - leg * 1.5 + splay * 0.7;
            for sx in [-1.0, 1.0] {
                model.add(
                    frame,
                    rod(Vec3::new(sx * x, y, -z), Vec3::new(sx * x, y, z), leg * 0.45, leg * 0.45, 8),
                );
            }
        }
    }

    // Back at -Z, leaning back by a few degrees.
    let back_h = rng.range(0.35, 0.65);
    let lean = rng.range(0.0, 0.25);
    let base = Vec3::new(0.0, h + t, -d / 2.0 + 0.02);
    let top_of = |y: f32| base + Vec3::new(0.0, y, -lean * y);
    let style = rng.int(0, 2);
    let back_t = rng.range(0.025, 0.05);
    let tilt = Quat::from_rotation_x(-lean.atan());
    match style {
        0 => {
            let panel = cuboid(Vec3::new(w * rng.range(0.85, 1.0), back_h, back_t));
            model.add(seat_mat, panel.rotate(tilt).translate(top_of(back_h / 2.0)));
        }
        _ => {
            let post_r = leg * 0.9;
            for sx in [-1.0, 1.0] {
                let x = sx * (w / 2.0 - post_r);
                model.add(frame, rod(base + Vec3::X * x, top_of(back_h) + Vec3::X * x, post_r, post_r, 10));
            }
            let rail = cuboid(Vec3::new(w - post_r * 2.0, back_h * 0.15, back_t)).rotate(tilt);
            model.add(frame, rail.translate(top_of(back_h * 0.92)));
            let n = rng.int(2, 5);
            for k in 0..n {
                let f = (k as f32 + 1.0) / (n as f32 + 1.0);
                if style == 1 {
                    let x = -w / 2.0 + w * f;
                    let slat = cuboid(Vec3::new(w * 0.06, back_h * 0.85, back_t * 0.6)).rotate(tilt);
                    model.add(frame, slat.translate(top_of(back_h * 0.425) + Vec3::X * x));
                } else {
                    let rail = cuboid(Vec3::new(w - post_r * 2.0, back_h * 0.07, back_t * 0.6)).rotate(tilt);
                    model.add(frame, rail.translate(top_of(back_h * 0.85 * f)));
                }
            }
        }
    }

    // Armrests: none, one (on a random side) or two.
    let arms = rng.pick(&[0usize, 0, 1, 2, 2]);
    let first = rng.sign();
    let arm_h = rng.range(0.18, 0.25);
    for k in 0..arms {
        let sx = if k == 0 { first } else { -first };
        let x = sx * (w / 2.0 + 0.02);
        let front = Vec3::new(x, h + t, d / 2.0 - 0.05);
        model.add(frame, rod(front, front + Vec3::Y * arm_h, leg * 0.8, leg * 0.8, 10));
        let rest = cuboid_between(
            Vec3::new(x - 0.03, h + t + arm_h, -d / 2.0),
            Vec3::new(x + 0.03, h + t + arm_h + 0.03, d / 2.0),
        );
        model.add(seat_mat, rest);
    }
    model
}
