//! Probes and evaluation tasks on synthetic features whose answers are known.

use candle_core::{Device, Tensor};
use eval::features::{FeatureCache, SplitFeatures, SplitIndex};
use eval::probe::{linear_classifier, ProbeConfig};
use eval::rng::SplitMix64;
use eval::tasks::{self, EmbeddingPredictor, EvalConfig, PairTarget, Part};

/// Three well separated Gaussian blobs in 6 dimensions.
fn blobs(n: usize, seed: u64) -> (Tensor, Vec<i64>) {
    let mut rng = SplitMix64::new(seed);
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let class = i % 3;
        for d in 0..6 {
            let centre = if d % 3 == class { 4.0 } else { 0.0 };
            x.push((centre + rng.next_f64() - 0.5) as f32);
        }
        y.push(class as i64);
    }
    (Tensor::from_vec(x, (n, 6), &Device::Cpu).unwrap(), y)
}

#[test]
fn linear_probe_separates_separable_classes() {
    let (x_train, y_train) = blobs(300, 1);
    let (x_val, y_val) = blobs(90, 2);
    // 1000 Adam steps at lr 1e-3: enough to undo any random initialisation on these scales.
    let config = ProbeConfig { epochs: 100, batch_size: 32, ..ProbeConfig::default() };
    let r = linear_classifier(&x_train, &y_train, &x_val, &y_val, 3, &config).unwrap();
    assert!(r.top1_val > 0.98, "top-1 {r:?}");
    assert!(r.top1_train > 0.98, "train top-1 {}", r.top1_train);
}

/// Latents of a view: uniform over the reference's ranges.
fn random_latent(rng: &mut SplitMix64) -> [f64; 7] {
    let mut l = [0.0; 7];
    for (v, (lo, hi)) in l.iter_mut().zip(dataset::latent::RANGES) {
        *v = lo + (hi - lo) * rng.next_f64();
    }
    l
}

/// A split whose representation is [class one-hot (3) | rotation features (9) | hues (2)], the
/// last 11 dims "equivariant", and whose equivariant embedding is R^T v for a fixed v.
fn split(objects: usize, views: usize, seed: u64) -> SplitFeatures {
    let mut rng = SplitMix64::new(seed);
    let mut index = SplitIndex { offsets: vec![0], ..SplitIndex::default() };
    let (mut reps, mut embs, mut latents) = (Vec::new(), Vec::new(), Vec::new());
    for o in 0..objects {
        index.objects.push(format!("/00000000/obj{o}/"));
        index.labels.push((o % 3) as i64);
        for v in 0..views {
            let l = random_latent(&mut rng);
            let m = dataset::rotation::matrix_from_euler_xyz([l[0], l[1], l[2]]);
            reps.extend((0..3).map(|c| if c == o % 3 { 1.0f32 } else { 0.0 }));
            reps.extend(m.iter().flatten().map(|&x| x as f32));
            reps.extend([l[3] as f32, l[6] as f32]);
            let vec = [0.3, -0.5, 0.8];
            embs.extend((0..3).map(|i| (0..3).map(|j| m[j][i] * vec[j]).sum::<f64>() as f32));
            latents.extend(l);
            index.views.push(v);
        }
        index.offsets.push(index.views.len());
    }
    let rows = index.views.len();
    let dev = Device::Cpu;
    SplitFeatures {
        index,
        reps: Tensor::from_vec(reps, (rows, 14), &dev).unwrap(),
        equi_embeddings: Some(Tensor::from_vec(embs, (rows, 3), &dev).unwrap()),
        latents: Tensor::from_vec(latents, (rows, 7), &dev).unwrap(),
        translations: None,
    }
}

fn cache() -> FeatureCache {
    FeatureCache {
        train: split(120, 6, 10),
        val: split(40, 6, 11),
        equi_dim: 11,
        classes: 3,
        source: serde_json::json!({"test": true}),
    }
}

