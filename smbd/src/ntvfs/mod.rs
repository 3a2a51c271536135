//! NTVFS: the interface between the SMB2 front end and the backends that
//! give file operations their meaning (the seed guide's split).
//!
//! The front end parses each request completely into one of the `...In`
//! structures below, calls the tree's backend, and emits the `...Out` it
//! gets back. The structures hold everything the client sent, and nothing
//! of the wire format (no offsets, lengths, padding): backends decide what
//! to use. A backend may answer at once or much later (CHANGE_NOTIFY,
//! blocking locks); the front end answers the client asynchronously then.

pub mod disk;
pub mod info;
pub mod ipc;
pub mod types;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

pub use types::*;

use crate::wire::NtStatus;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type NtResult<T> = Result<T, NtStatus>;

/// Who a request runs as: the Unix user an SMB session maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    /// The SMB user name (for logs and `valid users`).
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub guest: bool,
}

/// What a backend knows about the request besides its parameters.
#[derive(Clone)]
pub struct RequestCtx {
    pub user: Arc<UserToken>,
    pub client: SocketAddr,
    pub message_id: u64,
    /// The negotiated dialect (0x0202 ... 0x0311).
    pub dialect: u16,
    /// Where to tell the client that an oplock it holds is broken (the
    /// seed's `ntvfs_send_break`): opens made by this request keep it.
    pub breaks: Arc<dyn OplockBreaks>,
    /// Lets the backend say the request will take a while.
    pub hint: AsyncHint,
}

impl std::fmt::Debug for RequestCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestCtx")
            .field("user", &self.user.name)
            .field("client", &self.client)
            .field("message_id", &self.message_id)
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

/// The front end's side of an oplock break: sends the client the
/// OPLOCK_BREAK notification for one of its handles. Must not block (it is
/// called with the file's state locked).
pub trait OplockBreaks: Send + Sync {
    fn send_break(&self, file_id: FileId, level: OplockLevel);
}

/// A backend that must wait (for an oplock break, say) calls
/// [`AsyncHint::going_async`] first: the front end then answers the client
/// with an interim response and goes on while the request waits.
#[derive(Clone, Default)]
pub struct AsyncHint(Arc<tokio::sync::Notify>);

impl AsyncHint {
    pub fn going_async(&self) {
        self.0.notify_one();
    }

    /// Completes once the backend said it goes async.
    pub async fn wait(&self) {
        self.0.notified().await;
    }
}

/// One backend instance serves one tree connect.
pub trait Ntvfs: Send + Sync {
    fn create<'a>(
        &'a self,
        ctx: &'a RequestCtx,
        io: CreateIn,
    ) -> BoxFuture<'a, NtResult<CreateOut>>;
    fn close<'a>(&'a self, ctx: &'a RequestCtx, io: CloseIn) -> BoxFuture<'a, NtResult<CloseOut>>;
    fn flush<'a>(&'a self, ctx: &'a RequestCtx, io: FlushIn) -> BoxFuture<'a, NtResult<()>>;
    fn read<'a>(&'a self, ctx: &'a RequestCtx, io: ReadIn) -> BoxFuture<'a, NtResult<ReadOut>>;
    fn write<'a>(&'a self, ctx: &'a RequestCtx, io: WriteIn) -> BoxFuture<'a, NtResult<WriteOut>>;
    fn lock<'a>(&'a self, ctx: &'a RequestCtx, io: LockIn) -> BoxFuture<'a, NtResult<()>>;
    fn ioctl<'a>(&'a self, ctx: &'a RequestCtx, io: IoctlIn) -> BoxFuture<'a, NtResult<IoctlOut>>;
    fn query_directory<'a>(
        &'a self,
        ctx: &'a RequestCtx,
        io: QueryDirIn,
    ) -> BoxFuture<'a, NtResult<QueryDirOut>>;
    fn notify<'a>(
        &'a self,
        ctx: &'a RequestCtx,
        io: NotifyIn,
    ) -> BoxFuture<'a, NtResult<NotifyOut>>;
    fn query_info<'a>(
        &'a self,
        ctx: &'a RequestCtx,
        io: QueryInfoIn,
    ) -> BoxFuture<'a, NtResult<QueryInfoOut>>;
    fn set_info<'a>(&'a self, ctx: &'a RequestCtx, io: SetInfoIn) -> BoxFuture<'a, NtResult<()>>;
    fn oplock_break<'a>(
        &'a self,
        ctx: &'a RequestCtx,
        io: OplockBreakIn,
    ) -> BoxFuture<'a, NtResult<OplockBreakOut>>;
    /// The tree is going away (TREE_DISCONNECT, LOGOFF, connection lost):
    /// close every open of it.
    fn disconnect<'a>(&'a self) -> BoxFuture<'a, ()>;
}
