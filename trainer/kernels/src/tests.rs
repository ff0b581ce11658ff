//! The fast CPU ops against the stock-candle reference (forward and autograd), their backward
//! against central finite differences, and Adam against values worked out by hand.
//!
//! Finite differences: the loss is L = sum(out * r) for a fixed random r, evaluated in f64 from
//! the f32 outputs. Conv and batch norm use h = 1e-2: the f32 rounding of L is ~1e-5, so after
//! dividing by 2h the numeric gradient carries ~1e-3 of noise, and the truncation error is O(h^2)
//! (zero for the linear conv); the check allows 5e-3 absolute plus 1e-2 relative. Max-pool is
//! piecewise linear: on inputs whose values are 1e-2 apart, h = 1e-3 never changes an argmax, so
//! the difference is exact up to rounding and the same tolerance is loose.

use candle_core::{DType, Device, Result, Tensor, Var};

use super::{reference, Kernels};

/// The formulation under test: the hand-written CPU kernels, in f32.
const K: Kernels = Kernels { path: super::KernelPath::Cpu, precision: super::Precision::F32 };

pub(super) fn conv2d(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    K.conv2d(x, w, stride, padding)
}

pub(super) fn conv2d_padded(
    x: &Tensor,
    w: &Tensor,
    stride: usize,
    padding: (usize, usize),
) -> Result<Tensor> {
    K.conv2d_padded(x, w, stride, padding)
}

pub(super) fn linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    K.linear(x, w)
}

pub(super) fn max_pool2d(x: &Tensor, kernel: usize, stride: usize, padding: usize) -> Result<Tensor> {
    K.max_pool2d(x, kernel, stride, padding)
}

pub(super) fn max_pool2d_padded(
    x: &Tensor,
    kernel: usize,
    stride: usize,
    padding: (usize, usize),
) -> Result<Tensor> {
    K.max_pool2d_padded(x, kernel, stride, padding)
}

pub(super) fn batch_norm_train(
    x: &Tensor,
    g: &Tensor,
    b: &Tensor,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    K.batch_norm_train(x, g, b, eps, false)
}

pub(super) fn batch_norm_relu_train(
    x: &Tensor,
    g: &Tensor,
    b: &Tensor,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    K.batch_norm_train(x, g, b, eps, true)
}

pub(super) fn relu(x: &Tensor) -> Result<Tensor> {
    K.relu(x)
}

pub(super) fn add_relu(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    K.add_relu(a, b)
}

/// Deterministic uniform values in [-1, 1).
pub(super) fn uniform(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

pub(super) fn rand_tensor(dims: &[usize], seed: u64) -> Tensor {
    let len = dims.iter().product();
    Tensor::from_vec(uniform(len, seed), dims, &Device::Cpu).unwrap()
}

pub(super) fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

pub(super) fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes differ");
    for (i, (g, w)) in values(got).iter().zip(values(want)).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}[{i}]: got {g}, want {w}");
    }
}

