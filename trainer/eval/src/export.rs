//! `eval export`: what the reference's evaluation scripts read, so that a model trained here can
//! be scored by them (and their numbers compared with ours):
//!
//! - `pred_eval/representations_{train,val}.npy` (float32, rows x d): the backbone output the
//!   reference's `eval_prediction_errors.py` saves, `net(x)[:, -equi_dims_reprs:]`: the
//!   equivariant part for split methods (the equivariant projector's input), the whole
//!   representation otherwise;
//! - `pred_eval/embeddings_{train,val}.npy` (float32): `projector_equi` of those (methods with an
//!   equivariant projector only);
//! - `data/all_latents_{train,val}.npy` (float64, the same rows, every latent value);
//! - `data/{train,val}_{images,labels}.npy`: the dataset's split manifests, which the scripts read
//!   from `./data/`;
//! - `model.safetensors`: the whole model under the reference's DistributedDataParallel
//!   state-dict names, `module.backbone.*`, `module.projector_inv.*`, `module.projector_equi.*`,
//!   `module.predictor.*`, `module.evaluator.*`, with every BatchNorm's `num_batches_tracked`.
//!
//! Rows are the views of every object in manifest order, views 0..V-1, as the scripts index
//! them (`idx // V * V` is an object's view 0; the scripts hard-code V = 50).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use candle_core::{DType, Device, Tensor};

use super::checkpoint_model::CheckpointModel;
use super::features::{FeatureCache, SplitFeatures};
use model::config::{Arch, Hypernetwork, PredictorType};

/// The one-line conversion to the `model.pth` the reference's scripts `torch.load`.
pub const TO_MODEL_PTH: &str = "python -c \"import sys, torch, safetensors.torch as st; \
torch.save({'model': st.load_file(sys.argv[1] + '/model.safetensors')}, sys.argv[1] + '/model.pth')\" DIR";

/// What was written.
#[derive(Debug)]
pub struct Exported {
    pub files: Vec<PathBuf>,
    pub views_per_object: usize,
    /// What the reference's scripts cannot use of this export, for the user to read.
    pub warnings: Vec<String>,
}

/// Why the reference's scripts would misread this model, if they would.
fn reference_warnings(model: &CheckpointModel) -> Vec<String> {
    let config = &model.meta.model;
    let mut out = Vec::new();
    if config.arch != Arch::Resnet18 {
        out.push(format!(
            "the backbone is {:?}, not the reference's ResNet-18 (`--arch resnet18`): its scripts build \
             their own resnet18() and would keep random or mismatched backbone weights, so their probes \
             (eval_classification.py, eval_angle_prediction.py, eval_color_prediction.py) would score a \
             wrong network; the embeddings for eval_prediction_errors.py and eval_MRR_Hk.py are still \
             right, as long as pred_eval/ holds them (the scripts then skip extraction)",
            config.arch
        ));
    }
    let plain_hypernetwork = config.predictor_type == PredictorType::Hypernetwork
        && config.hypernetwork == Hypernetwork::Linear
        && config.predictor.is_empty()
        && !config.bias_pred
        && !config.bias_hypernet
        && config.latent_dim() == 4;
    if model.has_predictor() && !plain_hypernetwork {
        out.push(
            "the predictor is not the plain 4-input linear hypernetwork that eval_prediction_errors.py and \
             eval_MRR_Hk.py build (ParametrizedNet(emb, 4)): they would not load it and would score a random \
             predictor; `eval predictor` scores the real one"
                .to_string(),
        );
    }
    out
}

/// Every object of the split has views 0..V-1 with one V: the reference's row arithmetic.
fn views_per_object(split: &SplitFeatures, name: &str) -> Result<usize> {
    let index = &split.index;
    ensure!(!index.objects.is_empty(), "the {name} split has no objects");
    let v = index.object_rows(0).len();
    for object in 0..index.objects.len() {
        let rows = index.object_rows(object);
        let views: Vec<usize> = rows.map(|r| index.views[r]).collect();
        ensure!(
            views.len() == v && views.iter().enumerate().all(|(i, &k)| i == k),
            "{}: views {views:?}, but the reference's scripts need views 0..{} of every object",
            index.objects[object],
            v.saturating_sub(1)
        );
    }
    Ok(v)
}

