//! The CNID client library.
//!
//! A [`Client`] holds one connection to the cnid_dbd of one volume (reached
//! through cnid_metad, or directly through the cnid_dbd's own socket). When
//! the connection breaks because its cnid_dbd was killed, evicted it or
//! restarted, the next request reconnects (cnid_metad starts a new cnid_dbd
//! if needed) and is sent once more. If the database came back with another
//! stamp, the ids the caller holds are void and the call fails with
//! [`CnidError::DatabaseReplaced`] instead.
//!
//! The client is generic over its [`Transport`]: [`AsyncConn`] (tokio, for
//! daemons serving many clients at once) or [`BlockingConn`] (plain
//! blocking socket calls, for tools and synchronous callers: a request
//! costs two system calls instead of three, and the futures complete when
//! first polled).

use std::future::Future;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::CnidError;
use super::proto::{
    self, Hello, MAX_REPLY, MAX_REQUEST, PROTOCOL_VERSION, Reply, Request, Status, VerifyReport,
    Welcome,
};
use super::types::{Cnid, Entry, Name, Record, Stamp};
use crate::frame::{BlockingFramed, FrameError, Framed};

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// cnid_metad's socket, or a cnid_dbd's own socket.
    pub socket: PathBuf,
    /// The volume root (absolute).
    pub volume: PathBuf,
    /// What the client calls itself in the daemons' logs.
    pub name: String,
    /// How long one request may take before the call fails.
    pub timeout: Duration,
}

impl ClientConfig {
    pub fn new(socket: impl Into<PathBuf>, volume: impl Into<PathBuf>) -> ClientConfig {
        ClientConfig {
            socket: socket.into(),
            volume: volume.into(),
            name: std::env::args()
                .next()
                .and_then(|a| {
                    std::path::Path::new(&a)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                })
                .unwrap_or_else(|| "cnid-client".into()),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Why an exchange failed.
pub enum ExchangeError {
    Timeout,
    Frame(FrameError),
}

impl From<FrameError> for ExchangeError {
    fn from(e: FrameError) -> Self {
        ExchangeError::Frame(e)
    }
}

/// One connection to the service: a request out, its reply back.
pub trait Transport: Sized + Send {
    fn connect(path: &Path) -> impl Future<Output = std::io::Result<Self>> + Send;

    /// Sends `req` and returns its reply; `None` when the peer closed the
    /// connection instead of answering.
    fn exchange(
        &mut self,
        req: &Request,
        timeout: Duration,
    ) -> impl Future<Output = Result<Option<Reply>, ExchangeError>> + Send;

    /// Waits a little before trying again, the way this transport waits.
    fn pause(d: Duration) -> impl Future<Output = ()> + Send;
}

/// The tokio transport.
pub struct AsyncConn(Framed<tokio::net::UnixStream>);

impl Transport for AsyncConn {
    async fn connect(path: &Path) -> std::io::Result<Self> {
        let s = tokio::net::UnixStream::connect(path).await?;
        Ok(AsyncConn(Framed::new(s, MAX_REPLY, MAX_REQUEST)))
    }

    async fn exchange(
        &mut self,
        req: &Request,
        timeout: Duration,
    ) -> Result<Option<Reply>, ExchangeError> {
        let conn = &mut self.0;
        let exchange = async {
            conn.send(req).await?;
            conn.recv::<Reply>().await
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Err(ExchangeError::Timeout),
            Ok(r) => Ok(r?),
        }
    }

    async fn pause(d: Duration) {
        tokio::time::sleep(d).await
    }
}

/// The blocking transport: each call blocks the calling thread until the
/// reply is there (or the timeout, set on the socket, passes).
pub struct BlockingConn {
    conn: BlockingFramed<std::os::unix::net::UnixStream>,
    timeout: Option<Duration>,
}

impl Transport for BlockingConn {
    async fn connect(path: &Path) -> std::io::Result<Self> {
        let s = std::os::unix::net::UnixStream::connect(path)?;
        Ok(BlockingConn {
            conn: BlockingFramed::new(s, MAX_REPLY, MAX_REQUEST),
            timeout: None,
        })
    }

    async fn exchange(
        &mut self,
        req: &Request,
        timeout: Duration,
    ) -> Result<Option<Reply>, ExchangeError> {
        if self.timeout != Some(timeout) {
            let t = Some(timeout.max(Duration::from_millis(1)));
            let s = self.conn.get_ref();
            s.set_read_timeout(t).map_err(FrameError::from)?;
            s.set_write_timeout(t).map_err(FrameError::from)?;
            self.timeout = Some(timeout);
        }
        let timed_out = |e: &FrameError| {
            matches!(e, FrameError::Io(e) if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ))
        };
        let r = self.conn.send(req).and_then(|()| self.conn.recv::<Reply>());
        match r {
            Err(e) if timed_out(&e) => Err(ExchangeError::Timeout),
            r => Ok(r?),
        }
    }

    async fn pause(d: Duration) {
        std::thread::sleep(d)
    }
}

pub struct Client<T: Transport = AsyncConn> {
    cfg: ClientConfig,
    conn: Option<T>,
    welcome: Welcome,
    reconnects: u64,
}

/// A client for synchronous callers (see [`BlockingConn`]).
pub type BlockingClient = Client<BlockingConn>;

/// Runs a future of a [`BlockingClient`] to completion on the calling
/// thread, without an async runtime. Its transport blocks instead of
/// waiting, so such a future is complete when first polled; a future that
/// waits on anything else is a misuse and panics.
pub fn complete<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => {
            panic!("complete() was given a future that waits; drive it with an async runtime")
        }
    }
}

