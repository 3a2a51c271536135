//! The disk backend: SMB semantics on a POSIX file system (the seed's
//! "posix" NTVFS backend). One instance serves one tree connect; what all
//! trees share (which files are open how) is in [`DiskContext`].

pub mod creds;
pub mod filetable;
pub mod notify;
pub mod path;
pub mod stat;

mod dir;
mod fsctl;
mod io;
mod mangle;
mod open;
mod query;
mod setinfo;

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex};

use self::creds::Identity;
use self::filetable::{FileTable, OpenRef};
use self::path::{Links, RelPath};
use super::*;
use crate::wire::NtStatus;

/// A disk share as smb.conf describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskShare {
    pub name: String,
    pub path: PathBuf,
    pub read_only: bool,
    pub create_mask: u32,
    pub directory_mask: u32,
    pub wide_links: bool,
}

/// Server-wide state of the disk backend.
#[derive(Debug)]
pub struct DiskContext {
    pub table: FileTable,
    pub identity: Identity,
    /// The inotify instance behind every CHANGE_NOTIFY, made on first use
    /// (it needs the runtime, which may not run yet when this is built).
    notifier: Mutex<Option<notify::Notifier>>,
    /// Resume keys handed out (FSCTL_SRV_REQUEST_RESUME_KEY), for copies
    /// from one tree to another.
    resume_keys: Mutex<HashMap<[u8; 24], std::sync::Weak<Open>>>,
}

impl DiskContext {
    pub fn new() -> DiskContext {
        DiskContext {
            table: FileTable::new(),
            identity: Identity::detect(),
            notifier: Mutex::new(None),
            resume_keys: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn remember_resume_key(&self, key: [u8; 24], open: &Arc<Open>) {
        let mut keys = self.resume_keys.lock().unwrap_or_else(|e| e.into_inner());
        // Keys of closed handles go now and then.
        keys.retain(|_, o| o.strong_count() > 0);
        keys.insert(key, Arc::downgrade(open));
    }

    pub(crate) fn resume_key(&self, key: &[u8; 24]) -> Option<Arc<Open>> {
        let keys = self.resume_keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(key).and_then(std::sync::Weak::upgrade)
    }

    pub(crate) fn notifier(&self) -> Result<notify::Notifier, notify::NotifyError> {
        let mut n = self.notifier.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = &*n {
            return Ok(n.clone());
        }
        let made = notify::Notifier::new()?;
        *n = Some(made.clone());
        Ok(made)
    }
}

impl Default for DiskContext {
    fn default() -> Self {
        DiskContext::new()
    }
}

/// What a descriptor of an open allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// O_PATH: attributes only.
    Path,
    Read,
    Write,
    ReadWrite,
    Dir,
}

impl FdKind {
    fn readable(self) -> bool {
        matches!(self, FdKind::Read | FdKind::ReadWrite)
    }

    fn writable(self) -> bool {
        matches!(self, FdKind::Write | FdKind::ReadWrite)
    }
}

/// One open file or directory.
pub(crate) struct Open {
    pub id: FileId,
    pub fd: Arc<OwnedFd>,
    pub kind: FdKind,
    pub is_dir: bool,
    pub access: u32,
    /// Its path in the share, shared with the file table (which looks for
    /// opens below a directory being renamed).
    pub rel: Arc<Mutex<RelPath>>,
    pub table: OpenRef,
    pub delete_on_close: AtomicBool,
    pub position: AtomicU64,
    pub mode: AtomicU32,
    pub dir: tokio::sync::Mutex<dir::Cursor>,
    pub watch: tokio::sync::Mutex<Option<HandleWatch>>,
    /// Who opened it (a delete on close runs as them).
    pub user: Arc<UserToken>,
}

impl Open {
    /// The last component of its path ("" for the share root), as the
    /// attribute rules (a leading dot means hidden) look at it.
    pub fn name(&self) -> String {
        self.rel
            .lock()
            .expect("rel")
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Runs blocking file system work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, NtStatus> + Send + 'static,
) -> Result<T, NtStatus> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| NtStatus::INTERNAL_ERROR)?
}

/// A directory handle's change notification. As on Windows and in Samba,
/// the first CHANGE_NOTIFY on a handle fixes the completion filter and the
/// recursion until the handle is closed; its output buffer size caps every
/// later request's.
#[derive(Clone)]
pub(crate) struct HandleWatch {
    pub watch: Arc<notify::DirWatch>,
    /// Requests waiting on the handle are answered in the order they came
    /// (tokio's mutex is fair).
    pub order: Arc<tokio::sync::Mutex<()>>,
    pub filter: u32,
    pub max_output: u32,
}

