//! The generated tree is a valid ShapeNetCore v2 layout, deterministic, varied and asymmetric.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dataset::ObjectKey;
use synth::layout::{obj_path, object_id, TaxonomyEntry};
use synth::obj_writer::ObjStats;

/// What the test reads back from one `model_normalized.obj`.
#[derive(Default)]
struct Obj {
    v: Vec<[f64; 3]>,
    vt: usize,
    vn: Vec<[f64; 3]>,
    faces: Vec<[usize; 3]>,
    /// Index (in order of first use) of each face's material.
    face_material: Vec<usize>,
    materials: BTreeSet<String>,
}

fn parse_obj(path: &Path) -> Obj {
    let text = std::fs::read_to_string(path).unwrap();
    let mut o = Obj::default();
    let mut current = 0;
    let mut saw_mtllib = false;
    let nums =
        |rest: &str| -> Vec<f64> { rest.split_whitespace().map(|x| x.parse::<f64>().unwrap()).collect() };
    for line in text.lines() {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "mtllib" => {
                assert_eq!(rest, "model_normalized.mtl");
                saw_mtllib = true;
            }
            "v" | "vn" => {
                let n = nums(rest);
                assert_eq!(n.len(), 3, "{line}");
                assert!(n.iter().all(|x| x.is_finite()), "{line}");
                let arr = [n[0], n[1], n[2]];
                if tag == "v" {
                    o.v.push(arr)
                } else {
                    o.vn.push(arr)
                }
            }
            "vt" => {
                let n = nums(rest);
                assert!(n.len() == 2 && n.iter().all(|x| (0.0..=1.0).contains(x)), "{line}");
                o.vt += 1;
            }
            "usemtl" => {
                assert!(o.materials.insert(rest.to_string()), "{rest} used twice");
                current = o.materials.len() - 1;
            }
            "f" => {
                assert!(!o.materials.is_empty(), "face before usemtl");
                let corners: Vec<[usize; 3]> = rest
                    .split_whitespace()
                    .map(|c| {
                        let ids: Vec<usize> = c.split('/').map(|x| x.parse().unwrap()).collect();
                        assert_eq!(ids.len(), 3, "{line}: want v/vt/vn");
                        [ids[0], ids[1], ids[2]]
                    })
                    .collect();
                assert_eq!(corners.len(), 3, "{line}");
                for c in &corners {
                    assert!(
                        c[0] >= 1
                            && c[0] <= o.v.len()
                            && c[1] >= 1
                            && c[1] <= o.vt
                            && c[2] >= 1
                            && c[2] <= o.vn.len(),
                        "{line}"
                    );
                }
                o.faces.push([corners[0][0] - 1, corners[1][0] - 1, corners[2][0] - 1]);
                o.face_material.push(current);
            }
            "#" | "" => {}
            _ => panic!("unexpected OBJ line {line:?}"),
        }
    }
    assert!(saw_mtllib);
    o
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn norm(a: [f64; 3]) -> f64 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

/// Which materials' surfaces pass through each cell of an even grid centred at the origin (so
/// 180-degree turns about the axes map cells to cells): a bit mask of material indices per cell.
/// Materials count because a label or a sound hole makes a pose visible as much as a shape does.
fn occupancy(o: &Obj, n: usize) -> Vec<u64> {
    let mut occ = vec![0u64; n * n * n];
    let cell = 1.0 / n as f64;
    for (f, &mat) in o.faces.iter().zip(&o.face_material) {
        let mut mark = |p: [f64; 3]| {
            // Mirror-exact binning: x and -x always land in cells i and n - 1 - i.
            let bin = |x: f64| {
                let k = ((x.abs() / cell).floor() as usize).min(n / 2 - 1);
                if x >= 0.0 {
                    n / 2 + k
                } else {
                    n / 2 - 1 - k
                }
            };
            let idx = p.map(bin);
            occ[(idx[0] * n + idx[1]) * n + idx[2]] |= 1 << mat;
        };
        let [a, b, c] = f.map(|i| o.v[i]);
        let longest = norm(sub(b, a)).max(norm(sub(c, a))).max(norm(sub(c, b)));
        let steps = (longest / (cell * 0.4)).ceil().max(1.0) as usize;
        for i in 0..=steps {
            for j in 0..=steps - i {
                let (u, v) = (i as f64 / steps as f64, j as f64 / steps as f64);
                mark(std::array::from_fn(|k| a[k] + (b[k] - a[k]) * u + (c[k] - a[k]) * v));
            }
        }
    }
    occ
}

