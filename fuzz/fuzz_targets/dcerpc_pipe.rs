#![no_main]
//! A whole named pipe (srvsvc when the first byte is even, else wkssvc):
//! the rest is u16-length-prefixed pieces, each written (or transceived)
//! and answered with reads of a size taken from the piece. Whatever the
//! client sends, every reply the pipe hands out must be a well-framed PDU
//! and the backlog stays bounded.

use libfuzzer_sys::fuzz_target;
use smbd::dcerpc::pdu::Frame;
use smbd::dcerpc::{MAX_PENDING_OUTPUT, Pipe};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let name = if which & 1 == 0 { "srvsvc" } else { "wkssvc" };
    let mut pipe = Pipe::open(name, smbd_fuzz::snapshot()).unwrap();
    let mut pdu = Vec::new();
    for piece in smbd_fuzz::pieces(rest) {
        let max = 16 + usize::from(piece.first().copied().unwrap_or(0)) * 32;
        let first = if piece.len() % 3 == 0 {
            pipe.transceive(piece, max).ok()
        } else {
            let _ = pipe.write(piece);
            None
        };
        let mut reads = first.into_iter().chain(std::iter::from_fn(|| {
            (pipe.pending() > 0).then(|| pipe.read(max))
        }));
        for r in reads.by_ref().take(64) {
            assert!(r.data.len() <= max);
            pdu.extend_from_slice(&r.data);
            if !r.more && !pdu.is_empty() {
                Frame::parse(&pdu).unwrap();
                pdu.clear();
            }
        }
        assert!(pipe.pending() <= MAX_PENDING_OUTPUT + 64 * 1024);
    }
});
