//! `eval` end to end: a checkpoint trained for one epoch on the tiny dataset, every task, the
//! feature cache reused on the second call, and the comparison table and chart.

mod common;

use eval::probe::ProbeConfig;
use eval::report::{self, EvalReport};
use eval::run::{evaluate, EvalOptions, Task};
use eval::tasks::{EvalConfig, Part, Protocol};

fn options(checkpoint: &std::path::Path, data: &std::path::Path) -> EvalOptions {
    options_with(checkpoint, data, Protocol::Cached)
}

fn options_with(checkpoint: &std::path::Path, data: &std::path::Path, protocol: Protocol) -> EvalOptions {
    let probe = ProbeConfig { epochs: 2, batch_size: 16, ..ProbeConfig::default() };
    EvalOptions {
        checkpoint: checkpoint.to_path_buf(),
        data: data.to_path_buf(),
        resolution: None,
        batch_size: 7,
        cache_dir: None,
        equi_dim: None,
        config: EvalConfig {
            protocol,
            classify: probe,
            rotation: probe,
            color: probe,
            hidden: vec![32, 32],
            train_pairs_per_object: 2,
            val_pairs_per_object: 2,
        },
        image_budget: 1 << 30,
        device: trainer::config::DeviceKind::Cpu,
    }
}

