//! Benchmark of one SIE-shaped training step of a ResNet-18 on the CPU: two views of `--batch`
//! images each through the backbone (BatchNorm in training mode), an MSE between the two
//! 512-d representations, backward, Adam. "images/s" counts the images of both views.
//!
//! `--impl fast` uses `trainer::ops` (custom CPU ops, fused Adam); `--impl stock` the same network
//! on `trainer::ops::reference` (stock candle ops) and the tensor-op Adam. `--ops` times each op
//! alone at ResNet-18 shapes instead, in CPU time (run it with one thread for the work each op
//! costs, unaffected by other load). bench/train_step.sh runs this beside the PyTorch equivalent
//! (bench/train_step.py), which builds the identical network.
//!
//! The network is the reference trainer's ResNet-18 as `trainer::backbone` builds it: zero padding
//! (2, 3) before the 7x7/2 stem conv, (0, 1) before the 3x3/2 max-pool and before each stride-2
//! 3x3 conv (the second of its block), and a 1x1 conv + BN shortcut in every stage's first block.

use std::time::Instant;

use anyhow::Result;
use candle_core::{Device, Tensor, Var, D};
use clap::{Parser, ValueEnum};
use trainer::ops::{self, adam::Adam, adam::AdamConfig, reference};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Impl {
    Fast,
    Stock,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum, default_value = "fast")]
    r#impl: Impl,
    /// Images per view (a step processes two views).
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 64)]
    resolution: usize,
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    #[arg(long, default_value_t = 7)]
    steps: usize,
    /// Time each op alone (forward, forward + backward) instead of the step.
    #[arg(long)]
    ops: bool,
}

/// The op implementations a network runs on.
#[derive(Clone, Copy)]
struct Kit(Impl);

impl Kit {
    fn conv(self, x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> candle_core::Result<Tensor> {
        match self.0 {
            Impl::Fast => ops::conv2d(x, w, stride, pad),
            Impl::Stock => reference::conv2d(x, w, stride, pad),
        }
    }

    fn pool(self, x: &Tensor, k: usize, stride: usize, pad: usize) -> candle_core::Result<Tensor> {
        match self.0 {
            Impl::Fast => ops::max_pool2d(x, k, stride, pad),
            Impl::Stock => reference::max_pool2d(x, k, stride, pad),
        }
    }

    fn relu(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self.0 {
            Impl::Fast => ops::relu(x),
            Impl::Stock => x.relu(),
        }
    }

    fn add_relu(self, a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
        match self.0 {
            Impl::Fast => ops::add_relu(a, b),
            Impl::Stock => (a + b)?.relu(),
        }
    }

    fn bn(self, x: &Tensor, bn: &Bn) -> candle_core::Result<Tensor> {
        let (g, b) = (bn.gamma.as_tensor(), bn.beta.as_tensor());
        Ok(match self.0 {
            Impl::Fast => ops::batch_norm_train(x, g, b, 1e-5)?.0,
            Impl::Stock => reference::batch_norm_train(x, g, b, 1e-5)?.0,
        })
    }
}

/// Parameters with their names, as the optimiser wants them.
#[derive(Default)]
struct Params(Vec<(String, Var)>);

impl Params {
    fn conv(&mut self, name: &str, o: usize, c: usize, k: usize) -> Result<Var> {
        let std = (2.0 / (o * k * k) as f64).sqrt();
        let w = Var::randn(0f32, std as f32, (o, c, k, k), &Device::Cpu)?;
        self.0.push((format!("{name}.weight"), w.clone()));
        Ok(w)
    }

    fn bn(&mut self, name: &str, c: usize) -> Result<Bn> {
        let gamma = Var::ones(c, candle_core::DType::F32, &Device::Cpu)?;
        let beta = Var::zeros(c, candle_core::DType::F32, &Device::Cpu)?;
        self.0.push((format!("{name}.weight"), gamma.clone()));
        self.0.push((format!("{name}.bias"), beta.clone()));
        Ok(Bn { gamma, beta })
    }
}

struct Bn {
    gamma: Var,
    beta: Var,
}

struct Block {
    conv1: Var,
    bn1: Bn,
    conv2: Var,
    bn2: Bn,
    shortcut: Option<(Var, Bn)>,
    stride: usize,
}

struct ResNet18 {
    stem: Var,
    bn: Bn,
    blocks: Vec<Block>,
}

fn pad_hw(x: &Tensor, before: usize, after: usize) -> candle_core::Result<Tensor> {
    x.pad_with_zeros(2, before, after)?.pad_with_zeros(3, before, after)
}

impl ResNet18 {
    fn new(p: &mut Params) -> Result<Self> {
        let stem = p.conv("conv1", 64, 3, 7)?;
        let bn = p.bn("bn1", 64)?;
        let mut blocks = Vec::new();
        let mut inp = 64;
        for (stage, width) in [64, 128, 256, 512].into_iter().enumerate() {
            for b in 0..2 {
                let name = format!("layer{}.{b}", stage + 1);
                let stride = if b == 0 && stage > 0 { 2 } else { 1 };
                blocks.push(Block {
                    conv1: p.conv(&format!("{name}.conv1"), width, inp, 3)?,
                    bn1: p.bn(&format!("{name}.bn1"), width)?,
                    conv2: p.conv(&format!("{name}.conv2"), width, width, 3)?,
                    bn2: p.bn(&format!("{name}.bn2"), width)?,
                    shortcut: if b == 0 {
                        Some((
                            p.conv(&format!("{name}.downsample.0"), width, inp, 1)?,
                            p.bn(&format!("{name}.downsample.1"), width)?,
                        ))
                    } else {
                        None
                    },
                    stride,
                });
                inp = width;
            }
        }
        Ok(Self { stem, bn, blocks })
    }

