//! Serving one volume: client connections (handed over by cnid_metad or
//! accepted on our own socket), the fd table with least-recently-used
//! eviction, durability (group commit), and the idle timer.
//!
//! Everything runs on one thread (a current-thread runtime with a LocalSet):
//! the single thread of control the seed describes, so requests never
//! interleave inside the database. A client that sends half a request, or
//! never reads its replies, only ever blocks its own task.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cnid::Stamp;
use common::cnid::proto::{
    ErrorKind, Hello, MAX_REPLY, MAX_REQUEST, PROTOCOL_VERSION, Reply, Request, Status, Welcome,
    WireError,
};
use common::cred::{PeerCred, peer_groups};
use common::dbparam::DbParam;
use common::frame::Framed;
use tokio::net::UnixStream;
use tokio::sync::{Notify, watch};

use crate::access::Policy;
use crate::cmd;
use crate::db::Overlay;
use crate::store::{SledStore, Store, WriteBatch};

const LOG: &str = "cnid_dbd";

/// How long a client connecting to our own socket has to send its Hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Volume {
    pub volume: PathBuf,
    pub dbdir: PathBuf,
    pub usock: PathBuf,
    pub params: DbParam,
    pub policy: Policy,
    pub store: Arc<SledStore>,
    /// Changes made by requests and not yet handed to the store.
    pending: RefCell<Overlay>,
    pub stamp: Stamp,
    started: Instant,
    requests: Cell<u64>,
    evictions: Cell<u64>,
    flushes: Cell<u64>,
    durability: Durability,
    clients: RefCell<Clients>,
    /// Tells every task to finish: Some(exit code) once decided.
    shutdown: watch::Sender<Option<i32>>,
    /// Counts live client tasks so shutdown can wait for them.
    live: Cell<usize>,
    all_gone: Notify,
    /// Signalled whenever the number of clients changes.
    clients_changed: Notify,
}

/// Group commit. Each request's changes go into the pending overlay and
/// bump `applied`; the flusher hands the whole overlay to the store as one
/// batch and syncs it on another thread while this one goes on collecting
/// the next group; with nosync 0 a reply waits until `durable` has caught
/// up with what was applied when the reply was computed.
struct Durability {
    applied: Cell<u64>,
    durable: watch::Sender<u64>,
    /// Changes since the last sync (for flush_frequency).
    unsynced: Cell<u32>,
    wake: Notify,
    failed: Cell<bool>,
}

struct ClientSlot {
    last_active: Instant,
    evict: Rc<Notify>,
    peer: PeerCred,
}

#[derive(Default)]
struct Clients {
    next: u64,
    slots: HashMap<u64, ClientSlot>,
}

