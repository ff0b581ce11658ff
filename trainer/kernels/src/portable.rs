//! The ops on devices other than the CPU (CUDA), built from stock candle ops that run well there,
//! with hand-made backward passes where candle's own would be slow:
//!
//! - convolution: forward is candle's conv2d (im2col + cuBLAS on CUDA). Candle's backward runs the
//!   input gradient through its direct ConvTranspose2D kernel; here it is a convolution of the
//!   (stride-dilated) output gradient with the flipped, transposed weights, and the weight gradient
//!   a convolution of the input with the output gradient as the kernel (dilated by the stride):
//!   both im2col + cuBLAS again.
//! - max-pool: forward pads with -inf and calls candle's max-pool; backward routes each output
//!   gradient to its window's first maximum in one pass ([`super::pool_route`]), where the stock
//!   formulation compares K*K strided copies of the input.
//!
//! - batch norm: forward from stock reductions over (N, H, W) without a transposed copy; the
//!   backward recomputes the batch statistics from the input instead of keeping the
//!   normalised activations (stock autograd keeps about five activation-sized tensors per layer).
//!
//! Every function here also runs on the CPU, where tests compare it with the CPU ops.
//! The output of each op is computed from detached inputs and then given its gradient by a
//! custom op whose forward copies it (one device copy of the output, about 1% of the op) and
//! drops the detached original, so the graph keeps only the inputs the backward reads.

use std::sync::Mutex;

use candle_core::backend::{BackendDevice, BackendStorage};
use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Storage, Tensor,
};

use super::pool_route;

/// 2-d convolution without bias, `x` (N, C, H, W), `w` (O, C, K, K), with the backward above.
pub fn conv2d(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    let y = x.detach().conv2d(&w.detach(), padding, stride, 1, 1)?;
    x.apply_op2(w, ConvGrad { y: Output::new(y), stride, padding })
}

/// Max-pool with -inf padding (PyTorch's semantics), with the one-pass backward above.
pub fn max_pool2d(x: &Tensor, kernel: usize, stride: usize, padding: usize) -> Result<Tensor> {
    let padded = super::reference::pad_hw(&x.detach(), (padding, padding), f32::NEG_INFINITY)?;
    let y = padded.max_pool2d_with_stride(kernel, stride)?;
    let backward: Backward1 =
        Box::new(move |x, _, dy| pool_route::route(x, dy, kernel, stride, (padding, padding)));
    x.apply_op1(OutputGrad1 { name: "max-pool2d-grad", y: Output::new(y), backward })
}

/// Batch norm in training mode over (N, C, ...), optionally followed by ReLU: (output, batch
/// mean, unbiased batch variance), the statistics without gradient.
pub fn batch_norm_train(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    relu: bool,
) -> Result<(Tensor, Tensor, Tensor)> {
    let xd = x.detach();
    let (mean, var) = channel_stats(&xd)?;
    let shape = channel_shape(x)?;
    let inv_std = (&var + eps)?.sqrt()?.recip()?;
    let scale = (gamma.detach() * &inv_std)?;
    let shift = (beta.detach() - (&mean * &scale)?)?;
    let y = xd.broadcast_mul(&scale.reshape(shape.clone())?)?.broadcast_add(&shift.reshape(shape)?)?;
    let y = if relu { y.relu()? } else { y };
    let out = x.apply_op3(gamma, beta, BatchNormGrad { y: Output::new(y), eps, relu })?;
    let m = x.elem_count() / gamma.elem_count();
    let unbiased = (var * (m as f64 / (m.max(2) - 1) as f64))?;
    Ok((out, mean, unbiased))
}

/// (1, C, 1, ...): per-channel values broadcast against `x`.
fn channel_shape(x: &Tensor) -> Result<Vec<usize>> {
    let mut shape = vec![1; x.rank()];
    shape[1] = x.dim(1)?;
    Ok(shape)
}

/// Per-channel sum of `t` as a (C,) tensor.
///
/// As (N, C, rest): the contiguous last dim first, then N. Candle's CUDA reduction is fast along
/// the contiguous last dim; reducing (N, H, W) of NCHW in one call makes each of its C blocks
/// walk N*H*W strided elements (unmeasured on a GPU so far: the first suspect of bench/README.md).
fn channel_sum(t: &Tensor) -> Result<Tensor> {
    let (n, c) = (t.dim(0)?, t.dim(1)?);
    let rest = t.elem_count() / (n * c).max(1);
    t.contiguous()?.reshape((n, c, rest))?.sum(2)?.sum(0)
}

/// Per-channel mean and biased variance (two passes, as the CPU op), (C,) each.
fn channel_stats(x: &Tensor) -> Result<(Tensor, Tensor)> {
    let m = (x.elem_count() / x.dim(1)?) as f64;
    let mean = (channel_sum(x)? / m)?;
    let centred = x.broadcast_sub(&mean.reshape(channel_shape(x)?)?)?;
    let var = (channel_sum(&centred.sqr()?)? / m)?;
    Ok((mean, var))
}

