//! Hostile and unlucky input to whole jobs (issue "Trust, round two"): files that escape the
//! object's folder, pipes, degenerate meshes, folders that cannot be keys, objects out of frame,
//! damaged shards, meshes too large for one buffer. One bad object never stops a `--keep-going`
//! job, and nothing is dropped in silence.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dataset::records::DatasetManifest;

const FIXTURE: &str = "../tests/fixtures/meshes/90000001/textured_box";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

/// Copies the textured box fixture to `<root>/<synset>/<id>`; returns the object folder.
fn textured_box(root: &Path, synset: &str, id: &str) -> PathBuf {
    let dir = root.join(synset).join(id);
    for sub in ["models", "images"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for entry in std::fs::read_dir(fixture().join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(sub).join(entry.file_name())).unwrap();
        }
    }
    dir
}

fn obj_of(dir: &Path) -> PathBuf {
    dir.join("models/model_normalized.obj")
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// Runs the `render` binary, killing it (and failing) if it runs past `limit`: nothing may hang.
fn render(args: &[&str], limit: Duration) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_render"))
        .args(args)
        .env("NODEVICE_SELECT", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let start = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            panic!("render {args:?} hung (killed after {:?})", start.elapsed());
        }
    }
}

fn job_args<'a>(shapenet: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--shapenet", shapenet, "--out", out, "--views", "2", "--image-size", "32"];
    args.extend_from_slice(extra);
    args
}

/// A tree with one good object and one of each kind of hostile object.
fn hostile_tree(root: &Path, outside: &Path) {
    textured_box(root, "90000001", "good");
    // Case 1: an absolute mtllib outside the object's folder naming an outside texture.
    image::RgbImage::from_pixel(4, 4, image::Rgb([255, 0, 0])).save(outside.join("secret.png")).unwrap();
    std::fs::write(
        outside.join("evil.mtl"),
        format!("newmtl skin\nmap_Kd {}\n", outside.join("secret.png").display()),
    )
    .unwrap();
    let evil = textured_box(root, "90000001", "evil");
    let text = std::fs::read_to_string(obj_of(&evil)).unwrap();
    let text = text
        .replace("mtllib model_normalized.mtl", &format!("mtllib {}", outside.join("evil.mtl").display()));
    std::fs::write(obj_of(&evil), text).unwrap();
    // Case 2: a named pipe in place of the texture.
    let pipe = textured_box(root, "90000001", "pipe");
    mkfifo(&pipe.join("images/texture0.png"));
    // Case 3: the .mtl a link to /dev/zero.
    let zero = textured_box(root, "90000001", "zero");
    std::fs::remove_file(zero.join("models/model_normalized.mtl")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", zero.join("models/model_normalized.mtl")).unwrap();
    // Case 5: every triangle degenerate.
    let flat = textured_box(root, "90000001", "flat");
    std::fs::write(obj_of(&flat), "v 0 0 0\nv 1 0 0\nv 2 0 0\nv 0 1 0\nv 0 2 0\nf 1 2 3\nf 1 4 5\n").unwrap();
    // Case 7: a folder name with a space.
    textured_box(root, "90000001", "with space");
}

#[test]
fn hostile_objects_are_refused_listed_or_warned_and_never_stop_a_keep_going_job() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, outside, out) =
        (tmp.path().join("ShapeNet"), tmp.path().join("outside"), tmp.path().join("out"));
    std::fs::create_dir_all(&outside).unwrap();
    hostile_tree(&root, &outside);
    let (r, o) = (root.to_str().unwrap(), out.to_str().unwrap());
    let output = render(&job_args(r, o, &["--keep-going", "--mask"]), Duration::from_secs(300));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "failures make the exit status 1: {stderr}");

    let m = DatasetManifest::read(&out).unwrap();
    let failed: Vec<&str> = m.failures.iter().map(|f| f.object.as_str()).collect();
    assert_eq!(failed, ["90000001/flat"], "{stderr}");
    assert!(m.failures[0].error.contains("all 2 triangles are degenerate"), "{}", m.failures[0].error);
    let warned = |object: &str, text: &str| {
        m.warnings.iter().any(|w| w.object == object && w.warning.contains(text))
            && stderr.contains(&format!("warning: {object}: "))
    };
    assert!(warned("90000001/evil", "evil.mtl: material library leaves the object's folder"), "{stderr}");
    assert!(warned("90000001/pipe", "not a regular file (a named pipe"), "{stderr}");
    assert!(
        warned("90000001/zero", "model_normalized.mtl: material library leaves the object's folder"),
        "{stderr}"
    );
    assert!(warned("90000001/with space", "folder skipped: its name is not a valid key"), "{stderr}");
    // The good, evil, pipe and zero objects are rendered (4 objects x 2 views).
    assert_eq!(m.images, 8, "{stderr}");
    // The secret never reached the dataset: the evil object is default grey, not red.
    let img = image::open(out.join("90000001/evil/image_0.jpg")).unwrap().to_rgb8();
    assert!(img.pixels().all(|p| !(p.0[0] > 200 && p.0[1] < 60 && p.0[2] < 60)), "no secret red");

    // Without --keep-going the job stops at the first bad object, with one line naming it.
    let out2 = tmp.path().join("out2");
    let output = render(&job_args(r, out2.to_str().unwrap(), &[]), Duration::from_secs(300));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains("90000001/flat/models/model_normalized.obj"),
        "{stderr}"
    );
}

