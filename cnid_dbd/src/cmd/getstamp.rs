//! GETSTAMP: the 8-byte stamp made when the database was created.

use common::cnid::proto::Reply;

use crate::db::{DbError, Txn};
use crate::store::Store;

pub fn apply<S: Store>(txn: &Txn<'_, S>) -> Result<Reply, DbError> {
    Ok(Reply::Stamp(txn.root()?.stamp))
}
