//! `eval` end to end: a checkpoint trained for one epoch on the tiny dataset, every task, the
//! feature cache reused on the second call, and the comparison table and chart.

mod common;

use trainer::eval::probe::ProbeConfig;
use trainer::eval::report::{self, EvalReport};
use trainer::eval::run::{evaluate, EvalOptions, Task};
use trainer::eval::tasks::{EvalConfig, Part};

fn options(checkpoint: &std::path::Path, data: &std::path::Path) -> EvalOptions {
    let probe = ProbeConfig { epochs: 2, batch_size: 16, ..ProbeConfig::default() };
    EvalOptions {
        checkpoint: checkpoint.to_path_buf(),
        data: data.to_path_buf(),
        resolution: None,
        batch_size: 7,
        cache_dir: None,
        equi_dim: None,
        config: EvalConfig {
            classify: probe,
            rotation: probe,
            color: probe,
            hidden: vec![32, 32],
            train_pairs_per_object: 2,
            val_pairs_per_object: 2,
        },
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

    let report = evaluate(&options(&sie, &data), &Task::ALL, None).unwrap();
    assert_eq!(report.experience, "SIE");
    assert_eq!(report.resolution, 32);
    assert_eq!((report.features.train_views, report.features.val_views), (36, 36));
    assert_eq!((report.features.rep_dim, report.features.equi_dim), (128, 64));
    assert!(report.features.extraction_seconds > 0.0);
    let classify = report.classify.as_ref().unwrap();
    assert_eq!(classify.keys().copied().collect::<Vec<_>>(), Part::ALL.to_vec());
    assert!(classify.values().all(|r| (0.0..=1.0).contains(&r.top1_val)));
    assert!(report.rotation.as_ref().unwrap().values().all(|r| r.r2.is_finite()));
    assert!(report.color.as_ref().unwrap().r2.is_finite());
    let predictor = report.predictor.as_ref().unwrap();
    let trained = predictor.trained.as_ref().unwrap();
    assert_eq!(trained.ranks.queries, 9 * 3);
    assert!(trained.pre.is_finite() && (0.0..=1.0).contains(&trained.ranks.mrr));
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
