//! Access to the f32 data behind CPU tensors and storages, for the hand-written kernels.

use candle_core::{
    backend::BackendStorage, bail, CpuStorage, DType, Device, Layout, Result, Shape, Storage, Tensor,
};

/// True when every tensor is an f32 tensor on the CPU: the fast kernels' domain (see
/// [`crate::Kernels::cpu_f32`] for whether they run).
pub fn is_cpu_f32(tensors: &[&Tensor]) -> bool {
    tensors.iter().all(|t| t.device().is_cpu() && t.dtype() == DType::F32)
}

/// The contiguous f32 elements a layout selects from a CPU storage.
pub fn slice<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else { bail!("{op}: expected f32 data, got {:?}", storage.dtype()) };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{op}: expected a contiguous input, got strides {:?}", layout.stride()),
    }
}

/// Runs `f` on the f32 elements of a CPU tensor, in row-major order (copying it first only when it
/// is not contiguous).
pub fn with_data<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(storage) = &*storage else { bail!("expected a CPU tensor, got {:?}", t.device()) };
    Ok(f(slice(storage, layout, "with_data")?))
}

/// A CPU tensor from computed data.
pub fn tensor(data: Vec<f32>, shape: impl Into<Shape>) -> Result<Tensor> {
    Tensor::from_vec(data, shape.into(), &Device::Cpu)
}

/// The size of dimension 0, of dimension 1, and of the rest together, of an (N, C, ...) shape.
pub(crate) fn nc_rest(dims: &[usize], op: &str) -> Result<(usize, usize, usize)> {
    if dims.len() < 2 {
        bail!("{op}: expected an (N, C, ...) input, got shape {dims:?}")
    }
    Ok((dims[0], dims[1], dims[2..].iter().product()))
}

/// `len` zeros, written by all of rayon's threads. Kernels whose output starts as a zeroed buffer
/// otherwise pay a one-thread memset per op (the freed heap memory they reuse is not known to be
/// zero): on two threads, about a twentieth of a training step spent with one core idle.
pub(crate) fn zeros(len: usize) -> Vec<f32> {
    use rayon::prelude::*;
    use std::mem::MaybeUninit;
    let mut v = Vec::with_capacity(len);
    // A memset per chunk (an element-wise parallel extend measured slower than one thread's memset).
    v.spare_capacity_mut()[..len].par_chunks_mut(1 << 16).for_each(|c| c.fill(MaybeUninit::new(0.0)));
    // SAFETY: the first `len` elements of the capacity were all written just above.
    unsafe { v.set_len(len) };
    v
}

/// `len` floats, every one written by `fill`: called on rayon's threads with disjoint chunks of
/// `chunk` elements (the last may be shorter) as `fill(start, out)`, `start` being the chunk's
/// first index. An output that a kernel overwrites entirely skips the zeroing pass that
/// [`zeros`] would cost first (memset was 7% of a training step).
///
/// # Safety
/// `fill` must write every element of each `out` it is given.
pub(crate) unsafe fn build(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [std::mem::MaybeUninit<f32>]) + Sync,
) -> Vec<f32> {
    use rayon::prelude::*;
    let mut v = Vec::with_capacity(len);
    v.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, out)| fill(i * chunk, out));
    // SAFETY: the caller's `fill` wrote each of the first `len` elements.
    unsafe { v.set_len(len) };
    v
}
