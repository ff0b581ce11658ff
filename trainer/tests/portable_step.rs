//! ResNet-18's backbone gradients computed on the CPU three ways, each a [`KernelPath`] value of
//! the pass: with the CPU kernels, with the formulation the GPU runs (`Portable`: the portable
//! convolution, max-pool and batch norm, stock ReLU), and with stock candle ops and candle's
//! autograd (`Reference`).
//!
//! Why the GPU formulation is compared with stock candle on two views, and with the CPU kernels on
//! one view only: a step's gradients are discontinuous in its inputs (a max-pool's argmax or a
//! ReLU flips when a value crosses a tie or zero), and at this size the two-view loss sits near
//! such a point. In stock candle alone, moving view 2's images by 1e-5 changes some gradient by
//! 2.5e-1 (by 3e-6: 4.4e-5). The CPU kernels round the stem's convolution differently from
//! candle's (2e-6 relative), which is enough to flip one and move layer2.0.conv1's gradient by
//! 4.7e-2; the GPU formulation uses candle's own forward, so it rounds as stock candle does.

use candle_core::{DType, Device, Tensor};
use comm::Group;
use kernels::{KernelPath, Kernels};
use model::backbone::{Arch, ResNet};
use model::nn::{Mode, Pass};
use model::params::ParamStore;

type Named = Vec<(String, Tensor)>;

fn max_abs(t: &Tensor) -> f64 {
    t.abs().unwrap().max_all().unwrap().to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

/// Deterministic weights in [-0.5, 0.5) for the output.
fn weights(like: &Tensor) -> Tensor {
    let v: Vec<f32> = (0..like.elem_count()).map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5).collect();
    Tensor::from_vec(v, like.shape(), &Device::Cpu).unwrap()
}

/// Gradients of a ResNet-18 backbone (residual branches awake) on one or two views.
fn backbone_grads_in(path: KernelPath, views: usize) -> Named {
    let kernels = Kernels { path, ..Kernels::default() };
    let pass = Pass::new(Mode::Train, kernels, Group::alone());
    let store = ParamStore::new(&Device::Cpu, 1);
    let net = ResNet::new(&store.root().pp("backbone"), Arch::Resnet18).unwrap();
    for (k, v) in store.params() {
        if k.ends_with("bn2.weight") {
            v.set(&v.ones_like().unwrap()).unwrap();
        }
    }
    let b = model::synthetic::batch(8, 32, 4, 12, 3).unwrap();
    let mut loss = {
        let out = net.forward(&b.x1, &pass).unwrap();
        (&out * weights(&out)).unwrap().sum_all().unwrap()
    };
    if views == 2 {
        let out = net.forward(&b.x2, &pass).unwrap().sqr().unwrap();
        loss = (loss + (&out * weights(&out)).unwrap().sum_all().unwrap()).unwrap();
    }
    let g = loss.backward().unwrap();
    store
        .params()
        .into_iter()
        .filter_map(|(k, v)| g.get(v.as_tensor()).map(|g| (k, g.copy().unwrap())))
        .collect()
}

/// Worst max |a - b| / max |b| over the tensors.
fn worst(a: &Named, b: &Named) -> (f64, String) {
    assert_eq!(a.len(), b.len());
    let mut worst = (0.0, String::new());
    for ((k, x), (k2, y)) in a.iter().zip(b) {
        assert_eq!(k, k2);
        let e = max_abs(&(x - y).unwrap()) / max_abs(y).max(1e-12);
        if e > worst.0 {
            worst = (e, k.clone());
        }
    }
    worst
}

#[test]
fn the_gpu_formulation_equals_stock_candle_on_two_views() {
    let (e, name) =
        worst(&backbone_grads_in(KernelPath::Portable, 2), &backbone_grads_in(KernelPath::Reference, 2));
    eprintln!("two views, GPU formulation vs stock candle: worst gradient difference {e:.2e} ({name})");
    assert!(e < 1e-3, "gradient of {name}: relative difference {e}");
}

#[test]
fn the_gpu_formulation_equals_the_cpu_kernels_on_one_view() {
    let (e, name) =
        worst(&backbone_grads_in(KernelPath::Portable, 1), &backbone_grads_in(KernelPath::Cpu, 1));
    eprintln!("one view, GPU formulation vs CPU kernels: worst gradient difference {e:.2e} ({name})");
    assert!(e < 1e-3, "gradient of {name}: relative difference {e}");
}
