#![no_main]
//! The front door: a TCP byte stream cut into NetBIOS session frames, each
//! classified as SMB1 NEGOTIATE, SMB3 transform or SMB2 compound, every
//! element's request parsed as the connection would.

use libfuzzer_sys::fuzz_target;
use smbd::conn::transform::{self, TransformHeader};
use smbd::conn::smb1;
use smbd::wire::header::{self, split_compound};
use smbd::wire::nbss::{FrameHeader, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Some((head, tail)) = rest.split_first_chunk::<HEADER_LEN>() {
        let fh = FrameHeader::parse(*head);
        assert_eq!(&FrameHeader::emit(fh.kind, fh.len), head);
        let Some((payload, tail)) = tail.split_at_checked(fh.len) else {
            return;
        };
        rest = tail;
        match payload.get(..4) {
            Some([0xff, b'S', b'M', b'B']) => drop(smb1::dialects(payload)),
            Some(p) if p == transform::PROTOCOL_ID => drop(TransformHeader::parse(payload)),
            Some(p) if p == header::PROTOCOL_ID => {
                if let Ok(elements) = split_compound(payload) {
                    for (h, r) in elements {
                        smbd_fuzz::parse_request(&h, &payload[r]);
                    }
                }
            }
            _ => {}
        }
    }
});
