#![no_main]
//! Self-relative security descriptors (SET_INFO security): parse -> encode
//! -> parse equality.

use libfuzzer_sys::fuzz_target;
use smbd::wire::info::{encode_sd, parse_sd};

fuzz_target!(|data: &[u8]| {
    let Ok(sd) = parse_sd(data) else {
        return;
    };
    let mut out = Vec::new();
    encode_sd(&sd, &mut out);
    assert_eq!(parse_sd(&out).unwrap(), sd);
});
