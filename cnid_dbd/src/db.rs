//! The CNID database on top of a [`Store`]: key spaces, the stored layouts,
//! and [`Txn`], which gathers every change of one request so it reaches the
//! store atomically: either straight as one batch, or merged into the
//! [`Overlay`] of changes not yet handed to the store, which the flusher
//! later applies as one batch for a whole group of requests.
//!
//! Key spaces (one ordered store, a one-byte prefix each):
//!
//! ```text
//!  "R"                                  root info (see RootInfo)
//!  "C" id(4)                            record: the file an id stands for
//!  "D" dev(8) ino(8)            -> id   unique index by device/inode
//!  "N" did(4) name              -> id   unique index by parent/name
//!  "L" lowercase(name) 0x00 id(4)       name index for case-insensitive
//!                                       prefix search (names never hold NUL)
//! ```
//! All numbers big-endian, so keys sort numerically.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;

use common::cnid::{Cnid, Entry, FileKind, Name, Stamp};

use crate::store::{Store, StoreError, WriteBatch};

/// Layout version of the stored data.
pub const FORMAT_VERSION: u32 = 1;

pub mod key {
    use super::*;

    pub const ROOT: &[u8] = b"R";
    pub const RECORD: u8 = b'C';
    pub const DEVINO: u8 = b'D';
    pub const DIDNAME: u8 = b'N';
    pub const NAME: u8 = b'L';

    pub fn record(id: Cnid) -> Vec<u8> {
        let mut k = Vec::with_capacity(5);
        k.push(RECORD);
        k.extend_from_slice(&id.0.to_be_bytes());
        k
    }

    pub fn devino(dev: u64, ino: u64) -> Vec<u8> {
        let mut k = Vec::with_capacity(17);
        k.push(DEVINO);
        k.extend_from_slice(&dev.to_be_bytes());
        k.extend_from_slice(&ino.to_be_bytes());
        k
    }

    pub fn didname(did: Cnid, name: &Name) -> Vec<u8> {
        let mut k = Vec::with_capacity(5 + name.as_bytes().len());
        k.push(DIDNAME);
        k.extend_from_slice(&did.0.to_be_bytes());
        k.extend_from_slice(name.as_bytes());
        k
    }

    pub fn name_prefix(folded_prefix: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(1 + folded_prefix.len());
        k.push(NAME);
        k.extend_from_slice(folded_prefix);
        k
    }

    pub fn name(name: &Name, id: Cnid) -> Vec<u8> {
        let mut k = name_prefix(&name.folded());
        k.push(0);
        k.extend_from_slice(&id.0.to_be_bytes());
        k
    }

    /// The id at the end of a name-index key.
    pub fn name_key_id(k: &[u8]) -> Option<Cnid> {
        let tail: [u8; 4] = k.get(k.len().checked_sub(4)?..)?.try_into().ok()?;
        (k.len() >= 6 && k[k.len() - 5] == 0).then_some(Cnid(u32::from_be_bytes(tail)))
    }

    pub fn id_of_record_key(k: &[u8]) -> Option<Cnid> {
        let b: [u8; 4] = k.get(1..5)?.try_into().ok()?;
        (k.len() == 5 && k[0] == RECORD).then_some(Cnid(u32::from_be_bytes(b)))
    }
}

/// Stored record value.
mod rec {
    use super::Range;
    pub const DEV: Range<usize> = 0..8;
    pub const INO: Range<usize> = 8..16;
    pub const KIND: usize = 16;
    pub const DID: Range<usize> = 17..21;
    pub const NAME: usize = 21;
}

/// Stored root info value.
mod root {
    use super::Range;
    pub const VERSION: Range<usize> = 0..4;
    pub const STAMP: Range<usize> = 4..12;
    pub const LAST: Range<usize> = 12..16;
    pub const LEN: usize = LAST.end;
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
    #[error("database is corrupt: {0}")]
    Corrupt(String),
    #[error("every id is in use")]
    Full,
    #[error("database format {0} is not supported (this cnid_dbd reads format {FORMAT_VERSION})")]
    Version(u32),
}

pub fn encode_record(e: &Entry) -> Vec<u8> {
    let mut v = Vec::with_capacity(rec::NAME + e.name.as_bytes().len());
    v.extend_from_slice(&e.dev.to_be_bytes()); //  0..8
    v.extend_from_slice(&e.ino.to_be_bytes()); //  8..16
    v.push(match e.kind {
        //                                        16
        FileKind::File => 0,
        FileKind::Dir => 1,
    });
    v.extend_from_slice(&e.did.0.to_be_bytes()); // 17..21
    v.extend_from_slice(e.name.as_bytes()); //      21..
    v
}

