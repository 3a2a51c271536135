//! One SMB1 connection to a browser's IPC$, as Samba's nmbd makes it for
//! a sync: session request on 139, NEGOTIATE (NT LM 0.12 only, no
//! extended security), anonymous SESSION_SETUP_ANDX, TREE_CONNECT_ANDX to
//! `\\PEER\IPC$`, RAP calls in TRANSACTIONs, LOGOFF_ANDX.
//!
//! Every read and write runs against one deadline, so a peer that stops
//! answering (or trickles bytes) costs at most the caller's timeout.

use std::future::Future;
use std::net::SocketAddrV4;
use std::time::Duration;

use common::netbios::NbName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::rap::{self, MAX_ENTRIES, NetServerEnumRequest, NetServerEnumResponse, RapServer};
use super::smb1::{
    self, Header, Message, NegotiateResponse, NegotiateSecurity, SessionResponse,
    SessionSetupRequest, SessionSetupResponse, Smb1Error, TransactionAssembly, TransactionPart,
    TransactionRequest, TreeConnectRequest, TreeConnectResponse, cap, command, flags2, nbss,
};
use super::{LOG, Step, SyncError};

/// The buffer size we tell the server (as Windows XP): a full 64 KiB RAP
/// reply then comes in four or five TRANSACTION parts.
pub const MAX_BUFFER_SIZE: u16 = 16644;
/// The RAP receive buffer and TRANSACTION MaxDataCount (Samba's
/// CLI_BUFFER_SIZE).
pub const RECEIVE_SIZE: u16 = 0xffff;
/// MaxParameterCount: the RAP reply's status, converter and counts (as
/// Samba asks).
pub const MAX_PARAMS: u16 = 8;
pub const LANMAN_PIPE: &str = "\\PIPE\\LANMAN";
pub const NATIVE_OS: &str = "Unix";
pub const NATIVE_LANMAN: &str = "nmbd";
/// MaxMpxCount and VcNumber we send (Samba's client sends 2 and 1; a
/// VcNumber of 0 would make a Windows server drop our other sessions).
const MAX_MPX: u16 = 2;
const VC_NUMBER: u16 = 1;

/// flags2 of every request: long names and NT status codes; Unicode on
/// the NEGOTIATE (as Samba's client) and afterwards when the server
/// offers CAP_UNICODE.
const FLAGS2_BASE: u16 = flags2::LONG_NAMES | flags2::IS_LONG_NAME | flags2::NT_STATUS;

pub(super) struct Client {
    stream: TcpStream,
    peer: SocketAddrV4,
    deadline: Instant,
    limit: Duration,
    pid: u16,
    next_mid: u16,
    uid: u16,
    tid: u16,
    unicode: bool,
    session_key: u32,
    /// The server's primary domain from its SESSION_SETUP_ANDX reply.
    pub server_domain: String,
}

impl Client {
    /// Connects and logs on anonymously to `\\CALLED\IPC$`; all within
    /// `limit`, which also bounds everything done later on this client.
    pub async fn open(
        peer: SocketAddrV4,
        called: &NbName,
        calling: &NbName,
        limit: Duration,
    ) -> Result<Client, SyncError> {
        let deadline = Instant::now() + limit;
        let stream = run(
            peer,
            deadline,
            limit,
            Step::Connect,
            TcpStream::connect(peer),
        )
        .await?;
        let _ = stream.set_nodelay(true);
        let mut c = Client {
            stream,
            peer,
            deadline,
            limit,
            pid: std::process::id() as u16,
            next_mid: 1,
            uid: 0,
            tid: 0,
            unicode: false,
            session_key: 0,
            server_domain: String::new(),
        };
        c.session_request(called, calling).await?;
        c.negotiate().await?;
        c.session_setup().await?;
        c.tree_connect(&called.name_str()).await?;
        Ok(c)
    }

    async fn session_request(
        &mut self,
        called: &NbName,
        calling: &NbName,
    ) -> Result<(), SyncError> {
        let step = Step::SessionRequest;
        self.send(step, &smb1::session_request(called, calling))
            .await?;
        let (kind, body) = self.read_frame(step).await?;
        match SessionResponse::parse(kind, &body).map_err(|e| self.malformed(step, e))? {
            SessionResponse::Positive => Ok(()),
            SessionResponse::Negative(code) => Err(SyncError::Refused {
                peer: self.peer,
                code,
            }),
            SessionResponse::Retarget(ip, port) => Err(SyncError::Retarget {
                peer: self.peer,
                to: SocketAddrV4::new(ip, port),
            }),
            SessionResponse::Other(kind) => Err(SyncError::UnexpectedFrame {
                peer: self.peer,
                step,
                kind,
            }),
        }
    }

