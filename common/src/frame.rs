//! Length-prefixed frames over a byte stream (Unix domain sockets).
//!
//! ```text
//!  0      4                    4+len
//!  +------+--------------------+
//!  | len  | payload (len bytes) |   len: u32 little-endian, payload: codec
//!  +------+--------------------+
//! ```
//!
//! The reader distinguishes "need more bytes" (keep waiting) from
//! "malformed" (an error for this connection only). A frame whose length is
//! above the cap is refused before a byte of it is buffered.

use bytes::{Buf, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codec::{self, CodecError};

mod field {
    pub const LEN: std::ops::Range<usize> = 0..4;
}
pub const HEADER_LEN: usize = field::LEN.end;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("connection closed in the middle of a frame ({have} of {want} bytes received)")]
    Truncated { have: usize, want: usize },
    #[error("malformed frame: {0}")]
    Codec(#[from] CodecError),
}

impl FrameError {
    /// True when the peer went away (as opposed to sending something bad).
    pub fn is_disconnect(&self) -> bool {
        match self {
            FrameError::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::NotConnected
            ),
            FrameError::Truncated { .. } => true,
            _ => false,
        }
    }
}

/// Encodes `msg` as a whole frame (header and payload) appended to `out`.
pub fn encode_frame_into<T: Serialize>(
    msg: &T,
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    codec::encode_into(msg, out)?;
    let len = out.len() - start - HEADER_LEN;
    if len > max {
        out.truncate(start);
        return Err(FrameError::TooLarge { len, max });
    }
    out[start + field::LEN.start..start + field::LEN.end]
        .copy_from_slice(&(len as u32).to_le_bytes());
    Ok(())
}

/// Reads the header of a frame and checks it against the cap.
fn frame_len(header: [u8; HEADER_LEN], max: usize) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(header) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(len)
}

/// A framed, buffered connection. Reads are buffered (several frames may be
/// read at once); writes go out in one `write_all` per frame.
pub struct Framed<S> {
    io: S,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    max_in: usize,
    max_out: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Framed<S> {
    /// `max_in` caps frames read from the peer, `max_out` frames we send.
    pub fn new(io: S, max_in: usize, max_out: usize) -> Self {
        Framed {
            io,
            rbuf: BytesMut::with_capacity(4096),
            wbuf: Vec::with_capacity(4096),
            max_in,
            max_out,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The next frame, or `None` when the peer closed the connection cleanly
    /// between two frames.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        loop {
            if let Some(msg) = self.parse_buffered()? {
                return Ok(Some(msg));
            }
            if self.io.read_buf(&mut self.rbuf).await? == 0 {
                if self.rbuf.is_empty() {
                    return Ok(None);
                }
                let want = if self.rbuf.len() >= HEADER_LEN {
                    HEADER_LEN + frame_len(self.header(), usize::MAX)?
                } else {
                    HEADER_LEN
                };
                return Err(FrameError::Truncated {
                    have: self.rbuf.len(),
                    want,
                });
            }
        }
    }

    fn header(&self) -> [u8; HEADER_LEN] {
        let mut h = [0; HEADER_LEN];
        h.copy_from_slice(&self.rbuf[field::LEN]);
        h
    }

    fn parse_buffered<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        if self.rbuf.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = frame_len(self.header(), self.max_in)?;
        let total = HEADER_LEN + len;
        if self.rbuf.len() < total {
            self.rbuf.reserve(total - self.rbuf.len());
            return Ok(None);
        }
        let msg = codec::decode(&self.rbuf[HEADER_LEN..total]);
        self.rbuf.advance(total);
        Ok(Some(msg?))
    }

    /// Sends one frame and waits until the kernel has taken all of it.
    pub async fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), FrameError> {
        self.wbuf.clear();
        encode_frame_into(msg, self.max_out, &mut self.wbuf)?;
        self.io.write_all(&self.wbuf).await?;
        Ok(())
    }
}

/// Reads exactly one frame from `io` without consuming a byte past it, so
/// that the connection can be handed to another process afterwards with
/// everything the client sent next still unread in the socket.
pub async fn recv_exact<T, S>(io: &mut S, max: usize) -> Result<Option<T>, FrameError>
where
    T: DeserializeOwned,
    S: AsyncRead + Unpin,
{
    let mut header = [0u8; HEADER_LEN];
    let mut have = 0;
    while have < HEADER_LEN {
        let n = io.read(&mut header[have..]).await?;
        if n == 0 {
            if have == 0 {
                return Ok(None);
            }
            return Err(FrameError::Truncated {
                have,
                want: HEADER_LEN,
            });
        }
        have += n;
    }
    let len = frame_len(header, max)?;
    let mut payload = vec![0u8; len];
    let mut have = 0;
    while have < len {
        let n = io.read(&mut payload[have..]).await?;
        if n == 0 {
            return Err(FrameError::Truncated {
                have: HEADER_LEN + have,
                want: HEADER_LEN + len,
            });
        }
        have += n;
    }
    Ok(Some(codec::decode(&payload)?))
}

/// A framed connection for blocking callers: one `write` per frame sent,
/// and usually one `read` per frame received (reads are buffered).
pub struct BlockingFramed<S> {
    io: S,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    max_in: usize,
    max_out: usize,
}

impl<S: std::io::Read + std::io::Write> BlockingFramed<S> {
    pub fn new(io: S, max_in: usize, max_out: usize) -> Self {
        BlockingFramed {
            io,
            rbuf: BytesMut::with_capacity(4096),
            wbuf: Vec::with_capacity(256),
            max_in,
            max_out,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.io
    }

    pub fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), FrameError> {
        self.wbuf.clear();
        encode_frame_into(msg, self.max_out, &mut self.wbuf)?;
        self.io.write_all(&self.wbuf)?;
        Ok(())
    }

