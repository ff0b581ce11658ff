//! Airplane: lathed fuselage (nose towards +Z), swept tapered wings, tailplane, a single
//! vertical fin on top, engines under the wings or a nose propeller, cockpit windows.

use glam::{Quat, Vec2, Vec3};

use super::{deg, metal, paint};
use crate::model::{hsv, Material, Model};
use crate::primitives::{hexahedron, lathe, rod, sphere, Mesh};
use crate::rng::Rng;

/// A wing panel from the root (at x = 0) to the tip (at +x); `le` are leading-edge points.
fn wing(root_le: Vec3, root_chord: f32, tip_le: Vec3, tip_chord: f32, thick: f32) -> Mesh {
    hexahedron(std::array::from_fn(|i| {
        let tip = i & 1 == 1;
        let top = i & 2 == 2;
        let leading = i & 4 == 4;
        let (le, chord, t) =
            if tip { (tip_le, tip_chord, thick * 0.5) } else { (root_le, root_chord, thick) };
        le + Vec3::new(0.0, if top { t * 0.5 } else { -t * 0.5 }, if leading { 0.0 } else { -chord })
    }))
}

fn mirrored(m: &Mesh) -> Mesh {
    m.clone().scale(Vec3::new(-1.0, 1.0, 1.0))
}

pub fn build(rng: &mut Rng) -> Model {
    let mut model = Model::default();
    let livery = if rng.chance(0.5) { hsv(0.6, 0.03, rng.range(0.8, 0.95)) } else { paint(rng) };
    let body = model.material(Material::glossy("fuselage", livery));
    let accent = model.material(Material::glossy("tail", paint(rng)));
    let wing_mat = if rng.chance(0.5) { body } else { model.material(Material::matte("wings", metal(rng))) };
    let glass = model.material(Material::glossy("windows", [0.05, 0.08, 0.12]));
    let engine_mat = model.material(Material::glossy("engines", metal(rng)));

    let len = rng.range(3.0, 4.5);
    let r = rng.range(0.16, 0.28);
    let p = |x: f32, y: f32| Vec2::new(x, y);
    let profile = [
        p(0.0, 0.0),
        p(r * 0.2, 0.0),
        p(r * 0.75, len * 0.2),
        p(r, len * 0.38),
        p(r, len * 0.8),
        p(r * 0.75, len * 0.92),
        p(r * 0.35, len * 0.98),
        p(0.0, len),
    ];
    // Lathe along Y, then Y -> +Z; the tail end sits at z = -len/2.
    let fuselage = lathe(&profile, 24).rotate(Quat::from_rotation_x(deg(90.0))).translate(Vec3::new(
        0.0,
        0.0,
        -len * 0.5,
    ));
    model.add(body, fuselage);

    // Cockpit windows: a dark band near the nose, on top.
    let cz = len * 0.5 - len * 0.1;
    let windshield =
        sphere(1.0, 16).scale(Vec3::new(r * 0.7, r * 0.35, r * 0.9)).translate(Vec3::new(0.0, r * 0.62, cz));
    model.add(glass, windshield);

    // Main wings.
    let wing_z = rng.range(-0.05, 0.12) * len;
    let root_chord = rng.range(0.22, 0.32) * len;
    let span = rng.range(0.75, 1.25) * len * 0.5;
    let sweep = rng.range(0.0, 0.7) * span;
    let taper = rng.range(0.25, 0.6);
    let wing_y = rng.pick(&[-0.55, 0.0, 0.6]) * r;
    let dihedral = rng.range(-0.02, 0.12) * span;
    let root_le = Vec3::new(0.0, wing_y, wing_z + root_chord * 0.5);
    let tip_le = root_le + Vec3::new(span, dihedral, -sweep);
    let right = wing(root_le, root_chord, tip_le, root_chord * taper, r * 0.35);
    model.add(wing_mat, mirrored(&right));
    model.add(wing_mat, right);

    // Engines: 0 (then a propeller on the nose), 2 or 4, hanging under the wings.
    let engines = rng.pick(&[0usize, 2, 2, 4]);
    let er = rng.range(0.35, 0.55) * r;
    let spots: &[f32] = match engines {
        2 => &[0.35],
        4 => &[0.3, 0.62],
        _ => &[],
    };
    for &f in spots {
        for side in [-1.0, 1.0] {
            let at = root_le.lerp(tip_le, f) * Vec3::new(side, 1.0, 1.0)
                + Vec3::new(0.0, -er * 1.3, 0.1 * root_chord);
            model.add(engine_mat, rod(at - Vec3::Z * er * 2.5, at + Vec3::Z * er * 1.2, er * 0.8, er, 16));
        }
    }
    if engines == 0 {
        let nose = Vec3::new(0.0, 0.0, len * 0.5);
        model.add(engine_mat, sphere(r * 0.25, 12).translate(nose));
        let blade = hexahedron(std::array::from_fn(|i| {
            Vec3::new(
                if i & 1 == 1 { r * 0.08 } else { -r * 0.08 },
                if i & 2 == 2 { r * 2.2 } else { 0.0 },
                if i & 4 == 4 { 0.02 * r } else { -0.02 * r },
            )
        }));
        let blades = rng.int(2, 4);
        let phase = rng.range(0.0, std::f32::consts::TAU);
        for k in 0..blades {
            let a = phase + k as f32 * std::f32::consts::TAU / blades as f32;
            model.add(
                engine_mat,
                blade.clone().rotate(Quat::from_rotation_z(a)).translate(nose + Vec3::Z * r * 0.1),
            );
        }
    }

    // Tail: vertical fin on top (the only part above the fuselage), then the tailplane.
    let tail_z = -len * 0.5;
    let fin_h = rng.range(1.6, 2.8) * r;
    let fin_chord = rng.range(0.14, 0.22) * len;
    let fin_sweep = rng.range(0.3, 1.0) * fin_chord;
    let fin = hexahedron(std::array::from_fn(|i| {
        let side = if i & 1 == 1 { 0.05 * r } else { -0.05 * r };
        let top = i & 2 == 2;
        let leading = i & 4 == 4;
        let y = if top { r * 0.3 + fin_h } else { r * 0.3 };
        let chord = if top { fin_chord * 0.5 } else { fin_chord };
        let z0 = tail_z + len * 0.02 + if top { fin_sweep } else { 0.0 };
        Vec3::new(side, y, if leading { z0 + chord } else { z0 })
    }));
    model.add(accent, fin);
    let t_tail = rng.chance(0.3);
    let stab_y = if t_tail { r * 0.3 + fin_h } else { 0.0 };
    let stab_chord = fin_chord * rng.range(0.7, 1.0);
    let stab_le =
        Vec3::new(0.0, stab_y, tail_z + len * 0.03 + stab_chord + if t_tail { fin_sweep } else { 0.0 });
    let stab_span = span * rng.range(0.28, 0.4);
    let stab = wing(
        stab_le,
        stab_chord,
        stab_le + Vec3::new(stab_span, 0.0, -stab_chord * 0.5),
        stab_chord * 0.5,
        r * 0.2,
    );
    let stab_mat = if t_tail { accent } else { wing_mat };
    model.add(stab_mat, mirrored(&stab));
    model.add(stab_mat, stab);
    model
}
