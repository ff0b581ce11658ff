//! One process per piece of work: a run holds an exclusive lock on `OUT/.render-<i>-of-<n>.lock`
//! (its shard) while it renders, so the same command started twice on one folder is refused
//! instead of racing on its files, while the shards of one job still share the folder. The
//! operating system releases the lock when the process ends, however it ends.

use std::path::Path;

use anyhow::Context;
use dataset::lock::FolderLock;

use super::Shard;

pub fn lock_shard(out: &Path, shard: Shard) -> anyhow::Result<FolderLock> {
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let name = format!(".render-{}-of-{}.lock", shard.index, shard.count);
    FolderLock::acquire_file(out, &name, |_| {
        format!(
            "{}: another `render` is writing shard {}/{} of this folder; wait for it to finish (re-running then resumes), or use another --out",
            out.display(),
            shard.index,
            shard.count
        )
    })
}
