//! Loading ShapeNet-layout meshes: fixtures, relative texture paths, warnings and errors.

use std::path::{Path, PathBuf};

use super::*;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/meshes")
        .join(rel)
        .join("models/model_normalized.obj")
}

/// Writes a ShapeNet-layout object (`models/` + `images/`) under a temporary folder.
fn object(obj: &str, mtl: Option<&str>, texture: Option<&[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join("model_normalized.obj"), obj).unwrap();
    if let Some(mtl) = mtl {
        std::fs::write(models.join("model_normalized.mtl"), mtl).unwrap();
    }
    if let Some(png) = texture {
        std::fs::create_dir_all(dir.path().join("images")).unwrap();
        std::fs::write(dir.path().join("images/texture0.png"), png).unwrap();
    }
    let path = models.join("model_normalized.obj");
    (dir, path)
}

const TRIANGLE: &str = "mtllib model_normalized.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nusemtl m\nf 1/1 2/2 3/3\n";

fn diagonal(mesh: &Mesh) -> f32 {
    let (lo, hi) = mesh.bounds();
    (0..3).map(|k| (hi[k] - lo[k]).powi(2)).sum::<f32>().sqrt()
}

#[test]
fn textured_fixture_resolves_dotdot_texture_path() {
    let mesh = load_obj(&fixture("90000001/textured_box")).unwrap();
    assert!(material_warnings(&mesh).is_empty(), "{:?}", mesh.warnings);
    assert_eq!(mesh.triangle_count(), 24);
    assert_eq!(mesh.textures.len(), 1);
    let t = &mesh.textures[0];
    assert!(t.path.ends_with("models/../images/texture0.png"), "{}", t.path.display());
    assert_eq!((t.width, t.height, t.rgba.len()), (16, 16, 16 * 16 * 4));
    // The texture's top-left marker is white, RGBA.
    assert_eq!(&t.rgba[..4], &[250, 250, 250, 255]);
    assert_eq!(mesh.materials[0].texture, Some(0));
    assert!((mesh.materials[0].roughness - (1.0 - 0.05f32.sqrt())).abs() < 1e-6);
    assert!((diagonal(&mesh) - 1.0).abs() < 1e-3);
    // V is flipped for image rows: OBJ v = 1 becomes 0.
    assert!(mesh.vertices.iter().any(|v| v.uv == [2.0, 0.0]));
}

#[test]
fn untextured_fixture_is_normalised_flat_shaded_and_multi_material() {
    let mesh = load_obj(&fixture("90000002/table")).unwrap();
    assert!(material_warnings(&mesh).is_empty(), "{:?}", mesh.warnings);
    assert!(mesh.textures.is_empty());
    let names: Vec<&str> = mesh.submeshes.iter().map(|s| mesh.materials[s.material].name.as_str()).collect();
    assert_eq!(names, ["top_mat", "legs_mat", "vase_mat"]);
    assert_eq!(mesh.materials[0].base_colour, [0.75, 0.12, 0.1]);
    // Not normalised on disk (3x, off-centre): centred and scaled on load.
    let (lo, hi) = mesh.bounds();
    assert!((0..3).all(|k| (lo[k] + hi[k]).abs() < 1e-5), "{lo:?} {hi:?}");
    assert!((diagonal(&mesh) - 1.0).abs() < 1e-5);
    // No normals in the file: every triangle carries its face normal.
    for t in mesh.indices.chunks_exact(3) {
        let v = [0, 1, 2].map(|k| mesh.vertices[t[k] as usize]);
        assert!(v[0].normal == v[1].normal && v[1].normal == v[2].normal);
        let n = normalise::face_normal(v.map(|v| v.position));
        assert!((0..3).all(|k| (n[k] - v[0].normal[k]).abs() < 1e-5));
    }
    // The OBJ's up axis (y; the table's legs stand along it) is world z: the table is taller
    // in z than the legs are thick.
    assert!(hi[2] - lo[2] > 0.3 && hi[1] - lo[1] > 0.3);
}

#[test]
fn obj_y_up_maps_to_world_z_up() {
    let (_dir, path) = object(TRIANGLE, Some("newmtl m\nKd 0.2 0.3 0.4\n"), None);
    let mesh = load_obj(&path).unwrap();
    let (lo, hi) = mesh.bounds();
    // The triangle spans OBJ x and y; in the world it spans x and z, and is flat in y.
    assert!(hi[1] - lo[1] < 1e-6 && hi[2] - lo[2] > 0.5 && hi[0] - lo[0] > 0.5);
}

