//! Mesh loading: ShapeNetCore v2 OBJ + MTL + textures, normalised into the reference scene's world.
//!
//! - [`load_obj`] reads `model_normalized.obj` through tobj (triangulated, single index), its
//!   materials ([`material`]) and textures, applies the OBJ-to-world axis change, centres the
//!   bounding box at the origin and scales to a unit diagonal when needed ([`normalise`]).
//! - Problems that the reference would survive (a missing texture, a missing `.mtl`) become
//!   [`Mesh::warnings`]; broken input (unreadable or empty OBJ, NaN vertex, unparsable `.mtl`)
//!   is an `Err` naming the file.

mod material;
mod normalise;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

pub use material::{Material, Texture};
pub use normalise::{obj_to_world, UNIT_DIAGONAL_TOLERANCE};

/// One vertex as the GPU reads it: world position (before the per-view rotation), unit normal,
/// texture coordinate with V already flipped to image rows (0 = top).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Vertex {
    pub position: [f32; 3],
    pub normal: [f32; 3],
    pub uv: [f32; 2],
}

/// A run of indices drawn with one material.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Submesh {
    pub material: usize,
    pub first_index: u32,
    pub index_count: u32,
}

/// A loaded, normalised mesh: centred at the origin, unit bounding-box diagonal, world axes (Z up).
#[derive(Clone, Debug)]
pub struct Mesh {
    /// The OBJ file it was read from.
    pub source: PathBuf,
    pub vertices: Vec<Vertex>,
    /// Triangle list, grouped by material (see [`Mesh::submeshes`]).
    pub indices: Vec<u32>,
    pub submeshes: Vec<Submesh>,
    pub materials: Vec<Material>,
    /// Decoded textures, shared between materials that name the same file.
    pub textures: Vec<Texture>,
    /// Non-fatal problems (missing texture, missing `.mtl`), one line each, naming the file.
    pub warnings: Vec<String>,
}

impl Mesh {
    pub fn triangle_count(&self) -> usize {
        self.indices.len() / 3
    }

    /// Axis-aligned bounds of the vertices, `(min, max)`.
    pub fn bounds(&self) -> ([f32; 3], [f32; 3]) {
        normalise::bounds(self.vertices.iter().map(|v| v.position))
    }

    /// Builds a mesh from world-space triangles that are already normalised (tests, generated
    /// meshes): one material, flat normals computed per face.
    pub fn from_triangles(triangles: &[[[f32; 3]; 3]], material: Material) -> Self {
        let mut builder = Builder::default();
        for t in triangles {
            builder.push_flat_triangle(0, *t, [[0.0; 2]; 3]);
        }
        builder.finish(PathBuf::from("<generated>"), vec![material], Vec::new(), Vec::new())
    }
}

/// Loads and normalises a ShapeNetCore v2 style OBJ with its materials and textures.
pub fn load_obj(path: &Path) -> anyhow::Result<Mesh> {
    let options = tobj::LoadOptions { triangulate: true, single_index: true, ..Default::default() };
    let library = material::MaterialLibrary::new(path);
    let file = std::fs::File::open(path).with_context(|| format!("{}: cannot read mesh", path.display()))?;
    // tobj panics on some malformed lines (e.g. a colour with two components): an error, not a crash.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tobj::load_obj_buf(&mut std::io::BufReader::new(file), &options, |mtl| library.load(mtl))
    }));
    let models = match parsed {
        Ok(Ok((models, _))) => models,
        Ok(Err(e)) => {
            // A broken .mtl is reported by the library, naming that file.
            library.error()?;
            bail!("{}: not a valid OBJ mesh ({e})", path.display())
        }
        Err(_) => {
            library.error()?;
            bail!("{}: not a valid OBJ mesh (malformed line)", path.display())
        }
    };
    let loaded = library.finish()?;

    let mut builder = Builder::default();
    let default_material = loaded.materials.len();
    for model in &models {
        let m = &model.mesh;
        if let Some(bad) = m.positions.iter().position(|v| !v.is_finite()) {
            bail!(
                "{}: non-finite vertex coordinate (vertex {} of object '{}')",
                path.display(),
                bad / 3 + 1,
                model.name
            );
        }
        let material = m.material_id.filter(|&i| i < loaded.materials.len()).unwrap_or(default_material);
        builder.push_model(m, material);
    }
    let mut materials = loaded.materials;
    materials.push(Material::default());
    let mut mesh = builder.finish(path.to_path_buf(), materials, loaded.textures, loaded.warnings);
    if mesh.indices.is_empty() {
        bail!("{}: mesh has no triangles", path.display());
    }
    let rescaled = normalise::normalise(&mut mesh.vertices)
        .with_context(|| format!("{}: cannot normalise", path.display()))?;
    if let Some(diagonal) = rescaled {
        mesh.warnings.push(format!(
            "{}: bounding-box diagonal {diagonal:.4}, rescaled to 1 (ShapeNetCore v2 meshes have 1; the reference never rescales)",
            path.display()
        ));
    }
    Ok(mesh)
}

