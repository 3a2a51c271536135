//! Our password database, in Samba's classic `smbpasswd` text format so
//! admins recognise it:
//!
//! ```text
//! root:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:878D8014606CDA29677A44EFA1353FC7:[U          ]:LCT-6B0147AA:
//! name:uid:LM hash                       :NT hash = MD4(UTF-16LE(password)):flags      :last change (hex time_t):
//! ```
//!
//! We never store LM hashes: the LM field is always 32 `X`s (an LM hash
//! found in a file written by Samba is dropped on the next save). Flags are
//! Samba's account-control letters; we act on `U` (user) and `D` (disabled)
//! and keep the others as found.
//!
//! The file holds password equivalents, so `load` refuses a file that is a
//! symlink, not a regular file, not owned by root (or by the effective uid
//! when we are not root), or accessible to group or others. `save` writes a
//! temporary file with mode 0600 beside it, fsyncs it, renames it over the
//! old one and fsyncs the directory. Concurrent writers are not serialised:
//! the last save wins (readers always see a complete file).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

pub use super::ntlm::nt_hash;

/// Larger than any real smbpasswd file (about 100 bytes per user).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Longest user name we store (Samba's fstring limit).
pub const MAX_NAME_CHARS: usize = 255;

const NO_LM_HASH: &str = "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";
/// Width of the flag letters between the brackets.
const FLAGS_WIDTH: usize = 11;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PassDbError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}:{line}: {reason}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{}: refusing to use the password file: {reason}", path.display())]
    Insecure { path: PathBuf, reason: String },
    #[error("no such user {0:?} in the password database")]
    NoSuchUser(String),
    #[error("invalid user name {0:?}: {1}")]
    BadName(String, &'static str),
}

/// Samba's account-control flags, one letter each in the `[...]` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AcctFlags(u16);

impl AcctFlags {
    pub const PWNOTREQ: AcctFlags = AcctFlags(1 << 0); // N
    pub const DISABLED: AcctFlags = AcctFlags(1 << 1); // D
    pub const HOMDIRREQ: AcctFlags = AcctFlags(1 << 2); // H
    pub const TEMPDUP: AcctFlags = AcctFlags(1 << 3); // T
    pub const NORMAL: AcctFlags = AcctFlags(1 << 4); // U
    pub const MNS: AcctFlags = AcctFlags(1 << 5); // M
    pub const WSTRUST: AcctFlags = AcctFlags(1 << 6); // W
    pub const SVRTRUST: AcctFlags = AcctFlags(1 << 7); // S
    pub const AUTOLOCK: AcctFlags = AcctFlags(1 << 8); // L
    pub const PWNOEXP: AcctFlags = AcctFlags(1 << 9); // X
    pub const DOMTRUST: AcctFlags = AcctFlags(1 << 10); // I

    /// Letters in the order Samba writes them.
    const LETTERS: [(char, AcctFlags); 11] = [
        ('N', Self::PWNOTREQ),
        ('D', Self::DISABLED),
        ('H', Self::HOMDIRREQ),
        ('T', Self::TEMPDUP),
        ('U', Self::NORMAL),
        ('M', Self::MNS),
        ('W', Self::WSTRUST),
        ('S', Self::SVRTRUST),
        ('L', Self::AUTOLOCK),
        ('X', Self::PWNOEXP),
        ('I', Self::DOMTRUST),
    ];

