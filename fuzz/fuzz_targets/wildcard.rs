#![no_main]
//! Windows wildcard matching (QUERY_DIRECTORY patterns): the input is the
//! pattern, a NUL, then the name.

use libfuzzer_sys::fuzz_target;
use smbd::ntvfs::disk::stat::wildcard_match;

fuzz_target!(|data: &[u8]| {
    let (pattern, name) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"file.txt"[..]),
    };
    let pattern = String::from_utf8_lossy(pattern);
    let name = String::from_utf8_lossy(name);
    let m = wildcard_match(&pattern, &name);
    assert!(wildcard_match("*", &name));
    if !name.contains(['*', '?', '<', '>', '"']) {
        assert!(
            wildcard_match(&name, &name),
            "{name:?} does not match itself"
        );
    }
    let _ = m;
});