    async fn negotiate(&mut self) -> Result<(), SyncError> {
        let step = Step::Negotiate;
        let h = self.header(command::NEGOTIATE, FLAGS2_BASE | flags2::UNICODE);
        let msg = smb1::negotiate_request(&h, &[smb1::NT_LM_012])
            .map_err(|e| self.encode_error(step, e))?;
        let reply = self.call(step, &msg).await?;
        let m = self.check(step, &reply, &h)?;
        let n = NegotiateResponse::parse(&m).map_err(|e| self.malformed(step, e))?;
        let nt = match (n.dialect_index, n.nt) {
            (0, Some(nt)) => nt,
            (smb1::NO_DIALECT, _) => return Err(SyncError::NoDialect { peer: self.peer }),
            (index, _) => {
                return Err(SyncError::WrongDialect {
                    peer: self.peer,
                    index,
                });
            }
        };
        if let NegotiateSecurity::Extended { .. } = nt.security {
            return Err(SyncError::ExtendedSecurity { peer: self.peer });
        }
        // As Samba's client: Unicode strings when the server offers them.
        self.unicode = nt.capabilities & cap::UNICODE != 0;
        self.session_key = nt.session_key;
        tracing::debug!(target: LOG, peer = %self.peer, capabilities = format_args!("{:#010x}", nt.capabilities),
            unicode = self.unicode, "negotiated NT LM 0.12");
        Ok(())
    }

    async fn session_setup(&mut self) -> Result<(), SyncError> {
        let step = Step::SessionSetup;
        let h = self.header(command::SESSION_SETUP_ANDX, self.flags2());
        let mut capabilities = cap::NT_SMBS | cap::STATUS32;
        if self.unicode {
            capabilities |= cap::UNICODE;
        }
        // Anonymous: no passwords, no account, no domain.
        let req = SessionSetupRequest {
            max_buffer_size: MAX_BUFFER_SIZE,
            max_mpx_count: MAX_MPX,
            vc_number: VC_NUMBER,
            session_key: self.session_key,
            oem_password: Vec::new(),
            unicode_password: Vec::new(),
            capabilities,
            account: String::new(),
            primary_domain: String::new(),
            native_os: NATIVE_OS.into(),
            native_lanman: NATIVE_LANMAN.into(),
        };
        let msg = req.emit(&h).map_err(|e| self.encode_error(step, e))?;
        let reply = self.call(step, &msg).await?;
        let m = self.check(step, &reply, &h)?;
        let r = SessionSetupResponse::parse(&m).map_err(|e| self.malformed(step, e))?;
        self.uid = m.header.uid;
        tracing::debug!(target: LOG, peer = %self.peer, uid = self.uid, action = r.action,
            os = %r.native_os, lanman = %r.native_lanman, domain = %r.primary_domain,
            "anonymous session");
        self.server_domain = r.primary_domain;
        Ok(())
    }

    async fn tree_connect(&mut self, server: &str) -> Result<(), SyncError> {
        let step = Step::TreeConnect;
        let h = self.header(command::TREE_CONNECT_ANDX, self.flags2());
        let req = TreeConnectRequest {
            flags: smb1::TCONX_EXTENDED_RESPONSE,
            // User-level security: the password went with the session.
            password: vec![0],
            path: format!("\\\\{server}\\IPC$"),
            service: "?????".into(),
        };
        let msg = req.emit(&h).map_err(|e| self.encode_error(step, e))?;
        let reply = self.call(step, &msg).await?;
        let m = self.check(step, &reply, &h)?;
        let r = TreeConnectResponse::parse(&m).map_err(|e| self.malformed(step, e))?;
        self.tid = m.header.tid;
        tracing::debug!(target: LOG, peer = %self.peer, tid = self.tid, service = %r.service, "connected to IPC$");
        Ok(())
    }

