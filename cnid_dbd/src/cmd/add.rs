//! ADD: the id of an entry, assigning one when the database does not know
//! it. Order (netatalk's dbd_add): a full LOOKUP first (which may repair
//! stale records and leave an id to reuse); then the hint if that id is
//! free; then the next id after the counter, wrapping from 0xFFFFFFFF to 17
//! and skipping ids in use. Only the sequential path moves the counter.

use common::cnid::proto::Reply;
use common::cnid::{Cnid, Entry};

use super::lookup;
use crate::db::{DbError, Txn};
use crate::store::Store;

pub fn apply<S: Store>(
    txn: &mut Txn<'_, S>,
    entry: &Entry,
    hint: Option<Cnid>,
) -> Result<Reply, DbError> {
    let outcome = lookup::salvage(txn, entry, hint)?;
    if let Some(id) = outcome.found {
        return Ok(Reply::Id(id));
    }
    let id = match outcome.reuse {
        Some(h) if h.is_assignable() && txn.record(h)?.is_none() => h,
        _ => allocate(txn)?,
    };
    txn.insert(id, entry);
    Ok(Reply::Id(id))
}

fn next(id: u32) -> u32 {
    if id < Cnid::FIRST.0 || id == u32::MAX {
        Cnid::FIRST.0
    } else {
        id + 1
    }
}

fn allocate<S: Store>(txn: &mut Txn<'_, S>) -> Result<Cnid, DbError> {
    let mut root = txn.root()?;
    let mut id = root.last.0;
    for _ in Cnid::FIRST.0..=u32::MAX {
        id = next(id);
        if txn.record(Cnid(id))?.is_none() {
            root.last = Cnid(id);
            txn.set_root(root);
            return Ok(Cnid(id));
        }
    }
    Err(DbError::Full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::execute;
    use crate::cmd::testing::{file, store};
    use common::cnid::proto::Request;

    fn add(s: &crate::store::SledStore, e: &Entry, hint: Option<Cnid>) -> Cnid {
        match execute(
            s,
            None,
            &Request::Add {
                entry: e.clone(),
                hint,
            },
        )
        .unwrap()
        .0
        {
            Reply::Id(id) => id,
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn first_id_is_17_and_known_entries_keep_theirs() {
        let (_d, s) = store();
        assert_eq!(add(&s, &file(100, 2, "a"), None), Cnid(17));
        assert_eq!(add(&s, &file(101, 2, "b"), None), Cnid(18));
        assert_eq!(add(&s, &file(100, 2, "a"), None), Cnid(17));
        let (_, changed) = execute(
            &s,
            None,
            &Request::Add {
                entry: file(100, 2, "a"),
                hint: None,
            },
        )
        .unwrap();
        assert!(!changed, "adding a known entry changes nothing");
    }

    #[test]
    fn hint_is_used_when_free_and_does_not_move_the_counter() {
        let (_d, s) = store();
        assert_eq!(add(&s, &file(100, 2, "a"), Some(Cnid(500))), Cnid(500));
        assert_eq!(add(&s, &file(101, 2, "b"), Some(Cnid(500))), Cnid(17));
        assert_eq!(add(&s, &file(102, 2, "c"), None), Cnid(18));
    }

    #[test]
    fn counter_wraps_to_17_and_skips_ids_in_use() {
        let (_d, s) = store();
        assert_eq!(add(&s, &file(1, 2, "a"), None), Cnid(17));
        assert_eq!(add(&s, &file(2, 2, "b"), None), Cnid(18));
        let mut txn = Txn::new(&s);
        let mut root = txn.root().unwrap();
        root.last = Cnid(u32::MAX - 1);
        txn.set_root(root);
        txn.commit().unwrap();
        assert_eq!(add(&s, &file(3, 2, "c"), None), Cnid(u32::MAX));
        assert_eq!(add(&s, &file(4, 2, "d"), None), Cnid(19));
    }

    #[test]
    fn replaced_file_reuses_the_id_of_its_name() {
        // An editor saves by writing a new file and renaming it over the
        // old one: same did/name, new dev/ino.
        let (_d, s) = store();
        let old = add(&s, &file(100, 2, "doc"), None);
        let tmp = add(&s, &file(200, 2, "doc.tmp"), None);
        assert_ne!(old, tmp);
        // After the rename the new inode has name "doc".
        assert_eq!(add(&s, &file(200, 2, "doc"), None), old);
    }
}
