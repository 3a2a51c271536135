//! Listening Unix sockets at paths that others could tamper with.
//!
//! A daemon binds its socket only after it holds `<path>.lock` (a
//! [`PidFile`]), so two instances never fight over one path and a second one
//! learns the pid of the first. It removes a stale socket only when the
//! socket is its own (a socket file owned by its uid that nobody answers
//! on); anything else at the path (a file, a symlink, someone else's socket)
//! is left alone and reported. The socket is bound under a temporary name,
//! given its mode, and renamed into place, so it never exists at its public
//! path with the wrong mode.

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use crate::daemon::{PidFile, PidFileError};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SockPathError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another instance (pid {}) is already serving {}", pid.map_or("unknown".to_string(), |p| p.to_string()), path.display())]
    AlreadyRunning { path: PathBuf, pid: Option<u32> },
    #[error("{} already exists and is not our socket ({what}); refusing to remove or reuse it", path.display())]
    Planted { path: PathBuf, what: String },
    #[error("{} is unsafe: {why}", path.display())]
    UnsafeDirectory { path: PathBuf, why: String },
    #[error(transparent)]
    PidFile(PidFileError),
    #[error("{} is {len} bytes; a Unix socket path can have at most 107", path.display())]
    TooLong { path: PathBuf, len: usize },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SockPathError + '_ {
    move |source| SockPathError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Makes sure `dir` is a directory we can trust: owned by us (or root), and
/// not writable by anyone else unless it has the sticky bit. Creates it with
/// `mode` when it does not exist (its parent must exist).
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<(), SockPathError> {
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(dir)(e)),
    }
    check_dir(dir)
}

/// The checks of [`ensure_dir`] on an existing directory. Symlinks to a
/// directory are followed (as in /var/run -> /run); the target is checked.
pub fn check_dir(dir: &Path) -> Result<(), SockPathError> {
    let meta = std::fs::metadata(dir).map_err(io_err(dir))?;
    let unsafe_dir = |why: String| SockPathError::UnsafeDirectory {
        path: dir.to_owned(),
        why,
    };
    if !meta.is_dir() {
        return Err(unsafe_dir("not a directory".into()));
    }
    let euid = nix::unistd::geteuid().as_raw();
    if meta.uid() != euid && meta.uid() != 0 {
        return Err(unsafe_dir(format!(
            "owned by uid {}, not by us (uid {euid}) or root",
            meta.uid()
        )));
    }
    let mode = meta.mode();
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(unsafe_dir(format!(
            "writable by others (mode {:o}) without the sticky bit",
            mode & 0o7777
        )));
    }
    Ok(())
}

/// A socket bound at its public path; removes the path again when dropped
/// (if it still names our socket).
#[derive(Debug)]
pub struct BoundSocket {
    path: PathBuf,
    dev: u64,
    ino: u64,
    _lock: Option<PidFile>,
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path)
            && m.dev() == self.dev
            && m.ino() == self.ino
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Options for [`bind`].
#[derive(Debug, Clone, Copy)]
pub struct BindOptions {
    /// Mode of the socket file.
    pub mode: u32,
    /// listen(2) backlog.
    pub backlog: i32,
    /// Hold `<path>.lock` while the socket exists (one instance per path).
    pub lock: bool,
}

/// Binds a listening socket at `path` safely (see the module documentation).
pub fn bind(path: &Path, opts: BindOptions) -> Result<(UnixListener, BoundSocket), SockPathError> {
    let len = path.as_os_str().len();
    if len > crate::dbparam::MAX_SOCKET_PATH {
        return Err(SockPathError::TooLong {
            path: path.to_owned(),
            len,
        });
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    check_dir(&dir)?;
    let lock = if opts.lock {
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        match PidFile::acquire(Path::new(&lock_path)) {
            Ok(l) => Some(l),
            Err(PidFileError::Locked { pid, .. }) => {
                return Err(SockPathError::AlreadyRunning {
                    path: path.to_owned(),
                    pid,
                });
            }
            Err(e) => return Err(SockPathError::PidFile(e)),
        }
    } else {
        None
    };
    remove_if_stale(path)?;

    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{}.{}.tmp", file_name, std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let listener = listen(&tmp, opts.backlog).map_err(io_err(&tmp))?;
    let finish = || -> std::io::Result<()> {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(opts.mode))?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = finish() {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(path)(e));
    }
    let meta = std::fs::symlink_metadata(path).map_err(io_err(path))?;
    Ok((
        listener,
        BoundSocket {
            path: path.to_owned(),
            dev: meta.dev(),
            ino: meta.ino(),
            _lock: lock,
        },
    ))
}

fn listen(path: &Path, backlog: i32) -> std::io::Result<UnixListener> {
    use nix::sys::socket::{
        AddressFamily, Backlog, SockFlag, SockType, UnixAddr, bind, listen, socket,
    };
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &UnixAddr::new(path)?)?;
    let backlog = Backlog::new(backlog.clamp(1, i32::MAX)).map_err(std::io::Error::from)?;
    listen(&fd, backlog)?;
    Ok(UnixListener::from(fd))
}

/// Removes `path` if it is a socket of ours that nobody listens on.
fn remove_if_stale(path: &Path) -> Result<(), SockPathError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(path)(e)),
    };
    let euid = nix::unistd::geteuid().as_raw();
    let ft = meta.file_type();
    if !ft.is_socket() || meta.uid() != euid {
        let kind = if ft.is_symlink() {
            "a symbolic link"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_dir() {
            "a directory"
        } else {
            "a file"
        };
        return Err(SockPathError::Planted {
            path: path.to_owned(),
            what: format!("{kind} owned by uid {}", meta.uid()),
        });
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(SockPathError::AlreadyRunning {
            path: path.to_owned(),
            pid: None,
        });
    }
    std::fs::remove_file(path).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: BindOptions = BindOptions {
        mode: 0o666,
        backlog: 16,
        lock: true,
    };

    #[test]
    fn bind_twice_reports_the_first_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let (_l, bound) = bind(&path, OPTS).unwrap();
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o666);
        match bind(&path, OPTS) {
            Err(SockPathError::AlreadyRunning { pid, .. }) => {
                assert_eq!(pid, Some(std::process::id()))
            }
            other => panic!("{other:?}"),
        }
        drop(bound);
        assert!(!path.exists());
    }

    #[test]
    fn stale_socket_of_ours_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let (_l, _b) = bind(&path, OPTS).unwrap();
        std::os::unix::net::UnixStream::connect(&path).unwrap();
    }

    #[test]
    fn planted_file_and_symlink_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "important").unwrap();
        let e = bind(&path, OPTS).unwrap_err().to_string();
        assert!(e.contains("is not our socket (a file"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "important");

        let link = dir.path().join("l");
        std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
        let e = bind(&link, OPTS).unwrap_err().to_string();
        assert!(e.contains("a symbolic link"), "{e}");
    }

    #[test]
    fn world_writable_directory_without_sticky_bit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = bind(&dir.path().join("s"), OPTS).unwrap_err().to_string();
        assert!(e.contains("writable by others"), "{e}");
    }
}
