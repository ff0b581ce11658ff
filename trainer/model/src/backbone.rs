//! ResNet backbones, with torchvision parameter names (`conv1`, `bn1`, `layer1.0.conv1`, ...,
//! `layer1.0.downsample.0`, `downsample.1`).
//!
//! `resnet18` follows the reference trainer's `resnet.py` exactly (which SPEC section 4
//! summarises as "no padding"): the 7x7/2 stem conv and the 3x3/2 max-pool have padding 0 but
//! their inputs are padded explicitly and asymmetrically, (2, 3) before the stem conv and (0, 1)
//! before the pool (TensorFlow "SAME"); in a block the stride sits on the second 3x3 conv, whose
//! input is padded by (0, 1); the first block of every stage has a 1x1 conv + BN shortcut.
//! `resnet18-torchvision` is torchvision's layout: padding 3 and 1, stride on the first conv,
//! identity shortcut in stage 1. Both have the same parameter names and shapes apart from
//! `layer1.0.downsample.*`, which only the reference variant has.

use candle_core::{Result, Tensor};
use kernels::Kernels;

use crate::nn::{global_avg_pool, BatchNorm, Pass};
use crate::params::{Init, Scope};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum Arch {
    /// ResNet-18 as the reference trainer builds it: no stem padding, projection shortcut in
    /// the first block of every stage. 512-d representation.
    #[value(name = "resnet18")]
    Resnet18,
    /// ResNet-18 in the torchvision layout (stem padding 3 and 1, identity shortcut in stage 1).
    #[value(name = "resnet18-torchvision")]
    Resnet18Torchvision,
    /// A tiny ResNet for tests and 32 px runs: 3x3 stride-1 stem, no max-pool, one basic block
    /// per stage, widths 16-32-64-128: a 128-d representation (0.3M parameters).
    #[value(name = "resnet-tiny")]
    ResnetTiny,
    /// A small ResNet for CPU-scale runs at 64 px: 3x3 stride-2 stem, no max-pool, one basic
    /// block per stage, widths 32-64-128-256: a 256-d representation (1.2M parameters,
    /// ~40% of ResNet-18's FLOPs at the same resolution).
    #[value(name = "resnet-small")]
    ResnetSmall,
}

impl Arch {
    pub fn repr_dim(self) -> usize {
        match self {
            Self::Resnet18 | Self::Resnet18Torchvision => 512,
            Self::ResnetTiny => 128,
            Self::ResnetSmall => 256,
        }
    }
}

/// A bias-free conv with Kaiming-normal (fan_out, ReLU) initialisation.
pub struct Conv {
    pub weight: candle_core::Var,
    pub stride: usize,
    /// Zero rows/columns (before, after) the image.
    pub padding: (usize, usize),
}

impl Conv {
    pub fn new(s: &Scope, inp: usize, out: usize, k: usize, stride: usize, padding: usize) -> Result<Self> {
        Self::padded(s, inp, out, k, stride, (padding, padding))
    }

    /// With asymmetric padding (the reference's explicit (2, 3) and (0, 1) paddings).
    fn padded(
        s: &Scope,
        inp: usize,
        out: usize,
        k: usize,
        stride: usize,
        padding: (usize, usize),
    ) -> Result<Self> {
        let std = (2.0 / (out * k * k) as f32).sqrt();
        let weight = s.param("weight", (out, inp, k, k), Init::Normal(std))?;
        Ok(Self { weight, stride, padding })
    }

    pub fn forward(&self, x: &Tensor, k: &Kernels) -> Result<Tensor> {
        k.conv2d_padded(x, self.weight.as_tensor(), self.stride, self.padding)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// The reference trainer's `resnet.py`.
    Reference,
    Torchvision,
}

struct BasicBlock {
    conv1: Conv,
    bn1: BatchNorm,
    conv2: Conv,
    bn2: BatchNorm,
    downsample: Option<(Conv, BatchNorm)>,
}

impl BasicBlock {
    fn new(s: &Scope, inp: usize, out: usize, stride: usize, shortcut: bool, layout: Layout) -> Result<Self> {
        let (conv1, conv2) = match layout {
            // Reference: conv1 3x3/1 pad 1; conv2 3x3/stride, pad 1 if stride 1, else explicit (0, 1).
            Layout::Reference => (
                Conv::new(&s.pp("conv1"), inp, out, 3, 1, 1)?,
                Conv::padded(&s.pp("conv2"), out, out, 3, stride, if stride == 1 { (1, 1) } else { (0, 1) })?,
            ),
            Layout::Torchvision => (
                Conv::new(&s.pp("conv1"), inp, out, 3, stride, 1)?,
                Conv::new(&s.pp("conv2"), out, out, 3, 1, 1)?,
            ),
        };
        let bn1 = BatchNorm::new(&s.pp("bn1"), out, false)?;
        let bn2 = BatchNorm::new(&s.pp("bn2"), out, true)?;
        let downsample = if shortcut {
            let d = s.pp("downsample");
            Some((Conv::new(&d.pp(0), inp, out, 1, stride, 0)?, BatchNorm::new(&d.pp(1), out, false)?))
        } else {
            None
        };
        Ok(Self { conv1, bn1, conv2, bn2, downsample })
    }

