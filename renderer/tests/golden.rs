//! Golden-image tests: every scene file `tests/golden/**/<name>.toml` is rendered and compared
//! with `<name>.png` beside it (the format and the metric: `common/golden.rs`). Adding a scene is
//! adding those two files; CONTRIBUTING.md says how.
//!
//! A failure names the scene file and leaves `<name>.new.png` and `<name>.diff.png` beside it.
//! Lavapipe is deterministic, so the tolerances only absorb other Mesa/LLVM versions' rounding;
//! a 5% exposure change fails.
//!
//! Re-bless after an intended change of the look: `BLESS=1 cargo test -p renderer --test golden`
//! rewrites the references (then look at them before committing); `GOLDEN=<part of a path>`
//! limits a run to the matching scenes. Without any wgpu adapter the tests fail unless
//! `RENDER_TESTS_WITHOUT_ADAPTER=1` lets them skip.

mod common;

use std::path::{Path, PathBuf};

use common::golden::{self, Renderers, Scene};
use dataset::Latent;
use renderer::gpu::{Antialias, RenderOptions, Renderer};
use renderer::mesh::load_obj;

fn golden_dir() -> PathBuf {
    common::repo_root().join("tests/golden")
}

#[test]
fn golden_scenes_match_their_images() {
    let filter = std::env::var("GOLDEN").unwrap_or_default();
    let files: Vec<_> = golden::scene_files(&golden_dir())
        .into_iter()
        .filter(|f| golden::shown(f).contains(&filter))
        .collect();
    assert!(!files.is_empty(), "no golden scene matches GOLDEN={filter:?} in {}", golden_dir().display());
    let bless = golden::bless();
    let mut renderers = Renderers::default();
    let mut failures = Vec::new();
    for file in &files {
        match check(file, &mut renderers, bless) {
            Ok(true) => {}
            Ok(false) => return, // no adapter, and skipping was asked for
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden scenes failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// Renders one scene and compares it; Ok(false) when it could not be rendered for want of an
/// adapter. Errors start with the scene file's path.
fn check(file: &Path, renderers: &mut Renderers, bless: bool) -> anyhow::Result<bool> {
    let scene = Scene::read(file)?;
    let at = || golden::shown(file);
    let Some(image) = renderers.render(&scene).map_err(|e| e.context(at()))? else { return Ok(false) };
    golden::compare_or_bless(&scene, &image, bless).map_err(|e| e.context(at()))?;
    Ok(true)
}

/// A reference image that no scene file renders would never be checked.
#[test]
fn every_golden_image_has_its_scene_file() {
    let orphans: Vec<_> = golden::files_with_extension(&golden_dir(), "png")
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "meshes")) // textures
        .filter(|p| !p.to_string_lossy().ends_with(".new.png") && !p.to_string_lossy().ends_with(".diff.png"))
        .filter(|p| !p.with_extension("toml").is_file())
        .collect();
    assert!(orphans.is_empty(), "golden images without a <name>.toml beside them: {orphans:?}");
}

/// Not a check: writes `target/preview_sheet_<aa>.png` (both fixtures, several latents, 256 px)
/// for a person to look at. `cargo test -p renderer --test golden -- --ignored` (`PREVIEW_AA=fxaa`
/// etc. picks the anti-aliasing).
#[test]
#[ignore]
fn write_preview_sheet() {
    let antialias = std::env::var("PREVIEW_AA").map(|v| v.parse().unwrap()).unwrap_or(Antialias::Msaa4);
    let opts = RenderOptions { image_size: 256, antialias, ..Default::default() };
    let Ok(mut renderer) = Renderer::new(opts) else { return };
    let views: Vec<_> = (0..4)
        .map(|i| {
            let f = i as f64;
            let latent = [0.4 * f - 0.6, 0.3 * f, -0.5 * f, 0.13 + 0.27 * f, 0.2 * f, 1.7 * f, 0.9 - 0.3 * f];
            dataset::factors::reference_scene(Latent::from_array(latent))
        })
        .collect();
    let mut sheet = image::RgbImage::new(256 * views.len() as u32, 512);
    for (row, dir) in ["90000001/textured_box", "90000002/table"].iter().enumerate() {
        let path =
            common::repo_root().join("tests/fixtures/meshes").join(dir).join("models/model_normalized.obj");
        let gpu = renderer.upload(&load_obj(&path).unwrap()).unwrap();
        for (col, frame) in renderer.render_views(&gpu, &views).unwrap().into_iter().enumerate() {
            let img = image::RgbImage::from_raw(256, 256, frame.rgb).unwrap();
            image::imageops::replace(&mut sheet, &img, 256 * col as i64, 256 * row as i64);
        }
    }
    let out = common::repo_root().join(format!("target/preview_sheet_{antialias:?}.png"));
    sheet.save(&out).unwrap();
    eprintln!("wrote {}", out.display());
}
