#![no_main]
//! RAP NetServerEnum2/3 replies (nmbd::sync::rap): two pieces, the
//! reassembled TRANSACTION parameters and data. Every entry returned lies
//! within the data; comments are read from within it.

use libfuzzer_sys::fuzz_target;
use nmbd::sync::rap::{NetServerEnumResponse, SERVER_INFO_1_LEN};

fuzz_target!(|data: &[u8]| {
    let pieces = smbd_fuzz::pieces(data);
    let (params, body) = match pieces.as_slice() {
        [p] => (*p, &[][..]),
        [p, d, ..] => (*p, *d),
        [] => return,
    };
    if let Ok(r) = NetServerEnumResponse::parse(params, body) {
        assert!(r.servers.len() * SERVER_INFO_1_LEN <= body.len());
        for s in &r.servers {
            assert!(s.name.chars().count() <= 16);
            assert!(s.comment.chars().count() <= body.len());
        }
    }
});
