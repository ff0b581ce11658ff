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

/// Runs `f` on its own thread and fails if it takes longer than `limit`: opening a FIFO for
/// reading would block forever, reading `/dev/zero` would never end.
fn within<T: Send + 'static>(
    what: &str,
    limit: std::time::Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(_)) => panic!("{what}: panicked"),
        Err(_) => panic!("{what}: hung"),
    }
}

/// Puts a hostile thing at `path`: a named pipe, a link to a device, a directory, a sparse file one
/// byte over `limit`, or a link to a regular file outside `outside`'s parent.
fn plant(family: &str, path: &Path, limit: u64, outside: &Path) {
    let _ = std::fs::remove_file(path);
    match family {
        "fifo" => assert!(std::process::Command::new("mkfifo").arg(path).status().unwrap().success()),
        "zero" => std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
        "dir" => std::fs::create_dir_all(path).unwrap(),
        "huge" => std::fs::File::create(path).unwrap().set_len(limit + 1).unwrap(),
        "escape" => std::os::unix::fs::symlink(outside, path).unwrap(),
        other => unreachable!("{other}"),
    }
}

const FAMILIES: [&str; 5] = ["fifo", "zero", "dir", "huge", "escape"];

#[test]
fn pipes_devices_directories_huge_and_escaping_files_in_the_mesh_paths_never_hang() {
    use renderer::mesh::{load_obj, MTL_MAX_BYTES, OBJ_MAX_BYTES, TEXTURE_MAX_BYTES};
    let limit = std::time::Duration::from_secs(30);
    for family in FAMILIES {
        for (file, max) in [
            ("models/model_normalized.obj", OBJ_MAX_BYTES),
            ("models/model_normalized.mtl", MTL_MAX_BYTES),
            ("images/texture0.png", TEXTURE_MAX_BYTES),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let outside = dir.path().join("outside.txt");
            std::fs::write(&outside, "v 0 0 0\n").unwrap();
            let object = dir.path().join("s/o");
            for sub in ["models", "images"] {
                std::fs::create_dir_all(object.join(sub)).unwrap();
                for e in std::fs::read_dir(fixture("90000001/textured_box").join(sub)).unwrap() {
                    let e = e.unwrap();
                    std::fs::copy(e.path(), object.join(sub).join(e.file_name())).unwrap();
                }
            }
            let name = Path::new(file).file_name().unwrap().to_string_lossy().into_owned();
            plant(family, &object.join(file), max, &outside);
            let obj = object.join("models/model_normalized.obj");
            let what = format!("{family} as {file}");
            let loaded = within(&what, limit, move || load_obj(&obj));
            match loaded {
                Err(e) => {
                    assert!(format!("{e:#}").contains(&name), "{what}: the error names the file: {e:#}")
                }
                Ok(mesh) => {
                    assert!(!file.ends_with(".obj"), "{what}: a bad OBJ loads");
                    assert!(mesh.warnings.iter().any(|w| w.contains(&name)), "{what}: {:?}", mesh.warnings);
                }
            }
        }
    }
}

#[test]
fn pipes_devices_directories_and_huge_files_as_configs_lists_and_latents_never_hang() {
    let limit = std::time::Duration::from_secs(30);
    for family in ["fifo", "zero", "dir", "huge"] {
        type Reader = fn(&Path) -> Result<(), String>;
        let readers: [(&str, u64, Reader); 5] = [
            ("bad.toml", dataset::input::CONFIG_MAX_BYTES, |p| {
                dataset::config::RenderConfig::read(p).map(drop).map_err(|e| format!("{e:#}"))
            }),
            ("objects.txt", dataset::input::OBJECT_LIST_MAX_BYTES, |p| {
                renderer::job::objects::read_object_list(p).map(drop).map_err(|e| format!("{e:#}"))
            }),
            ("objects.npy", dataset::input::OBJECT_LIST_MAX_BYTES, |p| {
                renderer::job::objects::read_object_list(p).map(drop).map_err(|e| format!("{e:#}"))
            }),
            ("latent_0.npy", dataset::input::METADATA_MAX_BYTES, |p| {
                dataset::Latent::read(p).map(drop).map_err(|e| format!("{e:#}"))
            }),
            ("manifest.json", dataset::input::MANIFEST_MAX_BYTES, |p| {
                dataset::records::DatasetManifest::read(p.parent().unwrap())
                    .map(drop)
                    .map_err(|e| format!("{e:#}"))
            }),
        ];
        for (name, max, read) in readers {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(name);
            plant(family, &path, max, dir.path());
            let what = format!("{family} as {name}");
            let result = within(&what, limit, move || read(&path));
            let e = result.expect_err(&what);
            assert!(e.contains(name) && e.contains("refused"), "{what}: {e}");
        }
    }
}