#[test]
fn evaluates_sie_and_vicreg_checkpoints() {
    let (dir, data) = common::fixture(3, 4);
    let sie = dir.path().join("sie");
    let vicreg = dir.path().join("vicreg");
    for (exp, method) in [(&sie, "SIE"), (&vicreg, "VICReg")] {
        let args = common::args(&data, exp, &["--experience", method, "--epochs", "1", "--seed", "2"]);
        trainer::train::run(&args, &comm::Group::alone()).unwrap();
    }

    // The reference protocol: probes through the backbone in train mode; the frozen model's
    // running statistics are restored after each probe family.
    let reference = evaluate(&options_with(&sie, &data, Protocol::Reference), &Task::ALL, None).unwrap();
    assert!(reference.features.extraction_seconds > 0.0);
    for task in ["classify", "rotation", "color"] {
        assert_eq!(reference.protocols[task], "reference", "{task}");
    }
    assert_eq!(reference.classify.as_ref().unwrap().len(), 3);
    assert!(reference
        .rotation
        .as_ref()
        .unwrap()
        .values()
        .all(|r| r.r2.is_finite() && r.r2_train.is_finite()));
    assert!(reference.color.as_ref().unwrap().r2.is_finite());
    let scores = reference.predictor_reference.as_ref().unwrap();
    assert_eq!(scores.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["train-train", "val-all", "val-val"]);
    let json = serde_json::to_value(&reference).unwrap();
    for key in ["PRE", "MRR", "H@1", "H@2", "H@5", "H@10"] {
        assert!(json["predictor_reference"]["val-val"][key].is_number(), "{key}");
        assert!(json["predictor_reference_identity"]["train-train"][key].is_number(), "{key}");
    }
    assert_eq!(json["predictor_reference"]["val-all"].as_object().unwrap().len(), 1);
    // The identity's view-0 query retrieves view 0 itself: Hit@1 of at least 1 / views.
    assert!(reference.predictor_reference_identity.as_ref().unwrap()["val-val"].h1.unwrap() >= 0.25);
    // Fewer probe epochs than the reference's 300 are part of the label.
    assert!(reference.table().contains("(all, reference, 2 ep)"));
    // Every val pair is scored once more within its class.
    for r in reference.rotation.as_ref().unwrap().values() {
        let pairs: usize = r.per_class.iter().map(|c| c.pairs).sum();
        assert_eq!(pairs, reference.features.val_objects, "one reference val pair per object");
        assert!(r.per_class.windows(2).all(|w| w[0].label < w[1].label));
        assert!(r.per_class.iter().all(|c| c.r2.is_finite() && c.r2_constant.is_finite()));
    }

    // Running the reference probes left the model's statistics as the checkpoint has them: the
    // cached features that follow are the same as before.
    let report = evaluate(&options(&sie, &data), &Task::ALL, None).unwrap();
    assert_eq!(report.protocols["classify"], "cached");
    assert_eq!(report.experience, "SIE");
    assert_eq!(report.resolution, 32);
    assert_eq!((report.features.train_views, report.features.val_views), (36, 36));
    assert_eq!((report.features.rep_dim, report.features.equi_dim), (128, 64));
    assert_eq!(report.features.extraction_seconds, 0.0, "the first call's feature cache is reused");
    let classify = report.classify.as_ref().unwrap();
    assert_eq!(classify.keys().copied().collect::<Vec<_>>(), Part::ALL.to_vec());
    assert!(classify.values().all(|r| (0.0..=1.0).contains(&r.top1_val)));
    assert!(report.rotation.as_ref().unwrap().values().all(|r| r.r2.is_finite()));
    assert!(report.color.as_ref().unwrap().r2.is_finite());
    let predictor = report.predictor.as_ref().unwrap();
    let trained = predictor.trained.as_ref().unwrap();
    assert_eq!(trained.ranks.queries, 9 * 3);
    assert!(trained.cosine_error.is_finite() && (0.0..=1.0).contains(&trained.ranks.mrr));
    assert_eq!(predictor.identity.ranks.hit[0], 0.0);
    assert!(std::path::Path::new(&report.features.cache_file).exists());

    // Second call: features come from the cache, results are merged into the previous report.
    let again = evaluate(&options(&sie, &data), &[Task::Classify], Some(report.clone())).unwrap();
    assert_eq!(again.features.extraction_seconds, 0.0);
    assert_eq!(again.features.cache_file, report.features.cache_file);
    assert!(again.rotation.is_some(), "earlier tasks' results are kept");

    // VICReg: no split and no predictor; the split can be imposed for analysis.
    let v = evaluate(&options(&vicreg, &data), &[Task::Classify, Task::Predictor], None).unwrap();
    assert_eq!(v.classify.as_ref().unwrap().len(), 1);
    assert!(v.predictor.is_none());
    let mut halves = options(&vicreg, &data);
    halves.equi_dim = Some(64);
    let h = evaluate(&halves, &[Task::Classify], None).unwrap();
    assert_eq!(h.classify.as_ref().unwrap().len(), 3);
    assert_eq!((h.features.equi_dim, h.features.split.as_str()), (64, "--equi-dim (analysis split)"));
    assert_eq!((report.features.split.as_str(), v.features.split.as_str()), ("checkpoint", "none"));
    // A trained split is never relabelled, nor dropped: --equi-dim may only repeat it.
    for (asked, refused) in [(32, true), (0, true), (64, false)] {
        let mut o = options(&sie, &data);
        o.equi_dim = Some(asked);
        let r = evaluate(&o, &[Task::Classify], None);
        assert_eq!(r.is_err(), refused, "--equi-dim {asked}");
        if let Err(e) = r {
            assert!(format!("{e:#}").contains(&format!("--equi-dim {asked}")), "{e:#}");
        }
    }

    // Table and chart.
    let rows = vec![("VICReg".to_string(), v), ("SIE".to_string(), again)];
    let table = report::markdown_table(&rows);
    assert_eq!(table.lines().count(), 4);
    assert!(table.contains("| SIE |"));
    let png = dir.path().join("chart.png");
    let groups = vec![eval::chart::Group { title: "top-1".into(), values: vec![Some(0.5), Some(-0.1)] }];
    eval::chart::bar_chart("test", &["VICReg".into(), "SIE".into()], &groups, &png).unwrap();
    assert!(image::open(&png).is_ok());
    let json = dir.path().join("r.json");
    rows[1].1.write(&json).unwrap();
    assert_eq!(EvalReport::read(&json).unwrap().experience, "SIE");
}

