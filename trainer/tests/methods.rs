//! The reference's SimCLR variants (SimCLRAugSelf, SimCLROnlyEqui, SimCLREquiMod and their
//! RotColor versions) and VICRegPartInv at tiny size (resnet-tiny, 32 px, batch 4, projector
//! 16-16): parameter names and shapes, one `forward_train` with the loss terms each method has,
//! one Adam step; then `train` end to end and the checkpoint API that `eval` uses; and resuming a
//! VICRegEquiMod run from before the hypernetwork became its default predictor.

mod common;

use candle_core::{DType, Device, Tensor};
use clap::Parser;
use model::model::{Batch, LossConfig, SslModel};
use model::nn::Mode;
use model::optim::{Adam, AdamConfig};
use model::stats::StatValues;
use trainer::config::{Experience, ModelConfig, PredictorType, TrainArgs};

const N: usize = 4;

fn config(experience: &str, extra: &[&str]) -> ModelConfig {
    let mut v = vec![
        "train",
        "--data",
        "d",
        "--exp-dir",
        "e",
        "--experience",
        experience,
        "--arch",
        "resnet-tiny",
        "--resolution",
        "32",
        "--batch-size",
        "4",
        "--mlp",
        "16-16",
    ];
    v.extend_from_slice(extra);
    TrainArgs::parse_from(v).model_config(3).unwrap()
}

/// A deterministic batch of N pairs of 32 px images and their `k`-value latents.
fn batch(k: usize) -> Batch {
    let dev = Device::Cpu;
    let image = |offset: f32| {
        let v: Vec<f32> =
            (0..N * 3 * 32 * 32).map(|i| ((i as f32 * 0.37 + offset).sin() * 1.3).tanh()).collect();
        Tensor::from_vec(v, (N, 3, 32, 32), &dev).unwrap()
    };
    let latent: Vec<f32> = (0..N * k).map(|i| ((i * 7) % 11) as f32 / 11.0 - 0.5).collect();
    Batch {
        x1: image(0.0),
        x2: image(1.7),
        latent: Tensor::from_vec(latent, (N, k), &dev).unwrap(),
        labels: Tensor::new(&[0u32, 1, 2, 0], &dev).unwrap(),
    }
}

fn shapes(model: &SslModel) -> Vec<(String, Vec<usize>)> {
    model.params.state_dict().into_iter().map(|(k, v)| (k, v.dims().to_vec())).collect()
}

fn has(model: &SslModel, name: &str, dims: &[usize]) {
    let all = shapes(model);
    let got = all.iter().find(|(k, _)| k == name).unwrap_or_else(|| panic!("{name} missing"));
    assert_eq!(got.1, dims, "{name}");
}

fn lacks_prefix(model: &SslModel, prefix: &str) {
    assert!(shapes(model).iter().all(|(k, _)| !k.starts_with(prefix)), "unexpected {prefix}*");
}

/// A statistic the step must have logged.
fn get(stats: &StatValues, name: &str) -> f32 {
    *stats.get(name).unwrap_or_else(|| panic!("no {name} in {stats:?}")) as f32
}

fn close(a: f32, b: f32, what: &str) {
    assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{what}: {a} vs {b}");
}

/// One training step: the loss and its terms before the step, and the loss after it.
fn step(model: &SslModel, b: &Batch, lc: &LossConfig) -> (StatValues, f32) {
    let out = model.forward_train(b, lc, true).unwrap();
    let total = out.total.to_scalar::<f32>().unwrap();
    let stats = out.stats.read().unwrap();
    assert!(total.is_finite() && get(&stats, "loss").is_finite(), "{:?}", model.config.experience);
    let mut adam =
        Adam::new(model.params.params(), AdamConfig { lr: 1e-3, ..AdamConfig::default() }).unwrap();
    // Copies: the optimiser updates the parameters in place.
    let before: Vec<(String, Tensor)> =
        model.params.state_dict().into_iter().map(|(k, v)| (k, v.copy().unwrap())).collect();
    adam.step(&out.total.backward().unwrap()).unwrap();
    let after = model.params.state_dict();
    let moved = |name: &str| {
        let (a, b) = (
            &before.iter().find(|(k, _)| k == name).unwrap().1,
            &after.iter().find(|(k, _)| k == name).unwrap().1,
        );
        (a - b).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0
    };
    assert!(moved("backbone.conv1.weight"), "the step reaches the backbone");
    let again = model.forward_train(b, lc, false).unwrap().stats.value("loss").unwrap();
    assert!(again.is_finite());
    (stats, again)
}

