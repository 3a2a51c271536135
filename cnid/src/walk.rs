//! Paths inside a volume, as the CNID database sees them: a chain of names
//! from the volume root (id 2), never leaving the volume and never following
//! a symbolic link.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use common::cnid::{Cnid, CnidError, Entry, FileKind, Name};

/// The names leading from the volume root to `path` (empty: the root).
/// Absolute paths must lie inside `volume`; relative ones are relative to
/// the volume root.
pub fn components(volume: &Path, path: &Path) -> Result<Vec<Name>, CnidError> {
    let outside = || {
        CnidError::InvalidArgument(format!(
            "{} is outside the volume {}",
            path.display(),
            volume.display()
        ))
    };
    let rel = if path.is_absolute() {
        path.strip_prefix(volume).map_err(|_| outside())?
    } else {
        path
    };
    let mut names = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => names.push(
                Name::new(n.as_bytes().to_vec())
                    .map_err(|e| CnidError::InvalidArgument(format!("{}: {e}", path.display())))?,
            ),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(CnidError::InvalidArgument(format!(
                    "{}: '..' is not allowed (paths stay inside the volume)",
                    path.display()
                )));
            }
            Component::RootDir | Component::Prefix(_) => return Err(outside()),
        }
    }
    Ok(names)
}

pub fn kind_of(meta: &std::fs::Metadata) -> FileKind {
    if meta.is_dir() {
        FileKind::Dir
    } else {
        FileKind::File
    }
}

/// The entry for `name` in directory `did`, from the file at `full`
/// (lstat: a symlink is a file of its own).
pub fn entry_at(full: &Path, did: Cnid, name: &Name) -> Result<Entry, CnidError> {
    let meta = std::fs::symlink_metadata(full).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CnidError::InvalidArgument(format!("{}: no such file or directory", full.display()))
        } else {
            CnidError::InvalidArgument(format!("{}: {e}", full.display()))
        }
    })?;
    Ok(entry_from(&meta, did, name))
}

pub fn entry_from(meta: &std::fs::Metadata, did: Cnid, name: &Name) -> Entry {
    Entry {
        dev: meta.dev(),
        ino: meta.ino(),
        kind: kind_of(meta),
        did,
        name: name.clone(),
    }
}

/// `volume` followed by `names`.
pub fn join(volume: &Path, names: &[Name]) -> PathBuf {
    let mut p = volume.to_path_buf();
    for n in names {
        p.push(n.as_os_str());
    }
    p
}

/// A path for messages, escaped like names are.
pub fn show(names: &[Name]) -> String {
    if names.is_empty() {
        return ".".into();
    }
    names
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_in_the_volume() {
        let v = Path::new("/srv/vol");
        let names = |p: &str| {
            components(v, Path::new(p)).map(|n| n.iter().map(|x| x.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(names("a/./b").unwrap(), ["a", "b"]);
        assert_eq!(names("/srv/vol/a").unwrap(), ["a"]);
        assert!(names("/srv/vol").unwrap().is_empty());
        assert!(
            names("/srv/volume2/a")
                .unwrap_err()
                .to_string()
                .contains("outside the volume")
        );
        assert!(names("/etc/passwd").is_err());
        assert!(
            names("a/../../etc")
                .unwrap_err()
                .to_string()
                .contains("'..'")
        );
    }
}