/// Checks d sum(f(inputs) * r) / d inputs[which] from candle's backward against central
/// differences at `samples` evenly spread elements.
pub(super) fn check_finite_differences(
    what: &str,
    f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Tensor],
    which: usize,
    h: f32,
) {
    let vars: Vec<Var> = inputs.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
    let as_tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let out = f(&as_tensors).unwrap();
    let r = rand_tensor(out.dims(), 99);
    let grads = (&out * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let analytic = values(grads.get(vars[which].as_tensor()).expect("gradient of the checked input"));
    let r = values(&r);
    let loss = |x: Vec<f32>| -> f64 {
        let mut ins = inputs.to_vec();
        ins[which] = Tensor::from_vec(x, inputs[which].dims(), &Device::Cpu).unwrap();
        values(&f(&ins).unwrap()).iter().zip(&r).map(|(&o, &r)| o as f64 * r as f64).sum()
    };
    let base = values(&inputs[which]);
    let samples = 24.min(base.len());
    for s in 0..samples {
        let i = s * base.len() / samples;
        let (mut plus, mut minus) = (base.clone(), base.clone());
        plus[i] += h;
        minus[i] -= h;
        let numeric = (loss(plus) - loss(minus)) / (2.0 * h as f64);
        let a = analytic[i] as f64;
        assert!(
            (numeric - a).abs() <= 5e-3 + 1e-2 * a.abs(),
            "{what}: d/dx[{i}] analytic {a}, numeric {numeric}"
        );
    }
}

/// (N, C, H, W, O, K, stride, padding): 7x7 stems with and without padding, 3x3, 1x1 shortcuts,
/// a non-square input.
/// (N, C, H, W, O, K, stride, padding).
pub(super) type ConvCase = (usize, usize, usize, usize, usize, usize, usize, usize);

pub(super) const CONVS: &[ConvCase] = &[
    (2, 3, 15, 15, 4, 7, 2, 0),
    (2, 3, 13, 11, 4, 7, 2, 3),
    (2, 5, 7, 7, 6, 3, 1, 1),
    (3, 4, 8, 9, 5, 3, 2, 1),
    (2, 6, 6, 6, 3, 1, 1, 0),
    (2, 6, 7, 7, 3, 1, 2, 0),
    // Size-keeping (stride 1, "same" padding: the shifted-copy im2col): rectangular, a 5x5
    // kernel, and images smaller than the kernel.
    (2, 3, 5, 8, 4, 3, 1, 1),
    (2, 2, 6, 5, 3, 5, 1, 2),
    (2, 2, 1, 1, 3, 3, 1, 1),
    (1, 2, 2, 3, 2, 5, 1, 2),
    // Stride 1 without keeping the size (the general path): no padding, and a kernel column
    // that misses the image entirely.
    (2, 3, 6, 7, 4, 3, 1, 0),
    (1, 1, 4, 2, 1, 6, 1, 2),
];

pub(super) fn conv_inputs(i: usize) -> (Tensor, Tensor, usize, usize) {
    let (n, c, h, w, o, k, s, p) = CONVS[i];
    (rand_tensor(&[n, c, h, w], 1 + i as u64), rand_tensor(&[o, c, k, k], 100 + i as u64), s, p)
}

/// The conv under test: the default blocking (whole batch at these sizes), or `block` images per
/// im2col block (a partial last block included: N is 2 or 3).
fn conv_with(block: Option<usize>) -> impl Fn(&Tensor, &Tensor, usize, usize) -> Result<Tensor> {
    move |x, w, s, p| match block {
        None => conv2d(x, w, s, p),
        Some(b) => super::conv::conv2d_blocked(x, w, s, p, b),
    }
}

const BLOCKS: [Option<usize>; 3] = [None, Some(1), Some(2)];

#[test]
fn conv_forward_matches_stock_candle() {
    for block in BLOCKS {
        for (i, case) in CONVS.iter().enumerate() {
            let (x, w, s, p) = conv_inputs(i);
            let got = conv_with(block)(&x, &w, s, p).unwrap();
            assert_close(
                &format!("conv {case:?} block {block:?}"),
                &got,
                &reference::conv2d(&x, &w, s, p).unwrap(),
                1e-5,
            );
        }
    }
}

#[test]
fn conv_backward_matches_stock_candle_autograd() {
    for (i, &case) in CONVS.iter().enumerate() {
        let (_, _, h, w, _, k, s, p) = case;
        if (h + 2 * p - k) % s != 0 || (w + 2 * p - k) % s != 0 {
            // Stock candle's conv_transpose-based backward returns a wrongly sized dx when the
            // stride does not divide the padded extent; the finite differences cover these.
            continue;
        }
        let (x, w, s, p) = conv_inputs(i);
        let (xv, wv) = (Var::from_tensor(&x).unwrap(), Var::from_tensor(&w).unwrap());
        let grads_of = |out: Tensor| {
            let r = rand_tensor(out.dims(), 7);
            let g = (out * r).unwrap().sum_all().unwrap().backward().unwrap();
            (g.get(xv.as_tensor()).unwrap().clone(), g.get(wv.as_tensor()).unwrap().clone())
        };
        let (rx, rw) = grads_of(reference::conv2d(xv.as_tensor(), wv.as_tensor(), s, p).unwrap());
        for block in BLOCKS {
            let (gx, gw) = grads_of(conv_with(block)(xv.as_tensor(), wv.as_tensor(), s, p).unwrap());
            assert_close(&format!("conv dx {case:?} block {block:?}"), &gx, &rx, 1e-4);
            assert_close(&format!("conv dw {case:?} block {block:?}"), &gw, &rw, 1e-4);
        }
    }
}

#[test]
fn conv_backward_matches_finite_differences() {
    for (i, block) in [(1, None), (3, None), (3, Some(2))] {
        let conv = conv_with(block);
        let f = |t: &[Tensor]| conv(&t[0], &t[1], CONVS[i].6, CONVS[i].7);
        let (x, w, _, _) = conv_inputs(i);
        check_finite_differences(&format!("conv dx {i}"), &f, &[x.clone(), w.clone()], 0, 1e-2);
        check_finite_differences(&format!("conv dw {i}"), &f, &[x, w], 1, 1e-2);
    }
}

#[test]
fn conv_skips_the_gradient_of_an_untracked_input() {
    let (x, w, s, p) = conv_inputs(0);
    let wv = Var::from_tensor(&w).unwrap();
    let grads = conv2d(&x, wv.as_tensor(), s, p).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(grads.get(&x).is_none());
    assert!(grads.get(wv.as_tensor()).is_some());
}

#[test]
fn non_f32_inputs_take_the_portable_path() {
    let (x, w, s, p) = conv_inputs(2);
    let (x64, w64) = (x.to_dtype(DType::F64).unwrap(), w.to_dtype(DType::F64).unwrap());
    let got = conv2d(&x64, &w64, s, p).unwrap().to_dtype(DType::F32).unwrap();
    assert_close("f64 conv", &got, &conv2d(&x, &w, s, p).unwrap(), 1e-5);
}

/// Input of distinct values 1e-2 apart (a shuffled ramp), so no window has a tie.
pub(super) fn pool_input(dims: &[usize]) -> Tensor {
    let len: usize = dims.iter().product();
    let mut order: Vec<(f32, usize)> = uniform(len, 5).into_iter().zip(0..).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut data = vec![0f32; len];
    for (rank, &(_, i)) in order.iter().enumerate() {
        data[i] = (rank as f32 - len as f32 / 2.0) * 1e-2;
    }
    Tensor::from_vec(data, dims, &Device::Cpu).unwrap()
}

/// The definition: max over the window, padding excluded.
fn naive_max_pool(x: &Tensor, k: usize, s: usize, p: usize) -> Tensor {
    let (n, c, h, w) = x.dims4().unwrap();
    let data = values(x);
    let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
    let mut out = Vec::new();
    for plane in data.chunks(h * w).take(n * c) {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut m = f32::NEG_INFINITY;
                for ky in 0..k {
                    for kx in 0..k {
                        let (iy, ix) =
                            ((oy * s + ky) as isize - p as isize, (ox * s + kx) as isize - p as isize);
                        if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                            m = m.max(plane[iy as usize * w + ix as usize]);
                        }
                    }
                }
                out.push(m);
            }
        }
    }
    Tensor::from_vec(out, (n, c, oh, ow), &Device::Cpu).unwrap()
}

