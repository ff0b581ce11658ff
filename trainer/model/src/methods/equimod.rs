//! EquiMod: two projectors on the whole representation (`projector_equi`, built first as in the
//! reference, and `projector_inv`), a predictor on the equivariant embedding.
//!
//! - `VICRegEquiMod`: VICReg on the invariant embeddings, plus VICReg between the prediction and
//!   view 2's equivariant embedding (variance/covariance on the equivariant embeddings), weighted
//!   by `--equi-factor`.
//! - `SimCLREquiMod`: InfoNCE(inv1, inv2) + equi_factor * InfoNCE(prediction, equi2);
//!   `SimCLREquiModRotColor`: the same terms, unweighted (`loss = loss_equi + loss_inv` in the
//!   reference, which ignores `--equi-factor` for this method).

use candle_core::{Result, Tensor};

use super::{
    cov_pair, heads, needed, predictor, std_pair, Embeddings, HeadsConfig, LossInputs, Method, Recipe,
};
use crate::loss;
use crate::loss::LossConfig;
use crate::nn::{Pass, Projector};
use crate::params::Scope;
use crate::predictor::Predictor;
use crate::stats::StepStats;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    Vicreg,
    /// InfoNCE; `weighted`: the equivariant term times `--equi-factor`.
    SimClr {
        weighted: bool,
    },
}

pub const VICREG_EQUIMOD: Recipe = Recipe {
    name: "VICRegEquiMod",
    about: "EquiMod: two projectors on the whole representation, a predictor on the equivariant embedding, VICReg losses on both (the equivariant one weighted by `--equi-factor`).",
    split: false,
    predictor: true,
    pair_head: false,
    colour_latent: false,
    part_invariant: false,
    build: |s, c, r| Ok(Box::new(EquiMod::new(s, c, r, Loss::Vicreg)?)),
};

pub const SIMCLR_EQUIMOD: Recipe = Recipe {
    name: "SimCLREquiMod",
    about: "EquiMod with SimCLR: InfoNCE on the invariant embeddings plus `--equi-factor` times InfoNCE between the prediction and view 2's equivariant embedding.",
    build: |s, c, r| Ok(Box::new(EquiMod::new(s, c, r, Loss::SimClr { weighted: true })?)),
    ..VICREG_EQUIMOD
};

pub const SIMCLR_EQUIMOD_ROT_COLOR: Recipe = Recipe {
    name: "SimCLREquiModRotColor",
    about: "SimCLREquiMod with the 6-value latent; the reference adds its two InfoNCE terms unweighted.",
    colour_latent: true,
    build: |s, c, r| Ok(Box::new(EquiMod::new(s, c, r, Loss::SimClr { weighted: false })?)),
    ..VICREG_EQUIMOD
};

pub struct EquiMod {
    inv: Projector,
    equi: Projector,
    predictor: Predictor,
    loss: Loss,
}

impl EquiMod {
    pub fn new(s: &Scope, c: &HeadsConfig, r: usize, loss: Loss) -> Result<Self> {
        let equi = heads::whole_equi(s, c, r)?;
        let inv = heads::whole_inv(s, c, r)?;
        let predictor = predictor(s, c, equi.out_dim())?;
        Ok(Self { inv, equi, predictor, loss })
    }
}

impl Method for EquiMod {
    fn embed(&self, repr: &Tensor, pass: &Pass) -> Result<Embeddings> {
        Ok((Some(self.inv.forward(repr, pass)?), Some(self.equi.forward(repr, pass)?)))
    }

    fn predictor(&self) -> Option<&Predictor> {
        Some(&self.predictor)
    }

    fn loss(&self, inp: &LossInputs, lc: &LossConfig, st: &mut StepStats) -> Result<Tensor> {
        let name = "EquiMod";
        let (i1, i2) =
            (needed(inp.i1, name, "invariant embeddings")?, needed(inp.i2, name, "invariant embeddings")?);
        let pred = needed(inp.pred, name, "a prediction")?;
        let e2 = needed(inp.e2, name, "an equivariant embedding")?;
        match self.loss {
            Loss::Vicreg => {
                let (x, y) = (inp.x, inp.y);
                let d = i1.dim(1)?;
                let (x_e, y_e) = (x.narrow(1, d, x.dim(1)? - d)?, y.narrow(1, d, y.dim(1)? - d)?);
                let inv = loss::mse(i1, i2)?;
                let std_inv = std_pair(i1, i2)?;
                let cov_inv = cov_pair(i1, i2)?;
                let equi = loss::mse(pred, e2)?;
                let std_equi = std_pair(&x_e, &y_e)?;
                let cov_equi = cov_pair(&x_e, &y_e)?;
                st.set("repr_loss_inv", &inv)?;
                st.set("repr_loss_equi", &equi)?;
                st.set("std_loss", &(&std_inv + &std_equi)?)?;
                st.set("cov_loss", &(&cov_inv + &cov_equi)?)?;
                let l_inv =
                    (((inv * lc.sim_coeff)? + (std_inv * lc.std_coeff)?)? + (cov_inv * lc.cov_coeff)?)?;
                let l_equi =
                    (((equi * lc.sim_coeff)? + (std_equi * lc.std_coeff)?)? + (cov_equi * lc.cov_coeff)?)?;
                l_inv + (l_equi * lc.equi_factor)?
            }
            Loss::SimClr { weighted } => {
                let inv = loss::info_nce(i1, i2, lc.simclr_temp)?;
                let equi = loss::info_nce(pred, e2, lc.simclr_temp)?;
                st.set("repr_loss_inv", &inv)?;
                st.set("repr_loss_equi", &equi)?;
                let weight = if weighted { lc.equi_factor } else { 1.0 };
                inv + (equi * weight)?
            }
        }
    }
}
