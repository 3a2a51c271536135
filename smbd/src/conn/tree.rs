//! TREE_CONNECT and TREE_DISCONNECT: which shares a session may use, and
//! as whom.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::smbconf::{Share, SmbEncrypt, UserOrGroup};

use super::{Connection, Outcome, Request};
use crate::cmd::negotiate::dialect;
use crate::cmd::tree_connect::{self as tc, TreeConnectOut, share_flags, share_type};
use crate::ntvfs::disk::{DiskBackend, DiskShare};
use crate::ntvfs::ipc::IpcBackend;
use crate::ntvfs::types::access;
use crate::ntvfs::{Ntvfs, UserToken};
use crate::wire::NtStatus;
use crate::wire::header::flags;

const LOG: &str = "smbd::tree";

pub struct Tree {
    pub id: u32,
    pub share: String,
    pub backend: Arc<dyn Ntvfs>,
    /// The identity file operations run as (force user/group applied).
    pub user: Arc<UserToken>,
    pub encrypt: bool,
    pub ipc: bool,
    /// Where the backend's oplock breaks for this tree's opens go.
    pub breaks: Arc<dyn crate::ntvfs::OplockBreaks>,
    /// Handles open on the tree: CREATEs under way or done, less CLOSEs.
    pub opens: AtomicUsize,
}

impl Tree {
    /// Takes a place for one more open of the connection, within `max
    /// open files` over all its trees; give it back with
    /// [`Tree::release_open`] when the CREATE fails or the handle closes.
    pub fn reserve_open(&self, conn: &Connection) -> Result<(), NtStatus> {
        self.opens.fetch_add(1, Ordering::Relaxed);
        let sessions: Vec<_> = conn
            .sessions
            .lock()
            .expect("sessions")
            .values()
            .cloned()
            .collect();
        let total: usize = sessions
            .iter()
            .map(|s| {
                let trees = s.trees.lock().expect("trees");
                trees
                    .values()
                    .map(|t| t.opens.load(Ordering::Relaxed))
                    .sum::<usize>()
            })
            .sum();
        let limit = conn.server.limits.max_opens_per_connection;
        if total > limit {
            self.release_open();
            tracing::warn!(target: LOG, peer = %conn.peer, share = %self.share, limit, "too many open files on one connection");
            return Err(NtStatus::TOO_MANY_OPENED_FILES);
        }
        Ok(())
    }

