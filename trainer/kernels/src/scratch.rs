//! Reusable temporary buffers for the kernels' large intermediates (im2col matrices, permuted
//! gradients): a fresh multi-megabyte allocation per call costs a page fault per 4 KiB and the
//! kernel's zeroing of every page, a noticeable share of a CPU training step.

use std::cell::RefCell;

/// Buffers kept per thread; the step uses at most three at a time.
const KEPT: usize = 4;

thread_local! {
    static FREE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` floats with unspecified (stale) contents: callers overwrite all of it.
/// Hand it back with [`give`].
pub(crate) fn take(len: usize) -> Vec<f32> {
    let reused = FREE.with(|free| {
        let mut free = free.borrow_mut();
        let best = (0..free.len()).filter(|&i| free[i].capacity() >= len).min_by_key(|&i| free[i].capacity());
        best.map(|i| free.swap_remove(i))
    });
    match reused {
        Some(mut buf) => {
            buf.resize(len, 0.0);
            buf
        }
        None => vec![0.0; len],
    }
}

/// Returns a buffer from [`take`] for reuse, dropping the smallest when more than [`KEPT`] wait.
pub(crate) fn give(buf: Vec<f32>) {
    FREE.with(|free| {
        let mut free = free.borrow_mut();
        free.push(buf);
        if free.len() > KEPT {
            let smallest = (0..free.len()).min_by_key(|&i| free[i].capacity()).expect("not empty");
            free.swap_remove(smallest);
        }
    });
}
