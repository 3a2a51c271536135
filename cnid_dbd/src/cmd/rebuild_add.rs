//! REBUILD_ADD: store an entry under exactly the given id (rebuild tools
//! restoring ids kept elsewhere). Records holding the entry's dev/ino or
//! did/name give way, and the counter moves past the id so sequential
//! allocation never hands it out again.

use common::cnid::proto::Reply;
use common::cnid::{Cnid, Entry};

use super::update;
use crate::db::{DbError, Txn};
use crate::store::Store;

pub fn apply<S: Store>(txn: &mut Txn<'_, S>, id: Cnid, entry: &Entry) -> Result<Reply, DbError> {
    update::rewrite(txn, id, entry)?;
    let mut root = txn.root()?;
    if id > root.last {
        root.last = id;
        txn.set_root(root);
    }
    Ok(Reply::Done)
}

#[cfg(test)]
mod tests {
    use crate::cmd::execute;
    use crate::cmd::testing::{file, store};
    use common::cnid::Cnid;
    use common::cnid::proto::{Reply, Request};

    #[test]
    fn rebuild_add_moves_the_counter() {
        let (_d, s) = store();
        let run = |r: Request| execute(&s, None, &r).unwrap().0;
        assert_eq!(
            run(Request::RebuildAdd {
                id: Cnid(40),
                entry: file(5, 2, "a")
            }),
            Reply::Done
        );
        assert_eq!(
            run(Request::Add {
                entry: file(6, 2, "b"),
                hint: None
            }),
            Reply::Id(Cnid(41))
        );
    }
}
