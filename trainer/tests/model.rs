//! Model structure (PyTorch names, init), every --experience for one step, and the checkpoint
//! API the evaluation code uses.

mod common;

use candle_core::{DType, Device, Tensor};
use model::checkpoint::{self, TORCHVISION_FILE};
use model::model::SslModel;
use model::nn::Mode;
use trainer::config::{Experience, TrainArgs};
use trainer::train::RunSummary;

fn resnet18_config(arch: &str) -> trainer::config::ModelConfig {
    use clap::Parser;
    TrainArgs::parse_from(["train", "--data", "d", "--exp-dir", "e", "--arch", arch])
        .model_config(55)
        .unwrap()
}

fn dims(model: &SslModel, name: &str) -> Vec<usize> {
    let all = model.params.state_dict();
    all.iter().find(|(k, _)| k == name).unwrap_or_else(|| panic!("{name} missing")).1.dims().to_vec()
}

#[test]
fn resnet18_sie_has_pytorch_names_shapes_and_init() {
    let model = SslModel::new(&resnet18_config("resnet18"), &Device::Cpu, 0).unwrap();
    assert_eq!(dims(&model, "backbone.conv1.weight"), [64, 3, 7, 7]);
    assert_eq!(dims(&model, "backbone.layer1.0.downsample.0.weight"), [64, 64, 1, 1]);
    assert_eq!(dims(&model, "backbone.layer4.1.bn2.running_var"), [512]);
    assert_eq!(dims(&model, "projector_inv.0.weight"), [1024, 256]);
    assert_eq!(dims(&model, "projector_equi.1.running_mean"), [1024]);
    assert_eq!(dims(&model, "projector_equi.6.weight"), [1024, 1024]);
    assert_eq!(dims(&model, "predictor.hypernet.net.0.weight"), [1024 * 1024, 4]);
    let state: Vec<String> = model.params.state_dict().into_iter().map(|(k, _)| k).collect();
    assert!(!state.contains(&"projector_equi.6.bias".to_string()), "last projector layer has no bias");
    assert!(!state.iter().any(|k| k.starts_with("predictor.hypernet.net.0.bias")));
    // Running statistics are buffers, never optimised.
    assert!(model.params.params().iter().all(|(k, _)| !k.contains("running_")));
    // 21 backbone BNs (stem, 2 per block, 4 shortcuts) and 2 per projector; mean and var each.
    assert_eq!(model.params.buffers().len(), 2 * (21 + 2 + 2));
    // Init: last BN of each residual branch at 0, others at 1; Kaiming fan_out std.
    let get = |n: &str| model.params.state_dict().into_iter().find(|(k, _)| k == n).unwrap().1;
    assert_eq!(get("backbone.layer2.1.bn2.weight").sum_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
    assert_eq!(get("backbone.layer2.1.bn1.weight").sum_all().unwrap().to_scalar::<f32>().unwrap(), 128.0);
    let w = get("backbone.layer3.0.conv2.weight").flatten_all().unwrap();
    let std = w.sqr().unwrap().mean_all().unwrap().sqrt().unwrap().to_scalar::<f32>().unwrap();
    let expected = (2.0f32 / (256.0 * 9.0)).sqrt();
    assert!((std / expected - 1.0).abs() < 0.02, "{std} vs {expected}");

    // Forward at 64 px in both layouts: a 512-d representation.
    let x = Tensor::randn(0f32, 1.0, (2, 3, 64, 64), &Device::Cpu).unwrap();
    assert_eq!(model.representation(&x, Mode::Eval).unwrap().dims(), [2, 512]);
    let tv = SslModel::new(&resnet18_config("resnet18-torchvision"), &Device::Cpu, 0).unwrap();
    assert_eq!(tv.representation(&x, Mode::Eval).unwrap().dims(), [2, 512]);
    let tv_state: Vec<String> = tv.params.state_dict().into_iter().map(|(k, _)| k).collect();
    assert!(!tv_state.contains(&"backbone.layer1.0.downsample.0.weight".to_string()));
    assert!(tv_state.contains(&"backbone.layer2.0.downsample.1.running_mean".to_string()));
}

#[test]
fn batch_norm_updates_running_stats_in_training_mode_only() {
    let model = SslModel::new(&resnet18_config("resnet18"), &Device::Cpu, 0).unwrap();
    let get = || {
        model
            .params
            .buffers()
            .into_iter()
            .find(|(k, _)| k == "backbone.bn1.running_mean")
            .unwrap()
            .1
            .as_tensor()
            .copy()
            .unwrap()
    };
    let before = get();
    let x = (Tensor::randn(0f32, 1.0, (2, 3, 64, 64), &Device::Cpu).unwrap() + 3.0).unwrap();
    model.representation(&x, Mode::Eval).unwrap();
    assert_eq!(before.to_vec1::<f32>().unwrap(), get().to_vec1::<f32>().unwrap());
    model.representation(&x, Mode::Train).unwrap();
    let changed = (get() - before).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(changed > 0.0);
}

/// Every method of the paper's table (and the MLP-predictor SIE, a deep hypernetwork with
/// biases and intermediate layers) trains one step on the tiny dataset.
#[test]
fn every_experience_runs_one_step() {
    let (dir, data) = common::fixture(3, 3);
    let mut cases: Vec<Vec<&str>> =
        ["VICReg", "SimCLR", "SIE", "SIENoVar", "SIEOnlyEqui", "SIERotColor", "VICRegEquiMod"]
            .iter()
            .map(|e| vec!["--experience", *e])
            .collect();
    cases.push(vec!["--experience", "SIE", "--predictor-type", "mlp", "--tf-num-layers", "2"]);
    cases.push(vec![
        "--experience",
        "SIE",
        "--hypernetwork",
        "deep",
        "--bias-hypernet",
        "--bias-pred",
        "--predictor",
        "16",
        "--predictor-relu",
    ]);
    for (i, case) in cases.iter().enumerate() {
        let mut extra = vec!["--epochs", "1", "--max-steps", "1"];
        extra.extend(case);
        let s = run(&common::args(&data, &dir.path().join(format!("run{i}")), &extra)).unwrap();
        assert_eq!(s.steps, 1, "{case:?}");
        let log = std::fs::read_to_string(dir.path().join(format!("run{i}/log.jsonl"))).unwrap();
        let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
        assert!(first["loss"].as_f64().unwrap().is_finite(), "{case:?}: {first}");
    }
}

/// The evaluation API: rebuild a model from an experiment folder, extract representations,
/// embeddings and predictions; the torchvision export has torchvision's names.
#[test]
fn checkpoint_api_for_evaluation() {
    let (dir, data) = common::fixture(3, 3);
    let exp = dir.path().join("sie");
    run(&common::args(&data, &exp, &["--epochs", "1"])).unwrap();
    let (model, meta) = checkpoint::load_model(&exp, &Device::Cpu).unwrap();
    assert_eq!(
        (meta.epoch, meta.model.experience, meta.model.equi),
        (1, Experience::named("SIE").unwrap(), 64)
    );
    let x = Tensor::zeros((4, 3, 32, 32), DType::F32, &Device::Cpu).unwrap();
    let repr = model.representation(&x, Mode::Eval).unwrap();
    assert_eq!(repr.dims(), [4, 128]);
    let (inv, equi) = model.embeddings(&repr, Mode::Eval).unwrap();
    assert_eq!(inv.unwrap().dims(), [4, 32]); // 64-64 scaled by 64/128
    let equi = equi.unwrap();
    let z = Tensor::zeros((4, 4), DType::F32, &Device::Cpu).unwrap();
    assert_eq!(model.predict(&equi, &z).unwrap().dims(), [4, 32]);

    let tv = candle_core::safetensors::load(exp.join(TORCHVISION_FILE), &Device::Cpu).unwrap();
    for name in ["conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer4.0.downsample.1.weight"] {
        assert!(tv.contains_key(name), "{name}");
    }
    assert!(tv.keys().all(|k| !k.starts_with("backbone.")));
    // 1 epoch of 9 objects in batches of 8: one step, two BatchNorm batches (one per view).
    let tracked = &tv["layer2.0.downsample.1.num_batches_tracked"];
    assert_eq!((tracked.dims(), tracked.to_scalar::<i64>().unwrap()), (&[][..], 2));
}

#[test]
fn rotation_supervision_alone_decides_whether_the_rotation_head_trains_the_representation() {
    use candle_core::Var;
    use model::evaluator::OnlineEvaluator;
    use model::params::ParamStore;
    let store = ParamStore::new(&Device::Cpu, 0);
    let evaluator = OnlineEvaluator::new(&store.root().pp("evaluator"), 8, 0, 3).unwrap();
    let r1 = Var::from_tensor(&Tensor::randn(0f32, 1.0, (4, 8), &Device::Cpu).unwrap()).unwrap();
    let r2 = Var::from_tensor(&Tensor::randn(0f32, 1.0, (4, 8), &Device::Cpu).unwrap()).unwrap();
    let labels = Tensor::new(&[0u32, 1, 2, 0], &Device::Cpu).unwrap();
    let quat = Tensor::randn(0f32, 1.0, (4, 4), &Device::Cpu).unwrap();
    let grad_of_r1 = |weight: f64| {
        let loss = evaluator
            .forward((&r1, &r2), &labels, &quat, weight, &mut Default::default(), &Default::default())
            .unwrap();
        let grads = loss.backward().unwrap();
        grads.get(&r1).map(|g| g.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap())
    };
    assert_eq!(grad_of_r1(0.0), None, "the online evaluator must not train the backbone by default");
    let supervised = grad_of_r1(1.0).expect("supervision reaches the representation");
    assert!(supervised > 0.0);
    let doubled = grad_of_r1(2.0).unwrap();
    assert!((doubled / supervised - 2.0).abs() < 1e-3, "{doubled} vs 2 x {supervised}");
}

/// `train` in this process, alone.
fn run(args: &trainer::config::TrainArgs) -> anyhow::Result<RunSummary> {
    trainer::train::run(args, &comm::Group::alone())
}
