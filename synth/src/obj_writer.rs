//! Encodes a [`Model`] as ShapeNetCore v2 files: `model_normalized.obj` / `.mtl` / `.json` and
//! the textures the `.mtl` names.

use std::fmt::Write as _;

use glam::Vec3;

use crate::model::Model;

/// Name of the OBJ, MTL and JSON files (without extension), as in ShapeNetCore v2.
pub const STEM: &str = "model_normalized";

/// Decimals written for coordinates; statistics are computed on the rounded values.
const DECIMALS: usize = 6;

/// `model_normalized.json`, with ShapeNetCore v2's fields.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObjStats {
    pub min: [f64; 3],
    pub max: [f64; 3],
    /// Mean of the vertices.
    pub centroid: [f64; 3],
    pub id: String,
    #[serde(rename = "numVertices")]
    pub num_vertices: usize,
}

/// The bytes of one object's files; textures are `(file name, PNG bytes)` under `images/`.
pub struct ObjectFiles {
    pub obj: String,
    pub mtl: String,
    pub json: String,
    pub textures: Vec<(String, Vec<u8>)>,
}

/// Moves the bounding-box centre to the origin and scales to a unit bounding-box diagonal.
pub fn normalise(model: &mut Model) {
    let all = model.meshes.iter().flat_map(|m| m.positions.iter().copied());
    let (lo, hi) =
        all.fold((Vec3::splat(f32::MAX), Vec3::splat(f32::MIN)), |(lo, hi), p| (lo.min(p), hi.max(p)));
    let centre = (lo + hi) * 0.5;
    let scale = 1.0 / (hi - lo).length();
    for m in &mut model.meshes {
        for p in &mut m.positions {
            *p = (*p - centre) * scale;
        }
    }
}

/// Rounds to the written precision, without negative zero.
fn round(x: f32) -> f64 {
    let f = 10f64.powi(DECIMALS as i32);
    (x as f64 * f).round() / f + 0.0
}

fn fmt3(out: &mut String, tag: &str, v: [f64; 3]) {
    let _ = writeln!(out, "{tag} {:.6} {:.6} {:.6}", v[0], v[1], v[2]);
}

/// Encodes a normalised model. `id` is the object id (written into the JSON like ShapeNet).
pub fn encode(model: &Model, id: &str, header: &str) -> anyhow::Result<ObjectFiles> {
    let mut obj = format!("# {header}\nmtllib {STEM}.mtl\n");
    let mut lo = [f64::MAX; 3];
    let mut hi = [f64::MIN; 3];
    let mut sum = [0.0f64; 3];
    let mut count = 0usize;
    for mesh in &model.meshes {
        for p in &mesh.positions {
            let r = p.to_array().map(round);
            for k in 0..3 {
                lo[k] = lo[k].min(r[k]);
                hi[k] = hi[k].max(r[k]);
                sum[k] += r[k];
            }
            fmt3(&mut obj, "v", r);
        }
        count += mesh.positions.len();
    }
    for mesh in &model.meshes {
        for uv in &mesh.uvs {
            let _ = writeln!(obj, "vt {:.6} {:.6}", round(uv.x), round(uv.y));
        }
    }
    for mesh in &model.meshes {
        for n in &mesh.normals {
            fmt3(&mut obj, "vn", n.to_array().map(round));
        }
    }
    let mut base = 1u32;
    for (mesh, mat) in model.meshes.iter().zip(&model.materials) {
        let _ = writeln!(obj, "usemtl {}", mat.name);
        for t in &mesh.triangles {
            let [a, b, c] = t.map(|i| i + base);
            let _ = writeln!(obj, "f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}");
        }
        base += mesh.positions.len() as u32;
    }

    let mut mtl = format!("# {header}\n");
    let mut textures = Vec::new();
    for mat in &model.materials {
        let [r, g, b] = mat.kd.map(|x| round(x.clamp(0.0, 1.0)));
        let ka = [r, g, b].map(|x| (x * 0.2 * 1e6).round() / 1e6);
        let ks = round(mat.ks);
        let _ = writeln!(mtl, "\nnewmtl {}", mat.name);
        fmt3(&mut mtl, "Ka", ka);
        fmt3(&mut mtl, "Kd", [r, g, b]);
        fmt3(&mut mtl, "Ks", [ks; 3]);
        let _ = writeln!(mtl, "Ns {:.6}\nd 1.000000\nillum 2", round(mat.ns));
        if let Some(pattern) = &mat.texture {
            let name = format!("texture{}.png", textures.len());
            let _ = writeln!(mtl, "map_Kd ../images/{name}");
            textures.push((name, pattern.png()?));
        }
    }

    let stats = ObjStats {
        min: lo,
        max: hi,
        centroid: sum.map(|s| (s / count.max(1) as f64 * 1e6).round() / 1e6 + 0.0),
        id: id.to_string(),
        num_vertices: count,
    };
    let json = serde_json::to_string(&stats)?;
    Ok(ObjectFiles { obj, mtl, json, textures })
}
