//! One small golden image per look feature, each scene isolating its feature (the other lights
//! off, a grey floor, a mesh that has only that feature): the spot's cone and blend, the shadow
//! of each light (the sun's: none), texture mapping with a `../images/` path, Kd-only materials, flat shading of a
//! mesh without normals, the view transform, the floor colour. 96 px, FXAA (the default), compared
//! as `golden.rs` does (`common::compare_or_bless`): references in `tests/golden/features/`,
//! `diff_<name>.png` on failure, `BLESS=1 cargo test -p renderer --test features` re-blesses.
//! Where a feature has a number to match (the view transform), it is checked too.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use dataset::factors::{reference_scene, ViewFactors};
use dataset::Latent;
use renderer::gpu::scene::{sun_disc_mean_cosine, SUN_ANGULAR_DIAMETER, WORLD_RADIANCE};
use renderer::gpu::{filmic, Frame, RenderOptions, Renderer};
use renderer::mesh::load_obj;

const SIZE: u32 = 96;
/// Small enough to vanish (and to cast no visible shadow): scenes of the floor alone.
const NO_OBJECT: f64 = 1e-3;

fn repo() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    here.canonicalize().unwrap_or(here)
}

fn renderer() -> Option<&'static Mutex<Renderer>> {
    static CELL: OnceLock<Option<Mutex<Renderer>>> = OnceLock::new();
    CELL.get_or_init(|| match Renderer::new(RenderOptions { image_size: SIZE, ..Default::default() }) {
        Ok(r) => Some(Mutex::new(r)),
        Err(e) => {
            common::skip_without_adapter(&e, "feature golden images");
            None
        }
    })
    .as_ref()
}

/// A cube with per-face normals and two Kd-only materials (no texture).
const CUBE_OBJ: &str = "mtllib model_normalized.mtl
v -1 -1 -1\nv 1 -1 -1\nv 1 1 -1\nv -1 1 -1\nv -1 -1 1\nv 1 -1 1\nv 1 1 1\nv -1 1 1
vn 0 0 -1\nvn 0 0 1\nvn 0 -1 0\nvn 0 1 0\nvn -1 0 0\nvn 1 0 0
usemtl warm
f 1//1 4//1 3//1 2//1\nf 5//2 6//2 7//2 8//2\nf 1//3 2//3 6//3 5//3
usemtl cool
f 4//4 8//4 7//4 3//4\nf 1//5 5//5 8//5 4//5\nf 2//6 3//6 7//6 6//6
";
const CUBE_MTL: &str =
    "newmtl warm\nKd 0.8 0.35 0.1\nKs 0 0 0\nNs 10\n\nnewmtl cool\nKd 0.15 0.35 0.8\nKs 0 0 0\nNs 10\n";

/// An octahedron without normals: one flat shade per facet.
const OCTAHEDRON_OBJ: &str = "mtllib model_normalized.mtl
v 1 0 0\nv -1 0 0\nv 0 1 0\nv 0 -1 0\nv 0 0 1\nv 0 0 -1
usemtl grey
f 1 3 5\nf 3 2 5\nf 2 4 5\nf 4 1 5\nf 3 1 6\nf 2 3 6\nf 4 2 6\nf 1 4 6
";
const GREY_MTL: &str = "newmtl grey\nKd 0.7 0.7 0.7\nKs 0 0 0\nNs 10\n";

/// Writes `models/model_normalized.{obj,mtl}` under a fresh folder and returns the OBJ's path.
fn write_mesh(root: &Path, name: &str, obj: &str, mtl: &str) -> PathBuf {
    let models = root.join(name).join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join("model_normalized.mtl"), mtl).unwrap();
    std::fs::write(models.join("model_normalized.obj"), obj).unwrap();
    models.join("model_normalized.obj")
}

/// The reference scene with a grey floor, for `latent` (rotation, floor hue, spot theta/phi/hue).
fn scene(latent: [f64; 7]) -> ViewFactors {
    let mut f = reference_scene(Latent::from_array(latent));
    f.floor_saturation = 0.0;
    f
}

fn render(mesh_path: &Path, views: &[ViewFactors]) -> Option<Vec<Frame>> {
    let mut r = renderer()?.lock().unwrap_or_else(|e| e.into_inner());
    let mesh = load_obj(mesh_path).expect("test mesh loads");
    let gpu = r.upload(&mesh).unwrap();
    Some(r.render_views(&gpu, views).unwrap())
}

/// Renders the views side by side and compares the strip with `tests/golden/features/<name>.png`.
fn check(name: &str, mesh_path: &Path, views: &[ViewFactors]) {
    let Some(frames) = render(mesh_path, views) else { return };
    let width = SIZE * frames.len() as u32;
    let mut strip = image::RgbImage::new(width, SIZE);
    for (i, frame) in frames.iter().enumerate() {
        let tile = image::RgbImage::from_raw(SIZE, SIZE, frame.rgb.clone()).unwrap();
        image::imageops::replace(&mut strip, &tile, (i as u32 * SIZE) as i64, 0);
    }
    let bless = std::env::var_os("BLESS").is_some_and(|v| v != "0");
    let dir = repo().join("tests/golden/features");
    if let Err(e) = common::compare_or_bless(&dir, name, strip.as_raw(), width, SIZE, bless) {
        panic!("{e}");
    }
}

