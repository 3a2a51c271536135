//! VERIFY: check that the records and the three indexes agree, and with
//! `repair` rebuild the indexes from the records (dropping records that
//! cannot be told apart: a later id sharing dev/ino or did/name with an
//! earlier one, or a record that does not decode).

use std::collections::{BTreeMap, BTreeSet};

use common::cnid::proto::{Reply, VerifyReport};
use common::cnid::{Cnid, Entry};

use crate::db::{DbError, Txn, decode_record, key};
use crate::store::Store;

/// More problems than this are counted, not listed.
const MAX_LISTED: usize = 2000;

struct Problems {
    list: Vec<String>,
    more: usize,
}

impl Problems {
    fn push(&mut self, p: String) {
        if self.list.len() < MAX_LISTED {
            self.list.push(p);
        } else {
            self.more += 1;
        }
    }
    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

fn describe(k: &[u8]) -> String {
    match k.first() {
        Some(&key::DEVINO) if k.len() == 17 => format!(
            "dev {} ino {}",
            u64::from_be_bytes(k[1..9].try_into().expect("8")),
            u64::from_be_bytes(k[9..17].try_into().expect("8"))
        ),
        Some(&key::DIDNAME) if k.len() > 5 => format!(
            "did {} name {:?}",
            u32::from_be_bytes(k[1..5].try_into().expect("4")),
            String::from_utf8_lossy(&k[5..])
        ),
        _ => format!("{:?}", String::from_utf8_lossy(k)),
    }
}

pub fn apply<S: Store>(txn: &mut Txn<'_, S>, repair: bool) -> Result<Reply, DbError> {
    let store = txn.store();
    let mut problems = Problems {
        list: Vec::new(),
        more: 0,
    };
    let mut drop_records: Vec<Vec<u8>> = Vec::new();
    let mut records: BTreeMap<Cnid, Entry> = BTreeMap::new();
    for kv in store.scan(&[key::RECORD], &[key::RECORD]) {
        let (k, v) = kv?;
        let Some(id) = key::id_of_record_key(k.as_ref()) else {
            problems.push(format!("malformed record key {:?}", k.as_ref()));
            drop_records.push(k.as_ref().to_vec());
            continue;
        };
        match decode_record(id, v.as_ref()) {
            Ok(e) if !id.is_assignable() || !e.did.is_valid_parent() => {
                problems.push(format!("record {id} has a reserved id or parent {}", e.did));
                drop_records.push(k.as_ref().to_vec());
            }
            Ok(e) => {
                records.insert(id, e);
            }
            Err(e) => {
                problems.push(e.to_string());
                drop_records.push(k.as_ref().to_vec());
            }
        }
    }

    // What the indexes should hold, built from the records in id order.
    let mut expect_devino: BTreeMap<Vec<u8>, Cnid> = BTreeMap::new();
    let mut expect_didname: BTreeMap<Vec<u8>, Cnid> = BTreeMap::new();
    let mut expect_names: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut duplicates = 0u64;
    for (&id, e) in &records {
        let dk = key::devino(e.dev, e.ino);
        let nk = key::didname(e.did, &e.name);
        let clash = expect_devino
            .get(&dk)
            .map(|p| (*p, "dev/ino"))
            .or_else(|| expect_didname.get(&nk).map(|p| (*p, "parent and name")));
        if let Some((prev, what)) = clash {
            problems.push(format!("records {prev} and {id} have the same {what}"));
            drop_records.push(key::record(id));
            duplicates += 1;
            continue;
        }
        expect_devino.insert(dk, id);
        expect_didname.insert(nk, id);
        expect_names.insert(key::name(&e.name, id));
    }
    let kept = records.len() as u64 - duplicates;

    let mut stale: Vec<Vec<u8>> = Vec::new();
    for (prefix, expect, what) in [
        (key::DEVINO, &mut expect_devino, "dev/ino"),
        (key::DIDNAME, &mut expect_didname, "parent/name"),
    ] {
        for kv in store.scan(&[prefix], &[prefix]) {
            let (k, v) = kv?;
            let got = <[u8; 4]>::try_from(v.as_ref()).map(|b| Cnid(u32::from_be_bytes(b)));
            match (expect.remove(k.as_ref()), got) {
                (Some(want), Ok(got)) if want == got => {}
                (Some(want), _) => {
                    problems.push(format!(
                        "{what} index entry {} points to {:?}, record {want} holds it",
                        describe(k.as_ref()),
                        got.map(|c| c.0).ok()
                    ));
                    stale.push(k.as_ref().to_vec());
                }
                (None, _) => {
                    problems.push(format!(
                        "{what} index entry {} points to {:?}, which has no such record",
                        describe(k.as_ref()),
                        got.map(|c| c.0).ok()
                    ));
                    stale.push(k.as_ref().to_vec());
                }
            }
        }
        for (k, id) in expect.iter() {
            problems.push(format!(
                "record {id}: no {what} index entry ({})",
                describe(k)
            ));
        }
    }
    for kv in store.scan(&[key::NAME], &[key::NAME]) {
        let (k, _) = kv?;
        if !expect_names.remove(k.as_ref()) {
            let id = key::name_key_id(k.as_ref()).map(|c| c.0);
            problems.push(format!("name index entry for id {id:?} matches no record"));
            stale.push(k.as_ref().to_vec());
        }
    }
    for k in &expect_names {
        let id = key::name_key_id(k).map(|c| c.0);
        problems.push(format!("record {id:?}: no name index entry"));
    }
    let root = txn.root()?;
    if root.last.0 < Cnid::FIRST.0 - 1 {
        problems.push(format!("id counter {} is below the first id", root.last));
    }

    let repaired = repair && !problems.is_empty();
    if repaired {
        for k in drop_records.into_iter().chain(stale) {
            txn.del(k);
        }
        // Reinsert every index entry of the kept records.
        for (&id, e) in &records {
            if txn.record(id)?.is_some() {
                txn.insert(id, e);
            }
        }
        let mut root = root;
        if root.last.0 < Cnid::FIRST.0 - 1 {
            root.last = Cnid(Cnid::FIRST.0 - 1);
            txn.set_root(root);
        }
    }
    let mut list = problems.list;
    if problems.more > 0 {
        list.push(format!("... and {} more", problems.more));
    }
    Ok(Reply::Verified(VerifyReport {
        records: kept,
        problems: list,
        repaired,
    }))
}

#[cfg(test)]
mod tests {
    use crate::cmd::execute;
    use crate::cmd::testing::{file, store};
    use crate::db::{Txn, key};
    use common::cnid::Cnid;
    use common::cnid::proto::{Reply, Request, VerifyReport};

