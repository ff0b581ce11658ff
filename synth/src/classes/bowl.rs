//! Bowl: a wide, shallow lathed vessel on a foot ring, with a single tab handle or a pouring lip
//! on one side; plain or with concentric bands.

use glam::{Vec2, Vec3};

use super::{paint, two_tone};
use crate::model::{hsv, Material, Model};
use crate::primitives::{extrude, hexahedron};
use crate::rng::Rng;
use crate::texture::Pattern;

pub fn build(rng: &mut Rng) -> Model {
    let mut model = Model::default();
    let outside = if rng.chance(0.5) {
        let (a, b) = two_tone(rng);
        model.material(Material::textured(
            "outside",
            Pattern::Stripes { a, b, count: 2 * rng.int(2, 4) as u32, along_v: true },
        ))
    } else {
        model.material(Material::glossy("outside", paint(rng)))
    };
    let inside = model
        .material(Material::glossy("inside", hsv(rng.unit(), rng.range(0.0, 0.3), rng.range(0.7, 0.95))));

    let r = rng.range(0.8, 1.2);
    let h = r * rng.range(0.35, 0.6);
    let foot = r * rng.range(0.35, 0.55);
    let wall = 0.05;
    let p = |x: f32, y: f32| Vec2::new(x, y);
    // Outer wall from the foot up to the rim, as a quarter-ellipse-like curve.
    let mut outer = vec![p(0.0, 0.0), p(foot, 0.0), p(foot, 0.06)];
    let steps = 10;
    for k in 1..=steps {
        let a = k as f32 / steps as f32 * std::f32::consts::FRAC_PI_2;
        outer.push(p(foot + (r - foot) * a.sin(), 0.06 + (h - 0.06) * (1.0 - a.cos())));
    }
    let mut inner = vec![p(r, h), p(r - wall, h)];
    for k in (0..steps).rev() {
        let a = k as f32 / steps as f32 * std::f32::consts::FRAC_PI_2;
        let x = (foot - wall) * 0.9 + (r - wall - (foot - wall) * 0.9) * a.sin();
        inner.push(p(x, 0.12 + (h - 0.12) * (1.0 - a.cos())));
    }
    inner.push(p(0.0, 0.12));
    model.add(outside, crate::primitives::lathe(&outer, 36));
    model.add(inside, crate::primitives::lathe(&inner, 36));

    // A single feature on +X: a flat tab handle or a pouring lip.
    if rng.chance(0.6) {
        let len = r * rng.range(0.25, 0.4);
        let half = r * rng.range(0.2, 0.3);
        let outline: Vec<Vec2> = (0..16)
            .map(|k| {
                let a = k as f32 / 16.0 * std::f32::consts::TAU;
                Vec2::new(a.cos() * len, a.sin() * half)
            })
            .collect();
        let tab = extrude(&outline, 0.04).rotate(glam::Quat::from_rotation_x(std::f32::consts::FRAC_PI_2));
        model.add(outside, tab.translate(Vec3::new(r + len * 0.6, h - 0.03, 0.0)));
    } else {
        let w = r * 0.25;
        let lip = hexahedron(std::array::from_fn(|i| {
            let out = i & 1 == 1;
            let top = i & 2 == 2;
            let side = if i & 4 == 4 { 1.0 } else { -1.0 };
            let x = if out { r + r * 0.3 } else { r - 0.02 };
            let y =
                if top { h + if out { 0.08 } else { 0.0 } } else { h - 0.12 + if out { 0.1 } else { 0.0 } };
            Vec3::new(x, y, side * if out { w * 0.35 } else { w })
        }));
        model.add(inside, lip);
    }
    model
}
