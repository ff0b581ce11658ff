//! Frozen features of every view of a split, and their on-disk cache.
//!
//! One [`SplitFeatures`] holds, row by row (one row per view of every object), the backbone
//! representation, optionally the equivariant embedding (projector output, for the predictor
//! evaluation), and the view's latent. Rows of one object are contiguous: `offsets[i]..offsets[i+1]`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{ensure, Context, Result};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

/// Per-object bookkeeping stored in the cache's metadata.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SplitIndex {
    /// Manifest entries (`/<synset>/<id>/`) of the objects, in manifest order.
    pub objects: Vec<String>,
    pub labels: Vec<i64>,
    /// Row ranges: object `i` owns rows `offsets[i]..offsets[i + 1]`.
    pub offsets: Vec<usize>,
    /// The view number `k` of every row.
    pub views: Vec<usize>,
}

impl SplitIndex {
    pub fn rows(&self) -> usize {
        *self.offsets.last().unwrap_or(&0)
    }

    pub fn object_rows(&self, object: usize) -> std::ops::Range<usize> {
        self.offsets[object]..self.offsets[object + 1]
    }

    /// The class label of the object that owns `row`.
    pub fn label_of_row(&self, row: usize) -> i64 {
        let object = self.offsets.partition_point(|&start| start <= row) - 1;
        self.labels[object]
    }
}

/// Features of one split.
#[derive(Clone, Debug)]
pub struct SplitFeatures {
    pub index: SplitIndex,
    /// (rows, rep_dim) backbone representations.
    pub reps: Tensor,
    /// (rows, emb_dim) equivariant embeddings, when the model has an equivariant projector.
    pub equi_embeddings: Option<Tensor>,
    /// (rows, 7) latents, f64, official order.
    pub latents: Tensor,
    /// (rows, 3) object translations, f64, when the dataset's latents carry them (3DIEBench-T).
    pub translations: Option<Tensor>,
}

impl SplitFeatures {
    pub fn rep_dim(&self) -> Result<usize> {
        Ok(self.reps.dim(1)?)
    }

    /// The latents as plain rows.
    pub fn latent_rows(&self) -> Result<Vec<[f64; 7]>> {
        let flat = self.latents.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
        Ok(flat.chunks(7).map(|c| c.try_into().expect("rows of 7")).collect())
    }

    /// The translations as plain rows, if the dataset has them.
    pub fn translation_rows(&self) -> Result<Option<Vec<[f64; 3]>>> {
        let Some(t) = &self.translations else { return Ok(None) };
        let flat = t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
        Ok(Some(flat.chunks(3).map(|c| c.try_into().expect("rows of 3")).collect()))
    }

    fn check(&self) -> Result<()> {
        let rows = self.index.rows();
        ensure!(
            self.index.views.len() == rows,
            "feature index: {} views for {rows} rows",
            self.index.views.len()
        );
        ensure!(
            self.index.labels.len() == self.index.objects.len(),
            "feature index: labels and objects differ"
        );
        ensure!(self.reps.dim(0)? == rows, "representations have {} rows, index {rows}", self.reps.dim(0)?);
        ensure!(self.latents.dims() == [rows, 7], "latents have shape {:?}", self.latents.dims());
        if let Some(e) = &self.equi_embeddings {
            ensure!(e.dim(0)? == rows, "embeddings have {} rows, index {rows}", e.dim(0)?);
        }
        if let Some(t) = &self.translations {
            ensure!(t.dims() == [rows, 3], "translations have shape {:?}", t.dims());
        }
        Ok(())
    }
}

