//! The requests nmbd answers on its Unix socket, `<lock directory>/nmbd.sock`
//! (mode 0660): one [`Request`] per connection, as one `common::frame`
//! frame (bincode), answered by one frame whose type depends on the
//! request. `nmbd --status` and `nmbd --force-election` use it; smbd asks
//! for [`Request::BrowseList`] to answer NetServerEnum2.
//!
//! Who may ask what: anyone who can connect (the socket's owner and group)
//! may read; a request that changes state ([`Request::changes_state`]) is
//! answered only for root and the uid nmbd runs as, judged by the peer's
//! SO_PEERCRED ([`allowed`]).

use serde::{Deserialize, Serialize};

use crate::browsing::{BrowserStatus, SubnetBrowseList};
use crate::names::SubnetStatus;

/// The socket's file name in the lock directory.
pub const SOCKET: &str = "nmbd.sock";
/// The largest frame either side sends.
pub const MAX_FRAME: usize = 1 << 20;
/// The largest request frame.
pub const MAX_REQUEST: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Answered with `Vec<SubnetReport>`: per subnet our names and their
    /// registration state, and the browser's role, master and browse list.
    Status,
    /// Every subnet's browser starts an election (Samba's `smbcontrol
    /// nmbd force-election`). Answered with [`ForceElectionReply`].
    ForceElection,
    /// Answered with [`BrowseListReply`]: per subnet the servers of our
    /// workgroup (name, type, comment, ...) and the workgroups with their
    /// masters, as a local master serves them; empty lists on subnets
    /// where we are not the local master.
    BrowseList,
    /// Answered with `Option<Database>` (`nmbd::wins::db`): the WINS
    /// server's names, owners, expiry (Unix seconds) and version ids; None
    /// unless `wins support = yes`.
    WinsDatabase,
}

impl Request {
    /// Requests that change the daemon's state rather than read it.
    pub fn changes_state(self) -> bool {
        match self {
            Request::ForceElection => true,
            Request::Status | Request::BrowseList | Request::WinsDatabase => false,
        }
    }
}

/// Whether a peer with uid `peer_uid` (from SO_PEERCRED) may send `req` to
/// a daemon running as `own_uid`.
pub fn allowed(req: Request, peer_uid: u32, own_uid: u32) -> bool {
    !req.changes_state() || peer_uid == 0 || peer_uid == own_uid
}

/// One subnet in the answer to [`Request::Status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetReport {
    pub names: SubnetStatus,
    /// None until `WORKGROUP<1e>` is registered there (or when port 138
    /// cannot be bound).
    pub browser: Option<BrowserStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForceElectionReply {
    /// Subnets where an election is now running.
    Started(u32),
    /// Not root nor the uid nmbd runs as: nothing was done.
    Refused { uid: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowseListReply {
    pub subnets: Vec<SubnetBrowseList>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_ask() {
        let (root, daemon, other) = (0, 1000, 65534);
        for r in [Request::Status, Request::BrowseList, Request::WinsDatabase] {
            assert!(allowed(r, other, daemon), "{r:?}");
        }
        assert!(allowed(Request::ForceElection, root, daemon));
        assert!(allowed(Request::ForceElection, daemon, daemon));
        assert!(!allowed(Request::ForceElection, other, daemon));
        assert!(!allowed(Request::ForceElection, other, root));
    }
}
