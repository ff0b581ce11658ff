//! Mug: a lathed hollow body with a base and a handle on one side (+X); plain glossy, striped or
//! checked.

use glam::{Quat, Vec2, Vec3};

use super::{paint, two_tone};
use crate::model::{hsv, Material, Model};
use crate::primitives::{arc_points, lathe, sweep};
use crate::rng::Rng;
use crate::texture::Pattern;

pub fn build(rng: &mut Rng) -> Model {
    let mut model = Model::default();
    let body = match rng.int(0, 3) {
        0 => {
            let (a, b) = two_tone(rng);
            model.material(Material::textured(
                "body",
                Pattern::Stripes { a, b, count: 2 * rng.int(2, 5) as u32, along_v: true },
            ))
        }
        1 => {
            let (a, b) = two_tone(rng);
            model.material(Material::textured(
                "body",
                Pattern::Checks { a, b, count: 2 * rng.int(3, 6) as u32 },
            ))
        }
        2 => model.material(Material::glossy("body", hsv(0.1, 0.05, rng.range(0.85, 0.97)))),
        _ => model.material(Material::glossy("body", paint(rng))),
    };
    let inside = model.material(Material::glossy("inside", hsv(0.1, 0.05, 0.92)));
    let handle_mat =
        if rng.chance(0.6) { body } else { model.material(Material::glossy("handle", paint(rng))) };

    let r = rng.range(0.35, 0.5);
    let h = r * rng.range(1.6, 2.6);
    let flare = rng.range(0.95, 1.15);
    let wall = 0.05;
    let p = |x: f32, y: f32| Vec2::new(x, y);
    let outer = [p(0.0, 0.0), p(r * 0.9, 0.0), p(r, 0.06), p(r * flare, h)];
    let inner = [p(r * flare, h), p(r * flare - wall, h), p(r - wall, 0.12), p(0.0, 0.12)];
    model.add(body, lathe(&outer, 32));
    model.add(inside, lathe(&inner, 32));

    // Handle: a C or a squarer D on the +X side, ends buried in the wall.
    let hr = rng.range(0.25, 0.4) * h;
    let thick = rng.range(0.04, 0.07);
    let centre = Vec3::new(r * (1.0 + flare) * 0.5 - 0.02, h * rng.range(0.45, 0.55), 0.0);
    let path: Vec<Vec3> = if rng.chance(0.5) {
        arc_points(hr, -1.5, 1.5, 16).into_iter().map(|q| Vec3::new(q.x * 0.8, q.y, 0.0) + centre).collect()
    } else {
        let (x, y) = (hr * 0.8, hr);
        [p(0.0, -y), p(x * 0.8, -y), p(x, -y * 0.8), p(x, y * 0.8), p(x * 0.8, y), p(0.0, y)]
            .iter()
            .map(|q| q.extend(0.0) + centre)
            .collect()
    };
    let tilt = Quat::from_rotation_z(rng.range(-0.1, 0.1));
    let path: Vec<Vec3> = path.into_iter().map(|q| centre + tilt * (q - centre)).collect();
    model.add(handle_mat, sweep(&path, thick, 12, false));
    model
}
