#![no_main]
//! SESSION_SETUP request parser; the input is the body after the SMB2 header.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = smbd::cmd::session_setup::parse(&smbd_fuzz::smb2_msg(body));
});
