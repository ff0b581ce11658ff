//! One optimisation step as `train` runs it (and `bench_step` times it): the forward pass (batch
//! norm in training mode), backward, Adam.
//!
//! On a CPU with two or more threads the two views go through the backbone at the same time,
//! one per thread, forward and backward (each view's graph is separate until the heads). The
//! ops' own parallel loops split each op across the threads, but a small network's ops are
//! short, so with two threads about a third of the step ran on one core while the other waited
//! (residual sums, small ops, the tails of each loop). Only the heads and the loss, a few
//! per cent of the step, still run op by op. Results are the same numbers as the plain
//! forward-backward (`view_parallel_step_equals_the_sequential_one`).

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use model::loss::LossConfig;
use model::model::{Batch, SslModel, StepOutput, StepStats};
use model::nn::Mode;
use model::optim::Adam;

/// What a step runs on: the view pools (see the module docs), made once for a run.
pub struct Stepper {
    pools: Option<[rayon::ThreadPool; 2]>,
}

impl Stepper {
    /// A stepper for `model`'s steps run from the current rayon pool: on the CPU, alone, with two
    /// or more threads, one pool per view, each with half of them (at least one). Inside a view
    /// the ops then see their share of the threads: with two in all, one each, and they take
    /// their one-thread paths (a whole-batch gemm instead of partial weight gradients per block
    /// summed at the end, no loop split in two). Otherwise no pools (a GPU, data-parallel ranks).
    pub fn new(model: &SslModel) -> Result<Self> {
        let alone_on_cpu = model.params.device().is_cpu() && model.group.communicator().is_none();
        if !alone_on_cpu || rayon::current_num_threads() < 2 {
            return Ok(Self { pools: None });
        }
        let threads = rayon::current_num_threads() / 2;
        let pool = |view: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(move |i| format!("view{view}-{i}"))
                .build()
                .map_err(candle_core::Error::wrap)
        };
        Ok(Self { pools: Some([pool(1)?, pool(2)?]) })
    }

    /// Forward, backward and one Adam step; returns the step's statistics.
    pub fn train_step(
        &self,
        model: &SslModel,
        adam: &mut Adam,
        batch: &Batch,
        lc: &LossConfig,
        with_stats: bool,
    ) -> Result<StepStats> {
        train_step(self, model, adam, batch, lc, with_stats)
    }

    /// The step's forward pass and the gradients of its total loss, views in parallel where
    /// that pays (see the module docs).
    pub fn gradients(
        &self,
        model: &SslModel,
        batch: &Batch,
        lc: &LossConfig,
        with_stats: bool,
    ) -> Result<(StepOutput, GradStore)> {
        match &self.pools {
            Some(pools) if views_in_parallel(model, batch) => {
                view_parallel(pools, model, batch, lc, with_stats)
            }
            _ => {
                let out = model.forward_train(batch, lc, with_stats)?;
                let grads = out.total.backward()?;
                Ok((out, grads))
            }
        }
    }
}

fn train_step(
    stepper: &Stepper,
    model: &SslModel,
    adam: &mut Adam,
    batch: &Batch,
    lc: &LossConfig,
    with_stats: bool,
) -> Result<StepStats> {
    // On one of rayon's workers: the ops' parallel loops then start from inside the pool
    // instead of handing each loop over from this thread and sleeping until it is done (a
    // wake-up and a sleep per op, and scratch buffers split across two threads: the main
    // bench shape on one thread went from 1.42 to 0.92 s/step with this).
    rayon::scope(|_| {
        let (out, mut grads) = stepper.gradients(model, batch, lc, with_stats)?;
        let vars: Vec<_> = model.params.params().into_iter().map(|(_, v)| v).collect();
        model.group.average_gradients(&mut grads, &vars)?;
        adam.step(&grads)?;
        Ok(out.stats)
    })
}