/// (kernel, stride, padding): the reference stem pool, torchvision's, kernel != stride, overlap.
pub(super) const POOLS: &[(usize, usize, usize)] = &[(3, 2, 0), (3, 2, 1), (2, 2, 0), (3, 1, 1), (2, 3, 1)];

#[test]
fn max_pool_forward_matches_naive() {
    let x = pool_input(&[2, 3, 9, 8]);
    for &(k, s, p) in POOLS {
        assert_close(
            &format!("pool {k} {s} {p}"),
            &max_pool2d(&x, k, s, p).unwrap(),
            &naive_max_pool(&x, k, s, p),
            0.0,
        );
        assert_close(
            &format!("ref pool {k} {s} {p}"),
            &reference::max_pool2d(&x, k, s, p).unwrap(),
            &naive_max_pool(&x, k, s, p),
            0.0,
        );
    }
}

#[test]
fn max_pool_backward_matches_finite_differences() {
    let x = pool_input(&[2, 2, 9, 8]);
    for &(k, s, p) in POOLS {
        let f = move |t: &[Tensor]| max_pool2d(&t[0], k, s, p);
        check_finite_differences(&format!("pool {k} {s} {p}"), &f, std::slice::from_ref(&x), 0, 1e-3);
    }
}

fn bn_inputs(dims: &[usize]) -> (Tensor, Tensor, Tensor) {
    let c = dims[1];
    // An offset mean and non-unit scale, as real activations have.
    let x = ((rand_tensor(dims, 11) * 3.0).unwrap() + 0.5).unwrap();
    (x, rand_tensor(&[c], 12), rand_tensor(&[c], 13))
}

