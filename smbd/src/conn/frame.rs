//! NBSS frames on the connection's stream, with the limits a server needs
//! against a slow or hostile client: a frame's length is checked before
//! anything is allocated, its buffer grows only as its bytes arrive, and
//! once a frame has begun the client must keep sending; a response the
//! client does not take within the stall timeout ends the connection.

use std::io::{Error, ErrorKind};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::wire::nbss::{self, FrameHeader};

/// A frame's buffer grows by this much as its bytes arrive.
const CHUNK: usize = 256 * 1024;

fn stalled(what: &str, stall: Duration) -> Error {
    Error::new(
        ErrorKind::TimedOut,
        format!("client stalled {}s {what}", stall.as_secs()),
    )
}

/// Fills `buf`; `stall` without a byte ends the connection.
async fn read_on<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut [u8],
    stall: Duration,
) -> std::io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match tokio::time::timeout(stall, rd.read(&mut buf[got..])).await {
            Ok(Ok(0)) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(Ok(n)) => got += n,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(stalled("in the middle of a message", stall)),
        }
    }
    Ok(())
}

/// One frame to send: the NBSS header, the payload, and bulk data that
/// ends the payload (a READ's), kept apart so that neither the header nor
/// the payload is ever copied in front of the data.
pub struct OutFrame {
    head: [u8; nbss::HEADER_LEN],
    payload: Vec<u8>,
    tail: Vec<u8>,
}

impl OutFrame {
    pub fn new(kind: u8, payload: Vec<u8>) -> OutFrame {
        OutFrame::with_tail(kind, payload, Vec::new())
    }

    pub fn with_tail(kind: u8, payload: Vec<u8>, tail: Vec<u8>) -> OutFrame {
        OutFrame {
            head: FrameHeader::emit(kind, payload.len() + tail.len()),
            payload,
            tail,
        }
    }
}

/// Writes a frame with as few system calls as the socket allows (one
/// writev of its parts); a client that takes no byte for `stall` is not
/// reading its responses.
pub async fn write_frame_on<W: AsyncWrite + Unpin>(
    wr: &mut W,
    f: &OutFrame,
    stall: Duration,
) -> std::io::Result<()> {
    let mut parts: [&[u8]; 3] = [&f.head, &f.payload, &f.tail];
    let mut first = 0;
    while first < parts.len() {
        if parts[first].is_empty() {
            first += 1;
            continue;
        }
        let bufs = [
            std::io::IoSlice::new(parts[first]),
            std::io::IoSlice::new(parts.get(first + 1).copied().unwrap_or_default()),
            std::io::IoSlice::new(parts.get(first + 2).copied().unwrap_or_default()),
        ];
        let mut n = match tokio::time::timeout(stall, wr.write_vectored(&bufs)).await {
            Ok(Ok(0)) => return Err(ErrorKind::WriteZero.into()),
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(stalled(
                    "without taking a byte of its responses: it stopped reading",
                    stall,
                ));
            }
        };
        while n > 0 {
            let take = n.min(parts[first].len());
            parts[first] = &parts[first][take..];
            n -= take;
            if parts[first].is_empty() {
                first += 1;
            }
        }
    }
    Ok(())
}