    fn forward(&self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
        let k = &pass.kernels;
        let h = self.bn1.forward_relu(&self.conv1.forward(x, k)?, pass)?;
        let h = self.bn2.forward(&self.conv2.forward(&h, k)?, pass)?;
        let identity = match &self.downsample {
            Some((conv, bn)) => bn.forward(&conv.forward(x, k)?, pass)?,
            None => x.clone(),
        };
        k.add_relu(&h, &identity)
    }
}

/// A ResNet without classifier: image (N, 3, H, W) -> representation (N, repr_dim).
pub struct ResNet {
    conv1: Conv,
    bn1: BatchNorm,
    stem: Stem,
    stages: Vec<Vec<BasicBlock>>,
    repr_dim: usize,
}

#[derive(Clone, Copy)]
enum Stem {
    /// 7x7/2 conv and 3x3/2 max-pool, reference padding.
    Reference,
    /// 7x7/2 conv pad 3, 3x3/2 max-pool pad 1.
    Torchvision,
    /// 3x3 conv pad 1, no pool (small images).
    Small { stride: usize },
}

impl ResNet {
    pub fn new(s: &Scope, arch: Arch) -> Result<Self> {
        let (stem, layout, widths, blocks) = match arch {
            Arch::Resnet18 => (Stem::Reference, Layout::Reference, [64, 128, 256, 512], 2),
            Arch::Resnet18Torchvision => (Stem::Torchvision, Layout::Torchvision, [64, 128, 256, 512], 2),
            Arch::ResnetTiny => (Stem::Small { stride: 1 }, Layout::Torchvision, [16, 32, 64, 128], 1),
            Arch::ResnetSmall => (Stem::Small { stride: 2 }, Layout::Torchvision, [32, 64, 128, 256], 1),
        };
        let conv1 = match stem {
            Stem::Reference => Conv::padded(&s.pp("conv1"), 3, widths[0], 7, 2, (2, 3))?,
            Stem::Torchvision => Conv::new(&s.pp("conv1"), 3, widths[0], 7, 2, 3)?,
            Stem::Small { stride } => Conv::new(&s.pp("conv1"), 3, widths[0], 3, stride, 1)?,
        };
        let bn1 = BatchNorm::new(&s.pp("bn1"), widths[0], false)?;
        let mut stages = Vec::new();
        let mut inp = widths[0];
        for (i, &w) in widths.iter().enumerate() {
            let layer = s.pp(format!("layer{}", i + 1));
            let stride = if i == 0 { 1 } else { 2 };
            let mut stage = Vec::new();
            for b in 0..blocks {
                let first = b == 0;
                let shortcut = first && (layout == Layout::Reference || stride != 1 || inp != w);
                let st = if first { stride } else { 1 };
                stage.push(BasicBlock::new(&layer.pp(b), inp, w, st, shortcut, layout)?);
                inp = w;
            }
            stages.push(stage);
        }
        Ok(Self { conv1, bn1, stem, stages, repr_dim: inp })
    }

    pub fn repr_dim(&self) -> usize {
        self.repr_dim
    }

    pub fn forward(&self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
        let k = &pass.kernels;
        let mut h = match self.stem {
            Stem::Reference => {
                let h = self.conv1.forward(x, k)?;
                // The reference pads with -1e4: after the ReLU, the same as -inf.
                let h = self.bn1.forward_relu(&h, pass)?;
                k.max_pool2d_padded(&h, 3, 2, (0, 1))?
            }
            Stem::Torchvision => {
                let h = self.bn1.forward_relu(&self.conv1.forward(x, k)?, pass)?;
                k.max_pool2d(&h, 3, 2, 1)?
            }
            Stem::Small { .. } => self.bn1.forward_relu(&self.conv1.forward(x, k)?, pass)?,
        };
        for stage in &self.stages {
            for block in stage {
                h = block.forward(&h, pass)?;
            }
        }
        global_avg_pool(&h)
    }
}

/// Renames a reference-variant or torchvision-variant backbone's state dict (names relative to
/// the backbone) to torchvision ResNet-18 names: they already are; this only drops the prefix.
pub fn torchvision_names(state: &[(String, Tensor)], prefix: &str) -> Vec<(String, Tensor)> {
    state.iter().filter_map(|(k, v)| k.strip_prefix(prefix).map(|n| (n.to_string(), v.clone()))).collect()
}