/// Why one attempt failed: worth one more try on a fresh connection, or not.
enum Attempt {
    Lost(String),
    Fatal(CnidError),
}

impl<T: Transport> Client<T> {
    /// Connects and opens the volume; errors say why it cannot be used.
    pub async fn connect(cfg: ClientConfig) -> Result<Self, CnidError> {
        let (conn, welcome) = open::<T>(&cfg).await?;
        Ok(Client {
            cfg,
            conn: Some(conn),
            welcome,
            reconnects: 0,
        })
    }

    /// What the serving cnid_dbd said when the connection was opened.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// How often the connection was re-established.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Sends `req` and returns its reply; a protocol-level error reply
    /// becomes `Err`.
    pub async fn call(&mut self, req: &Request) -> Result<Reply, CnidError> {
        let mut lost = None;
        for _ in 0..2 {
            if self.conn.is_none() {
                let (conn, welcome) = open::<T>(&self.cfg).await?;
                self.reconnects += 1;
                if welcome.stamp != self.welcome.stamp {
                    let old = self.welcome.stamp;
                    self.welcome = welcome;
                    self.conn = Some(conn);
                    return Err(CnidError::DatabaseReplaced {
                        old,
                        new: self.welcome.stamp,
                    });
                }
                self.welcome = welcome;
                self.conn = Some(conn);
            }
            match self.attempt(req).await {
                Ok(Reply::Error(e)) => return Err(e.into()),
                Ok(reply) => return Ok(reply),
                Err(Attempt::Lost(why)) => {
                    tracing::debug!(target: "cnid::client", "connection lost ({why}); reconnecting");
                    self.conn = None;
                    lost = Some(why);
                }
                Err(Attempt::Fatal(e)) => {
                    self.conn = None;
                    return Err(e);
                }
            }
        }
        Err(CnidError::Connection(lost.unwrap_or_default()))
    }

    async fn attempt(&mut self, req: &Request) -> Result<Reply, Attempt> {
        let conn = self.conn.as_mut().expect("connected");
        match conn.exchange(req, self.cfg.timeout).await {
            Err(ExchangeError::Timeout) => Err(Attempt::Fatal(CnidError::Timeout(
                self.cfg.timeout.as_secs(),
            ))),
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(Attempt::Lost("closed by the server".into())),
            Err(ExchangeError::Frame(e)) if e.is_disconnect() => Err(Attempt::Lost(e.to_string())),
            Err(ExchangeError::Frame(FrameError::TooLarge { len, max })) if max == MAX_REQUEST => {
                Err(Attempt::Fatal(CnidError::InvalidArgument(format!(
                    "request of {len} bytes exceeds the {max}-byte limit"
                ))))
            }
            Err(ExchangeError::Frame(e)) => Err(Attempt::Fatal(CnidError::Protocol(e.to_string()))),
        }
    }