#[test]
fn missing_texture_warns_and_falls_back_to_kd() {
    let mtl = "newmtl m\nKd 0.2 0.3 0.4\nmap_Kd ../images/texture0.png\n";
    let (_dir, path) = object(TRIANGLE, Some(mtl), None);
    let mesh = load_obj(&path).unwrap();
    assert_eq!(material_warnings(&mesh).len(), 1, "{:?}", mesh.warnings);
    assert!(
        mesh.warnings[0].contains("texture0.png") && mesh.warnings[0].contains("Kd"),
        "{}",
        mesh.warnings[0]
    );
    assert_eq!(mesh.materials[0].texture, None);
    assert_eq!(mesh.materials[0].base_colour, [0.2, 0.3, 0.4]);
}

#[test]
fn unreadable_texture_warns_and_falls_back_to_kd() {
    let mtl = "newmtl m\nKd 0.2 0.3 0.4\nmap_Kd ../images/texture0.png\n";
    let (_dir, path) = object(TRIANGLE, Some(mtl), Some(b"not a png"));
    let mesh = load_obj(&path).unwrap();
    assert_eq!(material_warnings(&mesh).len(), 1, "{:?}", mesh.warnings);
    assert!(mesh.warnings[0].contains("texture0.png"), "{}", mesh.warnings[0]);
    assert_eq!(mesh.materials[0].texture, None);
}

#[test]
fn missing_mtl_warns_and_uses_default_grey() {
    let (_dir, path) = object(TRIANGLE, None, None);
    let mesh = load_obj(&path).unwrap();
    assert_eq!(material_warnings(&mesh).len(), 1, "{:?}", mesh.warnings);
    assert!(mesh.warnings[0].contains("model_normalized.mtl"));
    assert_eq!(mesh.materials[mesh.submeshes[0].material].base_colour, [0.8; 3]);
}

#[test]
fn nan_vertex_is_an_error_naming_the_file() {
    let obj = "v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n";
    let (_dir, path) = object(obj, None, None);
    let err = format!("{:#}", load_obj(&path).unwrap_err());
    assert!(err.contains(&path.display().to_string()) && err.contains("non-finite"), "{err}");
}

#[test]
fn broken_mtl_is_an_error_naming_the_mtl() {
    for mtl in ["newmtl m\nKd zero 0 0\n", "newmtl m\nKd 0.5 0.5\n", "newmtl m\nmap_Kd\n"] {
        let (_dir, path) = object(TRIANGLE, Some(mtl), None);
        let err = format!("{:#}", load_obj(&path).unwrap_err());
        assert!(err.contains("model_normalized.mtl") && err.contains("broken"), "{mtl:?}: {err}");
    }
}

#[test]
fn empty_unreadable_and_degenerate_meshes_are_errors() {
    let (_dir, path) = object("# nothing\n", None, None);
    let err = format!("{:#}", load_obj(&path).unwrap_err());
    assert!(err.contains("no triangles") && err.contains("model_normalized.obj"), "{err}");

    let missing = Path::new("/nonexistent/models/model_normalized.obj");
    let err = format!("{:#}", load_obj(missing).unwrap_err());
    assert!(err.contains("/nonexistent/models/model_normalized.obj") && err.contains("cannot read"), "{err}");

    let (_dir, path) = object("v 1 1 1\nv 1 1 1\nv 1 1 1\nf 1 2 3\n", None, None);
    let err = format!("{:#}", load_obj(&path).unwrap_err());
    assert!(err.contains("degenerate"), "{err}");

    let (_dir, path) = object("v 0 0 0\nv 1 0 0\nf 1 2 x\n", None, None);
    let err = format!("{:#}", load_obj(&path).unwrap_err());
    assert!(err.contains("not a valid OBJ"), "{err}");
}

/// The mesh's warnings other than the rescale of a non-unit diagonal (the fixtures are not unit).
fn material_warnings(mesh: &super::Mesh) -> Vec<&String> {
    mesh.warnings.iter().filter(|w| !w.contains("rescaled to 1")).collect()
}

#[test]
fn rescaling_a_mesh_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let obj = dir.path().join("model_normalized.obj");
    std::fs::write(&obj, "v 0 0 0\nv 2 0 0\nv 0 2 0\nf 1 2 3\n").unwrap();
    let mesh = super::load_obj(&obj).unwrap();
    let rescaled: Vec<_> = mesh.warnings.iter().filter(|w| w.contains("rescaled to 1")).collect();
    assert_eq!(rescaled.len(), 1, "{:?}", mesh.warnings);
    assert!(rescaled[0].contains("diagonal 2.8284"), "{}", rescaled[0]);
}

