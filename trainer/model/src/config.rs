//! What fixes a model: [`ModelConfig`] (stored in every checkpoint, so a checkpoint rebuilds its
//! own model), and where it runs ([`DeviceKind`]).

use anyhow::{bail, Context};
use candle_core::Device;
use serde::{Deserialize, Serialize};

pub use crate::backbone::Arch;
pub use crate::methods::Experience;
use crate::methods::HeadsConfig;
pub use crate::predictor::{Hypernetwork, PredictorConfig, PredictorType};

/// Everything that fixes the model's parameters and forward pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub experience: Experience,
    pub arch: Arch,
    /// Representation size (512 for resnet18).
    pub repr_dim: usize,
    /// Equivariant part of the representation (the last `equi` dims); 0 when not split.
    pub equi: usize,
    /// Unscaled projector sizes, e.g. [2048, 2048, 2048].
    pub mlp: Vec<usize>,
    pub hypernetwork: Hypernetwork,
    /// Intermediate layer sizes of the predicted network.
    pub predictor: Vec<usize>,
    pub predictor_relu: bool,
    pub predictor_type: PredictorType,
    pub tf_num_layers: usize,
    pub bias_pred: bool,
    pub bias_hypernet: bool,
    pub num_classes: usize,
    /// The transformation latent also holds the translation's delta (3DIEBench-T).
    #[serde(default)]
    pub translation_latent: bool,
    /// VICRegPartInv: the embedding's last `equi_emb` dims are left out of the invariance term
    /// (the reference's `equi_emb_size`, from `--equi`) and form its equivariant embedding; 0
    /// for every other method.
    #[serde(default)]
    pub equi_emb: usize,
}

impl ModelConfig {
    /// Size of the transformation latent the predictor is conditioned on.
    pub fn latent_dim(&self) -> usize {
        self.experience.latent_dim() + if self.translation_latent { 3 } else { 0 }
    }

    /// The predictor's part of the configuration.
    pub fn predictor_config(&self) -> PredictorConfig {
        PredictorConfig {
            predictor_type: self.predictor_type,
            hypernetwork: self.hypernetwork,
            predictor: self.predictor.clone(),
            predictor_relu: self.predictor_relu,
            tf_num_layers: self.tf_num_layers,
            bias_pred: self.bias_pred,
            bias_hypernet: self.bias_hypernet,
        }
    }

    /// What the method's heads are built from.
    pub fn heads(&self) -> HeadsConfig {
        HeadsConfig {
            mlp: self.mlp.clone(),
            repr_dim: self.repr_dim,
            equi: self.equi,
            equi_emb: self.equi_emb,
            latent_dim: self.latent_dim(),
            predictor: self.predictor_config(),
        }
    }

    /// Invariant part of the representation: dims [0, inv).
    pub fn inv_repr(&self) -> usize {
        self.heads().inv_repr()
    }

    /// A projector's sizes for a part of `part` dims: round(size * part / repr), as the reference.
    pub fn scaled_mlp(&self, part: usize) -> Vec<usize> {
        self.heads().scaled_mlp(part)
    }
}

/// Where the model runs: `cpu`, `cuda` (GPU 0) or `cuda:N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeviceKind {
    #[default]
    Cpu,
    /// The CUDA device of this index.
    Cuda(usize),
}

impl std::str::FromStr for DeviceKind {
    type Err = String;

    /// Also accepts `Cpu` and `Cuda`: how checkpoints from before `cuda:N` stored the flag.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" | "Cpu" => Ok(Self::Cpu),
            "cuda" | "Cuda" => Ok(Self::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| format!("unknown device `{s}`: expected cpu, cuda or cuda:N")),
        }
    }
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl Serialize for DeviceKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The device `kind` names. Data-parallel ranks: `cuda` (or `cuda:0`) is each rank's own GPU,
/// its local rank (as the reference's `torch.cuda.set_device(gpu)`).
pub fn open_device(kind: DeviceKind) -> anyhow::Result<Device> {
    Ok(match kind {
        DeviceKind::Cpu => Device::Cpu,
        DeviceKind::Cuda(i) => {
            let i = if i == 0 { comm::cuda_ordinal(0) } else { i };
            let device = Device::new_cuda(i)
                .with_context(|| format!("--device cuda:{i} (a build with --features cuda, and that GPU)"))?;
            tune_cuda_allocator(&device).with_context(|| format!("cuda:{i}: setting up its allocator"))?;
            device
        }
    })
}

/// The stream-ordered pool keeps the memory it has, as PyTorch's caching allocator does: its
/// release threshold defaults to 0, which returns every free block to the driver at each
/// synchronisation, so each step unmapped and mapped its activations again (a training step
/// frees and allocates the same large activations every time). The pool is the device's, shared
/// by the process; setting it again is harmless.
#[cfg(feature = "cuda")]
fn tune_cuda_allocator(device: &Device) -> anyhow::Result<()> {
    use candle_core::cuda_backend::cudarc::driver::{result, sys};
    let Device::Cuda(cuda) = device else { return Ok(()) };
    let stream = cuda.cuda_stream();
    let context = stream.context();
    context.bind_to_thread()?;
    // SAFETY: the pool is the default pool of this context's device; the attribute takes a u64.
    unsafe {
        let pool = result::device::get_default_mem_pool(context.cu_device())?;
        let mut keep_all = u64::MAX;
        let attribute = sys::CUmemPool_attribute_enum::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD;
        sys::cuMemPoolSetAttribute(pool, attribute, (&mut keep_all as *mut u64).cast()).result()?;
    }
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn tune_cuda_allocator(_: &Device) -> anyhow::Result<()> {
    Ok(())
}

/// Parses "2048-2048-2048" (an empty string is an empty list).
pub fn parse_sizes(text: &str, flag: &str) -> anyhow::Result<Vec<usize>> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split('-')
        .map(|p| {
            let v: usize =
                p.trim().parse().with_context(|| format!("{flag} {text:?}: {p:?} is not a size"))?;
            if v == 0 {
                bail!("{flag} {text:?}: sizes must be positive");
            }
            Ok(v)
        })
        .collect()
}
