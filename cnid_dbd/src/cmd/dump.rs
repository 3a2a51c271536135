//! DUMP: a batch of records in id order, after a given id.

use common::cnid::proto::Reply;
use common::cnid::{Cnid, Record};

use crate::db::{DbError, Txn, decode_record, key};
use crate::store::Store;

pub fn apply<S: Store>(txn: &Txn<'_, S>, after: Cnid, max: u32) -> Result<Reply, DbError> {
    let Some(first) = after.0.checked_add(1) else {
        return Ok(Reply::Records(Vec::new()));
    };
    let mut out = Vec::new();
    for kv in txn
        .store()
        .scan(&[key::RECORD], &key::record(Cnid(first)))
        .take(max as usize)
    {
        let (k, v) = kv?;
        let id = key::id_of_record_key(k.as_ref())
            .ok_or_else(|| DbError::Corrupt(format!("record key {:?}", k.as_ref())))?;
        out.push(Record {
            id,
            entry: decode_record(id, v.as_ref())?,
        });
    }
    Ok(Reply::Records(out))
}
