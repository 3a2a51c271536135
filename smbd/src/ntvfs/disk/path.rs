//! Names from the client, and opening them beneath the share root.
//!
//! An SMB2 name is relative to the share root, backslash-separated. It is
//! checked component by component: no empty components, no "..", none of
//! the characters Windows forbids in names, and never a '/' (which would be
//! a separator here). Files are opened with openat2(RESOLVE_BENEATH)
//! relative to a descriptor of the share root, so no path (or symlink)
//! leads outside it unless `wide links = yes`. Lookups are
//! case-insensitive, as Windows clients expect: when the exact name does
//! not exist, the directory is searched for one that differs only in case.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::wire::NtStatus;

/// A checked relative path (components joined by '/').
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RelPath(PathBuf);

impl RelPath {
    pub fn root() -> RelPath {
        RelPath(PathBuf::new())
    }

    pub fn is_root(&self) -> bool {
        self.0.as_os_str().is_empty()
    }

    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// The path for openat: "." for the root.
    pub fn for_open(&self) -> &Path {
        if self.is_root() {
            Path::new(".")
        } else {
            &self.0
        }
    }

    pub fn parent(&self) -> RelPath {
        RelPath(self.0.parent().map(Path::to_path_buf).unwrap_or_default())
    }

    pub fn file_name(&self) -> Option<&OsStr> {
        self.0.file_name()
    }

    pub fn join(&self, name: &OsStr) -> RelPath {
        RelPath(self.0.join(name))
    }

    /// As the client sees it: backslash-separated, no leading separator.
    pub fn to_smb(&self) -> String {
        self.0
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("\\")
    }
}

fn bad_char(c: char) -> bool {
    matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '/' | '\\') || (c as u32) < 0x20
}

/// Checks a single name (for example a directory entry or a rename
/// target's last component).
pub fn check_component(c: &str) -> Result<(), NtStatus> {
    if c.is_empty() || c == "." || c == ".." {
        return Err(NtStatus::OBJECT_NAME_INVALID);
    }
    if c.chars().any(bad_char) {
        return Err(NtStatus::OBJECT_NAME_INVALID);
    }
    if c.len() > 255 {
        return Err(NtStatus::OBJECT_NAME_INVALID);
    }
    Ok(())
}

/// Parses a client name. Streams (`name:stream:type`) are not served and
/// the share does not say it has them (FILE_NAMED_STREAMS): a name with
/// ':' is invalid, as Samba answers on such a share.
pub fn parse(name: &str) -> Result<RelPath, NtStatus> {
    // '/' separates components too (as Samba takes it; it is no character
    // a Windows name may hold).
    let is_sep = |c: char| c == '\\' || c == '/';
    let mut path = PathBuf::new();
    let trimmed = name.strip_suffix(is_sep).unwrap_or(name);
    if trimmed.is_empty() {
        return Ok(RelPath::root());
    }
    if trimmed.starts_with(is_sep) {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let parts: Vec<&str> = trimmed.split(is_sep).collect();
    for part in parts {
        match part {
            "." => continue,
            ".." => return Err(NtStatus::OBJECT_PATH_SYNTAX_BAD),
            _ => {}
        }
        check_component(part)?;
        path.push(part);
    }
    Ok(RelPath(path))
}

/// How lookups treat symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// `wide links = no`: stay beneath the share root.
    Beneath,
    /// `wide links = yes`.
    Wide,
}

