//! RESOLVE: the parent directory id and the name of an id.

use common::cnid::Cnid;
use common::cnid::proto::Reply;

use crate::db::{DbError, Txn};
use crate::store::Store;

pub fn apply<S: Store>(txn: &Txn<'_, S>, id: Cnid) -> Result<Reply, DbError> {
    Ok(match txn.record(id)? {
        Some(e) => Reply::Resolved {
            did: e.did,
            name: e.name,
        },
        None => Reply::NotFound,
    })
}
