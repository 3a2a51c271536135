//! SEARCH: records whose name starts with a prefix, ignoring case, through
//! the lowercased name index; at most `max` (100 in netatalk).

use common::cnid::Name;
use common::cnid::proto::Reply;

use crate::db::{DbError, Txn, key};
use crate::store::Store;

pub fn apply<S: Store>(txn: &Txn<'_, S>, prefix: &Name, max: u32) -> Result<Reply, DbError> {
    let start = key::name_prefix(&prefix.folded());
    let mut out = Vec::new();
    for kv in txn.store().scan(&start, &start) {
        if out.len() >= max as usize {
            break;
        }
        let (k, _) = kv?;
        let Some(id) = key::name_key_id(k.as_ref()) else {
            continue;
        };
        if let Some(entry) = txn.record(id)? {
            out.push(common::cnid::Record { id, entry });
        }
    }
    Ok(Reply::Records(out))
}

#[cfg(test)]
mod tests {
    use crate::cmd::execute;
    use crate::cmd::testing::{file, store};
    use common::cnid::Name;
    use common::cnid::proto::{Reply, Request};

    #[test]
    fn prefix_case_insensitive_and_capped() {
        let (_d, s) = store();
        let names = [
            "Report.doc",
            "report-2.doc",
            "RÉSUMÉ",
            "résumé.txt",
            "other",
        ];
        for (i, n) in names.iter().enumerate() {
            execute(
                &s,
                None,
                &Request::Add {
                    entry: file(i as u64, 2, n),
                    hint: None,
                },
            )
            .unwrap();
        }
        let search = |p: &str, max| match execute(
            &s,
            None,
            &Request::Search {
                prefix: Name::new(p).unwrap(),
                max,
            },
        )
        .unwrap()
        .0
        {
            Reply::Records(r) => r
                .into_iter()
                .map(|r| r.entry.name.to_string())
                .collect::<Vec<_>>(),
            r => panic!("{r:?}"),
        };
        let mut got = search("REPORT", 100);
        got.sort();
        assert_eq!(got, ["Report.doc", "report-2.doc"]);
        assert_eq!(search("résu", 100).len(), 2);
        assert_eq!(search("r", 1).len(), 1);
        assert!(search("zzz", 100).is_empty());
    }
}
