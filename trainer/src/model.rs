//! The self-supervised model of each `--experience`: backbone, projectors, predictor, online
//! evaluator, and its loss.
//!
//! Parameter names (PyTorch `state_dict` of the reference's models): `backbone.*`,
//! `projector.*` (VICReg, SimCLR, SimCLRAugSelf, VICRegPartInv), `projector_inv.*` and
//! `projector_equi.*` (SIE family, EquiMod, SimCLROnlyEqui/EquiMod), `predictor.*` (the
//! embedding predictor, or AugSelf's head, which the reference also calls `predictor`),
//! `evaluator.*`.
//!
//! The SimCLR variants' losses and AugSelf's head live in [`crate::methods`].
//!
//! For evaluation code: [`SslModel::representation`] (frozen backbone, eval-mode BatchNorm),
//! [`SslModel::embeddings`] and [`SslModel::predict`] work on batches of normalised images;
//! [`crate::checkpoint::load_model`] rebuilds a model from a checkpoint.

use candle_core::{Result, Tensor};

use crate::backbone::ResNet;
use crate::config::{Experience, ModelConfig};
use crate::evaluator::{EvalStats, OnlineEvaluator};
use crate::loss;
use crate::methods::{self, augself::AugSelfHead};
use crate::nn::{Mode, Projector};
use crate::params::{ParamStore, Scope};
use crate::predictor::Predictor;

/// Loss weights and temperatures (not part of the model's shape).
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct LossConfig {
    pub sim_coeff: f64,
    pub std_coeff: f64,
    pub cov_coeff: f64,
    pub equi_factor: f64,
    pub simclr_temp: f64,
    /// Weight of AugSelf's latent regression (the reference's `--ec-weight`).
    #[serde(default = "crate::config::default_ec_weight")]
    pub ec_weight: f64,
    /// Weight of the supervised rotation term (0: self-supervised only); see
    /// `OnlineEvaluator::forward`. A diagnostic, not one of the paper's methods.
    #[serde(default)]
    pub rotation_supervision: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            sim_coeff: 10.0,
            std_coeff: 10.0,
            cov_coeff: 1.0,
            equi_factor: 0.45,
            simclr_temp: 0.1,
            ec_weight: 1.0,
            rotation_supervision: 0.0,
        }
    }
}

/// The projectors of each family.
enum Heads {
    /// VICReg, SimCLR, SimCLRAugSelf*, VICRegPartInv: one projector on the whole representation
    /// (`projector`).
    Single(Projector),
    /// SIE family: `projector_inv` on dims [0, inv), `projector_equi` on [inv, repr).
    Split { inv: Projector, equi: Projector },
    /// SIEOnlyEqui, SimCLROnlyEqui*: `projector_equi` on the whole representation.
    OnlyEqui(Projector),
    /// EquiMod (VICReg and SimCLR): `projector_inv` and `projector_equi`, both on the whole
    /// representation.
    Both { inv: Projector, equi: Projector },
}

pub struct SslModel {
    pub config: ModelConfig,
    pub params: ParamStore,
    pub backbone: ResNet,
    heads: Heads,
    /// The embedding predictor (what [`SslModel::predict`] applies).
    pub predictor: Option<Predictor>,
    /// SimCLRAugSelf*: the head regressing the latent from two representations (`predictor.*`).
    pub augself: Option<AugSelfHead>,
    pub evaluator: OnlineEvaluator,
}

/// A training batch on the model's device.
pub struct Batch {
    /// View 1 and view 2, (N, 3, R, R), normalised.
    pub x1: Tensor,
    pub x2: Tensor,
    /// Transformation latent (N, 4), or (N, 6) for the RotColor methods; its first 4 are the
    /// quaternion.
    pub latent: Tensor,
    /// Class labels (N,) u32.
    pub labels: Tensor,
}

/// The scalars of one training step (`None` where a method has no such term, or statistics
/// were not asked for).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct StepStats {
    pub loss: f32,
    pub repr_loss_inv: Option<f32>,
    pub repr_loss_equi: Option<f32>,
    pub std_loss: Option<f32>,
    pub pred_std_loss: Option<f32>,
    pub cov_loss: Option<f32>,
    pub eval_loss: f32,
    /// Mean off-diagonal correlation and mean std of the normalised representation (`emb`, the
    /// reference's name), projector output (`head`) and predictor output (`pred`).
    pub coremb_view1: Option<f32>,
    pub coremb_view2: Option<f32>,
    pub stdemb_view1: Option<f32>,
    pub stdemb_view2: Option<f32>,
    pub corhead_view1: Option<f32>,
    pub corhead_view2: Option<f32>,
    pub stdhead_view1: Option<f32>,
    pub stdhead_view2: Option<f32>,
    pub coremb_pred: Option<f32>,
    pub stdemb_pred: Option<f32>,
    pub online: EvalStats,
}

