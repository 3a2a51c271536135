//! Where the CNID service keeps its sockets and databases.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Name of the database directory inside a volume (netatalk's default).
pub const APPLEDB: &str = ".AppleDB";

/// cnid_metad's socket when `--socket` is not given: under /run for root,
/// under $XDG_RUNTIME_DIR (or a private /tmp/cnid-UID) for anyone else.
pub fn default_metad_socket() -> PathBuf {
    let uid = nix::unistd::geteuid().as_raw();
    if uid == 0 {
        return PathBuf::from("/run/cnid/metad.sock");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if Path::new(&d).is_absolute() => Path::new(&d).join("cnid/metad.sock"),
        _ => PathBuf::from(format!("/tmp/cnid-{uid}/metad.sock")),
    }
}

/// The database directory of `volume` (an absolute, canonical path):
/// `<volume>/.AppleDB`, or with a `dbroot` a directory in it whose name is
/// derived from the volume path: readable (the path with every byte other
/// than letters, digits, '.', '-' and '_' turned into '_', at most 100 of
/// them) and unique (followed by 16 hex digits of the path's SHA-256). It
/// never contains '/' and never starts with '.'.
pub fn db_dir(volume: &Path, dbroot: Option<&Path>) -> PathBuf {
    let Some(root) = dbroot else {
        return volume.join(APPLEDB);
    };
    let bytes = volume.as_os_str().as_bytes();
    let mut readable: String = bytes
        .iter()
        .skip_while(|&&b| b == b'/')
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
                b as char
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if readable.is_empty() || readable.starts_with('.') {
        readable.insert_str(0, "vol");
    }
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    root.join(format!("{readable}-{hex}"))
}

/// Whether a database directory may be trusted: owned by root, by the
/// volume's owner, or by the user the service runs as; and not writable by
/// everyone. The error says why not.
pub fn check_dbdir_owner(
    dbdir: &Path,
    dir_uid: u32,
    dir_mode: u32,
    volume_uid: u32,
    service_uid: u32,
) -> Result<(), String> {
    if dir_uid != 0 && dir_uid != volume_uid && dir_uid != service_uid {
        return Err(format!(
            "database directory {} is owned by uid {dir_uid}, not by the volume's owner (uid {volume_uid}) or root; refusing to use it",
            dbdir.display()
        ));
    }
    if dir_mode & 0o002 != 0 {
        return Err(format!(
            "database directory {} is writable by everyone (mode {:o}); refusing to use it",
            dbdir.display(),
            dir_mode & 0o7777
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_dir_in_volume_and_under_dbroot() {
        assert_eq!(
            db_dir(Path::new("/srv/vol"), None),
            Path::new("/srv/vol/.AppleDB")
        );
        let a = db_dir(
            Path::new("/srv/my vol/../x"),
            Some(Path::new("/var/lib/cnid")),
        );
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("srv_my_vol_.._x-"), "{name}");
        assert_eq!(a.parent().unwrap(), Path::new("/var/lib/cnid"));
        // Paths that read alike stay apart.
        assert_ne!(
            db_dir(Path::new("/a_b"), Some(Path::new("/r"))),
            db_dir(Path::new("/a/b"), Some(Path::new("/r")))
        );
        let root = db_dir(Path::new("/"), Some(Path::new("/r")));
        assert!(
            root.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("vol-")
        );
        let hidden = db_dir(Path::new("/.x"), Some(Path::new("/r")));
        assert!(
            hidden
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("vol.x-")
        );
    }
}
