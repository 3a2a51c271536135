//! One client connection: NBSS framing, decryption, compounds, credits,
//! signing, and running each request (or chain of related requests) as its
//! own task, so a slow or waiting request never holds up the others.

pub mod credits;
mod dispatch;
mod frame;
pub mod oplock;
pub mod session;
pub mod smb1;
pub mod tree;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};

use self::credits::Credits;
use self::session::Session;
use crate::crypto::{self, Cipher, Preauth, SigningAlgo};
use crate::ntvfs::FileId;
use crate::server::Server;
use crate::wire::NtStatus;
use crate::wire::header::{self, Command, Header, Target, flags};
use crate::wire::nbss;

const LOG: &str = "smbd::conn";

/// Largest READ/WRITE/transact payload we offer (MaxReadSize etc.).
pub const MAX_IO: u32 = 8 * 1024 * 1024;
/// Largest frame accepted: the largest payload plus room for headers.
pub const MAX_FRAME: usize = MAX_IO as usize + 64 * 1024;

pub mod transform {
    use std::ops::Range;
    pub const PROTOCOL_ID: [u8; 4] = [0xfd, b'S', b'M', b'B'];
    pub const SIGNATURE: Range<usize> = 4..20;
    pub const NONCE: Range<usize> = 20..36;
    pub const ORIGINAL_SIZE: Range<usize> = 36..40;
    pub const FLAGS: Range<usize> = 42..44;
    pub const SESSION_ID: Range<usize> = 44..52;
    pub const LEN: usize = SESSION_ID.end;
    /// The part the AEAD authenticates: from the nonce on.
    pub const AAD: Range<usize> = 20..52;
    /// Flags (EncryptionAlgorithm in 3.0): the message is encrypted.
    pub const ENCRYPTED: u16 = 0x0001;

    /// The SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41) in front of an encrypted
    /// message.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TransformHeader {
        pub signature: [u8; 16],
        pub nonce: [u8; 16],
        pub original_size: u32,
        pub flags: u16,
        pub session_id: u64,
    }

    impl TransformHeader {
        /// The header at the start of `data`, checked against the message
        /// that follows it (which must hold at least an SMB2 header).
        pub fn parse(data: &[u8]) -> Result<TransformHeader, String> {
            let h = data
                .get(..LEN)
                .filter(|_| data.len() >= LEN + crate::wire::header::HEADER_LEN)
                .ok_or("truncated transform header")?;
            let array = |r: Range<usize>| -> [u8; 16] { h[r].try_into().expect("16 bytes") };
            if h[..SIGNATURE.start] != PROTOCOL_ID {
                return Err("not a transform header".into());
            }
            let t = TransformHeader {
                signature: array(SIGNATURE),
                nonce: array(NONCE),
                original_size: u32::from_le_bytes(h[ORIGINAL_SIZE].try_into().expect("4 bytes")),
                flags: u16::from_le_bytes(h[FLAGS].try_into().expect("2 bytes")),
                session_id: u64::from_le_bytes(h[SESSION_ID].try_into().expect("8 bytes")),
            };
            if t.original_size as usize != data.len() - LEN {
                return Err(format!(
                    "transform OriginalMessageSize {} does not match the {} bytes sent",
                    t.original_size,
                    data.len() - LEN
                ));
            }
            if t.flags != ENCRYPTED {
                return Err("transform flags are not \"encrypted\"".into());
            }
            Ok(t)
        }

        pub fn emit(&self) -> [u8; LEN] {
            let mut out = [0u8; LEN];
            out[..SIGNATURE.start].copy_from_slice(&PROTOCOL_ID); //          0..4
            out[SIGNATURE].copy_from_slice(&self.signature); //                4..20
            out[NONCE].copy_from_slice(&self.nonce); //                       20..36
            out[ORIGINAL_SIZE].copy_from_slice(&self.original_size.to_le_bytes()); // 36..40
            //                                                                40..42 Reserved
            out[FLAGS].copy_from_slice(&self.flags.to_le_bytes()); //         42..44
            out[SESSION_ID].copy_from_slice(&self.session_id.to_le_bytes()); // 44..52
            out
        }
    }
}

