//! The model's on-device training metrics against the host definitions evaluation uses.

use candle_core::{Device, Tensor};

#[test]
fn device_metrics_equal_the_host_definitions() {
    let logits = [0.1f32, 0.9, 0.3, 0.7, 0.2, 0.7, 0.5, 0.5, 0.1];
    let labels = [1u32, 0, 0];
    let l = Tensor::from_slice(&logits, (3, 3), &Device::Cpu).unwrap();
    let y = Tensor::from_slice(&labels, 3, &Device::Cpu).unwrap();
    let want = eval::metrics::top1(&logits, 3, &[1, 0, 0]);
    let got = model::stats::top1(&l, &y).unwrap().to_scalar::<f32>().unwrap();
    assert!((f64::from(got) - want).abs() < 1e-6, "{got} vs {want}");

    let (p, t) = ([0.1f32, 0.5, -0.2, 0.9, 0.3, 0.0], [0.0f32, 0.6, -0.1, 1.0, 0.2, 0.1]);
    let want = eval::metrics::r2_reference(&p, &t);
    let pt = Tensor::from_slice(&p, (3, 2), &Device::Cpu).unwrap();
    let tt = Tensor::from_slice(&t, (3, 2), &Device::Cpu).unwrap();
    let got = model::stats::r2_reference(&pt, &tt).unwrap().to_scalar::<f32>().unwrap();
    assert!((f64::from(got) - want).abs() < 1e-5, "{got} vs {want}");
}
