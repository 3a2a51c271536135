//! Who is at the other end of a Unix socket (SO_PEERCRED).

use std::fmt;
use std::os::fd::AsFd;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use serde::{Deserialize, Serialize};

/// The credentials the kernel recorded for the peer when it connected (or
/// when the socket pair was created). They cannot be forged by the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerCred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

impl PeerCred {
    pub fn of<F: AsFd>(sock: &F) -> std::io::Result<PeerCred> {
        let c = getsockopt(sock, PeerCredentials).map_err(std::io::Error::from)?;
        Ok(PeerCred {
            pid: c.pid(),
            uid: c.uid(),
            gid: c.gid(),
        })
    }

    /// The credentials of this process, as a peer would see them.
    pub fn current() -> PeerCred {
        PeerCred {
            pid: std::process::id() as i32,
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        }
    }
}

/// SO_PEERGROUPS from asm-generic/socket.h (x86_64, aarch64, riscv, ...).
const SO_PEERGROUPS: libc::c_int = 59;

/// The supplementary groups of the peer, as the kernel recorded them when
/// it connected (SO_PEERGROUPS, Linux 4.13 and later).
pub fn peer_groups<F: AsFd>(sock: &F) -> std::io::Result<Vec<u32>> {
    use std::os::fd::AsRawFd;
    let fd = sock.as_fd().as_raw_fd();
    let mut groups = vec![0u32; 64];
    loop {
        let mut len = (groups.len() * 4) as libc::socklen_t;
        // SAFETY: the buffer is valid for `len` bytes and getsockopt writes
        // at most that many.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let needed = len as usize / 4;
        if r == 0 {
            groups.truncate(needed);
            return Ok(groups);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ERANGE) && needed > groups.len() {
            groups.resize(needed, 0);
            continue;
        }
        return Err(e);
    }
}

impl fmt::Display for PeerCred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} uid {} gid {}", self.pid, self.uid, self.gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_of_a_socket_pair_is_us() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(PeerCred::of(&a).unwrap(), PeerCred::current());
        let mine: Vec<u32> = nix::unistd::getgroups()
            .unwrap()
            .into_iter()
            .map(|g| g.as_raw())
            .collect();
        let mut theirs = peer_groups(&a).unwrap();
        theirs.sort();
        let mut mine = mine;
        mine.sort();
        assert_eq!(theirs, mine);
    }
}
