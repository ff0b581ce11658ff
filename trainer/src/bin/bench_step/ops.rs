//! `bench_step --ops`: each op alone at the reference ResNet-18's 64 px shapes, stock candle
//! (`kernels::reference`) against the custom CPU ops, in CPU time (run it with one thread for
//! the work each op costs, unaffected by other load).

use anyhow::Result;
use candle_core::{Device, Tensor, Var};
use kernels::{reference, Kernels};
use model::optim::{Adam, AdamConfig};

use crate::measure::cpu_seconds;

/// Mean CPU seconds (all threads) of `f` over 8 runs after one warm-up, measured over the runs
/// together: the scheduler's counters are not precise for a single sub-millisecond call.
fn time(mut f: impl FnMut() -> candle_core::Result<()>) -> Result<f64> {
    const RUNS: usize = 8;
    f()?;
    let start = cpu_seconds();
    for _ in 0..RUNS {
        f()?;
    }
    Ok((cpu_seconds() - start) / RUNS as f64)
}

/// Forward and backward time (ms) of `op` on `inputs` (all differentiated), or why it failed.
fn time_op(
    inputs: &[Tensor],
    op: &dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>,
) -> Result<(f64, f64), String> {
    let vars: Vec<Var> = inputs.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let fwd = time(|| op(&ts).map(|_| ())).map_err(|e| e.to_string())?;
    let both = time(|| op(&ts)?.sum_all()?.backward().map(|_| ())).map_err(|e| e.to_string())?;
    Ok((fwd * 1e3, (both - fwd).max(0.0) * 1e3))
}

/// (name, x dims, w dims, stride, padding).
type ConvCase = (&'static str, [usize; 4], [usize; 4], usize, usize);

pub fn bench_ops(batch: usize) -> Result<()> {
    let ops = Kernels::default();
    let randn = |dims: &[usize]| Tensor::randn(0f32, 1.0, dims, &Device::Cpu);
    // (name, x dims, w dims, stride, padding) at the reference ResNet-18's 64 px shapes.
    let convs: [ConvCase; 6] = [
        ("stem 7x7/2", [batch, 3, 69, 69], [64, 3, 7, 7], 2, 0),
        ("layer1 3x3", [batch, 64, 16, 16], [64, 64, 3, 3], 1, 1),
        ("layer2 3x3/2", [batch, 128, 17, 17], [128, 128, 3, 3], 2, 0),
        ("layer2 1x1/2", [batch, 64, 16, 16], [128, 64, 1, 1], 2, 0),
        ("layer3 3x3", [batch, 256, 4, 4], [256, 256, 3, 3], 1, 1),
        ("layer4 3x3", [batch, 512, 2, 2], [512, 512, 3, 3], 1, 1),
    ];
    let report = |name: &str, stock: Result<(f64, f64), String>, fast: Result<(f64, f64), String>| {
        let show = |r: &Result<(f64, f64), String>| match r {
            Ok((f, b)) => format!("fwd {f:8.2} ms  bwd {b:8.2} ms"),
            Err(e) => format!("failed: {}", e.lines().next().unwrap_or("")),
        };
        let ratio = match (&stock, &fast) {
            (Ok((sf, sb)), Ok((ff, fb))) => format!("speed-up fwd {:5.1}x bwd {:5.1}x", sf / ff, sb / fb),
            _ => String::new(),
        };
        println!("{name:<16} stock: {:<36} fast: {:<36} {ratio}", show(&stock), show(&fast));
    };
    for (name, xd, wd, s, p) in convs {
        let inputs = [randn(&xd)?, randn(&wd)?];
        let stock = time_op(&inputs, &|t| reference::conv2d(&t[0], &t[1], s, p));
        let fast = time_op(&inputs, &|t| ops.conv2d(&t[0], &t[1], s, p));
        report(name, stock, fast);
    }
    let x = [randn(&[batch, 64, 33, 33])?];
    report(
        "max-pool 3x3/2",
        time_op(&x, &|t| reference::max_pool2d(&t[0], 3, 2, 0)),
        time_op(&x, &|t| ops.max_pool2d(&t[0], 3, 2, 0)),
    );
    let bn_in = [randn(&[batch, 64, 32, 32])?, randn(&[64])?, randn(&[64])?];
    report(
        "batch norm 64ch",
        time_op(&bn_in, &|t| Ok(reference::batch_norm_train(&t[0], &t[1], &t[2], 1e-5)?.0)),
        time_op(&bn_in, &|t| Ok(ops.batch_norm_train(&t[0], &t[1], &t[2], 1e-5, false)?.0)),
    );
    report(
        "bn+relu 64ch",
        time_op(&bn_in, &|t| reference::batch_norm_train(&t[0], &t[1], &t[2], 1e-5)?.0.relu()),
        time_op(&bn_in, &|t| Ok(ops.batch_norm_train(&t[0], &t[1], &t[2], 1e-5, true)?.0)),
    );
    // Adam over a ResNet-18's worth of parameters (11.2M) in 3 tensors.
    let sizes = [2_359_296usize, 4_718_592, 4_112_000];
    let mut adam_ms = Vec::new();
    for fused in [false, true] {
        let vars: Vec<(String, Var)> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Ok((format!("p{i}"), Var::randn(0f32, 1.0, n, &Device::Cpu)?)))
            .collect::<Result<_>>()?;
        let grads =
            vars.iter().map(|(_, v)| v.as_tensor().sum_all()).collect::<candle_core::Result<Vec<_>>>()?;
        let grads = grads.into_iter().reduce(|a, b| (a + b).unwrap()).unwrap().backward()?;
        let mut adam = if fused {
            Adam::new(vars, AdamConfig::default())?
        } else {
            Adam::new_tensor_ops(vars, AdamConfig::default())?
        };
        adam_ms.push(time(|| adam.step(&grads))? * 1e3);
    }
    println!(
        "adam 11.2M       stock: {:8.2} ms  fast: {:8.2} ms  speed-up {:5.1}x",
        adam_ms[0],
        adam_ms[1],
        adam_ms[0] / adam_ms[1]
    );
    Ok(())
}
