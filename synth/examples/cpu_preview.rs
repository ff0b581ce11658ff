//! A quick CPU look at the library without a GPU: generates it, then rasterises a few views per
//! object (the reference camera and object pose, Lambert shading, no shadows) into one PNG.
//!
//! `cargo run -p synth --example cpu_preview -- OUT.png [per_class] [views] [size] [seed] [zoom] [class,class]`
//! Rows are classes in `synth::classes()` order.

use std::path::Path;

use glam::{Mat3, Vec2, Vec3};
use image::{Rgb, RgbImage};

struct Tri {
    p: [Vec3; 3],
    uv: [Vec2; 3],
    colour: [f32; 3],
    texture: Option<usize>,
}

fn load(obj: &Path) -> anyhow::Result<(Vec<Tri>, Vec<image::RgbImage>)> {
    let opts = tobj::LoadOptions { triangulate: true, single_index: true, ..Default::default() };
    let (models, mats) = tobj::load_obj(obj, &opts)?;
    let mats = mats?;
    let dir = obj.parent().unwrap();
    let mut textures = Vec::new();
    let mut tex_of = Vec::new();
    for m in &mats {
        if let Some(t) = &m.diffuse_texture {
            textures.push(image::open(dir.join(t))?.to_rgb8());
            tex_of.push(Some(textures.len() - 1));
        } else {
            tex_of.push(None);
        }
    }
    let mut tris = Vec::new();
    for m in models {
        let mesh = m.mesh;
        let mat = mesh.material_id.unwrap_or(0);
        let colour = mats[mat].diffuse.unwrap_or([0.8; 3]);
        for f in mesh.indices.chunks(3) {
            let p = std::array::from_fn(|k| {
                let i = f[k] as usize * 3;
                Vec3::new(mesh.positions[i], mesh.positions[i + 1], mesh.positions[i + 2])
            });
            let uv = std::array::from_fn(|k| {
                let i = f[k] as usize * 2;
                Vec2::new(mesh.texcoords[i], mesh.texcoords[i + 1])
            });
            tris.push(Tri { p, uv, colour, texture: tex_of[mat] });
        }
    }
    Ok((tris, textures))
}

fn render(
    tris: &[Tri],
    textures: &[RgbImage],
    euler: [f64; 3],
    size: u32,
    bg: [f32; 3],
    zoom: f32,
) -> RgbImage {
    let [a, b, c] = euler.map(|x| x as f32);
    let rot = Mat3::from_rotation_z(c) * Mat3::from_rotation_y(b) * Mat3::from_rotation_x(a);
    let eye = Vec3::new(0.0, 1.7678, 1.7678);
    let f = (-eye).normalize();
    let r = f.cross(Vec3::Z).normalize();
    let u = r.cross(f);
    let tan = 18.0f32 / 50.0 / zoom;
    let s = size as f32;
    let mut img = RgbImage::from_pixel(size, size, Rgb(bg.map(|x| (x * 255.0) as u8)));
    let mut depth = vec![f32::MAX; (size * size) as usize];
    let light = Vec3::new(0.3, 0.5, 1.0).normalize();
    for t in tris {
        let w = t.p.map(|p| rot * Vec3::new(p.x, -p.z, p.y));
        let n = (w[1] - w[0]).cross(w[2] - w[0]).normalize_or_zero();
        let shade = 0.35 + 0.65 * n.dot(light).abs();
        let scr = w.map(|p| {
            let d = p - eye;
            let z = d.dot(f);
            Vec3::new((d.dot(r) / z / tan * 0.5 + 0.5) * s, (0.5 - d.dot(u) / z / tan * 0.5) * s, z)
        });
        let area =
            (scr[1].x - scr[0].x) * (scr[2].y - scr[0].y) - (scr[2].x - scr[0].x) * (scr[1].y - scr[0].y);
        if area.abs() < 1e-9 {
            continue;
        }
        let x0 = scr.iter().map(|p| p.x).fold(f32::MAX, f32::min).max(0.0) as u32;
        let x1 = (scr.iter().map(|p| p.x).fold(f32::MIN, f32::max).min(s - 1.0)) as u32;
        let y0 = scr.iter().map(|p| p.y).fold(f32::MAX, f32::min).max(0.0) as u32;
        let y1 = (scr.iter().map(|p| p.y).fold(f32::MIN, f32::max).min(s - 1.0)) as u32;
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let e = |i: usize, j: usize| {
                    (scr[j].x - scr[i].x) * (py - scr[i].y) - (scr[j].y - scr[i].y) * (px - scr[i].x)
                };
                let (w0, w1, w2) = (e(1, 2) / area, e(2, 0) / area, e(0, 1) / area);
                if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                    continue;
                }
                let z = w0 * scr[0].z + w1 * scr[1].z + w2 * scr[2].z;
                let k = (y * size + x) as usize;
                if z >= depth[k] {
                    continue;
                }
                depth[k] = z;
                let base = match t.texture {
                    Some(ti) => {
                        let uv = t.uv[0] * w0 + t.uv[1] * w1 + t.uv[2] * w2;
                        let tex = &textures[ti];
                        let tx = ((uv.x.rem_euclid(1.0)) * tex.width() as f32) as u32 % tex.width();
                        let ty = ((1.0 - uv.y.rem_euclid(1.0)) * tex.height() as f32) as u32 % tex.height();
                        tex.get_pixel(tx, ty).0.map(|v| v as f32 / 255.0)
                    }
                    None => t.colour,
                };
                img.put_pixel(x, y, Rgb(base.map(|v| ((v * shade).min(1.0) * 255.0) as u8)));
            }
        }
    }
    img
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).map(String::as_str).unwrap_or("cpu_preview.png");
    let per_class: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(4);
    let views: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(2);
    let size: u32 = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(128);
    let seed: u64 = args.get(5).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let zoom: f32 = args.get(6).map(|s| s.parse()).transpose()?.unwrap_or(1.0);
    let only: Option<&str> = args.get(7).map(String::as_str);
    let dir = tempfile::tempdir()?;
    let keys = synth::generate_library(dir.path(), per_class, seed)?;
    let classes: Vec<_> =
        synth::classes().iter().filter(|c| only.is_none_or(|o| o.split(',').any(|n| n == c.name))).collect();
    let cols = per_class * views;
    let mut sheet = RgbImage::new(cols as u32 * size, classes.len() as u32 * size);
    for (row, class) in classes.iter().enumerate() {
        let objs: Vec<_> = keys.iter().filter(|k| k.synset == class.synset).collect();
        for (i, key) in objs.iter().enumerate() {
            let (tris, textures) = load(&synth::layout::obj_path(dir.path(), key))?;
            for v in 0..views {
                let latent = dataset::factors::sample_latent(seed, key, v);
                let euler = if v == 0 { [0.0; 3] } else { latent.rotation };
                let bg = latent.floor_rgb().map(|x| 0.5 + 0.5 * x as f32);
                let img = render(&tris, &textures, euler, size, bg, zoom);
                image::imageops::replace(
                    &mut sheet,
                    &img,
                    ((i * views + v) as u32 * size) as i64,
                    (row as u32 * size) as i64,
                );
            }
        }
    }
    sheet.save(out)?;
    println!("wrote {out}: rows = {:?}", classes.iter().map(|c| c.name).collect::<Vec<_>>());
    Ok(())
}