    /// NetServerEnum2 for `domain` and `server_type`, continued with
    /// NetServerEnum3 while the server answers "more data", as Samba's
    /// cli_NetServerEnum: each continuation names the last entry received,
    /// and the reply's first entry, when it is that one again, is skipped.
    /// SV_TYPE_LOCAL_LIST_ONLY is cleared in the types returned.
    pub async fn server_enum(
        &mut self,
        domain: &str,
        server_type: u32,
    ) -> Result<Vec<RapServer>, SyncError> {
        let mut req = NetServerEnumRequest {
            level: rap::INFO_LEVEL_1,
            receive_size: RECEIVE_SIZE,
            server_type,
            domain: domain.to_string(),
            first_name: None,
        };
        let first = self.rap(&req).await?;
        let available = usize::from(first.entries_available);
        let mut more = first.status == rap::status::MORE_DATA;
        let mut servers = first.servers;
        while more && servers.len() < available && servers.len() < MAX_ENTRIES {
            let Some(last) = servers.last().map(|s| s.name.clone()) else {
                break;
            };
            req.first_name = Some(last.clone());
            let next = self.rap(&req).await?;
            let mut got = next.servers;
            if got.first().is_some_and(|s| s.name == last) {
                got.remove(0);
            }
            if got.is_empty() {
                // Nothing new: stop rather than ask again for the same.
                break;
            }
            servers.extend(got);
            more = next.status == rap::status::MORE_DATA;
        }
        if servers.len() > MAX_ENTRIES {
            tracing::warn!(target: LOG, peer = %self.peer, domain, entries = servers.len(),
                "list cut at {MAX_ENTRIES} entries");
            servers.truncate(MAX_ENTRIES);
        }
        for s in &mut servers {
            s.server_type &= !rap::sv_type::LOCAL_LIST_ONLY;
        }
        Ok(servers)
    }

    async fn rap(
        &mut self,
        req: &NetServerEnumRequest,
    ) -> Result<NetServerEnumResponse, SyncError> {
        let step = if req.first_name.is_some() {
            Step::NetServerEnum3
        } else {
            Step::NetServerEnum2
        };
        let params = req.emit().map_err(|source| SyncError::Rap {
            peer: self.peer,
            step,
            source,
        })?;
        let (rparams, rdata) = self.transaction(step, params).await?;
        let r =
            NetServerEnumResponse::parse(&rparams, &rdata).map_err(|source| SyncError::Rap {
                peer: self.peer,
                step,
                source,
            })?;
        if r.status != rap::status::SUCCESS && r.status != rap::status::MORE_DATA {
            return Err(SyncError::RapStatus {
                peer: self.peer,
                step,
                status: r.status,
            });
        }
        tracing::debug!(target: LOG, peer = %self.peer, call = %step, domain = %req.domain,
            server_type = format_args!("{:#010x}", req.server_type), status = r.status,
            returned = r.servers.len(), available = r.entries_available, "RAP reply");
        Ok(r)
    }

    /// One TRANSACTION on `\PIPE\LANMAN`: its reply's parameters and data,
    /// reassembled from as many parts as the server sends.
    async fn transaction(
        &mut self,
        step: Step,
        params: Vec<u8>,
    ) -> Result<(Vec<u8>, Vec<u8>), SyncError> {
        let h = self.header(command::TRANSACTION, self.flags2());
        let req = TransactionRequest {
            name: LANMAN_PIPE.into(),
            params,
            data: Vec::new(),
            setup: Vec::new(),
            max_param_count: MAX_PARAMS,
            max_data_count: RECEIVE_SIZE,
            max_setup_count: 0,
            flags: 0,
            timeout_ms: 0,
        };
        let msg = req.emit(&h).map_err(|e| self.encode_error(step, e))?;
        let mut reply = self.call(step, &msg).await?;
        let mut assembly = TransactionAssembly::new(MAX_PARAMS, RECEIVE_SIZE);
        loop {
            let m = self.check(step, &reply, &h)?;
            let part = TransactionPart::parse(&m).map_err(|e| self.malformed(step, e))?;
            if assembly.add(&part).map_err(|e| self.malformed(step, e))? {
                break;
            }
            reply = self.recv(step).await?;
        }
        Ok((assembly.params, assembly.data))
    }