/// 1 - IoU between the occupancy and its 180-degree turn about `axis` (0 = x, 1 = y, 2 = z); a
/// cell counts as shared when both hold the same materials.
fn asymmetry(occ: &[u64], n: usize, axis: usize) -> f64 {
    let (mut inter, mut union) = (0usize, 0usize);
    for i in 0..n {
        for j in 0..n {
            for k in 0..n {
                let mut r = [n - 1 - i, n - 1 - j, n - 1 - k];
                r[axis] = [i, j, k][axis];
                let a = occ[(i * n + j) * n + k];
                let b = occ[(r[0] * n + r[1]) * n + r[2]];
                inter += (a != 0 && a == b) as usize;
                union += (a != 0 || b != 0) as usize;
            }
        }
    }
    1.0 - inter as f64 / union.max(1) as f64
}

fn files_under(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn classes_have_fresh_synsets_and_builders() {
    let classes = synth::classes();
    assert!(classes.len() >= 10);
    let synsets: Vec<&str> = classes.iter().map(|c| c.synset).collect();
    let mut sorted = synsets.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, synsets, "synsets must be unique and in label (sorted) order");
    for c in classes {
        assert!(c.synset.len() == 8 && c.synset.bytes().all(|b| b.is_ascii_digit()), "{c:?}");
        assert!(
            !["02", "03", "04"].iter().any(|p| c.synset.starts_with(p)),
            "{c:?} may collide with ShapeNet"
        );
        assert!(synth::classes::builder(c.name).is_some(), "{c:?}");
    }
    let names: BTreeSet<&str> = classes.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), classes.len());
}

#[test]
fn object_ids_are_distinct_across_classes_instances_and_seeds() {
    let mut ids = BTreeSet::new();
    for c in synth::classes() {
        for i in 0..20 {
            for seed in [0, 1, 2] {
                let id = object_id(c.name, i, seed);
                assert_eq!(id.len(), 32);
                assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
                assert!(ids.insert(id));
            }
        }
    }
    assert_eq!(object_id("mug", 3, 9), object_id("mug", 3, 9));
}

