//! SET_INFO on the disk backend: times and attributes, rename, delete
//! disposition, file size, extended attributes.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::path::{self, Links, RelPath, openat2};
use super::stat;
use super::{DiskBackend, FdKind, Open, creds};
use crate::ntvfs::info::*;
use crate::ntvfs::types::{access, attr};
use crate::ntvfs::*;
use crate::wire::status::{from_errno, from_io};
use crate::wire::{NtStatus, time};

fn need(open: &Open, bits: u32) -> NtResult<()> {
    if open.access & bits == 0 {
        Err(NtStatus::ACCESS_DENIED)
    } else {
        Ok(())
    }
}

fn set_times(fd: &OwnedFd, b: &BasicInfo) -> NtResult<()> {
    use nix::sys::time::TimeSpec;
    // 0: leave it; -1 and -2: stop and resume automatic updates (MS-FSCC
    // 2.4.7), which leave the value as it is too.
    let keep = |ft: u64| ft == 0 || ft >= u64::MAX - 1;
    let ts = |ft: u64| {
        if keep(ft) {
            TimeSpec::new(0, libc::UTIME_OMIT)
        } else {
            let (s, n) = time::to_unix(ft);
            TimeSpec::new(s, n)
        }
    };
    if [b.last_access_time, b.last_write_time]
        .iter()
        .all(|t| keep(*t))
    {
        return Ok(());
    }
    let p = path::proc_path(fd);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        &p,
        &ts(b.last_access_time),
        &ts(b.last_write_time),
        nix::sys::stat::UtimensatFlags::FollowSymlink,
    )
    .map_err(from_errno)
}

