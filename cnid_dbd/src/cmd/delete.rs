//! DELETE: remove a record and its index entries.

use common::cnid::Cnid;
use common::cnid::proto::Reply;

use crate::db::{DbError, Txn};
use crate::store::Store;

pub fn apply<S: Store>(txn: &mut Txn<'_, S>, id: Cnid) -> Result<Reply, DbError> {
    Ok(if txn.remove(id)? {
        Reply::Done
    } else {
        Reply::NotFound
    })
}