    pub fn contains(self, other: AcctFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn set(&mut self, other: AcctFlags, on: bool) {
        if on {
            self.0 |= other.0;
        } else {
            self.0 &= !other.0;
        }
    }

    fn parse(field: &str) -> Result<Self, String> {
        let inner = field
            .strip_prefix('[')
            .and_then(|f| f.strip_suffix(']'))
            .ok_or_else(|| format!("account flags {field:?} are not in [brackets]"))?;
        let mut flags = AcctFlags::default();
        for c in inner.chars() {
            if c == ' ' {
                continue;
            }
            let (_, f) = Self::LETTERS
                .iter()
                .find(|(l, _)| *l == c)
                .ok_or_else(|| format!("unknown account flag {c:?}"))?;
            flags.0 |= f.0;
        }
        Ok(flags)
    }

    fn encode(self) -> String {
        let letters: String = Self::LETTERS
            .iter()
            .filter(|(_, f)| self.contains(*f))
            .map(|(l, _)| *l)
            .collect();
        format!("[{letters:<FLAGS_WIDTH$}]")
    }
}

/// One account.
#[derive(Clone, PartialEq, Eq)]
pub struct PassEntry {
    pub name: String,
    pub uid: u32,
    /// None: no password set (the file says `XXXX...` or `NO PASSWORD...`);
    /// such an account cannot log on with NTLM.
    pub nt_hash: Option<[u8; 16]>,
    pub flags: AcctFlags,
    /// Last password change, seconds since the Unix epoch.
    pub last_change: u64,
}

impl std::fmt::Debug for PassEntry {
    // The hash is a password equivalent: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassEntry")
            .field("name", &self.name)
            .field("uid", &self.uid)
            .field("has_password", &self.nt_hash.is_some())
            .field("flags", &self.flags)
            .field("last_change", &self.last_change)
            .finish()
    }
}

impl PassEntry {
    pub fn disabled(&self) -> bool {
        self.flags.contains(AcctFlags::DISABLED)
    }

    fn parse(line: &str) -> Result<Self, String> {
        let mut fields = line.split(':');
        let mut next = |what: &str| fields.next().ok_or_else(|| format!("missing {what} field"));
        let name = next("user name")?;
        check_name(name).map_err(|e| e.to_string())?;
        let uid = next("uid")?;
        let uid: u32 = uid.parse().map_err(|_| format!("bad uid {uid:?}"))?;
        let lm = next("LM hash")?;
        if lm.len() != 32 {
            return Err("LM hash field is not 32 characters".into());
        }
        let nt_hash = parse_nt_hash(next("NT hash")?)?;
        let flags = AcctFlags::parse(next("account flags")?)?;
        let lct = next("last change time")?;
        let last_change = lct
            .strip_prefix("LCT-")
            .filter(|h| (1..=16).contains(&h.len()))
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .ok_or_else(|| format!("bad last change time {lct:?} (want LCT-XXXXXXXX)"))?;
        // The line ends with ':', leaving one empty field.
        match (fields.next(), fields.next()) {
            (None, _) | (Some(""), None) => {}
            _ => return Err("unexpected fields after the last change time".into()),
        }
        Ok(PassEntry {
            name: name.to_string(),
            uid,
            nt_hash,
            flags,
            last_change,
        })
    }

    fn encode(&self) -> String {
        let nt = match &self.nt_hash {
            Some(h) => h.iter().map(|b| format!("{b:02X}")).collect(),
            None => NO_LM_HASH.to_string(),
        };
        format!(
            "{}:{}:{}:{}:{}:LCT-{:08X}:\n",
            self.name,
            self.uid,
            NO_LM_HASH,
            nt,
            self.flags.encode(),
            self.last_change
        )
    }
}

fn parse_nt_hash(field: &str) -> Result<Option<[u8; 16]>, String> {
    if field.len() != 32 {
        return Err("NT hash field is not 32 characters".into());
    }
    if field.bytes().all(|b| b == b'X') || field.starts_with("NO PASSWORD") {
        return Ok(None);
    }
    let mut hash = [0u8; 16];
    for (i, byte) in hash.iter_mut().enumerate() {
        let digits = field.get(2 * i..2 * i + 2).ok_or("NT hash is not hex")?;
        *byte = u8::from_str_radix(digits, 16).map_err(|_| "NT hash is not hex")?;
    }
    Ok(Some(hash))
}