/// The next frame (type and payload); None when the client closed the
/// connection between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(
    rd: &mut R,
    max: usize,
    stall: Duration,
) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut h = [0u8; nbss::HEADER_LEN];
    // Between frames a client may be idle as long as it likes.
    if rd.read(&mut h[..1]).await? == 0 {
        return Ok(None);
    }
    read_on(rd, &mut h[1..], stall).await?;
    let fh = FrameHeader::parse(h);
    if fh.len > max {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("frame of {} bytes exceeds {max}", fh.len),
        ));
    }
    // Memory follows the bytes that come, not the length announced: the
    // buffer is reserved (address space only) and filled straight from the
    // socket, never zeroed or copied as it grows.
    let mut data = Vec::with_capacity(fh.len);
    while data.len() < fh.len {
        let want = (fh.len - data.len()).min(CHUNK) as u64;
        let mut part = (&mut *rd).take(want);
        match tokio::time::timeout(stall, part.read_buf(&mut data)).await {
            Ok(Ok(0)) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(stalled("in the middle of a message", stall)),
        }
    }
    Ok(Some((fh.kind, data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_millis(100);

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn frames_and_bad_lengths() {
        rt().block_on(async {
            // A keepalive, an 8-byte message, then the end.
            let bytes: &[u8] = &[
                0x85, 0x00, 0x00, 0x00, // KEEPALIVE
                0x00, 0x00, 0x00, 0x08, 0xfe, b'S', b'M', b'B', 1, 2, 3, 4,
            ];
            let mut rd = bytes;
            assert_eq!(
                read_frame(&mut rd, 100, STALL).await.unwrap(),
                Some((0x85, vec![]))
            );
            assert_eq!(
                read_frame(&mut rd, 100, STALL).await.unwrap(),
                Some((0, vec![0xfe, b'S', b'M', b'B', 1, 2, 3, 4]))
            );
            assert_eq!(read_frame(&mut rd, 100, STALL).await.unwrap(), None);
            // 16 MiB announced: refused before anything is read or kept.
            let mut rd: &[u8] = &[0x00, 0xff, 0xff, 0xff];
            let e = read_frame(&mut rd, 100, STALL).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidData);
            // The connection ends inside a header or a payload.
            let mut rd: &[u8] = &[0x00, 0x00];
            let e = read_frame(&mut rd, 100, STALL).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
            let mut rd: &[u8] = &[0x00, 0x00, 0x00, 0x08, 0xfe, b'S'];
            let e = read_frame(&mut rd, 100, STALL).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
        });
    }

    #[test]
    fn half_sent_frames_time_out_idle_clients_do_not() {
        rt().block_on(async {
            // 10 bytes of a 100-byte frame, then silence.
            let (mut client, mut server) = tokio::io::duplex(1024);
            client
                .write_all(&[0x00, 0x00, 0x00, 0x64, 0xfe, b'S', b'M', b'B', 0x40, 0x00])
                .await
                .unwrap();
            let e = read_frame(&mut server, 1000, STALL).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TimedOut);
            assert!(e.to_string().contains("in the middle of a message"), "{e}");
            // Half a frame header is as stalled.
            let (mut client, mut server) = tokio::io::duplex(1024);
            client.write_all(&[0x00, 0x00]).await.unwrap();
            let e = read_frame(&mut server, 1000, STALL).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TimedOut);
            // Between frames the wait is unbounded: still waiting after
            // several stall periods.
            let (_client, mut server) = tokio::io::duplex(1024);
            let idle = tokio::time::timeout(STALL * 5, read_frame(&mut server, 1000, STALL));
            assert!(idle.await.is_err());
        });
    }

    #[test]
    fn a_client_that_does_not_read_times_out_one_that_reads_does_not() {
        rt().block_on(async {
            let (mut server, mut client) = tokio::io::duplex(64);
            let big = OutFrame::new(0, vec![0x5a; 1000]);
            let e = write_frame_on(&mut server, &big, STALL).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TimedOut);
            assert!(e.to_string().contains("stopped reading"), "{e}");
            // A slow reader that keeps taking bytes is fine.
            let (mut server, mut client2) = tokio::io::duplex(64);
            let reader = tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 16];
                loop {
                    tokio::time::sleep(STALL / 4).await;
                    match client2.read(&mut buf).await.unwrap() {
                        0 => return got,
                        n => got.extend_from_slice(&buf[..n]),
                    }
                }
            });
            // Header, payload and tail arrive in that order.
            let f = OutFrame::with_tail(0, vec![0x5a; 100], vec![0x5b; 96]);
            write_frame_on(&mut server, &f, STALL).await.unwrap();
            drop(server);
            let mut want = vec![0, 0, 0, 196];
            want.extend_from_slice(&[0x5a; 100]);
            want.extend_from_slice(&[0x5b; 96]);
            assert_eq!(reader.await.unwrap(), want);
            drop(client.read(&mut [0u8; 1]).await);
        });
    }
}
