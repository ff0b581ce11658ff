//! Pair drawing and pair targets of the rotation/colour probes, and the toy dataset generator.

use eval::features::SplitIndex;
use eval::pairs;

fn index() -> SplitIndex {
    SplitIndex {
        objects: vec!["/a/0/".into(), "/a/1/".into(), "/a/2/".into()],
        labels: vec![0, 0, 1],
        offsets: vec![0, 3, 4, 9],
        views: vec![0, 1, 2, 0, 0, 1, 2, 3, 4],
    }
}

#[test]
fn pairs_are_distinct_views_of_one_object_and_deterministic() {
    let idx = index();
    let p = pairs::draw(&idx, 50, 7, 1);
    // Object 1 has a single view: it contributes no pair.
    assert_eq!(p.len(), 100);
    for (&a, &b) in p.first.iter().zip(&p.second) {
        assert_ne!(a, b);
        let object = |r: u32| idx.offsets.iter().rposition(|&o| o as u32 <= r).unwrap();
        assert_eq!(object(a), object(b));
        assert_ne!(object(a), 1);
    }
    assert_eq!(p, pairs::draw(&idx, 50, 7, 1));
    assert_ne!(p, pairs::draw(&idx, 50, 7, 2));
    // Every ordered pair of object 2's five views shows up in 50 draws.
    let mut seen = std::collections::HashSet::new();
    for (&a, &b) in p.first.iter().zip(&p.second) {
        if a >= 4 {
            seen.insert((a, b));
        }
    }
    assert!(seen.len() > 15, "{} distinct ordered pairs", seen.len());
}

#[test]
fn targets_follow_the_training_latent_convention() {
    let l1 = [0.3, -0.2, 1.0, 0.25, 0.1, 0.2, 0.9];
    let l2 = [-0.5, 0.4, -1.2, 0.75, 0.3, 0.4, 0.1];
    let latents = vec![l1, l2];
    let p = pairs::Pairs { first: vec![0, 1], second: vec![1, 0] };
    let q = pairs::rotation_targets(&latents, &p);
    let expected = dataset::rotation::relative_quat([l1[0], l1[1], l1[2]], [l2[0], l2[1], l2[2]]);
    assert_eq!(&q[..4], &expected.map(|v| v as f32));
    let c = pairs::colour_targets(&latents, &p);
    assert_eq!(c, vec![0.5, -0.8, -0.5, 0.8]);
}

#[test]
fn toy_generator_writes_a_readable_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let n = synth::toy::generate(root, 5, 2, 24, 3, 0.2).unwrap();
    assert_eq!(n, 5 * 5 * 2);
    let train = dataset::manifest::read_split(
        &dataset::manifest::images_path(root, "train"),
        &dataset::manifest::labels_path(root, "train"),
        Some(5),
    )
    .unwrap();
    let val = dataset::manifest::read_split(
        &dataset::manifest::images_path(root, "val"),
        &dataset::manifest::labels_path(root, "val"),
        Some(5),
    )
    .unwrap();
    assert_eq!((train.len(), val.len()), (20, 5));
    let (key, _) = &val[0];
    let img = image::open(key.image_path(root, 1)).unwrap();
    assert_eq!((img.width(), img.height()), (24, 24));
    let latent = dataset::Latent::read(&key.latent_path(root, 1)).unwrap();
    assert_eq!(latent, dataset::factors::sample_latent(3, key, 1));
}
