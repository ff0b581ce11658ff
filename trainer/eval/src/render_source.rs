//! `eval --render [CONFIG]`: evaluation on the views `render` (and `train --render`'s fixed views)
//! would give for the same job, without a dataset of the user's on disk. The job (objects, split,
//! factors) is resolved and rendered by the renderer library with `render`'s own flags, checks and
//! messages, into a cache folder beside the checkpoint; a second evaluation of the same job finds
//! its views complete and renders nothing (`render` resumes).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;

/// The job to render, with `render`'s flag names.
#[derive(Clone, Debug, Default)]
pub struct RenderJob {
    /// A factor configuration (presets in `manifests/`); `None`: the reference.
    pub config: Option<PathBuf>,
    pub shapenet: Option<PathBuf>,
    pub objects: Option<PathBuf>,
    pub library: Option<PathBuf>,
    pub per_class: Option<usize>,
    pub library_seed: Option<u64>,
    pub views: Option<usize>,
    pub seed: Option<u64>,
    pub image_size: Option<u32>,
}

impl RenderJob {
    /// `render`'s command line for this job, writing into `out`.
    fn argv(&self, out: &Path) -> Vec<String> {
        let mut argv = vec!["render".to_string(), "--out".into(), out.display().to_string()];
        let mut flag = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                argv.extend([format!("--{name}"), v]);
            }
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        flag("config", path(&self.config));
        flag("shapenet", path(&self.shapenet));
        flag("objects", path(&self.objects));
        flag("library", path(&self.library));
        flag("per-class", self.per_class.map(|v| v.to_string()));
        flag("library-seed", self.library_seed.map(|v| v.to_string()));
        flag("views", self.views.map(|v| v.to_string()));
        flag("seed", self.seed.map(|v| v.to_string()));
        flag("image-size", self.image_size.map(|v| v.to_string()));
        argv
    }

    /// The cache folder of this job: one per command line, under `root`.
    fn cache_dir(&self, root: &Path) -> PathBuf {
        let key = self.argv(Path::new("-")).join(" ");
        let hash = blake3::hash(key.as_bytes()).to_hex();
        root.join(format!("render-{}", &hash[..16]))
    }
}

/// Renders `job` (train and val splits, fixed views) into a cache folder under `root` unless it
/// is complete there already, and returns the dataset's folder.
pub fn rendered_dataset(job: &RenderJob, root: &Path) -> anyhow::Result<PathBuf> {
    let out = job.cache_dir(root);
    let cli = renderer::cli::Cli::try_parse_from(job.argv(&out)).context("--render: the job's flags")?;
    eprintln!("eval --render: the job's views in {} (rendered once, then reused)", out.display());
    let summary = renderer::commands::run_dataset(cli.dataset).context("--render")?;
    anyhow::ensure!(
        summary.failures.is_empty(),
        "--render: {} object(s) failed to render",
        summary.failures.len()
    );
    Ok(out)
}