    pub fn release_open(&self) {
        let _ = self
            .opens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

fn member_of(user: &UserToken, group: &str) -> bool {
    let Ok(Some(g)) = nix::unistd::Group::from_name(group) else {
        return false;
    };
    user.gid == g.gid.as_raw()
        || user.groups.contains(&g.gid.as_raw())
        || g.mem.iter().any(|m| m == &user.name)
}

fn listed(user: &UserToken, list: &[UserOrGroup]) -> bool {
    list.iter().any(|e| match e {
        UserOrGroup::User(u) => u.eq_ignore_ascii_case(&user.name),
        UserOrGroup::Group(g) => member_of(user, g),
    })
}

/// Decides whether `user` may use `share`, and as whom.
pub fn admit(share: &Share, user: &UserToken) -> Result<UserToken, NtStatus> {
    if !share.available {
        return Err(NtStatus::BAD_NETWORK_NAME);
    }
    if user.guest && !share.guest_ok {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if listed(user, &share.invalid_users) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if !share.valid_users.is_empty() && !listed(user, &share.valid_users) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let mut t = user.clone();
    if let Some(fu) = &share.force_user {
        let u = nix::unistd::User::from_name(fu)
            .ok()
            .flatten()
            .ok_or(NtStatus::BAD_NETWORK_NAME)?;
        t.uid = u.uid.as_raw();
        t.gid = u.gid.as_raw();
        let cname = std::ffi::CString::new(fu.as_str()).map_err(|_| NtStatus::BAD_NETWORK_NAME)?;
        t.groups = nix::unistd::getgrouplist(&cname, u.gid)
            .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
            .unwrap_or_else(|_| vec![u.gid.as_raw()]);
    }
    if let Some(fg) = &share.force_group {
        let g = nix::unistd::Group::from_name(fg)
            .ok()
            .flatten()
            .ok_or(NtStatus::BAD_NETWORK_NAME)?;
        t.gid = g.gid.as_raw();
        if !t.groups.contains(&t.gid) {
            t.groups.push(t.gid);
        }
    }
    Ok(t)
}

pub async fn connect(conn: &Arc<Connection>, req: &Request) -> Outcome {
    let Some(session) = conn.session(req.session_id).filter(|s| s.is_valid()) else {
        return Outcome::err(NtStatus::USER_SESSION_DELETED);
    };
    // SMB 3.1.1 protects the negotiation by signing the tree connect
    // (MS-SMB2 3.3.5.7): an authenticated session's TREE_CONNECT must be
    // signed or encrypted even where signing is otherwise optional. Samba
    // answers an unsigned one with ACCESS_DENIED; so do we.
    if conn
        .negotiated()
        .is_some_and(|n| n.dialect >= dialect::SMB3_11)
        && session.can_sign()
        && req.encrypted.is_none()
        && req.header.flags & flags::SIGNED == 0
    {
        tracing::info!(target: LOG, peer = %conn.peer, "unsigned TREE_CONNECT on SMB 3.1.1 refused");
        return Outcome::err(NtStatus::ACCESS_DENIED);
    }
    let tin = match tc::parse(&req.msg) {
        Ok(t) => t,
        Err(e) => {
            tracing::info!(target: LOG, peer = %conn.peer, "bad TREE_CONNECT: {e}");
            return Outcome::err(NtStatus::INVALID_PARAMETER);
        }
    };
    let name = tin
        .path
        .trim_start_matches('\\')
        .split_once('\\')
        .map(|(_, s)| s.to_string())
        .unwrap_or_default();
    if name.is_empty() || name.contains('\\') {
        return Outcome::err(NtStatus::BAD_NETWORK_NAME);
    }
    if session.trees.lock().expect("trees").len() >= conn.server.limits.max_trees_per_session {
        tracing::warn!(target: LOG, peer = %conn.peer, "too many tree connects in one session");
        return Outcome::err(NtStatus::INSUFFICIENT_RESOURCES);
    }
    let user = session.user().expect("valid session");
    let negd = conn
        .negotiated()
        .expect("negotiated before a session exists");
    let conf = conn.server.conf();
    let (backend, out, tuser, encrypt, ipc): (
        Arc<dyn Ntvfs>,
        TreeConnectOut,
        Arc<UserToken>,
        bool,
        bool,
    ) = if name.eq_ignore_ascii_case("IPC$") {
        let backend = Arc::new(IpcBackend::new(conn.server.clone(), user.clone()));
        let out = TreeConnectOut {
            share_type: share_type::PIPE,
            share_flags: share_flags::NO_CACHING,
            capabilities: 0,
            maximal_access: access::FILE_ALL_ACCESS,
        };
        (backend, out, user.clone(), false, true)
    } else {
        let Some(share) = conf.share(&name) else {
            tracing::info!(target: LOG, peer = %conn.peer, share = %name, "no such share");
            return Outcome::err(NtStatus::BAD_NETWORK_NAME);
        };
        let Some(path) = share.path.clone() else {
            return Outcome::err(NtStatus::BAD_NETWORK_NAME);
        };
        let tuser = match admit(share, &user) {
            Ok(t) => Arc::new(t),
            Err(s) => {
                tracing::info!(target: LOG, peer = %conn.peer, share = %name, user = %user.name, "tree connect refused: {s}");
                return Outcome::err(s);
            }
        };
        let encrypt = match share.smb_encrypt {
            SmbEncrypt::Required => {
                if negd.cipher.is_none() {
                    tracing::info!(target: LOG, peer = %conn.peer, share = %name, "share requires encryption; the client cannot encrypt");
                    return Outcome::err(NtStatus::ACCESS_DENIED);
                }
                true
            }
            _ => false,
        };
        let disk = DiskShare {
            name: share.name.clone(),
            path,
            read_only: share.read_only,
            create_mask: share.create_mask,
            directory_mask: share.directory_mask,
            wide_links: share.wide_links,
        };
        let backend = match DiskBackend::connect(disk, conn.server.disk.clone(), &tuser).await {
            Ok(b) => Arc::new(b),
            Err(s) => {
                tracing::info!(target: LOG, peer = %conn.peer, share = %name, "tree connect failed: {s}");
                return Outcome::err(s);
            }
        };
        let maximal = if share.read_only {
            access::FILE_GENERIC_READ | access::FILE_EXECUTE
        } else {
            access::FILE_ALL_ACCESS
        };
        let flags = share_flags::MANUAL_CACHING
            | if encrypt {
                share_flags::ENCRYPT_DATA
            } else {
                0
            };
        let out = TreeConnectOut {
            share_type: share_type::DISK,
            share_flags: flags,
            capabilities: 0,
            maximal_access: maximal,
        };
        (backend, out, tuser, encrypt, false)
    };
    let id = session.new_tree_id();
    session.trees.lock().expect("trees").insert(
        id,
        Arc::new(Tree {
            id,
            share: name.clone(),
            backend,
            user: tuser,
            encrypt,
            ipc,
            breaks: Arc::new(super::oplock::BreakSender {
                conn: Arc::downgrade(conn),
                session_id: session.id,
            }),
            opens: AtomicUsize::new(0),
        }),
    );
    tracing::debug!(target: LOG, peer = %conn.peer, share = %name, tree = id, "connected");
    let mut body = Vec::new();
    tc::emit(&out, &mut body);
    // The response carries the new tree id.
    Outcome::ok(body).with_tree(id)
}

pub async fn disconnect(conn: &Arc<Connection>, req: &Request) -> Outcome {
    if crate::cmd::tree_disconnect::parse(&req.msg).is_err() {
        return Outcome::err(NtStatus::INVALID_PARAMETER);
    }
    let Some(session) = conn.session(req.session_id).filter(|s| s.is_valid()) else {
        return Outcome::err(NtStatus::USER_SESSION_DELETED);
    };
    let Some(tree) = session.trees.lock().expect("trees").remove(&req.tree_id) else {
        return Outcome::err(NtStatus::NETWORK_NAME_DELETED);
    };
    conn.cleanup_tree(req.session_id, req.tree_id);
    tree.backend.disconnect().await;
    let mut body = Vec::new();
    crate::cmd::tree_disconnect::emit(&mut body);
    Outcome::ok(body)
}
