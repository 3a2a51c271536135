#![no_main]
//! QUERY_DIRECTORY request parser; the input is the body after the SMB2
//! header. The pattern it yields also goes through the wildcard matcher.

use libfuzzer_sys::fuzz_target;
use smbd::ntvfs::disk::stat::wildcard_match;

fuzz_target!(|body: &[u8]| {
    if let Ok(q) = smbd::cmd::query_directory::parse(&smbd_fuzz::smb2_msg(body)) {
        let _ = wildcard_match(&q.pattern, "file.txt");
        let _ = wildcard_match(&q.pattern, "..");
    }
});
