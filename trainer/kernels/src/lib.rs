//! Differentiable ops the model is built from, behind one value: [`Kernels`] (which formulation
//! runs, and in which precision). The model holds one and passes it down; nothing here is
//! process-wide, so two formulations can run side by side in one process (tests compare them).
//!
//! Tensors are NCHW, f32. On the CPU each op is a custom candle op with a hand-written forward and
//! backward (im2col + gemm convolution, max-pool routing to the argmax, fused batch norm, ReLU and
//! the residual join). On other devices (CUDA) and for other dtypes, convolution, max-pool and
//! batch norm take [`portable`] (stock candle forward, backward passes that run well on a GPU
//! and keep little memory) and ReLU stock candle; [`reference`], plain stock candle ops with
//! candle's autograd, defines the semantics every fast path is tested against. [`precision`]
//! is the arithmetic of convolutions and matrix products. [`cpu`] gives other crates' CPU kernels
//! (the optimiser's) the same access to tensor data.
//!
//! This crate depends on candle and nothing of ours.

mod batch_norm;
mod conv;
pub mod cpu;
mod gemm;
mod linear;
mod pool;
mod pool_route;
mod pool_window;
pub mod portable;
#[cfg(test)]
mod portable_tests;
pub mod precision;
pub mod reference;
mod relu;
mod scratch;
#[cfg(test)]
mod tests;

pub use precision::Precision;

use candle_core::{Result, Tensor};

/// Which formulation of the ops runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KernelPath {
    /// The hand-written CPU kernels for f32 CPU tensors, [`portable`] for everything else (a GPU).
    #[default]
    Cpu,
    /// [`portable`] and stock candle everywhere: on the CPU, the formulation a GPU runs (tests
    /// and `cuda_check` compare a whole step of both).
    Portable,
    /// [`reference`] everywhere: stock candle ops and candle's autograd (the semantics).
    Reference,
}

/// The ops of a model: which formulation, and the precision of its products.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kernels {
    pub path: KernelPath,
    pub precision: Precision,
}

impl Kernels {
    /// The default formulation in precision `precision`.
    pub fn with_precision(precision: Precision) -> Self {
        Self { path: KernelPath::Cpu, precision }
    }

    /// 2-d convolution without bias: `x` (N, C, H, W), `w` (O, C, K, K), in [`Self::precision`].
    pub fn conv2d(&self, x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
        self.conv2d_padded(x, w, stride, (padding, padding))
    }

    /// [`Self::conv2d`] with asymmetric zero padding: `before` rows/columns at the top/left,
    /// `after` at the bottom/right (the reference ResNet's TensorFlow-style "same" padding). On the
    /// CPU in f32 the padding is part of the convolution; stock candle's pads symmetrically, so
    /// elsewhere an asymmetric padding is applied to the input first.
    pub fn conv2d_padded(
        &self,
        x: &Tensor,
        w: &Tensor,
        stride: usize,
        (before, after): (usize, usize),
    ) -> Result<Tensor> {
        if self.own_cpu_kernels(&[x, w]) {
            return conv::conv2d_padded(x, w, stride, (before, after));
        }
        let (x, padding) = symmetric_padding(x, (before, after), 0.0)?;
        if !x.device().is_cpu() {
            let (n, c, h, wd) = x.dims4()?;
            let (o, k) = (w.dim(0)?, w.dim(2)?);
            let out = |len: usize| (len + 2 * padding).saturating_sub(k) / stride + 1;
            let (oh, ow) = (out(h), out(wd));
            let (ph, pw) = (h + 2 * padding, wd + 2 * padding);
            // candle's CUDA convolution goes through an im2col buffer of N*OH*OW*C*K*K elements;
            // the backward's input gradient is a convolution over the (dilated) output gradient
            // with an im2col of about N*H*W*O*K*K (8x the forward's for a stride-2 layer that
            // doubles its channels), the weight gradient one like the forward's.
            for (what, elements) in [
                ("input", n * c * h * wd),
                ("output", n * o * oh * ow),
                ("im2col", n * oh * ow * c * k * k),
                ("input-gradient im2col", n * ph * pw * o * k * k),
            ] {
                check_32bit_indexing("conv2d", what, x.dims(), elements)?;
            }
        }
        if self.path == KernelPath::Reference {
            reference::conv2d(&x, w, stride, padding)
        } else {
            let conv = |x: &Tensor, w: &Tensor| portable::conv2d(x, w, stride, padding);
            precision::autocast2_in(self.precision, &x, w, conv)
        }
    }

    /// `x @ w^T` for an (N, in) input and an (out, in) weight (a linear layer), in
    /// [`Self::precision`]. On the CPU in f32, one threaded op whose weight gradient comes out in
    /// the weight's own layout.
    pub fn linear(&self, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        if self.own_cpu_kernels(&[x, w]) {
            linear::linear(x, w)
        } else {
            self.matmul(x, &w.t()?)
        }
    }

    /// Matrix product `a @ b` (batched when 3-d) in [`Self::precision`].
    pub fn matmul(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        precision::matmul_in(self.precision, a, b)
    }

    /// Max-pool with `padding` (pads with -inf, like PyTorch). Its backward supports
    /// kernel != stride.
    pub fn max_pool2d(&self, x: &Tensor, kernel: usize, stride: usize, padding: usize) -> Result<Tensor> {
        self.max_pool2d_padded(x, kernel, stride, (padding, padding))
    }

