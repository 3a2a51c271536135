#![no_main]
//! FLUSH request parser; the input is the body after the SMB2 header.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = smbd::cmd::flush::parse(&smbd_fuzz::smb2_msg(body));
});
