//! One module per method of the paper's table. Each owns its heads (projectors, predictor, the
//! AugSelf head) and its loss behind [`Method`], and describes itself in a [`Recipe`] (its
//! `--experience` name included); [`REGISTRY`] is the one list of them, which `--experience` is
//! parsed from and checkpoints name, so `train`, `bench_step` and `eval` build the same objects
//! through [`crate::model::SslModel`].
//!
//! - [`vicreg`] holds `VICReg`, `VICRegPartInv`.
//! - [`simclr`] holds `SimCLR`.
//! - [`augself`] holds `SimCLRAugSelf[RotColor]`.
//! - [`simclr_only_equi`] holds `SimCLROnlyEqui[RotColor]`.
//! - [`equimod`] holds `VICRegEquiMod`, `SimCLREquiMod[RotColor]`.
//! - [`sie`] holds `SIE`, `SIENoVar`, `SIERotColor`, `SIEOnlyEqui`.
//!
//! Adding a method: a module with a struct implementing [`Method`] and a [`Recipe`] naming it,
//! and one line in the `methods!` list below (CONTRIBUTING.md).

use candle_core::{Result, Tensor};
use kernels::Kernels;

use crate::loss::{self, LossConfig};
use crate::nn::Pass;
use crate::params::Scope;
use crate::predictor::{Predictor, PredictorConfig};
use crate::stats::StepStats;

pub mod heads;

mod experience;
pub use experience::Experience;

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
    fn embed(&self, repr: &Tensor, pass: &Pass) -> Result<Embeddings>;

    /// The predictor of view 2's equivariant embedding from view 1's and the latent.
    fn predictor(&self) -> Option<&Predictor> {
        None
    }

    /// A head on both views' representations (SimCLRAugSelf's latent regression).
    fn pair_head(&self, _r1: &Tensor, _r2: &Tensor, _k: &Kernels) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// The loss on a step's outputs; records its terms in `st`.
    fn loss(&self, inp: &LossInputs, lc: &LossConfig, st: &mut StepStats) -> Result<Tensor>;
}

/// What a method's heads are built from: the part of the model configuration they read.
#[derive(Clone, Debug)]
pub struct HeadsConfig {
    /// Unscaled projector sizes, e.g. [2048, 2048, 2048].
    pub mlp: Vec<usize>,
    /// Representation size.
    pub repr_dim: usize,
    /// Equivariant part of the representation (the last `equi` dims); 0 when not split.
    pub equi: usize,
    /// VICRegPartInv: the embedding's last dims left out of the invariance term (0 otherwise).
    pub equi_emb: usize,
    /// Size of the transformation latent the predictor (or AugSelf's head) reads.
    pub latent_dim: usize,
    pub predictor: PredictorConfig,
}

impl HeadsConfig {
    /// Invariant part of the representation: dims [0, inv).
    pub fn inv_repr(&self) -> usize {
        self.repr_dim - self.equi
    }

    /// A projector's sizes for a part of `part` dims: round(size * part / repr), as the reference.
    pub fn scaled_mlp(&self, part: usize) -> Vec<usize> {
        self.mlp
            .iter()
            .map(|&s| ((s as f64) * part as f64 / self.repr_dim as f64).round().max(1.0) as usize)
            .collect()
    }
}

/// Builds a method's heads: `s` the model's root scope, `r` the representation size.
pub type Build = fn(s: &Scope, c: &HeadsConfig, r: usize) -> Result<Box<dyn Method>>;

/// What a method is made of, known before it is built.
#[derive(Clone, Copy)]
pub struct Recipe {
    /// Its `--experience` name, also what checkpoints record.
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// The representation is split into an invariant and an equivariant part.
    pub split: bool,
    /// It has a predictor of view 2's embedding from view 1's and the latent.
    pub predictor: bool,
    /// It has a head regressing the latent from both representations (AugSelf).
    pub pair_head: bool,
    /// Its latent holds (delta floor hue, delta light hue) after the quaternion (the
    /// reference's "RotColor" methods).
    pub colour_latent: bool,
    /// Its invariance term leaves out the embedding's last `--equi` dims (VICRegPartInv).
    pub part_invariant: bool,
    pub build: Build,
}

/// The method modules and the recipes each defines, in `--help`'s order: declares the modules
/// and builds [`REGISTRY`] from them, so that adding a method is its module and one line here.
macro_rules! methods {
    ($($module:ident: [$($recipe:ident),+],)+) => {
        $(pub mod $module;)+

        /// Every method, by its `--experience` name.
        pub const REGISTRY: &[Experience] = &[$($(Experience(&$module::$recipe)),+),+];
    };
}

methods! {
    vicreg: [VICREG, VICREG_PART_INV],
    simclr: [SIMCLR],
    sie: [SIE, SIE_NO_VAR, SIE_ONLY_EQUI, SIE_ROT_COLOR],
    equimod: [VICREG_EQUIMOD, SIMCLR_EQUIMOD, SIMCLR_EQUIMOD_ROT_COLOR],
    augself: [SIMCLR_AUGSELF, SIMCLR_AUGSELF_ROT_COLOR],
    simclr_only_equi: [SIMCLR_ONLY_EQUI, SIMCLR_ONLY_EQUI_ROT_COLOR],
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
fn predictor(s: &Scope, c: &HeadsConfig, d: usize) -> Result<Predictor> {
    Predictor::new(&s.pp("predictor"), &c.predictor, d, c.latent_dim)
}
