//! Bottle: a lathed body (wine, water or flask shape) with a cap, a label wrapped around the
//! front only (text on one side), and sometimes a jug handle (+X) or a pump spout (+Z).

use glam::{Vec2, Vec3};

use super::{paint, two_tone};
use crate::model::{hsv, Material, Model};
use crate::primitives::{arc_points, cuboid_between, cylinder, lathe, lathe_arc, rod, sweep};
use crate::rng::Rng;
use crate::texture::Pattern;

pub fn build(rng: &mut Rng) -> Model {
    let mut model = Model::default();
    let glass = match rng.int(0, 2) {
        0 => hsv(rng.range(0.25, 0.4), rng.range(0.5, 0.9), rng.range(0.2, 0.5)),
        1 => hsv(rng.range(0.05, 0.1), 0.8, rng.range(0.25, 0.5)),
        _ => paint(rng),
    };
    let body = model.material(Material::glossy("glass", glass));
    let cap = model.material(Material::glossy("cap", paint(rng)));
    let (background, band) = two_tone(rng);
    let label = model.material(Material::textured(
        "label",
        Pattern::Label { background, band, ink: hsv(0.0, 0.0, 0.1), seed: (rng.unit() * 1e6) as u32 },
    ));

    let r = rng.range(0.25, 0.45);
    let kind = rng.int(0, 2);
    let (body_h, neck_r, shoulder, neck_h) = match kind {
        0 => (r * rng.range(3.0, 4.0), r * 0.3, r * 0.8, r * rng.range(1.5, 2.2)),
        1 => (r * rng.range(2.0, 3.0), r * 0.45, r * 0.6, r * rng.range(0.4, 0.8)),
        _ => (r * rng.range(1.5, 2.2), r * 0.3, r * 0.3, r * rng.range(0.8, 1.2)),
    };
    let p = |x: f32, y: f32| Vec2::new(x, y);
    let mut profile = vec![p(0.0, 0.0), p(r * 0.92, 0.0), p(r, 0.06 * r), p(r, body_h)];
    for k in 1..=6 {
        let f = k as f32 / 6.0;
        let a = f * std::f32::consts::FRAC_PI_2;
        profile.push(p(neck_r + (r - neck_r) * a.cos(), body_h + shoulder * a.sin()));
    }
    let top = body_h + shoulder + neck_h;
    profile.push(p(neck_r, top));
    profile.push(p(0.0, top));
    model.add(body, lathe(&profile, 28));
    let cap_h = rng.range(0.15, 0.4) * r;
    model.add(cap, cylinder(neck_r * 1.12, cap_h, 20).translate(Vec3::Y * (top + cap_h / 2.0 - 0.02)));

    // Label around the front half: not a full turn, so the bottle's spin is visible.
    let ly0 = body_h * rng.range(0.2, 0.35);
    let ly1 = body_h * rng.range(0.65, 0.9);
    let span = rng.range(1.6, 2.4);
    let front = std::f32::consts::FRAC_PI_2; // +Z
    let lr = r * 1.01;
    model.add(label, lathe_arc(&[p(lr, ly0), p(lr, ly1)], 20, front - span, front + span));

    match rng.int(0, 3) {
        0 => {
            // Jug handle on +X, from the shoulder to the upper body.
            let a = Vec3::new(r * 0.9, body_h * 0.95, 0.0);
            let b = Vec3::new(r * 0.95, body_h * 0.5, 0.0);
            let mid = (a + b) * 0.5;
            let rad = (a - b).length() * 0.5;
            let path: Vec<Vec3> = arc_points(rad, 1.5, -1.5, 12)
                .into_iter()
                .map(|q| mid + Vec3::new(q.x * 0.9, q.y, 0.0))
                .collect();
            model.add(cap, sweep(&path, r * 0.1, 10, false));
        }
        1 => {
            // Pump head with a spout pointing to +Z.
            let y = top + cap_h;
            model.add(cap, cylinder(neck_r * 0.4, r * 0.5, 12).translate(Vec3::Y * (y + r * 0.25)));
            let head = y + r * 0.5;
            model.add(
                cap,
                cuboid_between(
                    Vec3::new(-neck_r * 0.6, head, -neck_r * 0.6),
                    Vec3::new(neck_r * 0.6, head + r * 0.25, neck_r * 0.6),
                ),
            );
            model.add(
                cap,
                rod(
                    Vec3::new(0.0, head + r * 0.15, 0.0),
                    Vec3::new(0.0, head + r * 0.1, r * 1.2),
                    r * 0.08,
                    r * 0.07,
                    10,
                ),
            );
        }
        _ => {}
    }
    model
}
