//! `eval --render [CONFIG]`: evaluation on the views `render` (and `train --render`'s fixed views)
//! would give for the same job, without a dataset of the user's on disk. The job is described as
//! `train --render` describes it (`renderer::live::SourceOptions`) and rendered by the renderer
//! library with `render`'s own checks and messages, into a cache folder beside the checkpoint; a
//! second evaluation of the same job finds its views complete and renders nothing (`render`
//! resumes).

use std::path::{Path, PathBuf};

use anyhow::Context;
use renderer::live::SourceOptions;

/// `render`'s default number of renderers (devices drawing objects in parallel).
const RENDERERS: usize = 2;

/// Renders `job` (train and val splits, fixed views) into a cache folder under `root` unless it
/// is complete there already (one folder per job), and returns the dataset's folder.
pub fn rendered_dataset(job: &SourceOptions, root: &Path) -> anyhow::Result<PathBuf> {
    let hash = blake3::hash(format!("{job:?}").as_bytes()).to_hex();
    let out = root.join(format!("render-{}", &hash[..16]));
    eprintln!("eval --render: the job's views in {} (rendered once, then reused)", out.display());
    let summary = job.render_files(&out, RENDERERS).context("--render")?;
    anyhow::ensure!(
        summary.failures.is_empty(),
        "--render: {} object(s) failed to render",
        summary.failures.len()
    );
    Ok(out)
}
