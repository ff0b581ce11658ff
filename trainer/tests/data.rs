//! The loader: the pair latent against SciPy, view sampling, bad input naming the file.

mod common;

use std::path::Path;

use dataset::pair::LatentKind;
use dataset::{Latent, ObjectKey};
use trainer::data::PairDataset;

fn open(root: &Path, kind: LatentKind) -> anyhow::Result<PairDataset> {
    PairDataset::open(
        root,
        &dataset::manifest::images_path(root, "train"),
        &dataset::manifest::labels_path(root, "train"),
        3,
        kind,
        32,
    )
}

#[derive(serde::Deserialize)]
struct Row {
    euler_1: [f64; 3],
    euler_2: [f64; 3],
    relative_quat_xyzw: [f64; 4],
}

#[derive(serde::Deserialize)]
struct Reference {
    rows: Vec<Row>,
}

/// Every SciPy reference pair, written as latent files of one object and read back through the
/// loader: `r1.inv() * r2` as f32, sign included; colour deltas appended for SIERotColor.
#[test]
fn pair_latent_matches_scipy_through_the_loader() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/rotations.json");
    let reference: Reference = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(!reference.rows.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let key = ObjectKey::new("02691156", "scipy").unwrap();
    let image = image::RgbImage::from_pixel(8, 8, image::Rgb([10, 20, 30]));
    for (i, row) in reference.rows.iter().enumerate() {
        for (v, euler, hues) in [(2 * i, row.euler_1, (0.1, 0.7)), (2 * i + 1, row.euler_2, (0.4, 0.2))] {
            let l = Latent {
                rotation: euler,
                floor_hue: hues.0,
                light_theta: 0.1,
                light_phi: 0.2,
                light_hue: hues.1,
                translation: None,
            };
            l.write(&key.latent_path(root, v)).unwrap();
            image.save(key.image_path(root, v)).unwrap();
        }
    }
    dataset::manifest::write_images(&dataset::manifest::images_path(root, "train"), &[key]).unwrap();
    dataset::manifest::write_labels(&dataset::manifest::labels_path(root, "train"), &[0]).unwrap();
    let ds = open(root, LatentKind::ROTATION).unwrap();
    let colour = open(root, LatentKind::ROTATION_COLOUR).unwrap();
    for (i, row) in reference.rows.iter().enumerate() {
        let q = ds.pair_latent(0, 2 * i, 2 * i + 1).unwrap();
        let expected: Vec<f32> = row.relative_quat_xyzw.iter().map(|&x| x as f32).collect();
        assert_eq!(q, expected, "row {i}");
        let qc = colour.pair_latent(0, 2 * i, 2 * i + 1).unwrap();
        assert_eq!(&qc[..4], &expected[..]);
        assert!((qc[4] - 0.3).abs() < 1e-6 && (qc[5] + 0.5).abs() < 1e-6, "{qc:?}");
    }
}

#[test]
fn views_are_distinct_uniform_and_seeded_and_images_normalised() {
    let (_dir, root) = common::fixture(2, 5);
    let ds = open(&root, LatentKind::ROTATION).unwrap();
    assert_eq!(ds.len(), 6);
    let mut counts = [0usize; 5];
    for epoch in 0..400 {
        let (a, b) = ds.pick_views(0, epoch, 1);
        assert_ne!(a, b);
        assert_eq!((a, b), ds.pick_views(0, epoch, 1));
        counts[a] += 1;
        counts[b] += 1;
    }
    assert!(counts.iter().all(|&c| c > 100), "{counts:?}");
    let mut order = ds.epoch_order(0, 3);
    assert_ne!(order, ds.epoch_order(0, 4));
    order.sort();
    assert_eq!(order, (0..6).collect::<Vec<_>>());
    let img = ds.load_image(0, 0).unwrap();
    assert_eq!(img.len(), 3 * 32 * 32);
    // Every value lies between the extremes of its channel (see the test below).
    assert!(img.iter().all(|v| (-5.23..=5.10).contains(v)));
}

#[test]
fn normalisation_maps_both_extremes_of_every_channel() {
    // (v / 255 - mean) / std with the SPEC's mean (0.5016, 0.5037, 0.5060) and std (0.1030,
    // 0.0999, 0.0969): 0 -> (-4.870, -5.042, -5.222), 255 -> (4.839, 4.968, 5.098).
    let black = dataset::pixels::normalise(&[0, 0, 0], 1);
    let white = dataset::pixels::normalise(&[255, 255, 255], 1);
    let want_black = [-0.5016 / 0.1030, -0.5037 / 0.0999, -0.5060 / 0.0969];
    let want_white = [0.4984 / 0.1030, 0.4963 / 0.0999, 0.4940 / 0.0969];
    for c in 0..3 {
        assert!(
            (black[c] - want_black[c] as f32).abs() < 1e-5,
            "channel {c}: {} vs {}",
            black[c],
            want_black[c]
        );
        assert!(
            (white[c] - want_white[c] as f32).abs() < 1e-5,
            "channel {c}: {} vs {}",
            white[c],
            want_white[c]
        );
    }
    assert!((black[2] + 5.2219).abs() < 1e-3 && (white[2] - 5.0980).abs() < 1e-3, "{black:?} {white:?}");
}

