//! A message channel that carries file descriptors (SCM_RIGHTS) between
//! two processes: an async SOCK_SEQPACKET socket pair, so each message keeps
//! its boundaries and the descriptors sent with it arrive with it.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The largest message the channel carries.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// The most descriptors one message may carry.
pub const MAX_FDS: usize = 4;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FdPassError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("message of {0} bytes or more exceeds the {MAX_MESSAGE}-byte limit")]
    TooLarge(usize),
    #[error("descriptors were truncated in transit (more than {MAX_FDS} sent)")]
    FdsTruncated,
    #[error("the socket is not a SOCK_SEQPACKET Unix socket")]
    NotSeqPacket,
}

/// Creates a connected pair of blocking-free, close-on-exec descriptors.
pub fn pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
    )
    .map_err(std::io::Error::from)
}

/// One message and the descriptors that came with it.
pub type Message = (Vec<u8>, Vec<OwnedFd>);

pub struct FdChannel {
    fd: AsyncFd<OwnedFd>,
}

impl FdChannel {
    /// Wraps one end of a [`pair`] (or an inherited descriptor, checked to be
    /// a SOCK_SEQPACKET socket and switched to non-blocking, close-on-exec).
    pub fn new(fd: OwnedFd) -> Result<FdChannel, FdPassError> {
        use nix::sys::socket::{getsockopt, sockopt};
        let ty = getsockopt(&fd, sockopt::SockType).map_err(|_| FdPassError::NotSeqPacket)?;
        if ty != SockType::SeqPacket {
            return Err(FdPassError::NotSeqPacket);
        }
        set_nonblock_cloexec(fd.as_raw_fd())?;
        // SAFETY: an OwnedFd stays open, and names the same description,
        // for as long as the AsyncFd that owns it.
        let fd =
            unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE | Interest::WRITABLE) }
                .map_err(|e| FdPassError::Io(e.into()))?;
        Ok(FdChannel { fd })
    }

    /// Sends one message with `fds` attached.
    pub async fn send(&self, data: &[u8], fds: &[RawFd]) -> Result<(), FdPassError> {
        if data.len() > MAX_MESSAGE {
            return Err(FdPassError::TooLarge(data.len()));
        }
        loop {
            let mut guard = self.fd.writable().await?;
            let res = guard.try_io(|fd| {
                let iov = [IoSlice::new(data)];
                let rights = [ControlMessage::ScmRights(fds)];
                let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
                sendmsg::<()>(fd.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)
                    .map_err(std::io::Error::from)
            });
            match res {
                Ok(r) => return r.map(|_| ()).map_err(FdPassError::from),
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives one message and the descriptors that came with it. `None`
    /// when the other end closed the channel.
    pub async fn recv(&self) -> Result<Option<Message>, FdPassError> {
        let mut buf = vec![0u8; MAX_MESSAGE + 1];
        loop {
            let mut guard = self.fd.readable().await?;
            let res = guard.try_io(|fd| recv_one(fd.get_ref().as_fd().as_raw_fd(), &mut buf));
            match res {
                Ok(r) => return r?,
                Err(_would_block) => continue,
            }
        }
    }
}

fn recv_one(fd: RawFd, buf: &mut [u8]) -> std::io::Result<Result<Option<Message>, FdPassError>> {
    let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(fd, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(std::io::Error::from)?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: the kernel just installed these descriptors in our
            // table for us; nothing else owns them.
            fds.extend(raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
        }
    }
    let truncated_fds = msg.flags.contains(MsgFlags::MSG_CTRUNC);
    let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
    let n = msg.bytes;
    if truncated {
        return Ok(Err(FdPassError::TooLarge(n)));
    }
    if truncated_fds {
        return Ok(Err(FdPassError::FdsTruncated));
    }
    if n == 0 && fds.is_empty() {
        return Ok(Ok(None));
    }
    if n > MAX_MESSAGE {
        return Ok(Err(FdPassError::TooLarge(n)));
    }
    Ok(Ok(Some((iov[0][..n].to_vec(), fds))))
}

fn set_nonblock_cloexec(fd: RawFd) -> std::io::Result<()> {
    use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
    // SAFETY: `fd` is owned by the caller for the duration of this call.
    let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let fl = OFlag::from_bits_truncate(fcntl(bfd, FcntlArg::F_GETFL)?);
    fcntl(bfd, FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK))?;
    fcntl(bfd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[tokio::test]
    async fn message_with_a_descriptor() {
        let (a, b) = pair().unwrap();
        let (a, b) = (FdChannel::new(a).unwrap(), FdChannel::new(b).unwrap());
        let (mut s1, s2) = std::os::unix::net::UnixStream::pair().unwrap();
        a.send(b"hello", &[s2.as_raw_fd()]).await.unwrap();
        drop(s2);
        let (data, mut fds) = b.recv().await.unwrap().unwrap();
        assert_eq!(data, b"hello");
        assert_eq!(fds.len(), 1);
        let mut passed = std::os::unix::net::UnixStream::from(fds.pop().unwrap());
        passed.write_all(b"x").unwrap();
        let mut got = [0u8; 1];
        s1.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"x");
        drop(a);
        assert!(b.recv().await.unwrap().is_none());
    }

    #[test]
    fn a_stream_socket_is_not_a_channel() {
        let (s, _t) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(matches!(
            FdChannel::new(OwnedFd::from(s)),
            Err(FdPassError::NotSeqPacket)
        ));
    }
}
