//! `SimCLROnlyEqui[RotColor]`: one equivariant projector (`projector_equi`) on the whole
//! representation, a predictor, and InfoNCE between the prediction and view 2's embedding.

use candle_core::{Result, Tensor};

use super::{heads, needed, predictor, Embeddings, HeadsConfig, LossInputs, Method, Recipe};
use crate::loss;
use crate::loss::LossConfig;
use crate::nn::{Pass, Projector};
use crate::params::Scope;
use crate::predictor::Predictor;
use crate::stats::StepStats;

pub const SIMCLR_ONLY_EQUI: Recipe = Recipe {
    name: "SimCLROnlyEqui",
    about: "One equivariant projector on the whole representation, a predictor, InfoNCE between the prediction and view 2's embedding.",
    split: false,
    predictor: true,
    pair_head: false,
    colour_latent: false,
    part_invariant: false,
    build: |s, c, r| Ok(Box::new(SimClrOnlyEqui::new(s, c, r)?)),
};

pub const SIMCLR_ONLY_EQUI_ROT_COLOR: Recipe = Recipe {
    name: "SimCLROnlyEquiRotColor",
    about: "SimCLROnlyEqui with the 6-value latent.",
    colour_latent: true,
    ..SIMCLR_ONLY_EQUI
};

pub struct SimClrOnlyEqui {
    equi: Projector,
    predictor: Predictor,
}

impl SimClrOnlyEqui {
    pub fn new(s: &Scope, c: &HeadsConfig, r: usize) -> Result<Self> {
        let equi = heads::whole_equi(s, c, r)?;
        let predictor = predictor(s, c, equi.out_dim())?;
        Ok(Self { equi, predictor })
    }
}

impl Method for SimClrOnlyEqui {
    fn embed(&self, repr: &Tensor, pass: &Pass) -> Result<Embeddings> {
        Ok((None, Some(self.equi.forward(repr, pass)?)))
    }

    fn predictor(&self) -> Option<&Predictor> {
        Some(&self.predictor)
    }

    fn loss(&self, inp: &LossInputs, lc: &LossConfig, st: &mut StepStats) -> Result<Tensor> {
        let name = "SimCLROnlyEqui";
        let pred = needed(inp.pred, name, "a prediction")?;
        let equi = loss::info_nce(pred, needed(inp.e2, name, "an equivariant embedding")?, lc.simclr_temp)?;
        st.set("repr_loss_equi", &equi)?;
        Ok(equi)
    }
}
