#![no_main]
//! LOCK request parser; the input is the body after the SMB2 header.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(l) = smbd::cmd::lock::parse(&smbd_fuzz::smb2_msg(body)) {
        let count = usize::from(u16::from_le_bytes([body[2], body[3]]));
        assert_eq!(l.locks.len(), count);
        assert!((1..=smbd::cmd::lock::MAX_LOCKS).contains(&count));
    }
});
