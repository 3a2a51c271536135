#![no_main]
//! Client path names (CREATE, rename targets) checked into share-relative
//! paths: nothing that climbs out, and parse -> to_smb -> parse equality.

use libfuzzer_sys::fuzz_target;
use smbd::ntvfs::disk::path::{check_component, parse};
use std::path::Component;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = parse(name) else {
        return;
    };
    for c in p.as_path().components() {
        let Component::Normal(c) = c else {
            panic!("{name:?} gave a {c:?} component");
        };
        check_component(c.to_str().unwrap()).unwrap();
    }
    assert_eq!(parse(&p.to_smb()).unwrap(), p);
});
