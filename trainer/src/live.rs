//! Pairs of views rendered as the run trains (`train --render`): the renderer's
//! [`renderer::live`] API in, the same [`HostBatch`] the file loader makes out.
//!
//! - The samples are the train split of `render`'s job, in the order of its `train_images.npy`;
//!   the epoch order and (fixed views) each pair's two views are the file path's functions of
//!   (seed, epoch, index), so a live run sees the scenes a run on that job's files sees.
//! - Fresh views: both factor sets of a pair are drawn anew per (seed, epoch, object, draw).
//! - The pixels: the view at the dataset's image size, reduced by `dataset::pixels`' own resize
//!   and normalisation (the file path's, less the JPEG round trip).
//! - Each renderer thread owns one renderer and its mesh cache; an object always goes to the same
//!   one (by its key's hash), so its mesh is uploaded once.

use std::collections::BTreeMap;
use std::sync::Mutex;

use anyhow::{bail, Context};
use dataset::config::Split;
use dataset::factors::ViewFactors;
use dataset::pair::{pair_latent, LatentKind};
use renderer::live::{LiveObject, LiveRenderer, Source, SourceOptions};

use crate::config::TrainArgs;
use crate::data::{pick_views, HostBatch, PairSource};

/// How a pair's factors are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Views {
    /// Two of the `render` job's views 0..V, with its factors.
    Fixed(usize),
    /// Drawn anew every epoch.
    Fresh,
}

/// The factors of one pair, as recorded (tests check what each epoch drew).
#[derive(Clone, Debug, PartialEq)]
pub struct PairRecord {
    pub epoch: usize,
    pub object: String,
    pub factors: [ViewFactors; 2],
}

/// The training split of a render job, rendered on request.
pub struct LiveSource {
    source: Source,
    objects: Vec<LiveObject>,
    views: Views,
    kind: LatentKind,
    resolution: u32,
    renderers: Vec<Mutex<LiveRenderer>>,
    keep_going: bool,
    /// Objects that failed (`--keep-going`): skipped from then on.
    failed: Mutex<BTreeMap<String, String>>,
    new_failures: Mutex<Vec<(String, String)>>,
    /// Every pair's factors, when asked for (tests).
    pub records: Option<Mutex<Vec<PairRecord>>>,
}

/// `render`'s options for these flags.
pub fn source_options(args: &TrainArgs, split_views: Option<usize>) -> SourceOptions {
    let live = &args.live;
    SourceOptions {
        shapenet: live.shapenet.clone(),
        objects: live.objects.clone(),
        config: args.render.clone().filter(|p| !p.is_empty()).map(std::path::PathBuf::from),
        library: live.library.clone().unwrap_or_else(|| "./synth-shapenet".into()),
        per_class: live.per_class,
        library_seed: live.library_seed,
        views: split_views,
        ..SourceOptions::default()
    }
}

/// The size views are rendered at without `--image-size`: twice the training resolution, at most
/// the dataset's. Reduced by the file path's filter, that is the file path's image within its
/// JPEG's loss (`tests/live.rs` measures it: 48 dB mean, 42 dB worst for 128 -> 64 px against
/// 256 px files), at a quarter of the pixels of 256 px.
pub fn default_image_size(dataset_size: u32, resolution: u32) -> u32 {
    dataset_size.min(2 * resolution)
}

