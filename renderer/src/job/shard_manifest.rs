//! `shards/<i>-of-<n>.json`: what one shard of a job rendered, written instead of the root
//! manifests so that shards running at once never write the same file; `render merge` turns the
//! N of them into the root manifests.

use std::path::{Path, PathBuf};

use anyhow::Context;
use dataset::atomic;
use dataset::records::DatasetManifest;
use serde::{Deserialize, Serialize};

use super::manifests::Contents;
use super::Shard;

pub const SHARDS_DIR: &str = "shards";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardManifest {
    pub index: usize,
    pub count: usize,
    /// The run's manifest before any image is counted: configuration, its hash, generator.
    pub run: DatasetManifest,
    /// This shard's objects, sorted.
    pub objects: Vec<String>,
    /// What the root manifests will list about them.
    pub contents: Contents,
}

pub fn path(out: &Path, shard: Shard) -> PathBuf {
    out.join(SHARDS_DIR).join(shard.manifest_name())
}

impl ShardManifest {
    pub fn write(&self, out: &Path) -> anyhow::Result<()> {
        let path = path(out, Shard { index: self.index, count: self.count });
        let text = serde_json::to_string_pretty(self)?;
        atomic::write_bytes(&path, text.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display()))
    }

    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = dataset::input::read_text(path, dataset::input::MANIFEST_MAX_BYTES)?;
        serde_json::from_str(&text).with_context(|| format!("{}: invalid shard manifest", path.display()))
    }
}