/// Batch norm's gradients (dx, dgamma, dbeta) for output gradient `dy` (already masked by the
/// ReLU if there was one), from the input alone.
fn batch_norm_backward(
    x: &Tensor,
    gamma: &Tensor,
    dy: &Tensor,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let shape = channel_shape(x)?;
    let m = (x.elem_count() / x.dim(1)?) as f64;
    let (mean, var) = channel_stats(x)?;
    let inv_std = (var + eps)?.sqrt()?.recip()?;
    let xhat =
        x.broadcast_sub(&mean.reshape(shape.clone())?)?.broadcast_mul(&inv_std.reshape(shape.clone())?)?;
    let dbeta = channel_sum(dy)?;
    let dgamma = channel_sum(&(dy * &xhat)?)?;
    // dx = gamma * inv_std / m * (m * dy - dbeta - xhat * dgamma)
    let inner = ((dy * m)?.broadcast_sub(&dbeta.reshape(shape.clone())?)?
        - xhat.broadcast_mul(&dgamma.reshape(shape.clone())?)?)?;
    let dx = inner.broadcast_mul(&((gamma * inv_std)? / m)?.reshape(shape)?)?;
    Ok((dx, dgamma, dbeta))
}

/// An op's output, computed from detached inputs; the forward of the op that attaches the
/// gradient takes it (and copies it: candle wants an owned storage), so it is not kept twice.
struct Output(Mutex<Option<Tensor>>);

impl Output {
    fn new(y: Tensor) -> Self {
        Self(Mutex::new(Some(y)))
    }

    fn take(&self) -> Result<Tensor> {
        let taken = self.0.lock().map_err(|_| candle_core::Error::Msg("poisoned output".into()))?.take();
        taken.ok_or_else(|| candle_core::Error::Msg("an op's output was taken twice".into()))
    }

    fn copy_cpu(&self) -> Result<(CpuStorage, Shape)> {
        let y = self.take()?;
        let (storage, layout) = y.storage_and_layout();
        let Storage::Cpu(s) = &*storage else { bail!("expected a CPU output, got {:?}", y.device()) };
        copy_storage(s, layout)
    }

    #[cfg(feature = "cuda")]
    fn copy_cuda(&self) -> Result<(candle_core::CudaStorage, Shape)> {
        let y = self.take()?;
        let (storage, layout) = y.storage_and_layout();
        let Storage::Cuda(s) = &*storage else { bail!("expected a CUDA output, got {:?}", y.device()) };
        copy_storage(s, layout)
    }
}

/// Gradients of a convolution: (input gradient, weight gradient), each only if that input is
/// tracked. The stem's input gradient (towards the images) would be the largest im2col of the
/// step: 3136 columns per input pixel, 26 GB at 128 px and batch 128.
pub fn conv2d_backward(
    x: &Tensor,
    w: &Tensor,
    dy: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let dx = if x.track_op() { Some(conv2d_input_grad(x.dims4()?, w, dy, stride, padding)?) } else { None };
    let dw = if w.track_op() { Some(conv2d_weight_grad(x, w, dy, stride, padding)?) } else { None };
    Ok((dx, dw))
}

/// dX = conv(dilate(dY, stride), flip(W)^T) with K-1-p rows and columns of zeros around dY, and
/// as many more at the bottom and right as make the result the input's size (when the stride
/// does not divide the padded extent, the last input rows reach fewer windows, or none).
fn conv2d_input_grad(
    (_, _, h, wd): (usize, usize, usize, usize),
    w: &Tensor,
    dy: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let (_, _, k, _) = w.dims4()?;
    if padding >= k {
        bail!("conv2d backward: padding {padding} >= kernel {k} is not supported")
    }
    let dy = dilate(&dy.contiguous()?, stride)?;
    let (_, _, dh, dw) = dy.dims4()?;
    let edge = k - 1 - padding;
    // With `edge` zeros on each side the result has dh + K - 1 - 2p rows; H - that more at the end.
    let (extra_h, extra_w) = (h + 2 * padding + 1 - dh - k, wd + 2 * padding + 1 - dw - k);
    let dy = dy.pad_with_zeros(2, edge, edge + extra_h)?.pad_with_zeros(3, edge, edge + extra_w)?;
    let flipped = flip_spatial(w)?.transpose(0, 1)?.contiguous()?;
    dy.conv2d(&flipped, 0, 1, 1, 1)
}

/// dW[o, c] = sum over n of x[n, c] correlated with dY[n, o] (dilated by the stride): a
/// convolution with the batch as its channels, the input's channels as its batch.
fn conv2d_weight_grad(x: &Tensor, w: &Tensor, dy: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    let (_, _, k, _) = w.dims4()?;
    let xt = x.transpose(0, 1)?.contiguous()?; // (C, N, H, W)
    let dyt = dy.transpose(0, 1)?.contiguous()?; // (O, N, OH, OW)
    let g = xt.conv2d(&dyt, padding, 1, stride, 1)?; // (C, O, >=K, >=K)
    g.narrow(2, 0, k)?.narrow(3, 0, k)?.transpose(0, 1)?.contiguous()
}