    /// LOGOFF_ANDX, then close. Errors are ignored: the lists are in hand.
    pub async fn close(mut self) {
        let h = self.header(command::LOGOFF_ANDX, self.flags2());
        if let Ok(msg) = smb1::logoff_request(&h) {
            let _ = self.call(Step::Logoff, &msg).await;
        }
        let _ = run(
            self.peer,
            self.deadline,
            self.limit,
            Step::Logoff,
            self.stream.shutdown(),
        )
        .await;
    }

    fn flags2(&self) -> u16 {
        if self.unicode {
            FLAGS2_BASE | flags2::UNICODE
        } else {
            FLAGS2_BASE
        }
    }

    fn header(&mut self, command: u8, flags2: u16) -> Header {
        let mid = self.next_mid;
        self.next_mid = self.next_mid.wrapping_add(1);
        Header::request(command, flags2, self.tid, self.pid, self.uid, mid)
    }

    /// Checks a reply against its request: command, message id, then the
    /// status (an error status is the peer's answer, not a malformed reply).
    fn check<'a>(
        &self,
        step: Step,
        reply: &'a [u8],
        req: &Header,
    ) -> Result<Message<'a>, SyncError> {
        let m = Message::parse(reply).map_err(|e| self.malformed(step, e))?;
        m.expect(req.command).map_err(|e| self.malformed(step, e))?;
        if m.header.mid != req.mid {
            return Err(self.malformed(
                step,
                Smb1Error::WrongMid {
                    got: m.header.mid,
                    want: req.mid,
                },
            ));
        }
        if !m.header.status.is_success() {
            return Err(SyncError::Status {
                peer: self.peer,
                step,
                status: m.header.status,
            });
        }
        Ok(m)
    }

    /// Sends one SMB message and reads the next.
    async fn call(&mut self, step: Step, msg: &[u8]) -> Result<Vec<u8>, SyncError> {
        self.send(step, &smb1::nbss_message(msg)).await?;
        self.recv(step).await
    }

    /// The next SESSION MESSAGE (keepalives skipped).
    async fn recv(&mut self, step: Step) -> Result<Vec<u8>, SyncError> {
        let (kind, body) = self.read_frame(step).await?;
        if kind != nbss::SESSION_MESSAGE {
            return Err(SyncError::UnexpectedFrame {
                peer: self.peer,
                step,
                kind,
            });
        }
        Ok(body)
    }

    async fn send(&mut self, step: Step, frame: &[u8]) -> Result<(), SyncError> {
        run(
            self.peer,
            self.deadline,
            self.limit,
            step,
            self.stream.write_all(frame),
        )
        .await
    }

    /// One NBSS frame: its type and data. The length may use 24 bits (as
    /// Samba accepts) but not more than [`smb1::MAX_FRAME`]; keepalives are
    /// read and dropped.
    async fn read_frame(&mut self, step: Step) -> Result<(u8, Vec<u8>), SyncError> {
        loop {
            let mut h = [0u8; nbss::HEADER_LEN];
            let (peer, deadline, limit) = (self.peer, self.deadline, self.limit);
            run(peer, deadline, limit, step, self.stream.read_exact(&mut h)).await?;
            // 0 type, 1..4 length
            let len = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
            if len + nbss::HEADER_LEN > smb1::MAX_FRAME {
                return Err(SyncError::FrameTooLarge { peer, step, len });
            }
            let mut body = vec![0u8; len];
            run(
                peer,
                deadline,
                limit,
                step,
                self.stream.read_exact(&mut body),
            )
            .await?;
            if h[0] != nbss::KEEPALIVE {
                return Ok((h[0], body));
            }
        }
    }

    fn malformed(&self, step: Step, source: Smb1Error) -> SyncError {
        SyncError::Malformed {
            peer: self.peer,
            step,
            source,
        }
    }

    fn encode_error(&self, step: Step, source: Smb1Error) -> SyncError {
        SyncError::Encode {
            peer: self.peer,
            step,
            source,
        }
    }
}

/// Runs one I/O operation against the deadline.
async fn run<T>(
    peer: SocketAddrV4,
    deadline: Instant,
    limit: Duration,
    step: Step,
    io: impl Future<Output = std::io::Result<T>>,
) -> Result<T, SyncError> {
    match tokio::time::timeout_at(deadline, io).await {
        Err(_) => Err(SyncError::Timeout { peer, step, limit }),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(SyncError::Closed { peer, step })
        }
        Ok(Err(source)) => Err(SyncError::Io { peer, step, source }),
        Ok(Ok(v)) => Ok(v),
    }
}
