//! Training data: one sample = one object, two distinct views drawn uniformly, and the
//! transformation latent between them (SPEC section 2).
//!
//! - The latent is the quaternion of `R1^-1 R2` (SciPy `r1.inv() * r2`, `as_quat()`, sign as the
//!   product gives it, never canonicalised), computed in f64 by `dataset::rotation` and stored
//!   as f32; with colour, (floor_hue_2 - floor_hue_1, light_hue_2 - light_hue_1) follow; with
//!   translation (3DIEBench-T, as EquiCaps trains), t2 - t1 follows (the latents' object-frame
//!   translations).
//! - Which views, and the order of the objects, are pure functions of (seed, epoch, object
//!   index): a resumed run sees exactly the batches an uninterrupted one would.
//! - Images are decoded, resized (bilinear, antialiased) to the resolution and normalised with
//!   the reference's mean/std, in parallel on a dedicated thread pool, by a background thread
//!   that keeps `prefetch` batches ready.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;

use anyhow::{bail, Context};
use candle_core::{Device, Tensor};
use dataset::pair::{pair_latent, LatentKind};
use dataset::pixels::load_image;
use dataset::views::object_views;
use dataset::ObjectKey;
use rayon::prelude::*;

use comm::Part;
use model::Batch;

/// One object of the split.
#[derive(Clone, Debug)]
pub struct Sample {
    pub key: ObjectKey,
    pub label: u32,
    /// View indices that have both an image and a latent, sorted.
    pub views: Vec<usize>,
}

/// The objects of a split and how to read their views.
pub struct PairDataset {
    pub root: PathBuf,
    pub samples: Vec<Sample>,
    pub kind: LatentKind,
    pub resolution: u32,
}

