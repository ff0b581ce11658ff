//! Adam with L2 weight decay (PyTorch `torch.optim.Adam(weight_decay=...)` semantics: the decay
//! is added to the gradient before the moments).
//!
//! For f32 parameters on the CPU the moments live in plain vectors and each step updates the
//! parameter storage in place (one fused, rayon-parallel loop per tensor, no tensor graph); any
//! other parameter (CUDA, other dtypes) takes the tensor-op path, which is also the reference the
//! fast path is tested against.

use std::cell::RefCell;

use candle_core::{backprop::GradStore, bail, CpuStorage, InplaceOp2, Layout, Result, Tensor, Var};
use rayon::prelude::*;

use kernels::{cpu, KernelPath, Kernels};

#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 1e-6 }
    }
}

/// First and second moments of one parameter.
enum Moments {
    /// CPU f32 parameter: updated in place by [`FusedAdam`].
    Host { m: Vec<f32>, v: Vec<f32> },
    /// Any other parameter: tensors on the parameter's device.
    Tensors { m: Tensor, v: Tensor },
}

/// One optimised parameter and its moments.
struct Slot {
    name: String,
    var: Var,
    moments: Moments,
}

pub struct Adam {
    pub config: AdamConfig,
    slots: Vec<Slot>,
    step: u64,
}

impl Adam {
    /// Adam as the model's `kernels` run it: the tensor-op path (what a GPU runs) on
    /// [`KernelPath::Portable`], the fused CPU update for f32 CPU parameters otherwise.
    pub fn for_kernels(params: Vec<(String, Var)>, config: AdamConfig, kernels: &Kernels) -> Result<Self> {
        Self::build(params, config, kernels.path != KernelPath::Portable)
    }

    /// `params`: (name, variable) of the parameters to optimise; leave BatchNorm running stats out.
    pub fn new(params: Vec<(String, Var)>, config: AdamConfig) -> Result<Self> {
        Self::build(params, config, true)
    }

    /// Like [`Adam::new`] but every parameter takes the device-generic tensor-op path (what non-CPU
    /// parameters always take): the reference for tests and benchmarks.
    pub fn new_tensor_ops(params: Vec<(String, Var)>, config: AdamConfig) -> Result<Self> {
        Self::build(params, config, false)
    }

    fn build(params: Vec<(String, Var)>, config: AdamConfig, fused: bool) -> Result<Self> {
        let slots = params
            .into_iter()
            .map(|(name, var)| {
                let moments = if fused && cpu::is_cpu_f32(&[var.as_tensor()]) {
                    Moments::Host { m: vec![0.0; var.elem_count()], v: vec![0.0; var.elem_count()] }
                } else {
                    Moments::Tensors { m: var.zeros_like()?, v: var.zeros_like()? }
                };
                Ok(Slot { name, var, moments })
            })
            .collect::<Result<_>>()?;
        Ok(Self { config, slots, step: 0 })
    }

