//! Bench: a seat of parallel slats on two or three side frames, a slatted backrest leaning
//! back (at -Z), and zero, one or two armrests.

use glam::{Quat, Vec3};

use super::{metal, paint, wood};
use crate::model::{Material, Model};
use crate::primitives::{cuboid_between, rod, rounded_between, rounded_box};
use crate::rng::Rng;

pub fn build(rng: &mut Rng) -> Model {
    let mut model = Model::default();
    let slats = model.material(Material::textured("slats", wood(rng)));
    let frame = if rng.chance(0.5) {
        model.material(Material::glossy("frame", metal(rng)))
    } else {
        model.material(Material::glossy("frame", paint(rng)))
    };

    let len = rng.range(1.2, 2.2);
    let d = rng.range(0.35, 0.55);
    let h = rng.range(0.4, 0.48);
    let n = rng.int(3, 6);
    let gap = rng.range(0.01, 0.03);
    let st = rng.range(0.025, 0.045);
    let sw = (d - gap * (n - 1) as f32) / n as f32;
    for k in 0..n {
        let z = -d / 2.0 + k as f32 * (sw + gap);
        model.add(
            slats,
            rounded_between(Vec3::new(-len / 2.0, h - st, z), Vec3::new(len / 2.0, h, z + sw), st * 0.3, 1),
        );
    }

    // Side frames: two legs and a cross bar each, at both ends (and the middle on long benches).
    let frames = if len > 1.8 { 3 } else { 2 };
    let inset = rng.range(0.05, 0.2);
    let fw = rng.range(0.03, 0.06);
    let splay = rng.range(0.0, 0.08);
    let back_h = rng.range(0.3, 0.5);
    let lean = rng.range(0.1, 0.35);
    for f in 0..frames {
        let x = -len / 2.0 + inset + (len - 2.0 * inset) * f as f32 / (frames - 1) as f32;
        let front = Vec3::new(x, 0.0, d / 2.0 - fw + splay);
        let back = Vec3::new(x, 0.0, -d / 2.0 + fw - splay);
        model.add(frame, rod(front, Vec3::new(x, h - st, d / 2.0 - fw), fw * 0.6, fw * 0.6, 8));
        model.add(frame, rod(back, Vec3::new(x, h - st, -d / 2.0 + fw), fw * 0.6, fw * 0.6, 8));
        model.add(
            frame,
            cuboid_between(
                Vec3::new(x - fw * 0.4, h - st - 0.05, -d / 2.0),
                Vec3::new(x + fw * 0.4, h - st, d / 2.0),
            ),
        );
        // Back support continuing the rear leg upwards, leaning back.
        let top = Vec3::new(x, h + back_h, -d / 2.0 - lean * back_h);
        model.add(frame, rod(Vec3::new(x, h - st, -d / 2.0 + fw), top, fw * 0.5, fw * 0.5, 8));
    }

    // Backrest slats along the back supports.
    let bn = rng.int(2, 4);
    let tilt = Quat::from_rotation_x(-lean.atan());
    for k in 0..bn {
        let f = 0.3 + 0.65 * k as f32 / bn.max(2) as f32;
        let c = Vec3::new(0.0, h + back_h * f, -d / 2.0 - lean * back_h * f - fw * 0.8);
        let slat = rounded_box(Vec3::new(len, back_h * 0.45 / bn as f32, st), st * 0.3, 1).rotate(tilt);
        model.add(slats, slat.translate(c));
    }

    // Armrests at the ends: none, one or both.
    let arms = rng.pick(&[0usize, 1, 2, 2]);
    let first = rng.sign();
    for k in 0..arms {
        let sx = if k == 0 { first } else { -first };
        let x = sx * (len / 2.0 - inset);
        let y = h + rng.range(0.18, 0.25);
        model.add(
            frame,
            rod(Vec3::new(x, h, d / 2.0 - fw), Vec3::new(x, y, d / 2.0 - fw), fw * 0.5, fw * 0.5, 8),
        );
        model.add(
            frame,
            cuboid_between(
                Vec3::new(x - 0.03, y, -d / 2.0 - lean * (y - h)),
                Vec3::new(x + 0.03, y + 0.03, d / 2.0),
            ),
        );
    }
    model
}
