#![no_main]
//! WRITE request parser; the input is the body after the SMB2 header.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let msg = bytes::Bytes::from(smbd_fuzz::smb2_msg(body));
    if let Ok(w) = smbd::cmd::write::parse(&msg) {
        // The data is the Length bytes the request announced, and they
        // were in the message.
        let length = u32::from_le_bytes(body[4..8].try_into().unwrap()) as usize;
        assert_eq!(w.data.len(), length);
        assert!(w.data.len() <= msg.len());
    }
});
