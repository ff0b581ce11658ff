//! The SIE family (SPEC section 4): a hypernetwork predictor of view 2's equivariant embedding
//! from view 1's and the latent, with VICReg's variance and covariance terms.
//!
//! - `SIE`: the representation split into an invariant part (`projector_inv` on dims [0, inv))
//!   and an equivariant one (`projector_equi` on [inv, repr)); invariance MSE + equi_factor *
//!   prediction MSE (both times sim_coeff), variance on both views and on the prediction.
//! - `SIENoVar`: without the variance term on the prediction.
//! - `SIERotColor`: SIE whose latent is the quaternion plus (delta floor hue, delta light hue).
//! - `SIEOnlyEqui`: one `projector_equi` on the whole representation; the prediction MSE times
//!   sim_coeff alone (the reference's weighting of its only similarity term).

use candle_core::{Result, Tensor};

use super::heads::{self, Split};
use super::{cov_pair, needed, predictor, std_pair, Embeddings, HeadsConfig, LossInputs, Method, Recipe};
use crate::loss;
use crate::loss::LossConfig;
use crate::nn::{Pass, Projector};
use crate::params::Scope;
use crate::predictor::Predictor;
use crate::stats::StepStats;

pub const SIE: Recipe = Recipe {
    name: "SIE",
    about: "Split invariant/equivariant, hypernetwork predictor, variance on the prediction.",
    split: true,
    predictor: true,
    pair_head: false,
    colour_latent: false,
    part_invariant: false,
    build: |s, c, _| Ok(Box::new(Sie::split(s, c, true)?)),
};

pub const SIE_NO_VAR: Recipe = Recipe {
    name: "SIENoVar",
    about: "SIE without the variance term on the predictor output.",
    build: |s, c, _| Ok(Box::new(Sie::split(s, c, false)?)),
    ..SIE
};

pub const SIE_ROT_COLOR: Recipe = Recipe {
    name: "SIERotColor",
    about: "SIE whose latent is the quaternion plus (delta floor hue, delta light hue).",
    colour_latent: true,
    ..SIE
};

pub const SIE_ONLY_EQUI: Recipe = Recipe {
    name: "SIEOnlyEqui",
    about: "SIE with only the equivariant part (whole representation equivariant).",
    split: false,
    build: |s, c, r| Ok(Box::new(Sie::only_equi(s, c, r)?)),
    ..SIE
};

enum Heads {
    Split(Split),
    OnlyEqui(Projector),
}

pub struct Sie {
    heads: Heads,
    predictor: Predictor,
    /// The variance term on the prediction (all but SIENoVar).
    prediction_variance: bool,
}

impl Sie {
    fn split(s: &Scope, c: &HeadsConfig, prediction_variance: bool) -> Result<Self> {
        let heads = Split::new(s, c)?;
        let predictor = predictor(s, c, heads.equi.out_dim())?;
        Ok(Self { heads: Heads::Split(heads), predictor, prediction_variance })
    }

    fn only_equi(s: &Scope, c: &HeadsConfig, r: usize) -> Result<Self> {
        let equi = heads::whole_equi(s, c, r)?;
        let predictor = predictor(s, c, equi.out_dim())?;
        Ok(Self { heads: Heads::OnlyEqui(equi), predictor, prediction_variance: true })
    }
}

impl Method for Sie {
    fn embed(&self, repr: &Tensor, pass: &Pass) -> Result<Embeddings> {
        Ok(match &self.heads {
            Heads::Split(split) => {
                let (inv, equi) = split.embed(repr, pass)?;
                (Some(inv), Some(equi))
            }
            Heads::OnlyEqui(equi) => (None, Some(equi.forward(repr, pass)?)),
        })
    }

    fn predictor(&self) -> Option<&Predictor> {
        Some(&self.predictor)
    }

    fn loss(&self, inp: &LossInputs, lc: &LossConfig, st: &mut StepStats) -> Result<Tensor> {
        let (x, y) = (inp.x, inp.y);
        let pred = needed(inp.pred, "SIE", "a prediction")?;
        let equi = loss::mse(pred, needed(inp.e2, "SIE", "an equivariant embedding")?)?;
        let std = std_pair(x, y)?;
        let cov = cov_pair(x, y)?;
        st.set("repr_loss_equi", &equi)?;
        st.set("std_loss", &std)?;
        st.set("cov_loss", &cov)?;
        let mut total = match self.heads {
            Heads::OnlyEqui(_) => (equi * lc.sim_coeff)?,
            Heads::Split(_) => {
                let inv = loss::mse(needed(inp.i1, "SIE", "a split")?, needed(inp.i2, "SIE", "a split")?)?;
                st.set("repr_loss_inv", &inv)?;
                ((inv * lc.sim_coeff)? + (equi * (lc.equi_factor * lc.sim_coeff))?)?
            }
        };
        total = ((total + (std * lc.std_coeff)?)? + (cov * lc.cov_coeff)?)?;
        if self.prediction_variance {
            let pred_std = (loss::std_term(pred)? / 2.0)?;
            st.set("pred_std_loss", &pred_std)?;
            total = (total + (pred_std * lc.std_coeff)?)?;
        }
        Ok(total)
    }
}
