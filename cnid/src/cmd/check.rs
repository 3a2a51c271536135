//! `cnid VOLUME check [--repair]`: compares the database with the
//! filesystem.
//!
//! - index problems: records and indexes disagree inside the database
//!   (cnid_dbd's own verification; repair rebuilds the indexes);
//! - dangling: a record whose file is gone or whose parent id is unknown
//!   (repair deletes it);
//! - mismatched: a record whose path exists but is another file (other
//!   dev/ino or type) (repair points the id at the file now there);
//! - missing: a file or directory with no record (repair adds it).
//!
//! One line per problem, then a summary line. Exit status 0 when nothing
//! is wrong (or everything was repaired), 1 when problems remain.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use common::cnid::{Cnid, Name, Record};

use super::Tool;
use crate::Failure;
use crate::walk;

/// Deepest directory chain followed when building paths from parent ids.
const MAX_DEPTH: usize = 4096;

#[derive(Default)]
struct Counts {
    index: usize,
    dangling: usize,
    mismatched: usize,
    missing: usize,
}

pub async fn run(t: &mut Tool, repair: bool) -> Result<(), Failure> {
    let mut n = Counts::default();
    let report = t.client.verify(repair).await?;
    for p in &report.problems {
        println!("index: {p}");
    }
    n.index = report.problems.len();

    let records: HashMap<Cnid, Record> = t
        .client
        .dump_all()
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let by_name: HashMap<(Cnid, Name), Cnid> = records
        .values()
        .map(|r| ((r.entry.did, r.entry.name.clone()), r.id))
        .collect();

    // Records against the filesystem.
    let mut ids: Vec<Cnid> = records.keys().copied().collect();
    ids.sort();
    for id in ids {
        let r = &records[&id];
        let Some(names) = path_of(&records, id) else {
            println!(
                "dangling {id} {}: parent directory {} is not in the database",
                r.entry.name, r.entry.did
            );
            n.dangling += 1;
            if repair {
                t.client.delete(id).await?;
            }
            continue;
        };
        let full = walk::join(&t.volume, &names);
        match std::fs::symlink_metadata(&full) {
            Err(_) => {
                println!("dangling {id} {}: no such file", walk::show(&names));
                n.dangling += 1;
                if repair {
                    t.client.delete(id).await?;
                }
            }
            Ok(m) => {
                let kind = walk::kind_of(&m);
                if m.dev() != r.entry.dev || m.ino() != r.entry.ino || kind != r.entry.kind {
                    println!(
                        "mismatched {id} {}: database has {} dev {} ino {}, disk has {} dev {} ino {}",
                        walk::show(&names),
                        r.entry.kind.as_str(),
                        r.entry.dev,
                        r.entry.ino,
                        kind.as_str(),
                        m.dev(),
                        m.ino()
                    );
                    n.mismatched += 1;
                    if repair {
                        let e = walk::entry_from(&m, r.entry.did, &r.entry.name);
                        t.client.update(id, &e).await?;
                    }
                }
            }
        }
    }

    // The filesystem against the records, parents first.
    let dbdir = PathBuf::from(OsStr::from_bytes(&t.client.welcome().dbdir));
    let mut queue: VecDeque<(Vec<Name>, Option<Cnid>)> =
        VecDeque::from([(Vec::new(), Some(Cnid::ROOT))]);
    let mut files = 0u64;
    while let Some((dir, did)) = queue.pop_front() {
        let full = walk::join(&t.volume, &dir);
        let Ok(rd) = std::fs::read_dir(&full) else {
            continue;
        };
        let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for de in entries {
            if de.path() == dbdir {
                continue;
            }
            let Ok(name) = Name::new(de.file_name().as_bytes().to_vec()) else {
                continue;
            };
            let Ok(meta) = std::fs::symlink_metadata(de.path()) else {
                continue;
            };
            files += 1;
            let mut path = dir.clone();
            path.push(name.clone());
            let known = did.and_then(|d| by_name.get(&(d, name.clone())).copied());
            let id = match (known, did) {
                (Some(id), _) => Some(id),
                (None, Some(d)) => {
                    println!("missing {}", walk::show(&path));
                    n.missing += 1;
                    if repair {
                        Some(
                            t.client
                                .add(&walk::entry_from(&meta, d, &name), None)
                                .await?,
                        )
                    } else {
                        None
                    }
                }
                (None, None) => {
                    println!("missing {}", walk::show(&path));
                    n.missing += 1;
                    None
                }
            };
            if meta.is_dir() {
                queue.push_back((path, id));
            }
        }
    }

    let total = n.index + n.dangling + n.mismatched + n.missing;
    println!(
        "{total} problems ({} index, {} dangling, {} mismatched, {} missing) in {} records and {files} files{}",
        n.index,
        n.dangling,
        n.mismatched,
        n.missing,
        report.records,
        if repair && total > 0 {
            "; repaired"
        } else {
            ""
        }
    );
    if total > 0 && !repair {
        return Err(Failure::Reported(1));
    }
    Ok(())
}

/// The names from the volume root to record `id`, or None when a parent
/// id is unknown (or the chain loops).
fn path_of(records: &HashMap<Cnid, Record>, id: Cnid) -> Option<Vec<Name>> {
    let mut names = Vec::new();
    let mut cur = id;
    while cur != Cnid::ROOT {
        if names.len() > MAX_DEPTH {
            return None;
        }
        let r = records.get(&cur)?;
        names.push(r.entry.name.clone());
        cur = r.entry.did;
    }
    names.reverse();
    Some(names)
}
