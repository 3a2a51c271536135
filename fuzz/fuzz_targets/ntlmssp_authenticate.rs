#![no_main]
//! NTLMSSP AUTHENTICATE_MESSAGE; the first byte says whether Unicode was
//! negotiated (bit 0), the rest is the message. The NT response it carries
//! goes through the NTLMv2 response parser, as the server does.

use libfuzzer_sys::fuzz_target;
use smbd::auth::ntlmssp::{Authenticate, MAX_NAME_BYTES, NtlmV2Response, zero_mic};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, msg)) = data.split_first() else {
        return;
    };
    let Ok(a) = Authenticate::parse(msg, mode & 1 != 0) else {
        return;
    };
    for name in [&a.user, &a.domain, &a.workstation] {
        assert!(name.chars().count() <= usize::from(MAX_NAME_BYTES));
    }
    assert_eq!(zero_mic(msg).len(), msg.len());
    let _ = NtlmV2Response::parse(a.nt_response);
});