pub struct DiskBackend {
    share: DiskShare,
    ctx: Arc<DiskContext>,
    root: Arc<OwnedFd>,
    /// The share root's device and inode: opens of one share are told
    /// apart from another's in the file table by it.
    root_key: filetable::FileKey,
    links: Links,
    opens: Mutex<HashMap<u64, Arc<Open>>>,
}

impl DiskBackend {
    /// Connects `user` to `share`: opens the share root as that user, so a
    /// share they cannot enter is refused now.
    pub async fn connect(
        share: DiskShare,
        ctx: Arc<DiskContext>,
        user: &Arc<UserToken>,
    ) -> NtResult<DiskBackend> {
        let p = share.path.clone();
        let root = creds::run_as(ctx.identity, user, move || {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(&p)
                .map_err(|e| {
                    tracing::warn!(target: "smbd::disk", path = %p.display(), "cannot open the share: {e}");
                    match e.kind() {
                        std::io::ErrorKind::NotFound => NtStatus::BAD_NETWORK_NAME,
                        _ => crate::wire::status::from_io(&e),
                    }
                })?;
            Ok(OwnedFd::from(f))
        })
        .await?;
        let links = if share.wide_links {
            Links::Wide
        } else {
            Links::Beneath
        };
        let root_key = stat::fstat(&root)?.key();
        Ok(DiskBackend {
            share,
            ctx,
            root: Arc::new(root),
            root_key,
            links,
            opens: Mutex::new(HashMap::new()),
        })
    }

    fn get(&self, id: FileId) -> NtResult<Arc<Open>> {
        let opens = self.opens.lock().expect("opens");
        match opens.get(&id.volatile) {
            Some(o) if o.id.persistent == id.persistent => Ok(o.clone()),
            _ => Err(NtStatus::FILE_CLOSED),
        }
    }
}

use std::os::unix::fs::OpenOptionsExt;

impl Ntvfs for DiskBackend {
    fn create<'a>(
        &'a self,
        ctx: &'a RequestCtx,
        io: CreateIn,
    ) -> BoxFuture<'a, NtResult<CreateOut>> {
        Box::pin(open::create(self, ctx, io))
    }

    fn close<'a>(&'a self, ctx: &'a RequestCtx, io: CloseIn) -> BoxFuture<'a, NtResult<CloseOut>> {
        Box::pin(open::close(self, ctx, io))
    }

    fn flush<'a>(&'a self, _ctx: &'a RequestCtx, io: FlushIn) -> BoxFuture<'a, NtResult<()>> {
        Box::pin(io::flush(self, io))
    }

    fn read<'a>(&'a self, _ctx: &'a RequestCtx, io: ReadIn) -> BoxFuture<'a, NtResult<ReadOut>> {
        Box::pin(io::read(self, io))
    }

    fn write<'a>(&'a self, _ctx: &'a RequestCtx, io: WriteIn) -> BoxFuture<'a, NtResult<WriteOut>> {
        Box::pin(io::write(self, io))
    }

    fn lock<'a>(&'a self, _ctx: &'a RequestCtx, io: LockIn) -> BoxFuture<'a, NtResult<()>> {
        Box::pin(io::lock(self, io))
    }

    fn ioctl<'a>(&'a self, ctx: &'a RequestCtx, io: IoctlIn) -> BoxFuture<'a, NtResult<IoctlOut>> {
        Box::pin(fsctl::ioctl(self, ctx, io))
    }

    fn query_directory<'a>(
        &'a self,
        ctx: &'a RequestCtx,
        io: QueryDirIn,
    ) -> BoxFuture<'a, NtResult<QueryDirOut>> {
        Box::pin(dir::query_directory(self, ctx, io))
    }

    fn notify<'a>(
        &'a self,
        _ctx: &'a RequestCtx,
        io: NotifyIn,
    ) -> BoxFuture<'a, NtResult<NotifyOut>> {
        Box::pin(dir::notify(self, io))
    }

    fn query_info<'a>(
        &'a self,
        ctx: &'a RequestCtx,
        io: QueryInfoIn,
    ) -> BoxFuture<'a, NtResult<QueryInfoOut>> {
        Box::pin(query::query_info(self, ctx, io))
    }

    fn set_info<'a>(&'a self, ctx: &'a RequestCtx, io: SetInfoIn) -> BoxFuture<'a, NtResult<()>> {
        Box::pin(setinfo::set_info(self, ctx, io))
    }

    fn oplock_break<'a>(
        &'a self,
        _ctx: &'a RequestCtx,
        io: OplockBreakIn,
    ) -> BoxFuture<'a, NtResult<OplockBreakOut>> {
        Box::pin(async move {
            let open = self.get(io.file_id)?;
            let level = open.table.state.acknowledge(open.table.id, io.level)?;
            Ok(OplockBreakOut { level })
        })
    }

    fn disconnect<'a>(&'a self) -> BoxFuture<'a, ()> {
        Box::pin(open::close_all(self))
    }
}
