#![no_main]
//! SPNEGO tokens from clients (NegTokenInit, NegTokenResp). A NegTokenResp
//! has an encoder: parse -> encode -> parse equality.

use libfuzzer_sys::fuzz_target;
use smbd::auth::spnego::{
    ClientToken, encode_resp, looks_like_spnego, oid_to_string, parse_client_token,
};

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_spnego(data);
    match parse_client_token(data) {
        Ok(ClientToken::Resp(resp)) => {
            let enc = encode_resp(&resp);
            assert_eq!(parse_client_token(&enc).unwrap(), ClientToken::Resp(resp));
        }
        Ok(ClientToken::Init(init)) => {
            assert!(!init.mech_types.is_empty());
            for m in init.mech_types {
                let _ = oid_to_string(m);
            }
        }
        Err(_) => {}
    }
});