/// What NEGOTIATE settled.
#[derive(Debug, Clone)]
pub struct Negotiated {
    pub dialect: u16,
    pub client_guid: [u8; 16],
    pub client_caps: u32,
    pub client_security_mode: u16,
    pub client_dialects: Vec<u16>,
    pub server_security_mode: u16,
    pub server_caps: u32,
    pub cipher: Option<Cipher>,
    pub signing: SigningAlgo,
    /// Pre-auth hash after NEGOTIATE (3.1.1).
    pub preauth: Preauth,
}

/// Why a waiting request is woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    Cancel,
    /// Its handle was closed (CHANGE_NOTIFY completes with NOTIFY_CLEANUP).
    Cleanup,
}

pub struct PendingReq {
    /// Set when the request went async (0: not async).
    async_id: AtomicU64,
    /// The handle the request waits on, if any, and its tree.
    file_id: Mutex<Option<(FileId, u32)>>,
    pub session_id: u64,
    wake: Notify,
    reason: Mutex<Option<Wake>>,
}

impl PendingReq {
    fn new(session_id: u64) -> PendingReq {
        PendingReq {
            async_id: AtomicU64::new(0),
            file_id: Mutex::new(None),
            session_id,
            wake: Notify::new(),
            reason: Mutex::new(None),
        }
    }

    pub fn set_file(&self, id: FileId, tree_id: u32) {
        *self.file_id.lock().expect("pending") = Some((id, tree_id));
    }

    fn file(&self) -> Option<(FileId, u32)> {
        *self.file_id.lock().expect("pending")
    }

    pub fn wake(&self, why: Wake) {
        *self.reason.lock().expect("pending") = Some(why);
        self.wake.notify_one();
    }

    pub async fn woken(&self) -> Wake {
        loop {
            let n = self.wake.notified();
            if let Some(w) = *self.reason.lock().expect("pending") {
                return w;
            }
            n.await;
        }
    }
}

pub struct Connection {
    pub server: Arc<Server>,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    out: mpsc::Sender<frame::OutFrame>,
    pub negotiated: Mutex<Option<Negotiated>>,
    credits: Mutex<Credits>,
    pub sessions: Mutex<HashMap<u64, Arc<Session>>>,
    pending: Mutex<HashMap<u64, Arc<PendingReq>>>,
    next_async: AtomicU64,
    next_file: AtomicU64,
    /// Set when a request decided the connection must end.
    close: Notify,
}

/// One element of a received message, before processing.
pub struct Request {
    pub header: Header,
    /// The SMB2 message (header and body) of this element.
    pub msg: bytes::Bytes,
    /// Received inside an encrypted transform of this session.
    pub encrypted: Option<u64>,
    /// The session/tree/file a related element inherits.
    pub session_id: u64,
    pub tree_id: u32,
    pub related_file: Option<FileId>,
    /// What a related request naming the previous file gets when there is
    /// none: the error of a CREATE that failed in this compound, else
    /// FILE_CLOSED.
    pub related_err: NtStatus,
    /// The file this request used, for related requests after it.
    pub used_file: Mutex<Option<FileId>>,
    pub last_in_chain: bool,
    pub pending: Arc<PendingReq>,
}

/// What handling a request produced.
pub enum Outcome {
    Reply {
        status: NtStatus,
        body: Vec<u8>,
        /// The file a following related request refers to.
        file: Option<FileId>,
        /// The tree id the response carries when it is not the request's
        /// (TREE_CONNECT).
        tree: Option<u32>,
        /// Likewise the session id (SESSION_SETUP of a new session).
        session: Option<u64>,
    },
    /// A response whose body ends in bulk data (READ): `body` is the fixed
    /// part, `data` follows it on the wire.
    Data {
        status: NtStatus,
        body: Vec<u8>,
        data: Vec<u8>,
        file: Option<FileId>,
    },
    /// The request waits; the interim response goes now, `rest` sends the
    /// final one.
    Async {
        rest: crate::ntvfs::BoxFuture<'static, (NtStatus, Vec<u8>)>,
    },
    /// No response at all (CANCEL).
    Nothing,
    /// Drop the connection (protocol violations that MS-SMB2 says end it).
    Disconnect(String),
}