    fn unexpected(req: &Request, reply: Reply) -> CnidError {
        CnidError::Protocol(format!("unexpected reply {reply:?} to {}", req.name()))
    }

    /// An empty round trip.
    pub async fn ping(&mut self) -> Result<(), CnidError> {
        let req = Request::Ping;
        match self.call(&req).await? {
            Reply::Pong => Ok(()),
            r => Err(Self::unexpected(&req, r)),
        }
    }

    async fn id_or_none(&mut self, req: Request) -> Result<Option<Cnid>, CnidError> {
        match self.call(&req).await? {
            Reply::Id(id) => Ok(Some(id)),
            Reply::NotFound => Ok(None),
            r => Err(Self::unexpected(&req, r)),
        }
    }

    async fn done_or_none(&mut self, req: Request) -> Result<bool, CnidError> {
        match self.call(&req).await? {
            Reply::Done => Ok(true),
            Reply::NotFound => Ok(false),
            r => Err(Self::unexpected(&req, r)),
        }
    }

    /// The id of `entry`, assigning one if the database does not know it.
    pub async fn add(&mut self, entry: &Entry, hint: Option<Cnid>) -> Result<Cnid, CnidError> {
        let req = Request::Add {
            entry: entry.clone(),
            hint,
        };
        self.id_or_none(req).await?.ok_or(CnidError::NotFound)
    }

    pub async fn lookup(
        &mut self,
        entry: &Entry,
        hint: Option<Cnid>,
    ) -> Result<Option<Cnid>, CnidError> {
        let req = Request::Lookup {
            entry: entry.clone(),
            hint,
        };
        self.id_or_none(req).await
    }

    pub async fn get(&mut self, did: Cnid, name: &Name) -> Result<Option<Cnid>, CnidError> {
        let req = Request::Get {
            did,
            name: name.clone(),
        };
        self.id_or_none(req).await
    }

    pub async fn resolve(&mut self, id: Cnid) -> Result<Option<(Cnid, Name)>, CnidError> {
        let req = Request::Resolve { id };
        match self.call(&req).await? {
            Reply::Resolved { did, name } => Ok(Some((did, name))),
            Reply::NotFound => Ok(None),
            r => Err(Self::unexpected(&req, r)),
        }
    }

    pub async fn update(&mut self, id: Cnid, entry: &Entry) -> Result<(), CnidError> {
        let req = Request::Update {
            id,
            entry: entry.clone(),
        };
        self.done_or_none(req).await.map(|_| ())
    }

    /// Whether there was such a record.
    pub async fn delete(&mut self, id: Cnid) -> Result<bool, CnidError> {
        self.done_or_none(Request::Delete { id }).await
    }

    pub async fn stamp(&mut self) -> Result<Stamp, CnidError> {
        let req = Request::GetStamp;
        match self.call(&req).await? {
            Reply::Stamp(s) => Ok(s),
            r => Err(Self::unexpected(&req, r)),
        }
    }

    pub async fn rebuild_add(&mut self, id: Cnid, entry: &Entry) -> Result<(), CnidError> {
        let req = Request::RebuildAdd {
            id,
            entry: entry.clone(),
        };
        self.done_or_none(req).await.map(|_| ())
    }

    async fn records(&mut self, req: Request) -> Result<Vec<Record>, CnidError> {
        match self.call(&req).await? {
            Reply::Records(r) => Ok(r),
            Reply::NotFound => Ok(Vec::new()),
            r => Err(Self::unexpected(&req, r)),
        }
    }

    /// Records whose name starts with `prefix`, ignoring case (at most
    /// [`proto::MAX_SEARCH`]).
    pub async fn search(&mut self, prefix: &Name, max: u32) -> Result<Vec<Record>, CnidError> {
        let req = Request::Search {
            prefix: prefix.clone(),
            max: max.min(proto::MAX_SEARCH),
        };
        self.records(req).await
    }

