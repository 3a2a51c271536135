//! The per-volume `db_param` file of cnid_dbd: netatalk's `name value`
//! lines, read strictly.
//!
//! ```text
//! # comment            ; also a comment
//! nosync          1
//! usock_file      "/run/cnid/my volume.sock"
//! allow_groups    staff, 1001
//! ```
//!
//! Every value is checked; a bad one is an error naming the file, the line
//! and what is accepted, and nothing of the file is used. An unknown name is
//! a warning naming the file and the line. Values may contain blanks, either
//! quoted (`"..."` with `\"` and `\\` escapes, or `'...'` taken literally) or
//! as the rest of the line.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "db_param";
/// A db_param file is a few lines; anything bigger is not one.
pub const MAX_FILE_SIZE: u64 = 64 * 1024;
/// sun_path holds 108 bytes including the terminating NUL.
pub const MAX_SOCKET_PATH: usize = 107;

/// A user or group named in `allow_users` / `allow_groups`, resolved to its
/// numeric id when the file is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub name: String,
    pub id: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbParam {
    /// listen(2) backlog of cnid_dbd's own socket.
    pub backlog: u32,
    /// Database cache size in KiB.
    pub cachesize: u64,
    /// false: an acknowledged change is on disk before the reply.
    /// true: changes are flushed every `flush_frequency` changes or
    /// `flush_interval` seconds.
    pub nosync: bool,
    pub flush_frequency: u32,
    /// Seconds.
    pub flush_interval: u32,
    /// cnid_dbd's own socket; relative paths are relative to the database
    /// directory. `None`: `<dbdir>/usock`.
    pub usock_file: Option<PathBuf>,
    /// Client connections kept open at most; beyond it the least recently
    /// used one is closed (its client reconnects).
    pub fd_table_size: u32,
    /// Seconds without any client before cnid_dbd exits; 0 never.
    pub idle_timeout: u32,
    /// Besides root and the owner of the database directory, who may use
    /// the database.
    pub allow_users: Vec<Principal>,
    pub allow_groups: Vec<Principal>,
}

impl Default for DbParam {
    /// netatalk's documented defaults.
    fn default() -> Self {
        DbParam {
            backlog: 20,
            cachesize: 1024,
            nosync: false,
            flush_frequency: 100,
            flush_interval: 30,
            usock_file: None,
            fd_table_size: 16,
            idle_timeout: 600,
            allow_users: Vec::new(),
            allow_groups: Vec::new(),
        }
    }
}

