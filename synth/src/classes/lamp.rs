//! Lamp: an articulated desk lamp (base, two arm segments, a cone shade pointing forward and
//! down) or an arc floor lamp (a pole bending over to a hanging shade), each with a bulb.

use glam::{Quat, Vec3};

use super::{metal, paint};
use crate::model::{hsv, Material, Model};
use crate::primitives::{cuboid_between, cylinder, frustum, rod, sphere, sweep};
use crate::rng::Rng;

pub fn build(rng: &mut Rng) -> Model {
    let mut model = Model::default();
    let body = if rng.chance(0.5) {
        model.material(Material::glossy("body", paint(rng)))
    } else {
        model.material(Material::glossy("body", metal(rng)))
    };
    let shade = if rng.chance(0.5) { body } else { model.material(Material::matte("shade", paint(rng))) };
    let bulb = model.material(Material::glossy("bulb", hsv(0.14, 0.3, 1.0)));

    // Where the shade hangs and which way it points.
    let (tip, dir, scale) = if rng.chance(0.6) {
        let base_r = rng.range(0.12, 0.2);
        if rng.chance(0.5) {
            model.add(body, cylinder(base_r, 0.04, 24).translate(Vec3::Y * 0.02));
        } else {
            model.add(
                body,
                cuboid_between(Vec3::new(-base_r, 0.0, -base_r * 1.2), Vec3::new(base_r, 0.05, base_r * 0.8)),
            );
        }
        let a1 = rng.range(-0.5, 0.3);
        let l1 = rng.range(0.3, 0.45);
        let a2 = rng.range(0.6, 1.4);
        let l2 = rng.range(0.3, 0.45);
        let joint0 = Vec3::new(0.0, 0.05, -base_r * 0.3);
        let joint1 = joint0 + Vec3::new(0.0, a1.cos(), a1.sin()) * l1;
        let joint2 = joint1 + Vec3::new(0.0, a2.cos(), a2.sin()) * l2;
        let arm_r = rng.range(0.01, 0.018);
        for (a, b) in [(joint0, joint1), (joint1, joint2)] {
            model.add(body, rod(a, b, arm_r, arm_r, 10));
        }
        for j in [joint0, joint1, joint2] {
            model.add(body, sphere(arm_r * 2.0, 12).translate(j));
        }
        // A spring or counterweight on one side of the elbow.
        let side = rng.sign();
        model.add(
            body,
            cylinder(arm_r * 1.6, 0.1, 10).translate(joint1 + Vec3::new(side * arm_r * 2.5, -0.03, 0.0)),
        );
        let down = rng.range(0.5, 1.3);
        (joint2, Vec3::new(0.0, -down.cos(), down.sin()).normalize(), 1.0)
    } else {
        let base_r = rng.range(0.15, 0.25);
        model.add(body, cylinder(base_r, 0.04, 24).translate(Vec3::Y * 0.02));
        let hgt = rng.range(1.3, 1.9);
        let reach = rng.range(0.5, 0.9);
        let lean = rng.range(-0.1, 0.1);
        // Quarter-ellipse from the top of the straight pole over to the front.
        let straight = hgt * rng.range(0.4, 0.6);
        let mut path = vec![Vec3::ZERO, Vec3::Y * straight];
        for k in 1..=12 {
            let a = k as f32 / 12.0 * std::f32::consts::FRAC_PI_2 * 1.2;
            path.push(Vec3::new(lean * a, straight + (hgt - straight) * a.sin(), reach * (1.0 - a.cos())));
        }
        model.add(body, sweep(&path, rng.range(0.012, 0.02), 10, false));
        let end = *path.last().unwrap();
        (end, Vec3::new(0.0, -1.0, 0.25).normalize(), 1.4)
    };

    // The shade: a frustum opening along `dir`, with a bulb at its mouth.
    let sr = rng.range(0.07, 0.12) * scale;
    let sl = rng.range(0.1, 0.18) * scale;
    let flare = rng.range(1.5, 2.8);
    let cone = frustum(sr * 0.35, sr * flare * 0.5 + sr * 0.3, 0.0, sl, 20);
    let q = Quat::from_rotation_arc(Vec3::Y, dir);
    model.add(shade, cone.rotate(q).translate(tip));
    model.add(bulb, sphere(sr * 0.45, 14).translate(tip + dir * sl * 0.9));
    model
}
