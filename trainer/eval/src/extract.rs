//! Feature extraction: every view of every object of a split through a frozen encoder.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::features::{SplitFeatures, SplitIndex};

/// A frozen model as the evaluation sees it.
pub trait Encoder {
    /// Backbone representations (N, repr) and, when the model has one, the equivariant
    /// embedding (N, d) of normalised images (N, 3, R, R); BatchNorm in eval mode.
    fn encode(&self, images: &Tensor) -> Result<(Tensor, Option<Tensor>)>;
}

/// One view to encode.
struct ViewRef {
    object: usize,
    view: usize,
}

/// Reads the split's manifests, lists every object's views (image and latent both present)
/// and encodes them in batches of `batch_size`. Images are decoded in parallel.
pub fn extract_split(
    encoder: &dyn Encoder,
    root: &Path,
    split: &str,
    resolution: u32,
    batch_size: usize,
    device: &Device,
    progress: &dyn Fn(usize, usize),
) -> Result<SplitFeatures> {
    let images = dataset::manifest::images_path(root, split);
    let labels = dataset::manifest::labels_path(root, split);
    let rows = dataset::manifest::read_split(&images, &labels, None)?;
    ensure!(!rows.is_empty(), "{}: no objects", images.display());
    let views: Vec<Vec<usize>> = rows
        .par_iter()
        .map(|(key, _)| dataset::views::object_views(&key.dir(root)))
        .collect::<Result<_>>()?;
    let mut index = SplitIndex { offsets: vec![0], ..SplitIndex::default() };
    let mut refs = Vec::new();
    for (object, ((key, label), object_views)) in rows.iter().zip(&views).enumerate() {
        index.objects.push(key.manifest_entry());
        index.labels.push(*label);
        for &view in object_views {
            refs.push(ViewRef { object, view });
            index.views.push(view);
        }
        index.offsets.push(refs.len());
    }
    ensure!(!refs.is_empty(), "{}: the objects of the {split} split have no views", root.display());
    let (mut reps, mut embs, mut latents) = (Vec::new(), Vec::new(), Vec::with_capacity(refs.len() * 7));
    let mut translations: Vec<Option<[f64; 3]>> = Vec::with_capacity(refs.len());
    let res = resolution as usize;
    for (done, chunk) in refs.chunks(batch_size.max(1)).enumerate() {
        let loaded: Vec<(Vec<f32>, dataset::Latent)> = chunk
            .par_iter()
            .map(|r| {
                let key = &rows[r.object].0;
                let image = dataset::pixels::load_image(&key.image_path(root, r.view), resolution)?;
                let latent = dataset::Latent::read(&key.latent_path(root, r.view))?;
                Ok((image, latent))
            })
            .collect::<Result<_>>()?;
        let mut pixels = Vec::with_capacity(chunk.len() * 3 * res * res);
        for (image, latent) in &loaded {
            pixels.extend_from_slice(image);
            latents.extend_from_slice(&latent.to_array());
            translations.push(latent.translation);
        }
        let batch = Tensor::from_vec(pixels, (chunk.len(), 3, res, res), device)?;
        let (rep, emb) = encoder.encode(&batch).with_context(|| format!("encoding the {split} split"))?;
        reps.push(rep.detach());
        if let Some(e) = emb {
            embs.push(e.detach());
        }
        progress((done * batch_size + chunk.len()).min(refs.len()), refs.len());
    }
    let n = refs.len();
    let equi_embeddings = if embs.is_empty() { None } else { Some(Tensor::cat(&embs, 0)?) };
    // 3DIEBench-T latents carry the translation: all views or none.
    let with_translation = translations.iter().filter(|t| t.is_some()).count();
    ensure!(
        with_translation == 0 || with_translation == n,
        "{}: {with_translation} of the {n} {split} latents have a translation (10 values): mixed latent formats",
        root.display()
    );
    let translations = if with_translation == n {
        let flat: Vec<f64> = translations.into_iter().flatten().flatten().collect();
        Some(Tensor::from_vec(flat, (n, 3), device)?)
    } else {
        None
    };
    Ok(SplitFeatures {
        index,
        reps: Tensor::cat(&reps, 0)?,
        equi_embeddings,
        latents: Tensor::from_vec(latents, (n, 7), device)?,
        translations,
    })
}
