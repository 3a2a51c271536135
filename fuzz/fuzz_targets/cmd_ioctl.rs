#![no_main]
//! IOCTL request parser; the input is the body after the SMB2 header.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let msg = smbd_fuzz::smb2_msg(body);
    if let Ok(i) = smbd::cmd::ioctl::parse(&msg) {
        let count = u32::from_le_bytes(body[28..32].try_into().unwrap()) as usize;
        assert_eq!(i.input.len(), count);
    }
});
