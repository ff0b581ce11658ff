//! Checkpoints: one safetensors file, written atomically (temporary file + rename).
//!
//! Tensors: `model.<state-dict name>` (parameters and BatchNorm running statistics) and
//! `optim.<parameter name>.exp_avg` / `.exp_avg_sq` (Adam moments). Metadata (strings):
//! `format`, `epoch` (completed epochs), `global_step`, `adam_step`, and JSON `model_config`,
//! `loss_config`, `args` (the full command line configuration), and `checksum`: BLAKE3 of the
//! tensor data, verified on every read, so a damaged file is refused instead of diverging later.
//!
//! Reading one for evaluation: [`load_model`].

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};
use candle_core::{Device, Tensor};

use crate::config::{ModelConfig, PredictorType};
use crate::loss::LossConfig;
use crate::model::SslModel;
use crate::optim::Adam;

pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
pub const CONFIG_FILE: &str = "config.json";
pub const TORCHVISION_FILE: &str = "backbone_torchvision.safetensors";
pub const FORMAT: &str = "sie-candle checkpoint v1";

/// What a checkpoint says besides its tensors.
#[derive(Clone, Debug)]
pub struct CheckpointMeta {
    /// Completed epochs: training resumes at this epoch.
    pub epoch: usize,
    pub global_step: u64,
    pub adam_step: u64,
    pub model: ModelConfig,
    pub loss: LossConfig,
    /// The training program's whole configuration (its flags), as the JSON text it wrote: this
    /// crate does not know its type.
    pub args: Option<String>,
}

/// Writes the model (and optimiser) state atomically.
pub fn save(path: &Path, model: &SslModel, adam: Option<&Adam>, meta: &CheckpointMeta) -> anyhow::Result<()> {
    let mut tensors: Vec<(String, Tensor)> =
        model.params.state_dict().into_iter().map(|(k, v)| (format!("model.{k}"), v)).collect();
    if let Some(adam) = adam {
        tensors.extend(adam.state().into_iter().map(|(k, v)| (format!("optim.{k}"), v)));
    }
    let mut info = HashMap::new();
    info.insert("format".to_string(), FORMAT.to_string());
    info.insert("epoch".to_string(), meta.epoch.to_string());
    info.insert("global_step".to_string(), meta.global_step.to_string());
    info.insert("adam_step".to_string(), meta.adam_step.to_string());
    info.insert("model_config".to_string(), serde_json::to_string(&meta.model)?);
    info.insert("loss_config".to_string(), serde_json::to_string(&meta.loss)?);
    if let Some(args) = &meta.args {
        info.insert("args".to_string(), args.clone());
    }
    let serialise = |info: &HashMap<String, String>| {
        safetensors::tensor::serialize(tensors.iter().map(|(k, v)| (k.as_str(), v)), Some(info.clone()))
            .with_context(|| format!("{}: cannot serialise checkpoint", path.display()))
    };
    // The checksum covers the tensor data, which the metadata does not change: serialise once to
    // hash it, then again with the checksum in the header.
    let unsummed = serialise(&info)?;
    info.insert(CHECKSUM_KEY.to_string(), data_checksum(&unsummed, path)?);
    let bytes = serialise(&info)?;
    dataset::atomic::write_bytes(path, &bytes).with_context(|| format!("{}: cannot write", path.display()))
}

const CHECKSUM_KEY: &str = "checksum";

/// BLAKE3 (hex) of a safetensors file's data section (everything after its header).
fn data_checksum(bytes: &[u8], path: &Path) -> anyhow::Result<String> {
    let header_len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .with_context(|| format!("{}: truncated safetensors header", path.display()))?;
    let data = bytes
        .get(8usize.saturating_add(header_len)..)
        .with_context(|| format!("{}: truncated safetensors file", path.display()))?;
    Ok(blake3::hash(data).to_hex().to_string())
}

fn field<'a>(info: &'a HashMap<String, String>, key: &str, path: &Path) -> anyhow::Result<&'a str> {
    info.get(key)
        .map(String::as_str)
        .with_context(|| format!("{}: checkpoint metadata lacks {key:?}", path.display()))
}

/// A checkpoint's `model_config` JSON. One that records no `predictor_type` gets the default of
/// the time it could have been written: the MLP for VICRegEquiMod, the hypernetwork otherwise
/// (fields added since then have serde defaults of their own).
pub fn parse_model_config(json: &str) -> anyhow::Result<ModelConfig> {
    let mut v: serde_json::Value = serde_json::from_str(json)?;
    if let Some(m) = v.as_object_mut() {
        if !m.contains_key("predictor_type") {
            let legacy = if m.get("experience").and_then(|e| e.as_str()) == Some("VICRegEquiMod") {
                PredictorType::Mlp
            } else {
                PredictorType::Hypernetwork
            };
            m.insert("predictor_type".to_string(), serde_json::to_value(legacy)?);
        }
    }
    Ok(serde_json::from_value(v)?)
}

/// Reads a checkpoint: its metadata and all its tensors (on `device`).
pub fn read(path: &Path, device: &Device) -> anyhow::Result<(CheckpointMeta, HashMap<String, Tensor>)> {
    read_filtered(path, device, |_| true)
}

