//! `bench_step --dump DIR`: what `bench/train_step.py --check DIR` needs to run the same step in
//! PyTorch and compare, all under our (= the reference's) state-dict names:
//!
//! - `init.safetensors`: every parameter and batch-norm buffer before the step (the residual
//!   branches' zero-initialised last BN scales set to 1 first, see
//!   [`model::synthetic::wake_residual_branches`]);
//! - `batch.safetensors`: `x1`, `x2` (N, 3, R, R), `latent` (N, L), `labels` (N,) i64;
//! - `grads.safetensors`: the gradient of the step's total loss for every parameter;
//! - `after.safetensors`: parameters and buffers after one Adam step;
//! - `losses.json`: the method's loss and the online evaluator's, at the first step and again on
//!   the same batch after the update.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use candle_core::{DType, Tensor};
use model::loss::LossConfig;
use model::optim::Adam;
use model::{Batch, SslModel};
use trainer::step::Stepper;

/// Deep copies (Adam updates the variables' storage in place).
fn snapshot(model: &SslModel) -> Result<HashMap<String, Tensor>> {
    model.params.state_dict().into_iter().map(|(k, v)| Ok((k, v.copy()?))).collect()
}

fn save(dir: &Path, name: &str, tensors: &HashMap<String, Tensor>) -> Result<()> {
    let path = dir.join(name);
    candle_core::safetensors::save(tensors, &path).with_context(|| format!("writing {}", path.display()))
}

pub fn write(dir: &Path, model: &SslModel, adam: &mut Adam, batch: &Batch, lc: &LossConfig) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    model::synthetic::wake_residual_branches(model)?;
    save(dir, "init.safetensors", &snapshot(model)?)?;
    let batch_tensors = HashMap::from([
        ("x1".to_string(), batch.x1.clone()),
        ("x2".to_string(), batch.x2.clone()),
        ("latent".to_string(), batch.latent.clone()),
        ("labels".to_string(), batch.labels.to_dtype(DType::I64)?),
    ]);
    save(dir, "batch.safetensors", &batch_tensors)?;

    // The gradients as `train` computes them (views in parallel on two or more threads).
    let (out, grads) = Stepper::new(model)?.gradients(model, batch, lc, false)?;
    let mut grad_tensors = HashMap::new();
    for (name, var) in model.params.params() {
        if let Some(g) = grads.get(var.as_tensor()) {
            grad_tensors.insert(name, g.copy()?);
        }
    }
    save(dir, "grads.safetensors", &grad_tensors)?;
    adam.step(&grads)?;
    save(dir, "after.safetensors", &snapshot(model)?)?;
    let again = model.forward_train(batch, lc, false)?;
    let losses = serde_json::json!({
        "step0": { "ssl": out.stats.value("loss")?, "eval": out.stats.value("eval_loss")? },
        "step1": { "ssl": again.stats.value("loss")?, "eval": again.stats.value("eval_loss")? },
    });
    let path = dir.join("losses.json");
    std::fs::write(&path, serde_json::to_string_pretty(&losses)?)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "wrote {} ({} gradients; loss {:.6} + evaluator {:.6})",
        dir.display(),
        grad_tensors.len(),
        out.stats.value("loss")?,
        out.stats.value("eval_loss")?
    );
    Ok(())
}
