//! Pulling browse lists from another browser, as Samba's nmbd does
//! (nmbd_synclists.c, sync_child): a domain master browser pulls each
//! local master's lists, a local master pulls the domain master's.
//!
//! One TCP connection to the peer's NetBIOS session service (port 139):
//! a session request (called name: the peer's NetBIOS name with the given
//! suffix, usually <20>; calling name: ours <00>), SMB1 NEGOTIATE offering
//! only "NT LM 0.12" without extended security, an anonymous
//! SESSION_SETUP_ANDX, TREE_CONNECT_ANDX to `\\PEER\IPC$`, then RAP
//! NetServerEnum2 (continued with NetServerEnum3 on "more data") in
//! TRANSACTIONs on `\PIPE\LANMAN`, and LOGOFF_ANDX.
//!
//! Everything runs within one timeout; a frame is at most 128 KiB, a RAP
//! reply at most 64 KiB, a list at most [`rap::MAX_ENTRIES`] entries.

#[cfg(test)]
mod captured;
mod client;
pub mod rap;
pub mod smb1;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddrV4;
use std::time::Duration;

use common::netbios::{NameError, NbName, suffix};

pub use rap::RapServer;
use rap::sv_type;
use smb1::{Smb1Error, Status};

const LOG: &str = "nmbd::sync";

/// One NetServerEnum on its own connection.
#[derive(Debug, Clone)]
pub struct EnumRequest<'a> {
    /// The peer's session service, port 139 normally.
    pub peer: SocketAddrV4,
    /// The peer's NetBIOS name.
    pub called: &'a str,
    /// Its suffix: 0x20 (server) usually.
    pub called_suffix: u8,
    /// Our NetBIOS name (sent with suffix 0x00).
    pub calling: &'a str,
    /// The workgroup (domain) to list; sent upper-cased.
    pub workgroup: &'a str,
    /// The SV_TYPE_* mask.
    pub server_type: u32,
}

/// Lists the servers (or, with SV_TYPE_DOMAIN_ENUM, workgroups) of
/// `req.workgroup` that `req.peer` knows. SV_TYPE_LOCAL_LIST_ONLY is
/// cleared in the types returned.
pub async fn net_server_enum(
    req: &EnumRequest<'_>,
    timeout: Duration,
) -> Result<Vec<RapServer>, SyncError> {
    let called = nb_name(req.called, req.called_suffix)?;
    let calling = nb_name(req.calling, suffix::WORKSTATION)?;
    let mut c = client::Client::open(req.peer, &called, &calling, timeout).await?;
    let list = c.server_enum(req.workgroup, req.server_type).await;
    c.close().await;
    list
}

/// A sync as Samba's sync_child does it.
#[derive(Debug, Clone)]
pub struct SyncRequest<'a> {
    pub peer: SocketAddrV4,
    pub called: &'a str,
    pub called_suffix: u8,
    pub calling: &'a str,
    /// Our workgroup: whose servers we ask for, and whose workgroup list
    /// when the peer names no domain of its own.
    pub workgroup: &'a str,
    /// Ask only for what the peer has seen on its own subnet
    /// (SV_TYPE_LOCAL_LIST_ONLY): a domain master pulling a local
    /// master's lists sets this.
    pub local_only: bool,
    /// Also fetch the server list (Samba's DMB-to-DMB sync fetches only
    /// the workgroups).
    pub servers: bool,
}

/// What a sync brought back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synced {
    /// The domain the peer named in its session setup reply ("" if none).
    pub server_domain: String,
    /// The workgroups (SV_TYPE_DOMAIN_ENUM set); each comment names the
    /// workgroup's master browser.
    pub workgroups: Vec<RapServer>,
    /// The servers of `workgroup`; empty unless asked for.
    pub servers: Vec<RapServer>,
}

/// Both enumerations of Samba's sync_child on one connection, within
/// `timeout` altogether: the workgroups (SV_TYPE_DOMAIN_ENUM, plus
/// SV_TYPE_LOCAL_LIST_ONLY when `local_only`) of the peer's own domain,
/// then, if asked, the servers of our workgroup (SV_TYPE_ALL, or only
/// SV_TYPE_LOCAL_LIST_ONLY when `local_only`). Unlike Samba, which keeps
/// whatever arrived, any failure fails the whole sync: the caller logs it
/// and tries again at the next sync.
pub async fn sync_lists(req: &SyncRequest<'_>, timeout: Duration) -> Result<Synced, SyncError> {
    let called = nb_name(req.called, req.called_suffix)?;
    let calling = nb_name(req.calling, suffix::WORKSTATION)?;
    let mut c = client::Client::open(req.peer, &called, &calling, timeout).await?;
    let result = sync_on(&mut c, req).await;
    c.close().await;
    let synced = result?;
    tracing::info!(target: LOG, peer = %req.peer, called = req.called, workgroup = req.workgroup,
        workgroups = synced.workgroups.len(), servers = synced.servers.len(), "browse lists pulled");
    Ok(synced)
}