fn err_of(r: anyhow::Result<impl Sized>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn bad_input_names_the_file() {
    let (_dir, root) = common::fixture(1, 3);
    let key = ObjectKey::new(common::SYNSETS[0], "obj0x0").unwrap();

    // An image damaged after start-up: the error comes from the loader and names the image.
    let ds = open(&root, LatentKind::ROTATION).unwrap();
    std::fs::write(key.image_path(&root, 0), b"not a jpeg").unwrap();
    let e = err_of(ds.load_image(0, 0));
    assert!(e.contains("image_0.jpg") && e.contains("decode"), "{e}");

    // Corrupt latent.
    std::fs::write(key.latent_path(&root, 1), b"garbage").unwrap();
    let e = err_of(ds.pair_latent(0, 1, 2));
    assert!(e.contains("latent_1.npy"), "{e}");

    // A missing image (its latent exists), then a missing latent.
    std::fs::remove_file(key.image_path(&root, 1)).unwrap();
    let e = err_of(open(&root, LatentKind::ROTATION));
    assert!(e.contains("obj0x0/image_1.jpg: missing"), "{e}");
    std::fs::remove_file(key.latent_path(&root, 1)).unwrap();
    std::fs::remove_file(key.latent_path(&root, 2)).unwrap();
    let e = err_of(open(&root, LatentKind::ROTATION));
    assert!(e.contains("obj0x0/latent_2.npy: missing"), "{e}");

    // Fewer than two views.
    std::fs::remove_file(key.image_path(&root, 2)).unwrap();
    let e = err_of(open(&root, LatentKind::ROTATION));
    assert!(e.contains("obj0x0") && e.contains("two are needed"), "{e}");

    // Missing object folder.
    std::fs::remove_dir_all(key.dir(&root)).unwrap();
    let e = err_of(open(&root, LatentKind::ROTATION));
    assert!(e.contains("obj0x0") && e.contains("cannot list"), "{e}");

    // Label out of range, manifests of different lengths.
    let labels = dataset::manifest::labels_path(&root, "train");
    dataset::manifest::write_labels(&labels, &[0, 1, 7]).unwrap();
    let e = err_of(open(&root, LatentKind::ROTATION));
    assert!(e.contains("train_labels.npy") && e.contains("out of range"), "{e}");
    dataset::manifest::write_labels(&labels, &[0, 1]).unwrap();
    let e = err_of(open(&root, LatentKind::ROTATION));
    assert!(e.contains("train_labels.npy") && e.contains("same length"), "{e}");
}

#[test]
fn translation_latent_appends_the_translation_delta() {
    let kind = LatentKind { colour: false, translation: true };
    assert_eq!(kind.dim(), 7);
    let base = Latent::from_array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
    let l1 = Latent { translation: Some([0.1, -0.2, 0.3]), ..base };
    let l2 = Latent { rotation: [0.3, -0.1, 0.2], translation: Some([-0.4, 0.1, 0.5]), ..base };
    let v = dataset::pair::pair_latent(&l1, &l2, kind).unwrap();
    let q = dataset::rotation::relative_quat(l1.rotation, l2.rotation);
    assert_eq!(&v[..4], &q.map(|x| x as f32));
    assert_eq!(&v[4..], &[-0.5f64, 0.3, 0.2].map(|x| x as f32));
    let both = LatentKind { colour: true, translation: true };
    assert_eq!(dataset::pair::pair_latent(&l1, &l2, both).unwrap().len(), both.dim());
    // 7-value latents have no translation to append.
    let e = dataset::pair::pair_latent(&base, &base, kind).unwrap_err().to_string();
    assert!(e.contains("no translation"), "{e}");
}

#[test]
fn a_truncated_image_stops_the_run_at_start_up() {
    let (_dir, root) = common::fixture(2, 3);
    let key =
        dataset::manifest::read_images(&dataset::manifest::images_path(&root, "train")).unwrap()[0].clone();
    let path = key.image_path(&root, 1);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let e = err_of(open(&root, LatentKind::ROTATION));
    assert!(e.contains("image_1.jpg: truncated or not a JPEG") && e.contains("render verify"), "{e}");
}