/// Reads a checkpoint's metadata and the tensors whose names `keep` accepts.
pub fn read_filtered(
    path: &Path,
    device: &Device,
    keep: impl Fn(&str) -> bool,
) -> anyhow::Result<(CheckpointMeta, HashMap<String, Tensor>)> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read checkpoint", path.display()))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .with_context(|| format!("{}: not a safetensors file", path.display()))?;
    let info = header.metadata().clone().unwrap_or_default();
    if info.get("format").map(String::as_str) != Some(FORMAT) {
        bail!("{}: not a checkpoint written by train (format {:?})", path.display(), info.get("format"));
    }
    // Checkpoints from before the checksum have none; every later one is verified.
    if let Some(want) = info.get(CHECKSUM_KEY) {
        let got = data_checksum(&bytes, path)?;
        if &got != want {
            bail!(
                "{}: damaged checkpoint: its tensor data's checksum is {got}, its header says {want}",
                path.display()
            );
        }
    }
    let parse_u = |k: &str| -> anyhow::Result<u64> {
        field(&info, k, path)?.parse().with_context(|| format!("{}: bad {k}", path.display()))
    };
    let meta = CheckpointMeta {
        epoch: parse_u("epoch")? as usize,
        global_step: parse_u("global_step")?,
        adam_step: parse_u("adam_step")?,
        model: parse_model_config(field(&info, "model_config", path)?)
            .with_context(|| format!("{}: bad model_config", path.display()))?,
        loss: serde_json::from_str(field(&info, "loss_config", path)?)
            .with_context(|| format!("{}: bad loss_config", path.display()))?,
        args: info.get("args").cloned(),
    };
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .with_context(|| format!("{}: not a safetensors file", path.display()))?;
    let tensors = st
        .tensors()
        .into_iter()
        .filter(|(name, _)| keep(name))
        .map(|(name, view)| {
            let t = candle_core::safetensors::Load::load(&view, device)
                .with_context(|| format!("{}: cannot load {name}", path.display()))?;
            Ok((name, t))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((meta, tensors))
}

/// Rebuilds the model a checkpoint (or an experiment folder holding one) describes, with its
/// weights and BatchNorm statistics. Use [`crate::nn::Mode::Eval`] for features.
///
/// ```no_run
/// # fn main() -> anyhow::Result<()> {
/// use model::nn::Mode;
/// let device = candle_core::Device::Cpu;
/// let (model, meta) = model::checkpoint::load_model("runs/sie".as_ref(), &device)?;
/// # let images = candle_core::Tensor::zeros((2, 3, 64, 64), candle_core::DType::F32, &device)?;
/// let repr = model.representation(&images, Mode::Eval)?;     // (N, 512)
/// let (inv, equi) = model.embeddings(&repr, Mode::Eval)?;     // projector outputs
/// # let latent = candle_core::Tensor::zeros((2, 4), candle_core::DType::F32, &device)?;
/// let pred = model.predict(equi.as_ref().unwrap(), &latent)?; // predicted view-2 embedding
/// # let _ = (inv, pred, meta);
/// # Ok(()) }
/// ```
pub fn load_model(path: &Path, device: &Device) -> anyhow::Result<(SslModel, CheckpointMeta)> {
    let file = if path.is_dir() { path.join(CHECKPOINT_FILE) } else { path.to_path_buf() };
    let (meta, tensors) = read_filtered(&file, device, |name| name.starts_with("model."))?;
    let model = SslModel::new(&meta.model, device, 0)?;
    model
        .params
        .load(&tensors, "model.", true)
        .with_context(|| format!("{}: model state", file.display()))?;
    Ok((model, meta))
}

/// Restores the optimiser moments written by [`save`].
pub fn restore_adam(adam: &mut Adam, tensors: &HashMap<String, Tensor>, step: u64) -> anyhow::Result<()> {
    let state: HashMap<String, Tensor> = tensors
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("optim.").map(|n| (n.to_string(), v.clone())))
        .collect();
    adam.load_state(&state, step)?;
    Ok(())
}

/// Writes the backbone with torchvision ResNet-18 parameter names (`conv1.weight`, `bn1.*`,
/// `layer1.0.conv1.weight`, `layer1.0.downsample.0.weight`, ...), atomically. Every BatchNorm
/// also gets torchvision's `num_batches_tracked` (int64 scalar, = `batches_tracked`), so that a
/// `resnet18-torchvision` backbone loads with `strict=True` once `fc` is removed.
pub fn export_backbone_torchvision(
    model: &SslModel,
    path: &Path,
    batches_tracked: u64,
) -> anyhow::Result<()> {
    let mut state = crate::backbone::torchvision_names(&model.params.state_dict(), "backbone.");
    let tracked: Vec<(String, Tensor)> = state
        .iter()
        .filter_map(|(k, _)| k.strip_suffix(".running_mean"))
        .map(|bn| {
            Ok((format!("{bn}.num_batches_tracked"), Tensor::new(batches_tracked as i64, &Device::Cpu)?))
        })
        .collect::<candle_core::Result<_>>()?;
    state.extend(tracked);
    let mut info = HashMap::new();
    info.insert("arch".to_string(), serde_json::to_string(&model.config.arch)?);
    let bytes = safetensors::tensor::serialize(state.iter().map(|(k, v)| (k.as_str(), v)), Some(info))?;
    dataset::atomic::write_bytes(path, &bytes).with_context(|| format!("{}: cannot write", path.display()))
}
