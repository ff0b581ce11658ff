//! A procedural mini-ShapeNet: a deterministic, ShapeNetCore v2-layout object library.
//!
//! Public API used by the renderer (keep these signatures):
//! - [`classes`]: the class list (name, 8-digit synset id).
//! - [`generate_library`]: writes a ShapeNetCore v2 tree and returns the objects written.
//! - [`toy::generate`]: a 3DIEBench-layout dataset of coloured convex solids, rasterised on the
//!   CPU (no renderer needed: `eval toy-data`).
//!
//! Objects are Y-up with their front towards +Z (OBJ axes), centred on their bounding box and
//! scaled to a unit bounding-box diagonal, like ShapeNetCore v2's `model_normalized.obj`.

pub mod classes;
pub mod layout;
pub mod model;
pub mod obj_writer;
pub mod primitives;
pub mod rng;
pub mod texture;
pub mod toy;

use std::path::Path;

use anyhow::Context;
use dataset::ObjectKey;

use crate::model::Model;
use crate::rng::Rng;

/// One class of the library.
#[derive(Clone, Copy, Debug)]
pub struct ClassSpec {
    pub name: &'static str,
    /// 8 digits, not colliding with real ShapeNet synsets.
    pub synset: &'static str,
}

/// The classes of the library, in label order (sorted by synset). Real ShapeNet synsets start
/// with 02-04; ours start with 91.
pub fn classes() -> &'static [ClassSpec] {
    const fn c(name: &'static str, synset: &'static str) -> ClassSpec {
        ClassSpec { name, synset }
    }
    const CLASSES: &[ClassSpec] = &[
        c("airplane", "91000100"),
        c("bench", "91000200"),
        c("bottle", "91000300"),
        c("bowl", "91000400"),
        c("car", "91000500"),
        c("chair", "91000600"),
        c("guitar", "91000700"),
        c("lamp", "91000800"),
        c("mug", "91000900"),
        c("rifle", "91001000"),
        c("sofa", "91001100"),
        c("table", "91001200"),
    ];
    CLASSES
}

/// Builds instance `instance` of `class` (not yet normalised). Pure in its arguments.
pub fn build_object(class: &ClassSpec, instance: usize, seed: u64) -> anyhow::Result<Model> {
    let build =
        classes::builder(class.name).with_context(|| format!("no builder for class {}", class.name))?;
    let mut rng = Rng::new(seed, class.name, instance);
    let mut model = build(&mut rng);
    model.prune();
    // Parts are oriented when built; this also catches triangles that a placement collapsed.
    for mesh in &mut model.meshes {
        mesh.orient();
    }
    Ok(model)
}

/// Writes `per_class` objects of every class under `out` (ShapeNetCore v2 layout, `taxonomy.json`
/// included). Deterministic in (`per_class`, `seed`); re-running over an existing tree rewrites
/// identical bytes, and object folders of our classes left by a run with other arguments are
/// removed. Returns the objects, sorted.
pub fn generate_library(out: &Path, per_class: usize, seed: u64) -> anyhow::Result<Vec<ObjectKey>> {
    layout::write_taxonomy(out, classes(), per_class)?;
    let mut keys = Vec::with_capacity(classes().len() * per_class);
    for class in classes() {
        for instance in 0..per_class {
            let id = layout::object_id(class.name, instance, seed);
            let key = ObjectKey::new(class.synset, &id)?;
            let mut model = build_object(class, instance, seed)?;
            obj_writer::normalise(&mut model);
            let header = format!("iebench-rs synth: {} instance {instance} seed {seed}", class.name);
            let files = obj_writer::encode(&model, &id, &header)
                .with_context(|| format!("encoding {} instance {instance}", class.name))?;
            layout::write_object(out, &key, &files)?;
            keys.push(key);
        }
    }
    layout::remove_stale(out, classes(), &keys)?;
    keys.sort();
    Ok(keys)
}
