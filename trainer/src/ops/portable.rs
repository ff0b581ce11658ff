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
//! Every function here also runs on the CPU, where tests compare it with [`super::reference`].
//! The output of each op is computed from detached inputs and then given its gradient by a
//! custom op whose forward copies it (one device copy of the output, about 1% of the op).

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use super::pool_route;

/// 2-d convolution without bias, `x` (N, C, H, W), `w` (O, C, K, K), with the backward above.
pub fn conv2d(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    let y = x.detach().conv2d(&w.detach(), padding, stride, 1, 1)?;
    x.apply_op3(w, &y, ConvGrad { stride, padding })
}

/// Max-pool with -inf padding (PyTorch's semantics), with the one-pass backward above.
pub fn max_pool2d(x: &Tensor, kernel: usize, stride: usize, padding: usize) -> Result<Tensor> {
    let padded = pad_neg_inf(&x.detach(), padding)?;
    let y = padded.max_pool2d_with_stride(kernel, stride)?;
    x.apply_op2(&y, MaxPoolGrad { kernel, stride, padding })
}

fn pad_neg_inf(x: &Tensor, padding: usize) -> Result<Tensor> {
    if padding == 0 {
        return Ok(x.clone());
    }
    let (n, c, h, w) = x.dims4()?;
    let neg = |shape: (usize, usize, usize, usize)| {
        Tensor::full(f32::NEG_INFINITY, shape, x.device())?.to_dtype(x.dtype())
    };
    let rows = neg((n, c, padding, w))?;
    let x = Tensor::cat(&[&rows, x, &rows], 2)?;
    let cols = neg((n, c, h + 2 * padding, padding))?;
    Tensor::cat(&[&cols, &x, &cols], 3)
}

/// Gradients of a convolution: (input gradient, weight gradient).
pub fn conv2d_backward(
    x: &Tensor,
    w: &Tensor,
    dy: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<(Tensor, Tensor)> {
    Ok((
        conv2d_input_grad(x.dims4()?, w, dy, stride, padding)?,
        conv2d_weight_grad(x, w, dy, stride, padding)?,
    ))
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

/// A copy of `res` on any device (the forward of the gradient-attaching ops).
fn copy_cpu(s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
    use candle_core::backend::{BackendDevice, BackendStorage};
    let mut out = unsafe { s.device().alloc_uninit(l.shape(), s.dtype())? };
    s.copy_strided_src(&mut out, 0, l)?;
    Ok((out, l.shape().clone()))
}

#[cfg(feature = "cuda")]
fn copy_cuda(s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
    use candle_core::backend::{BackendDevice, BackendStorage};
    let mut out = unsafe { s.device().alloc_uninit(l.shape(), s.dtype())? };
    s.copy_strided_src(&mut out, 0, l)?;
    Ok((out, l.shape().clone()))
}

/// (x, w, y) -> y, whose backward is [`conv2d_backward`].
struct ConvGrad {
    stride: usize,
    padding: usize,
}

impl CustomOp3 for ConvGrad {
    fn name(&self) -> &'static str {
        "conv2d-grad"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        y: &CpuStorage,
        l: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        copy_cpu(y, l)
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        _: &candle_core::CudaStorage,
        _: &Layout,
        _: &candle_core::CudaStorage,
        _: &Layout,
        y: &candle_core::CudaStorage,
        l: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        copy_cuda(y, l)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _y: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw) = conv2d_backward(x, w, dy, self.stride, self.padding)?;
        Ok((Some(dx), Some(dw), None))
    }
}

/// (x, y) -> y, whose backward routes the gradient to each window's first maximum.
struct MaxPoolGrad {
    kernel: usize,
    stride: usize,
    padding: usize,
}

impl CustomOp2 for MaxPoolGrad {
    fn name(&self) -> &'static str {
        "max-pool2d-grad"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, y: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        copy_cpu(y, l)
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        _: &candle_core::CudaStorage,
        _: &Layout,
        y: &candle_core::CudaStorage,
        l: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        copy_cuda(y, l)
    }

    fn bwd(
        &self,
        x: &Tensor,
        _y: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dx = pool_route::route(x, dy, self.kernel, self.stride, self.padding)?;
        Ok((Some(dx), None))
    }
}