    fn verify(s: &crate::store::SledStore, repair: bool) -> VerifyReport {
        match execute(s, None, &Request::Verify { repair }).unwrap().0 {
            Reply::Verified(v) => v,
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn consistent_database_has_no_problems() {
        let (_d, s) = store();
        for i in 0..50 {
            execute(
                &s,
                None,
                &Request::Add {
                    entry: file(i, 2, &format!("f{i}")),
                    hint: None,
                },
            )
            .unwrap();
        }
        execute(&s, None, &Request::Delete { id: Cnid(20) }).unwrap();
        execute(
            &s,
            None,
            &Request::Update {
                id: Cnid(21),
                entry: file(1000, 2, "moved"),
            },
        )
        .unwrap();
        let v = verify(&s, false);
        assert_eq!(v.records, 49);
        assert!(v.problems.is_empty(), "{:?}", v.problems);
    }

    #[test]
    fn broken_indexes_are_found_and_rebuilt() {
        let (_d, s) = store();
        for i in 0..5 {
            execute(
                &s,
                None,
                &Request::Add {
                    entry: file(i, 2, &format!("f{i}")),
                    hint: None,
                },
            )
            .unwrap();
        }
        let mut txn = Txn::new(&s);
        let e = txn.record(Cnid(17)).unwrap().unwrap();
        txn.del(key::devino(e.dev, e.ino)); // missing index entry
        txn.del(key::name(&e.name, Cnid(17)));
        let e18 = txn.record(Cnid(18)).unwrap().unwrap();
        txn.del(key::record(Cnid(18))); // dangling index entries
        let _ = e18;
        txn.commit().unwrap();

        let v = verify(&s, false);
        assert!(v.problems.len() >= 4, "{:?}", v.problems);
        assert!(!v.repaired);
        let v = verify(&s, true);
        assert!(v.repaired);
        let v = verify(&s, false);
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert_eq!(v.records, 4);
        assert_eq!(
            execute(
                &s,
                None,
                &Request::Lookup {
                    entry: file(0, 2, "f0"),
                    hint: None
                }
            )
            .unwrap()
            .0,
            Reply::Id(Cnid(17))
        );
    }
}
