//! Benchmark of the real training step: the model `train` builds (backbone, the method's heads
//! and predictor, its loss, the online evaluator) and `train`'s Adam, through
//! [`trainer::step::Stepper::train_step`], on a synthetic batch of the given shape. "images/s" counts the
//! images of both views. `bench/train_step.sh` runs it beside `bench/train_step.py`, the PyTorch
//! implementation of the reference model.
//!
//! The model is described by `train`'s own flags after `--`:
//! `bench_step --steps 7 -- --arch resnet18 --resolution 64 --batch-size 32`.
//!
//! - `--dump DIR` also writes what the PyTorch side needs to prove it runs the same computation:
//!   the initial weights, the batch, the first step's losses and gradients, and the weights and
//!   losses after one Adam step (see [`dump`]).
//! - `--ops` times each custom op alone against stock candle instead (see [`ops`]).

mod dump;
mod measure;
mod ops;

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use model::SslModel;
use trainer::config::TrainArgs;
use trainer::step::Stepper;
use trainer::train::optimizer;

use measure::{cpu_seconds, median, peak_rss_mib};

#[derive(Parser)]
#[command(about = "Times train's real step on a synthetic batch; train's flags go after --")]
struct Args {
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    #[arg(long, default_value_t = 7)]
    steps: usize,
    /// Classes of the online classifier (the reference's 55).
    #[arg(long, default_value_t = 55)]
    num_classes: usize,
    /// Write the initial weights, the batch, gradients and losses for bench/train_step.py --check.
    #[arg(long)]
    dump: Option<std::path::PathBuf>,
    /// Time each op alone (forward, forward + backward) instead of the step.
    #[arg(long)]
    ops: bool,
    /// `train`'s flags (`--data` and `--exp-dir` are not needed).
    #[arg(last = true)]
    train_flags: Vec<String>,
}

/// `train`'s arguments from the flags after `--`.
fn train_args(flags: &[String]) -> Result<TrainArgs> {
    let mut argv: Vec<String> = ["train", "--data", "-", "--exp-dir", "-"].map(String::from).to_vec();
    argv.extend(flags.iter().cloned());
    let args = TrainArgs::try_parse_from(argv).context("train flags after --")?;
    args.validate()?;
    Ok(args)
}

fn main() -> std::process::ExitCode {
    // SAFETY: first statement of main: no other thread exists yet.
    unsafe { kernels::prefer_single_candle_thread() };
    kernels::keep_freed_memory();
    trainer::exit_code(run())
}

fn run() -> Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.steps >= 1, "--steps must be at least 1");
    let targs = train_args(&args.train_flags)?;
    if args.ops {
        return ops::bench_ops(targs.batch_size);
    }
    let cfg = targs.model_config(args.num_classes)?;
    let device = model::config::open_device(targs.device)?;
    let model = SslModel::new(&cfg, &device, targs.seed)?.with_kernels(targs.kernels());
    let mut adam = optimizer(&model, &targs)?;
    let lc = targs.loss_config();
    let (n, res) = (targs.batch_size, targs.resolution as usize);
    let batch = model::synthetic::batch(n, res, cfg.latent_dim(), args.num_classes, targs.seed)?
        .to_device(&device)?;
    if let Some(dir) = &args.dump {
        return dump::write(dir, &model, &mut adam, &batch, &lc);
    }
    let n_params: usize = model.params.params().iter().map(|(_, v)| v.elem_count()).sum();
    let (mut times, mut cpu) = (Vec::new(), Vec::new());
    let stepper = Stepper::new(&model)?;
    for step in 0..args.warmup + args.steps {
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        let stats = stepper.train_step(&model, &mut adam, &batch, &lc, false)?;
        // A GPU runs the step asynchronously: the time is the kernels', not their launches'.
        device.synchronize()?;
        let secs = start.elapsed().as_secs_f64();
        eprintln!("step {step}: {secs:.3} s, loss {:.5}", stats.value("loss")?);
        if step >= args.warmup {
            times.push(secs);
            cpu.push(cpu_seconds() - cpu_start);
        }
    }
    let med = median(times);
    println!(
        "candle-{} {} {} {:?} {:?} {res}px batch {n}x2 mlp {} params {n_params}: median {med:.3} s/step, \
         {:.1} images/s, cpu {:.2} s/step, peak RSS {:.0} MiB, threads {}",
        env!("CARGO_PKG_VERSION"),
        targs.device,
        serde_json::to_value(targs.precision)?.as_str().unwrap_or("?"),
        cfg.experience,
        cfg.arch,
        cfg.mlp.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-"),
        2.0 * n as f64 / med,
        median(cpu),
        peak_rss_mib(),
        rayon::current_num_threads(),
    );
    Ok(())
}