#[test]
fn byte_order_marks_and_huge_counts_are_read_or_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bom.toml");
    std::fs::write(&config, "\u{feff}[dataset]\nviews = 3\n").unwrap();
    assert_eq!(dataset::config::RenderConfig::read(&config).unwrap().settings.views, 3);
    let list = dir.path().join("bom.txt");
    std::fs::write(&list, "\u{feff}02691156/abc\n").unwrap();
    assert_eq!(renderer::job::objects::read_object_list(&list).unwrap().len(), 1);
    for text in [
        "[dataset]\nviews = 9223372036854775807",
        "[dataset]\nimage_size = 4294967296",
        "[dataset]\nseed = -1",
        "[factors]\nfloor_hue = { set = [0.1, 0.2, 0.3, 1e308] }",
    ] {
        let e = format!("{:#}", dataset::config::RenderConfig::parse(text, "bad.toml").unwrap_err());
        assert!(e.starts_with("bad.toml: "), "{text}: {e}");
    }
    // Face indices far beyond the vertices, and beyond u32.
    for face in ["f 1 2 4294967296", "f 1 2 99999999999999999999", "f -1 -2 -99999", "f 1 2 3 4 5 6 7 8 9"] {
        let models = dir.path().join("o/models");
        std::fs::create_dir_all(&models).unwrap();
        let obj = models.join("model_normalized.obj");
        std::fs::write(&obj, format!("v 0 0 0\nv 1 0 0\nv 0 1 0\n{face}\n")).unwrap();
        if let Err(e) = no_panic(face, || renderer::mesh::load_obj(&obj)) {
            assert!(format!("{e:#}").contains("model_normalized.obj"), "{face}: {e:#}");
        }
    }
}

#[test]
fn extreme_floats_in_any_factor_are_refused_or_give_finite_checked_views() {
    // Issue cases 9-12 and their kin: every factor, every form, the extremes of f64.
    let key = dataset::ObjectKey::new("s", "o").unwrap();
    let extremes = [1e308, -1e308, f64::MAX, f64::MIN_POSITIVE, 5e-324, -5e-324, 1e-308, 1e15, -1e15];
    for &factor in dataset::config::Factor::ALL {
        let name = factor.name();
        for v in extremes {
            let a = v.abs();
            for form in [
                format!("{v:e}"),
                format!("{{ uniform = [{:e}, {a:e}] }}", -a),
                format!("{{ uniform = [0, {a:e}] }}"),
                format!("{{ set = [0, {v:e}] }}"),
                format!("{{ union = [[{:e}, 0], [1, {a:e}]] }}", -a),
            ] {
                let text = format!("[factors]\n{name} = {form}\n");
                match no_panic(&text, || dataset::config::RenderConfig::parse(&text, "bad.toml")) {
                    Err(e) => {
                        let e = format!("{e:#}");
                        assert!(
                            e.starts_with(&format!("bad.toml: factors.{name}: ")) && e.len() < 400,
                            "{text}: {e}"
                        );
                    }
                    Ok(config) => {
                        for view in 0..8 {
                            let f = dataset::factors::sample_view(
                                &config,
                                dataset::config::Split::Train,
                                &key,
                                view,
                            );
                            f.check().unwrap_or_else(|e| panic!("{text}: view {view}: {e:#}"));
                            assert!(f.latent.to_array().iter().all(|x| x.is_finite()), "{text}");
                        }
                    }
                }
            }
        }
    }
}
