//! Materials as the reference's OBJ importer reads them, and their textures.
//!
//! Kd is the base colour (linear, as Blender takes it); a `map_Kd` texture replaces Kd entirely;
//! specular strength is the mean of Ks; roughness is 1 - sqrt(Ns / 1000). Texture paths are
//! resolved against the folder of the `.mtl` that names them (ShapeNet: `../images/...`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Blender's default base colour, for faces without a material.
const DEFAULT_BASE_COLOUR: [f32; 3] = [0.8, 0.8, 0.8];
/// Blender's default Principled specular and roughness.
const DEFAULT_SPECULAR: f32 = 0.5;
const DEFAULT_ROUGHNESS: f32 = 0.5;
/// Larger textures are downscaled on load: a 256 px render cannot show more, and it bounds memory.
pub const MAX_TEXTURE_SIZE: u32 = 2048;

#[derive(Clone, Debug, PartialEq)]
pub struct Material {
    pub name: String,
    /// Linear RGB (`Kd`).
    pub base_colour: [f32; 3],
    /// Index into [`super::Mesh::textures`]; when set it replaces `base_colour`.
    pub texture: Option<usize>,
    /// Mean of `Ks`, in [0, 1].
    pub specular: f32,
    /// 1 - sqrt(Ns / 1000), in [0, 1].
    pub roughness: f32,
}

impl Default for Material {
    fn default() -> Self {
        Self {
            name: "default".into(),
            base_colour: DEFAULT_BASE_COLOUR,
            texture: None,
            specular: DEFAULT_SPECULAR,
            roughness: DEFAULT_ROUGHNESS,
        }
    }
}

/// An RGBA8 texture, sRGB-encoded (as image files are), rows top to bottom.
#[derive(Clone, Debug, PartialEq)]
pub struct Texture {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

/// The materials of one OBJ, gathered as tobj asks for each `mtllib`.
pub(super) struct MaterialLibrary {
    obj_dir: PathBuf,
    state: RefCell<LibraryState>,
}

#[derive(Default)]
struct LibraryState {
    /// In tobj's order (its `material_id`s index this list), with the folder of their `.mtl`.
    materials: Vec<(tobj::Material, PathBuf)>,
    warnings: Vec<String>,
    error: Option<String>,
}

pub(super) struct LoadedMaterials {
    pub materials: Vec<Material>,
    pub textures: Vec<Texture>,
    pub warnings: Vec<String>,
}

impl MaterialLibrary {
    pub fn new(obj_path: &Path) -> Self {
        let obj_dir = obj_path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self { obj_dir, state: RefCell::default() }
    }

    /// tobj's material loader: `mtl` is the `mtllib` argument, relative to the OBJ's folder.
    pub fn load(&self, mtl: &Path) -> tobj::MTLLoadResult {
        let path = self.obj_dir.join(mtl);
        let mut state = self.state.borrow_mut();
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                state
                    .warnings
                    .push(format!("{}: material library not found, using a default grey", path.display()));
                return Ok((Vec::new(), Default::default()));
            }
            Err(e) => {
                state.error.get_or_insert(format!("{}: cannot read material library ({e})", path.display()));
                return Err(tobj::LoadError::OpenFileFailed);
            }
        };
        let mut text = Vec::new();
        if let Err(e) = std::io::Read::read_to_end(&mut BufReader::new(file), &mut text) {
            state.error.get_or_insert(format!("{}: cannot read material library ({e})", path.display()));
            return Err(tobj::LoadError::ReadError);
        }
        if let Some(problem) = short_colour_line(&text) {
            state.error.get_or_insert(format!("{}: broken material library ({problem})", path.display()));
            return Err(tobj::LoadError::MaterialParseError);
        }
        // tobj 4 unwraps in places; a panic there is a broken file, not a crash.
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tobj::load_mtl_buf(&mut BufReader::new(text.as_slice()))
        }))
        .unwrap_or(Err(tobj::LoadError::MaterialParseError));
        match parsed {
            Ok((materials, map)) => {
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                state.materials.extend(materials.iter().cloned().map(|m| (m, dir.clone())));
                Ok((materials, map))
            }
            Err(e) => {
                state.error.get_or_insert(format!("{}: broken material library ({e})", path.display()));
                Err(e)
            }
        }
    }

    /// The first hard error met so far (an unreadable or broken `.mtl`), naming the file.
    pub fn error(&self) -> anyhow::Result<()> {
        match &self.state.borrow().error {
            Some(e) => Err(anyhow::anyhow!(e.clone())),
            None => Ok(()),
        }
    }

    /// Converts the materials and decodes their textures (each file once).
    pub fn finish(self) -> anyhow::Result<LoadedMaterials> {
        let state = self.state.into_inner();
        if let Some(error) = state.error {
            anyhow::bail!(error);
        }
        let mut warnings = state.warnings;
        let mut textures = Vec::new();
        let mut by_path: HashMap<PathBuf, Option<usize>> = HashMap::new();
        let mut materials = Vec::with_capacity(state.materials.len());
        for (m, dir) in &state.materials {
            let texture = m.diffuse_texture.as_deref().and_then(|name| {
                let path = dir.join(texture_file_name(name));
                *by_path.entry(path.clone()).or_insert_with(|| {
                    match confined(dir, &path).and_then(|_| decode_texture(&path)) {
                        Ok(t) => {
                            textures.push(t);
                            Some(textures.len() - 1)
                        }
                        Err(e) => {
                            warnings.push(format!(
                                "{}: material '{}': {e}; using its Kd colour",
                                path.display(),
                                m.name
                            ));
                            None
                        }
                    }
                })
            });
            materials.push(convert(m, texture));
        }
        Ok(LoadedMaterials { materials, textures, warnings })
    }
}