impl DbParam {
    pub fn usock_path(&self, dbdir: &Path) -> PathBuf {
        match &self.usock_file {
            Some(p) => dbdir.join(p),
            None => dbdir.join("usock"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbParamError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {why}", path.display())]
    File { path: PathBuf, why: String },
    #[error("{}:{line}: {why}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        why: String,
    },
    #[error("{}:{line}: invalid value {value:?} for {key}: {accepted}", file.display())]
    Value {
        file: PathBuf,
        line: usize,
        key: &'static str,
        value: String,
        accepted: String,
    },
}

/// Reads `<dbdir>/db_param` if there is one; defaults otherwise.
/// The file must be a regular file (a symlink is refused), no larger than
/// [`MAX_FILE_SIZE`], and owned by root or by the owner of `dbdir`.
pub fn load(dbdir: &Path) -> Result<(DbParam, Vec<Warning>), DbParamError> {
    load_shown(dbdir, dbdir)
}

/// [`load`] from `dbdir` (for example "." once inside the directory), with
/// messages naming the file under `shown`.
pub fn load_shown(dbdir: &Path, shown: &Path) -> Result<(DbParam, Vec<Warning>), DbParamError> {
    let io_path = dbdir.join(FILE_NAME);
    let path = shown.join(FILE_NAME);
    let io = |source| DbParamError::Io {
        path: path.clone(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&io_path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((DbParam::default(), Vec::new()));
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(DbParamError::File {
                path,
                why: "is a symbolic link; refusing to follow it".into(),
            });
        }
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    let dir_owner = std::fs::metadata(dbdir)
        .map_err(|source| DbParamError::Io {
            path: shown.to_owned(),
            source,
        })?
        .uid();
    if !meta.file_type().is_file() {
        return Err(DbParamError::File {
            path,
            why: "is not a regular file".into(),
        });
    }
    if meta.uid() != 0 && meta.uid() != dir_owner {
        return Err(DbParamError::File {
            path,
            why: format!(
                "is owned by uid {}, not by root or the owner of the database directory (uid {dir_owner})",
                meta.uid()
            ),
        });
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(DbParamError::File {
            path,
            why: format!(
                "is {} bytes; a db_param file is at most {MAX_FILE_SIZE}",
                meta.len()
            ),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    parse(&bytes, &path)
}

/// Parses the text of a db_param file; `file` is only used in messages.
pub fn parse(bytes: &[u8], file: &Path) -> Result<(DbParam, Vec<Warning>), DbParamError> {
    let mut p = DbParam::default();
    let mut warnings = Vec::new();
    let mut seen: Vec<(&'static str, usize)> = Vec::new();
    for (idx, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = idx + 1;
        let syntax = |why: String| DbParamError::Syntax {
            file: file.to_owned(),
            line,
            why,
        };
        let text = std::str::from_utf8(raw)
            .map_err(|_| syntax("line is not valid UTF-8".into()))?
            .trim();
        if text.is_empty() || text.starts_with('#') || text.starts_with(';') {
            continue;
        }
        let (name, rest) = match text.find(char::is_whitespace) {
            Some(i) => (&text[..i], text[i..].trim_start()),
            None => (text, ""),
        };
        let Some(key) = Key::from_name(name) else {
            warnings.push(Warning {
                file: file.to_owned(),
                line,
                message: format!("unknown parameter {name:?} ignored"),
            });
            continue;
        };
        if rest.is_empty() {
            return Err(syntax(format!("{} needs a value", key.name())));
        }
        let value = unquote(rest).map_err(syntax)?;
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key.name()) {
            warnings.push(Warning {
                file: file.to_owned(),
                line,
                message: format!("{} set again; this replaces line {first}", key.name()),
            });
        } else {
            seen.push((key.name(), line));
        }
        key.apply(&mut p, &value)
            .map_err(|accepted| DbParamError::Value {
                file: file.to_owned(),
                line,
                key: key.name(),
                value: value.clone(),
                accepted,
            })?;
    }
    Ok((p, warnings))
}

/// A value as written: quoted with `"` (escapes `\"`, `\\`), quoted with
/// `'` (literal), or the rest of the line.
fn unquote(rest: &str) -> Result<String, String> {
    let mut chars = rest.chars();
    let quote = match chars.next() {
        Some(q @ ('"' | '\'')) => q,
        _ => return Ok(rest.to_string()),
    };
    let mut out = String::new();
    loop {
        match chars.next() {
            None => return Err(format!("missing closing {quote}")),
            Some('\\') if quote == '"' => match chars.next() {
                Some(c @ ('"' | '\\')) => out.push(c),
                Some(c) => return Err(format!("unknown escape \\{c} (only \\\" and \\\\)")),
                None => return Err(format!("missing closing {quote}")),
            },
            Some(c) if c == quote => break,
            Some(c) => out.push(c),
        }
    }
    let tail = chars.as_str().trim();
    if !tail.is_empty() && !tail.starts_with('#') {
        return Err(format!("unexpected text after the quoted value: {tail:?}"));
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Backlog,
    Cachesize,
    Nosync,
    FlushFrequency,
    FlushInterval,
    UsockFile,
    FdTableSize,
    IdleTimeout,
    AllowUsers,
    AllowGroups,
}

const KEYS: [Key; 10] = [
    Key::Backlog,
    Key::Cachesize,
    Key::Nosync,
    Key::FlushFrequency,
    Key::FlushInterval,
    Key::UsockFile,
    Key::FdTableSize,
    Key::IdleTimeout,
    Key::AllowUsers,
    Key::AllowGroups,
];

fn number(value: &str, min: u64, max: u64, unit: &str) -> Result<u64, String> {
    let accepted = || format!("a whole number from {min} to {max}{unit}");
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(accepted());
    }
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(accepted()),
    }
}

fn principals(value: &str, group: bool) -> Result<Vec<Principal>, String> {
    let mut out = Vec::new();
    for name in value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        let kind = if group { "group" } else { "user" };
        let id = if let Ok(id) = name.parse::<u32>() {
            id
        } else if group {
            nix::unistd::Group::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| {
                    format!("names of existing {kind}s or numeric ids; there is no {kind} {name:?}")
                })?
                .gid
                .as_raw()
        } else {
            nix::unistd::User::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| {
                    format!("names of existing {kind}s or numeric ids; there is no {kind} {name:?}")
                })?
                .uid
                .as_raw()
        };
        out.push(Principal {
            name: name.to_string(),
            id,
        });
    }
    Ok(out)
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::Backlog => "backlog",
            Key::Cachesize => "cachesize",
            Key::Nosync => "nosync",
            Key::FlushFrequency => "flush_frequency",
            Key::FlushInterval => "flush_interval",
            Key::UsockFile => "usock_file",
            Key::FdTableSize => "fd_table_size",
            Key::IdleTimeout => "idle_timeout",
            Key::AllowUsers => "allow_users",
            Key::AllowGroups => "allow_groups",
        }
    }

