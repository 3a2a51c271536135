//! UPDATE: rewrite record `id` with new data (a move or rename the server
//! made), first removing any record that holds the new dev/ino or
//! did/name. Like netatalk's, it creates the record when `id` is unused.

use common::cnid::proto::Reply;
use common::cnid::{Cnid, Entry};

use crate::db::{DbError, Txn};
use crate::store::Store;

pub fn rewrite<S: Store>(txn: &mut Txn<'_, S>, id: Cnid, entry: &Entry) -> Result<(), DbError> {
    txn.remove(id)?;
    txn.remove_colliding(entry)?;
    txn.insert(id, entry);
    Ok(())
}

pub fn apply<S: Store>(txn: &mut Txn<'_, S>, id: Cnid, entry: &Entry) -> Result<Reply, DbError> {
    rewrite(txn, id, entry)?;
    Ok(Reply::Done)
}

#[cfg(test)]
mod tests {
    use crate::cmd::execute;
    use crate::cmd::testing::{file, store};
    use common::cnid::proto::{Reply, Request};
    use common::cnid::{Cnid, Name};

    #[test]
    fn update_moves_and_evicts_collisions() {
        let (_d, s) = store();
        let run = |r: Request| execute(&s, None, &r).unwrap().0;
        assert_eq!(
            run(Request::Add {
                entry: file(5, 2, "a"),
                hint: None
            }),
            Reply::Id(Cnid(17))
        );
        assert_eq!(
            run(Request::Add {
                entry: file(6, 2, "b"),
                hint: None
            }),
            Reply::Id(Cnid(18))
        );
        // Move 17 onto the name of 18 (rename with replace).
        assert_eq!(
            run(Request::Update {
                id: Cnid(17),
                entry: file(5, 2, "b")
            }),
            Reply::Done
        );
        assert_eq!(run(Request::Resolve { id: Cnid(18) }), Reply::NotFound);
        assert_eq!(
            run(Request::Get {
                did: Cnid(2),
                name: Name::new("b").unwrap()
            }),
            Reply::Id(Cnid(17))
        );
        assert_eq!(
            run(Request::Get {
                did: Cnid(2),
                name: Name::new("a").unwrap()
            }),
            Reply::NotFound
        );
    }
}