    pub async fn wipe(&mut self) -> Result<(), CnidError> {
        self.done_or_none(Request::Wipe).await.map(|_| ())
    }

    /// One batch of records with ids above `after`.
    pub async fn dump(&mut self, after: Cnid, max: u32) -> Result<Vec<Record>, CnidError> {
        let req = Request::Dump {
            after,
            max: max.clamp(1, proto::MAX_DUMP),
        };
        self.records(req).await
    }

    /// Every record, in id order.
    pub async fn dump_all(&mut self) -> Result<Vec<Record>, CnidError> {
        let mut all: Vec<Record> = Vec::new();
        loop {
            let after = all.last().map_or(Cnid::INVALID, |r| r.id);
            let batch = self.dump(after, proto::MAX_DUMP).await?;
            if batch.is_empty() {
                return Ok(all);
            }
            all.extend(batch);
        }
    }

    pub async fn verify(&mut self, repair: bool) -> Result<VerifyReport, CnidError> {
        let req = Request::Verify { repair };
        match self.call(&req).await? {
            Reply::Verified(v) => Ok(v),
            r => Err(Self::unexpected(&req, r)),
        }
    }

    pub async fn status(&mut self) -> Result<Status, CnidError> {
        let req = Request::Status;
        match self.call(&req).await? {
            Reply::Status(s) => Ok(*s),
            r => Err(Self::unexpected(&req, r)),
        }
    }
}

/// How often opening is tried when the connection closes before the
/// answer: a hand-off in flight to a cnid_dbd that dies is lost with it.
const OPEN_TRIES: u32 = 4;

/// Connects to the service and opens the volume.
async fn open<T: Transport>(cfg: &ClientConfig) -> Result<(T, Welcome), CnidError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match open_once::<T>(cfg).await {
            Err(OpenError::Lost(why)) if tries < OPEN_TRIES => {
                tracing::debug!(target: "cnid::client", "opening the volume failed ({why}); trying again");
                T::pause(Duration::from_millis(20 * u64::from(tries))).await;
            }
            Err(OpenError::Lost(why)) => return Err(CnidError::Connection(why)),
            Err(OpenError::Fatal(e)) => return Err(e),
            Ok(r) => return Ok(r),
        }
    }
}

enum OpenError {
    /// Closed without an answer: worth another try.
    Lost(String),
    Fatal(CnidError),
}

impl From<CnidError> for OpenError {
    fn from(e: CnidError) -> Self {
        OpenError::Fatal(e)
    }
}

async fn open_once<T: Transport>(cfg: &ClientConfig) -> Result<(T, Welcome), OpenError> {
    let mut conn = T::connect(&cfg.socket).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            CnidError::MetadNotRunning(cfg.socket.clone())
        }
        std::io::ErrorKind::PermissionDenied => {
            CnidError::PermissionDenied(format!("cannot connect to {}", cfg.socket.display()))
        }
        _ => CnidError::Connection(format!("{}: {e}", cfg.socket.display())),
    })?;
    let hello = Request::Hello(Hello {
        version: PROTOCOL_VERSION,
        volume: cfg.volume.as_os_str().as_bytes().to_vec(),
        client: cfg.name.clone(),
    });
    hello.check().map_err(CnidError::from)?;
    match conn.exchange(&hello, cfg.timeout).await {
        Ok(Some(Reply::Welcome(w))) => Ok((conn, w)),
        Ok(Some(Reply::Error(e))) => Err(CnidError::from(e).into()),
        Ok(Some(other)) => {
            Err(CnidError::Protocol(format!("unexpected answer {other:?} to hello")).into())
        }
        Ok(None) => Err(OpenError::Lost(
            "the service closed the connection before answering".into(),
        )),
        Err(ExchangeError::Timeout) => Err(CnidError::Timeout(cfg.timeout.as_secs()).into()),
        Err(ExchangeError::Frame(e)) if e.is_disconnect() => Err(OpenError::Lost(e.to_string())),
        Err(ExchangeError::Frame(e)) => Err(CnidError::Connection(e.to_string()).into()),
    }
}
