#![no_main]
//! TREE_DISCONNECT request parser; the input is the body after the SMB2 header.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = smbd::cmd::tree_disconnect::parse(&smbd_fuzz::smb2_msg(body));
});
