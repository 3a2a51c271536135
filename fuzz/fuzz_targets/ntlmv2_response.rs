#![no_main]
//! NTLMv2_RESPONSE: NTProofStr, the client blob and its AV pairs.

use libfuzzer_sys::fuzz_target;
use smbd::auth::ntlmssp::NtlmV2Response;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = NtlmV2Response::parse(data) {
        assert_eq!(r.blob, &data[16..]);
        let _ = r.mic_present();
    }
});