async fn basic(
    b: &DiskBackend,
    ctx: &RequestCtx,
    open: &Arc<Open>,
    info: BasicInfo,
) -> NtResult<()> {
    need(open, access::FILE_WRITE_ATTRIBUTES)?;
    if b.share.read_only {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let fd = open.fd.clone();
    let is_dir = open.is_dir;
    let name = open.name();
    creds::run_as(b.ctx.identity, &ctx.user, move || {
        set_times(&fd, &info)?;
        if info.creation_time != 0 && info.creation_time < u64::MAX - 1 {
            // Kept in user.DOSATTRIB: Linux cannot set a birth time.
            let st = stat::fstat(&*fd)?;
            let current = stat::attributes(&st, stat::stored_attributes(&*fd), &name);
            stat::store_created(&*fd, info.creation_time, current & !attr::NORMAL)
                .map_err(|e| from_io(&e))?;
        }
        if info.attributes != 0 {
            // A file cannot become a directory, and a directory cannot be
            // temporary (as on Windows).
            if (!is_dir && info.attributes & attr::DIRECTORY != 0)
                || (is_dir && info.attributes & attr::TEMPORARY != 0)
            {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            let keep = attr::READONLY
                | attr::HIDDEN
                | attr::SYSTEM
                | attr::ARCHIVE
                | attr::TEMPORARY
                | attr::OFFLINE;
            // Sparseness is set by FSCTL_SET_SPARSE, not here.
            let sparse = stat::stored_attributes(&*fd).unwrap_or(0) & attr::SPARSE_FILE;
            let a = (info.attributes & keep) | sparse;
            stat::store_attributes(&*fd, a).map_err(|e| from_io(&e))?;
        }
        Ok(())
    })
    .await
}

/// Parses a rename target (a full path from the share root; a leading
/// backslash is tolerated).
fn target_path(name: &str) -> NtResult<RelPath> {
    let t = path::parse(name.strip_prefix('\\').unwrap_or(name))?;
    if t.is_root() {
        return Err(NtStatus::OBJECT_NAME_INVALID);
    }
    Ok(t)
}

async fn rename(
    b: &DiskBackend,
    ctx: &RequestCtx,
    open: &Arc<Open>,
    replace: bool,
    root_dir: u64,
    name: &str,
) -> NtResult<()> {
    need(open, access::DELETE)?;
    if b.share.read_only {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if root_dir != 0 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if open.table.state.delete_pending() {
        return Err(NtStatus::DELETE_PENDING);
    }
    let target = target_path(name)?;
    let source = open.rel.lock().expect("rel").clone();
    if source.is_root() {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if open.is_dir && b.ctx.table.open_below(b.root_key, &source) {
        // Open files would lose their names.
        return Err(NtStatus::ACCESS_DENIED);
    }
    let root = b.root.clone();
    let links = b.links;
    let ctx2 = b.ctx.clone();
    let my_key = open.table.state.key;
    let is_dir = open.is_dir;
    let new_rel = creds::run_as(b.ctx.identity, &ctx.user, move || {
        let (resolved, exists) = path::resolve(root.as_fd(), &target, links)?;
        let src_parent = openat2(
            root.as_fd(),
            source.parent().for_open(),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            links,
        )
        .map_err(|e| from_io(&e))?;
        let dst_parent = openat2(
            root.as_fd(),
            resolved.parent().for_open(),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            links,
        )
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => NtStatus::OBJECT_PATH_NOT_FOUND,
            _ => from_io(&e),
        })?;
        let dkey = stat::fstat(&dst_parent)?.key();
        match ctx2.table.delete_opens(dkey) {
            (_, true) => return Err(NtStatus::DELETE_PENDING),
            (true, _) => return Err(NtStatus::SHARING_VIOLATION),
            _ => {}
        }
        let src_name: OsString = source
            .file_name()
            .ok_or(NtStatus::OBJECT_NAME_INVALID)?
            .to_os_string();
        let dst_name: OsString = resolved
            .file_name()
            .ok_or(NtStatus::OBJECT_NAME_INVALID)?
            .to_os_string();
        let mut same_file = false;
        if exists {
            let tst = stat::statx_at(dst_parent.as_fd(), std::path::Path::new(&dst_name))
                .map_err(|e| from_io(&e))?;
            same_file = tst.key() == my_key;
            if !same_file {
                if !replace {
                    return Err(NtStatus::OBJECT_NAME_COLLISION);
                }
                if tst.is_dir() {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                if ctx2.table.is_open(tst.key()) {
                    return Err(NtStatus::ACCESS_DENIED);
                }
            }
        }
        let flags = if exists || same_file {
            nix::fcntl::RenameFlags::empty()
        } else {
            nix::fcntl::RenameFlags::RENAME_NOREPLACE
        };
        nix::fcntl::renameat2(
            src_parent.as_fd(),
            src_name.as_os_str(),
            dst_parent.as_fd(),
            dst_name.as_os_str(),
            flags,
        )
        .map_err(|e| match e {
            nix::errno::Errno::EEXIST | nix::errno::Errno::ENOTEMPTY => {
                NtStatus::OBJECT_NAME_COLLISION
            }
            e => from_errno(e),
        })?;
        if !is_dir {
            // Windows reports a renamed file as also MODIFIED for
            // CHANGE_ATTRIBUTES and CHANGE_CREATION watchers (Samba does
            // the same). A rename alone makes no IN_ATTRIB; setting the
            // mode it already has does, and changes nothing else.
            // Through an O_PATH|O_NOFOLLOW descriptor: a symlink swapped in
            // meanwhile is seen and left alone.
            if let Ok(fd) = nix::fcntl::openat(
                dst_parent.as_fd(),
                dst_name.as_os_str(),
                nix::fcntl::OFlag::O_PATH
                    | nix::fcntl::OFlag::O_NOFOLLOW
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            ) && let Ok(st) = stat::fstat(&fd)
                && st.mode & libc::S_IFMT == libc::S_IFREG
            {
                let _ = nix::sys::stat::fchmodat(
                    nix::fcntl::AT_FDCWD,
                    &path::proc_path(&fd),
                    nix::sys::stat::Mode::from_bits_truncate(st.mode & 0o7777),
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                );
            }
        }
        Ok(resolved)
    })
    .await?;
    *open.rel.lock().expect("rel") = new_rel;
    Ok(())
}

async fn disposition(
    b: &DiskBackend,
    ctx: &RequestCtx,
    open: &Arc<Open>,
    delete: bool,
) -> NtResult<()> {
    if !delete {
        open.table.state.set_delete_pending(false);
        open.delete_on_close.store(false, Ordering::Relaxed);
        return Ok(());
    }
    need(open, access::DELETE)?;
    if b.share.read_only {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if open.rel.lock().expect("rel").is_root() {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let st = stat::fstat(&*open.fd)?;
    let name = open.name();
    if !st.is_dir()
        && stat::attributes(&st, stat::stored_attributes(&*open.fd), &name) & attr::READONLY != 0
    {
        return Err(NtStatus::CANNOT_DELETE);
    }
    if st.is_dir() {
        let fd = open.fd.clone();
        let kind = open.kind;
        let empty = creds::run_as(b.ctx.identity, &ctx.user, move || {
            if kind != FdKind::Dir {
                return Ok(true);
            }
            let dup = nix::fcntl::openat(
                fd.as_fd(),
                ".",
                nix::fcntl::OFlag::O_RDONLY
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(from_errno)?;
            let mut d = nix::dir::Dir::from_fd(dup).map_err(from_errno)?;
            Ok(d.iter()
                .filter_map(|e| e.ok())
                .all(|e| matches!(e.file_name().to_bytes(), b"." | b"..")))
        })
        .await?;
        if !empty {
            return Err(NtStatus::DIRECTORY_NOT_EMPTY);
        }
    }
    open.table.state.set_delete_pending(true);
    Ok(())
}

async fn size(b: &DiskBackend, open: &Arc<Open>, len: u64, allocation: bool) -> NtResult<()> {
    need(open, access::FILE_WRITE_DATA)?;
    if open.is_dir {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if !open.kind.writable() || b.share.read_only {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if len > i64::MAX as u64 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    open.table.state.break_level2();
    let fd = open.fd.clone();
    super::blocking(move || {
        if allocation {
            // Allocation only shrinks the file when below its size.
            let st = stat::fstat(&*fd)?;
            if len >= st.size {
                return Ok(());
            }
        }
        nix::unistd::ftruncate(&*fd, len as i64).map_err(from_errno)
    })
    .await
}

async fn full_ea(
    b: &DiskBackend,
    ctx: &RequestCtx,
    open: &Arc<Open>,
    eas: Vec<Ea>,
) -> NtResult<()> {
    need(open, access::FILE_WRITE_EA)?;
    if b.share.read_only {
        return Err(NtStatus::ACCESS_DENIED);
    }
    check_ea_names(&eas)?;
    let fd = open.fd.clone();
    creds::run_as(b.ctx.identity, &ctx.user, move || write_eas(&fd, &eas)).await
}

/// EA names are what Windows allows in them.
pub(super) fn check_ea_names(eas: &[Ea]) -> NtResult<()> {
    for ea in eas {
        if ea.name.is_empty()
            || ea.name.len() > 255
            || ea
                .name
                .chars()
                .any(|c| c.is_control() || "\"*/:<>?\\|".contains(c))
        {
            return Err(NtStatus(0xc000_0051)); // INVALID_EA_NAME
        }
    }
    Ok(())
}

/// Stores EAs as `user.NAME` extended attributes (as Samba does); an empty
/// value removes one.
pub(super) fn write_eas<F: AsFd>(fd: &F, eas: &[Ea]) -> NtResult<()> {
    let p = path::proc_path(fd);
    for ea in eas {
        let name = format!("user.{}", ea.name);
        let r = if ea.value.is_empty() {
            match stat::xattr_remove(&p, &name) {
                Err(e) if e.raw_os_error() == Some(libc::ENODATA) => Ok(()),
                r => r,
            }
        } else {
            stat::xattr_set(&p, &name, &ea.value)
        };
        r.map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTSUP) => NtStatus::EAS_NOT_SUPPORTED,
            Some(libc::E2BIG) | Some(libc::ENOSPC) => NtStatus::EA_TOO_LARGE,
            _ => from_io(&e),
        })?;
    }
    Ok(())
}

pub(super) async fn set_info(b: &DiskBackend, ctx: &RequestCtx, io: SetInfoIn) -> NtResult<()> {
    let open = b.get(io.file_id)?;
    match io.info {
        SetFileInfo::Basic(info) => basic(b, ctx, &open, info).await,
        SetFileInfo::Rename {
            replace_if_exists,
            root_directory,
            name,
        } => rename(b, ctx, &open, replace_if_exists, root_directory, &name).await,
        SetFileInfo::Disposition { delete_pending } => {
            disposition(b, ctx, &open, delete_pending).await
        }
        SetFileInfo::EndOfFile(n) => size(b, &open, n, false).await,
        SetFileInfo::Allocation(n) => size(b, &open, n, true).await,
        SetFileInfo::Position(n) => {
            open.position.store(n, Ordering::Relaxed);
            Ok(())
        }
        SetFileInfo::Mode(m) => {
            if m & !0x3e != 0 {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            open.mode.store(m, Ordering::Relaxed);
            Ok(())
        }
        SetFileInfo::FullEa(eas) => full_ea(b, ctx, &open, eas).await,
        SetFileInfo::ValidDataLength(_) => Err(NtStatus::NOT_SUPPORTED),
        SetFileInfo::Link { .. } => Err(NtStatus::NOT_SUPPORTED),
        SetFileInfo::ShortName(_) => Err(NtStatus::NOT_SUPPORTED),
        SetFileInfo::Security {
            additional,
            descriptor,
        } => security(b, ctx, &open, additional, descriptor).await,
        SetFileInfo::Other { .. } => Err(NtStatus::INVALID_INFO_CLASS),
    }
}

#[allow(dead_code)]
fn _links(_: Links) {}

/// The Unix id a SID of ours names: S-1-22-1-uid (users) or S-1-22-2-gid
/// (groups), as Samba maps them.
fn unix_id(sid: &Sid, kind: u32) -> Option<u32> {
    match sid.sub_authorities.as_slice() {
        [k, id] if sid.authority == 22 && *k == kind => Some(*id),
        _ => None,
    }
}

/// The rwx bits an allow entry's access mask gives.
fn mode_bits(mask: u32) -> u32 {
    const GENERIC_ALL: u32 = access::GENERIC_ALL;
    let mut bits = 0;
    if mask & (access::FILE_READ_DATA | access::GENERIC_READ | GENERIC_ALL) != 0 {
        bits |= 4;
    }
    if mask
        & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA | access::GENERIC_WRITE | GENERIC_ALL)
        != 0
    {
        bits |= 2;
    }
    if mask & (access::FILE_EXECUTE | access::GENERIC_EXECUTE | GENERIC_ALL) != 0 {
        bits |= 1;
    }
    bits
}

/// SET_INFO security: what the Unix file can hold of a security
/// descriptor. The owner and group become the file's (when they are Unix
/// ids we name, S-1-22-...); the DACL's allow entries for the owner, the
/// group and Everyone become the mode's rwx bits (deny entries and other
/// SIDs have no place in a mode and are left out); a NULL DACL is
/// everyone's full access. Querying gives back the descriptor of the mode.
async fn security(
    b: &DiskBackend,
    ctx: &RequestCtx,
    open: &Arc<Open>,
    additional: u32,
    sd: SecurityDescriptor,
) -> NtResult<()> {
    if additional & secinfo::SACL != 0 {
        return Err(NtStatus::PRIVILEGE_NOT_HELD);
    }
    if additional & secinfo::DACL != 0 {
        need(open, access::WRITE_DAC)?;
    }
    if additional & (secinfo::OWNER | secinfo::GROUP) != 0 {
        need(open, access::WRITE_OWNER)?;
    }
    if b.share.read_only {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let uid = match (&sd.owner, additional & secinfo::OWNER != 0) {
        (Some(s), true) => Some(unix_id(s, 1).ok_or(NtStatus(0xc000_005a))?), // INVALID_OWNER
        _ => None,
    };
    let gid = match (&sd.group, additional & secinfo::GROUP != 0) {
        (Some(s), true) => Some(unix_id(s, 2).ok_or(NtStatus(0xc000_005b))?), // INVALID_PRIMARY_GROUP
        _ => None,
    };
    let fd = open.fd.clone();
    let set_dacl = additional & secinfo::DACL != 0;
    creds::run_as(b.ctx.identity, &ctx.user, move || {
        let st = stat::fstat(&*fd)?;
        let p = path::proc_path(&*fd);
        if uid.is_some_and(|u| u != st.uid) || gid.is_some_and(|g| g != st.gid) {
            nix::unistd::fchownat(
                nix::fcntl::AT_FDCWD,
                &p,
                uid.map(nix::unistd::Uid::from_raw),
                gid.map(nix::unistd::Gid::from_raw),
                nix::fcntl::AtFlags::empty(),
            )
            .map_err(|e| match e {
                nix::errno::Errno::EPERM => NtStatus::ACCESS_DENIED,
                e => from_errno(e),
            })?;
        }
        if set_dacl {
            let owner = Sid::unix_user(uid.unwrap_or(st.uid));
            let group = Sid::unix_group(gid.unwrap_or(st.gid));
            let mode = match &sd.dacl {
                None => 0o777,
                Some(acl) => {
                    let mut mode = 0;
                    for ace in acl.aces.iter().filter(|a| a.kind == 0) {
                        // Inherit-only entries say nothing about this file.
                        if ace.flags & 0x08 != 0 {
                            continue;
                        }
                        let bits = mode_bits(ace.mask);
                        if ace.sid == owner {
                            mode |= bits << 6;
                        } else if ace.sid == group {
                            mode |= bits << 3;
                        } else if ace.sid == Sid::world() {
                            mode |= bits;
                        }
                    }
                    mode
                }
            };
            let mode = (st.mode & 0o7000) | mode;
            nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                &p,
                nix::sys::stat::Mode::from_bits_truncate(mode),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| match e {
                nix::errno::Errno::EPERM => NtStatus::ACCESS_DENIED,
                e => from_errno(e),
            })?;
        }
        Ok(())
    })
    .await
}