pub fn decode_record(id: Cnid, v: &[u8]) -> Result<Entry, DbError> {
    let corrupt = |why: &str| DbError::Corrupt(format!("record {id}: {why}"));
    if v.len() <= rec::NAME {
        return Err(corrupt("too short"));
    }
    let u64_at = |r: Range<usize>| u64::from_be_bytes(v[r].try_into().expect("8 bytes"));
    let kind = match v[rec::KIND] {
        0 => FileKind::File,
        1 => FileKind::Dir,
        _ => return Err(corrupt("bad type")),
    };
    let name = Name::new(v[rec::NAME..].to_vec()).map_err(|e| corrupt(&e.to_string()))?;
    Ok(Entry {
        dev: u64_at(rec::DEV),
        ino: u64_at(rec::INO),
        kind,
        did: Cnid(u32::from_be_bytes(v[rec::DID].try_into().expect("4 bytes"))),
        name,
    })
}

fn decode_id(v: &[u8]) -> Result<Cnid, DbError> {
    let b: [u8; 4] = v
        .try_into()
        .map_err(|_| DbError::Corrupt(format!("index value of {} bytes", v.len())))?;
    Ok(Cnid(u32::from_be_bytes(b)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootInfo {
    pub version: u32,
    pub stamp: Stamp,
    /// The id handed out last by sequential allocation.
    pub last: Cnid,
}

impl RootInfo {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(root::LEN);
        v.extend_from_slice(&self.version.to_be_bytes()); // 0..4
        v.extend_from_slice(&self.stamp.0); //               4..12
        v.extend_from_slice(&self.last.0.to_be_bytes()); //  12..16
        v
    }

    fn decode(v: &[u8]) -> Result<RootInfo, DbError> {
        if v.len() != root::LEN {
            return Err(DbError::Corrupt(format!("root info of {} bytes", v.len())));
        }
        Ok(RootInfo {
            version: u32::from_be_bytes(v[root::VERSION].try_into().expect("4 bytes")),
            stamp: Stamp(v[root::STAMP].try_into().expect("8 bytes")),
            last: Cnid(u32::from_be_bytes(
                v[root::LAST].try_into().expect("4 bytes"),
            )),
        })
    }
}

/// Writes by key (`None`: deleted) not yet in the store.
pub type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The changes of one request, applied atomically by [`Txn::commit`]. Reads
/// see the request's own earlier writes, then the pending overlay, then
/// the store.
pub struct Txn<'s, S: Store> {
    store: &'s S,
    pending: Option<&'s RefCell<Overlay>>,
    writes: Overlay,
}

impl<'s, S: Store> Txn<'s, S> {
    /// A transaction whose commit goes straight to the store.
    pub fn new(store: &'s S) -> Self {
        Txn {
            store,
            pending: None,
            writes: BTreeMap::new(),
        }
    }

    /// A transaction whose commit joins `pending`.
    pub fn over(store: &'s S, pending: &'s RefCell<Overlay>) -> Self {
        Txn {
            store,
            pending: Some(pending),
            writes: BTreeMap::new(),
        }
    }

    /// The store, for scans. Scans do not see pending writes: the caller
    /// applies them first.
    pub fn store(&self) -> &'s S {
        self.store
    }

    fn read<T>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> T) -> Result<Option<T>, DbError> {
        if let Some(hit) = self.writes.get(key) {
            return Ok(hit.as_deref().map(f));
        }
        if let Some(hit) = self.pending.and_then(|p| p.borrow().get(key).cloned()) {
            return Ok(hit.as_deref().map(f));
        }
        Ok(self.store.get(key)?.map(|v| f(v.as_ref())))
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    pub fn del(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Applies the changes (to the store, or into the pending overlay);
    /// returns whether there were any.
    pub fn commit(self) -> Result<bool, DbError> {
        if self.writes.is_empty() {
            return Ok(false);
        }
        match self.pending {
            Some(p) => p.borrow_mut().extend(self.writes),
            None => self.store.apply(WriteBatch {
                ops: self.writes.into_iter().collect(),
            })?,
        }
        Ok(true)
    }

    pub fn root(&self) -> Result<RootInfo, DbError> {
        self.read(key::ROOT, RootInfo::decode)?
            .ok_or_else(|| DbError::Corrupt("root info missing".into()))?
    }

    pub fn set_root(&mut self, r: RootInfo) {
        self.put(key::ROOT.to_vec(), r.encode());
    }

    pub fn record(&self, id: Cnid) -> Result<Option<Entry>, DbError> {
        self.read(&key::record(id), |v| decode_record(id, v))?
            .transpose()
    }

    pub fn id_by_devino(&self, dev: u64, ino: u64) -> Result<Option<Cnid>, DbError> {
        self.read(&key::devino(dev, ino), decode_id)?.transpose()
    }

    pub fn id_by_didname(&self, did: Cnid, name: &Name) -> Result<Option<Cnid>, DbError> {
        self.read(&key::didname(did, name), decode_id)?.transpose()
    }

    /// Removes record `id` and its index entries; whether it existed.
    pub fn remove(&mut self, id: Cnid) -> Result<bool, DbError> {
        let Some(e) = self.record(id)? else {
            return Ok(false);
        };
        self.del(key::record(id));
        if self.id_by_devino(e.dev, e.ino)? == Some(id) {
            self.del(key::devino(e.dev, e.ino));
        }
        if self.id_by_didname(e.did, &e.name)? == Some(id) {
            self.del(key::didname(e.did, &e.name));
        }
        self.del(key::name(&e.name, id));
        Ok(true)
    }

    /// Stores `entry` as record `id` with its index entries. The caller has
    /// made sure that neither the id nor the entry's dev/ino or did/name is
    /// in use.
    pub fn insert(&mut self, id: Cnid, e: &Entry) {
        self.put(key::record(id), encode_record(e));
        self.put(key::devino(e.dev, e.ino), id.0.to_be_bytes().to_vec());
        self.put(key::didname(e.did, &e.name), id.0.to_be_bytes().to_vec());
        self.put(key::name(&e.name, id), Vec::new());
    }

    /// Removes every record that holds `e`'s dev/ino or did/name.
    pub fn remove_colliding(&mut self, e: &Entry) -> Result<(), DbError> {
        if let Some(id) = self.id_by_devino(e.dev, e.ino)? {
            self.remove(id)?;
        }
        if let Some(id) = self.id_by_didname(e.did, &e.name)? {
            self.remove(id)?;
        }
        Ok(())
    }
}

/// Creates the root info of a new database, or checks an existing one.
pub fn init<S: Store>(store: &S) -> Result<RootInfo, DbError> {
    let mut txn = Txn::new(store);
    match txn.read(key::ROOT, RootInfo::decode)? {
        Some(r) => {
            let r = r?;
            if r.version != FORMAT_VERSION {
                return Err(DbError::Version(r.version));
            }
            Ok(r)
        }
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            let r = RootInfo {
                version: FORMAT_VERSION,
                stamp: Stamp(nanos.to_be_bytes()),
                last: Cnid(Cnid::FIRST.0 - 1),
            };
            txn.set_root(r);
            txn.commit()?;
            store.sync()?;
            Ok(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layout() {
        let e = Entry {
            dev: 0x0102,
            ino: 0x0a0b0c,
            kind: FileKind::Dir,
            did: Cnid(17),
            name: Name::new("x y").unwrap(),
        };
        let v = encode_record(&e);
        assert_eq!(
            v,
            [
                0, 0, 0, 0, 0, 0, 1, 2, // dev
                0, 0, 0, 0, 0, 0x0a, 0x0b, 0x0c, // ino
                1,    // dir
                0, 0, 0, 17, // did
                b'x', b' ', b'y',
            ]
        );
        assert_eq!(decode_record(Cnid(20), &v).unwrap(), e);
        assert!(decode_record(Cnid(20), &v[..21]).is_err());
        let mut bad = v.clone();
        bad[16] = 7;
        assert!(decode_record(Cnid(20), &bad).is_err());
    }

    #[test]
    fn key_helpers() {
        let n = Name::new("AbC").unwrap();
        let k = key::name(&n, Cnid(0x11223344));
        assert_eq!(k, [b'L', b'a', b'b', b'c', 0, 0x11, 0x22, 0x33, 0x44]);
        assert_eq!(key::name_key_id(&k), Some(Cnid(0x11223344)));
        assert_eq!(
            key::id_of_record_key(&key::record(Cnid(99))),
            Some(Cnid(99))
        );
        assert_eq!(key::name_key_id(b"L\0"), None);
    }
}