impl Outcome {
    pub fn ok(body: Vec<u8>) -> Outcome {
        Outcome::Reply {
            status: NtStatus::SUCCESS,
            body,
            file: None,
            tree: None,
            session: None,
        }
    }

    pub fn err(status: NtStatus) -> Outcome {
        Outcome::Reply {
            status,
            body: Vec::new(),
            file: None,
            tree: None,
            session: None,
        }
    }

    pub fn reply(status: NtStatus, body: Vec<u8>) -> Outcome {
        Outcome::Reply {
            status,
            body,
            file: None,
            tree: None,
            session: None,
        }
    }

    /// A reply about `file`, which a following related request refers to.
    pub fn on_file(status: NtStatus, body: Vec<u8>, file: FileId) -> Outcome {
        Outcome::Reply {
            status,
            body,
            file: Some(file),
            tree: None,
            session: None,
        }
    }

    pub fn with_tree(self, id: u32) -> Outcome {
        match self {
            Outcome::Reply {
                status,
                body,
                file,
                session,
                ..
            } => Outcome::Reply {
                status,
                body,
                file,
                tree: Some(id),
                session,
            },
            o => o,
        }
    }

    pub fn with_session(self, id: u64) -> Outcome {
        match self {
            Outcome::Reply {
                status,
                body,
                file,
                tree,
                ..
            } => Outcome::Reply {
                status,
                body,
                file,
                tree,
                session: Some(id),
            },
            o => o,
        }
    }
}

