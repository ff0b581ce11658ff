//! Fuzz-style: truncated and random bytes as OBJ, MTL, PNG texture, TOML configuration and `.npy`
//! files give an error or a warning, never a panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use dataset::fuzz::damaged;

fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("{what}: panicked"))
}

fn fixture(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/meshes").join(rel)
}

#[test]
fn damaged_meshes_materials_and_textures_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("o/models");
    let images = dir.path().join("o/images");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::create_dir_all(&images).unwrap();
    let src = fixture("90000001/textured_box");
    let obj = std::fs::read(src.join("models/model_normalized.obj")).unwrap();
    let mtl = std::fs::read(src.join("models/model_normalized.mtl")).unwrap();
    let png = std::fs::read(std::fs::read_dir(src.join("images")).unwrap().next().unwrap().unwrap().path())
        .unwrap();
    let texture_name = std::fs::read_dir(src.join("images")).unwrap().next().unwrap().unwrap().file_name();
    let write = |o: &[u8], m: &[u8], p: &[u8]| {
        std::fs::write(models.join("model_normalized.obj"), o).unwrap();
        std::fs::write(models.join("model_normalized.mtl"), m).unwrap();
        std::fs::write(images.join(&texture_name), p).unwrap();
    };
    let path = models.join("model_normalized.obj");
    let mut errors = 0;
    for bad in damaged(&obj) {
        write(&bad, &mtl, &png);
        if let Err(e) = no_panic("OBJ", || renderer::mesh::load_obj(&path)) {
            errors += 1;
            assert!(format!("{e:#}").contains("model_normalized.obj"), "the error names the file: {e:#}");
        }
    }
    assert!(errors > 10, "damaged OBJ files must mostly fail ({errors})");
    for bad in damaged(&mtl) {
        write(&obj, &bad, &png);
        // A broken .mtl is an error naming it, or its materials fall back with warnings.
        if let Err(e) = no_panic("MTL", || renderer::mesh::load_obj(&path)) {
            assert!(format!("{e:#}").contains("model_normalized"), "{e:#}");
        }
    }
    for bad in damaged(&png) {
        write(&obj, &mtl, &bad);
        // A texture that does not decode is a warning (the material falls back to Kd), never an error.
        let mesh =
            no_panic("PNG", || renderer::mesh::load_obj(&path)).expect("a bad texture is only a warning");
        assert!(
            mesh.materials.iter().any(|m| m.texture.is_some())
                || mesh.warnings.iter().any(|w| w.contains("Kd")),
            "{:?} {:?}",
            mesh.materials,
            mesh.warnings
        );
    }
}

#[test]
fn damaged_configurations_and_npy_files_never_panic() {
    let preset =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/3diebench.toml")).unwrap();
    for bad in damaged(&preset) {
        let text = String::from_utf8_lossy(&bad);
        if let Err(e) = no_panic("TOML", || dataset::config::RenderConfig::parse(&text, "bad.toml")) {
            assert!(format!("{e:#}").starts_with("bad.toml: "), "{e:#}");
        }
    }
    let latent = dataset::Latent::from_array([0.1; 7]).to_npy();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("train_images.npy");
    dataset::manifest::write_images(&manifest, &[dataset::ObjectKey::new("s", "o").unwrap()]).unwrap();
    let official = std::fs::read(&manifest).unwrap();
    for bad in damaged(&latent) {
        let _ = no_panic("latent .npy", || dataset::Latent::from_npy(&bad));
    }
    for bad in damaged(&official) {
        std::fs::write(&manifest, &bad).unwrap();
        if let Err(e) = no_panic("manifest .npy", || dataset::manifest::read_images(&manifest)) {
            assert!(format!("{e:#}").contains("train_images.npy"), "{e:#}");
        }
    }
}
