//! Exclusive use of an output folder: `train` and `eval export` hold an OS lock on a file in the
//! folder they write for as long as they write it, so that a second process on the same folder
//! is refused at once instead of interleaving its files with the first one's.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// The lock file's name inside the folder.
pub const LOCK_FILE: &str = ".lock";

/// A held lock on a folder; released when dropped (and by the OS when the process dies, so a
/// killed run leaves nothing to clean up).
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
    path: PathBuf,
}

impl FolderLock {
    /// Takes the lock of `dir` for `what` (e.g. "--exp-dir"), or says who holds it.
    pub fn acquire(dir: &Path, what: &str) -> anyhow::Result<Self> {
        Self::acquire_file(dir, LOCK_FILE, |path| {
            format!(
                "{}: another process (train or eval export) is writing to this folder ({} is locked); wait for it to finish, or give {what} another folder",
                dir.display(),
                path.display()
            )
        })
    }

    /// Takes the lock file `name` in `dir` (several processes may share a folder, each locking
    /// its own part, as `render --shard` does); `busy` says what to do when it is held.
    pub fn acquire_file(dir: &Path, name: &str, busy: impl FnOnce(&Path) -> String) -> anyhow::Result<Self> {
        let path = dir.join(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("{}: cannot open the lock file", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file, path }),
            Err(TryLockError::WouldBlock) => bail!("{}", busy(&path)),
            // A file system without locks (e.g. Lustre mounted without flock): run unguarded, and
            // say so, rather than refuse to run at all.
            Err(TryLockError::Error(e)) if unsupported(&e) => {
                eprintln!("warning: {}: this file system cannot lock files ({e}); a second process on this folder would not be refused", path.display());
                Ok(Self { _file: file, path })
            }
            Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("{}: cannot lock", path.display())),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Whether `e` says the file system has no locks (ENOLCK, ENOSYS, EOPNOTSUPP on Linux).
fn unsupported(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::Unsupported) || matches!(e.raw_os_error(), Some(37 | 38 | 95))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_folder_is_refused_until_the_first_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = FolderLock::acquire(dir.path(), "train").unwrap();
        let e = FolderLock::acquire(dir.path(), "train").unwrap_err().to_string();
        assert!(e.contains("another process") && e.contains(".lock"), "{e}");
        drop(first);
        FolderLock::acquire(dir.path(), "train").unwrap();
    }
}
