//! The views of a split as the reference-protocol probes read them: decoded and resized once and
//! kept in memory as RGB bytes when they fit a memory budget, else decoded again for every batch.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::features::SplitIndex;

/// Default memory budget for views kept decoded (bytes).
pub const DEFAULT_BUDGET: usize = 6 << 30;

pub struct ViewImages {
    /// Image file of every row of the split's feature index.
    paths: Vec<PathBuf>,
    resolution: u32,
    /// `rows * 3 * res * res` bytes, when they fit the budget.
    decoded: Option<Vec<u8>>,
}

impl ViewImages {
    /// The image files of `index`'s rows under `root`; decoded now when `rows * 3 * res^2`
    /// bytes fit `budget`.
    pub fn open(root: &Path, index: &SplitIndex, resolution: u32, budget: usize) -> Result<Self> {
        let mut paths = Vec::with_capacity(index.rows());
        for object in 0..index.objects.len() {
            let entry = &index.objects[object];
            let key = dataset::layout::ObjectKey::parse(entry)
                .map_err(|e| anyhow::anyhow!("feature index entry {entry:?}: {e}"))?;
            for row in index.object_rows(object) {
                paths.push(key.image_path(root, index.views[row]));
            }
        }
        let per_image = 3 * (resolution as usize).pow(2);
        let mut images = Self { paths, resolution, decoded: None };
        if images.paths.len().saturating_mul(per_image) <= budget {
            let all: Vec<Vec<u8>> = images
                .paths
                .par_iter()
                .map(|p| dataset::pixels::load_rgb(p, resolution))
                .collect::<Result<_>>()
                .context("decoding the views for the probes")?;
            images.decoded = Some(all.concat());
        }
        Ok(images)
    }

    pub fn is_in_memory(&self) -> bool {
        self.decoded.is_some()
    }

    /// Normalised images (n, 3, R, R) of `rows`.
    pub fn batch(&self, rows: &[usize], device: &Device) -> Result<Tensor> {
        let res = self.resolution as usize;
        let per_image = 3 * res * res;
        let pixels: Vec<Vec<f32>> = rows
            .par_iter()
            .map(|&row| {
                ensure!(row < self.paths.len(), "view row {row} out of range");
                Ok(match &self.decoded {
                    Some(all) => dataset::pixels::normalise(&all[row * per_image..][..per_image], res),
                    None => dataset::pixels::load_image(&self.paths[row], self.resolution)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Tensor::from_vec(pixels.concat(), (rows.len(), 3, res, res), device)?)
    }
}