#[test]
fn texture_paths_outside_the_object_folder_are_refused() {
    let outer = tempfile::tempdir().unwrap();
    let secret = outer.path().join("secret.png");
    image::RgbImage::from_pixel(2, 2, image::Rgb([255, 0, 0])).save(&secret).unwrap();
    // The object lives two levels below the secret, as <synset>/<id>/models.
    let models = outer.path().join("synset/id/models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::create_dir_all(outer.path().join("synset/id/images")).unwrap();
    image::RgbImage::from_pixel(2, 2, image::Rgb([0, 255, 0]))
        .save(outer.path().join("synset/id/images/ok.png"))
        .unwrap();
    for (name, allowed) in [
        ("../../../secret.png", false),
        (secret.to_str().unwrap(), false),
        ("/etc/hostname", false),
        ("../images/ok.png", true),
    ] {
        std::fs::write(
            models.join("model_normalized.mtl"),
            format!("newmtl m\nKd 0.2 0.3 0.4\nmap_Kd {name}\n"),
        )
        .unwrap();
        std::fs::write(models.join("model_normalized.obj"), TRIANGLE).unwrap();
        let mesh = load_obj(&models.join("model_normalized.obj")).unwrap();
        assert_eq!(mesh.materials[0].texture.is_some(), allowed, "{name}: {:?}", mesh.warnings);
        let w = material_warnings(&mesh);
        let exists = models.join(name).exists();
        if !allowed && exists {
            assert!(w.len() == 1 && w[0].contains("leaves the object's folder"), "{name}: {w:?}");
        }
        assert!(allowed || exists || name == "/etc/hostname", "{name}: the test file must exist");
    }
}

#[test]
fn a_colour_line_with_too_few_values_is_a_broken_mtl_not_a_panic() {
    let (_dir, path) = object(TRIANGLE, Some("newmtl m\nKd 0.2 0.3 0.4\nKs 0.5\n"), None);
    let e = format!("{:#}", load_obj(&path).unwrap_err());
    assert!(
        e.contains("model_normalized.mtl: broken material library (line 3: Ks needs 3 values, has 1)"),
        "{e}"
    );
}

/// A 2x2 PNG of one colour.
fn png(rgb: [u8; 3]) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbImage::from_pixel(2, 2, image::Rgb(rgb))
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes
}

#[test]
fn an_absolute_mtllib_outside_the_object_folder_is_refused_with_a_warning() {
    // Issue case 1: `mtllib /tmp/x/evil.mtl` naming `map_Kd /tmp/x/secret.png`.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.png"), png([255, 0, 0])).unwrap();
    let evil = outside.path().join("evil.mtl");
    std::fs::write(&evil, format!("newmtl m\nmap_Kd {}\n", outside.path().join("secret.png").display()))
        .unwrap();
    let obj = TRIANGLE.replace("mtllib model_normalized.mtl", &format!("mtllib {}", evil.display()));
    let (_dir, path) = object(&obj, None, None);
    let mesh = load_obj(&path).unwrap();
    assert!(mesh.textures.is_empty(), "the secret is never read");
    let w = material_warnings(&mesh);
    assert!(w.len() == 1 && w[0].contains("evil.mtl: material library leaves the object's folder"), "{w:?}");
    // `mtllib /dev/zero` (issue case 3) is outside too: refused before it is opened.
    let (_dir, path) =
        object(&TRIANGLE.replace("mtllib model_normalized.mtl", "mtllib /dev/zero"), None, None);
    let w = material_warnings(&load_obj(&path).unwrap()).into_iter().cloned().collect::<Vec<_>>();
    assert!(w.len() == 1 && w[0].contains("/dev/zero: material library leaves the object's folder"), "{w:?}");
    // A symbolic link inside the folder pointing out of it, and a device, are refused alike.
    for target in [evil.as_path(), Path::new("/dev/zero")] {
        let (_dir, path) = object(TRIANGLE, None, None);
        std::os::unix::fs::symlink(target, path.with_extension("mtl")).unwrap();
        let mesh = load_obj(&path).unwrap();
        let w = material_warnings(&mesh);
        assert!(w.len() == 1 && w[0].contains("leaves the object's folder"), "{target:?}: {w:?}");
    }
}

#[test]
fn pipes_and_devices_are_never_opened() {
    // Issue cases 2 and 3: a FIFO as texture or `.mtl`, `/dev/zero` as `.mtl`: no hang, no
    // unbounded read.
    let mtl = "newmtl m\nKd 0.2 0.3 0.4\nmap_Kd ../images/texture0.png\n";
    let (dir, path) = object(TRIANGLE, Some(mtl), None);
    std::fs::create_dir_all(dir.path().join("images")).unwrap();
    let fifo = |p: &Path| assert!(std::process::Command::new("mkfifo").arg(p).status().unwrap().success());
    fifo(&dir.path().join("images/texture0.png"));
    let mesh = load_obj(&path).unwrap();
    let w = material_warnings(&mesh);
    assert!(w.len() == 1 && w[0].contains("not a regular file (a named pipe"), "{w:?}");
    assert_eq!(mesh.materials[0].base_colour, [0.2, 0.3, 0.4]);

    let (dir, path) = object(TRIANGLE, None, None);
    fifo(&dir.path().join("models/model_normalized.mtl"));
    let e = format!("{:#}", load_obj(&path).unwrap_err());
    assert!(e.contains("model_normalized.mtl: cannot read material library: not a regular file"), "{e}");

    let (dir, path) = object(TRIANGLE, None, None);
    std::fs::remove_file(&path).unwrap();
    fifo(&path);
    let e = format!("{:#}", load_obj(&path).unwrap_err());
    assert!(e.contains("model_normalized.obj: cannot read mesh: not a regular file (a named pipe"), "{e}");
    drop(dir);
}