/// Train and val features of one (checkpoint, dataset, resolution), with what the predictor needs.
#[derive(Clone, Debug)]
pub struct FeatureCache {
    pub train: SplitFeatures,
    pub val: SplitFeatures,
    /// Size of the equivariant part of the representation (its last `equi_dim` dims).
    pub equi_dim: usize,
    /// Number of classes (for the linear probe).
    pub classes: usize,
    /// Free-form description of what was extracted (checkpoint, dataset, resolution).
    pub source: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct CacheMeta {
    train: SplitIndex,
    val: SplitIndex,
    equi_dim: usize,
    classes: usize,
    source: serde_json::Value,
}

const META_KEY: &str = "eval_features";

impl FeatureCache {
    /// Writes the cache as one safetensors file (atomic), the index as JSON metadata.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.train.check()?;
        self.val.check()?;
        let meta = CacheMeta {
            train: self.train.index.clone(),
            val: self.val.index.clone(),
            equi_dim: self.equi_dim,
            classes: self.classes,
            source: self.source.clone(),
        };
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        for (name, split) in [("train", &self.train), ("val", &self.val)] {
            tensors.push((format!("{name}.reps"), split.reps.to_dtype(DType::F32)?.contiguous()?));
            tensors.push((format!("{name}.latents"), split.latents.to_dtype(DType::F64)?.contiguous()?));
            if let Some(e) = &split.equi_embeddings {
                tensors.push((format!("{name}.equi_embeddings"), e.to_dtype(DType::F32)?.contiguous()?));
            }
            if let Some(t) = &split.translations {
                tensors.push((format!("{name}.translations"), t.to_dtype(DType::F64)?.contiguous()?));
            }
        }
        let metadata = HashMap::from([(META_KEY.to_string(), serde_json::to_string(&meta)?)]);
        let bytes = safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(metadata))
            .with_context(|| format!("{}: cannot serialise features", path.display()))?;
        dataset::atomic::write_bytes(path, &bytes)
            .with_context(|| format!("{}: cannot write", path.display()))
    }

    /// Reads a cache from a memory map: each tensor is copied once, from the page cache straight
    /// to `device` (no whole-file buffer: at 3DIEBench's size the file is about 13 GB, and on a
    /// GPU the features then take no host memory beyond the page cache).
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let file = std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        // SAFETY: cache files are written atomically (temporary file + rename) and never changed
        // in place, so the mapped bytes do not change under us.
        let bytes = unsafe { memmap2::Mmap::map(&file) }
            .with_context(|| format!("{}: cannot map", path.display()))?;
        let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes)
            .with_context(|| format!("{}: not a safetensors file", path.display()))?;
        let meta_json =
            metadata.metadata().as_ref().and_then(|m| m.get(META_KEY)).with_context(|| {
                format!("{}: no `{META_KEY}` metadata: not a feature cache", path.display())
            })?;
        let meta: CacheMeta = serde_json::from_str(meta_json)
            .with_context(|| format!("{}: invalid feature index", path.display()))?;
        let views = safetensors::SafeTensors::deserialize(&bytes)
            .with_context(|| format!("{}: not a safetensors file", path.display()))?;
        let mut tensors = std::collections::HashMap::new();
        for (name, view) in views.tensors() {
            use candle_core::safetensors::Load;
            let t = view.load(device).with_context(|| format!("{}: cannot load {name}", path.display()))?;
            tensors.insert(name, t);
        }
        let mut split = |name: &str, index: SplitIndex| -> Result<SplitFeatures> {
            let mut take = |what: &str| tensors.remove(&format!("{name}.{what}"));
            let features = SplitFeatures {
                index,
                reps: take("reps").with_context(|| format!("{}: no {name}.reps", path.display()))?,
                latents: take("latents").with_context(|| format!("{}: no {name}.latents", path.display()))?,
                equi_embeddings: take("equi_embeddings"),
                translations: take("translations"),
            };
            features.check().with_context(|| format!("{}: inconsistent {name} features", path.display()))?;
            Ok(features)
        };
        let train = split("train", meta.train)?;
        let val = split("val", meta.val)?;
        Ok(Self { train, val, equi_dim: meta.equi_dim, classes: meta.classes, source: meta.source })
    }
}
