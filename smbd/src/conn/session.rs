//! NEGOTIATE, SESSION_SETUP and LOGOFF, and what an SMB2 session is: who
//! it authenticated, its keys, its trees.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::smbconf::{MapToGuest, ServerSigning, SmbEncrypt};

use super::tree::Tree;
use super::{Connection, Negotiated, Outcome, Request};
use crate::auth::{self, AuthConfig, GuestPolicy, Identity, ServerAuth, Step};
use crate::cmd::negotiate::{self as neg, NegContext, NegotiateOut, caps, dialect, security_mode};
use crate::cmd::session_setup::{self as ss, session_flags};
use crate::crypto::{self, Cipher, Preauth, SessionKeys, SigningAlgo};
use crate::ntvfs::UserToken;
use crate::server::SessionRef;
use crate::wire::NtStatus;
use crate::wire::header::{Command, Header, flags};

const LOG: &str = "smbd::session";

struct Valid {
    user: Arc<UserToken>,
    keys: SessionKeys,
    /// Every request must be signed (and responses are).
    signing_required: bool,
    /// Every request must be encrypted.
    encrypt_data: bool,
    /// Guest and anonymous sessions have no key to sign with.
    can_sign: bool,
}

pub struct Session {
    pub id: u64,
    dialect: u16,
    auth: Mutex<Option<ServerAuth>>,
    valid: Mutex<Option<Arc<Valid>>>,
    preauth: Mutex<Preauth>,
    pub trees: Mutex<HashMap<u32, Arc<Tree>>>,
    next_tree: AtomicU32,
    nonce: AtomicU64,
    nonce_salt: [u8; 4],
}

impl Session {
    fn new(id: u64, dialect: u16, preauth: Preauth) -> Session {
        let mut salt = [0u8; 4];
        let _ = getrandom::fill(&mut salt);
        Session {
            id,
            dialect,
            auth: Mutex::new(None),
            valid: Mutex::new(None),
            preauth: Mutex::new(preauth),
            trees: Mutex::new(HashMap::new()),
            next_tree: AtomicU32::new(1),
            nonce: AtomicU64::new(1),
            nonce_salt: salt,
        }
    }

    fn valid(&self) -> Option<Arc<Valid>> {
        self.valid.lock().expect("session").clone()
    }

    pub fn is_valid(&self) -> bool {
        self.valid().is_some()
    }

    pub fn user(&self) -> Option<Arc<UserToken>> {
        self.valid().map(|v| v.user.clone())
    }

    pub fn keys(&self) -> Option<SessionKeys> {
        self.valid().map(|v| v.keys.clone())
    }

    pub fn signing_required(&self) -> bool {
        self.valid().is_some_and(|v| v.signing_required)
    }

    pub fn encrypt_data(&self) -> bool {
        self.valid().is_some_and(|v| v.encrypt_data)
    }

    pub fn can_sign(&self) -> bool {
        self.valid().is_some_and(|v| v.can_sign)
    }

    pub fn new_tree_id(&self) -> u32 {
        self.next_tree.fetch_add(1, Ordering::Relaxed)
    }

    pub fn tree(&self, id: u32) -> Option<Arc<Tree>> {
        self.trees.lock().expect("trees").get(&id).cloned()
    }

    /// Whether responses on `tree_id` go encrypted.
    pub fn must_encrypt(&self, tree_id: u32) -> bool {
        self.encrypt_data() || self.tree(tree_id).is_some_and(|t| t.encrypt)
    }

    /// Whether the response to `h` with `status` is signed.
    pub fn should_sign(&self, h: &Header, status: NtStatus) -> bool {
        let Some(v) = self.valid() else { return false };
        if !v.can_sign {
            return false;
        }
        if h.command == Command::SESSION_SETUP {
            return status == NtStatus::SUCCESS;
        }
        h.flags & flags::SIGNED != 0 || v.signing_required
    }

    /// Signs the response `msg` whose bytes continue with `tail` (a READ's
    /// data sent as a buffer of its own; empty otherwise).
    pub fn sign(&self, msg: &mut [u8], tail: &[u8], algo: SigningAlgo) {
        let Some(keys) = self.keys() else { return };
        let f = crate::wire::header::field::FLAGS;
        let fl = u32::from_le_bytes(msg[f.clone()].try_into().expect("4 bytes")) | flags::SIGNED;
        msg[f].copy_from_slice(&fl.to_le_bytes());
        let sig = crypto::signature_with_tail(algo, &keys.signing, msg, tail, false);
        msg[crate::wire::header::field::SIGNATURE].copy_from_slice(&sig);
    }