/// `stride - 1` zeros between neighbouring pixels of each plane.
fn dilate(t: &Tensor, stride: usize) -> Result<Tensor> {
    if stride == 1 {
        return Ok(t.clone());
    }
    let (n, c, h, w) = t.dims4()?;
    t.reshape((n, c, h, 1, w, 1))?
        .pad_with_zeros(3, 0, stride - 1)?
        .pad_with_zeros(5, 0, stride - 1)?
        .reshape((n, c, h * stride, w * stride))?
        .narrow(2, 0, (h - 1) * stride + 1)?
        .narrow(3, 0, (w - 1) * stride + 1)
}

/// The kernel rotated by 180 degrees (rows and columns reversed).
fn flip_spatial(w: &Tensor) -> Result<Tensor> {
    let (_, _, kh, kw) = w.dims4()?;
    let reversed = |len: usize| Tensor::from_vec((0..len as u32).rev().collect::<Vec<_>>(), len, w.device());
    w.index_select(&reversed(kh)?, 2)?.index_select(&reversed(kw)?, 3)
}

/// A contiguous copy of the elements `l` selects, on the storage's own device (the forward of
/// the gradient-attaching ops).
fn copy_storage<S>(s: &S, l: &Layout) -> Result<(S, Shape)>
where
    S: BackendStorage,
    S::Device: BackendDevice<Storage = S>,
{
    // SAFETY: `copy_strided_src` writes every element of `out` before it is read.
    let mut out = unsafe { s.device().alloc_uninit(l.shape(), s.dtype())? };
    s.copy_strided_src(&mut out, 0, l)?;
    Ok((out, l.shape().clone()))
}

/// (x, w) -> the convolution computed beforehand, with the backward [`conv2d_backward`].
struct ConvGrad {
    y: Output,
    stride: usize,
    padding: usize,
}

impl CustomOp2 for ConvGrad {
    fn name(&self) -> &'static str {
        "conv2d-grad"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        self.y.copy_cpu()
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        _: &candle_core::CudaStorage,
        _: &Layout,
        _: &candle_core::CudaStorage,
        _: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        self.y.copy_cuda()
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw) = conv2d_backward(x, w, dy, self.stride, self.padding)?;
        // Gradients without a graph of their own (see `adam`: a graph would keep `x` alive).
        Ok((dx.map(|t| t.detach()), dw.map(|t| t.detach())))
    }
}

/// Backward of a one-input op whose output was computed beforehand: (x, output, dy) -> dx.
type Backward1 = Box<dyn Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor> + Send + Sync>;

/// x -> an output computed beforehand from the detached input, with the given backward (the
/// max-pool's routing to each window's first maximum, the ReLU's mask).
struct OutputGrad1 {
    name: &'static str,
    y: Output,
    backward: Backward1,
}

impl CustomOp1 for OutputGrad1 {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        self.y.copy_cpu()
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        _: &candle_core::CudaStorage,
        _: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        self.y.copy_cuda()
    }

    fn bwd(&self, x: &Tensor, res: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some((self.backward)(x, res, dy)?.detach()))
    }
}

/// (x, gamma, beta) -> the batch norm (+ ReLU) computed beforehand, with the backward
/// [`batch_norm_backward`].
struct BatchNormGrad {
    y: Output,
    eps: f64,
    relu: bool,
}

impl CustomOp3 for BatchNormGrad {
    fn name(&self) -> &'static str {
        "batch-norm-grad"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.y.copy_cpu()
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        _: &candle_core::CudaStorage,
        _: &Layout,
        _: &candle_core::CudaStorage,
        _: &Layout,
        _: &candle_core::CudaStorage,
        _: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        self.y.copy_cuda()
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        // The ReLU's mask: where the output is positive.
        let dy = if self.relu { (dy * res.gt(0.0)?.to_dtype(dy.dtype())?)? } else { dy.clone() };
        let (dx, dgamma, dbeta) = batch_norm_backward(&x.detach(), &gamma.detach(), &dy, self.eps)?;
        Ok((Some(dx), Some(dgamma), Some(dbeta)))
    }
}

/// max(x, 0) with PyTorch's gradient, 0 at exactly 0 (see [`super::reference::relu`]): stock
/// candle's forward, and a backward that masks with the output (`y > 0`), as the batch norm's
/// fused ReLU does.
pub fn relu(x: &Tensor) -> Result<Tensor> {
    let y = x.detach().relu()?;
    let backward: Backward1 = Box::new(|_, y, dy| dy * y.gt(0.0)?.to_dtype(dy.dtype())?);
    x.apply_op1(OutputGrad1 { name: "relu-grad", y: Output::new(y), backward })
}
