#![no_main]
//! TREE_CONNECT request parser; the input is the body after the SMB2 header.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(t) = smbd::cmd::tree_connect::parse(&smbd_fuzz::smb2_msg(body)) {
        // The path came from at most PathLength (u16) bytes of UTF-16.
        assert!(t.path.encode_utf16().count() * 2 <= usize::from(u16::MAX));
    }
});
