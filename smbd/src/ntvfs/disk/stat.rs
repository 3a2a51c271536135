//! POSIX metadata as SMB sees it: times, sizes, DOS attributes.
//!
//! DOS attributes that POSIX has no place for (HIDDEN, SYSTEM, ARCHIVE,
//! READONLY as the client set it) are kept in the `user.DOSATTRIB`
//! extended attribute as a "0x..." hex string (the format Samba 3 wrote and
//! Samba 4 still reads). Without it: DIRECTORY or ARCHIVE, HIDDEN for names
//! starting with a dot, READONLY when the owner cannot write.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use crate::ntvfs::types::{NetworkOpenInfo, attr};
use crate::wire::NtStatus;
use crate::wire::time;

pub const DOSATTRIB: &str = "user.DOSATTRIB";

/// What statx tells about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub blocks: u64,
    pub atime: (i64, i64),
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
    pub btime: Option<(i64, i64)>,
}

impl Stat {
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    pub fn key(&self) -> (u64, u64) {
        (self.dev, self.ino)
    }

    /// The creation time SMB reports: birth time where the file system
    /// keeps one, else the oldest of change and modification time.
    pub fn creation(&self) -> u64 {
        let t = self.btime.unwrap_or(if self.mtime < self.ctime {
            self.mtime
        } else {
            self.ctime
        });
        time::from_unix(t.0, t.1)
    }

    pub fn allocation(&self) -> u64 {
        if self.is_dir() { 0 } else { self.blocks * 512 }
    }

    pub fn end_of_file(&self) -> u64 {
        if self.is_dir() { 0 } else { self.size }
    }
}