/// Serves one client until it goes away or the server stops.
pub async fn serve(server: Arc<Server>, stream: TcpStream, netbios: bool) {
    let peer = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let local = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<frame::OutFrame>(512);
    let stall = server.limits.stall_timeout;
    let writer = tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            if let Err(e) = frame::write_frame_on(&mut wr, &f, stall).await {
                tracing::info!(target: LOG, %peer, "cannot send: {e}");
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let conn = Arc::new(Connection {
        server: server.clone(),
        peer,
        local,
        out: tx,
        negotiated: Mutex::new(None),
        credits: Mutex::new(Credits::default()),
        sessions: Mutex::new(HashMap::new()),
        pending: Mutex::new(HashMap::new()),
        next_async: AtomicU64::new(1),
        next_file: AtomicU64::new(1),
        close: Notify::new(),
    });
    tracing::debug!(target: LOG, %peer, "connected");
    let why = conn.read_loop(&mut rd, netbios).await;
    match &why {
        Ok(()) => tracing::debug!(target: LOG, %peer, "disconnected"),
        Err(e) => tracing::info!(target: LOG, %peer, "closing connection: {e}"),
    }
    conn.teardown().await;
    drop(conn);
    let _ = writer.await;
}

impl Connection {
    async fn read_loop<R: AsyncRead + Unpin>(
        self: &Arc<Self>,
        rd: &mut R,
        netbios: bool,
    ) -> Result<(), String> {
        let mut shutdown = self.server.shutdown.subscribe();
        let started = Instant::now();
        let mut session_requested = !netbios;
        loop {
            let negotiated = self.negotiated.lock().expect("negotiated").is_some();
            let deadline = if negotiated {
                None
            } else {
                Some(
                    self.server
                        .limits
                        .stall_timeout
                        .saturating_sub(started.elapsed()),
                )
            };
            let stall = self.server.limits.stall_timeout;
            let frame = tokio::select! {
                // As Samba: no new request while the responses queue is
                // full, so a client that does not read stops being read.
                f = async {
                    drop(self.out.reserve().await);
                    frame::read_frame(rd, MAX_FRAME, stall).await
                } => f.map_err(|e| e.to_string())?,
                _ = self.out.closed() => return Err("responses cannot be sent (see above)".into()),
                _ = shutdown.changed() => return Ok(()),
                _ = self.close.notified() => return Err("protocol violation (see above)".into()),
                _ = async { match deadline { Some(d) => tokio::time::sleep(d).await, None => std::future::pending().await } } => {
                    return Err("no NEGOTIATE in time".into());
                }
            };
            let Some((kind, data)) = frame else {
                return Ok(());
            };
            match kind {
                nbss::kind::SESSION_MESSAGE if session_requested => {
                    self.message(data.into()).await?
                }
                nbss::kind::SESSION_REQUEST if !session_requested => {
                    // Port 139: any called name is fine (Samba answers the
                    // same); names are not checked against ours.
                    session_requested = true;
                    self.send_raw(frame::OutFrame::new(
                        nbss::kind::POSITIVE_RESPONSE,
                        Vec::new(),
                    ))
                    .await;
                }
                nbss::kind::KEEPALIVE => {}
                k => return Err(format!("unexpected NetBIOS session packet type {k:#04x}")),
            }
        }
    }

    async fn send_raw(&self, frame: frame::OutFrame) {
        let _ = self.out.send(frame).await;
    }

    /// Sends one SMB2 message or compound (encrypting it for `encrypt`).
    pub async fn send(&self, smb: Vec<u8>, encrypt: Option<&Session>) {
        let payload = match encrypt.and_then(|s| s.encrypt(&smb, self)) {
            Some(t) => t,
            None => smb,
        };
        self.send_raw(frame::OutFrame::new(nbss::kind::SESSION_MESSAGE, payload))
            .await;
    }

    pub fn session(&self, id: u64) -> Option<Arc<Session>> {
        self.sessions.lock().expect("sessions").get(&id).cloned()
    }

    pub fn negotiated(&self) -> Option<Negotiated> {
        self.negotiated.lock().expect("negotiated").clone()
    }

    pub fn new_async_id(&self) -> u64 {
        self.next_async.fetch_add(1, Ordering::Relaxed)
    }

    pub fn new_file_id(&self) -> FileId {
        let v = self.next_file.fetch_add(1, Ordering::Relaxed);
        FileId {
            persistent: v,
            volatile: v,
        }
    }

    /// Wakes waiting requests on `file_id` (its handle was closed).
    pub fn cleanup_pending(&self, file_id: FileId) {
        for p in self.pending.lock().expect("pending").values() {
            if p.file().map(|(f, _)| f) == Some(file_id) {
                p.wake(Wake::Cleanup);
            }
        }
    }

    /// Wakes waiting requests on handles of a tree being disconnected.
    pub fn cleanup_tree(&self, session_id: u64, tree_id: u32) {
        for p in self.pending.lock().expect("pending").values() {
            if p.session_id == session_id && p.file().is_some_and(|(_, t)| t == tree_id) {
                p.wake(Wake::Cleanup);
            }
        }
    }

    /// Wakes waiting requests of a session that is going away.
    pub fn cancel_session(&self, session_id: u64) {
        for p in self.pending.lock().expect("pending").values() {
            if p.session_id == session_id {
                p.wake(Wake::Cleanup);
            }
        }
    }

    fn cancel(&self, h: &Header) {
        let pending = self.pending.lock().expect("pending");
        let target = match h.target {
            Target::Async(id) => pending
                .values()
                .find(|p| p.async_id.load(Ordering::Relaxed) == id)
                .cloned(),
            Target::Tree(_) => pending.get(&h.message_id).cloned(),
        };
        drop(pending);
        if let Some(p) = target {
            p.wake(Wake::Cancel);
        }
    }

    async fn message(self: &Arc<Self>, data: bytes::Bytes) -> Result<(), String> {
        match data.get(..4) {
            Some([0xff, b'S', b'M', b'B']) => {
                if self.negotiated.lock().expect("negotiated").is_some() {
                    return Err("SMB1 message after negotiation".into());
                }
                return smb1::negotiate(self, &data).await;
            }
            Some(p) if p == transform::PROTOCOL_ID => {
                let (plain, sid) = self.decrypt(&data)?;
                return self.messages(bytes::Bytes::from(plain), Some(sid)).await;
            }
            Some(p) if p == header::PROTOCOL_ID => {}
            _ => return Err("not an SMB2 message".into()),
        }
        self.messages(data, None).await
    }

    fn decrypt(&self, data: &[u8]) -> Result<(Vec<u8>, u64), String> {
        let th = transform::TransformHeader::parse(data)?;
        let sid = th.session_id;
        let session = self
            .session(sid)
            .ok_or_else(|| format!("encrypted message for unknown session {sid:#x}"))?;
        let cipher = self
            .negotiated()
            .and_then(|n| n.cipher)
            .ok_or("encrypted message but no cipher was negotiated")?;
        let keys = session
            .keys()
            .ok_or("encrypted message for a session without keys")?;
        let mut plain = data[transform::LEN..].to_vec();
        crypto::decrypt(
            cipher,
            &keys.decryption,
            &th.nonce,
            &data[transform::AAD],
            &mut plain,
            &th.signature,
        )
        .map_err(|e| format!("session {sid:#x}: {e}"))?;
        Ok((plain, sid))
    }

    async fn messages(
        self: &Arc<Self>,
        data: bytes::Bytes,
        encrypted: Option<u64>,
    ) -> Result<(), String> {
        // Split the compound and check every element before running any;
        // each element is a view into the received message (a WRITE's
        // data is not copied).
        let elements: Vec<(Header, bytes::Bytes)> = header::split_compound(&data)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(h, at)| (h, data.slice(at)))
            .collect();
        let dialect = self.negotiated().map(|n| n.dialect);
        let mut prepared = Vec::with_capacity(elements.len());
        for (h, msg) in elements {
            if h.command == Command::CANCEL {
                self.cancel(&h);
                continue;
            }
            let charge = match dialect {
                Some(d) if d >= 0x0210 => u64::from(h.credit_charge.max(1)),
                _ => 1,
            };
            self.credits
                .lock()
                .expect("credits")
                .consume(h.message_id, charge)
                .map_err(|e| e.to_string())?;
            let pending = Arc::new(PendingReq::new(h.session_id));
            {
                let mut p = self.pending.lock().expect("pending");
                if p.len() >= self.server.limits.max_pending_per_connection {
                    return Err("too many requests in flight".into());
                }
                p.insert(h.message_id, pending.clone());
            }
            prepared.push((h, msg, pending));
        }
        if prepared.is_empty() {
            return Ok(());
        }
        let first_id = prepared[0].0.message_id;
        // The chain's first step (parsing, finding the handle, starting
        // the backend's work) runs here, in the order the requests came:
        // a CLOSE cannot overtake the QUERY_DIRECTORY sent before it, and
        // CHANGE_NOTIFYs queue in order. What is left (waiting for the
        // disk, an oplock break, a lock) goes on in its own task while
        // this connection reads on. A request answered at once needs no
        // task at all.
        let mut chain = CatchPanic {
            fut: Box::pin(self.clone().chain(prepared, encrypted)),
            peer: self.peer,
            message_id: first_id,
        };
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if Pin::new(&mut chain).poll(&mut cx).is_pending() {
            // The task polls again at once with its own waker; everything
            // the first poll waited on is registered again then.
            tokio::spawn(chain);
        }
        Ok(())
    }

    /// Runs the elements of one compound in order and sends the responses.
    async fn chain(
        self: Arc<Self>,
        elements: Vec<(Header, bytes::Bytes, Arc<PendingReq>)>,
        encrypted: Option<u64>,
    ) {
        let mut out: Vec<u8> = Vec::new();
        let mut last_start: Option<usize> = None;
        // What related requests inherit (as Samba keeps it): the session
        // and tree of the previous request when they were valid (else
        // nothing: such requests fail with INVALID_PARAMETER), the last
        // file opened or used, and the error of a failed CREATE.
        let mut prev_session = u64::MAX;
        let mut prev_tree = u32::MAX;
        let mut prev_file: Option<FileId> = None;
        let mut create_err: Option<NtStatus> = None;
        let mut encrypt_with: Option<Arc<Session>> = None;
        let mut to_sign: Vec<(usize, Arc<Session>)> = Vec::new();
        let mut starts: Vec<usize> = Vec::new();
        let mut continuation = None;
        // Bulk data that ends the last response (READ), sent after `out`.
        let mut tail: Vec<u8> = Vec::new();
        let count = elements.len();
        for (i, (h, msg, pending)) in elements.into_iter().enumerate() {
            let related = h.flags & flags::RELATED_OPERATIONS != 0;
            let session_id = if related { prev_session } else { h.session_id };
            let tree_id = if related {
                prev_tree
            } else {
                h.tree_id().unwrap_or(0)
            };
            let req = Request {
                header: h.clone(),
                msg,
                encrypted,
                session_id,
                tree_id,
                related_file: if related { prev_file } else { None },
                related_err: match create_err {
                    Some(e) if related => e,
                    _ => NtStatus::FILE_CLOSED,
                },
                used_file: Mutex::new(None),
                last_in_chain: i + 1 == count,
                pending: pending.clone(),
            };
            let outcome = if related
                && !matches!(
                    h.command,
                    Command::NEGOTIATE | Command::SESSION_SETUP | Command::ECHO
                )
                && self.session(session_id).is_none_or(|s| !s.is_valid())
            {
                Outcome::err(NtStatus::INVALID_PARAMETER)
            } else {
                dispatch::dispatch(&self, &req).await
            };
            let req_used = req.used_file;
            if !related {
                prev_file = None;
            }
            let mut cancelled_async = false;
            let mut data = None;
            let (status, body, file, tree_id, session_override, rest) = match outcome {
                Outcome::Reply {
                    status,
                    body,
                    file,
                    tree,
                    session,
                } => (status, body, file, tree.unwrap_or(tree_id), session, None),
                Outcome::Data {
                    status,
                    body,
                    data: d,
                    file,
                } => {
                    data = Some(d);
                    (status, body, file, tree_id, None, None)
                }
                // Only the last request of a compound may go async; one
                // before it is cancelled (as Windows and Samba do).
                Outcome::Async { rest: _ } if i + 1 < count => {
                    cancelled_async = true;
                    (
                        NtStatus::INTERNAL_ERROR,
                        Vec::new(),
                        None,
                        tree_id,
                        None,
                        None,
                    )
                }
                Outcome::Async { rest } => (
                    NtStatus::PENDING,
                    Vec::new(),
                    None,
                    tree_id,
                    None,
                    Some(rest),
                ),
                Outcome::Nothing => {
                    self.pending.lock().expect("pending").remove(&h.message_id);
                    continue;
                }
                Outcome::Disconnect(why) => {
                    tracing::warn!(target: LOG, peer = %self.peer, "dropping the connection: {why}");
                    self.pending.lock().expect("pending").remove(&h.message_id);
                    self.close.notify_one();
                    return;
                }
            };
            if status.is_error() && status != NtStatus::MORE_PROCESSING_REQUIRED {
                tracing::debug!(target: LOG, peer = %self.peer, command = h.command.name(), message_id = h.message_id, session = format_args!("{:#x}", session_id), %status, "request failed");
            }
            // The session the response belongs to (SESSION_SETUP may have
            // created it).
            let sid = match (h.command, session_override) {
                (Command::NEGOTIATE, _) => 0,
                (_, Some(s)) => s,
                _ => session_id,
            };
            let session = self.session(sid);
            let async_id = rest.as_ref().map(|_| self.new_async_id());
            let granted = self
                .credits
                .lock()
                .expect("credits")
                .grant(h.credits.max(1));
            let rh = Header {
                credit_charge: h.credit_charge,
                status,
                command: h.command,
                credits: granted,
                flags: flags::SERVER_TO_REDIR
                    | (h.flags & flags::RELATED_OPERATIONS)
                    | if async_id.is_some() {
                        flags::ASYNC_COMMAND
                    } else {
                        0
                    },
                next_command: 0,
                message_id: h.message_id,
                target: match async_id {
                    Some(a) => Target::Async(a),
                    None => Target::Tree(tree_id),
                },
                session_id: sid,
                signature: [0; 16],
            };
            if let Some(prev) = last_start {
                let next = (out.len() - prev) as u32;
                crate::wire::reader::patch_u32(
                    &mut out,
                    prev + header::field::NEXT_COMMAND.start,
                    next,
                );
            }
            let start = out.len();
            starts.push(start);
            rh.emit(&mut out);
            if status == NtStatus::PENDING
                || !crate::cmd::has_normal_body(status) && body.is_empty()
            {
                crate::cmd::emit_error(&mut out, &[]);
            } else {
                out.extend_from_slice(&body);
                match data {
                    // The last response's data stays a buffer of its own.
                    Some(d) if i + 1 == count => tail = d,
                    Some(d) => out.extend_from_slice(&d),
                    None => {}
                }
            }
            if i + 1 < count {
                while !(out.len() - start).is_multiple_of(8) {
                    out.push(0);
                }
            }
            if let Some(s) = &session {
                if encrypted.is_some() || s.must_encrypt(tree_id) {
                    encrypt_with = Some(s.clone());
                } else if s.should_sign(&h, status) {
                    // Signed once the next response has set NextCommand
                    // in this one's header: the signature covers it.
                    to_sign.push((start, s.clone()));
                }
            }
            if h.command == Command::NEGOTIATE && status == NtStatus::SUCCESS {
                session::negotiate_response_sent(&self, &out[start..]);
            } else if h.command == Command::SESSION_SETUP
                && status == NtStatus::MORE_PROCESSING_REQUIRED
                && let Some(s) = &session
            {
                s.preauth_update(&out[start..]);
            } else if h.command == Command::LOGOFF && status == NtStatus::SUCCESS {
                self.sessions.lock().expect("sessions").remove(&sid);
                self.server.sessions.lock().expect("sessions").remove(&sid);
            }
            last_start = Some(start);
            let valid = session.as_ref().filter(|s| s.is_valid());
            prev_session = if valid.is_some() { sid } else { 0 };
            prev_tree = match valid {
                Some(s) if s.tree(tree_id).is_some() => tree_id,
                _ => 0,
            };
            if let Some(f) = file.or(*req_used.lock().expect("used file")) {
                prev_file = Some(f);
            }
            if h.command == Command::CREATE && status.is_error() && !cancelled_async {
                create_err = Some(status);
                prev_file = None;
            }
            match rest {
                Some(rest) => {
                    let a = async_id.unwrap_or(0);
                    pending.async_id.store(a, Ordering::Relaxed);
                    continuation = Some((rest, h.clone(), a, sid, tree_id));
                }
                None => {
                    self.pending.lock().expect("pending").remove(&h.message_id);
                }
            }
        }
        if !to_sign.is_empty() {
            let algo = self
                .negotiated()
                .map(|n| n.signing)
                .unwrap_or(SigningAlgo::HmacSha256);
            // Each response of the compound is signed over its own bytes
            // and padding, up to where the next one starts.
            for (start, s) in &to_sign {
                match starts.iter().copied().find(|x| x > start) {
                    Some(end) => s.sign(&mut out[*start..end], &[], algo),
                    None => s.sign(&mut out[*start..], &tail, algo),
                }
            }
        }
        if !out.is_empty() {
            match encrypt_with.as_deref() {
                Some(s) => {
                    out.extend_from_slice(&tail);
                    self.send(out, Some(s)).await;
                }
                None => {
                    self.send_raw(frame::OutFrame::with_tail(
                        nbss::kind::SESSION_MESSAGE,
                        out,
                        tail,
                    ))
                    .await
                }
            }
        }
        if let Some((rest, h, async_id, sid, tree_id)) = continuation {
            let (status, body) = rest.await;
            self.pending.lock().expect("pending").remove(&h.message_id);
            let mut out = Vec::new();
            let rh = Header {
                credit_charge: h.credit_charge,
                status,
                command: h.command,
                credits: 0,
                flags: flags::SERVER_TO_REDIR | flags::ASYNC_COMMAND,
                next_command: 0,
                message_id: h.message_id,
                target: Target::Async(async_id),
                session_id: sid,
                signature: [0; 16],
            };
            rh.emit(&mut out);
            if !crate::cmd::has_normal_body(status) && body.is_empty() {
                crate::cmd::emit_error(&mut out, &[]);
            } else {
                out.extend_from_slice(&body);
            }
            let session = self.session(sid);
            let mut enc = None;
            if let Some(s) = &session {
                if encrypted.is_some() || s.must_encrypt(tree_id) {
                    enc = Some(s.clone());
                } else if s.should_sign(&h, status) {
                    s.sign(
                        &mut out,
                        &[],
                        self.negotiated()
                            .map(|n| n.signing)
                            .unwrap_or(SigningAlgo::HmacSha256),
                    );
                }
            }
            self.send(out, enc.as_deref()).await;
        }
    }

    /// Ends session `id` at once (a client reconnected and named it as its
    /// previous session): its waiting requests complete with
    /// NOTIFY_CLEANUP or CANCELLED, its trees and opens go.
    pub async fn end_session(&self, id: u64) {
        let s = self.sessions.lock().expect("sessions").remove(&id);
        self.server.sessions.lock().expect("sessions").remove(&id);
        if let Some(s) = s {
            self.cancel_session(id);
            s.logoff().await;
        }
    }

    /// Everything of this connection goes: sessions, trees, opens.
    async fn teardown(&self) {
        let sessions: Vec<Arc<Session>> = self
            .sessions
            .lock()
            .expect("sessions")
            .drain()
            .map(|(_, s)| s)
            .collect();
        {
            let mut registry = self.server.sessions.lock().expect("sessions");
            for s in &sessions {
                registry.remove(&s.id);
            }
        }
        for p in self.pending.lock().expect("pending").values() {
            p.wake(Wake::Cleanup);
        }
        for s in sessions {
            s.logoff().await;
        }
    }
}

