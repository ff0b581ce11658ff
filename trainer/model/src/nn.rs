//! Layers with PyTorch names and initialisations: Linear, BatchNorm, the VICReg projector and
//! plain ReLU MLPs. How a forward pass runs (mode, ops, ranks) is a [`Pass`] handed down.

use std::cell::RefCell;
use std::rc::Rc;

use candle_core::{Result, Tensor, Var, D};
use comm::Group;
use kernels::Kernels;

use crate::params::{Init, Scope};

/// Training mode uses and updates batch statistics; eval mode uses the running ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// How a forward pass runs: the mode, the model's ops, its ranks (batch norms of data-parallel
/// ranks use global statistics), and where training-mode batch norms put their
/// running-statistics updates (applied at once unless [`Pass::deferring`]).
#[derive(Clone)]
pub struct Pass {
    pub mode: Mode,
    pub kernels: Kernels,
    pub group: Group,
    deferred: Option<Rc<RefCell<Vec<RunningUpdate>>>>,
}

impl Pass {
    pub fn new(mode: Mode, kernels: Kernels, group: Group) -> Self {
        Self { mode, kernels, group, deferred: None }
    }

    /// An eval-mode pass of one process with `kernels`.
    pub fn eval(kernels: Kernels) -> Self {
        Self::new(Mode::Eval, kernels, Group::alone())
    }

    /// This pass with its batch norms' running-statistics updates held back instead of applied,
    /// until [`Pass::take_deferred`]. Two forward passes through the same layers can then run at
    /// once and still update the statistics in a fixed order (the update is not commutative).
    pub fn deferring(&self) -> Self {
        Self { deferred: Some(Rc::default()), ..self.clone() }
    }

    /// The updates held back by a [`Pass::deferring`] pass, in the order they were made.
    pub fn take_deferred(&self) -> DeferredRunningStats {
        DeferredRunningStats(self.deferred.as_ref().map(|d| d.take()).unwrap_or_default())
    }
}

/// PyTorch's BatchNorm momentum and epsilon.
pub const BN_MOMENTUM: f64 = 0.1;
pub const BN_EPS: f64 = 1e-5;

/// `nn.Linear`: weight (out, in), optional bias; PyTorch's default init U(+-1/sqrt(in)).
pub struct Linear {
    pub weight: Var,
    pub bias: Option<Var>,
}

impl Linear {
    pub fn new(s: &Scope, inp: usize, out: usize, bias: bool) -> Result<Self> {
        let bound = 1.0 / (inp as f32).sqrt();
        let weight = s.param("weight", (out, inp), Init::Uniform(bound))?;
        let bias = if bias { Some(s.param("bias", out, Init::Uniform(bound))?) } else { None };
        Ok(Self { weight, bias })
    }

    /// `x` (N, in) -> (N, out).
    pub fn forward(&self, x: &Tensor, k: &Kernels) -> Result<Tensor> {
        let y = k.linear(x, self.weight.as_tensor())?;
        match &self.bias {
            Some(b) => y.broadcast_add(b.as_tensor()),
            None => Ok(y),
        }
    }

    pub fn out_dim(&self) -> usize {
        self.weight.dims()[0]
    }
}

/// `nn.BatchNorm1d/2d`: over dim 1 of (N, C) or (N, C, H, W).
pub struct BatchNorm {
    pub weight: Var,
    pub bias: Var,
    pub running_mean: Var,
    pub running_var: Var,
}

impl BatchNorm {
    /// `zero_weight`: start with scale 0 (the last BN of a residual branch).
    pub fn new(s: &Scope, channels: usize, zero_weight: bool) -> Result<Self> {
        let weight = s.param("weight", channels, Init::Const(if zero_weight { 0.0 } else { 1.0 }))?;
        let bias = s.param("bias", channels, Init::Const(0.0))?;
        let running_mean = s.buffer("running_mean", channels, 0.0)?;
        let running_var = s.buffer("running_var", channels, 1.0)?;
        Ok(Self { weight, bias, running_mean, running_var })
    }

    pub fn forward(&self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
        self.apply(x, pass, false)
    }

    /// relu(self.forward(x)), fused into one op in training mode.
    pub fn forward_relu(&self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
        self.apply(x, pass, true)
    }