    /// Checks a request's signature; false when it is missing but required,
    /// or wrong.
    pub fn verify(&self, msg: &[u8], h: &Header, algo: SigningAlgo) -> bool {
        let Some(v) = self.valid() else { return true };
        if h.flags & flags::SIGNED == 0 {
            return !v.signing_required;
        }
        if !v.can_sign {
            return false;
        }
        crypto::verify(algo, &v.keys.signing, msg, h.command == Command::CANCEL)
    }

    /// Wraps `smb` in a transform header encrypted with this session's key.
    pub fn encrypt(&self, smb: &[u8], conn: &Connection) -> Option<Vec<u8>> {
        use super::transform as t;
        let v = self.valid()?;
        let cipher = conn.negotiated().and_then(|n| n.cipher)?;
        let n = self.nonce.fetch_add(1, Ordering::Relaxed);
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&n.to_le_bytes());
        let salt_len = cipher.nonce_len() - 8;
        nonce[8..8 + salt_len].copy_from_slice(&self.nonce_salt[..salt_len]);
        let mut header = t::TransformHeader {
            signature: [0; 16],
            nonce,
            original_size: smb.len() as u32,
            flags: t::ENCRYPTED,
            session_id: self.id,
        };
        let mut data = smb.to_vec();
        header.signature = crypto::encrypt(
            cipher,
            &v.keys.encryption,
            &nonce,
            &header.emit()[t::AAD],
            &mut data,
        );
        let mut out = header.emit().to_vec();
        out.extend_from_slice(&data);
        Some(out)
    }

    pub fn preauth_update(&self, msg: &[u8]) {
        if self.dialect >= dialect::SMB3_11 {
            self.preauth.lock().expect("preauth").update(msg);
        }
    }

    /// Disconnects every tree of the session (its keys stay until the
    /// session object goes, so the LOGOFF response can still be signed).
    pub async fn logoff(&self) {
        let trees: Vec<Arc<Tree>> = self
            .trees
            .lock()
            .expect("trees")
            .drain()
            .map(|(_, t)| t)
            .collect();
        for t in trees {
            t.backend.disconnect().await;
        }
    }
}

fn pick_dialect(offered: &[u16], min: u16, max: u16) -> Option<u16> {
    [
        dialect::SMB3_11,
        dialect::SMB3_02,
        dialect::SMB3_00,
        dialect::SMB2_10,
        dialect::SMB2_02,
    ]
    .into_iter()
    .find(|d| *d >= min && *d <= max && offered.contains(d))
}

pub async fn negotiate(conn: &Arc<Connection>, req: &Request) -> Outcome {
    if conn.negotiated().is_some() {
        return Outcome::Disconnect("second NEGOTIATE on the connection".into());
    }
    let n = match neg::parse(&req.msg) {
        Ok(n) => n,
        Err(e) => {
            tracing::info!(target: LOG, peer = %conn.peer, "bad NEGOTIATE: {e}");
            return Outcome::err(NtStatus::INVALID_PARAMETER);
        }
    };
    let conf = conn.server.conf();
    let g = &conf.global;
    let Some(dialect) = pick_dialect(
        &n.dialects,
        g.server_min_protocol.wire(),
        g.server_max_protocol.wire(),
    ) else {
        tracing::info!(target: LOG, peer = %conn.peer, offered = ?n.dialects, "no common dialect");
        return Outcome::err(NtStatus::NOT_SUPPORTED);
    };
    answer_negotiate(conn, &req.msg, Some(&n), dialect)
}