/// A request chain that logs a panic (a bug) with the client's address
/// instead of taking the connection's reader with it.
struct CatchPanic {
    fut: Pin<Box<dyn Future<Output = ()> + Send>>,
    peer: SocketAddr,
    message_id: u64,
}

impl Future for CatchPanic {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| this.fut.as_mut().poll(cx)))
        {
            Ok(p) => p,
            Err(_) => {
                tracing::error!(target: LOG, peer = %this.peer, message_id = this.message_id, "BUG: request handler panicked");
                // Never poll the broken future again.
                this.fut = Box::pin(std::future::ready(()));
                Poll::Ready(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::transform::{self, TransformHeader};
    use super::*;

    fn element(next: u32, related: bool, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        Header {
            credit_charge: 1,
            status: NtStatus::SUCCESS,
            command: Command::ECHO,
            credits: 1,
            flags: if related {
                flags::RELATED_OPERATIONS
            } else {
                0
            },
            next_command: next,
            message_id: 1,
            target: Target::Tree(0),
            session_id: 0,
            signature: [0; 16],
        }
        .emit(&mut m);
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn transform_header_round_trip_and_checks() {
        let inner = element(0, false, &[4, 0, 0, 0]);
        let t = TransformHeader {
            signature: [1; 16],
            nonce: [2; 16],
            original_size: inner.len() as u32,
            flags: transform::ENCRYPTED,
            session_id: 0x1234,
        };
        let mut data = t.emit().to_vec();
        assert_eq!(&data[..4], b"\xfdSMB");
        data.extend_from_slice(&inner);
        assert_eq!(TransformHeader::parse(&data).unwrap(), t);
        assert!(TransformHeader::parse(&data[..transform::LEN + 63]).is_err());
        let mut bad = data.clone();
        bad[36] ^= 1; // OriginalMessageSize
        assert!(TransformHeader::parse(&bad).is_err());
        let mut bad = data.clone();
        bad[42] = 2; // Flags
        assert!(TransformHeader::parse(&bad).is_err());
    }
}