fn small_config() -> EvalConfig {
    let probe = ProbeConfig { epochs: 40, batch_size: 64, ..ProbeConfig::default() };
    EvalConfig {
        protocol: eval::tasks::Protocol::Cached,
        classify: probe,
        rotation: probe,
        color: probe,
        hidden: vec![128, 128],
        train_pairs_per_object: 4,
        val_pairs_per_object: 4,
    }
}

#[test]
fn rotation_probe_reads_rotation_only_where_it_is_encoded() {
    let c = cache();
    let r = tasks::rotation(&c, &small_config()).unwrap();
    let all = r[&Part::All].r2;
    assert!(all > 0.6, "R^2 all {all}");
    assert!(r[&Part::Equi].r2 > 0.6, "R^2 equi {}", r[&Part::Equi].r2);
    // The invariant part (class one-hot) carries no rotation: per-dimension R^2 near 0. The
    // reference R^2 is not: it credits predicting each quaternion component's mean (w's is far
    // from the mean over all elements), which is what the constant baseline measures.
    let inv = &r[&Part::Inv];
    assert!(inv.r2_per_dim < 0.1, "per-dim R^2 inv {}", inv.r2_per_dim);
    assert!((inv.r2 - inv.r2_constant).abs() < 0.1, "inv {} vs constant {}", inv.r2, inv.r2_constant);
    assert!(r[&Part::All].r2_constant > 0.05, "constant baseline {}", r[&Part::All].r2_constant);
}

#[test]
fn pose_ceiling_reads_the_true_poses_whatever_the_features() {
    let mut c = cache();
    // Features with no rotation at all: the ceiling does not look at them.
    for split in [&mut c.train, &mut c.val] {
        split.reps = split.reps.zeros_like().unwrap();
    }
    let ceiling = tasks::rotation_pose_ceiling(&c, &small_config()).unwrap();
    assert!(ceiling.r2 > 0.6, "ceiling R^2 {}", ceiling.r2);
    let config = small_config();
    let zero = tasks::pair_probe(&c, Part::All, PairTarget::Rotation, &config.rotation, &config).unwrap().r2;
    assert!(ceiling.r2 > zero + 0.3, "ceiling {} vs zero features {zero}", ceiling.r2);
}

#[test]
fn translation_probe_reads_translations_where_they_are_encoded() {
    let mut c = cache();
    let e = format!("{:#}", tasks::translation(&c, &small_config()).unwrap_err());
    assert!(e.contains("no translations"), "{e}");
    // Translations equal to three of the equivariant feature columns (the first rotation row).
    for split in [&mut c.train, &mut c.val] {
        split.translations =
            Some(split.reps.narrow(1, 3, 3).unwrap().to_dtype(candle_core::DType::F64).unwrap());
    }
    let r = tasks::translation(&c, &small_config()).unwrap();
    assert!(r[&Part::Equi].r2 > 0.9, "equi {:?}", r[&Part::Equi]);
    assert!(r[&Part::Inv].r2 < 0.1, "inv {:?}", r[&Part::Inv]);
}

#[test]
fn colour_probe_recovers_hue_differences() {
    let r = tasks::color(&cache(), &small_config()).unwrap();
    assert!(r.r2 > 0.9, "colour R^2 {}", r.r2);
}

#[test]
fn classification_reads_the_class_from_the_invariant_part() {
    let r = tasks::classify(&cache(), &small_config().classify).unwrap();
    assert!(r[&Part::All].top1_val > 0.99);
    assert!(r[&Part::Inv].top1_val > 0.99);
    assert!(r[&Part::Equi].top1_val < 0.6, "equi top-1 {}", r[&Part::Equi].top1_val);
}

/// The exact predictor of `split`'s embeddings: emb_2 = R2^T v = Q^T R1^T v = Q^T emb_1, with Q
/// the relative rotation R1^-1 R2 that the latent quaternion encodes.
struct Exact;

