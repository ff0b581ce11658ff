//! Golden-image tests: fixed scenes rendered and compared with reference PNGs in `tests/golden/`.
//!
//! Two fixture meshes in ShapeNet layout (`tests/fixtures/meshes/`: a textured one and an
//! untextured multi-material one), three fixed latents each, 128 px, with 4x MSAA and with FXAA
//! (the default). A pixel differs
//! when any channel is off by more than `common::CHANNEL_TOLERANCE`; a scene fails when more than
//! `common::MAX_DIFFERING_FRACTION` of its pixels differ, and then `tests/golden/diff_<name>.png`
//! (gitignored) shows the differing pixels in red over a dimmed reference, next to
//! `diff_<name>_actual.png`, the image this run rendered. Lavapipe is deterministic, so the
//! tolerance only absorbs other Mesa/LLVM versions' rounding; a 5% exposure change fails.
//!
//! Re-bless after an intended change of the look: `BLESS=1 cargo test -p renderer --test golden`
//! rewrites the references (then look at them before committing).
//! Without any wgpu adapter the tests print why and pass as skipped.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use dataset::Latent;
use renderer::gpu::{Antialias, RenderOptions, Renderer};
use renderer::mesh::load_obj;

const SIZE: u32 = 128;

fn repo() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    here.canonicalize().unwrap_or(here)
}

fn renderer(antialias: Antialias) -> Option<&'static Mutex<Renderer>> {
    static MSAA: OnceLock<Option<Mutex<Renderer>>> = OnceLock::new();
    static FXAA: OnceLock<Option<Mutex<Renderer>>> = OnceLock::new();
    let cell = match antialias {
        Antialias::Msaa4 => &MSAA,
        Antialias::Fxaa => &FXAA,
        other => panic!("no golden images for {other:?}"),
    };
    cell.get_or_init(|| {
        let opts = RenderOptions { image_size: SIZE, antialias, ..Default::default() };
        match Renderer::new(opts) {
            Ok(r) => Some(Mutex::new(r)),
            Err(e) => {
                common::skip_without_adapter(&e, "golden-image tests");
                None
            }
        }
    })
    .as_ref()
}

fn latents() -> [(&'static str, Latent); 3] {
    [
        ("front", Latent::from_array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.6])),
        ("tilted", Latent::from_array([0.5, -0.3, 1.2, 0.33, 0.6, 1.0, 0.1])),
        ("steep", Latent::from_array([-1.2, 0.9, -0.4, 0.75, 0.78, 4.0, 0.45])),
    ]
}

fn check_scenes(mesh_dir: &str, prefix: &str, antialias: Antialias) {
    let Some(renderer) = renderer(antialias) else { return };
    let mut renderer = renderer.lock().unwrap_or_else(|e| e.into_inner());
    let mesh =
        load_obj(&repo().join("tests/fixtures/meshes").join(mesh_dir).join("models/model_normalized.obj"))
            .expect("fixture mesh loads");
    // The fixtures are not unit-diagonal (the table's is 4.4): only their rescale may be reported.
    assert!(mesh.warnings.iter().all(|w| w.contains("rescaled to 1")), "{:?}", mesh.warnings);
    let gpu = renderer.upload(&mesh).unwrap();
    let cases = latents();
    let frames = renderer.render_views(&gpu, &cases.map(|c| dataset::factors::reference_scene(c.1))).unwrap();
    let bless = std::env::var_os("BLESS").is_some_and(|v| v != "0");
    let mut failures = Vec::new();
    for ((name, _), frame) in cases.iter().zip(&frames) {
        let name = format!("{prefix}_{name}");
        if let Err(e) =
            common::compare_or_bless(&repo().join("tests/golden"), &name, &frame.rgb, SIZE, SIZE, bless)
        {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "golden images differ:\n{}", failures.join("\n"));
}

#[test]
fn textured_mesh_matches_golden_images() {
    check_scenes("90000001/textured_box", "textured_box", Antialias::Msaa4);
}

#[test]
fn untextured_multi_material_mesh_matches_golden_images() {
    check_scenes("90000002/table", "table", Antialias::Msaa4);
}

#[test]
fn fxaa_matches_golden_images() {
    check_scenes("90000001/textured_box", "fxaa_textured_box", Antialias::Fxaa);
    check_scenes("90000002/table", "fxaa_table", Antialias::Fxaa);
}

/// Not a check: writes `target/preview_sheet.png` (both fixtures, several latents, 256 px) for a
/// person to look at. `cargo test -p renderer --test golden -- --ignored` (`PREVIEW_AA=fxaa`
/// etc. picks the anti-aliasing).
#[test]
#[ignore]
fn write_preview_sheet() {
    let antialias = std::env::var("PREVIEW_AA").map(|v| v.parse().unwrap()).unwrap_or(Antialias::Msaa4);
    let opts = RenderOptions { image_size: 256, antialias, ..Default::default() };
    let Ok(mut renderer) = Renderer::new(opts) else { return };
    let latents: Vec<Latent> = (0..4)
        .map(|i| {
            let f = i as f64;
            Latent::from_array([
                0.4 * f - 0.6,
                0.3 * f,
                -0.5 * f,
                0.13 + 0.27 * f,
                0.2 * f,
                1.7 * f,
                0.9 - 0.3 * f,
            ])
        })
        .collect();
    let mut sheet = image::RgbImage::new(256 * latents.len() as u32, 512);
    for (row, dir) in ["90000001/textured_box", "90000002/table"].iter().enumerate() {
        let mesh =
            load_obj(&repo().join("tests/fixtures/meshes").join(dir).join("models/model_normalized.obj"))
                .unwrap();
        let gpu = renderer.upload(&mesh).unwrap();
        for (col, frame) in renderer
            .render_views(
                &gpu,
                &latents.iter().map(|l| dataset::factors::reference_scene(*l)).collect::<Vec<_>>(),
            )
            .unwrap()
            .iter()
            .enumerate()
        {
            let img = image::RgbImage::from_raw(256, 256, frame.rgb.clone()).unwrap();
            image::imageops::replace(&mut sheet, &img, 256 * col as i64, 256 * row as i64);
        }
    }
    let out = repo().join(format!("target/preview_sheet_{antialias:?}.png"));
    sheet.save(&out).unwrap();
    eprintln!("wrote {}", out.display());
}