    /// [`Self::max_pool2d`] with asymmetric -inf padding: `before` rows/columns at the top/left,
    /// `after` at the bottom/right. On the CPU in f32 the padding is part of the pool; elsewhere
    /// an asymmetric padding is applied to the input first.
    pub fn max_pool2d_padded(
        &self,
        x: &Tensor,
        kernel: usize,
        stride: usize,
        (before, after): (usize, usize),
    ) -> Result<Tensor> {
        if self.cpu_f32(&[x]) {
            return pool::max_pool2d_padded(x, kernel, stride, (before, after));
        }
        let (x, padding) = symmetric_padding(x, (before, after), f32::NEG_INFINITY)?;
        if self.path == KernelPath::Reference {
            reference::max_pool2d(&x, kernel, stride, padding)
        } else {
            portable::max_pool2d(&x, kernel, stride, padding)
        }
    }

    /// Batch norm in training mode over (N, C, ...) with per-channel `gamma`, `beta`, statistics
    /// of this process's batch (data-parallel ranks take `comm`'s SyncBatchNorm instead).
    /// Returns (output, batch mean (C), unbiased batch variance (C)) for the running statistics;
    /// the two statistics carry no gradient. With `relu`, relu(output), as one op on the CPU.
    pub fn batch_norm_train(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        eps: f64,
        relu: bool,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        if self.path == KernelPath::Reference {
            let (y, mean, var) = reference::batch_norm_train(x, gamma, beta, eps)?;
            return Ok((if relu { reference::relu(&y)? } else { y }, mean, var));
        }
        if self.cpu_f32(&[x, gamma, beta]) {
            return batch_norm::batch_norm_train(x, gamma, beta, eps, relu);
        }
        portable::batch_norm_train(x, gamma, beta, eps, relu)
    }

    /// max(x, 0), with PyTorch's gradient on every path: 0 at exactly 0 (stock candle's is 1
    /// there). On the CPU one pass each way instead of six for the backward.
    pub fn relu(&self, x: &Tensor) -> Result<Tensor> {
        match self.path {
            _ if self.cpu_f32(&[x]) => relu::relu(x),
            KernelPath::Reference => reference::relu(x),
            _ => portable::relu(x),
        }
    }

    /// relu(a + b): the join of a residual block in one op.
    pub fn add_relu(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        if self.cpu_f32(&[a, b]) {
            relu::add_relu(a, b)
        } else {
            self.relu(&(a + b)?)
        }
    }

    /// Whether the hand-written CPU kernels run on these tensors: f32 CPU tensors on the
    /// [`KernelPath::Cpu`] path.
    pub fn cpu_f32(&self, tensors: &[&Tensor]) -> bool {
        self.path == KernelPath::Cpu && cpu::is_cpu_f32(tensors)
    }

    /// Whether the hand-written CPU kernels compute a product of these tensors: also no
    /// lower-precision autocast.
    fn own_cpu_kernels(&self, tensors: &[&Tensor]) -> bool {
        self.cpu_f32(tensors) && precision::compute_dtype_in(self.precision, tensors[0]).is_none()
    }
}

/// candle's CUDA kernels index elements with 32-bit unsigned integers: past `u32::MAX` elements
/// an index wraps and the op silently computes wrong values, so such a tensor is refused with
/// what would fit.
pub fn check_32bit_indexing(op: &str, what: &str, dims: &[usize], elements: usize) -> Result<()> {
    if elements > u32::MAX as usize {
        candle_core::bail!(
            "{op} on input {dims:?}: its {what} has {elements} elements, past the {} that candle's CUDA kernels can index (32-bit); use a smaller batch or resolution",
            u32::MAX
        );
    }
    Ok(())
}

/// `x` with a (before, after) padding of `value` applied when it is asymmetric, and the
/// symmetric padding left for the op (stock candle's and the GPU path's ops pad symmetrically).
fn symmetric_padding(x: &Tensor, (before, after): (usize, usize), value: f32) -> Result<(Tensor, usize)> {
    if before == after {
        Ok((x.clone(), before))
    } else {
        Ok((reference::pad_hw(x, (before, after), value)?, 0))
    }
}

/// Candle's own CPU thread pool spins between ops and fights rayon (which our ops use) on small
/// machines: with `CANDLE_NUM_THREADS=1` a ResNet-18 step took 1.45 instead of 2.0 CPU-s here.
/// Sets it unless the user chose a value.
///
/// # Safety
/// Call at the start of `main`, before any other thread exists (it sets an environment variable).
pub unsafe fn prefer_single_candle_thread() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: the caller guarantees that no other thread exists yet.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
}

/// Keeps freed memory in the process instead of returning it to the kernel. A training step
/// allocates and frees the same multi-megabyte activations every time; glibc hands blocks over
/// 128 KiB-32 MiB (its adaptive mmap threshold) back with munmap, so the next step pays a page
/// fault and the kernel's zeroing for every 4 KiB again (measured here: about a tenth of a
/// CPU step in page faults and memset). With a fixed 32 MiB mmap threshold and no trimming, the
/// same heap memory is reused; peak RSS is unchanged (it is the step's peak either way).
///
/// One arena for all threads: the step runs on a rayon worker, whose own arena lives in 64 MiB
/// heaps that glibc unmaps whenever their top is free, trim threshold or not (measured: 309k page
/// faults in a 10-step bench against 108k, 6% faster on one thread, and with two threads peak RSS
/// 742 -> 405 MiB). The step's allocations are few and large, so the shared lock costs nothing.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc's mallopt (malloc.h): M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3,
        // M_ARENA_MAX = -8.
        extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        // SAFETY: mallopt only changes allocator tunables; any values are accepted or refused.
        unsafe {
            mallopt(-3, 32 << 20);
            mallopt(-1, i32::MAX);
            mallopt(-8, 1);
        }
    }
}
