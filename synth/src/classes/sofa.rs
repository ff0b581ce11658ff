//! Sofa: a fabric base with seat and back cushions (back at -Z), two arms, or one arm with a
//! chaise extending forward on one side, on short legs.

use glam::Vec3;

use super::{fabric, metal, two_tone, wood};
use crate::model::{Material, Model};
use crate::primitives::{rod, rounded_between};
use crate::rng::Rng;
use crate::texture::Pattern;

pub fn build(rng: &mut Rng) -> Model {
    let mut model = Model::default();
    let cover = fabric(rng);
    let body = model.material(Material::matte("fabric", cover));
    let cushions = if rng.chance(0.35) {
        let (a, b) = two_tone(rng);
        model.material(Material::textured(
            "cushions",
            Pattern::Checks { a, b, count: 2 * rng.int(2, 4) as u32 },
        ))
    } else if rng.chance(0.4) {
        model.material(Material::matte("cushions", fabric(rng)))
    } else {
        // The cover's colour, lighter or darker, so the cushions stand out from the frame.
        let f = rng.pick(&[0.7, 1.25]);
        model.material(Material::matte("cushions", cover.map(|c| (c * f).min(1.0))))
    };
    let legs = if rng.chance(0.5) {
        model.material(Material::textured("legs", wood(rng)))
    } else {
        model.material(Material::glossy("legs", metal(rng)))
    };

    let seats = rng.int(1, 4);
    let seat_w = rng.range(0.55, 0.75);
    let arm_w = rng.range(0.1, 0.25);
    let w = seats as f32 * seat_w;
    let d = rng.range(0.8, 1.0);
    let leg_h = rng.range(0.05, 0.18);
    let base_h = rng.range(0.2, 0.3);
    let seat_t = rng.range(0.1, 0.18);
    let back_t = rng.range(0.15, 0.25);
    let back_h = rng.range(0.35, 0.55);
    let arm_h = rng.range(0.15, 0.3);
    let y_seat = leg_h + base_h;
    let x0 = -w / 2.0;
    // Soft edges: cushions rounder than the frame.
    let soft = rng.range(0.03, 0.06);
    let frame_box = |lo: Vec3, hi: Vec3| rounded_between(lo, hi, soft * 0.6, 2);
    let cushion_box = |lo: Vec3, hi: Vec3| rounded_between(lo, hi, soft, 3);

    // Chaise: one side's seat runs forward. Otherwise, usually two arms, sometimes one.
    let chaise = seats >= 2 && rng.chance(0.4);
    let side = rng.sign();
    let chaise_d = if chaise { rng.range(0.5, 0.8) } else { 0.0 };
    model.add(body, frame_box(Vec3::new(x0, leg_h, -d / 2.0), Vec3::new(-x0, y_seat, d / 2.0)));
    model.add(
        body,
        frame_box(
            Vec3::new(x0, y_seat, -d / 2.0),
            Vec3::new(-x0, y_seat + seat_t + back_h, -d / 2.0 + back_t),
        ),
    );
    for k in 0..seats {
        let xa = x0 + seat_w * k as f32 + 0.01;
        let xb = xa + seat_w - 0.02;
        let on_chaise = chaise && (if side > 0.0 { k == seats - 1 } else { k == 0 });
        let front = d / 2.0 + if on_chaise { chaise_d } else { 0.0 };
        if on_chaise {
            model.add(
                body,
                frame_box(Vec3::new(xa - 0.01, leg_h, d / 2.0), Vec3::new(xb + 0.01, y_seat, front)),
            );
        }
        model.add(
            cushions,
            cushion_box(Vec3::new(xa, y_seat, -d / 2.0 + back_t), Vec3::new(xb, y_seat + seat_t, front)),
        );
        let cb = back_t * 0.8;
        model.add(
            cushions,
            cushion_box(
                Vec3::new(xa, y_seat + seat_t, -d / 2.0 + back_t),
                Vec3::new(xb, y_seat + seat_t + back_h * 0.85, -d / 2.0 + back_t + cb),
            ),
        );
    }
    let arms: Vec<f32> = if chaise {
        vec![-side]
    } else if rng.chance(0.2) {
        vec![side]
    } else {
        vec![-1.0, 1.0]
    };
    for sx in arms {
        let xa = if sx < 0.0 { x0 - arm_w } else { -x0 };
        model.add(
            body,
            frame_box(
                Vec3::new(xa, leg_h, -d / 2.0),
                Vec3::new(xa + arm_w, y_seat + seat_t + arm_h, d / 2.0),
            ),
        );
    }
    let leg_r = rng.range(0.02, 0.04);
    let xs = [x0 + 0.06, -x0 - 0.06];
    for x in xs {
        for z in [-d / 2.0 + 0.06, d / 2.0 - 0.06] {
            model.add(legs, rod(Vec3::new(x, 0.0, z), Vec3::new(x, leg_h + 0.01, z), leg_r * 0.7, leg_r, 8));
        }
    }
    if chaise {
        let x = if side > 0.0 { -x0 - 0.06 } else { x0 + 0.06 };
        let z = d / 2.0 + chaise_d - 0.06;
        model.add(legs, rod(Vec3::new(x, 0.0, z), Vec3::new(x, leg_h + 0.01, z), leg_r * 0.7, leg_r, 8));
    }
    model
}
