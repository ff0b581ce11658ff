//! Materials as the reference's OBJ importer reads them, and their textures.
//!
//! Kd is the base colour (linear, as Blender takes it); a `map_Kd` texture replaces Kd entirely;
//! specular strength is the mean of Ks; roughness is 1 - sqrt(Ns / 1000). Texture paths are
//! resolved against the folder of the `.mtl` that names them (ShapeNet: `../images/...`) and
//! confined to the object's folder, as the `.mtl` files are.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use dataset::input::InputError;

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

/// Largest `.mtl` file read (ShapeNet's are a few kB).
pub const MTL_MAX_BYTES: u64 = 16 << 20;
/// Largest texture file read (ShapeNet's largest are a few MB).
pub const TEXTURE_MAX_BYTES: u64 = 128 << 20;

/// The materials of one OBJ, gathered as tobj asks for each `mtllib`. Every file it reads is
/// confined to the object's folder (`<id>/`, holding `models/` and the `images/` sibling that
/// ShapeNet's `../images/...` paths name), regular and bounded ([`dataset::input`]).
pub(super) struct MaterialLibrary {
    obj_dir: PathBuf,
    root: PathBuf,
    state: RefCell<LibraryState>,
}

#[derive(Default)]
struct LibraryState {
    /// In tobj's order (its `material_id`s index this list), with the folder of their `.mtl`.
    materials: Vec<(tobj::Material, PathBuf)>,
    warnings: Vec<String>,
    error: Option<String>,
    /// A `.mtl` was missing or refused: its materials' faces are grey, already warned about.
    fell_back: bool,
}

pub(super) struct LoadedMaterials {
    pub materials: Vec<Material>,
    pub textures: Vec<Texture>,
    pub warnings: Vec<String>,
    pub fell_back: bool,
}

impl MaterialLibrary {
    pub fn new(obj_path: &Path, root: &Path) -> Self {
        let obj_dir = obj_path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self { obj_dir, root: root.to_path_buf(), state: RefCell::default() }
    }

    /// tobj's material loader: `mtl` is the `mtllib` argument, relative to the OBJ's folder. One
    /// line may name several files (legal OBJ); a name with spaces that exists is one file.
    pub fn load(&self, mtl: &Path) -> tobj::MTLLoadResult {
        let mut all = Vec::new();
        for name in self.library_names(mtl) {
            all.extend(self.load_one(&self.obj_dir.join(name))?);
        }
        let map = all.iter().enumerate().map(|(i, m)| (m.name.clone(), i)).collect();
        Ok((all, map))
    }

    fn library_names(&self, mtl: &Path) -> Vec<PathBuf> {
        let text = mtl.to_string_lossy();
        if std::fs::symlink_metadata(self.obj_dir.join(mtl)).is_ok() || !text.contains(char::is_whitespace) {
            return vec![mtl.to_path_buf()];
        }
        text.split_whitespace().map(PathBuf::from).collect()
    }

    /// One `.mtl`: missing or outside the object's folder is a warning (grey materials);
    /// unreadable, not a regular file, too large or broken is an error naming it.
    fn load_one(&self, path: &Path) -> Result<Vec<tobj::Material>, tobj::LoadError> {
        let mut state = self.state.borrow_mut();
        let read = dataset::input::confine(&self.root, path)
            .and_then(|resolved| dataset::input::read_bounded(&resolved, MTL_MAX_BYTES));
        let text = match read {
            Ok(bytes) => bytes,
            Err(e @ (InputError::NotFound(_) | InputError::Escapes { .. })) => {
                let why = if e.is_not_found() { "not found".to_string() } else { escapes(&e) };
                state
                    .warnings
                    .push(format!("{}: material library {why}; using a default grey", path.display()));
                state.fell_back = true;
                return Ok(Vec::new());
            }
            Err(e) => {
                state.error.get_or_insert(format!(
                    "{}: cannot read material library: {}",
                    path.display(),
                    e.reason()
                ));
                return Err(tobj::LoadError::OpenFileFailed);
            }
        };
        let text = super::strip_bom(&text);
        if let Some(problem) = short_colour_line(text) {
            state.error.get_or_insert(format!("{}: broken material library ({problem})", path.display()));
            return Err(tobj::LoadError::MaterialParseError);
        }
        // tobj 4 unwraps in places; a panic there is a broken file, not a crash.
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tobj::load_mtl_buf(&mut BufReader::new(text))
        }))
        .unwrap_or(Err(tobj::LoadError::MaterialParseError));
        match parsed {
            Ok((materials, _)) => {
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                state.materials.extend(materials.iter().cloned().map(|m| (m, dir.clone())));
                Ok(materials)
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
                *by_path.entry(path.clone()).or_insert_with(|| match read_texture(&self.root, &path) {
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
                })
            });
            materials.push(convert(m, texture));
        }
        Ok(LoadedMaterials { materials, textures, warnings, fell_back: state.fell_back })
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

/// A refused path in the words of a mesh's warnings: an `.mtl` may not make the renderer read
/// `/etc/shadow` or bake `../../../secret.png` into a dataset.
fn escapes(e: &InputError) -> String {
    match e {
        InputError::Escapes { root, .. } => format!("leaves the object's folder {root} (refused)"),
        other => other.reason(),
    }
}

/// A texture confined to the object's folder (symbolic links resolved first), regular, bounded.
fn read_texture(root: &Path, path: &Path) -> anyhow::Result<Texture> {
    let bytes = dataset::input::confine(root, path)
        .and_then(|resolved| dataset::input::read_bounded(&resolved, TEXTURE_MAX_BYTES))
        .map_err(|e| match e {
            InputError::Escapes { .. } => anyhow::anyhow!("texture path {}", escapes(&e)),
            other => anyhow::anyhow!("cannot read texture ({})", other.reason()),
        })?;
    decode_texture(path, &bytes)
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

/// The file named by a `map_Kd` argument: options (`-s 1 1 1`, `-bm 0.5`, `-clamp on`) come
/// before the name, which may hold spaces; Windows separators occur in the wild.
fn texture_file_name(arg: &str) -> PathBuf {
    let mut rest = arg.trim();
    while rest.starts_with('-') {
        let (option, after) = split_word(rest);
        // (required, most) arguments; numbers beyond the required ones are optional (-s u v w).
        let (required, most) = match option {
            "-o" | "-s" | "-t" => (1, 3),
            "-mm" => (2, 2),
            _ => (1, 1),
        };
        rest = after;
        for i in 0..most {
            let (word, after) = split_word(rest);
            if word.is_empty() || (i >= required && word.parse::<f64>().is_err()) {
                break;
            }
            rest = after;
        }
    }
    PathBuf::from(rest.trim().replace('\\', "/"))
}

/// The first word of `s` and what follows it (leading blanks removed).
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], s[end..].trim_start())
}

fn decode_texture(path: &Path, bytes: &[u8]) -> anyhow::Result<Texture> {
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
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
        // Issue case 8: a name with spaces after options is the whole rest of the line.
        assert_eq!(texture_file_name("-s 1 1 1 ../images/my tex.png"), PathBuf::from("../images/my tex.png"));
        assert_eq!(texture_file_name("-s 2 ../images/a b.png"), PathBuf::from("../images/a b.png"));
        assert_eq!(
            texture_file_name("-clamp on -bm 0.5 -mm 0 1 -o 0.1 0.2 my tex.jpg"),
            PathBuf::from("my tex.jpg")
        );
        assert_eq!(texture_file_name("../images/plain name.png"), PathBuf::from("../images/plain name.png"));
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
