//! AugSelf's head, as the reference's `SimCLRAugSelf` builds it: an MLP named `predictor`
//! (`nn.Sequential`: `predictor.0` Linear 2r -> 2r, ReLU, `predictor.2` Linear 2r -> 2r, ReLU,
//! `predictor.4` Linear 2r -> latent, all with bias) on the two views' backbone representations
//! concatenated, `[r1, r2]`. They are NOT detached: the head's MSE to the pair's latent (the whole
//! latent, 4 or 6 values) trains the backbone, weighted by `--ec-weight`.

use candle_core::{Result, Tensor};

use crate::nn::Mlp;
use crate::params::Scope;

pub struct AugSelfHead {
    mlp: Mlp,
}

impl AugSelfHead {
    /// `repr`: the representation size r; `latent`: the size of the regressed latent.
    pub fn new(s: &Scope, repr: usize, latent: usize) -> Result<Self> {
        Ok(Self { mlp: Mlp::new(s, &[2 * repr, 2 * repr, 2 * repr, latent], true)? })
    }

    /// The predicted latent (N, latent) of the pair whose representations are `r1`, `r2` (N, r).
    pub fn forward(&self, r1: &Tensor, r2: &Tensor) -> Result<Tensor> {
        self.mlp.forward(&Tensor::cat(&[r1, r2], 1)?)
    }
}
