//! Named parameters with PyTorch state-dict names, and their seeded initialisation.
//!
//! candle's CPU random generator cannot be seeded, so every initial value is drawn here from a
//! ChaCha generator seeded by `--seed`, in construction order: the same seed gives the same
//! model on every device. (Not the project's keyed BLAKE3 stream, `dataset::factors::stream`:
//! `rand_distr`'s normal and uniform samplers need an `RngCore`, and every checkpoint and
//! recorded result was initialised from this sequence; switching would change them all.) Trainable parameters and buffers (BatchNorm running statistics) live
//! in separate maps, so the optimiser and weight decay never see the buffers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Result, Shape, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};

/// How a parameter starts.
#[derive(Clone, Copy, Debug)]
pub enum Init {
    Const(f32),
    /// Normal(0, std).
    Normal(f32),
    /// Uniform(-bound, bound).
    Uniform(f32),
}

struct Inner {
    rng: ChaCha8Rng,
    params: BTreeMap<String, Var>,
    buffers: BTreeMap<String, Var>,
}

/// All variables of a model. Cheap to clone (shared).
#[derive(Clone)]
pub struct ParamStore {
    device: Device,
    inner: Arc<Mutex<Inner>>,
}

impl ParamStore {
    pub fn new(device: &Device, seed: u64) -> Self {
        let inner =
            Inner { rng: ChaCha8Rng::seed_from_u64(seed), params: BTreeMap::new(), buffers: BTreeMap::new() };
        Self { device: device.clone(), inner: Arc::new(Mutex::new(inner)) }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The root scope (names without prefix).
    pub fn root(&self) -> Scope {
        Scope { store: self.clone(), prefix: String::new() }
    }

    /// Trainable parameters, sorted by name.
    pub fn params(&self) -> Vec<(String, Var)> {
        self.inner.lock().expect("lock").params.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Buffers (BatchNorm running statistics), sorted by name.
    pub fn buffers(&self) -> Vec<(String, Var)> {
        self.inner.lock().expect("lock").buffers.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Parameters and buffers together, as a PyTorch `state_dict` (sorted by name).
    pub fn state_dict(&self) -> Vec<(String, Tensor)> {
        let inner = self.inner.lock().expect("lock");
        let mut all: Vec<(String, Tensor)> = inner
            .params
            .iter()
            .chain(inner.buffers.iter())
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Copies values into the variables of the same names. Every variable must be present
    /// (`strict`) or is left as is; a shape mismatch is always an error.
    pub fn load(
        &self,
        tensors: &std::collections::HashMap<String, Tensor>,
        prefix: &str,
        strict: bool,
    ) -> anyhow::Result<()> {
        let inner = self.inner.lock().expect("lock");
        for (name, var) in inner.params.iter().chain(inner.buffers.iter()) {
            let key = format!("{prefix}{name}");
            match tensors.get(&key) {
                Some(t) => {
                    if t.dims() != var.dims() {
                        anyhow::bail!(
                            "{key}: shape {:?} in the file, {:?} in the model",
                            t.dims(),
                            var.dims()
                        );
                    }
                    var.set(&t.to_dtype(DType::F32)?.to_device(&self.device)?)?;
                }
                None if strict => anyhow::bail!("{key}: missing"),
                None => {}
            }
        }
        Ok(())
    }

    fn create(&self, name: String, shape: Shape, init: Init, buffer: bool) -> Result<Var> {
        let mut inner = self.inner.lock().expect("lock");
        let n = shape.elem_count();
        let values: Vec<f32> = match init {
            Init::Const(c) => vec![c; n],
            Init::Normal(std) => {
                let d = Normal::new(0.0f32, std).map_err(candle_core::Error::wrap)?;
                (0..n).map(|_| d.sample(&mut inner.rng)).collect()
            }
            Init::Uniform(b) => {
                let d = Uniform::new_inclusive(-b, b).map_err(candle_core::Error::wrap)?;
                (0..n).map(|_| d.sample(&mut inner.rng)).collect()
            }
        };
        let var = Var::from_tensor(&Tensor::from_vec(values, shape, &self.device)?)?;
        let map = if buffer { &mut inner.buffers } else { &mut inner.params };
        if map.insert(name.clone(), var.clone()).is_some() {
            candle_core::bail!("parameter {name} defined twice");
        }
        Ok(var)
    }
}

/// A name prefix inside a [`ParamStore`], like candle's `VarBuilder::pp`.
#[derive(Clone)]
pub struct Scope {
    store: ParamStore,
    prefix: String,
}

impl Scope {
    /// The sub-scope `<prefix>.<name>`.
    pub fn pp(&self, name: impl std::fmt::Display) -> Scope {
        Scope { store: self.store.clone(), prefix: self.full(&name.to_string()) }
    }

    fn full(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    pub fn device(&self) -> &Device {
        self.store.device()
    }

    /// A trainable parameter `<prefix>.<name>`.
    pub fn param(&self, name: &str, shape: impl Into<Shape>, init: Init) -> Result<Var> {
        self.store.create(self.full(name), shape.into(), init, false)
    }

    /// A buffer `<prefix>.<name>` (not optimised, still checkpointed).
    pub fn buffer(&self, name: &str, shape: impl Into<Shape>, value: f32) -> Result<Var> {
        self.store.create(self.full(name), shape.into(), Init::Const(value), true)
    }
}
