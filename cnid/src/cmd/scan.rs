//! `cnid VOLUME scan`: adds every file and directory of the volume, parents
//! before children, and ends with the number of entries. The database
//! directory is left out. Entries that cannot be read are reported on
//! stderr and the exit status says so.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use common::cnid::{Cnid, Name};

use super::Tool;
use crate::Failure;
use crate::walk;

pub async fn run(t: &mut Tool) -> Result<(), Failure> {
    let dbdir = PathBuf::from(OsStr::from_bytes(&t.client.welcome().dbdir));
    let mut queue = VecDeque::from([(t.volume.clone(), Cnid::ROOT)]);
    let mut count = 0u64;
    let mut errors = 0u64;
    while let Some((dir, did)) = queue.pop_front() {
        let mut entries = match std::fs::read_dir(&dir) {
            Ok(rd) => rd.filter_map(|e| e.ok()).collect::<Vec<_>>(),
            Err(e) => {
                eprintln!("cnid: {}: {e}", dir.display());
                errors += 1;
                continue;
            }
        };
        entries.sort_by_key(|e| e.file_name());
        for de in entries {
            let path = de.path();
            if path == dbdir {
                continue;
            }
            let name = match Name::new(de.file_name().as_bytes().to_vec()) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("cnid: {}: {e}", path.display());
                    errors += 1;
                    continue;
                }
            };
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("cnid: {}: {e}", path.display());
                    errors += 1;
                    continue;
                }
            };
            let id = t
                .client
                .add(&walk::entry_from(&meta, did, &name), None)
                .await?;
            count += 1;
            if meta.is_dir() {
                queue.push_back((path, id));
            }
        }
    }
    println!("{count}");
    if errors > 0 {
        eprintln!("cnid: {errors} entries could not be read");
        return Err(Failure::Reported(2));
    }
    Ok(())
}
