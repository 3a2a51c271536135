//! The WINS database: one record per name, each with a version id that
//! grows with every change, kept on disk as one bincode file written
//! atomically (temporary file, fsync, rename) so names and versions survive
//! a restart.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use common::netbios::NbName;
use serde::{Deserialize, Serialize};

/// The file in the state directory.
pub const DB_FILE: &str = "wins.db";
/// Bumped when [`Database`] changes shape; an older file is not read.
const FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Unique,
    Group,
}

/// One registered name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub kind: Kind,
    /// (NB flags as registered, address); for a unique name the owner's
    /// addresses (more than one only for a multi-homed owner); for a normal
    /// group the single entry 255.255.255.255; for a <1c> group the members.
    pub addrs: Vec<(u16, Ipv4Addr)>,
    /// Unix seconds after which the record is gone; `None` for our own
    /// names (permanent while we run).
    pub expires: Option<u64>,
    pub version: u64,
}

impl Record {
    pub fn active(&self, now: u64) -> bool {
        self.expires.is_none_or(|e| e > now)
    }

    /// Seconds left, for query answers.
    pub fn ttl_left(&self, now: u64, permanent_ttl: u32) -> u32 {
        match self.expires {
            None => permanent_ttl,
            Some(e) => u32::try_from(e.saturating_sub(now)).unwrap_or(u32::MAX),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    pub format: u32,
    /// The highest version id handed out.
    pub version: u64,
    pub records: BTreeMap<NbName, Record>,
}

impl Database {
    pub fn new() -> Database {
        Database {
            format: FORMAT,
            version: 0,
            records: BTreeMap::new(),
        }
    }

    pub fn next_version(&mut self) -> u64 {
        self.version += 1;
        self.version
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{path}: {err}")]
    Decode {
        path: PathBuf,
        err: common::codec::CodecError,
    },
    #[error("{path}: format {found}, expected {FORMAT}")]
    Format { path: PathBuf, found: u32 },
}

/// The database in `dir`, or an empty one when there is no file yet.
pub fn load(dir: &Path) -> Result<Database, StoreError> {
    let path = dir.join(DB_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Database::new()),
        Err(err) => return Err(StoreError::Io { path, err }),
    };
    let db: Database = common::codec::decode(&bytes).map_err(|err| StoreError::Decode {
        path: path.clone(),
        err,
    })?;
    if db.format != FORMAT {
        return Err(StoreError::Format {
            path,
            found: db.format,
        });
    }
    Ok(db)
}

/// Writes the database to `dir` atomically.
pub fn save(dir: &Path, db: &Database) -> Result<(), StoreError> {
    let path = dir.join(DB_FILE);
    let tmp = dir.join(format!("{DB_FILE}.tmp"));
    let io = |err| StoreError::Io {
        path: tmp.clone(),
        err,
    };
    let bytes = common::codec::encode(db).map_err(|err| StoreError::Decode {
        path: path.clone(),
        err,
    })?;
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(&bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(|err| StoreError::Io { path, err })
}