/// The NEGOTIATE response for `dialect` (also for an SMB1 negotiate that
/// offered SMB2, then `n` is None).
pub fn answer_negotiate(
    conn: &Arc<Connection>,
    request: &[u8],
    n: Option<&neg::NegotiateIn>,
    dialect: u16,
) -> Outcome {
    let conf = conn.server.conf();
    let g = &conf.global;
    let mandatory = g.server_signing == ServerSigning::Mandatory;
    let security = security_mode::SIGNING_ENABLED
        | if mandatory {
            security_mode::SIGNING_REQUIRED
        } else {
            0
        };
    let mut caps_ = 0;
    if dialect >= dialect::SMB2_10 && dialect != dialect::WILDCARD {
        caps_ |= caps::LARGE_MTU;
    }
    let client_caps = n.map_or(0, |n| n.capabilities);
    let encryption_ok = g.smb_encrypt != SmbEncrypt::Off;
    if (dialect == dialect::SMB3_00 || dialect == dialect::SMB3_02)
        && client_caps & caps::ENCRYPTION != 0
        && encryption_ok
    {
        caps_ |= caps::ENCRYPTION;
    }
    let mut cipher = None;
    let mut signing = if dialect >= dialect::SMB3_00 {
        SigningAlgo::AesCmac
    } else {
        SigningAlgo::HmacSha256
    };
    if (dialect::SMB3_00..dialect::SMB3_11).contains(&dialect) && caps_ & caps::ENCRYPTION != 0 {
        cipher = Some(Cipher::Aes128Ccm);
    }
    let mut contexts = Vec::new();
    if dialect == dialect::SMB3_11 {
        let n = n.expect("3.1.1 comes from an SMB2 negotiate");
        let Some(NegContext::Preauth {
            hash_algorithms, ..
        }) = n
            .contexts
            .iter()
            .find(|c| matches!(c, NegContext::Preauth { .. }))
        else {
            tracing::info!(target: LOG, peer = %conn.peer, "bad NEGOTIATE: 3.1.1 without a PREAUTH_INTEGRITY context");
            return Outcome::err(NtStatus::INVALID_PARAMETER);
        };
        if !hash_algorithms.contains(&neg::SHA_512) {
            tracing::info!(target: LOG, peer = %conn.peer, offered = ?hash_algorithms, "NEGOTIATE: no pre-auth hash in common");
            return Outcome::err(NtStatus::NO_PREAUTH_INTEGRITY_HASH_OVERLAP);
        }
        let mut salt = vec![0u8; 32];
        let _ = getrandom::fill(&mut salt);
        contexts.push(NegContext::Preauth {
            hash_algorithms: vec![neg::SHA_512],
            salt,
        });
        if let Some(NegContext::Encryption { ciphers }) = n
            .contexts
            .iter()
            .find(|c| matches!(c, NegContext::Encryption { .. }))
        {
            // Ours in order of preference (as Samba's), if the client has it.
            let chosen = if !encryption_ok {
                None
            } else {
                [
                    Cipher::Aes128Gcm,
                    Cipher::Aes128Ccm,
                    Cipher::Aes256Gcm,
                    Cipher::Aes256Ccm,
                ]
                .into_iter()
                .find(|c| ciphers.contains(&c.id()))
            };
            cipher = chosen;
            contexts.push(NegContext::Encryption {
                ciphers: vec![chosen.map_or(0, Cipher::id)],
            });
        }
        if let Some(NegContext::Signing { algorithms }) = n
            .contexts
            .iter()
            .find(|c| matches!(c, NegContext::Signing { .. }))
        {
            // Ours in order of preference, if the client has it; CMAC
            // when there is nothing in common (MS-SMB2 3.3.5.4).
            signing = [
                SigningAlgo::AesGmac,
                SigningAlgo::AesCmac,
                SigningAlgo::HmacSha256,
            ]
            .into_iter()
            .find(|a| algorithms.contains(&a.id()))
            .unwrap_or(SigningAlgo::AesCmac);
            contexts.push(NegContext::Signing {
                algorithms: vec![signing.id()],
            });
        }
    }
    let max_io = if dialect == dialect::SMB2_02 {
        65536
    } else {
        super::MAX_IO
    };
    let out = NegotiateOut {
        security_mode: security,
        dialect,
        server_guid: conn.server.guid,
        capabilities: caps_,
        max_transact: max_io,
        max_read: max_io,
        max_write: max_io,
        system_time: crate::wire::time::now(),
        server_start_time: 0,
        security_buffer: auth::negotiate_token(),
        contexts,
    };
    let mut body = Vec::new();
    // emit() wants the header in front to compute offsets.
    let mut tmp = vec![0u8; crate::wire::header::HEADER_LEN];
    neg::emit(&out, &mut tmp);
    body.extend_from_slice(&tmp[crate::wire::header::HEADER_LEN..]);
    if dialect != dialect::WILDCARD {
        let mut preauth = Preauth::zero();
        if dialect == dialect::SMB3_11 {
            preauth.update(request);
        }
        *conn.negotiated.lock().expect("negotiated") = Some(Negotiated {
            dialect,
            client_guid: n.map_or([0; 16], |n| n.client_guid),
            client_caps,
            client_security_mode: n.map_or(0, |n| n.security_mode),
            client_dialects: n.map_or(vec![], |n| n.dialects.clone()),
            server_security_mode: security,
            server_caps: caps_,
            cipher,
            signing,
            preauth,
        });
        tracing::debug!(target: LOG, peer = %conn.peer, dialect = format_args!("{dialect:#06x}"), ?cipher, ?signing, "negotiated");
    }
    Outcome::ok(body)
}