impl EmbeddingPredictor for Exact {
    fn latent_dim(&self) -> usize {
        4
    }

    fn predict(&self, emb: &Tensor, latents: &Tensor) -> anyhow::Result<Tensor> {
        let e = emb.to_vec2::<f32>()?;
        let q = latents.to_vec2::<f32>()?;
        let mut out = Vec::new();
        for (e, q) in e.iter().zip(&q) {
            let (x, y, z, w) = (q[0] as f64, q[1] as f64, q[2] as f64, q[3] as f64);
            let m = [
                [1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - z * w), 2.0 * (x * z + y * w)],
                [2.0 * (x * y + z * w), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - x * w)],
                [2.0 * (x * z - y * w), 2.0 * (y * z + x * w), 1.0 - 2.0 * (x * x + y * y)],
            ];
            out.extend((0..3).map(|i| (0..3).map(|j| m[j][i] * e[j] as f64).sum::<f64>() as f32));
        }
        Ok(Tensor::from_vec(out, (e.len(), 3), emb.device())?)
    }
}

#[test]
fn exact_predictor_scores_perfectly_and_identity_does_not() {
    let c = cache();
    let r = tasks::predictor(&c.val, Some(&Exact)).unwrap();
    let trained = r.trained.unwrap();
    assert!(trained.cosine_error < 1e-6, "cosine error {}", trained.cosine_error);
    assert_eq!(trained.ranks.hit[0], 1.0);
    assert!((trained.ranks.mrr - 1.0).abs() < 1e-12);
    assert_eq!(trained.ranks.queries, 40 * 5);
    // The identity's prediction is the source itself, which always outranks the truth.
    assert_eq!(r.identity.ranks.hit[0], 0.0);
    assert!(r.identity.cosine_error > 0.1, "identity cosine error {}", r.identity.cosine_error);
}

#[test]
fn feature_cache_round_trips() {
    let c = cache();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("features.safetensors");
    c.save(&path).unwrap();
    let back = FeatureCache::load(&path, &Device::Cpu).unwrap();
    assert_eq!(back.train.index, c.train.index);
    assert_eq!(back.val.index, c.val.index);
    assert_eq!(back.equi_dim, 11);
    assert_eq!(back.classes, 3);
    let a = c.val.reps.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = back.val.reps.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(a, b);
    assert_eq!(back.val.latent_rows().unwrap(), c.val.latent_rows().unwrap());
    assert!(back.val.equi_embeddings.is_some());
}

#[test]
fn ranks_without_the_source_view_make_the_identity_meaningful() {
    // One object, three views; the identity's query is view 0's embedding (1, 0).
    let dev = Device::Cpu;
    let split = SplitFeatures {
        index: SplitIndex {
            objects: vec!["/0/o/".into()],
            labels: vec![0],
            views: vec![0, 1, 2],
            offsets: vec![0, 3],
        },
        reps: Tensor::zeros((3, 2), candle_core::DType::F32, &dev).unwrap(),
        equi_embeddings: Some(Tensor::from_vec(vec![1f32, 0.0, 0.9, 0.1, 0.0, 1.0], (3, 2), &dev).unwrap()),
        latents: Tensor::zeros((3, 7), candle_core::DType::F64, &dev).unwrap(),
        translations: None,
    };
    let r = tasks::predictor(&split, None).unwrap();
    // With the source among the candidates it outranks both targets: ranks 2 and 3.
    assert_eq!(r.identity.ranks.hit[0], 0.0);
    assert!((r.identity.ranks.mrr - (1.0 / 2.0 + 1.0 / 3.0) / 2.0).abs() < 1e-12);
    // Without it: view 1 is the nearest (rank 1), view 2 second (rank 2).
    assert_eq!(r.identity.ranks_without_source.hit[0], 0.5);
    assert!((r.identity.ranks_without_source.mrr - 0.75).abs() < 1e-12);
}
