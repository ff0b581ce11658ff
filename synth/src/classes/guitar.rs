//! Guitar, standing on its bottom with the strings facing +Z: an acoustic body (two lobes, sound
//! hole, pickguard on one side) or an electric one (uneven horns, pickups), a neck with a
//! fretboard, and a headstock with tuners on one side or both.

use glam::{Vec2, Vec3};

use super::{metal, paint, wood};
use crate::model::{hsv, Material, Model};
use crate::primitives::{cuboid_between, cylinder, extrude};
use crate::rng::Rng;

/// Distance from `c` along direction `d` to the far side of the circle (centre, radius); `c` must
/// be inside the circle.
fn exit(c: Vec2, d: Vec2, centre: Vec2, r: f32) -> f32 {
    let o = c - centre;
    let b = o.dot(d);
    -b + (b * b - (o.length_squared() - r * r)).max(0.0).sqrt()
}

pub fn build(rng: &mut Rng) -> Model {
    let mut model = Model::default();
    let acoustic = rng.chance(0.5);
    let body_mat = if acoustic || rng.chance(0.3) {
        model.material(Material::textured("body", wood(rng)))
    } else {
        model.material(Material::glossy("body", paint(rng)))
    };
    let dark = model.material(Material::matte("fretboard", hsv(0.07, 0.6, rng.range(0.1, 0.25))));
    let neck_mat = model.material(Material::textured("neck", wood(rng)));
    let hardware = model.material(Material::glossy("hardware", metal(rng)));
    let guard = model
        .material(Material::glossy("pickguard", if rng.chance(0.5) { [0.05; 3] } else { [0.92, 0.9, 0.85] }));

    let lower_r = rng.range(0.18, 0.22);
    let depth = if acoustic { rng.range(0.09, 0.12) } else { rng.range(0.04, 0.05) };
    let n = 64;
    let outline: Vec<Vec2> = if acoustic {
        // Union of two circles seen from a point inside both: star-shaped about that point.
        let upper_r = lower_r * rng.range(0.7, 0.85);
        let gap = (lower_r + upper_r) * rng.range(0.62, 0.72);
        let (lo, up) = (Vec2::ZERO, Vec2::new(0.0, gap));
        let c = Vec2::new(0.0, gap * 0.5);
        (0..n)
            .map(|k| {
                let a = k as f32 / n as f32 * std::f32::consts::TAU;
                let d = Vec2::new(a.cos(), a.sin());
                d * exit(c, d, lo, lower_r).max(exit(c, d, up, upper_r)) + c
            })
            .collect()
    } else {
        // An ellipse with two horns of different sizes (the left one longer).
        let (a, b) = (lower_r * 0.9, lower_r * 1.15);
        let horn_l = rng.range(0.35, 0.6) * lower_r;
        let horn_r = horn_l * rng.range(0.3, 0.7);
        (0..n)
            .map(|k| {
                let t = k as f32 / n as f32 * std::f32::consts::TAU;
                let bump = |centre: f32, h: f32| h * (-((t - centre) / 0.22).powi(2)).exp();
                let r = a * b / ((b * t.cos()).powi(2) + (a * t.sin()).powi(2)).sqrt()
                    + bump(2.0, horn_l)
                    + bump(1.15, horn_r);
                Vec2::new(r * t.cos(), r * t.sin() + b * 0.5)
            })
            .collect()
    };
    let centre = outline.iter().copied().sum::<Vec2>() / n as f32;
    let rel: Vec<Vec2> = outline.iter().map(|p| *p - centre).collect();
    let bottom = outline.iter().map(|p| p.y).fold(f32::MAX, f32::min);
    let top = outline.iter().filter(|p| p.x.abs() < 0.03).map(|p| p.y).fold(f32::MIN, f32::max);
    let shift = Vec3::new(centre.x, centre.y - bottom, 0.0);
    model.add(body_mat, extrude(&rel, depth).translate(shift));
    let front = depth / 2.0;

    // Neck and fretboard up the middle, headstock at the end.
    let neck_len = rng.range(0.45, 0.6);
    let nw = rng.range(0.045, 0.06);
    let neck_y0 = top - bottom - 0.02;
    let neck_y1 = neck_y0 + neck_len;
    model.add(
        neck_mat,
        cuboid_between(Vec3::new(-nw / 2.0, neck_y0, front - 0.04), Vec3::new(nw / 2.0, neck_y1, front)),
    );
    let fb_y0 = if acoustic { neck_y0 - 0.08 } else { neck_y0 - 0.15 };
    model.add(
        dark,
        cuboid_between(Vec3::new(-nw / 2.0, fb_y0, front), Vec3::new(nw / 2.0, neck_y1, front + 0.008)),
    );
    let hs_len = rng.range(0.14, 0.2);
    let one_side = !acoustic && rng.chance(0.7);
    let hw = if one_side { nw * 1.5 } else { nw * 1.7 };
    let hx = if one_side { nw * 0.5 } else { 0.0 };
    model.add(
        neck_mat,
        cuboid_between(
            Vec3::new(hx - hw / 2.0, neck_y1, front - 0.035),
            Vec3::new(hx + hw / 2.0, neck_y1 + hs_len, front - 0.005),
        ),
    );
    for k in 0..6 {
        let (x, y) = if one_side {
            (hx + hw / 2.0, neck_y1 + hs_len * (0.12 + 0.15 * k as f32))
        } else {
            let side = if k < 3 { -1.0 } else { 1.0 };
            (side * hw / 2.0, neck_y1 + hs_len * (0.25 + 0.25 * (k % 3) as f32))
        };
        let sx = if x >= 0.0 { 1.0 } else { -1.0 };
        let peg = cylinder(0.008, 0.03, 8).rotate(glam::Quat::from_rotation_z(std::f32::consts::FRAC_PI_2));
        model.add(hardware, peg.translate(Vec3::new(x + sx * 0.015, y, front - 0.02)));
    }

    // Bridge, and a sound hole with a pickguard beside it or pickups with a pickguard.
    let body_h = top - bottom;
    let bridge_y = body_h * 0.22;
    model.add(
        dark,
        cuboid_between(
            Vec3::new(-0.06, bridge_y - 0.015, front),
            Vec3::new(0.06, bridge_y + 0.015, front + 0.012),
        ),
    );
    let guard_side = rng.sign();
    if acoustic {
        let hole_y = body_h * rng.range(0.55, 0.62);
        let hole_r = lower_r * rng.range(0.22, 0.3);
        let hole =
            cylinder(hole_r, 0.004, 24).rotate(glam::Quat::from_rotation_x(std::f32::consts::FRAC_PI_2));
        model.add(dark, hole.translate(Vec3::new(0.0, hole_y, front + 0.001)));
        let pg: Vec<Vec2> = (0..24)
            .map(|k| {
                let a = k as f32 / 24.0 * std::f32::consts::TAU;
                Vec2::new(a.cos() * hole_r * 0.6, a.sin() * hole_r * 0.9)
            })
            .collect();
        let pos = Vec3::new(guard_side * hole_r * 1.5, hole_y - hole_r * 0.8, front + 0.002);
        model.add(guard, extrude(&pg, 0.003).translate(pos));
    } else {
        let pickups = rng.int(1, 3);
        for k in 0..pickups {
            let y = body_h * (0.32 + 0.12 * k as f32);
            model.add(
                hardware,
                cuboid_between(
                    Vec3::new(-0.035, y - 0.012, front),
                    Vec3::new(0.035, y + 0.012, front + 0.01),
                ),
            );
        }
        let pg: Vec<Vec2> = (0..24)
            .map(|k| {
                let a = k as f32 / 24.0 * std::f32::consts::TAU;
                Vec2::new(a.cos() * lower_r * 0.35, a.sin() * lower_r * 0.55)
            })
            .collect();
        model.add(
            guard,
            extrude(&pg, 0.003).translate(Vec3::new(
                guard_side * lower_r * 0.45,
                body_h * 0.35,
                front + 0.002,
            )),
        );
        // A volume knob on the far side from the pickguard.
        model.add(
            hardware,
            cylinder(0.015, 0.015, 12)
                .rotate(glam::Quat::from_rotation_x(std::f32::consts::FRAC_PI_2))
                .translate(Vec3::new(-guard_side * lower_r * 0.55, body_h * 0.2, front + 0.007)),
        );
    }
    model
}