impl Volume {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        volume: PathBuf,
        dbdir: PathBuf,
        usock: PathBuf,
        params: DbParam,
        policy: Policy,
        store: SledStore,
        stamp: Stamp,
    ) -> Rc<Volume> {
        Rc::new(Volume {
            volume,
            dbdir,
            usock,
            params,
            policy,
            store: Arc::new(store),
            pending: RefCell::new(Overlay::new()),
            stamp,
            started: Instant::now(),
            requests: Cell::new(0),
            evictions: Cell::new(0),
            flushes: Cell::new(0),
            durability: Durability {
                applied: Cell::new(0),
                durable: watch::channel(0).0,
                unsynced: Cell::new(0),
                wake: Notify::new(),
                failed: Cell::new(false),
            },
            clients: RefCell::new(Clients::default()),
            shutdown: watch::channel(None).0,
            live: Cell::new(0),
            all_gone: Notify::new(),
            clients_changed: Notify::new(),
        })
    }

    pub fn shutdown_rx(&self) -> watch::Receiver<Option<i32>> {
        self.shutdown.subscribe()
    }

    /// Asks every task to finish; the first exit code given wins.
    pub fn begin_shutdown(&self, code: i32) {
        self.shutdown.send_if_modified(|c| {
            if c.is_none() {
                *c = Some(code);
                true
            } else {
                false
            }
        });
    }

    pub fn exit_code(&self) -> Option<i32> {
        *self.shutdown.borrow()
    }

    pub fn client_count(&self) -> usize {
        self.clients.borrow().slots.len()
    }

    /// Waits until every client task has ended, at most `limit`.
    pub async fn wait_clients_gone(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.live.get() > 0 {
            let notified = self.all_gone.notified();
            if self.live.get() == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
        true
    }

    fn welcome(&self) -> Welcome {
        Welcome {
            version: PROTOCOL_VERSION,
            volume: self.volume.as_os_str().as_bytes().to_vec(),
            dbdir: self.dbdir.as_os_str().as_bytes().to_vec(),
            pid: std::process::id(),
            stamp: self.stamp,
        }
    }

    fn status(&self) -> Status {
        let records = self
            .store
            .scan(&[crate::db::key::RECORD], &[crate::db::key::RECORD])
            .count() as u64;
        Status {
            pid: std::process::id(),
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            volume: self.volume.as_os_str().as_bytes().to_vec(),
            dbdir: self.dbdir.as_os_str().as_bytes().to_vec(),
            usock: self.usock.as_os_str().as_bytes().to_vec(),
            params: self.params.clone(),
            clients: self.client_count() as u32,
            records,
            requests: self.requests.get(),
            evictions: self.evictions.get(),
            flushes: self.flushes.get(),
            uptime_secs: self.started.elapsed().as_secs(),
        }
    }

    /// Takes a slot in the fd table, evicting the least recently used
    /// client when the table is full.
    fn register(&self, peer: PeerCred) -> (u64, Rc<Notify>) {
        let mut c = self.clients.borrow_mut();
        let limit = self.params.fd_table_size as usize;
        while c.slots.len() >= limit {
            let Some((&victim, _)) = c.slots.iter().min_by_key(|(_, s)| s.last_active) else {
                break;
            };
            let slot = c.slots.remove(&victim).expect("present");
            slot.evict.notify_one();
            self.evictions.set(self.evictions.get() + 1);
            tracing::info!(target: LOG, victim = %slot.peer, fd_table_size = limit,
                "fd table full: closing the least recently used connection (its client reconnects)");
        }
        c.next += 1;
        let id = c.next;
        let evict = Rc::new(Notify::new());
        c.slots.insert(
            id,
            ClientSlot {
                last_active: Instant::now(),
                evict: evict.clone(),
                peer,
            },
        );
        drop(c);
        self.clients_changed.notify_waiters();
        (id, evict)
    }

    fn unregister(&self, id: u64) {
        if self.clients.borrow_mut().slots.remove(&id).is_some() {
            self.clients_changed.notify_waiters();
        }
    }

    fn touch(&self, id: u64) {
        if let Some(s) = self.clients.borrow_mut().slots.get_mut(&id) {
            s.last_active = Instant::now();
        }
    }

    /// Answers one request after the handshake.
    async fn handle(&self, req: &Request) -> Reply {
        self.requests.set(self.requests.get() + 1);
        if let Err(e) = req.check() {
            return Reply::Error(e);
        }
        let reply = match req {
            Request::Ping => return Reply::Pong,
            Request::Status => {
                if let Err(e) = self.apply_pending() {
                    return Reply::Error(e);
                }
                return Reply::Status(Box::new(self.status()));
            }
            Request::Hello(_) => {
                return Reply::Error(WireError::new(
                    ErrorKind::Protocol,
                    "hello sent twice on one connection",
                ));
            }
            _ if cmd::scans(req) && self.apply_pending().is_err() => {
                return Reply::Error(self.disk_error());
            }
            _ => match cmd::execute(&*self.store, Some(&self.pending), req) {
                Ok((reply, changed)) => {
                    if changed {
                        self.changed();
                    }
                    reply
                }
                Err(e) => {
                    tracing::error!(target: LOG, request = req.name(), "database error: {e}");
                    self.storage_failed();
                    return Reply::Error(WireError::new(ErrorKind::Database, e.to_string()));
                }
            },
        };
        match self.wait_durable().await {
            Ok(()) => reply,
            Err(e) => Reply::Error(e),
        }
    }

    fn changed(&self) {
        let d = &self.durability;
        d.applied.set(d.applied.get() + 1);
        d.unsynced.set(d.unsynced.get().saturating_add(1));
        if self.params.nosync && d.unsynced.get() >= self.params.flush_frequency {
            d.wake.notify_one();
        }
    }

    fn disk_error(&self) -> WireError {
        WireError::new(
            ErrorKind::Database,
            "the database could not be written to disk",
        )
    }

    /// With nosync 0, returns once everything applied so far is on disk
    /// (so no reply ever shows a state that a crash could take back).
    async fn wait_durable(&self) -> Result<(), WireError> {
        let d = &self.durability;
        if self.params.nosync {
            return Ok(());
        }
        let target = d.applied.get();
        let mut rx = d.durable.subscribe();
        if *rx.borrow() >= target {
            return Ok(());
        }
        d.wake.notify_one();
        loop {
            if d.failed.get() {
                return Err(self.disk_error());
            }
            if *rx.borrow_and_update() >= target {
                return Ok(());
            }
            if rx.changed().await.is_err() {
                return Err(self.disk_error());
            }
        }
    }

    fn storage_failed(&self) {
        self.durability.failed.set(true);
        // Wake waiters so they see the failure, then exit: cnid_metad starts
        // a fresh cnid_dbd on the next request.
        self.durability.durable.send_modify(|_| {});
        self.begin_shutdown(1);
    }

    /// Hands the pending overlay to the store as one atomic batch.
    fn apply_pending(&self) -> Result<(), WireError> {
        let writes = std::mem::take(&mut *self.pending.borrow_mut());
        if writes.is_empty() {
            return Ok(());
        }
        let batch = WriteBatch {
            ops: writes.into_iter().collect(),
        };
        self.store.apply(batch).map_err(|e| {
            tracing::error!(target: LOG, "writing to the database failed: {e}");
            self.storage_failed();
            self.disk_error()
        })
    }

    fn synced(&self, target: u64) {
        let d = &self.durability;
        d.unsynced
            .set((d.applied.get() - target).min(u32::MAX as u64) as u32);
        self.flushes.set(self.flushes.get() + 1);
        d.durable.send_replace(target);
    }

    fn is_synced(&self) -> bool {
        self.durability.applied.get() == *self.durability.durable.borrow()
    }

    /// Makes everything applied so far durable, syncing on another thread
    /// while this one keeps serving.
    async fn flush_group(&self) {
        if self.is_synced() || self.durability.failed.get() {
            return;
        }
        let target = self.durability.applied.get();
        if self.apply_pending().is_err() {
            return;
        }
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.sync()).await {
            Ok(Ok(())) => self.synced(target),
            Ok(Err(e)) => {
                tracing::error!(target: LOG, "syncing the database failed: {e}");
                self.storage_failed();
            }
            Err(e) => {
                tracing::error!(target: LOG, "sync task failed: {e}");
                self.storage_failed();
            }
        }
    }

    /// Makes everything applied so far durable, now, on this thread (for
    /// shutdown).
    pub fn sync_now(&self) -> bool {
        if self.durability.failed.get() {
            return false;
        }
        if self.is_synced() {
            return true;
        }
        let target = self.durability.applied.get();
        if self.apply_pending().is_err() {
            return false;
        }
        match self.store.sync() {
            Ok(()) => {
                self.synced(target);
                true
            }
            Err(e) => {
                tracing::error!(target: LOG, "syncing the database failed: {e}");
                self.storage_failed();
                false
            }
        }
    }
}