/// The reference probes train with the backbone's batch norm in train mode, which moves its
/// running statistics; they must come back to the checkpoint's values afterwards, and the
/// statistics must really have moved during the probes (else the protocol is not the reference's).
#[test]
fn reference_probes_restore_the_running_statistics() {
    use eval::checkpoint_model::CheckpointModel;
    use eval::images::ViewImages;
    use eval::live_probes::LiveProbes;
    let (dir, data) = common::fixture(2, 4);
    let sie = dir.path().join("sie");
    let args = common::args(&data, &sie, &["--experience", "SIE", "--epochs", "1", "--seed", "3"]);
    trainer::train::run(&args, &comm::Group::alone()).unwrap();
    let device = candle_core::Device::Cpu;
    let model = CheckpointModel::load(&sie, &device).unwrap();
    let options = options_with(&sie, &data, Protocol::Reference);
    let (cache, _, _) = eval::run::features(&model, &options, 32, &device).unwrap();
    let buffers = || -> Vec<Vec<f32>> {
        model
            .model
            .params
            .buffers()
            .iter()
            .map(|(_, v)| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap())
            .collect()
    };
    let before = buffers();
    let train_images = ViewImages::open(&data, &cache.train.index, 32, 1 << 30).unwrap();
    let val_images = ViewImages::open(&data, &cache.val.index, 32, 0).unwrap();
    assert!(train_images.is_in_memory() && !val_images.is_in_memory());
    let live = LiveProbes {
        model: &model.model,
        cache: &cache,
        train_images: &train_images,
        val_images: &val_images,
        config: &options.config,
    };
    let moved = std::cell::Cell::new(false);
    let progress = |_: &str| moved.set(moved.get() || buffers() != before);
    let results = live.classify(&progress).unwrap();
    assert_eq!(results.len(), 3);
    assert!(moved.get(), "train-mode passes did not update the running statistics");
    assert_eq!(buffers(), before, "the running statistics were not restored");
}

/// Reads a `.npy` file: its shape, dtype descriptor and values as f64.
fn read_npy(path: &std::path::Path) -> (Vec<u64>, String, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    let descr = npy.dtype().descr();
    let values = if descr == "'<f4'" {
        npy.into_vec::<f32>().unwrap().into_iter().map(f64::from).collect()
    } else {
        npy.into_vec::<f64>().unwrap()
    };
    (shape, descr, values)
}