impl PairDataset {
    /// Reads the split manifests and lists every object's views; every object needs two.
    pub fn open(
        root: &Path,
        images_file: &Path,
        labels_file: &Path,
        num_classes: usize,
        kind: LatentKind,
        resolution: u32,
    ) -> anyhow::Result<Self> {
        let rows = dataset::manifest::read_split(images_file, labels_file, Some(num_classes))?;
        if rows.is_empty() {
            bail!("{}: no objects", images_file.display());
        }
        let samples = rows
            .into_par_iter()
            .map(|(key, label)| {
                let dir = key.dir(root);
                let views = object_views(&dir)?;
                if views.len() < 2 {
                    bail!(
                        "{}: object {key} has {} view(s) (image_<k>.jpg + latent_<k>.npy); two are needed",
                        dir.display(),
                        views.len()
                    );
                }
                // Every file once, cheaply (a whole JPEG, a readable latent), so a damaged file
                // stops the run now rather than whenever the loader happens to draw it.
                let hint = |e: anyhow::Error| {
                    anyhow::anyhow!("{e:#} (`render verify {}` checks every file)", root.display())
                };
                for &v in &views {
                    dataset::integrity::image_file_is_whole(&key.image_path(root, v)).map_err(hint)?;
                    dataset::Latent::read(&key.latent_path(root, v)).map_err(hint)?;
                }
                Ok(Sample { key, label: label as u32, views })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { root: root.to_path_buf(), samples, kind, resolution })
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Steps of an epoch: full batches, plus the last partial one if it has at least two samples.
    pub fn steps_per_epoch(&self, batch: usize) -> usize {
        self.steps_per_epoch_split(batch, Part::WHOLE)
    }

    /// Steps of an epoch of global batches of `batch` split among ranks: the last partial batch
    /// counts if every rank gets a sample of it and there are at least two.
    pub fn steps_per_epoch_split(&self, batch: usize, part: Part) -> usize {
        steps_per_epoch_split(self.len(), batch, part)
    }

    /// Samples in step `step` of an epoch of (global) batches of `batch`.
    pub fn batch_len(&self, step: usize, batch: usize) -> usize {
        self.len().saturating_sub(step * batch).min(batch)
    }

    /// The object order of an epoch (a seeded Fisher-Yates shuffle).
    pub fn epoch_order(&self, seed: u64, epoch: usize) -> Vec<usize> {
        epoch_order(self.len(), seed, epoch)
    }

    /// Two distinct views of sample `index`, uniform over ordered pairs.
    pub fn pick_views(&self, seed: u64, epoch: usize, index: usize) -> (usize, usize) {
        pick_views(&self.samples[index].views, seed, epoch, index)
    }

    /// The transformation latent from view `v1` to view `v2` of sample `index`.
    pub fn pair_latent(&self, index: usize, v1: usize, v2: usize) -> anyhow::Result<Vec<f32>> {
        let key = &self.samples[index].key;
        let l1 = dataset::Latent::read(&key.latent_path(&self.root, v1))?;
        let l2 = dataset::Latent::read(&key.latent_path(&self.root, v2))?;
        pair_latent(&l1, &l2, self.kind)
            .with_context(|| format!("{}", key.latent_path(&self.root, v1).display()))
    }

    /// Decodes one image into normalised CHW floats at the dataset's resolution.
    pub fn load_image(&self, index: usize, view: usize) -> anyhow::Result<Vec<f32>> {
        load_image(&self.samples[index].key.image_path(&self.root, view), self.resolution)
    }

    /// Everything one sample contributes to a batch.
    fn load_item(&self, seed: u64, epoch: usize, index: usize) -> anyhow::Result<Item> {
        let (v1, v2) = self.pick_views(seed, epoch, index);
        Ok(Item {
            img1: self.load_image(index, v1)?,
            img2: self.load_image(index, v2)?,
            latent: self.pair_latent(index, v1, v2)?,
            label: self.samples[index].label,
        })
    }
}

/// Steps of an epoch of `len` samples in global batches of `batch` split among ranks.
pub fn steps_per_epoch_split(len: usize, batch: usize, part: Part) -> usize {
    let full = len / batch;
    if len % batch >= part.min_batch() {
        full + 1
    } else {
        full.max(1)
    }
}

/// The sample order of an epoch of `len` samples (a seeded Fisher-Yates shuffle): a pure
/// function of (seed, epoch), whatever the samples are (files or rendered views).
pub fn epoch_order(len: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut r = dataset::factors::stream(seed, "epoch order", &[&epoch.to_string()]);
    for i in (1..order.len()).rev() {
        let j = ((dataset::factors::next_unit(&mut r) * (i + 1) as f64) as usize).min(i);
        order.swap(i, j);
    }
    order
}

/// Two distinct entries of `views` for sample `index`, uniform over ordered pairs.
pub fn pick_views(views: &[usize], seed: u64, epoch: usize, index: usize) -> (usize, usize) {
    let n = views.len();
    let mut r = dataset::factors::stream(seed, "view pair", &[&epoch.to_string(), &index.to_string()]);
    let a = ((dataset::factors::next_unit(&mut r) * n as f64) as usize).min(n - 1);
    let b = ((dataset::factors::next_unit(&mut r) * (n - 1) as f64) as usize).min(n - 2);
    let b = if b >= a { b + 1 } else { b };
    (views[a], views[b])
}

/// Where a run's pairs come from: a dataset's files ([`PairDataset`]) or views rendered as it
/// trains (`live::LiveSource`). Either gives the batches of sample indices of [`epoch_order`].
pub trait PairSource: Send + Sync {
    /// Samples (objects) of the training split.
    fn len(&self) -> usize;

    /// The batch of samples `indices` of `epoch`; `pool` may decode in parallel.
    fn load_batch(
        &self,
        pool: &rayon::ThreadPool,
        seed: u64,
        epoch: usize,
        indices: &[usize],
    ) -> anyhow::Result<HostBatch>;

    /// Objects skipped since the last call (`--keep-going`), with why: for the run's log.
    fn take_failures(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn steps_per_epoch_split(&self, batch: usize, part: Part) -> usize {
        steps_per_epoch_split(self.len(), batch, part)
    }

    fn batch_len(&self, step: usize, batch: usize) -> usize {
        self.len().saturating_sub(step * batch).min(batch)
    }
}

impl PairSource for PairDataset {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn load_batch(
        &self,
        pool: &rayon::ThreadPool,
        seed: u64,
        epoch: usize,
        indices: &[usize],
    ) -> anyhow::Result<HostBatch> {
        load_batch(self, pool, seed, epoch, indices)
    }
}

struct Item {
    img1: Vec<f32>,
    img2: Vec<f32>,
    latent: Vec<f32>,
    label: u32,
}

/// A batch in host memory.
pub struct HostBatch {
    pub n: usize,
    pub res: usize,
    pub x1: Vec<f32>,
    pub x2: Vec<f32>,
    pub latent: Vec<f32>,
    pub latent_dim: usize,
    pub labels: Vec<u32>,
    /// Seconds its producer spent making it (reading or rendering): the data path's own rate.
    pub seconds: f64,
}

impl HostBatch {
    /// A batch of `items` (two images, a latent and a label each) at `res` px.
    pub fn from_items(
        res: usize,
        latent_dim: usize,
        items: impl ExactSizeIterator<Item = (Vec<f32>, Vec<f32>, Vec<f32>, u32)>,
    ) -> Self {
        let n = items.len();
        let mut b = HostBatch {
            n,
            res,
            x1: Vec::with_capacity(n * 3 * res * res),
            x2: Vec::with_capacity(n * 3 * res * res),
            latent: Vec::with_capacity(n * latent_dim),
            latent_dim,
            labels: Vec::with_capacity(n),
            seconds: 0.0,
        };
        for (img1, img2, latent, label) in items {
            b.x1.extend_from_slice(&img1);
            b.x2.extend_from_slice(&img2);
            b.latent.extend_from_slice(&latent);
            b.labels.push(label);
        }
        b
    }

    pub fn to_device(&self, device: &Device) -> candle_core::Result<Batch> {
        let r = self.res;
        Ok(Batch {
            x1: Tensor::from_slice(&self.x1, (self.n, 3, r, r), device)?,
            x2: Tensor::from_slice(&self.x2, (self.n, 3, r, r), device)?,
            latent: Tensor::from_slice(&self.latent, (self.n, self.latent_dim), device)?,
            labels: Tensor::from_slice(&self.labels, self.n, device)?,
        })
    }
}

/// Decodes the samples `indices` in parallel on `pool`.
pub fn load_batch(
    ds: &PairDataset,
    pool: &rayon::ThreadPool,
    seed: u64,
    epoch: usize,
    indices: &[usize],
) -> anyhow::Result<HostBatch> {
    let items: Vec<Item> = pool.install(|| {
        indices.par_iter().map(|&i| ds.load_item(seed, epoch, i)).collect::<anyhow::Result<_>>()
    })?;
    let items = items.into_iter().map(|it| (it.img1, it.img2, it.latent, it.label));
    Ok(HostBatch::from_items(ds.resolution as usize, ds.kind.dim(), items))
}

/// The batches of one epoch, starting at `first_step`, decoded ahead on a background thread:
/// global batches of `batch_size`, of which this process takes its `part` (data-parallel ranks;
/// [`Part::WHOLE`] alone). Dropping it stops the thread after the batch in progress.
pub struct EpochLoader {
    rx: mpsc::Receiver<anyhow::Result<HostBatch>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl EpochLoader {
    pub fn start(
        ds: Arc<dyn PairSource>,
        pool: Arc<rayon::ThreadPool>,
        seed: u64,
        epoch: usize,
        (batch_size, part): (usize, Part),
        first_step: usize,
        prefetch: usize,
    ) -> Self {
        let (tx, rx) = mpsc::sync_channel(prefetch.max(1));
        let handle = std::thread::spawn(move || {
            let order = epoch_order(ds.len(), seed, epoch);
            let steps = ds.steps_per_epoch_split(batch_size, part);
            for step in first_step..steps {
                let lo = step * batch_size;
                let hi = (lo + batch_size).min(order.len());
                let start = std::time::Instant::now();
                let mut batch = ds.load_batch(&pool, seed, epoch, &order[part.rows(lo..hi)]);
                if let Ok(b) = &mut batch {
                    b.seconds = start.elapsed().as_secs_f64();
                }
                let failed = batch.is_err();
                if tx.send(batch).is_err() || failed {
                    return;
                }
            }
        });
        Self { rx, handle: Some(handle) }
    }
}

impl Iterator for EpochLoader {
    type Item = anyhow::Result<HostBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rx.recv().ok()
    }
}

impl Drop for EpochLoader {
    fn drop(&mut self) {
        // Unblock the producer (its send fails once the receiver is gone), then wait for it.
        let (_, dead) = mpsc::sync_channel(1);
        drop(std::mem::replace(&mut self.rx, dead));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
