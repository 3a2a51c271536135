//! LOOKUP and its repair rules ("CNID salvation", netatalk's dbd_lookup):
//! fetch by dev/ino and by did/name, then
//! 1. neither found: not found;
//! 2. a hit of the wrong type (file vs directory): delete every record that
//!    matched, not found; the mismatched id is reused by a following ADD;
//! 3. both found with the same id: found;
//! 4. both found, different ids (a file replaced by a rename): delete both,
//!    not found; the did/name id is reused by a following ADD;
//! 5. dev/ino only (renamed or moved): with that id as hint it is a move we
//!    were told about, so the record is updated in place, found; otherwise
//!    delete it, not found;
//! 6. did/name only (same name, new inode: restored from backup): delete,
//!    not found; the id changes.
//!
//! This is the only place that knows these rules; ADD calls [`salvage`].

use common::cnid::proto::Reply;
use common::cnid::{Cnid, Entry};

use super::update;
use crate::db::{DbError, Txn};
use crate::store::Store;

pub struct Outcome {
    pub found: Option<Cnid>,
    /// The id a following ADD should try first.
    pub reuse: Option<Cnid>,
}

pub fn salvage<S: Store>(
    txn: &mut Txn<'_, S>,
    entry: &Entry,
    hint: Option<Cnid>,
) -> Result<Outcome, DbError> {
    let by_devino = match txn.id_by_devino(entry.dev, entry.ino)? {
        Some(id) => Some((id, txn.record(id)?)),
        None => None,
    };
    let by_didname = match txn.id_by_didname(entry.did, &entry.name)? {
        Some(id) => Some((id, txn.record(id)?)),
        None => None,
    };
    let wrong_type = |hit: &Option<(Cnid, Option<Entry>)>| matches!(hit, Some((_, Some(e))) if e.kind != entry.kind);
    let not_found = |reuse| Outcome { found: None, reuse };

    // An index entry whose record is gone is stale: treat it as absent
    // (Verify reports such things; they are not the client's problem).
    let devino = by_devino
        .as_ref()
        .and_then(|(id, e)| e.as_ref().map(|_| *id));
    let didname = by_didname
        .as_ref()
        .and_then(|(id, e)| e.as_ref().map(|_| *id));

    if wrong_type(&by_devino) || wrong_type(&by_didname) {
        let reuse = if wrong_type(&by_didname) {
            didname
        } else {
            devino
        };
        for id in [devino, didname].into_iter().flatten() {
            txn.remove(id)?;
        }
        return Ok(not_found(reuse));
    }
    match (devino, didname) {
        (None, None) => Ok(not_found(hint)),
        (Some(a), Some(b)) if a == b => Ok(Outcome {
            found: Some(a),
            reuse: None,
        }),
        (Some(a), Some(b)) => {
            txn.remove(a)?;
            txn.remove(b)?;
            Ok(not_found(Some(b)))
        }
        (Some(a), None) if hint == Some(a) => {
            update::rewrite(txn, a, entry)?;
            Ok(Outcome {
                found: Some(a),
                reuse: None,
            })
        }
        (Some(a), None) => {
            txn.remove(a)?;
            Ok(not_found(None))
        }
        (None, Some(b)) => {
            txn.remove(b)?;
            Ok(not_found(None))
        }
    }
}

pub fn apply<S: Store>(
    txn: &mut Txn<'_, S>,
    entry: &Entry,
    hint: Option<Cnid>,
) -> Result<Reply, DbError> {
    Ok(match salvage(txn, entry, hint)?.found {
        Some(id) => Reply::Id(id),
        None => Reply::NotFound,
    })
}

#[cfg(test)]
mod tests {
    use crate::cmd::execute;
    use crate::cmd::testing::{entry, file, store};
    use common::cnid::proto::{Reply, Request};
    use common::cnid::{Cnid, Entry, FileKind};

    fn run(s: &crate::store::SledStore, r: Request) -> Reply {
        execute(s, None, &r).unwrap().0
    }
    fn add(s: &crate::store::SledStore, e: &Entry, hint: Option<Cnid>) -> Cnid {
        match run(
            s,
            Request::Add {
                entry: e.clone(),
                hint,
            },
        ) {
            Reply::Id(id) => id,
            r => panic!("{r:?}"),
        }
    }
    fn lookup(s: &crate::store::SledStore, e: &Entry, hint: Option<Cnid>) -> Reply {
        run(
            s,
            Request::Lookup {
                entry: e.clone(),
                hint,
            },
        )
    }
    fn resolve(s: &crate::store::SledStore, id: Cnid) -> Reply {
        run(s, Request::Resolve { id })
    }

    #[test]
    fn rule_1_and_3() {
        let (_d, s) = store();
        assert_eq!(lookup(&s, &file(5, 2, "a"), None), Reply::NotFound);
        let id = add(&s, &file(5, 2, "a"), None);
        assert_eq!(lookup(&s, &file(5, 2, "a"), None), Reply::Id(id));
    }

    #[test]
    fn rule_2_wrong_type_deletes_and_the_id_is_reused() {
        let (_d, s) = store();
        let id = add(&s, &file(5, 2, "a"), None);
        let dir = entry(1, 5, FileKind::Dir, 2, "a");
        assert_eq!(lookup(&s, &dir, None), Reply::NotFound);
        assert_eq!(resolve(&s, id), Reply::NotFound);
        let id2 = add(&s, &file(6, 2, "b"), None);
        assert_ne!(id2, id);
        // An ADD straight after the mismatch reuses the id.
        let id3 = add(&s, &file(7, 2, "c"), None);
        assert_eq!(add(&s, &entry(1, 7, FileKind::Dir, 2, "c"), None), id3);
    }

    #[test]
    fn rule_4_replaced_by_rename_deletes_both() {
        let (_d, s) = store();
        let a = add(&s, &file(5, 2, "a"), None);
        let b = add(&s, &file(6, 2, "b"), None);
        // inode 5 now carries the name "b".
        assert_eq!(lookup(&s, &file(5, 2, "b"), None), Reply::NotFound);
        assert_eq!(resolve(&s, a), Reply::NotFound);
        assert_eq!(resolve(&s, b), Reply::NotFound);
    }

    #[test]
    fn rule_5_move_with_hint_updates_in_place() {
        let (_d, s) = store();
        let a = add(&s, &file(5, 2, "a"), None);
        assert_eq!(lookup(&s, &file(5, 2, "renamed"), Some(a)), Reply::Id(a));
        assert!(
            matches!(resolve(&s, a), Reply::Resolved { name, .. } if name.as_bytes() == b"renamed")
        );
        // Without the hint the stale record goes.
        assert_eq!(lookup(&s, &file(5, 2, "again"), None), Reply::NotFound);
        assert_eq!(resolve(&s, a), Reply::NotFound);
    }

    #[test]
    fn rule_6_restored_from_backup_gets_a_new_id() {
        let (_d, s) = store();
        let a = add(&s, &file(5, 2, "a"), None);
        assert_eq!(lookup(&s, &file(99, 2, "a"), None), Reply::NotFound);
        assert_eq!(resolve(&s, a), Reply::NotFound);
        assert_ne!(add(&s, &file(99, 2, "a"), None), a);
    }
}
