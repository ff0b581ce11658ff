//! `eval` end to end: a checkpoint trained for one epoch on the tiny dataset, every task, the
//! feature cache reused on the second call, and the comparison table and chart.

mod common;

use trainer::eval::probe::ProbeConfig;
use trainer::eval::report::{self, EvalReport};
use trainer::eval::run::{evaluate, EvalOptions, Task};
use trainer::eval::tasks::{EvalConfig, Part, Protocol};

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
    }
}

#[test]
fn evaluates_sie_and_vicreg_checkpoints() {
    let (dir, data) = common::fixture(3, 4);
    let sie = dir.path().join("sie");
    let vicreg = dir.path().join("vicreg");
    for (exp, method) in [(&sie, "SIE"), (&vicreg, "VICReg")] {
        let args = common::args(&data, exp, &["--experience", method, "--epochs", "1", "--seed", "2"]);
        trainer::train::run(&args).unwrap();
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
    assert!(reference.table().contains("(all, reference)"));

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

    // Table and chart.
    let rows = vec![("VICReg".to_string(), v), ("SIE".to_string(), again)];
    let table = report::markdown_table(&rows);
    assert_eq!(table.lines().count(), 4);
    assert!(table.contains("| SIE |"));
    let png = dir.path().join("chart.png");
    let groups =
        vec![trainer::eval::chart::Group { title: "top-1".into(), values: vec![Some(0.5), Some(-0.1)] }];
    trainer::eval::chart::bar_chart("test", &["VICReg".into(), "SIE".into()], &groups, &png).unwrap();
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
    use trainer::eval::checkpoint_model::CheckpointModel;
    use trainer::eval::images::ViewImages;
    use trainer::eval::live_probes::LiveProbes;
    let (dir, data) = common::fixture(2, 4);
    let sie = dir.path().join("sie");
    let args = common::args(&data, &sie, &["--experience", "SIE", "--epochs", "1", "--seed", "3"]);
    trainer::train::run(&args).unwrap();
    let device = candle_core::Device::Cpu;
    let model = CheckpointModel::load(&sie, &device).unwrap();
    let options = options_with(&sie, &data, Protocol::Reference);
    let (cache, _, _) = trainer::eval::run::features(&model, &options, 32, &device).unwrap();
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
