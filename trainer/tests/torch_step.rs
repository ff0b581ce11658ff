//! The training step is the reference's computation: `train`'s model (seed 0, residual branches
//! woken, see `synthetic::wake_residual_branches`) on the seeded
//! synthetic batch gives the losses and gradients that PyTorch gives for the reference model
//! loaded with the same weights (`tests/fixtures/torch_step/torch_step.json`, written by
//! `bench/train_step.py --check DIR --write-fixture FILE` after `bench_step --dump DIR`; the
//! commands are in that folder's README).

use candle_core::Device;
use clap::Parser;
use model::model::SslModel;
use trainer::train::optimizer;

fn fixture() -> serde_json::Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/torch_step/torch_step.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture JSON")
}

fn close(got: f64, want: f64, rel: f64, what: &str) {
    assert!((got - want).abs() <= rel * want.abs().max(1e-6), "{what}: candle {got} vs PyTorch {want}");
}

#[test]
fn the_step_matches_pytorch_on_the_reference_model() {
    let f = fixture();
    let s = &f["shape"];
    let text = |k: &str| s[k].as_str().map(String::from).unwrap_or_else(|| s[k].to_string());
    let args = trainer::config::TrainArgs::parse_from([
        "train",
        "--data",
        "-",
        "--exp-dir",
        "-",
        "--arch",
        &text("arch"),
        "--resolution",
        &text("resolution"),
        "--batch-size",
        &text("batch"),
        "--mlp",
        &text("mlp"),
        "--equi",
        &text("equi"),
    ]);
    let classes = s["num_classes"].as_u64().unwrap() as usize;
    let cfg = args.model_config(classes).unwrap();
    let model = SslModel::new(&cfg, &Device::Cpu, args.seed).unwrap();
    model::synthetic::wake_residual_branches(&model).unwrap();
    let batch = model::synthetic::batch(
        args.batch_size,
        args.resolution as usize,
        cfg.latent_dim(),
        classes,
        args.seed,
    )
    .unwrap();
    let lc = args.loss_config();
    let out = model.forward_train(&batch, &lc, false).unwrap();
    close(out.stats.value("loss").unwrap() as f64, f["loss"].as_f64().unwrap(), 1e-4, "SIE loss");
    close(
        out.stats.value("eval_loss").unwrap() as f64,
        f["eval_loss"].as_f64().unwrap(),
        1e-4,
        "evaluator loss",
    );

    let grads = out.total.backward().unwrap();
    let params: std::collections::HashMap<_, _> = model.params.params().into_iter().collect();
    let want_grads = f["grads"].as_object().unwrap();
    assert!(want_grads.len() >= 8, "the fixture pins several gradients");
    for (name, want) in want_grads {
        let g = grads.get(params[name].as_tensor()).unwrap_or_else(|| panic!("no gradient for {name}"));
        let v: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
        let norm = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let want_norm = want["norm"].as_f64().unwrap();
        assert!(want_norm > 0.0, "{name}: a pinned gradient must not be 0");
        close(norm, want_norm, 1e-3, &format!("|grad {name}|"));
        for (i, w) in want["head"].as_array().unwrap().iter().enumerate() {
            let w = w.as_f64().unwrap();
            let err = (v[i] as f64 - w).abs();
            assert!(err <= 1e-3 * want_norm.max(1e-6), "grad {name}[{i}]: candle {} vs PyTorch {w}", v[i]);
        }
    }

    let mut adam = optimizer(&model, &args).unwrap();
    adam.step(&grads).unwrap();
    let again = model.forward_train(&batch, &lc, false).unwrap();
    close(
        again.stats.value("loss").unwrap() as f64,
        f["loss_after_adam_step"].as_f64().unwrap(),
        1e-3,
        "loss after one Adam step",
    );
}
