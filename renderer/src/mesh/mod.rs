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

pub use material::{Material, Texture, MTL_MAX_BYTES, TEXTURE_MAX_BYTES};
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

/// Largest OBJ file read: about 10 M triangles of ShapeNet-style text.
pub const OBJ_MAX_BYTES: u64 = 1 << 30;
/// Most triangles a mesh may have: what one renderer draws in a few seconds and a few GB
/// (vertex buffers are split to fit the adapter's largest buffer, see `gpu::upload`).
pub const MAX_TRIANGLES: usize = 10_000_000;

/// The object's folder of an OBJ (`<id>/` for `<id>/models/model_normalized.obj`): what every
/// file the mesh names must stay inside.
pub fn object_folder(obj: &Path) -> PathBuf {
    let nonempty = |p: Option<&Path>| p.filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf);
    let dir = nonempty(obj.parent()).unwrap_or_else(|| PathBuf::from("."));
    match dir.parent() {
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Some(p) => p.to_path_buf(),
        None => dir,
    }
}

/// Text without a UTF-8 byte-order mark (it would hide the first line's keyword from tobj).
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

/// Loads and normalises a ShapeNetCore v2 style OBJ with its materials and textures.
pub fn load_obj(path: &Path) -> anyhow::Result<Mesh> {
    let root = object_folder(path);
    let bytes = dataset::input::confine(&root, path)
        .and_then(|resolved| dataset::input::read_bounded(&resolved, OBJ_MAX_BYTES))
        .map_err(|e| anyhow::anyhow!("{}: cannot read mesh: {}", path.display(), e.reason()))?;
    let text = strip_bom(&bytes);
    let options = tobj::LoadOptions { triangulate: true, single_index: true, ..Default::default() };
    let library = material::MaterialLibrary::new(path, &root);
    // tobj panics on some malformed lines (e.g. a colour with two components): an error, not a crash.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tobj::load_obj_buf(&mut std::io::BufReader::new(text), &options, |mtl| library.load(mtl))
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
    let mut warnings = loaded.warnings;
    if !loaded.fell_back {
        warnings.extend(unknown_materials(path, text, &loaded.materials));
    }
    let triangles: usize = models.iter().map(|m| m.mesh.indices.len() / 3).sum();
    if triangles > MAX_TRIANGLES {
        bail!(
            "{}: {triangles} triangles, more than the {MAX_TRIANGLES} the renderer draws (refused)",
            path.display()
        );
    }

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
    warnings.extend(builder.warnings(path));
    let mut materials = loaded.materials;
    materials.push(Material::default());
    let (kept, degenerate) = (builder.indices_len() / 3, builder.degenerate);
    let mut mesh = builder.finish(path.to_path_buf(), materials, loaded.textures, warnings);
    if mesh.indices.is_empty() {
        bail!("{}: mesh has no triangles", path.display());
    }
    if degenerate == kept {
        bail!("{}: all {kept} triangles are degenerate (zero area): nothing to draw", path.display());
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

/// `usemtl` names that no `.mtl` defines: their faces are drawn default grey, which is a warning.
fn unknown_materials(path: &Path, text: &[u8], materials: &[Material]) -> Vec<String> {
    let known: std::collections::HashSet<&str> = materials.iter().map(|m| m.name.as_str()).collect();
    let mut unknown = std::collections::BTreeSet::new();
    for line in String::from_utf8_lossy(text).lines() {
        if let Some(name) = line.trim_start().strip_prefix("usemtl") {
            let name = name.trim();
            if !name.is_empty() && !known.contains(name) {
                unknown.insert(dataset::input::readable(name, 64));
            }
        }
    }
    unknown
        .into_iter()
        .map(|name| {
            format!(
                "{}: usemtl '{name}' names no material of its .mtl files; its faces are default grey",
                path.display()
            )
        })
        .collect()
}

/// Whether a triangle's three corners span no area (in f64: f32 products of tiny or huge
/// coordinates would round to zero or overflow).
fn zero_area<'a>(mut corners: impl Iterator<Item = &'a [f32]>) -> bool {
    let mut next = || corners.next().map(|p| [p[0] as f64, p[1] as f64, p[2] as f64]).unwrap_or_default();
    let (a, b, c) = (next(), next(), next());
    let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
    let n = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
    n.iter().all(|&x| x == 0.0)
}

/// Accumulates triangles per material, then concatenates them into one index list.
#[derive(Default)]
struct Builder {
    vertices: Vec<Vertex>,
    indices: Vec<u32>,
    /// Per material, the triangle indices (into `vertices`) drawn with it.
    per_material: Vec<Vec<u32>>,
    /// Triangles of zero area (drawn, but they cover nothing).
    degenerate: usize,
    /// Triangles skipped for naming a vertex that does not exist.
    out_of_range: usize,
    /// Models whose normals were present but unusable (flat shading instead).
    bad_normals: usize,
}

impl Builder {
    fn indices_len(&self) -> usize {
        self.per_material.iter().map(Vec::len).sum()
    }

    /// What was skipped or changed, one line each.
    fn warnings(&self, path: &Path) -> Vec<String> {
        let mut out = Vec::new();
        if self.out_of_range > 0 {
            out.push(format!(
                "{}: {} triangles name vertices that do not exist; skipped",
                path.display(),
                self.out_of_range
            ));
        }
        if self.bad_normals > 0 {
            out.push(format!(
                "{}: {} objects have missing, zero or non-finite vertex normals; flat shading instead",
                path.display(),
                self.bad_normals
            ));
        }
        out
    }

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
        let in_range = |t: &&[u32]| t.iter().all(|&i| (i as usize) < vertex_count);
        self.out_of_range += m.indices.chunks_exact(3).filter(|t| !in_range(t)).count();
        self.degenerate += m
            .indices
            .chunks_exact(3)
            .filter(in_range)
            .filter(|t| zero_area(t.iter().map(|&i| &m.positions[3 * i as usize..3 * i as usize + 3])))
            .count();
        self.bad_normals += usize::from(!m.normals.is_empty() && !normals_ok);
        let triangles = m.indices.chunks_exact(3).filter(in_range);
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
