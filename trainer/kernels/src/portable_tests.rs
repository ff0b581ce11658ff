//! The GPU-oriented ops of [`super::portable`], run on the CPU against the fast CPU ops (which
//! [`super::tests`] checks against stock candle and finite differences): same values, same
//! gradients, on every convolution and pooling geometry the CPU tests use.

use candle_core::{DType, Tensor, Var};

use super::portable;
use super::precision::{autocast2_in, Precision};
use super::tests::{
    assert_close, check_finite_differences, conv_inputs, pool_input, rand_tensor, CONVS, POOLS,
};
use super::tests::{conv2d, max_pool2d};

/// d sum(out * r) / d each input.
fn grads(out: &Tensor, inputs: &[&Var]) -> Vec<Tensor> {
    let r = rand_tensor(out.dims(), 7);
    let g = (out * r).unwrap().sum_all().unwrap().backward().unwrap();
    inputs.iter().map(|v| g.get(v.as_tensor()).expect("a gradient").clone()).collect()
}

#[test]
fn portable_conv_matches_the_cpu_conv_forward_and_backward() {
    for (i, case) in CONVS.iter().enumerate() {
        let (x, w, s, p) = conv_inputs(i);
        let (xv, wv) = (Var::from_tensor(&x).unwrap(), Var::from_tensor(&w).unwrap());
        let fast = conv2d(xv.as_tensor(), wv.as_tensor(), s, p).unwrap();
        let portable = portable::conv2d(xv.as_tensor(), wv.as_tensor(), s, p).unwrap();
        assert_close(&format!("conv {case:?}"), &portable, &fast, 1e-5);
        let (want, got) = (grads(&fast, &[&xv, &wv]), grads(&portable, &[&xv, &wv]));
        assert_close(&format!("conv dx {case:?}"), &got[0], &want[0], 1e-4);
        assert_close(&format!("conv dw {case:?}"), &got[1], &want[1], 1e-4);
    }
}

#[test]
fn portable_conv_backward_matches_finite_differences() {
    // Cases 1 and 3: strides that do not divide the padded extent (rows no window reaches).
    for i in [1, 3] {
        let (x, w, s, p) = conv_inputs(i);
        let f = move |t: &[Tensor]| portable::conv2d(&t[0], &t[1], s, p);
        check_finite_differences(&format!("conv dx {i}"), &f, &[x.clone(), w.clone()], 0, 1e-2);
        check_finite_differences(&format!("conv dw {i}"), &f, &[x, w], 1, 1e-2);
    }
}

#[test]
fn portable_max_pool_matches_the_cpu_pool_forward_and_backward() {
    let x = pool_input(&[2, 3, 9, 8]);
    let xv = Var::from_tensor(&x).unwrap();
    for &(k, s, p) in POOLS {
        let fast = max_pool2d(xv.as_tensor(), k, s, p).unwrap();
        let portable = portable::max_pool2d(xv.as_tensor(), k, s, p).unwrap();
        assert_close(&format!("pool {k} {s} {p}"), &portable, &fast, 0.0);
        let (want, got) = (grads(&fast, &[&xv]), grads(&portable, &[&xv]));
        assert_close(&format!("pool dx {k} {s} {p}"), &got[0], &want[0], 1e-6);
    }
}

#[test]
fn bf16_conv_stays_near_f32_and_returns_f32_gradients() {
    let (x, w, s, p) = conv_inputs(2);
    let (xv, wv) = (Var::from_tensor(&x).unwrap(), Var::from_tensor(&w).unwrap());
    let conv = |prec| {
        autocast2_in(prec, xv.as_tensor(), wv.as_tensor(), |x, w| portable::conv2d(x, w, s, p)).unwrap()
    };
    let (f32_out, bf16_out) = (conv(Precision::F32), conv(Precision::Bf16));
    assert_eq!(bf16_out.dtype(), DType::F32);
    // bf16 keeps 8 bits of mantissa: inputs in [-1, 1), 45-term sums, relative error ~1e-2.
    assert_close("bf16 conv", &bf16_out, &f32_out, 5e-2);
    let (want, got) = (grads(&f32_out, &[&xv, &wv]), grads(&bf16_out, &[&xv, &wv]));
    for (name, g, w) in [("dx", &got[0], &want[0]), ("dw", &got[1], &want[1])] {
        assert_eq!(g.dtype(), DType::F32, "{name}");
        assert_close(&format!("bf16 conv {name}"), g, w, 5e-2);
    }
}