    fn apply(&self, x: &Tensor, pass: &Pass, relu: bool) -> Result<Tensor> {
        match pass.mode {
            Mode::Train => {
                let (w, b) = (self.weight.as_tensor(), self.bias.as_tensor());
                let (y, mean, var) = match pass.group.communicator() {
                    // Data-parallel ranks: statistics over the global batch (SyncBatchNorm).
                    Some(comm) => comm::sync_batch_norm::batch_norm_train(comm, x, w, b, BN_EPS, relu)?,
                    None => pass.kernels.batch_norm_train(x, w, b, BN_EPS, relu)?,
                };
                let update = RunningUpdate {
                    running_mean: self.running_mean.clone(),
                    running_var: self.running_var.clone(),
                    mean: mean.detach(),
                    var: var.detach(),
                };
                match &pass.deferred {
                    Some(list) => list.borrow_mut().push(update),
                    None => update.apply()?,
                }
                Ok(y)
            }
            Mode::Eval => {
                let c = self.weight.dims()[0];
                let mut shape = vec![1usize; x.rank()];
                shape[1] = c;
                let scale =
                    (self.running_var.as_tensor() + BN_EPS)?.sqrt()?.recip()?.mul(self.weight.as_tensor())?;
                let shift = (self.bias.as_tensor() - self.running_mean.as_tensor().mul(&scale)?)?;
                let y =
                    x.broadcast_mul(&scale.reshape(shape.clone())?)?.broadcast_add(&shift.reshape(shape)?)?;
                if relu {
                    pass.kernels.relu(&y)
                } else {
                    Ok(y)
                }
            }
        }
    }
}

/// One batch's update of a batch norm's running statistics (PyTorch's momentum rule).
struct RunningUpdate {
    running_mean: Var,
    running_var: Var,
    mean: Tensor,
    var: Tensor,
}

impl RunningUpdate {
    fn apply(&self) -> Result<()> {
        let m = BN_MOMENTUM;
        let rm = ((self.running_mean.as_tensor() * (1.0 - m))? + (&self.mean * m)?)?;
        let rv = ((self.running_var.as_tensor() * (1.0 - m))? + (&self.var * m)?)?;
        self.running_mean.set(&rm)?;
        self.running_var.set(&rv)
    }
}

/// Running-statistics updates held back by a [`Pass::deferring`] pass, in the order they were made.
#[must_use = "the running statistics change only when the updates are applied"]
pub struct DeferredRunningStats(Vec<RunningUpdate>);

impl DeferredRunningStats {
    /// Applies the updates in the order the batch norms made them.
    pub fn apply(self) -> Result<()> {
        self.0.iter().try_for_each(RunningUpdate::apply)
    }
}

/// The VICReg/SIE projector `in-s1-...-sk`: Linear+BatchNorm1d+ReLU for all but the last layer,
/// the last a bias-free Linear. Names follow `nn.Sequential`: `0` Linear, `1` BN, (`2` ReLU), `3`...
pub struct Projector {
    hidden: Vec<(Linear, BatchNorm)>,
    last: Linear,
}

impl Projector {
    pub fn new(s: &Scope, inp: usize, sizes: &[usize]) -> Result<Self> {
        let mut dims = vec![inp];
        dims.extend_from_slice(sizes);
        let mut hidden = Vec::new();
        for i in 0..dims.len() - 2 {
            let lin = Linear::new(&s.pp(3 * i), dims[i], dims[i + 1], true)?;
            let bn = BatchNorm::new(&s.pp(3 * i + 1), dims[i + 1], false)?;
            hidden.push((lin, bn));
        }
        let n = dims.len();
        let last = Linear::new(&s.pp(3 * (n - 2)), dims[n - 2], dims[n - 1], false)?;
        Ok(Self { hidden, last })
    }

    pub fn forward(&self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
        let mut h = x.clone();
        for (lin, bn) in &self.hidden {
            h = bn.forward_relu(&lin.forward(&h, &pass.kernels)?, pass)?;
        }
        self.last.forward(&h, &pass.kernels)
    }

    pub fn out_dim(&self) -> usize {
        self.last.out_dim()
    }
}

/// Linear layers with ReLU between them (not after the last); `nn.Sequential` names `0`, `2`, ...
pub struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    /// `dims` = [in, hidden..., out].
    pub fn new(s: &Scope, dims: &[usize], bias: bool) -> Result<Self> {
        let layers = (0..dims.len() - 1)
            .map(|i| Linear::new(&s.pp(2 * i), dims[i], dims[i + 1], bias))
            .collect::<Result<_>>()?;
        Ok(Self { layers })
    }

    pub fn forward(&self, x: &Tensor, k: &Kernels) -> Result<Tensor> {
        let mut h = x.clone();
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(&h, k)?;
            if i + 1 < self.layers.len() {
                h = h.relu()?;
            }
        }
        Ok(h)
    }
}

/// Mean over dims 2 and 3 of (N, C, H, W): global average pooling.
pub fn global_avg_pool(x: &Tensor) -> Result<Tensor> {
    x.mean(D::Minus1)?.mean(D::Minus1)
}