#[test]
fn tree_is_valid_shapenet_layout() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // SYNTH_TEST_PER_CLASS / SYNTH_TEST_SEED: a heavier local sweep over more objects.
    let env = |name: &str, default: u64| std::env::var(name).map_or(default, |v| v.parse().unwrap());
    let per_class = env("SYNTH_TEST_PER_CLASS", 3) as usize;
    let keys = synth::generate_library(root, per_class, env("SYNTH_TEST_SEED", 7)).unwrap();
    assert_eq!(keys.len(), per_class * synth::classes().len());
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(sorted, keys);

    let taxonomy: Vec<TaxonomyEntry> =
        serde_json::from_slice(&std::fs::read(root.join("taxonomy.json")).unwrap()).unwrap();
    assert_eq!(taxonomy.len(), synth::classes().len());
    for (t, c) in taxonomy.iter().zip(synth::classes()) {
        assert_eq!((t.synset_id.as_str(), t.name.as_str(), t.num_instances), (c.synset, c.name, per_class));
    }

    let mut textured = 0;
    for key in &keys {
        let obj = obj_path(root, key);
        let models = obj.parent().unwrap();
        let o = parse_obj(&obj);
        assert!(!o.faces.is_empty());
        assert_eq!(o.v.len(), o.vt);
        assert_eq!(o.v.len(), o.vn.len());
        assert!(o.vn.iter().all(|n| (norm(*n) - 1.0).abs() < 1e-3), "{key}: normals not unit");
        for f in &o.faces {
            let [a, b, c] = f.map(|i| o.v[i]);
            assert!(norm(cross(sub(b, a), sub(c, a))) > 1e-12, "{key}: degenerate face {f:?}");
        }

        // Statistics match the vertices; unit diagonal, centred bounding box.
        let stats: ObjStats =
            serde_json::from_slice(&std::fs::read(models.join("model_normalized.json")).unwrap()).unwrap();
        assert_eq!(stats.id, key.object_id);
        assert_eq!(stats.num_vertices, o.v.len());
        let mut lo = [f64::MAX; 3];
        let mut hi = [f64::MIN; 3];
        let mut mean = [0.0; 3];
        for p in &o.v {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
                mean[k] += p[k] / o.v.len() as f64;
            }
        }
        for k in 0..3 {
            assert!((lo[k] - stats.min[k]).abs() < 1e-9 && (hi[k] - stats.max[k]).abs() < 1e-9, "{key}");
            assert!((mean[k] - stats.centroid[k]).abs() < 2e-6, "{key}");
            assert!((lo[k] + hi[k]).abs() < 1e-5, "{key}: not centred");
        }
        assert!((norm(sub(hi, lo)) - 1.0).abs() < 1e-4, "{key}: diagonal {}", norm(sub(hi, lo)));

        // The MTL defines every material used; textures exist and decode.
        let mtl = std::fs::read_to_string(models.join("model_normalized.mtl")).unwrap();
        let defined: BTreeSet<String> =
            mtl.lines().filter_map(|l| l.strip_prefix("newmtl ")).map(str::to_string).collect();
        assert_eq!(defined, o.materials, "{key}");
        for line in mtl.lines() {
            if let Some(tex) = line.strip_prefix("map_Kd ") {
                assert!(tex.starts_with("../images/texture"), "{line}");
                let img = image::open(models.join(tex)).unwrap();
                assert!(img.width() > 0);
                textured += 1;
            }
        }

        // tobj (as the renderer loads it) reads the object and its materials.
        let opts = tobj::LoadOptions { triangulate: true, single_index: true, ..Default::default() };
        let (meshes, mats) = tobj::load_obj(&obj, &opts).unwrap();
        let mats = mats.unwrap();
        assert_eq!(mats.len(), o.materials.len());
        let tris: usize = meshes.iter().map(|m| m.mesh.indices.len() / 3).sum();
        assert_eq!(tris, o.faces.len());
        assert!(meshes.iter().all(|m| !m.mesh.normals.is_empty() && !m.mesh.texcoords.is_empty()));
        assert!((48..=20_000).contains(&tris), "{key}: {tris} triangles");
    }
    assert!(textured > 0, "some objects must be textured");
}

#[test]
fn same_arguments_give_identical_bytes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    synth::generate_library(a.path(), 2, 3).unwrap();
    synth::generate_library(b.path(), 2, 3).unwrap();
    let fa = files_under(a.path());
    assert_eq!(fa, files_under(b.path()));
    // Re-running over an existing tree rewrites the same bytes and leaves no temporary files.
    synth::generate_library(a.path(), 2, 3).unwrap();
    assert_eq!(fa, files_under(a.path()));
    // Fewer objects in the same folder: the extra ones are removed, other files are kept.
    std::fs::write(a.path().join("notes.txt"), b"mine").unwrap();
    let fewer = synth::generate_library(a.path(), 1, 3).unwrap();
    let synset = synth::classes()[0].synset;
    assert_eq!(std::fs::read_dir(a.path().join(synset)).unwrap().count(), 1);
    assert_eq!(fewer.len(), synth::classes().len());
    assert!(a.path().join("notes.txt").exists());
    synth::generate_library(a.path(), 2, 3).unwrap();
    // Another seed gives other objects.
    let c = tempfile::tempdir().unwrap();
    let kc = synth::generate_library(c.path(), 2, 4).unwrap();
    let ka: BTreeSet<ObjectKey> = synth::generate_library(a.path(), 2, 3).unwrap().into_iter().collect();
    assert!(kc.iter().all(|k| !ka.contains(k)));
}

