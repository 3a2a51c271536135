//! The values a CNID database stores.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A catalog node id: a file's or directory's persistent id on a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cnid(pub u32);

impl Cnid {
    /// Never a valid id.
    pub const INVALID: Cnid = Cnid(0);
    /// The parent of the volume root.
    pub const PARENT_OF_ROOT: Cnid = Cnid(1);
    /// The volume root directory (implicit, never stored).
    pub const ROOT: Cnid = Cnid(2);
    /// The first id ever handed out; 3..=16 are reserved as in netatalk.
    pub const FIRST: Cnid = Cnid(17);

    /// Whether this can be the id of a stored record.
    pub fn is_assignable(self) -> bool {
        self >= Cnid::FIRST
    }

    /// Whether this can be the parent directory of a stored record.
    pub fn is_valid_parent(self) -> bool {
        self == Cnid::ROOT || self.is_assignable()
    }
}

impl fmt::Display for Cnid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// netatalk's type field: 0 file, 1 directory. Symlinks and other
/// non-directories are files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FileKind {
    File,
    Dir,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Dir => "dir",
        }
    }
}

/// Longest name stored (NAME_MAX on Linux).
pub const MAX_NAME: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty name")]
    Empty,
    #[error("name is {0} bytes long; the limit is {MAX_NAME}")]
    TooLong(usize),
    #[error("name {0:?} contains '/' or NUL")]
    BadChar(String),
    #[error("name {0:?} is not a directory entry name")]
    Dot(String),
}

/// One path component as the filesystem has it: bytes, since Linux names
/// need not be UTF-8. Values decoded from the wire are unchecked until
/// [`Name::check`] (the server checks every request in one place).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Name(#[serde(with = "serde_bytes")] Vec<u8>);

impl Name {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Name, NameError> {
        let n = Name(bytes.into());
        n.check()?;
        Ok(n)
    }

    pub fn check(&self) -> Result<(), NameError> {
        let b = &self.0;
        if b.is_empty() {
            return Err(NameError::Empty);
        }
        if b.len() > MAX_NAME {
            return Err(NameError::TooLong(b.len()));
        }
        if b.contains(&b'/') || b.contains(&0) {
            return Err(NameError::BadChar(self.to_string()));
        }
        if b == b"." || b == b".." {
            return Err(NameError::Dot(self.to_string()));
        }
        Ok(())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key of the case-insensitive name index: Unicode lowercase when
    /// the name is UTF-8, ASCII lowercase of the bytes otherwise.
    pub fn folded(&self) -> Vec<u8> {
        match std::str::from_utf8(&self.0) {
            Ok(s) => s.to_lowercase().into_bytes(),
            Err(_) => self.0.to_ascii_lowercase(),
        }
    }

    pub fn as_os_str(&self) -> &std::ffi::OsStr {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(&self.0)
    }
}

/// Escapes backslash, control characters and invalid UTF-8 as `\xNN`, so a
/// name always prints on one line and can be told apart from any other.
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c == '\\' {
                    f.write_str("\\\\")?;
                } else if c.is_control() {
                    for b in c.to_string().bytes() {
                        write!(f, "\\x{b:02x}")?;
                    }
                } else {
                    write!(f, "{c}")?;
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// What the database knows of a file: where it is on disk (dev/ino), its
/// kind, its parent directory's id and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub dev: u64,
    pub ino: u64,
    pub kind: FileKind,
    pub did: Cnid,
    pub name: Name,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: Cnid,
    pub entry: Entry,
}

impl fmt::Display for Record {
    /// `id did type dev ino name`, the `cnid dump` line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.entry;
        write!(
            f,
            "{} {} {} {} {} {}",
            self.id,
            e.did,
            e.kind.as_str(),
            e.dev,
            e.ino,
            e.name
        )
    }
}

/// Identifies one incarnation of a database: a client that sees it change
/// knows every id it holds is void.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamp(pub [u8; 8]);

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        assert!(Name::new("a b.txt").is_ok());
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert_eq!(Name::new(vec![b'x'; 256]), Err(NameError::TooLong(256)));
        assert!(Name::new(vec![b'x'; 255]).is_ok());
        assert!(matches!(Name::new("a/b"), Err(NameError::BadChar(_))));
        assert!(matches!(Name::new("a\0b"), Err(NameError::BadChar(_))));
        assert!(matches!(Name::new(".."), Err(NameError::Dot(_))));
        assert!(Name::new("...").is_ok());
    }

    #[test]
    fn name_display_is_one_unambiguous_line() {
        let n = Name::new(b"caf\xc3\xa9 \\ new\nline \xff".to_vec()).unwrap();
        assert_eq!(n.to_string(), "café \\\\ new\\x0aline \\xff");
    }

    #[test]
    fn folding() {
        assert_eq!(Name::new("ÉTÉ.TXT").unwrap().folded(), "été.txt".as_bytes());
        assert_eq!(Name::new(b"AB\xff".to_vec()).unwrap().folded(), b"ab\xff");
    }

    #[test]
    fn reserved_ids() {
        assert!(!Cnid(0).is_valid_parent());
        assert!(!Cnid(1).is_valid_parent());
        assert!(Cnid(2).is_valid_parent());
        assert!(!Cnid(2).is_assignable());
        assert!(!Cnid(16).is_valid_parent());
        assert!(Cnid(17).is_assignable());
    }
}