/// What a method's loss reads (see [`SslModel::ssl_loss`]): `None` where the method has no
/// such output.
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
    /// SimCLRAugSelf*: the head's predicted latent and the true latent.
    pub augself: Option<(&'a Tensor, &'a Tensor)>,
}

/// The differentiable outputs of a training forward pass.
pub struct StepOutput {
    /// Self-supervised loss + online evaluator loss: what the optimiser minimises.
    pub total: Tensor,
    pub stats: StepStats,
}

fn scalar(t: &Tensor) -> Result<f32> {
    t.to_scalar::<f32>()
}

impl SslModel {
    /// A freshly initialised model (deterministic for a given `seed`).
    pub fn new(config: &ModelConfig, device: &candle_core::Device, seed: u64) -> Result<Self> {
        let params = ParamStore::new(device, seed);
        let root = params.root();
        let backbone = ResNet::new(&root.pp("backbone"), config.arch)?;
        let r = backbone.repr_dim();
        let latent = config.latent_dim();
        let (heads, pred_dim) = Self::heads(&root, config, r)?;
        let predictor = match pred_dim {
            Some(d) => Some(Predictor::new(&root.pp("predictor"), config, d, latent)?),
            None => None,
        };
        let augself = if config.experience.is_augself() {
            Some(AugSelfHead::new(&root.pp("predictor"), r, latent)?)
        } else {
            None
        };
        let evaluator =
            OnlineEvaluator::new(&root.pp("evaluator"), r, config.inv_repr(), config.num_classes)?;
        Ok(Self { config: config.clone(), params, backbone, heads, predictor, augself, evaluator })
    }

    /// The projectors, and the size of the predictor's embedding if there is one.
    fn heads(root: &Scope, c: &ModelConfig, r: usize) -> Result<(Heads, Option<usize>)> {
        Ok(match c.experience {
            Experience::VICReg
            | Experience::SimCLR
            | Experience::SimCLRAugSelf
            | Experience::SimCLRAugSelfRotColor
            | Experience::VICRegPartInv => {
                (Heads::Single(Projector::new(&root.pp("projector"), r, &c.mlp)?), None)
            }
            Experience::SIE | Experience::SIENoVar | Experience::SIERotColor => {
                let (i, e) = (c.inv_repr(), c.equi);
                let inv = Projector::new(&root.pp("projector_inv"), i, &c.scaled_mlp(i))?;
                let equi = Projector::new(&root.pp("projector_equi"), e, &c.scaled_mlp(e))?;
                let d = equi.out_dim();
                (Heads::Split { inv, equi }, Some(d))
            }
            Experience::SIEOnlyEqui | Experience::SimCLROnlyEqui | Experience::SimCLROnlyEquiRotColor => {
                let equi = Projector::new(&root.pp("projector_equi"), r, &c.mlp)?;
                let d = equi.out_dim();
                (Heads::OnlyEqui(equi), Some(d))
            }
            Experience::VICRegEquiMod | Experience::SimCLREquiMod | Experience::SimCLREquiModRotColor => {
                // Built in the reference's order: the equivariant projector first.
                let equi = Projector::new(&root.pp("projector_equi"), r, &c.mlp)?;
                let inv = Projector::new(&root.pp("projector_inv"), r, &c.mlp)?;
                let d = equi.out_dim();
                (Heads::Both { inv, equi }, Some(d))
            }
        })
    }

    /// Backbone representation (N, repr) of normalised images (N, 3, R, R).
    pub fn representation(&self, images: &Tensor, mode: Mode) -> Result<Tensor> {
        self.backbone.forward(images, mode)
    }