/// The first `Ka`/`Kd`/`Ks`/`Ke` line with fewer than three values: tobj 4 panics on those
/// (found by `tests/fuzz.rs`), so they are refused with a message before it sees them.
fn short_colour_line(mtl: &[u8]) -> Option<String> {
    String::from_utf8_lossy(mtl).lines().enumerate().find_map(|(i, line)| {
        let mut words = line.split_whitespace();
        let key = words.next()?;
        let n = words.count();
        (matches!(key, "Ka" | "Kd" | "Ks" | "Ke") && n < 3)
            .then(|| format!("line {}: {key} needs 3 values, has {n}", i + 1))
    })
}

/// Refuses a texture path that leaves the object's folder (`<id>/`, holding `models/` and the
/// `images/` sibling that ShapeNet's `../images/...` paths name): an `.mtl` may not make the
/// renderer read `/etc/shadow` or bake `../../../secret.png` into a dataset. Symbolic links are
/// resolved before the check; a path that does not exist is left to fail as a missing texture.
fn confined(mtl_dir: &Path, path: &Path) -> anyhow::Result<()> {
    let root = mtl_dir.parent().unwrap_or(mtl_dir);
    let (Ok(root), Ok(resolved)) = (root.canonicalize(), path.canonicalize()) else { return Ok(()) };
    if resolved.starts_with(&root) {
        Ok(())
    } else {
        anyhow::bail!("texture path leaves the object's folder {} (refused)", root.display())
    }
}

fn convert(m: &tobj::Material, texture: Option<usize>) -> Material {
    let finite = |v: [f32; 3]| v.iter().all(|c| c.is_finite());
    let base_colour = m.diffuse.filter(|&c| finite(c)).map(|c| c.map(|x| x.clamp(0.0, 1.0)));
    let specular = m.specular.filter(|&c| finite(c)).map(|c| ((c[0] + c[1] + c[2]) / 3.0).clamp(0.0, 1.0));
    let roughness =
        m.shininess.filter(|s| s.is_finite()).map(|ns| 1.0 - (ns.clamp(0.0, 1000.0) / 1000.0).sqrt());
    Material {
        name: m.name.clone(),
        base_colour: base_colour.unwrap_or(DEFAULT_BASE_COLOUR),
        texture,
        specular: specular.unwrap_or(DEFAULT_SPECULAR),
        roughness: roughness.unwrap_or(DEFAULT_ROUGHNESS),
    }
}

/// The file named by a `map_Kd` argument: options such as `-s 1 1 1` come before the name, and
/// Windows separators occur in the wild.
fn texture_file_name(arg: &str) -> PathBuf {
    let words = arg.split_whitespace();
    let mut name = arg.trim();
    if arg.trim_start().starts_with('-') {
        name = words.last().unwrap_or("");
    }
    PathBuf::from(name.replace('\\', "/"))
}

fn decode_texture(path: &Path) -> anyhow::Result<Texture> {
    let reader = image::ImageReader::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read texture ({e})"))?
        .with_guessed_format()
        .map_err(|e| anyhow::anyhow!("cannot read texture ({e})"))?;
    let mut image = reader.decode().map_err(|e| anyhow::anyhow!("cannot decode texture ({e})"))?;
    if image.width() == 0 || image.height() == 0 {
        anyhow::bail!("empty texture");
    }
    if image.width().max(image.height()) > MAX_TEXTURE_SIZE {
        image = image.resize(MAX_TEXTURE_SIZE, MAX_TEXTURE_SIZE, image::imageops::FilterType::Triangle);
    }
    let rgba = image.to_rgba8();
    Ok(Texture {
        path: path.to_path_buf(),
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texture_names_with_options_and_backslashes() {
        assert_eq!(texture_file_name("../images/texture0.jpg"), PathBuf::from("../images/texture0.jpg"));
        assert_eq!(texture_file_name("-s 1 1 1 ..\\images\\a.png"), PathBuf::from("../images/a.png"));
    }

    #[test]
    fn roughness_and_specular_follow_the_blender_importer() {
        let m = tobj::Material {
            diffuse: Some([0.2, 0.4, 0.6]),
            specular: Some([0.3, 0.6, 0.9]),
            shininess: Some(250.0),
            ..Default::default()
        };
        let c = convert(&m, None);
        assert_eq!(c.base_colour, [0.2, 0.4, 0.6]);
        assert!((c.specular - 0.6).abs() < 1e-6);
        assert!((c.roughness - 0.5).abs() < 1e-6);
    }
}