/// `eval export` writes what the reference's scripts read: float32 representations and
/// embeddings, float64 latents, one row per view in manifest order, and the model under the
/// reference's DistributedDataParallel names with every BatchNorm's `num_batches_tracked`.
#[test]
fn export_writes_what_the_reference_scripts_read() {
    use eval::checkpoint_model::CheckpointModel;
    use eval::extract::Encoder;
    let (objects_per_class, views) = (2, 4);
    let (dir, data) = common::fixture(objects_per_class, views);
    let sie = dir.path().join("sie");
    let args = common::args(&data, &sie, &["--experience", "SIE", "--epochs", "1", "--seed", "4"]);
    trainer::train::run(&args, &comm::Group::alone()).unwrap();
    let out = dir.path().join("export");
    // A folder another export (or train) is writing to is refused.
    std::fs::create_dir_all(&out).unwrap();
    let held = dataset::lock::FolderLock::acquire(&out, "test").unwrap();
    let e = format!("{:#}", eval::run::export(&options(&sie, &data), &out).unwrap_err());
    assert!(e.contains("another process"), "{e}");
    drop(held);
    let exported = eval::run::export(&options(&sie, &data), &out).unwrap();
    assert_eq!(exported.views_per_object, views);
    // The tests' model is not the reference's ResNet-18: the export says so.
    assert!(exported.warnings.iter().any(|w| w.contains("not the reference's ResNet-18")));

    let model = CheckpointModel::load(&sie, &candle_core::Device::Cpu).unwrap();
    let equi = model.equi_dim();
    let rows = 3 * objects_per_class * views;
    let keys = dataset::manifest::read_images(&dataset::manifest::images_path(&data, "val")).unwrap();
    for split in ["train", "val"] {
        let (shape, descr, reps) = read_npy(&out.join(format!("pred_eval/representations_{split}.npy")));
        assert_eq!((shape, descr.as_str()), (vec![rows as u64, equi as u64], "'<f4'"));
        let (shape, descr, embeddings) = read_npy(&out.join(format!("pred_eval/embeddings_{split}.npy")));
        assert_eq!((shape[0], descr.as_str()), (rows as u64, "'<f4'"));
        let emb_dim = shape[1] as usize;
        let (shape, descr, latents) = read_npy(&out.join(format!("data/all_latents_{split}.npy")));
        assert_eq!((shape, descr.as_str()), (vec![rows as u64, 7], "'<f8'"));
        // Row o * V + k is view k of the manifest's object o: its latent file, bit for bit, and
        // the model's own encoding of its image.
        for (o, key) in keys.iter().enumerate() {
            for k in [0, views - 1] {
                let row = o * views + k;
                let latent = dataset::Latent::read(&key.latent_path(&data, k)).unwrap().to_array();
                assert_eq!(&latents[row * 7..row * 7 + 7], &latent[..], "{split} row {row}");
                if split == "val" && o == 0 {
                    let pixels = dataset::pixels::load_image(&key.image_path(&data, k), 32).unwrap();
                    let image =
                        candle_core::Tensor::from_vec(pixels, (1, 3, 32, 32), &candle_core::Device::Cpu);
                    let (repr, emb) = model.encode(&image.unwrap()).unwrap();
                    let repr: Vec<f32> = repr.flatten_all().unwrap().to_vec1().unwrap();
                    let emb: Vec<f32> = emb.unwrap().flatten_all().unwrap().to_vec1().unwrap();
                    let close =
                        |a: &[f64], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - *y as f64).abs() < 1e-4);
                    assert!(close(&reps[row * equi..(row + 1) * equi], &repr[repr.len() - equi..]));
                    assert!(close(&embeddings[row * emb_dim..(row + 1) * emb_dim], &emb));
                }
            }
        }
    }
    for file in ["train_images.npy", "train_labels.npy", "val_images.npy", "val_labels.npy"] {
        assert_eq!(
            std::fs::read(out.join("data").join(file)).unwrap(),
            std::fs::read(data.join(file)).unwrap()
        );
    }

    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let names: Vec<String> = tensors.names().into_iter().map(str::to_string).collect();
    for prefix in ["module.backbone.", "module.projector_inv.", "module.projector_equi.", "module.predictor."]
    {
        assert!(names.iter().any(|n| n.starts_with(prefix)), "no {prefix}* tensor");
    }
    assert!(names.iter().all(|n| n.starts_with("module.")));
    assert!(names.contains(&"module.predictor.hypernet.net.0.weight".to_string()));
    let tracked = tensors.tensor("module.backbone.bn1.num_batches_tracked").unwrap();
    assert_eq!(tracked.dtype(), safetensors::Dtype::I64);
    assert!(tracked.shape().is_empty());
    let steps = i64::from_le_bytes(tracked.data().try_into().unwrap());
    assert_eq!(steps, 2 * model.meta.global_step as i64);
    let running_var = tensors.tensor("module.backbone.bn1.running_var").unwrap();
    assert_eq!(running_var.dtype(), safetensors::Dtype::F32);
}

/// `eval --render`: the job's views are rendered once (by the renderer library, with render's
/// flags) into the evaluation cache and evaluated as a dataset; the same job again renders
/// nothing and evaluates the same views.
#[test]
fn evaluates_on_a_rendered_job_without_a_dataset_of_its_own() {
    let (dir, data) = common::fixture(3, 4);
    let sie = dir.path().join("sie");
    let args = common::args(&data, &sie, &["--epochs", "1", "--seed", "2"]);
    trainer::train::run(&args, &comm::Group::alone()).unwrap();
    let job = renderer::live::SourceOptions {
        library: dir.path().join("library"),
        per_class: Some(2),
        views: Some(3),
        image_size: Some(32),
        ..Default::default()
    };
    let cache = dir.path().join("cache");
    let rendered = eval::render_source::rendered_dataset(&job, &cache).unwrap();
    assert!(rendered.starts_with(&cache) && rendered.join("manifest.json").exists());
    let report = evaluate(&options(&sie, &rendered), &[Task::Classify], None).unwrap();
    assert_eq!(report.dataset, rendered.display().to_string());
    assert!(report.features.train_objects + report.features.val_objects == 24, "{:?}", report.features);
    assert_eq!(eval::render_source::rendered_dataset(&job, &cache).unwrap(), rendered, "one folder per job");
    assert_eq!(walk_jpegs(&rendered), 24 * 3, "every view once");
}

fn walk_jpegs(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(
            |p| {
                if p.is_dir() {
                    walk_jpegs(&p)
                } else {
                    usize::from(p.extension().is_some_and(|e| e == "jpg"))
                }
            },
        )
        .sum()
}
