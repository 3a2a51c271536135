//! The storage under the CNID database, behind a small trait so the engine
//! can be swapped: ordered keys, atomic batches, and an explicit "make
//! durable" step. The sled implementation is the one in use.

use std::fs::File;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// Writes that must be applied together or not at all.
#[derive(Debug, Default)]
pub struct WriteBatch {
    pub ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// Key/value pairs in key order, as a scan yields them.
pub type Scan<'a, V> = Box<dyn Iterator<Item = Result<(V, V), StoreError>> + 'a>;

pub trait Store {
    type Value: AsRef<[u8]>;

    fn get(&self, key: &[u8]) -> Result<Option<Self::Value>, StoreError>;

    /// Key/value pairs with keys starting with `prefix`, from `start` (which
    /// itself starts with `prefix`) on, in key order.
    fn scan<'a>(&'a self, prefix: &[u8], start: &[u8]) -> Scan<'a, Self::Value>;

    /// Applies every write of `batch` atomically: after a crash either all
    /// of them are there or none.
    fn apply(&self, batch: WriteBatch) -> Result<(), StoreError>;

    /// Returns once everything applied before the call is on disk.
    fn sync(&self) -> Result<(), StoreError>;
}

pub struct SledStore {
    db: sled::Db,
    /// sled's own flush writes with sync_file_range(2), which survives a
    /// killed process but neither commits file metadata nor a disk cache;
    /// fdatasync(2) on its data file does.
    file: File,
}

pub struct SledOptions {
    pub cache_bytes: u64,
    /// sled's background flush (and log cleaning) period.
    pub flush_every_ms: u64,
}

impl SledStore {
    /// Opens (creating) the database in `dir`, relative to the current
    /// directory or absolute.
    pub fn open(dir: &Path, opts: &SledOptions) -> Result<SledStore, StoreError> {
        remove_torn_snapshots(dir)?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(opts.cache_bytes.max(4096))
            .flush_every_ms(Some(opts.flush_every_ms.max(1)))
            .open()?;
        let file = File::open(dir.join("db"))?;
        Ok(SledStore { db, file })
    }
}

/// A `snap.*.generating` file is a snapshot sled was writing when the
/// process died; sled 0.34 may pick it up and refuse to open (sled issue
/// 1527). Nothing refers to it, so it goes.
fn remove_torn_snapshots(dir: &Path) -> Result<(), StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(target: "cnid_dbd::store", file = %name, "removing a snapshot left unfinished by a crash");
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

impl Store for SledStore {
    type Value = sled::IVec;

    fn get(&self, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        Ok(self.db.get(key)?)
    }

    fn scan<'a>(&'a self, prefix: &[u8], start: &[u8]) -> Scan<'a, sled::IVec> {
        let prefix = prefix.to_vec();
        Box::new(
            self.db
                .range(start.to_vec()..)
                .take_while(move |r| match r {
                    Ok((k, _)) => k.starts_with(&prefix),
                    Err(_) => true,
                })
                .map(|r| r.map_err(StoreError::from)),
        )
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for (k, v) in batch.ops {
            match v {
                Some(v) => b.insert(k, v),
                None => b.remove(k),
            }
        }
        Ok(self.db.apply_batch(b)?)
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        self.file.sync_data()?;
        Ok(())
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        if let Err(e) = self.sync() {
            tracing::error!(target: "cnid_dbd::store", "final flush failed: {e}");
        }
    }
}