#[test]
fn portable_batch_norm_matches_the_cpu_op_forward_and_backward() {
    use super::tests::{batch_norm_relu_train, batch_norm_train};
    for dims in [&[4usize, 3, 5, 6][..], &[6, 5][..], &[8, 128, 3, 3][..], &[8, 512][..]] {
        let c = dims[1];
        let x = rand_tensor(dims, 21).affine(2.0, 0.5).unwrap();
        let (xv, gv, bv) = (
            Var::from_tensor(&x).unwrap(),
            Var::from_tensor(&(rand_tensor(&[c], 22) + 1.0).unwrap()).unwrap(),
            Var::from_tensor(&rand_tensor(&[c], 23)).unwrap(),
        );
        for relu in [false, true] {
            let (x, g, b) = (xv.as_tensor(), gv.as_tensor(), bv.as_tensor());
            let fast =
                if relu { batch_norm_relu_train(x, g, b, 1e-5) } else { batch_norm_train(x, g, b, 1e-5) };
            let (fast, fast_mean, fast_var) = fast.unwrap();
            let (port, mean, var) = portable::batch_norm_train(x, g, b, 1e-5, relu).unwrap();
            let what = format!("batch norm {dims:?} relu {relu}");
            assert_close(&what, &port, &fast, 1e-5);
            assert_close(&format!("{what} mean"), &mean, &fast_mean, 1e-6);
            assert_close(&format!("{what} var"), &var, &fast_var, 1e-5);
            let (want, got) = (grads(&fast, &[&xv, &gv, &bv]), grads(&port, &[&xv, &gv, &bv]));
            for (i, part) in ["dx", "dgamma", "dbeta"].iter().enumerate() {
                assert_close(&format!("{what} {part}"), &got[i], &want[i], 1e-4);
            }
        }
    }
}

#[test]
fn portable_conv_skips_the_gradient_of_an_untracked_input() {
    let (x, w, s, p) = conv_inputs(0);
    let wv = Var::from_tensor(&w).unwrap();
    let grads = portable::conv2d(&x, wv.as_tensor(), s, p).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(grads.get(&x).is_none());
    assert!(grads.get(wv.as_tensor()).is_some());
    let (dx, dw) =
        portable::conv2d_backward(&x, wv.as_tensor(), &rand_tensor(&[2, 4, 5, 5], 3), s, p).unwrap();
    assert!(dx.is_none() && dw.is_some(), "no input gradient is computed for the images");
}

/// The ReLU's gradient at exactly 0 is 0 on every path, as in PyTorch (stock candle's is 1):
/// exact zeros are what a residual branch outputs at initialisation (its last batch-norm scale
/// starts at 0), so the GPU's first step depends on it.
#[test]
fn relu_gradient_at_exactly_zero_is_zero_on_every_path() {
    use super::{KernelPath, Kernels};
    let values = [-1.5f32, -0.0, 0.0, 0.0, 0.25, 2.0];
    let x = Tensor::new(&values, &candle_core::Device::Cpu).unwrap();
    let b = Tensor::new(&[0.0f32, 0.0, 0.0, -0.5, 0.0, 1.0], &candle_core::Device::Cpu).unwrap();
    for path in [KernelPath::Cpu, KernelPath::Portable, KernelPath::Reference] {
        let k = Kernels { path, ..Kernels::default() };
        let xv = Var::from_tensor(&x).unwrap();
        let y = k.relu(xv.as_tensor()).unwrap();
        assert_eq!(y.to_vec1::<f32>().unwrap(), [0.0, 0.0, 0.0, 0.0, 0.25, 2.0], "{path:?} values");
        let g = y.sum_all().unwrap().backward().unwrap();
        let dx = g.get(xv.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(dx, [0.0, 0.0, 0.0, 0.0, 1.0, 1.0], "{path:?} relu gradient");
        // The residual join: relu(a + b), gradient 0 where the sum is exactly 0.
        let (av, bv) = (Var::from_tensor(&x).unwrap(), Var::from_tensor(&b).unwrap());
        let g = k.add_relu(av.as_tensor(), bv.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
        let da = g.get(av.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(da, [0.0, 0.0, 0.0, 0.0, 1.0, 1.0], "{path:?} add_relu gradient");
    }
}