#[test]
fn an_object_out_of_frame_is_a_warning_naming_the_object_and_view() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, out) = (tmp.path().join("ShapeNet"), tmp.path().join("out"));
    textured_box(&root, "90000001", "far");
    let config = tmp.path().join("far.toml");
    std::fs::write(&config, "[factors]\ntranslation_frame = \"world\"\ntranslation_x = 10\n").unwrap();
    let (r, o, c) = (root.to_str().unwrap(), out.to_str().unwrap(), config.to_str().unwrap());
    let output = render(&job_args(r, o, &["--config", c]), Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let m = DatasetManifest::read(&out).unwrap();
    for view in 0..2 {
        let text = format!("view {view}: the object draws no pixel");
        assert!(
            m.warnings.iter().any(|w| w.object == "90000001/far" && w.warning.starts_with(&text)),
            "{m:?}"
        );
        assert!(stderr.contains(&format!("warning: 90000001/far: {text}")), "{stderr}");
    }
}

#[test]
fn merge_checks_the_shards_files_not_only_their_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, out) = (tmp.path().join("ShapeNet"), tmp.path().join("out"));
    for id in ["a", "b", "c", "d"] {
        textured_box(&root, "90000001", id);
    }
    let (r, o) = (root.to_str().unwrap(), out.to_str().unwrap());
    for shard in ["0/2", "1/2"] {
        let output = render(&job_args(r, o, &["--shard", shard]), Duration::from_secs(120));
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    std::fs::remove_file(out.join("90000001/c/image_1.jpg")).unwrap();
    let output = render(&["merge", o], Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("of the views it lists as rendered are missing or damaged")
            && stderr.contains("90000001/c/image_1.jpg: missing"),
        "{stderr}"
    );
    assert!(!out.join("manifest.json").exists(), "nothing is written");
}

#[test]
fn a_mesh_split_over_several_buffers_renders_as_one() {
    // Issue case 4: a mesh larger than the adapter's largest buffer is drawn in parts; here a
    // small mesh is forced into parts and must give the same pixels.
    let mesh = renderer::mesh::load_obj(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/meshes/90000002/table/models/model_normalized.obj"),
    )
    .unwrap();
    let opts = renderer::gpu::RenderOptions { image_size: 64, mask: true, depth: true, ..Default::default() };
    let mut r = renderer::gpu::Renderer::new(opts).unwrap();
    let key = dataset::ObjectKey::new("s", "o").unwrap();
    let views: Vec<_> = (0..3).map(|v| dataset::factors::reference_view(0, &key, v)).collect();
    let whole = r.upload(&mesh).unwrap();
    assert_eq!(whole.parts(), 1);
    let want = r.render_views(&whole, &views).unwrap();
    // 96 bytes a triangle (three 32-byte vertices): 20 triangles a part.
    let parts = r.upload_within(&mesh, 96 * 20).unwrap();
    assert!(parts.parts() > 2, "{}", parts.parts());
    assert_eq!(r.render_views(&parts, &views).unwrap(), want);
}

#[test]
fn a_device_error_is_the_objects_error_not_a_panic() {
    // A draw past the end of the index buffer is a wgpu validation error, which by default
    // panics; per object it is caught and named.
    let triangles = [[[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]];
    let mut mesh = renderer::mesh::Mesh::from_triangles(&triangles, renderer::mesh::Material::default());
    mesh.submeshes[0].index_count += 3;
    let opts = renderer::gpu::RenderOptions { image_size: 32, ..Default::default() };
    let mut r = renderer::gpu::Renderer::new(opts).unwrap();
    let key = dataset::ObjectKey::new("s", "o").unwrap();
    let views = [dataset::factors::reference_view(0, &key, 0)];
    let e = format!("{:#}", r.render_object(&mesh, &views).unwrap_err());
    assert!(e.contains("the graphics device refused this mesh"), "{e}");
}

/// A vertical square of `cells` x `cells` x 2 flat triangles, centred, unit diagonal or less.
fn grid(cells: usize) -> Vec<[[f32; 3]; 3]> {
    let step = 0.6 / cells as f32;
    let p = |i: usize, j: usize| [i as f32 * step - 0.3, 0.0, j as f32 * step - 0.3];
    let mut out = Vec::with_capacity(cells * cells * 2);
    for i in 0..cells {
        for j in 0..cells {
            out.push([p(i, j), p(i + 1, j), p(i + 1, j + 1)]);
            out.push([p(i, j), p(i + 1, j + 1), p(i, j + 1)]);
        }
    }
    out
}

#[test]
#[ignore = "bench: 3 M flat-shaded triangles, 288 MB of vertices over a 256 MiB buffer: \
            1.7 s to draw, 1.2 GB peak RSS on lavapipe (2026-12-07); run with -- --ignored"]
fn three_million_flat_triangles_render_in_parts() {
    let mesh = renderer::mesh::Mesh::from_triangles(&grid(1225), renderer::mesh::Material::default());
    assert!(mesh.triangle_count() >= 3_000_000);
    let opts = renderer::gpu::RenderOptions { image_size: 64, ..Default::default() };
    let mut r = renderer::gpu::Renderer::new(opts).unwrap();
    let key = dataset::ObjectKey::new("s", "o").unwrap();
    let start = Instant::now();
    let frames = r.render_object(&mesh, &[dataset::factors::reference_view(0, &key, 0)]).unwrap();
    assert!(frames[0].covered > 100, "{}", frames[0].covered);
    eprintln!("3 M triangles: {:.1} s", start.elapsed().as_secs_f64());
}
