//! WIPE: empty the database in one atomic change. The stamp and the id
//! counter stay (what netatalk's reinit_db sets out to keep), so ids handed
//! out before are not handed out again soon.

use common::cnid::proto::Reply;

use crate::db::{DbError, Txn, key};
use crate::store::Store;

pub fn apply<S: Store>(txn: &mut Txn<'_, S>) -> Result<Reply, DbError> {
    let store = txn.store();
    for prefix in [key::RECORD, key::DEVINO, key::DIDNAME, key::NAME] {
        for kv in store.scan(&[prefix], &[prefix]) {
            let (k, _) = kv?;
            txn.del(k.as_ref().to_vec());
        }
    }
    Ok(Reply::Done)
}
