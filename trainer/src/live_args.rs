//! `train --render`'s flags: where the objects come from and how views are drawn (the names of
//! `render`'s flags), and how much of the machine rendering gets. Recorded in every checkpoint
//! with the other flags, so a resumed run renders what the interrupted one did.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Args, Serialize, Deserialize)]
#[serde(default)]
pub struct LiveArgs {
    /// --render: ShapeNetCore v2 folder [default: the built-in library].
    #[arg(long, requires = "render")]
    pub shapenet: Option<PathBuf>,
    /// --render: objects to train on (lines `synset/object_id`, or an official `*_images.npy`);
    /// the train split of them, as `render` splits them.
    #[arg(long, requires = "render")]
    pub objects: Option<PathBuf>,
    /// --render without --shapenet: where the built-in library is generated [./synth-shapenet].
    #[arg(long, requires = "render")]
    pub library: Option<PathBuf>,
    /// --render: objects per class of the built-in library [20].
    #[arg(long, requires = "render")]
    pub per_class: Option<usize>,
    /// --render: the seed that picks the built-in library's objects [0].
    #[arg(long, requires = "render")]
    pub library_seed: Option<u64>,
    /// --render: views per object, with exactly the factors `render` writes for them [config:
    /// dataset.views; 50].
    #[arg(long, requires = "render", conflicts_with = "fresh_views")]
    pub views: Option<usize>,
    /// --render: draw both views of every pair anew each epoch (keyed by seed, epoch, object and
    /// draw) instead of from the fixed views.
    #[arg(long, requires = "render")]
    pub fresh_views: bool,
    /// --render: size the views are rendered at before the training's resize to --resolution
    /// [twice --resolution, at most the configuration's dataset.image_size (256): within JPEG's
    /// loss of the files' images, README]
    #[arg(long, requires = "render")]
    pub image_size: Option<u32>,
    /// --render: renderer threads, each drawing its part of every batch ahead of the step (on
    /// lavapipe one draws on about one core; bench/live.sh measured 2).
    #[arg(long, requires = "render", default_value_t = 2)]
    pub render_threads: usize,
    /// --render: bytes of uploaded meshes (and textures) kept, in MiB, all renderers together.
    #[arg(long, requires = "render", default_value_t = 1024)]
    pub mesh_cache_mb: u64,
    /// --render: an object whose mesh fails is skipped (logged, listed in log.jsonl) instead of
    /// stopping the run.
    #[arg(long, requires = "render")]
    pub keep_going: bool,
}

impl LiveArgs {
    /// Checks the flags that need no files.
    pub fn validate(&self, render: bool) -> anyhow::Result<()> {
        if !render {
            return Ok(());
        }
        if !(1..=64).contains(&self.render_threads) {
            bail!("--render-threads {} is out of range 1..=64", self.render_threads);
        }
        if !cfg!(feature = "render") {
            bail!(
                "--render: this train was built without the renderer (cargo feature `render`, on by default); \
                 build it with `--features render` (needs Vulkan at run time), or render a dataset with `render` and pass --data"
            );
        }
        Ok(())
    }
}
