//! QUERY_DIRECTORY and CHANGE_NOTIFY on the disk backend.
//!
//! A directory handle keeps a cursor: the names read on the first query
//! (with "." and ".." first), the pattern, and how far the client got. A
//! later query continues from there; RESTART_SCANS or REOPEN (or a new
//! pattern with REOPEN) starts over with a fresh read of the directory.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use super::stat;
use super::{DiskBackend, FdKind, creds};
use crate::ntvfs::types::{access, dir_flags};
use crate::ntvfs::*;
use crate::wire::NtStatus;
use crate::wire::info::dir_entry_len;

#[derive(Debug, Default)]
pub(crate) struct Cursor {
    names: Arc<Vec<Vec<u8>>>,
    pos: usize,
    pattern: Option<String>,
    /// Whether any entry matched since the scan started.
    matched: bool,
}

fn read_names(fd: &OwnedFd) -> Result<Vec<Vec<u8>>, NtStatus> {
    // A fresh descriptor so every scan starts at the beginning.
    let dup = nix::fcntl::openat(
        fd.as_fd(),
        ".",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(crate::wire::status::from_errno)?;
    let mut d = nix::dir::Dir::from_fd(dup).map_err(crate::wire::status::from_errno)?;
    let mut names = vec![b".".to_vec(), b"..".to_vec()];
    for e in d.iter() {
        let e = e.map_err(crate::wire::status::from_errno)?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    Ok(names)
}

pub(super) async fn query_directory(
    b: &DiskBackend,
    ctx: &RequestCtx,
    io: QueryDirIn,
) -> NtResult<QueryDirOut> {
    let open = b.get(io.file_id)?;
    if !open.is_dir {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if open.access & access::FILE_LIST_DIRECTORY == 0 || open.kind != FdKind::Dir {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let pattern = if io.pattern.is_empty() {
        "*".to_string()
    } else {
        io.pattern.clone()
    };
    if pattern.contains('\\') {
        return Err(NtStatus::OBJECT_NAME_INVALID);
    }
    let mut cur = open.dir.lock().await;
    let restart = io.flags & (dir_flags::RESTART_SCANS | dir_flags::REOPEN) != 0;
    if restart || cur.pattern.is_none() {
        let fd = open.fd.clone();
        let names = creds::run_as(b.ctx.identity, &ctx.user, move || read_names(&fd)).await?;
        *cur = Cursor {
            names: Arc::new(names),
            pos: 0,
            pattern: Some(pattern),
            matched: false,
        };
    }
    let pattern = cur.pattern.clone().unwrap_or_default();
    let single = io.flags & dir_flags::RETURN_SINGLE_ENTRY != 0;
    let max = io.max_output as usize;

    // Stat the candidates (as the user) in one trip to a blocking thread.
    let take = if single { 1 } else { 512 };
    let fd = open.fd.clone();
    let names = cur.names.clone();
    let start = cur.pos;
    let at_root = open.rel.lock().expect("rel").is_root();
    let class = io.class;
    let (entries, consumed) = creds::run_as(b.ctx.identity, &ctx.user, move || {
        let mut out: Vec<DirEntry> = Vec::new();
        let mut used = 0usize;
        let mut i = start;
        while i < names.len() && out.len() < take {
            let raw = &names[i];
            let name = String::from_utf8_lossy(raw).into_owned();
            if !stat::wildcard_match(&pattern, &name) {
                i += 1;
                continue;
            }
            let st = match stat::statx_at(fd.as_fd(), std::path::Path::new(OsStr::from_bytes(raw)))
            {
                Ok(st) => st,
                // Vanished since the listing, or ".." at the share root
                // (reported as the root itself).
                Err(_) if raw.as_slice() == b".." => match stat::fstat(&*fd) {
                    Ok(st) => st,
                    Err(_) => {
                        i += 1;
                        continue;
                    }
                },
                Err(_) => {
                    i += 1;
                    continue;
                }
            };
            let st = if raw.as_slice() == b".." && at_root {
                stat::fstat(&*fd)?
            } else {
                st
            };
            let stored = if st.is_dir() || st.mode & libc::S_IFMT == libc::S_IFREG {
                super::path::openat2(
                    fd.as_fd(),
                    std::path::Path::new(OsStr::from_bytes(raw)),
                    libc::O_PATH | libc::O_NOFOLLOW,
                    0,
                    super::path::Links::Beneath,
                )
                .ok()
                .map(|f| stat::dos_info(&f))
                .unwrap_or_default()
            } else {
                stat::DosInfo::default()
            };
            let entry = DirEntry {
                file_index: 0,
                info: stat::network_open_info(
                    &st,
                    stat::attributes(&st, stored.attributes, &name),
                    stored.created,
                ),
                ea_size: 0,
                short_name: super::mangle::dir_short_name(&name),
                file_id: st.ino,
                name,
            };
            let len = dir_entry_len(class, &entry);
            if used + len > max {
                if out.is_empty() {
                    return Err(NtStatus::INFO_LENGTH_MISMATCH);
                }
                break;
            }
            used += len;
            out.push(entry);
            i += 1;
        }
        Ok((out, i))
    })
    .await?;
    cur.pos = consumed;
    if entries.is_empty() {
        let first = !cur.matched;
        return Err(if first {
            NtStatus::NO_SUCH_FILE
        } else {
            NtStatus::NO_MORE_FILES
        });
    }
    cur.matched = true;
    Ok(QueryDirOut { entries })
}

pub(super) async fn notify(b: &DiskBackend, io: NotifyIn) -> NtResult<NotifyOut> {
    let open = b.get(io.file_id)?;
    if !open.is_dir {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if open.access & access::FILE_LIST_DIRECTORY == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let watch = {
        let mut w = open.watch.lock().await;
        match &*w {
            Some(w) => w.clone(),
            // Only the first request's filter counts: an empty one would
            // wait forever.
            None if io.filter == 0 => return Err(NtStatus::INVALID_PARAMETER),
            None => {
                let p = super::path::proc_path(&*open.fd);
                let dw = b
                    .ctx
                    .notifier()
                    .and_then(|n| super::notify::DirWatch::new(&n, &p, io.watch_tree))
                    .map_err(|e| {
                        tracing::warn!(target: "smbd::disk", "cannot watch directory: {e}");
                        NtStatus::INSUFFICIENT_RESOURCES
                    })?;
                let hw = super::HandleWatch {
                    watch: Arc::new(dw),
                    order: Arc::new(tokio::sync::Mutex::new(())),
                    filter: io.filter,
                    max_output: io.max_output,
                };
                *w = Some(hw.clone());
                hw
            }
        }
    };
    let _turn = watch.order.lock().await;
    // A directory about to be deleted ends the wait (MS-SMB2 3.3.5.19:
    // STATUS_DELETE_PENDING).
    let changes = tokio::select! {
        r = watch.watch.next(watch.filter, watch.max_output.min(io.max_output)) => r,
        _ = open.table.state.doomed() => return Err(NtStatus::DELETE_PENDING),
    };
    changes.map_err(|e| match e {
        super::notify::NotifyError::DirectoryGone => NtStatus::DELETE_PENDING,
        e => {
            tracing::warn!(target: "smbd::disk", "change notify failed: {e}");
            NtStatus::INTERNAL_ERROR
        }
    })
}
