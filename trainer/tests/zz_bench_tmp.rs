use std::time::Instant;
use candle_core::{Device, Tensor};
use trainer::model::{Batch, LossConfig, SslModel};
use trainer::ops::adam::{Adam, AdamConfig};

#[test]
#[ignore]
fn bench_parts() {
    use clap::Parser;
    for arch in ["resnet-tiny", "resnet18"] {
        let cfg = trainer::config::TrainArgs::parse_from(["train", "--data", "d", "--exp-dir", "e", "--arch", arch]).model_config(3).unwrap();
        let model = SslModel::new(&cfg, &Device::Cpu, 0).unwrap();
        let mut adam = Adam::new(model.params.params(), AdamConfig::default()).unwrap();
        let n = 32;
        let b = Batch {
            x1: Tensor::randn(0f32, 1.0, (n, 3, 64, 64), &Device::Cpu).unwrap(),
            x2: Tensor::randn(0f32, 1.0, (n, 3, 64, 64), &Device::Cpu).unwrap(),
            latent: Tensor::randn(0f32, 1.0, (n, 4), &Device::Cpu).unwrap(),
            labels: Tensor::zeros(n, candle_core::DType::U32, &Device::Cpu).unwrap(),
        };
        for it in 0..3 {
            let t0 = Instant::now();
            let r = model.representation(&b.x1, trainer::nn::Mode::Train).unwrap();
            let _ = r.sum_all().unwrap().to_scalar::<f32>();
            let t_bb = t0.elapsed().as_secs_f64();
            let t0 = Instant::now();
            let out = model.forward_train(&b, &LossConfig::default()).unwrap();
            let t_fwd = t0.elapsed().as_secs_f64();
            let t0 = Instant::now();
            let g = out.total.backward().unwrap();
            let t_bwd = t0.elapsed().as_secs_f64();
            let t0 = Instant::now();
            adam.step(&g).unwrap();
            let t_adam = t0.elapsed().as_secs_f64();
            eprintln!("{arch} it{it}: backbone fwd 1 view {t_bb:.3}s, forward_train {t_fwd:.3}s, backward {t_bwd:.3}s, adam {t_adam:.3}s => {:.1} img/s", 2.0 * n as f64 / (t_fwd + t_bwd + t_adam));
        }
    }
}
