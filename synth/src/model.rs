//! An object before it is written: materials and, per material, the mesh that uses it.

use crate::primitives::Mesh;
use crate::texture::Pattern;

/// One `.mtl` material.
#[derive(Clone, Debug)]
pub struct Material {
    pub name: String,
    /// Diffuse colour, linear 0..1 as in `.mtl` files.
    pub kd: [f32; 3],
    /// Specular level (written as a grey `Ks`).
    pub ks: f32,
    /// Phong exponent `Ns` (0..1000).
    pub ns: f32,
    /// A generated texture, written as `map_Kd` (it replaces `Kd` in the reference importer).
    pub texture: Option<Pattern>,
}

impl Material {
    pub fn matte(name: &str, kd: [f32; 3]) -> Self {
        Self { name: name.to_string(), kd, ks: 0.05, ns: 10.0, texture: None }
    }

    pub fn glossy(name: &str, kd: [f32; 3]) -> Self {
        Self { name: name.to_string(), kd, ks: 0.5, ns: 250.0, texture: None }
    }

    pub fn textured(name: &str, pattern: Pattern) -> Self {
        Self { name: name.to_string(), kd: pattern.mean_colour(), ks: 0.1, ns: 30.0, texture: Some(pattern) }
    }
}

/// Handle of a material inside a [`Model`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatId(pub usize);

/// An object: materials and one mesh per material.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub materials: Vec<Material>,
    pub meshes: Vec<Mesh>,
}

impl Model {
    pub fn material(&mut self, m: Material) -> MatId {
        self.materials.push(m);
        self.meshes.push(Mesh::default());
        MatId(self.materials.len() - 1)
    }

    /// Adds a part made of material `mat`.
    pub fn add(&mut self, mat: MatId, part: Mesh) {
        self.meshes[mat.0].append(&part);
    }

    pub fn triangle_count(&self) -> usize {
        self.meshes.iter().map(|m| m.triangles.len()).sum()
    }

    /// Drops materials that no part uses.
    pub fn prune(&mut self) {
        let keep: Vec<bool> = self.meshes.iter().map(|m| !m.triangles.is_empty()).collect();
        let mut k = keep.iter();
        self.materials.retain(|_| *k.next().unwrap());
        self.meshes.retain(|m| !m.triangles.is_empty());
    }
}

/// HSV (all 0..1) to RGB.
pub fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    dataset::colour::hsv_to_rgb(h.into(), s.into(), v.into()).map(|c| c as f32)
}