#[test]
fn batch_norm_forward_matches_reference() {
    for dims in [&[4, 3, 5, 6][..], &[6, 5][..]] {
        let (x, g, b) = bn_inputs(dims);
        let (y, mean, var) = batch_norm_train(&x, &g, &b, 1e-5).unwrap();
        let (ry, rmean, rvar) = reference::batch_norm_train(&x, &g, &b, 1e-5).unwrap();
        assert_close("bn y", &y, &ry, 1e-5);
        assert_close("bn mean", &mean, &rmean, 1e-5);
        assert_close("bn var", &var, &rvar, 1e-5);
    }
}

#[test]
fn batch_norm_backward_matches_reference_autograd_and_finite_differences() {
    for dims in [&[4, 3, 5, 6][..], &[6, 5][..]] {
        let (x, g, b) = bn_inputs(dims);
        let vars: Vec<Var> = [&x, &g, &b].iter().map(|t| Var::from_tensor(t).unwrap()).collect();
        let r = rand_tensor(dims, 21);
        let grads_of = |y: Tensor| {
            let grads = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            vars.iter().map(|v| grads.get(v.as_tensor()).unwrap().clone()).collect::<Vec<_>>()
        };
        let [x_, g_, b_] = [0, 1, 2].map(|i| vars[i].as_tensor().clone());
        let fast = grads_of(batch_norm_train(&x_, &g_, &b_, 1e-5).unwrap().0);
        let slow = grads_of(reference::batch_norm_train(&x_, &g_, &b_, 1e-5).unwrap().0);
        for (name, (f, s)) in ["dx", "dgamma", "dbeta"].iter().zip(fast.iter().zip(&slow)) {
            assert_close(&format!("bn {name} {dims:?}"), f, s, 1e-4);
        }
        let f = |t: &[Tensor]| Ok(batch_norm_train(&t[0], &t[1], &t[2], 1e-5)?.0);
        for which in 0..3 {
            check_finite_differences(
                &format!("bn input {which} {dims:?}"),
                &f,
                &[x.clone(), g.clone(), b.clone()],
                which,
                1e-2,
            );
        }
    }
}

/// Values at least 0.05 away from 0, so a step of 1e-2 never crosses the ReLU's kink.
fn off_zero(dims: &[usize], seed: u64) -> Tensor {
    let data = uniform(dims.iter().product(), seed).into_iter().map(|v| v + 0.05 * v.signum()).collect();
    Tensor::from_vec(data, dims, &Device::Cpu).unwrap()
}

#[test]
fn relu_and_add_relu_match_stock_candle() {
    let (a, b) = (off_zero(&[2, 3, 4, 5], 31), off_zero(&[2, 3, 4, 5], 32));
    assert_close("relu", &relu(&a).unwrap(), &a.relu().unwrap(), 0.0);
    assert_close("add_relu", &add_relu(&a, &b).unwrap(), &(&a + &b).unwrap().relu().unwrap(), 0.0);
    let (av, bv) = (Var::from_tensor(&a).unwrap(), Var::from_tensor(&b).unwrap());
    let r = rand_tensor(a.dims(), 33);
    let grads_of = |y: Tensor| {
        let g = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
        (g.get(av.as_tensor()).unwrap().clone(), g.get(bv.as_tensor()).unwrap().clone())
    };
    let (fa, fb) = grads_of(add_relu(av.as_tensor(), bv.as_tensor()).unwrap());
    let (sa, sb) = grads_of((av.as_tensor() + bv.as_tensor()).unwrap().relu().unwrap());
    assert_close("add_relu da", &fa, &sa, 0.0);
    assert_close("add_relu db", &fb, &sb, 0.0);
}