    fn from_name(name: &str) -> Option<Key> {
        KEYS.into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// Checks `value` and stores it; the error says what is accepted.
    fn apply(self, p: &mut DbParam, value: &str) -> Result<(), String> {
        match self {
            Key::Backlog => p.backlog = number(value, 1, 4096, "")? as u32,
            Key::Cachesize => p.cachesize = number(value, 1, 16 << 20, " (KiB)")?,
            Key::Nosync => {
                p.nosync = match value {
                    "0" => false,
                    "1" => true,
                    _ => return Err("0 (every change on disk before the reply) or 1".into()),
                }
            }
            Key::FlushFrequency => {
                p.flush_frequency = number(value, 1, 1_000_000, " (changes)")? as u32
            }
            Key::FlushInterval => p.flush_interval = number(value, 1, 86_400, " (seconds)")? as u32,
            Key::UsockFile => {
                if value.contains('\0') {
                    return Err("a path without NUL characters".into());
                }
                if value.len() > MAX_SOCKET_PATH {
                    return Err(format!(
                        "a path of at most {MAX_SOCKET_PATH} bytes (a Unix socket limit); this one has {}",
                        value.len()
                    ));
                }
                p.usock_file = Some(PathBuf::from(value));
            }
            Key::FdTableSize => p.fd_table_size = number(value, 1, 4096, " (connections)")? as u32,
            Key::IdleTimeout => {
                p.idle_timeout = number(value, 0, 31_536_000, " (seconds; 0 never)")? as u32
            }
            Key::AllowUsers => p.allow_users = principals(value, false)?,
            Key::AllowGroups => p.allow_groups = principals(value, true)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<(DbParam, Vec<Warning>), DbParamError> {
        parse(s.as_bytes(), Path::new("/v/.AppleDB/db_param"))
    }

    #[test]
    fn empty_file_gives_netatalk_defaults() {
        let (p, w) = parse_str("").unwrap();
        assert_eq!(p, DbParam::default());
        assert_eq!(p.backlog, 20);
        assert_eq!(p.cachesize, 1024);
        assert!(!p.nosync);
        assert_eq!(p.flush_frequency, 100);
        assert_eq!(p.flush_interval, 30);
        assert_eq!(p.fd_table_size, 16);
        assert_eq!(p.idle_timeout, 600);
        assert_eq!(
            p.usock_path(Path::new("/v/.AppleDB")),
            Path::new("/v/.AppleDB/usock")
        );
        assert!(w.is_empty());
    }

    #[test]
    fn a_netatalk_style_file() {
        let text = "# tuned\nbacklog 50\ncachesize\t8192\nnosync 1\r\nflush_frequency 1000\n\
                    flush_interval 5\nusock_file /tmp/x.sock\nfd_table_size 1\nidle_timeout 0\n";
        let (p, w) = parse_str(text).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(p.backlog, 50);
        assert_eq!(p.cachesize, 8192);
        assert!(p.nosync);
        assert_eq!(p.flush_frequency, 1000);
        assert_eq!(p.flush_interval, 5);
        assert_eq!(p.usock_file.as_deref(), Some(Path::new("/tmp/x.sock")));
        assert_eq!(p.fd_table_size, 1);
        assert_eq!(p.idle_timeout, 0);
    }

    #[test]
    fn values_with_blanks() {
        let (p, _) = parse_str("usock_file \"/tmp/my \\\"vol\\\".sock\"  # note\n").unwrap();
        assert_eq!(p.usock_file.unwrap(), Path::new("/tmp/my \"vol\".sock"));
        let (p, _) = parse_str("usock_file '/tmp/a b\\c'\n").unwrap();
        assert_eq!(p.usock_file.unwrap(), Path::new("/tmp/a b\\c"));
        let (p, _) = parse_str("usock_file /tmp/rest of line  \n").unwrap();
        assert_eq!(p.usock_file.unwrap(), Path::new("/tmp/rest of line"));
    }

    #[test]
    fn unknown_and_repeated_keys_warn_with_line() {
        let (p, w) = parse_str("\nfoo 1\nnosync 1\nnosync 0\n").unwrap();
        assert!(!p.nosync);
        assert_eq!(w.len(), 2);
        assert_eq!(
            w[0].to_string(),
            "/v/.AppleDB/db_param:2: unknown parameter \"foo\" ignored"
        );
        assert_eq!(w[1].line, 4);
        assert!(w[1].message.contains("replaces line 3"), "{}", w[1]);
    }

    #[test]
    fn bad_values_name_file_line_and_what_is_accepted() {
        let e = parse_str("backlog 20\nnosync yes\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/v/.AppleDB/db_param:2: invalid value \"yes\" for nosync: 0 (every change on disk before the reply) or 1"
        );
        let e = parse_str("cachesize -5").unwrap_err().to_string();
        assert!(
            e.contains(":1: invalid value \"-5\" for cachesize: a whole number from 1 to"),
            "{e}"
        );
        let e = parse_str("fd_table_size 99999999999999999999999")
            .unwrap_err()
            .to_string();
        assert!(e.contains("from 1 to 4096"), "{e}");
        let e = parse_str("backlog 0x10").unwrap_err().to_string();
        assert!(e.contains("backlog"), "{e}");
        let e = parse_str(&format!("usock_file /{}", "a".repeat(200)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 107 bytes"), "{e}");
    }

    #[test]
    fn syntax_errors() {
        let e = parse_str("idle_timeout\n").unwrap_err().to_string();
        assert_eq!(e, "/v/.AppleDB/db_param:1: idle_timeout needs a value");
        let e = parse_str("usock_file \"/tmp/x\n").unwrap_err().to_string();
        assert!(e.ends_with("missing closing \""), "{e}");
        let e = parse_str("usock_file \"/tmp/x\" junk\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unexpected text"), "{e}");
        let e = parse(b"nosync \xff\n", Path::new("f"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f:1: line is not valid UTF-8");
    }

    #[test]
    fn junk_file_is_an_error_not_a_half_read_configuration() {
        let junk: Vec<u8> = (0..4000u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(parse(&junk, Path::new("f")).is_err());
    }

    #[test]
    fn allow_lists() {
        let (p, _) = parse_str("allow_users root, 1234\nallow_groups 0\n").unwrap();
        assert_eq!(
            p.allow_users,
            vec![
                Principal {
                    name: "root".into(),
                    id: 0
                },
                Principal {
                    name: "1234".into(),
                    id: 1234
                }
            ]
        );
        assert_eq!(p.allow_groups[0].id, 0);
        let e = parse_str("allow_users no-such-user-here\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("there is no user \"no-such-user-here\""), "{e}");
    }

    #[test]
    fn load_refuses_symlinks_and_tolerates_absence() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap().0, DbParam::default());
        std::fs::write(dir.path().join("real"), "nosync 1\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join(FILE_NAME)).unwrap();
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
    }
}