impl LiveSource {
    /// Resolves the job as `render` would (refusing what it refuses) and starts the renderers.
    pub fn open(args: &TrainArgs, kind: LatentKind) -> anyhow::Result<Self> {
        let live = &args.live;
        let mut source = Source::open(&source_options(args, live.views))?;
        let size = live.image_size.unwrap_or(default_image_size(source.image_size(), args.resolution));
        source.set_image_size(size)?;
        let views = if live.fresh_views { Views::Fresh } else { Views::Fixed(source.views()) };
        if views == Views::Fixed(1) {
            bail!("--views 1: a pair needs two views of an object");
        }
        if kind.translation && source.config().settings.latent != dataset::config::LatentFormat::Translation {
            bail!(
                "--translation-latent: {} has no translation (render with manifests/3diebench-t.toml)",
                source.config().source
            );
        }
        let objects = source.split(Split::Train);
        let threads = live.render_threads.max(1);
        let cache = (live.mesh_cache_mb << 20) / threads as u64;
        let renderers = (0..threads)
            .map(|_| source.renderer(cache).map(Mutex::new))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            source,
            objects,
            views,
            kind,
            resolution: args.resolution,
            renderers,
            keep_going: live.keep_going,
            failed: Mutex::new(BTreeMap::new()),
            new_failures: Mutex::new(Vec::new()),
            records: None,
        })
    }

    /// Classes of the job's tree (the online classifier's outputs, as its manifest would say).
    pub fn num_classes(&self) -> usize {
        self.source.num_classes
    }

    pub fn objects(&self) -> &[LiveObject] {
        &self.objects
    }

    /// The two factor sets of sample `index` in `epoch`.
    pub fn pair_factors(&self, seed: u64, epoch: usize, index: usize) -> anyhow::Result<[ViewFactors; 2]> {
        let object = &self.objects[index];
        Ok(match self.views {
            Views::Fixed(v) => {
                let all: Vec<usize> = (0..v).collect();
                let (a, b) = pick_views(&all, seed, epoch, index);
                [self.source.fixed_factors(object, a)?, self.source.fixed_factors(object, b)?]
            }
            Views::Fresh => {
                [self.source.fresh_factors(object, epoch, 0)?, self.source.fresh_factors(object, epoch, 1)?]
            }
        })
    }

    /// Renders one sample: its two images at the training resolution, its latent and label.
    fn render_item(
        &self,
        renderer: &mut LiveRenderer,
        object: &LiveObject,
        factors: &[ViewFactors; 2],
    ) -> anyhow::Result<Item> {
        let views = renderer.render(&object.key, factors)?;
        let mut images = views.into_iter().map(|v| {
            dataset::pixels::resize_and_normalise(v.rgb, v.size, self.resolution)
                .with_context(|| object.key.to_string())
        });
        let (Some(img1), Some(img2)) = (images.next(), images.next()) else {
            bail!("{}: the renderer returned fewer than two views", object.key);
        };
        let latent = pair_latent(&factors[0].latent, &factors[1].latent, self.kind)
            .with_context(|| object.key.to_string())?;
        Ok((img1?, img2?, latent, object.label))
    }

    /// One renderer's share of a batch: the items at `slots` (position in the batch, index).
    fn render_share(
        &self,
        renderer: &Mutex<LiveRenderer>,
        share: &[(usize, usize, [ViewFactors; 2])],
    ) -> anyhow::Result<Vec<(usize, Option<Item>)>> {
        let mut renderer = renderer.lock().expect("a renderer thread panicked");
        let mut out = Vec::with_capacity(share.len());
        for (slot, index, factors) in share {
            let object = &self.objects[*index];
            match self.render_item(&mut renderer, object, factors) {
                Ok(item) => out.push((*slot, Some(item))),
                Err(e) if self.keep_going => {
                    self.fail(object, &e);
                    out.push((*slot, None));
                }
                Err(e) => return Err(e.context(format!("rendering object {}", object.key))),
            }
        }
        Ok(out)
    }

    fn fail(&self, object: &LiveObject, e: &anyhow::Error) {
        let (key, why) = (object.key.to_string(), format!("{e:#}"));
        eprintln!("warning: --keep-going: skipping {key}: {why}");
        self.failed.lock().expect("failures").insert(key.clone(), why.clone());
        self.new_failures.lock().expect("failures").push((key, why));
    }

    fn is_failed(&self, index: usize) -> bool {
        self.failed.lock().expect("failures").contains_key(&self.objects[index].key.to_string())
    }

    /// Which renderer draws an object: always the same one, so its mesh is cached once.
    fn renderer_of(&self, index: usize) -> usize {
        let h = blake3::hash(self.objects[index].key.to_string().as_bytes());
        (u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("32 bytes")) % self.renderers.len() as u64)
            as usize
    }
}

type Item = (Vec<f32>, Vec<f32>, Vec<f32>, u32);

impl PairSource for LiveSource {
    fn len(&self) -> usize {
        self.objects.len()
    }

    fn load_batch(
        &self,
        _pool: &rayon::ThreadPool,
        seed: u64,
        epoch: usize,
        indices: &[usize],
    ) -> anyhow::Result<HostBatch> {
        let mut shares = vec![Vec::new(); self.renderers.len()];
        for (slot, &index) in indices.iter().enumerate() {
            if self.is_failed(index) {
                continue;
            }
            let factors = self.pair_factors(seed, epoch, index)?;
            if let Some(records) = &self.records {
                let object = self.objects[index].key.to_string();
                records.lock().expect("records").push(PairRecord { epoch, object, factors });
            }
            shares[self.renderer_of(index)].push((slot, index, factors));
        }
        let done = std::thread::scope(|scope| {
            let handles: Vec<_> = shares
                .iter()
                .zip(&self.renderers)
                .map(|(share, r)| scope.spawn(move || self.render_share(r, share)))
                .collect();
            handles.into_iter().map(|h| h.join().expect("render thread panicked")).collect::<Vec<_>>()
        });
        let mut items: Vec<(usize, Item)> = Vec::with_capacity(indices.len());
        for share in done {
            items.extend(share?.into_iter().filter_map(|(slot, item)| item.map(|i| (slot, i))));
        }
        items.sort_by_key(|(slot, _)| *slot);
        if items.len() < 2 {
            bail!("epoch {epoch}: fewer than two objects of a batch could be rendered (--keep-going skipped the rest)");
        }
        Ok(HostBatch::from_items(
            self.resolution as usize,
            self.kind.dim(),
            items.into_iter().map(|(_, i)| i),
        ))
    }

    fn take_failures(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.new_failures.lock().expect("failures"))
    }
}
