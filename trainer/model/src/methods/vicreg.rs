//! VICReg (SPEC section 4) on one projector over the whole representation, and the reference's
//! VICRegPartInv, whose invariance term leaves out the embedding's last `equi_emb` dims
//! (variance and covariance still on the whole embeddings).

use candle_core::{Result, Tensor};

use super::{cov_pair, heads, needed, std_pair, Embeddings, HeadsConfig, LossInputs, Method, Recipe};
use crate::loss;
use crate::loss::LossConfig;
use crate::nn::{Pass, Projector};
use crate::params::Scope;
use crate::stats::StepStats;

pub const VICREG: Recipe = Recipe {
    name: "VICReg",
    about: "Invariant-only VICReg on the whole representation.",
    split: false,
    predictor: false,
    pair_head: false,
    colour_latent: false,
    part_invariant: false,
    build: |s, c, r| Ok(Box::new(VicReg::new(s, c, r)?)),
};

pub const VICREG_PART_INV: Recipe = Recipe {
    name: "VICRegPartInv",
    about: "VICReg whose invariance term leaves out the embedding's last `--equi` dims.",
    part_invariant: true,
    ..VICREG
};

pub struct VicReg {
    projector: Projector,
    /// VICRegPartInv: the embedding's last dims left out of the invariance term (0: VICReg).
    equi_tail: usize,
}

impl VicReg {
    pub fn new(s: &Scope, c: &HeadsConfig, r: usize) -> Result<Self> {
        Ok(Self { projector: heads::whole(s, c, r)?, equi_tail: c.equi_emb })
    }
}

impl Method for VicReg {
    /// VICRegPartInv's embedding is split into its first dims (invariant) and its last
    /// `equi_tail` (equivariant); VICReg's is all invariant.
    fn embed(&self, repr: &Tensor, pass: &Pass) -> Result<Embeddings> {
        let e = self.projector.forward(repr, pass)?;
        if self.equi_tail == 0 {
            return Ok((Some(e), None));
        }
        let (d, tail) = (e.dim(1)?, self.equi_tail);
        // Contiguous, as every other head's output (evaluation index-selects rows).
        Ok((Some(e.narrow(1, 0, d - tail)?.contiguous()?), Some(e.narrow(1, d - tail, tail)?.contiguous()?)))
    }

    fn loss(&self, inp: &LossInputs, lc: &LossConfig, st: &mut StepStats) -> Result<Tensor> {
        let (x, y) = (inp.x, inp.y);
        let inv = if self.equi_tail == 0 {
            loss::mse(x, y)?
        } else {
            loss::mse(
                needed(inp.i1, "VICRegPartInv", "its part")?,
                needed(inp.i2, "VICRegPartInv", "its part")?,
            )?
        };
        let std = std_pair(x, y)?;
        let cov = cov_pair(x, y)?;
        st.set("repr_loss_inv", &inv)?;
        st.set("std_loss", &std)?;
        st.set("cov_loss", &cov)?;
        ((inv * lc.sim_coeff)? + (std * lc.std_coeff)?)? + (cov * lc.cov_coeff)?
    }
}