async fn sync_on(c: &mut client::Client, req: &SyncRequest<'_>) -> Result<Synced, SyncError> {
    let local = if req.local_only {
        sv_type::LOCAL_LIST_ONLY
    } else {
        0
    };
    let server_domain = c.server_domain.clone();
    let domain = if server_domain.is_empty() {
        req.workgroup
    } else {
        server_domain.as_str()
    };
    let workgroups = c.server_enum(domain, sv_type::DOMAIN_ENUM | local).await?;
    let servers = if req.servers {
        let mask = if req.local_only {
            sv_type::LOCAL_LIST_ONLY
        } else {
            sv_type::ALL
        };
        c.server_enum(req.workgroup, mask).await?
    } else {
        Vec::new()
    };
    Ok(Synced {
        server_domain,
        workgroups,
        servers,
    })
}

fn nb_name(name: &str, suffix: u8) -> Result<NbName, SyncError> {
    NbName::new(name, suffix).map_err(|source| SyncError::Name {
        name: name.to_string(),
        source,
    })
}

/// Where in the exchange something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Connect,
    SessionRequest,
    Negotiate,
    SessionSetup,
    TreeConnect,
    NetServerEnum2,
    NetServerEnum3,
    Logoff,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Connect => "connect",
            Step::SessionRequest => "session request",
            Step::Negotiate => "NEGOTIATE",
            Step::SessionSetup => "SESSION_SETUP_ANDX",
            Step::TreeConnect => "TREE_CONNECT_ANDX IPC$",
            Step::NetServerEnum2 => "NetServerEnum2",
            Step::NetServerEnum3 => "NetServerEnum3",
            Step::Logoff => "LOGOFF_ANDX",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error("NetBIOS name {name:?} cannot be used in a session request: {source}")]
    Name { name: String, source: NameError },
    #[error("{step} to {peer}: {source}")]
    Io {
        peer: SocketAddrV4,
        step: Step,
        source: std::io::Error,
    },
    #[error("{step} to {peer}: connection closed by the peer")]
    Closed { peer: SocketAddrV4, step: Step },
    #[error("{step} to {peer}: timed out ({limit:?} allowed for the whole exchange)")]
    Timeout {
        peer: SocketAddrV4,
        step: Step,
        limit: Duration,
    },
    #[error("session request to {peer} refused: {} ({code:#04x})", smb1::nbss_error_name(*code))]
    Refused { peer: SocketAddrV4, code: u8 },
    #[error("session request to {peer} retargeted to {to} (not followed)")]
    Retarget {
        peer: SocketAddrV4,
        to: SocketAddrV4,
    },
    #[error("{step} to {peer}: unexpected NetBIOS session frame of type {kind:#04x}")]
    UnexpectedFrame {
        peer: SocketAddrV4,
        step: Step,
        kind: u8,
    },
    #[error(
        "{step} to {peer}: a frame of {len} bytes exceeds the {} byte limit",
        smb1::MAX_FRAME
    )]
    FrameTooLarge {
        peer: SocketAddrV4,
        step: Step,
        len: usize,
    },
    #[error("NEGOTIATE to {peer}: server chose no dialect")]
    NoDialect { peer: SocketAddrV4 },
    #[error("NEGOTIATE to {peer}: server chose dialect index {index}, we offered only NT LM 0.12")]
    WrongDialect { peer: SocketAddrV4, index: u16 },
    #[error("NEGOTIATE to {peer}: server chose extended security, which we did not offer")]
    ExtendedSecurity { peer: SocketAddrV4 },
    #[error("{step} to {peer}: {status}")]
    Status {
        peer: SocketAddrV4,
        step: Step,
        status: Status,
    },
    #[error("{step} to {peer}: malformed reply: {source}")]
    Malformed {
        peer: SocketAddrV4,
        step: Step,
        source: Smb1Error,
    },
    #[error("{step} to {peer}: cannot build the request: {source}")]
    Encode {
        peer: SocketAddrV4,
        step: Step,
        source: Smb1Error,
    },
    #[error("{step} to {peer}: {source}")]
    Rap {
        peer: SocketAddrV4,
        step: Step,
        source: rap::RapError,
    },
    #[error("{step} to {peer}: status {status} ({})", rap::status_name(*status))]
    RapStatus {
        peer: SocketAddrV4,
        step: Step,
        status: u16,
    },
}
