//! The equivariance predictors: SIE's hypernetwork predictor and EquiMod's MLP predictor.
//!
//! Hypernetwork (reference `ParametrizedNet`): a hypernetwork maps the latent `z` to the weights
//! of a small network `d-[intermediate-]d`, laid out layer by layer as the reference does
//! (`weights[off..off+out*in].view(out, in)`, then the layer's bias with `--bias-pred`), and that
//! per-sample network is applied to the view-1 equivariant embedding.
//!
//! The hypernetwork's last layer is linear in its input `g` (the latent for `linear`, the last
//! hidden layer for `deep`, plus a constant 1 with `--bias-hypernet`), so the per-sample matrix
//! is `W(g) = sum_k g_k A_k`. The forward pass uses `W(g) x = sum_k g_k (A_k x)`: the same numbers
//! as building the (N, d, d) matrices and a batched matmul, without materialising them.

use candle_core::{Result, Tensor, D};
use kernels::Kernels;

use crate::nn::{Linear, Mlp};
use crate::params::Scope;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum Hypernetwork {
    /// One Linear from the latent to the predictor's weights.
    #[value(name = "linear")]
    Linear,
    /// Three Linear layers (latent -> latent -> latent -> weights) with ReLU.
    #[value(name = "deep")]
    Deep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum PredictorType {
    /// Per-sample linear map whose weights a hypernetwork computes from the latent (SIE).
    #[value(name = "hypernetwork")]
    Hypernetwork,
    /// MLP on [latent, embedding] (EquiMod's predictor).
    #[value(name = "mlp")]
    Mlp,
}

/// What fixes a predictor's shape (the `--predictor*`, `--hypernetwork`, `--tf-num-layers` and
/// `--bias-*` flags).
#[derive(Clone, Debug, PartialEq)]
pub struct PredictorConfig {
    pub predictor_type: PredictorType,
    pub hypernetwork: Hypernetwork,
    /// Intermediate layer sizes of the predicted network.
    pub predictor: Vec<usize>,
    pub predictor_relu: bool,
    pub tf_num_layers: usize,
    pub bias_pred: bool,
    pub bias_hypernet: bool,
}

pub enum Predictor {
    Hyper(HyperPredictor),
    Mlp(MlpPredictor),
}

impl Predictor {
    /// The predictor for an embedding of size `d` and a latent of size `latent`.
    pub fn new(s: &Scope, cfg: &PredictorConfig, d: usize, latent: usize) -> Result<Self> {
        Ok(match cfg.predictor_type {
            PredictorType::Hypernetwork => Self::Hyper(HyperPredictor::new(s, cfg, d, latent)?),
            PredictorType::Mlp => Self::Mlp(MlpPredictor::new(s, d, latent, cfg.tf_num_layers)?),
        })
    }

    /// `x` (N, d) view-1 equivariant embedding, `z` (N, latent) -> predicted view-2 embedding (N, d).
    pub fn forward(&self, x: &Tensor, z: &Tensor, k: &Kernels) -> Result<Tensor> {
        match self {
            Self::Hyper(p) => p.forward(x, z, k),
            Self::Mlp(p) => p.forward(x, z, k),
        }
    }
}

pub struct HyperPredictor {
    /// Hidden layers of a deep hypernetwork (`net.0`, `net.2`), ReLU after each.
    hidden: Vec<Linear>,
    /// The layer producing the weights (`net.0` or `net.4`).
    last: Linear,
    /// Sizes of the predicted network, [d, intermediate..., d].
    sizes: Vec<usize>,
    bias_pred: bool,
    relu: bool,
}

impl HyperPredictor {
    pub fn new(s: &Scope, cfg: &PredictorConfig, d: usize, latent: usize) -> Result<Self> {
        let mut sizes = vec![d];
        sizes.extend_from_slice(&cfg.predictor);
        sizes.push(d);
        let total: usize = sizes.windows(2).map(|w| w[0] * w[1] + if cfg.bias_pred { w[1] } else { 0 }).sum();
        let net = s.pp("hypernet").pp("net");
        let (hidden, last) = match cfg.hypernetwork {
            Hypernetwork::Linear => (Vec::new(), Linear::new(&net.pp(0), latent, total, cfg.bias_hypernet)?),
            Hypernetwork::Deep => (
                vec![
                    Linear::new(&net.pp(0), latent, latent, cfg.bias_hypernet)?,
                    Linear::new(&net.pp(2), latent, latent, cfg.bias_hypernet)?,
                ],
                Linear::new(&net.pp(4), latent, total, cfg.bias_hypernet)?,
            ),
        };
        Ok(Self { hidden, last, sizes, bias_pred: cfg.bias_pred, relu: cfg.predictor_relu })
    }

    /// The input of the weight-producing layer, with a column of ones when it has a bias, and
    /// that layer's weight with its bias as the last column: weights = g @ w^T.
    fn factors(&self, z: &Tensor, k: &Kernels) -> Result<(Tensor, Tensor)> {
        let mut g = z.clone();
        for l in &self.hidden {
            g = l.forward(&g, k)?.relu()?;
        }
        let w = self.last.weight.as_tensor().clone();
        match &self.last.bias {
            Some(b) => {
                let ones = Tensor::ones((g.dim(0)?, 1), g.dtype(), g.device())?;
                Ok((Tensor::cat(&[&g, &ones], 1)?, Tensor::cat(&[&w, &b.as_tensor().unsqueeze(1)?], 1)?))
            }
            None => Ok((g, w)),
        }
    }

    pub fn forward(&self, x: &Tensor, z: &Tensor, kernels: &Kernels) -> Result<Tensor> {
        let (g, w) = self.factors(z, kernels)?;
        let (n, k) = g.dims2()?;
        let gk = g.unsqueeze(1)?; // (N, 1, K)
        let mut out = x.clone();
        let mut off = 0;
        for (i, pair) in self.sizes.windows(2).enumerate() {
            let (a, b) = (pair[0], pair[1]);
            // Row o*a + i of w holds A_k[o, i] in column k, so w's rows for this layer, read as
            // (b, a*K), give y[n, o] = sum_(i,k) out[n, i] g[n, k] A_k[o, i] as one product with
            // the per-sample outer product out (x) g. No permuted copy of the (b*a, K) block
            // either way (its backward was a strided copy the size of the layer's weights).
            let wl = w.narrow(0, off, a * b)?.reshape((b, a * k))?;
            off += a * b;
            let outer = out.unsqueeze(2)?.broadcast_mul(&gk)?.reshape((n, a * k))?;
            out = kernels.linear(&outer, &wl)?;
            if self.bias_pred {
                let bl = w.narrow(0, off, b)?; // (b, K)
                off += b;
                out = (out + kernels.linear(&g, &bl)?)?;
            }
            if self.relu && i + 2 < self.sizes.len() {
                out = out.relu()?;
            }
        }
        Ok(out)
    }

    /// The per-sample weight matrices of layer 0, (N, out, in): the reference's materialised
    /// form, for tests and inspection.
    pub fn layer0_matrices(&self, z: &Tensor, k: &Kernels) -> Result<Tensor> {
        let (g, w) = self.factors(z, k)?;
        let (a, b) = (self.sizes[0], self.sizes[1]);
        let params = g.matmul(&w.narrow(0, 0, a * b)?.t()?)?; // (N, b*a)
        params.reshape((g.dim(0)?, b, a))
    }

    /// Sizes of the predicted network.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }
}

/// EquiMod's predictor: an MLP on [latent, embedding] (`pred.0`, `pred.2`, ...).
pub struct MlpPredictor {
    mlp: Mlp,
}

impl MlpPredictor {
    pub fn new(s: &Scope, d: usize, latent: usize, layers: usize) -> Result<Self> {
        let mut dims = vec![d + latent];
        dims.extend(std::iter::repeat_n(d, layers));
        Ok(Self { mlp: Mlp::new(&s.pp("pred"), &dims, true)? })
    }

    pub fn forward(&self, x: &Tensor, z: &Tensor, k: &Kernels) -> Result<Tensor> {
        self.mlp.forward(&Tensor::cat(&[z, x], D::Minus1)?, k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ParamStore;
    use candle_core::{Device, Tensor};

    const K: Kernels = Kernels { path: kernels::KernelPath::Cpu, precision: kernels::Precision::F32 };

    fn cfg(
        hyper: Hypernetwork,
        predictor: Vec<usize>,
        bias_pred: bool,
        bias_hypernet: bool,
    ) -> PredictorConfig {
        PredictorConfig {
            hypernetwork: hyper,
            predictor,
            predictor_relu: true,
            predictor_type: PredictorType::Hypernetwork,
            tf_num_layers: 1,
            bias_pred,
            bias_hypernet,
        }
    }

    fn inputs(n: usize, d: usize) -> (Tensor, Tensor) {
        let dev = Device::Cpu;
        let x: Vec<f32> = (0..n * d).map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5).collect();
        let z: Vec<f32> = (0..n * 4).map(|i| ((i * 31) % 11) as f32 / 11.0 - 0.4).collect();
        (Tensor::from_vec(x, (n, d), &dev).unwrap(), Tensor::from_vec(z, (n, 4), &dev).unwrap())
    }

    #[test]
    fn shapes_and_parameter_count() {
        let store = ParamStore::new(&Device::Cpu, 0);
        let p = HyperPredictor::new(
            &store.root().pp("predictor"),
            &cfg(Hypernetwork::Linear, vec![], false, false),
            8,
            4,
        )
        .unwrap();
        let names: Vec<_> = store.params().into_iter().map(|(k, v)| (k, v.dims().to_vec())).collect();
        // Bias-free Linear latent(4) -> d*d weights.
        assert_eq!(names, vec![("predictor.hypernet.net.0.weight".to_string(), vec![64, 4])]);
        let (x, z) = inputs(5, 8);
        assert_eq!(p.forward(&x, &z, &K).unwrap().dims(), &[5, 8]);
        assert_eq!(p.layer0_matrices(&z, &K).unwrap().dims(), &[5, 8, 8]);
    }

    #[test]
    fn is_not_the_identity_at_init() {
        let store = ParamStore::new(&Device::Cpu, 0);
        let p = HyperPredictor::new(&store.root(), &cfg(Hypernetwork::Linear, vec![], false, false), 16, 4)
            .unwrap();
        let (x, z) = inputs(6, 16);
        let diff = (p.forward(&x, &z, &K).unwrap() - &x).unwrap().abs().unwrap().mean_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() > 0.05);
        let eye = Tensor::eye(16, candle_core::DType::F32, &Device::Cpu).unwrap();
        let w = p.layer0_matrices(&z, &K).unwrap().get(0).unwrap();
        let d = (w - eye).unwrap().abs().unwrap().mean_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(d > 0.05, "{d}");
    }

    /// The factored forward equals the reference's materialised per-sample matrices
    /// (`bmm(x, W^T) + b`, ReLU between layers), for every hypernetwork option.
    #[test]
    fn factored_forward_matches_materialised_matrices() {
        for (hyper, inter, bp, bh) in [
            (Hypernetwork::Linear, vec![], false, false),
            (Hypernetwork::Linear, vec![], true, true),
            (Hypernetwork::Deep, vec![5], true, false),
            (Hypernetwork::Deep, vec![5, 3], false, true),
        ] {
            let store = ParamStore::new(&Device::Cpu, 1);
            let c = cfg(hyper, inter, bp, bh);
            let p = HyperPredictor::new(&store.root(), &c, 6, 4).unwrap();
            let (x, z) = inputs(3, 6);
            let fast = p.forward(&x, &z, &K).unwrap();
            // Materialise the hypernetwork output (N, P) and apply it sample by sample.
            let mut g = z.clone();
            for l in &p.hidden {
                g = l.forward(&g, &K).unwrap().relu().unwrap();
            }
            let weights = p.last.forward(&g, &K).unwrap();
            let mut out = x.unsqueeze(1).unwrap(); // (N, 1, d)
            let mut off = 0;
            for (i, w) in p.sizes.windows(2).enumerate() {
                let (a, b) = (w[0], w[1]);
                let m = weights.narrow(1, off, a * b).unwrap().reshape((3, b, a)).unwrap();
                off += a * b;
                out = out.matmul(&m.transpose(1, 2).unwrap()).unwrap();
                if bp {
                    out =
                        out.broadcast_add(&weights.narrow(1, off, b).unwrap().unsqueeze(1).unwrap()).unwrap();
                    off += b;
                }
                if i + 2 < p.sizes.len() {
                    out = out.relu().unwrap();
                }
            }
            let slow = out.squeeze(1).unwrap();
            let err = (fast - slow).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(err < 1e-5, "{hyper:?} {:?}: {err}", c.predictor);
        }
    }

    #[test]
    fn mlp_predictor_takes_latent_then_embedding() {
        let store = ParamStore::new(&Device::Cpu, 0);
        let p = MlpPredictor::new(&store.root().pp("predictor"), 8, 4, 2).unwrap();
        let names: Vec<_> = store.params().into_iter().map(|(k, v)| (k, v.dims().to_vec())).collect();
        assert_eq!(names[0], ("predictor.pred.0.bias".to_string(), vec![8]));
        assert_eq!(names[1], ("predictor.pred.0.weight".to_string(), vec![8, 12]));
        assert_eq!(names[3], ("predictor.pred.2.weight".to_string(), vec![8, 8]));
        let (x, z) = inputs(5, 8);
        assert_eq!(p.forward(&x, &z, &K).unwrap().dims(), &[5, 8]);
    }
}