#[test]
fn instances_vary_and_most_objects_are_asymmetric() {
    let dir = tempfile::tempdir().unwrap();
    let env = |name: &str, default: u64| std::env::var(name).map_or(default, |v| v.parse().unwrap());
    let per_class = env("SYNTH_TEST_PER_CLASS", 5) as usize;
    let keys = synth::generate_library(dir.path(), per_class, env("SYNTH_TEST_SEED", 11)).unwrap();
    let n = 32;
    let mut symmetric = Vec::new();
    for class in synth::classes() {
        let objs: Vec<&ObjectKey> = keys.iter().filter(|k| k.synset == class.synset).collect();
        let mut extents = Vec::new();
        for key in &objs {
            let o = parse_obj(&obj_path(dir.path(), key));
            let stats: ObjStats = serde_json::from_slice(
                &std::fs::read(obj_path(dir.path(), key).with_extension("json")).unwrap(),
            )
            .unwrap();
            extents.push(stats.max.map(|x| (x * 1e6).round() as i64));
            let occ = occupancy(&o, n);
            let scores: Vec<f64> = (0..3).map(|axis| asymmetry(&occ, n, axis)).collect();
            eprintln!(
                "{} {}: 1-IoU under 180-degree turns about x, y, z = {scores:.3?}",
                class.name, key.object_id
            );
            if scores.iter().any(|&s| s < 0.1) {
                symmetric.push(format!("{} {} {scores:.3?}", class.name, key.object_id));
            }
        }
        let distinct: BTreeSet<_> = extents.iter().collect();
        assert_eq!(distinct.len(), objs.len(), "{}: instances share a bounding box", class.name);
    }
    let total = keys.len();
    assert!(symmetric.len() * 20 <= total, "too many near-symmetric objects: {symmetric:#?}");
}

/// The asymmetry measure itself: ~0 for a box, clearly positive once a handle is added.
#[test]
fn asymmetry_measure_tells_symmetric_from_asymmetric() {
    use glam::Vec3;
    let to_obj = |meshes: &[synth::primitives::Mesh]| {
        let mut o = Obj::default();
        for (mat, m) in meshes.iter().enumerate() {
            let base = o.v.len();
            o.v.extend(m.positions.iter().map(|p| p.to_array().map(f64::from)));
            for t in &m.triangles {
                o.faces.push(t.map(|i| i as usize + base));
                o.face_material.push(mat);
            }
        }
        o
    };
    let body = synth::primitives::cuboid(Vec3::new(0.5, 0.6, 0.4));
    let handle = synth::primitives::cuboid_between(Vec3::new(0.25, -0.1, -0.08), Vec3::new(0.5, 0.25, 0.08));
    let n = 32;
    let plain = occupancy(&to_obj(std::slice::from_ref(&body)), n);
    let with_handle = occupancy(&to_obj(&[body.clone(), handle]), n);
    let label = synth::primitives::cuboid_between(Vec3::new(-0.2, -0.2, 0.19), Vec3::new(0.2, 0.2, 0.2));
    let with_label = occupancy(&to_obj(&[body, label]), n);
    for axis in 0..3 {
        assert!(asymmetry(&plain, n, axis) < 0.02, "axis {axis}");
        assert!(asymmetry(&with_handle, n, axis) > 0.1, "axis {axis}");
    }
    assert!(asymmetry(&with_label, n, 1) > 0.1);
}
