//! The database directory, pinned and checked before anything is read from
//! it, and the switch to its owner when started as root.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};

pub struct DbDir {
    pub uid: u32,
    pub gid: u32,
    _fd: OwnedFd,
}

/// Opens `dbdir` without following a symlink, checks who owns it against
/// the volume, and makes it the current directory, so every later path
/// (lock, db_param, database, socket) is relative to the directory we
/// checked, whatever happens to the path afterwards.
pub fn pin_dbdir(dbdir: &Path, volume: &Path) -> Result<DbDir, String> {
    let fd = open(
        dbdir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ELOOP => format!(
            "database directory {} is a symbolic link; refusing to follow it",
            dbdir.display()
        ),
        nix::errno::Errno::ENOTDIR => {
            format!("database directory {} is not a directory", dbdir.display())
        }
        e => format!("database directory {}: {}", dbdir.display(), e.desc()),
    })?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| format!("{}: {e}", dbdir.display()))?;
    let volume_uid = std::fs::metadata(volume)
        .map_err(|e| format!("volume {}: {e}", volume.display()))?
        .uid();
    common::cnid::paths::check_dbdir_owner(
        dbdir,
        st.st_uid,
        st.st_mode,
        volume_uid,
        nix::unistd::geteuid().as_raw(),
    )?;
    nix::unistd::fchdir(fd.as_fd())
        .map_err(|e| format!("cannot enter {}: {e}", dbdir.display()))?;
    Ok(DbDir {
        uid: st.st_uid,
        gid: st.st_gid,
        _fd: fd,
    })
}

/// When running as root and the directory belongs to someone else, become
/// that user (groups first, then gid, then uid; there is no way back).
pub fn become_owner(dir: &DbDir) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() || dir.uid == 0 {
        return Ok(());
    }
    let gid = Gid::from_raw(dir.gid);
    let uid = Uid::from_raw(dir.uid);
    nix::unistd::setgroups(&[gid]).map_err(|e| format!("setgroups({gid}): {e}"))?;
    nix::unistd::setgid(gid).map_err(|e| format!("setgid({gid}): {e}"))?;
    nix::unistd::setuid(uid).map_err(|e| format!("setuid({uid}): {e}"))?;
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err("could regain root after dropping privileges".into());
    }
    tracing::info!(target: "cnid_dbd", uid = dir.uid, gid = dir.gid, "running as the owner of the database directory");
    Ok(())
}
