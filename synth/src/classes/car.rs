//! Car: a slanted lower body (front towards +Z), a glass cabin set back (sedan, hatchback, van
//! or pickup with an open bed), four wheels with hubcaps, white headlights and red tail lights,
//! sometimes a spoiler or a roof rack.

use glam::{Quat, Vec2, Vec3};

use super::{metal, paint};
use crate::model::{hsv, Material, Model};
use crate::primitives::{cuboid_between, cylinder, hexahedron, lathe};
use crate::rng::Rng;

pub fn build(rng: &mut Rng) -> Model {
    let mut model = Model::default();
    let paint_mat = model.material(Material::glossy("paint", paint(rng)));
    let glass = model.material(Material::glossy("glass", hsv(0.58, 0.3, rng.range(0.08, 0.2))));
    let tyre = model.material(Material::matte("tyres", [0.04, 0.04, 0.04]));
    let chrome = model.material(Material::glossy("hubcaps", metal(rng)));
    let head = model.material(Material::glossy("headlights", [1.0, 0.97, 0.8]));
    let tail = model.material(Material::glossy("taillights", [0.8, 0.05, 0.05]));

    let len = rng.range(3.8, 4.8);
    let w = rng.range(1.6, 1.9);
    let clear = rng.range(0.15, 0.25);
    let body_h = rng.range(0.45, 0.65);
    let hood_drop = rng.range(0.05, 0.2);
    let nose_in = rng.range(0.1, 0.35);
    let lower = hexahedron(std::array::from_fn(|i| {
        let x = if i & 1 == 1 { w / 2.0 } else { -w / 2.0 };
        let top = i & 2 == 2;
        let front = i & 4 == 4;
        let y = if top { clear + body_h - if front { hood_drop } else { 0.0 } } else { clear };
        let z = if front {
            len / 2.0 - if top { nose_in } else { nose_in * 0.3 }
        } else {
            -len / 2.0 + if top { 0.05 } else { 0.15 }
        };
        Vec3::new(x, y, z)
    }));
    model.add(paint_mat, lower);

    // Cabin: 0 sedan, 1 hatchback, 2 van, 3 pickup.
    let kind = rng.int(0, 3);
    let cabin_h = match kind {
        2 => rng.range(0.7, 0.9),
        _ => rng.range(0.4, 0.55),
    };
    let (zb, zf) = match kind {
        0 => (-len * 0.3, len * 0.12),
        1 => (-len * 0.47, len * 0.12),
        2 => (-len * 0.48, len * 0.3),
        _ => (-len * 0.05, len * 0.18),
    };
    let slope_f = rng.range(0.35, 0.6) * cabin_h * if kind == 2 { 0.5 } else { 1.0 };
    let slope_b = if kind == 0 { rng.range(0.3, 0.6) * cabin_h } else { rng.range(0.0, 0.15) * cabin_h };
    let y0 = clear + body_h - 0.01;
    let inset = rng.range(0.05, 0.15);
    let cabin = hexahedron(std::array::from_fn(|i| {
        let top = i & 2 == 2;
        let x = if i & 1 == 1 {
            w / 2.0 - if top { inset } else { 0.03 }
        } else {
            -(w / 2.0 - if top { inset } else { 0.03 })
        };
        let front = i & 4 == 4;
        let z = match (front, top) {
            (true, true) => zf - slope_f,
            (true, false) => zf,
            (false, true) => zb + slope_b,
            (false, false) => zb,
        };
        Vec3::new(x, if top { y0 + cabin_h } else { y0 }, z)
    }));
    model.add(glass, cabin);
    // A painted roof slab over the glass.
    model.add(
        paint_mat,
        cuboid_between(
            Vec3::new(-(w / 2.0 - inset) - 0.01, y0 + cabin_h, zb + slope_b),
            Vec3::new(w / 2.0 - inset + 0.01, y0 + cabin_h + 0.04, zf - slope_f),
        ),
    );
    if kind == 3 {
        // Pickup bed walls behind the cabin.
        let top = y0 + rng.range(0.15, 0.3);
        for x in [-w / 2.0, w / 2.0 - 0.05] {
            model.add(
                paint_mat,
                cuboid_between(Vec3::new(x, y0, -len / 2.0 + 0.05), Vec3::new(x + 0.05, top, zb)),
            );
        }
        model.add(
            paint_mat,
            cuboid_between(
                Vec3::new(-w / 2.0, y0, -len / 2.0 + 0.05),
                Vec3::new(w / 2.0, top, -len / 2.0 + 0.1),
            ),
        );
    }

    // Wheels: a lathed tyre about X, a hubcap on the outside.
    let wr = rng.range(0.3, 0.4);
    let ww = rng.range(0.2, 0.28);
    let axle = len / 2.0 - rng.range(0.65, 0.85);
    let p = |x: f32, y: f32| Vec2::new(x, y);
    let tyre_mesh = lathe(
        &[
            p(0.0, -ww / 2.0),
            p(wr * 0.8, -ww / 2.0),
            p(wr, -ww * 0.3),
            p(wr, ww * 0.3),
            p(wr * 0.8, ww / 2.0),
            p(0.0, ww / 2.0),
        ],
        20,
    );
    for sx in [-1.0, 1.0] {
        for sz in [-1.0, 1.0] {
            let c = Vec3::new(sx * (w / 2.0 - ww * 0.35), wr, sz * axle);
            let to_x = Quat::from_rotation_z(std::f32::consts::FRAC_PI_2);
            model.add(tyre, tyre_mesh.clone().rotate(to_x).translate(c));
            let hub = cylinder(wr * 0.55, 0.02, 16).rotate(to_x).translate(c + Vec3::X * sx * (ww / 2.0));
            model.add(chrome, hub);
        }
    }

    // Lights: white at the front (+Z), red at the back.
    let ly = clear + body_h * 0.6 - hood_drop;
    let lw = rng.range(0.15, 0.3);
    for sx in [-1.0, 1.0] {
        let x = sx * (w / 2.0 - 0.1 - lw / 2.0);
        let zf = len / 2.0 - nose_in * 0.3 - 0.05;
        model.add(
            head,
            cuboid_between(
                Vec3::new(x - lw / 2.0, ly - 0.05, zf),
                Vec3::new(x + lw / 2.0, ly + 0.05, zf + 0.08),
            ),
        );
        let ty = clear + body_h * 0.75;
        model.add(
            tail,
            cuboid_between(
                Vec3::new(x - lw / 2.0, ty - 0.06, -len / 2.0 + 0.08),
                Vec3::new(x + lw / 2.0, ty + 0.06, -len / 2.0 + 0.18),
            ),
        );
    }
    if kind == 0 && rng.chance(0.4) {
        let y = clear + body_h;
        let zs = -len / 2.0 + 0.15;
        model.add(
            paint_mat,
            cuboid_between(Vec3::new(-w * 0.4, y + 0.15, zs - 0.2), Vec3::new(w * 0.4, y + 0.18, zs + 0.05)),
        );
        for x in [-w * 0.3, w * 0.3] {
            model.add(
                paint_mat,
                cuboid_between(Vec3::new(x - 0.03, y - 0.02, zs - 0.1), Vec3::new(x + 0.03, y + 0.16, zs)),
            );
        }
    } else if kind != 3 && rng.chance(0.3) {
        let y = y0 + cabin_h + 0.04;
        for x in [-w * 0.35, w * 0.35] {
            model.add(
                chrome,
                cuboid_between(
                    Vec3::new(x - 0.03, y, zb + slope_b + 0.1),
                    Vec3::new(x + 0.03, y + 0.06, zf - slope_f - 0.1),
                ),
            );
        }
    }
    model
}