fn cube(dir: &Path) -> PathBuf {
    write_mesh(dir, "cube", CUBE_OBJ, CUBE_MTL)
}

#[test]
fn spot_cone_and_blend() {
    // The floor alone under the spot: a red pool whose rim the spot's radius blurs; two
    // elevations (theta 0 and 0.7) for a round and a stretched pool.
    let dir = tempfile::tempdir().unwrap();
    let views: Vec<_> = [0.0, 0.7]
        .map(|theta| {
            let mut f = scene([0.0, 0.0, 0.0, 0.0, theta, 1.0, 0.0]);
            f.sun_strength = 0.0;
            f.scale = NO_OBJECT;
            f
        })
        .into();
    check("spot_cone_and_blend", &cube(dir.path()), &views);
}

#[test]
fn spot_shadow() {
    // Spot only, from the side: the cube's long shadow, soft where it is far from the cube.
    let dir = tempfile::tempdir().unwrap();
    let mut f = scene([0.3, 0.2, 0.5, 0.0, 0.7, 2.5, 0.15]);
    f.sun_strength = 0.0;
    check("spot_shadow", &cube(dir.path()), &[f]);
}

#[test]
fn sun_and_world_shadow() {
    // Sun and world only. Under Cycles' sun (pi/2 wide) the cube's shadow is a faint wide
    // darkening; the renderer leaves it out (a sphere-shaped stand-in cost 4 dB against the
    // Cycles set, bench/README.md), so this pins a floor without a shadow and the cube's shading.
    let dir = tempfile::tempdir().unwrap();
    let mut f = scene([0.3, 0.2, 0.5, 0.0, 0.7, 2.5, 0.15]);
    f.spot_power = 0.0;
    check("sun_and_world_shadow", &cube(dir.path()), &[f]);
}

#[test]
fn texture_mapping_with_images_path() {
    // map_Kd ../images/texture0.png (an 8x8 checker), which replaces Kd; sun only.
    let dir = tempfile::tempdir().unwrap();
    common::write_object(dir.path(), "90000001", "box", false, [200, 40, 30]);
    let mut f = scene([0.6, -0.4, 0.8, 0.0, 0.0, 0.0, 0.0]);
    f.spot_power = 0.0;
    check("texture_mapping", &dir.path().join("90000001/box/models/model_normalized.obj"), &[f]);
}

#[test]
fn kd_only_materials() {
    // Two untextured materials, their Kd as the colour; sun only.
    let dir = tempfile::tempdir().unwrap();
    let mut f = scene([0.6, -0.4, 0.8, 0.0, 0.0, 0.0, 0.0]);
    f.spot_power = 0.0;
    check("kd_only_materials", &cube(dir.path()), &[f]);
}

#[test]
fn flat_shading_without_normals() {
    // An octahedron without `vn`: each facet one shade under the sun.
    let dir = tempfile::tempdir().unwrap();
    let mesh = write_mesh(dir.path(), "octahedron", OCTAHEDRON_OBJ, GREY_MTL);
    let mut f = scene([0.4, 0.3, 0.2, 0.0, 0.0, 0.0, 0.0]);
    f.spot_power = 0.0;
    // Its unit bounding-box diagonal leaves it small: shown twice as large.
    f.scale = 2.0;
    check("flat_shading", &mesh, &[f]);
}

#[test]
fn floor_colour() {
    // The floor alone, sun only, at hues 0, 1/3, 2/3 with the reference's saturation and value.
    let dir = tempfile::tempdir().unwrap();
    let views: Vec<_> = [0.0, 1.0 / 3.0, 2.0 / 3.0]
        .map(|hue| {
            let mut f = reference_scene(Latent::from_array([0.0, 0.0, 0.0, hue, 0.0, 0.0, 0.0]));
            f.spot_power = 0.0;
            f.scale = NO_OBJECT;
            f
        })
        .into();
    check("floor_colour", &cube(dir.path()), &views);
}

#[test]
fn view_transform_maps_floor_radiance_through_filmic() {
    // Sun and world on a coloured floor: every pixel is Filmic's display value of
    // albedo x (sun x Cycles' disc mean cosine + pi x world radiance) / pi, per channel.
    let dir = tempfile::tempdir().unwrap();
    let mut f = reference_scene(Latent::from_array([0.0, 0.0, 0.0, 0.08, 0.0, 0.0, 0.0]));
    f.spot_power = 0.0;
    f.scale = NO_OBJECT;
    let albedo = f.floor_rgb();
    let irradiance = f.sun_strength as f32 * sun_disc_mean_cosine(SUN_ANGULAR_DIAMETER)
        + std::f32::consts::PI * WORLD_RADIANCE;
    let expected = albedo.map(|a| 255.0 * filmic::display(a as f32 * irradiance / std::f32::consts::PI));
    check("view_transform", &cube(dir.path()), std::slice::from_ref(&f));
    let Some(frames) = render(&cube(dir.path()), &[f]) else { return };
    // Below the centre, away from the (vanishing) object.
    let i = ((SIZE * 3 / 4 * SIZE + SIZE / 2) * 3) as usize;
    let got = &frames[0].rgb[i..i + 3];
    for c in 0..3 {
        assert!(
            (got[c] as f32 - expected[c]).abs() <= 2.0,
            "channel {c}: got {got:?}, expected {expected:?}"
        );
    }
}