/// The flusher: with nosync 0 it syncs as soon as a reply waits, after
/// letting every request that is already readable join the group; with
/// nosync 1 every flush_frequency changes; both every flush_interval. It
/// runs until the process ends, so requests still in flight at shutdown
/// get their sync.
pub async fn flusher(vol: Rc<Volume>) {
    let period = Duration::from_secs(vol.params.flush_interval.into());
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = vol.durability.wake.notified() => {
                // Deferred until the runtime has polled for I/O once more,
                // so requests that arrived meanwhile join this group.
                tokio::task::yield_now().await;
            }
            _ = interval.tick() => {}
        }
        vol.flush_group().await;
    }
}

/// Exits (via IdleExit to cnid_metad) after idle_timeout seconds without
/// any client connection.
pub async fn idle_watch(vol: Rc<Volume>, ask_exit: impl Fn()) {
    if vol.params.idle_timeout == 0 {
        return;
    }
    let limit = Duration::from_secs(vol.params.idle_timeout.into());
    let mut shutdown = vol.shutdown_rx();
    loop {
        let changed = vol.clients_changed.notified();
        if vol.client_count() > 0 {
            tokio::select! {
                _ = changed => continue,
                _ = shutdown.changed() => return,
            }
        }
        tokio::select! {
            _ = changed => continue,
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(limit) => {
                tracing::info!(target: LOG, idle_timeout = vol.params.idle_timeout, "idle with no clients; asking cnid_metad to let us exit");
                ask_exit();
                // cnid_metad answers ExitNow or Stay; look again after a while
                // in case it said Stay.
                tokio::select! {
                    _ = vol.clients_changed.notified() => {}
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(limit) => {}
                }
            }
        }
    }
}

struct LiveGuard<'a> {
    vol: &'a Volume,
    slot: Option<u64>,
}

impl Drop for LiveGuard<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.slot {
            self.vol.unregister(id);
        }
        self.vol.live.set(self.vol.live.get() - 1);
        if self.vol.live.get() == 0 {
            self.vol.all_gone.notify_waiters();
        }
    }
}