/// openat2(2) relative to `dir`.
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: i32,
    mode: u32,
    links: Links,
) -> std::io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
        mode as u64
    } else {
        0
    };
    how.resolve = match links {
        Links::Beneath => libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
        Links::Wide => libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `c` and `how` outlive the call; the kernel returns a new fd.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Finds the on-disk spelling of `rel` (case-insensitively where the exact
/// name is missing). Returns the resolved path and whether its last
/// component exists. A missing intermediate directory is
/// OBJECT_PATH_NOT_FOUND.
pub fn resolve(
    root: BorrowedFd<'_>,
    rel: &RelPath,
    links: Links,
) -> Result<(RelPath, bool), NtStatus> {
    if rel.is_root() {
        return Ok((rel.clone(), true));
    }
    if exists(root, rel.as_path(), links)? {
        return Ok((rel.clone(), true));
    }
    let comps: Vec<&OsStr> = rel.as_path().iter().collect();
    let mut cur = RelPath::root();
    for (i, c) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let exact = cur.join(c);
        if exists(root, exact.as_path(), links)? {
            cur = exact;
            continue;
        }
        match find_case_insensitive(root, &cur, c, links)? {
            Some(found) => cur = cur.join(&found),
            None if last => return Ok((cur.join(c), false)),
            None => return Err(NtStatus::OBJECT_PATH_NOT_FOUND),
        }
    }
    Ok((cur, true))
}

fn exists(root: BorrowedFd<'_>, p: &Path, links: Links) -> Result<bool, NtStatus> {
    match openat2(root, p, libc::O_PATH | libc::O_NOFOLLOW, 0, links) {
        Ok(_) => Ok(true),
        Err(e) => match e.raw_os_error() {
            Some(libc::ENOENT) => Ok(false),
            Some(libc::ENOTDIR) => Err(NtStatus::OBJECT_PATH_NOT_FOUND),
            Some(libc::EXDEV) | Some(libc::ELOOP) => Err(NtStatus::ACCESS_DENIED),
            _ => Err(crate::wire::status::from_io(&e)),
        },
    }
}

fn fold(s: &OsStr) -> String {
    s.to_string_lossy().to_lowercase()
}

fn find_case_insensitive(
    root: BorrowedFd<'_>,
    dir: &RelPath,
    name: &OsStr,
    links: Links,
) -> Result<Option<std::ffi::OsString>, NtStatus> {
    let fd = match openat2(
        root,
        dir.for_open(),
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
        links,
    ) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(crate::wire::status::from_io(&e)),
    };
    let want = fold(name);
    let mut d = nix::dir::Dir::from_fd(fd).map_err(crate::wire::status::from_errno)?;
    for entry in d.iter() {
        let Ok(entry) = entry else { continue };
        let n = OsStr::from_bytes(entry.file_name().to_bytes());
        if n != "." && n != ".." && fold(n) == want {
            return Ok(Some(n.to_os_string()));
        }
    }
    Ok(None)
}

/// A path under /proc/self/fd that names the open file `fd` (for calls that
/// have no descriptor form, like setting times on an O_PATH descriptor).
pub fn proc_path<F: AsFd>(fd: &F) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(parse("").unwrap(), RelPath::root());
        assert_eq!(parse("a\\b.txt").unwrap().as_path(), Path::new("a/b.txt"));
        assert_eq!(parse("a\\.\\b").unwrap().as_path(), Path::new("a/b"));
        assert_eq!(parse("dir\\").unwrap().as_path(), Path::new("dir"));
        assert_eq!(parse("f::$DATA"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(
            parse("a\\..\\..\\etc"),
            Err(NtStatus::OBJECT_PATH_SYNTAX_BAD)
        );
        assert_eq!(parse("\\abs"), Err(NtStatus::INVALID_PARAMETER));
        assert_eq!(parse("a/b").unwrap().as_path(), Path::new("a/b"));
        assert_eq!(parse("/abs"), Err(NtStatus::INVALID_PARAMETER));
        assert_eq!(parse("a/../../b"), Err(NtStatus::OBJECT_PATH_SYNTAX_BAD));
        assert_eq!(parse("a\\\\b"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(parse("*.txt"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(parse("a\u{1}b"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(parse("f:stream:$DATA"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(parse("d:x\\f"), Err(NtStatus::OBJECT_NAME_INVALID));
        assert_eq!(parse("a\\b").unwrap().to_smb(), "a\\b");
    }

    #[test]
    fn nothing_escapes_the_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        let share = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), share.path().join("out")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", share.path().join("abs")).unwrap();
        std::fs::create_dir(share.path().join("in")).unwrap();
        std::fs::write(share.path().join("in/f"), "y").unwrap();
        std::os::unix::fs::symlink("in/f", share.path().join("rel")).unwrap();
        let root = std::fs::File::open(share.path()).unwrap();
        let open = |p: &str, l| openat2(root.as_fd(), Path::new(p), libc::O_RDONLY, 0, l);
        assert!(open("out/secret", Links::Beneath).is_err());
        assert!(open("abs", Links::Beneath).is_err());
        assert!(
            open("rel", Links::Beneath).is_ok(),
            "a link inside the share works"
        );
        assert!(open("out/secret", Links::Wide).is_ok());
        assert_eq!(
            resolve(root.as_fd(), &parse("out\\secret").unwrap(), Links::Beneath),
            Err(NtStatus::ACCESS_DENIED)
        );
    }

    #[test]
    fn case_insensitive_resolution() {
        let share = tempfile::tempdir().unwrap();
        std::fs::create_dir(share.path().join("Docs")).unwrap();
        std::fs::write(share.path().join("Docs/Report.TXT"), "").unwrap();
        let root = std::fs::File::open(share.path()).unwrap();
        let r = |p: &str| resolve(root.as_fd(), &parse(p).unwrap(), Links::Beneath);
        assert_eq!(
            r("docs\\report.txt").unwrap(),
            (RelPath(PathBuf::from("Docs/Report.TXT")), true)
        );
        assert_eq!(
            r("DOCS\\new.txt").unwrap(),
            (RelPath(PathBuf::from("Docs/new.txt")), false)
        );
        assert_eq!(r("nodir\\x"), Err(NtStatus::OBJECT_PATH_NOT_FOUND));
    }
}
