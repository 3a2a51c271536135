#![no_main]
//! FILE_FULL_EA_INFORMATION chains (SET_INFO FileFullEaInformation):
//! parse -> encode -> parse equality.

use libfuzzer_sys::fuzz_target;
use smbd::wire::info::{encode_ea_list, parse_ea_list};

fuzz_target!(|data: &[u8]| {
    let Ok(eas) = parse_ea_list(data) else {
        return;
    };
    let mut out = Vec::new();
    encode_ea_list(&eas, &mut out);
    assert_eq!(parse_ea_list(&out).unwrap(), eas);
});
