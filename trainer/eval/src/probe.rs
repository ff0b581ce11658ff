//! Probes trained on frozen, cached features: a linear classifier and an MLP regressor, both with
//! Adam (lr 1e-3, no weight decay) and mini-batches of 256 as in SPEC section 5.

use anyhow::{ensure, Result};
use candle_core::{DType, Device, Tensor, Var, D};

use super::metrics;
use super::rng::SplitMix64;
use model::optim::{Adam, AdamConfig};

/// Training schedule of a probe.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct ProbeConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub seed: u64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self { epochs: 50, batch_size: 256, lr: 1e-3, seed: 0 }
    }
}

/// Fully connected layers with ReLU between them (none after the last).
pub struct Mlp {
    layers: Vec<(Var, Var)>,
}

impl Mlp {
    /// `sizes` = [input, hidden..., output]. PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    /// for weights and biases, drawn from `seed`.
    pub fn new(sizes: &[usize], seed: u64, device: &Device) -> Result<Self> {
        ensure!(sizes.len() >= 2, "an MLP needs an input and an output size");
        let mut rng = SplitMix64::derive(seed, 0x1417);
        let mut layers = Vec::new();
        for pair in sizes.windows(2) {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let bound = 1.0 / (fan_in as f64).sqrt();
            let mut draw = |n: usize| -> Vec<f32> {
                (0..n).map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32).collect()
            };
            let w = Var::from_vec(draw(fan_out * fan_in), (fan_out, fan_in), device)?;
            let b = Var::from_vec(draw(fan_out), fan_out, device)?;
            layers.push((w, b));
        }
        Ok(Self { layers })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for (i, (w, b)) in self.layers.iter().enumerate() {
            h = h.matmul(&w.as_tensor().t()?)?.broadcast_add(b.as_tensor())?;
            if i + 1 < self.layers.len() {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    pub fn params(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        for (i, (w, b)) in self.layers.iter().enumerate() {
            out.push((format!("{i}.weight"), w.clone()));
            out.push((format!("{i}.bias"), b.clone()));
        }
        out
    }

    /// Forward in chunks, without building a graph.
    pub fn predict(&self, x: &Tensor, chunk: usize) -> Result<Tensor> {
        let n = x.dim(0)?;
        let mut parts = Vec::new();
        let mut start = 0;
        while start < n {
            let len = chunk.min(n - start);
            parts.push(self.forward(&x.narrow(0, start, len)?)?.detach());
            start += len;
        }
        Ok(Tensor::cat(&parts, 0)?)
    }
}

/// Runs `epochs` of shuffled mini-batch Adam on `loss(model, x_batch, batch_indices)`.
/// `data(epoch)` returns that epoch's inputs (fixed features or freshly drawn pairs).
pub fn fit<F, L>(model: &Mlp, config: &ProbeConfig, mut data: F, loss: L) -> Result<f64>
where
    F: FnMut(usize) -> Result<Tensor>,
    L: Fn(&Mlp, &Tensor, &Tensor) -> Result<Tensor>,
{
    let adam_config = AdamConfig { lr: config.lr, weight_decay: 0.0, ..AdamConfig::default() };
    let mut adam = Adam::new(model.params(), adam_config)?;
    let mut last_loss = f64::NAN;
    for epoch in 0..config.epochs {
        let x = data(epoch)?;
        let n = x.dim(0)?;
        let order = SplitMix64::derive(config.seed, 1000 + epoch as u64).permutation(n);
        let mut total = 0.0;
        let mut batches = 0;
        for batch in order.chunks(config.batch_size.max(1)) {
            let idx: Vec<u32> = batch.iter().map(|&i| i as u32).collect();
            let idx = Tensor::from_vec(idx, batch.len(), x.device())?;
            let xb = x.index_select(&idx, 0)?;
            let l = loss(model, &xb, &idx)?;
            adam.step(&l.backward()?)?;
            total += l.to_scalar::<f32>()? as f64;
            batches += 1;
        }
        last_loss = total / batches.max(1) as f64;
    }
    Ok(last_loss)
}

/// Outcome of a classification probe.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ClassifyResult {
    pub top1_train: f64,
    pub top1_val: f64,
    pub final_loss: f64,
}

/// Linear classifier (cross-entropy) on `x_train` (n, d) to `y_train`; top-1 on train and val.
pub fn linear_classifier(
    x_train: &Tensor,
    y_train: &[i64],
    x_val: &Tensor,
    y_val: &[i64],
    classes: usize,
    config: &ProbeConfig,
) -> Result<ClassifyResult> {
    let device = x_train.device();
    let d = x_train.dim(1)?;
    ensure!(y_train.iter().chain(y_val).all(|&y| y >= 0 && (y as usize) < classes), "label out of range");
    let model = Mlp::new(&[d, classes], config.seed, device)?;
    let labels =
        Tensor::from_vec(y_train.iter().map(|&y| y as u32).collect::<Vec<_>>(), y_train.len(), device)?;
    let final_loss = fit(
        &model,
        config,
        |_| Ok(x_train.clone()),
        |m, xb, idx| Ok(candle_nn::loss::cross_entropy(&m.forward(xb)?, &labels.index_select(idx, 0)?)?),
    )?;
    let score = |x: &Tensor, y: &[i64]| -> Result<f64> {
        let logits = model.predict(x, 4096)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(metrics::top1(&logits, classes, y))
    };
    Ok(ClassifyResult { top1_train: score(x_train, y_train)?, top1_val: score(x_val, y_val)?, final_loss })
}

/// Outcome of a regression probe.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RegressionResult {
    /// The reference's R^2 (mean over all target elements).
    pub r2: f64,
    /// Mean over target dimensions of each dimension's R^2.
    pub r2_per_dim: f64,
    pub r2_train: f64,
    /// The reference R^2 on val of the best constant prediction (train targets' column means):
    /// the floor any representation should beat. It is above 0 when column means differ.
    pub r2_constant: f64,
    pub final_loss: f64,
    /// The val R^2 of each class's pairs alone (empty where the caller gave no labels).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_class: Vec<metrics::ClassR2>,
}