/// [`Stepper::gradients`] with the two views' backbones on the two pools at once.
fn view_parallel(
    [pool1, pool2]: &[rayon::ThreadPool; 2],
    model: &SslModel,
    batch: &Batch,
    lc: &LossConfig,
    with_stats: bool,
) -> Result<(StepOutput, GradStore)> {
    // View 2's batch-norm running statistics are updated after view 1's, as in the sequential
    // pass (the momentum update does not commute).
    let view2 = || {
        let pass = model.pass(Mode::Train).deferring();
        (model.backbone.forward(&batch.x2, &pass), pass.take_deferred())
    };
    let (r1, (r2, view2_updates)) = rayon::join(
        || pool1.install(|| model.representation(&batch.x1, Mode::Train)),
        || pool2.install(view2),
    );
    let (r1, r2) = (r1?, r2?);
    view2_updates.apply()?;
    // The heads see the representations as leaves, so that their backward stops there.
    let (leaf1, leaf2) = (Var::from_tensor(&r1.detach())?, Var::from_tensor(&r2.detach())?);
    let out = model.forward_heads(leaf1.as_tensor(), leaf2.as_tensor(), batch, lc, with_stats)?;
    let mut grads = out.total.backward()?;
    let (g1, g2) = (grads.remove(leaf1.as_tensor()), grads.remove(leaf2.as_tensor()));
    let (backbone1, backbone2) =
        rayon::join(|| pool1.install(|| backward_from(&r1, g1)), || pool2.install(|| backward_from(&r2, g2)));
    // Each parameter's gradient is heads + view 1 + view 2, in that order whatever the threads
    // did (for two terms the order does not change the sum; with three it is fixed).
    for store in [backbone1?, backbone2?].into_iter().flatten() {
        grads.extend(store)?;
    }
    Ok((out, grads))
}

/// The gradients of everything `output` depends on, given the loss's gradient with respect to
/// `output` (`None`: the loss does not depend on it).
fn backward_from(output: &Tensor, grad: Option<Tensor>) -> Result<Option<GradStore>> {
    // d/dθ sum(output * g) with g held constant is g's backward through `output`'s graph.
    grad.map(|g| (output * g)?.sum_all()?.backward()).transpose()
}

/// Two views at once on a CPU. Not for data-parallel ranks: their batch norms exchange
/// statistics in a fixed order of collective calls.
fn views_in_parallel(model: &SslModel, batch: &Batch) -> bool {
    batch.x1.device().is_cpu() && model.group.communicator().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrainArgs;
    use clap::Parser;
    use model::synthetic;

    fn model() -> SslModel {
        let args = TrainArgs::parse_from([
            "train",
            "--data",
            "d",
            "--exp-dir",
            "e",
            "--arch",
            "resnet-tiny",
            "--resolution",
            "32",
            "--batch-size",
            "6",
            "--mlp",
            "16-16",
        ]);
        SslModel::new(&args.model_config(5).unwrap(), &candle_core::Device::Cpu, 3).unwrap()
    }

    /// Loss, every gradient and every batch-norm running statistic after one step.
    fn step_on(threads: usize) -> (f32, Vec<(String, Vec<f32>)>) {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let model = model();
        synthetic::wake_residual_branches(&model).unwrap();
        let batch = synthetic::batch(6, 32, 4, 5, 11).unwrap();
        let (out, grads) = pool
            .install(|| Stepper::new(&model)?.gradients(&model, &batch, &LossConfig::default(), false))
            .unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let mut values = Vec::new();
        for (name, var) in model.params.params() {
            values.push((format!("grad {name}"), flat(grads.get(var.as_tensor()).expect(&name))));
        }
        for (name, t) in model.params.state_dict() {
            if name.contains("running_") {
                values.push((name, flat(&t)));
            }
        }
        (out.total.to_scalar::<f32>().unwrap(), values)
    }

    #[test]
    fn view_parallel_step_equals_the_sequential_one() {
        // One thread: one view after the other. Two: the views at once, one thread each, so every
        // op runs its one-thread path in both and the numbers must agree to the bit.
        let (seq_loss, seq) = step_on(1);
        let (par_loss, par) = step_on(2);
        assert_eq!(seq_loss.to_bits(), par_loss.to_bits(), "loss {seq_loss} vs {par_loss}");
        assert_eq!(seq.len(), par.len());
        for ((name, a), (_, b)) in seq.iter().zip(&par) {
            assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()), "{name} differs");
        }
        assert!(seq.iter().any(|(n, v)| n.contains("running_mean") && v.iter().any(|&x| x != 0.0)));
    }
}