    pub fn step_count(&self) -> u64 {
        self.step
    }

    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let c = self.config;
        let bc1 = 1.0 - c.beta1.powi(self.step as i32);
        let bc2 = 1.0 - c.beta2.powi(self.step as i32);
        for s in &mut self.slots {
            let Some(g) = grads.get(s.var.as_tensor()) else { continue };
            match &mut s.moments {
                Moments::Host { m, v } => {
                    let op = FusedAdam { config: c, bc1, bc2, m: RefCell::new(m), v: RefCell::new(v) };
                    s.var.as_tensor().inplace_op2(&g.contiguous()?, &op)?;
                }
                Moments::Tensors { m, v } => {
                    // Detached: a gradient can carry the graph its backward built (custom ops'
                    // backward passes are ordinary tensor ops), and moments built from it would
                    // keep every step's activations alive (on a GPU: out of memory at step 2).
                    let (p, g) = (s.var.as_tensor().detach(), g.detach());
                    let g = if c.weight_decay != 0.0 { (&g + (&p * c.weight_decay)?)? } else { g };
                    *m = ((&*m * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
                    *v = ((&*v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
                    let denom = ((&*v / bc2)?.sqrt()? + c.eps)?;
                    let update = ((&*m / bc1)? / denom)?;
                    s.var.set(&(&p - (update * c.lr)?)?)?;
                }
            }
        }
        Ok(())
    }

    /// Optimiser state for checkpoints: `<name>.exp_avg`, `<name>.exp_avg_sq`, and the step.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for s in &self.slots {
            let (m, v) = match &s.moments {
                Moments::Host { m, v } => {
                    let t = |d: &Vec<f32>| {
                        cpu::tensor(d.clone(), s.var.shape()).expect("moments have the parameter's size")
                    };
                    (t(m), t(v))
                }
                Moments::Tensors { m, v } => (m.clone(), v.clone()),
            };
            out.push((format!("{}.exp_avg", s.name), m));
            out.push((format!("{}.exp_avg_sq", s.name), v));
        }
        out
    }

    /// Restores state written by [`Adam::state`].
    pub fn load_state(
        &mut self,
        tensors: &std::collections::HashMap<String, Tensor>,
        step: u64,
    ) -> Result<()> {
        for s in &mut self.slots {
            let m_key = format!("{}.exp_avg", s.name);
            let v_key = format!("{}.exp_avg_sq", s.name);
            match &mut s.moments {
                Moments::Host { m, v } => {
                    for (key, dst) in [(&m_key, m), (&v_key, v)] {
                        if let Some(t) = tensors.get(key) {
                            let data =
                                t.to_dtype(candle_core::DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
                            if data.len() != dst.len() {
                                bail!(
                                    "adam state {key}: {} values for a parameter of {}",
                                    data.len(),
                                    dst.len()
                                )
                            }
                            *dst = data;
                        }
                    }
                }
                Moments::Tensors { m, v } => {
                    if let Some(t) = tensors.get(&m_key) {
                        *m = t.to_device(s.var.device())?;
                    }
                    if let Some(t) = tensors.get(&v_key) {
                        *v = t.to_device(s.var.device())?;
                    }
                }
            }
        }
        self.step = step;
        Ok(())
    }
}

/// One Adam step for one CPU f32 parameter, applied in place to its storage.
struct FusedAdam<'a> {
    config: AdamConfig,
    /// Bias corrections 1 - beta^t.
    bc1: f64,
    bc2: f64,
    m: RefCell<&'a mut Vec<f32>>,
    v: RefCell<&'a mut Vec<f32>>,
}

/// Elements per rayon task: big enough to amortise the scheduling, small enough to split the
/// large tensors across threads.
const CHUNK: usize = 1 << 14;

impl InplaceOp2 for FusedAdam<'_> {
    fn name(&self) -> &'static str {
        "fused-adam"
    }

    fn cpu_fwd(&self, ps: &mut CpuStorage, pl: &Layout, gs: &CpuStorage, gl: &Layout) -> Result<()> {
        let grad = cpu::slice(gs, gl, self.name())?;
        let CpuStorage::F32(data) = ps else { bail!("fused-adam: parameter is not f32") };
        let Some((start, end)) = pl.contiguous_offsets() else {
            bail!("fused-adam: parameter is not contiguous")
        };
        let param = &mut data[start..end];
        let (mut m, mut v) = (self.m.borrow_mut(), self.v.borrow_mut());
        if grad.len() != param.len() || m.len() != param.len() || v.len() != param.len() {
            bail!("fused-adam: parameter, gradient and moments differ in size")
        }
        let c = self.config;
        let (b1, b2, wd, eps) = (c.beta1 as f32, c.beta2 as f32, c.weight_decay as f32, c.eps as f32);
        // 1 - beta in f64 first, as PyTorch does: 1 - 0.999f32 is 4.7e-5 off 0.001.
        let (one_minus_b1, one_minus_b2) = ((1.0 - c.beta1) as f32, (1.0 - c.beta2) as f32);
        // PyTorch: p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
        let step_size = (c.lr / self.bc1) as f32;
        let inv_sqrt_bc2 = (1.0 / self.bc2.sqrt()) as f32;
        param
            .par_chunks_mut(CHUNK)
            .zip(grad.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), m), v)| {
                for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    let g = g + wd * *p;
                    *m = b1 * *m + one_minus_b1 * g;
                    *v = b2 * *v + one_minus_b2 * g * g;
                    *p -= step_size * *m / (v.sqrt() * inv_sqrt_bc2 + eps);
                }
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
        assert_eq!(got.dims(), want.dims(), "{what}: shapes differ");
        for (i, (g, w)) in values(got).iter().zip(values(want)).enumerate() {
            assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}[{i}]: got {g}, want {w}");
        }
    }

    /// Two steps on L = sum(p * c) (constant gradient c), lr 0.1, betas (0.9, 0.999), eps 1e-8,
    /// weight decay 0.1, p0 = (1, -2), c = (0.5, -1). By hand, for the first element:
    /// step 1: g = 0.5 + 0.1*1 = 0.6, m = 0.06, v = 0.00036, m/(1-0.9) = 0.6, sqrt(v/(1-0.999)) = 0.6,
    ///         p = 1 - 0.1 * 0.6/(0.6 + 1e-8) = 0.9000000016666666
    /// step 2: g = 0.5 + 0.09 = 0.59, m = 0.054 + 0.059 = 0.113, v = 0.00035964 + 0.0003481 = 0.00070774,
    ///         p = 0.9 - 0.1 * (0.113/0.19) / (sqrt(0.00070774/0.001999) + 1e-8) = 0.8000473404883316
    /// and likewise (-1.9000000008333333, -1.8000226891227293) for the second.
    #[test]
    fn adam_matches_hand_computed_steps() {
        let config = AdamConfig { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.1 };
        let expected = [[0.9000000016666666, -1.9000000008333333], [0.8000473404883316, -1.8000226891227293]];
        for fused in [true, false] {
            let p = Var::from_vec(vec![1f32, -2.0], 2, &Device::Cpu).unwrap();
            let c = Tensor::new(&[0.5f32, -1.0], &Device::Cpu).unwrap();
            let params = vec![("p".to_string(), p.clone())];
            let mut adam =
                if fused { Adam::new(params, config) } else { Adam::new_tensor_ops(params, config) }.unwrap();
            for want in expected {
                let grads = (p.as_tensor() * &c).unwrap().sum_all().unwrap().backward().unwrap();
                adam.step(&grads).unwrap();
                for (got, want) in values(p.as_tensor()).iter().zip(want) {
                    assert!((*got as f64 - want).abs() < 1e-6, "fused {fused}: got {got}, want {want}");
                }
            }
            assert_eq!(adam.step_count(), 2);
            let state: std::collections::HashMap<_, _> = adam.state().into_iter().collect();
            assert_close(
                "exp_avg",
                &state["p.exp_avg"],
                &Tensor::new(&[0.113f32, -0.227], &Device::Cpu).unwrap(),
                1e-6,
            );
            assert_close(
                "exp_avg_sq",
                &state["p.exp_avg_sq"],
                &Tensor::new(&[0.00070774f32, 0.00285466], &Device::Cpu).unwrap(),
                1e-6,
            );
        }
    }

    #[test]
    fn adam_state_round_trips() {
        let make = || Var::from_vec(vec![0.5f32, 1.5, -0.25], 3, &Device::Cpu).unwrap();
        let step = |adam: &mut Adam, p: &Var| {
            let grads = p.as_tensor().sqr().unwrap().sum_all().unwrap().backward().unwrap();
            adam.step(&grads).unwrap();
        };
        let (p1, p2) = (make(), make());
        let mut a1 = Adam::new(vec![("w".into(), p1.clone())], AdamConfig::default()).unwrap();
        step(&mut a1, &p1);
        let mut a2 = Adam::new(vec![("w".into(), p2.clone())], AdamConfig::default()).unwrap();
        p2.set(p1.as_tensor()).unwrap();
        a2.load_state(&a1.state().into_iter().collect(), a1.step_count()).unwrap();
        step(&mut a1, &p1);
        step(&mut a2, &p2);
        assert_close("resumed", p2.as_tensor(), p1.as_tensor(), 0.0);
    }
}
