//! SimCLR: InfoNCE ([`loss::info_nce`], temperature `--simclr-temp`) between the two views'
//! projector outputs, one projector on the whole representation.
//!
//! Where the reference gathers the batch across GPUs, one process is our single batch.

use candle_core::{Result, Tensor};

use super::{heads, Embeddings, HeadsConfig, LossInputs, Method, Recipe};
use crate::loss;
use crate::loss::LossConfig;
use crate::nn::{Pass, Projector};
use crate::params::Scope;
use crate::stats::StepStats;

pub const SIMCLR: Recipe = Recipe {
    name: "SimCLR",
    about: "Invariant-only SimCLR (InfoNCE) on the whole representation.",
    split: false,
    predictor: false,
    pair_head: false,
    colour_latent: false,
    part_invariant: false,
    build: |s, c, r| Ok(Box::new(SimClr::new(s, c, r)?)),
};

pub struct SimClr {
    projector: Projector,
}

impl SimClr {
    pub fn new(s: &Scope, c: &HeadsConfig, r: usize) -> Result<Self> {
        Ok(Self { projector: heads::whole(s, c, r)? })
    }
}

impl Method for SimClr {
    fn embed(&self, repr: &Tensor, pass: &Pass) -> Result<Embeddings> {
        Ok((Some(self.projector.forward(repr, pass)?), None))
    }

    fn loss(&self, inp: &LossInputs, lc: &LossConfig, st: &mut StepStats) -> Result<Tensor> {
        let l = loss::info_nce(inp.x, inp.y, lc.simclr_temp)?;
        st.set("repr_loss_inv", &l)?;
        Ok(l)
    }
}
