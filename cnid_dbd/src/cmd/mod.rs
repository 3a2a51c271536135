//! One file per database request, each with netatalk's semantics
//! (../shared/reference/cnid.md). [`execute`] runs one request as one
//! transaction.

mod add;
mod delete;
mod dump;
mod get;
mod getstamp;
mod lookup;
mod rebuild_add;
mod resolve;
mod search;
mod update;
mod verify;
mod wipe;

use common::cnid::proto::{Reply, Request};

use std::cell::RefCell;

use crate::db::{DbError, Overlay, Txn};
use crate::store::Store;

/// Whether `req` scans the store, so pending writes must reach the store
/// before it runs.
pub fn scans(req: &Request) -> bool {
    matches!(
        req,
        Request::Search { .. }
            | Request::Wipe
            | Request::Dump { .. }
            | Request::Verify { .. }
            | Request::Status
    )
}

/// Runs a database request (anything but Hello, Ping and Status) as one
/// transaction, committed into `pending` (or straight to the store when
/// `None`). Returns the reply and whether the database changed.
pub fn execute<S: Store>(
    store: &S,
    pending: Option<&RefCell<Overlay>>,
    req: &Request,
) -> Result<(Reply, bool), DbError> {
    let mut txn = match pending {
        Some(p) => Txn::over(store, p),
        None => Txn::new(store),
    };
    let reply = match req {
        Request::Add { entry, hint } => add::apply(&mut txn, entry, *hint)?,
        Request::Get { did, name } => get::apply(&txn, *did, name)?,
        Request::Resolve { id } => resolve::apply(&txn, *id)?,
        Request::Lookup { entry, hint } => lookup::apply(&mut txn, entry, *hint)?,
        Request::Update { id, entry } => update::apply(&mut txn, *id, entry)?,
        Request::Delete { id } => delete::apply(&mut txn, *id)?,
        Request::GetStamp => getstamp::apply(&txn)?,
        Request::RebuildAdd { id, entry } => rebuild_add::apply(&mut txn, *id, entry)?,
        Request::Search { prefix, max } => search::apply(&txn, prefix, *max)?,
        Request::Wipe => wipe::apply(&mut txn)?,
        Request::Dump { after, max } => dump::apply(&txn, *after, *max)?,
        Request::Verify { repair } => verify::apply(&mut txn, *repair)?,
        Request::Hello(_) | Request::Ping | Request::Status => {
            unreachable!("{} is answered by the server", req.name())
        }
    };
    let changed = txn.commit()?;
    Ok((reply, changed))
}

#[cfg(test)]
pub(crate) mod testing {
    use common::cnid::{Cnid, Entry, FileKind, Name};

    use crate::store::{SledOptions, SledStore};

    pub fn store() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(
            &dir.path().join("db"),
            &SledOptions {
                cache_bytes: 1 << 20,
                flush_every_ms: 1000,
            },
        )
        .unwrap();
        crate::db::init(&store).unwrap();
        (dir, store)
    }

    pub fn entry(dev: u64, ino: u64, kind: FileKind, did: u32, name: &str) -> Entry {
        Entry {
            dev,
            ino,
            kind,
            did: Cnid(did),
            name: Name::new(name).unwrap(),
        }
    }

    pub fn file(ino: u64, did: u32, name: &str) -> Entry {
        entry(1, ino, FileKind::File, did, name)
    }
}