/// statx(2) of `path` relative to `dir` ("" with `fd` for the file itself),
/// never following a final symlink.
pub fn statx_at(dir: BorrowedFd<'_>, path: &std::path::Path) -> std::io::Result<Stat> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    let flags = libc::AT_SYMLINK_NOFOLLOW
        | libc::AT_STATX_SYNC_AS_STAT
        | if path.as_os_str().is_empty() {
            libc::AT_EMPTY_PATH
        } else {
            0
        };
    // SAFETY: valid C string and output struct for the call.
    let r = unsafe {
        libc::statx(
            dir.as_raw_fd(),
            c.as_ptr(),
            flags,
            libc::STATX_BASIC_STATS | libc::STATX_BTIME,
            &mut st,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let ts = |t: libc::statx_timestamp| (t.tv_sec, i64::from(t.tv_nsec));
    Ok(Stat {
        dev: libc::makedev(st.stx_dev_major, st.stx_dev_minor),
        ino: st.stx_ino,
        mode: u32::from(st.stx_mode),
        nlink: st.stx_nlink,
        uid: st.stx_uid,
        gid: st.stx_gid,
        size: st.stx_size,
        blocks: st.stx_blocks,
        atime: ts(st.stx_atime),
        mtime: ts(st.stx_mtime),
        ctime: ts(st.stx_ctime),
        btime: (st.stx_mask & libc::STATX_BTIME != 0).then(|| ts(st.stx_btime)),
    })
}

pub fn fstat<F: AsFd>(fd: &F) -> Result<Stat, NtStatus> {
    statx_at(fd.as_fd(), std::path::Path::new("")).map_err(|e| crate::wire::status::from_io(&e))
}

/// What `user.DOSATTRIB` keeps of a file: its DOS attributes and the
/// creation time a client set (Linux has no settable birth time). The
/// value is `0xATTRS` (Samba's oldest form, which Samba still reads),
/// followed by ` CREATED` (NT time, decimal) when one was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DosInfo {
    pub attributes: Option<u32>,
    pub created: Option<u64>,
}

/// The DOS information stored for the file open as `fd` (any descriptor,
/// O_PATH included).
pub fn dos_info<F: AsFd>(fd: &F) -> DosInfo {
    let p = super::path::proc_path(fd);
    let Some(v) = xattr_get(&p, DOSATTRIB) else {
        return DosInfo::default();
    };
    let Ok(s) = std::str::from_utf8(&v) else {
        return DosInfo::default();
    };
    let mut parts = s.trim_end_matches('\0').split(' ');
    let attributes = parts
        .next()
        .and_then(|a| a.strip_prefix("0x"))
        .and_then(|a| u32::from_str_radix(a, 16).ok());
    let created = parts.next().and_then(|c| c.parse().ok());
    DosInfo {
        attributes,
        created,
    }
}

/// The stored DOS attributes of the file open as `fd`, if any were stored.
pub fn stored_attributes<F: AsFd>(fd: &F) -> Option<u32> {
    dos_info(fd).attributes
}

fn store_dos<F: AsFd>(fd: &F, attributes: u32, created: Option<u64>) -> std::io::Result<()> {
    let p = super::path::proc_path(fd);
    let v = match created {
        Some(c) => format!("0x{attributes:x} {c}"),
        None => format!("0x{attributes:x}"),
    };
    xattr_set(&p, DOSATTRIB, v.as_bytes())
}

/// Stores the DOS attributes, keeping a stored creation time.
pub fn store_attributes<F: AsFd>(fd: &F, attributes: u32) -> std::io::Result<()> {
    store_dos(fd, attributes, dos_info(fd).created)
}

/// Stores a creation time; `attributes` are stored with it when none
/// were (the file's current ones).
pub fn store_created<F: AsFd>(fd: &F, created: u64, attributes: u32) -> std::io::Result<()> {
    let d = dos_info(fd);
    store_dos(fd, d.attributes.unwrap_or(attributes), Some(created))
}

pub fn xattr_get(path: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    let p = CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    let n = CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: buffers valid for the lengths given.
        let r =
            unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if r >= 0 {
            buf.truncate(r as usize);
            return Some(buf);
        }
        if std::io::Error::last_os_error().raw_os_error() == Some(libc::ERANGE) && buf.len() < 65536
        {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        return None;
    }
}

/// Names of the extended attributes of `path`.
pub fn xattr_list(path: &std::path::Path) -> Vec<String> {
    let Ok(p) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return Vec::new();
    };
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: buffer valid for its length.
        let r = unsafe { libc::listxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if r >= 0 {
            buf.truncate(r as usize);
            return buf
                .split(|&b| b == 0)
                .filter(|n| !n.is_empty())
                .filter_map(|n| String::from_utf8(n.to_vec()).ok())
                .collect();
        }
        if std::io::Error::last_os_error().raw_os_error() == Some(libc::ERANGE)
            && buf.len() < 1 << 20
        {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        return Vec::new();
    }
}

pub fn xattr_remove(path: &std::path::Path, name: &str) -> std::io::Result<()> {
    let p = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let n = CString::new(name).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: valid C strings.
    let r = unsafe { libc::removexattr(p.as_ptr(), n.as_ptr()) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

pub fn xattr_set(path: &std::path::Path, name: &str, value: &[u8]) -> std::io::Result<()> {
    let p = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let n = CString::new(name).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: buffers valid for the lengths given.
    let r = unsafe {
        libc::setxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// DOS attributes of a file: stored ones (with DIRECTORY kept true to the
/// file's type) or derived ones.
pub fn attributes(st: &Stat, stored: Option<u32>, name: &str) -> u32 {
    let kind = if st.is_dir() { attr::DIRECTORY } else { 0 };
    let mut a = match stored {
        Some(s) => (s & !attr::DIRECTORY) | kind,
        None => {
            let mut a = if st.is_dir() {
                attr::DIRECTORY
            } else {
                attr::ARCHIVE
            };
            if name.starts_with('.') && name != "." && name != ".." {
                a |= attr::HIDDEN;
            }
            if !st.is_dir() && st.mode & 0o200 == 0 {
                a |= attr::READONLY;
            }
            a
        }
    };
    if a == 0 {
        a = attr::NORMAL;
    }
    a
}

/// The times and sizes SMB reports. The change time is the modification
/// time, as Samba reports it: Linux's ctime moves on every metadata change
/// and cannot be set.
pub fn network_open_info(st: &Stat, attributes: u32, created: Option<u64>) -> NetworkOpenInfo {
    NetworkOpenInfo {
        creation_time: created.unwrap_or_else(|| st.creation()),
        last_access_time: time::from_unix(st.atime.0, st.atime.1),
        last_write_time: time::from_unix(st.mtime.0, st.mtime.1),
        change_time: time::from_unix(st.mtime.0, st.mtime.1),
        allocation_size: st.allocation(),
        end_of_file: st.end_of_file(),
        attributes,
    }
}

/// Windows name matching (MS-FSA 2.1.4.4): `*`, `?`, and the DOS forms
/// `<` (DOS_STAR), `>` (DOS_QM), `"` (DOS_DOT); case-insensitive. Dynamic
/// programming over (pattern, name) positions: linear memory, no
/// exponential backtracking.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    if p.len() == 1 && p[0] == '*' || pattern == "*.*" {
        return true;
    }
    let last_dot = n.iter().rposition(|&c| c == '.');
    // reach[j]: the pattern prefix seen so far can match n[..j].
    let mut reach = vec![false; n.len() + 1];
    reach[0] = true;
    for &pc in &p {
        let mut next = vec![false; n.len() + 1];
        for j in 0..=n.len() {
            if !reach[j] {
                continue;
            }
            match pc {
                '*' => {
                    for slot in next.iter_mut().skip(j) {
                        *slot = true;
                    }
                }
                '<' => {
                    // Up to (not past) the last dot of the name.
                    let stop = match last_dot {
                        Some(d) if d >= j => d,
                        _ => n.len(),
                    };
                    for slot in next.iter_mut().take(stop + 1).skip(j) {
                        *slot = true;
                    }
                }
                '>' => {
                    // One character, or nothing at a dot or the end.
                    next[j] = next[j] || j == n.len() || n[j] == '.';
                    if j < n.len() && n[j] != '.' {
                        next[j + 1] = true;
                    }
                }
                '"' => {
                    if j == n.len() {
                        next[j] = true;
                    } else if n[j] == '.' {
                        next[j + 1] = true;
                    }
                }
                '?' => {
                    if j < n.len() {
                        next[j + 1] = true;
                    }
                }
                c => {
                    if j < n.len() && n[j] == c {
                        next[j + 1] = true;
                    }
                }
            }
        }
        reach = next;
    }
    reach[n.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let m = wildcard_match;
        assert!(m("*", "anything"));
        assert!(m("*.txt", "Report.TXT"));
        assert!(!m("*.txt", "report.txt.bak"));
        assert!(m("r?port*", "report.doc"));
        assert!(!m("?", ""));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("<.txt", "a.b.txt"));
        assert!(m("file>>>", "file"));
        assert!(m("file\"txt", "file.txt"));
        assert!(m("file\"", "file"));
        assert!(m("exact", "EXACT"));
        // No blow-up on hostile patterns.
        let p = "*a".repeat(200);
        assert!(!m(&p, &"a".repeat(150)));
    }

    #[test]
    fn attributes_and_stat() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join(".hidden");
        std::fs::write(&f, "abc").unwrap();
        let file = std::fs::File::open(&f).unwrap();
        let st = fstat(&file).unwrap();
        assert_eq!(st.size, 3);
        assert_eq!(
            attributes(&st, None, ".hidden"),
            attr::ARCHIVE | attr::HIDDEN
        );
        if store_attributes(&file, attr::SYSTEM | attr::ARCHIVE).is_ok() {
            assert_eq!(stored_attributes(&file), Some(attr::SYSTEM | attr::ARCHIVE));
            assert_eq!(
                attributes(&st, stored_attributes(&file), ".hidden"),
                attr::SYSTEM | attr::ARCHIVE
            );
        }
        let dir = std::fs::File::open(d.path()).unwrap();
        let dst = fstat(&dir).unwrap();
        assert!(dst.is_dir());
        assert_eq!(attributes(&dst, None, "x"), attr::DIRECTORY);
        assert_eq!(dst.end_of_file(), 0);
    }
}