/// A connection that has sent its Hello (to cnid_metad, which handed it
/// over, or to our own socket).
pub async fn serve_client(
    vol: Rc<Volume>,
    mut conn: Framed<UnixStream>,
    peer: PeerCred,
    hello: Hello,
) {
    vol.live.set(vol.live.get() + 1);
    let mut guard = LiveGuard {
        vol: &vol,
        slot: None,
    };
    let groups = peer_groups(conn.get_ref()).unwrap_or_default();
    let refuse = |kind, msg: String| Reply::Error(WireError::new(kind, msg));
    let verdict = if hello.version != PROTOCOL_VERSION {
        Err(refuse(
            ErrorKind::Protocol,
            format!(
                "client speaks CNID protocol version {}, this cnid_dbd speaks {PROTOCOL_VERSION}",
                hello.version
            ),
        ))
    } else if let Err(why) = vol.policy.check(&peer, &groups) {
        Err(refuse(ErrorKind::PermissionDenied, why))
    } else {
        Ok(())
    };
    if let Err(reply) = verdict {
        if let Reply::Error(e) = &reply {
            tracing::warn!(target: LOG, %peer, client = %hello.client, "refused: {}", e.message);
        }
        let _ = conn.send(&reply).await;
        return;
    }
    if vol.exit_code().is_some() {
        // Closing without an answer makes the client open the volume again,
        // through cnid_metad, on the cnid_dbd that replaces us.
        tracing::debug!(target: LOG, %peer, "shutting down: connection closed unanswered");
        return;
    }
    let (slot, evict) = vol.register(peer);
    guard.slot = Some(slot);
    tracing::debug!(target: LOG, %peer, client = %hello.client, "client connected");
    if conn.send(&Reply::Welcome(vol.welcome())).await.is_err() {
        return;
    }
    let mut shutdown = vol.shutdown_rx();
    loop {
        let next = tokio::select! {
            biased;
            _ = evict.notified() => {
                tracing::debug!(target: LOG, %peer, "connection evicted");
                return;
            }
            _ = shutdown.changed() => return,
            r = conn.recv::<Request>() => r,
        };
        let req = match next {
            Ok(Some(req)) => req,
            Ok(None) => break,
            Err(e) if e.is_disconnect() => {
                tracing::debug!(target: LOG, %peer, "client went away: {e}");
                break;
            }
            Err(e) => {
                tracing::warn!(target: LOG, %peer, client = %hello.client, "closing connection: {e}");
                let _ = conn
                    .send(&refuse(
                        ErrorKind::Protocol,
                        format!("closing connection: {e}"),
                    ))
                    .await;
                break;
            }
        };
        vol.touch(slot);
        let reply = vol.handle(&req).await;
        let hello_again = matches!(req, Request::Hello(_));
        if let Err(e) = conn.send(&reply).await {
            tracing::debug!(target: LOG, %peer, "cannot reply: {e}");
            break;
        }
        if hello_again {
            tracing::warn!(target: LOG, %peer, "closing connection: hello sent twice");
            break;
        }
    }
    tracing::debug!(target: LOG, %peer, "client disconnected");
}

/// A connection on our own socket: read its Hello, check the volume.
pub async fn accept_direct(vol: Rc<Volume>, stream: UnixStream) {
    let peer = match PeerCred::of(&stream) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(target: LOG, "cannot read peer credentials: {e}");
            return;
        }
    };
    let mut conn = Framed::new(stream, MAX_REQUEST, MAX_REPLY);
    let first = tokio::time::timeout(HELLO_TIMEOUT, conn.recv::<Request>()).await;
    let refuse = |msg: String| Reply::Error(WireError::new(ErrorKind::Protocol, msg));
    let hello = match first {
        Err(_) => {
            tracing::warn!(target: LOG, %peer, "no hello within {} s; closing", HELLO_TIMEOUT.as_secs());
            return;
        }
        Ok(Ok(Some(Request::Hello(h)))) => h,
        Ok(Ok(Some(other))) => {
            tracing::warn!(target: LOG, %peer, request = other.name(), "request before hello; closing");
            let _ = conn
                .send(&refuse(format!("{} sent before hello", other.name())))
                .await;
            return;
        }
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::warn!(target: LOG, %peer, "closing connection: {e}");
            let _ = conn.send(&refuse(format!("closing connection: {e}"))).await;
            return;
        }
    };
    let asked = std::path::Path::new(std::ffi::OsStr::from_bytes(&hello.volume));
    let same = std::fs::canonicalize(asked).is_ok_and(|p| p == vol.volume);
    if !same {
        let msg = format!(
            "this cnid_dbd serves {}, not {}",
            vol.volume.display(),
            asked.display()
        );
        tracing::warn!(target: LOG, %peer, "{msg}");
        let _ = conn
            .send(&Reply::Error(WireError::new(
                ErrorKind::InvalidArgument,
                msg,
            )))
            .await;
        return;
    }
    serve_client(vol, conn, peer, hello).await;
}
