#![no_main]
//! QUERY_INFO request parser; the input is the body after the SMB2 header.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(q) = smbd::cmd::query_info::parse(&smbd_fuzz::smb2_msg(body)) {
        let len = u32::from_le_bytes(body[12..16].try_into().unwrap()) as usize;
        assert_eq!(q.input.len(), len);
    }
});