#[test]
fn linear_matches_stock_candle_forward_and_backward() {
    // On a two-thread pool (the gemm is threaded), with shapes that are not multiples of the
    // kernel's tiles.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    pool.install(|| {
        let (x, w) = (rand_tensor(&[7, 19], 51), rand_tensor(&[13, 19], 52));
        let want = x.matmul(&w.t().unwrap()).unwrap();
        assert_close("linear", &linear(&x, &w).unwrap(), &want, 1e-6);
        let (xv, wv) = (Var::from_tensor(&x).unwrap(), Var::from_tensor(&w).unwrap());
        let r = rand_tensor(want.dims(), 53);
        let grads_of = |y: Tensor| {
            let g = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            (g.get(xv.as_tensor()).unwrap().clone(), g.get(wv.as_tensor()).unwrap().clone())
        };
        let (fx, fw) = grads_of(linear(xv.as_tensor(), wv.as_tensor()).unwrap());
        let (sx, sw) = grads_of(xv.as_tensor().matmul(&wv.as_tensor().t().unwrap()).unwrap());
        assert_close("linear dx", &fx, &sx, 1e-6);
        assert_close("linear dw", &fw, &sw, 1e-6);
        assert!(fw.is_contiguous(), "the weight gradient comes out in the weight's layout");
    });
}

#[test]
fn phase_shift_convolutions_match_stock_candle() {
    // Strided convolutions whose output is the input's size over the stride (the phase-plane
    // im2col and col2im): 3x3/2 with padding 1 and (0, 1), a 7x7/2 stem with (2, 3) and 3, a
    // 1x1/2 shortcut, stride 3, a 5x5/2 kernel wider than the phase planes, with the blockings.
    // Against stock candle on the explicitly padded input, cut to the rows and columns the
    // windows read (stock candle's backward needs the stride to divide the padded extent).
    // ((N, C, H, W), (O, K), stride, (padding before, after)).
    type Case = ((usize, usize, usize, usize), (usize, usize), usize, (usize, usize));
    let cases: [Case; 7] = [
        ((3, 4, 8, 6), (5, 3), 2, (1, 1)),
        ((2, 3, 8, 8), (4, 3), 2, (0, 1)),
        ((2, 3, 12, 10), (4, 7), 2, (2, 3)),
        ((2, 3, 12, 10), (4, 7), 2, (3, 3)),
        ((3, 5, 6, 4), (4, 1), 2, (0, 0)),
        ((2, 2, 9, 6), (3, 3), 3, (1, 1)),
        ((2, 2, 4, 4), (3, 5), 2, (2, 2)),
    ];
    for (i, &((n, c, h, w), (o, k), stride, pad)) in cases.iter().enumerate() {
        let (oh, ow) = ((h + pad.0 + pad.1 - k) / stride + 1, (w + pad.0 + pad.1 - k) / stride + 1);
        assert_eq!((oh * stride, ow * stride), (h, w), "case {i} is not a phase-shift convolution");
        let (xv, wv) = (
            Var::from_tensor(&rand_tensor(&[n, c, h, w], 90 + i as u64)).unwrap(),
            Var::from_tensor(&rand_tensor(&[o, c, k, k], 95 + i as u64)).unwrap(),
        );
        let r = rand_tensor(&[n, o, oh, ow], 99);
        let grads_of = |y: Tensor| {
            let g = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            (y, g.get(xv.as_tensor()).unwrap().clone(), g.get(wv.as_tensor()).unwrap().clone())
        };
        let padded = reference::pad_hw(xv.as_tensor(), pad, 0.0).unwrap();
        let read = |extent: usize| (extent - 1) * stride + k;
        let padded = padded.narrow(2, 0, read(oh)).unwrap().narrow(3, 0, read(ow)).unwrap();
        let want = grads_of(reference::conv2d(&padded, wv.as_tensor(), stride, 0).unwrap());
        for block in [None, Some(1), Some(2)] {
            let ours = match block {
                None => conv2d_padded(xv.as_tensor(), wv.as_tensor(), stride, pad).unwrap(),
                Some(b) => super::conv::conv2d_padded_blocked(xv.as_tensor(), wv.as_tensor(), stride, pad, b)
                    .unwrap(),
            };
            let got = grads_of(ours);
            let what = format!("case {i} block {block:?}");
            assert_close(&format!("{what} y"), &got.0, &want.0, 1e-5);
            assert_close(&format!("{what} dx"), &got.1, &want.1, 1e-5);
            assert_close(&format!("{what} dw"), &got.2, &want.2, 1e-5);
        }
    }
}

