//! SimCLR + AugSelf (`SimCLRAugSelf[RotColor]`): SimCLR's projector and InfoNCE, plus AugSelf's
//! head as the reference's `SimCLRAugSelf` builds it: an MLP named `predictor`
//! (`nn.Sequential`: `predictor.0` Linear 2r -> 2r, ReLU, `predictor.2` Linear 2r -> 2r, ReLU,
//! `predictor.4` Linear 2r -> latent, all with bias) on the two views' backbone representations
//! concatenated, `[r1, r2]`. They are NOT detached: the head's MSE to the pair's latent (the whole
//! latent, 4 or 6 values) trains the backbone, weighted by `--ec-weight`.

use candle_core::{Result, Tensor};
use kernels::Kernels;

use super::{heads, Embeddings, HeadsConfig, LossInputs, Method, Recipe};
use crate::loss;
use crate::loss::LossConfig;
use crate::nn::{Mlp, Pass, Projector};
use crate::params::Scope;
use crate::stats::StepStats;

pub const SIMCLR_AUGSELF: Recipe = Recipe {
    name: "SimCLRAugSelf",
    about: "SimCLR plus AugSelf: an MLP on the two views' representations regresses the pair's latent (MSE, weight `--ec-weight`).",
    split: false,
    predictor: false,
    pair_head: true,
    colour_latent: false,
    part_invariant: false,
    build: |s, c, r| Ok(Box::new(SimClrAugSelf::new(s, c, r)?)),
};

pub const SIMCLR_AUGSELF_ROT_COLOR: Recipe = Recipe {
    name: "SimCLRAugSelfRotColor",
    about: "SimCLRAugSelf regressing the 6-value latent (quaternion, delta floor hue, delta light hue).",
    colour_latent: true,
    ..SIMCLR_AUGSELF
};

pub struct AugSelfHead {
    mlp: Mlp,
}

impl AugSelfHead {
    /// `repr`: the representation size r; `latent`: the size of the regressed latent.
    pub fn new(s: &Scope, repr: usize, latent: usize) -> Result<Self> {
        Ok(Self { mlp: Mlp::new(s, &[2 * repr, 2 * repr, 2 * repr, latent], true)? })
    }

    /// The predicted latent (N, latent) of the pair whose representations are `r1`, `r2` (N, r).
    pub fn forward(&self, r1: &Tensor, r2: &Tensor, k: &Kernels) -> Result<Tensor> {
        self.mlp.forward(&Tensor::cat(&[r1, r2], 1)?, k)
    }
}

pub struct SimClrAugSelf {
    projector: Projector,
    head: AugSelfHead,
}

impl SimClrAugSelf {
    pub fn new(s: &Scope, c: &HeadsConfig, r: usize) -> Result<Self> {
        let projector = heads::whole(s, c, r)?;
        let head = AugSelfHead::new(&s.pp("predictor"), r, c.latent_dim)?;
        Ok(Self { projector, head })
    }
}

impl Method for SimClrAugSelf {
    fn embed(&self, repr: &Tensor, pass: &Pass) -> Result<Embeddings> {
        Ok((Some(self.projector.forward(repr, pass)?), None))
    }

    fn pair_head(&self, r1: &Tensor, r2: &Tensor, k: &Kernels) -> Result<Option<Tensor>> {
        Ok(Some(self.head.forward(r1, r2, k)?))
    }

    /// InfoNCE(x, y) + ec_weight * MSE(head([r1, r2]), latent).
    fn loss(&self, inp: &LossInputs, lc: &LossConfig, st: &mut StepStats) -> Result<Tensor> {
        let Some((pred, target)) = inp.pair else {
            return Err(candle_core::Error::Msg("SimCLRAugSelf's loss needs the AugSelf head".into()));
        };
        let inv = loss::info_nce(inp.x, inp.y, lc.simclr_temp)?;
        let aug = loss::mse(pred, target)?;
        st.set("repr_loss_inv", &inv)?;
        st.set("repr_loss_equi", &aug)?;
        inv + (aug * lc.ec_weight)?
    }
}
