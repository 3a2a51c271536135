//! What cnid_metad checks before it starts a cnid_dbd for a volume.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use common::cnid::paths;
use common::cnid::proto::{ErrorKind, WireError};
use common::cred::PeerCred;

fn volume_err(msg: String) -> WireError {
    WireError::new(ErrorKind::Volume, msg)
}

/// The canonical path of the volume a client names: absolute, existing,
/// a directory.
pub fn resolve(raw: &[u8]) -> Result<PathBuf, WireError> {
    let asked = Path::new(OsStr::from_bytes(raw));
    if !asked.is_absolute() {
        return Err(WireError::new(
            ErrorKind::InvalidArgument,
            format!("volume path {} is not absolute", asked.display()),
        ));
    }
    let path = std::fs::canonicalize(asked)
        .map_err(|e| volume_err(format!("volume {}: {e}", asked.display())))?;
    if !path.is_dir() {
        return Err(volume_err(format!(
            "volume {} is not a directory",
            asked.display()
        )));
    }
    Ok(path)
}

/// Makes sure the database directory of `volume` exists and may be
/// trusted. A missing one is created (mode 0700, owned by the volume's
/// owner) only for root or the volume's owner; an existing one must not be
/// a symlink, must be owned by root, the volume's owner or us, and must not
/// be writable by everyone.
pub fn prepare_dbdir(
    volume: &Path,
    dbdir: &Path,
    dbroot: Option<&Path>,
    peer: &PeerCred,
) -> Result<(), WireError> {
    let vmeta = std::fs::metadata(volume)
        .map_err(|e| volume_err(format!("volume {}: {e}", volume.display())))?;
    let euid = nix::unistd::geteuid().as_raw();
    if let Some(root) = dbroot {
        common::sockpath::ensure_dir(root, 0o755)
            .map_err(|e| volume_err(format!("database root: {e}")))?;
    }
    match std::fs::symlink_metadata(dbdir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if peer.uid != 0 && peer.uid != vmeta.uid() && peer.uid != euid {
                return Err(WireError::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "{} has no CNID database yet, and only root or the volume's owner (uid {}) may create one",
                        volume.display(),
                        vmeta.uid()
                    ),
                ));
            }
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dbdir)
                .map_err(|e| volume_err(format!("cannot create {}: {e}", dbdir.display())))?;
            if euid == 0 {
                std::os::unix::fs::chown(dbdir, Some(vmeta.uid()), Some(vmeta.gid())).map_err(
                    |e| volume_err(format!("cannot hand {} to its owner: {e}", dbdir.display())),
                )?;
            }
            tracing::info!(target: "cnid_metad", volume = %volume.display(), dbdir = %dbdir.display(), "created database directory");
            Ok(())
        }
        Err(e) => Err(volume_err(format!("{}: {e}", dbdir.display()))),
        Ok(m) if m.file_type().is_symlink() => Err(volume_err(format!(
            "database directory {} is a symbolic link; refusing to follow it",
            dbdir.display()
        ))),
        Ok(m) if !m.is_dir() => Err(volume_err(format!(
            "database directory {} is not a directory",
            dbdir.display()
        ))),
        Ok(m) => paths::check_dbdir_owner(dbdir, m.uid(), m.mode(), vmeta.uid(), euid)
            .map_err(volume_err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn me() -> PeerCred {
        PeerCred::current()
    }

    #[test]
    fn volume_paths() {
        let d = tempfile::tempdir().unwrap();
        let e = resolve(b"relative/path").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        let e = resolve(d.path().join("missing").as_os_str().as_bytes()).unwrap_err();
        assert!(e.message.contains("No such file"), "{}", e.message);
        std::fs::write(d.path().join("f"), "").unwrap();
        let e = resolve(d.path().join("f").as_os_str().as_bytes()).unwrap_err();
        assert!(e.message.ends_with("is not a directory"));
        let v = resolve(d.path().join("./").as_os_str().as_bytes()).unwrap();
        assert_eq!(v, std::fs::canonicalize(d.path()).unwrap());
    }

    #[test]
    fn dbdir_is_created_private_and_planted_ones_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let vol = d.path();
        let dbdir = vol.join(".AppleDB");
        prepare_dbdir(vol, &dbdir, None, &me()).unwrap();
        assert_eq!(std::fs::metadata(&dbdir).unwrap().mode() & 0o777, 0o700);
        prepare_dbdir(vol, &dbdir, None, &me()).unwrap();

        std::fs::set_permissions(&dbdir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare_dbdir(vol, &dbdir, None, &me()).unwrap_err();
        assert!(e.message.contains("writable by everyone"), "{}", e.message);

        let link = vol.join("link");
        std::os::unix::fs::symlink("/etc", &link).unwrap();
        let e = prepare_dbdir(vol, &link, None, &me()).unwrap_err();
        assert!(e.message.contains("symbolic link"), "{}", e.message);
    }

    #[test]
    fn only_owner_or_root_may_create() {
        let d = tempfile::tempdir().unwrap();
        let stranger = PeerCred {
            pid: 1,
            uid: 54321,
            gid: 54321,
        };
        let e = prepare_dbdir(d.path(), &d.path().join(".AppleDB"), None, &stranger).unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert!(!d.path().join(".AppleDB").exists());
    }
}
