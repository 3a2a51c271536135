#![no_main]
//! The 64-byte SMB2 header: parse -> emit -> parse equality.

use libfuzzer_sys::fuzz_target;
use smbd::wire::header::{HEADER_LEN, Header};

fuzz_target!(|data: &[u8]| {
    let Ok(h) = Header::parse(data) else {
        return;
    };
    let mut out = Vec::new();
    h.emit(&mut out);
    assert_eq!(out.len(), HEADER_LEN);
    assert_eq!(Header::parse(&out).unwrap(), h);
});
