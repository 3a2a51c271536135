//! CREATE and CLOSE on the disk backend (MS-FSA 2.1.5.1, 2.1.5.4).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::path::{self, Links, RelPath, openat2};
use super::stat::{self, Stat};
use super::{DiskBackend, FdKind, Open, creds, dir};
use crate::ntvfs::types::{access, attr, disposition, options};
use crate::ntvfs::*;
use crate::wire::NtStatus;
use crate::wire::status::from_io;

/// Access bits that read or change a file's data.
const READ_DATA: u32 = access::FILE_READ_DATA | access::FILE_EXECUTE;
const WRITE_DATA: u32 = access::FILE_WRITE_DATA | access::FILE_APPEND_DATA;

struct Opened {
    fd: OwnedFd,
    kind: FdKind,
    st: Stat,
    rel: Arc<std::sync::Mutex<RelPath>>,
    action: CreateAction,
    granted: u32,
    table: super::filetable::OpenRef,
    oplock: OplockLevel,
    attributes: u32,
    /// A creation time a client set, if any.
    created: Option<u64>,
    maximal: u32,
}

/// One try at opening: done, or oplocks of other opens must break first.
enum Attempt {
    Opened(Box<Opened>),
    Wait(super::filetable::BreakWait),
    /// Someone else created the name between our lookup and our create;
    /// a disposition that accepts an existing file looks again.
    Raced,
}

/// Whether the user may delete entries of directory `parent` (and this
/// one, owned by `owner`, given the sticky bit).
fn can_delete(root: &OwnedFd, parent: &RelPath, owner: u32, links: Links) -> bool {
    let Ok(pfd) = openat2(
        root.as_fd(),
        parent.for_open(),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        links,
    ) else {
        return false;
    };
    let ok = nix::unistd::faccessat(
        pfd.as_fd(),
        ".",
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        nix::fcntl::AtFlags::AT_EACCESS,
    )
    .is_ok();
    if !ok {
        return false;
    }
    let Ok(pst) = stat::fstat(&pfd) else {
        return false;
    };
    let me = nix::unistd::geteuid().as_raw();
    pst.mode & libc::S_ISVTX == 0 || me == 0 || me == owner || me == pst.uid
}