    /// The next frame, `None` on a clean end of stream between frames.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        loop {
            if self.rbuf.len() >= HEADER_LEN {
                let mut h = [0; HEADER_LEN];
                h.copy_from_slice(&self.rbuf[field::LEN]);
                let total = HEADER_LEN + frame_len(h, self.max_in)?;
                if self.rbuf.len() >= total {
                    let msg = codec::decode(&self.rbuf[HEADER_LEN..total]);
                    self.rbuf.advance(total);
                    return Ok(Some(msg?));
                }
                self.rbuf.reserve(total - self.rbuf.len());
            } else {
                self.rbuf.reserve(4096);
            }
            let have = self.rbuf.len();
            let spare = self.rbuf.capacity() - have;
            self.rbuf.resize(have + spare, 0);
            let n = loop {
                match self.io.read(&mut self.rbuf[have..]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    r => break r,
                }
            };
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    self.rbuf.truncate(have);
                    return Err(e.into());
                }
            };
            self.rbuf.truncate(have + n);
            if n == 0 {
                if have == 0 {
                    return Ok(None);
                }
                return Err(FrameError::Truncated {
                    have,
                    want: HEADER_LEN.max(have + 1),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use tokio::io::AsyncWriteExt;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Msg {
        Ping,
        Text(String),
    }

    #[test]
    fn frame_layout() {
        let mut out = vec![0xa5];
        encode_frame_into(&Msg::Text("ab".into()), 64, &mut out).unwrap();
        assert_eq!(out, [0xa5, 4, 0, 0, 0, 0x01, 0x02, b'a', b'b']);
    }

    #[test]
    fn oversized_outgoing_frame_is_refused_and_leaves_buffer_alone() {
        let mut out = vec![1, 2];
        let err = encode_frame_into(&Msg::Text("x".repeat(100)), 16, &mut out).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { len: 102, max: 16 }));
        assert_eq!(out, [1, 2]);
    }

    #[tokio::test]
    async fn frames_split_and_coalesced() {
        let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        let mut f = Framed::new(a, 64, 64);
        // Two frames in one write, the second split across two writes.
        b.write_all(&[1, 0, 0, 0, 0x00, 3, 0, 0]).await.unwrap();
        assert_eq!(f.recv::<Msg>().await.unwrap(), Some(Msg::Ping));
        b.write_all(&[0, 0x01, 0x01, b'z']).await.unwrap();
        assert_eq!(f.recv::<Msg>().await.unwrap(), Some(Msg::Text("z".into())));
        drop(b);
        assert_eq!(f.recv::<Msg>().await.unwrap(), None);
    }

    #[tokio::test]
    async fn oversized_incoming_frame_is_refused_before_reading_it() {
        let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        let mut f = Framed::new(a, 64, 64);
        b.write_all(&[0xff, 0xff, 0xff, 0x7f]).await.unwrap();
        let err = f.recv::<Msg>().await.unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLarge {
                len: 0x7fff_ffff,
                max: 64
            }
        ));
    }

    #[tokio::test]
    async fn truncated_frame_and_garbage() {
        let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        let mut f = Framed::new(a, 64, 64);
        b.write_all(&[5, 0, 0, 0, 0x01]).await.unwrap();
        drop(b);
        let err = f.recv::<Msg>().await.unwrap_err();
        assert!(matches!(err, FrameError::Truncated { have: 5, want: 9 }));
        assert!(err.is_disconnect());

        let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        let mut f = Framed::new(a, 64, 64);
        b.write_all(&[2, 0, 0, 0, 0x09, 0x09]).await.unwrap();
        assert!(matches!(f.recv::<Msg>().await, Err(FrameError::Codec(_))));
    }

    #[test]
    fn blocking_reader() {
        let bytes = [1u8, 0, 0, 0, 0x00, 3, 0, 0, 0, 0x01, 0x01, b'q', 2, 0, 0];
        let mut f = BlockingFramed::new(std::io::Cursor::new(bytes.to_vec()), 64, 64);
        assert_eq!(f.recv::<Msg>().unwrap(), Some(Msg::Ping));
        assert_eq!(f.recv::<Msg>().unwrap(), Some(Msg::Text("q".into())));
        assert!(matches!(
            f.recv::<Msg>(),
            Err(FrameError::Truncated { have: 3, .. })
        ));
        let mut f = BlockingFramed::new(std::io::Cursor::new(vec![0xffu8, 0xff, 0, 0]), 64, 64);
        assert!(matches!(f.recv::<Msg>(), Err(FrameError::TooLarge { .. })));
        let mut f = BlockingFramed::new(std::io::Cursor::new(Vec::new()), 64, 64);
        assert_eq!(f.recv::<Msg>().unwrap(), None);
    }

    #[tokio::test]
    async fn recv_exact_leaves_the_next_frame_unread() {
        let (mut a, mut b) = tokio::net::UnixStream::pair().unwrap();
        b.write_all(&[1, 0, 0, 0, 0x00, 1, 0, 0, 0, 0x00])
            .await
            .unwrap();
        assert_eq!(
            recv_exact::<Msg, _>(&mut a, 64).await.unwrap(),
            Some(Msg::Ping)
        );
        let mut rest = [0u8; 5];
        a.read_exact(&mut rest).await.unwrap();
        assert_eq!(rest, [1, 0, 0, 0, 0x00]);
    }
}