#[test]
fn simclr_augself_regresses_the_latent_from_both_representations() {
    for (name, k) in [("SimCLRAugSelf", 4), ("SimCLRAugSelfRotColor", 6)] {
        let c = config(name, &[]);
        assert_eq!(c.latent_dim(), k);
        let model = SslModel::new(&c, &Device::Cpu, 0).unwrap();
        // The reference's names: `projector` (SimCLR's) and the AugSelf head `predictor`, an
        // nn.Sequential 2r -> 2r -> 2r -> latent with ReLU between.
        has(&model, "projector.0.weight", &[16, 128]);
        has(&model, "projector.3.weight", &[16, 16]);
        has(&model, "predictor.0.weight", &[256, 256]);
        has(&model, "predictor.0.bias", &[256]);
        has(&model, "predictor.2.weight", &[256, 256]);
        has(&model, "predictor.4.weight", &[k, 256]);
        has(&model, "predictor.4.bias", &[k]);
        lacks_prefix(&model, "projector_");
        lacks_prefix(&model, "evaluator.classifier_inv_repr");
        assert!(model.predictor().is_none(), "no embedding predictor");

        let b = batch(k);
        let lc = LossConfig::default();
        let (st, _) = step(&model, &b, &lc);
        let (inv, aug) = (get(&st, "repr_loss_inv"), get(&st, "repr_loss_equi"));
        close(get(&st, "loss"), inv + lc.ec_weight as f32 * aug, name);
        assert!(
            !st.contains_key("std_loss") && !st.contains_key("cov_loss") && !st.contains_key("pred_std_loss")
        );
        assert!(!st.contains_key("coremb_pred"));

        // --ec-weight scales the AugSelf term, and that term trains the backbone (the head reads
        // the representations undetached).
        let model = SslModel::new(&c, &Device::Cpu, 0).unwrap();
        let grad = |ec_weight: f64| {
            let out = model.forward_train(&b, &LossConfig { ec_weight, ..lc }, false).unwrap();
            let grads = out.total.backward().unwrap();
            let conv1 =
                model.params.params().into_iter().find(|(k, _)| k == "backbone.conv1.weight").unwrap().1;
            (out.stats.read().unwrap(), grads.get(conv1.as_tensor()).unwrap().copy().unwrap())
        };
        let (st0, g0) = grad(0.0);
        let (st3, g3) = grad(3.0);
        close(get(&st0, "loss"), get(&st0, "repr_loss_inv"), "ec_weight 0");
        close(
            get(&st3, "loss"),
            get(&st3, "repr_loss_inv") + 3.0 * get(&st3, "repr_loss_equi"),
            "ec_weight 3",
        );
        let diff = (g3 - g0).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(diff > 0.0, "{name}: the AugSelf loss does not reach the backbone");
    }
}

#[test]
fn simclr_only_equi_contrasts_the_prediction_with_view_2() {
    for (name, k) in [("SimCLROnlyEqui", 4), ("SimCLROnlyEquiRotColor", 6)] {
        let c = config(name, &[]);
        assert_eq!((c.predictor_type, c.latent_dim(), c.equi), (PredictorType::Hypernetwork, k, 0));
        let model = SslModel::new(&c, &Device::Cpu, 0).unwrap();
        has(&model, "projector_equi.0.weight", &[16, 128]);
        has(&model, "projector_equi.3.weight", &[16, 16]);
        has(&model, "predictor.hypernet.net.0.weight", &[16 * 16, k]);
        lacks_prefix(&model, "projector.");
        lacks_prefix(&model, "projector_inv");
        let (st, _) = step(&model, &batch(k), &LossConfig::default());
        close(get(&st, "loss"), get(&st, "repr_loss_equi"), name);
        assert!(
            !st.contains_key("repr_loss_inv")
                && !st.contains_key("std_loss")
                && !st.contains_key("pred_std_loss")
        );
        assert!(st.contains_key("coremb_pred"), "predictor statistics");

        // The MLP predictor on [latent, embedding] stays available.
        let c = config(name, &["--predictor-type", "mlp"]);
        let model = SslModel::new(&c, &Device::Cpu, 0).unwrap();
        has(&model, "predictor.pred.0.weight", &[16, 16 + k]);
        step(&model, &batch(k), &LossConfig::default());
    }
}

