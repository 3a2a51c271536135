//! GET: the id of a name in a directory.

use common::cnid::proto::Reply;
use common::cnid::{Cnid, Name};

use crate::db::{DbError, Txn};
use crate::store::Store;

pub fn apply<S: Store>(txn: &Txn<'_, S>, did: Cnid, name: &Name) -> Result<Reply, DbError> {
    Ok(match txn.id_by_didname(did, name)? {
        Some(id) => Reply::Id(id),
        None => Reply::NotFound,
    })
}
