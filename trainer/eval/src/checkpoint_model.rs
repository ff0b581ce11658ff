//! Adapter from a `train` checkpoint to the evaluation's [`Encoder`] and [`EmbeddingPredictor`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};

use super::extract::Encoder;
use super::tasks::EmbeddingPredictor;
use model::checkpoint::{self, CheckpointMeta};
use model::model::SslModel;
use model::nn::Mode;

/// A trained model, frozen (BatchNorm in eval mode).
pub struct CheckpointModel {
    pub model: SslModel,
    pub meta: CheckpointMeta,
    /// The checkpoint file itself (a run folder resolves to its checkpoint).
    pub file: PathBuf,
}

impl CheckpointModel {
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let file = if path.is_dir() { path.join(checkpoint::CHECKPOINT_FILE) } else { path.to_path_buf() };
        let (model, meta) = checkpoint::load_model(&file, device)?;
        Ok(Self { model, meta, file })
    }

    /// Size of the equivariant part of the representation (0 for methods without a split).
    pub fn equi_dim(&self) -> usize {
        self.meta.model.equi
    }

    /// The resolution the model was trained at, if the checkpoint records its arguments.
    pub fn trained_resolution(&self) -> Option<u32> {
        let args: serde_json::Value = serde_json::from_str(self.meta.args.as_deref()?).ok()?;
        let resolution = args.get("resolution")?.as_u64()?;
        u32::try_from(resolution).ok()
    }

    pub fn has_predictor(&self) -> bool {
        self.model.predictor().is_some()
    }
}

impl Encoder for CheckpointModel {
    fn encode(&self, images: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        let repr = self.model.representation(images, Mode::Eval).context("backbone forward")?;
        let (_, equi) = self.model.embeddings(&repr, Mode::Eval).context("projector forward")?;
        Ok((repr, equi))
    }
}

impl EmbeddingPredictor for CheckpointModel {
    fn latent_dim(&self) -> usize {
        self.meta.model.latent_dim()
    }

    fn predict(&self, embeddings: &Tensor, latents: &Tensor) -> Result<Tensor> {
        Ok(self.model.predict(embeddings, latents)?)
    }
}
