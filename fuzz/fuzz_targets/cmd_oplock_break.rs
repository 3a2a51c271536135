#![no_main]
//! OPLOCK_BREAK request parser; the input is the body after the SMB2 header.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = smbd::cmd::oplock_break::parse(&smbd_fuzz::smb2_msg(body));
});