fn may(fd: &OwnedFd, how: nix::unistd::AccessFlags) -> bool {
    nix::unistd::faccessat(
        fd.as_fd(),
        "",
        how,
        nix::fcntl::AtFlags::AT_EACCESS | nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .is_ok()
}

/// The most a user may get on an existing file (MxAc, MAXIMUM_ALLOWED).
fn maximal_access(
    root: &OwnedFd,
    rel: &RelPath,
    fd: &OwnedFd,
    st: &Stat,
    links: Links,
    read_only: bool,
) -> u32 {
    use nix::unistd::AccessFlags;
    if nix::unistd::geteuid().is_root() {
        // Root may do anything (as in Samba).
        let mut m = access::FILE_ALL_ACCESS;
        if read_only {
            m &= !access::WRITE_RIGHTS;
        }
        if rel.is_root() {
            m &= !access::DELETE;
        }
        return m;
    }
    let mut m = access::READ_CONTROL | access::SYNCHRONIZE | access::FILE_READ_ATTRIBUTES;
    if may(fd, AccessFlags::R_OK) {
        m |= access::FILE_GENERIC_READ;
    }
    if may(fd, AccessFlags::X_OK) || st.is_dir() {
        m |= access::FILE_EXECUTE;
    }
    if may(fd, AccessFlags::W_OK) {
        m |= access::FILE_GENERIC_WRITE;
        if st.is_dir() {
            m |= access::FILE_DELETE_CHILD;
        }
    }
    let me = nix::unistd::geteuid().as_raw();
    if me == 0 || me == st.uid {
        m |= access::FILE_WRITE_ATTRIBUTES
            | access::FILE_WRITE_EA
            | access::WRITE_DAC
            | access::WRITE_OWNER;
    }
    if !rel.is_root() && can_delete(root, &rel.parent(), st.uid, links) {
        m |= access::DELETE;
    }
    if read_only {
        m &= !access::WRITE_RIGHTS;
    }
    m
}

fn io_status(e: std::io::Error) -> NtStatus {
    match e.raw_os_error() {
        Some(libc::EXDEV) | Some(libc::ELOOP) => NtStatus::ACCESS_DENIED,
        Some(libc::ENOENT) => NtStatus::OBJECT_NAME_NOT_FOUND,
        _ => from_io(&e),
    }
}

struct Params {
    rel: RelPath,
    access: u32,
    share: u32,
    disposition: u32,
    options: u32,
    file_attributes: u32,
    share_cfg: super::DiskShare,
    links: Links,
    oplock: OplockLevel,
    file_id: FileId,
    breaks: Arc<dyn OplockBreaks>,
    first_attempt: bool,
    /// From the ExtA and AlSi contexts, for a file created or overwritten.
    eas: Vec<crate::ntvfs::info::Ea>,
    allocation: Option<u64>,
    root_key: super::filetable::FileKey,
}

fn open_blocking(
    root: Arc<OwnedFd>,
    ctx: Arc<super::DiskContext>,
    p: Params,
) -> Result<Attempt, NtStatus> {
    let (rel, exists) = path::resolve(root.as_fd(), &p.rel, p.links)?;
    let want_dir = p.options & options::DIRECTORY_FILE != 0;
    let want_file = p.options & options::NON_DIRECTORY_FILE != 0;
    let max_allowed = p.access & access::MAXIMUM_ALLOWED != 0;
    let mut access_ = p.access & !access::MAXIMUM_ALLOWED;
    let truncating;
    let action;
    let created_fd: Option<OwnedFd>;
    // A file made read-only by this very create cannot be deleted on close.
    let sets_attributes = if exists {
        !matches!(
            p.disposition,
            disposition::OPEN | disposition::OPEN_IF | disposition::CREATE
        )
    } else {
        !matches!(p.disposition, disposition::OPEN | disposition::OVERWRITE)
    };
    let makes_readonly = p.file_attributes & attr::READONLY != 0 && sets_attributes;
    if makes_readonly && p.options & options::DELETE_ON_CLOSE != 0 {
        return Err(NtStatus::CANNOT_DELETE);
    }
    if exists {
        match p.disposition {
            disposition::CREATE => return Err(NtStatus::OBJECT_NAME_COLLISION),
            disposition::OPEN | disposition::OPEN_IF => {
                truncating = false;
                action = CreateAction::Opened;
            }
            disposition::OVERWRITE | disposition::OVERWRITE_IF => {
                truncating = true;
                action = CreateAction::Overwritten;
            }
            _ => {
                truncating = true;
                action = CreateAction::Superseded;
            }
        }
        created_fd = None;
    } else {
        if matches!(p.disposition, disposition::OPEN | disposition::OVERWRITE) {
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        }
        if p.share_cfg.read_only {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let parent = openat2(
            root.as_fd(),
            rel.parent().for_open(),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            p.links,
        )
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => NtStatus::OBJECT_PATH_NOT_FOUND,
            _ => io_status(e),
        })?;
        let name = rel
            .file_name()
            .ok_or(NtStatus::OBJECT_NAME_INVALID)?
            .to_os_string();
        let may_exist = p.disposition != disposition::CREATE;
        let fd = if want_dir {
            match nix::sys::stat::mkdirat(
                parent.as_fd(),
                name.as_os_str(),
                nix::sys::stat::Mode::from_bits_truncate(0o777 & p.share_cfg.directory_mask),
            ) {
                Ok(()) => {}
                Err(nix::errno::Errno::EEXIST) if may_exist => return Ok(Attempt::Raced),
                Err(e) => return Err(crate::wire::status::from_errno(e)),
            }
            openat2(
                parent.as_fd(),
                std::path::Path::new(&name),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
                Links::Beneath,
            )
            .map_err(io_status)?
        } else {
            let rw = libc::O_RDWR;
            match openat2(
                parent.as_fd(),
                std::path::Path::new(&name),
                libc::O_CREAT | libc::O_EXCL | rw | libc::O_NONBLOCK,
                0o666 & p.share_cfg.create_mask,
                Links::Beneath,
            )
            .or_else(|e| {
                // Without read permission on what we create (create
                // mask), open it for writing only. When that fails too,
                // the create itself was refused (no write permission on
                // the directory): report that, not the missing file.
                if e.raw_os_error() == Some(libc::EACCES) {
                    openat2(
                        parent.as_fd(),
                        std::path::Path::new(&name),
                        libc::O_WRONLY | libc::O_NONBLOCK,
                        0,
                        Links::Beneath,
                    )
                    .map_err(|_| e)
                } else {
                    Err(e)
                }
            }) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) && may_exist => {
                    return Ok(Attempt::Raced);
                }
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                    return Err(NtStatus::OBJECT_NAME_COLLISION);
                }
                Err(e) => return Err(io_status(e)),
            }
        };
        truncating = false;
        action = CreateAction::Created;
        created_fd = Some(fd);
    }

    // Learn what the name is before opening it for data.
    let probe = match &created_fd {
        Some(_) => None,
        None => Some(
            openat2(root.as_fd(), rel.for_open(), libc::O_PATH, 0, p.links).map_err(io_status)?,
        ),
    };
    let st = match (&created_fd, &probe) {
        (Some(fd), _) | (None, Some(fd)) => stat::fstat(fd)?,
        (None, None) => unreachable!("one of them is set"),
    };
    let is_dir = st.is_dir();
    if st.mode & libc::S_IFMT != libc::S_IFREG && !is_dir {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if is_dir && want_file {
        return Err(NtStatus::FILE_IS_A_DIRECTORY);
    }
    if !is_dir && want_dir {
        return Err(NtStatus::NOT_A_DIRECTORY);
    }
    if is_dir && truncating {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if rel.is_root() && (access_ & access::DELETE != 0 || p.options & options::DELETE_ON_CLOSE != 0)
    {
        return Err(NtStatus::ACCESS_DENIED);
    }

    let maximal = {
        let fd = created_fd
            .as_ref()
            .or(probe.as_ref())
            .expect("a descriptor");
        maximal_access(&root, &rel, fd, &st, p.links, p.share_cfg.read_only)
    };
    if max_allowed {
        access_ |= maximal;
    }
    if access_
        & !maximal
        & (access::DELETE | access::FILE_WRITE_ATTRIBUTES | access::WRITE_DAC | access::WRITE_OWNER)
        != 0
        && action != CreateAction::Created
    {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if p.share_cfg.read_only && (access_ & access::WRITE_RIGHTS != 0 || truncating) {
        return Err(NtStatus::ACCESS_DENIED);
    }

    let want_read = access_ & READ_DATA != 0;
    let want_write = access_ & WRITE_DATA != 0 || truncating;
    let (fd, kind) = match created_fd {
        Some(fd) if is_dir => (fd, FdKind::Dir),
        Some(fd) => {
            // Created O_RDWR (or O_WRONLY when the create mask denies read).
            let kind = if may(&fd, nix::unistd::AccessFlags::R_OK) {
                FdKind::ReadWrite
            } else {
                FdKind::Write
            };
            (fd, kind)
        }
        None if is_dir => {
            let fd = openat2(
                root.as_fd(),
                rel.for_open(),
                libc::O_RDONLY | libc::O_DIRECTORY,
                0,
                p.links,
            );
            match fd {
                Ok(fd) => (fd, FdKind::Dir),
                Err(e) if e.raw_os_error() == Some(libc::EACCES) && !want_read => {
                    (probe.expect("probe"), FdKind::Path)
                }
                Err(e) => return Err(io_status(e)),
            }
        }
        None => {
            let (flags, kind) = match (want_read, want_write) {
                (false, false) => (libc::O_PATH, FdKind::Path),
                (true, false) => (libc::O_RDONLY, FdKind::Read),
                (false, true) => (libc::O_WRONLY, FdKind::Write),
                (true, true) => (libc::O_RDWR, FdKind::ReadWrite),
            };
            if kind == FdKind::Path {
                (probe.expect("probe"), kind)
            } else {
                (
                    openat2(
                        root.as_fd(),
                        rel.for_open(),
                        flags | libc::O_NONBLOCK,
                        0,
                        p.links,
                    )
                    .map_err(io_status)?,
                    kind,
                )
            }
        }
    };
    // The name may have changed between the probe and the open.
    let st2 = stat::fstat(&fd)?;
    if st2.key() != st.key() {
        return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
    }

    if p.options & options::DELETE_ON_CLOSE != 0 {
        if access_ & access::DELETE == 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let stored = stat::stored_attributes(&fd);
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if stat::attributes(&st, stored, &name) & attr::READONLY != 0 {
            return Err(NtStatus::CANNOT_DELETE);
        }
    }

    let oplock_req = super::filetable::OplockRequest {
        level: p.oplock,
        will_overwrite: truncating,
        is_dir,
        file_id: p.file_id,
        sink: p.breaks.clone(),
        first_attempt: p.first_attempt,
        root: p.root_key,
        path: Arc::new(std::sync::Mutex::new(rel.clone())),
    };
    // Oplocks are broken before anything changes (the truncation below).
    let (table, oplock) = match ctx.table.admit(st.key(), access_, p.share, &oplock_req)? {
        super::filetable::Admit::Opened(r, level) => (r, level),
        super::filetable::Admit::Wait(w) => return Ok(Attempt::Wait(w)),
    };
    let finish = || -> Result<(u32, Option<u64>), NtStatus> {
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if truncating {
            nix::unistd::ftruncate(&fd, 0).map_err(crate::wire::status::from_errno)?;
        }
        if action != CreateAction::Opened {
            if !p.eas.is_empty() {
                super::setinfo::write_eas(&fd, &p.eas)?;
            }
            if let Some(len) = p.allocation.filter(|&l| l > 0 && !is_dir) {
                // Reserve the space without changing the size; a file
                // system that cannot just reports less.
                let _ = nix::fcntl::fallocate(
                    &fd,
                    nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE,
                    0,
                    len.min(i64::MAX as u64) as i64,
                );
            }
        }
        if action != CreateAction::Opened {
            let wanted = p.file_attributes
                & (attr::READONLY
                    | attr::HIDDEN
                    | attr::SYSTEM
                    | attr::ARCHIVE
                    | attr::TEMPORARY
                    | attr::OFFLINE);
            let a = if is_dir {
                wanted
            } else {
                wanted | attr::ARCHIVE
            };
            if a != attr::ARCHIVE && a != 0 {
                let _ = stat::store_attributes(&fd, a);
            }
        }
        let dos = stat::dos_info(&fd);
        Ok((
            stat::attributes(&stat::fstat(&fd)?, dos.attributes, &name),
            dos.created,
        ))
    };
    let (attributes, created) = match finish() {
        Ok(a) => a,
        Err(e) => {
            ctx.table.close(&table, false);
            return Err(e);
        }
    };
    let st = match stat::fstat(&fd) {
        Ok(st) => st,
        Err(e) => {
            ctx.table.close(&table, false);
            return Err(e);
        }
    };
    Ok(Attempt::Opened(Box::new(Opened {
        fd,
        kind,
        st,
        rel: oplock_req.path.clone(),
        action,
        granted: access_,
        table,
        oplock,
        attributes,
        created,
        maximal,
    })))
}

pub(super) async fn create(b: &DiskBackend, ctx: &RequestCtx, io: CreateIn) -> NtResult<CreateOut> {
    let r = create_inner(b, ctx, &io).await;
    if let Err(s) = &r {
        tracing::debug!(target: "smbd::disk", name = %io.name, access = format_args!("{:#x}", io.desired_access), share = io.share_access, disposition = io.disposition, options = format_args!("{:#x}", io.options), attributes = format_args!("{:#x}", io.file_attributes), contexts = io.contexts.len(), "create failed: {s}");
    }
    r
}

async fn create_inner(b: &DiskBackend, ctx: &RequestCtx, io: &CreateIn) -> NtResult<CreateOut> {
    let io = io.clone();
    let rel = path::parse(&io.name)?;
    if io.options & options::DIRECTORY_FILE != 0 && io.options & options::NON_DIRECTORY_FILE != 0 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if io.disposition > disposition::OVERWRITE_IF {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if io.options & options::DIRECTORY_FILE != 0
        && !matches!(
            io.disposition,
            disposition::CREATE | disposition::OPEN | disposition::OPEN_IF
        )
    {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    // What Windows answers for the option, access and attribute bits it
    // does not take (smbtorture smb2.create.gentest).
    if io.options & 0xff00_0000 != 0 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    const UNSUPPORTED_OPTIONS: u32 = 0x0000_0080 // CREATE_TREE_CONNECTION
        | options::OPEN_BY_FILE_ID
        | 0x0010_0000; // RESERVE_OPFILTER
    if io.options & UNSUPPORTED_OPTIONS != 0 {
        return Err(NtStatus::NOT_SUPPORTED);
    }
    // Reserved access bits (MS-SMB2 3.3.5.9).
    if io.desired_access & 0x0ce0_fe00 != 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if io.desired_access & access::ACCESS_SYSTEM_SECURITY != 0 {
        // No SACLs here, for anyone.
        return Err(NtStatus::PRIVILEGE_NOT_HELD);
    }
    if io.file_attributes & 0xffff_8048 != 0 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if io.file_attributes & attr::ENCRYPTED != 0 && io.disposition != disposition::OPEN {
        // No EFS (as a standalone Windows server answers).
        return Err(NtStatus::ACCESS_DENIED);
    }
    if io.impersonation > 3 {
        return Err(NtStatus(0xc000_00a5)); // BAD_IMPERSONATION_LEVEL
    }
    let access_ = access::map_generic(io.desired_access);
    if access_ == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if io.options & options::DELETE_ON_CLOSE != 0
        && access_ & (access::DELETE | access::MAXIMUM_ALLOWED) == 0
    {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let mut eas = Vec::new();
    let mut allocation = None;
    for c in &io.contexts {
        match c.name.as_slice() {
            // Names are at least 4 bytes (MS-SMB2 2.2.13.2).
            n if n.len() < 4 => return Err(NtStatus::INVALID_PARAMETER),
            b"ExtA" => {
                eas = crate::wire::info::parse_ea_list(&c.data)
                    .map_err(|_| NtStatus::INVALID_PARAMETER)?;
                super::setinfo::check_ea_names(&eas)?;
            }
            b"AlSi" => {
                let v: [u8; 8] = c
                    .data
                    .get(..8)
                    .and_then(|d| d.try_into().ok())
                    .ok_or(NtStatus::INVALID_PARAMETER)?;
                allocation = Some(u64::from_le_bytes(v));
            }
            // Previous versions (snapshots): there are none here.
            b"TWrp" => return Err(NtStatus::OBJECT_NAME_NOT_FOUND),
            _ => {}
        }
    }
    let deadline = tokio::time::Instant::now() + super::filetable::BREAK_TIMEOUT;
    let mut first_attempt = true;
    let mut races = 0;
    let o = loop {
        let params = Params {
            rel: rel.clone(),
            access: access_,
            share: io.share_access,
            disposition: io.disposition,
            options: io.options,
            file_attributes: io.file_attributes,
            share_cfg: b.share.clone(),
            links: b.links,
            oplock: io.oplock,
            file_id: io.file_id,
            breaks: ctx.breaks.clone(),
            first_attempt,
            eas: eas.clone(),
            allocation,
            root_key: b.root_key,
        };
        let root = b.root.clone();
        let dctx = b.ctx.clone();
        match creds::run_as(b.ctx.identity, &ctx.user, move || {
            open_blocking(root, dctx, params)
        })
        .await?
        {
            Attempt::Opened(o) => break o,
            Attempt::Raced if races < 3 => races += 1,
            Attempt::Raced => return Err(NtStatus::OBJECT_NAME_COLLISION),
            Attempt::Wait(w) => {
                tracing::debug!(target: "smbd::disk", share = %b.share.name, name = %io.name, "waiting for an oplock break");
                ctx.hint.going_async();
                w.wait(deadline).await;
                first_attempt = false;
            }
        }
    };

    let mut contexts = Vec::new();
    for c in &io.contexts {
        match c.name.as_slice() {
            b"MxAc" => {
                let mut d = Vec::with_capacity(8);
                d.extend_from_slice(&0u32.to_le_bytes());
                d.extend_from_slice(&o.maximal.to_le_bytes());
                contexts.push(CreateContext {
                    name: b"MxAc".to_vec(),
                    data: d,
                });
            }
            b"QFid" => {
                let mut d = Vec::with_capacity(32);
                d.extend_from_slice(&o.st.ino.to_le_bytes());
                d.extend_from_slice(&o.st.dev.to_le_bytes());
                d.extend_from_slice(&[0; 16]);
                contexts.push(CreateContext {
                    name: b"QFid".to_vec(),
                    data: d,
                });
            }
            _ => {}
        }
    }
    let info = stat::network_open_info(&o.st, o.attributes, o.created);
    let open = Arc::new(Open {
        id: io.file_id,
        fd: Arc::new(o.fd),
        kind: o.kind,
        is_dir: o.st.is_dir(),
        access: o.granted,
        rel: o.rel,
        table: o.table,
        delete_on_close: AtomicBool::new(io.options & options::DELETE_ON_CLOSE != 0),
        position: AtomicU64::new(0),
        mode: AtomicU32::new(
            io.options
                & (options::WRITE_THROUGH
                    | options::SEQUENTIAL_ONLY
                    | options::NO_INTERMEDIATE_BUFFERING
                    | options::SYNCHRONOUS_IO_ALERT
                    | options::SYNCHRONOUS_IO_NONALERT
                    | options::DELETE_ON_CLOSE),
        ),
        dir: tokio::sync::Mutex::new(dir::Cursor::default()),
        watch: tokio::sync::Mutex::new(None),
        user: ctx.user.clone(),
    });
    b.opens
        .lock()
        .expect("opens")
        .insert(io.file_id.volatile, open);
    tracing::debug!(target: "smbd::disk", share = %b.share.name, name = %io.name, action = ?o.action, "open");
    Ok(CreateOut {
        oplock: o.oplock,
        flags: 0,
        action: o.action,
        info,
        file_id: io.file_id,
        contexts,
    })
}

/// Unregisters `open` and carries out a pending delete.
async fn finish_close(b: &DiskBackend, user: &Arc<UserToken>, open: Arc<Open>) {
    let doc = open.delete_on_close.load(Ordering::Relaxed);
    let closed = b.ctx.table.close(&open.table, doc);
    if !closed.delete {
        return;
    }
    let rel = open.rel.lock().expect("rel").clone();
    let root = b.root.clone();
    let links = b.links;
    let is_dir = open.is_dir;
    let r = creds::run_as(b.ctx.identity, user, move || {
        let parent = openat2(
            root.as_fd(),
            rel.parent().for_open(),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            links,
        )
        .map_err(io_status)?;
        let name = rel.file_name().ok_or(NtStatus::OBJECT_NAME_INVALID)?;
        let flag = if is_dir {
            nix::unistd::UnlinkatFlags::RemoveDir
        } else {
            nix::unistd::UnlinkatFlags::NoRemoveDir
        };
        nix::unistd::unlinkat(parent.as_fd(), name, flag).map_err(crate::wire::status::from_errno)
    })
    .await;
    if let Err(e) = r {
        tracing::info!(target: "smbd::disk", share = %b.share.name, "delete on close failed: {e}");
    }
}

pub(super) async fn close(b: &DiskBackend, ctx: &RequestCtx, io: CloseIn) -> NtResult<CloseOut> {
    let open = b.get(io.file_id)?;
    b.opens.lock().expect("opens").remove(&io.file_id.volatile);
    let info = if io.postquery {
        let st = stat::fstat(&*open.fd)?;
        let name = open.name();
        let dos = stat::dos_info(&*open.fd);
        Some(stat::network_open_info(
            &st,
            stat::attributes(&st, dos.attributes, &name),
            dos.created,
        ))
    } else {
        None
    };
    finish_close(b, &ctx.user, open).await;
    Ok(CloseOut { info })
}

pub(super) async fn close_all(b: &DiskBackend) {
    let all: Vec<Arc<Open>> = b
        .opens
        .lock()
        .expect("opens")
        .drain()
        .map(|(_, o)| o)
        .collect();
    for open in all {
        let user = open.user.clone();
        finish_close(b, &user, open).await;
    }
}