#[test]
fn simclr_equimod_adds_the_equivariant_infonce_with_the_reference_weight() {
    // SimCLREquiMod weighs the equivariant term by equi_factor; the reference's
    // SimCLREquiModRotColor adds it unweighted.
    for (name, k, weight) in [("SimCLREquiMod", 4, 0.45f32), ("SimCLREquiModRotColor", 6, 1.0)] {
        let c = config(name, &[]);
        assert_eq!((c.predictor_type, c.latent_dim()), (PredictorType::Hypernetwork, k));
        let model = SslModel::new(&c, &Device::Cpu, 0).unwrap();
        has(&model, "projector_inv.0.weight", &[16, 128]);
        has(&model, "projector_equi.0.weight", &[16, 128]);
        has(&model, "projector_inv.3.weight", &[16, 16]);
        has(&model, "predictor.hypernet.net.0.weight", &[16 * 16, k]);
        lacks_prefix(&model, "projector.");
        let (st, _) = step(&model, &batch(k), &LossConfig::default());
        close(get(&st, "loss"), get(&st, "repr_loss_inv") + weight * get(&st, "repr_loss_equi"), name);
        assert!(!st.contains_key("std_loss") && !st.contains_key("cov_loss"));
    }
}

#[test]
fn vicreg_part_inv_leaves_the_embeddings_tail_out_of_the_invariance() {
    let c = config("VICRegPartInv", &["--equi", "4"]);
    assert_eq!((c.equi, c.equi_emb, c.inv_repr()), (0, 4, 128));
    let model = SslModel::new(&c, &Device::Cpu, 0).unwrap();
    has(&model, "projector.0.weight", &[16, 128]);
    lacks_prefix(&model, "predictor");
    lacks_prefix(&model, "projector_");
    let b = batch(4);
    let repr = model.representation(&b.x1, Mode::Eval).unwrap();
    let (inv, equi) = model.embeddings(&repr, Mode::Eval).unwrap();
    let (inv, equi) = (inv.unwrap(), equi.unwrap());
    assert_eq!((inv.dims(), equi.dims()), (&[N, 12][..], &[N, 4][..]));
    // Evaluation index-selects rows of the embeddings, which needs contiguous tensors.
    assert!(inv.is_contiguous() && equi.is_contiguous());
    let lc = LossConfig::default();
    let (st, _) = step(&model, &b, &lc);
    let (inv, std, cov) = (get(&st, "repr_loss_inv"), get(&st, "std_loss"), get(&st, "cov_loss"));
    close(get(&st, "loss"), 10.0 * inv + 10.0 * std + cov, "VICRegPartInv");
    assert!(!st.contains_key("repr_loss_equi") && !st.contains_key("pred_std_loss"));
}

/// `train --experience NAME` for each new method (projector 64-64), then what `eval` reads from
/// the checkpoint.
#[test]
fn new_methods_train_and_load_for_evaluation() {
    // 9 objects in batches of 8: one step per epoch.
    let (dir, data) = common::fixture(3, 3);
    for (i, (name, extra)) in [
        ("SimCLRAugSelf", &[][..]),
        ("SimCLRAugSelfRotColor", &[]),
        ("SimCLROnlyEqui", &[]),
        ("SimCLROnlyEquiRotColor", &[]),
        ("SimCLREquiMod", &[]),
        ("SimCLREquiModRotColor", &["--predictor-type", "mlp"]),
        ("VICRegPartInv", &["--equi", "4"]),
    ]
    .into_iter()
    .enumerate()
    {
        let exp = dir.path().join(format!("run{i}"));
        let mut flags = vec!["--experience", name, "--epochs", "1"];
        flags.extend_from_slice(extra);
        let s = run(&common::args(&data, &exp, &flags)).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(s.steps, 1, "{name}");
        let log = std::fs::read_to_string(exp.join(trainer::run_log::LOG_FILE)).unwrap();
        let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
        assert!(first["loss"].as_f64().unwrap().is_finite(), "{name}: {first}");

        let (model, meta) = model::checkpoint::load_model(&exp, &Device::Cpu).unwrap();
        let e: Experience = meta.model.experience;
        assert_eq!(format!("{e:?}"), name);
        let x = Tensor::zeros((2, 3, 32, 32), DType::F32, &Device::Cpu).unwrap();
        let repr = model.representation(&x, Mode::Eval).unwrap();
        let (inv, equi) = model.embeddings(&repr, Mode::Eval).unwrap();
        let z = Tensor::zeros((2, meta.model.latent_dim()), DType::F32, &Device::Cpu).unwrap();
        match equi {
            Some(equi) if e.has_predictor() => {
                assert_eq!(model.predict(&equi, &z).unwrap().dims(), [2, 64], "{name}");
            }
            _ => assert!(model.predictor().is_none(), "{name}"),
        }
        assert_eq!(inv.is_some(), !matches!(e.name(), "SimCLROnlyEqui" | "SimCLROnlyEquiRotColor"));
    }
}

