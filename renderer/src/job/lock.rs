//! One process per piece of work: a run holds an exclusive lock on `OUT/.render-<i>-of-<n>.lock`
//! (its shard) while it renders, so the same command started twice on one folder is refused
//! instead of racing on its files, while the shards of one job still share the folder. The
//! operating system releases the lock when the process ends, however it ends.

use std::fs::{File, TryLockError};
use std::path::Path;

use anyhow::{bail, Context};

use super::Shard;

pub struct ShardLock {
    _file: File,
}

pub fn lock_shard(out: &Path, shard: Shard) -> anyhow::Result<ShardLock> {
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let path = out.join(format!(".render-{}-of-{}.lock", shard.index, shard.count));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("{}: cannot open the lock file", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(ShardLock { _file: file }),
        Err(TryLockError::WouldBlock) => bail!(
            "{}: another `render` is writing shard {}/{} of this folder; wait for it to finish (re-running then resumes), or use another --out",
            out.display(),
            shard.index,
            shard.count
        ),
        Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("{}: cannot lock", path.display())),
    }
}