    fn forward(&self, kit: Kit, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = kit.conv(&pad_hw(x, 2, 3)?, self.stem.as_tensor(), 2, 0)?;
        let h = kit.relu(&kit.bn(&h, &self.bn)?)?;
        let mut h = kit.pool(&pad_hw(&h, 0, 1)?, 3, 2, 0)?;
        for b in &self.blocks {
            let r = kit.relu(&kit.bn(&kit.conv(&h, b.conv1.as_tensor(), 1, 1)?, &b.bn1)?)?;
            let r = if b.stride == 1 {
                kit.conv(&r, b.conv2.as_tensor(), 1, 1)?
            } else {
                kit.conv(&pad_hw(&r, 0, 1)?, b.conv2.as_tensor(), b.stride, 0)?
            };
            let r = kit.bn(&r, &b.bn2)?;
            let s = match &b.shortcut {
                Some((w, bn)) => kit.bn(&kit.conv(&h, w.as_tensor(), b.stride, 0)?, bn)?,
                None => h.clone(),
            };
            h = kit.add_relu(&r, &s)?;
        }
        h.mean(D::Minus1)?.mean(D::Minus1)
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// CPU time all threads of this process have run, in seconds (from the scheduler's per-thread
/// nanosecond counters): with other processes competing for the cores, CPU time varies far less
/// than wall time.
fn cpu_seconds() -> f64 {
    let tasks = std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten();
    let ns: u64 = tasks
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
        .sum();
    ns as f64 * 1e-9
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kib.unwrap_or(f64::NAN) / 1024.0
}

fn bench_step(args: &Args) -> Result<()> {
    let kit = Kit(args.r#impl);
    let mut params = Params::default();
    let net = ResNet18::new(&mut params)?;
    let n_params: usize = params.0.iter().map(|(_, v)| v.elem_count()).sum();
    let config = AdamConfig::default();
    let mut adam = match args.r#impl {
        Impl::Fast => Adam::new(params.0, config)?,
        Impl::Stock => Adam::new_tensor_ops(params.0, config)?,
    };
    let shape = (args.batch, 3, args.resolution, args.resolution);
    let (x1, x2) =
        (Tensor::randn(0f32, 1.0, shape, &Device::Cpu)?, Tensor::randn(0f32, 1.0, shape, &Device::Cpu)?);
    let (mut times, mut cpu_times) = (Vec::new(), Vec::new());
    for step in 0..args.warmup + args.steps {
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        let (r1, r2) = (net.forward(kit, &x1)?, net.forward(kit, &x2)?);
        let loss = (r1 - r2)?.sqr()?.mean_all()?;
        let forward = start.elapsed().as_secs_f64();
        let grads = loss.backward()?;
        let backward = start.elapsed().as_secs_f64() - forward;
        adam.step(&grads)?;
        drop(grads);
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "step {step}: {secs:.3} s (forward {forward:.3}, backward {backward:.3}, adam {:.3}), loss {:.5}",
            secs - forward - backward,
            loss.to_scalar::<f32>()?
        );
        if step >= args.warmup {
            times.push(secs);
            cpu_times.push(cpu_seconds() - cpu_start);
        }
    }
    let med = median(times);
    println!(
        "candle-{:?} resnet18 {}px batch {}x2 params {n_params}: median {med:.3} s/step, {:.1} images/s, cpu {:.2} s/step, peak RSS {:.0} MiB, threads {}",
        args.r#impl,
        args.resolution,
        args.batch,
        2.0 * args.batch as f64 / med,
        median(cpu_times),
        peak_rss_mib(),
        rayon::current_num_threads()
    );
    Ok(())
}

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

fn bench_ops(batch: usize) -> Result<()> {
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
        let fast = time_op(&inputs, &|t| ops::conv2d(&t[0], &t[1], s, p));
        report(name, stock, fast);
    }
    let x = [randn(&[batch, 64, 33, 33])?];
    report(
        "max-pool 3x3/2",
        time_op(&x, &|t| reference::max_pool2d(&t[0], 3, 2, 0)),
        time_op(&x, &|t| ops::max_pool2d(&t[0], 3, 2, 0)),
    );
    let bn_in = [randn(&[batch, 64, 32, 32])?, randn(&[64])?, randn(&[64])?];
    report(
        "batch norm 64ch",
        time_op(&bn_in, &|t| Ok(reference::batch_norm_train(&t[0], &t[1], &t[2], 1e-5)?.0)),
        time_op(&bn_in, &|t| Ok(ops::batch_norm_train(&t[0], &t[1], &t[2], 1e-5)?.0)),
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

fn main() -> Result<()> {
    let args = Args::parse();
    if args.ops {
        bench_ops(args.batch)
    } else {
        bench_step(&args)
    }
}