#[test]
fn asymmetric_padding_matches_padding_the_input_first() {
    // The reference ResNet's (2, 3) stem and (0, 1) stride-2 paddings, a size-keeping (0, 2), and
    // odd sizes; values and both gradients against stock candle on the explicitly padded input
    // (sizes where the stride divides the padded extent: stock candle's backward is wrong
    // otherwise, see `conv_backward_matches_stock_candle_autograd`).
    let cases = [
        ((2, 3, 11, 9), (4, 7), 2, (2, 3)),
        ((2, 4, 8, 8), (3, 3), 2, (0, 1)),
        ((1, 3, 5, 6), (2, 3), 1, (0, 2)),
    ];
    for (i, &((n, c, h, w), (o, k), stride, pad)) in cases.iter().enumerate() {
        let (x, wt) = (rand_tensor(&[n, c, h, w], 60 + i as u64), rand_tensor(&[o, c, k, k], 70 + i as u64));
        let (xv, wv) = (Var::from_tensor(&x).unwrap(), Var::from_tensor(&wt).unwrap());
        let r = {
            let y = reference::conv2d(&reference::pad_hw(&x, pad, 0.0).unwrap(), &wt, stride, 0).unwrap();
            rand_tensor(y.dims(), 80 + i as u64)
        };
        let grads_of = |y: Tensor| {
            let g = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            (g.get(xv.as_tensor()).unwrap().clone(), g.get(wv.as_tensor()).unwrap().clone())
        };
        let ours = conv2d_padded(xv.as_tensor(), wv.as_tensor(), stride, pad).unwrap();
        let want = reference::conv2d(
            &reference::pad_hw(xv.as_tensor(), pad, 0.0).unwrap(),
            wv.as_tensor(),
            stride,
            0,
        )
        .unwrap();
        assert_close(&format!("conv {pad:?} value"), &ours, &want, 1e-5);
        let ((gx, gw), (wx, ww)) = (grads_of(ours), grads_of(want));
        assert_close(&format!("conv {pad:?} dx"), &gx, &wx, 1e-5);
        assert_close(&format!("conv {pad:?} dw"), &gw, &ww, 1e-5);
    }
    // Max-pool 3x3/2 with (0, 1), as the reference stem's; values 1e-2 apart (no ties).
    let x = {
        let data: Vec<f32> = (0..2 * 3 * 8 * 9).map(|i| ((i * 37) % 211) as f32 * 1e-2).collect();
        Tensor::from_vec(data, (2, 3, 8, 9), &Device::Cpu).unwrap()
    };
    let xv = Var::from_tensor(&x).unwrap();
    let ours = max_pool2d_padded(xv.as_tensor(), 3, 2, (0, 1)).unwrap();
    let want = reference::max_pool2d(
        &reference::pad_hw(xv.as_tensor(), (0, 1), f32::NEG_INFINITY).unwrap(),
        3,
        2,
        0,
    )
    .unwrap();
    assert_close("pool (0, 1) value", &ours, &want, 0.0);
    let r = rand_tensor(want.dims(), 90);
    let grad = |y: Tensor| {
        (y * &r).unwrap().sum_all().unwrap().backward().unwrap().get(xv.as_tensor()).unwrap().clone()
    };
    assert_close("pool (0, 1) dx", &grad(ours), &grad(want), 1e-6);
}

#[test]
fn relu_backward_matches_finite_differences() {
    // b = a/2 keeps a + b off zero too.
    let a = off_zero(&[2, 3, 4, 5], 41);
    let b = (&a * 0.5).unwrap();
    check_finite_differences("relu", &|t: &[Tensor]| relu(&t[0]), std::slice::from_ref(&a), 0, 1e-2);
    let f = |t: &[Tensor]| add_relu(&t[0], &t[1]);
    check_finite_differences("add_relu da", &f, &[a.clone(), b.clone()], 0, 1e-2);
    check_finite_differences("add_relu db", &f, &[a, b], 1, 1e-2);
}