    /// (invariant embedding, equivariant embedding) of representations; `None` for a part the
    /// method does not have. VICReg/SimCLR's single projector counts as invariant; VICRegPartInv's
    /// is split into its first dims (invariant) and its last `equi_emb` (equivariant).
    pub fn embeddings(&self, repr: &Tensor, mode: Mode) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let inv_dims = self.config.inv_repr();
        Ok(match &self.heads {
            Heads::Single(p) if self.config.equi_emb > 0 => {
                let e = p.forward(repr, mode)?;
                let (d, tail) = (e.dim(1)?, self.config.equi_emb);
                // Contiguous, as every other head's output (evaluation index-selects rows).
                (
                    Some(e.narrow(1, 0, d - tail)?.contiguous()?),
                    Some(e.narrow(1, d - tail, tail)?.contiguous()?),
                )
            }
            Heads::Single(p) => (Some(p.forward(repr, mode)?), None),
            Heads::Split { inv, equi } => (
                Some(inv.forward(&repr.narrow(1, 0, inv_dims)?, mode)?),
                Some(equi.forward(&repr.narrow(1, inv_dims, self.config.equi)?, mode)?),
            ),
            Heads::OnlyEqui(equi) => (None, Some(equi.forward(repr, mode)?)),
            Heads::Both { inv, equi } => (Some(inv.forward(repr, mode)?), Some(equi.forward(repr, mode)?)),
        })
    }

    /// The predictor applied to an equivariant embedding (N, d) and a latent (N, 4 or 6).
    pub fn predict(&self, equi_embedding: &Tensor, latent: &Tensor) -> Result<Tensor> {
        match &self.predictor {
            Some(p) => p.forward(equi_embedding, latent),
            None => candle_core::bail!("{:?} has no predictor", self.config.experience),
        }
    }

    /// One training forward pass: BatchNorm in training mode (running statistics updated).
    /// `with_stats`: also compute the correlation/std statistics (they cost a few matmuls).
    pub fn forward_train(&self, batch: &Batch, lc: &LossConfig, with_stats: bool) -> Result<StepOutput> {
        let mode = Mode::Train;
        let r1 = self.representation(&batch.x1, mode)?;
        let r2 = self.representation(&batch.x2, mode)?;
        let quat = batch.latent.narrow(1, 0, 4)?;
        let (eval_loss, online) =
            self.evaluator.forward(&r1, &r2, &batch.labels, &quat, lc.rotation_supervision)?;
        let (i1, e1) = self.embeddings(&r1, mode)?;
        let (i2, e2) = self.embeddings(&r2, mode)?;
        let cat = |a: &Option<Tensor>, b: &Option<Tensor>| -> Result<Tensor> {
            match (a, b) {
                (Some(a), Some(b)) => Tensor::cat(&[a, b], 1),
                (Some(a), None) | (None, Some(a)) => Ok(a.clone()),
                (None, None) => unreachable!("every method has a projector"),
            }
        };
        let (x, y) = (cat(&i1, &e1)?, cat(&i2, &e2)?);
        let mut st = StepStats { online, ..Default::default() };
        if with_stats {
            st.coremb_view1 = Some(loss::mean_correlation(&r1)?);
            st.coremb_view2 = Some(loss::mean_correlation(&r2)?);
            st.stdemb_view1 = Some(loss::mean_std_normalised(&r1)?);
            st.stdemb_view2 = Some(loss::mean_std_normalised(&r2)?);
            st.corhead_view1 = Some(loss::mean_correlation(&x)?);
            st.corhead_view2 = Some(loss::mean_correlation(&y)?);
            st.stdhead_view1 = Some(loss::mean_std_normalised(&x)?);
            st.stdhead_view2 = Some(loss::mean_std_normalised(&y)?);
        }
        let pred = match (&e1, &self.predictor) {
            (Some(e1), Some(p)) => {
                let pred = p.forward(e1, &batch.latent)?;
                if with_stats {
                    st.coremb_pred = Some(loss::mean_correlation(&pred)?);
                    st.stdemb_pred = Some(loss::mean_std_normalised(&pred)?);
                }
                Some(pred)
            }
            _ => None,
        };
        let augself = match &self.augself {
            Some(head) => Some(head.forward(&r1, &r2)?),
            None => None,
        };
        let inputs = LossInputs {
            i1: i1.as_ref(),
            i2: i2.as_ref(),
            e2: e2.as_ref(),
            x: &x,
            y: &y,
            pred: pred.as_ref(),
            augself: augself.as_ref().map(|a| (a, &batch.latent)),
        };
        let ssl = Self::ssl_loss(self.config.experience, lc, &inputs, &mut st)?;
        st.loss = scalar(&ssl)?;
        st.eval_loss = scalar(&eval_loss)?;
        Ok(StepOutput { total: (ssl + eval_loss)?, stats: st })
    }

    /// The method's loss (SPEC section 4 for the SIE family) on the projector outputs and
    /// predictions in `inp`; public for the NumPy-pinned loss test (`tests/losses.rs`).
    pub fn ssl_loss(
        exp: Experience,
        lc: &LossConfig,
        inp: &LossInputs,
        st: &mut StepStats,
    ) -> Result<Tensor> {
        let (x, y, pred) = (inp.x, inp.y, inp.pred);
        let std_pair = |a: &Tensor, b: &Tensor| -> Result<Tensor> {
            (loss::std_term(a)? / 2.0)? + (loss::std_term(b)? / 2.0)?
        };
        let cov_pair = |a: &Tensor, b: &Tensor| -> Result<Tensor> { loss::cov_term(a)? + loss::cov_term(b)? };
        match exp {
            Experience::VICReg | Experience::VICRegPartInv => {
                // VICRegPartInv: invariance on the embeddings' first dims only (its `i1`, `i2`);
                // variance and covariance on the whole embeddings, as VICReg.
                let inv = match exp {
                    Experience::VICReg => loss::mse(x, y)?,
                    _ => loss::mse(inp.i1.expect("PartInv's part"), inp.i2.expect("PartInv's part"))?,
                };
                let std = std_pair(x, y)?;
                let cov = cov_pair(x, y)?;
                st.repr_loss_inv = Some(scalar(&inv)?);
                st.std_loss = Some(scalar(&std)?);
                st.cov_loss = Some(scalar(&cov)?);
                ((inv * lc.sim_coeff)? + (std * lc.std_coeff)?)? + (cov * lc.cov_coeff)?
            }
            Experience::SimCLR
            | Experience::SimCLRAugSelf
            | Experience::SimCLRAugSelfRotColor
            | Experience::SimCLROnlyEqui
            | Experience::SimCLROnlyEquiRotColor
            | Experience::SimCLREquiMod
            | Experience::SimCLREquiModRotColor => methods::simclr::loss(exp, lc, inp, st),
            Experience::SIE | Experience::SIENoVar | Experience::SIERotColor | Experience::SIEOnlyEqui => {
                let pred = pred.expect("SIE has a predictor");
                let equi = loss::mse(pred, inp.e2.expect("SIE has an equivariant part"))?;
                let std = std_pair(x, y)?;
                let cov = cov_pair(x, y)?;
                st.repr_loss_equi = Some(scalar(&equi)?);
                st.std_loss = Some(scalar(&std)?);
                st.cov_loss = Some(scalar(&cov)?);
                let mut total = if exp == Experience::SIEOnlyEqui {
                    // The reference weighs the only (equivariant) similarity term by sim_coeff alone.
                    (equi * lc.sim_coeff)?
                } else {
                    let inv = loss::mse(inp.i1.expect("split"), inp.i2.expect("split"))?;
                    st.repr_loss_inv = Some(scalar(&inv)?);
                    ((inv * lc.sim_coeff)? + (equi * (lc.equi_factor * lc.sim_coeff))?)?
                };
                total = ((total + (std * lc.std_coeff)?)? + (cov * lc.cov_coeff)?)?;
                if exp != Experience::SIENoVar {
                    let pred_std = (loss::std_term(pred)? / 2.0)?;
                    st.pred_std_loss = Some(scalar(&pred_std)?);
                    total = (total + (pred_std * lc.std_coeff)?)?;
                }
                Ok(total)
            }
            Experience::VICRegEquiMod => {
                // VICReg on the invariant embeddings, plus VICReg between the prediction and the
                // view-2 equivariant embedding (variance/covariance on the equivariant embeddings),
                // weighted by equi_factor.
                let (i1, i2) = (inp.i1.expect("inv"), inp.i2.expect("inv"));
                let pred = pred.expect("EquiMod has a predictor");
                let d = i1.dim(1)?;
                let (x_e, y_e) = (x.narrow(1, d, x.dim(1)? - d)?, y.narrow(1, d, y.dim(1)? - d)?);
                let inv = loss::mse(i1, i2)?;
                let std_inv = std_pair(i1, i2)?;
                let cov_inv = cov_pair(i1, i2)?;
                let equi = loss::mse(pred, inp.e2.expect("equi"))?;
                let std_equi = std_pair(&x_e, &y_e)?;
                let cov_equi = cov_pair(&x_e, &y_e)?;
                st.repr_loss_inv = Some(scalar(&inv)?);
                st.repr_loss_equi = Some(scalar(&equi)?);
                st.std_loss = Some(scalar(&std_inv)? + scalar(&std_equi)?);
                st.cov_loss = Some(scalar(&cov_inv)? + scalar(&cov_equi)?);
                let l_inv =
                    (((inv * lc.sim_coeff)? + (std_inv * lc.std_coeff)?)? + (cov_inv * lc.cov_coeff)?)?;
                let l_equi =
                    (((equi * lc.sim_coeff)? + (std_equi * lc.std_coeff)?)? + (cov_equi * lc.cov_coeff)?)?;
                l_inv + (l_equi * lc.equi_factor)?
            }
        }
    }
}