/// Writes a 2-d tensor as a C-ordered `.npy` of `dtype` (F32 or F64), atomically, streaming the body.
fn write_npy(path: &Path, t: &Tensor, dtype: DType) -> Result<()> {
    let (rows, cols) = t.dims2()?;
    let t = t.to_dtype(dtype)?.contiguous()?;
    let write = |w: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        let err = |e: candle_core::Error| std::io::Error::other(e.to_string());
        match dtype {
            DType::F32 => {
                w.write_all(&dataset::npy::npy_bytes("<f4", &[rows, cols], &[]))?;
                for v in t.flatten_all().map_err(err)?.to_vec1::<f32>().map_err(err)? {
                    w.write_all(&v.to_le_bytes())?;
                }
            }
            _ => {
                w.write_all(&dataset::npy::npy_bytes("<f8", &[rows, cols], &[]))?;
                for v in t.flatten_all().map_err(err)?.to_vec1::<f64>().map_err(err)? {
                    w.write_all(&v.to_le_bytes())?;
                }
            }
        }
        Ok(())
    };
    dataset::atomic::write_with(path, write).with_context(|| format!("{}: cannot write", path.display()))
}

/// The model's state dict under the reference's names (`module.` + ours), with
/// `num_batches_tracked` for every BatchNorm: two train-mode passes per step (each view through
/// the backbone and projectors on its own), as PyTorch counts them in the reference's loop.
pub fn reference_state_dict(model: &CheckpointModel) -> Result<Vec<(String, Tensor)>> {
    let mut state: Vec<(String, Tensor)> =
        model.model.params.state_dict().into_iter().map(|(k, v)| (format!("module.{k}"), v)).collect();
    let tracked: Vec<(String, Tensor)> = state
        .iter()
        .filter_map(|(k, _)| k.strip_suffix(".running_mean"))
        .map(|bn| {
            Ok((
                format!("{bn}.num_batches_tracked"),
                Tensor::new(2 * model.meta.global_step as i64, &Device::Cpu)?,
            ))
        })
        .collect::<Result<_>>()?;
    state.extend(tracked);
    state.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(state)
}

/// Writes the export of `model` with `cache` (its features of `data`) into `out`.
pub fn export(model: &CheckpointModel, cache: &FeatureCache, data: &Path, out: &Path) -> Result<Exported> {
    let mut files = Vec::new();
    let mut views = None;
    for (name, split) in [("train", &cache.train), ("val", &cache.val)] {
        let v = views_per_object(split, name)?;
        if let Some(other) = views {
            ensure!(
                other == v,
                "train objects have {other} views, val objects {v}: the scripts need one count"
            );
        }
        views = Some(v);
        let rep_dim = split.rep_dim()?;
        let equi = cache.equi_dim;
        let reps = if model.meta.model.experience.is_split() && equi > 0 && equi < rep_dim {
            split.reps.narrow(1, rep_dim - equi, equi)?
        } else {
            split.reps.clone()
        };
        let path = out.join(format!("pred_eval/representations_{name}.npy"));
        write_npy(&path, &reps, DType::F32)?;
        files.push(path);
        if let Some(e) = &split.equi_embeddings {
            let path = out.join(format!("pred_eval/embeddings_{name}.npy"));
            write_npy(&path, e, DType::F32)?;
            files.push(path);
        }
        let latents = match &split.translations {
            Some(t) => Tensor::cat(&[&split.latents.to_dtype(DType::F64)?, &t.to_dtype(DType::F64)?], 1)?,
            None => split.latents.clone(),
        };
        let path = out.join(format!("data/all_latents_{name}.npy"));
        write_npy(&path, &latents, DType::F64)?;
        files.push(path);
        for file in [dataset::manifest::images_path(data, name), dataset::manifest::labels_path(data, name)] {
            let file_name = file.file_name().context("a split manifest without a file name")?;
            let target = out.join("data").join(file_name);
            let bytes = std::fs::read(&file).with_context(|| format!("{}: cannot read", file.display()))?;
            dataset::atomic::write_bytes(&target, &bytes)
                .with_context(|| format!("{}: cannot write", target.display()))?;
            files.push(target);
        }
    }
    let state = reference_state_dict(model)?;
    let mut info = std::collections::HashMap::new();
    info.insert("experience".to_string(), format!("{:?}", model.meta.model.experience));
    info.insert("to_model_pth".to_string(), TO_MODEL_PTH.to_string());
    let bytes = safetensors::tensor::serialize(state.iter().map(|(k, v)| (k.as_str(), v)), Some(info))?;
    let path = out.join("model.safetensors");
    dataset::atomic::write_bytes(&path, &bytes)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    files.push(path);
    Ok(Exported { files, views_per_object: views.unwrap_or(0), warnings: reference_warnings(model) })
}