#[test]
fn a_mesh_of_only_degenerate_triangles_is_an_error() {
    // Issue case 5: collinear triangles span a bounding box but draw nothing.
    let obj = "v 0 0 0\nv 1 0 0\nv 2 0 0\nv 0 1 0\nv 0 2 0\nf 1 2 3\nf 1 4 5\n";
    let (_dir, path) = object(obj, None, None);
    let e = format!("{:#}", load_obj(&path).unwrap_err());
    assert!(e.contains("all 2 triangles are degenerate (zero area): nothing to draw"), "{e}");
    // Triangles naming missing vertices are skipped with a warning.
    let obj = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1 2 9\n";
    let (_dir, path) = object(obj, None, None);
    match load_obj(&path) {
        Ok(mesh) => assert!(
            mesh.warnings.iter().any(|w| w.contains("name vertices that do not exist")),
            "{:?}",
            mesh.warnings
        ),
        Err(e) => assert!(format!("{e:#}").contains("model_normalized.obj"), "{e:#}"),
    }
}

#[test]
fn byte_order_marks_are_read_past_and_unknown_materials_warn() {
    // Issue case 6: a BOM before `mtllib` (OBJ) and before `newmtl` (MTL).
    let mtl = "\u{feff}newmtl m\nKd 0.2 0.3 0.4\n";
    let (_dir, path) = object(&format!("\u{feff}{TRIANGLE}"), Some(mtl), None);
    let mesh = load_obj(&path).unwrap();
    assert!(material_warnings(&mesh).is_empty(), "{:?}", mesh.warnings);
    assert_eq!(mesh.materials[mesh.submeshes[0].material].base_colour, [0.2, 0.3, 0.4]);
    // A `usemtl` naming a material the `.mtl` lacks.
    let (_dir, path) = object(&TRIANGLE.replace("usemtl m", "usemtl nope"), Some(mtl), None);
    let mesh = load_obj(&path).unwrap();
    let w = material_warnings(&mesh);
    assert!(w.len() == 1 && w[0].contains("usemtl 'nope' names no material"), "{w:?}");
    assert_eq!(mesh.materials[mesh.submeshes[0].material].base_colour, [0.8; 3]);
}

#[test]
fn several_libraries_on_one_line_and_texture_names_with_spaces() {
    // Issue case 8: `mtllib a.mtl b.mtl`; `map_Kd -s 1 1 1 ../images/my tex.png`.
    let obj = TRIANGLE
        .replace("mtllib model_normalized.mtl", "mtllib a.mtl b.mtl")
        .replace("usemtl m", "usemtl second");
    let (dir, path) = object(&obj, None, None);
    let models = dir.path().join("models");
    std::fs::write(models.join("a.mtl"), "newmtl first\nKd 1 0 0\n").unwrap();
    std::fs::write(models.join("b.mtl"), "newmtl second\nKd 0 1 0\nmap_Kd -s 1 1 1 ../images/my tex.png\n")
        .unwrap();
    std::fs::create_dir_all(dir.path().join("images")).unwrap();
    std::fs::write(dir.path().join("images/my tex.png"), png([0, 0, 255])).unwrap();
    let mesh = load_obj(&path).unwrap();
    assert!(material_warnings(&mesh).is_empty(), "{:?}", mesh.warnings);
    let used = &mesh.materials[mesh.submeshes[0].material];
    assert_eq!(used.name, "second");
    assert_eq!(used.texture, Some(0));
    assert!(mesh.textures[0].path.ends_with("images/my tex.png"));
}

#[test]
fn oversized_files_are_refused_with_the_limit() {
    let (dir, path) = object(TRIANGLE, None, None);
    let big = std::fs::File::create(dir.path().join("models/model_normalized.mtl")).unwrap();
    big.set_len(material::MTL_MAX_BYTES + 1).unwrap();
    let e = format!("{:#}", load_obj(&path).unwrap_err());
    assert!(e.contains(&format!("more than the limit of {} bytes", material::MTL_MAX_BYTES)), "{e}");
}
