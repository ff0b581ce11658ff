//! The self-supervised model of each `--experience`: backbone, projectors, predictor, online
//! evaluator, and its loss.
//!
//! Parameter names (PyTorch `state_dict` of the reference's models): `backbone.*`,
//! `projector.*` (VICReg, SimCLR, SimCLRAugSelf, VICRegPartInv), `projector_inv.*` and
//! `projector_equi.*` (SIE family, EquiMod, SimCLROnlyEqui/EquiMod), `predictor.*` (the
//! embedding predictor, or AugSelf's head, which the reference also calls `predictor`),
//! `evaluator.*`.
//!
//! Each method's heads and loss live in its module of [`crate::methods`]; this file runs the
//! parts every method shares (backbone, online evaluator, statistics) around them.
//!
//! For evaluation code: [`SslModel::representation`] (frozen backbone, eval-mode BatchNorm),
//! [`SslModel::embeddings`] and [`SslModel::predict`] work on batches of normalised images;
//! [`crate::checkpoint::load_model`] rebuilds a model from a checkpoint.

use candle_core::{Result, Tensor};
use comm::Group;
use kernels::Kernels;

use crate::backbone::ResNet;
use crate::config::ModelConfig;
use crate::evaluator::OnlineEvaluator;
use crate::global_loss::GlobalLossInputs;
use crate::loss;
pub use crate::loss::LossConfig;
pub use crate::methods::LossInputs;
use crate::methods::{Embeddings, Method};
use crate::nn::{Mode, Pass};
use crate::params::ParamStore;
use crate::predictor::Predictor;
pub use crate::stats::StepStats;

pub struct SslModel {
    pub config: ModelConfig,
    pub params: ParamStore,
    pub backbone: ResNet,
    /// The method's heads and loss.
    pub method: Box<dyn Method>,
    pub evaluator: OnlineEvaluator,
    /// The ops its forward passes run (formulation, precision).
    pub kernels: Kernels,
    /// The ranks it trains with (alone unless data-parallel).
    pub group: Group,
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

/// The differentiable outputs of a training forward pass.
pub struct StepOutput {
    /// Self-supervised loss + online evaluator loss: what the optimiser minimises.
    pub total: Tensor,
    /// `loss` (self-supervised), `eval_loss`, the method's terms, `online.*`, and with
    /// `with_stats` the correlation statistics; on the device.
    pub stats: StepStats,
}

impl Batch {
    /// The same batch on `device`.
    pub fn to_device(&self, device: &candle_core::Device) -> Result<Self> {
        Ok(Self {
            x1: self.x1.to_device(device)?,
            x2: self.x2.to_device(device)?,
            latent: self.latent.to_device(device)?,
            labels: self.labels.to_device(device)?,
        })
    }
}

impl SslModel {
    /// A freshly initialised model (deterministic for a given `seed`), with the default kernels,
    /// alone ([`Self::with_kernels`], [`Self::with_group`] change that).
    pub fn new(config: &ModelConfig, device: &candle_core::Device, seed: u64) -> Result<Self> {
        let params = ParamStore::new(device, seed);
        let root = params.root();
        let backbone = ResNet::new(&root.pp("backbone"), config.arch)?;
        let r = backbone.repr_dim();
        let method = (config.experience.recipe().build)(&root, &config.heads(), r)?;
        let evaluator =
            OnlineEvaluator::new(&root.pp("evaluator"), r, config.inv_repr(), config.num_classes)?;
        let (kernels, group) = (Kernels::default(), Group::alone());
        Ok(Self { config: config.clone(), params, backbone, method, evaluator, kernels, group })
    }

    /// This model running `kernels`.
    pub fn with_kernels(self, kernels: Kernels) -> Self {
        Self { kernels, ..self }
    }

    /// This model training as one of `group`'s ranks.
    pub fn with_group(self, group: Group) -> Self {
        Self { group, ..self }
    }

    /// A forward pass of this model in `mode`.
    pub fn pass(&self, mode: Mode) -> Pass {
        Pass::new(mode, self.kernels, self.group.clone())
    }

    /// Backbone representation (N, repr) of normalised images (N, 3, R, R).
    pub fn representation(&self, images: &Tensor, mode: Mode) -> Result<Tensor> {
        self.backbone.forward(images, &self.pass(mode))
    }

    /// (invariant embedding, equivariant embedding) of representations; `None` for a part the
    /// method does not have (see each method's [`Method::embed`]).
    pub fn embeddings(&self, repr: &Tensor, mode: Mode) -> Result<Embeddings> {
        self.method.embed(repr, &self.pass(mode))
    }

    /// The embedding predictor, if the method has one.
    pub fn predictor(&self) -> Option<&Predictor> {
        self.method.predictor()
    }

