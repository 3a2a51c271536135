#![no_main]
//! The one SMB1 message we read: a NEGOTIATE offering SMB2 dialects.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(names) = smbd::conn::smb1::dialects(data) {
        assert!(names.len() <= data.len());
    }
});
