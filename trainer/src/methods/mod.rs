//! One module per method of the paper's table. Each owns its heads (projectors, predictor, the
//! AugSelf head) and its loss behind [`Method`]; [`recipe`] is the one place that maps an
//! `--experience` to its module, so `train`, `bench_step` and `eval` build the same objects
//! through [`crate::model::SslModel`].
//!
//! - [`vicreg`] holds `VICReg`, `VICRegPartInv`.
//! - [`simclr`] holds `SimCLR`.
//! - [`augself`] holds `SimCLRAugSelf[RotColor]`.
//! - [`simclr_only_equi`] holds `SimCLROnlyEqui[RotColor]`.
//! - [`equimod`] holds `VICRegEquiMod`, `SimCLREquiMod[RotColor]`.
//! - [`sie`] holds `SIE`, `SIENoVar`, `SIERotColor`, `SIEOnlyEqui`.
//!
//! Adding a method: a module with a struct implementing [`Method`] and a [`Recipe`], a variant
//! of [`Experience`] (its command-line name) and one line in [`recipe`].

use candle_core::{Result, Tensor};

use crate::config::{Experience, ModelConfig};
use crate::loss;
use crate::model::LossConfig;
use crate::nn::Mode;
use crate::params::Scope;
use crate::predictor::Predictor;
use crate::stats::StepStats;

pub mod augself;
pub mod equimod;
pub mod heads;
pub mod sie;
pub mod simclr;
pub mod simclr_only_equi;
pub mod vicreg;

/// (invariant embedding, equivariant embedding) of a batch of representations; `None` for a
/// part the method does not have.
pub type Embeddings = (Option<Tensor>, Option<Tensor>);

/// What a method's loss reads: the step's outputs (`None` where the method has no such output).
#[derive(Clone, Copy)]
pub struct LossInputs<'a> {
    /// Invariant embeddings of view 1 and view 2 (VICReg/SimCLR: the whole projector output).
    pub i1: Option<&'a Tensor>,
    pub i2: Option<&'a Tensor>,
    /// View 2's equivariant embedding.
    pub e2: Option<&'a Tensor>,
    /// Each view's projector outputs, invariant then equivariant, concatenated.
    pub x: &'a Tensor,
    pub y: &'a Tensor,
    /// The predictor's view-2 equivariant embedding, from view 1's and the latent.
    pub pred: Option<&'a Tensor>,
    /// The pair head's output (SimCLRAugSelf: the predicted latent) and the true latent.
    pub pair: Option<(&'a Tensor, &'a Tensor)>,
}

/// A self-supervised method: its heads on top of the backbone and its loss.
pub trait Method: Send + Sync {
    /// The embeddings of representations (N, r).
    fn embed(&self, repr: &Tensor, mode: Mode) -> Result<Embeddings>;

    /// The predictor of view 2's equivariant embedding from view 1's and the latent.
    fn predictor(&self) -> Option<&Predictor> {
        None
    }

    /// A head on both views' representations (SimCLRAugSelf's latent regression).
    fn pair_head(&self, _r1: &Tensor, _r2: &Tensor) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// The loss on a step's outputs; records its terms in `st`.
    fn loss(&self, inp: &LossInputs, lc: &LossConfig, st: &mut StepStats) -> Result<Tensor>;
}

/// Builds a method's heads: `s` the model's root scope, `r` the representation size.
pub type Build = fn(s: &Scope, c: &ModelConfig, r: usize) -> Result<Box<dyn Method>>;

/// What a method is made of, known before it is built.
#[derive(Clone, Copy)]
pub struct Recipe {
    /// The representation is split into an invariant and an equivariant part.
    pub split: bool,
    /// It has a predictor of view 2's embedding from view 1's and the latent.
    pub predictor: bool,
    /// It has a head regressing the latent from both representations (AugSelf).
    pub pair_head: bool,
    /// Its latent holds (delta floor hue, delta light hue) after the quaternion (the
    /// reference's "RotColor" methods).
    pub colour_latent: bool,
    pub build: Build,
}

/// The module of each `--experience`.
pub fn recipe(e: Experience) -> Recipe {
    match e {
        Experience::VICReg => vicreg::VICREG,
        Experience::VICRegPartInv => vicreg::VICREG_PART_INV,
        Experience::SimCLR => simclr::SIMCLR,
        Experience::SimCLRAugSelf => augself::SIMCLR_AUGSELF,
        Experience::SimCLRAugSelfRotColor => augself::SIMCLR_AUGSELF_ROT_COLOR,
        Experience::SimCLROnlyEqui => simclr_only_equi::SIMCLR_ONLY_EQUI,
        Experience::SimCLROnlyEquiRotColor => simclr_only_equi::SIMCLR_ONLY_EQUI_ROT_COLOR,
        Experience::VICRegEquiMod => equimod::VICREG_EQUIMOD,
        Experience::SimCLREquiMod => equimod::SIMCLR_EQUIMOD,
        Experience::SimCLREquiModRotColor => equimod::SIMCLR_EQUIMOD_ROT_COLOR,
        Experience::SIE => sie::SIE,
        Experience::SIENoVar => sie::SIE_NO_VAR,
        Experience::SIERotColor => sie::SIE_ROT_COLOR,
        Experience::SIEOnlyEqui => sie::SIE_ONLY_EQUI,
    }
}

/// Builds the method of `c.experience`.
pub fn build(s: &Scope, c: &ModelConfig, r: usize) -> Result<Box<dyn Method>> {
    (recipe(c.experience).build)(s, c, r)
}

/// An output the method's own forward pass always makes (a bug if absent).
fn needed<'a>(t: Option<&'a Tensor>, method: &str, what: &str) -> Result<&'a Tensor> {
    t.ok_or_else(|| candle_core::Error::Msg(format!("{method}'s loss needs {what}")))
}

/// VICReg's variance term of a pair of views, each weighted one half.
fn std_pair(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    (loss::std_term(a)? / 2.0)? + (loss::std_term(b)? / 2.0)?
}

/// VICReg's covariance term of a pair of views.
fn cov_pair(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    loss::cov_term(a)? + loss::cov_term(b)?
}

/// The predictor of an embedding of `d` dims, with the configured latent.
fn predictor(s: &Scope, c: &ModelConfig, d: usize) -> Result<Predictor> {
    Predictor::new(&s.pp("predictor"), c, d, c.latent_dim())
}