fn check_name(name: &str) -> Result<(), PassDbError> {
    let bad = |why| Err(PassDbError::BadName(name.to_string(), why));
    if name.is_empty() {
        return bad("empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return bad("longer than 255 characters");
    }
    if name.chars().any(|c| c == ':' || c.is_control()) {
        return bad("contains ':' or a control character");
    }
    Ok(())
}

fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The password database: the accounts of one smbpasswd file.
#[derive(Debug, Clone)]
pub struct PassDb {
    path: PathBuf,
    entries: Vec<PassEntry>,
}

impl PassDb {
    /// A database without accounts, to be saved at `path`.
    pub fn empty(path: impl AsRef<Path>) -> PassDb {
        PassDb {
            path: path.as_ref().to_path_buf(),
            entries: Vec::new(),
        }
    }

    /// Read `path`; a missing file is an empty database. Every line that is
    /// not empty or a `#` comment must parse.
    pub fn load(path: impl AsRef<Path>) -> Result<PassDb, PassDbError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |source| PassDbError::Io {
            path: path.clone(),
            source,
        };
        let insecure = |reason: String| PassDbError::Insecure {
            path: path.clone(),
            reason,
        };
        let mut file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(PassDb {
                    path,
                    entries: Vec::new(),
                });
            }
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(insecure("it is a symbolic link".into()));
            }
            Err(e) => return Err(io_err(e)),
        };
        let meta = file.metadata().map_err(io_err)?;
        if !meta.file_type().is_file() {
            return Err(insecure("it is not a regular file".into()));
        }
        let euid = nix::unistd::geteuid().as_raw();
        if meta.uid() != 0 && meta.uid() != euid {
            return Err(insecure(format!(
                "it is owned by uid {}, not by root or uid {euid}",
                meta.uid()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(insecure(format!(
                "its mode is {:04o}; group and others must have no access (chmod 600)",
                meta.mode() & 0o7777
            )));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(insecure(format!(
                "it is larger than {MAX_FILE_BYTES} bytes"
            )));
        }
        let mut text = String::new();
        (&mut file)
            .take(MAX_FILE_BYTES)
            .read_to_string(&mut text)
            .map_err(io_err)?;

        let mut db = PassDb {
            path: path.clone(),
            entries: Vec::new(),
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let parse_err = |reason| PassDbError::Parse {
                path: path.clone(),
                line: i + 1,
                reason,
            };
            let entry = PassEntry::parse(line).map_err(parse_err)?;
            if db.lookup(&entry.name).is_some() {
                return Err(parse_err(format!("user {:?} appears twice", entry.name)));
            }
            db.entries.push(entry);
        }
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The account named `user`, compared case-insensitively (as Windows
    /// does).
    pub fn lookup(&self, user: &str) -> Option<&PassEntry> {
        self.entries.iter().find(|e| same_name(&e.name, user))
    }

    pub fn iter(&self) -> impl Iterator<Item = &PassEntry> {
        self.entries.iter()
    }

    /// Add `user` or change its password (and uid); the account becomes a
    /// normal user account with the last change time now.
    pub fn set_password(
        &mut self,
        user: &str,
        uid: u32,
        password: &str,
    ) -> Result<(), PassDbError> {
        check_name(user)?;
        let hash = nt_hash(password);
        let now = now_secs();
        match self.entries.iter_mut().find(|e| same_name(&e.name, user)) {
            Some(e) => {
                e.uid = uid;
                e.nt_hash = Some(hash);
                e.flags.set(AcctFlags::NORMAL, true);
                e.last_change = now;
            }
            None => self.entries.push(PassEntry {
                name: user.to_string(),
                uid,
                nt_hash: Some(hash),
                flags: AcctFlags::NORMAL,
                last_change: now,
            }),
        }
        Ok(())
    }

    /// Remove `user`; false when there was no such account.
    pub fn remove(&mut self, user: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| !same_name(&e.name, user));
        self.entries.len() != before
    }

    pub fn set_disabled(&mut self, user: &str, disabled: bool) -> Result<(), PassDbError> {
        let e = self
            .entries
            .iter_mut()
            .find(|e| same_name(&e.name, user))
            .ok_or_else(|| PassDbError::NoSuchUser(user.to_string()))?;
        e.flags.set(AcctFlags::DISABLED, disabled);
        Ok(())
    }

    /// The file's contents.
    pub fn to_text(&self) -> String {
        self.entries.iter().map(PassEntry::encode).collect()
    }

    /// Write the database back atomically: temp file (0600) + fsync +
    /// rename + fsync of the directory. Refuses to replace a symlink.
    pub fn save(&self) -> Result<(), PassDbError> {
        let path = &self.path;
        let io_err = |source| PassDbError::Io {
            path: path.clone(),
            source,
        };
        match fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(PassDbError::Insecure {
                    path: path.clone(),
                    reason: "it is a symbolic link".into(),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = path
            .file_name()
            .map_or_else(|| "smbpasswd".into(), |n| n.to_string_lossy().into_owned());
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| io_err(io::Error::other(e.to_string())))?;
        let tmp = dir.join(format!(
            ".{file_name}.tmp.{}",
            nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ));
        let tmp_err = |source| PassDbError::Io {
            path: tmp.clone(),
            source,
        };
        let write = || -> Result<(), PassDbError> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)
                .map_err(tmp_err)?;
            f.write_all(self.to_text().as_bytes()).map_err(tmp_err)?;
            f.sync_all().map_err(tmp_err)?;
            fs::rename(&tmp, path).map_err(io_err)?;
            File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|source| PassDbError::Io {
                    path: dir.clone(),
                    source,
                })
        };
        let result = write();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Written by Samba 4.17's `smbpasswd -a root` (password "secret"),
    /// `-a nobody` (password "Password") and `-d nobody`.
    const SAMBA_FILE: &str = "\
root:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:878D8014606CDA29677A44EFA1353FC7:[U          ]:LCT-6B0147AA:
nobody:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:A4F49C406510BDCAB6824EE7C30FD852:[DU         ]:LCT-6B0147AA:
";

    fn write_file(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let p = dir.join("smbpasswd");
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn reads_and_rewrites_samba_file_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_file(dir.path(), SAMBA_FILE, 0o600);
        let db = PassDb::load(&p).unwrap();
        let root = db.lookup("ROOT").unwrap();
        assert_eq!(root.uid, 0);
        assert_eq!(root.nt_hash, Some(nt_hash("secret")));
        assert!(!root.disabled());
        assert_eq!(root.last_change, 0x6B01_47AA);
        assert!(db.lookup("nobody").unwrap().disabled());
        assert_eq!(
            db.lookup("nobody").unwrap().nt_hash,
            Some(nt_hash("Password"))
        );
        assert!(db.lookup("nosuch").is_none());
        assert_eq!(db.to_text(), SAMBA_FILE);
    }

    #[test]
    fn missing_file_is_empty_and_save_creates_it_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("smbpasswd");
        let mut db = PassDb::load(&p).unwrap();
        assert_eq!(db.iter().count(), 0);
        db.set_password("Alice", 1000, "pw").unwrap();
        db.set_password("bob", 1001, "x").unwrap();
        db.set_disabled("BOB", true).unwrap();
        db.save().unwrap();
        let meta = fs::metadata(&p).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        let again = PassDb::load(&p).unwrap();
        assert_eq!(again.lookup("alice").unwrap().nt_hash, Some(nt_hash("pw")));
        assert!(again.lookup("bob").unwrap().disabled());
        let text = fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("Alice:1000:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:"));
        assert!(text.contains(":[DU         ]:LCT-"));
        // No temp files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        let mut db = again;
        assert!(db.remove("ALICE"));
        assert!(!db.remove("alice"));
        assert!(matches!(
            db.set_disabled("alice", true),
            Err(PassDbError::NoSuchUser(_))
        ));
        db.save().unwrap();
        assert!(PassDb::load(&p).unwrap().lookup("alice").is_none());
    }

    #[test]
    fn refuses_group_readable_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_file(dir.path(), SAMBA_FILE, 0o640);
        let err = PassDb::load(&p).unwrap_err();
        assert!(matches!(err, PassDbError::Insecure { .. }), "{err}");
        assert!(err.to_string().contains("chmod 600"), "{err}");

        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(matches!(
            PassDb::load(&link),
            Err(PassDbError::Insecure { .. })
        ));
        let db = PassDb {
            path: link.clone(),
            entries: Vec::new(),
        };
        assert!(matches!(db.save(), Err(PassDbError::Insecure { .. })));
        // The target was not touched.
        assert_eq!(fs::read_to_string(&p).unwrap(), SAMBA_FILE);
    }

    #[test]
    fn refuses_foreign_owner() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = write_file(dir.path(), SAMBA_FILE, 0o600);
        nix::unistd::chown(&p, Some(nix::unistd::Uid::from_raw(12345)), None).unwrap();
        let err = PassDb::load(&p).unwrap_err();
        assert!(err.to_string().contains("owned by uid 12345"), "{err}");
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            "root:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:878D8014606CDA29677A44EFA1353FC7:[U          ]:",
            "root:x:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:878D8014606CDA29677A44EFA1353FC7:[U          ]:LCT-1:",
            "root:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:878D8014606CDA29677A44EFA1353FCZ:[U          ]:LCT-1:",
            "root:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:878D8014606CDA29677A44EFA1353FC7:[Q          ]:LCT-1:",
            "root:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:878D8014606CDA29677A44EFA1353FC7:U:LCT-1:",
            "root:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:878D8014606CDA29677A44EFA1353FC7:[U          ]:LCT-1:extra",
            "root:0:XX:878D8014606CDA29677A44EFA1353FC7:[U          ]:LCT-1:",
            ":0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:878D8014606CDA29677A44EFA1353FC7:[U          ]:LCT-1:",
            "root",
        ];
        for bad in cases {
            let p = write_file(dir.path(), &format!("# comment\n\n{bad}\n"), 0o600);
            let err = PassDb::load(&p).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, PassDbError::Parse { line: 3, .. }),
                "{bad}: {msg}"
            );
            assert!(msg.contains("smbpasswd:3:"), "{msg}");
        }
        let dup = format!("{SAMBA_FILE}ROOT:0:{NO_LM_HASH}:{NO_LM_HASH}:[U          ]:LCT-1:\n");
        let p = write_file(dir.path(), &dup, 0o600);
        assert!(PassDb::load(&p).unwrap_err().to_string().contains("twice"));
        // No password set.
        let p = write_file(
            dir.path(),
            &format!(
                "guest:99:{NO_LM_HASH}:NO PASSWORDXXXXXXXXXXXXXXXXXXXXX:[NU         ]:LCT-1:\n"
            ),
            0o600,
        );
        assert_eq!(
            PassDb::load(&p).unwrap().lookup("guest").unwrap().nt_hash,
            None
        );
    }

    #[test]
    fn names_are_checked() {
        let mut db = PassDb {
            path: PathBuf::from("/nonexistent"),
            entries: Vec::new(),
        };
        assert!(db.set_password("a:b", 1, "x").is_err());
        assert!(db.set_password("a\nb", 1, "x").is_err());
        assert!(db.set_password("", 1, "x").is_err());
        assert!(db.set_password("ok", 1, "x").is_ok());
        // Changing the password of "OK" updates the one entry.
        db.set_password("OK", 2, "y").unwrap();
        assert_eq!(db.iter().count(), 1);
        assert_eq!(db.lookup("ok").unwrap().uid, 2);
    }
}