#[test]
fn conv_with_threads_taking_whole_blocks_matches_stock_candle() {
    // On a two-thread pool, five one-image blocks and seven images in two-image blocks (the last
    // one partial): each thread takes whole blocks, with per-block weight gradients (the path the
    // early ResNet layers take on two cores).
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let p = 1;
    for (case, &(n, block, h, s)) in
        [(5usize, 1usize, 7usize, 1usize), (5, 1, 7, 2), (5, 1, 6, 1), (7, 2, 7, 1), (7, 2, 7, 2)]
            .iter()
            .enumerate()
    {
        let x = Var::from_tensor(&rand_tensor(&[n, 3, h, h], 40 + case as u64)).unwrap();
        let w = Var::from_tensor(&rand_tensor(&[4, 3, 3, 3], 50 + case as u64)).unwrap();
        let grads_of = |out: Tensor| {
            let r = rand_tensor(out.dims(), 9);
            let g = (&out * r).unwrap().sum_all().unwrap().backward().unwrap();
            (out, g.get(x.as_tensor()).unwrap().clone(), g.get(w.as_tensor()).unwrap().clone())
        };
        let want = grads_of(reference::conv2d(x.as_tensor(), w.as_tensor(), s, p).unwrap());
        let got = pool.install(|| {
            grads_of(super::conv::conv2d_blocked(x.as_tensor(), w.as_tensor(), s, p, block).unwrap())
        });
        assert_close(&format!("by-block conv y, case {case}"), &got.0, &want.0, 1e-5);
        assert_close(&format!("by-block conv dx, case {case}"), &got.1, &want.1, 1e-4);
        assert_close(&format!("by-block conv dw, case {case}"), &got.2, &want.2, 1e-4);
    }
}

#[test]
fn fused_batch_norm_relu_matches_batch_norm_then_relu() {
    for dims in [&[4, 3, 5, 6][..], &[6, 5][..]] {
        let (x, g, b) = bn_inputs(dims);
        let vars: Vec<Var> = [&x, &g, &b].iter().map(|t| Var::from_tensor(t).unwrap()).collect();
        let r = rand_tensor(dims, 22);
        let [x_, g_, b_] = [0, 1, 2].map(|i| vars[i].as_tensor().clone());
        let run = |y: Tensor| {
            let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let mut out = vec![y];
            out.extend(vars.iter().map(|v| grads.get(v.as_tensor()).unwrap().clone()));
            out
        };
        let (fused_y, fused_mean, fused_var) = batch_norm_relu_train(&x_, &g_, &b_, 1e-5).unwrap();
        let (ry, rmean, rvar) = reference::batch_norm_train(&x_, &g_, &b_, 1e-5).unwrap();
        assert_close("bn+relu mean", &fused_mean, &rmean, 1e-5);
        assert_close("bn+relu var", &fused_var, &rvar, 1e-5);
        let fused = run(fused_y);
        let slow = run(ry.relu().unwrap());
        let clamped = values(&fused[0]).iter().filter(|&&v| v == 0.0).count();
        assert!(clamped > 0 && clamped < fused[0].elem_count(), "the ReLU clamps some outputs: {clamped}");
        for (name, (f, s)) in ["y", "dx", "dgamma", "dbeta"].iter().zip(fused.iter().zip(&slow)) {
            assert_close(&format!("bn+relu {name} {dims:?}"), f, s, 1e-4);
        }
    }
}

#[test]
fn shapes_past_32_bit_indexing_are_refused_with_what_went_over() {
    super::check_32bit_indexing("conv2d", "im2col", &[1, 3, 8, 8], u32::MAX as usize).unwrap();
    let e = super::check_32bit_indexing("conv2d", "im2col", &[1024, 3, 256, 256], 1 << 33).unwrap_err();
    let e = e.to_string();
    assert!(e.contains("conv2d on input [1024, 3, 256, 256]") && e.contains("im2col has 8589934592"), "{e}");
}