/// MLP regressor (`hidden` sizes, ReLU, MSE). `train(epoch)` returns that epoch's (inputs,
/// targets), so that pairs can be redrawn every epoch; validation data is fixed, with one class
/// label per row for the per-class scores.
pub fn mlp_regressor<F>(
    mut train: F,
    (x_val, t_val, val_labels): (&Tensor, &Tensor, &[i64]),
    hidden: &[usize],
    config: &ProbeConfig,
) -> Result<RegressionResult>
where
    F: FnMut(usize) -> Result<(Tensor, Tensor)>,
{
    let (d, k) = (x_val.dim(1)?, t_val.dim(1)?);
    let sizes: Vec<usize> =
        std::iter::once(d).chain(hidden.iter().copied()).chain(std::iter::once(k)).collect();
    let model = Mlp::new(&sizes, config.seed, x_val.device())?;
    let targets = std::cell::RefCell::new(None::<Tensor>);
    let last_x = std::cell::RefCell::new(None::<Tensor>);
    let final_loss = fit(
        &model,
        config,
        |epoch| {
            let (x, t) = train(epoch)?;
            *targets.borrow_mut() = Some(t);
            *last_x.borrow_mut() = Some(x.clone());
            Ok(x)
        },
        |m, xb, idx| {
            let t =
                targets.borrow().as_ref().expect("targets are set with the inputs").index_select(idx, 0)?;
            Ok(candle_nn::loss::mse(&m.forward(xb)?, &t)?)
        },
    )?;
    let predict =
        |x: &Tensor| -> Result<Vec<f32>> { Ok(model.predict(x, 4096)?.flatten_all()?.to_vec1::<f32>()?) };
    let (pred, target) = (predict(x_val)?, t_val.flatten_all()?.to_vec1::<f32>()?);
    let r2_train = match (last_x.borrow().as_ref(), targets.borrow().as_ref()) {
        (Some(x), Some(t)) => metrics::r2_reference(&predict(x)?, &t.flatten_all()?.to_vec1::<f32>()?),
        _ => f64::NAN,
    };
    let constant = match targets.borrow().as_ref() {
        Some(t) => t.mean_keepdim(0)?.broadcast_as(t_val.shape())?.flatten_all()?.to_vec1::<f32>()?,
        None => vec![f32::NAN; target.len()],
    };
    let per_class = if val_labels.is_empty() {
        Vec::new()
    } else {
        metrics::r2_per_class(&pred, &constant, &target, k, val_labels)
    };
    Ok(RegressionResult {
        r2: metrics::r2_reference(&pred, &target),
        r2_per_dim: metrics::r2_per_dim(&pred, &target, k),
        r2_train,
        r2_constant: metrics::r2_reference(&constant, &target),
        final_loss,
        per_class,
    })
}

/// Row-major `f32` matrix to a tensor.
pub fn matrix(data: Vec<f32>, cols: usize, device: &Device) -> Result<Tensor> {
    ensure!(
        cols > 0 && data.len().is_multiple_of(cols),
        "matrix data of {} values is not a multiple of {cols}",
        data.len()
    );
    let rows = data.len() / cols;
    Ok(Tensor::from_vec(data, (rows, cols), device)?.to_dtype(DType::F32)?)
}

/// Columns [start, start + len) of a (n, d) tensor, contiguous.
pub fn columns(x: &Tensor, start: usize, len: usize) -> Result<Tensor> {
    Ok(x.narrow(D::Minus1, start, len)?.contiguous()?)
}
