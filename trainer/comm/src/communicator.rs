//! What data-parallel training needs from a communication library: an element-wise sum over
//! ranks. The gather of the loss's embeddings and the broadcast of the initial weights are built
//! on it (see [`super::collective`]), so each backend implements one collective.

use candle_core::Result;

/// A group of ranks that sum buffers together. Every rank must make the same calls in the same
/// order (a collective blocks until all ranks have called it).
pub trait Communicator: Send + Sync {
    fn rank(&self) -> usize;
    fn world_size(&self) -> usize;
    /// The library, for messages.
    fn backend(&self) -> &'static str;

    /// Replaces `buf` by its element-wise sum over all ranks.
    fn all_reduce_sum_host(&self, buf: &mut [f32]) -> Result<()>;

    /// The sum over all ranks of `len` f32 starting at `offset` of a CUDA buffer, as a new buffer.
    #[cfg(feature = "cuda")]
    fn all_reduce_sum_cuda(
        &self,
        storage: &candle_core::CudaStorage,
        offset: usize,
        len: usize,
    ) -> Result<candle_core::CudaStorage> {
        let _ = (storage, offset, len);
        candle_core::bail!("{} ranks reduce host buffers only, not CUDA tensors", self.backend())
    }

    /// Ends the whole job after an error on this rank: returning would leave the other ranks
    /// waiting in a collective for ever.
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}
