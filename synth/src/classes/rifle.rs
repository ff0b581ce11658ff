//! Rifle, muzzle towards +Z: a stock (wood or camouflage), receiver, barrel with a front sight,
//! a pistol grip and trigger guard below, a magazine, and sometimes a scope on top or a bipod.

use glam::{Quat, Vec3};

use super::{deg, metal, wood};
use crate::model::{hsv, Material, Model};
use crate::primitives::{arc_points, cuboid_between, hexahedron, rod, sweep};
use crate::rng::Rng;
use crate::texture::Pattern;

pub fn build(rng: &mut Rng) -> Model {
    let mut model = Model::default();
    let stock_mat = if rng.chance(0.5) {
        model.material(Material::textured("stock", wood(rng)))
    } else if rng.chance(0.5) {
        let h = rng.range(0.08, 0.2);
        let colours = [hsv(h, 0.4, 0.35), hsv(h + 0.05, 0.35, 0.55), hsv(h, 0.3, 0.15)];
        model
            .material(Material::textured("stock", Pattern::Camo { colours, seed: (rng.unit() * 1e6) as u32 }))
    } else {
        model.material(Material::matte("stock", hsv(0.0, 0.0, rng.range(0.05, 0.2))))
    };
    let steel = model.material(Material::glossy("steel", metal(rng)));
    let black = model.material(Material::glossy("black", [0.03, 0.03, 0.035]));

    let stock_len = rng.range(0.3, 0.4);
    let recv_len = rng.range(0.22, 0.32);
    let barrel_len = rng.range(0.4, 0.7);
    let h = rng.range(0.06, 0.08);
    let wdt = 0.045;
    let z0 = -(stock_len + recv_len + barrel_len) / 2.0;
    let z_recv = z0 + stock_len;
    let z_barrel = z_recv + recv_len;
    let butt_h = h * rng.range(1.8, 2.5);
    let drop = rng.range(0.0, 0.04);
    // Stock: a wedge from the tall butt plate up to the receiver.
    model.add(
        stock_mat,
        hexahedron(std::array::from_fn(|i| {
            let x = if i & 1 == 1 { wdt / 2.0 } else { -wdt / 2.0 };
            let top = i & 2 == 2;
            let fwd = i & 4 == 4;
            let y = match (fwd, top) {
                (true, true) => h / 2.0,
                (true, false) => -h / 2.0,
                (false, true) => h / 2.0 - drop,
                (false, false) => h / 2.0 - drop - butt_h,
            };
            Vec3::new(x, y, if fwd { z_recv } else { z0 })
        })),
    );
    model.add(
        steel,
        cuboid_between(Vec3::new(-wdt * 0.45, -h / 2.0, z_recv), Vec3::new(wdt * 0.45, h / 2.0, z_barrel)),
    );
    // Forend under the barrel, then the barrel itself.
    let forend = barrel_len * rng.range(0.3, 0.6);
    model.add(
        stock_mat,
        cuboid_between(
            Vec3::new(-wdt * 0.45, -h / 2.0, z_barrel),
            Vec3::new(wdt * 0.45, h * 0.25, z_barrel + forend),
        ),
    );
    let br = rng.range(0.009, 0.014);
    let z_end = z_barrel + barrel_len;
    model
        .add(steel, rod(Vec3::new(0.0, h * 0.3, z_barrel), Vec3::new(0.0, h * 0.3, z_end), br * 1.3, br, 12));
    model.add(
        black,
        cuboid_between(
            Vec3::new(-0.004, h * 0.3, z_end - 0.03),
            Vec3::new(0.004, h * 0.3 + br + 0.025, z_end - 0.015),
        ),
    );

    // Pistol grip and trigger guard under the back of the receiver.
    let gz = z_recv + recv_len * 0.15;
    let grip_len = rng.range(0.09, 0.13);
    let rake = deg(rng.range(10.0, 30.0));
    let grip_dir = Vec3::new(0.0, -rake.cos(), -rake.sin());
    model.add(
        stock_mat,
        cuboid_between(Vec3::new(-wdt * 0.4, -grip_len, -0.02), Vec3::new(wdt * 0.4, 0.0, 0.02))
            .rotate(Quat::from_rotation_arc(Vec3::NEG_Y, grip_dir))
            .translate(Vec3::new(0.0, -h / 2.0, gz)),
    );
    let guard: Vec<Vec3> = arc_points(0.03, deg(190.0), deg(350.0), 10)
        .into_iter()
        .map(|p| Vec3::new(0.0, p.y - h / 2.0 + 0.005, p.x + gz + 0.06))
        .collect();
    model.add(black, sweep(&guard, 0.004, 6, false));

    // Magazine ahead of the guard, straight or curved forward.
    let mz = gz + 0.11;
    let mag_len = rng.range(0.06, 0.16);
    let curve = rng.range(0.0, 0.5);
    let mag_w = rng.range(0.025, 0.04);
    model.add(
        black,
        hexahedron(std::array::from_fn(|i| {
            let x = if i & 1 == 1 { wdt * 0.35 } else { -wdt * 0.35 };
            let bottom = i & 2 == 0;
            let fwd = i & 4 == 4;
            let y = if bottom { -h / 2.0 - mag_len } else { -h / 2.0 + 0.005 };
            let z = mz
                + if fwd { mag_w / 2.0 } else { -mag_w / 2.0 }
                + if bottom { curve * mag_len } else { 0.0 };
            Vec3::new(x, y, z)
        })),
    );

    if rng.chance(0.55) {
        // Scope on two mounts over the receiver.
        let sr = rng.range(0.015, 0.022);
        let sy = h / 2.0 + sr + rng.range(0.015, 0.03);
        let (za, zb) = (z_recv - 0.02, z_barrel + rng.range(0.0, 0.08));
        model.add(black, rod(Vec3::new(0.0, sy, za), Vec3::new(0.0, sy, zb), sr, sr, 14));
        model.add(black, rod(Vec3::new(0.0, sy, za - 0.05), Vec3::new(0.0, sy, za), sr * 1.3, sr, 14));
        model.add(black, rod(Vec3::new(0.0, sy, zb), Vec3::new(0.0, sy, zb + 0.06), sr, sr * 1.5, 14));
        for z in [za + 0.03, zb - 0.03] {
            model.add(
                steel,
                cuboid_between(Vec3::new(-0.006, h / 2.0, z - 0.008), Vec3::new(0.006, sy, z + 0.008)),
            );
        }
        // Windage turret on one side only.
        let side = rng.sign();
        let mid = (za + zb) / 2.0;
        model.add(
            black,
            rod(Vec3::new(0.0, sy, mid), Vec3::new(side * (sr + 0.015), sy, mid), 0.007, 0.007, 10),
        );
    } else {
        // Bolt handle on the right side.
        model.add(
            steel,
            rod(
                Vec3::new(0.0, 0.0, z_recv + recv_len * 0.7),
                Vec3::new(-0.05, -0.015, z_recv + recv_len * 0.65),
                0.005,
                0.006,
                8,
            ),
        );
    }
    if rng.chance(0.3) {
        let at = Vec3::new(0.0, -h / 2.0, z_barrel + forend * 0.8);
        for sx in [-1.0, 1.0] {
            model.add(black, rod(at, at + Vec3::new(sx * 0.05, -0.16, 0.03), 0.005, 0.005, 6));
        }
    }
    model
}
