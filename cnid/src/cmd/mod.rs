//! The tool's commands, one file each.

mod add;
mod check;
mod delete;
mod dump;
mod get;
mod lookup;
mod resolve;
mod scan;
mod search;
mod stamp;
mod status;
mod update;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use common::cnid::{BlockingClient, Cnid, CnidError, FileKind, Name};

use crate::Failure;
use crate::walk;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the id of PATH, adding it (and its parent directories) if needed.
    Add { path: PathBuf },
    /// Print the id of PATH.
    Lookup { path: PathBuf },
    /// Print the parent directory id and the name of ID.
    Resolve { id: u32 },
    /// Print the id of NAME in directory DID.
    Get { did: u32, name: OsString },
    /// Make ID stand for PATH (after a move or rename).
    Update { id: u32, path: PathBuf },
    /// Forget ID.
    Delete { id: u32 },
    /// Records whose name starts with PREFIX, ignoring case (at most 100).
    Search { prefix: OsString },
    /// Print the database stamp (changes when the database is recreated).
    Stamp,
    /// One line per record: id did type dev ino name.
    Dump,
    /// Add every file and directory of the volume, parents first; print the count.
    Scan,
    /// Compare the database with the filesystem; --repair fixes what it finds.
    Check {
        #[arg(long)]
        repair: bool,
    },
    /// The serving cnid_dbd: pid, settings, clients, counters.
    Status,
}

pub struct Tool {
    /// Blocking: a command-line tool has nothing else to do meanwhile.
    pub client: BlockingClient,
    pub volume: PathBuf,
}

pub async fn run(t: &mut Tool, command: Command) -> Result<(), Failure> {
    match command {
        Command::Add { path } => add::run(t, &path).await,
        Command::Lookup { path } => lookup::run(t, &path).await,
        Command::Resolve { id } => resolve::run(t, Cnid(id)).await,
        Command::Get { did, name } => get::run(t, Cnid(did), name).await,
        Command::Update { id, path } => update::run(t, Cnid(id), &path).await,
        Command::Delete { id } => delete::run(t, Cnid(id)).await,
        Command::Search { prefix } => search::run(t, prefix).await,
        Command::Stamp => stamp::run(t).await,
        Command::Dump => dump::run(t).await,
        Command::Scan => scan::run(t).await,
        Command::Check { repair } => check::run(t, repair).await,
        Command::Status => status::run(t).await,
    }
}

pub fn name_arg(s: OsString) -> Result<Name, CnidError> {
    use std::os::unix::ffi::OsStringExt;
    Name::new(s.into_vec()).map_err(|e| CnidError::InvalidArgument(e.to_string()))
}

impl Tool {
    /// The id of the directory holding the last of `names`, walking from the
    /// root; with `add` missing directories are added, otherwise a missing
    /// one ends the walk with `None`.
    pub async fn dir_id(&mut self, names: &[Name], add: bool) -> Result<Option<Cnid>, CnidError> {
        let mut did = Cnid::ROOT;
        for i in 0..names.len() {
            let full = walk::join(&self.volume, &names[..=i]);
            let entry = walk::entry_at(&full, did, &names[i])?;
            if entry.kind != FileKind::Dir {
                let what =
                    if std::fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_symlink()) {
                        "is a symbolic link (CNID paths do not follow links)"
                    } else {
                        "is not a directory"
                    };
                return Err(CnidError::InvalidArgument(format!(
                    "{} {what}",
                    full.display()
                )));
            }
            let id = if add {
                Some(self.client.add(&entry, None).await?)
            } else {
                self.client.lookup(&entry, None).await?
            };
            match id {
                Some(id) => did = id,
                None => return Ok(None),
            }
        }
        Ok(Some(did))
    }

    /// The id of `path`, added (with its parents) when `add`.
    pub async fn path_id(&mut self, path: &Path, add: bool) -> Result<Option<Cnid>, CnidError> {
        let names = walk::components(&self.volume, path)?;
        let Some((last, parents)) = names.split_last() else {
            return Ok(Some(Cnid::ROOT));
        };
        let Some(did) = self.dir_id(parents, add).await? else {
            return Ok(None);
        };
        let entry = walk::entry_at(&walk::join(&self.volume, &names), did, last)?;
        if add {
            Ok(Some(self.client.add(&entry, None).await?))
        } else {
            self.client.lookup(&entry, None).await
        }
    }
}
