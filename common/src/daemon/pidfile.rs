//! A pid file that is also the lock saying "this instance runs": it is
//! locked with flock(2) for the life of the process, so a stale file left by
//! a crash never blocks a restart, and a second instance learns the pid of
//! the first.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PidFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is locked by {} (another instance is running)", match .pid { Some(p) => format!("pid {p}"), None => "another process".to_string() })]
    Locked { path: PathBuf, pid: Option<u32> },
    #[error("{path} is not a regular file owned by uid {uid}; refusing to use it")]
    NotOurs { path: PathBuf, uid: u32 },
}

#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: File,
}

impl PidFile {
    /// Creates or reuses `path` (never following a symlink), locks it and
    /// writes our pid into it.
    pub fn acquire(path: &Path) -> Result<PidFile, PidFileError> {
        let io = |source| PidFileError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let euid = nix::unistd::geteuid().as_raw();
        if !meta.file_type().is_file() || meta.uid() != euid || meta.nlink() != 1 {
            return Err(PidFileError::NotOurs {
                path: path.to_owned(),
                uid: euid,
            });
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut s = String::new();
                let _ = file.read_to_string(&mut s);
                return Err(PidFileError::Locked {
                    path: path.to_owned(),
                    pid: s.trim().parse().ok(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(PidFile {
            path: path.to_owned(),
            file,
        })
    }

    /// Like [`PidFile::acquire`], but waits up to `patience` for a previous
    /// holder that is on its way out.
    pub async fn acquire_waiting(
        path: &Path,
        patience: std::time::Duration,
    ) -> Result<PidFile, PidFileError> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match PidFile::acquire(path) {
                Err(PidFileError::Locked { .. }) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Remove the file only if the path still names the file we locked.
        if let (Ok(ours), Ok(there)) = (self.file.metadata(), std::fs::symlink_metadata(&self.path))
            && ours.ino() == there.ino()
            && ours.dev() == there.dev()
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_learns_the_pid_and_stale_files_are_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        std::fs::write(&path, "99999999\n").unwrap();
        let held = PidFile::acquire(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        match PidFile::acquire(&path) {
            Err(PidFileError::Locked { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(held);
        assert!(!path.exists());
    }

    #[test]
    fn symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        std::os::unix::fs::symlink(dir.path().join("target"), &path).unwrap();
        assert!(PidFile::acquire(&path).is_err());
        assert!(!dir.path().join("target").exists());
    }
}
