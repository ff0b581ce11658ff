//! Which samples each rank trains on. `--batch-size` is the global batch, as in the reference
//! (main.py:158-159: `per_device_batch_size = args.batch_size // args.world_size`): every rank
//! walks the same seeded epoch order in global batches and takes its contiguous part of each, so
//! N ranks see exactly the batches one process would, in the same row order once gathered, and a
//! run can resume with another number of ranks.

use std::ops::Range;

/// This rank's part of every global batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub rank: usize,
    pub ranks: usize,
}

impl Part {
    /// One process takes whole batches.
    pub const WHOLE: Part = Part { rank: 0, ranks: 1 };

    /// This rank's rows of a global batch of rows `global`: a contiguous slice, the sizes of
    /// the ranks' slices differing by at most one.
    pub fn rows(&self, global: Range<usize>) -> Range<usize> {
        let n = global.len();
        let at = |r: usize| global.start + n * r / self.ranks;
        at(self.rank)..at(self.rank + 1)
    }

    /// The fewest samples a step may have: two for the batch statistics, and one per rank (a rank
    /// without rows could not run its backbone).
    pub fn min_batch(&self) -> usize {
        self.ranks.max(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_tile_each_global_batch_in_rank_order() {
        for (n, ranks) in [(8, 2), (7, 3), (5, 5), (1024, 8), (3, 1)] {
            let parts: Vec<Range<usize>> =
                (0..ranks).map(|rank| Part { rank, ranks }.rows(16..16 + n)).collect();
            assert_eq!(parts[0].start, 16);
            assert_eq!(parts[ranks - 1].end, 16 + n);
            for w in parts.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
            let (min, max) = (parts.iter().map(|p| p.len()).min(), parts.iter().map(|p| p.len()).max());
            assert!(max.unwrap() - min.unwrap() <= 1, "{n} over {ranks}: {parts:?}");
        }
        assert_eq!(Part::WHOLE.rows(3..9), 3..9);
        assert_eq!(Part { rank: 1, ranks: 2 }.rows(0..8), 4..8);
    }
}