/// A VICRegEquiMod run trained with the MLP predictor when it was that method's default (its
/// arguments record no --predictor-type) resumes as the MLP, and a checkpoint whose model
/// configuration records no predictor type at all loads as the MLP.
#[test]
fn old_equimod_checkpoints_keep_their_mlp_predictor() {
    let (dir, data) = common::fixture(2, 3);
    let exp = dir.path().join("equimod");
    let base = ["--experience", "VICRegEquiMod"];
    let flags = |extra: &[&'static str]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        v
    };
    run(&common::args(&data, &exp, &flags(&["--epochs", "1", "--predictor-type", "mlp"]))).unwrap();

    // Rewrite the checkpoint as the old trainer wrote it: no --predictor-type in its arguments,
    // and (older still) none in its model configuration. The tensors, hence the checksum, stay.
    let file = exp.join(model::checkpoint::CHECKPOINT_FILE);
    let bytes = std::fs::read(&file).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut info = header.metadata().clone().unwrap();
    let mut args: serde_json::Value = serde_json::from_str(&info["args"]).unwrap();
    args["predictor_type"] = serde_json::Value::Null;
    info.insert("args".into(), args.to_string());
    let mut model: serde_json::Value = serde_json::from_str(&info["model_config"]).unwrap();
    model.as_object_mut().unwrap().remove("predictor_type");
    info.insert("model_config".into(), model.to_string());
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors: Vec<(String, Tensor)> = st
        .tensors()
        .into_iter()
        .map(|(k, v)| (k, candle_core::safetensors::Load::load(&v, &Device::Cpu).unwrap()))
        .collect();
    let rewritten =
        safetensors::tensor::serialize(tensors.iter().map(|(k, v)| (k.as_str(), v)), Some(info)).unwrap();
    std::fs::write(&file, rewritten).unwrap();

    let (loaded, meta) = model::checkpoint::load_model(&exp, &Device::Cpu).unwrap();
    assert_eq!(meta.model.predictor_type, PredictorType::Mlp);
    assert!(loaded.params.state_dict().iter().any(|(k, _)| k == "predictor.pred.0.weight"));

    // Resuming without --predictor-type keeps the MLP (the new default would be the hypernetwork).
    let s = run(&common::args(&data, &exp, &flags(&["--epochs", "2"]))).unwrap();
    assert_eq!((s.start_epoch, s.epochs_done), (1, 2));
    let (_, meta) = model::checkpoint::load_model(&exp, &Device::Cpu).unwrap();
    assert_eq!(meta.model.predictor_type, PredictorType::Mlp);
    // A fresh run of the same flags gets the reference's hypernetwork.
    let fresh = dir.path().join("fresh");
    run(&common::args(&data, &fresh, &flags(&["--epochs", "1"]))).unwrap();
    let (_, meta) = model::checkpoint::load_model(&fresh, &Device::Cpu).unwrap();
    assert_eq!(meta.model.predictor_type, PredictorType::Hypernetwork);
}

/// `train` in this process, alone.
fn run(args: &trainer::config::TrainArgs) -> anyhow::Result<trainer::train::RunSummary> {
    trainer::train::run(args, &comm::Group::alone())
}