/// The NEGOTIATE response goes into the connection's pre-auth hash.
pub fn negotiate_response_sent(conn: &Connection, msg: &[u8]) {
    let mut n = conn.negotiated.lock().expect("negotiated");
    if let Some(n) = n.as_mut()
        && n.dialect == dialect::SMB3_11
    {
        n.preauth.update(msg);
    }
}

/// The Unix user an SMB identity maps to.
fn unix_token(name: &str, guest: bool) -> Option<UserToken> {
    let u = nix::unistd::User::from_name(name).ok().flatten()?;
    let cname = std::ffi::CString::new(name).ok()?;
    let groups = nix::unistd::getgrouplist(&cname, u.gid).unwrap_or_else(|_| vec![u.gid]);
    Some(UserToken {
        name: name.to_string(),
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        groups: groups.into_iter().map(|g| g.as_raw()).collect(),
        guest,
    })
}

pub async fn session_setup(conn: &Arc<Connection>, req: &Request) -> Outcome {
    let Some(negd) = conn.negotiated() else {
        return Outcome::err(NtStatus::INVALID_PARAMETER);
    };
    let ssin = match ss::parse(&req.msg) {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(target: LOG, peer = %conn.peer, "bad SESSION_SETUP: {e}");
            return Outcome::err(NtStatus::INVALID_PARAMETER);
        }
    };
    if ssin.flags & ss::FLAG_BINDING != 0 {
        return Outcome::err(NtStatus::REQUEST_NOT_ACCEPTED);
    }
    let conf = conn.server.conf();
    let g = &conf.global;
    let new = req.header.session_id == 0;
    let session = if new {
        if conn.sessions.lock().expect("sessions").len()
            >= conn.server.limits.max_sessions_per_connection
        {
            tracing::warn!(target: LOG, peer = %conn.peer, "too many sessions on one connection");
            return Outcome::err(NtStatus::INSUFFICIENT_RESOURCES);
        }
        let s = Arc::new(Session::new(
            conn.server.new_session_id(),
            negd.dialect,
            negd.preauth.clone(),
        ));
        conn.sessions
            .lock()
            .expect("sessions")
            .insert(s.id, s.clone());
        s
    } else {
        match conn.session(req.header.session_id) {
            Some(s) => s,
            None => return Outcome::err(NtStatus::USER_SESSION_DELETED),
        }
    };
    session.preauth_update(&req.msg);
    let map_to_guest = match g.map_to_guest {
        MapToGuest::Never => GuestPolicy::Never,
        MapToGuest::BadUser | MapToGuest::BadUid => GuestPolicy::BadUser,
        MapToGuest::BadPassword => GuestPolicy::BadPassword,
    };
    let db = conn.server.passwords.get();
    let step = {
        let mut auth = session.auth.lock().expect("auth");
        let a = auth.get_or_insert_with(|| {
            ServerAuth::new(AuthConfig {
                netbios_name: g.netbios_name.clone(),
                workgroup: g.workgroup.clone(),
                dns_domain: String::new(),
                map_to_guest,
                allow_anonymous: true,
            })
        });
        a.step(&ssin.security_buffer, &db)
    };
    let fail = |status: NtStatus| {
        *session.auth.lock().expect("auth") = None;
        if session.is_valid() {
            // A failed re-authentication ends the session (as in Samba):
            // its waiting requests complete, its trees and opens go.
            tracing::info!(target: LOG, peer = %conn.peer, session = format_args!("{:#x}", session.id), "re-authentication failed: the session ends");
            conn.server
                .sessions
                .lock()
                .expect("sessions")
                .remove(&session.id);
            conn.cancel_session(session.id);
            *session.valid.lock().expect("session") = None;
            let s = session.clone();
            tokio::spawn(async move { s.logoff().await });
        }
        if !session.is_valid() {
            conn.sessions.lock().expect("sessions").remove(&session.id);
        }
        Outcome::err(status).with_session(session.id)
    };
    match step {
        Ok(Step::Continue(token)) => {
            let mut body = Vec::new();
            ss::emit(0, &token, &mut body);
            Outcome::reply(NtStatus::MORE_PROCESSING_REQUIRED, body).with_session(session.id)
        }
        Err(e) => {
            tracing::info!(target: LOG, peer = %conn.peer, "authentication failed: {e}");
            fail(NtStatus(e.nt_status()))
        }
        Ok(Step::Done(token, result)) => {
            *session.auth.lock().expect("auth") = None;
            let (token_user, guest, anonymous) = match &result.identity {
                Identity::User { name } => (unix_token(name, false), false, false),
                Identity::Guest => (unix_token(&g.guest_account, true), true, false),
                Identity::Anonymous => (unix_token(&g.guest_account, true), true, true),
            };
            let Some(user) = token_user else {
                tracing::warn!(target: LOG, peer = %conn.peer, identity = ?result.identity, "no Unix account for this user (guest account {:?})", g.guest_account);
                return fail(NtStatus::LOGON_FAILURE);
            };
            let server_mandatory = g.server_signing == ServerSigning::Mandatory;
            let client_requires = negd.client_security_mode & security_mode::SIGNING_REQUIRED != 0
                || u16::from(ssin.security_mode) & security_mode::SIGNING_REQUIRED != 0;
            // Guest and anonymous sessions have no key to sign with: as in
            // Samba and MS-SMB2 3.3.5.5.3, mandatory signing applies to
            // authenticated sessions only (signing_required below).
            let encrypt_required = g.smb_encrypt == SmbEncrypt::Required;
            let can_encrypt = negd.cipher.is_some() && !guest;
            if encrypt_required && !can_encrypt {
                tracing::info!(target: LOG, peer = %conn.peer, "refused: smb encrypt = required and the client cannot encrypt");
                return fail(NtStatus::ACCESS_DENIED);
            }
            let keys = SessionKeys::derive(
                negd.dialect,
                negd.cipher,
                &result.session_key,
                &session.preauth.lock().expect("preauth"),
            );
            let mut sflags = 0;
            if anonymous {
                sflags |= session_flags::IS_NULL;
            } else if guest {
                sflags |= session_flags::IS_GUEST;
            }
            if encrypt_required && can_encrypt {
                sflags |= session_flags::ENCRYPT_DATA;
            }
            tracing::info!(target: LOG, peer = %conn.peer, user = %user.name, uid = user.uid, guest, anonymous, session = format_args!("{:#x}", session.id), "logged on");
            if !guest {
                let prev = ssin.previous_session_id;
                let old = {
                    let mut registry = conn.server.sessions.lock().expect("sessions");
                    registry.insert(
                        session.id,
                        SessionRef {
                            conn: Arc::downgrade(conn),
                            user: user.name.clone(),
                        },
                    );
                    match registry.get(&prev) {
                        Some(r) if prev != session.id && r.user == user.name => r.conn.upgrade(),
                        _ => None,
                    }
                };
                if let Some(old) = old {
                    tracing::info!(target: LOG, peer = %conn.peer, user = %user.name, previous = format_args!("{prev:#x}"), "reconnected: the previous session ends");
                    old.end_session(prev).await;
                }
            }
            let valid = match session.valid() {
                // Re-authentication: the session keeps its keys and rules
                // (MS-SMB2 3.3.5.5.3); only who it is may change.
                Some(old) => Valid {
                    user: Arc::new(user),
                    keys: old.keys.clone(),
                    signing_required: old.signing_required,
                    encrypt_data: old.encrypt_data,
                    can_sign: old.can_sign,
                },
                None => Valid {
                    user: Arc::new(user),
                    keys,
                    signing_required: !guest && (server_mandatory || client_requires),
                    encrypt_data: encrypt_required && can_encrypt,
                    can_sign: !guest,
                },
            };
            *session.valid.lock().expect("session") = Some(Arc::new(valid));
            let mut body = Vec::new();
            ss::emit(sflags, &token, &mut body);
            Outcome::ok(body).with_session(session.id)
        }
    }
}

pub async fn logoff(conn: &Arc<Connection>, req: &Request) -> Outcome {
    if let Err(e) = crate::cmd::logoff::parse(&req.msg) {
        tracing::info!(target: LOG, peer = %conn.peer, "bad LOGOFF: {e}");
        return Outcome::err(NtStatus::INVALID_PARAMETER);
    }
    let Some(session) = conn.session(req.session_id) else {
        return Outcome::err(NtStatus::USER_SESSION_DELETED);
    };
    conn.cancel_session(session.id);
    session.logoff().await;
    // The connection forgets the session once the response is out.
    let mut body = Vec::new();
    crate::cmd::logoff::emit(&mut body);
    Outcome::ok(body)
}