/// Accumulates triangles per material, then concatenates them into one index list.
#[derive(Default)]
struct Builder {
    vertices: Vec<Vertex>,
    indices: Vec<u32>,
    /// Per material, the triangle indices (into `vertices`) drawn with it.
    per_material: Vec<Vec<u32>>,
}

impl Builder {
    fn material_list(&mut self, material: usize) -> &mut Vec<u32> {
        if self.per_material.len() <= material {
            self.per_material.resize_with(material + 1, Vec::new);
        }
        &mut self.per_material[material]
    }

    fn push_model(&mut self, m: &tobj::Mesh, material: usize) {
        let vertex_count = m.positions.len() / 3;
        let uv = |i: usize| -> [f32; 2] {
            if m.texcoords.len() >= 2 * (i + 1) {
                // OBJ's V runs bottom-up; image rows run top-down.
                [m.texcoords[2 * i], 1.0 - m.texcoords[2 * i + 1]]
            } else {
                [0.0, 0.0]
            }
        };
        let position =
            |i: usize| obj_to_world([m.positions[3 * i], m.positions[3 * i + 1], m.positions[3 * i + 2]]);
        let normals_ok = m.normals.len() == m.positions.len()
            && m.normals
                .chunks_exact(3)
                .all(|n| n.iter().all(|c| c.is_finite()) && n.iter().any(|&c| c != 0.0));
        let triangles = m.indices.chunks_exact(3).filter(|t| t.iter().all(|&i| (i as usize) < vertex_count));
        if normals_ok {
            let base = self.vertices.len() as u32;
            for i in 0..vertex_count {
                let n = obj_to_world([m.normals[3 * i], m.normals[3 * i + 1], m.normals[3 * i + 2]]);
                self.vertices.push(Vertex { position: position(i), normal: normalise::unit(n), uv: uv(i) });
            }
            let list = self.material_list(material);
            list.extend(triangles.flat_map(|t| t.iter().map(move |&i| base + i)));
        } else {
            // No (usable) normals: flat shading, so every triangle gets its own three vertices.
            for t in triangles {
                let idx = [t[0] as usize, t[1] as usize, t[2] as usize];
                self.push_flat_triangle(material, idx.map(position), idx.map(uv));
            }
        }
    }

    fn push_flat_triangle(&mut self, material: usize, p: [[f32; 3]; 3], uv: [[f32; 2]; 3]) {
        let normal = normalise::face_normal(p);
        let base = self.vertices.len() as u32;
        for k in 0..3 {
            self.vertices.push(Vertex { position: p[k], normal, uv: uv[k] });
        }
        self.material_list(material).extend([base, base + 1, base + 2]);
    }

    fn finish(
        mut self,
        source: PathBuf,
        materials: Vec<Material>,
        textures: Vec<Texture>,
        warnings: Vec<String>,
    ) -> Mesh {
        let mut submeshes = Vec::new();
        for (material, list) in self.per_material.iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            submeshes.push(Submesh {
                material,
                first_index: self.indices.len() as u32,
                index_count: list.len() as u32,
            });
            self.indices.extend_from_slice(list);
        }
        Mesh {
            source,
            vertices: self.vertices,
            indices: self.indices,
            submeshes,
            materials,
            textures,
            warnings,
        }
    }
}
