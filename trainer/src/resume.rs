//! Resuming a run from `<exp-dir>/checkpoint.safetensors`: what the checkpoint must agree on
//! with this run's flags, and the state it restores.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};
use candle_core::Tensor;
use model::checkpoint::{self, CheckpointMeta};
use model::config::ModelConfig;
use model::optim::Adam;
use model::SslModel;

use crate::config::TrainArgs;

/// Where a resumed run continues: completed epochs, optimisation steps, and the flags that
/// changed since the checkpoint (with `--allow-config-change`).
pub struct Resumed {
    pub epoch: usize,
    pub global_step: u64,
    pub changes: Vec<String>,
}

/// Without `--predictor-type` a run resumes with the predictor it was trained with: runs from
/// before the hypernetwork became every method's default (VICRegEquiMod's was the MLP).
pub fn keep_predictor_type(model_cfg: &mut ModelConfig, meta: &CheckpointMeta, args: &TrainArgs) {
    if args.predictor_type.is_none() && meta.model.experience == model_cfg.experience {
        model_cfg.predictor_type = meta.model.predictor_type;
    }
}

/// Checks that the checkpoint at `path` is of this model and these flags, then loads its model
/// and optimiser state.
pub fn restore(
    path: &Path,
    (meta, tensors): &(CheckpointMeta, HashMap<String, Tensor>),
    args: &TrainArgs,
    model: &SslModel,
    adam: &mut Adam,
) -> anyhow::Result<Resumed> {
    if meta.model != model.config {
        bail!(
            "{}: holds a checkpoint of a different model ({:?}), not of these flags ({:?}); use another --exp-dir",
            path.display(),
            meta.model,
            model.config
        );
    }
    let changes = changed_flags(meta, args);
    if !changes.is_empty() && !args.allow_config_change {
        bail!(
            "{}: this run's flags differ from the checkpoint's: {}; use another --exp-dir, or --allow-config-change to continue with the new flags",
            path.display(),
            changes.join(", ")
        );
    }
    model.params.load(tensors, "model.", true).with_context(|| format!("{}: model state", path.display()))?;
    checkpoint::restore_adam(adam, tensors, meta.adam_step)?;
    Ok(Resumed { epoch: meta.epoch, global_step: meta.global_step, changes })
}

/// The training flags that differ from the checkpoint's (none when it recorded no flags, or
/// flags this program no longer reads).
fn changed_flags(meta: &CheckpointMeta, args: &TrainArgs) -> Vec<String> {
    let previous = meta.args.as_deref().and_then(|a| serde_json::from_str::<TrainArgs>(a).ok());
    previous.map(|p| args.changed_flags(&p)).unwrap_or_default()
}
