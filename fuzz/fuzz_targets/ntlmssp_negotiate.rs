#![no_main]
//! NTLMSSP NEGOTIATE_MESSAGE.

use libfuzzer_sys::fuzz_target;
use smbd::auth::ntlmssp::Negotiate;

fuzz_target!(|data: &[u8]| {
    let _ = Negotiate::parse(data);
});