    /// The predictor applied to an equivariant embedding (N, d) and a latent (N, 4 or 6).
    pub fn predict(&self, equi_embedding: &Tensor, latent: &Tensor) -> Result<Tensor> {
        match self.predictor() {
            Some(p) => p.forward(equi_embedding, latent, &self.kernels),
            None => candle_core::bail!("{:?} has no predictor", self.config.experience),
        }
    }

    /// One training forward pass: BatchNorm in training mode (running statistics updated).
    /// `with_stats`: also compute the correlation/std statistics (they cost a few matmuls).
    pub fn forward_train(&self, batch: &Batch, lc: &LossConfig, with_stats: bool) -> Result<StepOutput> {
        let pass = self.pass(Mode::Train);
        let r1 = self.backbone.forward(&batch.x1, &pass)?;
        let r2 = self.backbone.forward(&batch.x2, &pass)?;
        self.forward_heads(&r1, &r2, batch, lc, with_stats)
    }

    /// The part of [`Self::forward_train`] after the backbone: the online evaluator, the method's
    /// heads and loss, from the two views' representations `r1`, `r2` (N, repr).
    pub fn forward_heads(
        &self,
        r1: &Tensor,
        r2: &Tensor,
        batch: &Batch,
        lc: &LossConfig,
        with_stats: bool,
    ) -> Result<StepOutput> {
        let pass = self.pass(Mode::Train);
        let k = &self.kernels;
        let (r1, r2) = (r1.clone(), r2.clone());
        let quat = batch.latent.narrow(1, 0, 4)?;
        let mut st = StepStats::default();
        let eval_loss =
            self.evaluator.forward((&r1, &r2), &batch.labels, &quat, lc.rotation_supervision, &mut st, k)?;
        let (i1, e1) = self.method.embed(&r1, &pass)?;
        let (i2, e2) = self.method.embed(&r2, &pass)?;
        let cat = |a: &Option<Tensor>, b: &Option<Tensor>| -> Result<Tensor> {
            match (a, b) {
                (Some(a), Some(b)) => Tensor::cat(&[a, b], 1),
                (Some(a), None) | (None, Some(a)) => Ok(a.clone()),
                (None, None) => unreachable!("every method has a projector"),
            }
        };
        let (x, y) = (cat(&i1, &e1)?, cat(&i2, &e2)?);
        if with_stats {
            // Mean off-diagonal correlation and mean std of the normalised representation
            // (`emb`, the reference's name), projector output (`head`) and predictor (`pred`).
            st.set("coremb_view1", &loss::mean_correlation(&r1)?)?;
            st.set("coremb_view2", &loss::mean_correlation(&r2)?)?;
            st.set("stdemb_view1", &loss::mean_std_normalised(&r1)?)?;
            st.set("stdemb_view2", &loss::mean_std_normalised(&r2)?)?;
            st.set("corhead_view1", &loss::mean_correlation(&x)?)?;
            st.set("corhead_view2", &loss::mean_correlation(&y)?)?;
            st.set("stdhead_view1", &loss::mean_std_normalised(&x)?)?;
            st.set("stdhead_view2", &loss::mean_std_normalised(&y)?)?;
        }
        let pred = match (&e1, self.predictor()) {
            (Some(e1), Some(p)) => {
                let pred = p.forward(e1, &batch.latent, k)?;
                if with_stats {
                    st.set("coremb_pred", &loss::mean_correlation(&pred)?)?;
                    st.set("stdemb_pred", &loss::mean_std_normalised(&pred)?)?;
                }
                Some(pred)
            }
            _ => None,
        };
        let pair = self.method.pair_head(&r1, &r2, k)?;
        let inputs = LossInputs {
            i1: i1.as_ref(),
            i2: i2.as_ref(),
            e2: e2.as_ref(),
            x: &x,
            y: &y,
            pred: pred.as_ref(),
            pair: pair.as_ref().map(|a| (a, &batch.latent)),
        };
        // Data-parallel ranks: the loss of the global batch (the reference's FullGatherLayer).
        let global =
            self.group.communicator().map(|_| GlobalLossInputs::gather(&self.group, &inputs)).transpose()?;
        let inputs = global.as_ref().map_or(inputs, |g| g.inputs());
        let ssl = self.method.loss(&inputs, lc, &mut st)?;
        st.set("loss", &ssl)?;
        st.set("eval_loss", &eval_loss)?;
        // Data-parallel ranks: the evaluator's per-rank mean, weighted so that the averaged
        // gradient is the global batch's mean also when the ranks' parts differ in size.
        let eval_weight = self.group.local_mean_weight(batch.x1.dim(0)?, batch.x1.device())?;
        Ok(StepOutput { total: (ssl + (eval_loss * eval_weight)?)?, stats: st })
    }
}
